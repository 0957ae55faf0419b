/*
 * apiserver_http.c: the transport's HTTP/1.1 and WebSocket side
 * (kapi.h's transport functions), called from apiserver.c's lws callback.
 *
 * A request: headers complete (LWS_CALLBACK_HTTP) -> identity from the
 * client certificate (once per connection), limits (413 on Content-Length
 * over max_body, before any body byte is read; 411 without a length; the
 * connection is closed after such a refusal) -> the body collected whole
 * (LWS_CALLBACK_HTTP_BODY*) -> kapi_handle(). Responses are written by us
 * (status line and headers included) with lws_write(LWS_WRITE_HTTP): a
 * whole response is one buffer (a large one reused: AS_BIG_KEEP), handed
 * to lws in slices of up to AS_SLICE while the socket takes them (lws
 * keeps what the socket does not take, a copy), the rest when it is
 * writable again, then the transaction completes; a stream queues its
 * chunks (bounded by max_out) and writes them when the socket is writable.
 *
 * WebSocket: lws asks first (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE); the
 * handler decides inside kapi_handle(): kapi_ws_accept() lets lws finish
 * the upgrade with that subprotocol (one of AS_WS_PROTOCOLS), while
 * kapi_respond() answers the request as plain HTTP (a refusal). Frames
 * from the client are gathered into whole messages (at most max_body
 * bytes); our frames are queued (bounded by max_out). lws answers pings and
 * sends ours (apiserver.c's retry policy).
 *
 * on_close is called at most once, never from inside a kapi_* call: for a
 * stream when the client goes away or the transport drops it (not after
 * kapi_stream_end(): the connection serves the next request), for a
 * WebSocket when the connection is gone, whoever closed it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "apiserver_int.h"
#include "log.h"
#include "loop.h"

static const char *const as_methods[] = {
	[LWSHUMETH_GET] = "GET", [LWSHUMETH_POST] = "POST",
	[LWSHUMETH_OPTIONS] = "OPTIONS", [LWSHUMETH_PUT] = "PUT",
	[LWSHUMETH_PATCH] = "PATCH", [LWSHUMETH_DELETE] = "DELETE",
	[LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
};

/* ---------------------------------------------------------------- output */

#define AS_CORK_MIN (64 * 1024)	/* answers corked while written (bytes) */
#define AS_SLICE (64 * 1024)	/* the most handed to lws at once (bytes) */

static struct as_chunk *
as_chunk_new(struct apiserver *s, size_t len)
{
	struct as_chunk *k = NULL;
	size_t cap = len;

	if (len >= AS_BIG_MIN) {
		for (unsigned i = 0; i < s->nbig; i++)
			if (s->big[i]->cap >= len) {
				k = s->big[i];
				s->big[i] = s->big[--s->nbig];
				break;
			}
		cap = (len + AS_BIG_MIN - 1) / AS_BIG_MIN * AS_BIG_MIN;
	}
	if (!k) {
		k = malloc(sizeof(*k) + LWS_PRE + cap);
		if (!k)
			return NULL;
		k->cap = cap;
	}
	k->next = NULL;
	k->len = len;
	k->off = 0;
	k->binary = 1;
	return k;
}

/* A large buffer is kept for the next large answer (up to AS_BIG_KEEP). */
static void
as_chunk_free(struct apiserver *s, struct as_chunk *k)
{
	if (k->cap >= AS_BIG_MIN && k->cap <= AS_BIG_MAX &&
	    s->nbig < AS_BIG_KEEP)
		s->big[s->nbig++] = k;
	else
		free(k);
}

void
as_big_drop(struct apiserver *s)
{
	while (s->nbig)
		free(s->big[--s->nbig]);
}

static void
as_queue(struct kapi_conn *c, struct as_chunk *k)
{
	if (c->out_tail)
		c->out_tail->next = k;
	else
		c->out_head = k;
	c->out_tail = k;
	c->out_bytes += k->len;
	if (!c->wait_tx_since)
		c->wait_tx_since = loop_now_ms();
}

static void
as_queue_drop(struct kapi_conn *c)
{
	while (c->out_head) {
		struct as_chunk *k = c->out_head;

		c->out_head = k->next;
		as_chunk_free(c->srv, k);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
	c->wait_tx_since = 0;
}

static void
as_pop(struct kapi_conn *c)
{
	struct as_chunk *k = c->out_head;

	c->out_head = k->next;
	if (!c->out_head)
		c->out_tail = NULL;
	c->out_bytes -= k->len;
	as_chunk_free(c->srv, k);
}

/*
 * Nothing of the answer left, in our queue or in lws's own copy of a
 * slice the socket did not take (output waiting too: the send deadline).
 */
static int
as_out_empty(struct kapi_conn *c)
{
	return !c->out_head && !lws_partial_buffered(c->wsi);
}

/*
 * Hand queued HTTP bytes to lws while the socket takes them (the first
 * chunk always). 0, or -1 when the connection broke.
 */
static int
as_http_flush(struct kapi_conn *c)
{
	int first = 1, wrote = 0, fd = -1, on = 1, off = 0;

	/*
	 * A large answer is many TLS records (16 KiB each), one send(2)
	 * each: corked, the kernel sends them in full segments, and the
	 * client is woken a few times instead of once per record.
	 */
	if (c->out_head && c->out_head->len - c->out_head->off >= AS_CORK_MIN &&
	    (fd = lws_get_socket_fd(c->wsi)) >= 0 &&
	    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) < 0)
		fd = -1;
	while (c->out_head && (first || !lws_send_pipe_choked(c->wsi))) {
		struct as_chunk *k = c->out_head;
		size_t n = k->len - k->off;

		/*
		 * A large chunk goes in slices while the socket takes them:
		 * lws copies whatever the socket does not take into a buffer
		 * of its own (a copy of most of a large answer otherwise).
		 * What is before k->off is sent: lws may use it as LWS_PRE.
		 */
		if (n > AS_SLICE)
			n = AS_SLICE;
		first = 0;
		if (lws_write(c->wsi, k->data + LWS_PRE + k->off, n,
		    LWS_WRITE_HTTP) < (int)n) {
			if (fd >= 0)
				setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off,
				    sizeof(off));
			return -1;
		}
		k->off += n;
		if (k->off == k->len)
			as_pop(c);
		wrote = 1;
	}
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	if (as_out_empty(c))
		c->wait_tx_since = 0;
	else if (wrote)
		c->wait_tx_since = loop_now_ms();
	return 0;
}

/*
 * Is all of the answer out of our hands and lws's? Until then the
 * transaction is not complete and reading pauses: a request pipelined
 * behind this answer waits in lws's buffer (Drover's lws patch
 * h1-pipelining.patch) until as_complete() allows reading again.
 */
static int
as_http_all_out(struct kapi_conn *c)
{
	if (as_out_empty(c))
		return 1;
	if (!c->rx_paused) {
		lws_rx_flow_control(c->wsi, 0);
		c->rx_paused = 1;
	}
	lws_callback_on_writable(c->wsi);
	return 0;
}

static void
as_req_reset(struct kapi_conn *c)
{
	free(c->hdrs);
	free(c->body);
	c->hdrs = NULL;
	c->body = NULL;
	c->body_len = c->body_want = 0;
	memset(&c->req, 0, sizeof(c->req));
}

/* The response is all out (as_http_all_out): back to keep-alive (or
 * close). */
static int
as_complete(struct kapi_conn *c)
{
	as_req_reset(c);
	c->state = AS_IDLE;
	c->sops = NULL;
	c->harg = NULL;
	c->notify_close = 0;
	c->stream_end = 0;
	as_set_deadline(c, c->srv->idle_ms);
	if (c->close_after)
		return -1;
	if (c->rx_paused) {
		c->rx_paused = 0;
		lws_rx_flow_control(c->wsi, 1);
	}
	return lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

/* After output was queued: write now from inside a callback, else ask
 * for a writable callback. */
static void
as_poke(struct kapi_conn *c)
{
	if (c->state != AS_DEAD)
		lws_callback_on_writable(c->wsi);
}

static const char *
as_date(void)
{
	static char buf[64];
	static time_t last;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm)) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* Status line and headers; len < 0: chunked. NULL when out of memory. */
static struct as_chunk *
as_head(struct kapi_conn *c, int status, const char *ctype, long long len,
    size_t room)
{
	char h[640], lenh[48];
	struct as_chunk *k;
	int n;

	if (len < 0)
		snprintf(lenh, sizeof(lenh), "Transfer-Encoding: chunked\r\n");
	else
		snprintf(lenh, sizeof(lenh), "Content-Length: %lld\r\n", len);
	n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %.200s\r\n%s"
	    "Cache-Control: no-cache, private\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Date: %s\r\n%s\r\n", status, as_status_text(status),
	    ctype && *ctype ? ctype : "application/json", lenh, as_date(),
	    c->close_after ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(h))
		return NULL;
	k = as_chunk_new(c->srv, (size_t)n + room);
	if (!k)
		return NULL;
	memcpy(k->data + LWS_PRE, h, (size_t)n);
	k->len = (size_t)n;
	return k;
}

/* A whole response (the transport's own or the handler's), its body in
 * n pieces. */
static void
as_replyv(struct kapi_conn *c, int status, const char *ctype,
    const struct kapi_iov *v, size_t n)
{
	struct as_chunk *k;
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += v[i].len;
	k = as_head(c, status, ctype, (long long)len, len);
	if (!k) {
		as_kill(c, "out of memory for a response");
		c->state = AS_DEAD;
		return;
	}
	/* HEAD: the headers of the answer, without its body */
	if (!(c->req.method && strcmp(c->req.method, "HEAD") == 0))
		for (size_t i = 0; i < n; i++) {
			if (v[i].len)
				memcpy(k->data + LWS_PRE + k->len, v[i].p,
				    v[i].len);
			k->len += v[i].len;
		}
	c->state = AS_REPLY;
	as_queue(c, k);
	if (!c->in_cb)
		as_poke(c);
}

static void
as_reply(struct kapi_conn *c, int status, const char *ctype,
    const char *body, size_t len)
{
	struct kapi_iov v = { body, len };

	as_replyv(c, status, ctype, &v, 1);
}

/* A Kubernetes Status from the transport itself (messages have no '"'). */
static void
as_status(struct kapi_conn *c, int code, const char *reason, const char *msg,
    int close)
{
	char body[512];
	int n;

	n = snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"apiVersion\":"
	    "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"%s\","
	    "\"reason\":\"%s\",\"code\":%d}", msg, reason, code);
	if (close)
		c->close_after = 1;
	as_reply(c, code, "application/json", body,
	    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0);
}

/* ---------------------------------------------------------------- kapi.h */

void
kapi_respondv(struct kapi_conn *c, int status, const char *content_type,
    const struct kapi_iov *v, size_t n)
{
	if (c->state != AS_HANDLER) {
		log_warnx("API: kapi_respond(%d) on a connection that is not "
		    "waiting for an answer (state %d): ignored", status,
		    (int)c->state);
		return;
	}
	if (status < 100 || status > 599)
		status = 500;
	as_replyv(c, status, content_type, v, n);
}

void
kapi_respond(struct kapi_conn *c, int status, const char *content_type,
    const char *body, size_t len)
{
	struct kapi_iov v = { body ? body : "", body ? len : 0 };

	kapi_respondv(c, status, content_type, &v, 1);
}

int
kapi_stream_begin(struct kapi_conn *c, int status, const char *content_type,
    const struct kapi_stream_ops *ops, void *arg)
{
	struct as_chunk *k;

	if (c->state != AS_HANDLER || c->req.upgrade[0])
		return -EINVAL;
	k = as_head(c, status, content_type, -1, 0);
	if (!k)
		return -ENOMEM;
	c->state = AS_STREAM;
	c->sops = ops;
	c->harg = arg;
	c->notify_close = ops && ops->on_close;
	c->deadline = 0;
	as_queue(c, k);
	if (!c->in_cb)
		as_poke(c);
	return 0;
}

int
kapi_stream_write(struct kapi_conn *c, const char *data, size_t len)
{
	struct as_chunk *k;
	int n;

	if (c->state != AS_STREAM || c->stream_end || c->kill_asked)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (c->out_bytes + len > c->srv->max_out) {
		c->srv->n_slow++;
		as_kill(c, "the client does not read its stream");
		return -ENOBUFS;
	}
	k = as_chunk_new(c->srv, len + 24);
	if (!k)
		return -ENOMEM;
	n = snprintf((char *)k->data + LWS_PRE, 24, "%zx\r\n", len);
	memcpy(k->data + LWS_PRE + n, data, len);
	memcpy(k->data + LWS_PRE + n + len, "\r\n", 2);
	k->len = (size_t)n + len + 2;
	as_queue(c, k);
	if (!c->in_cb)
		as_poke(c);
	return 0;
}

void
kapi_stream_end(struct kapi_conn *c)
{
	struct as_chunk *k;

	if (c->state != AS_STREAM || c->stream_end)
		return;
	c->stream_end = 1;
	k = as_chunk_new(c->srv, 5);
	if (!k) {
		as_kill(c, "out of memory");
		return;
	}
	memcpy(k->data + LWS_PRE, "0\r\n\r\n", 5);
	k->len = 5;
	as_queue(c, k);
	if (!c->in_cb)
		as_poke(c);
}

/* The first subprotocol the client offers that we know. */
static const char *
as_ws_pick(const char *offered)
{
	static const char *const ws[] = AS_WS_PROTOCOLS;
	const char *best = NULL, *bestp = NULL;

	for (int i = 0; i < AS_NWS_PROTOCOLS; i++) {
		const char *p = offered ? strstr(offered, ws[i]) : NULL;

		if (p && as_list_has(offered, ws[i]) && (!bestp || p < bestp)) {
			best = ws[i];
			bestp = p;
		}
	}
	return best;
}

int
kapi_ws_accept(struct kapi_conn *c, const char *subprotocol,
    const struct kapi_ws_ops *ops, void *arg)
{
	const char *want = subprotocol ? subprotocol : "";
	const char *pick;

	if (c->state != AS_HANDLER || !c->req.upgrade[0] || !ops) {
		log_warnx("API: kapi_ws_accept on a request that is not a "
		    "WebSocket upgrade");
		if (c->state == AS_HANDLER)
			as_status(c, 400, "BadRequest", "not a WebSocket "
			    "upgrade request", 0);
		return -EINVAL;
	}
	pick = as_ws_pick(c->req.ws_protocols);
	if (strlen(want) >= sizeof(c->ws_proto) ||
	    (*want && (!pick || strcmp(pick, want))) ||
	    (!*want && c->req.ws_protocols[0])) {
		log_warnx("API: WebSocket subprotocol '%s' (client offers "
		    "'%s'): not one the transport can select", want,
		    c->req.ws_protocols);
		as_status(c, 400, "BadRequest", "unsupported WebSocket "
		    "subprotocol", 0);
		return -EPROTONOSUPPORT;
	}
	snprintf(c->ws_proto, sizeof(c->ws_proto), "%s", want);
	c->ws_accepted = 1;
	c->wops = ops;
	c->harg = arg;
	c->notify_close = 1;
	return 0;
}

int
kapi_ws_send(struct kapi_conn *c, const void *data, size_t len)
{
	struct as_chunk *k;

	if (c->state != AS_WS || c->ws_close_asked || c->kill_asked)
		return -EPIPE;
	if (c->out_bytes + len > c->srv->max_out)
		return -ENOBUFS;
	k = as_chunk_new(c->srv, len);
	if (!k)
		return -ENOMEM;
	memcpy(k->data + LWS_PRE, data, len);
	as_queue(c, k);
	if (c->ws_up)
		as_poke(c);
	return 0;
}

void
kapi_ws_close(struct kapi_conn *c)
{
	if (c->state != AS_WS || c->ws_close_asked)
		return;
	c->ws_close_asked = 1;
	if (c->ws_up)
		as_poke(c);
	else
		as_kill(c, "the handler closed the WebSocket");
}

/* ---------------------------------------------------------------- input */

/* Identity from the verified client certificate, once per connection. */
static int
as_identity(struct kapi_conn *c, char *why, size_t whylen)
{
	union lws_tls_cert_info_results v, *r;
	size_t cap = 16384;
	int rc = -1;

	if (c->have_user)
		return 0;
	memset(&v, 0, sizeof(v));
	if (lws_tls_peer_cert_info(c->wsi, LWS_TLS_CERT_INFO_VERIFIED, &v,
	    0) || !v.verified) {
		snprintf(why, whylen, "no verified client certificate");
		return -1;
	}
	r = malloc(sizeof(*r) + cap);
	if (!r) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (lws_tls_peer_cert_info(c->wsi, LWS_TLS_CERT_INFO_DER_RAW, r,
	    cap) || r->ns.len <= 0)
		snprintf(why, whylen, "client certificate unavailable");
	else
		rc = as_identity_der((const unsigned char *)r->ns.name,
		    (size_t)r->ns.len, &c->user, why, whylen);
	free(r);
	if (rc == 0) {
		c->have_user = 1;
		log_debug("API connection %llu from %s: user %s, %d groups",
		    (unsigned long long)c->id, c->peer, c->user.name,
		    c->user.ngroups);
	}
	return rc;
}

/* Copy header tok into the arena; "" when absent. */
static const char *
as_hdr(struct kapi_conn *c, size_t *used, size_t cap, enum lws_token_indexes t)
{
	char *dst = c->hdrs + *used;
	int n = lws_hdr_total_length(c->wsi, t);

	if (n <= 0 || *used + (size_t)n + 1 > cap)
		return "";
	n = lws_hdr_copy(c->wsi, dst, (int)(cap - *used), t);
	if (n < 0)
		return "";
	*used += (size_t)n + 1;
	return dst;
}

/* The header strings of kapi_req; 0, or -1 (out of memory). */
static int
as_req_build(struct kapi_conn *c, const char *path, size_t plen, int meth,
    int upgrade)
{
	static const enum lws_token_indexes toks[] = {
		WSI_TOKEN_HTTP_CONTENT_TYPE, WSI_TOKEN_HTTP_ACCEPT,
		WSI_TOKEN_PROTOCOL, WSI_TOKEN_HOST,
	};
	size_t cap, used = 0, qlen = 0;
	int qtot = lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_URI_ARGS);
	char *q, *frag;

	cap = plen + 1 + 64 + (qtot > 0 ? 4u * (size_t)qtot + 64 : 1);
	for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
		int n = lws_hdr_total_length(c->wsi, toks[i]);

		cap += n > 0 ? (size_t)n + 1 : 0;
	}
	c->hdrs = malloc(cap);
	frag = malloc(qtot > 0 ? (size_t)qtot + 1 : 1);
	if (!c->hdrs || !frag) {
		free(frag);
		return -1;
	}
	memcpy(c->hdrs, path, plen);
	c->hdrs[plen] = '\0';
	c->req.path = c->hdrs;
	used = plen + 1;
	q = c->hdrs + used;
	*q = '\0';
	for (int i = 0; qtot > 0; i++) {
		int n = lws_hdr_copy_fragment(c->wsi, frag, qtot + 1,
		    WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0)
			break;
		if (as_query_append(q, cap - used, &qlen, frag, (size_t)n) < 0)
			break;
	}
	free(frag);
	c->req.query = q;
	used += qlen + 1;
	c->req.method = meth >= 0 && meth < (int)(sizeof(as_methods) /
	    sizeof(as_methods[0])) && as_methods[meth] ? as_methods[meth] : "";
	c->req.content_type = as_hdr(c, &used, cap, toks[0]);
	c->req.accept = as_hdr(c, &used, cap, toks[1]);
	c->req.upgrade = upgrade ? "websocket" : "";
	c->req.ws_protocols = upgrade ? as_hdr(c, &used, cap, toks[2]) : "";
	c->req.host = as_hdr(c, &used, cap, toks[3]);
	c->req.body = "";
	c->req.body_len = 0;
	c->req.user = &c->user;
	return 0;
}

static void
as_dispatch(struct kapi_conn *c)
{
	c->state = AS_HANDLER;
	c->deadline = 0;
	lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	if (c->body) {
		c->req.body = c->body;
		c->req.body_len = c->body_len;
	}
	c->nreq++;
	log_debug("API connection %llu request %u: %s %s%s%s (%zu bytes)",
	    (unsigned long long)c->id, c->nreq, c->req.method, c->req.path,
	    c->req.query[0] ? "?" : "", c->req.query, c->req.body_len);
	kapi_handle(c->srv->kapi, c, &c->req);
}

/*
 * After kapi_handle() inside a callback: write what it queued, and when a
 * whole response is out complete the transaction here (lws then goes on
 * with what else it read: a pipelined request). A handler that answers
 * later: lws must not read the next request meanwhile (it would drop the
 * connection), so reading pauses until the answer is out.
 */
static int
as_after_handler(struct kapi_conn *c)
{
	if (c->state == AS_DEAD)
		return -1;
	if (c->out_head && as_http_flush(c) < 0)
		return -1;
	if (c->state == AS_REPLY)
		return as_http_all_out(c) ? as_complete(c) : 0;
	if (c->state == AS_STREAM && c->stream_end && as_out_empty(c))
		return as_complete(c);
	if (c->state == AS_HANDLER) {
		lws_rx_flow_control(c->wsi, 0);
		c->rx_paused = 1;
	}
	if (!as_out_empty(c))
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int
as_is_chunked(struct kapi_conn *c)
{
	char te[64];

	return lws_hdr_copy(c->wsi, te, sizeof(te),
	    WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 ||
	    lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

/* Content-Length and the limits: 1 to go on, 0 when refused (answered). */
static int
as_check_length(struct kapi_conn *c, int meth)
{
	char cl[32];
	uint64_t want = 0;
	int n = lws_hdr_copy(c->wsi, cl, sizeof(cl),
	    WSI_TOKEN_HTTP_CONTENT_LENGTH);

	if (as_is_chunked(c)) {
		as_status(c, 411, "BadRequest", "request bodies need a "
		    "Content-Length (no chunked uploads)", 1);
		return 0;
	}
	if (lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    (n <= 0 || as_parse_length(cl, &want) < 0)) {
		as_status(c, 400, "BadRequest", "bad Content-Length", 1);
		return 0;
	}
	if (n <= 0 && (meth == LWSHUMETH_POST || meth == LWSHUMETH_PUT ||
	    meth == LWSHUMETH_PATCH)) {
		as_status(c, 411, "BadRequest", "request bodies need a "
		    "Content-Length", 1);
		return 0;
	}
	if (want > c->srv->max_body) {
		char msg[128];

		c->srv->n_too_large++;
		snprintf(msg, sizeof(msg), "the request body (%llu bytes) is "
		    "over the limit of %zu bytes", (unsigned long long)want,
		    c->srv->max_body);
		log_info("API connection %llu (%s, %s): %s", (unsigned long
		    long)c->id, c->peer, c->user.name, msg);
		as_status(c, 413, "RequestEntityTooLarge", msg, 1);
		return 0;
	}
	c->body_want = (size_t)want;
	return 1;
}

static void
as_send_continue(struct kapi_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	char e[64];
	unsigned char buf[LWS_PRE + sizeof(cont)];

	if (lws_hdr_copy(c->wsi, e, sizeof(e), WSI_TOKEN_HTTP_EXPECT) <= 0 ||
	    strcasecmp(e, "100-continue"))
		return;
	memcpy(buf + LWS_PRE, cont, sizeof(cont) - 1);
	lws_write(c->wsi, buf + LWS_PRE, sizeof(cont) - 1, LWS_WRITE_HTTP);
}

/* Common start of a request; 1 to go on, 0 answered, -1 to hang up. */
static int
as_begin(struct kapi_conn *c, const char *path, size_t plen, int upgrade)
{
	char why[128];
	char *uri;
	int ulen, meth;

	if (c->state != AS_NEW && c->state != AS_IDLE) {
		log_warnx("API connection %llu: a request while in state %d",
		    (unsigned long long)c->id, (int)c->state);
		return -1;
	}
	as_req_reset(c);
	c->state = AS_HANDLER;	/* so that as_status() may answer */
	if (as_identity(c, why, sizeof(why)) < 0) {
		log_info("API connection %llu from %s refused: %s",
		    (unsigned long long)c->id, c->peer, why);
		as_status(c, 401, "Unauthorized", "Unauthorized", 1);
		return 0;
	}
	meth = lws_http_get_uri_and_method(c->wsi, &uri, &ulen);
	if (!path) {
		path = uri;
		plen = ulen > 0 ? (size_t)ulen : 0;
	}
	if (meth < 0 || !path || as_req_build(c, path, plen, meth,
	    upgrade) < 0) {
		as_status(c, 400, "BadRequest", "bad request", 1);
		return 0;
	}
	if (upgrade && meth != LWSHUMETH_GET) {
		as_status(c, 400, "BadRequest", "a WebSocket upgrade is a GET",
		    0);
		return 0;
	}
	if (!as_check_length(c, meth))
		return 0;
	return 1;
}

static int
as_on_request(struct kapi_conn *c, const char *in, size_t len)
{
	int rc = as_begin(c, in, len, 0);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return as_after_handler(c);
	if (c->body_want) {
		c->body = malloc(c->body_want + 1);
		if (!c->body)
			return -1;
		c->body[0] = '\0';
		c->state = AS_BODY;
		as_set_deadline(c, c->srv->body_ms);
		lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
		as_send_continue(c);
		return 0;
	}
	as_dispatch(c);
	return as_after_handler(c);
}

static int
as_on_body(struct kapi_conn *c, const void *in, size_t len)
{
	if (c->state != AS_BODY)
		return 0;	/* a POST's empty body after we answered */
	if (len > c->body_want - c->body_len) {
		log_info("API connection %llu: more body than Content-Length",
		    (unsigned long long)c->id);
		return -1;
	}
	memcpy(c->body + c->body_len, in, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	return 0;
}

static int
as_on_body_done(struct kapi_conn *c)
{
	if (c->state != AS_BODY)
		return 0;
	if (c->body_len != c->body_want)
		return -1;
	as_dispatch(c);
	return as_after_handler(c);
}

static int
as_on_http_writeable(struct kapi_conn *c)
{
	if (c->state != AS_REPLY && c->state != AS_STREAM)
		return 0;
	if (as_http_flush(c) < 0)
		return -1;
	if (c->state == AS_REPLY)
		return as_http_all_out(c) ? as_complete(c) : 0;
	if (!as_out_empty(c)) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->stream_end)
		return as_complete(c);
	return 0;
}

/* ---------------------------------------------------------------- ws */

static int
as_on_upgrade(struct kapi_conn *c, const char *up)
{
	int rc;

	if (!up || strcasecmp(up, "websocket"))
		return 0;	/* lws goes on with it as plain HTTP */
	rc = as_begin(c, NULL, 0, 1);
	if (rc < 0)
		return -1;
	/* A refused upgrade closes the connection after its answer: lws
	 * 4.3 leaves such a connection in a state where it drops the next
	 * request anyway. */
	c->close_after = 1;
	if (rc > 0) {
		as_dispatch(c);
		if (c->ws_accepted && c->state == AS_HANDLER) {
			c->close_after = 0;
			c->state = AS_WS;
			c->deadline = 0;
			return 0;	/* lws does the handshake */
		}
		if (c->state == AS_HANDLER) {
			log_warnx("API: the handler did not answer a "
			    "WebSocket upgrade of %s", c->req.path);
			as_status(c, 500, "InternalError", "the upgrade was "
			    "not answered", 1);
		}
	}
	/* A plain answer: give lws all of it, it completes the
	 * transaction when we return 1. */
	while (c->out_head) {
		struct as_chunk *k = c->out_head;

		if (lws_write(c->wsi, k->data + LWS_PRE + k->off,
		    k->len - k->off, LWS_WRITE_HTTP) < (int)(k->len - k->off))
			return -1;
		as_pop(c);
	}
	c->wait_tx_since = 0;
	if (c->state == AS_STREAM)	/* not for an upgrade */
		return -1;
	rc = c->close_after ? -1 : 1;
	as_req_reset(c);
	c->state = AS_IDLE;
	c->ws_accepted = 0;
	c->notify_close = 0;
	as_set_deadline(c, c->srv->idle_ms);
	return rc;
}

static int
as_on_ws_filter(struct kapi_conn *c)
{
	const struct lws_protocols *p = lws_get_protocol(c->wsi);

	if (!c->ws_accepted || !p)
		return 1;
	if (c->ws_proto[0] ? strcmp(p->name, c->ws_proto) != 0 :
	    p != &c->srv->protocols[0]) {
		log_warnx("API: lws chose WebSocket subprotocol '%s', the "
		    "handler '%s': refused", p->name, c->ws_proto);
		return 1;
	}
	return 0;
}

static int
as_on_ws_up(struct kapi_conn *c)
{
	c->ws_up = 1;
	as_req_reset(c);	/* the request's strings are not needed */
	if (c->out_head || c->ws_close_asked)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int
as_on_ws_rx(struct kapi_conn *c, const void *in, size_t len)
{
	size_t max = c->srv->max_body;
	unsigned char *n;

	if (c->state != AS_WS || c->ws_close_asked)
		return 0;
	if (c->wsmsg_len + len > max) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		    NULL, 0);
		return -1;
	}
	if (!lws_is_final_fragment(c->wsi) ||
	    lws_remaining_packet_payload(c->wsi) || c->wsmsg_len) {
		n = realloc(c->wsmsg, c->wsmsg_len + len + 1);
		if (!n)
			return -1;
		c->wsmsg = n;
		memcpy(c->wsmsg + c->wsmsg_len, in, len);
		c->wsmsg_len += len;
		if (!lws_is_final_fragment(c->wsi) ||
		    lws_remaining_packet_payload(c->wsi))
			return 0;
		in = c->wsmsg;
		len = c->wsmsg_len;
	}
	if (c->wops && c->wops->on_message)
		c->wops->on_message(c->harg, in, len);
	free(c->wsmsg);
	c->wsmsg = NULL;
	c->wsmsg_len = 0;
	return 0;
}

static int
as_on_ws_writeable(struct kapi_conn *c)
{
	int first = 1;

	if (c->state != AS_WS)
		return 0;
	while (c->out_head && (first || !lws_send_pipe_choked(c->wsi))) {
		struct as_chunk *k = c->out_head;

		first = 0;
		if (lws_write(c->wsi, k->data + LWS_PRE, k->len,
		    k->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) <
		    (int)k->len)
			return -1;
		as_pop(c);
		c->wait_tx_since = loop_now_ms();
	}
	if (c->out_head) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	c->wait_tx_since = 0;
	if (c->ws_close_asked) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- glue */

int
as_http_callback(struct apiserver *s, struct kapi_conn *c,
    enum lws_callback_reasons reason, void *in, size_t len)
{
	int rc = 0;

	(void)s;
	c->in_cb++;
	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		rc = as_on_upgrade(c, in);
		break;
	case LWS_CALLBACK_HTTP:
		rc = as_on_request(c, in, len);
		break;
	case LWS_CALLBACK_HTTP_BODY:
		rc = as_on_body(c, in, len);
		break;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		rc = as_on_body_done(c);
		break;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		rc = as_on_http_writeable(c);
		break;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		rc = as_on_ws_filter(c);
		break;
	case LWS_CALLBACK_ESTABLISHED:
		rc = as_on_ws_up(c);
		break;
	case LWS_CALLBACK_RECEIVE:
		rc = as_on_ws_rx(c, in, len);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		rc = as_on_ws_writeable(c);
		break;
	case LWS_CALLBACK_RAW_ADOPT:
	case LWS_CALLBACK_RAW_RX:
		rc = -1;	/* CONNECT: lws would tunnel it raw */
		break;
	default:
		break;
	}
	c->in_cb--;
	if (rc)
		log_debug("API connection %llu: lws callback %d returns %d "
		    "(state %d)", (unsigned long long)c->id, (int)reason, rc,
		    (int)c->state);
	if (rc < 0 && c->state != AS_WS && c->state != AS_STREAM)
		c->state = AS_DEAD;
	return rc;
}

/* The connection goes: the handler hears of it, then everything is freed. */
void
as_conn_free_io(struct kapi_conn *c)
{
	int notify = c->notify_close;
	const struct kapi_stream_ops *sops = c->sops;
	const struct kapi_ws_ops *wops = c->ws_accepted ? c->wops : NULL;
	void *arg = c->harg;

	c->state = AS_DEAD;
	c->notify_close = 0;
	if (notify && wops && wops->on_close)
		wops->on_close(arg);
	else if (notify && sops && sops->on_close)
		sops->on_close(arg);
	as_queue_drop(c);
	as_req_reset(c);
	free(c->wsmsg);
	c->wsmsg = NULL;
}
