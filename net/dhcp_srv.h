/*
 * dhcp_srv.h: the guest's DHCPv4 server on droverd's loop (issue 7),
 * where KubeVirt's virt-launcher runs it: one UDP socket per VMI, made
 * inside the VMI's network namespace, bound to 0.0.0.0:67 on the bridge
 * (SO_BINDTODEVICE k6t-eth0, SO_BROADCAST). Replies are broadcast to
 * 255.255.255.255:68 on the bridge (what udhcpc and dhclient accept,
 * whatever the request's broadcast flag). Malformed packets are dropped
 * (debug log); the server never stops on a guest's input.
 *
 * Use (the privileged side, after podnet has set up the namespace):
 *
 *	struct resolv_conf rc;
 *	struct dhcp_lease l = { 0 };
 *	inet_pton(AF_INET, "10.0.2.2", &l.yiaddr);   // and mask, router,
 *	...                                          // server 10.0.2.1
 *	resolv_read(NULL, &rc);                      // the node's DNS
 *	resolv_to_lease(&rc, &l);
 *	dhcp_hostname_from_name(vmi_name, l.hostname);
 *	l.mtu = <eth0's MTU in the namespace>;
 *	l.lease_secs = DHCP_LEASE_KUBEVIRT;
 *	struct dhcp_srv *s = dhcp_srv_new(loop, netns_fd, "k6t-eth0", &l);
 *	...
 *	dhcp_srv_free(s);                            // before the netns goes
 *
 * The lease is copied. Must be called by a thread allowed to setns(2)
 * (CAP_SYS_ADMIN); the calling thread returns to its own namespace.
 */
#ifndef DROVER_DHCP_SRV_H
#define DROVER_DHCP_SRV_H

#include "dhcp.h"
#include "loop.h"

struct dhcp_srv;

/*
 * netns_fd: an open /proc/PID/ns/net or /run/netns/NAME, or -1 for the
 * current namespace. NULL on failure (logged).
 */
struct dhcp_srv *dhcp_srv_new(struct loop *loop, int netns_fd,
    const char *ifname, const struct dhcp_lease *lease);
/* Stop serving: removes the socket from the loop and closes it. NULL ok. */
void dhcp_srv_free(struct dhcp_srv *s);

/* Counters (tests, logs). */
struct dhcp_srv_stats {
	unsigned long received, dropped, replied;
};
void dhcp_srv_stats(const struct dhcp_srv *s, struct dhcp_srv_stats *st);

#endif
