/*
 * resolv.h: the node's resolv.conf, as KubeVirt hands it to the guest by
 * DHCP: IPv4 nameservers, search domains, domain. Bounded: at most 64 KiB
 * read, DHCP_MAX_DNS servers, DHCP_MAX_SEARCH domains, names of at most
 * 253 characters; what does not fit or parse is skipped with a debug log.
 */
#ifndef DROVER_RESOLV_H
#define DROVER_RESOLV_H

#include "dhcp.h"

struct resolv_conf {
	uint32_t dns[DHCP_MAX_DNS];	/* network byte order */
	int ndns;
	char search[DHCP_MAX_SEARCH][DHCP_NAME_MAX + 1];
	int nsearch;
	char domain[DHCP_NAME_MAX + 1];
};

/* Parse text (len bytes, need not be NUL-terminated). */
void resolv_parse(const char *text, size_t len, struct resolv_conf *rc);
/* Read path (NULL: /etc/resolv.conf); 0, or -errno (rc left empty). */
int resolv_read(const char *path, struct resolv_conf *rc);
/* Copy the servers, search list and domain into a lease. */
void resolv_to_lease(const struct resolv_conf *rc, struct dhcp_lease *l);

#endif
