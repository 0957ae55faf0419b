/*
 * dhcp.h: a DHCPv4 server's pure half (RFC 2131/2132): parse a client's
 * BOOTREQUEST with strict bounds, decide the answer for one configured
 * lease (KubeVirt's masquerade binding: the guest always gets the same
 * address) and build the OFFER/ACK/NAK. No sockets, no allocation.
 *
 * Addresses are in network byte order (as in struct in_addr.s_addr).
 */
#ifndef DROVER_DHCP_H
#define DROVER_DHCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAX_DNS 8
#define DHCP_MAX_SEARCH 8
#define DHCP_NAME_MAX 253	/* a domain name, text form */
#define DHCP_HOSTNAME_MAX 63
/* Largest reply dhcp_build() writes (the options of a full lease fit). */
#define DHCP_REPLY_MAX 1500
/* KubeVirt's lease: 999 days. */
#define DHCP_LEASE_KUBEVIRT (999u * 24 * 3600)

/* Message types (option 53). */
enum {
	DHCP_DISCOVER = 1, DHCP_OFFER, DHCP_REQUEST, DHCP_DECLINE,
	DHCP_ACK, DHCP_NAK, DHCP_RELEASE, DHCP_INFORM,
};

/* What the guest gets. Empty strings and zero counts/mtu: option left out. */
struct dhcp_lease {
	uint32_t yiaddr, mask, router, server;
	uint32_t dns[DHCP_MAX_DNS];
	int ndns;
	char search[DHCP_MAX_SEARCH][DHCP_NAME_MAX + 1];
	int nsearch;
	char domain[DHCP_NAME_MAX + 1];	/* option 15 */
	char hostname[DHCP_HOSTNAME_MAX + 1];	/* option 12 */
	uint16_t mtu;			/* option 26; 0: none */
	uint32_t lease_secs;
};

/* A parsed request: what the server needs of it. */
struct dhcp_msg {
	uint8_t op, htype, hlen;
	uint32_t xid;
	uint16_t flags;
	uint32_t ciaddr, giaddr;
	uint8_t chaddr[16];
	int type;			/* option 53 */
	int has_reqip, has_server_id;
	uint32_t reqip, server_id;	/* options 50, 54 */
};

/*
 * Parse a BOOTREQUEST from an Ethernet client (htype 1, hlen 6) with the
 * magic cookie and a message type; options are walked in the options
 * field, then in file/sname if option 52 says so (an overload inside
 * them is ignored, so no loops). Every length is checked against its
 * field; anything malformed returns -1 with the reason logged at debug.
 */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m);

/*
 * The answer to a request: DHCP_OFFER (DISCOVER), DHCP_ACK (REQUEST of
 * our address, for us or for no server in particular), DHCP_NAK (REQUEST
 * of another address), or 0: no reply (REQUEST for another server,
 * DECLINE, RELEASE, INFORM, replies).
 */
int dhcp_decide(const struct dhcp_msg *req, const struct dhcp_lease *l);

/*
 * Build the reply of type (DHCP_OFFER, DHCP_ACK, DHCP_NAK) to req into
 * out (cap >= DHCP_REPLY_MAX is always enough); its length, or -1.
 * Options in order: 53, 54, then for OFFER/ACK 51, 1, 3, 6, 15, 12, 26,
 * 119 (RFC 1035 labels without compression, split per RFC 3396 past 255
 * bytes), 255; padded to 300 bytes (BOOTP's minimum). Names that are not
 * valid DNS names are left out with a warning.
 */
ssize_t dhcp_build(const struct dhcp_msg *req, int type,
    const struct dhcp_lease *l, uint8_t *out, size_t cap);

/* KubeVirt's hostname: the VMI name up to its first dot, at most 63. */
void dhcp_hostname_from_name(const char *name, char out[DHCP_HOSTNAME_MAX + 1]);

/* "DISCOVER", ... for logs. */
const char *dhcp_type_name(int type);

#endif
