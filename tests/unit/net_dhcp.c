/* Unit tests: the guest's DHCP parser and builder (net/dhcp.c), resolv.conf
 * (net/resolv.c). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dhcp.h"
#include "resolv.h"

static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

/* A request: header, cookie, then the given options (with their end). */
static size_t mkreq(uint8_t *p, const uint8_t *opts, size_t olen)
{
	memset(p, 0, 240);
	p[0] = 1;
	p[1] = 1;
	p[2] = 6;
	p[4] = 0x12; p[5] = 0x34; p[6] = 0x56; p[7] = 0x78;
	p[10] = 0x80;
	memcpy(p + 28, mac, 6);
	p[236] = 99; p[237] = 130; p[238] = 83; p[239] = 99;
	memcpy(p + 240, opts, olen);
	return 240 + olen;
}

static uint32_t ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void lease_init(struct dhcp_lease *l)
{
	memset(l, 0, sizeof(*l));
	l->yiaddr = ip("10.0.2.2");
	l->mask = ip("255.255.255.0");
	l->router = ip("10.0.2.1");
	l->server = ip("10.0.2.1");
	l->dns[0] = ip("10.96.0.10");
	l->dns[1] = ip("8.8.8.8");
	l->ndns = 2;
	strcpy(l->search[0], "ns.svc.cluster.local");
	strcpy(l->search[1], "cluster.local");
	l->nsearch = 2;
	strcpy(l->domain, "cluster.local");
	strcpy(l->hostname, "vmi-a");
	l->mtu = 1450;
	l->lease_secs = DHCP_LEASE_KUBEVIRT;
}

static const uint8_t discover_opts[] = { 53, 1, 1, 61, 7, 1, 2, 0, 0, 0xaa,
	0xbb, 0xcc, 55, 4, 1, 3, 6, 12, 0, 0, 255 };

static void test_parse_discover(void **state)
{
	uint8_t p[600];
	struct dhcp_msg m;
	(void)state;
	size_t n = mkreq(p, discover_opts, sizeof(discover_opts));
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	assert_int_equal(m.type, DHCP_DISCOVER);
	assert_int_equal(m.flags, 0x8000);
	assert_memory_equal(&m.xid, p + 4, 4);
	assert_memory_equal(m.chaddr, mac, 6);
	assert_false(m.has_reqip);
	assert_false(m.has_server_id);
}

/* The exact options of an OFFER for lease_init's lease. */
static const uint8_t offer_opts[] = {
	53, 1, 2,
	54, 4, 10, 0, 2, 1,
	51, 4, 0x05, 0x25, 0x0a, 0x80,	/* 999 * 86400 = 86313600 */
	1, 4, 255, 255, 255, 0,
	3, 4, 10, 0, 2, 1,
	6, 8, 10, 96, 0, 10, 8, 8, 8, 8,
	15, 13, 'c', 'l', 'u', 's', 't', 'e', 'r', '.', 'l', 'o', 'c', 'a', 'l',
	12, 5, 'v', 'm', 'i', '-', 'a',
	26, 2, 0x05, 0xaa,
	119, 37,
	2, 'n', 's', 3, 's', 'v', 'c', 7, 'c', 'l', 'u', 's', 't', 'e', 'r',
	5, 'l', 'o', 'c', 'a', 'l', 0,
	7, 'c', 'l', 'u', 's', 't', 'e', 'r', 5, 'l', 'o', 'c', 'a', 'l', 0,
	255,
};

static void test_offer_bytes(void **state)
{
	uint8_t p[600], out[DHCP_REPLY_MAX];
	struct dhcp_msg m;
	struct dhcp_lease l;
	(void)state;
	lease_init(&l);
	size_t n = mkreq(p, discover_opts, sizeof(discover_opts));
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	assert_int_equal(dhcp_decide(&m, &l), DHCP_OFFER);
	ssize_t r = dhcp_build(&m, DHCP_OFFER, &l, out, sizeof(out));
	assert_int_equal(r, 240 + sizeof(offer_opts));
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 6);
	assert_memory_equal(out + 4, p + 4, 4);		/* xid */
	assert_int_equal(out[10], 0x80);		/* broadcast flag */
	assert_memory_equal(out + 12, "\0\0\0\0", 4);	/* ciaddr */
	assert_memory_equal(out + 16, "\x0a\x00\x02\x02", 4);	/* yiaddr */
	assert_memory_equal(out + 28, mac, 6);
	assert_memory_equal(out + 236, "\x63\x82\x53\x63", 4);
	assert_memory_equal(out + 240, offer_opts, sizeof(offer_opts));
	/* And our own parser sees it as a reply, not a request. */
	assert_int_equal(dhcp_parse(out, (size_t)r, &m), -1);
}

static size_t mkrequest(uint8_t *p, const char *reqip, const char *sid)
{
	uint8_t o[32];
	size_t k = 0;
	o[k++] = 53; o[k++] = 1; o[k++] = 3;
	if (reqip) {
		uint32_t a = ip(reqip);
		o[k++] = 50; o[k++] = 4;
		memcpy(o + k, &a, 4);
		k += 4;
	}
	if (sid) {
		uint32_t a = ip(sid);
		o[k++] = 54; o[k++] = 4;
		memcpy(o + k, &a, 4);
		k += 4;
	}
	o[k++] = 255;
	return mkreq(p, o, k);
}

static void test_request(void **state)
{
	uint8_t p[600], out[DHCP_REPLY_MAX];
	struct dhcp_msg m;
	struct dhcp_lease l;
	(void)state;
	lease_init(&l);
	assert_int_equal(dhcp_parse(p, mkrequest(p, "10.0.2.2", "10.0.2.1"),
	    &m), 0);
	assert_true(m.has_reqip && m.has_server_id);
	assert_int_equal(dhcp_decide(&m, &l), DHCP_ACK);
	assert_int_equal(dhcp_build(&m, DHCP_ACK, &l, out, sizeof(out)),
	    240 + sizeof(offer_opts));
	assert_int_equal(out[242], DHCP_ACK);
	assert_memory_equal(out + 243, offer_opts + 3, sizeof(offer_opts) - 3);
	/* INIT-REBOOT: no server id. */
	dhcp_parse(p, mkrequest(p, "10.0.2.2", NULL), &m);
	assert_int_equal(dhcp_decide(&m, &l), DHCP_ACK);
	/* Another address: NAK, no lease options, yiaddr 0. */
	dhcp_parse(p, mkrequest(p, "192.168.1.5", NULL), &m);
	assert_int_equal(dhcp_decide(&m, &l), DHCP_NAK);
	assert_int_equal(dhcp_build(&m, DHCP_NAK, &l, out, sizeof(out)), 300);
	static const uint8_t nak[] = { 53, 1, 6, 54, 4, 10, 0, 2, 1, 255 };
	assert_memory_equal(out + 240, nak, sizeof(nak));
	for (size_t i = 240 + sizeof(nak); i < 300; i++)
		assert_int_equal(out[i], 0);	/* padded to BOOTP's 300 */
	assert_memory_equal(out + 16, "\0\0\0\0", 4);
	/* For another server: silence. */
	dhcp_parse(p, mkrequest(p, "10.0.2.2", "10.0.2.9"), &m);
	assert_int_equal(dhcp_decide(&m, &l), 0);
	/* Renewing: ciaddr. */
	dhcp_parse(p, mkrequest(p, NULL, NULL), &m);
	assert_int_equal(dhcp_decide(&m, &l), DHCP_NAK);
	size_t n = mkrequest(p, NULL, NULL);
	memcpy(p + 12, &l.yiaddr, 4);
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	assert_int_equal(dhcp_decide(&m, &l), DHCP_ACK);
	/* Release, decline, inform: no reply. */
	for (int t = DHCP_DECLINE; t <= DHCP_INFORM; t++) {
		if (t == DHCP_ACK || t == DHCP_NAK)
			continue;
		uint8_t o[] = { 53, 1, (uint8_t)t, 255 };
		assert_int_equal(dhcp_parse(p, mkreq(p, o, sizeof(o)), &m), 0);
		assert_int_equal(dhcp_decide(&m, &l), 0);
	}
}

static void test_overload(void **state)
{
	uint8_t p[600];
	struct dhcp_msg m;
	(void)state;
	/* The message type in file, the server id in sname. */
	uint8_t o[] = { 52, 1, 3, 255 };
	size_t n = mkreq(p, o, sizeof(o));
	memcpy(p + 108, "\x35\x01\x03\xff", 4);
	memcpy(p + 44, "\x36\x04\x0a\x00\x02\x01\xff", 7);
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	assert_int_equal(m.type, DHCP_REQUEST);
	assert_true(m.has_server_id);
	/* Only file overloaded: sname's bytes are not options. */
	p[242] = 1;
	memcpy(p + 44, "\x35\x01\x01\xff", 4);
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	assert_int_equal(m.type, DHCP_REQUEST);
	/* An overload inside file is ignored, not followed. */
	memcpy(p + 108, "\x34\x01\x03\x35\x01\x03\xff", 7);
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	/* An option running past file's end. */
	memset(p + 108, 0, 128);
	memcpy(p + 108, "\x35\x01\x03", 3);
	p[234] = 12;
	p[235] = 5;
	assert_int_equal(dhcp_parse(p, n, &m), -1);
}

static void expect_drop(const uint8_t *p, size_t n)
{
	struct dhcp_msg m;
	/* An exact-size copy: ASan sees any read past it. */
	uint8_t *c = malloc(n ? n : 1);
	assert_non_null(c);
	memcpy(c, p, n);
	assert_int_equal(dhcp_parse(c, n, &m), -1);
	free(c);
}

static void test_malformed(void **state)
{
	uint8_t p[600], q[600];
	(void)state;
	size_t n = mkreq(p, discover_opts, sizeof(discover_opts));
	struct dhcp_msg m;
	assert_int_equal(dhcp_parse(p, n, &m), 0);
	/* Truncated anywhere before the end option. */
	for (size_t k = 0; k < n - 3; k++)
		expect_drop(p, k);
	assert_int_equal(dhcp_parse(NULL, 0, &m), -1);
#define MUT(off, val) do { memcpy(q, p, n); q[off] = (val); \
	expect_drop(q, n); } while (0)
	MUT(0, 2);		/* BOOTREPLY */
	MUT(1, 6);		/* IEEE 802 */
	MUT(2, 16);		/* huge hlen */
	MUT(2, 0);
	MUT(236, 0);		/* no magic */
	MUT(239, 98);
	MUT(241, 2);		/* message type length 2 */
	MUT(242, 0);		/* unknown type */
	MUT(242, 9);
	MUT(244, 200);		/* client id length past the end */
	MUT(n - 1, 0);		/* no end option (pads to the end) */
	MUT(n - 1, 12);		/* code without length at the end */
#undef MUT
	uint8_t bad[][12] = {
		{ 255 },				/* no type */
		{ 53, 1, 1, 53, 1, 3, 255 },		/* type twice */
		{ 53, 1, 3, 50, 3, 10, 0, 2, 255 },	/* reqip length */
		{ 53, 1, 3, 54, 5, 10, 0, 2, 1, 0, 255 }, /* sid length */
		{ 53, 1, 1, 52, 1, 4, 255 },		/* overload value */
		{ 53, 1, 1, 52, 2, 1, 1, 255 },		/* overload length */
		{ 53, 1, 1, 52, 1, 1, 52, 1, 2, 255 },	/* overload twice */
		{ 53, 0, 255 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_drop(p, mkreq(p, bad[i], sizeof(bad[i])));
	/* Overloaded file with no type anywhere. */
	uint8_t o[] = { 52, 1, 1, 255 };
	expect_drop(p, mkreq(p, o, sizeof(o)));
}

static void test_long_search(void **state)
{
	uint8_t p[600], out[DHCP_REPLY_MAX];
	struct dhcp_msg m;
	struct dhcp_lease l;
	(void)state;
	lease_init(&l);
	l.nsearch = DHCP_MAX_SEARCH;
	for (int i = 0; i < DHCP_MAX_SEARCH; i++)
		snprintf(l.search[i], sizeof(l.search[i]),
		    "a%d.%063d.example.com", i, 0);
	strcpy(l.search[3], "bad..name");	/* left out */
	size_t n = mkreq(p, discover_opts, sizeof(discover_opts));
	dhcp_parse(p, n, &m);
	ssize_t r = dhcp_build(&m, DHCP_OFFER, &l, out, sizeof(out));
	assert_true(r > 300);
	/* Gather the 119 pieces and check the concatenation. */
	uint8_t got[2048], want[2048];
	size_t gl = 0, wl = 0, i = 240;
	int pieces = 0;
	while (out[i] != 255) {
		assert_true(i + 2 <= (size_t)r);
		if (out[i] == 119) {
			memcpy(got + gl, out + i + 2, out[i + 1]);
			gl += out[i + 1];
			pieces++;
		}
		i += 2 + out[i + 1];
	}
	for (int k = 0; k < DHCP_MAX_SEARCH; k++) {
		if (k == 3)
			continue;
		char lab[4];
		int ll = snprintf(lab, sizeof(lab), "a%d", k);
		want[wl++] = (uint8_t)ll;
		memcpy(want + wl, lab, (size_t)ll);
		wl += (size_t)ll;
		want[wl++] = 63;
		memset(want + wl, '0', 63);
		wl += 63;
		memcpy(want + wl, "\x07" "example" "\x03" "com" "\x00", 13);
		wl += 13;
	}
	assert_int_equal(gl, wl);
	assert_memory_equal(got, want, wl);
	assert_int_equal(pieces, (int)((wl + 254) / 255));
}

static void test_hostname(void **state)
{
	char h[DHCP_HOSTNAME_MAX + 1], longname[200];
	(void)state;
	dhcp_hostname_from_name("cirros-abc12.example.org", h);
	assert_string_equal(h, "cirros-abc12");
	dhcp_hostname_from_name("plain", h);
	assert_string_equal(h, "plain");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	dhcp_hostname_from_name(longname, h);
	assert_int_equal(strlen(h), 63);
	assert_string_equal(dhcp_type_name(DHCP_ACK), "ACK");
	assert_string_equal(dhcp_type_name(42), "?");
}

static void test_resolv(void **state)
{
	struct resolv_conf rc;
	(void)state;
	const char *t =
	    "# generated\n"
	    "nameserver 10.96.0.10\n"
	    "nameserver fd00::10\n"
	    "nameserver   192.168.1.1 # home\n"
	    "nameserver not-an-ip\n"
	    "domain example.org.\n"
	    "search a.svc.cluster.local svc.cluster.local.\tcluster.local\n"
	    "options ndots:5\n"
	    "nameserver 1.1.1.1";	/* no final newline */
	resolv_parse(t, strlen(t), &rc);
	assert_int_equal(rc.ndns, 3);
	assert_int_equal(rc.dns[0], ip("10.96.0.10"));
	assert_int_equal(rc.dns[1], ip("192.168.1.1"));
	assert_int_equal(rc.dns[2], ip("1.1.1.1"));
	assert_string_equal(rc.domain, "example.org");
	assert_int_equal(rc.nsearch, 3);
	assert_string_equal(rc.search[0], "a.svc.cluster.local");
	assert_string_equal(rc.search[1], "svc.cluster.local");
	assert_string_equal(rc.search[2], "cluster.local");
	/* Limits: 9 servers and domains; a 300-character name skipped. */
	char big[4096];
	size_t k = 0;
	for (int i = 0; i < 10; i++)
		k += (size_t)snprintf(big + k, sizeof(big) - k,
		    "nameserver 10.0.0.%d\n", i);
	k += (size_t)snprintf(big + k, sizeof(big) - k, "search ");
	memset(big + k, 'y', 300);
	k += 300;
	for (int i = 0; i < 10; i++)
		k += (size_t)snprintf(big + k, sizeof(big) - k, " d%d", i);
	resolv_parse(big, k, &rc);
	assert_int_equal(rc.ndns, DHCP_MAX_DNS);
	assert_int_equal(rc.nsearch, DHCP_MAX_SEARCH);
	assert_string_equal(rc.search[0], "d0");
	/* From a file, into a lease. */
	char path[] = "/tmp/unit_net_dhcp.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	close(fd);
	assert_int_equal(resolv_read(path, &rc), 0);
	unlink(path);
	struct dhcp_lease l;
	lease_init(&l);
	resolv_to_lease(&rc, &l);
	assert_int_equal(l.ndns, 3);
	assert_string_equal(l.search[2], "cluster.local");
	assert_string_equal(l.domain, "example.org");
	assert_true(resolv_read("/nonexistent/resolv.conf", &rc) < 0);
	assert_int_equal(rc.ndns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_discover),
		cmocka_unit_test(test_offer_bytes),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_overload),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_long_search),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_resolv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
