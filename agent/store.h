/*
 * store.h: droverd's durable object store.
 *
 * Objects are jansson trees, kept as the user gave them (config/manifest.h
 * explains why), keyed by (kind, namespace, name). kind is the Kind string
 * ("VirtualMachineInstanceReplicaSet", "VirtualMachineInstance",
 * "HorizontalPodAutoscaler", "Pod", "Event", "Namespace", "Node").
 * Namespace and Node are cluster-scoped: their namespace is "".
 *
 * Metadata the store owns, as the API server does:
 * - uid (random UUID v4), creationTimestamp (RFC 3339, UTC, seconds),
 *   set at create and never changed afterwards;
 * - resourceVersion: one global counter for every kind, decimal string,
 *   bumped by every write (create, update, status, delete marks);
 * - generation: 1 at create, +1 whenever .spec changes (not on status or
 *   metadata-only writes);
 * - deletionTimestamp: set by store_delete() on an object that has
 *   finalizers; the object goes when its last finalizer is removed.
 * Objects without a namespace get "default" when their kind is namespaced.
 * metadata.generateName without a name: generateName + 5 characters from
 * "bcdfghjklmnpqrstvwxz2456789" (apimachinery's alphabet), retried on a
 * clash.
 *
 * Owner references: after an object is removed, every object whose
 * metadata.ownerReferences names its uid is deleted in turn (background
 * cascading deletion, kubectl's default).
 *
 * Durability: a write is acknowledged (returns 0) only after it is on
 * disk (a record in the write-ahead journal, fdatasync'd), except inside
 * a batch (store_batch_begin), where the writes of the batch become
 * durable together at store_batch_end(), before any watcher hears of
 * them. store.c documents the layout and the fsync order. store_open()
 * refuses a damaged file and names it in the error; it never drops one
 * (the one exception, a journal's last record cut short by a crash, was
 * never acknowledged: it is dropped with a warning).
 *
 * Objects handed out are shared and must be treated as read-only:
 * json_deep_copy() one before changing it. Every call returning json_t *
 * returns a new reference (json_decref() it).
 *
 * Watchers are called synchronously after each acknowledged write, in
 * registration order, with the object as stored (for STORE_DELETED, its
 * last state). A watcher must not call store mutators; it queues work.
 *
 * Errors: negative errno, and a message in err (may be NULL):
 *   -ENOENT   no such object;        -EEXIST  name taken;
 *   -ESTALE   metadata.resourceVersion given and not current (a conflict);
 *   -EINVAL   not an object with kind and name;  -EIO and others: disk.
 * The store is single-threaded: droverd calls it from its event loop.
 */
#ifndef DROVER_STORE_H
#define DROVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

enum store_event {
	STORE_ADDED,
	STORE_MODIFIED,
	STORE_DELETED,
};

typedef void (*store_watch_fn)(void *arg, enum store_event ev,
    const json_t *obj);

/*
 * Open (create if missing) the store in dir and load every object. One
 * process at a time: -EBUSY while another has it open (flock).
 */
int store_open(const char *dir, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);

/* The current global resourceVersion. */
uint64_t store_rv(const struct store *s);

/* Is this Kind namespaced (everything but Namespace and Node)? 1 or 0;
 * -1 for a kind the store does not keep. */
int store_kind_namespaced(const char *kind);

/*
 * Create obj (taken as a template: the store keeps a copy). *out, when
 * out is not NULL, is the stored object with its metadata filled in.
 */
int store_create(struct store *s, const json_t *obj, json_t **out,
    char *err, size_t errlen);

/*
 * Replace an existing object (matched by kind, namespace and name).
 * uid, creationTimestamp, generation and deletionTimestamp are kept from
 * the stored object; .status is kept from the stored object too (as the
 * API server does for resources with a status subresource). A
 * resourceVersion in obj must equal the stored one (-ESTALE otherwise).
 * Removing the last finalizer from an object with a deletionTimestamp
 * removes it (STORE_DELETED).
 */
int store_update(struct store *s, const json_t *obj, json_t **out,
    char *err, size_t errlen);

/* Replace only .status (the status subresource). */
int store_update_status(struct store *s, const char *kind, const char *ns,
    const char *name, const json_t *status, json_t **out, char *err,
    size_t errlen);

/*
 * Delete: with finalizers, set deletionTimestamp (STORE_MODIFIED, once);
 * without, remove (STORE_DELETED), then cascade to dependents.
 */
int store_delete(struct store *s, const char *kind, const char *ns,
    const char *name, char *err, size_t errlen);

/* One object, or NULL. */
json_t *store_get(struct store *s, const char *kind, const char *ns,
    const char *name);

/*
 * A new array of the objects of kind, in namespace ns (NULL or "": all, as
 * client-go's NamespaceAll), sorted by namespace then name. An unknown
 * kind gives an empty array.
 */
json_t *store_list(struct store *s, const char *kind, const char *ns);

/*
 * Reads without building a tree (the API's fast path): an object's
 * compact JSON, exactly json_dumps(obj, JSON_COMPACT) of the stored
 * object, made at its first read and kept with that stored state (a
 * write replaces the entry and its text with it). text and obj are the
 * store's: read-only, valid until the next store write or
 * store_view_done(), whichever comes first.
 */
struct store_view {
	const json_t *obj;	/* the stored object (cold kinds: parsed only
				 * when asked for, else NULL) */
	const char *text;	/* its compact JSON, len bytes, NUL after */
	size_t len;
	json_t *tree;		/* private: a parsed cold object */
};

/* One object (obj always set): 0, -ENOENT, -ENOMEM. store_view_done()
 * after use. */
int store_get_view(struct store *s, const char *kind, const char *ns,
    const char *name, struct store_view *v);
void store_view_done(struct store_view *v);

/*
 * fn for each object of kind in namespace ns (NULL or "": all), in
 * store_list()'s order; want_tree: v->obj set for cold kinds too. Stops
 * at fn's first non-zero return and returns it (-ENOMEM: out of memory);
 * 0 after the last. fn must not write to the store.
 */
typedef int (*store_each_fn)(void *arg, const struct store_view *v);
int store_each(struct store *s, const char *kind, const char *ns,
    int want_tree, store_each_fn fn, void *arg);

/* Watch every change; returns an id > 0 for store_unwatch(). */
int store_watch(struct store *s, store_watch_fn fn, void *arg);
void store_unwatch(struct store *s, int id);

/*
 * Batches (group commit): between store_batch_begin() and the matching
 * store_batch_end() (they nest; the outermost end counts), writes are
 * journaled but not yet fdatasync'd, and watch events are held back;
 * store_batch_end() makes them all durable with one fdatasync, then tells
 * the watchers, in order. The writer sees its writes at once (store_get);
 * nobody else can look before the end (single-threaded). For controllers
 * that write several objects per reaction: never acknowledge a client
 * from inside a batch. 0, or -errno when the journal could not be made
 * durable (the store then refuses further writes, naming the error).
 */
void store_batch_begin(struct store *s);
int store_batch_end(struct store *s, char *err, size_t errlen);

/* Make every write so far durable (what store_batch_end() does). */
int store_flush(struct store *s, char *err, size_t errlen);

/*
 * Checkpoint work: fold the journal into the object files a little at a
 * time (a few ms per call) once it has grown past 4 MiB. Returns 1 when
 * more work is left (call again soon), else 0. droverd calls it from a
 * timer; without it the journal is folded in at 32 MiB in one go, and at
 * store_open() and store_close().
 */
int store_maintain(struct store *s);

/*
 * Record an Event about obj (type "Normal" or "Warning"), as client-go's
 * recorder does: involvedObject (kind, namespace, name, uid, apiVersion,
 * resourceVersion), reason, message, source.component, first/last
 * timestamps, and count bumped when the same (object, reason, message)
 * repeats. Events are best effort: a failure is logged, not returned.
 */
void store_event(struct store *s, const json_t *obj, const char *type,
    const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
