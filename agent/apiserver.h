/*
 * apiserver.h: droverd's mutual-TLS HTTP/1.1 + WebSocket transport for the
 * Kubernetes API (issue 6), the transport side of kapi.h.
 *
 * libwebsockets 4.3 over mbedTLS 3.6 (H1 and WS roles, no h2), driven by
 * droverd's own loop through lws's custom event-library interface (see
 * apiserver.c). TLS 1.2 and 1.3; a client certificate signed by the
 * client CA is required (the handshake fails without one); ALPN offers
 * http/1.1 only; there is no plaintext listener. The user handed to the
 * handlers is the certificate's subject CN, the groups its O values.
 *
 * Limits (413 before the handler runs for too large a request; the
 * connection is closed after it): header size, body size (refused from
 * Content-Length before the body is read), connection count (more are
 * closed at accept), TLS handshake + headers within header_timeout_s,
 * the body within body_timeout_s, keep-alive idle_timeout_s, output that
 * does not move for send_timeout_s, and at most max_out bytes queued for
 * a stream or WebSocket (a client that does not read is dropped).
 */
#ifndef DROVER_APISERVER_H
#define DROVER_APISERVER_H

#include <stddef.h>

struct loop;
struct kapi;
struct apiserver;

struct apiserver_conf {
	const char *listen;		/* "ADDR:PORT", default 0.0.0.0:6443 */
	const char *cert_file;		/* server certificate (PEM) */
	const char *key_file;		/* its private key (PEM) */
	const char *client_ca_file;	/* CA that signs client certs (PEM) */
	unsigned max_body;		/* bytes; 0: 3 MiB */
	unsigned max_header;		/* bytes; 0: 16 KiB */
	unsigned max_conns;		/* 0: 256 */
	unsigned header_timeout_s;	/* handshake + headers; 0: 10 */
	unsigned idle_timeout_s;	/* keep-alive idle; 0: 60 */
	unsigned body_timeout_s;	/* request body; 0: 30 */
	unsigned send_timeout_s;	/* output not moving; 0: 30 */
	size_t max_out;			/* queued stream/WS bytes; 0: 8 MiB */
};

/* Listen and serve on l, handing requests to k. NULL on error (logged). */
struct apiserver *apiserver_new(const struct apiserver_conf *conf,
    struct loop *l, struct kapi *k);
/* The port listened on (useful with port 0), -1 if s is NULL. */
int apiserver_port(const struct apiserver *s);
/* Close the listener and every connection (streams' and WebSockets'
 * on_close called). NULL is fine. */
void apiserver_free(struct apiserver *s);

#endif
