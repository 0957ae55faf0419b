/*
 * podnet.c: the steps of podnet.h in order; the netns is made first and
 * removed on any failure, which takes everything inside it along; the
 * node-side veth is deleted explicitly (synchronous), the address
 * released last.
 */
#include "podnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipam.h"
#include "log.h"
#include "netns.h"
#include "nl.h"
#include "podnet_int.h"


int
podnet_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 200 || id[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || strchr("._-", id[i])))
			return 0;
	return 1;
}

/* A bridge name that also names the node's nft table. */
static int
podnet_bridge_ok(const char *br)
{
	if (br[0] == '\0')
		return 0;
	for (; *br; br++)
		if (!((*br >= 'a' && *br <= 'z') || (*br >= 'A' && *br <= 'Z') ||
		    (*br >= '0' && *br <= '9') || *br == '_'))
			return 0;
	return 1;
}

/* eth0's MTU in the current netns, or 0. */
static int
podnet_mtu(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = 0;

	if (fd < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	close(fd);
	return mtu;
}

void
podnet_veth_name(const char *id, char out[IFNAMSIZ])
{
	uint32_t h = 2166136261u;

	for (const char *c = id; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	snprintf(out, IFNAMSIZ, "dv%08x", h);
}

static int
podnet_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

#define FAIL(r_, ...) do { snprintf(err, errlen, __VA_ARGS__); r = (r_); \
	goto out; } while (0)

struct podnet *
podnet_open(const struct podnet_config *cfg, char *err, size_t errlen)
{
	struct podnet *pn = calloc(1, sizeof(*pn));
	const char *br = cfg->bridge ? cfg->bridge : "drover0";
	const char *cidr = cfg->cidr ? cfg->cidr : "10.244.0.0/24";
	const char *dir = cfg->netns_dir ? cfg->netns_dir : "/run/drover/netns";
	char gwtxt[INET_ADDRSTRLEN];
	struct in_addr in;
	int r;

	if (pn == NULL)
		return NULL;
	pn->pool_sock = -1;
	if (cfg->pool < 0 || cfg->pool > PODNET_POOL_MAX) {
		snprintf(err, errlen, "podnet: pool: 0 to %d", PODNET_POOL_MAX);
		goto fail;
	}
	pn->pool = cfg->pool;
	if (strlen(br) >= IFNAMSIZ || !podnet_bridge_ok(br) ||
	    strlen(dir) >= sizeof(pn->netns_dir) || dir[0] != '/') {
		snprintf(err, errlen, "podnet: bad bridge name or netns dir");
		goto fail;
	}
	strcpy(pn->bridge, br);
	strcpy(pn->netns_dir, dir);
	if ((pn->ipam = ipam_open(cfg->ipam_path, cidr, err, errlen)) == NULL)
		goto fail;
	if ((pn->nl = nl_open()) == NULL) {
		snprintf(err, errlen, "podnet: netlink: %s", strerror(errno));
		goto fail;
	}
	pn->gw = ipam_gateway(pn->ipam, &pn->plen);
	if (nl_ifindex(br) < 0) {
		if ((r = nl_bridge_add(pn->nl, br)) < 0 ||
		    (r = nl_addr_add(pn->nl, br, htonl(pn->gw), pn->plen)) < 0) {
			snprintf(err, errlen, "podnet: bridge %s: %s", br,
			    strerror(-r));
			nl_link_del(pn->nl, br);
			goto fail;
		}
	}
	if ((r = nl_link_up(pn->nl, br, NULL)) < 0 ||
	    (r = podnet_sysctl("/proc/sys/net/ipv4/ip_forward", "1")) < 0) {
		snprintf(err, errlen, "podnet: bridge %s up / ip_forward: %s",
		    br, strerror(-r));
		goto fail;
	}
	in.s_addr = htonl(pn->gw);
	inet_ntop(AF_INET, &in, gwtxt, sizeof(gwtxt));
	{
		char c[32];
		in.s_addr = htonl(pn->gw - 1);
		inet_ntop(AF_INET, &in, c, sizeof(c));
		snprintf(c + strlen(c), sizeof(c) - strlen(c), "/%d", pn->plen);
		if (nft_node_apply(c, br, err, errlen) < 0)
			goto fail;
	}
	podnet_pool_clean(pn);
	if (pn->pool > 0 && podnet_pool_start(pn, err, errlen) < 0)
		goto fail;
	log_info("podnet: bridge %s %s/%d, %zu addresses held, pool %d", br,
	    gwtxt, pn->plen, ipam_used(pn->ipam), pn->pool);
	return pn;
fail:
	podnet_close(pn);
	return NULL;
}

void
podnet_close(struct podnet *pn)
{
	if (pn == NULL)
		return;
	podnet_pool_stop(pn);
	nl_close(pn->nl);
	ipam_close(pn->ipam);
	free(pn);
}

/*
 * The veth pair. A link of that name may still be there for a moment:
 * the pair of this id's earlier netns, which the kernel is destroying
 * (podnet_teardown does not wait for it): wait for it, up to a second;
 * a link that stays is someone else's (-EEXIST).
 */
static int
podnet_veth_add(struct podnet *pn, const char *veth, int nsfd)
{
	int r;

	for (int i = 0; i < 100; i++) {
		r = nl_veth_add(pn->nl, veth, "eth0", nsfd);
		if (r != -EEXIST)
			return r;
		usleep(10000);
	}
	return r;
}

/* tap0, persistent, opened as drover-vmm expects. fd or -errno. */
static int
podnet_tap(void)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "tap0");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Inside the pod netns. */
static int
podnet_inside(struct nl *nl, uint32_t ip, int plen, uint32_t gw,
    const struct nft_port *ports, size_t nports, int guest_nsfd,
    struct podnet_result *res, char *err, size_t errlen)
{
	int r = 0;

	if ((r = nl_link_up(nl, "lo", NULL)) < 0)
		FAIL(r, "podnet: lo up: %s", strerror(-r));
	if ((r = nl_addr_add(nl, "eth0", htonl(ip), plen)) < 0 ||
	    (r = nl_link_up(nl, "eth0", NULL)) < 0 ||
	    (r = nl_route_default(nl, htonl(gw))) < 0)
		FAIL(r, "podnet: eth0: %s", strerror(-r));
	if ((r = nl_link_mac("eth0", res->mac)) < 0)
		FAIL(r, "podnet: eth0 MAC: %s", strerror(-r));
	res->mtu = podnet_mtu("eth0");
	if ((r = nl_bridge_add(nl, "k6t-eth0")) < 0 ||
	    (r = nl_addr_add(nl, "k6t-eth0", htonl(0x0a000201), 24)) < 0 ||
	    (r = nl_link_up(nl, "k6t-eth0", NULL)) < 0)
		FAIL(r, "podnet: k6t-eth0: %s", strerror(-r));
	if (guest_nsfd >= 0) {
		r = nl_veth_add(nl, "tap0", "eth0", guest_nsfd);
		res->tap_fd = -1;
	} else {
		r = podnet_tap();
		res->tap_fd = r;
	}
	if (r < 0)
		FAIL(r, "podnet: tap0: %s", strerror(-r));
	r = 0;
	if ((r = nl_link_up(nl, "tap0", "k6t-eth0")) < 0)
		FAIL(r, "podnet: tap0 up: %s", strerror(-r));
	if ((r = podnet_sysctl("/proc/sys/net/ipv4/ip_forward", "1")) < 0 ||
	    (r = podnet_sysctl("/proc/sys/net/ipv4/conf/all/route_localnet",
	    "1")) < 0)
		FAIL(r, "podnet: sysctl: %s", strerror(-r));
	r = nft_pod_apply(ports, nports, err, errlen);
out:
	return r;
}

int
podnet_make(struct podnet *pn, const char *name, uint32_t ip,
    const char *veth, const struct nft_port *ports, size_t nports,
    int guest_nsfd, struct podnet_result *res, char *err, size_t errlen)
{
	int r = 0, nsfd = -1, saved = -1, made_ns = 0, made_veth = 0;
	struct nl *inl = NULL;

	res->tap_fd = -1;
	if ((nsfd = netns_create(pn->netns_dir, name)) < 0)
		FAIL(nsfd, "podnet: netns %s: %s", name, strerror(-nsfd));
	made_ns = 1;
	if ((r = podnet_veth_add(pn, veth, nsfd)) < 0)
		FAIL(r, "podnet: veth %s: %s", veth, strerror(-r));
	made_veth = 1;
	if ((r = nl_link_up(pn->nl, veth, pn->bridge)) < 0)
		FAIL(r, "podnet: veth %s: %s", veth, strerror(-r));
	if ((r = netns_enter(nsfd, &saved)) < 0)
		FAIL(r, "podnet: entering netns: %s", strerror(-r));
	if ((inl = nl_open()) == NULL)
		r = -errno, snprintf(err, errlen, "podnet: netlink: %s",
		    strerror(errno));
	else
		r = podnet_inside(inl, ip, pn->plen, pn->gw, ports, nports,
		    guest_nsfd, res, err, errlen);
	nl_close(inl);
	if (netns_leave(saved) < 0) {
		/* This thread is stuck in the pod's netns. */
		log_fatal(__func__, 1, "podnet: cannot return to the node netns");
	}
out:
	if (nsfd >= 0)
		close(nsfd);
	if (r < 0) {
		if (res->tap_fd >= 0)
			close(res->tap_fd);
		res->tap_fd = -1;
		/* Only what this call made: a link of that name that was
		 * there before is someone else's. */
		if (made_veth)
			nl_link_del(pn->nl, veth);
		if (made_ns)
			netns_delete(pn->netns_dir, name);
	}
	return r;
}

int
podnet_setup(struct podnet *pn, const char *id, const struct nft_port *ports,
    size_t nports, int guest_nsfd, struct podnet_result *res, char *err,
    size_t errlen)
{
	char veth[IFNAMSIZ];
	struct in_addr in;
	int r = 0;

	memset(res, 0, sizeof(*res));
	res->tap_fd = -1;
	if (!podnet_id_ok(id))
		FAIL(-EINVAL, "podnet: bad VMI id");
	if (ipam_lookup(pn->ipam, id) != 0)
		FAIL(-EEXIST, "podnet: %s already has a network", id);
	/* A warm netns when one is ready (not for a test's guest netns). */
	if (guest_nsfd < 0 && pn->pool > 0 &&
	    (r = podnet_pool_take(pn, id, ports, nports, 0, res, err,
	    errlen)) != 0)
		goto refill;
	if ((res->ip = ipam_alloc(pn->ipam, id)) == 0) {
		int e = errno ? errno : EIO;

		/* The pool's entries asked for hold addresses too. */
		if (e == ENOSPC && guest_nsfd < 0 && pn->pool > 0 &&
		    (r = podnet_pool_take(pn, id, ports, nports, 1, res, err,
		    errlen)) != 0)
			goto refill;
		FAIL(-e, "podnet: no pod IP: %s", strerror(e));
	}
	in.s_addr = htonl(res->ip);
	inet_ntop(AF_INET, &in, res->ip_str, sizeof(res->ip_str));
	podnet_veth_name(id, veth);
	if ((r = podnet_make(pn, id, res->ip, veth, ports, nports, guest_nsfd,
	    res, err, errlen)) < 0) {
		ipam_release(pn->ipam, id);
		res->ip = 0;
	}
refill:
	if (r > 0)
		r = 0;
	if (pn->pool > 0)
		podnet_pool_refill(pn);
out:
	return r;
}

int
podnet_teardown(struct podnet *pn, const char *id, char *err, size_t errlen)
{
	int r;

	if (!podnet_id_ok(id)) {
		snprintf(err, errlen, "podnet: bad VMI id");
		return -EINVAL;
	}
	/* Unmounting the netns is enough: the kernel destroys it, and with
	 * it eth0 and so its veth peer in the bridge, k6t-eth0, tap0 and the
	 * nat table, on its own workqueue (a synchronous RTM_DELLINK of the
	 * veth waits for RCU grace periods: 20-40 ms of the agent's loop). */
	if ((r = netns_delete(pn->netns_dir, id)) < 0) {
		snprintf(err, errlen, "podnet: netns %s: %s", id, strerror(-r));
		return r;
	}
	r = ipam_release(pn->ipam, id);
	return r == -ENOENT ? 0 : r;
}

int
podnet_adopt(struct podnet *pn, const char *id, struct podnet_result *res)
{
	struct in_addr in;
	int fd, saved, r = -ENOENT;

	memset(res, 0, sizeof(*res));
	res->tap_fd = -1;
	if (!podnet_id_ok(id) || (res->ip = ipam_lookup(pn->ipam, id)) == 0)
		return -ENOENT;
	if ((fd = netns_open(pn->netns_dir, id)) < 0)
		return -ENOENT;
	if (netns_enter(fd, &saved) == 0) {
		r = nl_link_mac("eth0", res->mac);
		res->mtu = podnet_mtu("eth0");
		if (netns_leave(saved) < 0)
			log_fatal(__func__, 1, "podnet: cannot return to the "
			    "node netns");
	}
	close(fd);
	if (r < 0)
		return -ENOENT;	/* not a pod netns of ours */
	in.s_addr = htonl(res->ip);
	inet_ntop(AF_INET, &in, res->ip_str, sizeof(res->ip_str));
	return 0;
}

int
podnet_tap_open(struct podnet *pn, const char *id)
{
	int fd, saved, r;

	if (!podnet_id_ok(id))
		return -EINVAL;
	if ((fd = netns_open(pn->netns_dir, id)) < 0)
		return fd;
	if ((r = netns_enter(fd, &saved)) == 0) {
		r = podnet_tap();
		if (netns_leave(saved) < 0)
			log_fatal(__func__, 1, "podnet: cannot return to the "
			    "node netns");
	}
	close(fd);
	return r;
}

static int
podnet_kept(const char *const *keep, size_t nkeep, const char *id)
{
	for (size_t i = 0; i < nkeep; i++)
		if (strcmp(keep[i], id) == 0)
			return 1;
	return 0;
}

int
podnet_prune(struct podnet *pn, const char *const *keep, size_t nkeep)
{
	DIR *d = opendir(pn->netns_dir);
	struct dirent *e;
	char err[256], owner[256];
	const char *o;
	uint32_t pos = 0;
	int n = 0;

	if (d == NULL && errno != ENOENT)
		return -errno;
	while (d && (e = readdir(d)) != NULL) {
		if (!podnet_id_ok(e->d_name) || podnet_kept(keep, nkeep,
		    e->d_name))
			continue;
		if (podnet_teardown(pn, e->d_name, err, sizeof(err)) < 0)
			log_warnx("%s", err);
		else
			n++;
	}
	if (d)
		closedir(d);
	/* Addresses whose netns is gone already (a reboot emptied /run). */
	while ((o = ipam_next_owner(pn->ipam, &pos)) != NULL) {
		if (podnet_kept(keep, nkeep, o) || strlen(o) >= sizeof(owner) ||
		    podnet_pool_name(o))
			continue;
		memcpy(owner, o, strlen(o) + 1);
		if (podnet_teardown(pn, owner, err, sizeof(err)) < 0)
			log_warnx("%s", err);
		else
			n++;
	}
	return n;
}
