/*
 * tls_fd.c: mbedTLS bio callbacks over a socket fd, shared by the probes'
 * HTTPS (probe_tls.c) and droverctl's console client (ctl_console.c).
 * mbedtls_net_send writes with write(2), which raises SIGPIPE on a peer
 * that has gone; these use send(MSG_NOSIGNAL).
 */
#include <errno.h>
#include <sys/socket.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "tls_fd.h"

int
tls_fd_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(const int *)ctx, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

int
tls_fd_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(const int *)ctx, buf, len, 0);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}
