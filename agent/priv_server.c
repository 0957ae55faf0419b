/*
 * priv_server.c: droverd-priv's end of the socketpair. It reads
 * droverd-api's requests (priv_msg.h) on its loop without blocking (a
 * request trickling in never stalls the DHCP servers on the same loop),
 * decodes and checks each whole one, does it through priv_local's ops
 * and answers with one fixed reply.
 *
 * Refusals, and why:
 * - a header or message that privmsg_decode() refuses (bad magic, an
 *   unknown op, a length out of bounds or not matching the strings, an
 *   unterminated or oversize string): a protocol violation. The honest
 *   droverd-api never sends one, so the process that did is not trusted
 *   any further: the connection is dropped and the end callback stops
 *   droverd-priv's loop, which stops droverd-api (OpenBSD vmd does the
 *   same to a child that sends a bad imsg);
 * - a reply droverd-api does not read within a second: likewise (a peer
 *   that floods requests without reading would otherwise block us);
 * - arguments that privmsg_check() refuses (a path outside the run or
 *   disk dirs, a bad name, pid or signal), a vmm_signal to a process
 *   that is not a drover-vmm, a vmm_reap of a pid we did not spawn: the
 *   request is answered -EINVAL, -ESRCH or -ECHILD, logged, and serving
 *   goes on (priv_local checks the paths once more itself);
 * - a backing file outside the image store, a symlink, not a regular
 *   file, or a vm.json key or value outside what a VMM may be given
 *   (priv_vmjson.c): answered -EPERM or -EINVAL by priv_local, nothing
 *   made or started, serving goes on.
 */
#include "priv.h"
#include "priv_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidata.h"
#include "log.h"
#include "loop.h"

struct priv_server {
	struct loop *l;
	struct priv *local;		/* NULL: no runtime, nothing served */
	char run_dir[PATH_MAX];
	char eph_dir[PATH_MAX];
	int fd;				/* -1: dropped */
	void (*on_end)(void *arg, const char *why);
	void *arg;
	/* The request being read. */
	struct privmsg_hdr hdr;
	size_t have;			/* bytes of it read so far */
	uint8_t *buf;			/* the whole message once hdr is in */
	/* The VMMs spawned by us and not reaped yet. */
	pid_t *pids;
	size_t npids, cap;
};

static int
ps_pid_index(const struct priv_server *s, pid_t pid)
{
	for (size_t i = 0; i < s->npids; i++)
		if (s->pids[i] == pid)
			return (int)i;
	return -1;
}

static void
ps_pid_add(struct priv_server *s, pid_t pid)
{
	if (s->npids == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		pid_t *n = realloc(s->pids, cap * sizeof(*n));

		if (n == NULL) {
			log_warnx("droverd-priv: out of memory: VMM %d will "
			    "not be reaped", (int)pid);
			return;
		}
		s->pids = n;
		s->cap = cap;
	}
	s->pids[s->npids++] = pid;
}

/* Is pid a drover-vmm (its comm)? Only those may be signalled. */
static void
ps_net_req(const struct privmsg_args *a, struct priv_net_req *req)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->hostname, a->hostname, sizeof(req->hostname));
	req->nports = a->nports;
	for (uint32_t i = 0; i < a->nports && i < PRIV_NET_MAX_PORTS; i++) {
		req->ports[i].proto = a->ports[i].proto;
		req->ports[i].port = a->ports[i].port;
	}
}

static int
ps_spawn(struct priv_server *s, const struct privmsg_req *r,
    struct privmsg_rep *rep)
{
	const struct priv_ops *o = s->local->ops;
	struct priv_spawn sp = { .dir = r->s[0], .cgroup = r->s[1],
	    .net = r->a.i0 };
	pid_t pid = 0;
	uint64_t st = 0;
	int rc;

	rc = o->vmm_spawn(s->local, &sp, &pid, &st, rep->err,
	    sizeof(rep->err));
	if (rc == 0) {
		ps_pid_add(s, pid);
		rep->pid = pid;
		rep->starttime = st;
	}
	return rc;
}

static int
ps_reap(struct priv_server *s, const struct privmsg_req *r,
    struct privmsg_rep *rep)
{
	int i = ps_pid_index(s, r->a.i0), ws = 0, rc;

	if (i < 0)
		return -ECHILD;		/* not ours: adopted, or not a VMM */
	rc = s->local->ops->vmm_reap(s->local, r->a.i0, &ws);
	if (rc == 0 || rc == -ECHILD)
		s->pids[i] = s->pids[--s->npids];
	rep->wstatus = ws;
	return rc;
}

static int
ps_net(struct priv_server *s, const struct privmsg_req *r,
    struct privmsg_rep *rep)
{
	const struct priv_ops *o = s->local->ops;
	struct priv_net_req req;
	struct priv_net_info info;
	int rc;

	ps_net_req(&r->a, &req);
	memset(&info, 0, sizeof(info));
	rc = (r->op == PRIVMSG_NET_SETUP ? o->net_setup : o->net_adopt)(
	    s->local, r->s[0], &req, &info, rep->err, sizeof(rep->err));
	if (rc == 0) {
		memcpy(rep->ip, info.ip, sizeof(rep->ip));
		rep->ip[sizeof(rep->ip) - 1] = '\0';
		memcpy(rep->mac, info.mac, sizeof(rep->mac));
		rep->mtu = info.mtu;
	}
	return rc;
}

/* Do the checked request r with priv_local. */
static int
ps_do(struct priv_server *s, const struct privmsg_req *r,
    struct privmsg_rep *rep)
{
	const struct priv_ops *o = s->local->ops;
	struct priv *l = s->local;
	const char *const *a = r->s;
	char *err = rep->err;
	size_t el = sizeof(rep->err);

	switch (r->op) {
	case PRIVMSG_VMI_PREPARE:
		return o->vmi_prepare(l, a[0], err, el);
	case PRIVMSG_FILE_WRITE:
		return o->file_write(l, a[0], a[1], (const char *)r->data,
		    r->datalen, err, el);
	case PRIVMSG_DISK_OVERLAY:
		return o->disk_overlay(l, a[0], a[1], a[2], a[3], r->a.u64, err,
		    el);
	case PRIVMSG_DISK_EMPTY:
		return o->disk_empty(l, a[0], a[1], r->a.u64, err, el);
	case PRIVMSG_DISK_CIDATA: {
		struct cidata ci = { .hostname = a[2], .firmware_uuid = a[3],
		    .user_data = a[4], .user_data_b64 = a[5],
		    .network_data = a[6], .network_data_b64 = a[7],
		    .mtime = (time_t)(int64_t)r->a.u64 };

		return o->disk_cidata(l, a[0], a[1], &ci, err, el);
	}
	case PRIVMSG_CGROUP_CREATE: {
		struct priv_limits lim = { r->a.lim[0], r->a.lim[1],
		    r->a.lim[2], r->a.lim[3] };

		return o->cgroup_create(l, a[0], &lim, err, el);
	}
	case PRIVMSG_VMM_SPAWN:
		return ps_spawn(s, r, rep);
	case PRIVMSG_VMM_SIGNAL:
		if (!priv_proc_comm_is(r->a.i0, "drover-vmm"))
			return -ESRCH;	/* gone, or not a drover-vmm */
		return o->vmm_signal(l, r->a.i0, r->a.u64, r->a.i1);
	case PRIVMSG_VMM_REAP:
		return ps_reap(s, r, rep);
	case PRIVMSG_VMI_CLEANUP:
		return o->vmi_cleanup(l, a[0], a[1], err, el);
	case PRIVMSG_CGROUP_PRUNE:
		return o->cgroup_prune(l, r->list, r->nlist, err, el);
	case PRIVMSG_NET_PRUNE:
		return o->net_prune(l, r->list, r->nlist, err, el);
	case PRIVMSG_NET_SETUP:
	case PRIVMSG_NET_ADOPT:
		return ps_net(s, r, rep);
	default:
		return -EOPNOTSUPP;
	}
}

int
priv_server_handle(struct priv_server *s, const uint8_t *msg, size_t len,
    struct privmsg_rep *rep, char *why, size_t whylen)
{
	struct privmsg_req r;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = privmsg_decode(msg, len, &r, why, whylen)) < 0)
		return rc == -ENOMEM ? rc : -EPROTO;
	rep->h.magic = PRIVMSG_MAGIC;
	rep->h.op = r.op;
	rep->h.seq = r.seq;
	rep->h.len = sizeof(*rep);
	if (s->local == NULL) {
		rep->rc = -EOPNOTSUPP;
		snprintf(rep->err, sizeof(rep->err), "no VMI runtime here");
	} else if (privmsg_check(&r, s->run_dir, s->eph_dir, rep->err,
	    sizeof(rep->err)) < 0) {
		log_warnx("droverd-api: %s", rep->err);
		rep->rc = -EINVAL;
	} else {
		rep->rc = ps_do(s, &r, rep);
		if (rep->rc == -ESRCH && r.op == PRIVMSG_VMM_SIGNAL &&
		    !priv_proc_comm_is(r.a.i0, "drover-vmm"))
			log_debug("droverd-api: vmm_signal %d: not a drover-vmm",
			    (int)r.a.i0);
	}
	rep->err[sizeof(rep->err) - 1] = '\0';
	privmsg_req_free(&r);
	return 0;
}

/* ---- the connection ---------------------------------------------------- */

static void
ps_end(struct priv_server *s, const char *why)
{
	if (s->fd < 0)
		return;
	loop_del_fd(s->l, s->fd);
	close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
	s->have = 0;
	if (s->on_end)
		s->on_end(s->arg, why);
}

/* The reply, within a second (else the peer is not reading: dropped). */
static int
ps_reply(struct priv_server *s, const struct privmsg_rep *rep)
{
	const uint8_t *b = (const uint8_t *)rep;
	size_t n = sizeof(*rep);

	while (n > 0) {
		ssize_t w = send(s->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = s->fd, .events = POLLOUT };

			if (poll(&p, 1, 1000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (w <= 0)
			return -EPIPE;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The whole message is in s->buf: serve it. 0, or -1: dropped. */
static int
ps_message(struct priv_server *s)
{
	struct privmsg_rep rep;
	char why[256] = "";
	int rc;

	rc = priv_server_handle(s, s->buf, s->hdr.len, &rep, why, sizeof(why));
	free(s->buf);
	s->buf = NULL;
	s->have = 0;
	if (rc < 0) {
		log_error("droverd-api: protocol violation: %s: dropping it",
		    why);
		ps_end(s, "protocol violation");
		return -1;
	}
	if (ps_reply(s, &rep) < 0) {
		log_error("droverd-api: does not read its replies: dropping it");
		ps_end(s, "reply not read");
		return -1;
	}
	return 0;
}

/* Read what there is: the header first, then the rest of the message. */
static void
ps_readable(void *arg, int fd, short revents)
{
	struct priv_server *s = arg;
	char why[256];

	(void)revents;
	for (;;) {
		size_t want = s->buf ? s->hdr.len : sizeof(s->hdr);
		uint8_t *dst = s->buf ? s->buf : (uint8_t *)&s->hdr;
		ssize_t n = recv(fd, dst + s->have, want - s->have,
		    MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			ps_end(s, n == 0 ? "droverd-api closed the connection" :
			    strerror(errno));
			return;
		}
		s->have += (size_t)n;
		if (s->have < want)
			continue;
		if (s->buf == NULL) {
			if (privmsg_check_hdr(&s->hdr, why, sizeof(why)) < 0) {
				log_error("droverd-api: protocol violation: %s: "
				    "dropping it", why);
				ps_end(s, "protocol violation");
				return;
			}
			if ((s->buf = malloc(s->hdr.len)) == NULL) {
				ps_end(s, "out of memory");
				return;
			}
			memcpy(s->buf, &s->hdr, sizeof(s->hdr));
			if (s->have < s->hdr.len)
				continue;
		}
		if (ps_message(s) < 0)
			return;
	}
}

struct priv_server *
priv_server_new(struct loop *l, struct priv *local, const char *run_dir,
    const char *ephemeral_dir, int fd,
    void (*on_end)(void *arg, const char *why), void *arg)
{
	struct priv_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->l = l;
	s->local = local;
	s->fd = fd;
	s->on_end = on_end;
	s->arg = arg;
	snprintf(s->run_dir, sizeof(s->run_dir), "%s", run_dir ? run_dir : "");
	snprintf(s->eph_dir, sizeof(s->eph_dir), "%s", ephemeral_dir ?
	    ephemeral_dir : "");
	if (fd >= 0 && l && loop_add_fd(l, fd, POLLIN, ps_readable, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void
priv_server_free(struct priv_server *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0) {
		if (s->l)
			loop_del_fd(s->l, s->fd);
		close(s->fd);
	}
	free(s->buf);
	free(s->pids);
	free(s);
}
