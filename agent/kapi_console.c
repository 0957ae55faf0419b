/*
 * kapi_console.c: the console subresource (kapi_console.h).
 *
 * One session per accepted WebSocket: a non-blocking connection to the
 * VMM's console socket (vmm/console.c: it first sends the output it still
 * keeps, then everything new; the first client to type is its writer
 * until it goes) on droverd's loop. Output is sent as binary frames of at
 * most KAPI_CONSOLE_FRAME bytes (virt-handler's buffer size); frames from
 * the client are written to the socket, with a bounded backlog when the
 * guest does not read. A new session for the same VMI ends the older ones
 * first, so that the new one is the console's writer.
 *
 * The transport's callbacks carry a session id, not a pointer: a callback
 * that arrives after the session ended (the transport calling on_close
 * after kapi_ws_close(), or during shut-down) finds nothing and does
 * nothing.
 */
#include "kapi_console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "store.h"

#define KAPI_CONSOLE_FRAME	10240		/* bytes per frame */
#define KAPI_CONSOLE_BACKLOG	(64 * 1024)	/* typed, not yet written */

struct kcon {
	struct kcon *next;
	uintptr_t id;
	struct kapi *k;
	struct kapi_conn *conn;
	struct loop *loop;
	int fd;				/* the VMM's console socket */
	char ns[254], name[254];
	char *pending;			/* typed bytes the socket refused */
	size_t npending;
	uint64_t dropped;
};

static struct kcon *kcon_list;
static uintptr_t kcon_next_id = 1;

static struct kcon *
kcon_find(uintptr_t id)
{
	for (struct kcon *s = kcon_list; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* End a session: socket closed, WebSocket closed if close_ws, freed. */
static void
kcon_end(struct kcon *s, int close_ws, const char *why)
{
	struct kapi_conn *conn = s->conn;

	for (struct kcon **p = &kcon_list; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	log_debug("console %s/%s: session %lu ends: %s", s->ns, s->name,
	    (unsigned long)s->id, why);
	if (s->dropped)
		log_warnx("console %s/%s: %llu typed bytes dropped (the guest "
		    "did not read them)", s->ns, s->name,
		    (unsigned long long)s->dropped);
	if (s->fd >= 0) {
		loop_del_fd(s->loop, s->fd);
		close(s->fd);
	}
	free(s->pending);
	free(s);
	/* Last: the transport may call on_close from in here (it finds no
	 * session any more). */
	if (close_ws && conn)
		kapi_ws_close(conn);
}

static void
kcon_update_events(struct kcon *s)
{
	loop_mod_fd(s->loop, s->fd, POLLIN | (s->npending ? POLLOUT : 0));
}

/* Write what is pending; 0, or -1 when the socket is gone. */
static int
kcon_flush(struct kcon *s)
{
	while (s->npending) {
		ssize_t w = send(s->fd, s->pending, s->npending, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
			return -1;
		memmove(s->pending, s->pending + w, s->npending - (size_t)w);
		s->npending -= (size_t)w;
	}
	kcon_update_events(s);
	return 0;
}

static void
kcon_on_fd(void *arg, int fd, short revents)
{
	struct kcon *s = kcon_find((uintptr_t)arg);
	char buf[KAPI_CONSOLE_FRAME];
	ssize_t n;
	int rc;

	if (!s || s->fd != fd)
		return;
	if ((revents & POLLOUT) && kcon_flush(s) < 0) {
		kcon_end(s, 1, "console socket write failed");
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		kcon_end(s, 1, n == 0 ? "the VMM closed its console" :
		    strerror(errno));
		return;
	}
	rc = kapi_ws_send(s->conn, buf, (size_t)n);
	if (rc < 0)
		kcon_end(s, 1, rc == -ENOBUFS ? "the client is too slow" :
		    "the WebSocket send failed");
}

static void
kcon_on_message(void *arg, const void *data, size_t len)
{
	struct kcon *s = kcon_find((uintptr_t)arg);
	size_t room;
	char *p;

	if (!s || len == 0)
		return;
	room = KAPI_CONSOLE_BACKLOG - s->npending;
	if (len > room) {
		s->dropped += len - room;
		len = room;
	}
	if (len == 0)
		return;
	if (!s->pending) {
		p = malloc(KAPI_CONSOLE_BACKLOG);
		if (!p) {
			s->dropped += len;
			return;
		}
		s->pending = p;
	}
	memcpy(s->pending + s->npending, data, len);
	s->npending += len;
	if (kcon_flush(s) < 0)
		kcon_end(s, 1, "console socket write failed");
}

static void
kcon_on_close(void *arg)
{
	struct kcon *s = kcon_find((uintptr_t)arg);

	if (s) {
		s->conn = NULL;		/* gone: do not close it again */
		kcon_end(s, 0, "the client went away");
	}
}

static const struct kapi_ws_ops kcon_ops = {
	.on_message = kcon_on_message,
	.on_close = kcon_on_close,
};

/* A Status error, as the API server answers. */
static void
kcon_status(struct kapi_conn *c, int code, const char *reason,
    const char *name, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
kcon_status(struct kapi_conn *c, int code, const char *reason,
    const char *name, const char *kind, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *st;
	char *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}",
	    "kind", "Status", "apiVersion", "v1", "metadata",
	    "status", "Failure", "message", msg, "reason", reason,
	    "code", code);
	if (st && name) {
		json_t *d = json_pack("{s:s, s:s, s:s}", "name", name,
		    "group", "kubevirt.io", "kind", kind);

		if (d)
			json_object_set_new(st, "details", d);
	}
	body = st ? json_dumps(st, JSON_COMPACT) : NULL;
	if (body)
		kapi_respond(c, code, "application/json", body, strlen(body));
	else
		kapi_respond(c, 500, "text/plain", "out of memory\n", 14);
	free(body);
	json_decref(st);
}

/* Does the Sec-WebSocket-Protocol list offer proto? */
static int
kcon_offers(const char *list, const char *proto)
{
	size_t n = strlen(proto);

	for (const char *p = list; p && *p; ) {
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p;
		while (*end && *end != ',' && *end != ' ' && *end != '\t')
			end++;
		if ((size_t)(end - p) == n && strncmp(p, proto, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

static int
kcon_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* End the older sessions of this VMI (the newest one takes over). */
static void
kcon_take_over(struct kapi *k, const char *ns, const char *name)
{
	struct kcon *s = kcon_list, *next;

	for (; s; s = next) {
		next = s->next;
		if (s->k == k && strcmp(s->ns, ns) == 0 &&
		    strcmp(s->name, name) == 0) {
			log_info("console %s/%s: a new session takes over",
			    ns, name);
			kcon_end(s, 1, "a newer session took over");
			next = kcon_list;	/* the list changed */
		}
	}
}

/*
 * KubeVirt's checks: the VMI exists (404), is not Failed (409), is
 * Running (400); then the runtime must know its console. 0 with the
 * socket path, or -1 after answering.
 */
static int
kcon_check(struct kapi *k, struct kapi_conn *c, const char *ns,
    const char *name, char *path, size_t pathlen)
{
	struct store *st = kapi_store(k);
	struct rt *rt = kapi_rt(k);
	json_t *vmi = st ? store_get(st, "VirtualMachineInstance", ns, name) :
	    NULL;
	const char *phase;
	char ph[64];
	int rc;

	if (!vmi) {
		kcon_status(c, 404, "NotFound", name, "virtualmachineinstances",
		    "virtualmachineinstances.kubevirt.io \"%s\" not found",
		    name);
		return -1;
	}
	phase = json_string_value(json_object_get(json_object_get(vmi,
	    "status"), "phase"));
	snprintf(ph, sizeof(ph), "%s", phase ? phase : "");
	json_decref(vmi);
	if (strcmp(ph, "Failed") == 0) {
		kcon_status(c, 409, "Conflict", name, "virtualmachineinstance",
		    "Operation cannot be fulfilled on "
		    "virtualmachineinstance.kubevirt.io \"%s\": VMI is in "
		    "failed status", name);
		return -1;
	}
	rc = strcmp(ph, "Running") == 0 && rt ?
	    rt_console_path(rt, ns, name, path, pathlen) : -EAGAIN;
	if (rc == -ESHUTDOWN && strcmp(ph, "Running") != 0)
		rc = -EAGAIN;
	if (rc == 0)
		return 0;
	if (rc == -ESHUTDOWN) {		/* ended since its status was written */
		kcon_status(c, 409, "Conflict", name, "virtualmachineinstance",
		    "Operation cannot be fulfilled on "
		    "virtualmachineinstance.kubevirt.io \"%s\": VMI is in "
		    "failed status", name);
		return -1;
	}
	if (strcmp(ph, "Running") != 0)
		kcon_status(c, 400, "BadRequest", NULL, NULL,
		    "Unable to connect to VirtualMachineInstance because "
		    "phase is %s instead of Running", ph);
	else
		kcon_status(c, 400, "BadRequest", NULL, NULL,
		    "Unable to connect to VirtualMachineInstance: its console "
		    "is not available on this node (%s)", strerror(-rc));
	return -1;
}

int
kapi_console_handle(struct kapi *k, struct kapi_conn *c,
    const struct kapi_req *r, const char *ns, const char *name)
{
	char path[4096];
	struct kcon *s;
	int fd;

	if (strcmp(r->method, "GET") != 0) {
		kcon_status(c, 405, "MethodNotAllowed", NULL, NULL,
		    "the server does not allow this method on the requested "
		    "resource");
		return 0;
	}
	if (strlen(ns) >= sizeof(s->ns) || strlen(name) >= sizeof(s->name)) {
		kcon_status(c, 400, "BadRequest", NULL, NULL,
		    "namespace or name too long");
		return 0;
	}
	if (kcon_check(k, c, ns, name, path, sizeof(path)) < 0)
		return 0;
	if (!r->upgrade || strcasecmp(r->upgrade, "websocket") != 0 ||
	    !kcon_offers(r->ws_protocols, KAPI_CONSOLE_PROTOCOL)) {
		kcon_status(c, 400, "BadRequest", NULL, NULL,
		    "the console is a WebSocket with subprotocol "
		    KAPI_CONSOLE_PROTOCOL);
		return 0;
	}
	/* The newest session is the writer: end the older ones first. */
	kcon_take_over(k, ns, name);
	fd = kcon_connect(path);
	if (fd < 0) {
		log_warnx("console %s/%s: %s: %s", ns, name, path,
		    strerror(-fd));
		kcon_status(c, 500, "InternalError", NULL, NULL,
		    "cannot connect to the console of %s/%s: %s", ns, name,
		    strerror(-fd));
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		kcon_status(c, 500, "InternalError", NULL, NULL,
		    "out of memory");
		return 0;
	}
	s->id = kcon_next_id++;
	s->k = k;
	s->conn = c;
	s->loop = kapi_loop(k);
	s->fd = fd;
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (loop_add_fd(s->loop, fd, POLLIN, kcon_on_fd,
	    (void *)s->id) < 0) {
		close(fd);
		free(s);
		kcon_status(c, 500, "InternalError", NULL, NULL,
		    "cannot watch the console socket");
		return 0;
	}
	s->next = kcon_list;
	kcon_list = s;
	if (kapi_ws_accept(c, KAPI_CONSOLE_PROTOCOL, &kcon_ops,
	    (void *)s->id) < 0) {
		/* The transport answered; the connection is not ours. */
		s->conn = NULL;
		kcon_end(s, 0, "the WebSocket upgrade failed");
		return 0;
	}
	log_info("console %s/%s: session %lu for %s", ns, name,
	    (unsigned long)s->id, r->user && r->user->name[0] ?
	    r->user->name : "?");
	return 0;
}

void
kapi_console_shutdown(struct kapi *k)
{
	struct kcon *s = kcon_list, *next;

	for (; s; s = next) {
		next = s->next;
		if (s->k == k) {
			kcon_end(s, 1, "droverd stops");
			next = kcon_list;
		}
	}
}
