/*
 * apiserver_util.c: the transport's pure helpers (apiserver_int.h): the
 * client's identity from its certificate, the query string, numbers and
 * addresses from the wire or the configuration. No lws here: unit tests
 * and fuzz_apiserver call these directly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "apiserver_int.h"

/* Copy one name attribute's value; -1 if it does not fit or has a NUL. */
static int
as_name_copy(char *dst, size_t cap, const mbedtls_x509_buf *v)
{
	if (v->len == 0 || v->len >= cap || memchr(v->p, 0, v->len))
		return -1;
	memcpy(dst, v->p, v->len);
	dst[v->len] = '\0';
	return 0;
}

/*
 * As Kubernetes reads a client certificate (Go's pkix.Name): the user is
 * the subject's CommonName (the last one if there are several), the
 * groups are its Organization values in order.
 */
int
as_identity_der(const unsigned char *der, size_t len, struct kapi_user *u,
    char *why, size_t whylen)
{
	mbedtls_x509_crt crt;
	const mbedtls_x509_name *n;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
		snprintf(why, whylen, "unreadable client certificate");
		goto out;
	}
	for (n = &crt.subject; n; n = n->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
			if (as_name_copy(u->name, sizeof(u->name), &n->val)) {
				snprintf(why, whylen, "bad subject CN");
				goto out;
			}
		} else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION,
		    &n->oid) == 0) {
			if (u->ngroups == KAPI_MAX_GROUPS) {
				snprintf(why, whylen, "more than %d O values",
				    KAPI_MAX_GROUPS);
				goto out;
			}
			if (as_name_copy(u->groups[u->ngroups],
			    sizeof(u->groups[0]), &n->val)) {
				snprintf(why, whylen, "bad subject O");
				goto out;
			}
			u->ngroups++;
		}
	}
	if (!u->name[0]) {
		snprintf(why, whylen, "no subject CN");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		memset(u, 0, sizeof(*u));
	mbedtls_x509_crt_free(&crt);
	return rc;
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static int
as_encode(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~';

		if (*len + (plain ? 1 : 3) >= cap)
			return -1;
		if (plain) {
			dst[(*len)++] = (char)c;
		} else {
			dst[(*len)++] = '%';
			dst[(*len)++] = hex[c >> 4];
			dst[(*len)++] = hex[c & 15];
		}
	}
	dst[*len] = '\0';
	return 0;
}

int
as_query_append(char *dst, size_t cap, size_t *len, const char *frag,
    size_t flen)
{
	const char *eq = memchr(frag, '=', flen);
	size_t nlen = eq ? (size_t)(eq - frag) : flen;

	if (cap == 0)
		return -1;
	if (*len) {
		if (*len + 1 >= cap)
			return -1;
		dst[(*len)++] = '&';
		dst[*len] = '\0';
	}
	if (as_encode(dst, cap, len, frag, nlen) < 0)
		return -1;
	if (!eq)
		return 0;
	if (*len + 1 >= cap)
		return -1;
	dst[(*len)++] = '=';
	dst[*len] = '\0';
	return as_encode(dst, cap, len, eq + 1, flen - nlen - 1);
}

int
as_parse_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!s)
		return -1;
	for (; *s; s++, n++) {
		if (*s < '0' || *s > '9' || n == 18)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

int
as_parse_listen(const char *s, char *addr, size_t alen, int *port, int *v6)
{
	const char *colon, *p;
	char *end;
	long v;
	size_t n;

	if (!s || !*s || alen == 0)
		return -1;
	*v6 = 0;
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (!p || p[1] != ':')
			return -1;
		n = (size_t)(p - s - 1);
		if (n >= alen)
			return -1;
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		colon = p + 1;
		*v6 = 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		n = (size_t)(colon - s);
		if (n >= alen)
			return -1;
		memcpy(addr, s, n);
		addr[n] = '\0';
	}
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	if (!strcmp(addr, "0.0.0.0") || (*v6 && !strcmp(addr, "::")))
		addr[0] = '\0';
	return 0;
}

const char *
as_status_text(int code)
{
	switch (code) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return code < 300 ? "OK" : code < 500 ? "Error" :
	    "Server Error";
	}
}

int
as_list_has(const char *list, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = list; p && *p; ) {
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p;
		while (*end && *end != ',' && *end != ' ' && *end != '\t')
			end++;
		if ((size_t)(end - p) == n && n && strncmp(p, tok, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}
