/* dhcp_srv.c: the guest's DHCPv4 server socket on the loop (dhcp_srv.h). */
#include "dhcp_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct dhcp_srv {
	struct loop *loop;
	int fd;
	char ifname[IF_NAMESIZE];
	struct dhcp_lease lease;
	struct dhcp_srv_stats st;
};

static int open_socket(const char *ifname)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons(DHCP_SERVER_PORT),
		.sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		log_warn("dhcp: socket");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) {
		log_warn("dhcp: setsockopt");
		goto fail;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
	    (socklen_t)strlen(ifname) + 1) < 0) {
		log_warn("dhcp: binding to device %s", ifname);
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_warn("dhcp: bind 0.0.0.0:67 on %s", ifname);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* The socket made inside netns_fd's namespace; back to ours after. */
static int open_in_netns(int netns_fd, const char *ifname)
{
	int self, fd, err;

	if (netns_fd < 0)
		return open_socket(ifname);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		log_warn("dhcp: opening our network namespace");
		return -1;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		log_warn("dhcp: entering the VMI's network namespace");
		close(self);
		return -1;
	}
	fd = open_socket(ifname);
	err = setns(self, CLONE_NEWNET);
	close(self);
	if (err < 0) {
		/* Staying in the VMI's namespace would misroute everything. */
		fatal("dhcp: cannot return to droverd's network namespace");
	}
	return fd;
}

static void on_packet(struct dhcp_srv *s, const uint8_t *buf, size_t len)
{
	struct dhcp_msg m;
	uint8_t out[DHCP_REPLY_MAX];
	struct sockaddr_in to = { .sin_family = AF_INET,
		.sin_port = htons(DHCP_CLIENT_PORT),
		.sin_addr.s_addr = htonl(INADDR_BROADCAST) };

	s->st.received++;
	if (dhcp_parse(buf, len, &m) < 0) {
		s->st.dropped++;
		return;
	}
	int type = dhcp_decide(&m, &s->lease);
	log_debug("dhcp: %s on %s from %02x:%02x:%02x:%02x:%02x:%02x: %s",
	    dhcp_type_name(m.type), s->ifname, m.chaddr[0], m.chaddr[1],
	    m.chaddr[2], m.chaddr[3], m.chaddr[4], m.chaddr[5],
	    type ? dhcp_type_name(type) : "no reply");
	if (!type)
		return;
	ssize_t n = dhcp_build(&m, type, &s->lease, out, sizeof(out));
	if (n < 0) {
		log_warnx("dhcp: cannot build the %s", dhcp_type_name(type));
		return;
	}
	if (sendto(s->fd, out, (size_t)n, 0, (struct sockaddr *)&to,
	    sizeof(to)) != n) {
		log_warn("dhcp: sending the %s on %s", dhcp_type_name(type),
		    s->ifname);
		return;
	}
	s->st.replied++;
}

static void on_readable(void *arg, int fd, short revents)
{
	struct dhcp_srv *s = arg;
	uint8_t buf[2048];

	(void)revents;
	/* A bounded batch: a flooding guest cannot hold the loop. */
	for (int i = 0; i < 32; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("dhcp: receiving on %s", s->ifname);
			return;
		}
		if ((size_t)n > sizeof(buf)) {
			s->st.received++;
			s->st.dropped++;
			log_debug("dhcp: dropped a %zd-byte datagram", n);
			continue;
		}
		on_packet(s, buf, (size_t)n);
	}
}

struct dhcp_srv *dhcp_srv_new(struct loop *loop, int netns_fd,
    const char *ifname, const struct dhcp_lease *lease)
{
	struct dhcp_srv *s;

	if (!ifname || !ifname[0] || strlen(ifname) >= IF_NAMESIZE) {
		log_error("dhcp: bad interface name");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("dhcp: out of memory");
		return NULL;
	}
	s->loop = loop;
	s->lease = *lease;
	strcpy(s->ifname, ifname);
	s->fd = open_in_netns(netns_fd, ifname);
	if (s->fd < 0)
		goto fail;
	if (loop_add_fd(loop, s->fd, POLLIN, on_readable, s) < 0) {
		log_error("dhcp: cannot watch the socket");
		goto fail;
	}
	log_info("dhcp: serving %s on %s", inet_ntoa(
	    (struct in_addr){ .s_addr = lease->yiaddr }), ifname);
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

void dhcp_srv_free(struct dhcp_srv *s)
{
	if (!s)
		return;
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	free(s);
}

void dhcp_srv_stats(const struct dhcp_srv *s, struct dhcp_srv_stats *st)
{
	*st = s->st;
}
