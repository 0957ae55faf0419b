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
#define STORE_JOURNAL_ROTATE (4u << 20)	/* bytes: a checkpoint starts */
#define STORE_JOURNAL_MAX (32u << 20)	/* bytes: a full checkpoint, now */
#define STORE_MAINTAIN_MS 4	/* checkpoint work per store_maintain() */
#define STORE_RESERVE (1u << 20)	/* journal space preallocated ahead */
#define STORE_MIN_FREE (2u << 20)	/* free bytes below which creates fail */

/*
 * One stored object. Hot kinds keep the jansson tree (obj; ns, name and
 * uid point into it). Cold kinds (Events: many, rarely read) keep compact
 * JSON text (a tenth of the tree's memory) and their key in buf, and are
 * parsed when read: store_obj_json(). An entry never changes: a write
 * replaces it whole, so the text kept with it is that state's.
 */
struct store_obj {
	json_t *obj;		/* hot: the object; cold: NULL */
	char *text;		/* cold: compact JSON; hot: the same, made at
				 * the first store_view() (NULL until then) */
	size_t text_len;
	char *buf;		/* cold: "ns\0name\0uid\0" */
	const char *ns;		/* "" for cluster-scoped kinds */
	const char *name;
	const char *uid;
	uint64_t rv;
	uint64_t agg;		/* cold Events: store_event_key() */
	unsigned owned : 1;	/* has metadata.ownerReferences */
	unsigned deleting : 1;	/* has metadata.deletionTimestamp */
};

/* The objects of one kind, sorted by (ns, name). */
struct store_kind {
	const char *kind;
	int namespaced;
	int cold;		/* kept as text (Events) */
	struct store_obj *v;
	size_t n, cap;
};

struct store_watcher {
	int id;
	store_watch_fn fn;	/* NULL once unwatched */
	void *arg;
};

/* The write-ahead journal (store_disk.c; store.c says what it holds). */
struct store_journal {
	int fd;			/* the journal, appended; -1: not open */
	uint64_t size;		/* its bytes */
	uint64_t rotate, max;	/* STORE_JOURNAL_ROTATE, _MAX (tests: less) */
	uint64_t reserved;	/* preallocated up to this offset */
	int unsynced;		/* records written since the last fdatasync */
	int broken;		/* -errno: a write could not be undone or
				 * made durable; no more writes */
	json_t *dirty;		/* path -> true: journaled since the rotation */
	json_t *ckpt;		/* journal.old's paths still to write; NULL:
				 * no journal.old */
	char why[400];		/* the message while broken */
};

/* A watch event held back until its batch is durable. */
struct store_note {
	enum store_event ev;
	json_t *obj;
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
	int opened;		/* store_open() succeeded */
	struct store_journal j;
	int batch;		/* store_batch_begin() depth */
	/* Tests: a failpoint. Called before each journal record ('P' or
	 * 'D', "Kind/ns/name"); a negative errno fails that write as the
	 * disk would (nothing written). */
	int (*failpoint)(void *arg, char op, const char *path);
	void *failpoint_arg;
	struct store_note *notes;
	size_t nnotes, capnotes;
};

/* store.c */
int store_seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct store_kind *store_kind_get(struct store *s, const char *kind);
struct store_obj *store_find(struct store_kind *k, const char *ns,
    const char *name, size_t *pos);
/* Insert obj (owned on success) at pos. */
int store_insert(struct store_kind *k, json_t *obj, size_t pos);
/* The object as a tree, a new reference (hot: shared, read-only; cold:
 * freshly parsed). NULL only when out of memory. */
json_t *store_obj_json(const struct store_obj *o);
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

/* Replay: obj (owned on success) replaces or joins k; or goes. */
int store_load_put(struct store_kind *k, json_t *obj);
void store_load_del(struct store_kind *k, const char *ns, const char *name);

/* store_disk.c */
int store_disk_open(struct store *s, const char *dir, char *err,
    size_t errlen);
int store_disk_load(struct store *s, char *err, size_t errlen);
/* Make rv usable: raise the durable ceiling first when rv passes it. */
int store_disk_rv(struct store *s, uint64_t rv, char *err, size_t errlen);
/* Journal the object's new state (or its removal); durable and not in a
 * batch: fdatasync before returning (Events: never). */
int store_disk_write(struct store *s, const struct store_kind *k,
    const char *ns, const char *name, const json_t *obj, int durable,
    char *err, size_t errlen);
int store_disk_unlink(struct store *s, const struct store_kind *k,
    const char *ns, const char *name, int durable, char *err,
    size_t errlen);
/* Room for a new object: -ENOSPC when the file system holding the store
 * has less than STORE_MIN_FREE left (the journal's preallocated reserve
 * then serves updates and deletes). */
int store_disk_room(struct store *s, char *err, size_t errlen);
/* fdatasync the journal if anything was written since. */
int store_disk_sync(struct store *s, char *err, size_t errlen);
/* Checkpoint work for about budget_ms: 1 if more is left, 0, -errno. */
int store_disk_maintain(struct store *s, unsigned budget_ms, char *err,
    size_t errlen);
/* Fold the whole journal into the files, now; the journal is emptied. */
int store_disk_checkpoint(struct store *s, char *err, size_t errlen);
/* Checkpoint (when opened) and close the journal. */
void store_disk_close(struct store *s, int opened);
int store_name_check(const char *what, const char *v, size_t max,
    int subdomain, char *err, size_t errlen);
/* "Kind/ns/name" or "Kind/name" (a journal record's path) split, checked. */
int store_disk_path_split(struct store *s, const char *path,
    struct store_kind **k, char *ns, char *name);
/* A decimal uint64 (a resourceVersion): 0, or -1 if it is none. */
int store_parse_u64(const char *v, uint64_t *out);

/* store_load.c: reading the files back at open */
#define STORE_PATH_LEN 640
#define STORE_FILE_MAX (16 << 20)
#define STORE_JOURNAL_READ_MAX (1u << 30)
/* The objects under rel (a kind's directory, or a namespace's in it). */
int store_load_dir(struct store *s, struct store_kind *k, const char *rel,
    const char *ns, int namespaces, char *err, size_t errlen);
/* Replay the journal file over memory; *found: it existed. */
int store_load_journal(struct store *s, const char *file, int *found,
    char *err, size_t errlen);

/* events.c */
void store_events_prune(struct store *s);
/* A hash of an Event's aggregation key (involved object, type, reason,
 * message), for cold entries. */
uint64_t store_event_key(const json_t *ev);

#endif
