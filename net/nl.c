/*
 * nl.c: rtnetlink requests through libmnl, each acknowledged (NLM_F_ACK)
 * so that errors come back as -errno.
 */
#include "nl.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	char buf[8192];	/* MNL_SOCKET_BUFFER_SIZE is not constant */
};

struct nl *
nl_open(void)
{
	struct nl *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->sock = mnl_socket_open(NETLINK_ROUTE);
	if (n->sock == NULL || mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		if (n->sock != NULL)
			mnl_socket_close(n->sock);
		free(n);
		errno = e;
		return NULL;
	}
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (unsigned)time(NULL);
	return n;
}

void
nl_close(struct nl *n)
{
	if (n == NULL)
		return;
	mnl_socket_close(n->sock);
	free(n);
}

int
nl_ifindex(const char *name)
{
	unsigned i = if_nametoindex(name);

	return i == 0 ? -ENODEV : (int)i;
}

static struct nlmsghdr *
nl_msg(struct nl *n, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(n->buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	h->nlmsg_seq = ++n->seq;
	return h;
}

/* Send h, wait for its ack: 0 or -errno. */
static int
nl_talk(struct nl *n, struct nlmsghdr *h)
{
	unsigned seq = h->nlmsg_seq;
	ssize_t r;

	if (mnl_socket_sendto(n->sock, h, h->nlmsg_len) < 0)
		return -errno;
	r = mnl_socket_recvfrom(n->sock, n->buf, sizeof(n->buf));
	if (r < 0)
		return -errno;
	if (mnl_cb_run(n->buf, (size_t)r, seq, n->portid, NULL, NULL) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

static struct ifinfomsg *
nl_ifi(struct nlmsghdr *h, int index)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return ifi;
}

int
nl_bridge_add(struct nl *n, const char *name)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *li;

	nl_ifi(h, 0);
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	li = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(h, li);
	return nl_talk(n, h);
}

int
nl_veth_add(struct nl *n, const char *name, const char *peer, int peer_nsfd)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *li, *data, *pi;

	nl_ifi(h, 0);
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	li = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
	pi = mnl_attr_nest_start(h, VETH_INFO_PEER);
	/* The peer's ifinfomsg opens the attribute's payload. */
	{
		struct ifinfomsg *pifi = mnl_nlmsg_get_payload_tail(h);
		memset(pifi, 0, sizeof(*pifi));
		h->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
	}
	mnl_attr_put_strz(h, IFLA_IFNAME, peer);
	if (peer_nsfd >= 0)
		mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(h, pi);
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, li);
	return nl_talk(n, h);
}

int
nl_link_del(struct nl *n, const char *name)
{
	struct nlmsghdr *h = nl_msg(n, RTM_DELLINK, 0);

	nl_ifi(h, 0);
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	return nl_talk(n, h);
}

int
nl_link_up(struct nl *n, const char *name, const char *master)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = nl_ifi(h, 0);
	int m;

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	if (master != NULL) {
		if ((m = nl_ifindex(master)) < 0)
			return m;
		mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)m);
	}
	return nl_talk(n, h);
}

int
nl_link_netns(struct nl *n, const char *name, int nsfd, const char *newname)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWLINK, 0);
	int i = nl_ifindex(name);

	if (i < 0)
		return i;
	nl_ifi(h, i);
	if (newname != NULL)
		mnl_attr_put_strz(h, IFLA_IFNAME, newname);
	mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)nsfd);
	return nl_talk(n, h);
}

int
nl_addr_add(struct nl *n, const char *name, uint32_t addr, int plen)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg *ifa;
	int i = nl_ifindex(name);

	if (i < 0)
		return i;
	if (plen < 0 || plen > 32)
		return -EINVAL;
	ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)i;
	mnl_attr_put_u32(h, IFA_LOCAL, addr);
	mnl_attr_put_u32(h, IFA_ADDRESS, addr);
	return nl_talk(n, h);
}

int
nl_route_default(struct nl *n, uint32_t gw)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));

	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(h, RTA_GATEWAY, gw);
	return nl_talk(n, h);
}

int
nl_link_mac(const char *name, unsigned char mac[6])
{
	struct ifreq ifr;
	int fd, r = 0;

	if (strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return r;
}
