/*
 * probe_tls.c: httpGet with scheme HTTPS. As kubelet, the server's
 * certificate is not verified (InsecureSkipVerify): a probe checks that
 * the service answers, not who it is. mbedTLS over the probe's
 * non-blocking socket; WANT_READ/WANT_WRITE turn into loop waits.
 *
 * The configuration and random generator are made at the first HTTPS
 * probe and kept for the probe's life; each probe gets a new session.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <psa/crypto.h>

#include "probe_int.h"
#include "tls_fd.h"

struct probe_tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	int ssl_live;
};

static int
tls_conf(struct probe *p, char *why, size_t len)
{
	static const char pers[] = "drover-probe";
	struct probe_tls *t;
	int rc;

	if (p->tls)
		return 0;
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(why, len, "PSA crypto init failed");
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	p->tls = t;
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_config_init(&t->conf);
	if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func,
	    &t->entropy, (const unsigned char *)pers, sizeof(pers) - 1)) != 0 ||
	    (rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		mbedtls_strerror(rc, why, len);
		probe_tls_cleanup(p);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	return 0;
}

int
probe_tls_start(struct probe *p)
{
	char why[128];
	int rc;

	if (tls_conf(p, why, sizeof(why)) < 0) {
		probe_done(p, 0, "TLS set-up: %s", why);
		return -1;
	}
	mbedtls_ssl_init(&p->tls->ssl);
	p->tls->ssl_live = 1;
	if ((rc = mbedtls_ssl_setup(&p->tls->ssl, &p->tls->conf)) != 0) {
		mbedtls_strerror(rc, why, sizeof(why));
		probe_done(p, 0, "TLS set-up: %s", why);
		return -1;
	}
	mbedtls_ssl_set_bio(&p->tls->ssl, &p->fd, tls_fd_send, tls_fd_recv,
	    NULL);
	return 0;
}

void
probe_tls_handshake(struct probe *p)
{
	char why[128];
	int rc = mbedtls_ssl_handshake(&p->tls->ssl);

	if (rc == 0) {
		probe_tls_ready(p);
	} else if (rc == MBEDTLS_ERR_SSL_WANT_READ) {
		loop_mod_fd(p->l, p->fd, POLLIN);
	} else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		loop_mod_fd(p->l, p->fd, POLLOUT);
	} else {
		mbedtls_strerror(rc, why, sizeof(why));
		probe_done(p, 0, "Get \"https://%s\": TLS handshake: %s",
		    p->hostport, why);
	}
}

int
probe_tls_active(const struct probe *p)
{
	return p->tls && p->tls->ssl_live;
}

static ssize_t
tls_result(struct probe *p, int rc)
{
	p->want_read = rc == MBEDTLS_ERR_SSL_WANT_READ;
	p->want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
	if (rc >= 0)
		return rc;
	errno = p->want_read || p->want_write ? EAGAIN : EIO;
	return -1;
}

ssize_t
probe_tls_send(struct probe *p)
{
	return tls_result(p, mbedtls_ssl_write(&p->tls->ssl,
	    (const unsigned char *)p->req + p->sent, p->reqlen - p->sent));
}

ssize_t
probe_tls_recv(struct probe *p)
{
	int rc;

	do
		rc = mbedtls_ssl_read(&p->tls->ssl, (unsigned char *)p->resp +
		    p->got, sizeof(p->resp) - 1 - p->got);
	while (rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET);
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		rc = 0;
	return tls_result(p, rc);
}

void
probe_tls_free(struct probe *p)
{
	if (p->tls && p->tls->ssl_live) {
		mbedtls_ssl_free(&p->tls->ssl);
		p->tls->ssl_live = 0;
	}
}

void
probe_tls_cleanup(struct probe *p)
{
	struct probe_tls *t = p->tls;

	if (t == NULL)
		return;
	probe_tls_free(p);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
	p->tls = NULL;
}
