/*
 * apiserver.c: droverd's mutual-TLS HTTP/1.1 + WebSocket transport for the
 * Kubernetes API (apiserver.h): libwebsockets 4.3 over mbedTLS 3.6, run on
 * droverd's own poll loop.
 *
 * Loop integration: lws's "custom event library" (lws_plugin_evlib, no
 * LWS_WITH_EXTERNAL_POLL needed). lws tells us which fds to watch and for
 * what (sock_accept, init_vhost_listen_wsi, io, wsi_logical_close); we
 * register them with loop_add_fd/loop_mod_fd/loop_del_fd and hand the
 * events back with lws_service_fd(). After every batch of events a
 * deferred "tick" asks lws_service_adjust_timeout() for its next timer
 * (which also runs lws's due timers) and arms one loop timer for it; when
 * lws has decrypted TLS data buffered (no fd event will come for it) the
 * tick runs lws_service(ctx, -1), a non-blocking pass, until none is left.
 *
 * Connections: one struct kapi_conn per accepted socket (created at
 * SERVER_NEW_CLIENT_INSTANTIATED, freed at WSI_DESTROY), listed here for
 * the limits: at most max_conns at once (more are closed at accept), and a
 * sweep every second closes those past their deadline (TLS handshake and
 * headers, body, keep-alive idle) or whose output has not moved for the
 * send timeout. The HTTP and WebSocket work is in apiserver_http.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apiserver_int.h"
#include "log.h"
#include "loop.h"

#define AS_SWEEP_MS	1000

/* lws's messages go to droverd's log. After start-up its errors are
 * mostly about clients (bad handshakes, broken headers): info. */
static int as_lws_started;

static void
as_lws_log(int level, const char *line)
{
	char buf[512];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", line);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if ((level & LLL_ERR) && !as_lws_started)
		log_error("lws: %s", buf);
	else if (level & LLL_ERR)
		log_info("lws: %s", buf);
	else
		log_debug("lws: %s", buf);
}

static struct apiserver *
as_of(struct lws *wsi)
{
	struct lws_context *cx = wsi ? lws_get_context(wsi) : NULL;

	return cx ? lws_context_user(cx) : NULL;
}

/* ---------------------------------------------------------------- fds */

/* Our part of lws's per-thread state: the server (lws's context user
 * pointer is set only after its first fds are added). */
struct as_evpt {
	struct apiserver *srv;
};

static int
as_ev_init_pt(struct lws_context *cx, void *loop, int tsi)
{
	struct as_evpt *pt = lws_evlib_tsi_to_evlib_pt(cx, tsi);

	pt->srv = loop;
	return loop ? 0 : -1;
}

static struct apiserver *
as_ev_srv(struct lws *wsi)
{
	struct as_evpt *pt = lws_evlib_wsi_to_evlib_pt(wsi);

	return pt ? pt->srv : NULL;
}

static struct as_fd *
as_fd_find(struct apiserver *s, int fd)
{
	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i].fd == fd)
			return &s->fds[i];
	return NULL;
}

static void
as_fd_drop(struct apiserver *s, struct as_fd *f)
{
	loop_del_fd(s->loop, f->fd);
	*f = s->fds[--s->nfds];
}

static void as_on_fd(void *arg, int fd, short revents);

static int
as_fd_add(struct lws *wsi, short events)
{
	struct apiserver *s = as_ev_srv(wsi);
	int fd = lws_get_socket_fd(wsi);
	struct as_fd *f;

	if (!s || fd < 0)
		return -1;
	f = as_fd_find(s, fd);
	if (f) {			/* a stale entry: the fd was reused */
		f->wsi = wsi;
		f->events = events;
		return loop_mod_fd(s->loop, fd, events) < 0 ? -1 : 0;
	}
	if (s->nfds == s->capfds) {
		size_t cap = s->capfds ? s->capfds * 2 : 32;
		struct as_fd *n = realloc(s->fds, cap * sizeof(*n));

		if (!n)
			return -1;
		s->fds = n;
		s->capfds = cap;
	}
	if (loop_add_fd(s->loop, fd, events, as_on_fd, s) < 0)
		return -1;
	s->fds[s->nfds++] = (struct as_fd){ .fd = fd, .wsi = wsi,
	    .events = events };
	return 0;
}

static int
as_ev_accept(struct lws *wsi)
{
	return as_fd_add(wsi, POLLIN);
}

static void
as_ev_io(struct lws *wsi, unsigned int flags)
{
	struct apiserver *s = as_ev_srv(wsi);
	struct as_fd *f = s ? as_fd_find(s, lws_get_socket_fd(wsi)) : NULL;
	short bits = (short)(((flags & LWS_EV_READ) ? POLLIN : 0) |
	    ((flags & LWS_EV_WRITE) ? POLLOUT : 0));
	short ev;

	if (!f)
		return;
	ev = (flags & LWS_EV_START) ? (short)(f->events | bits) :
	    (short)(f->events & ~bits);
	if (ev != f->events) {
		f->events = ev;
		loop_mod_fd(s->loop, f->fd, ev);
	}
}

/* The wsi's socket leaves the loop (before lws closes it). */
static int
as_ev_close(struct lws *wsi)
{
	struct apiserver *s = as_ev_srv(wsi);

	for (size_t i = 0; s && i < s->nfds; i++)
		if (s->fds[i].wsi == wsi) {
			as_fd_drop(s, &s->fds[i]);
			break;
		}
	return 0;
}

static void
as_ev_destroy(struct lws *wsi)
{
	as_ev_close(wsi);
}

static const struct lws_event_loop_ops as_evlib_ops = {
	.name = "droverd",
	.init_pt = as_ev_init_pt,
	.init_vhost_listen_wsi = as_ev_accept,
	.sock_accept = as_ev_accept,
	.io = as_ev_io,
	.wsi_logical_close = as_ev_close,
	.destroy_wsi = as_ev_destroy,
	/* poll semantics: lws may half-close and wait for the peer's EOF */
	.flags = LELOF_ISPOLL,
	.evlib_size_pt = sizeof(struct as_evpt),
};

static const lws_plugin_evlib_t as_evlib = {
	.hdr = { "droverd loop", "lws_evlib_plugin", LWS_BUILD_HASH,
	    LWS_PLUGIN_API_MAGIC },
	.ops = &as_evlib_ops,
};

/* ---------------------------------------------------------------- ticks */

static void as_tick(void *arg);

static void
as_timer_fired(void *arg)
{
	struct apiserver *s = arg;

	s->timer_id = 0;
	as_tick(s);
}

/*
 * lws's own timers and its buffered TLS data: run what is due, then arm
 * one loop timer for the next.
 */
static void
as_tick(void *arg)
{
	struct apiserver *s = arg;
	uint64_t now, due;
	int ms = 0;

	s->defer_id = 0;
	for (int i = 0; i < 8; i++) {
		ms = lws_service_adjust_timeout(s->ctx, 30000, 0);
		if (ms > 0)
			break;
		lws_service(s->ctx, -1);
	}
	if (ms <= 0) {			/* still busy: next iteration */
		as_kick(s);
		return;
	}
	now = loop_now_ms();
	due = now + (uint64_t)ms;
	if (s->timer_id && s->timer_due <= due)
		return;
	if (s->timer_id)
		loop_cancel(s->loop, s->timer_id);
	s->timer_id = loop_timer(s->loop, (uint64_t)ms, as_timer_fired, s);
	s->timer_due = due;
}

void
as_kick(struct apiserver *s)
{
	if (!s->started || s->defer_id)
		return;
	s->defer_id = loop_defer(s->loop, as_tick, s);
	if (s->defer_id < 0)
		s->defer_id = 0;
}

static void
as_on_fd(void *arg, int fd, short revents)
{
	struct apiserver *s = arg;
	struct as_fd *f = as_fd_find(s, fd);
	struct lws_pollfd p;

	if (!f) {
		loop_del_fd(s->loop, fd);
		return;
	}
	if (revents & POLLNVAL) {	/* closed behind lws's back */
		log_warnx("API fd %d closed unexpectedly", fd);
		as_fd_drop(s, f);
		return;
	}
	p.fd = fd;
	p.events = f->events;
	p.revents = revents;
	lws_service_fd(s->ctx, &p);
	as_kick(s);
}

/* ---------------------------------------------------------------- conns */

void
as_set_deadline(struct kapi_conn *c, uint64_t ms)
{
	c->deadline = ms ? loop_now_ms() + ms : 0;
}

void
as_kill(struct kapi_conn *c, const char *why)
{
	if (c->kill_asked)
		return;
	c->kill_asked = 1;
	log_debug("API connection %llu (%s, %s): closing: %s",
	    (unsigned long long)c->id, c->peer,
	    c->have_user ? c->user.name : "-", why);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	as_kick(c->srv);
}

static void as_sweep(void *arg);

static void
as_sweep_arm(struct apiserver *s)
{
	if (!s->sweep_id && s->nconns && s->started)
		s->sweep_id = loop_timer(s->loop, AS_SWEEP_MS, as_sweep, s);
	if (s->sweep_id < 0)
		s->sweep_id = 0;
}

static const char *
as_timeout_why(const struct kapi_conn *c)
{
	switch (c->state) {
	case AS_NEW: return "TLS handshake or request headers too slow";
	case AS_BODY: return "request body too slow";
	case AS_IDLE: return "idle keep-alive connection";
	default: return "timeout";
	}
}

static void
as_sweep(void *arg)
{
	struct apiserver *s = arg;
	uint64_t now = loop_now_ms();

	s->sweep_id = 0;
	for (struct kapi_conn *c = s->conns; c; c = c->next) {
		if (c->kill_asked)
			continue;
		if (c->deadline && now >= c->deadline) {
			s->n_timeouts++;
			as_kill(c, as_timeout_why(c));
		} else if (c->wait_tx_since &&
		    now - c->wait_tx_since >= s->send_ms) {
			s->n_slow++;
			as_kill(c, "the client does not read its output");
		}
	}
	as_sweep_arm(s);
}

static struct kapi_conn *
as_conn_new(struct apiserver *s, struct lws *wsi)
{
	struct kapi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->srv = s;
	c->wsi = wsi;
	c->id = ++s->next_id;
	c->state = AS_NEW;
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	as_set_deadline(c, s->header_ms);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->n_accepted++;
	lws_set_opaque_user_data(wsi, c);
	as_sweep_arm(s);
	return c;
}

static void
as_conn_free(struct kapi_conn *c)
{
	struct apiserver *s = c->srv;

	lws_set_opaque_user_data(c->wsi, NULL);
	as_conn_free_io(c);		/* on_close, queues, request */
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c);
}

/* ---------------------------------------------------------------- lws */

static int
as_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct apiserver *s = as_of(wsi);
	struct kapi_conn *c;

	(void)user;
	if (!s)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		if (s->nconns < s->max_conns)
			return 0;
		if (s->n_refused++ % 100 == 0)
			log_warnx("API: %u connections open (the limit): "
			    "refusing more (%llu so far)", s->nconns,
			    (unsigned long long)s->n_refused);
		return 1;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return as_conn_new(s, wsi) ? 0 : -1;
	case LWS_CALLBACK_WSI_DESTROY:
		c = lws_get_opaque_user_data(wsi);
		if (c)
			as_conn_free(c);
		return 0;
	default:
		break;
	}
	c = lws_get_opaque_user_data(wsi);
	if (!c || c->state == AS_DEAD)
		return 0;
	return as_http_callback(s, c, reason, in, len);
}

static const lws_retry_bo_t as_ws_retry = {
	.secs_since_valid_ping = 1,	/* a ping every second ... */
	.secs_since_valid_hangup = 60,	/* ... a minute without pong ends */
};

static char *
as_strdup(const char *p)
{
	return p ? strdup(p) : NULL;
}

static int
as_check_file(const char *what, const char *path)
{
	if (!path || !*path) {
		log_error("mTLS API: no %s configured", what);
		return -1;
	}
	if (access(path, R_OK) < 0) {
		log_error("mTLS API: %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
as_config(struct apiserver *s, const struct apiserver_conf *conf, int *v6)
{
	char addr[128];

	if (as_check_file("server certificate", conf->cert_file) < 0 ||
	    as_check_file("server key", conf->key_file) < 0 ||
	    as_check_file("client CA", conf->client_ca_file) < 0)
		return -1;
	if (as_parse_listen(conf->listen ? conf->listen : "0.0.0.0:6443",
	    addr, sizeof(addr), &s->port, v6) < 0) {
		log_error("mTLS API: bad listen address '%s' (want ADDR:PORT "
		    "or [ADDR6]:PORT)", conf->listen);
		return -1;
	}
	s->cert = as_strdup(conf->cert_file);
	s->key = as_strdup(conf->key_file);
	s->ca = as_strdup(conf->client_ca_file);
	s->iface = addr[0] ? strdup(addr) : NULL;
	if (!s->cert || !s->key || !s->ca || (addr[0] && !s->iface))
		return -1;
	s->max_body = conf->max_body ? conf->max_body : AS_DEF_MAX_BODY;
	s->max_header = conf->max_header ? conf->max_header :
	    AS_DEF_MAX_HEADER;
	s->max_conns = conf->max_conns ? conf->max_conns : AS_DEF_MAX_CONNS;
	s->max_out = conf->max_out ? conf->max_out : AS_DEF_MAX_OUT;
	s->header_ms = 1000ull * (conf->header_timeout_s ?
	    conf->header_timeout_s : AS_DEF_HEADER_TIMEOUT);
	s->idle_ms = 1000ull * (conf->idle_timeout_s ? conf->idle_timeout_s :
	    AS_DEF_IDLE_TIMEOUT);
	s->body_ms = 1000ull * (conf->body_timeout_s ? conf->body_timeout_s :
	    AS_DEF_BODY_TIMEOUT);
	s->send_ms = 1000ull * (conf->send_timeout_s ? conf->send_timeout_s :
	    AS_DEF_SEND_TIMEOUT);
	if (s->max_header < 1024 || s->max_header > (1u << 20)) {
		log_error("mTLS API: max header size %zu: want 1 KiB to 1 MiB",
		    s->max_header);
		return -1;
	}
	return 0;
}

static void
as_protocols(struct apiserver *s)
{
	static const char *const ws[] = AS_WS_PROTOCOLS;

	/* [0]: HTTP and everything before a WebSocket subprotocol is bound.
	 * A whole response goes to the socket in one write (lws keeps what
	 * the socket does not take). */
	s->protocols[0] = (struct lws_protocols){ .name = "http",
	    .callback = as_callback, .tx_packet_size = 1u << 20 };
	for (int i = 0; i < AS_NWS_PROTOCOLS; i++)
		s->protocols[1 + i] = (struct lws_protocols){ .name = ws[i],
		    .callback = as_callback, .rx_buffer_size = 16384,
		    .tx_packet_size = 1u << 20 };
	memset(&s->protocols[1 + AS_NWS_PROTOCOLS], 0,
	    sizeof(s->protocols[0]));
}

struct apiserver *
apiserver_new(const struct apiserver_conf *conf, struct loop *l,
    struct kapi *k)
{
	struct lws_context_creation_info info;
	struct apiserver *s = calloc(1, sizeof(*s));
	void *foreign[1];
	unsigned secs;
	int v6 = 0;

	if (!s || !l || !k) {
		log_error("mTLS API: %s", s ? "no loop or handlers" :
		    "out of memory");
		free(s);
		return NULL;
	}
	s->loop = l;
	s->kapi = k;
	if (as_config(s, conf, &v6) < 0)
		goto fail;
	as_protocols(s);
	lws_set_log_level(LLL_ERR | LLL_WARN |
	    (log_get_level() >= LOG_LEVEL_DEBUG ? LLL_NOTICE | (getenv("DROVER_LWS_DEBUG") ? LLL_INFO | LLL_DEBUG : 0) : 0),
	    as_lws_log);
	as_lws_started = 0;

	memset(&info, 0, sizeof(info));
	info.port = s->port;
	info.iface = s->iface;
	info.vhost_name = "drover";
	info.protocols = s->protocols;
	info.options = LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
	    LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
	    (v6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
	info.ssl_cert_filepath = s->cert;
	info.ssl_private_key_filepath = s->key;
	info.ssl_ca_filepath = s->ca;
	info.alpn = "http/1.1";		/* never h2: kubectl breaks on it */
	info.max_http_header_data2 = (unsigned)s->max_header;
	info.max_http_header_pool2 = s->max_conns;
	info.fd_limit_per_thread = s->max_conns + 16;
	info.count_threads = 1;
	info.pt_serv_buf_size = 64 * 1024;
	/* lws's own timeouts stay behind ours (the sweep) */
	secs = (unsigned)((s->header_ms > s->body_ms ? s->header_ms :
	    s->body_ms) / 1000) + 5;
	info.timeout_secs = secs;
	info.timeout_secs_ah_idle = secs;
	info.keepalive_timeout = (int)(s->idle_ms / 1000) + 5;
	info.ka_time = 60;		/* TCP keep-alive: dead peers of */
	info.ka_probes = 4;		/* long watches and consoles */
	info.ka_interval = 15;
	info.retry_and_idle_policy = &as_ws_retry;
	info.user = s;
	info.event_lib_custom = &as_evlib;
	foreign[0] = s;
	info.foreign_loops = foreign;

	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		log_error("mTLS API: cannot listen on %s (port %d) with %s, %s "
		    "and client CA %s (see above)", s->iface ? s->iface :
		    "any address", s->port, s->cert, s->key, s->ca);
		goto fail;
	}
	{
		struct lws_vhost *vh = lws_get_vhost_by_name(s->ctx, "drover");
		int p = vh ? lws_get_vhost_listen_port(vh) : -1;

		if (p <= 0) {
			log_error("mTLS API: not listening on %s port %d (see "
			    "above)", s->iface ? s->iface : "any address",
			    s->port);
			goto fail;
		}
		s->port = p;
	}
	s->started = 1;
	as_lws_started = 1;
	as_kick(s);
	log_info("mTLS API on %s:%d (TLS 1.2/1.3, client certificates of %s, "
	    "ALPN http/1.1; at most %u connections, %zu-byte headers, "
	    "%zu-byte bodies)", s->iface ? s->iface : (v6 ? "[::]" :
	    "0.0.0.0"), s->port, s->ca, s->max_conns, s->max_header,
	    s->max_body);
	return s;
fail:
	apiserver_free(s);
	return NULL;
}

int
apiserver_port(const struct apiserver *s)
{
	return s ? s->port : -1;
}

void
apiserver_free(struct apiserver *s)
{
	if (!s)
		return;
	s->started = 0;			/* no more kicks or sweeps */
	if (s->ctx) {
		log_info("mTLS API stops: %llu connections served, %llu "
		    "refused (limit), %llu timed out, %llu too slow to read, "
		    "%llu requests too large", (unsigned long long)
		    s->n_accepted, (unsigned long long)s->n_refused,
		    (unsigned long long)s->n_timeouts,
		    (unsigned long long)s->n_slow,
		    (unsigned long long)s->n_too_large);
		lws_context_destroy(s->ctx);
	}
	if (s->defer_id)
		loop_cancel(s->loop, s->defer_id);
	if (s->timer_id)
		loop_cancel(s->loop, s->timer_id);
	if (s->sweep_id)
		loop_cancel(s->loop, s->sweep_id);
	while (s->nfds)
		as_fd_drop(s, &s->fds[0]);
	as_big_drop(s);
	free(s->fds);
	free(s->cert);
	free(s->key);
	free(s->ca);
	free(s->iface);
	free(s);
}
