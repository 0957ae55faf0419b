/*
 * probe_http.c: httpGet's request and response, as kubelet's prober
 * (pkg/probe/http) does them:
 * - "GET path HTTP/1.1" with Host (host:port, or the user's Host header
 *   on the first request), User-Agent kube-probe/<version>, Accept
 *   (any type; each unless httpHeaders gives it), Connection: close,
 *   then httpHeaders;
 * - status 200..399 is success, anything else failure;
 * - redirects (301, 302, 303, 307, 308 with a Location) to the same host
 *   name (any port or scheme) are followed, at most 10 (Go's client with
 *   kubelet's RedirectChecker), within the one timeout; a redirect to
 *   another host ends the probe with the 3xx (kubelet: a warning, which
 *   counts as success).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "probe_int.h"

#define PROBE_USER_AGENT	"kube-probe/1.30"
#define PROBE_MAX_REDIRECTS	10

static int
http_token(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 256)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

/* No control bytes (tab allowed with spaces in header values). */
static int
http_text(const char *s, int allow_space)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 ? *s != '\t' || !allow_space :
		    *s == 0x7f || (*s == ' ' && !allow_space))
			return 0;
	return 1;
}

/* Append to buf (cap bytes, *len used); -1 when it does not fit. */
static int __attribute__((format(printf, 4, 5)))
http_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

static int
http_headers(struct probe *p, const json_t *hdrs, char *err, size_t errlen)
{
	const json_t *h;
	size_t i, hl = 0;

	if (hdrs != NULL && !json_is_array(hdrs))
		return probe_spec_err(err, errlen, "probe httpHeaders: a list "
		    "of {name, value} is needed");
	json_array_foreach(hdrs, i, h) {
		const char *n = json_string_value(json_object_get(h, "name"));
		const char *v = json_string_value(json_object_get(h, "value"));

		if (!http_token(n) || v == NULL || !http_text(v, 1))
			return probe_spec_err(err, errlen, "probe httpHeaders[%zu]:"
			    " a header name (token) and a value without control "
			    "characters are needed", i);
		if (!strcasecmp(n, "host")) {
			if (strlen(v) >= sizeof(p->uhost))
				return probe_spec_err(err, errlen, "probe "
				    "httpHeaders[%zu]: Host too long", i);
			snprintf(p->uhost, sizeof(p->uhost), "%s", v);
			continue;
		}
		if (!strcasecmp(n, "user-agent"))
			p->given |= 2;
		else if (!strcasecmp(n, "accept"))
			p->given |= 4;
		if (http_add(p->uhdrs, PROBE_REQ_MAX / 2, &hl, "%s: %s\r\n", n,
		    v) < 0)
			return probe_spec_err(err, errlen, "probe httpHeaders: "
			    "more than %d bytes", PROBE_REQ_MAX / 2);
	}
	return 0;
}

int
probe_http_parse(struct probe *p, const json_t *h, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(h, "path"));
	const char *scheme = json_string_value(json_object_get(h, "scheme"));

	if (scheme && strcasecmp(scheme, "HTTP") && strcasecmp(scheme, "HTTPS"))
		return probe_spec_err(err, errlen, "probe scheme \"%.16s\": "
		    "HTTP or HTTPS", scheme);
	p->https0 = scheme && !strcasecmp(scheme, "HTTPS");
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (!http_text(path, 0) || strlen(path) > PROBE_PATH_MAX - 2)
		return probe_spec_err(err, errlen, "probe path: up to %d "
		    "characters without spaces or control characters",
		    PROBE_PATH_MAX - 2);
	snprintf(p->path0, sizeof(p->path0), "%s%s", path[0] == '/' ? "" :
	    "/", path);
	if ((p->req = malloc(PROBE_REQ_MAX)) == NULL ||
	    (p->uhdrs = calloc(1, PROBE_REQ_MAX / 2)) == NULL)
		return probe_spec_err(err, errlen, "out of memory");
	return http_headers(p, json_object_get(h, "httpHeaders"), err, errlen);
}

int
probe_http_build(struct probe *p)
{
	size_t *l = &p->reqlen;

	*l = 0;
	if (http_add(p->req, PROBE_REQ_MAX, l, "GET %s HTTP/1.1\r\n",
	    p->path) < 0 ||
	    http_add(p->req, PROBE_REQ_MAX, l, "Host: %s\r\n", p->uhost[0] &&
	    p->redirects == 0 ? p->uhost : p->hostport) < 0 ||
	    (!(p->given & 2) && http_add(p->req, PROBE_REQ_MAX, l,
	    "User-Agent: %s\r\n", PROBE_USER_AGENT) < 0) ||
	    (!(p->given & 4) && http_add(p->req, PROBE_REQ_MAX, l,
	    "Accept: */*\r\n") < 0) ||
	    http_add(p->req, PROBE_REQ_MAX, l, "Connection: close\r\n%s\r\n",
	    p->uhdrs) < 0)
		return -1;
	return 0;
}

/* The value of header name (case-insensitive) in the response, or 0. */
static int
http_header(const char *resp, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), n;
	const char *s = strchr(resp, '\n');

	while (s && s[1] != '\r' && s[1] != '\n' && s[1] != '\0') {
		s++;
		if (!strncasecmp(s, name, nl) && s[nl] == ':') {
			s += nl + 1;
			s += strspn(s, " \t");
			n = strcspn(s, "\r\n");
			while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (n >= outlen)
				return 0;
			memcpy(out, s, n);
			out[n] = '\0';
			return 1;
		}
		s = strchr(s, '\n');
	}
	return 0;
}

/* Same host name (IP addresses compared as addresses)? */
static int
http_same_host(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return !memcmp(x, y, 4);
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return !memcmp(x, y, 16);
	return !strcasecmp(a, b);
}

/*
 * "scheme://host[:port]/path", "//host/path", "/path" or "path" against
 * the current target. 1: follow (*https, *port, path set); 0: another
 * host (stop there); -1: unusable.
 */
static int
http_location(const struct probe *p, const char *loc, int *https, int *port,
    char *path, size_t plen)
{
	char host[64];
	const char *a, *e;
	size_t n;

	*https = p->https;
	*port = p->port;
	if (!strncasecmp(loc, "http://", 7) || !strncasecmp(loc, "https://", 8)) {
		*https = loc[4] == 's' || loc[4] == 'S';
		a = loc + (*https ? 8 : 7);
	} else if (!strncmp(loc, "//", 2)) {
		a = loc + 2;
	} else {
		a = NULL;
	}
	if (a) {
		e = a + strcspn(a, "/?#");
		if (*a == '[') {
			const char *rb = memchr(a, ']', (size_t)(e - a));

			if (rb == NULL || (size_t)(rb - a - 1) >= sizeof(host))
				return -1;
			memcpy(host, a + 1, (size_t)(rb - a - 1));
			host[rb - a - 1] = '\0';
			a = rb + 1;
		} else {
			n = strcspn(a, ":/?#");
			if (n >= sizeof(host))
				return -1;
			memcpy(host, a, n);
			host[n] = '\0';
			a += n;
		}
		if (!http_same_host(host, p->host))
			return 0;
		*port = *https ? 443 : 80;
		if (*a == ':' && a + 1 < e) {
			char *end;
			long v = strtol(a + 1, &end, 10);

			if (end != e || v < 1 || v > 65535)
				return -1;
			*port = (int)v;
		}
		loc = e;
	}
	n = strcspn(loc, "#");
	if (loc[0] == '/') {
		if (n >= plen)
			return -1;
		memcpy(path, loc, n);
		path[n] = '\0';
	} else {
		/* Relative: the current path's directory, then loc. */
		size_t d = strcspn(p->path, "?");

		while (d > 0 && p->path[d - 1] != '/')
			d--;
		if (d + n + 2 >= plen)
			return -1;
		memcpy(path, p->path, d);
		if (d == 0)
			path[d++] = '/';
		memcpy(path + d, loc, n);
		path[d + n] = '\0';
	}
	return http_text(path, 0) ? 1 : -1;
}

static void
http_redirect(struct probe *p, int code)
{
	char loc[PROBE_PATH_MAX], path[PROBE_PATH_MAX];
	int https, port, rc;

	if (!http_header(p->resp, "location", loc, sizeof(loc))) {
		probe_done(p, 1, NULL);		/* a 3xx as it is */
		return;
	}
	rc = http_location(p, loc, &https, &port, path, sizeof(path));
	if (rc < 0) {
		probe_done(p, 0, "Get \"%s://%s%s\": bad Location \"%.64s\" in "
		    "the %d response", p->https ? "https" : "http", p->hostport,
		    p->path, loc, code);
		return;
	}
	if (rc == 0) {
		log_debug("probe %s: redirect to another host (%.64s): %d "
		    "counts as success", p->hostport, loc, code);
		probe_done(p, 1, NULL);
		return;
	}
	if (p->redirects >= PROBE_MAX_REDIRECTS) {
		probe_done(p, 0, "Get \"%s://%s%s\": stopped after %d redirects",
		    p->https ? "https" : "http", p->hostport, p->path,
		    PROBE_MAX_REDIRECTS);
		return;
	}
	p->redirects++;
	probe_redirect(p, https, port, path);
}

int
probe_http_response(struct probe *p, int eof)
{
	char *nl = memchr(p->resp, '\n', p->got);
	int major, minor, code, n = 0, full;

	if (nl == NULL) {
		if (eof)
			probe_done(p, 0, "HTTP probe failed: EOF before the "
			    "status line");
		else if (p->got >= sizeof(p->resp) - 1)
			probe_done(p, 0, "HTTP probe failed: bad status line");
		else
			return 0;
		return 1;
	}
	if (sscanf(p->resp, "HTTP/%1d.%1d %3d%n", &major, &minor, &code,
	    &n) != 3 || n != 12 || code < 100 || (p->resp[12] != ' ' &&
	    p->resp[12] != '\r' && p->resp[12] != '\n')) {
		probe_done(p, 0, "HTTP probe failed: bad status line");
		return 1;
	}
	if (code == 301 || code == 302 || code == 303 || code == 307 ||
	    code == 308) {
		/* The headers: until the empty line, EOF or a full buffer. */
		full = strstr(p->resp, "\r\n\r\n") || strstr(p->resp, "\n\n");
		if (!full && !eof && p->got < sizeof(p->resp) - 1)
			return 0;
		http_redirect(p, code);
		return 1;
	}
	if (code >= 200 && code < 400)
		probe_done(p, 1, NULL);
	else
		probe_done(p, 0, "HTTP probe failed with statuscode: %d", code);
	return 1;
}
