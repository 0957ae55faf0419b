/*
 * Unit tests: readiness and liveness probes (agent/probe.c) on the real
 * loop (agent/loop.c) against real servers on 127.0.0.1, served from the
 * same loop: a TCP listener, a closed port (connection refused), a tiny
 * HTTP responder (a status code, hanging past the timeout, closing
 * without an answer, garbage) and openssl s_server for HTTPS. Times are
 * fractions of a second (the probe accepts JSON reals; admission only
 * lets integers through).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "loop.h"
#include "probe.h"

/* ---- a server on the loop ---------------------------------------------- */

enum srv_mode {
	SRV_STATUS,		/* answer with code */
	SRV_HANG,		/* read the request, never answer */
	SRV_CLOSE,		/* close at once */
	SRV_GARBAGE,		/* answer with a line that is not HTTP */
};

#define SRV_CONNS 64

struct srv {
	struct loop *l;
	int lfd, port;
	enum srv_mode mode;
	int code;
	const char *location;	/* requests for /r* get 302 to it */
	unsigned conns;		/* accepted */
	uint64_t first_ms;	/* when the first connection came */
	char req[4096];		/* the last complete request */
	struct { int fd; char buf[4096]; size_t len; } c[SRV_CONNS];
};

static void
srv_conn_cb(void *arg, int fd, short revents)
{
	struct srv *s = arg;
	char resp[512];
	ssize_t n;
	int i;

	(void)revents;
	for (i = 0; i < SRV_CONNS && s->c[i].fd != fd; i++)
		;
	assert_true(i < SRV_CONNS);
	n = read(fd, s->c[i].buf + s->c[i].len, sizeof(s->c[i].buf) - 1 -
	    s->c[i].len);
	if (n > 0) {
		s->c[i].len += (size_t)n;
		s->c[i].buf[s->c[i].len] = '\0';
		if (strstr(s->c[i].buf, "\r\n\r\n") == NULL)
			return;
		snprintf(s->req, sizeof(s->req), "%s", s->c[i].buf);
		if (s->mode == SRV_HANG)
			return;
		if (s->mode == SRV_GARBAGE)
			snprintf(resp, sizeof(resp), "SSH-2.0-OpenSSH\r\n");
		else if (s->location && !strncmp(s->req, "GET /r", 6))
			snprintf(resp, sizeof(resp), "HTTP/1.1 302 Found\r\n"
			    "Content-Length: 0\r\nlocation:  %s \r\n\r\n",
			    s->location);
		else
			snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-"
			    "Length: 0\r\n\r\n", s->code);
		assert_true(write(fd, resp, strlen(resp)) > 0);
	}
	loop_del_fd(s->l, fd);
	close(fd);
	s->c[i].fd = -1;
}

static void
srv_accept_cb(void *arg, int fd, short revents)
{
	struct srv *s = arg;
	int c, i;

	(void)revents;
	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if (s->conns++ == 0)
		s->first_ms = loop_now_ms();
	if (s->mode == SRV_CLOSE) {
		close(c);
		return;
	}
	for (i = 0; i < SRV_CONNS && s->c[i].fd >= 0; i++)
		;
	assert_true(i < SRV_CONNS);
	s->c[i].fd = c;
	s->c[i].len = 0;
	assert_int_equal(loop_add_fd(s->l, c, POLLIN, srv_conn_cb, s), 0);
}

/* A socket bound to 127.0.0.1 (or ::1), port chosen by the kernel. */
static int
bound_socket_af(int af, int *port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr *sa = af == AF_INET6 ? (struct sockaddr *)&a6 :
	    (struct sockaddr *)&a;
	socklen_t al = af == AF_INET6 ? sizeof(a6) : sizeof(a);
	int one = 1, fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	assert_int_equal(bind(fd, sa, al), 0);
	assert_int_equal(getsockname(fd, sa, &al), 0);
	*port = ntohs(af == AF_INET6 ? a6.sin6_port : a.sin_port);
	return fd;
}

static int
bound_socket(int *port)
{
	return bound_socket_af(AF_INET, port);
}

static void
srv_start_af(struct srv *s, struct loop *l, enum srv_mode mode, int code,
    int af)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < SRV_CONNS; i++)
		s->c[i].fd = -1;
	s->l = l;
	s->mode = mode;
	s->code = code;
	s->lfd = bound_socket_af(af, &s->port);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(loop_add_fd(l, s->lfd, POLLIN, srv_accept_cb, s), 0);
}

static void
srv_start(struct srv *s, struct loop *l, enum srv_mode mode, int code)
{
	srv_start_af(s, l, mode, code, AF_INET);
}

static void
srv_stop(struct srv *s)
{
	for (int i = 0; i < SRV_CONNS; i++)
		if (s->c[i].fd >= 0) {
			loop_del_fd(s->l, s->c[i].fd);
			close(s->c[i].fd);
		}
	loop_del_fd(s->l, s->lfd);
	close(s->lfd);
}

/* A port nothing listens on (connection refused). */
static int
closed_port(void)
{
	int port, fd = bound_socket(&port);

	close(fd);
	return port;
}

/* ---- recording the callbacks -------------------------------------------- */

struct rec {
	struct loop *l;
	uint64_t t0;
	int n, ok[16];
	uint64_t ms[16];		/* since t0 */
	unsigned long count[16];	/* probes run at the flip */
	struct probe **free_me;		/* probe_free() from the callback */
	struct probe *self;
	int stop_at;			/* loop_stop() after this many flips */
};

static void
rec_cb(void *arg, int ok)
{
	struct rec *r = arg;

	assert_true(r->n < 16);
	r->ok[r->n] = ok;
	r->ms[r->n] = loop_now_ms() - r->t0;
	r->count[r->n] = r->self ? probe_count(r->self) : 0;
	r->n++;
	if (r->free_me) {
		probe_free(*r->free_me);
		*r->free_me = NULL;
	}
	if (r->stop_at && r->n >= r->stop_at)
		loop_stop(r->l);
}

static void
stop_cb(void *arg)
{
	loop_stop(arg);
}

/* Run the loop for ms, or until a callback stops it. */
static void
run_for(struct loop *l, uint64_t ms)
{
	int id = loop_timer(l, ms, stop_cb, l);

	assert_true(id > 0);
	assert_int_equal(loop_run(l), 0);
	loop_cancel(l, id);
}

static json_t *
spec(const char *fmt, ...)
{
	char buf[2048];
	json_error_t je;
	json_t *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	j = json_loads(buf, 0, &je);
	if (j == NULL)
		fail_msg("bad JSON %s: %s", buf, je.text);
	return j;
}

static struct probe *
start(struct loop *l, enum probe_kind kind, json_t *js, struct rec *r)
{
	char err[256] = "";
	struct probe *p;

	r->l = l;
	r->t0 = loop_now_ms();
	p = probe_new(l, kind, js, NULL, "127.0.0.1", rec_cb, r, err,
	    sizeof(err));
	if (p == NULL)
		fail_msg("probe_new: %s", err);
	r->self = p;
	json_decref(js);
	return p;
}

static int
setup(void **state)
{
	*state = loop_new();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	loop_free(*state);
	return 0;
}

/* ---- spec errors ----------------------------------------------------------- */

static void
expect_refused(struct loop *l, const char *js, const json_t *ifaces,
    const char *host, const char *msg)
{
	char err[256] = "";
	json_t *j = spec("%s", js);
	struct rec r = { 0 };
	struct probe *p = probe_new(l, PROBE_READINESS, j, ifaces, host,
	    rec_cb, &r, err, sizeof(err));

	json_decref(j);
	if (p != NULL || strstr(err, msg) == NULL)
		fail_msg("%s: got %s, error \"%s\", want \"%s\"", js, p ? "a probe"
		    : "NULL", err, msg);
}

static void
test_spec_errors(void **state)
{
	struct loop *l = *state;
	json_t *ifaces = spec("[{\"name\": \"default\", \"masquerade\": {}, "
	    "\"ports\": [{\"name\": \"http\", \"port\": 8080}]}]");
	char err[256];
	struct rec r = { 0 };
	struct probe *p;
	json_t *j;

	expect_refused(l, "{\"exec\": {\"command\": [\"true\"]}}", NULL,
	    "10.0.2.2", "exec probes are not supported by Drover: they need a "
	    "guest agent");
	expect_refused(l, "{\"guestAgentPing\": {}}", NULL, "10.0.2.2",
	    "guestAgentPing probes are not supported");
	expect_refused(l, "{\"periodSeconds\": 3}", NULL, "10.0.2.2",
	    "exactly one of tcpSocket and httpGet");
	expect_refused(l, "{\"tcpSocket\": {\"port\": 1}, \"httpGet\": "
	    "{\"port\": 1}}", NULL, "10.0.2.2", "exactly one");
	expect_refused(l, "{\"tcpSocket\": {\"port\": 0}}", NULL, "10.0.2.2",
	    "must be 1 to 65535");
	expect_refused(l, "{\"tcpSocket\": {\"port\": 65536}}", NULL,
	    "10.0.2.2", "must be 1 to 65535");
	expect_refused(l, "{\"tcpSocket\": {\"port\": \"web\"}}", ifaces,
	    "10.0.2.2", "no port of that name");
	expect_refused(l, "{\"tcpSocket\": {\"port\": 80}}", NULL, NULL,
	    "no host");
	expect_refused(l, "{\"tcpSocket\": {\"port\": 80, \"host\": "
	    "\"example.com\"}}", NULL, "10.0.2.2", "Drover does not resolve");
	expect_refused(l, "{\"httpGet\": {\"port\": 80, \"scheme\": \"FTP\"}}",
	    NULL, "10.0.2.2", "HTTP or HTTPS");
	expect_refused(l, "{\"httpGet\": {\"port\": 80, \"path\": \"/a b\"}}",
	    NULL, "10.0.2.2", "probe path");
	expect_refused(l, "{\"httpGet\": {\"port\": 80, \"httpHeaders\": "
	    "[{\"name\": \"X\", \"value\": \"a\\r\\nEvil: 1\"}]}}", NULL,
	    "10.0.2.2", "httpHeaders[0]");
	expect_refused(l, "{\"httpGet\": {\"port\": 80, \"httpHeaders\": "
	    "[{\"name\": \"X Y\", \"value\": \"a\"}]}}", NULL, "10.0.2.2",
	    "httpHeaders[0]");

	/* Named ports come from the interfaces; the probe's host wins. */
	j = spec("{\"httpGet\": {\"port\": \"http\", \"host\": \"::1\"}}");
	p = probe_new(l, PROBE_READINESS, j, ifaces, "10.0.2.2", rec_cb, &r,
	    err, sizeof(err));
	json_decref(j);
	assert_non_null(p);
	assert_int_equal(probe_ok(p), 0);
	assert_int_equal(probe_count(p), 0);
	probe_free(p);
	probe_free(NULL);
	json_decref(ifaces);
}

/* ---- tcpSocket ------------------------------------------------------------- */

static void
test_tcp(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 }, lr = { 0 };
	struct probe *p, *lp;
	struct srv s;

	srv_start(&s, l, SRV_HANG, 0);
	/* Readiness: not ready, then ready on the first success (t ~ 0). */
	p = start(l, PROBE_READINESS, spec("{\"tcpSocket\": {\"port\": %d}, "
	    "\"periodSeconds\": 0.1}", s.port), &r);
	/* Liveness: alive from the start; no callback while it stays so. */
	lp = start(l, PROBE_LIVENESS, spec("{\"tcpSocket\": {\"port\": %d}, "
	    "\"periodSeconds\": 0.1}", s.port), &lr);
	assert_int_equal(probe_ok(p), 0);
	assert_int_equal(probe_ok(lp), 1);
	run_for(l, 450);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ok[0], 1);
	assert_true(r.ms[0] < 100);
	assert_int_equal(r.count[0], 1);
	assert_int_equal(lr.n, 0);
	assert_int_equal(probe_ok(p), 1);
	assert_string_equal(probe_last_error(p), "");
	/* Period 0.1 s over 0.45 s: probes at 0, .1, .2, .3, .4. */
	assert_in_range(probe_count(p), 4, 6);
	assert_in_range(s.conns, 8, 12);
	probe_free(p);
	probe_free(lp);
	srv_stop(&s);
}

/* Liveness against a closed port: dead after failureThreshold, then it
 * stops probing; the callback frees the probe (as the runtime will). */
static void
test_tcp_liveness_fails(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 };
	struct probe *p;
	int port = closed_port();

	p = start(l, PROBE_LIVENESS, spec("{\"tcpSocket\": {\"port\": %d}, "
	    "\"periodSeconds\": 0.1, \"failureThreshold\": 3}", port), &r);
	run_for(l, 600);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ok[0], 0);
	assert_int_equal(r.count[0], 3);
	assert_in_range(r.ms[0], 190, 320);
	assert_int_equal(probe_ok(p), 0);
	assert_non_null(strstr(probe_last_error(p), "connect: connection "
	    "refused"));
	assert_int_equal(probe_count(p), 3);	/* stopped */
	probe_free(p);

	/* Same, freed from its own callback. */
	memset(&r, 0, sizeof(r));
	p = start(l, PROBE_LIVENESS, spec("{\"tcpSocket\": {\"port\": %d}, "
	    "\"periodSeconds\": 0.05, \"failureThreshold\": 2}", port), &r);
	r.free_me = &p;
	r.stop_at = 1;
	run_for(l, 2000);
	assert_int_equal(r.n, 1);
	assert_null(p);
}

/* A connect that never completes: a listener whose queue is full. */
static void
test_tcp_timeout(void **state)
{
	struct loop *l = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct rec r = { 0 };
	struct probe *p;
	int port, lfd = bound_socket(&port), fillers[4];
	uint64_t t0;

	assert_int_equal(listen(lfd, 0), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	/* Fill the accept queue; later SYNs are dropped. */
	for (int i = 0; i < 4; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(50000);
	p = start(l, PROBE_LIVENESS, spec("{\"tcpSocket\": {\"port\": %d}, "
	    "\"timeoutSeconds\": 0.15, \"periodSeconds\": 1, "
	    "\"failureThreshold\": 1}", port), &r);
	r.stop_at = 1;
	t0 = loop_now_ms();
	run_for(l, 2000);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ok[0], 0);
	assert_in_range(loop_now_ms() - t0, 140, 600);
	assert_non_null(strstr(probe_last_error(p), "i/o timeout"));
	probe_free(p);
	for (int i = 0; i < 4; i++)
		close(fillers[i]);
	close(lfd);
}

/* ---- httpGet ---------------------------------------------------------------- */

static void
test_http_transitions(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 };
	struct probe *p;
	struct srv s;

	srv_start(&s, l, SRV_STATUS, 200);
	p = start(l, PROBE_READINESS, spec("{\"httpGet\": {\"port\": %d, "
	    "\"path\": \"healthz\", \"httpHeaders\": [{\"name\": \"X-Test\", "
	    "\"value\": \"1 2\"}]}, \"periodSeconds\": 0.1, "
	    "\"successThreshold\": 2, \"failureThreshold\": 3}", s.port), &r);
	r.stop_at = 1;
	run_for(l, 2000);
	/* Ready after two successes (t ~ 0.1 s). */
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ok[0], 1);
	assert_int_equal(r.count[0], 2);
	assert_in_range(r.ms[0], 90, 250);
	assert_non_null(strstr(s.req, "GET /healthz HTTP/1.1\r\n"));
	assert_non_null(strstr(s.req, "\r\nUser-Agent: kube-probe/"));
	assert_non_null(strstr(s.req, "\r\nAccept: */*\r\n"));
	assert_non_null(strstr(s.req, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(s.req, "\r\nX-Test: 1 2\r\n"));
	{
		char host[64];

		snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n",
		    s.port);
		assert_non_null(strstr(s.req, host));
	}
	/* 500: not ready after three failures in a row. */
	s.code = 500;
	r.stop_at = 2;
	run_for(l, 2000);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ok[1], 0);
	assert_int_equal(r.count[1] - r.count[0], 3);
	assert_string_equal(probe_last_error(p),
	    "HTTP probe failed with statuscode: 500");
	/* A redirect counts as success (200..399): ready after two. */
	s.code = 302;
	r.stop_at = 3;
	run_for(l, 2000);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ok[2], 1);
	assert_int_equal(r.count[2] - r.count[1], 2);
	/* 400 and a success in between: the failure run restarts. */
	s.code = 400;
	run_for(l, 220);		/* ~2 failures */
	s.code = 204;
	run_for(l, 150);
	s.code = 404;
	run_for(l, 220);
	assert_int_equal(r.n, 3);
	assert_int_equal(probe_ok(p), 1);
	probe_free(p);
	srv_stop(&s);
}

static void
test_http_timeout_close_garbage(void **state)
{
	struct loop *l = *state;
	static const struct { enum srv_mode m; const char *msg; } t[] = {
		{ SRV_HANG, "context deadline exceeded" },
		{ SRV_CLOSE, "EOF before the status line" },
		{ SRV_GARBAGE, "bad status line" },
	};

	for (size_t i = 0; i < 3; i++) {
		struct rec r = { 0 };
		struct probe *p;
		struct srv s;
		uint64_t t0;

		srv_start(&s, l, t[i].m, 200);
		p = start(l, PROBE_LIVENESS, spec("{\"httpGet\": {\"port\": %d}, "
		    "\"timeoutSeconds\": 0.2, \"periodSeconds\": 0.5, "
		    "\"failureThreshold\": 1}", s.port), &r);
		r.stop_at = 1;
		t0 = loop_now_ms();
		run_for(l, 2000);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ok[0], 0);
		if (strstr(probe_last_error(p), t[i].msg) == NULL)
			fail_msg("mode %zu: \"%s\"", i, probe_last_error(p));
		if (t[i].m == SRV_HANG)
			assert_in_range(loop_now_ms() - t0, 190, 450);
		else
			assert_in_range(loop_now_ms() - t0, 0, 150);
		probe_free(p);
		srv_stop(&s);
	}
}

/*
 * A readiness probe until its first result: ready at once on success;
 * on failure, the second probe has started (period 0.05 s), so the
 * first has ended. 1 if it succeeded; why: the last error.
 */
static int
one_probe(struct loop *l, const char *js, char *why, size_t whylen)
{
	struct rec r = { 0 };
	struct probe *p;

	p = start(l, PROBE_READINESS, spec("%s", js), &r);
	r.stop_at = 1;
	while (probe_count(p) < 2 && r.n == 0)
		run_for(l, 50);
	snprintf(why, whylen, "%s", probe_last_error(p));
	probe_free(p);
	return r.n == 1 && r.ok[0] == 1;
}

/* Redirects as kubelet: followed on the same host (any port), at most
 * 10; to another host the 3xx itself is the (successful) result. */
static void
test_http_redirects(void **state)
{
	struct loop *l = *state;
	struct srv a, b;
	char loc[128], js[256], why[256];
	unsigned before;

	srv_start(&a, l, SRV_STATUS, 200);
	srv_start(&b, l, SRV_STATUS, 500);
	/* /r on a -> b's /x (500): failure, both asked. */
	snprintf(loc, sizeof(loc), "http://127.0.0.1:%d/x?y=1#frag", b.port);
	a.location = loc;
	snprintf(js, sizeof(js), "{\"httpGet\": {\"port\": %d, \"path\": "
	    "\"/r/1\"}, \"periodSeconds\": 0.05}", a.port);
	assert_false(one_probe(l, js, why, sizeof(why)));
	assert_string_equal(why, "HTTP probe failed with statuscode: 500");
	assert_non_null(strstr(b.req, "GET /x?y=1 HTTP/1.1\r\n"));
	snprintf(loc, sizeof(loc), "\r\nHost: 127.0.0.1:%d\r\n", b.port);
	assert_non_null(strstr(b.req, loc));
	/* b now 200: success through the redirect. */
	b.code = 200;
	snprintf(loc, sizeof(loc), "http://127.0.0.1:%d/x", b.port);
	assert_true(one_probe(l, js, why, sizeof(why)));
	/* A relative Location, resolved against /r/1: a's /r/ok -> loop. */
	a.location = "ok";
	assert_false(one_probe(l, js, why, sizeof(why)));
	assert_non_null(strstr(why, "stopped after 10 redirects"));
	assert_non_null(strstr(a.req, "GET /r/ok HTTP/1.1"));
	/* Absolute path to a 404 on a. */
	a.location = "/nothing";
	a.code = 404;
	assert_false(one_probe(l, js, why, sizeof(why)));
	assert_string_equal(why, "HTTP probe failed with statuscode: 404");
	/* Another host: not followed, the 302 counts as success. */
	a.location = "http://192.0.2.1/elsewhere";
	before = b.conns;
	assert_true(one_probe(l, js, why, sizeof(why)));
	assert_int_equal(b.conns, before);
	/* A Location that is no URL we can follow: failure. */
	a.location = "http://127.0.0.1:99999/";
	assert_false(one_probe(l, js, why, sizeof(why)));
	assert_non_null(strstr(why, "bad Location"));
	srv_stop(&a);
	srv_stop(&b);
}

/* IPv6: the probe's own host ::1 over the VMI's IP; Host [::1]:port. */
static void
test_ipv6(void **state)
{
	struct loop *l = *state;
	char js[256], why[256], host[64];
	struct srv s;

	srv_start_af(&s, l, SRV_STATUS, 200, AF_INET6);
	snprintf(js, sizeof(js), "{\"httpGet\": {\"port\": %d, \"host\": "
	    "\"::1\"}, \"periodSeconds\": 0.05}", s.port);
	assert_true(one_probe(l, js, why, sizeof(why)));
	snprintf(host, sizeof(host), "\r\nHost: [::1]:%d\r\n", s.port);
	assert_non_null(strstr(s.req, host));
	snprintf(js, sizeof(js), "{\"tcpSocket\": {\"port\": %d, \"host\": "
	    "\"0:0::1\"}, \"periodSeconds\": 0.05}", s.port);
	assert_true(one_probe(l, js, why, sizeof(why)));
	srv_stop(&s);
}

/* An HTTP liveness failure whose callback frees the probe (the
 * runtime's way): nothing touches it afterwards (ASan). */
static void
test_http_free_from_callback(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 };
	struct probe *p;
	struct srv s;

	srv_start(&s, l, SRV_STATUS, 503);
	p = start(l, PROBE_LIVENESS, spec("{\"httpGet\": {\"port\": %d}, "
	    "\"periodSeconds\": 0.05, \"failureThreshold\": 2}", s.port),
	    &r);
	r.free_me = &p;
	r.stop_at = 1;
	run_for(l, 2000);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ok[0], 0);
	assert_null(p);
	srv_stop(&s);
}

/* initialDelaySeconds: nothing before it; then every period. */
static void
test_initial_delay_and_period(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 };
	struct probe *p;
	struct srv s;
	uint64_t t0;

	srv_start(&s, l, SRV_STATUS, 200);
	t0 = loop_now_ms();
	p = start(l, PROBE_READINESS, spec("{\"httpGet\": {\"port\": %d}, "
	    "\"initialDelaySeconds\": 0.3, \"periodSeconds\": 0.2}", s.port),
	    &r);
	run_for(l, 250);
	assert_int_equal(s.conns, 0);
	assert_int_equal(probe_count(p), 0);
	assert_int_equal(probe_ok(p), 0);
	run_for(l, 1000);	/* t = 1.25: probes at .3 .5 .7 .9 1.1 */
	assert_in_range(s.first_ms - t0, 295, 400);
	assert_int_equal(r.n, 1);
	assert_in_range(r.ms[0], 295, 400);
	assert_in_range(probe_count(p), 4, 6);
	probe_free(p);
	srv_stop(&s);
}

/* A probe in flight freed: no leak, no late callback. */
static void
test_free_in_flight(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 };
	struct probe *p;
	struct srv s;

	srv_start(&s, l, SRV_HANG, 200);
	p = start(l, PROBE_READINESS, spec("{\"httpGet\": {\"port\": %d}, "
	    "\"timeoutSeconds\": 0.3}", s.port), &r);
	run_for(l, 100);
	assert_int_equal(probe_count(p), 1);
	probe_free(p);
	run_for(l, 400);
	assert_int_equal(r.n, 0);
	srv_stop(&s);
}

/* ---- HTTPS: openssl s_server -www --------------------------------------- */

static char tlsdir[64];
static pid_t tls_pid = -1;
static int tls_port;

static int
https_setup(void **state)
{
	char cmd[512];
	int fd, one;

	if (setup(state) < 0)
		return -1;
	snprintf(tlsdir, sizeof(tlsdir), "/tmp/drover-probe-XXXXXX");
	if (mkdtemp(tlsdir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout %s/k.pem -out "
	    "%s/c.pem -days 1 -subj /CN=probe-test >/dev/null 2>&1", tlsdir,
	    tlsdir);
	if (system(cmd) != 0)
		return -1;
	fd = bound_socket(&tls_port);
	close(fd);
	if ((tls_pid = fork()) == 0) {
		char port[16], c[96], k[96];

		snprintf(port, sizeof(port), "127.0.0.1:%d", tls_port);
		snprintf(c, sizeof(c), "%s/c.pem", tlsdir);
		snprintf(k, sizeof(k), "%s/k.pem", tlsdir);
		freopen("/dev/null", "w", stdout);
		execlp("openssl", "openssl", "s_server", "-accept", port,
		    "-cert", c, "-key", k, "-www", "-quiet", (char *)NULL);
		_exit(127);
	}
	/* Wait until it listens. */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)tls_port);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		one = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (one == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static int
https_teardown(void **state)
{
	char cmd[128];

	if (tls_pid > 0) {
		kill(tls_pid, SIGTERM);
		waitpid(tls_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tlsdir);
	if (system(cmd) != 0)
		return -1;
	return teardown(state);
}

static void
test_https(void **state)
{
	struct loop *l = *state;
	struct rec r = { 0 }, r2 = { 0 };
	struct probe *p, *p2;
	struct srv s;

	/* s_server -www answers GET / with "HTTP/1.0 200 ok". */
	p = start(l, PROBE_READINESS, spec("{\"httpGet\": {\"port\": %d, "
	    "\"scheme\": \"HTTPS\"}, \"periodSeconds\": 0.3, "
	    "\"timeoutSeconds\": 2}", tls_port), &r);
	r.stop_at = 1;
	run_for(l, 3000);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ok[0], 1);
	assert_string_equal(probe_last_error(p), "");
	run_for(l, 700);		/* more probes, new sessions */
	assert_in_range(probe_count(p), 3, 4);
	assert_int_equal(probe_ok(p), 1);
	assert_string_equal(probe_last_error(p), "");
	probe_free(p);

	/* HTTPS to a server that hangs up: the handshake fails. */
	srv_start(&s, l, SRV_CLOSE, 200);
	p2 = start(l, PROBE_LIVENESS, spec("{\"httpGet\": {\"port\": %d, "
	    "\"scheme\": \"HTTPS\"}, \"periodSeconds\": 0.3, "
	    "\"failureThreshold\": 1}", s.port), &r2);
	r2.stop_at = 1;
	run_for(l, 2000);
	assert_int_equal(r2.n, 1);
	assert_int_equal(r2.ok[0], 0);
	if (strstr(probe_last_error(p2), "TLS handshake") == NULL)
		fail_msg("%s", probe_last_error(p2));
	probe_free(p2);
	srv_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spec_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_liveness_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tcp_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_transitions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_timeout_close_garbage,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_redirects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_free_from_callback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_delay_and_period,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_flight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_https, https_setup,
		    https_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("agent_probe", tests, NULL, NULL);
}
