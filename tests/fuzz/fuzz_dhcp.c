/*
 * libFuzzer target: a DHCP request comes from the guest and is untrusted
 * (net/dhcp.c). A parsed request must be an Ethernet BOOTREQUEST with a
 * known message type; the reply built for it must fit, be a BOOTREPLY
 * with the request's xid and chaddr, and end with an end option.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dhcp_lease l = {
		.yiaddr = 0x0202000a, .mask = 0x00ffffff, .router = 0x0102000a,
		.server = 0x0102000a, .dns = { 0x0a0a0a0a }, .ndns = 1,
		.search = { "default.svc.cluster.local", "svc.cluster.local" },
		.nsearch = 2, .domain = "cluster.local", .hostname = "vmi",
		.mtu = 1500, .lease_secs = DHCP_LEASE_KUBEVIRT,
	};
	struct dhcp_msg m;
	uint8_t out[DHCP_REPLY_MAX];

	/* A copy of exactly size bytes: ASan catches reads past it. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (dhcp_parse(buf, size, &m) == 0) {
		if (m.op != 1 || m.htype != 1 || m.hlen != 6 ||
		    m.type < DHCP_DISCOVER || m.type > DHCP_INFORM)
			abort();
		int t = dhcp_decide(&m, &l);
		if (t) {
			ssize_t n = dhcp_build(&m, t, &l, out, sizeof(out));
			if (n < 300 || out[0] != 2 ||
			    memcmp(out + 4, buf + 4, 4) ||
			    memcmp(out + 28, buf + 28, 16))
				abort();
		}
	}
	free(buf);
	return 0;
}
