/* unit_net_ipam: net/ipam.c, its file, uniqueness and reuse order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ipam.h"

static char path[64];

static int
setup(void **st)
{
	(void)st;
	snprintf(path, sizeof(path), "/tmp/ipam-test-%d", (int)getpid());
	unlink(path);
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	unlink(path);
	return 0;
}

/* The warm pool hands an address to its VMI: durable, one owner. */
static void
test_rename(void **st)
{
	char err[256];
	struct ipam *ip = ipam_open(path, "10.0.0.0/29", err, sizeof(err));
	uint32_t a, b;
	(void)st;
	assert_non_null(ip);
	a = ipam_alloc(ip, ".pool-1-0");
	b = ipam_alloc(ip, "vmi-b");
	assert_int_not_equal(a, 0);
	assert_int_equal(ipam_rename(ip, ".pool-1-0", "vmi-a"), 0);
	assert_int_equal(ipam_lookup(ip, "vmi-a"), a);
	assert_int_equal(ipam_lookup(ip, ".pool-1-0"), 0);
	assert_int_equal(ipam_used(ip), 2);
	assert_int_equal(ipam_rename(ip, ".pool-1-0", "vmi-c"), -ENOENT);
	assert_int_equal(ipam_rename(ip, "vmi-a", "vmi-b"), -EEXIST);
	assert_int_equal(ipam_rename(ip, "vmi-a", "bad name"), -EINVAL);
	assert_int_equal(ipam_lookup(ip, "vmi-a"), a);
	ipam_close(ip);
	ip = ipam_open(path, "10.0.0.0/29", err, sizeof(err));
	assert_non_null(ip);
	assert_int_equal(ipam_lookup(ip, "vmi-a"), a);
	assert_int_equal(ipam_lookup(ip, "vmi-b"), b);
	assert_int_equal(ipam_lookup(ip, ".pool-1-0"), 0);
	assert_int_equal(ipam_used(ip), 2);
	ipam_close(ip);
}

static void
test_cidr(void **st)
{
	uint32_t net;
	int plen;
	(void)st;
	assert_int_equal(ipam_parse_cidr("10.244.0.0/24", &net, &plen), 0);
	assert_int_equal(net, 0x0af40000);
	assert_int_equal(plen, 24);
	assert_int_equal(ipam_parse_cidr("10.244.0.9/24", &net, &plen), 0);
	assert_int_equal(net, 0x0af40000);
	assert_int_equal(ipam_parse_cidr("10.244.0.0/31", &net, &plen), -EINVAL);
	assert_int_equal(ipam_parse_cidr("10.244.0.0", &net, &plen), -EINVAL);
	assert_int_equal(ipam_parse_cidr("10.244.0/24", &net, &plen), -EINVAL);
	assert_int_equal(ipam_parse_cidr("10.244.0.0/2x", &net, &plen), -EINVAL);
}

static void
test_alloc_unique_durable_lru(void **st)
{
	char err[256];
	struct ipam *ip = ipam_open(path, "10.0.0.0/29", err, sizeof(err));
	uint32_t a[5];
	(void)st;
	assert_non_null(ip);
	/* /29: .2 .. .6 (5 addresses) */
	for (int i = 0; i < 5; i++) {
		char o[16];
		snprintf(o, sizeof(o), "v%d", i);
		a[i] = ipam_alloc(ip, o);
		assert_int_equal(a[i], 0x0a000002 + i);
	}
	assert_int_equal(ipam_alloc(ip, "v5"), 0);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ipam_alloc(ip, "v2"), a[2]);	/* same owner */
	assert_int_equal(ipam_release(ip, "v3"), 0);
	assert_int_equal(ipam_release(ip, "v1"), 0);
	assert_int_equal(ipam_release(ip, "v1"), -ENOENT);
	ipam_close(ip);
	/* Reopened: held ones stay held, release order kept. */
	ip = ipam_open(path, "10.0.0.0/29", err, sizeof(err));
	assert_non_null(ip);
	assert_int_equal(ipam_used(ip), 3);
	assert_int_equal(ipam_lookup(ip, "v4"), a[4]);
	assert_int_equal(ipam_alloc(ip, "n1"), a[3]);	/* released first */
	assert_int_equal(ipam_alloc(ip, "n2"), a[1]);
	assert_int_equal(ipam_alloc(ip, "n3"), 0);
	assert_int_equal(ipam_alloc(ip, "bad owner"), 0);
	ipam_close(ip);
}

static void
test_never_used_first(void **st)
{
	char err[256];
	struct ipam *ip = ipam_open(path, "10.0.0.0/24", err, sizeof(err));
	(void)st;
	assert_non_null(ip);
	assert_int_equal(ipam_alloc(ip, "a"), 0x0a000002);
	assert_int_equal(ipam_release(ip, "a"), 0);
	assert_int_equal(ipam_alloc(ip, "b"), 0x0a000003);	/* not .2 */
	ipam_close(ip);
}

/* The log: one line per change, later lines win, a torn last line is
 * ignored, reopening compacts it. */
static void
test_log(void **st)
{
	char err[256] = "", line[128];
	struct ipam *ip = ipam_open(path, "10.0.0.0/24", err, sizeof(err));
	unsigned lines = 0;
	FILE *f;
	(void)st;
	assert_non_null(ip);
	assert_int_equal(ipam_alloc(ip, "a"), 0x0a000002);
	assert_int_equal(ipam_alloc(ip, "b"), 0x0a000003);
	assert_int_equal(ipam_release(ip, "a"), 0);
	for (int i = 0; i < 300; i++) {		/* grows, then compacts */
		assert_int_not_equal(ipam_alloc(ip, "c"), 0);
		assert_int_equal(ipam_release(ip, "c"), 0);
	}
	ipam_close(ip);
	f = fopen(path, "a");
	fputs("10.0.0.9 held torn", f);		/* no newline */
	fclose(f);
	ip = ipam_open(path, "10.0.0.0/24", err, sizeof(err));
	assert_non_null(ip);
	assert_int_equal(ipam_used(ip), 1);
	assert_int_equal(ipam_lookup(ip, "b"), 0x0a000003);
	assert_int_equal(ipam_lookup(ip, "a"), 0);
	assert_int_equal(ipam_lookup(ip, "torn"), 0);
	ipam_close(ip);
	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	assert_true(lines <= 253);		/* one line per address used */
}

static void
test_bad_file(void **st)
{
	char err[256] = "";
	FILE *f = fopen(path, "w");
	(void)st;
	fputs("10.0.0.2 garbage\n", f);
	fclose(f);
	assert_null(ipam_open(path, "10.0.0.0/24", err, sizeof(err)));
	assert_non_null(strstr(err, "malformed"));
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test_setup_teardown(test_alloc_unique_durable_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_used_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
