/*
 * Unit tests: the mTLS API transport's pure helpers (agent/apiserver_util.c):
 * the client identity (CN, O values) read from certificates that certs.c
 * issues, the query string encoder, Content-Length and listen addresses.
 * The transport itself runs against the real droverd in
 * tests/agent/api-transport.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mbedtls/x509_crt.h>

#include "apiserver_int.h"
#include "certs.h"

static char *ca_crt, *ca_key;

static int
setup(void **state)
{
	char err[256] = "";
	struct certs_req r = { .kind = CERTS_CA, .cn = "drover-ca",
	    .days = 30 };

	(void)state;
	if (certs_issue(&r, &ca_crt, &ca_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "CA: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(ca_crt);
	free(ca_key);
	return 0;
}

/* A client certificate's identity through its DER bytes. */
static int
identity(const char *cn, const char *const *orgs, int norgs,
    struct kapi_user *u, char *why, size_t whylen)
{
	struct certs_req r = { .kind = CERTS_CLIENT, .cn = cn, .orgs = orgs,
	    .norgs = norgs, .days = 1, .ca_cert_pem = ca_crt,
	    .ca_key_pem = ca_key };
	char err[256] = "", *crt = NULL, *key = NULL;
	mbedtls_x509_crt x;
	int rc;

	assert_int_equal(certs_issue(&r, &crt, &key, err, sizeof(err)), 0);
	mbedtls_x509_crt_init(&x);
	assert_int_equal(mbedtls_x509_crt_parse(&x, (unsigned char *)crt,
	    strlen(crt) + 1), 0);
	rc = as_identity_der(x.raw.p, x.raw.len, u, why, whylen);
	mbedtls_x509_crt_free(&x);
	free(crt);
	free(key);
	return rc;
}

static void
test_identity(void **state)
{
	const char *const groups[] = { "system:masters", "drover:viewers",
	    "team-a" };
	struct kapi_user u;
	char why[128] = "";

	(void)state;
	assert_int_equal(identity("alice", groups, 3, &u, why, sizeof(why)),
	    0);
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.ngroups, 3);
	assert_string_equal(u.groups[0], "system:masters");
	assert_string_equal(u.groups[1], "drover:viewers");
	assert_string_equal(u.groups[2], "team-a");

	assert_int_equal(identity("bob", NULL, 0, &u, why, sizeof(why)), 0);
	assert_string_equal(u.name, "bob");
	assert_int_equal(u.ngroups, 0);
}

static void
test_identity_limits(void **state)
{
	const char *many[KAPI_MAX_GROUPS + 1];
	char longname[65], why[128] = "";
	struct kapi_user u;

	(void)state;
	for (int i = 0; i <= KAPI_MAX_GROUPS; i++)
		many[i] = "g";
	assert_int_equal(identity("carol", many, KAPI_MAX_GROUPS, &u, why,
	    sizeof(why)), 0);
	assert_int_equal(u.ngroups, KAPI_MAX_GROUPS);
	assert_int_equal(identity("carol", many, KAPI_MAX_GROUPS + 1, &u, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "O values"));
	assert_string_equal(u.name, "");	/* nothing half-filled */

	/* certs.c's longest CN (X.520's 64 characters) fits */
	memset(longname, 'x', 64);
	longname[64] = '\0';
	assert_int_equal(identity(longname, NULL, 0, &u, why, sizeof(why)), 0);
	assert_string_equal(u.name, longname);

	/* not a certificate */
	assert_int_equal(as_identity_der((const unsigned char *)"\x30\x03"
	    "abc", 5, &u, why, sizeof(why)), -1);
	assert_int_equal(as_identity_der(NULL, 0, &u, why, sizeof(why)), -1);
}

static const char *
query(const char *const *frags, size_t cap)
{
	static char out[256];
	size_t len = 0;

	out[0] = '\0';
	for (; *frags; frags++)
		if (as_query_append(out, cap, &len, *frags,
		    strlen(*frags)) < 0)
			return NULL;
	assert_int_equal(strlen(out), len);
	return out;
}

static void
test_query(void **state)
{
	const char *const a[] = { "watch=true", "resourceVersion=12", NULL };
	const char *const b[] = { "labelSelector=app=web,tier in (a b)",
	    "fieldSelector=metadata.name=x", NULL };
	const char *const c[] = { "pretty", "x=", "=y", NULL };
	const char *const d[] = { "q=~-._ok+%/", NULL };

	(void)state;
	assert_string_equal(query(a, 256), "watch=true&resourceVersion=12");
	assert_string_equal(query(b, 256), "labelSelector=app%3Dweb%2Ctier"
	    "%20in%20%28a%20b%29&fieldSelector=metadata.name%3Dx");
	assert_string_equal(query(c, 256), "pretty&x=&=y");
	assert_string_equal(query(d, 256), "q=~-._ok%2B%25%2F");
	/* no room: -1, never past cap */
	assert_null(query(a, 10));
	assert_null(query(b, 20));
}

static void
test_length(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(as_parse_length("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(as_parse_length("3145728", &v), 0);
	assert_int_equal(v, 3145728);
	assert_int_equal(as_parse_length("000000000000000001", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(as_parse_length("1234567890123456789", &v), -1);
	assert_int_equal(as_parse_length("", &v), -1);
	assert_int_equal(as_parse_length("-1", &v), -1);
	assert_int_equal(as_parse_length("12 ", &v), -1);
	assert_int_equal(as_parse_length("1e3", &v), -1);
	assert_int_equal(as_parse_length("12,13", &v), -1);
	assert_int_equal(as_parse_length(NULL, &v), -1);
}

static void
test_listen(void **state)
{
	char a[64];
	int port, v6;

	(void)state;
	assert_int_equal(as_parse_listen("0.0.0.0:6443", a, sizeof(a), &port,
	    &v6), 0);
	assert_string_equal(a, "");
	assert_int_equal(port, 6443);
	assert_int_equal(v6, 0);
	assert_int_equal(as_parse_listen("127.0.0.1:0", a, sizeof(a), &port,
	    &v6), 0);
	assert_string_equal(a, "127.0.0.1");
	assert_int_equal(port, 0);
	assert_int_equal(as_parse_listen(":8443", a, sizeof(a), &port, &v6),
	    0);
	assert_string_equal(a, "");
	assert_int_equal(as_parse_listen("[::1]:443", a, sizeof(a), &port,
	    &v6), 0);
	assert_string_equal(a, "::1");
	assert_int_equal(v6, 1);
	assert_int_equal(as_parse_listen("[::]:443", a, sizeof(a), &port,
	    &v6), 0);
	assert_string_equal(a, "");
	assert_int_equal(v6, 1);
	assert_int_equal(as_parse_listen("localhost", a, sizeof(a), &port,
	    &v6), -1);
	assert_int_equal(as_parse_listen("::1:443", a, sizeof(a), &port, &v6),
	    -1);
	assert_int_equal(as_parse_listen("[::1]443", a, sizeof(a), &port,
	    &v6), -1);
	assert_int_equal(as_parse_listen("1.2.3.4:65536", a, sizeof(a), &port,
	    &v6), -1);
	assert_int_equal(as_parse_listen("1.2.3.4:", a, sizeof(a), &port,
	    &v6), -1);
	assert_int_equal(as_parse_listen("1.2.3.4:80x", a, sizeof(a), &port,
	    &v6), -1);
	assert_int_equal(as_parse_listen("1.2.3.4:80", a, 4, &port, &v6), -1);
	assert_int_equal(as_parse_listen("", a, sizeof(a), &port, &v6), -1);
}

static void
test_misc(void **state)
{
	(void)state;
	assert_string_equal(as_status_text(413), "Request Entity Too Large");
	assert_string_equal(as_status_text(201), "Created");
	assert_string_equal(as_status_text(299), "OK");
	assert_string_equal(as_status_text(599), "Server Error");
	assert_int_equal(as_list_has("a, plain.kubevirt.io ,b",
	    "plain.kubevirt.io"), 1);
	assert_int_equal(as_list_has("plain.kubevirt.io.x", "plain.kubevirt.io"),
	    0);
	assert_int_equal(as_list_has("", "x"), 0);
	assert_int_equal(as_list_has(NULL, "x"), 0);
	assert_int_equal(as_list_has("x", ""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_identity_limits),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_misc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
