/*
 * reaper.c: the kernel's teardown of the VM, off the VMM's exit path.
 *
 * Destroying a KVM VM that has in-kernel devices (the irqchip's PIC and
 * IOAPIC, the PIT, ioeventfds) waits for SRCU grace periods: on the
 * development host's kernel (Linux 6.18) kvm_destroy_vm sits in
 * srcu_barrier() until the grace period that registering those devices
 * started has ended, and freeing a PIT that reinjects ticks waits for
 * another (synchronize_srcu). That is 6-20 ms of wall time, several times
 * all the rest a short-lived VM costs (tests/bench/kvmfloor.c measures
 * it without any VMM: "irqchip" against "bare"), and it is paid by
 * whichever process drops the last reference to the VM's file, in close()
 * or in its exit; the parent's wait4 returns only after that.
 *
 * So, right after KVM_CREATE_VM (no thread, guest RAM or other KVM file
 * yet), the VMM forks a reaper: a child that keeps a second reference to
 * the VM's file and the read end of a pipe whose write end only the VMM
 * holds (close-on-exec; the boot disk reader closes it too), and nothing
 * else. The VMM runs and tears down as before (vCPUs joined and their
 * files closed, guest RAM unmapped, its own VM file closed), closes the
 * pipe and exits, and its exit status is there for its parent at once.
 * The pipe's EOF wakes the reaper, whose _exit drops the last reference:
 * the kernel frees the VM in the reaper, a few ms later. Nothing of the
 * guest can run by then (no vCPU file is left), and guest memory was
 * freed with the VMM's address space.
 *
 * The reaper blocks every signal but SIGKILL (a terminal's ^C or a stray
 * SIGTERM to the process group must not end it early; it is harmless if
 * it does: the VMM then frees the VM itself), names itself "vmm-reaper",
 * drops to --user and installs the boot disk reader's strict filter
 * (reads, memory, exit; no writes) before it waits. A supervisor that
 * kills the VM's cgroup kills it too, and waits for the cgroup to empty
 * (agent/cgroup.c), which it does once the VM is freed. If the reaper
 * cannot be started, the VMM frees the VM itself, only later.
 */
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#define REAPER_FD_SCAN_MAX	65536
#define REAPER_NAME		"vmm-reaper"

/* The VMM's argument strings (reaper_set_args): the reaper overwrites its
 * copy, so that it is not taken for the VMM (ps, pgrep -f, pidof). */
static char *reaper_args;
static size_t reaper_args_len;

void
reaper_set_args(int argc, char **argv)
{
	char *end;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	/* The kernel lays them out one after the other; stop at a gap. */
	end = argv[0];
	for (int i = 0; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	reaper_args = argv[0];
	reaper_args_len = (size_t)(end - argv[0]);
}

static void
reaper_rename(void)
{
	size_t n = sizeof(REAPER_NAME) - 1;

	(void)prctl(PR_SET_NAME, REAPER_NAME, 0, 0, 0);
	if (reaper_args == NULL || reaper_args_len == 0)
		return;
	memset(reaper_args, 0, reaper_args_len);
	memcpy(reaper_args, REAPER_NAME, n < reaper_args_len - 1 ? n :
	    reaper_args_len - 1);
}

/* Close fds [lo, hi] (hi may be INT_MAX). */
static void
reaper_close(unsigned lo, unsigned hi)
{
	long max;

	if (lo > hi)
		return;
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > REAPER_FD_SCAN_MAX)
		max = REAPER_FD_SCAN_MAX;
	for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
		(void)close((int)fd);
}

static _Noreturn void
reaper_child(int vm_fd, int rfd, const struct reaper_conf *rc)
{
	unsigned lo = (unsigned)(vm_fd < rfd ? vm_fd : rfd);
	unsigned hi = (unsigned)(vm_fd < rfd ? rfd : vm_fd);
	sigset_t all;
	ssize_t n;
	char b;

	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, NULL);
	reaper_rename();
	if (lo > 0)
		reaper_close(0, lo - 1);
	reaper_close(lo + 1, hi - 1);
	reaper_close(hi + 1, INT_MAX);
	/* Nothing to log to any more: a failure only ends the reaper, and
	 * the VMM then frees the VM itself. */
	if (rc->has_user && sandbox_drop_user(rc->uid, rc->gid) < 0)
		_exit(1);
	if (rc->seccomp && sandbox_seccomp_reader(NULL, 0) < 0)
		_exit(1);
	do
		n = read(rfd, &b, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	_exit(0);
}

int
reaper_start(int vm_fd, const struct reaper_conf *rc, pid_t *pid)
{
	int p[2], err;

	if (pipe2(p, O_CLOEXEC) < 0) {
		err = -errno;
		log_debug("reaper: pipe: %s", strerror(-err));
		return err;
	}
	*pid = fork();
	if (*pid < 0) {
		err = -errno;
		log_debug("reaper: fork: %s", strerror(-err));
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (*pid == 0) {
		close(p[1]);
		reaper_child(vm_fd, p[0], rc);
	}
	close(p[0]);
	return p[1];
}
