/*
 * apiload: an HTTPS load generator with client certificates (mbedTLS), for
 * tests/bench/api.sh: the same client against droverd and against nginx.
 *
 *   apiload --port P[,P2...] --ca CA --cert CRT --key KEY --path PATH
 *           [--clients N] [--seconds S] [--slice S] [--handshake] [--tls12]
 *
 * With several ports (servers serving the same bytes) the run alternates
 * between them in slices of --slice seconds (default 1), every client
 * moving together, so that both see the same machine load; each port gets
 * S seconds in all and its own result line.
 * N threads, each with its own connection: GET PATH again and again on it
 * (HTTP/1.1 keep-alive), or with --handshake a new connection, full TLS
 * handshake (no resumption), one GET and close each time. Every answer
 * must be 200 with the whole body (Content-Length). Prints per port:
 *   port P requests N seconds S rps R p50_ms A p99_ms B bytes LEN errors E
 * (latency: one request on a kept connection, or connect + handshake +
 * request with --handshake). Cipher suites in Go's order (kubectl's):
 * AES-128-GCM first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

struct opts {
	int port, clients, handshake, tls12;
	int ports[8], nports;
	double seconds, slice;
	const char *ca, *cert, *key, *path;
};

struct worker {
	pthread_t th;
	const struct opts *o;
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	uint32_t *lat_us;		/* one per request */
	size_t n, cap;
	long errors;
	size_t body;
	double stop;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
w_setup(struct worker *w)
{
	const struct opts *o = w->o;
	int rc;

	mbedtls_x509_crt_init(&w->ca);
	mbedtls_x509_crt_init(&w->crt);
	mbedtls_pk_init(&w->key);
	mbedtls_entropy_init(&w->ent);
	mbedtls_ctr_drbg_init(&w->drbg);
	mbedtls_ssl_config_init(&w->conf);
	if ((rc = mbedtls_ctr_drbg_seed(&w->drbg, mbedtls_entropy_func,
	    &w->ent, NULL, 0)) || (rc = mbedtls_x509_crt_parse_file(&w->ca,
	    o->ca)) || (rc = mbedtls_x509_crt_parse_file(&w->crt, o->cert)) ||
	    (rc = mbedtls_pk_parse_keyfile(&w->key, o->key, NULL,
	    mbedtls_ctr_drbg_random, &w->drbg)) ||
	    (rc = mbedtls_ssl_config_defaults(&w->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) ||
	    (rc = mbedtls_ssl_conf_own_cert(&w->conf, &w->crt, &w->key))) {
		char e[128];

		mbedtls_strerror(rc, e, sizeof(e));
		fprintf(stderr, "apiload: set-up: %s\n", e);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&w->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&w->conf, &w->ca, NULL);
	mbedtls_ssl_conf_rng(&w->conf, mbedtls_ctr_drbg_random, &w->drbg);
	if (o->tls12)
		mbedtls_ssl_conf_max_tls_version(&w->conf,
		    MBEDTLS_SSL_VERSION_TLS1_2);
	{
		static const char *alpn[] = { "http/1.1", NULL };
		/* Go's (kubectl's) order on AES hardware: AES-GCM first */
		static const int suites[] = {
			MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
			MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
			MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
			MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			0,
		};

		mbedtls_ssl_conf_alpn_protocols(&w->conf, alpn);
		mbedtls_ssl_conf_ciphersuites(&w->conf, suites);
	}
	return 0;
}

struct conn {
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	unsigned char buf[1 << 20];
	size_t len;
};

static int
c_open(struct worker *w, struct conn *c)
{
	char port[16];
	int one = 1, rc;

	mbedtls_net_init(&c->net);
	mbedtls_ssl_init(&c->ssl);
	c->len = 0;
	snprintf(port, sizeof(port), "%d", w->o->port);
	if (mbedtls_net_connect(&c->net, "127.0.0.1", port,
	    MBEDTLS_NET_PROTO_TCP))
		return -1;
	setsockopt(c->net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (mbedtls_ssl_setup(&c->ssl, &w->conf) ||
	    mbedtls_ssl_set_hostname(&c->ssl, "127.0.0.1"))
		return -1;
	mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send,
	    mbedtls_net_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0)
		if (rc != MBEDTLS_ERR_SSL_WANT_READ &&
		    rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			return -1;
	return 0;
}

static void
c_close(struct conn *c)
{
	mbedtls_ssl_close_notify(&c->ssl);
	mbedtls_net_free(&c->net);
	mbedtls_ssl_free(&c->ssl);
}

/* One GET; 0 with the body length in *blen, or -1. */
static int
c_get(struct worker *w, struct conn *c, size_t *blen)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: "
	    "127.0.0.1\r\nAccept: application/json\r\nUser-Agent: apiload\r\n"
	    "\r\n", w->o->path);
	size_t off = 0, want = 0, hlen = 0;
	unsigned char *end;

	while (off < (size_t)n) {
		int r = mbedtls_ssl_write(&c->ssl, (unsigned char *)req + off,
		    (size_t)n - off);

		if (r == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    r == MBEDTLS_ERR_SSL_WANT_READ)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	for (;;) {
		int r;

		if (!hlen && c->len >= 4 && (end = memmem(c->buf, c->len,
		    "\r\n\r\n", 4))) {
			char *cl;

			hlen = (size_t)(end - c->buf) + 4;
			c->buf[hlen - 1] = 0;
			if (strncmp((char *)c->buf, "HTTP/1.1 200", 12))
				return -1;
			cl = strcasestr((char *)c->buf, "\ncontent-length:");
			if (!cl)
				return -1;
			want = strtoul(cl + 16, NULL, 10);
			if (hlen + want > sizeof(c->buf))
				return -1;
		}
		if (hlen && c->len >= hlen + want) {
			memmove(c->buf, c->buf + hlen + want,
			    c->len - hlen - want);
			c->len -= hlen + want;
			*blen = want;
			return 0;
		}
		r = mbedtls_ssl_read(&c->ssl, c->buf + c->len,
		    sizeof(c->buf) - c->len);
		if (r == MBEDTLS_ERR_SSL_WANT_READ ||
		    r == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static void
w_record(struct worker *w, double t0)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 65536;
		uint32_t *p = realloc(w->lat_us, cap * sizeof(*p));

		if (!p)
			return;
		w->lat_us = p;
		w->cap = cap;
	}
	w->lat_us[w->n++] = (uint32_t)((now_s() - t0) * 1e6);
}

static void *
w_run(void *arg)
{
	struct worker *w = arg;
	struct conn *c = malloc(sizeof(*c));
	int open = 0;

	if (!c)
		return NULL;
	while (now_s() < w->stop) {
		double t0 = now_s();
		size_t blen;

		if (!open) {
			if (c_open(w, c) < 0) {
				w->errors++;
				c_close(c);
				usleep(10000);
				continue;
			}
			open = 1;
			if (!w->o->handshake)
				t0 = now_s();	/* keep-alive: requests only */
		}
		if (c_get(w, c, &blen) < 0) {
			w->errors++;
			c_close(c);
			open = 0;
			continue;
		}
		w->body = blen;
		w_record(w, t0);
		if (w->o->handshake) {
			c_close(c);
			open = 0;
		}
	}
	if (open)
		c_close(c);
	free(c);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(int port, struct worker *ws, int n, double el)
{
	size_t total = 0, k = 0;
	long errors = 0;
	uint32_t *all;

	for (int i = 0; i < n; i++) {
		total += ws[i].n;
		errors += ws[i].errors;
	}
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		exit(1);
	for (int i = 0; i < n; i++) {
		memcpy(all + k, ws[i].lat_us, ws[i].n * sizeof(*all));
		k += ws[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	printf("port %d requests %zu seconds %.2f rps %.0f p50_ms %.3f "
	    "p99_ms %.3f bytes %zu errors %ld\n", port, total, el,
	    (double)total / el, total ? all[total / 2] / 1000.0 : 0,
	    total ? all[(size_t)((double)total * 0.99)] / 1000.0 : 0,
	    ws[0].body, errors);
	free(all);
}

int
main(int argc, char **argv)
{
	struct opts o = { .clients = 1, .seconds = 5, .slice = 1 };
	struct worker *ws;
	double *el, done = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--handshake")) {
			o.handshake = 1;
			continue;
		}
		if (!strcmp(a, "--tls12")) {
			o.tls12 = 1;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (!strcmp(a, "--port")) {
			char *p = (char *)v, *end;

			while (*p && o.nports < 8) {
				o.ports[o.nports++] = (int)strtol(p, &end, 10);
				p = *end == ',' ? end + 1 : end;
				if (end == p && *p)
					goto usage;
			}
		} else if (!strcmp(a, "--clients"))
			o.clients = atoi(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--slice"))
			o.slice = atof(v);
		else if (!strcmp(a, "--ca"))
			o.ca = v;
		else if (!strcmp(a, "--cert"))
			o.cert = v;
		else if (!strcmp(a, "--key"))
			o.key = v;
		else if (!strcmp(a, "--path"))
			o.path = v;
		else
			goto usage;
	}
	if (!o.nports || !o.ca || !o.cert || !o.key || !o.path ||
	    o.clients < 1 || o.clients > 256 || o.seconds <= 0 ||
	    o.slice <= 0)
		goto usage;
	for (int i = 0; i < o.nports; i++)
		if (o.ports[i] <= 0 || o.ports[i] > 65535)
			goto usage;
	if (psa_crypto_init() != PSA_SUCCESS)
		return 1;
	ws = calloc((size_t)(o.clients * o.nports), sizeof(*ws));
	el = calloc((size_t)o.nports, sizeof(*el));
	if (!ws || !el)
		return 1;
	for (int i = 0; i < o.clients * o.nports; i++) {
		ws[i].o = &o;
		if (w_setup(&ws[i]) < 0)
			return 1;
	}
	/* slices: every port in turn until each had o.seconds */
	for (int k = 0; done < o.seconds; k++) {
		int t = k % o.nports;
		struct worker *g = ws + t * o.clients;
		double len = o.seconds - done < o.slice ? o.seconds - done :
		    o.slice, t0 = now_s();

		o.port = o.ports[t];
		for (int i = 0; i < o.clients; i++) {
			g[i].stop = t0 + len;
			pthread_create(&g[i].th, NULL, w_run, &g[i]);
		}
		for (int i = 0; i < o.clients; i++)
			pthread_join(g[i].th, NULL);
		el[t] += now_s() - t0;
		if (t == o.nports - 1)
			done += len;
	}
	for (int t = 0; t < o.nports; t++) {
		size_t n = 0;

		report(o.ports[t], ws + t * o.clients, o.clients, el[t]);
		for (int i = 0; i < o.clients; i++)
			n += ws[t * o.clients + i].n;
		if (!n)
			rc = 1;
	}
	return rc;
usage:
	fprintf(stderr, "usage: apiload --port P[,P2...] --ca CA --cert CRT "
	    "--key KEY --path PATH [--clients N] [--seconds S] [--slice S] "
	    "[--handshake] [--tls12]\n");
	return 2;
}
