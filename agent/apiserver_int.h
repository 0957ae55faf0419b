/*
 * apiserver_int.h: the mTLS API transport's insides, shared by
 * apiserver.c (lws context, droverd's loop, connections, limits),
 * apiserver_http.c (requests, responses, chunked streams, WebSocket) and
 * apiserver_util.c (pure helpers: identity, query, numbers).
 */
#ifndef DROVER_APISERVER_INT_H
#define DROVER_APISERVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "apiserver.h"
#include "kapi.h"

/* Defaults of struct apiserver_conf's zero fields. */
#define AS_DEF_MAX_BODY		(3u << 20)
#define AS_DEF_MAX_HEADER	(16u << 10)
#define AS_DEF_MAX_CONNS	256u
#define AS_DEF_HEADER_TIMEOUT	10u
#define AS_DEF_IDLE_TIMEOUT	60u
#define AS_DEF_BODY_TIMEOUT	30u
#define AS_DEF_SEND_TIMEOUT	30u
#define AS_DEF_MAX_OUT		(8u << 20)
/* Output buffers of AS_BIG_MIN bytes or more are rounded up to it and up to
 * AS_BIG_KEEP of them, each at most AS_BIG_MAX, are kept for reuse. */
#define AS_BIG_MIN		(64u << 10)
#define AS_BIG_MAX		(1u << 20)
#define AS_BIG_KEEP		4u

/* One WebSocket subprotocol the handlers may accept (kapi_ws_accept). */
#define AS_WS_PROTOCOLS		{ "plain.kubevirt.io" }
#define AS_NWS_PROTOCOLS	1

enum as_state {
	AS_NEW,		/* TLS handshake, then the first request's headers */
	AS_BODY,	/* reading the request body */
	AS_HANDLER,	/* the handler has it, no answer yet */
	AS_REPLY,	/* a complete response being sent */
	AS_STREAM,	/* a chunked response open (kapi_stream_*) */
	AS_WS,		/* a WebSocket (kapi_ws_*) */
	AS_IDLE,	/* keep-alive, waiting for the next request */
	AS_DEAD,	/* being closed: no more output, no callbacks */
};

/* Queued output: HTTP bytes (a stream's chunks) or WebSocket frames. */
struct as_chunk {
	struct as_chunk *next;
	size_t len, off;
	size_t cap;			/* room for data after LWS_PRE */
	int binary;			/* WebSocket frame: binary, not text */
	unsigned char data[];		/* LWS_PRE bytes, then len bytes */
};

struct kapi_conn {
	struct kapi_conn *next, *prev;
	struct apiserver *srv;
	struct lws *wsi;
	uint64_t id;
	enum as_state state;
	uint64_t deadline;		/* loop_now_ms(); 0: none */
	uint64_t wait_tx_since;		/* output waiting since; 0: none */
	int in_cb;			/* inside an lws callback for wsi */
	int kill_asked;
	int close_after;		/* close once the response is out */
	int rx_paused;			/* lws_rx_flow_control(wsi, 0) */
	int have_user;
	struct kapi_user user;
	char peer[64];

	/* The request being handled. */
	struct kapi_req req;
	char *hdrs;			/* the strings req points to */
	char *body;
	size_t body_len, body_want;
	unsigned nreq;

	/* Output. */
	struct as_chunk *out_head, *out_tail;
	size_t out_bytes;		/* queued, not yet given to lws */
	int stream_end;			/* the final chunk is queued */

	/* Streams and WebSockets: the handler's side. */
	const struct kapi_stream_ops *sops;
	const struct kapi_ws_ops *wops;
	void *harg;
	int notify_close;		/* call on_close when the conn goes */
	char ws_proto[64];
	int ws_accepted, ws_up, ws_close_asked;
	unsigned char *wsmsg;		/* a message being received */
	size_t wsmsg_len;
};

struct as_fd {
	int fd;
	struct lws *wsi;
	short events;
};

struct apiserver {
	struct loop *loop;
	struct kapi *kapi;
	struct lws_context *ctx;
	struct lws_protocols protocols[2 + AS_NWS_PROTOCOLS];
	char *cert, *key, *ca, *iface;
	int port;
	size_t max_body, max_header, max_out;
	unsigned max_conns;
	uint64_t header_ms, idle_ms, body_ms, send_ms;
	int started;

	struct as_fd *fds;
	size_t nfds, capfds;
	int defer_id, timer_id;
	uint64_t timer_due;
	int sweep_id;

	struct kapi_conn *conns;
	unsigned nconns;
	/* Large output buffers kept for the next answer (apiserver_http.c):
	 * a fresh one each time cost page faults as the heap grew and shrank. */
	struct as_chunk *big[AS_BIG_KEEP];
	unsigned nbig;
	uint64_t next_id;
	/* Counters (logged at the end, read by tests through the log). */
	uint64_t n_accepted, n_refused, n_timeouts, n_slow, n_too_large;
};

/* apiserver.c */
void as_kick(struct apiserver *s);
void as_kill(struct kapi_conn *c, const char *why);
void as_set_deadline(struct kapi_conn *c, uint64_t ms);

/* apiserver_http.c: the lws protocol callback's HTTP/WebSocket part. */
int as_http_callback(struct apiserver *s, struct kapi_conn *c,
    enum lws_callback_reasons reason, void *in, size_t len);
void as_conn_free_io(struct kapi_conn *c);
void as_big_drop(struct apiserver *s);

/* apiserver_util.c */
/* Subject CN and O values of a DER certificate. 0, or -1 with why. */
int as_identity_der(const unsigned char *der, size_t len,
    struct kapi_user *u, char *why, size_t whylen);
/* Append one decoded "name=value" query fragment to dst (len bytes used
 * of cap), percent-encoding both; '&' between fragments. 0 or -1 (no
 * room). */
int as_query_append(char *dst, size_t cap, size_t *len, const char *frag,
    size_t flen);
/* A Content-Length value: digits only, at most 18 of them. 0 or -1. */
int as_parse_length(const char *s, uint64_t *out);
/* "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" into an interface address (""
 * for any) and a port. 0 or -1. */
int as_parse_listen(const char *s, char *addr, size_t alen, int *port,
    int *v6);
const char *as_status_text(int code);
/* Does the comma/space separated list offer tok (exact match)? */
int as_list_has(const char *list, const char *tok);

#endif
