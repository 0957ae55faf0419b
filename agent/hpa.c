/*
 * hpa.c: the HPA controller's machinery around hpa_sync() (hpa.h): the
 * store watch, the queue, the sync period, the per-HPA memory
 * (recommendations and scale events for stabilization and the behavior
 * policies), the clocks and the metrics source.
 *
 * As Kubernetes' controller (an HPA informer and a queue re-added every
 * sync period), only HPAs are watched: a new HPA, or one whose spec
 * changed (metadata.generation: the controller's own status writes do not
 * count), is synced at once; every HPA is synced every sync period. The
 * scale target is read at each sync, never watched. Watch events are
 * recorded and handled in hpa_drain() (the store calls watchers inside
 * its writes, where no store call may be made).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hpa_int.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "usage.h"

#define HPA_DRAIN_ROUNDS	16

void
hpa_config_init(struct hpa_config *cfg)
{
	cfg->sync_ms = HPA_SYNC_MS;
	cfg->downscale_ms = HPA_DOWNSCALE_MS;
	cfg->cpu_init_ms = HPA_CPU_INIT_MS;
	cfg->readiness_delay_ms = HPA_READINESS_DELAY_MS;
	cfg->tolerance = HPA_TOLERANCE;
}

const char *
hpa_key(const char *ns, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");

	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
	return buf;
}

static int
hpa_key_split(const char *key, char *ns, size_t nslen, const char **name)
{
	const char *slash = strchr(key, '/');

	if (!slash || (size_t)(slash - key) >= nslen)
		return -1;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	*name = slash + 1;
	return 0;
}

/* ---- clocks and metrics ------------------------------------------------- */

static int64_t
hpa_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
hpa_now_mono(struct hpa_ctl *c)
{
	return c->mono ? c->mono(c->clock_arg) : hpa_clock(CLOCK_MONOTONIC);
}

int64_t
hpa_now_wall(struct hpa_ctl *c)
{
	return c->wall ? c->wall(c->clock_arg) : hpa_clock(CLOCK_REALTIME);
}

static int
hpa_usage_metrics(void *arg, const json_t *pod, struct usage_value *out)
{
	return usage_pod(arg, pod, out);
}

void
hpa_set_metrics(struct hpa_ctl *c, hpa_metrics_fn fn, void *arg)
{
	c->metrics = fn ? fn : hpa_usage_metrics;
	c->metrics_arg = fn ? arg : c->u;
}

void
hpa_set_clock(struct hpa_ctl *c, hpa_clock_fn mono, hpa_clock_fn wall,
    void *arg)
{
	c->mono = mono;
	c->wall = wall;
	c->clock_arg = arg;
}

/* ---- per-HPA memory -------------------------------------------------------- */

struct hpa_state *
hpa_state_get(struct hpa_ctl *c, const char *key, int create)
{
	struct hpa_state *st;

	for (st = c->states; st; st = st->next)
		if (!strcmp(st->key, key))
			return st;
	if (!create || !(st = calloc(1, sizeof(*st))))
		return NULL;
	snprintf(st->key, sizeof(st->key), "%s", key);
	st->generation = -1;
	st->next = c->states;
	c->states = st;
	return st;
}

void
hpa_state_drop(struct hpa_ctl *c, const char *key)
{
	struct hpa_state **pp, *st;

	for (pp = &c->states; (st = *pp); pp = &st->next)
		if (!strcmp(st->key, key)) {
			*pp = st->next;
			hpa_hist_free(&st->hist);
			free(st);
			return;
		}
}

/* ---- queue and loop glue ---------------------------------------------------- */

static void hpa_drain_cb(void *arg);

static void
hpa_kick(struct hpa_ctl *c)
{
	int id;

	if (!c->l || c->defer_id > 0 || c->draining)
		return;
	id = loop_defer(c->l, hpa_drain_cb, c);
	if (id > 0)
		c->defer_id = id;
	else
		log_error("cannot schedule the HPA queue: %s", strerror(-id));
}

static void
hpa_enqueue(struct hpa_ctl *c, const char *key)
{
	if (*key)
		json_object_set_new(c->queue, key, json_true());
	hpa_kick(c);
}

void
hpa_enqueue_all(struct hpa_ctl *c)
{
	json_t *all = store_list(c->s, HPA_KIND, NULL), *h;
	char key[HPA_KEY_MAX];
	size_t i;

	json_array_foreach(all, i, h) {
		const json_t *md = json_object_get(h, "metadata");

		hpa_enqueue(c, hpa_key(json_string_value(json_object_get(md,
		    "namespace")), json_string_value(json_object_get(md,
		    "name")), key, sizeof(key)));
	}
	json_decref(all);
}

static void
hpa_resync_cb(void *arg)
{
	struct hpa_ctl *c = arg;

	c->resync_id = loop_timer(c->l, c->cfg.sync_ms, hpa_resync_cb, c);
	hpa_enqueue_all(c);
}

/* The watcher: HPAs only; recorded, handled in hpa_drain(). */
static void
hpa_watch_cb(void *arg, enum store_event ev, const json_t *obj)
{
	struct hpa_ctl *c = arg;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *uid = json_string_value(json_object_get(md, "uid"));
	json_t *rec;

	if (!kind || strcmp(kind, HPA_KIND) || !ns || !name)
		return;
	rec = json_pack("{s:i, s:s, s:s, s:s, s:I}", "ev", (int)ev, "ns", ns,
	    "name", name, "uid", uid ? uid : "", "gen", (json_int_t)
	    json_integer_value(json_object_get(md, "generation")));
	if (!rec || json_array_append_new(c->events, rec) < 0) {
		log_error("out of memory: an HPA event is lost");
		return;
	}
	hpa_kick(c);
}

static void
hpa_handle_events(struct hpa_ctl *c)
{
	json_t *evs = c->events, *e;
	char key[HPA_KEY_MAX];
	struct hpa_state *st;
	size_t i;

	c->events = json_array();
	json_array_foreach(evs, i, e) {
		const char *uid = json_string_value(json_object_get(e, "uid"));
		int64_t gen = json_integer_value(json_object_get(e, "gen"));

		hpa_key(json_string_value(json_object_get(e, "ns")),
		    json_string_value(json_object_get(e, "name")), key,
		    sizeof(key));
		if (json_integer_value(json_object_get(e, "ev")) ==
		    STORE_DELETED) {
			hpa_state_drop(c, key);
			json_object_del(c->queue, key);
			continue;
		}
		if (!(st = hpa_state_get(c, key, 1)))
			continue;
		if (strcmp(st->uid, uid)) {
			/* a new object under that name: a fresh memory */
			hpa_hist_free(&st->hist);
			snprintf(st->uid, sizeof(st->uid), "%s", uid);
			st->generation = -1;
		}
		if (gen != st->generation) {
			st->generation = gen;
			hpa_enqueue(c, key);
		}
	}
	json_decref(evs);
}

static int
hpa_sync_queued(struct hpa_ctl *c)
{
	json_t *q = c->queue, *v;
	const char *k, *name;
	char ns[HPA_KEY_MAX];
	int done = 0;

	c->queue = json_object();
	json_object_foreach(q, k, v) {
		if (hpa_key_split(k, ns, sizeof(ns), &name) < 0)
			continue;
		hpa_sync(c, ns, name);
		done++;
	}
	json_decref(q);
	return done;
}

int
hpa_drain(struct hpa_ctl *c)
{
	int done = 0;

	c->draining = 1;
	for (int r = 0; r < HPA_DRAIN_ROUNDS; r++) {
		hpa_handle_events(c);
		if (json_object_size(c->queue) == 0)
			break;
		done += hpa_sync_queued(c);
	}
	c->draining = 0;
	if (json_array_size(c->events) || json_object_size(c->queue))
		hpa_kick(c);
	return done;
}

static void
hpa_drain_cb(void *arg)
{
	struct hpa_ctl *c = arg;

	c->defer_id = 0;
	hpa_drain(c);
}

/* ---- life cycle -------------------------------------------------------------- */

struct hpa_ctl *
hpa_new(struct store *s, struct loop *l, struct usage *u,
    const struct hpa_config *cfg)
{
	struct hpa_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->l = l;
	c->u = u;
	if (cfg)
		c->cfg = *cfg;
	else
		hpa_config_init(&c->cfg);
	if (c->cfg.sync_ms < 1000)
		c->cfg.sync_ms = 1000;
	hpa_set_metrics(c, NULL, NULL);
	c->events = json_array();
	c->queue = json_object();
	if (!c->events || !c->queue)
		goto fail;
	c->watch_id = store_watch(s, hpa_watch_cb, c);
	if (c->watch_id <= 0)
		goto fail;
	if (l && (c->resync_id = loop_timer(l, c->cfg.sync_ms, hpa_resync_cb,
	    c)) <= 0)
		goto fail;
	hpa_enqueue_all(c);
	return c;
fail:
	hpa_free(c);
	return NULL;
}

void
hpa_free(struct hpa_ctl *c)
{
	if (!c)
		return;
	if (c->watch_id > 0)
		store_unwatch(c->s, c->watch_id);
	if (c->l && c->resync_id > 0)
		loop_cancel(c->l, c->resync_id);
	if (c->l && c->defer_id > 0)
		loop_cancel(c->l, c->defer_id);
	while (c->states)
		hpa_state_drop(c, c->states->key);
	json_decref(c->events);
	json_decref(c->queue);
	free(c);
}
