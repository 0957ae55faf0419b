/*
 * KVM test: drover-vmm's control socket (--control), with the real binary
 * running a tiny PVH payload on this host's /dev/kvm: "status" JSON
 * (state, vCPUs, memory, per-vCPU exit counters), an unknown request, a
 * silent client that must not wedge the VMM, "kill" (status 5, socket
 * removed) and "stop" (Ctrl+Alt+Del, the guest resets: status 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvmtest.h"

static char vmm_path[PATH_MAX], payload[PATH_MAX], sock[100];

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	for (int i = 0; i < 200; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa,
		    sizeof(sa)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		msleep(25);
	}
	return -1;
}

/* Send one request, return the parsed one-line answer (or NULL). */
static json_t *
ctl(const char *req)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = ctl_connect();

	if (fd < 0)
		return NULL;
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return json_loads(buf, 0, NULL);
}

static pid_t
start_vmm(const char *cmdline)
{
	pid_t pid = fork();
	int null;

	if (pid != 0)
		return pid;
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	execl(vmm_path, "drover-vmm", "--kernel", payload, "--mem", "16Mi",
	    "--cpus", "2", "--cmdline", cmdline, "--control", sock,
	    "--stop-timeout", "30", (char *)NULL);
	_exit(127);
}

static int
wait_exit(pid_t pid)
{
	int st;

	for (int i = 0; i < 400; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		msleep(25);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* vCPU 0's counters from a status answer; 0 when absent. */
static json_int_t
vcpu0_io(json_t *st, json_int_t *runs)
{
	json_t *v0 = json_array_get(json_object_get(st, "exits"), 0);
	json_int_t io = 0;

	*runs = 0;
	if (v0)
		json_unpack(v0, "{s:I, s:I}", "runs", runs, "io", &io);
	return io;
}

/*
 * Status once vCPU 0 has done port I/O: the first KVM_RUN may take a while
 * on a loaded host, and the counters only move when a run returns. Gives up
 * after 10 s and returns the last answer.
 */
static json_t *
status_after_io(void)
{
	json_t *st = NULL;
	json_int_t runs;

	for (int i = 0; i < 400; i++) {
		json_decref(st);
		st = ctl("status");
		if (st && vcpu0_io(st, &runs) > 0 && runs > 0)
			break;
		msleep(25);
	}
	return st;
}

/* THR writes without an exit (vmm/coalesced.c) are counted where the
 * host has KVM_CAP_COALESCED_PIO; the payload has printed by now. */
static void
check_coalesced(json_t *st)
{
	json_t *c = st ? json_object_get(st, "coalesced_writes") : NULL;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), cap = 0;

	if (kvm >= 0) {
		cap = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
		close(kvm);
	}
	kt_check(json_is_integer(c) && (cap ? json_integer_value(c) > 0 :
	    json_integer_value(c) == 0),
	    "control: status counts coalesced port writes (host has the "
	    "capability: yes/no matches)", "cap %d, coalesced_writes %s", cap,
	    json_is_integer(c) ? "a number out of range" : "absent");
}

static void
check_status(void)
{
	json_t *st = status_after_io(), *exits;
	const char *state = NULL;
	json_int_t vcpus = 0, mem = 0, runs = 0, io = 0;

	if (st)
		json_unpack(st, "{s:s, s:I, s:I}", "state", &state, "vcpus",
		    &vcpus, "memory", &mem);
	kt_check(state && strcmp(state, "running") == 0,
	    "control: status says running", "state %s", state ? state : "?");
	kt_check(vcpus == 2 && mem == 16 << 20,
	    "control: status has vCPUs and memory", "vcpus %lld memory %lld",
	    (long long)vcpus, (long long)mem);
	exits = st ? json_object_get(st, "exits") : NULL;
	io = vcpu0_io(st, &runs);
	check_coalesced(st);
	kt_check(json_array_size(exits) == 2 && runs > 0 && io > 0,
	    "control: status has exit counters per vCPU",
	    "%zu entries, vCPU 0 runs %lld io %lld", json_array_size(exits),
	    (long long)runs, (long long)io);
	json_decref(st);
}

/* The payload's boot-complete mark (boottimer) shows as "booted_ms". */
static void
check_booted(void)
{
	json_t *st = NULL, *b = NULL;

	for (int i = 0; i < 400; i++) {
		json_decref(st);
		st = ctl("status");
		b = st ? json_object_get(st, "booted_ms") : NULL;
		if (json_is_number(b))
			break;
		msleep(25);
	}
	kt_check(json_is_number(b) && json_number_value(b) > 0,
	    "control: status has booted_ms once the guest marked its boot",
	    "%s", b ? (json_is_null(b) ? "null" : "not a number") : "absent");
	json_decref(st);
}

static void
check_bad_clients(void)
{
	json_t *r = ctl("reboot-the-world");
	int silent = ctl_connect();

	kt_check(r && json_object_get(r, "error"),
	    "control: an unknown request gets an error", "no error field");
	json_decref(r);
	/* A client that never writes: the VMM gives up on it. */
	r = ctl("status");
	kt_check(r && json_object_get(r, "state"),
	    "control: a silent client does not wedge the socket", "no answer");
	json_decref(r);
	if (silent >= 0)
		close(silent);
}

static int
setup_paths(const char *argv0)
{
	char self[PATH_MAX], *dir;
	const char *env = getenv("DROVER_VMM");

	if (realpath(argv0, self) == NULL)
		return -1;
	dir = dirname(self);
	snprintf(vmm_path, sizeof(vmm_path), "%s", env ? env : "");
	if (!env)
		snprintf(vmm_path, sizeof(vmm_path), "%s/../bin/drover-vmm", dir);
	snprintf(payload, sizeof(payload), "%s/payloads/pvh.elf", dir);
	snprintf(sock, sizeof(sock), "/tmp/drover-vmm-ctl-%d.sock",
	    (int)getpid());
	return 0;
}

int
main(int argc, char **argv)
{
	struct stat st;
	json_t *r, *st_null = NULL;
	pid_t pid;
	int rc;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		kt_skip("control: socket", "/dev/kvm is not usable here");
		return 0;
	}
	if (!kt_check(setup_paths(argv[0]) == 0 && access(payload, R_OK) == 0,
	    "control: payload present", "%s", payload))
		return kt_status();
	pid = start_vmm("spin");
	for (int i = 0; i < 400 && (st_null = ctl("status")) == NULL; i++)
		msleep(25);
	kt_check(st_null && json_is_null(json_object_get(st_null, "booted_ms")),
	    "control: booted_ms is null while the guest has not marked its boot",
	    "no null booted_ms");
	json_decref(st_null);
	check_status();
	r = ctl("kill");
	json_decref(r);
	wait_exit(pid);
	pid = start_vmm("boottimer spin");
	check_booted();
	check_status();
	check_bad_clients();
	r = ctl("kill");
	kt_check(r && json_is_true(json_object_get(r, "ok")),
	    "control: kill is acknowledged", "no ok");
	json_decref(r);
	rc = wait_exit(pid);
	kt_check(rc == 5, "control: kill stops the VM with status 5", "got %d",
	    rc);
	kt_check(stat(sock, &st) != 0, "control: socket removed at exit",
	    "%s still there", sock);

	pid = start_vmm("ctrlaltdel");
	json_decref(status_after_io());	/* the payload is in its keyboard loop */
	r = ctl("stop");
	kt_check(r && json_is_true(json_object_get(r, "ok")),
	    "control: stop is acknowledged", "no ok");
	json_decref(r);
	rc = wait_exit(pid);
	kt_check(rc == 0, "control: stop shuts the guest down (status 0)",
	    "got %d", rc);
	unlink(sock);
	return kt_status();
}
