/* localapi.c: droverd's local unix-socket API (protocol in localapi.h). */
#include "localapi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "apply.h"
#include "ferr.h"
#include "kinds.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "objops.h"
#include "store.h"

/* Stop handling requests while this much output is queued. */
#define LAPI_OUT_HIGH (1u << 20)
#define LAPI_READ_CHUNK 65536

struct lapi_op {
	char *op;
	localapi_fn fn;
	void *arg;
};

struct lapi_client {
	struct localapi *api;
	struct lapi_client *next;
	int fd;
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff, outcap;
	int eof;		/* peer finished sending */
	int closing;		/* close once the output is flushed */
	unsigned long id;
};

struct localapi {
	struct loop *loop;
	struct store *store;
	char *path;
	int fd;
	struct lapi_client *clients;
	unsigned nclients;
	unsigned long next_id;
	struct lapi_op *ops;
	size_t nops;
	uid_t owner;			/* the socket file's: who bound it */
};

static void lapi_client_io(void *arg, int fd, short revents);

json_t *
localapi_error(int code, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:o}", "error", ferr_status(code, reason, msg));
}

static json_t *
lapi_wrap_status(json_t *status)
{
	if (!status)
		return NULL;
	return json_pack("{s:o}", "error", status);
}

/* ---- requests ------------------------------------------------------------- */

struct lapi_target {
	const struct kinds_info *k;
	const char *name;
	const char *ns;		/* "" for cluster-scoped kinds */
};

/* kind, namespace and (when need_name) name of a request. */
static json_t *
lapi_target(const json_t *req, int need_name, struct lapi_target *t)
{
	const char *kind = json_string_value(json_object_get(req, "kind"));
	const char *ns = json_string_value(json_object_get(req, "namespace"));

	t->name = json_string_value(json_object_get(req, "name"));
	if (!kind || !*kind)
		return localapi_error(400, "BadRequest",
		    "the request names no kind");
	t->k = kinds_lookup(kind);
	if (!t->k)
		return localapi_error(404, "NotFound",
		    "the server doesn't have a resource type \"%s\"", kind);
	if (need_name && (!t->name || !*t->name))
		return localapi_error(400, "BadRequest",
		    "resource name may not be empty");
	if (!t->k->namespaced)
		t->ns = "";
	else
		t->ns = ns && *ns ? ns : (need_name ? "default" : NULL);
	return NULL;
}

static json_t *
lapi_get(struct localapi *api, const json_t *req)
{
	struct lapi_target t;
	json_t *err = lapi_target(req, 1, &t), *obj;

	if (err)
		return err;
	obj = store_get(api->store, t.k->kind, t.ns, t.name);
	if (!obj)
		return lapi_wrap_status(apply_store_status(-ENOENT, t.k, t.name,
		    NULL));
	return json_pack("{s:o}", "object", obj);
}

static json_t *
lapi_rv(struct localapi *api)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu",
	    (unsigned long long)store_rv(api->store));
	return json_string(buf);
}

static json_t *
lapi_list(struct localapi *api, const json_t *req)
{
	struct lapi_target t;
	json_t *err = lapi_target(req, 0, &t), *items;

	if (err)
		return err;
	items = store_list(api->store, t.k->kind,
	    t.k->namespaced ? t.ns : NULL);
	if (!items)
		return NULL;
	return json_pack("{s:o, s:o}", "items", items, "resourceVersion",
	    lapi_rv(api));
}

static int
lapi_exists(struct localapi *api, const json_t *obj, const char *ns)
{
	const struct kinds_info *k = kinds_by_kind(manifest_str(obj, "kind"));
	const char *name = manifest_str(obj, "metadata.name");
	const char *ons = manifest_str(obj, "metadata.namespace");
	json_t *cur;

	if (!k || !name)
		return 0;
	if (ons && *ons)
		ns = ons;
	cur = store_get(api->store, k->kind, k->namespaced ?
	    (ns && *ns ? ns : "default") : "", name);
	json_decref(cur);
	return cur != NULL;
}

static json_t *
lapi_apply(struct localapi *api, const json_t *req)
{
	const json_t *obj = json_object_get(req, "object");
	const char *ns = json_string_value(json_object_get(req, "namespace"));
	enum apply_result res;
	json_t *out = NULL, *status = NULL;

	if (!json_is_object(obj))
		return localapi_error(400, "BadRequest",
		    "apply: \"object\" must be a JSON object");
	if (apply_object(api->store, obj, ns, &res, &out, &status) < 0) {
		json_t *resp = lapi_wrap_status(status);

		/* For kubectl's "error when creating|patching FILE: ...". */
		if (resp)
			json_object_set_new(resp, "action", json_string(
			    lapi_exists(api, obj, ns) ? "patching" :
			    "creating"));
		return resp;
	}
	log_info("%s %s/%s %s", manifest_str(out, "kind"),
	    manifest_str(out, "metadata.namespace"),
	    manifest_str(out, "metadata.name"), apply_result_name(res));
	return json_pack("{s:o, s:s}", "object", out, "result",
	    apply_result_name(res));
}

static json_t *
lapi_delete(struct localapi *api, const json_t *req)
{
	struct lapi_target t;
	json_t *err = lapi_target(req, 1, &t), *obj = NULL, *status = NULL;

	if (err)
		return err;
	if (objops_delete(api->store, t.k->kind, t.ns, t.name, NULL, 0, &obj,
	    &status) < 0)
		return lapi_wrap_status(status);
	return json_pack("{s:o}", "object", obj);
}

static json_t *
lapi_scale(struct localapi *api, const json_t *req)
{
	struct lapi_target t;
	json_t *err = lapi_target(req, 1, &t), *obj = NULL, *status = NULL;
	json_t *rep = json_object_get(req, "replicas");

	if (err)
		return err;
	if (!json_is_integer(rep))
		return localapi_error(400, "BadRequest",
		    "scale: \"replicas\" must be an integer");
	if (objops_scale(api->store, t.k->kind, t.ns, t.name,
	    json_integer_value(rep), NULL, 0, &obj, &status) < 0)
		return lapi_wrap_status(status);
	return json_pack("{s:o}", "object", obj);
}

static json_t *
lapi_ping(struct localapi *api, const json_t *req)
{
	(void)req;
	return json_pack("{s:b, s:o}", "ok", 1, "resourceVersion",
	    lapi_rv(api));
}

static const struct {
	const char *op;
	json_t *(*fn)(struct localapi *, const json_t *);
} lapi_builtin[] = {
	{ "get", lapi_get },
	{ "list", lapi_list },
	{ "apply", lapi_apply },
	{ "delete", lapi_delete },
	{ "scale", lapi_scale },
	{ "ping", lapi_ping },
};

#define LAPI_NBUILTIN (sizeof(lapi_builtin) / sizeof(lapi_builtin[0]))

static json_t *
lapi_dispatch(struct localapi *api, const json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!op)
		return localapi_error(400, "BadRequest",
		    "the request has no \"op\"");
	for (size_t i = 0; i < LAPI_NBUILTIN; i++)
		if (strcmp(lapi_builtin[i].op, op) == 0)
			return lapi_builtin[i].fn(api, req);
	for (size_t i = 0; i < api->nops; i++)
		if (strcmp(api->ops[i].op, op) == 0)
			return api->ops[i].fn(api->ops[i].arg, req);
	return localapi_error(404, "NotFound", "unknown op \"%.100s\"", op);
}

static json_t *
lapi_handle_line(struct localapi *api, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *resp;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return localapi_error(400, "BadRequest",
		    "the request is not JSON: %s", jerr.text);
	if (!json_is_object(req))
		resp = localapi_error(400, "BadRequest",
		    "the request is not a JSON object");
	else
		resp = lapi_dispatch(api, req);
	json_decref(req);
	if (!resp)
		resp = localapi_error(500, "InternalError",
		    "the request failed (out of memory)");
	return resp;
}

int
localapi_register(struct localapi *api, const char *op, localapi_fn fn,
    void *arg)
{
	struct lapi_op *n;

	if (!op || !*op || !fn)
		return -EINVAL;
	for (size_t i = 0; i < LAPI_NBUILTIN; i++)
		if (strcmp(lapi_builtin[i].op, op) == 0)
			return -EEXIST;
	for (size_t i = 0; i < api->nops; i++)
		if (strcmp(api->ops[i].op, op) == 0)
			return -EEXIST;
	n = realloc(api->ops, (api->nops + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	api->ops = n;
	n[api->nops].op = strdup(op);
	if (!n[api->nops].op)
		return -ENOMEM;
	n[api->nops].fn = fn;
	n[api->nops].arg = arg;
	api->nops++;
	return 0;
}

/* ---- connections ------------------------------------------------------------- */

static void
lapi_client_free(struct lapi_client *c)
{
	struct localapi *api = c->api;
	struct lapi_client **pp;

	for (pp = &api->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	api->nclients--;
	loop_del_fd(api->loop, c->fd);
	close(c->fd);
	log_debug("local client %lu closed", c->id);
	free(c->in);
	free(c->out);
	free(c);
}

/* Queue text + "\n". */
static int
lapi_queue(struct lapi_client *c, const char *text)
{
	size_t len = strlen(text);

	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen - c->outoff + len + 1 > LOCALAPI_MAX_PENDING)
		return -ENOBUFS;
	if (c->outlen + len + 1 > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *n;

		if (c->outoff > 0) {
			memmove(c->out, c->out + c->outoff,
			    c->outlen - c->outoff);
			c->outlen -= c->outoff;
			c->outoff = 0;
		}
		while (cap < c->outlen + len + 1)
			cap *= 2;
		n = realloc(c->out, cap);
		if (!n)
			return -ENOMEM;
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, text, len);
	c->outlen += len;
	c->out[c->outlen++] = '\n';
	return 0;
}

static int
lapi_queue_json(struct lapi_client *c, json_t *resp)
{
	char *text = json_dumps(resp, JSON_COMPACT);
	int rc;

	json_decref(resp);
	if (!text)
		return -ENOMEM;
	rc = lapi_queue(c, text);
	free(text);
	return rc;
}

/* Write what the socket takes. 0, or -1 when the client is gone. */
static int
lapi_flush(struct lapi_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

static int
lapi_blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

static int
lapi_too_long(struct lapi_client *c)
{
	c->closing = 1;
	return lapi_queue_json(c, localapi_error(413, "RequestEntityTooLarge",
	    "the request line is longer than %u bytes", LOCALAPI_MAX_LINE));
}

/* Handle complete lines while the output queue is short. */
static int
lapi_process(struct lapi_client *c)
{
	size_t start = 0;

	if (c->inlen == 0) {
		if (c->eof)
			c->closing = 1;
		return 0;
	}
	while (!c->closing && c->outlen - c->outoff < LAPI_OUT_HIGH &&
	    start < c->inlen) {
		char *nl = memchr(c->in + start, '\n', c->inlen - start);
		size_t len;

		if (!nl && !(c->eof && start < c->inlen))
			break;
		len = nl ? (size_t)(nl - (c->in + start)) : c->inlen - start;
		if (len >= LOCALAPI_MAX_LINE)
			return lapi_too_long(c);
		if (!lapi_blank(c->in + start, len) &&
		    lapi_queue_json(c, lapi_handle_line(c->api, c->in + start,
		    len)) < 0)
			return -1;
		start += len + (nl ? 1 : 0);
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	if (!c->closing && c->inlen >= LOCALAPI_MAX_LINE)
		return lapi_too_long(c);
	if (c->eof && c->inlen == 0)
		c->closing = 1;
	return 0;
}

static int
lapi_read(struct lapi_client *c)
{
	for (int i = 0; i < 16 && !c->eof && c->inlen < LOCALAPI_MAX_LINE;
	    i++) {
		ssize_t n;

		if (c->incap - c->inlen < LAPI_READ_CHUNK) {
			size_t cap = c->incap ? c->incap * 2 : LAPI_READ_CHUNK;
			char *p;

			while (cap - c->inlen < LAPI_READ_CHUNK)
				cap *= 2;
			p = realloc(c->in, cap);
			if (!p)
				return -1;
			c->in = p;
			c->incap = cap;
		}
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0)
			c->eof = 1;
		c->inlen += (size_t)n;
		if (memchr(c->in + c->inlen - (size_t)n, '\n', (size_t)n))
			break;
	}
	return 0;
}

/* Process, flush, and pick the events to wait for; -1: drop the client. */
static int
lapi_pump(struct lapi_client *c)
{
	short ev = 0;

	if (lapi_process(c) < 0 || lapi_flush(c) < 0)
		return -1;
	/* Output drained: more buffered lines may be handled now. */
	while (c->outlen == 0 && !c->closing && c->inlen > 0 &&
	    memchr(c->in, '\n', c->inlen)) {
		if (lapi_process(c) < 0 || lapi_flush(c) < 0)
			return -1;
	}
	if (c->outlen > c->outoff)
		ev |= POLLOUT;
	else if (c->closing)
		return -1;
	if (!c->closing && !c->eof && c->outlen - c->outoff < LAPI_OUT_HIGH)
		ev |= POLLIN;
	loop_mod_fd(c->api->loop, c->fd, ev);
	return 0;
}

static void
lapi_client_io(void *arg, int fd, short revents)
{
	struct lapi_client *c = arg;

	(void)fd;
	if ((revents & POLLIN) && lapi_read(c) < 0)
		goto drop;
	if ((revents & (POLLERR | POLLNVAL)) ||
	    ((revents & POLLHUP) && !(revents & POLLIN)))
		goto drop;
	if (lapi_pump(c) < 0)
		goto drop;
	return;
drop:
	lapi_client_free(c);
}

/*
 * Root, or the user that bound the socket (droverd's when it runs as one
 * unprivileged process). Not droverd-api's own uid when droverd was
 * split: it bound the socket as root, and another process of its
 * unprivileged user (a VMM sharing it, say) must not drive droverd.
 */
static int
lapi_peer_ok(int fd, uid_t owner, unsigned long id)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("local client %lu: SO_PEERCRED", id);
		return 0;
	}
	if (cred.uid == 0 || cred.uid == owner)
		return 1;
	log_warnx("local client %lu: refused uid %u (pid %d)", id,
	    (unsigned)cred.uid, (int)cred.pid);
	return 0;
}

static void
lapi_refuse(int fd, int code, const char *reason, const char *msg)
{
	json_t *e = localapi_error(code, reason, "%s", msg);
	char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;

	if (text) {
		size_t len = strlen(text);

		text[len] = '\n';	/* json_dumps' NUL: not sent */
		if (send(fd, text, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("refusal not sent");
	}
	free(text);
	json_decref(e);
	close(fd);
}

static void
lapi_accept(void *arg, int fd, short revents)
{
	struct localapi *api = arg;

	(void)revents;
	for (int i = 0; i < 16; i++) {
		struct lapi_client *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned long id;

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("accept");
			return;
		}
		id = ++api->next_id;
		if (!lapi_peer_ok(cfd, api->owner, id)) {
			lapi_refuse(cfd, 403, "Forbidden", "droverd's local "
			    "socket is for root and droverd's user only");
			continue;
		}
		if (api->nclients >= LOCALAPI_MAX_CLIENTS) {
			log_warnx("local client %lu: too many connections", id);
			lapi_refuse(cfd, 429, "TooManyRequests",
			    "too many connections to the local socket");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || loop_add_fd(api->loop, cfd, POLLIN, lapi_client_io,
		    c) < 0) {
			free(c);
			close(cfd);
			log_error("local client %lu: out of memory", id);
			continue;
		}
		c->api = api;
		c->fd = cfd;
		c->id = id;
		c->next = api->clients;
		api->clients = c;
		api->nclients++;
		log_debug("local client %lu connected", id);
	}
}

/* ---- the socket ------------------------------------------------------------------ */

static int
lapi_mkdirs(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	p = strrchr(buf, '/');
	if (!p || p == buf)
		return 0;
	*p = '\0';
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Remove a stale socket; -EADDRINUSE if something answers on it. */
static int
lapi_clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int
lapi_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = lapi_mkdirs(path);
	if (rc == 0)
		rc = lapi_clear_stale(&sa);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, rc == -EADDRINUSE ?
		    "another droverd is listening there" : rc == -EEXIST ?
		    "exists and is not a socket" : strerror(-rc));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
localapi_listen(const char *path, char *err, size_t errlen)
{
	return lapi_listen(path ? path : LOCALAPI_DEFAULT_SOCKET, err, errlen);
}

struct localapi *
localapi_new(struct loop *l, struct store *s, const char *path, char *err,
    size_t errlen)
{
	return localapi_new_fd(l, s, path, -1, err, errlen);
}

struct localapi *
localapi_new_fd(struct loop *l, struct store *s, const char *path, int fd,
    char *err, size_t errlen)
{
	struct localapi *api = calloc(1, sizeof(*api));
	struct stat st;

	if (!path)
		path = LOCALAPI_DEFAULT_SOCKET;
	if (!api || !(api->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	api->loop = l;
	api->store = s;
	api->fd = fd >= 0 ? fd : lapi_listen(path, err, errlen);
	if (api->fd < 0)
		goto fail;
	api->owner = lstat(path, &st) == 0 ? st.st_uid : 0;
	if (loop_add_fd(l, api->fd, POLLIN, lapi_accept, api) < 0) {
		snprintf(err, errlen, "out of memory");
		close(api->fd);
		unlink(path);
		goto fail;
	}
	log_info("local API on %s", path);
	return api;
fail:
	if (api)
		free(api->path);
	free(api);
	return NULL;
}

void
localapi_free(struct localapi *api)
{
	if (!api)
		return;
	while (api->clients)
		lapi_client_free(api->clients);
	loop_del_fd(api->loop, api->fd);
	close(api->fd);
	unlink(api->path);
	for (size_t i = 0; i < api->nops; i++)
		free(api->ops[i].op);
	free(api->ops);
	free(api->path);
	free(api);
}
