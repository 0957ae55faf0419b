/*
 * events.c: store_event(), Events as client-go's recorder makes them.
 *
 * An Event is named "<involved name>.<hex of the Unix time in ns>" in the
 * involved object's namespace ("default" for a cluster-scoped object), with
 * source.component "drover". When the same (involved object, type, reason,
 * message) was recorded before, that Event's count goes up and its
 * lastTimestamp moves instead (client-go's EventCorrelator). Events are
 * written with less durability than other objects (store.c) and at most
 * STORE_EVENTS_MAX are kept: the least recently written go first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_priv.h"

#define MESSAGE_MAX 1024	/* the longest message kept */
#define SUFFIX_MAX 17		/* ".<16 hex digits>" */

static const char *
str(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v ? v : "";
}

/* Is ev about the same object, with the same type, reason and message? */
static int
same(const json_t *ev, const json_t *ref, const char *type,
    const char *reason, const char *msg)
{
	const json_t *io = json_object_get(ev, "involvedObject");
	static const char *const keys[] = { "kind", "namespace", "name", "uid",
	    "apiVersion" };
	size_t i;

	/* The message first: it differs most often. */
	if (strcmp(str(ev, "message"), msg) || strcmp(str(ev, "reason"),
	    reason) || strcmp(str(ev, "type"), type))
		return 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(str(io, keys[i]), str(ref, keys[i])))
			return 0;
	return 1;
}

static json_t *
involved(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	json_t *ref = json_object();
	static const char *const keys[] = { "namespace", "name", "uid",
	    "resourceVersion" };
	size_t i;

	if (ref == NULL)
		return NULL;
	json_object_set_new(ref, "kind", json_string(str(obj, "kind")));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (*str(md, keys[i]))
			json_object_set_new(ref, keys[i],
			    json_string(str(md, keys[i])));
	if (*str(obj, "apiVersion"))
		json_object_set_new(ref, "apiVersion",
		    json_string(str(obj, "apiVersion")));
	return ref;
}

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;	/* a separator */
}

/* The aggregation key's hash: from ref (involvedObject) and the rest. */
static uint64_t
key_of(const json_t *ref, const char *type, const char *reason,
    const char *msg)
{
	static const char *const keys[] = { "kind", "namespace", "name", "uid",
	    "apiVersion" };
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		h = fnv(h, str(ref, keys[i]));
	return fnv(fnv(fnv(h, type), reason), msg);
}

uint64_t
store_event_key(const json_t *ev)
{
	return key_of(json_object_get(ev, "involvedObject"), str(ev, "type"),
	    str(ev, "reason"), str(ev, "message"));
}

/* The same Event recorded before, in namespace ns; -1 if none. Hashes
 * first: the candidates alone are parsed. */
static long
find_same(struct store_kind *k, const char *ns, const json_t *ref,
    const char *type, const char *reason, const char *msg)
{
	uint64_t key = key_of(ref, type, reason, msg);
	size_t i = 0;
	json_t *e;
	int hit;

	store_find(k, ns, "", &i);
	for (; i < k->n && !strcmp(k->v[i].ns, ns); i++) {
		if (k->cold && k->v[i].agg != key)
			continue;
		e = store_obj_json(&k->v[i]);
		hit = e && same(e, ref, type, reason, msg);
		json_decref(e);
		if (hit)
			return (long)i;
	}
	return -1;
}

static int
bump(struct store *s, struct store_kind *k, size_t i, const char *now,
    char *err, size_t errlen)
{
	json_t *e = store_obj_json(&k->v[i]);
	json_t *c = e ? store_meta_copy(e) : NULL;
	json_int_t count;

	json_decref(e);
	if (c == NULL)
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	count = json_integer_value(json_object_get(c, "count"));
	json_object_set_new(c, "count", json_integer(count + 1));
	json_object_set_new(c, "lastTimestamp", json_string(now));
	return store_put(s, k, c, STORE_MODIFIED, NULL, err, errlen);
}

/* "<name>.<hex ns>", a name not taken in ns. */
static void
event_name(struct store_kind *k, const char *ns, const char *name,
    char *out, size_t len)
{
	struct timespec ts;
	uint64_t t;
	int n = (int)strnlen(name, STORE_NAME_MAX - SUFFIX_MAX);

	/* A cut name must still end with an alphanumeric. */
	while (n > 0 && !((name[n - 1] >= 'a' && name[n - 1] <= 'z') ||
	    (name[n - 1] >= '0' && name[n - 1] <= '9')))
		n--;
	clock_gettime(CLOCK_REALTIME, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	do
		snprintf(out, len, "%.*s.%" PRIx64, n, name, t++);
	while (store_find(k, ns, out, NULL));
}

static json_t *
new_event(struct store_kind *k, json_t *ref, const char *type,
    const char *reason, const char *msg, const char *now)
{
	const char *ons = str(ref, "namespace");
	const char *ns = *ons ? ons : "default";
	char name[STORE_NAME_MAX + 1];

	event_name(k, ns, str(ref, "name"), name, sizeof(name));
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:s, s:s, s:{s:s}, "
	    "s:s, s:s, s:i, s:s, s:n, s:s, s:s}",
	    "apiVersion", "v1", "kind", "Event",
	    "metadata", "name", name, "namespace", ns,
	    "involvedObject", ref, "reason", reason, "message", msg,
	    "source", "component", "drover",
	    "firstTimestamp", now, "lastTimestamp", now, "count", 1,
	    "type", type, "eventTime", "reportingComponent", "",
	    "reportingInstance", "");
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;	/* no surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Messages may quote guest or client bytes: JSON needs UTF-8. */
static void
utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p) {
		n = utf8_len(p);
		if (n == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

/* Keep at most STORE_EVENTS_MAX: remove the least recently written. */
void
store_events_prune(struct store *s)
{
	struct store_kind *k = store_kind_get(s, "Event");
	char err[512];
	size_t i, old;

	while (k->n > STORE_EVENTS_MAX) {
		for (i = 1, old = 0; i < k->n; i++)
			if (k->v[i].rv < k->v[old].rv)
				old = i;
		if (store_remove(s, k, old, NULL, NULL, err, sizeof(err)) < 0) {
			log_warnx("pruning events: %s", err);
			return;
		}
	}
}

void
store_event(struct store *s, const json_t *obj, const char *type,
    const char *reason, const char *fmt, ...)
{
	struct store_kind *k = store_kind_get(s, "Event");
	char msg[MESSAGE_MAX], now[32], err[512];
	json_t *ref, *ev;
	const char *ns;
	va_list ap;
	long i;
	int rc;

	if (type == NULL || reason == NULL || k == NULL ||
	    !json_is_object(obj) ||
	    !*str(json_object_get(obj, "metadata"), "name")) {
		log_warnx("event %s: not about an object with a name",
		    reason ? reason : "");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	store_now(now);
	ref = involved(obj);
	if (ref == NULL) {
		log_warnx("event %s: out of memory", reason);
		return;
	}
	ns = *str(ref, "namespace") ? str(ref, "namespace") : "default";
	i = find_same(k, ns, ref, type, reason, msg);
	if (i >= 0) {
		rc = bump(s, k, (size_t)i, now, err, sizeof(err));
	} else {
		ev = new_event(k, ref, type, reason, msg, now);
		rc = ev ? store_create(s, ev, NULL, err, sizeof(err)) : -ENOMEM;
		if (ev == NULL)
			snprintf(err, sizeof(err), "out of memory");
		json_decref(ev);
	}
	json_decref(ref);
	if (rc < 0)
		log_warnx("event %s %s about %s %s: %s", type, reason,
		    str(obj, "kind"), str(json_object_get(obj, "metadata"),
		    "name"), err);
	store_events_prune(s);
}
