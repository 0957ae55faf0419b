/*
 * https.c: a blocking HTTP/1.1 GET client over mbedTLS 3.6 (https.h).
 *
 * Plain mbedTLS rather than libwebsockets' client: a pull is a sequence of
 * synchronous GETs whose bodies stream into hashed files, with redirects
 * and auth retries decided between requests; mbedTLS's blocking API says
 * that in a few hundred lines, lws would need its event loop and a
 * callback state machine for the same. Server certificates are always
 * verified (name or IP address), against the configured CA file or the
 * system bundle.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "https.h"

#define HDR_MAX		(64u << 10)
#define REDIRECTS_MAX	5
#define SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"

static int __attribute__((format(printf, 4, 5)))
hfail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char *
tls_strerror(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
	return buf;
}

struct conn {
	int tls;
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config cfg;
	mbedtls_x509_crt ca;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	unsigned char buf[16384];
	size_t pos, len;
	int eof;
	char host[256];
};

int
https_url_split(const char *url, int *tls, char *host, size_t hostlen,
    char *port, size_t portlen, const char **path)
{
	const char *p, *end, *colon;

	if (strncmp(url, "https://", 8) == 0) {
		*tls = 1;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*tls = 0;
		p = url + 7;
	} else {
		return -EINVAL;
	}
	end = p + strcspn(p, "/?#");
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon == NULL)
		colon = end;
	if (colon == p || (size_t)(colon - p) >= hostlen)
		return -EINVAL;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = 0;
	if (colon < end) {
		if ((size_t)(end - colon - 1) >= portlen || end == colon + 1)
			return -EINVAL;
		memcpy(port, colon + 1, (size_t)(end - colon - 1));
		port[end - colon - 1] = 0;
		for (const char *c = port; *c; c++)
			if (!isdigit((unsigned char)*c))
				return -EINVAL;
	} else {
		snprintf(port, portlen, "%s", *tls ? "443" : "80");
	}
	*path = *end == '/' ? end : "/";
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->tls) {
		mbedtls_ssl_close_notify(&c->ssl);
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->cfg);
		mbedtls_x509_crt_free(&c->ca);
		mbedtls_ctr_drbg_free(&c->drbg);
		mbedtls_entropy_free(&c->ent);
	}
	mbedtls_net_free(&c->net);
}

static int
conn_tls(struct conn *c, const struct https_conf *conf, char *err,
    size_t errlen)
{
	const char *ca = conf->ca_file ? conf->ca_file : SYSTEM_CA;
	char eb[160];
	uint32_t flags;
	int rc;

	psa_crypto_init();
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->cfg);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_entropy_init(&c->ent);
	mbedtls_ctr_drbg_init(&c->drbg);
	c->tls = 1;
	if ((rc = mbedtls_x509_crt_parse_file(&c->ca, ca)) < 0)
		return hfail(err, errlen, -EINVAL, "CA file %s: %s", ca,
		    tls_strerror(rc, eb, sizeof(eb)));
	if ((rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func,
	    &c->ent, (const unsigned char *)"drover-pull", 11)) != 0 ||
	    (rc = mbedtls_ssl_config_defaults(&c->cfg, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		return hfail(err, errlen, -EIO, "TLS set-up: %s",
		    tls_strerror(rc, eb, sizeof(eb)));
	mbedtls_ssl_conf_authmode(&c->cfg, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->cfg, &c->ca, NULL);
	mbedtls_ssl_conf_rng(&c->cfg, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_read_timeout(&c->cfg, (uint32_t)(conf->timeout_ms ?
	    conf->timeout_ms : 30000));
	if ((rc = mbedtls_ssl_setup(&c->ssl, &c->cfg)) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&c->ssl, c->host)) != 0)
		return hfail(err, errlen, -EIO, "TLS set-up: %s",
		    tls_strerror(rc, eb, sizeof(eb)));
	mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		flags = mbedtls_ssl_get_verify_result(&c->ssl);
		if (flags != 0 && flags != (uint32_t)-1) {
			char vb[512];
			mbedtls_x509_crt_verify_info(vb, sizeof(vb), "", flags);
			vb[strcspn(vb, "\n")] = 0;
			return hfail(err, errlen, -EACCES, "TLS to %s: the "
			    "server's certificate is not trusted (%s)",
			    c->host, vb);
		}
		return hfail(err, errlen, -EIO, "TLS handshake with %s: %s",
		    c->host, tls_strerror(rc, eb, sizeof(eb)));
	}
	return 0;
}

static int
conn_open(struct conn *c, const struct https_conf *conf, int tls,
    const char *host, const char *port, char *err, size_t errlen)
{
	char eb[160];
	int rc;

	memset(c, 0, sizeof(*c));
	mbedtls_net_init(&c->net);
	snprintf(c->host, sizeof(c->host), "%s", host);
	rc = mbedtls_net_connect(&c->net, host, port, MBEDTLS_NET_PROTO_TCP);
	if (rc != 0)
		return hfail(err, errlen, -ECONNREFUSED, "connect to %s:%s: %s",
		    host, port, tls_strerror(rc, eb, sizeof(eb)));
	if (tls)
		return conn_tls(c, conf, err, errlen);
	return 0;
}

static int
conn_write(struct conn *c, const char *s, size_t n, char *err, size_t errlen)
{
	char eb[160];
	int rc;

	while (n > 0) {
		rc = c->tls ? mbedtls_ssl_write(&c->ssl, (const unsigned char *)s,
		    n) : mbedtls_net_send(&c->net, (const unsigned char *)s, n);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc <= 0)
			return hfail(err, errlen, -EIO, "send to %s: %s",
			    c->host, tls_strerror(rc, eb, sizeof(eb)));
		s += rc;
		n -= (size_t)rc;
	}
	return 0;
}

/* Refill the buffer: bytes read, 0 at the end, -errno. */
static int
conn_fill(struct conn *c, const struct https_conf *conf, char *err,
    size_t errlen)
{
	char eb[160];
	int rc;

	if (c->eof)
		return 0;
	if (c->pos < c->len)
		return (int)(c->len - c->pos);
	c->pos = c->len = 0;
	for (;;) {
		if (c->tls)
			rc = mbedtls_ssl_read(&c->ssl, c->buf, sizeof(c->buf));
		else
			rc = mbedtls_net_recv_timeout(&c->net, c->buf,
			    sizeof(c->buf), (uint32_t)(conf->timeout_ms ?
			    conf->timeout_ms : 30000));
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		break;
	}
	if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
	    rc == MBEDTLS_ERR_NET_CONN_RESET) {
		c->eof = 1;
		return 0;
	}
	if (rc == MBEDTLS_ERR_SSL_TIMEOUT)
		return hfail(err, errlen, -ETIMEDOUT, "%s: no data for %d s",
		    c->host, (conf->timeout_ms ? conf->timeout_ms : 30000) / 1000);
	if (rc < 0)
		return hfail(err, errlen, -EIO, "receive from %s: %s", c->host,
		    tls_strerror(rc, eb, sizeof(eb)));
	c->len = (size_t)rc;
	return rc;
}

/* Read the header block (up to the blank line) into a malloc'd string. */
static int
read_headers(struct conn *c, const struct https_conf *conf, char **out,
    char *err, size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *h = malloc(cap);
	int rc;

	if (h == NULL)
		return hfail(err, errlen, -ENOMEM, "out of memory");
	for (;;) {
		if ((rc = conn_fill(c, conf, err, errlen)) < 0)
			goto fail;
		if (rc == 0) {
			rc = hfail(err, errlen, -EPIPE, "%s closed the "
			    "connection before a complete response", c->host);
			goto fail;
		}
		while (c->pos < c->len) {
			if (len + 1 >= cap) {
				if (cap >= HDR_MAX) {
					rc = hfail(err, errlen, -EBADMSG, "%s: "
					    "response headers too long",
					    c->host);
					goto fail;
				}
				char *n = realloc(h, cap * 2);
				if (n == NULL) {
					rc = hfail(err, errlen, -ENOMEM,
					    "out of memory");
					goto fail;
				}
				h = n;
				cap *= 2;
			}
			h[len++] = (char)c->buf[c->pos++];
			if (len >= 4 && memcmp(h + len - 4, "\r\n\r\n", 4) == 0) {
				h[len] = 0;
				*out = h;
				return 0;
			}
		}
	}
fail:
	free(h);
	return rc;
}

static void
hdr_copy(char *dst, size_t dlen, const char *v)
{
	size_t n = strcspn(v, "\r\n");

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= dlen)
		n = dlen - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

struct hdrs {
	int chunked;
	char location[2048];
};

static int
parse_headers(char *h, struct https_resp *r, struct hdrs *x, char *err,
    size_t errlen)
{
	char *line, *save = NULL, *v, *e;

	if (strncmp(h, "HTTP/1.", 7) != 0 || strlen(h) < 12 ||
	    !isdigit((unsigned char)h[9]) || !isdigit((unsigned char)h[10]) ||
	    !isdigit((unsigned char)h[11]))
		return hfail(err, errlen, -EBADMSG, "not an HTTP response");
	r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
	r->content_length = -1;
	for (line = strtok_r(h, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if ((v = strchr(line, ':')) == NULL)
			continue;
		*v++ = 0;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "content-length") == 0) {
			errno = 0;
			long long n = strtoll(v, &e, 10);
			if (errno || e == v || n < 0)
				return hfail(err, errlen, -EBADMSG, "bad "
				    "Content-Length");
			r->content_length = n;
		} else if (strcasecmp(line, "transfer-encoding") == 0) {
			x->chunked = strcasestr(v, "chunked") != NULL;
		} else if (strcasecmp(line, "location") == 0) {
			hdr_copy(x->location, sizeof(x->location), v);
		} else if (strcasecmp(line, "www-authenticate") == 0) {
			hdr_copy(r->www_authenticate,
			    sizeof(r->www_authenticate), v);
		} else if (strcasecmp(line, "content-type") == 0) {
			hdr_copy(r->content_type, sizeof(r->content_type), v);
		} else if (strcasecmp(line, "docker-content-digest") == 0) {
			hdr_copy(r->docker_digest, sizeof(r->docker_digest), v);
		}
	}
	return 0;
}

struct sink {
	struct https_resp *r;
	https_body_fn fn;
	void *arg;
	size_t errlen;		/* bytes kept in r->errbody */
	int ok;			/* 2xx: to fn */
};

static int
sink_put(struct sink *s, const void *buf, size_t n)
{
	size_t k;

	if (s->ok)
		return s->fn ? s->fn(s->arg, buf, n) : 0;
	k = sizeof(s->r->errbody) - 1 - s->errlen;
	if (k > n)
		k = n;
	memcpy(s->r->errbody + s->errlen, buf, k);
	s->errlen += k;
	s->r->errbody[s->errlen] = 0;
	return 0;
}

/* n bytes of body (or to the end if n < 0) from c to the sink. */
static int
body_plain(struct conn *c, const struct https_conf *conf, int64_t n,
    struct sink *s, uint64_t *got, char *err, size_t errlen)
{
	size_t k;
	int rc;

	while (n != 0) {
		if ((rc = conn_fill(c, conf, err, errlen)) < 0)
			return rc;
		if (rc == 0) {
			if (n < 0)
				return 0;
			return hfail(err, errlen, -EPIPE, "truncated download "
			    "from %s: the connection closed %lld bytes short",
			    c->host, (long long)n);
		}
		k = c->len - c->pos;
		if (n >= 0 && (uint64_t)n < k)
			k = (size_t)n;
		if ((rc = sink_put(s, c->buf + c->pos, k)) != 0)
			return rc < 0 ? rc : -rc;
		c->pos += k;
		*got += k;
		if (n > 0)
			n -= (int64_t)k;
	}
	return 0;
}

/* One CRLF-terminated line (chunk sizes, trailers). */
static int
read_line(struct conn *c, const struct https_conf *conf, char *line,
    size_t len, char *err, size_t errlen)
{
	size_t i = 0;
	int rc;

	for (;;) {
		if ((rc = conn_fill(c, conf, err, errlen)) < 0)
			return rc;
		if (rc == 0)
			return hfail(err, errlen, -EPIPE, "truncated download "
			    "from %s (the chunked body ends early)", c->host);
		char ch = (char)c->buf[c->pos++];
		if (ch == '\n') {
			if (i > 0 && line[i - 1] == '\r')
				i--;
			line[i] = 0;
			return 0;
		}
		if (i + 1 >= len)
			return hfail(err, errlen, -EBADMSG, "%s: bad chunked "
			    "encoding", c->host);
		line[i++] = ch;
	}
}

static int
body_chunked(struct conn *c, const struct https_conf *conf, struct sink *s,
    uint64_t *got, char *err, size_t errlen)
{
	char line[256], *e;
	unsigned long long n;
	int rc;

	for (;;) {
		if ((rc = read_line(c, conf, line, sizeof(line), err, errlen)) < 0)
			return rc;
		errno = 0;
		n = strtoull(line, &e, 16);
		if (e == line || errno || (*e && *e != ';' && *e != ' ') ||
		    n > INT64_MAX)
			return hfail(err, errlen, -EBADMSG, "%s: bad chunk size",
			    c->host);
		if (n == 0)
			break;
		if ((rc = body_plain(c, conf, (int64_t)n, s, got, err,
		    errlen)) < 0)
			return rc;
		if ((rc = read_line(c, conf, line, sizeof(line), err,
		    errlen)) < 0)
			return rc;
	}
	do {	/* trailers, up to the blank line */
		if ((rc = read_line(c, conf, line, sizeof(line), err,
		    errlen)) < 0)
			return rc;
	} while (line[0]);
	return 0;
}

/* One request; x->location set on a redirect. */
static int
get_once(const struct https_conf *conf, const char *url,
    const char *const *headers, int send_auth, struct https_resp *r,
    struct hdrs *x, https_body_fn fn, void *arg, char *err, size_t errlen)
{
	char host[256], port[16], *req = NULL, *h = NULL;
	const char *path;
	struct sink s = { r, fn, arg, 0, 0 };
	struct conn *c;
	uint64_t got = 0;
	size_t len, i;
	int tls, rc;
	FILE *f;

	if (https_url_split(url, &tls, host, sizeof(host), port, sizeof(port),
	    &path) < 0)
		return hfail(err, errlen, -EINVAL, "bad URL '%s'", url);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hfail(err, errlen, -ENOMEM, "out of memory");
	if ((rc = conn_open(c, conf, tls, host, port, err, errlen)) < 0)
		goto out;
	if ((f = open_memstream(&req, &len)) == NULL) {
		rc = hfail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	fprintf(f, "GET %s HTTP/1.1\r\nHost: %s%s%s\r\n"
	    "User-Agent: drover\r\nConnection: close\r\n", path, host,
	    strcmp(port, tls ? "443" : "80") ? ":" : "",
	    strcmp(port, tls ? "443" : "80") ? port : "");
	for (i = 0; headers && headers[i]; i++)
		if (send_auth || strncasecmp(headers[i], "authorization:", 14))
			fprintf(f, "%s\r\n", headers[i]);
	fputs("\r\n", f);
	fclose(f);
	if ((rc = conn_write(c, req, len, err, errlen)) < 0 ||
	    (rc = read_headers(c, conf, &h, err, errlen)) < 0 ||
	    (rc = parse_headers(h, r, x, err, errlen)) < 0)
		goto out;
	if (r->status >= 300 && r->status < 400 && x->location[0])
		goto out;	/* the body of a redirect is not wanted */
	s.ok = r->status >= 200 && r->status < 300;
	if (x->chunked)
		rc = body_chunked(c, conf, &s, &got, err, errlen);
	else
		rc = body_plain(c, conf, r->content_length, &s, &got, err,
		    errlen);
out:
	free(req);
	free(h);
	conn_close(c);
	free(c);
	return rc;
}

/* Resolve a Location against the URL it came from. */
static int
redirect_url(const char *base, const char *loc, char *out, size_t outlen)
{
	const char *p;
	int n;

	if (strncmp(loc, "https://", 8) == 0 || strncmp(loc, "http://", 7) == 0)
		n = snprintf(out, outlen, "%s", loc);
	else if (loc[0] == '/') {
		p = strstr(base, "://");
		p = p ? p + 3 + strcspn(p + 3, "/") : base;
		n = snprintf(out, outlen, "%.*s%s", (int)(p - base), base, loc);
	} else
		return -EINVAL;
	return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
}

int
https_get(const struct https_conf *conf, const char *url,
    const char *const *headers, struct https_resp *resp, https_body_fn fn,
    void *arg, char *err, size_t errlen)
{
	char cur[2048], next[2048], h0[256], h1[256], port[16];
	const char *path;
	struct hdrs x;
	int hops, rc, send_auth = 1, tls;

	if (snprintf(cur, sizeof(cur), "%s", url) >= (int)sizeof(cur))
		return hfail(err, errlen, -EINVAL, "URL too long");
	if (https_url_split(cur, &tls, h0, sizeof(h0), port, sizeof(port),
	    &path) < 0)
		return hfail(err, errlen, -EINVAL, "bad URL '%s'", url);
	for (hops = 0; hops <= REDIRECTS_MAX; hops++) {
		memset(resp, 0, sizeof(*resp));
		memset(&x, 0, sizeof(x));
		snprintf(resp->url, sizeof(resp->url), "%s", cur);
		rc = get_once(conf, cur, headers, send_auth, resp, &x, fn, arg,
		    err, errlen);
		if (rc < 0)
			return rc;
		if (resp->status < 300 || resp->status >= 400 || !x.location[0])
			return 0;
		if (redirect_url(cur, x.location, next, sizeof(next)) < 0 ||
		    https_url_split(next, &tls, h1, sizeof(h1), port,
		    sizeof(port), &path) < 0)
			return hfail(err, errlen, -EBADMSG, "bad redirect to "
			    "'%s'", x.location);
		/* Credentials are for the registry, not for a CDN, and
		 * never go out in clear after a redirect. */
		if (strcmp(h0, h1) != 0 || !tls)
			send_auth = 0;
		strcpy(cur, next);
	}
	return hfail(err, errlen, -ELOOP, "%s: too many redirects", url);
}
