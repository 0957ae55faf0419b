/*
 * apiserver.h: droverd's mutual-TLS HTTP/1.1 + WebSocket transport for the
 * Kubernetes API (issue 6), the transport side of kapi.h. NOT YET
 * IMPLEMENTED: this header fixes the interface droverd.c will call.
 *
 * Planned design (see the helper report of the first session):
 * - libwebsockets 4.3 over mbedTLS 3.6, H1 + WS roles. Our sysroot's lws
 *   is built WITHOUT LWS_WITH_EXTERNAL_POLL, so the ADD/DEL/CHANGE_MODE
 *   _POLL_FD callbacks are not delivered: either rebuild lws with
 *   -DLWS_WITH_EXTERNAL_POLL=ON (mk/sysroot.sh) and drive lws_service_fd()
 *   from loop_add_fd/loop_mod_fd/loop_del_fd, or run lws_service(ctx, -1)
 *   (non-blocking) from a short loop_timer.
 * - LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT, ssl_ca_filepath =
 *   client_ca, alpn = "http/1.1", TLS 1.2 minimum; user = peer cert CN,
 *   groups = its O values (mbedtls_ssl_get_peer_cert via lws_get_ssl).
 * - Limits: header size, body (3 MiB, 413 before reading), idle/slow
 *   timeout, max connections.
 */
#ifndef DROVER_APISERVER_H
#define DROVER_APISERVER_H

struct loop;
struct kapi;
struct apiserver;

struct apiserver_conf {
	const char *listen;		/* "ADDR:PORT", default 0.0.0.0:6443 */
	const char *cert_file;		/* server certificate chain (PEM) */
	const char *key_file;		/* its private key (PEM) */
	const char *client_ca_file;	/* CA that signs client certs (PEM) */
	unsigned max_body;		/* bytes; 0: 3 MiB */
	unsigned max_header;		/* bytes; 0: 16 KiB */
	unsigned max_conns;		/* 0: 256 */
	unsigned header_timeout_s;	/* 0: 10 */
	unsigned idle_timeout_s;	/* keep-alive idle; 0: 60 */
};

/* Listen and serve on l, handing requests to k. NULL on error (logged). */
struct apiserver *apiserver_new(const struct apiserver_conf *conf,
    struct loop *l, struct kapi *k);
/* Close the listener and every connection (streams' on_close called). */
void apiserver_free(struct apiserver *s);

#endif
