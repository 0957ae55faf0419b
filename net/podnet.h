/*
 * podnet.h: KubeVirt's default (pod) network for one VMI, masquerade
 * binding.
 *
 * The node: bridge <bridge> holds the first address of the pod CIDR, IP
 * forwarding is on, table ip drover_nat_<bridge> masquerades the CIDR. Per VMI: a
 * netns <netns_dir>/<id>, a veth pair (node side "dv" + 8 hex digits of
 * a hash of id, in the bridge; pod side eth0 with the pod IP, default
 * route via the bridge), bridge k6t-eth0 10.0.2.1/24, tap tap0 in it
 * (persistent; its fd goes to drover-vmm), KubeVirt's nat table.
 */
#ifndef DROVER_NET_PODNET_H
#define DROVER_NET_PODNET_H

#include <stddef.h>
#include <stdint.h>

#include "nft.h"

struct podnet;

struct podnet_config {
	const char *bridge;	/* NULL: "drover0"; [A-Za-z0-9_], < 16 */
	const char *cidr;	/* NULL: "10.244.0.0/24" */
	const char *netns_dir;	/* NULL: "/run/drover/netns" */
	const char *ipam_path;	/* the IPAM state file */
	int pool;		/* warm pool size (0: none), <= PODNET_POOL_MAX */
};

#define PODNET_POOL_MAX	8

/* The warm pool's figures (podnet_pool_stats). */
struct podnet_pool_stats {
	unsigned long made;	/* entries the filler made */
	double made_us;		/* their total set-up time in the filler */
	unsigned long taken;	/* set-ups served from the pool */
	unsigned long missed;	/* set-ups that found none ready */
	unsigned long failed;	/* fills that failed */
};

struct podnet_result {
	uint32_t ip;		/* host byte order */
	char ip_str[16];
	unsigned char mac[6];	/* eth0's */
	int mtu;		/* eth0's (the guest's DHCP option 26) */
	int tap_fd;		/* -1 with a guest netns */
	int pooled;		/* 1: from the warm pool */
};

/*
 * Node set-up (idempotent). NULL with a message in err. With cfg->pool,
 * a filler process (forked here: it keeps no fd of the caller's but its
 * socket) makes whole pod netns ahead, each with an address, and
 * podnet_setup hands one over (rename of the netns file, the address's
 * owner, the nat table replaced when ports are listed): no rtnetlink
 * request, so no wait for the RTNL lock that the kernel holds while it
 * destroys torn-down netns. Returns once the pool is full.
 */
struct podnet *podnet_open(const struct podnet_config *cfg, char *err,
    size_t errlen);
void podnet_close(struct podnet *pn);

/*
 * Set up VMI id (a plain name: [A-Za-z0-9._-], at most 200 bytes). With
 * guest_nsfd >= 0 (tests), tap0 is a veth whose peer "eth0" goes into
 * that netns instead of a tap. All or nothing: on failure everything
 * made is removed. 0 or -errno with a message in err.
 */
int podnet_setup(struct podnet *pn, const char *id, const struct nft_port *ports,
    size_t nports, int guest_nsfd, struct podnet_result *res, char *err,
    size_t errlen);
/* Remove it all (idempotent): the netns is unmounted and the address
 * released at once; the kernel destroys the netns and the links in it
 * (the veth pair too) on its own workqueue, milliseconds later. */
int podnet_teardown(struct podnet *pn, const char *id, char *err,
    size_t errlen);
/* A running VMI's network after an agent restart: 0 and res (tap_fd -1)
 * when its netns and address are there, -ENOENT otherwise. */
int podnet_adopt(struct podnet *pn, const char *id, struct podnet_result *res);
/* Open the persistent tap0 of VMI id's netns again (the agent restarted
 * and the VMM is respawned: the old VMM's fd is gone; a tap without
 * IFF_MULTI_QUEUE takes one attachment at a time, so not while a VMM
 * holds it). fd (O_CLOEXEC) or -errno. */
int podnet_tap_open(struct podnet *pn, const char *id);
/* Tear down every netns in netns_dir, and release every address held by
 * an owner, not named in keep[0..nkeep) (left by an agent that died half
 * way, or whose VMI is gone; after a reboot /run is empty but the IPAM
 * file is not): how many VMIs, or -errno. */
int podnet_prune(struct podnet *pn, const char *const *keep, size_t nkeep);
/* The warm pool's figures so far. */
void podnet_pool_stats(const struct podnet *pn, struct podnet_pool_stats *st);
/* Is id acceptable? */
int podnet_id_ok(const char *id);

#endif
