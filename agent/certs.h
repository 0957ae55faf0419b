/*
 * certs.h: Drover's small PKI (issue 6), all with mbedTLS: a CA, the API
 * server's certificate and client certificates for kubectl. Keys are EC
 * P-256 (SEC1 PEM), signatures ECDSA with SHA-256, serial numbers 16
 * random bytes, X.509 v3 with subject and authority key identifiers.
 *
 *   CA:     basicConstraints CA:TRUE (critical), keyUsage keyCertSign and
 *           cRLSign (critical); subject CN=<cn>.
 *   server: basicConstraints CA:FALSE, keyUsage digitalSignature, EKU
 *           serverAuth, subjectAltName: DNS names and IP addresses (a
 *           name that inet_pton() reads as IPv4 or IPv6 is an IP SAN).
 *   client: basicConstraints CA:FALSE, keyUsage digitalSignature, EKU
 *           clientAuth, subject CN=<user> and one O=<group> per group
 *           (Kubernetes' user and groups).
 * Validity: from an hour ago (clock skew) for `days` days.
 *
 * Errors: -1 with a message in err.
 */
#ifndef DROVER_CERTS_H
#define DROVER_CERTS_H

#include <stddef.h>
#include <sys/types.h>

#define CERTS_DEFAULT_DIR	"/etc/drover/pki"
#define CERTS_DEFAULT_DAYS	3650	/* CA and server */
#define CERTS_DEFAULT_USER_DAYS	365
#define CERTS_MAX_NAMES		64	/* SANs, groups */

enum certs_kind {
	CERTS_CA,
	CERTS_SERVER,
	CERTS_CLIENT,
};

struct certs_req {
	enum certs_kind kind;
	const char *cn;			/* subject CN (the user for clients) */
	const char *const *orgs;	/* subject O values (clients' groups) */
	int norgs;
	const char *const *sans;	/* server: DNS names and IPs */
	int nsans;
	int days;			/* > 0 */
	/* The issuer (NULL for a CA: self-signed). */
	const char *ca_cert_pem;
	const char *ca_key_pem;
};

/*
 * Make a new key and certificate. *cert_pem and *key_pem are malloc'ed
 * NUL-terminated PEM (free() them). 0, or -1 with err set.
 */
int certs_issue(const struct certs_req *r, char **cert_pem, char **key_pem,
    char *err, size_t errlen);

/*
 * The node's own names for the server certificate: "localhost", the host
 * name (and its FQDN when it has a dot... as gethostname() gives it),
 * 127.0.0.1, ::1 and every address of an interface that is up. Writes up
 * to max pointers to malloc'ed strings into out; returns the count
 * (certs_free_names() frees them).
 */
int certs_node_names(char **out, int max);
void certs_free_names(char **names, int n);

/*
 * Write data to path atomically (a temporary file in the same directory,
 * fsync, rename, fsync of the directory) with the given mode. 0 or -1
 * with err set.
 */
int certs_write_file(const char *path, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen);
/* Read a whole file (at most 1 MiB), NUL-terminated. 0 or -1 with err. */
int certs_read_file(const char *path, char **out, size_t *len, char *err,
    size_t errlen);

#endif
