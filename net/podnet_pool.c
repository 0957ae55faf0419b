/*
 * podnet_pool.c: the warm pool of pod netns (podnet.h, podnet_open).
 *
 * Why: tearing a pod netns down is cheap for the caller (an unmount), but
 * the kernel then destroys it on its workqueue holding the RTNL lock, and
 * destroying the bridge k6t-eth0 waits there for an RCU barrier (normal
 * grace periods, 20-400 ms on a busy node). Every rtnetlink request,
 * unshare(CLONE_NEWNET) too, waits for that lock, so a set-up right after
 * a tear-down (VMI churn) waited for it. Pool entries are made ahead by a
 * filler process, which does the waiting; handing one to a VMI takes no
 * rtnetlink request at all.
 *
 * The filler is forked by podnet_open: it keeps only its socket (a
 * SOCK_SEQPACKET pair), opens its own netlink socket, dies with its
 * parent (PR_SET_PDEATHSIG, EOF). Per request (a name and an address the
 * parent has taken from IPAM for that name) it makes the netns
 * <netns_dir>/<name> as podnet_setup does, with the default nat rules
 * (every port), and answers with eth0's MAC and MTU and tap0's fd
 * (SCM_RIGHTS). Names start with ".pool-" (never a VMI id: those cannot
 * start with a dot), so prune and a later start tell them apart; a start
 * removes those of an earlier run. A fill that fails stops the pool (a
 * warning; set-ups are then made in place, as without a pool).
 */
#include "podnet_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipam.h"
#include "log.h"
#include "netns.h"
#include "nl.h"

struct pool_req {
	char name[32];
	uint32_t ip;
};

struct pool_rep {
	char name[32];
	int32_t r;
	unsigned char mac[6];
	int32_t mtu;
	double us;
	char err[200];
};

int
podnet_pool_name(const char *name)
{
	return strncmp(name, PODNET_POOL_PREFIX,
	    sizeof(PODNET_POOL_PREFIX) - 1) == 0;
}

static double
pool_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- the filler (child) ------------------------------------------------- */

static int
pool_send_rep(int sock, const struct pool_rep *rep, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)rep, sizeof(*rep) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(*rep) ? 0 :
	    -1;
}

static void __attribute__((noreturn))
pool_child(struct podnet *pn, int sock, pid_t parent)
{
	struct pool_req req;
	struct pool_rep rep;
	struct podnet_result res;
	char veth[IFNAMSIZ];
	ssize_t n;
	double t0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* Nothing of the parent's but the socket (and stdio for the log). */
	if (sock > 3)
		syscall(SYS_close_range, 3u, (unsigned)sock - 1, 0u);
	syscall(SYS_close_range, (unsigned)sock + 1, ~0u, 0u);
	if ((pn->nl = nl_open()) == NULL) {	/* the parent's is closed */
		log_warn("podnet pool: netlink");
		_exit(1);
	}
	for (;;) {
		n = recv(sock, &req, sizeof(req), 0);
		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);
		if (n != (ssize_t)sizeof(req))
			continue;
		req.name[sizeof(req.name) - 1] = '\0';
		memset(&rep, 0, sizeof(rep));
		memcpy(rep.name, req.name, sizeof(rep.name));
		memset(&res, 0, sizeof(res));
		t0 = pool_now_us();
		podnet_veth_name(req.name, veth);
		rep.r = podnet_make(pn, req.name, req.ip, veth, NULL, 0, -1,
		    &res, rep.err, sizeof(rep.err));
		rep.us = pool_now_us() - t0;
		memcpy(rep.mac, res.mac, sizeof(rep.mac));
		rep.mtu = res.mtu;
		if (pool_send_rep(sock, &rep, rep.r == 0 ? res.tap_fd : -1) < 0)
			_exit(0);
		if (res.tap_fd >= 0)
			close(res.tap_fd);
	}
}

/* ---- the parent's side -------------------------------------------------- */

static struct podnet_ent *
pool_find(struct podnet *pn, const char *name)
{
	for (int i = 0; i < PODNET_POOL_MAX; i++)
		if (pn->ent[i].state != 0 && strcmp(pn->ent[i].name, name) == 0)
			return &pn->ent[i];
	return NULL;
}

/* Remove entry e whole (netns, address, tap fd). */
static void
pool_drop(struct podnet *pn, struct podnet_ent *e)
{
	if (e->tap_fd >= 0)
		close(e->tap_fd);
	e->tap_fd = -1;
	netns_delete(pn->netns_dir, e->name);
	ipam_release(pn->ipam, e->name);
	e->state = 0;
}

/* One answer from the filler: 1, 0 (none; with block: it has gone), or
 * -1 when the filler has gone. */
static int
pool_recv(struct podnet *pn, int block)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct pool_rep rep;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct podnet_ent *e;
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	do
		n = recvmsg(pn->pool_sock, &m, MSG_CMSG_CLOEXEC |
		    (block ? 0 : MSG_DONTWAIT));
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		log_warnx("podnet pool: the filler has gone");
		pn->pool_broken = 1;
		return -1;
	}
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	rep.name[sizeof(rep.name) - 1] = '\0';
	rep.err[sizeof(rep.err) - 1] = '\0';
	if (n != (ssize_t)sizeof(rep) || (e = pool_find(pn, rep.name)) == NULL ||
	    e->state != 1) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (rep.r < 0 || fd < 0) {
		log_warnx("podnet pool: %s: %s; no more pool entries (set-ups "
		    "are made in place)", rep.name, rep.err[0] ? rep.err :
		    "no tap");
		if (fd >= 0)
			close(fd);
		pool_drop(pn, e);
		pn->pool_broken = 1;
		pn->stats.failed++;
		return 1;
	}
	e->tap_fd = fd;
	memcpy(e->mac, rep.mac, sizeof(e->mac));
	e->mtu = rep.mtu;
	e->state = 2;
	pn->stats.made++;
	pn->stats.made_us += rep.us;
	return 1;
}

static int
pool_count(const struct podnet *pn, int state)
{
	int k = 0;

	for (int i = 0; i < PODNET_POOL_MAX; i++)
		k += pn->ent[i].state == state;
	return k;
}

void
podnet_pool_refill(struct podnet *pn)
{
	struct pool_req req;
	struct podnet_ent *e;

	while (pn->pool_sock >= 0 && !pn->pool_broken &&
	    pool_count(pn, 1) + pool_count(pn, 2) < pn->pool) {
		for (e = pn->ent; e->state != 0; e++)
			;
		memset(e, 0, sizeof(*e));
		e->tap_fd = -1;
		e->seq = pn->pool_seq++;
		snprintf(e->name, sizeof(e->name), PODNET_POOL_PREFIX "%ld-%u",
		    (long)getpid(), e->seq);
		if ((e->ip = ipam_alloc(pn->ipam, e->name)) == 0)
			return;		/* no address left: VMIs first */
		memset(&req, 0, sizeof(req));
		memcpy(req.name, e->name, sizeof(req.name));
		req.ip = e->ip;
		e->state = 1;
		if (send(pn->pool_sock, &req, sizeof(req), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(req)) {
			log_warn("podnet pool: asking the filler");
			ipam_release(pn->ipam, e->name);
			e->state = 0;
			pn->pool_broken = 1;
		}
	}
}

int
podnet_pool_take(struct podnet *pn, const char *id,
    const struct nft_port *ports, size_t nports, int wait,
    struct podnet_result *res, char *err, size_t errlen)
{
	struct podnet_ent *e = NULL;
	struct in_addr in;
	int r, fd, saved;

	if (pn->pool_sock < 0)
		return 0;
	while (pool_recv(pn, 0) > 0)
		;
	while (pool_count(pn, 2) == 0 && wait && pool_count(pn, 1) > 0 &&
	    pool_recv(pn, 1) > 0)
		;
	for (int i = 0; i < PODNET_POOL_MAX; i++)
		if (pn->ent[i].state == 2 && (e == NULL ||
		    pn->ent[i].seq < e->seq))
			e = &pn->ent[i];
	if (e == NULL) {
		pn->stats.missed++;
		return 0;
	}
	if ((r = ipam_rename(pn->ipam, e->name, id)) < 0) {
		snprintf(err, errlen, "podnet: address for %s: %s", id,
		    strerror(-r));
		pool_drop(pn, e);
		return r;
	}
	if ((r = netns_rename(pn->netns_dir, e->name, id)) < 0) {
		snprintf(err, errlen, "podnet: netns %s: %s", id, strerror(-r));
		goto fail;
	}
	if (nports > 0) {
		/* Listed ports: the nat table replaced in one transaction. */
		if ((fd = netns_open(pn->netns_dir, id)) < 0 ||
		    (r = netns_enter(fd, &saved)) < 0) {
			r = fd < 0 ? fd : r;
			snprintf(err, errlen, "podnet: entering netns: %s",
			    strerror(-r));
		} else {
			r = nft_pod_replace(ports, nports, err, errlen);
			if (netns_leave(saved) < 0)
				log_fatal(__func__, 1, "podnet: cannot return "
				    "to the node netns");
		}
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			netns_delete(pn->netns_dir, id);
			goto fail;
		}
	}
	res->ip = e->ip;
	in.s_addr = htonl(res->ip);
	inet_ntop(AF_INET, &in, res->ip_str, sizeof(res->ip_str));
	memcpy(res->mac, e->mac, sizeof(res->mac));
	res->mtu = e->mtu;
	res->tap_fd = e->tap_fd;
	res->pooled = 1;
	e->state = 0;
	pn->stats.taken++;
	return 1;
fail:
	/* The address went to id: release it; the entry goes. */
	ipam_release(pn->ipam, id);
	close(e->tap_fd);
	e->tap_fd = -1;
	netns_delete(pn->netns_dir, e->name);
	e->state = 0;
	return r;
}

int
podnet_pool_start(struct podnet *pn, char *err, size_t errlen)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	for (int i = 0; i < PODNET_POOL_MAX; i++)
		pn->ent[i].tap_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "podnet pool: socketpair: %s",
		    strerror(errno));
		return -errno;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "podnet pool: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -EAGAIN;
	}
	if (pid == 0) {
		close(sv[0]);
		pool_child(pn, sv[1], parent);
	}
	close(sv[1]);
	pn->pool_sock = sv[0];
	pn->pool_pid = pid;
	/* Full before the first VMI. */
	podnet_pool_refill(pn);
	while (pool_count(pn, 1) > 0 && pool_recv(pn, 1) > 0)
		;
	return 0;
}

void
podnet_pool_stop(struct podnet *pn)
{
	if (pn->pool_sock < 0)
		return;
	close(pn->pool_sock);	/* the filler ends at EOF */
	pn->pool_sock = -1;
	while (waitpid(pn->pool_pid, NULL, 0) < 0 && errno == EINTR)
		;
	/* Ready and asked for alike: the filler has ended. */
	for (int i = 0; i < PODNET_POOL_MAX; i++)
		if (pn->ent[i].state != 0)
			pool_drop(pn, &pn->ent[i]);
}

void
podnet_pool_clean(struct podnet *pn)
{
	DIR *d = opendir(pn->netns_dir);
	struct dirent *de;
	const char *o;
	char owner[64];
	uint32_t pos = 0;

	while (d && (de = readdir(d)) != NULL)
		if (podnet_pool_name(de->d_name))
			netns_delete(pn->netns_dir, de->d_name);
	if (d)
		closedir(d);
	while ((o = ipam_next_owner(pn->ipam, &pos)) != NULL) {
		if (!podnet_pool_name(o) || strlen(o) >= sizeof(owner))
			continue;
		memcpy(owner, o, strlen(o) + 1);
		ipam_release(pn->ipam, owner);
	}
}

void
podnet_pool_stats(const struct podnet *pn, struct podnet_pool_stats *st)
{
	*st = pn->stats;
}
