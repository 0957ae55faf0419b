/*
 * certs.c: key and certificate generation with mbedTLS (certs.h).
 */
#include "certs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#define CERTS_PEM_MAX	8192

struct certs_ctx {
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key, ca_key;
	mbedtls_x509_crt ca;
	mbedtls_x509write_cert crt;
	mbedtls_x509_san_list *sans;
	int nsans;
	unsigned char ips[CERTS_MAX_NAMES][16];
};

static void
certs_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
certs_tls_err(char *err, size_t errlen, const char *what, int rc)
{
	char buf[128];

	mbedtls_strerror(rc, buf, sizeof(buf));
	certs_err(err, errlen, "%s: %s (-0x%04x)", what, buf, (unsigned)-rc);
}

/* A name node for a subject list (freed by mbedtls_x509write_crt_free). */
static int
certs_name_add(mbedtls_asn1_named_data **head, const char *oid,
    size_t oid_len, const char *val)
{
	mbedtls_asn1_named_data *n = calloc(1, sizeof(*n));

	if (!n)
		return -1;
	n->oid.p = malloc(oid_len);
	n->val.p = (unsigned char *)strdup(val);
	if (!n->oid.p || !n->val.p) {
		free(n->oid.p);
		free(n->val.p);
		free(n);
		return -1;
	}
	memcpy(n->oid.p, oid, oid_len);
	n->oid.len = oid_len;
	n->oid.tag = MBEDTLS_ASN1_OID;
	n->val.len = strlen(val);
	n->val.tag = MBEDTLS_ASN1_UTF8_STRING;
	/* The list is written last node first: prepend to keep the order. */
	n->next = *head;
	*head = n;
	return 0;
}

/* A DN value: printable, 1..64 characters (X.520 ub-common-name). */
static int
certs_check_value(const char *what, const char *v, char *err, size_t errlen)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n > 64) {
		certs_err(err, errlen, "%s must have 1 to 64 characters", what);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			certs_err(err, errlen, "%s has a control character",
			    what);
			return -1;
		}
	return 0;
}

static int
certs_names(mbedtls_asn1_named_data **head, const struct certs_req *r,
    char *err, size_t errlen)
{
	if (certs_check_value("the common name", r->cn, err, errlen) < 0)
		return -1;
	if (r->norgs < 0 || r->norgs > CERTS_MAX_NAMES) {
		certs_err(err, errlen, "too many groups (at most %d)",
		    CERTS_MAX_NAMES);
		return -1;
	}
	for (int i = 0; i < r->norgs; i++)
		if (certs_check_value("a group", r->orgs[i], err, errlen) < 0)
			return -1;
	if (certs_name_add(head, MBEDTLS_OID_AT_CN,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), r->cn) < 0)
		goto nomem;
	for (int i = 0; i < r->norgs; i++)
		if (certs_name_add(head, MBEDTLS_OID_AT_ORGANIZATION,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION),
		    r->orgs[i]) < 0)
			goto nomem;
	return 0;
nomem:
	certs_err(err, errlen, "out of memory");
	return -1;
}

/* The issuer: the CA's subject as parsed (list in DN order: reversed). */
static int
certs_issuer(struct certs_ctx *x, const mbedtls_x509_name *dn, char *err,
    size_t errlen)
{
	mbedtls_asn1_named_data **head = &x->crt.MBEDTLS_PRIVATE(issuer);

	for (const mbedtls_x509_name *n = dn; n; n = n->next) {
		mbedtls_asn1_named_data *c = calloc(1, sizeof(*c));

		if (!c)
			goto nomem;
		c->oid.p = malloc(n->oid.len ? n->oid.len : 1);
		c->val.p = malloc(n->val.len ? n->val.len : 1);
		if (!c->oid.p || !c->val.p) {
			free(c->oid.p);
			free(c->val.p);
			free(c);
			goto nomem;
		}
		memcpy(c->oid.p, n->oid.p, n->oid.len);
		memcpy(c->val.p, n->val.p, n->val.len);
		c->oid.len = n->oid.len;
		c->oid.tag = n->oid.tag;
		c->val.len = n->val.len;
		c->val.tag = n->val.tag;
		c->next = *head;
		*head = c;
	}
	return 0;
nomem:
	certs_err(err, errlen, "out of memory");
	return -1;
}

static int
certs_sans(struct certs_ctx *x, const struct certs_req *r, char *err,
    size_t errlen)
{
	int rc;

	if (r->nsans < 0 || r->nsans > CERTS_MAX_NAMES) {
		certs_err(err, errlen, "too many names (at most %d)",
		    CERTS_MAX_NAMES);
		return -1;
	}
	if (r->nsans == 0)
		return 0;
	x->sans = calloc((size_t)r->nsans, sizeof(*x->sans));
	if (!x->sans) {
		certs_err(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < r->nsans; i++) {
		mbedtls_x509_san_list *s = &x->sans[i];
		const char *name = r->sans[i];
		size_t len = name ? strlen(name) : 0;

		if (len == 0 || len > 253) {
			certs_err(err, errlen, "bad name '%s': 1 to 253 "
			    "characters", name ? name : "");
			return -1;
		}
		if (inet_pton(AF_INET, name, x->ips[i]) == 1) {
			s->node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
			s->node.san.unstructured_name.p = x->ips[i];
			s->node.san.unstructured_name.len = 4;
		} else if (inet_pton(AF_INET6, name, x->ips[i]) == 1) {
			s->node.type = MBEDTLS_X509_SAN_IP_ADDRESS;
			s->node.san.unstructured_name.p = x->ips[i];
			s->node.san.unstructured_name.len = 16;
		} else {
			for (size_t j = 0; j < len; j++) {
				char ch = name[j];

				if (!(ch == '-' || ch == '.' || ch == '*' ||
				    (ch >= '0' && ch <= '9') ||
				    (ch >= 'a' && ch <= 'z') ||
				    (ch >= 'A' && ch <= 'Z'))) {
					certs_err(err, errlen, "bad name '%s':"
					    " not an IP address, and a DNS "
					    "name has only letters, digits, "
					    "'-', '.' and '*'", name);
					return -1;
				}
			}
			s->node.type = MBEDTLS_X509_SAN_DNS_NAME;
			s->node.san.unstructured_name.p =
			    (unsigned char *)(uintptr_t)name;
			s->node.san.unstructured_name.len = len;
		}
		/* The list is written last node first: link it backwards
		 * to keep the given order. */
		s->next = i > 0 ? &x->sans[i - 1] : NULL;
	}
	rc = mbedtls_x509write_crt_set_subject_alternative_name(&x->crt,
	    &x->sans[r->nsans - 1]);
	if (rc) {
		certs_tls_err(err, errlen, "subjectAltName", rc);
		return -1;
	}
	return 0;
}

static int
certs_validity(struct certs_ctx *x, int days, char *err, size_t errlen)
{
	char nb[16], na[16];
	time_t now = time(NULL), from = now - 3600, to;
	struct tm tm;
	int rc;

	if (days <= 0 || days > 36500) {
		certs_err(err, errlen, "days must be 1 to 36500, not %d", days);
		return -1;
	}
	to = now + (time_t)days * 86400;
	if (!gmtime_r(&from, &tm) || !strftime(nb, sizeof(nb),
	    "%Y%m%d%H%M%S", &tm) || !gmtime_r(&to, &tm) ||
	    !strftime(na, sizeof(na), "%Y%m%d%H%M%S", &tm)) {
		certs_err(err, errlen, "cannot format the validity dates");
		return -1;
	}
	rc = mbedtls_x509write_crt_set_validity(&x->crt, nb, na);
	if (rc) {
		certs_tls_err(err, errlen, "validity", rc);
		return -1;
	}
	return 0;
}

static int
certs_serial(struct certs_ctx *x, char *err, size_t errlen)
{
	unsigned char sn[16];
	int rc = mbedtls_ctr_drbg_random(&x->drbg, sn, sizeof(sn));

	if (rc == 0) {
		sn[0] &= 0x7f;		/* positive */
		sn[0] |= 0x40;		/* 16 significant bytes, never 0 */
		rc = mbedtls_x509write_crt_set_serial_raw(&x->crt, sn,
		    sizeof(sn));
	}
	if (rc) {
		certs_tls_err(err, errlen, "serial number", rc);
		return -1;
	}
	return 0;
}

static int
certs_eku(struct certs_ctx *x, enum certs_kind kind, char *err, size_t errlen)
{
	mbedtls_asn1_sequence eku = { 0 };
	int rc;

	eku.buf.tag = MBEDTLS_ASN1_OID;
	if (kind == CERTS_SERVER) {
		eku.buf.p = (unsigned char *)MBEDTLS_OID_SERVER_AUTH;
		eku.buf.len = MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH);
	} else {
		eku.buf.p = (unsigned char *)MBEDTLS_OID_CLIENT_AUTH;
		eku.buf.len = MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH);
	}
	rc = mbedtls_x509write_crt_set_ext_key_usage(&x->crt, &eku);
	if (rc) {
		certs_tls_err(err, errlen, "extendedKeyUsage", rc);
		return -1;
	}
	return 0;
}

static int
certs_extensions(struct certs_ctx *x, const struct certs_req *r, char *err,
    size_t errlen)
{
	int ca = r->kind == CERTS_CA, rc;

	rc = mbedtls_x509write_crt_set_basic_constraints(&x->crt, ca,
	    ca ? 0 : -1);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_key_usage(&x->crt, ca ?
		    MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN |
		    MBEDTLS_X509_KU_DIGITAL_SIGNATURE :
		    MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_subject_key_identifier(&x->crt);
	if (rc == 0)
		rc = mbedtls_x509write_crt_set_authority_key_identifier(
		    &x->crt);
	if (rc) {
		certs_tls_err(err, errlen, "extensions", rc);
		return -1;
	}
	if (!ca && certs_eku(x, r->kind, err, errlen) < 0)
		return -1;
	if (r->kind == CERTS_SERVER)
		return certs_sans(x, r, err, errlen);
	return 0;
}

static int
certs_keygen(struct certs_ctx *x, char *err, size_t errlen)
{
	int rc = mbedtls_pk_setup(&x->key,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));

	if (rc == 0)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
		    mbedtls_pk_ec(x->key), mbedtls_ctr_drbg_random, &x->drbg);
	if (rc) {
		certs_tls_err(err, errlen, "EC P-256 key generation", rc);
		return -1;
	}
	return 0;
}

/* Load the issuer: its certificate must be a CA, its key must match. */
static int
certs_load_ca(struct certs_ctx *x, const struct certs_req *r, char *err,
    size_t errlen)
{
	int rc;

	rc = mbedtls_x509_crt_parse(&x->ca,
	    (const unsigned char *)r->ca_cert_pem, strlen(r->ca_cert_pem) + 1);
	if (rc) {
		certs_tls_err(err, errlen, "the CA certificate", rc);
		return -1;
	}
	rc = mbedtls_pk_parse_key(&x->ca_key,
	    (const unsigned char *)r->ca_key_pem, strlen(r->ca_key_pem) + 1,
	    NULL, 0, mbedtls_ctr_drbg_random, &x->drbg);
	if (rc) {
		certs_tls_err(err, errlen, "the CA key", rc);
		return -1;
	}
	if (!x->ca.MBEDTLS_PRIVATE(ca_istrue)) {
		certs_err(err, errlen, "the CA certificate is not a CA");
		return -1;
	}
	rc = mbedtls_pk_check_pair(&x->ca.pk, &x->ca_key,
	    mbedtls_ctr_drbg_random, &x->drbg);
	if (rc) {
		certs_tls_err(err, errlen, "the CA key does not match the CA "
		    "certificate", rc);
		return -1;
	}
	return 0;
}

static int
certs_pem_out(struct certs_ctx *x, char **cert_pem, char **key_pem,
    char *err, size_t errlen)
{
	char *c = calloc(1, CERTS_PEM_MAX), *k = calloc(1, CERTS_PEM_MAX);
	int rc;

	if (!c || !k) {
		certs_err(err, errlen, "out of memory");
		goto fail;
	}
	rc = mbedtls_x509write_crt_pem(&x->crt, (unsigned char *)c,
	    CERTS_PEM_MAX, mbedtls_ctr_drbg_random, &x->drbg);
	if (rc) {
		certs_tls_err(err, errlen, "writing the certificate", rc);
		goto fail;
	}
	rc = mbedtls_pk_write_key_pem(&x->key, (unsigned char *)k,
	    CERTS_PEM_MAX);
	if (rc) {
		certs_tls_err(err, errlen, "writing the key", rc);
		goto fail;
	}
	*cert_pem = c;
	*key_pem = k;
	return 0;
fail:
	free(c);
	if (k)
		mbedtls_platform_zeroize(k, CERTS_PEM_MAX);
	free(k);
	return -1;
}

static int
certs_build(struct certs_ctx *x, const struct certs_req *r, char **cert_pem,
    char **key_pem, char *err, size_t errlen)
{
	static const char pers[] = "drover-certs";
	int rc;

	rc = mbedtls_ctr_drbg_seed(&x->drbg, mbedtls_entropy_func, &x->ent,
	    (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc) {
		certs_tls_err(err, errlen, "random generator", rc);
		return -1;
	}
	if (r->kind != CERTS_CA) {
		if (!r->ca_cert_pem || !r->ca_key_pem) {
			certs_err(err, errlen, "no CA to sign with");
			return -1;
		}
		if (certs_load_ca(x, r, err, errlen) < 0)
			return -1;
	}
	if (certs_keygen(x, err, errlen) < 0)
		return -1;
	mbedtls_x509write_crt_set_version(&x->crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&x->crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&x->crt, &x->key);
	mbedtls_x509write_crt_set_issuer_key(&x->crt,
	    r->kind == CERTS_CA ? &x->key : &x->ca_key);
	if (certs_names(&x->crt.MBEDTLS_PRIVATE(subject), r, err, errlen) < 0)
		return -1;
	if (r->kind == CERTS_CA) {
		/* Self-signed: the issuer is the subject. */
		if (certs_names(&x->crt.MBEDTLS_PRIVATE(issuer), r, err,
		    errlen) < 0)
			return -1;
	} else if (certs_issuer(x, &x->ca.subject, err, errlen) < 0) {
		return -1;
	}
	if (certs_serial(x, err, errlen) < 0 ||
	    certs_validity(x, r->days, err, errlen) < 0 ||
	    certs_extensions(x, r, err, errlen) < 0)
		return -1;
	return certs_pem_out(x, cert_pem, key_pem, err, errlen);
}

int
certs_issue(const struct certs_req *r, char **cert_pem, char **key_pem,
    char *err, size_t errlen)
{
	struct certs_ctx *x = calloc(1, sizeof(*x));
	int rc;

	*cert_pem = *key_pem = NULL;
	if (!x) {
		certs_err(err, errlen, "out of memory");
		return -1;
	}
	mbedtls_entropy_init(&x->ent);
	mbedtls_ctr_drbg_init(&x->drbg);
	mbedtls_pk_init(&x->key);
	mbedtls_pk_init(&x->ca_key);
	mbedtls_x509_crt_init(&x->ca);
	mbedtls_x509write_crt_init(&x->crt);
	rc = certs_build(x, r, cert_pem, key_pem, err, errlen);
	mbedtls_x509write_crt_free(&x->crt);
	mbedtls_x509_crt_free(&x->ca);
	mbedtls_pk_free(&x->ca_key);
	mbedtls_pk_free(&x->key);
	mbedtls_ctr_drbg_free(&x->drbg);
	mbedtls_entropy_free(&x->ent);
	free(x->sans);
	free(x);
	return rc;
}

static int
certs_add_name(char **out, int n, int max, const char *name)
{
	if (n >= max)
		return n;
	for (int i = 0; i < n; i++)
		if (strcmp(out[i], name) == 0)
			return n;
	out[n] = strdup(name);
	return out[n] ? n + 1 : n;
}

int
certs_node_names(char **out, int max)
{
	char host[256] = "";
	struct ifaddrs *ifa = NULL;
	int n = 0;

	n = certs_add_name(out, n, max, "localhost");
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0])
		n = certs_add_name(out, n, max, host);
	n = certs_add_name(out, n, max, "127.0.0.1");
	n = certs_add_name(out, n, max, "::1");
	if (getifaddrs(&ifa) < 0)
		return n;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *a;

		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			a = &((struct sockaddr_in *)(void *)i->ifa_addr)->
			    sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 =
			    (const void *)i->ifa_addr;

			if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
				continue;	/* needs a zone: useless */
			a = &s6->sin6_addr;
		} else
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, a, buf, sizeof(buf)))
			n = certs_add_name(out, n, max, buf);
	}
	freeifaddrs(ifa);
	return n;
}

void
certs_free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
}

static int
certs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
certs_write_file(const char *path, const void *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	const char *slash;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp)) {
		certs_err(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0) {
		certs_err(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* The umask may have taken bits away; never more than mode. */
	if (fchmod(fd, mode) < 0 || certs_write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		certs_err(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		certs_err(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

int
certs_read_file(const char *path, char **out, size_t *len, char *err,
    size_t errlen)
{
	size_t cap = 1 << 20, n = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		certs_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		certs_err(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			certs_err(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			certs_err(err, errlen, "%s: larger than 1 MiB", path);
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}
