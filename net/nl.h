/*
 * nl.h: rtnetlink through libmnl: links (veth, bridge), addresses,
 * routes, moving a link into a network namespace by fd. Every call
 * works in the caller's current network namespace (netns.h enters one)
 * and returns 0 or -errno.
 */
#ifndef DROVER_NET_NL_H
#define DROVER_NET_NL_H

#include <stdint.h>

struct nl;

struct nl *nl_open(void);	/* NULL and errno on failure */
void nl_close(struct nl *n);

/* Interface index of name (>0) or -ENODEV. */
int nl_ifindex(const char *name);
/* A bridge named name (-EEXIST if there is a link of that name). */
int nl_bridge_add(struct nl *n, const char *name);
/* A veth pair name/peer; the peer goes into netns peer_nsfd (-1: here). */
int nl_veth_add(struct nl *n, const char *name, const char *peer,
    int peer_nsfd);
int nl_link_del(struct nl *n, const char *name);
/* Up, optionally enslaved to master (NULL: none). */
int nl_link_up(struct nl *n, const char *name, const char *master);
/* Move link name into netns nsfd, renaming it to newname (NULL: same). */
int nl_link_netns(struct nl *n, const char *name, int nsfd,
    const char *newname);
/* IPv4 address addr/plen (network byte order) on name. */
int nl_addr_add(struct nl *n, const char *name, uint32_t addr, int plen);
/* Default route via gw (network byte order). */
int nl_route_default(struct nl *n, uint32_t gw);
/* The MAC address of name into mac[6]. */
int nl_link_mac(const char *name, unsigned char mac[6]);

#endif
