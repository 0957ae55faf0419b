/*
 * Unit tests: agent/certs.c (the CA, server and client certificates of
 * issue 6). Every certificate is read back twice: by mbedTLS
 * (mbedtls_x509_crt_verify, SAN and EKU checks, the key's curve) and by
 * the openssl command line (`openssl verify` with the sslserver and
 * sslclient purposes, `openssl x509 -text`). openssl is a test tool only:
 * a missing one is a failure (`make deps` installs it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <mbedtls/aes.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "certs.h"

static char tmpdir[64];
static char *ca_crt, *ca_key;

static int
setup(void **state)
{
	char err[256] = "";
	struct certs_req r = { .kind = CERTS_CA, .cn = "drover-ca",
	    .days = 30 };

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/drover-certs-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (certs_issue(&r, &ca_crt, &ca_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "CA: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	free(ca_crt);
	free(ca_key);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run a shell command; its stdout (and stderr) into *out. Exit status. */
static int __attribute__((format(printf, 2, 3)))
sh(char **out, const char *fmt, ...)
{
	char cmd[2048], *buf = NULL;
	size_t len = 0;
	va_list ap;
	FILE *p, *m;
	int c, st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	m = open_memstream(&buf, &len);
	while ((c = fgetc(p)) != EOF)
		fputc(c, m);
	fclose(m);
	st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
save(const char *name, const char *pem)
{
	char path[256], err[256] = "";

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(certs_write_file(path, pem, strlen(pem), 0600, err,
	    sizeof(err)), 0);
}

static void
parse(mbedtls_x509_crt *crt, const char *pem)
{
	mbedtls_x509_crt_init(crt);
	assert_int_equal(mbedtls_x509_crt_parse(crt,
	    (const unsigned char *)pem, strlen(pem) + 1), 0);
}

/* The key is EC on P-256 and belongs to the certificate. */
static void
check_key(const mbedtls_x509_crt *crt, const char *key_pem)
{
	mbedtls_pk_context pk;

	assert_int_equal(mbedtls_pk_get_type(&crt->pk), MBEDTLS_PK_ECKEY);
	assert_int_equal(mbedtls_pk_ec(crt->pk)->MBEDTLS_PRIVATE(grp).id,
	    MBEDTLS_ECP_DP_SECP256R1);
	assert_non_null(strstr(key_pem, "-----BEGIN EC PRIVATE KEY-----"));
	mbedtls_pk_init(&pk);
	assert_int_equal(mbedtls_pk_parse_key(&pk,
	    (const unsigned char *)key_pem, strlen(key_pem) + 1, NULL, 0,
	    NULL, NULL), 0);
	assert_int_equal(mbedtls_pk_get_type(&pk), MBEDTLS_PK_ECKEY);
	mbedtls_pk_free(&pk);
}

static uint32_t
verify(mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, const char *cn)
{
	uint32_t flags = 0;

	mbedtls_x509_crt_verify(crt, ca, NULL, cn, &flags, NULL, NULL);
	return flags;
}

static void
test_ca(void **state)
{
	mbedtls_x509_crt ca;
	char dn[256], *out = NULL;

	(void)state;
	parse(&ca, ca_crt);
	check_key(&ca, ca_key);
	assert_true(ca.MBEDTLS_PRIVATE(ca_istrue));
	assert_int_equal(ca.version, 3);
	assert_int_equal(mbedtls_x509_crt_check_key_usage(&ca,
	    MBEDTLS_X509_KU_KEY_CERT_SIGN), 0);
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &ca.subject) > 0);
	assert_string_equal(dn, "CN=drover-ca");
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &ca.issuer) > 0);
	assert_string_equal(dn, "CN=drover-ca");
	assert_int_equal(verify(&ca, &ca, NULL), 0);	/* self-signed */
	mbedtls_x509_crt_free(&ca);

	save("ca.crt", ca_crt);
	assert_int_equal(sh(&out, "openssl x509 -in %s/ca.crt -noout -text",
	    tmpdir), 0);
	assert_non_null(strstr(out, "CA:TRUE"));
	assert_non_null(strstr(out, "Certificate Sign"));
	assert_non_null(strstr(out, "ASN1 OID: prime256v1"));
	assert_non_null(strstr(out, "ecdsa-with-SHA256"));
	assert_non_null(strstr(out, "X509v3 Subject Key Identifier"));
	free(out);
	assert_int_equal(sh(NULL, "openssl verify -CAfile %s/ca.crt %s/ca.crt",
	    tmpdir, tmpdir), 0);
}

static void
test_server(void **state)
{
	static const char *const sans[] = { "localhost", "node1.example",
	    "127.0.0.1", "::1", "192.0.2.10" };
	struct certs_req r = { .kind = CERTS_SERVER, .cn = "node1",
	    .sans = sans, .nsans = 5, .days = 10, .ca_cert_pem = NULL };
	mbedtls_x509_crt ca, srv;
	char *crt, *key, *out = NULL, err[256] = "";

	(void)state;
	r.ca_cert_pem = ca_crt;
	r.ca_key_pem = ca_key;
	assert_int_equal(certs_issue(&r, &crt, &key, err, sizeof(err)), 0);
	parse(&ca, ca_crt);
	parse(&srv, crt);
	check_key(&srv, key);
	assert_false(srv.MBEDTLS_PRIVATE(ca_istrue));
	/* Names: DNS and IP SANs are checked by mbedTLS' verify. */
	assert_int_equal(verify(&srv, &ca, "localhost"), 0);
	assert_int_equal(verify(&srv, &ca, "node1.example"), 0);
	assert_int_equal(verify(&srv, &ca, "127.0.0.1"), 0);
	assert_int_equal(verify(&srv, &ca, "192.0.2.10"), 0);
	assert_int_equal(verify(&srv, &ca, "other.example"),
	    MBEDTLS_X509_BADCERT_CN_MISMATCH);
	assert_int_equal(verify(&srv, &ca, "192.0.2.11"),
	    MBEDTLS_X509_BADCERT_CN_MISMATCH);
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&srv,
	    MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
	    0);
	assert_int_not_equal(mbedtls_x509_crt_check_extended_key_usage(&srv,
	    MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
	    0);
	/* Signed by another CA: refused. */
	{
		struct certs_req r2 = { .kind = CERTS_CA, .cn = "drover-ca",
		    .days = 1 };
		char *c2, *k2;
		mbedtls_x509_crt ca2;

		assert_int_equal(certs_issue(&r2, &c2, &k2, err, sizeof(err)),
		    0);
		parse(&ca2, c2);
		assert_true(verify(&srv, &ca2, "localhost") &
		    MBEDTLS_X509_BADCERT_NOT_TRUSTED);
		mbedtls_x509_crt_free(&ca2);
		save("other-ca.crt", c2);
		free(c2);
		free(k2);
	}
	mbedtls_x509_crt_free(&srv);
	mbedtls_x509_crt_free(&ca);

	save("ca.crt", ca_crt);
	save("server.crt", crt);
	assert_int_equal(sh(&out, "openssl x509 -in %s/server.crt -noout "
	    "-text", tmpdir), 0);
	assert_non_null(strstr(out, "DNS:localhost, DNS:node1.example, "
	    "IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, "
	    "IP Address:192.0.2.10"));
	assert_non_null(strstr(out, "TLS Web Server Authentication"));
	assert_null(strstr(out, "TLS Web Client Authentication"));
	assert_non_null(strstr(out, "CA:FALSE"));
	assert_non_null(strstr(out, "ASN1 OID: prime256v1"));
	assert_non_null(strstr(out, "Subject: CN = node1"));
	assert_non_null(strstr(out, "Issuer: CN = drover-ca"));
	assert_non_null(strstr(out, "X509v3 Authority Key Identifier"));
	free(out);
	assert_int_equal(sh(&out, "openssl verify -purpose sslserver -CAfile "
	    "%s/ca.crt %s/server.crt 2>&1", tmpdir, tmpdir), 0);
	assert_non_null(strstr(out, "server.crt: OK"));
	free(out);
	assert_int_equal(sh(NULL, "openssl verify -CAfile %s/ca.crt "
	    "-verify_hostname localhost %s/server.crt 2>&1", tmpdir, tmpdir),
	    0);
	assert_int_equal(sh(NULL, "openssl verify -CAfile %s/ca.crt "
	    "-verify_ip 192.0.2.10 %s/server.crt 2>&1", tmpdir, tmpdir), 0);
	assert_int_not_equal(sh(NULL, "openssl verify -CAfile %s/ca.crt "
	    "-verify_ip 192.0.2.99 %s/server.crt 2>&1", tmpdir, tmpdir), 0);
	assert_int_not_equal(sh(NULL, "openssl verify -purpose sslclient "
	    "-CAfile %s/ca.crt %s/server.crt 2>&1", tmpdir, tmpdir), 0);
	assert_int_not_equal(sh(NULL, "openssl verify -CAfile "
	    "%s/other-ca.crt %s/server.crt 2>&1", tmpdir, tmpdir), 0);
	free(crt);
	free(key);
}

static void
test_client(void **state)
{
	static const char *const groups[] = { "system:masters", "dev team" };
	struct certs_req r = { .kind = CERTS_CLIENT, .cn = "alice",
	    .orgs = groups, .norgs = 2, .days = 5 };
	mbedtls_x509_crt ca, cli, cli2;
	char *crt, *key, *crt2, *key2, *out = NULL, dn[256], err[256] = "";

	(void)state;
	r.ca_cert_pem = ca_crt;
	r.ca_key_pem = ca_key;
	assert_int_equal(certs_issue(&r, &crt, &key, err, sizeof(err)), 0);
	assert_int_equal(certs_issue(&r, &crt2, &key2, err, sizeof(err)), 0);
	parse(&ca, ca_crt);
	parse(&cli, crt);
	parse(&cli2, crt2);
	check_key(&cli, key);
	assert_int_equal(verify(&cli, &ca, NULL), 0);
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &cli.subject) > 0);
	assert_string_equal(dn, "CN=alice, O=system:masters, O=dev team");
	assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&cli,
	    MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
	    0);
	/* Random serials: two certificates never share one. */
	assert_int_equal(cli.serial.len, 16);
	assert_memory_not_equal(cli.serial.p, cli2.serial.p, 16);
	assert_string_not_equal(key, key2);
	mbedtls_x509_crt_free(&cli);
	mbedtls_x509_crt_free(&cli2);
	mbedtls_x509_crt_free(&ca);

	save("ca.crt", ca_crt);
	save("alice.crt", crt);
	assert_int_equal(sh(&out, "openssl x509 -in %s/alice.crt -noout "
	    "-text", tmpdir), 0);
	assert_non_null(strstr(out, "Subject: CN = alice, O = system:masters, "
	    "O = dev team"));
	assert_non_null(strstr(out, "TLS Web Client Authentication"));
	assert_null(strstr(out, "Subject Alternative Name"));
	free(out);
	assert_int_equal(sh(NULL, "openssl verify -purpose sslclient -CAfile "
	    "%s/ca.crt %s/alice.crt 2>&1", tmpdir, tmpdir), 0);
	assert_int_not_equal(sh(NULL, "openssl verify -purpose sslserver "
	    "-CAfile %s/ca.crt %s/alice.crt 2>&1", tmpdir, tmpdir), 0);
	free(crt);
	free(key);
	free(crt2);
	free(key2);
}

static void
expect_error(const struct certs_req *r, const char *msg)
{
	char *crt = (char *)1, *key = (char *)1, err[256] = "";

	assert_int_equal(certs_issue(r, &crt, &key, err, sizeof(err)), -1);
	assert_null(crt);
	assert_null(key);
	if (!strstr(err, msg))
		fail_msg("error '%s' does not say '%s'", err, msg);
}

static void
test_bad_input(void **state)
{
	static const char *const bad_san[] = { "a b" };
	static const char *const bad_grp[] = { "x\ny" };
	struct certs_req r = { .kind = CERTS_SERVER, .cn = "n", .days = 1,
	    .sans = bad_san, .nsans = 1 };
	struct certs_req other = { .kind = CERTS_CA, .cn = "x", .days = 1 };
	char *oc, *ok, err[256];

	(void)state;
	r.ca_cert_pem = ca_crt;
	r.ca_key_pem = ca_key;
	expect_error(&r, "bad name 'a b'");
	r.nsans = 0;
	r.days = 0;
	expect_error(&r, "days must be");
	r.days = 1;
	r.cn = "";
	expect_error(&r, "common name");
	r.kind = CERTS_CLIENT;
	r.cn = "bob";
	r.orgs = bad_grp;
	r.norgs = 1;
	expect_error(&r, "control character");
	r.norgs = 0;
	r.ca_cert_pem = NULL;
	expect_error(&r, "no CA");
	r.ca_cert_pem = "not a certificate";
	expect_error(&r, "the CA certificate");
	/* A key that does not belong to the CA certificate. */
	assert_int_equal(certs_issue(&other, &oc, &ok, err, sizeof(err)), 0);
	r.ca_cert_pem = ca_crt;
	r.ca_key_pem = ok;
	expect_error(&r, "does not match");
	free(oc);
	free(ok);
}

static void
test_write_file(void **state)
{
	char path[256], err[256] = "", *back = NULL, *out = NULL;
	struct stat st;
	size_t len = 0;
	mode_t old = umask(0);

	(void)state;
	snprintf(path, sizeof(path), "%s/secret.key", tmpdir);
	assert_int_equal(certs_write_file(path, "one", 3, 0600, err,
	    sizeof(err)), 0);
	assert_int_equal(chmod(path, 0644), 0);
	/* Replaced atomically: a new inode with mode 0600 again. */
	assert_int_equal(certs_write_file(path, "two\n", 4, 0600, err,
	    sizeof(err)), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(certs_read_file(path, &back, &len, err, sizeof(err)),
	    0);
	assert_int_equal(len, 4);
	assert_string_equal(back, "two\n");
	free(back);
	/* No temporary file left behind. */
	assert_int_equal(sh(&out, "ls -A %s | grep -c tmp", tmpdir), 1);
	assert_string_equal(out, "0\n");
	free(out);
	snprintf(path, sizeof(path), "%s/no/such/dir/x", tmpdir);
	assert_int_equal(certs_write_file(path, "x", 1, 0600, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(certs_read_file(path, &back, &len, err, sizeof(err)),
	    -1);
}

static void
test_node_names(void **state)
{
	char *names[CERTS_MAX_NAMES];
	int n = certs_node_names(names, CERTS_MAX_NAMES), lo = 0, l6 = 0;

	(void)state;
	assert_true(n >= 3);
	assert_string_equal(names[0], "localhost");
	for (int i = 0; i < n; i++) {
		lo |= strcmp(names[i], "127.0.0.1") == 0;
		l6 |= strcmp(names[i], "::1") == 0;
		for (int j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	assert_true(lo && l6);
	certs_free_names(names, n);
}

/*
 * The TLS records' cipher (AES-GCM) with Drover's patch of mbedTLS's
 * AES-NI GCM multiply (mk/sysroot/patches/mbedtls): mbedTLS's own AES and
 * GCM test vectors, on the AES-NI path where the CPU has it.
 */
static void
test_aes_gcm_vectors(void **state)
{
	(void)state;
	assert_int_equal(mbedtls_aes_self_test(0), 0);
	assert_int_equal(mbedtls_gcm_self_test(0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_node_names),
		cmocka_unit_test(test_aes_gcm_vectors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
