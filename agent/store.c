/*
 * store.c: droverd's durable object store (store.h): API server semantics
 * over one JSON file per object, written through a write-ahead journal.
 *
 * LAYOUT on disk, under the store's directory (/var/lib/drover/objects):
 *   .lock                     flock(LOCK_EX) while a process has it open
 *   resourceVersion           "N\n": a ceiling on every resourceVersion
 *                             handed out so far
 *   journal                   the write-ahead journal (records below)
 *   journal.old               the previous journal while a checkpoint
 *                             folds it into the object files
 *   <Kind>/<namespace>/<name> a namespaced object (JSON), as of the last
 *                             checkpoint
 *   <Kind>/<name>             a cluster-scoped one (Namespace, Node)
 *   <Kind>[/<namespace>]/.tmp a checkpoint's write in progress (removed
 *                             at open)
 * Kind, namespace and name are checked before they become paths (kind from
 * a fixed table, namespace a DNS-1123 label, name a DNS-1123 subdomain:
 * no '/', no "..", never empty, at most 253 characters), so a file name
 * starting with '.' is never an object. (No ".json" suffix: a 253-character
 * name must fit NAME_MAX, 255.) One writer at a time (the lock, one
 * thread), so one temp file name per directory is enough.
 *
 * JOURNAL RECORDS, appended with one writev(2) each, text:
 *   "P <len> <crc32>\n<Kind>/<ns>/<name>\n<the object, compact JSON>\n"
 *   "D <len> <crc32>\n<Kind>/<ns>/<name>\n\n"                (removed)
 * <len> is the decimal length of the payload (path, newline, JSON), <crc32>
 * zlib's CRC-32 of it, 8 lowercase hex digits.
 *
 * WRITE ORDER (store_disk.c). A create, update or delete appends its
 * record to the journal and fdatasync()s it; only then is memory changed,
 * the watchers told and 0 returned. In a batch (store_batch_begin/end) the
 * fdatasync and the watchers wait for the batch's end: one fdatasync for
 * every write of the batch (group commit). Measured on the dev host's disk
 * (ext4): an fdatasync of an appended record costs ~0.15 ms, where the
 * object file written the durable way (temp file, fsync, rename, fsync of
 * its directory) cost 0.7-12 ms, most of it the new inode and the
 * directory, and made droverd's CPU time per VMI 6-10 ms.
 * CHECKPOINTS fold the journal into the object files: once it passes
 * STORE_JOURNAL_ROTATE, store_maintain() renames it journal.old (and
 * fsync()s the directory), starts a new one, then, a few ms per call,
 * writes the current state of every object journal.old touched the
 * durable way (temp file, fsync, rename, directory fsync; a removed one:
 * unlink, directory fsync), and removes journal.old. At STORE_JOURNAL_MAX
 * (nobody called store_maintain()), at open and at close the whole
 * journal is folded in at once and emptied (ftruncate, fdatasync) after
 * the files are durable. A kill -9 or a power cut at any instant leaves
 * every object file its old or its new complete content, the journals
 * whole up to the last acknowledged record (at worst a record cut short
 * after it), and nothing acknowledged lost: open loads the files, then
 * replays journal.old and the journal over them, in order.
 *
 * RESOURCEVERSION. One global counter. Each object file holds its own
 * metadata.resourceVersion, but deletions also consume one, and with only
 * the files a delete of the newest object would make the counter go back
 * after a restart. So the counter file holds a ceiling: before a
 * resourceVersion above it is used, the ceiling is raised (by
 * STORE_RV_STEP, one durable write per 1024 writes) and made durable. At
 * open the counter starts at max(ceiling, every object's resourceVersion):
 * it never goes backwards, it only skips ahead after a restart.
 *
 * EVENTS are written with less durability: journaled like the rest but
 * never fdatasync()ed for themselves (they ride along with the next
 * durable write), and their files are checkpointed without fsync (an
 * fsync costs 10-20 ms on the node's disk and Events come in bursts).
 * After a power cut an Event may be missing, show an older count, or its
 * file be torn (empty or cut short): a damaged Event file is removed at
 * open with a warning naming it, never a reason to refuse to start. A
 * kill -9 alone never loses one (the page cache survives). At most
 * STORE_EVENTS_MAX are kept; the least recently written go first
 * (events.c).
 *
 * LOAD. Every file is parsed and checked (JSON, kind, name and namespace
 * against its path, uid, resourceVersion, generation, creationTimestamp);
 * the first damaged one fails store_open() with its path in the message:
 * nothing is dropped silently (Events excepted, see above). The journals'
 * records are checked the same way (and their CRCs): a damaged record
 * fails store_open() naming the journal, the byte and the object. Only
 * the last record may be cut short or fail its CRC: a write a crash
 * interrupted before its fdatasync returned, so never acknowledged; it
 * is dropped with a warning. The replayed journals are then folded into
 * the files. Then what a crash may have interrupted is finished: an
 * object marked for deletion with no finalizers left is removed, and
 * objects whose owners are all gone are deleted (the rest of a cascade).
 *
 * MEMORY. One sorted array per kind (binary search by namespace then
 * name). Objects of hot kinds are jansson trees, shared with readers; no
 * other copy. Events (cold) are kept as compact JSON text with their key
 * and a hash of their aggregation key, and parsed when read: a jansson
 * tree costs ~4.8 KiB per Event, the text ~0.7 KiB. Measured (glibc -O2,
 * VmRSS): 50 VMIs with status, their 50 Pods and 1000 Events take 2.1 MiB
 * (6.2 MiB with Events as trees). An update that changes nothing is not
 * written and tells no watcher (as the API server does).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store_priv.h"

static const struct {
	const char *kind;
	int namespaced, cold;
} kinds[STORE_NKINDS] = {
	{ "VirtualMachineInstanceReplicaSet", 1, 0 },
	{ "VirtualMachineInstance", 1, 0 },
	{ "HorizontalPodAutoscaler", 1, 0 },
	{ "Pod", 1, 0 },
	{ "Event", 1, 1 },
	{ "Namespace", 0, 0 },
	{ "Node", 0, 0 },
};

/* ---- small helpers ---------------------------------------------------------- */

int
store_seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int
store_kind_namespaced(const char *kind)
{
	size_t i;

	for (i = 0; kind && i < STORE_NKINDS; i++)
		if (!strcmp(kinds[i].kind, kind))
			return kinds[i].namespaced;
	return -1;
}

struct store_kind *
store_kind_get(struct store *s, const char *kind)
{
	size_t i;

	for (i = 0; kind && i < STORE_NKINDS; i++)
		if (!strcmp(s->kinds[i].kind, kind))
			return &s->kinds[i];
	return NULL;
}

void
store_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
store_random(void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = getrandom((char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	return 0;
}

static json_t *
meta(const json_t *obj)
{
	return json_object_get(obj, "metadata");
}

static const char *
meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(meta(obj), key));
}

uint64_t
store_obj_rv(const json_t *obj)
{
	const char *v = meta_str(obj, "resourceVersion");

	return v ? strtoull(v, NULL, 10) : 0;
}

json_t *
store_meta_copy(const json_t *obj)
{
	json_t *c = json_copy((json_t *)obj), *md;

	if (c == NULL)
		return NULL;
	md = json_copy(meta(obj));
	if (md == NULL || json_object_set_new(c, "metadata", md) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static int
finalizers_n(const json_t *obj)
{
	return (int)json_array_size(json_object_get(meta(obj), "finalizers"));
}

/* ---- the sorted arrays ------------------------------------------------------ */

static int
key_cmp(const struct store_obj *o, const char *ns, const char *name)
{
	int c = strcmp(o->ns, ns);

	return c ? c : strcmp(o->name, name);
}

/* The object, or NULL with *pos where it would go. */
struct store_obj *
store_find(struct store_kind *k, const char *ns, const char *name,
    size_t *pos)
{
	size_t lo = 0, hi = k->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = key_cmp(&k->v[mid], ns, name);
		if (c == 0) {
			if (pos)
				*pos = mid;
			return &k->v[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static int
reserve(struct store_kind *k)
{
	struct store_obj *v;
	size_t cap;

	if (k->n < k->cap)
		return 0;
	cap = k->cap ? k->cap * 2 : 8;
	v = realloc(k->v, cap * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	k->v = v;
	k->cap = cap;
	return 0;
}

static void
entry_free(struct store_obj *o)
{
	json_decref(o->obj);
	free(o->text);
	free(o->buf);
}

/* Make the entry for obj (owned on success: kept, or freed when cold). */
static int
entry_make(const struct store_kind *k, json_t *obj, struct store_obj *o)
{
	const char *ns = meta_str(obj, "namespace"), *name, *uid;
	size_t nl, ml, ul;

	memset(o, 0, sizeof(*o));
	o->ns = k->namespaced && ns ? ns : "";
	o->name = name = meta_str(obj, "name");
	o->uid = uid = meta_str(obj, "uid");
	o->rv = store_obj_rv(obj);
	o->owned = json_array_size(json_object_get(meta(obj),
	    "ownerReferences")) > 0;
	o->deleting = json_object_get(meta(obj), "deletionTimestamp") != NULL;
	if (!k->cold) {
		o->obj = obj;
		return 0;
	}
	nl = strlen(o->ns);
	ml = strlen(name);
	ul = strlen(uid);
	o->text = json_dumps(obj, JSON_COMPACT);
	o->buf = malloc(nl + ml + ul + 3);
	if (o->text == NULL || o->buf == NULL) {
		entry_free(o);
		return -ENOMEM;
	}
	o->text_len = strlen(o->text);
	memcpy(o->buf, o->ns, nl + 1);
	memcpy(o->buf + nl + 1, name, ml + 1);
	memcpy(o->buf + nl + ml + 2, uid, ul + 1);
	o->ns = o->buf;
	o->name = o->buf + nl + 1;
	o->uid = o->buf + nl + ml + 2;
	o->agg = store_event_key(obj);
	json_decref(obj);
	return 0;
}

json_t *
store_obj_json(const struct store_obj *o)
{
	if (o->obj)
		return json_incref(o->obj);
	return json_loads(o->text, 0, NULL);
}

int
store_insert(struct store_kind *k, json_t *obj, size_t pos)
{
	struct store_obj o;

	if (reserve(k) < 0 || entry_make(k, obj, &o) < 0)
		return -ENOMEM;
	memmove(&k->v[pos + 1], &k->v[pos], (k->n - pos) * sizeof(k->v[0]));
	k->n++;
	k->v[pos] = o;
	return 0;
}

/* Replay (store_disk.c): obj (owned on success) replaces or joins k. */
int
store_load_put(struct store_kind *k, json_t *obj)
{
	struct store_obj *cur, o;
	const char *ns = k->namespaced ? meta_str(obj, "namespace") : "";
	size_t pos;

	cur = store_find(k, ns ? ns : "", meta_str(obj, "name"), &pos);
	if (cur == NULL)
		return store_insert(k, obj, pos);
	if (entry_make(k, obj, &o) < 0)
		return -ENOMEM;
	entry_free(cur);
	*cur = o;
	return 0;
}

void
store_load_del(struct store_kind *k, const char *ns, const char *name)
{
	size_t pos;

	if (store_find(k, ns, name, &pos) == NULL)
		return;
	entry_free(&k->v[pos]);
	memmove(&k->v[pos], &k->v[pos + 1], (k->n - pos - 1) *
	    sizeof(k->v[0]));
	k->n--;
}

/* ---- watchers ----------------------------------------------------------------- */

/* Drop unwatched entries (not while calling them). */
static void
compact(struct store *s)
{
	size_t i, j;

	for (i = j = 0; i < s->nw; i++)
		if (s->w[i].fn)
			s->w[j++] = s->w[i];
	s->nw = j;
}

static void
deliver(struct store *s, enum store_event ev, const json_t *obj)
{
	size_t i;

	s->notifying++;
	for (i = 0; i < s->nw; i++)
		if (s->w[i].fn)
			s->w[i].fn(s->w[i].arg, ev, obj);
	if (--s->notifying == 0)
		compact(s);
}

/* Tell the watchers now, or, inside a batch, once it is durable. */
static void
notify(struct store *s, enum store_event ev, const json_t *obj)
{
	struct store_note *n;

	if (s->batch == 0) {
		deliver(s, ev, obj);
		return;
	}
	if (s->nnotes == s->capnotes) {
		n = realloc(s->notes, (s->capnotes ? 2 * s->capnotes : 64) *
		    sizeof(*n));
		if (n == NULL) {
			log_error("store: out of memory: a watch event is "
			    "delivered before its batch is durable");
			deliver(s, ev, obj);
			return;
		}
		s->notes = n;
		s->capnotes = s->capnotes ? 2 * s->capnotes : 64;
	}
	s->notes[s->nnotes].ev = ev;
	s->notes[s->nnotes].obj = json_incref((json_t *)obj);
	s->nnotes++;
}

void
store_batch_begin(struct store *s)
{
	s->batch++;
}

int
store_batch_end(struct store *s, char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (s->batch == 0 || --s->batch > 0)
		return 0;
	rc = store_disk_sync(s, err, errlen);
	/* In memory the writes are done; watchers learn of them either
	 * way (the store refuses further writes when the sync failed). */
	for (i = 0; i < s->nnotes; i++) {
		deliver(s, s->notes[i].ev, s->notes[i].obj);
		json_decref(s->notes[i].obj);
	}
	s->nnotes = 0;
	return rc;
}

int
store_flush(struct store *s, char *err, size_t errlen)
{
	return store_disk_sync(s, err, errlen);
}

int
store_maintain(struct store *s)
{
	char err[512];
	int rc;

	if (s->batch)
		return 0;
	rc = store_disk_maintain(s, STORE_MAINTAIN_MS, err, sizeof(err));
	if (rc < 0) {
		log_warnx("store checkpoint: %s (retried later)", err);
		return 0;
	}
	return rc;
}

int
store_watch(struct store *s, store_watch_fn fn, void *arg)
{
	struct store_watcher *w;

	if (fn == NULL)
		return -EINVAL;
	if (s->nw == s->capw) {
		w = realloc(s->w, (s->capw ? 2 * s->capw : 8) * sizeof(*w));
		if (w == NULL)
			return -ENOMEM;
		s->w = w;
		s->capw = s->capw ? 2 * s->capw : 8;
	}
	s->w[s->nw].id = ++s->next_wid;
	s->w[s->nw].fn = fn;
	s->w[s->nw].arg = arg;
	s->nw++;
	return s->next_wid;
}

void
store_unwatch(struct store *s, int id)
{
	size_t i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].id == id)
			s->w[i].fn = NULL;
	if (s->notifying == 0)
		compact(s);
}

/* ---- writes ------------------------------------------------------------------- */

static int
set_rv(json_t *obj, uint64_t rv)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, rv);
	return json_object_set_new(meta(obj), "resourceVersion",
	    json_string(buf));
}

static int
durable(const struct store_kind *k)
{
	return strcmp(k->kind, "Event") != 0;
}

int
store_put(struct store *s, struct store_kind *k, json_t *obj,
    enum store_event ev, json_t **out, char *err, size_t errlen)
{
	const char *ns = k->namespaced ? meta_str(obj, "namespace") : "";
	const char *name = meta_str(obj, "name");
	uint64_t rv = s->rv + 1;
	struct store_obj *cur, e;
	size_t pos;
	int rc;

	/* Everything that can fail in memory before the write. */
	rc = reserve(k);
	if (rc == 0 && set_rv(obj, rv) < 0)
		rc = -ENOMEM;
	if (rc == 0 && entry_make(k, json_incref(obj), &e) < 0) {
		json_decref(obj);
		rc = -ENOMEM;
	}
	if (rc < 0) {
		rc = store_seterr(err, errlen, rc, "out of memory");
		goto fail;
	}
	rc = store_disk_rv(s, rv, err, errlen);
	if (rc == 0)
		rc = store_disk_write(s, k, ns, name, obj, durable(k), err,
		    errlen);
	if (rc < 0) {
		entry_free(&e);
		goto fail;
	}
	s->rv = rv;
	cur = store_find(k, e.ns, e.name, &pos);
	if (cur) {
		entry_free(cur);
		*cur = e;
	} else {
		memmove(&k->v[pos + 1], &k->v[pos], (k->n - pos) *
		    sizeof(k->v[0]));
		k->n++;
		k->v[pos] = e;
	}
	notify(s, ev, obj);
	if (out)
		*out = json_incref(obj);
fail:
	json_decref(obj);
	return rc;
}

/* Remove k->v[i] (disk, memory); DELETED with last (owned; NULL: the
 * stored state). *uid: the object's uid (malloc'd) for the cascade. */
static int
remove_one(struct store *s, struct store_kind *k, size_t i, json_t *last,
    json_t **out, char **uid, char *err, size_t errlen)
{
	struct store_obj o = k->v[i];
	uint64_t rv = s->rv + 1;
	json_t *cur;
	int rc;

	*uid = strdup(o.uid);
	if (last == NULL) {
		cur = store_obj_json(&o);
		last = cur ? store_meta_copy(cur) : NULL;
		json_decref(cur);
	}
	if (*uid == NULL || last == NULL || set_rv(last, rv) < 0) {
		rc = store_seterr(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = store_disk_rv(s, rv, err, errlen);
	if (rc == 0)
		rc = store_disk_unlink(s, k, o.ns, o.name, durable(k), err,
		    errlen);
	if (rc < 0)
		goto fail;
	s->rv = rv;
	memmove(&k->v[i], &k->v[i + 1], (k->n - i - 1) * sizeof(k->v[0]));
	k->n--;
	entry_free(&o);
	notify(s, STORE_DELETED, last);
	if (out)
		*out = json_incref(last);
	json_decref(last);
	return 0;
fail:
	json_decref(last);
	free(*uid);
	*uid = NULL;
	return rc;
}

/* Mark for deletion (finalizers) or remove; *uid set when removed. */
int
store_delete_at(struct store *s, struct store_kind *k, size_t i, char **uid,
    char *err, size_t errlen)
{
	json_t *obj = store_obj_json(&k->v[i]), *c;
	char now[32];
	int n = finalizers_n(obj);

	*uid = NULL;
	c = n && !k->v[i].deleting ? store_meta_copy(obj) : NULL;
	json_decref(obj);
	if (n == 0)
		return remove_one(s, k, i, NULL, NULL, uid, err, errlen);
	if (k->v[i].deleting)
		return 0;
	store_now(now);
	if (c == NULL || json_object_set_new(meta(c), "deletionTimestamp",
	    json_string(now)) < 0 || json_object_set_new(meta(c),
	    "deletionGracePeriodSeconds", json_integer(0)) < 0) {
		json_decref(c);
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	}
	return store_put(s, k, c, STORE_MODIFIED, NULL, err, errlen);
}

/* ---- owner references ------------------------------------------------------- */

static int
uid_exists(struct store *s, const char *uid)
{
	size_t i, j;

	for (i = 0; i < STORE_NKINDS; i++)
		for (j = 0; j < s->kinds[i].n; j++)
			if (!strcmp(s->kinds[i].v[j].uid, uid))
				return 1;
	return 0;
}

/*
 * Should obj go, its owner gone? When it names uid (NULL: any owner) as
 * an owner and none of its owners is left, as Kubernetes' garbage
 * collector decides; not when it is already being deleted.
 */
static int
refs_orphaned(struct store *s, const json_t *refs, const char *uid)
{
	const char *u;
	json_t *r;
	size_t i;
	int named = 0;

	json_array_foreach(refs, i, r) {
		u = json_string_value(json_object_get(r, "uid"));
		named |= u && (uid == NULL || !strcmp(u, uid));
	}
	if (!named)
		return 0;
	json_array_foreach(refs, i, r) {
		u = json_string_value(json_object_get(r, "uid"));
		if (u && uid_exists(s, u))
			return 0;
	}
	return 1;
}

static int
orphaned(struct store *s, const struct store_obj *o, const char *uid)
{
	json_t *obj;
	int rc;

	if (!o->owned || o->deleting)
		return 0;
	obj = store_obj_json(o);
	rc = refs_orphaned(s, json_object_get(meta(obj), "ownerReferences"),
	    uid);
	json_decref(obj);
	return rc;
}

static int
find_orphan(struct store *s, const char *uid, struct store_kind **k,
    size_t *idx)
{
	size_t i, j;

	for (i = 0; i < STORE_NKINDS; i++)
		for (j = 0; j < s->kinds[i].n; j++)
			if (orphaned(s, &s->kinds[i].v[j], uid)) {
				*k = &s->kinds[i];
				*idx = j;
				return 1;
			}
	return 0;
}

/*
 * Background cascading deletion from uid (owned), breadth by a work list
 * (no recursion: chains of owners may be long). A failure stops the
 * cascade; the next store_open() finishes it.
 */
void
store_cascade(struct store *s, char *uid)
{
	char **work = NULL, **w, *child, err[512];
	size_t n = 0, cap = 0;
	struct store_kind *k;
	size_t i;

	if (uid == NULL)
		return;
	for (;;) {
		while (find_orphan(s, uid, &k, &i)) {
			if (store_delete_at(s, k, i, &child, err, sizeof(err)) < 0) {
				log_error("cascading delete: %s", err);
				goto out;
			}
			if (child == NULL)
				continue;
			if (n == cap) {
				w = realloc(work, (cap ? 2 * cap : 8) *
				    sizeof(*w));
				if (w == NULL) {
					log_error("cascading delete: out of "
					    "memory");
					free(child);
					goto out;
				}
				work = w;
				cap = cap ? 2 * cap : 8;
			}
			work[n++] = child;
		}
		free(uid);
		if (n == 0)
			break;
		uid = work[--n];
	}
	free(work);
	return;
out:
	free(uid);
	while (n > 0)
		free(work[--n]);
	free(work);
}

int
store_remove(struct store *s, struct store_kind *k, size_t i, json_t *last,
    json_t **out, char *err, size_t errlen)
{
	char *uid;
	int rc = remove_one(s, k, i, last, out, &uid, err, errlen);

	if (rc == 0)
		store_cascade(s, uid);
	return rc;
}

/* What a crash may have interrupted: removals and cascades. */
static int
sweep(struct store *s, char *err, size_t errlen)
{
	struct store_kind *k;
	char *uid;
	size_t i, j;
	int rc;

	for (i = 0; i < STORE_NKINDS; i++) {
		k = &s->kinds[i];
		for (j = 0; j < k->n; j++) {
			json_t *obj;
			int n;

			if (!k->v[j].deleting)
				continue;
			obj = store_obj_json(&k->v[j]);
			n = finalizers_n(obj);
			json_decref(obj);
			if (n)
				continue;
			rc = store_remove(s, k, j--, NULL, NULL, err, errlen);
			if (rc < 0)
				return rc;
		}
	}
	while (find_orphan(s, NULL, &k, &j)) {
		rc = store_delete_at(s, k, j, &uid, err, errlen);
		if (rc < 0)
			return rc;
		store_cascade(s, uid);
	}
	return 0;
}

/* ---- open, close -------------------------------------------------------------- */

int
store_open(const char *dir, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	size_t i;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	}
	s->dirfd = s->lockfd = s->j.fd = -1;
	for (i = 0; i < STORE_NKINDS; i++) {
		s->kinds[i].kind = kinds[i].kind;
		s->kinds[i].namespaced = kinds[i].namespaced;
		s->kinds[i].cold = kinds[i].cold;
	}
	rc = store_disk_open(s, dir, err, errlen);
	if (rc == 0)
		rc = store_disk_load(s, err, errlen);
	if (rc == 0)
		rc = sweep(s, err, errlen);
	if (rc < 0) {
		store_close(s);
		return rc;
	}
	s->opened = 1;
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	while (s->batch)
		store_batch_end(s, NULL, 0);
	store_disk_close(s, s->opened);
	free(s->notes);
	for (i = 0; i < STORE_NKINDS; i++) {
		for (j = 0; j < s->kinds[i].n; j++)
			entry_free(&s->kinds[i].v[j]);
		free(s->kinds[i].v);
	}
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->w);
	free(s->dir);
	free(s);
}

uint64_t
store_rv(const struct store *s)
{
	return s->rv;
}
