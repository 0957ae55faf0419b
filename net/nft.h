/*
 * nft.h: the nftables rules, through libnftables (no nft binary).
 *
 * In the VMI's netns: KubeVirt's masquerade binding, table ip nat with
 * chains prerouting/input/output/postrouting, KUBEVIRT_PREINBOUND and
 * KUBEVIRT_POSTINBOUND (reference/kubevirt.md). On the node: table ip
 * drover_nat_<bridge> masquerading the pod CIDR towards every interface
 * but the bridge (one table per bridge: test agents beside the node's own
 * never touch each other's).
 */
#ifndef DROVER_NET_NFT_H
#define DROVER_NET_NFT_H

#include <stddef.h>
#include <stdint.h>

struct nft_port {
	int proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
};

/* The pod's rules, in the current netns: ports[0..nports) DNATed, or
 * everything when nports is 0. 0 or -errno with a message in err. */
int nft_pod_apply(const struct nft_port *ports, size_t nports, char *err,
    size_t errlen);
/* The same in place of the pod's present nat table, in one transaction
 * (the old table stays if it fails). */
int nft_pod_replace(const struct nft_port *ports, size_t nports, char *err,
    size_t errlen);
/* The node's table for cidr ("10.244.0.0/24") behind bridge. */
int nft_node_apply(const char *cidr, const char *bridge, char *err,
    size_t errlen);
int nft_node_remove(const char *bridge, char *err, size_t errlen);
/* The rule text of nft_pod_apply (for tests and the benchmark). */
int nft_pod_script(const struct nft_port *ports, size_t nports, char *out,
    size_t len);

#endif
