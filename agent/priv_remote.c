/*
 * priv_remote.c: droverd-api's privileged ops (priv.h): each call is one
 * request to droverd-priv over the socketpair (priv_msg.h) and one reply,
 * synchronous (one request in flight; droverd-priv answers each at once,
 * the slowest, vmi_cleanup, within about 2 s). A broken connection means
 * droverd-priv is gone: every later call fails with -EPIPE and the dead
 * callback (droverd: stop the loop, exit) runs once.
 */
#include "priv.h"
#include "priv_msg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct priv_remote {
	struct priv base;
	int fd;
	uint32_t seq;
	int dead;
	void (*on_dead)(void *);
	void *arg;
};

static struct priv_remote *
pr(struct priv *p)
{
	return (struct priv_remote *)p;
}

static void
pr_dead(struct priv_remote *r, const char *what, int e)
{
	if (r->dead)
		return;
	r->dead = 1;
	log_error("droverd-priv: %s: %s: the privileged side is gone",
	    what, e ? strerror(e) : "connection closed");
	if (r->on_dead)
		r->on_dead(r->arg);
}

static int
pr_write_all(int fd, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, 1000);
			continue;
		}
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
pr_read_all(int fd, uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, b, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, 1000);
			continue;
		}
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One round trip. rep->rc is the op's result; -EPIPE: no connection. */
static int
pr_call(struct priv_remote *r, uint32_t op, struct privmsg_args *a,
    const char *const *strs, unsigned nstr, const void *data, size_t dlen,
    struct privmsg_rep *rep, char *err, size_t errlen)
{
	uint8_t *msg;
	size_t len;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (r->dead) {
		if (err && errlen)
			snprintf(err, errlen, "droverd-priv is gone");
		return -EPIPE;
	}
	if ((rc = privmsg_encode(op, ++r->seq, a, strs, nstr, data, dlen, &msg,
	    &len)) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: request too large: %s",
			    privmsg_op_name(op), strerror(-rc));
		return rc;
	}
	rc = pr_write_all(r->fd, msg, len);
	free(msg);
	if (rc == 0)
		rc = pr_read_all(r->fd, (uint8_t *)rep, sizeof(*rep));
	if (rc == 0 && (rep->h.magic != PRIVMSG_MAGIC || rep->h.op != op ||
	    rep->h.seq != r->seq || rep->h.len != sizeof(*rep)))
		rc = -EPROTO;
	if (rc < 0) {
		pr_dead(r, privmsg_op_name(op), rc == -EPIPE ? 0 : -rc);
		if (err && errlen)
			snprintf(err, errlen, "droverd-priv is gone");
		return -EPIPE;
	}
	rep->err[sizeof(rep->err) - 1] = '\0';
	if (rep->rc < 0 && err && errlen)
		snprintf(err, errlen, "%s", rep->err);
	return rep->rc;
}

static int
pr_str_op(struct priv *p, uint32_t op, const char *const *strs, unsigned n,
    char *err, size_t errlen)
{
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	return pr_call(pr(p), op, &a, strs, n, NULL, 0, &rep, err, errlen);
}

static int
pr_vmi_prepare(struct priv *p, const char *dir, char *err, size_t errlen)
{
	const char *s[] = { dir };

	return pr_str_op(p, PRIVMSG_VMI_PREPARE, s, 1, err, errlen);
}

static int
pr_file_write(struct priv *p, const char *dir, const char *name,
    const char *data, size_t len, char *err, size_t errlen)
{
	const char *s[] = { dir, name };
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	return pr_call(pr(p), PRIVMSG_FILE_WRITE, &a, s, 2, data, len, &rep,
	    err, errlen);
}

static int
pr_disk_overlay(struct priv *p, const char *dir, const char *name,
    const char *backing, const char *backing_fmt, uint64_t size, char *err,
    size_t errlen)
{
	const char *s[] = { dir, name, backing, backing_fmt };
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	a.u64 = size;
	return pr_call(pr(p), PRIVMSG_DISK_OVERLAY, &a, s, 4, NULL, 0, &rep,
	    err, errlen);
}

static int
pr_disk_empty(struct priv *p, const char *dir, const char *name,
    uint64_t size, char *err, size_t errlen)
{
	const char *s[] = { dir, name };
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	a.u64 = size;
	return pr_call(pr(p), PRIVMSG_DISK_EMPTY, &a, s, 2, NULL, 0, &rep, err,
	    errlen);
}

static int
pr_disk_cidata(struct priv *p, const char *dir, const char *name,
    const struct cidata *ci, char *err, size_t errlen)
{
	const char *s[] = { dir, name, ci->hostname, ci->firmware_uuid,
	    ci->user_data, ci->user_data_b64, ci->network_data,
	    ci->network_data_b64 };
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	a.u64 = (uint64_t)(int64_t)ci->mtime;
	return pr_call(pr(p), PRIVMSG_DISK_CIDATA, &a, s, 8, NULL, 0, &rep, err,
	    errlen);
}

static int
pr_cgroup_create(struct priv *p, const char *name,
    const struct priv_limits *lim, char *err, size_t errlen)
{
	const char *s[] = { name };
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	a.lim[0] = lim->cpu_request_milli;
	a.lim[1] = lim->cpu_limit_milli;
	a.lim[2] = lim->memory_max;
	a.lim[3] = lim->pids_max;
	return pr_call(pr(p), PRIVMSG_CGROUP_CREATE, &a, s, 1, NULL, 0, &rep,
	    err, errlen);
}

static int
pr_vmm_spawn(struct priv *p, const struct priv_spawn *sp, pid_t *pid,
    uint64_t *starttime, char *err, size_t errlen)
{
	const char *s[] = { sp->dir, sp->cgroup };
	struct privmsg_args a;
	struct privmsg_rep rep;
	int rc;

	memset(&a, 0, sizeof(a));
	a.i0 = sp->net ? 1 : 0;
	rc = pr_call(pr(p), PRIVMSG_VMM_SPAWN, &a, s, 2, NULL, 0, &rep, err,
	    errlen);
	if (rc == 0) {
		*pid = rep.pid;
		*starttime = rep.starttime;
	}
	return rc;
}

static int
pr_vmm_signal(struct priv *p, pid_t pid, uint64_t starttime, int sig)
{
	struct privmsg_args a;
	struct privmsg_rep rep;

	memset(&a, 0, sizeof(a));
	a.i0 = pid;
	a.i1 = sig;
	a.u64 = starttime;
	return pr_call(pr(p), PRIVMSG_VMM_SIGNAL, &a, NULL, 0, NULL, 0, &rep,
	    NULL, 0);
}

static int
pr_vmm_reap(struct priv *p, pid_t pid, int *wstatus)
{
	struct privmsg_args a;
	struct privmsg_rep rep;
	int rc;

	memset(&a, 0, sizeof(a));
	a.i0 = pid;
	rc = pr_call(pr(p), PRIVMSG_VMM_REAP, &a, NULL, 0, NULL, 0, &rep, NULL,
	    0);
	if (rc == 0)
		*wstatus = rep.wstatus;
	return rc;
}

static int
pr_vmi_cleanup(struct priv *p, const char *dir, const char *cgroup,
    char *err, size_t errlen)
{
	const char *s[] = { dir, cgroup };

	return pr_str_op(p, PRIVMSG_VMI_CLEANUP, s, 2, err, errlen);
}

static int
pr_list_op(struct priv *p, uint32_t op, const char *const *keep, size_t n,
    char *err, size_t errlen)
{
	if (n > PRIVMSG_LIST_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %zu entries (at most %d)",
			    privmsg_op_name(op), n, PRIVMSG_LIST_MAX);
		return -E2BIG;
	}
	return pr_str_op(p, op, keep, (unsigned)n, err, errlen);
}

static int
pr_cgroup_prune(struct priv *p, const char *const *keep, size_t nkeep,
    char *err, size_t errlen)
{
	return pr_list_op(p, PRIVMSG_CGROUP_PRUNE, keep, nkeep, err, errlen);
}

static int
pr_net_prune(struct priv *p, const char *const *keep, size_t nkeep,
    char *err, size_t errlen)
{
	return pr_list_op(p, PRIVMSG_NET_PRUNE, keep, nkeep, err, errlen);
}

static int
pr_net(struct priv *p, uint32_t op, const char *dir,
    const struct priv_net_req *req, struct priv_net_info *out, char *err,
    size_t errlen)
{
	const char *s[] = { dir };
	struct privmsg_args a;
	struct privmsg_rep rep;
	int rc;

	memset(&a, 0, sizeof(a));
	if (req->nports > PRIV_NET_MAX_PORTS)
		return -EINVAL;
	snprintf(a.hostname, sizeof(a.hostname), "%s", req->hostname);
	a.nports = req->nports;
	for (unsigned i = 0; i < req->nports; i++) {
		a.ports[i].proto = req->ports[i].proto;
		a.ports[i].port = req->ports[i].port;
	}
	rc = pr_call(pr(p), op, &a, s, 1, NULL, 0, &rep, err, errlen);
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		memcpy(out->ip, rep.ip, sizeof(out->ip));
		out->ip[sizeof(out->ip) - 1] = '\0';
		memcpy(out->mac, rep.mac, sizeof(out->mac));
		out->mtu = rep.mtu;
	}
	return rc;
}

static int
pr_net_setup(struct priv *p, const char *dir, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	return pr_net(p, PRIVMSG_NET_SETUP, dir, req, out, err, errlen);
}

static int
pr_net_adopt(struct priv *p, const char *dir, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	return pr_net(p, PRIVMSG_NET_ADOPT, dir, req, out, err, errlen);
}

static const struct priv_ops priv_remote_ops = {
	.vmi_prepare = pr_vmi_prepare,
	.file_write = pr_file_write,
	.disk_overlay = pr_disk_overlay,
	.disk_empty = pr_disk_empty,
	.disk_cidata = pr_disk_cidata,
	.cgroup_create = pr_cgroup_create,
	.vmm_spawn = pr_vmm_spawn,
	.vmm_signal = pr_vmm_signal,
	.vmm_reap = pr_vmm_reap,
	.vmi_cleanup = pr_vmi_cleanup,
	.cgroup_prune = pr_cgroup_prune,
	.net_setup = pr_net_setup,
	.net_adopt = pr_net_adopt,
	.net_prune = pr_net_prune,
};

struct priv *
priv_remote_new(int fd, void (*on_dead)(void *), void *arg)
{
	struct priv_remote *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->base.ops = &priv_remote_ops;
	r->fd = fd;
	r->on_dead = on_dead;
	r->arg = arg;
	return &r->base;
}

void
priv_remote_free(struct priv *p)
{
	struct priv_remote *r = pr(p);

	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}
