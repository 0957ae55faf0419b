/*
 * tcpsink ADDR PORT BYTES COUNT TIMEOUT: (inside the emulated node) accept
 * COUNT TCP connections on ADDR:PORT, one after the other; from each read
 * BYTES bytes and print "bytes N seconds S MBps R" (from its first byte to
 * its last), then close it. Exit 0 when all COUNT were measured, 1 on
 * TIMEOUT seconds without progress or a connection that ended short, 2 on
 * usage or socket errors. For tests/bench/net-tcp.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for fd readable: 1, 0 on timeout, -1 on error. */
static int
wait_in(int fd, int secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, secs * 1000);
	while (r < 0 && errno == EINTR);
	return r;
}

static int
one(int ls, long long want, int timeout)
{
	static char buf[1 << 16];
	long long got = 0;
	double t0 = 0, t1 = 0;
	int c;

	if (wait_in(ls, timeout) <= 0)
		return fprintf(stderr, "tcpsink: no connection\n"), 1;
	if ((c = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return perror("tcpsink: accept"), 2;
	while (got < want) {
		ssize_t n;

		if (wait_in(c, timeout) <= 0)
			break;
		n = read(c, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (got == 0)
			t0 = now();
		got += n;
		t1 = now();
	}
	close(c);
	if (got < want || t1 <= t0) {
		fprintf(stderr, "tcpsink: %lld of %lld bytes\n", got, want);
		return 1;
	}
	printf("bytes %lld seconds %.3f MBps %.2f\n", got, t1 - t0,
	    got / (t1 - t0) / 1e6);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	long long want;
	int ls, count, timeout, one_ = 1, rc = 0;

	if (argc != 6 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (want = atoll(argv[3])) <= 0 || (count = atoi(argv[4])) <= 0 ||
	    (timeout = atoi(argv[5])) <= 0) {
		fprintf(stderr, "usage: tcpsink ADDR PORT BYTES COUNT TIMEOUT\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_)) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 4) < 0)
		return perror("tcpsink: listen"), 2;
	printf("listening\n");
	fflush(stdout);
	for (int i = 0; i < count && rc == 0; i++)
		rc = one(ls, want, timeout);
	close(ls);
	return rc;
}
