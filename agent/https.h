/*
 * https.h: a small blocking HTTP/1.1 GET client over mbedTLS (or plain TCP
 * for http:// URLs), for registry pulls: one connection per request,
 * Content-Length or chunked bodies streamed to a callback, redirects
 * followed (Authorization dropped when the host changes), a short body
 * or chunk stream reported as a truncated download.
 */
#ifndef DROVER_HTTPS_H
#define DROVER_HTTPS_H

#include <stddef.h>
#include <stdint.h>

struct https_conf {
	const char *ca_file;	/* PEM bundle; NULL: the system's */
	int timeout_ms;		/* per read; 0: 30 s */
};

struct https_resp {
	int status;
	int64_t content_length;		/* -1 if not given */
	char content_type[256];
	char www_authenticate[1024];
	char docker_digest[80];		/* Docker-Content-Digest */
	char errbody[512];		/* start of a non-2xx body */
	char url[2048];			/* the final URL, after redirects */
};

/* Called with each piece of a 2xx body; non-zero stops the transfer and
 * is returned (as a negative errno). */
typedef int (*https_body_fn)(void *arg, const void *buf, size_t n);

/*
 * GET url with extra headers ("Name: value", NULL-terminated list, may
 * be NULL). 0 when a response was read whatever its status (resp->status
 * says it), or -errno with a message in err (connection, TLS, a malformed
 * or truncated response).
 */
int https_get(const struct https_conf *conf, const char *url,
    const char *const *headers, struct https_resp *resp, https_body_fn fn,
    void *arg, char *err, size_t errlen);

/* Split "https://host:port/path": 0 or -EINVAL. */
int https_url_split(const char *url, int *tls, char *host, size_t hostlen,
    char *port, size_t portlen, const char **path);

#endif
