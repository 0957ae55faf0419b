/*
 * podnet_int.h: what podnet.c and podnet_pool.c share.
 */
#ifndef DROVER_NET_PODNET_INT_H
#define DROVER_NET_PODNET_INT_H

#include <limits.h>
#include <net/if.h>
#include <sys/types.h>

#include "podnet.h"

struct ipam;
struct nl;

/* A pool entry: a netns <netns_dir>/<name> made whole by the filler, its
 * address held in IPAM by <name>. */
struct podnet_ent {
	int state;		/* 0: unused, 1: asked for, 2: ready */
	char name[32];		/* PODNET_POOL_PREFIX "<pid>-<seq>" */
	unsigned seq;		/* the oldest ready one is handed over first */
	uint32_t ip;		/* host byte order */
	int tap_fd;
	unsigned char mac[6];
	int mtu;
};

#define PODNET_POOL_PREFIX	".pool-"

struct podnet {
	char bridge[IFNAMSIZ];
	char netns_dir[PATH_MAX];
	struct ipam *ipam;
	struct nl *nl;
	uint32_t gw;
	int plen;
	/* The warm pool (podnet_pool.c). */
	int pool;		/* target size, 0: none */
	int pool_sock;		/* to the filler, -1: none */
	pid_t pool_pid;
	unsigned pool_seq;
	int pool_broken;	/* a fill failed: no more asked for */
	struct podnet_ent ent[PODNET_POOL_MAX];
	struct podnet_pool_stats stats;
};

/* Steps 2-4 of podnet_setup for address ip (host order) under netns
 * <netns_dir>/<name> with node-side veth veth; IPAM untouched. All or
 * nothing. 0 or -errno with a message in err. */
int podnet_make(struct podnet *pn, const char *name, uint32_t ip,
    const char *veth, const struct nft_port *ports, size_t nports,
    int guest_nsfd, struct podnet_result *res, char *err, size_t errlen);
/* The node side's name for netns name: "dv" + FNV-1a. */
void podnet_veth_name(const char *name, char out[IFNAMSIZ]);

int podnet_pool_start(struct podnet *pn, char *err, size_t errlen);
void podnet_pool_stop(struct podnet *pn);
/* Stale pool entries (netns and addresses) of an earlier run: removed. */
void podnet_pool_clean(struct podnet *pn);
/* Hand a ready entry to VMI id: 1 (res filled), 0 (none ready), or
 * -errno (the entry is gone, its address released; err says why). With
 * wait, waits for an entry asked for when none is ready. */
int podnet_pool_take(struct podnet *pn, const char *id,
    const struct nft_port *ports, size_t nports, int wait,
    struct podnet_result *res, char *err, size_t errlen);
/* Ask the filler for entries up to the target. */
void podnet_pool_refill(struct podnet *pn);
int podnet_pool_name(const char *name);

#endif
