/*
 * sandbox.c: the uid drop and the seccomp allow-list (see sandbox.h).
 *
 * The filter is classic BPF over struct seccomp_data
 * (Documentation/userspace-api/seccomp_filter.rst): check the
 * architecture, then compare the system call number against the list;
 * ioctl is allowed only for the KVM requests the run loop makes. It is
 * installed with SECCOMP_FILTER_FLAG_TSYNC, so the console threads
 * started during set-up get it too, and the vCPU threads are created
 * before it and wait (vcpu.c) until it is in place.
 */
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

int
sandbox_drop_user(uid_t uid, gid_t gid)
{
	/* OpenBSD's order: groups, then gid, then uid (the last right to
	 * change the others). setgroups fails when not root: then the
	 * caller must already be uid/gid. */
	if (setgroups(0, NULL) < 0 && geteuid() == 0) {
		log_warn("setgroups");
		return -errno;
	}
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		log_warn("dropping to uid %u gid %u", (unsigned)uid,
		    (unsigned)gid);
		return -errno;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid) {
		log_warnx("still uid %u after dropping to %u",
		    (unsigned)geteuid(), (unsigned)uid);
		return -EPERM;
	}
	return 0;
}

#ifdef __SANITIZE_ADDRESS__
/* Sanitizer builds only: LeakSanitizer's exit-time scan stops the world
 * with a ptrace'd helper and reads /proc/self; reports need the same. */
#define SANDBOX_SANITIZER_SYSCALLS \
	SYS_clone, SYS_clone3, SYS_ptrace, SYS_wait4, SYS_prctl, \
	SYS_openat, SYS_open, SYS_getdents, SYS_getdents64, SYS_readlink, \
	SYS_lseek, SYS_sigaltstack, SYS_rt_sigaction, SYS_fstat, \
	SYS_newfstatat, SYS_pread64, SYS_sched_getaffinity, SYS_getppid, \
	SYS_kill, SYS_getrlimit, SYS_prlimit64, SYS_dup, SYS_dup2, SYS_pipe, \
	SYS_pipe2, SYS_tkill, SYS_munmap, SYS_madvise, SYS_futex, \
	SYS_sched_yield, SYS_getpid, SYS_gettid, SYS_close,
#else
#define SANDBOX_SANITIZER_SYSCALLS
#endif

/* Each allowed system call, and why the running VMM needs it. */
static const int sandbox_allowed[] = {
	SYS_ioctl,		/* KVM_RUN and friends: filtered below */
	SYS_read,		/* signalfd, eventfd, control client, console in */
	SYS_write,		/* console out, log, stop eventfd */
	SYS_close,		/* control clients; teardown */
	SYS_poll,		/* main loop, control client (glibc, musl) */
	SYS_ppoll,		/* the same, where libc uses ppoll */
	SYS_accept4,		/* control socket */
	SYS_sendto,		/* control answers (send) */
	SYS_unlink,		/* remove the control socket at exit */
	SYS_futex,		/* mutexes, condition variables, joins */
	SYS_clock_gettime,	/* uptime, deadlines (when not in the vDSO) */
	SYS_nanosleep,		/* console input back-off */
	SYS_clock_nanosleep,	/* the same, newer libcs */
	SYS_getpid,		/* pthread_kill: tgkill(getpid(), tid) */
	SYS_gettid,
	SYS_tgkill,		/* kick vCPUs out of KVM_RUN (SIGUSR1) */
	SYS_tkill,		/* the same, musl */
	SYS_rt_sigreturn,	/* return from the SIGUSR1 handler */
	SYS_rt_sigprocmask,	/* thread exit paths */
	SYS_restart_syscall,
	SYS_mmap,		/* malloc (jansson's status answers) */
	SYS_munmap,		/* malloc; teardown of kvm_run and RAM */
	SYS_brk,		/* malloc */
	SYS_mremap,		/* realloc */
	SYS_madvise,		/* thread exit frees its stack (glibc) */
	SYS_sched_yield,	/* lock back-off */
	SYS_set_robust_list,	/* thread start-up in libc, which may run */
	SYS_rseq,		/* after the filter is in place (glibc) */
	SYS_exit,		/* thread exit */
	SYS_exit_group,		/* process exit */
	SYS_preadv,		/* virtio-blk reads (raw back end) */
	SYS_pwritev,		/* virtio-blk writes */
	SYS_pread64,		/* the same, single-segment path of libc */
	SYS_pwrite64,
	SYS_fdatasync,		/* virtio-blk flush */
	SYS_fallocate,		/* virtio-blk discard (punch a hole) */
	SYS_readv,		/* virtio-net: frames from the tap */
	SYS_writev,		/* virtio-net: frames to the tap */
	SYS_getrandom,		/* virtio-rng */
	SYS_epoll_wait,		/* device I/O threads */
	SYS_epoll_pwait,	/* the same, where libc uses epoll_pwait */
	SANDBOX_SANITIZER_SYSCALLS
};

/* The KVM requests a running VMM makes. */
static const unsigned long sandbox_ioctls[] = {
	KVM_RUN,		/* the vCPU loop */
	KVM_IRQ_LINE,		/* UART and keyboard interrupts */
	KVM_GET_REGS,		/* crash reports */
	KVM_GET_SREGS,
	KVM_SET_GSI_ROUTING,	/* the guest programs an MSI-X vector */
	KVM_IOEVENTFD,		/* the guest enables or resets a queue */
	KVM_SIGNAL_MSI,		/* MSIs where there is no irqfd */
};

#define NSYS (sizeof(sandbox_allowed) / sizeof(sandbox_allowed[0]))
#define NIOCTL (sizeof(sandbox_ioctls) / sizeof(sandbox_ioctls[0]))
#define SC_NR offsetof(struct seccomp_data, nr)
#define SC_ARCH offsetof(struct seccomp_data, arch)
#define SC_ARG1 offsetof(struct seccomp_data, args[1])	/* low 32 bits */
#define SC_ARG2 offsetof(struct seccomp_data, args[2])

static struct sock_filter
bpf_stmt(uint16_t code, uint32_t k)
{
	struct sock_filter f = { .code = code, .jt = 0, .jf = 0, .k = k };

	return f;
}

/* if (A == k) skip jt instructions, else skip jf. */
static struct sock_filter
bpf_jeq(uint32_t k, unsigned jt, unsigned jf)
{
	struct sock_filter f = { .code = BPF_JMP | BPF_JEQ | BPF_K,
	    .jt = (uint8_t)jt, .jf = (uint8_t)jf, .k = k };

	return f;
}

/* if (A & k) skip jt instructions, else skip jf. */
static struct sock_filter
bpf_jset(uint32_t k, unsigned jt, unsigned jf)
{
	struct sock_filter f = { .code = BPF_JMP | BPF_JSET | BPF_K,
	    .jt = (uint8_t)jt, .jf = (uint8_t)jf, .k = k };

	return f;
}

int
sandbox_seccomp(void)
{
	/*
	 * 0 arch check (3), 3 load nr, 4 ioctl?, 5 the allow-list (NSYS);
	 * then mprotect? (kill if not), load prot, PROT_EXEC? kill; the
	 * ioctl check: load the request, the request list (NIOCTL), kill;
	 * allow. Jump offsets count from the next instruction.
	 *
	 * mprotect without PROT_EXEC: glibc's malloc grows a thread's arena
	 * with mprotect(PROT_READ | PROT_WRITE), and the qcow2 back end
	 * allocates in the device's I/O thread (its table caches).
	 */
	enum {
		I_LIST = 5, I_MPROT = I_LIST + NSYS, I_IOCTL = I_MPROT + 5,
		I_ALLOW = I_IOCTL + 1 + NIOCTL + 1,
	};
	struct sock_filter f[I_ALLOW + 1];
	struct sock_fprog prog = { .filter = f };
	unsigned n = 0;

	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_ARCH);
	f[n++] = bpf_jeq(AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_NR);
	/* ioctl jumps to the request check. */
	f[n] = bpf_jeq(SYS_ioctl, I_IOCTL - n - 1, 0);
	n++;
	for (unsigned i = 0; i < NSYS; i++, n++)
		f[n] = bpf_jeq((uint32_t)sandbox_allowed[i], I_ALLOW - n - 1,
		    0);
	/* mprotect: never to make memory executable. */
	f[n++] = bpf_jeq(SYS_mprotect, 1, 0);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_ARG2);
	f[n] = bpf_jset(PROT_EXEC, 0, I_ALLOW - n - 1);
	n++;
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	/* ioctl: load the request number and compare. */
	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_ARG1);
	for (unsigned i = 0; i < NIOCTL; i++, n++)
		f[n] = bpf_jeq((uint32_t)sandbox_ioctls[i], I_ALLOW - n - 1, 0);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	if (n != sizeof(f) / sizeof(f[0]))
		fatalx("seccomp filter: %u instructions, want %zu", n,
		    sizeof(f) / sizeof(f[0]));
	prog.len = (unsigned short)n;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
		log_warn("seccomp");
		return -errno;
	}
	return 0;
}

/*
 * The boot disk reader's allow-list (bootdisk_sandbox.c): a process that
 * only parses what it reads from files it already has and writes the
 * result to one pipe. write and writev only on the fds in wfds.
 */
static const int sandbox_reader_allowed[] = {
	SYS_read,		/* the disk */
	SYS_pread64,
	SYS_preadv,
	SYS_brk,		/* malloc */
	SYS_mmap,		/* malloc of large buffers (the kernel, initrds) */
	SYS_munmap,
	SYS_mremap,		/* realloc */
	SYS_madvise,		/* free (glibc trims) */
	SYS_futex,		/* libc locks (uncontended) */
	SYS_clock_gettime,	/* libext2fs time stamps (not in the vDSO) */
	SYS_gettimeofday,
	SYS_time,
	SYS_rt_sigreturn,
	SYS_exit,
	SYS_exit_group,
	SANDBOX_SANITIZER_SYSCALLS
};

#define NREADER (sizeof(sandbox_reader_allowed) / \
	sizeof(sandbox_reader_allowed[0]))
#define SC_ARG0 offsetof(struct seccomp_data, args[0])	/* low 32 bits */
#define SANDBOX_WFD_MAX 4

int
sandbox_seccomp_reader(const int *wfds, unsigned nwfd)
{
	/* 0 arch check (3), 3 load nr, the list (NREADER), write? writev?,
	 * kill; load fd, the fds (nwfd), kill; allow. */
	enum {
		I_LIST = 4, I_WRITE = I_LIST + NREADER, I_FD = I_WRITE + 3,
		I_MAX = I_FD + 1 + SANDBOX_WFD_MAX + 1,
	};
	struct sock_filter f[I_MAX + 1];
	struct sock_fprog prog = { .filter = f };
	unsigned n = 0, allow;

	if (nwfd > SANDBOX_WFD_MAX)
		return -EINVAL;
	allow = I_FD + 1 + nwfd + 1;
	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_ARCH);
	f[n++] = bpf_jeq(AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_NR);
	for (unsigned i = 0; i < NREADER; i++, n++)
		f[n] = bpf_jeq((uint32_t)sandbox_reader_allowed[i],
		    allow - n - 1, 0);
	f[n] = bpf_jeq(SYS_write, I_FD - n - 1, 0);
	n++;
	f[n] = bpf_jeq(SYS_writev, I_FD - n - 1, 0);
	n++;
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, SC_ARG0);
	for (unsigned i = 0; i < nwfd; i++, n++)
		f[n] = bpf_jeq((uint32_t)wfds[i], allow - n - 1, 0);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
		log_warn("seccomp");
		return -errno;
	}
	return 0;
}
