/*
 * probe.c: readiness and liveness probes (probe.h) on droverd's loop.
 *
 * One probe = one timer chain: "next" fires a probe; the probe is a
 * non-blocking TCP connect (tcpSocket), then for httpGet optionally a TLS
 * handshake (probe_tls.c), the request, and the status line; a "timeout"
 * timer ends it early. probe_done() closes the connection, applies the
 * thresholds, arms the next probe and, last of all, calls the owner's
 * callback (which may free the probe).
 *
 * Result counting is kubelet's (prober/worker.go): a run of equal results;
 * the reported state becomes the run's result once the run reaches
 * successThreshold (success) or failureThreshold (failure).
 */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "probe_int.h"

#define PROBE_MAX_MS		(1ULL << 31)

/* ---- the spec ------------------------------------------------------------ */

int
probe_spec_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Seconds (an integer or, for tests, a real) to ms; def when absent,
 * below 0, or 0 unless zero_ok (initialDelaySeconds).
 */
static uint64_t
probe_ms(const json_t *spec, const char *key, double def, int zero_ok)
{
	const json_t *v = json_object_get(spec, key);
	double s = json_is_number(v) ? json_number_value(v) : def;
	double ms;

	if (!(s > 0 || (zero_ok && s == 0)))
		s = def;
	ms = ceil(s * 1000.0);
	if (ms > (double)PROBE_MAX_MS)
		ms = (double)PROBE_MAX_MS;
	return (uint64_t)ms;
}

static unsigned
probe_count_of(const json_t *spec, const char *key, unsigned def)
{
	json_int_t v = json_integer_value(json_object_get(spec, key));

	if (v < 1)
		return def;
	return v > 1000000 ? 1000000 : (unsigned)v;
}

/* A port by name from the interfaces' ports; 0 if not found. */
static int
probe_named_port(const json_t *ifaces, const char *name)
{
	const json_t *ifc, *port;
	size_t i, k;

	json_array_foreach(ifaces, i, ifc)
		json_array_foreach(json_object_get(ifc, "ports"), k, port) {
			const char *n = json_string_value(json_object_get(port,
			    "name"));
			json_int_t v = json_integer_value(json_object_get(port,
			    "port"));

			if (n && !strcmp(n, name) && v >= 1 && v <= 65535)
				return (int)v;
		}
	return 0;
}

static int
probe_port(struct probe *p, const json_t *h, const json_t *ifaces, char *err,
    size_t errlen)
{
	const json_t *v = json_object_get(h, "port");
	const char *s = json_string_value(v);
	char *end;
	long n;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > 65535)
			return probe_spec_err(err, errlen, "probe port %lld: "
			    "must be 1 to 65535",
			    (long long)json_integer_value(v));
		p->port0 = (int)json_integer_value(v);
		return 0;
	}
	if (s == NULL || s[0] == '\0')
		return probe_spec_err(err, errlen, "probe port: a number or "
		    "the name of a port of the VMI's interfaces is needed");
	n = strtol(s, &end, 10);
	if (*end == '\0' && n >= 1 && n <= 65535) {
		p->port0 = (int)n;
		return 0;
	}
	if ((p->port0 = probe_named_port(ifaces, s)) == 0)
		return probe_spec_err(err, errlen, "probe port \"%.64s\": no "
		    "port of that name in the VMI's interfaces", s);
	return 0;
}

static int
probe_addr(struct probe *p, const char *host, char *err, size_t errlen)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->addr;

	if (host == NULL || host[0] == '\0')
		return probe_spec_err(err, errlen, "probe: no host (the VMI "
		    "has no IP address yet)");
	memset(&p->addr, 0, sizeof(p->addr));
	if (strlen(host) < sizeof(p->host) &&
	    inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		p->alen = sizeof(*a4);
	} else if (strlen(host) < sizeof(p->host) &&
	    inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		p->alen = sizeof(*a6);
	} else {
		return probe_spec_err(err, errlen, "probe host \"%.64s\": an "
		    "IPv4 or IPv6 address is needed (Drover does not resolve "
		    "names)", host);
	}
	snprintf(p->host, sizeof(p->host), "%s", host);
	return 0;
}

/* Aim the next connection at port (the address stays), scheme https. */
static void
probe_target(struct probe *p, int https, int port)
{
	p->https = https;
	p->port = port;
	if (p->addr.ss_family == AF_INET) {
		((struct sockaddr_in *)&p->addr)->sin_port =
		    htons((uint16_t)port);
		snprintf(p->hostport, sizeof(p->hostport), "%s:%d", p->host,
		    port);
	} else {
		((struct sockaddr_in6 *)&p->addr)->sin6_port =
		    htons((uint16_t)port);
		snprintf(p->hostport, sizeof(p->hostport), "[%s]:%d", p->host,
		    port);
	}
}

static int
probe_parse(struct probe *p, const json_t *spec, const json_t *ifaces,
    const char *host, char *err, size_t errlen)
{
	const json_t *tcp = json_object_get(spec, "tcpSocket");
	const json_t *http = json_object_get(spec, "httpGet");
	const json_t *h;
	const char *hh;
	int rc;

	if (!json_is_object(spec))
		return probe_spec_err(err, errlen, "a probe is an object");
	if (json_object_get(spec, "exec") || json_object_get(spec,
	    "guestAgentPing"))
		return probe_spec_err(err, errlen, "%s probes are not supported "
		    "by Drover: they need a guest agent, which Drover does not "
		    "provide; use tcpSocket or httpGet",
		    json_object_get(spec, "exec") ? "exec" : "guestAgentPing");
	if ((tcp != NULL) + (http != NULL) != 1 ||
	    !json_is_object(h = tcp ? tcp : http))
		return probe_spec_err(err, errlen, "a probe needs exactly one "
		    "of tcpSocket and httpGet");
	p->http = http != NULL;
	p->delay_ms = probe_ms(spec, "initialDelaySeconds", 0, 1);
	p->timeout_ms = probe_ms(spec, "timeoutSeconds", 1, 0);
	p->period_ms = probe_ms(spec, "periodSeconds", 10, 0);
	p->succ_th = probe_count_of(spec, "successThreshold", 1);
	p->fail_th = probe_count_of(spec, "failureThreshold", 3);
	if ((rc = probe_port(p, h, ifaces, err, errlen)) < 0)
		return rc;
	hh = json_string_value(json_object_get(h, "host"));
	if ((rc = probe_addr(p, hh && hh[0] ? hh : host, err, errlen)) < 0)
		return rc;
	if (p->http && (rc = probe_http_parse(p, h, err, errlen)) < 0)
		return rc;
	probe_target(p, p->https0, p->port0);
	snprintf(p->path, sizeof(p->path), "%s", p->path0);
	if (p->http && probe_http_build(p) < 0)
		return probe_spec_err(err, errlen, "probe httpGet: the request "
		    "passes %d bytes", PROBE_REQ_MAX);
	return 0;
}

/* ---- running ------------------------------------------------------------- */

/* strerror() as Go prints it ("connection refused"), as kubelet reports. */
static const char *
probe_strerror(int e)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static void probe_start(struct probe *p);

static void
probe_next_cb(void *arg)
{
	struct probe *p = arg;

	p->next_id = 0;
	probe_start(p);
}

static void
probe_close_sock(struct probe *p)
{
	probe_tls_free(p);
	if (p->fd >= 0) {
		loop_del_fd(p->l, p->fd);
		close(p->fd);
	}
	p->fd = -1;
	p->state = PROBE_IDLE;
}

static void
probe_close_conn(struct probe *p)
{
	if (p->tmo_id > 0)
		loop_cancel(p->l, p->tmo_id);
	p->tmo_id = 0;
	probe_close_sock(p);
}

void
probe_done(struct probe *p, int ok, const char *fmt, ...)
{
	uint64_t now = loop_now_ms(), due = p->started + p->period_ms;
	int flip = 0;
	va_list ap;

	probe_close_conn(p);
	p->last_error[0] = '\0';
	if (!ok && fmt) {
		va_start(ap, fmt);
		vsnprintf(p->last_error, sizeof(p->last_error), fmt, ap);
		va_end(ap);
		log_debug("%s probe %s: %s", p->kind == PROBE_LIVENESS ?
		    "liveness" : "readiness", p->hostport, p->last_error);
	}
	if (p->last == ok) {
		p->run++;
	} else {
		p->last = ok;
		p->run = 1;
	}
	if (p->run >= (ok ? p->succ_th : p->fail_th) && p->ok != ok) {
		p->ok = ok;
		flip = 1;
	}
	if (p->kind == PROBE_LIVENESS && flip && !ok)
		p->run = 0;		/* kubelet holds the worker: stop */
	else if ((p->next_id = loop_timer(p->l, due > now ? due - now : 0,
	    probe_next_cb, p)) <= 0)
		log_error("%s probe %s: cannot arm the next probe: probing "
		    "stops", p->kind == PROBE_LIVENESS ? "liveness" :
		    "readiness", p->hostport);
	if (flip)
		p->changed(p->arg, ok);	/* last: it may free p */
}

static void
probe_timeout_cb(void *arg)
{
	struct probe *p = arg;

	p->tmo_id = 0;
	if (p->http)
		probe_done(p, 0, "Get \"%s://%s\": context deadline exceeded "
		    "(Client.Timeout exceeded while awaiting headers)",
		    p->https ? "https" : "http", p->hostport);
	else
		probe_done(p, 0, "dial tcp %s: i/o timeout", p->hostport);
}

static void
probe_io(struct probe *p)
{
	ssize_t n;

	while (p->state == PROBE_SEND) {
		n = probe_tls_active(p) ? probe_tls_send(p) :
		    send(p->fd, p->req + p->sent, p->reqlen - p->sent,
		    MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			loop_mod_fd(p->l, p->fd, errno == EAGAIN &&
			    p->want_read ? POLLIN : POLLOUT);
			return;
		}
		if (n < 0) {
			probe_done(p, 0, "HTTP probe failed: write: %s",
			    probe_strerror(errno));
			return;
		}
		if ((p->sent += (size_t)n) == p->reqlen) {
			p->state = PROBE_RECV;
			loop_mod_fd(p->l, p->fd, POLLIN);
		}
	}
	for (;;) {
		n = probe_tls_active(p) ? probe_tls_recv(p) :
		    recv(p->fd, p->resp + p->got, sizeof(p->resp) - 1 - p->got,
		    0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			loop_mod_fd(p->l, p->fd, p->want_write ? POLLOUT :
			    POLLIN);
			return;
		}
		if (n < 0) {
			probe_done(p, 0, "HTTP probe failed: read: %s",
			    probe_strerror(errno));
			return;
		}
		p->got += (size_t)n;
		p->resp[p->got] = '\0';
		if (probe_http_response(p, n == 0))
			return;		/* done (p may be freed) or moved on */
	}
}

static void
probe_connected(struct probe *p)
{
	if (!p->http) {
		probe_done(p, 1, NULL);
		return;
	}
	if (p->https) {
		if (probe_tls_start(p) < 0)
			return;		/* done already */
		p->state = PROBE_TLS;
		probe_tls_handshake(p);
		return;
	}
	p->state = PROBE_SEND;
	probe_io(p);
}

void
probe_tls_ready(struct probe *p)
{
	p->state = PROBE_SEND;
	probe_io(p);
}

static void
probe_fd_cb(void *arg, int fd, short revents)
{
	struct probe *p = arg;
	socklen_t sl = sizeof(int);
	int e = 0;

	(void)revents;
	if (fd != p->fd)
		return;
	switch (p->state) {
	case PROBE_CONNECT:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
			e = errno;
		if (e == EINPROGRESS)
			return;
		if (e) {
			probe_done(p, 0, "dial tcp %s: connect: %s", p->hostport,
			    probe_strerror(e));
			return;
		}
		probe_connected(p);
		break;
	case PROBE_TLS:
		probe_tls_handshake(p);
		break;
	case PROBE_SEND:
	case PROBE_RECV:
		probe_io(p);
		break;
	default:
		break;
	}
}

/* Connect to the current target; the rest follows from the loop. */
static void
probe_connect(struct probe *p)
{
	int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	if (fd < 0) {
		probe_done(p, 0, "socket: %s", probe_strerror(errno));
		return;
	}
	p->fd = fd;
	p->state = PROBE_CONNECT;
	p->sent = p->got = 0;
	p->resp[0] = '\0';
	if (connect(fd, (struct sockaddr *)&p->addr, p->alen) < 0 &&
	    errno != EINPROGRESS) {
		probe_done(p, 0, "dial tcp %s: connect: %s", p->hostport,
		    probe_strerror(errno));
		return;
	}
	/* Connected at once or not: POLLOUT reports either. */
	if (loop_add_fd(p->l, fd, POLLOUT, probe_fd_cb, p) < 0)
		probe_done(p, 0, "loop: cannot watch the socket");
}

static void
probe_start(struct probe *p)
{
	p->started = loop_now_ms();
	p->count++;
	p->tmo_id = loop_timer(p->l, p->timeout_ms, probe_timeout_cb, p);
	if (p->redirects) {
		p->redirects = 0;
		probe_target(p, p->https0, p->port0);
		snprintf(p->path, sizeof(p->path), "%s", p->path0);
		if (p->http && probe_http_build(p) < 0) {
			probe_done(p, 0, "HTTP probe: request too long");
			return;
		}
	}
	probe_connect(p);
}

void
probe_redirect(struct probe *p, int https, int port, const char *path)
{
	probe_close_sock(p);
	probe_target(p, https, port);
	snprintf(p->path, sizeof(p->path), "%s", path);
	if (probe_http_build(p) < 0) {
		probe_done(p, 0, "HTTP probe: request too long");
		return;
	}
	probe_connect(p);
}

/* ---- the API ------------------------------------------------------------- */

struct probe *
probe_new(struct loop *l, enum probe_kind kind, const json_t *spec,
    const json_t *ifaces, const char *host, probe_fn changed, void *arg,
    char *err, size_t errlen)
{
	struct probe *p;

	if (l == NULL || changed == NULL || (kind != PROBE_READINESS &&
	    kind != PROBE_LIVENESS)) {
		probe_spec_err(err, errlen, "probe_new: bad arguments");
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		probe_spec_err(err, errlen, "out of memory");
		return NULL;
	}
	p->l = l;
	p->kind = kind;
	p->fd = -1;
	p->last = -1;
	p->ok = kind == PROBE_LIVENESS;
	p->changed = changed;
	p->arg = arg;
	if (probe_parse(p, spec, ifaces, host, err, errlen) < 0) {
		probe_free(p);
		return NULL;
	}
	if ((p->next_id = loop_timer(l, p->delay_ms, probe_next_cb, p)) <= 0) {
		probe_spec_err(err, errlen, "loop: cannot arm a timer");
		probe_free(p);
		return NULL;
	}
	return p;
}

void
probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	probe_close_conn(p);
	if (p->next_id > 0)
		loop_cancel(p->l, p->next_id);
	probe_tls_cleanup(p);
	free(p->req);
	free(p->uhdrs);
	free(p);
}

int
probe_ok(const struct probe *p)
{
	return p->ok;
}

const char *
probe_last_error(const struct probe *p)
{
	return p->last_error;
}

unsigned long
probe_count(const struct probe *p)
{
	return p->count;
}
