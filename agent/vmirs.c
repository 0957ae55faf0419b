/*
 * vmirs.c: the VMIRS controller's machinery around vmirs_sync(): the
 * store watch, the work queue, the expectations and the loop glue.
 *
 * Watch events are recorded (a copy of the metadata that matters) and
 * handled later, in vmirs_drain(), as an informer delivers them: the
 * store calls watchers synchronously inside its writes, where no store
 * call may be made, and handling them later keeps expectations honest
 * (a sync run before the events are handled sees unobserved writes).
 *
 * Expectations (UIDTrackingControllerExpectations): before each create
 * the controller expects the VMI's name (it chooses the name itself),
 * before each delete the VMI's uid. An ADDED event of a VMI it controls
 * observes the create; a DELETED event, or any event showing a
 * deletionTimestamp, observes the delete. A VMIRS scales again only when
 * nothing is pending or the last expectation is VMIRS_EXPECT_TIMEOUT_MS
 * old. New expectations add to the pending ones (KubeVirt's replace the
 * create count when finished VMIs are deleted in the same sync).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "loop.h"
#include "store.h"
#include "validate.h"
#include "vmirs_int.h"

#define DRAIN_ROUNDS	64	/* rounds per drain before yielding */
#define RETRY_MIN_MS	1000
#define RETRY_MAX_MS	60000

const char *
vmirs_key(const char *ns, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");

	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';	/* names are bounded by the store: not reached */
	return buf;
}

/* Split "ns/name" (names have no '/'). */
static int
key_split(const char *key, char *ns, size_t nslen, const char **name)
{
	const char *slash = strchr(key, '/');

	if (slash == NULL || (size_t)(slash - key) >= nslen)
		return -1;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	*name = slash + 1;
	return 0;
}

/* ---- clocks and names ---------------------------------------------------- */

static uint64_t
default_mono(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t
default_wall(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

static uint32_t
default_rand(void *arg)
{
	uint32_t v = 0;

	(void)arg;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint32_t)random();
	return v;
}

void
vmirs_set_clock(struct vmirs_ctl *c, vmirs_mono_fn mono, vmirs_wall_fn wall,
    void *arg)
{
	c->mono = mono ? mono : default_mono;
	c->wall = wall ? wall : default_wall;
	c->clock_arg = arg;
}

static void resync_cb(void *arg);

void
vmirs_set_resync(struct vmirs_ctl *c, unsigned ms)
{
	c->resync_ms = ms ? ms : VMIRS_RESYNC_MS;
	if (c->l && c->resync_id > 0) {
		loop_cancel(c->l, c->resync_id);
		c->resync_id = loop_timer(c->l, c->resync_ms, resync_cb, c);
	}
}

void
vmirs_set_rand(struct vmirs_ctl *c, vmirs_rand_fn fn, void *arg)
{
	c->rnd = fn ? fn : default_rand;
	c->rand_arg = arg;
}

/* ---- expectations -------------------------------------------------------- */

static json_t *
exp_get(struct vmirs_ctl *c, const char *key, int create)
{
	json_t *e = json_object_get(c->exps, key);

	if (e == NULL && create) {
		e = json_pack("{s:{}, s:{}, s:I}", "c", "d", "t",
		    (json_int_t)c->mono(c->clock_arg));
		if (e == NULL || json_object_set_new(c->exps, key, e) < 0)
			return NULL;
	}
	return e;
}

static void
exp_add(struct vmirs_ctl *c, const char *key, const char *set,
    const char *id)
{
	json_t *e = exp_get(c, key, 1);

	if (e == NULL || id == NULL)
		return;
	json_object_set_new(json_object_get(e, set), id, json_true());
	json_object_set_new(e, "t", json_integer((json_int_t)c->mono(
	    c->clock_arg)));
}

void
vmirs_expect_create(struct vmirs_ctl *c, const char *key, const char *name)
{
	exp_add(c, key, "c", name);
}

void
vmirs_expect_delete(struct vmirs_ctl *c, const char *key, const char *uid)
{
	exp_add(c, key, "d", uid);
}

void
vmirs_observe_create(struct vmirs_ctl *c, const char *key, const char *name)
{
	json_t *e = exp_get(c, key, 0);

	if (e && name)
		json_object_del(json_object_get(e, "c"), name);
}

void
vmirs_observe_delete(struct vmirs_ctl *c, const char *key, const char *uid)
{
	json_t *e = exp_get(c, key, 0);

	if (e && uid)
		json_object_del(json_object_get(e, "d"), uid);
}

static int
exp_expired(struct vmirs_ctl *c, const json_t *e)
{
	uint64_t t = (uint64_t)json_integer_value(json_object_get(e, "t"));

	return c->mono(c->clock_arg) - t > VMIRS_EXPECT_TIMEOUT_MS;
}

int
vmirs_expect_satisfied(struct vmirs_ctl *c, const char *key)
{
	json_t *e = exp_get(c, key, 0);

	if (e == NULL)
		return 1;
	if (json_object_size(json_object_get(e, "c")) == 0 &&
	    json_object_size(json_object_get(e, "d")) == 0)
		return 1;
	if (exp_expired(c, e)) {
		log_warnx("%s: expectations expired (%zu creates, %zu deletes "
		    "not observed)", key, json_object_size(json_object_get(e,
		    "c")), json_object_size(json_object_get(e, "d")));
		json_object_del(c->exps, key);
		return 1;
	}
	return 0;
}

void
vmirs_expect_forget(struct vmirs_ctl *c, const char *key)
{
	json_object_del(c->exps, key);
}

void
vmirs_expectations(struct vmirs_ctl *c, const char *ns, const char *name,
    int *creates, int *deletes)
{
	char key[VMIRS_KEY_MAX];
	json_t *e = exp_get(c, vmirs_key(ns, name, key, sizeof(key)), 0);
	int live = e != NULL && !exp_expired(c, e);

	if (creates)
		*creates = live ? (int)json_object_size(json_object_get(e,
		    "c")) : 0;
	if (deletes)
		*deletes = live ? (int)json_object_size(json_object_get(e,
		    "d")) : 0;
}

/* ---- queue and loop glue ------------------------------------------------- */

static void drain_cb(void *arg);

static void
kick(struct vmirs_ctl *c)
{
	int id;

	if (c->l == NULL || c->defer_id > 0 || c->draining)
		return;
	id = loop_defer(c->l, drain_cb, c);
	if (id > 0)
		c->defer_id = id;
	else
		log_error("cannot schedule the replica set queue: %s",
		    strerror(-id));
}

void
vmirs_enqueue(struct vmirs_ctl *c, const char *ns, const char *name)
{
	char key[VMIRS_KEY_MAX];

	json_object_set_new(c->queue, vmirs_key(ns, name, key, sizeof(key)),
	    json_true());
	kick(c);
}

static void
enqueue_all(struct vmirs_ctl *c)
{
	json_t *all = store_list(c->s, VMIRS_KIND, NULL), *rs;
	size_t i;

	json_array_foreach(all, i, rs)
		vmirs_enqueue(c, json_string_value(json_object_get(
		    json_object_get(rs, "metadata"), "namespace")),
		    json_string_value(json_object_get(json_object_get(rs,
		    "metadata"), "name")));
	json_decref(all);
}

static void
resync_cb(void *arg)
{
	struct vmirs_ctl *c = arg;

	c->resync_id = 0;
	enqueue_all(c);
	c->resync_id = loop_timer(c->l, c->resync_ms, resync_cb, c);
}

static uint64_t
retry_delay(json_int_t fails)
{
	uint64_t ms = RETRY_MIN_MS;

	while (--fails > 0 && ms < RETRY_MAX_MS)
		ms *= 2;
	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

struct vmirs_retry {
	struct vmirs_ctl *c;
	char key[VMIRS_KEY_MAX];
	int id;
	struct vmirs_retry *next;
};

static void
retry_cb(void *arg)
{
	struct vmirs_retry *r = arg, **pp;
	char ns[VMIRS_KEY_MAX];
	const char *name;

	for (pp = &r->c->retry_list; *pp && *pp != r; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = r->next;
	if (key_split(r->key, ns, sizeof(ns), &name) == 0)
		vmirs_enqueue(r->c, ns, name);
	free(r);
}

/*
 * A failed sync of key: queue it again after a back-off, unless a retry
 * is already pending (1 s after the first failure, doubling with each
 * retry that fails again, at most 60 s; a good sync starts again at 1 s).
 */
static void
retry_later(struct vmirs_ctl *c, const char *key)
{
	json_int_t fails;
	struct vmirs_retry *r;

	for (r = c->retry_list; r; r = r->next)
		if (!strcmp(r->key, key))
			return;		/* one pending retry per key */
	fails = json_integer_value(json_object_get(c->retries, key)) + 1;
	json_object_set_new(c->retries, key, json_integer(fails));
	if (c->l == NULL || (r = calloc(1, sizeof(*r))) == NULL)
		return;
	r->c = c;
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->id = loop_timer(c->l, retry_delay(fails), retry_cb, r);
	if (r->id <= 0) {
		free(r);
		return;
	}
	r->next = c->retry_list;
	c->retry_list = r;
}

/* ---- watch events -------------------------------------------------------- */

/*
 * The watcher: record what the handlers need (kind, event, metadata) and
 * schedule a drain. No store call here (store.h).
 */
static void
watch_cb(void *arg, enum store_event ev, const json_t *obj)
{
	struct vmirs_ctl *c = arg;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *meta = json_object_get(obj, "metadata"), *rec;

	if (kind == NULL || !json_is_object(meta) || (strcmp(kind, VMIRS_KIND)
	    && strcmp(kind, VMIRS_VMI_KIND)))
		return;
	rec = json_pack("{s:s, s:i, s:o}", "kind", kind, "ev", (int)ev,
	    "metadata", json_deep_copy(meta));
	if (rec == NULL || json_array_append_new(c->events, rec) < 0) {
		log_error("out of memory: a %s event is lost", kind);
		return;
	}
	kick(c);
}

static const char *
meta_str(const json_t *meta, const char *k)
{
	return json_string_value(json_object_get(meta, k));
}

/* The VMIRS key a controller reference names, if that VMIRS exists. */
static int
resolve_ref(struct vmirs_ctl *c, const char *ns, const json_t *ref,
    char *key, size_t len)
{
	const char *kind = json_string_value(json_object_get(ref, "kind"));
	const char *name = json_string_value(json_object_get(ref, "name"));
	const char *uid = json_string_value(json_object_get(ref, "uid"));
	json_t *rs;
	const char *rsuid;
	int ok;

	if (kind == NULL || strcmp(kind, VMIRS_KIND) || name == NULL ||
	    uid == NULL)
		return 0;
	rs = store_get(c->s, VMIRS_KIND, ns, name);
	rsuid = meta_str(json_object_get(rs, "metadata"), "uid");
	ok = rsuid != NULL && !strcmp(rsuid, uid);
	json_decref(rs);
	if (ok)
		vmirs_key(ns, name, key, len);
	return ok;
}

/* Queue every VMIRS of ns whose selector matches labels (an orphan). */
static void
enqueue_matching(struct vmirs_ctl *c, const char *ns, const json_t *labels)
{
	json_t *all = store_list(c->s, VMIRS_KIND, ns), *rs;
	json_t *empty = json_object();
	size_t i;
	char err[256];

	json_array_foreach(all, i, rs)
		if (validate_selector_matches(json_object_get(json_object_get(
		    rs, "spec"), "selector"), labels ? labels : empty, err,
		    sizeof(err)) == 1)
			vmirs_enqueue(c, ns, meta_str(json_object_get(rs,
			    "metadata"), "name"));
	json_decref(all);
	json_decref(empty);
}

static void
enqueue_key(struct vmirs_ctl *c, const char *key)
{
	char ns[VMIRS_KEY_MAX];
	const char *name;

	if (key_split(key, ns, sizeof(ns), &name) == 0)
		vmirs_enqueue(c, ns, name);
}

/*
 * addVirtualMachine, updateVirtualMachine, deleteVirtualMachine: observe
 * the expectations and queue the owner, the previous owner (owners map:
 * we get no old object) or, for an orphan, the matching replica sets.
 */
static void
handle_vmi(struct vmirs_ctl *c, int ev, json_t *meta)
{
	const char *ns = meta_str(meta, "namespace");
	const char *uid = meta_str(meta, "uid");
	const char *old = uid ? json_string_value(json_object_get(c->owners,
	    uid)) : NULL;
	json_t *wrap;
	const json_t *ref;
	char key[VMIRS_KEY_MAX] = "", oldkey[VMIRS_KEY_MAX];
	int owned, gone;

	if (ns == NULL || (wrap = json_pack("{s:O}", "metadata", meta)) ==
	    NULL)
		return;
	ref = vmirs_controller_ref(wrap);
	owned = ref && resolve_ref(c, ns, ref, key, sizeof(key));
	gone = ev == STORE_DELETED || vmirs_vmi_deleting(wrap);
	snprintf(oldkey, sizeof(oldkey), "%s", old ? old : "");
	if (owned) {
		if (gone)
			vmirs_observe_delete(c, key, uid);
		else if (ev == STORE_ADDED)
			vmirs_observe_create(c, key, meta_str(meta, "name"));
		enqueue_key(c, key);
	} else if (ref == NULL && ev != STORE_DELETED) {
		enqueue_matching(c, ns, json_object_get(meta, "labels"));
	}
	if (oldkey[0] && strcmp(oldkey, key)) {
		if (gone)
			vmirs_observe_delete(c, oldkey, uid);
		enqueue_key(c, oldkey);
	}
	if (uid && owned && ev != STORE_DELETED)
		json_object_set_new(c->owners, uid, json_string(key));
	else if (uid)
		json_object_del(c->owners, uid);
	json_decref(wrap);
}

static void
handle_events(struct vmirs_ctl *c)
{
	json_t *evs = c->events, *rec;
	size_t i;

	c->events = json_array();
	json_array_foreach(evs, i, rec) {
		const char *kind = json_string_value(json_object_get(rec,
		    "kind"));
		json_t *meta = json_object_get(rec, "metadata");
		int ev = (int)json_integer_value(json_object_get(rec, "ev"));

		if (!strcmp(kind, VMIRS_KIND))
			vmirs_enqueue(c, meta_str(meta, "namespace"),
			    meta_str(meta, "name"));
		else
			handle_vmi(c, ev, meta);
	}
	json_decref(evs);
}

/* ---- drain --------------------------------------------------------------- */

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sync every queued key once, in key order. */
static int
sync_queued(struct vmirs_ctl *c)
{
	json_t *q = c->queue;
	size_t n = json_object_size(q), i = 0;
	const char **keys, *k;
	json_t *v;
	int done = 0;

	c->queue = json_object();
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (keys == NULL || c->queue == NULL) {
		log_error("out of memory: replica set syncs dropped");
		goto out;
	}
	json_object_foreach(q, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 0; i < n; i++) {
		char ns[VMIRS_KEY_MAX];
		const char *name;

		if (key_split(keys[i], ns, sizeof(ns), &name) < 0)
			continue;
		done++;
		if (vmirs_sync(c, ns, name) < 0)
			retry_later(c, keys[i]);
		else
			json_object_del(c->retries, keys[i]);
	}
out:
	free(keys);
	json_decref(q);
	return done;
}

int
vmirs_drain(struct vmirs_ctl *c)
{
	int round, done = 0;

	c->draining = 1;
	for (round = 0; round < DRAIN_ROUNDS; round++) {
		handle_events(c);
		if (json_object_size(c->queue) == 0)
			break;
		done += sync_queued(c);
	}
	c->draining = 0;
	if (json_array_size(c->events) || json_object_size(c->queue))
		kick(c);
	return done;
}

static void
drain_cb(void *arg)
{
	struct vmirs_ctl *c = arg;

	c->defer_id = 0;
	vmirs_drain(c);
}

/* ---- life cycle ---------------------------------------------------------- */

/* The owners of the VMIs already stored (old-owner tracking). */
static void
load_owners(struct vmirs_ctl *c)
{
	json_t *all = store_list(c->s, VMIRS_VMI_KIND, NULL), *vmi;
	size_t i;

	json_array_foreach(all, i, vmi) {
		const json_t *meta = json_object_get(vmi, "metadata");
		const json_t *ref = vmirs_controller_ref(vmi);
		char key[VMIRS_KEY_MAX];

		if (ref && meta_str(meta, "uid") && resolve_ref(c,
		    meta_str(meta, "namespace"), ref, key, sizeof(key)))
			json_object_set_new(c->owners, meta_str(meta, "uid"),
			    json_string(key));
	}
	json_decref(all);
}

struct vmirs_ctl *
vmirs_new(struct store *s, struct loop *l)
{
	struct vmirs_ctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->s = s;
	c->l = l;
	vmirs_set_clock(c, NULL, NULL, NULL);
	vmirs_set_rand(c, NULL, NULL);
	c->resync_ms = VMIRS_RESYNC_MS;
	c->events = json_array();
	c->queue = json_object();
	c->exps = json_object();
	c->owners = json_object();
	c->retries = json_object();
	c->warned = json_object();
	if (!c->events || !c->queue || !c->exps || !c->owners || !c->retries ||
	    !c->warned)
		goto fail;
	c->watch_id = store_watch(s, watch_cb, c);
	if (c->watch_id <= 0)
		goto fail;
	load_owners(c);
	enqueue_all(c);
	if (l != NULL) {
		c->resync_id = loop_timer(l, c->resync_ms, resync_cb, c);
		if (c->resync_id <= 0)
			goto fail;
	}
	log_info("replica set controller started (burst %d, resync %d s)",
	    VMIRS_BURST, VMIRS_RESYNC_MS / 1000);
	return c;
fail:
	log_error("cannot start the replica set controller");
	vmirs_free(c);
	return NULL;
}

void
vmirs_free(struct vmirs_ctl *c)
{
	struct vmirs_retry *r;

	if (c == NULL)
		return;
	if (c->watch_id > 0)
		store_unwatch(c->s, c->watch_id);
	if (c->l) {
		loop_cancel(c->l, c->defer_id);
		loop_cancel(c->l, c->resync_id);
	}
	while ((r = c->retry_list) != NULL) {
		c->retry_list = r->next;
		loop_cancel(c->l, r->id);
		free(r);
	}
	json_decref(c->events);
	json_decref(c->queue);
	json_decref(c->exps);
	json_decref(c->owners);
	json_decref(c->retries);
	json_decref(c->warned);
	free(c);
}
