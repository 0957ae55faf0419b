/* tls_fd.h: mbedTLS bio callbacks over a socket fd (tls_fd.c). */
#ifndef DROVER_TLS_FD_H
#define DROVER_TLS_FD_H

#include <stddef.h>

/*
 * For mbedtls_ssl_set_bio(ssl, &fd, tls_fd_send, tls_fd_recv, NULL): ctx
 * points at the socket's int fd. Non-blocking sockets give WANT_READ /
 * WANT_WRITE; send never raises SIGPIPE (MSG_NOSIGNAL).
 */
int tls_fd_send(void *ctx, const unsigned char *buf, size_t len);
int tls_fd_recv(void *ctx, unsigned char *buf, size_t len);

#endif
