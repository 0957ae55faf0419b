/*
 * vmmcon: a scripted client for drover-vmm's console socket (and, with
 * "send" and "expect", for its control socket), for the node's e2e tests.
 * The node's busybox nc has no -U, and the tests need expect-like steps.
 *
 *   vmmcon [-t SECS] [-q] [-o FILE] unix:PATH|tcp:HOST:PORT|PATH STEP...
 *
 * Connects (retrying until the deadline while the socket does not exist
 * or refuses), then runs the steps in order; everything received is
 * copied to stdout (or appended to FILE with -o; -q: nowhere).
 *   expect:TEXT   wait until TEXT (decoded as for send) appears in what
 *                 was received since the previous expect matched (only
 *                 the bytes after the match are kept for the next one)
 *   send:TEXT     write TEXT; \n \r \t \\ and \xHH are decoded
 *   sendslow:TEXT the same, one byte at a time with 20 ms between bytes
 *                 (a getty that reads while it echoes does not lose any)
 *   sleep:MS      keep reading for MS milliseconds
 *   timeout:SECS  the deadline for the following steps, from now
 *   drain:MS      read until nothing arrived for MS milliseconds
 * -t SECS is the first deadline (default 60; it also bounds connecting).
 * Exit status: 0 all steps done; 1 an expect timed out or the peer closed
 * first (the unmatched text's tail is printed to stderr); 2 usage or
 * connection errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WINDOW (256u * 1024u) /* unmatched bytes kept for expect */

static int out_fd = STDOUT_FILENO;
static int sock = -1;
static double deadline;
static char *win;
static size_t win_len;

static void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmmcon: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
ms_left(double until)
{
	double d = until - now_s();

	return d <= 0 ? 0 : (int)(d * 1000) + 1;
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* One read of the socket (waiting at most ms): 1 got data, 0 nothing
 * within ms, -1 the peer closed. */
static int
pump(int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char buf[4096];
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = read(sock, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	if (out_fd >= 0)
		write_all(out_fd, buf, (size_t)n);
	if (win_len + (size_t)n > WINDOW) {
		size_t drop = win_len + (size_t)n - WINDOW;

		if (drop > win_len)
			drop = win_len;
		memmove(win, win + drop, win_len - drop);
		win_len -= drop;
	}
	if ((size_t)n > WINDOW)
		n = WINDOW;
	memcpy(win + win_len, buf, (size_t)n);
	win_len += (size_t)n;
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode escapes in place; returns the length. */
static size_t
unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (*p != '\\' || p[1] == '\0') {
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'x':
			if (hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
				*o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
				p += 2;
			} else {
				*o++ = 'x';
			}
			break;
		default: *o++ = *p; break;
		}
	}
	return (size_t)(o - s);
}

static int
connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die(2, "socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(2, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	close(fd);
	return -1;
}

static int
connect_tcp(const char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	int fd = -1;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
		die(2, "tcp:HOST:PORT expected, got %s", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		die(2, "cannot resolve %s", hostport);
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
		    a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

static void
tail_to_stderr(void)
{
	size_t n = win_len > 400 ? 400 : win_len;

	fprintf(stderr, "vmmcon: last bytes received: ");
	fwrite(win + win_len - n, 1, n, stderr);
	fputc('\n', stderr);
}

static int
step_expect(const char *text, size_t tl)
{
	char *hit;
	int r;

	for (;;) {
		hit = tl ? memmem(win, win_len, text, tl) : win;
		if (hit) {
			size_t keep = win_len - (size_t)(hit - win) - tl;

			memmove(win, hit + tl, keep);
			win_len = keep;
			return 0;
		}
		if (ms_left(deadline) == 0) {
			fprintf(stderr, "vmmcon: timed out waiting for '%s'\n",
			    text);
			tail_to_stderr();
			return 1;
		}
		r = pump(ms_left(deadline));
		if (r < 0) {
			fprintf(stderr, "vmmcon: connection closed waiting "
			    "for '%s'\n", text);
			tail_to_stderr();
			return 1;
		}
	}
}

static void
read_for(int ms)
{
	double until = now_s() + ms / 1000.0;

	while (ms_left(until) > 0 && pump(ms_left(until)) >= 0)
		;
}

static void
drain(int quiet_ms)
{
	while (ms_left(deadline) > 0 && pump(quiet_ms) > 0)
		;
}

static int
run_step(char *s)
{
	char *arg = strchr(s, ':');
	size_t n;

	if (arg == NULL)
		die(2, "step without ':': %s", s);
	*arg++ = '\0';
	if (strcmp(s, "expect") == 0) {
		n = unescape(arg);
		return step_expect(arg, n);
	}
	if (strcmp(s, "send") == 0 || strcmp(s, "sendslow") == 0) {
		n = unescape(arg);
		if (s[4] == '\0') {
			write_all(sock, arg, n);
		} else {
			for (size_t i = 0; i < n; i++) {
				write_all(sock, arg + i, 1);
				read_for(20);
			}
		}
		return 0;
	}
	if (strcmp(s, "sleep") == 0) {
		read_for(atoi(arg));
		return 0;
	}
	if (strcmp(s, "drain") == 0) {
		drain(atoi(arg));
		return 0;
	}
	if (strcmp(s, "timeout") == 0) {
		deadline = now_s() + atof(arg);
		return 0;
	}
	die(2, "unknown step %s", s);
	return 2;
}

int
main(int argc, char **argv)
{
	double limit = 60;
	const char *target;
	int c;

	while ((c = getopt(argc, argv, "+t:qo:")) != -1) {
		switch (c) {
		case 't':
			limit = atof(optarg);
			break;
		case 'q':
			out_fd = -1;
			break;
		case 'o':
			out_fd = open(optarg, O_WRONLY | O_CREAT | O_APPEND |
			    O_CLOEXEC, 0644);
			if (out_fd < 0)
				die(2, "%s: %s", optarg, strerror(errno));
			break;
		default:
			die(2, "usage: vmmcon [-t SECS] [-q] [-o FILE] "
			    "unix:PATH|tcp:HOST:PORT STEP...");
		}
	}
	if (optind >= argc)
		die(2, "usage: vmmcon [-t SECS] [-q] [-o FILE] "
		    "unix:PATH|tcp:HOST:PORT STEP...");
	target = argv[optind++];
	win = malloc(WINDOW);
	if (win == NULL)
		die(2, "out of memory");
	deadline = now_s() + limit;
	for (;;) {
		if (strncmp(target, "tcp:", 4) == 0)
			sock = connect_tcp(target + 4);
		else
			sock = connect_unix(strncmp(target, "unix:", 5) == 0 ?
			    target + 5 : target);
		if (sock >= 0)
			break;
		if (ms_left(deadline) == 0)
			die(2, "cannot connect to %s: %s", target,
			    strerror(errno));
		usleep(100 * 1000);
	}
	for (; optind < argc; optind++)
		if ((c = run_step(argv[optind])) != 0)
			return c;
	return 0;
}
