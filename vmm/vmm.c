/*
 * vmm.c: one VM's life: read the kernel and initrd (from files, or from
 * the first disk without --kernel: bootdisk.c), create the VM, load
 * the kernel, create the devices and the console, start the vCPUs, wait
 * for a reason to stop, and tear down. The exit codes are in exitcode.h.
 *
 * Graceful stop without ACPI. x86 Linux has no ACPI-less way to power off,
 * but it does react to Ctrl+Alt+Del on an AT keyboard: the i8042 driver
 * raises IRQ 1, atkbd decodes the keys, and with kernel.ctrl-alt-del = 0
 * (the default) the kernel sends SIGINT to init, whose ctrlaltdel action
 * (busybox inittab "::ctrlaltdel:/sbin/reboot", systemd's
 * ctrl-alt-del.target) shuts the system down and reboots, which the kernel
 * does through the i8042 reset line (reboot=k). So: SIGTERM or SIGINT ->
 * vmm_request_shutdown -> Ctrl+Alt+Del queued on the i8042 -> the guest's
 * reset ends the VM, reported as a clean stop (status 0). If the guest
 * does not get there within --stop-timeout seconds, or a second signal
 * arrives, the VM is stopped where it stands (status 5). A guest without
 * a keyboard driver simply times out.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blk.h"
#include "bootdisk.h"
#include "boottimer.h"
#include "console.h"
#include "control.h"
#include "log.h"
#include "reaper.h"
#include "sandbox.h"
#include "vmm.h"

#define VMM_KERNEL_MAX		(512ULL << 20)
#define VMM_CONSOLE_DRAIN_MS	2000

void
vmm_request_exit(struct vmm *vm, int code, const char *why)
{
	uint64_t one = 1;
	int first;

	pthread_mutex_lock(&vm->lock);
	first = !vm->stopping;
	/* The shutdown the host asked for: a reset is how it ends. */
	if (vm->shutdown_asked &&
	    (code == VMM_EXIT_REBOOT || code == VMM_EXIT_POWEROFF))
		code = VMM_EXIT_POWEROFF;
	if (first) {
		vm->stopping = 1;
		vm->exit_code = code;
		pthread_cond_broadcast(&vm->go);
	}
	pthread_mutex_unlock(&vm->lock);
	if (!first)
		return;
	log_info("VM stopping: %s (exit status %d)", why, code);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_warn("stop eventfd");
	vmm_vcpus_kick(vm);
}

int
vmm_is_stopping(struct vmm *vm)
{
	int s;

	pthread_mutex_lock(&vm->lock);
	s = vm->stopping;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

void
vmm_request_shutdown(struct vmm *vm, const char *why)
{
	int again;

	pthread_mutex_lock(&vm->lock);
	again = vm->shutdown_asked;
	if (!again) {
		vm->shutdown_asked = 1;
		clock_gettime(CLOCK_MONOTONIC, &vm->shutdown_deadline);
		vm->shutdown_deadline.tv_sec += vm->stop_timeout;
	}
	pthread_mutex_unlock(&vm->lock);
	if (again) {
		vmm_request_exit(vm, VMM_EXIT_STOPPED, why);
		return;
	}
	log_info("%s: asking the guest to shut down (Ctrl+Alt+Del), %u s",
	    why, vm->stop_timeout);
	vmm_bus_ctrl_alt_del(vm);
}

/* Milliseconds to the shutdown deadline (0 if past), or -1: none. */
static int
vmm_shutdown_wait_ms(struct vmm *vm)
{
	struct timespec now, d;
	long long ms;

	pthread_mutex_lock(&vm->lock);
	d = vm->shutdown_deadline;
	ms = vm->shutdown_asked ? 0 : -1;
	pthread_mutex_unlock(&vm->lock);
	if (ms < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(d.tv_sec - now.tv_sec) * 1000 +
	    (d.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* ---- device host callbacks ---------------------------------------------- */

static void
vmm_host_irq(void *arg, unsigned irq, int level)
{
	vmm_irq_line(arg, irq, level);
}

static void
vmm_host_console(void *arg, const uint8_t *buf, size_t len)
{
	struct vmm *vm = arg;

	if (vm->console)
		console_write(vm->console, buf, len);
}

static void
vmm_host_exit(void *arg, int code, const char *why)
{
	vmm_request_exit(arg, code, why);
}

/* ---- images ------------------------------------------------------------- */

static int
vmm_open_image(const char *path, const char *flag, uint64_t max,
    uint64_t *size)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s %s: %s", flag, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > max) {
		log_error("%s %s: not a regular file of 1 byte to %llu MiB",
		    flag, path, (unsigned long long)(max >> 20));
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Read exactly size bytes from fd into dst. */
static int
vmm_read_all(int fd, uint8_t *dst, uint64_t size, const char *path)
{
	uint64_t off = 0;
	ssize_t n;

	while (off < size) {
		n = pread(fd, dst + off, size - off > (1U << 30) ? 1U << 30 :
		    (size_t)(size - off), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("%s: %s", path, n < 0 ? strerror(errno) :
			    "file shrank while being read");
			return -EIO;
		}
		off += (uint64_t)n;
	}
	return 0;
}

static uint8_t *
vmm_read_kernel(const char *path, size_t *len)
{
	uint64_t size;
	uint8_t *buf;
	int fd;

	fd = vmm_open_image(path, "--kernel", VMM_KERNEL_MAX, &size);
	if (fd < 0)
		return NULL;
	buf = malloc(size);
	if (buf && vmm_read_all(fd, buf, size, path) < 0) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = (size_t)size;
	return buf;
}

/* Load the kernel and place the initrd. 0, or the exit code to use. */
static int
vmm_load(struct vmm *vm, const struct vmm_config *cfg,
    struct boot_entry *entry)
{
	struct boot_args a = { .cmdline = cfg->cmdline, .cpus = cfg->cpus };
	struct boot_placed placed;
	struct boot_error e = { "" };
	int initrd_fd = -1, rc = VMM_EXIT_USAGE;

	if (cfg->initrd && (initrd_fd = vmm_open_image(cfg->initrd,
	    "--initrd", vm->mem.low_size, &a.initrd_size)) < 0)
		return VMM_EXIT_USAGE;
	a.kernel = vmm_read_kernel(cfg->kernel, &a.kernel_len);
	if (a.kernel == NULL)
		goto out;
	if (boot_load(&vm->mem, &a, entry, &placed, &e) < 0) {
		log_error("--kernel %s: %s", cfg->kernel, e.msg);
		goto out;
	}
	if (initrd_fd >= 0 && vmm_read_all(initrd_fd, gmem_ptr(&vm->mem,
	    placed.initrd_gpa, a.initrd_size), a.initrd_size, cfg->initrd) < 0)
		goto out;
	log_debug("%s kernel at %#llx-%#llx, entry %#llx, initrd at %#llx",
	    placed.format, (unsigned long long)placed.kernel_start,
	    (unsigned long long)placed.kernel_end,
	    (unsigned long long)entry->rip,
	    (unsigned long long)placed.initrd_gpa);
	rc = 0;
out:
	free((void *)a.kernel);
	if (initrd_fd >= 0)
		close(initrd_fd);
	return rc;
}

/*
 * No --kernel: the kernel, initrd and command line from the first disk
 * (bootdisk.c), read before anything runs; --cmdline replaces the one
 * found there. 0, or the exit code to use.
 */
static int
vmm_load_disk(struct vmm *vm, const struct vmm_config *cfg,
    struct boot_entry *entry)
{
	const struct vmm_disk_config *dc = &cfg->disk[0];
	struct boot_args a = { .cpus = cfg->cpus };
	struct boot_placed placed;
	struct boot_error e = { "" };
	struct bootdisk_error be_err;
	struct blk_backend *be;
	struct bootdisk bd;
	int err;

	if (vmm_devices_open_disk(dc, 1, &be) < 0)
		return VMM_EXIT_USAGE;
	err = bootdisk_load(be, &bd, &be_err);
	be->ops->close(be);
	if (err < 0) {
		log_error("booting from disk %s: %s", dc->path, be_err.msg);
		return VMM_EXIT_USAGE;
	}
	log_info("boot disk %s: partition %u, %s: kernel %s (%zu bytes), "
	    "%u initrd(s)%s%s (%zu bytes), cmdline \"%s\"", dc->path, bd.part,
	    bd.config, bd.entry.kernel, bd.kernel_len, bd.entry.ninitrd,
	    bd.entry.ninitrd ? " from " : "",
	    bd.entry.ninitrd ? bd.entry.initrd[0] : "", bd.initrd_len,
	    bd.cmdline);
	a.kernel = bd.kernel;
	a.kernel_len = bd.kernel_len;
	a.cmdline = cfg->cmdline ? cfg->cmdline : bd.cmdline;
	a.initrd_size = bd.initrd_len;
	if (boot_load(&vm->mem, &a, entry, &placed, &e) < 0) {
		log_error("disk %s: kernel %s: %s", dc->path, bd.entry.kernel,
		    e.msg);
		bootdisk_free(&bd);
		return VMM_EXIT_USAGE;
	}
	if (bd.initrd_len)
		memcpy(gmem_ptr(&vm->mem, placed.initrd_gpa, bd.initrd_len),
		    bd.initrd, bd.initrd_len);
	log_debug("%s kernel at %#llx-%#llx, entry %#llx, initrd at %#llx",
	    placed.format, (unsigned long long)placed.kernel_start,
	    (unsigned long long)placed.kernel_end,
	    (unsigned long long)entry->rip,
	    (unsigned long long)placed.initrd_gpa);
	bootdisk_free(&bd);
	return 0;
}

/* ---- set-up, wait, tear-down -------------------------------------------- */

static int
vmm_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);	/* only vCPU threads take it */
	sigaddset(set, SIGPIPE);	/* a closed console is an EPIPE */
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		return -1;
	sigdelset(set, SIGUSR1);
	sigdelset(set, SIGPIPE);
	return signalfd(-1, set, SFD_CLOEXEC);
}

static struct vmm *
vmm_alloc(void)
{
	struct vmm *vm = calloc(1, sizeof(*vm));

	if (vm == NULL)
		return NULL;
	vm->kvm_fd = vm->vm_fd = vm->reaper_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &vm->start);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->go, NULL);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC);
	vm->host = (struct vmm_dev_host){
		.arg = vm,
		.irq_line = vmm_host_irq,
		.console_out = vmm_host_console,
		.request_exit = vmm_host_exit,
		.start = vm->start,
	};
	if (vm->stop_fd < 0) {
		free(vm);
		return NULL;
	}
	return vm;
}

/* Wait for a stop request or a signal. */
static void
vmm_wait(struct vmm *vm, int sig_fd)
{
	struct pollfd p[3] = {
		{ .fd = vm->stop_fd, .events = POLLIN },
		{ .fd = sig_fd, .events = POLLIN },
		{ .fd = control_fd(vm->control), .events = POLLIN },
	};
	struct signalfd_siginfo si;
	unsigned drain_ms = VMM_COALESCED_POLL_MS;
	int n, timeout;

	while (!vmm_is_stopping(vm)) {
		timeout = vmm_shutdown_wait_ms(vm);
		if (timeout == 0) {
			vmm_request_exit(vm, VMM_EXIT_STOPPED, "the guest did "
			    "not shut down within --stop-timeout");
			break;
		}
		/* Queued port writes are replayed at least this often. */
		if (atomic_load(&vm->cring) && (timeout < 0 ||
		    timeout > (int)drain_ms))
			timeout = (int)drain_ms;
		n = poll(p, 3, timeout);	/* fds of -1 are skipped */
		if (vmm_coalesced_drain(vm) > 0)
			drain_ms = VMM_COALESCED_POLL_MS;
		else if (n == 0 && drain_ms < VMM_COALESCED_IDLE_MS)
			drain_ms = drain_ms * 2 > VMM_COALESCED_IDLE_MS ?
			    VMM_COALESCED_IDLE_MS : drain_ms * 2;
		if (n < 0 && errno != EINTR) {
			vmm_request_exit(vm, VMM_EXIT_ERROR, "poll failed");
			break;
		}
		if (n > 0 && (p[1].revents & POLLIN) &&
		    read(sig_fd, &si, sizeof(si)) == sizeof(si))
			vmm_request_shutdown(vm, si.ssi_signo == SIGINT ?
			    "SIGINT" : "SIGTERM");
		if (n > 0 && (p[2].revents & POLLIN))
			control_serve(vm->control, vm);
	}
}

/* The console's host side, and its log file. -1 on failure (logged). */
static int
vmm_console(struct vmm *vm, const struct vmm_config *cfg)
{
	int fd;

	if (cfg->console == VMM_CONSOLE_STDIO)
		vm->console = console_open(STDOUT_FILENO, STDIN_FILENO,
		    vmm_bus_console_input, vm);
	else if (cfg->console == VMM_CONSOLE_UNIX)
		vm->console = console_open_unix(cfg->console_path,
		    vmm_bus_console_input, vm);
	else if (cfg->console == VMM_CONSOLE_TCP)
		vm->console = console_open_tcp(cfg->console_path,
		    vmm_bus_console_input, vm);
	else if (cfg->console_log)
		vm->console = console_open(-1, -1, NULL, NULL);
	else
		return 0;
	if (vm->console == NULL) {
		log_warn("console");
		return -1;
	}
	if (cfg->console_log == NULL)
		return 0;
	fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0640);
	if (fd < 0 || console_set_log(vm->console, fd) < 0) {
		log_warn("--console-log %s", cfg->console_log);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

/*
 * --access-group: the supervisor (droverd-api, an unprivileged user) may
 * connect to the console and control sockets: group GID, mode 0660.
 * Done as root, right after they are bound, before the guest runs.
 */
static int
vmm_grant_sock(const char *path, int gid)
{
	if (chown(path, (uid_t)-1, (gid_t)gid) < 0 || chmod(path, 0660) < 0) {
		log_warn("--access-group %d: %s", gid, path);
		return -1;
	}
	return 0;
}

static int
vmm_access_group(const struct vmm_config *cfg)
{
	if (cfg->access_gid < 0)
		return 0;
	if (cfg->control && vmm_grant_sock(cfg->control, cfg->access_gid) < 0)
		return -1;
	if (cfg->console == VMM_CONSOLE_UNIX &&
	    vmm_grant_sock(cfg->console_path, cfg->access_gid) < 0)
		return -1;
	return 0;
}

static int
vmm_setup(struct vmm *vm, const struct vmm_config *cfg)
{
	struct reaper_conf rcf = {
		.has_user = cfg->has_user, .uid = cfg->uid, .gid = cfg->gid,
		.seccomp = cfg->seccomp,
	};
	struct boot_entry entry;
	int rc;

	if (vmm_kvm_open(vm, cfg->mem, &rcf) < 0)
		return VMM_EXIT_ERROR;
	rc = cfg->kernel ? vmm_load(vm, cfg, &entry) :
	    vmm_load_disk(vm, cfg, &entry);
	if (rc != 0)
		return rc;
	if (vmm_bus_create(vm) < 0)
		return VMM_EXIT_ERROR;
	if (vmm_devices_create(vm, cfg) < 0)
		return VMM_EXIT_ERROR;
	if (cfg->control && (vm->control = control_open(cfg->control)) == NULL)
		return VMM_EXIT_ERROR;
	if (vmm_console(vm, cfg) < 0)
		return VMM_EXIT_ERROR;
	if (vmm_access_group(cfg) < 0)
		return VMM_EXIT_ERROR;
	if (vmm_vcpus_create(vm, cfg->cpus, &entry) < 0)
		return VMM_EXIT_ERROR;
	vmm_coalesced_init(vm);
	/* Before the sandbox: it applies to these threads too (TSYNC). */
	if (vmm_devices_start(vm) < 0)
		return VMM_EXIT_ERROR;
	return 0;
}

/*
 * Give up what the running VM does not need, after set-up and before the
 * first KVM_RUN: the user (--user), then every system call but the
 * allow-list. DROVER_VMM_TEST_SECCOMP=1 then makes one forbidden call, so
 * a test can see the filter kill the VMM (and only the VMM); =exec makes
 * an mprotect(PROT_EXEC), which the filter refuses too.
 */
static int
vmm_sandbox(const struct vmm_config *cfg)
{
	const char *test;

	if (cfg->has_user && sandbox_drop_user(cfg->uid, cfg->gid) < 0)
		return -1;
	if (cfg->seccomp && sandbox_seccomp() < 0)
		return -1;
	test = getenv("DROVER_VMM_TEST_SECCOMP");
	if (cfg->seccomp && test && strcmp(test, "exec") == 0)
		(void)syscall(SYS_mprotect, (void *)vmm_sandbox, 4096UL,
		    PROT_READ | PROT_EXEC);
	else if (cfg->seccomp && test)
		(void)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	return 0;
}

static struct vmm *volatile vmm_kept;	/* volatile: the store must stay */

/* Free what nothing can still use. A console input thread blocked in
 * read() may still call into the UART: then vm and the devices stay. */
static void
vmm_teardown(struct vmm *vm)
{
	int console_gone;

	control_close(vm->control);
	vm->control = NULL;
	console_gone = console_close(vm->console, VMM_CONSOLE_DRAIN_MS);

	/* The vCPUs are joined: stop the I/O threads before guest RAM goes. */
	vmm_devices_destroy(vm);
	vmm_vcpus_destroy(vm);
	vmm_kvm_close(vm);
	if (!console_gone) {
		/* Kept on purpose for the thread still in read(); the process
		 * exits next. Reachable, so leak checkers do not flag it. */
		vmm_kept = vm;
		return;
	}
	vmm_bus_destroy(vm);
	close(vm->stop_fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

int
vmm_run(const struct vmm_config *cfg)
{
	struct vmm *vm;
	sigset_t set;
	int sig_fd, rc;

	sig_fd = vmm_signals(&set);
	if (sig_fd < 0)
		log_warn("signalfd: SIGTERM will not stop the VM cleanly");
	vm = vmm_alloc();
	if (vm == NULL) {
		log_warn("VM state");
		return VMM_EXIT_ERROR;
	}
	vm->stop_timeout = cfg->stop_timeout;
	rc = vmm_setup(vm, cfg);
	if (rc == 0 && vmm_vcpus_start(vm) < 0) {
		vmm_request_exit(vm, VMM_EXIT_ERROR, "vCPU threads");
		rc = VMM_EXIT_ERROR;
	}
	if (rc == 0 && vmm_sandbox(cfg) < 0) {
		vmm_request_exit(vm, VMM_EXIT_ERROR, "sandbox");
		rc = VMM_EXIT_ERROR;
	}
	if (rc == 0)
		vmm_vcpus_release(vm);
	if (rc == 0) {
		log_debug("%u vCPUs running, %.3f ms after start", vm->ncpus,
		    boottimer_since_ms(&vm->start));
		vmm_wait(vm, sig_fd);
		rc = vm->exit_code;
	}
	if (vm->vcpus) {
		vmm_vcpus_kick(vm);
		vmm_vcpus_join(vm);
	}
	vmm_coalesced_stop(vm);
	vmm_teardown(vm);
	if (sig_fd >= 0)
		close(sig_fd);
	return rc;
}
