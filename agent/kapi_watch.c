/*
 * kapi_watch.c: watches (GET collection?watch=true), as the API server's
 * watch cache serves them.
 *
 * A store watcher keeps the last KAPI_WATCH_RING events (the objects are
 * shared with the store, not copied; Events, many and cold, as compact
 * JSON text, as the store keeps them). Every event after floor (the
 * resourceVersion at start-up, or of the newest event dropped from the
 * ring) is in the ring, so a watch from resourceVersion N >= floor gets
 * every event after N, and one from N < floor gets an ERROR event with a
 * 410 Expired Status (and the stream ends), which makes clients list
 * again. resourceVersion "" or "0": ADDED for every current match first.
 *
 * Each stream is chunked JSON, one event per line, flushed as it happens:
 *   {"type":"ADDED|MODIFIED|DELETED","object":{...}}
 * with the object in the resource's version, or, when the client accepts
 * Tables, a one-row Table (columnDefinitions in the first event only).
 * Filters are the list's: namespace, labelSelector, fieldSelector. With
 * a filter on something that changes (labels, fields other than the name
 * and namespace), an object that stops matching is sent as DELETED and
 * one that starts matching as ADDED, as the watch cache does; what
 * matched is tracked from the watch's start (events replayed from an
 * older resourceVersion are judged against it).
 * The stream ends after timeoutSeconds (default: 30 to 60 minutes, as
 * the API server's --min-request-timeout), when the client goes away, or
 * when it cannot keep up (the transport's buffer limit).
 *
 * The transport's on_close carries a stream id, not a pointer: streams
 * are found in one list (as kapi_console.c does), so a callback that
 * comes after the stream ended does nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ferr.h"
#include "kapi_int.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "store.h"

#define KAPI_WATCH_RING 4096
#define KAPI_WATCH_DEFAULT_S 1800

struct kapi_wev {
	uint64_t rv;
	enum store_event type;
	json_t *obj;		/* shared with the store, or NULL: */
	char *text;		/* an Event as compact JSON (as the store keeps
				 * them: a tenth of the tree's memory) */
	const char *kind;	/* static: the ring's kinds */
};

struct kapi_stream {
	struct kapi_stream *next;
	uintptr_t id;
	struct kapi *k;
	struct kapi_conn *c;
	const struct kapi_res *res;
	struct kapi_filter f;
	char ns[KAPI_NS_MAX + 1];
	int table, headers_sent, tracked;
	char *include;
	int timer;
	json_t *present;	/* tracked: {"ns/name": true} of matches */
};

struct kapi_watch {
	int store_watch;
	struct kapi_wev *ring;
	size_t start, n;
	uint64_t floor;
};

static struct kapi_stream *kapi_streams;
static uintptr_t kapi_stream_next_id = 1;

static struct kapi_stream *
kapi_stream_find(uintptr_t id)
{
	for (struct kapi_stream *s = kapi_streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void
kapi_stream_free(struct kapi_stream *s)
{
	for (struct kapi_stream **p = &kapi_streams; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	if (s->timer > 0)
		loop_cancel(s->k->loop, s->timer);
	kapi_filter_free(&s->f);
	json_decref(s->present);
	free(s->include);
	free(s);
}

/* End the stream from our side (unlinked first: on_close finds nothing). */
static void
kapi_stream_finish(struct kapi_stream *s, const char *why)
{
	struct kapi_conn *c = s->c;

	log_debug("watch %lu on %s ends: %s", (unsigned long)s->id,
	    s->res->resource, why);
	kapi_stream_free(s);
	kapi_stream_end(c);
}

static void
kapi_stream_closed(void *arg)
{
	struct kapi_stream *s = kapi_stream_find((uintptr_t)arg);

	if (s) {
		log_debug("watch %lu: the client went away",
		    (unsigned long)s->id);
		kapi_stream_free(s);
	}
}

static const struct kapi_stream_ops kapi_stream_ops = {
	.on_close = kapi_stream_closed,
};

static void
kapi_stream_timeout(void *arg)
{
	struct kapi_stream *s = kapi_stream_find((uintptr_t)arg);

	if (s) {
		s->timer = 0;
		kapi_stream_finish(s, "timeoutSeconds");
	}
}

/* ---- events ---------------------------------------------------------------- */

static const char *
kapi_ev_name(enum store_event ev)
{
	return ev == STORE_ADDED ? "ADDED" : ev == STORE_MODIFIED ? "MODIFIED" :
	    "DELETED";
}

/* Write one event; 0, or -1 when the stream ended (freed). */
static int
kapi_stream_send(struct kapi_stream *s, const char *type, const json_t *obj)
{
	json_t *o, *ev, *one;
	char *text;
	size_t len;
	int rc;

	if (s->table) {
		one = json_pack("[O]", obj);
		o = kapi_table(s->res, one, manifest_str(obj,
		    "metadata.resourceVersion") ? manifest_str(obj,
		    "metadata.resourceVersion") : "", !s->headers_sent,
		    s->include);
		json_decref(one);
		s->headers_sent = 1;
	} else
		o = kapi_to_api(s->res, obj);
	ev = json_pack("{s:s, s:o}", "type", type, "object", o);
	text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (!text) {
		kapi_stream_finish(s, "out of memory");
		return -1;
	}
	len = strlen(text);
	text[len] = '\n';	/* over the NUL: not sent */
	rc = kapi_stream_write(s->c, text, len + 1);
	free(text);
	if (rc < 0) {
		kapi_stream_finish(s, "the client does not keep up");
		return -1;
	}
	return 0;
}

static char *
kapi_key(const json_t *obj, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", manifest_str(obj, "metadata.namespace") ?
	    manifest_str(obj, "metadata.namespace") : "", manifest_str(obj,
	    "metadata.name") ? manifest_str(obj, "metadata.name") : "");
	return buf;
}

/* Deliver a store event to s; 0, or -1 when the stream ended. */
static int
kapi_stream_event(struct kapi_stream *s, enum store_event ev,
    const json_t *obj)
{
	const char *kind = manifest_str(obj, "kind");
	int now, was;
	char key[KAPI_NS_MAX + KAPI_NAME_MAX + 4];

	if (!kind || strcmp(kind, s->res->kind))
		return 0;
	now = kapi_filter_match(&s->f, obj);
	if (!s->tracked)
		return now ? kapi_stream_send(s, kapi_ev_name(ev), obj) : 0;
	kapi_key(obj, key, sizeof(key));
	was = json_object_get(s->present, key) != NULL;
	if (ev == STORE_DELETED) {
		json_object_del(s->present, key);
		return was || now ? kapi_stream_send(s, "DELETED", obj) : 0;
	}
	if (now && !was) {
		json_object_set_new(s->present, key, json_true());
		return kapi_stream_send(s, "ADDED", obj);
	}
	if (!now && was) {
		json_object_del(s->present, key);
		return kapi_stream_send(s, "DELETED", obj);
	}
	return now ? kapi_stream_send(s, "MODIFIED", obj) : 0;
}

/* The kind as a static string (the served kinds; others "?"). */
static const char *
kapi_wev_kind(const char *kind)
{
	const struct kapi_res *const *all = kapi_res_all();

	for (size_t i = 0; kind && all[i]; i++)
		if (!strcmp(all[i]->kind, kind))
			return all[i]->kind;
	return "?";
}

static void
kapi_wev_clear(struct kapi_wev *e)
{
	json_decref(e->obj);
	free(e->text);
	memset(e, 0, sizeof(*e));
}

/* The store's watcher: into the ring, then to every stream. */
static void
kapi_watch_store(void *arg, enum store_event ev, const json_t *obj)
{
	struct kapi *k = arg;
	struct kapi_watch *w = k->watch;
	struct kapi_wev *e;
	struct kapi_stream *s, *next;

	if (w->n == KAPI_WATCH_RING) {
		e = &w->ring[w->start];
		w->floor = e->rv;
		kapi_wev_clear(e);
		w->start = (w->start + 1) % KAPI_WATCH_RING;
		w->n--;
	}
	e = &w->ring[(w->start + w->n) % KAPI_WATCH_RING];
	e->rv = strtoull(manifest_str(obj, "metadata.resourceVersion") ?
	    manifest_str(obj, "metadata.resourceVersion") : "0", NULL, 10);
	e->type = ev;
	e->kind = kapi_wev_kind(manifest_str(obj, "kind"));
	if (!strcmp(e->kind, "Event")) {
		e->obj = NULL;
		e->text = json_dumps(obj, JSON_COMPACT);
	} else
		e->obj = json_incref((json_t *)obj);
	w->n++;
	for (s = kapi_streams; s; s = next) {
		next = s->next;
		if (s->k == k)
			(void)kapi_stream_event(s, ev, obj);
	}
}

int
kapi_watch_init(struct kapi *k)
{
	struct kapi_watch *w = calloc(1, sizeof(*w));

	if (!w || !(w->ring = calloc(KAPI_WATCH_RING, sizeof(*w->ring)))) {
		free(w);
		return -1;
	}
	k->watch = w;
	w->floor = store_rv(k->store);
	w->store_watch = store_watch(k->store, kapi_watch_store, k);
	if (w->store_watch < 0) {
		free(w->ring);
		free(w);
		k->watch = NULL;
		return -1;
	}
	return 0;
}

void
kapi_watch_shutdown(struct kapi *k)
{
	struct kapi_watch *w = k->watch;
	struct kapi_stream *s, *next;

	if (!w)
		return;
	for (s = kapi_streams; s; s = next) {
		next = s->next;
		if (s->k == k)
			kapi_stream_finish(s, "shut-down");
	}
	store_unwatch(k->store, w->store_watch);
	for (size_t i = 0; i < w->n; i++)
		kapi_wev_clear(&w->ring[(w->start + i) % KAPI_WATCH_RING]);
	free(w->ring);
	free(w);
	k->watch = NULL;
}

/* ---- starting a watch --------------------------------------------------------- */

/* Does the filter look at something that can change? */
static int
kapi_filter_mutable(const struct kapi_filter *f)
{
	if (f->labels && json_object_size(f->labels))
		return 1;
	for (size_t i = 0; i < f->fields.n; i++)
		if (strcmp(f->fields.t[i].field, "metadata.name") &&
		    strcmp(f->fields.t[i].field, "metadata.namespace"))
			return 1;
	return 0;
}

/* Send ERROR 410 Expired and end the stream. */
static void
kapi_stream_expired(struct kapi_stream *s, const char *rv, uint64_t floor)
{
	char msg[128], *text;
	json_t *ev;

	snprintf(msg, sizeof(msg), "too old resource version: %s (%" PRIu64 ")",
	    rv, floor + 1);
	ev = json_pack("{s:s, s:o}", "type", "ERROR", "object",
	    ferr_status(410, "Expired", msg));
	text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (text) {
		size_t len = strlen(text);

		text[len] = '\n';
		(void)kapi_stream_write(s->c, text, len + 1);
		free(text);
	}
	kapi_stream_finish(s, "410 Expired");
}

/* The current matches as ADDED events; 0 or -1 (stream ended). */
static int
kapi_stream_initial(struct kapi_stream *s, struct kapi_ctx *x)
{
	json_t *all = store_list(x->k->store, s->res->kind, s->res->namespaced &&
	    x->p.has_ns ? x->p.ns : NULL), *o;
	size_t i;
	char key[KAPI_NS_MAX + KAPI_NAME_MAX + 4];
	int rc = 0;

	json_array_foreach(all, i, o) {
		if (!kapi_filter_match(&s->f, o))
			continue;
		if (s->tracked)
			json_object_set_new(s->present, kapi_key(o, key,
			    sizeof(key)), json_true());
		if ((rc = kapi_stream_send(s, "ADDED", o)) < 0)
			break;
	}
	json_decref(all);
	return rc;
}

/* What matched now, for tracked watches from a resourceVersion. */
static void
kapi_stream_track(struct kapi_stream *s, struct kapi_ctx *x)
{
	json_t *all = store_list(x->k->store, s->res->kind, x->p.has_ns ?
	    x->p.ns : NULL), *o;
	char key[KAPI_NS_MAX + KAPI_NAME_MAX + 4];
	size_t i;

	json_array_foreach(all, i, o)
		if (kapi_filter_match(&s->f, o))
			json_object_set_new(s->present, kapi_key(o, key,
			    sizeof(key)), json_true());
	json_decref(all);
}

/* Events after rv from the ring; 0 or -1 (stream ended). */
static int
kapi_stream_replay(struct kapi_stream *s, struct kapi_watch *w, uint64_t rv)
{
	for (size_t i = 0; i < w->n; i++) {
		struct kapi_wev *e = &w->ring[(w->start + i) % KAPI_WATCH_RING];
		json_t *o;
		int rc;

		if (e->rv <= rv || strcmp(e->kind, s->res->kind))
			continue;
		o = e->obj ? json_incref(e->obj) : e->text ?
		    json_loads(e->text, 0, NULL) : NULL;
		if (!o)
			continue;
		rc = kapi_stream_event(s, e->type, o);
		json_decref(o);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static unsigned
kapi_watch_default_timeout(void)
{
	unsigned r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	return KAPI_WATCH_DEFAULT_S + r % KAPI_WATCH_DEFAULT_S;
}

void
kapi_watch_start(struct kapi_ctx *x)
{
	struct kapi_watch *w = x->k->watch;
	const char *rvs = x->q.resource_version;
	struct kapi_stream *s;
	uint64_t rv = 0;
	char *end;
	long t = x->q.timeout_s;
	int from_now = !rvs || !*rvs || !strcmp(rvs, "0");

	if (!from_now) {
		rv = strtoull(rvs, &end, 10);
		if (*end || end == rvs || rvs[0] == '-') {
			kapi_fail(x, 400, "BadRequest", "invalid resource version: "
			    "\"%.60s\"", rvs);
			return;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		kapi_fail(x, 500, "InternalError", "out of memory");
		return;
	}
	if (kapi_filter_init(x, &s->f) < 0) {
		free(s);
		return;
	}
	if (s->f.ns) {
		snprintf(s->ns, sizeof(s->ns), "%s", s->f.ns);
		s->f.ns = s->ns;	/* the request's buffer goes away */
	}
	s->id = kapi_stream_next_id++;
	s->k = x->k;
	s->c = x->c;
	s->res = x->p.res;
	s->table = x->table;
	s->tracked = kapi_filter_mutable(&s->f);
	s->present = json_object();
	s->include = x->q.include_object ? strdup(x->q.include_object) : NULL;
	s->next = kapi_streams;
	kapi_streams = s;
	x->answered = 1;
	if (kapi_stream_begin(x->c, 200, "application/json", &kapi_stream_ops,
	    (void *)s->id) < 0) {
		kapi_stream_free(s);
		return;
	}
	s->timer = loop_timer(x->k->loop, 1000ull * (t >= 0 ? (unsigned long)t :
	    kapi_watch_default_timeout()), kapi_stream_timeout, (void *)s->id);
	if (!from_now && rv < w->floor) {
		kapi_stream_expired(s, rvs, w->floor);
		return;
	}
	if (from_now) {
		if (kapi_stream_initial(s, x) < 0)
			return;
	} else {
		if (s->tracked)
			kapi_stream_track(s, x);
		if (kapi_stream_replay(s, w, rv) < 0)
			return;
	}
	if (t == 0)
		kapi_stream_finish(s, "timeoutSeconds=0");
}
