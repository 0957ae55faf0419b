/*
 * priv_net.c: the pod network's privileged half (priv.h net_*), done in
 * droverd's process like the rest of priv_local.c: one record per VMI
 * with a network, keyed by its netns id (made from the run dir by
 * priv_local.c), holding the tap fd for vmm_spawn and the guest's DHCP
 * server on the loop. net/podnet.c does the netlink and nftables work.
 *
 * Built only with the pod network (DROVER_PODNET: libmnl and libnftables
 * are linked). Without it, every op answers -EOPNOTSUPP and a configured
 * network is refused at start with the reason.
 */
#include "priv_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#ifdef DROVER_PODNET

#include "dhcp.h"
#include "dhcp_srv.h"
#include "netns.h"
#include "podnet.h"
#include "resolv.h"

struct pn_vmi {
	struct pn_vmi *next;
	char id[PLN_ID_MAX];
	int tap_fd;			/* -1: not held (adopted) */
	struct dhcp_srv *dhcp;
	struct priv_net_info info;
};

struct pl_nets {
	struct podnet *pn;
	struct loop *loop;
	char netns_dir[PATH_MAX];
	char resolv[PATH_MAX];		/* "" : /etc/resolv.conf */
	struct pn_vmi *vmis;
};

/* The IPAM file's directory (one level, as the state dir exists). */
static int
pn_mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *sl;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((sl = strrchr(dir, '/')) == NULL || sl == dir)
		return 0;
	*sl = '\0';
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int
pln_open(struct pl_nets **out, const struct priv_net_config *cfg,
    struct loop *loop, char *err, size_t errlen)
{
	struct podnet_config pc = {
		.bridge = cfg->bridge, .cidr = cfg->cidr,
		.netns_dir = cfg->netns_dir, .ipam_path = cfg->ipam_path,
		.pool = cfg->pool,
	};
	struct pl_nets *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL)
		return -ENOMEM;
	if (loop == NULL || cfg->netns_dir == NULL || cfg->ipam_path == NULL ||
	    strlen(cfg->netns_dir) >= sizeof(n->netns_dir) ||
	    (cfg->resolv_conf && strlen(cfg->resolv_conf) >= sizeof(n->resolv))) {
		snprintf(err, errlen, "pod network: no loop, netns dir or IPAM "
		    "file");
		free(n);
		return -EINVAL;
	}
	snprintf(n->netns_dir, sizeof(n->netns_dir), "%s", cfg->netns_dir);
	snprintf(n->resolv, sizeof(n->resolv), "%s", cfg->resolv_conf ?
	    cfg->resolv_conf : "");
	n->loop = loop;
	if (pn_mkdir_parent(cfg->ipam_path) < 0) {
		snprintf(err, errlen, "pod network: %s: %s", cfg->ipam_path,
		    strerror(errno));
		free(n);
		return -EIO;
	}
	if ((n->pn = podnet_open(&pc, err, errlen)) == NULL) {
		free(n);
		return -EIO;
	}
	*out = n;
	return 0;
}

static void
pn_vmi_free(struct pn_vmi *v)
{
	dhcp_srv_free(v->dhcp);
	if (v->tap_fd >= 0)
		close(v->tap_fd);
	free(v);
}

void
pln_close(struct pl_nets *n)
{
	struct pn_vmi *v;

	if (n == NULL)
		return;
	while ((v = n->vmis) != NULL) {
		n->vmis = v->next;
		pn_vmi_free(v);		/* the networks stay: adopted later */
	}
	podnet_close(n->pn);
	free(n);
}

static struct pn_vmi *
pn_find(struct pl_nets *n, const char *id, struct pn_vmi ***link)
{
	struct pn_vmi **pp;

	for (pp = &n->vmis; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			if (link)
				*link = pp;
			return *pp;
		}
	return NULL;
}

/* The guest's lease: KubeVirt's masquerade values, the node's DNS. */
static int
pn_dhcp_start(struct pl_nets *n, struct pn_vmi *v,
    const struct priv_net_req *req, char *err, size_t errlen)
{
	struct dhcp_lease l;
	struct resolv_conf rc;
	char host[sizeof(req->hostname)];
	int nsfd, r;

	memset(&l, 0, sizeof(l));
	l.yiaddr = htonl(0x0a000202);		/* 10.0.2.2 */
	l.mask = htonl(0xffffff00);
	l.router = l.server = htonl(0x0a000201);
	l.lease_secs = DHCP_LEASE_KUBEVIRT;
	l.mtu = v->info.mtu > 0 && v->info.mtu <= 65535 ?
	    (uint16_t)v->info.mtu : 0;
	if ((r = resolv_read(n->resolv[0] ? n->resolv : NULL, &rc)) < 0)
		log_warnx("pod network %s: resolv.conf: %s: no DNS for the "
		    "guest", v->id, strerror(-r));
	else
		resolv_to_lease(&rc, &l);
	memcpy(host, req->hostname, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	dhcp_hostname_from_name(host, l.hostname);
	if ((nsfd = netns_open(n->netns_dir, v->id)) < 0) {
		snprintf(err, errlen, "pod network %s: netns: %s", v->id,
		    strerror(-nsfd));
		return nsfd;
	}
	v->dhcp = dhcp_srv_new(n->loop, nsfd, "k6t-eth0", &l);
	close(nsfd);
	if (v->dhcp == NULL) {
		snprintf(err, errlen, "pod network %s: the DHCP server could "
		    "not start (see the log)", v->id);
		return -EIO;
	}
	return 0;
}

static void
pn_info(struct priv_net_info *out, const struct podnet_result *res)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->ip, sizeof(out->ip), "%s", res->ip_str);
	memcpy(out->mac, res->mac, sizeof(out->mac));
	out->mtu = res->mtu;
}

int
pln_setup(struct pl_nets *n, const char *id, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	struct nft_port ports[PRIV_NET_MAX_PORTS];
	struct podnet_result res;
	struct pn_vmi *v;
	char e2[256];
	int r;

	if (req->nports > PRIV_NET_MAX_PORTS) {
		snprintf(err, errlen, "pod network: at most %d ports",
		    PRIV_NET_MAX_PORTS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < req->nports; i++) {
		if ((req->ports[i].proto != IPPROTO_TCP &&
		    req->ports[i].proto != IPPROTO_UDP) ||
		    req->ports[i].port == 0) {
			snprintf(err, errlen, "pod network: bad port %u",
			    req->ports[i].port);
			return -EINVAL;
		}
		ports[i].proto = req->ports[i].proto;
		ports[i].port = req->ports[i].port;
	}
	if (pn_find(n, id, NULL)) {
		snprintf(err, errlen, "pod network %s: already set up", id);
		return -EEXIST;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -ENOMEM;
	snprintf(v->id, sizeof(v->id), "%s", id);
	v->tap_fd = -1;
	r = podnet_setup(n->pn, id, ports, req->nports, -1, &res, err, errlen);
	if (r < 0) {
		free(v);
		return r;
	}
	v->tap_fd = res.tap_fd;
	pn_info(&v->info, &res);
	if ((r = pn_dhcp_start(n, v, req, err, errlen)) < 0) {
		pn_vmi_free(v);
		podnet_teardown(n->pn, id, e2, sizeof(e2));
		return r;
	}
	v->next = n->vmis;
	n->vmis = v;
	*out = v->info;
	log_info("pod network %s: %s, tap0 fd %d, DHCP on k6t-eth0%s", id,
	    v->info.ip, v->tap_fd, res.pooled ? " (a warm netns)" : "");
	return 0;
}

int
pln_adopt(struct pl_nets *n, const char *id, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	struct podnet_result res;
	struct pn_vmi *v = pn_find(n, id, NULL);
	int r;

	if (v) {
		*out = v->info;
		return 0;
	}
	if ((r = podnet_adopt(n->pn, id, &res)) < 0) {
		snprintf(err, errlen, "pod network %s: not found", id);
		return r;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -ENOMEM;
	snprintf(v->id, sizeof(v->id), "%s", id);
	v->tap_fd = -1;		/* the running VMM holds the tap */
	pn_info(&v->info, &res);
	if ((r = pn_dhcp_start(n, v, req, err, errlen)) < 0) {
		pn_vmi_free(v);
		return r;
	}
	v->next = n->vmis;
	n->vmis = v;
	*out = v->info;
	log_info("pod network %s: adopted, %s", id, v->info.ip);
	return 0;
}

int
pln_tap(struct pl_nets *n, const char *id)
{
	struct pn_vmi *v = pn_find(n, id, NULL);
	int fd;

	if (v == NULL)
		return -ENOENT;
	if (v->tap_fd >= 0)
		return v->tap_fd;
	/* Adopted: the old VMM has ended (a reboot): attach again. */
	if ((fd = podnet_tap_open(n->pn, id)) < 0)
		return fd;
	v->tap_fd = fd;
	return fd;
}

int
pln_teardown(struct pl_nets *n, const char *id, char *err, size_t errlen)
{
	struct pn_vmi **link = NULL, *v = pn_find(n, id, &link);

	if (v) {
		*link = v->next;
		pn_vmi_free(v);		/* the DHCP socket before the netns */
	}
	return podnet_teardown(n->pn, id, err, errlen);
}

int
pln_prune(struct pl_nets *n, const char *const *keep, size_t nkeep)
{
	struct pn_vmi **pp = &n->vmis, *v;

	while ((v = *pp) != NULL) {
		size_t i;

		for (i = 0; i < nkeep && strcmp(keep[i], v->id) != 0; i++)
			;
		if (i < nkeep) {
			pp = &v->next;
			continue;
		}
		*pp = v->next;
		pn_vmi_free(v);
	}
	return podnet_prune(n->pn, keep, nkeep);
}

#else /* !DROVER_PODNET */

int
pln_open(struct pl_nets **out, const struct priv_net_config *cfg,
    struct loop *loop, char *err, size_t errlen)
{
	(void)cfg;
	(void)loop;
	*out = NULL;
	snprintf(err, errlen, "the pod network is not built into this droverd "
	    "(the musl static build links no libmnl/libnftables: "
	    "net/sources.mk); use the glibc droverd or disable \"network\"");
	return -EOPNOTSUPP;
}

void
pln_close(struct pl_nets *n)
{
	(void)n;
}

int
pln_setup(struct pl_nets *n, const char *id, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	(void)n, (void)id, (void)req, (void)out;
	snprintf(err, errlen, "the pod network is not built into this droverd");
	return -EOPNOTSUPP;
}

int
pln_adopt(struct pl_nets *n, const char *id, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	return pln_setup(n, id, req, out, err, errlen);
}

int
pln_tap(struct pl_nets *n, const char *id)
{
	(void)n, (void)id;
	return -EOPNOTSUPP;
}

int
pln_teardown(struct pl_nets *n, const char *id, char *err, size_t errlen)
{
	(void)n, (void)id, (void)err, (void)errlen;
	return 0;
}

int
pln_prune(struct pl_nets *n, const char *const *keep, size_t nkeep)
{
	(void)n, (void)keep, (void)nkeep;
	return 0;
}

#endif
