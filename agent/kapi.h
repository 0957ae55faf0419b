/*
 * kapi.h: the seam between the mTLS HTTP transport (apiserver.c: TLS,
 * HTTP/1.1, WebSocket, limits, client identity) and the Kubernetes API
 * handlers (kapi_*.c: routing, discovery, OpenAPI, CRUD, patches, tables,
 * watches, metrics, authorization).
 *
 * The transport parses one request, reads its whole body (within the size
 * limit: 413 before the handler runs), fills struct kapi_req and calls
 * kapi_handle() from droverd's loop. The handler answers at once with
 * kapi_respond(), or keeps the stream open (watches) and writes chunks
 * later with kapi_stream_write() until it calls kapi_stream_end(), or the
 * client goes away (then the transport calls the stream's on_close and the
 * handler must not touch the stream again).
 *
 * WebSocket upgrades (the console subresource) are decided by the handler:
 * kapi_ws_accept() inside kapi_handle() turns the connection into a
 * WebSocket with a subprotocol; binary frames from the client arrive
 * through on_message, kapi_ws_send() sends one.
 */
#ifndef DROVER_KAPI_H
#define DROVER_KAPI_H

#include <stddef.h>

#define KAPI_MAX_GROUPS 16

struct kapi;		/* the handler side (kapi_*.c) */
struct kapi_conn;	/* one request's connection (transport) */

struct kapi_user {
	char name[256];			/* the certificate's subject CN */
	int ngroups;
	char groups[KAPI_MAX_GROUPS][128];	/* its O values */
};

struct kapi_req {
	const char *method;		/* "GET", "POST", ... */
	const char *path;		/* decoded path, no query */
	const char *query;		/* raw query string, "" if none */
	const char *content_type;	/* "" if absent */
	const char *accept;		/* "" if absent */
	const char *upgrade;		/* "websocket" or "" */
	const char *ws_protocols;	/* Sec-WebSocket-Protocol, "" */
	const char *body;		/* NUL-terminated; len below */
	size_t body_len;
	const struct kapi_user *user;
	const char *host;		/* Host header, for /api's serverAddress */
};

/* Handler side: called for every request. conn stays valid until
 * kapi_respond()/kapi_stream_end() or the stream's on_close. */
void kapi_handle(struct kapi *k, struct kapi_conn *conn,
    const struct kapi_req *req);

/* Transport side. */
/* A complete response (body copied). */
void kapi_respond(struct kapi_conn *c, int status, const char *content_type,
    const char *body, size_t len);
/* The same with the body in n pieces, copied once, in order, straight
 * into the transport's buffer (a large LIST: no joined copy of its own). */
struct kapi_iov {
	const char *p;
	size_t len;
};
void kapi_respondv(struct kapi_conn *c, int status, const char *content_type,
    const struct kapi_iov *v, size_t n);

/* Streaming (chunked) response: headers now, chunks later. */
struct kapi_stream_ops {
	/* The client went away or the transport dropped the stream (its
	 * output over the limit, shut-down); not after kapi_stream_end().
	 * Never called from inside a kapi_* call. */
	void (*on_close)(void *arg);
};
int kapi_stream_begin(struct kapi_conn *c, int status,
    const char *content_type, const struct kapi_stream_ops *ops, void *arg);
/* Queue one chunk; -EAGAIN-free: the transport buffers (bounded: a client
 * that does not read is dropped past its limit). 0 or -errno. */
int kapi_stream_write(struct kapi_conn *c, const char *data, size_t len);
void kapi_stream_end(struct kapi_conn *c);

/* WebSocket. */
struct kapi_ws_ops {
	/* One whole message from the client (binary or text). */
	void (*on_message)(void *arg, const void *data, size_t len);
	/* The connection is gone, whoever closed it (kapi_ws_close()
	 * included); never called from inside a kapi_* call. */
	void (*on_close)(void *arg);
};
int kapi_ws_accept(struct kapi_conn *c, const char *subprotocol,
    const struct kapi_ws_ops *ops, void *arg);
/* One binary frame. 0 or -errno (-ENOBUFS: the client is too slow). */
int kapi_ws_send(struct kapi_conn *c, const void *data, size_t len);
void kapi_ws_close(struct kapi_conn *c);

#endif
