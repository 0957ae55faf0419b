/*
 * priv_proc.c: the privileged side's process helpers: a process's start
 * time (which names it with its pid), and closing the inherited fds in a
 * forked child before the exec of drover-vmm.
 */
#include "priv.h"
#include "priv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* /proc/PID/comm, without its newline. */
int
priv_proc_comm_is(pid_t pid, const char *want)
{
	char path[64], comm[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, want) == 0;
}

/* /proc/PID/stat field 22, after the ")" that ends the command name. */
int
priv_proc_starttime(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *s;
	unsigned long long v;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	if ((s = strrchr(buf, ')')) == NULL || s[1] != ' ')
		return -EINVAL;
	/* s[2] is field 3 (state); a zombie has exited: as good as gone. */
	s += 2;
	if (*s == 'Z' || *s == 'X')
		return -ESRCH;
	for (field = 3; field < 22 && s; field++) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (s == NULL || sscanf(s, "%llu", &v) != 1)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * In a forked child: close every fd above lo except keep (keep <= lo:
 * none kept). The VMM must not inherit droverd's sockets or store files
 * (not all of them are O_CLOEXEC).
 */
void
priv_close_fds_above(int lo, int keep)
{
	struct rlimit rl;
	int max = 4096;

	if (keep <= lo)
		keep = -1;
#ifdef SYS_close_range
	if (keep > lo + 1)
		syscall(SYS_close_range, lo + 1, keep - 1, 0);
	if (syscall(SYS_close_range, keep < 0 ? lo + 1 : keep + 1, ~0U, 0) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	for (int fd = lo + 1; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

void
priv_close_fds(int keep)
{
	priv_close_fds_above(2, keep);
}
