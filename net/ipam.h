/*
 * ipam.h: pod IPs from the pod CIDR, durable in one file (rewritten
 * atomically on every change). The network address, .1 (the bridge)
 * and the broadcast address are never handed out; an address is never
 * handed out twice while it is held; never-used addresses go first, then
 * the one released longest ago.
 */
#ifndef DROVER_NET_IPAM_H
#define DROVER_NET_IPAM_H

#include <stddef.h>
#include <stdint.h>

struct ipam;

/* cidr "A.B.C.D/P" with 16 <= P <= 30; path: the state file (loaded if
 * present). NULL with a message in err. */
struct ipam *ipam_open(const char *path, const char *cidr, char *err,
    size_t errlen);
void ipam_close(struct ipam *ip);
/* The address held by owner (an existing one is returned again), host
 * byte order, or 0 with errno (ENOSPC: none left). */
uint32_t ipam_alloc(struct ipam *ip, const char *owner);
/* The address owner holds, or 0. */
uint32_t ipam_lookup(const struct ipam *ip, const char *owner);
/* Hand owner's address to to (which holds none): 0, -ENOENT, -EEXIST,
 * -EINVAL or -EIO (nothing changed). One line appended. */
int ipam_rename(struct ipam *ip, const char *owner, const char *to);
/* Release owner's address: 0, or -ENOENT. */
int ipam_release(struct ipam *ip, const char *owner);
/* The owners holding an address, in address order: start with *pos = 0,
 * call until NULL. Copy the name before releasing that owner. */
const char *ipam_next_owner(const struct ipam *ip, uint32_t *pos);
/* How many are held. */
size_t ipam_used(const struct ipam *ip);
/* The bridge's address (network + 1) and prefix length. */
uint32_t ipam_gateway(const struct ipam *ip, int *plen);
/* Parse "A.B.C.D/P": 0, or -EINVAL. */
int ipam_parse_cidr(const char *cidr, uint32_t *net, int *plen);

#endif
