/*
 * store_priv.h: what store.c (objects, semantics), store_disk.c (files,
 * fsync order, load) and events.c (the Event recorder) share. Not for
 * other modules: they use store.h.
 */
#ifndef DROVER_STORE_PRIV_H
#define DROVER_STORE_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "store.h"

#define STORE_NKINDS 7
#define STORE_EVENTS_MAX 1000	/* oldest Events pruned beyond this */
#define STORE_NAME_MAX 253	/* DNS-1123 subdomain */
#define STORE_NS_MAX 63		/* DNS-1123 label */
#define STORE_RV_STEP 1024	/* resourceVersions reserved per counter write */

/* One stored object; ns and name point into obj's metadata strings. */
struct store_obj {
	json_t *obj;
	const char *ns;		/* "" for cluster-scoped kinds */
	const char *name;
	uint64_t rv;
};

/* The objects of one kind, sorted by (ns, name). */
struct store_kind {
	const char *kind;
	int namespaced;
	struct store_obj *v;
	size_t n, cap;
};

struct store_watcher {
	int id;
	store_watch_fn fn;	/* NULL once unwatched */
	void *arg;
};

struct store {
	int dirfd;		/* the store's directory */
	int lockfd;		/* flock(LOCK_EX) held while open */
	char *dir;
	uint64_t rv;		/* last resourceVersion handed out */
	uint64_t rv_ceiling;	/* durable in the counter file: rv <= it */
	struct store_kind kinds[STORE_NKINDS];
	struct store_watcher *w;
	size_t nw, capw;
	int next_wid;
	int notifying;
};

/* store.c */
int store_seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct store_kind *store_kind_get(struct store *s, const char *kind);
struct store_obj *store_find(struct store_kind *k, const char *ns,
    const char *name, size_t *pos);
int store_insert(struct store_kind *k, json_t *obj, size_t pos);
uint64_t store_obj_rv(const json_t *obj);
void store_now(char out[32]);
int store_random(void *buf, size_t len);
/* Store obj (owned) under its metadata's key with the next
 * resourceVersion: disk, memory, then watchers see ev. */
int store_put(struct store *s, struct store_kind *k, json_t *obj,
    enum store_event ev, json_t **out, char *err, size_t errlen);
/* Remove the object at k->v[i]: disk, memory, DELETED (with last, owned,
 * when not NULL: else the stored state), then the cascade to dependents. */
int store_remove(struct store *s, struct store_kind *k, size_t i,
    json_t *last, json_t **out, char *err, size_t errlen);
/* store_delete() of k->v[i]: mark (finalizers) or remove; *uid is the
 * removed object's uid (malloc'd) for store_cascade(), else NULL. */
int store_delete_at(struct store *s, struct store_kind *k, size_t i,
    char **uid, char *err, size_t errlen);
/* Delete what uid (owned) owned, and so on down. */
void store_cascade(struct store *s, char *uid);
/* A deep-enough copy of obj to change its metadata (shares the rest). */
json_t *store_meta_copy(const json_t *obj);

/* store_disk.c */
int store_disk_open(struct store *s, const char *dir, char *err,
    size_t errlen);
int store_disk_load(struct store *s, char *err, size_t errlen);
/* Make rv usable: raise the durable ceiling first when rv passes it. */
int store_disk_rv(struct store *s, uint64_t rv, char *err, size_t errlen);
/* Replace the object's file; durable: fsync file and directory (else
 * neither: Events). */
int store_disk_write(struct store *s, const struct store_kind *k,
    const char *ns, const char *name, const json_t *obj, int durable,
    char *err, size_t errlen);
int store_disk_unlink(struct store *s, const struct store_kind *k,
    const char *ns, const char *name, int durable, char *err,
    size_t errlen);
int store_name_check(const char *what, const char *v, size_t max,
    int subdomain, char *err, size_t errlen);

/* events.c */
void store_events_prune(struct store *s);

#endif
