/* unit_net_nft: the rule text of KubeVirt's masquerade binding. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "nft.h"

static int
count(const char *s, const char *sub)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, sub)) != NULL; p++)
		n++;
	return n;
}

static void
test_no_ports(void **st)
{
	char s[8192];
	(void)st;
	assert_int_equal(nft_pod_script(NULL, 0, s, sizeof(s)), 0);
	assert_non_null(strstr(s, "add table ip nat\n"));
	assert_non_null(strstr(s, "add chain ip nat KUBEVIRT_PREINBOUND\n"));
	assert_non_null(strstr(s, "add chain ip nat KUBEVIRT_POSTINBOUND\n"));
	assert_non_null(strstr(s, "add rule ip nat postrouting ip saddr 10.0.2.2 counter masquerade\n"));
	assert_non_null(strstr(s, "add rule ip nat prerouting iifname \"eth0\" counter jump KUBEVIRT_PREINBOUND\n"));
	assert_non_null(strstr(s, "add rule ip nat postrouting oifname \"k6t-eth0\" counter jump KUBEVIRT_POSTINBOUND\n"));
	assert_non_null(strstr(s, "add rule ip nat KUBEVIRT_PREINBOUND counter dnat to 10.0.2.2\n"));
	assert_non_null(strstr(s, "add rule ip nat KUBEVIRT_POSTINBOUND ip saddr 127.0.0.1 counter snat to 10.0.2.1\n"));
	assert_non_null(strstr(s, "add rule ip nat output ip daddr 127.0.0.1 counter dnat to 10.0.2.2\n"));
	assert_int_equal(count(s, "dport"), 0);
	assert_int_equal(count(s, "add chain"), 6);
}

static void
test_ports(void **st)
{
	struct nft_port p[] = { { IPPROTO_TCP, 22 }, { IPPROTO_UDP, 53 } };
	char s[8192];
	(void)st;
	assert_int_equal(nft_pod_script(p, 2, s, sizeof(s)), 0);
	assert_non_null(strstr(s, "add rule ip nat KUBEVIRT_PREINBOUND tcp dport 22 counter dnat to 10.0.2.2\n"));
	assert_non_null(strstr(s, "add rule ip nat KUBEVIRT_POSTINBOUND tcp dport 22 ip saddr 127.0.0.1 counter snat to 10.0.2.1\n"));
	assert_non_null(strstr(s, "add rule ip nat output ip daddr 127.0.0.1 tcp dport 22 counter dnat to 10.0.2.2\n"));
	assert_non_null(strstr(s, "udp dport 53 counter dnat to 10.0.2.2\n"));
	assert_null(strstr(s, "KUBEVIRT_PREINBOUND counter dnat"));
	assert_int_equal(count(s, "dport"), 6);
}

static void
test_bad(void **st)
{
	struct nft_port bad[] = { { IPPROTO_ICMP, 1 } }, zero[] = { { IPPROTO_TCP, 0 } };
	char s[8192], small[64];
	(void)st;
	assert_int_equal(nft_pod_script(bad, 1, s, sizeof(s)), -EINVAL);
	assert_int_equal(nft_pod_script(zero, 1, s, sizeof(s)), -EINVAL);
	assert_int_equal(nft_pod_script(NULL, 0, small, sizeof(small)), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_no_ports),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
