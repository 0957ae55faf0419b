/*
 * probe_int.h: what probe.c and probe_tls.c share (not for other modules).
 */
#ifndef DROVER_PROBE_INT_H
#define DROVER_PROBE_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "probe.h"

#define PROBE_PATH_MAX	2050
#define PROBE_REQ_MAX	8192

enum probe_state {
	PROBE_IDLE,
	PROBE_CONNECT,
	PROBE_TLS,		/* HTTPS handshake */
	PROBE_SEND,
	PROBE_RECV,
};

struct probe_tls;

struct probe {
	struct loop *l;
	enum probe_kind kind;
	probe_fn changed;
	void *arg;

	/* The spec. */
	int http, https0, port0;
	char host[48];			/* numeric IPv4 or IPv6 */
	char path0[PROBE_PATH_MAX];	/* httpGet.path, with its '/' */
	char uhost[256];		/* httpHeaders' Host, or "" */
	char *uhdrs;			/* the other httpHeaders, as lines */
	unsigned given;			/* 2 User-Agent, 4 Accept given */
	uint64_t delay_ms, timeout_ms, period_ms;
	unsigned succ_th, fail_th;

	/* The target (the spec's, or a redirect's). */
	int https, port;
	struct sockaddr_storage addr;
	socklen_t alen;
	char hostport[64];		/* "10.0.2.2:80", "[fd10::2]:80" */
	char path[PROBE_PATH_MAX];
	unsigned redirects;
	char *req;			/* the HTTP request */
	size_t reqlen;

	/* Results. */
	int ok;				/* reported: 1 ready/alive */
	int last;			/* last result: -1 none, 0, 1 */
	unsigned run;			/* consecutive results equal to last */
	unsigned long count;
	char last_error[256];

	/* The probe in flight. */
	enum probe_state state;
	int fd, next_id, tmo_id;
	uint64_t started;
	size_t sent, got;
	char resp[4096];		/* NUL-terminated */
	int want_read, want_write;	/* TLS: what the last call waits for */
	struct probe_tls *tls;
};

/* -EINVAL with a message in err (spec errors). */
int probe_spec_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* End the probe in flight with a result (ok 1/0); fmt: why it failed. */
void probe_done(struct probe *p, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The TLS handshake is through: send the request. */
void probe_tls_ready(struct probe *p);
/* Follow a redirect: a new connection to port (scheme https) for path,
 * within the running timeout. */
void probe_redirect(struct probe *p, int https, int port, const char *path);

/* probe_http.c */
/* scheme, path, httpHeaders of an httpGet; -EINVAL and err if bad. */
int probe_http_parse(struct probe *p, const json_t *h, char *err,
    size_t errlen);
/* The request for the current target into p->req; -1 if too long. */
int probe_http_build(struct probe *p);
/* Look at p->resp (p->got bytes): 0 to wait for more; 1 when the probe
 * ended (probe_done: p may be freed) or moved on to a redirect: do not
 * touch p. eof: no more bytes will come. */
int probe_http_response(struct probe *p, int eof);

/* probe_tls.c: HTTPS without certificate verification (as kubelet). */
/* Set up the connection's TLS; -1 after probe_done() on failure. */
int probe_tls_start(struct probe *p);
/* Drive the handshake: probe_tls_ready(), a wait, or probe_done(). */
void probe_tls_handshake(struct probe *p);
int probe_tls_active(const struct probe *p);
/* As send(2)/recv(2) on the request/response buffers: -1 with errno
 * EAGAIN (want_read/want_write say on what) or EIO. */
ssize_t probe_tls_send(struct probe *p);
ssize_t probe_tls_recv(struct probe *p);
/* End the connection's TLS (keeps the configuration). */
void probe_tls_free(struct probe *p);
/* Free everything TLS (probe_free). */
void probe_tls_cleanup(struct probe *p);

#endif
