/*
 * KVM test: the console on a unix socket (--console unix:PATH), with the
 * real drover-vmm and a payload that echoes its input in upper case: a
 * late client gets the history, every client sees the output, only the
 * first client to type reaches the guest, and the guest's exit closes
 * the clients' connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvmtest.h"

static char vmm_path[PATH_MAX], payload[PATH_MAX], sock[100];

struct client {
	int fd;
	char buf[8192];
	size_t len;
	int eof;
};

static int
client_connect(struct client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec ms25 = { 0, 25 * 1000 * 1000 };

	memset(c, 0, sizeof(*c));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	for (int i = 0; i < 200; i++) {
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa,
		    sizeof(sa)) == 0)
			return 0;
		close(c->fd);
		nanosleep(&ms25, NULL);
	}
	c->fd = -1;
	return -1;
}

/* Read until want appears in everything read so far (or 5 s pass). */
static int
client_wait(struct client *c, const char *want)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	for (int i = 0; i < 100 && !strstr(c->buf, want); i++) {
		if (c->eof || poll(&p, 1, 50) <= 0)
			continue;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n <= 0) {
			c->eof = 1;
			continue;
		}
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
	return strstr(c->buf, want) != NULL;
}

static int
wait_exit(pid_t pid)
{
	struct timespec ms25 = { 0, 25 * 1000 * 1000 };
	int st;

	for (int i = 0; i < 400; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		nanosleep(&ms25, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static pid_t
start_vmm(const char *console)
{
	pid_t pid = fork();
	int null;

	if (pid != 0)
		return pid;
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	execl(vmm_path, "drover-vmm", "--kernel", payload, "--mem", "16Mi",
	    "--cmdline", "echo", "--console", console, (char *)NULL);
	_exit(127);
}

static int
tcp_connect(struct client *c, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timespec ms25 = { 0, 25 * 1000 * 1000 };

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 200; i++) {
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa,
		    sizeof(sa)) == 0)
			return 0;
		close(c->fd);
		nanosleep(&ms25, NULL);
	}
	c->fd = -1;
	return -1;
}

/* The same server on TCP (loopback): output, input, exit. */
static void
tcp_console(void)
{
	int port = 20000 + (int)(getpid() % 20000);
	struct client t;
	char spec[64];
	pid_t pid;
	int rc;

	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
	pid = start_vmm(spec);
	kt_check(tcp_connect(&t, port) == 0 && client_wait(&t, "echo ready"),
	    "console: tcp client sees the output", "got '%s'", t.buf);
	kt_check(write(t.fd, "tq", 2) == 2 && client_wait(&t, "Tbye"),
	    "console: tcp client types into the guest", "got '%s'", t.buf);
	rc = wait_exit(pid);
	kt_check(rc == 3, "console: tcp VM ends with status 3", "got %d", rc);
	close(t.fd);
}

int
main(int argc, char **argv)
{
	char self[PATH_MAX], *dir, spec[128];
	struct client a, b;
	pid_t pid;
	int rc;

	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		kt_skip("console: unix socket", "/dev/kvm is not usable here");
		return 0;
	}
	if (realpath(argv[0], self) == NULL)
		return 1;
	dir = dirname(self);
	snprintf(vmm_path, sizeof(vmm_path), "%s/../bin/drover-vmm", dir);
	if (getenv("DROVER_VMM"))
		snprintf(vmm_path, sizeof(vmm_path), "%s", getenv("DROVER_VMM"));
	snprintf(payload, sizeof(payload), "%s/payloads/pvh.elf", dir);
	snprintf(sock, sizeof(sock), "/tmp/drover-vmm-con-%d.sock",
	    (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s", sock);
	pid = start_vmm(spec);
	kt_check(client_connect(&a) == 0 && client_wait(&a, "echo ready"),
	    "console: a client sees the guest's output", "got '%s'", a.buf);
	kt_check(client_connect(&b) == 0 && client_wait(&b, "hello from pvh") &&
	    client_wait(&b, "echo ready"),
	    "console: a late client gets the history", "got '%s'", b.buf);
	kt_check(write(a.fd, "abc", 3) == 3 && client_wait(&a, "ABC") &&
	    client_wait(&b, "ABC"),
	    "console: input reaches the guest; every client sees the echo",
	    "a '%s' b '%s'", a.buf, b.buf);
	kt_check(write(b.fd, "xyz", 3) == 3 && write(a.fd, "d", 1) == 1 &&
	    client_wait(&b, "ABCD") && !strstr(b.buf, "XYZ"),
	    "console: only the first client to type is the writer",
	    "b saw '%s'", b.buf);
	kt_check(write(a.fd, "q", 1) == 1 && client_wait(&a, "bye"),
	    "console: the guest finishes", "a saw '%s'", a.buf);
	rc = wait_exit(pid);
	kt_check(rc == 3, "console: the VM ends with status 3", "got %d", rc);
	client_wait(&b, "\x01never");
	kt_check(b.eof, "console: clients see EOF when the VM ends",
	    "no EOF");
	kt_check(access(sock, F_OK) != 0, "console: socket removed",
	    "%s remains", sock);
	close(a.fd);
	close(b.fd);
	unlink(sock);
	tcp_console();
	return kt_status();
}
