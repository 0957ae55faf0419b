/*
 * probe_int.h: what probe.c and probe_tls.c share (not for other modules).
 */
#ifndef DROVER_PROBE_INT_H
#define DROVER_PROBE_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "probe.h"

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
	int http, https, port;
	struct sockaddr_storage addr;
	socklen_t alen;
	char hostport[64];		/* "10.0.2.2:80", "[fd10::2]:80" */
	char *req;			/* the HTTP request */
	size_t reqlen;
	uint64_t delay_ms, timeout_ms, period_ms;
	unsigned succ_th, fail_th;

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
	char resp[512];
	int want_read, want_write;	/* TLS: what the last call waits for */
	struct probe_tls *tls;
};

/* End the probe in flight with a result (ok 1/0); fmt: why it failed. */
void probe_done(struct probe *p, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The TLS handshake is through: send the request. */
void probe_tls_ready(struct probe *p);

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
