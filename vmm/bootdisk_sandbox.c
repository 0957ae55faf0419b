/*
 * bootdisk_sandbox.c: bootdisk_load reads the boot disk in a sandboxed
 * child process (bootdisk.h). The image is untrusted (a guest-writable
 * overlay, a downloaded containerDisk) and libext2fs was not written to
 * parse hostile file systems, so it never runs in the VMM itself.
 *
 * The child, forked right after the disk is opened (before any thread,
 * guest RAM or KVM file descriptor is of use to it):
 *   1. closes every file descriptor but stderr, the answer pipe and the
 *      read-only regular files and block devices (the disk and its backing
 *      files, opened read-only for the boot);
 *   2. drops to --user's uid/gid (sandbox_drop_user);
 *   3. installs sandbox_seccomp_reader: read/pread/preadv, memory, exit,
 *      and write only on stderr and the pipe; anything else kills it;
 *   4. runs bootdisk_read (part.c, libext2fs, grubcfg.c) and writes the
 *      answer: struct bd_wire, the strings (error message, entry title,
 *      kernel name, entry command line, final command line, initrd names),
 *      the kernel, the initrds; then _exit.
 *
 * The parent reads the answer against a deadline (BOOTDISK_TIMEOUT_S),
 * checks every length against the limits in bootdisk.h before allocating
 * (kernel <= 64 MiB, initrds <= 512 MiB, strings <= 64 KiB, no NUL inside,
 * nothing after the end), then reaps the child. A child that dies by a
 * signal (a crash, or SIGSYS from its filter), answers garbage or too much,
 * or does not answer in time (killed) is an error message
 * "boot disk: the reader ...", never a crash of the VMM.
 */
#include "bootdisk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errfmt.h"
#include "log.h"
#include "sandbox.h"

#define BD_WIRE_MAGIC	0x31444244u	/* "DBD1" */
#define BD_NSTR		(5 + GRUBCFG_MAX_INITRD)
#define BD_FD_SCAN_MAX	65536		/* descriptors the child checks */

enum { S_MSG, S_TITLE, S_KERNEL, S_ENTRY_CMDLINE, S_CMDLINE, S_INITRD };

/* The answer's fixed part (native byte order: same machine). */
struct bd_wire {
	uint32_t magic;
	int32_t status;			/* 0, or -errno with the message */
	uint32_t part;
	uint32_t config;		/* bootdisk_config_name index */
	uint32_t ninitrd;
	uint32_t slen[BD_NSTR];		/* the strings' lengths, in order */
	uint64_t kernel_len, initrd_len;
};

static struct bootdisk_sandbox bd_sandbox = {
	.seccomp = 1, .timeout_s = BOOTDISK_TIMEOUT_S,
};

#define bd_err(e, err, ...) ERRFMT(e, err, __VA_ARGS__)

void
bootdisk_set_sandbox(const struct bootdisk_sandbox *sb)
{
	bd_sandbox = *sb;
	if (bd_sandbox.timeout_s == 0)
		bd_sandbox.timeout_s = BOOTDISK_TIMEOUT_S;
}

/* ---- the child ---------------------------------------------------------------- */

static int
bd_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The strings of an answer, in wire order ("" where there is none). */
static void
bd_strings(const struct bootdisk *bd, const struct bootdisk_error *e,
    const char *s[BD_NSTR])
{
	for (unsigned i = 0; i < BD_NSTR; i++)
		s[i] = "";
	s[S_MSG] = e->msg;
	if (bd == NULL)
		return;
	s[S_TITLE] = bd->entry.title ? bd->entry.title : "";
	s[S_KERNEL] = bd->entry.kernel ? bd->entry.kernel : "";
	s[S_ENTRY_CMDLINE] = bd->entry.cmdline ? bd->entry.cmdline : "";
	s[S_CMDLINE] = bd->cmdline ? bd->cmdline : "";
	for (unsigned i = 0; i < bd->entry.ninitrd && i < GRUBCFG_MAX_INITRD;
	    i++)
		s[S_INITRD + i] = bd->entry.initrd[i] ? bd->entry.initrd[i] :
		    "";
}

static int
bd_send(int fd, int status, const struct bootdisk *bd,
    const struct bootdisk_error *e)
{
	struct bd_wire w = { .magic = BD_WIRE_MAGIC, .status = status };
	const char *s[BD_NSTR];

	if (status == 0) {
		w.part = bd->part;
		w.config = UINT32_MAX;
		for (unsigned i = 0; bootdisk_config_name(i); i++)
			if (bootdisk_config_name(i) == bd->config)
				w.config = i;
		w.ninitrd = bd->entry.ninitrd;
		w.kernel_len = bd->kernel_len;
		w.initrd_len = bd->initrd_len;
	}
	bd_strings(status == 0 ? bd : NULL, e, s);
	for (unsigned i = 0; i < BD_NSTR; i++)
		w.slen[i] = (uint32_t)strnlen(s[i], BOOTDISK_STR_MAX);
	if (bd_write_all(fd, &w, sizeof(w)) < 0)
		return -1;
	for (unsigned i = 0; i < BD_NSTR; i++)
		if (bd_write_all(fd, s[i], w.slen[i]) < 0)
			return -1;
	if (status == 0 && (bd_write_all(fd, bd->kernel, bd->kernel_len) < 0 ||
	    bd_write_all(fd, bd->initrd, bd->initrd_len) < 0))
		return -1;
	return 0;
}

/* Keep stderr, the pipe and the read-only files (the disk); close the
 * rest (the KVM fds, sockets, the log and exit files, ...). */
static void
bd_child_fds(int wfd)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > BD_FD_SCAN_MAX)
		max = BD_FD_SCAN_MAX;
	for (int fd = 0; fd < max; fd++) {
		struct stat st;
		int fl;

		if (fd == STDERR_FILENO || fd == wfd)
			continue;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0)
			continue;
		if ((fl & O_ACCMODE) == O_RDONLY && fstat(fd, &st) == 0 &&
		    (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			continue;
		close(fd);
	}
}

static const int bd_deadly[] = {
	SIGPIPE, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS,
};

__attribute__((noreturn))
static void
bd_child(struct blk_backend *be, int wfd, bootdisk_reader_fn reader)
{
	struct bootdisk_error err_buf = { "" }, *e = &err_buf;
	struct bootdisk bd;
	int wfds[2] = { STDERR_FILENO, wfd }, err = 0;

	memset(&bd, 0, sizeof(bd));
	/* A crash ends the child; no handler of the VMM's runs. */
	for (unsigned i = 0; i < sizeof(bd_deadly) / sizeof(bd_deadly[0]); i++)
		signal(bd_deadly[i], SIG_DFL);
	bd_child_fds(wfd);
	if (bd_sandbox.has_user && sandbox_drop_user(bd_sandbox.uid,
	    bd_sandbox.gid) < 0)
		err = bd_err(e, -EPERM, "boot disk: the reader cannot drop "
		    "to uid %u", (unsigned)bd_sandbox.uid);
	if (err == 0 && bd_sandbox.seccomp && sandbox_seccomp_reader(wfds,
	    2) < 0)
		err = bd_err(e, -EPERM, "boot disk: the reader cannot "
		    "install its seccomp filter");
	if (err == 0)
		err = reader(be, &bd, e);
	/* No cleanup: the process ends here. */
	_exit(bd_send(wfd, err, &bd, e) < 0 ? 2 : 0);
}

/* ---- the parent ----------------------------------------------------------------- */

struct bd_in {
	int fd;
	struct timespec deadline;	/* CLOCK_MONOTONIC */
};

static int
bd_ms_left(const struct bd_in *in)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(in->deadline.tv_sec - now.tv_sec) * 1000 +
	    (in->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Exactly len bytes: 0, -EPIPE at an early end, -ETIMEDOUT, -errno. */
static int
bd_read_all(struct bd_in *in, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = in->fd, .events = POLLIN };
		int left = bd_ms_left(in), r;
		ssize_t n;

		r = left ? poll(&pfd, 1, left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(in->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The fixed part against the limits, before anything is allocated. */
static int
bd_check_wire(const struct bd_wire *w, struct bootdisk_error *e)
{
	if (w->magic != BD_WIRE_MAGIC)
		return bd_err(e, -EIO, "bad magic %#x", w->magic);
	if (w->status > 0 || w->status < -4095)
		return bd_err(e, -EIO, "status %d", w->status);
	for (unsigned i = 0; i < BD_NSTR; i++)
		if (w->slen[i] > BOOTDISK_STR_MAX)
			return bd_err(e, -EIO, "string %u of %u bytes (at "
			    "most %u)", i, w->slen[i], BOOTDISK_STR_MAX);
	if (w->status < 0) {
		if (w->kernel_len || w->initrd_len)
			return bd_err(e, -EIO, "a failure with files");
		return 0;
	}
	if (w->ninitrd > GRUBCFG_MAX_INITRD)
		return bd_err(e, -EIO, "%u initrds (at most %u)", w->ninitrd,
		    GRUBCFG_MAX_INITRD);
	if (bootdisk_config_name(w->config) == NULL)
		return bd_err(e, -EIO, "configuration file #%u", w->config);
	if (w->kernel_len == 0 || w->kernel_len > BOOTDISK_KERNEL_MAX)
		return bd_err(e, -EIO, "a kernel of %llu bytes (1 to %llu)",
		    (unsigned long long)w->kernel_len, BOOTDISK_KERNEL_MAX);
	if (w->initrd_len > BOOTDISK_INITRD_MAX ||
	    (w->initrd_len && w->ninitrd == 0))
		return bd_err(e, -EIO, "initrds of %llu bytes (at most %llu, "
		    "from %u files)", (unsigned long long)w->initrd_len,
		    BOOTDISK_INITRD_MAX, w->ninitrd);
	return 0;
}

/* A string of len bytes, NUL-terminated; none inside. */
static int
bd_read_str(struct bd_in *in, uint32_t len, char **out)
{
	char *s = malloc((size_t)len + 1);
	int err;

	*out = s;
	if (s == NULL)
		return -ENOMEM;
	err = bd_read_all(in, s, len);
	s[err == 0 ? len : 0] = '\0';
	if (err == 0 && memchr(s, '\0', len))
		err = -EPROTO;
	return err;
}

static int
bd_read_strings(struct bd_in *in, const struct bd_wire *w,
    struct bootdisk *out, char **msg)
{
	char **dst[BD_NSTR] = {
		[S_MSG] = msg, [S_TITLE] = &out->entry.title,
		[S_KERNEL] = &out->entry.kernel,
		[S_ENTRY_CMDLINE] = &out->entry.cmdline,
		[S_CMDLINE] = &out->cmdline,
	};
	char *skip = NULL;
	int err = 0;

	for (unsigned i = 0; i < GRUBCFG_MAX_INITRD; i++)
		dst[S_INITRD + i] = &out->entry.initrd[i];
	for (unsigned i = 0; i < BD_NSTR && err == 0; i++) {
		int used = w->status == 0 && (i < S_INITRD ||
		    i - S_INITRD < w->ninitrd);

		err = bd_read_str(in, w->slen[i], i == S_MSG || used ? dst[i] :
		    &skip);
		free(skip);
		skip = NULL;
	}
	return err;
}

/* Read and check the whole answer. 0 or the child's -errno with e->msg;
 * -EIO/-ETIMEDOUT with e->msg saying what was wrong with the answer. */
static int
bd_receive(int fd, unsigned timeout_s, struct bootdisk *out,
    struct bootdisk_error *e)
{
	struct bd_in in = { .fd = fd };
	struct bd_wire w;
	char *msg = NULL, extra;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &in.deadline);
	in.deadline.tv_sec += timeout_s;
	err = bd_read_all(&in, &w, sizeof(w));
	if (err == 0)
		err = bd_check_wire(&w, e);
	if (err == 0)
		err = bd_read_strings(&in, &w, out, &msg);
	if (err == 0 && w.status == 0) {
		out->part = w.part;
		out->config = bootdisk_config_name(w.config);
		out->entry.ninitrd = w.ninitrd;
		out->kernel_len = w.kernel_len;
		out->initrd_len = w.initrd_len;
		out->kernel = malloc(w.kernel_len);
		out->initrd = w.initrd_len ? malloc(w.initrd_len) : NULL;
		if (out->kernel == NULL || (w.initrd_len && !out->initrd))
			err = -ENOMEM;
		if (err == 0)
			err = bd_read_all(&in, out->kernel, w.kernel_len);
		if (err == 0)
			err = bd_read_all(&in, out->initrd, w.initrd_len);
	}
	if (err == 0 && bd_read_all(&in, &extra, 1) != -EPIPE)
		err = bd_err(e, -EIO, "bytes after the end of the answer");
	if (err == 0 && w.status < 0)
		err = bd_err(e, w.status, "%s", msg);
	else if (err < 0 && err != -EIO)
		bd_err(e, err, "%s", err == -ETIMEDOUT ? "no answer in time" :
		    err == -EPIPE ? "the answer ends early" : err == -EPROTO ?
		    "a NUL inside a string" : strerror(-err));
	free(msg);
	return err;
}

/* Wait for the child (killed first if the answer was bad); the final
 * result and message. */
static int
bd_reap(pid_t pid, int err, unsigned timeout_s, struct bootdisk_error *e)
{
	char why[sizeof(e->msg)];
	int st = 0, sig;

	snprintf(why, sizeof(why), "%s", e->msg);
	if (err < 0 && (err == -ETIMEDOUT || err == -EIO || err == -EPIPE ||
	    err == -EPROTO || err == -ENOMEM))
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return bd_err(e, -EIO, "boot disk: the reader (pid %d) "
			    "cannot be waited for: %s", (int)pid,
			    strerror(errno));
	}
	if (err == -ETIMEDOUT)
		return bd_err(e, -EIO, "boot disk: the reader gave no answer "
		    "in %u s (killed)", timeout_s);
	sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	/* SIGKILL from us, SIGPIPE when we stopped reading a bad answer. */
	if (sig && sig != SIGKILL && (sig != SIGPIPE || err == -EPIPE))
		return bd_err(e, -EIO, "boot disk: the reader (pid %d) was "
		    "killed by signal %d (%s)%s", (int)pid, sig, strsignal(sig),
		    sig == SIGSYS ? ": a system call outside its seccomp "
		    "allow-list" : "");
	if (err == -EIO || err == -EPIPE || err == -EPROTO)
		return bd_err(e, -EIO, "boot disk: the reader's answer is "
		    "malformed: %s", why);
	if (err == 0 && (sig || !WIFEXITED(st) || WEXITSTATUS(st) != 0))
		return bd_err(e, -EIO, "boot disk: the reader ended with "
		    "status %#x", (unsigned)st);
	return err;
}

int
bootdisk_load_with(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e, bootdisk_reader_fn reader)
{
	unsigned timeout_s = bd_sandbox.timeout_s;
	int p[2], err;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	e->msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return bd_err(e, -errno, "boot disk: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return bd_err(e, err, "boot disk: fork: %s", strerror(-err));
	}
	if (pid == 0) {
		close(p[0]);
		bd_child(be, p[1], reader);
	}
	close(p[1]);
	err = bd_receive(p[0], timeout_s, out, e);
	close(p[0]);
	err = bd_reap(pid, err, timeout_s, e);
	if (err < 0)
		bootdisk_free(out);
	return err;
}

int
bootdisk_load(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	return bootdisk_load_with(be, out, e, bootdisk_read);
}
