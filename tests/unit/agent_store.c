/*
 * Unit tests: droverd's object store (agent/store.h): API server metadata
 * semantics, watchers, names, Events, and durability for real: a child
 * killed with SIGKILL at random moments while it writes, every
 * acknowledged write checked after reopening; damaged files by hand.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include <zlib.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"

static char dir[64];
static char err[1024];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/drover-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *
open_ok(void)
{
	struct store *s = NULL;
	int rc = store_open(dir, &s, err, sizeof(err));

	if (rc != 0)
		print_error("store_open: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(s);
	return s;
}

/* A JSON object from a literal (json_pack format and arguments). */
static json_t *
obj(const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	o = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (o == NULL)
		print_error("json_pack: %s\n", jerr.text);
	assert_non_null(o);
	return o;
}

static json_t *
vmi(const char *name, int cpus)
{
	return obj("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:{s:{s:i}}}}",
	    "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
	    "metadata", "name", name, "labels", "app", "web",
	    "spec", "domain", "cpu", "cores", cpus);
}

static const char *
md_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(json_object_get(o,
	    "metadata"), key));
}

static long long
md_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(o,
	    "metadata"), key));
}

static unsigned long long
rv_of(const json_t *o)
{
	const char *v = md_str(o, "resourceVersion");

	assert_non_null(v);
	return strtoull(v, NULL, 10);
}

static int
create(struct store *s, json_t *o, json_t **out)
{
	int rc = store_create(s, o, out, err, sizeof(err));

	json_decref(o);
	return rc;
}

static int
update(struct store *s, json_t *o, json_t **out)
{
	int rc = store_update(s, o, out, err, sizeof(err));

	json_decref(o);
	return rc;
}

static void
match(const char *re, const char *s)
{
	regex_t r;
	int rc;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	if (rc != 0)
		print_error("\"%s\" does not match /%s/\n", s, re);
	assert_int_equal(rc, 0);
}

static void
write_file(const char *rel, const char *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int
exists(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

/* The journal's size, and whether a record in it names rel. */
static long
journal_size(void)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/journal", dir);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int
journaled(const char *rel)
{
	char path[512], line[8192], want[300];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s/journal", dir);
	snprintf(want, sizeof(want), "%s\n", rel);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strcmp(line, want) == 0;
	fclose(f);
	return found;
}

/* ---- watchers record what they see --------------------------------------------- */

struct seen {
	int n;
	enum store_event ev[64];
	char name[64][80];
	unsigned long long rv[64];
	int tag[64];
};

static int watch_tag;

static void
record(void *arg, enum store_event ev, const json_t *o)
{
	struct seen *w = arg;

	if (w->n >= 64)
		return;
	w->ev[w->n] = ev;
	snprintf(w->name[w->n], sizeof(w->name[0]), "%s", md_str(o, "name"));
	w->rv[w->n] = rv_of(o);
	w->tag[w->n] = ++watch_tag;
	w->n++;
}

/* Where name first shows in w; fails if it never does. */
static int
seen_at(const struct seen *w, const char *name)
{
	int i;

	for (i = 0; i < w->n; i++)
		if (!strcmp(w->name[i], name))
			return i;
	fail_msg("%s was not seen", name);
	return -1;
}

/* ---- create, get, list ------------------------------------------------------------ */

static void
test_create_get(void **state)
{
	struct store *s = open_ok();
	json_t *out = NULL, *got;

	(void)state;
	assert_int_equal(create(s, vmi("web-1", 1), &out), 0);
	match("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
	    "[0-9a-f]{12}$", md_str(out, "uid"));
	match("^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:"
	    "[0-6][0-9]Z$", md_str(out, "creationTimestamp"));
	assert_string_equal(md_str(out, "namespace"), "default");
	assert_int_equal(md_int(out, "generation"), 1);
	assert_int_equal(rv_of(out), store_rv(s));
	/* In the journal now; in its own file from the checkpoint on. */
	assert_true(journaled("VirtualMachineInstance/default/web-1"));
	assert_false(exists("VirtualMachineInstance/default/web-1"));

	got = store_get(s, "VirtualMachineInstance", "default", "web-1");
	assert_true(json_equal(got, out));
	json_decref(got);
	got = store_get(s, "VirtualMachineInstance", NULL, "web-1");
	assert_non_null(got);	/* NULL namespace: "default" */
	json_decref(got);
	assert_null(store_get(s, "VirtualMachineInstance", "other", "web-1"));
	assert_null(store_get(s, "Pod", "default", "web-1"));
	assert_null(store_get(s, "Nope", "default", "web-1"));

	/* Name taken; uid, resourceVersion and status are the store's. */
	assert_int_equal(create(s, vmi("web-1", 2), NULL), -EEXIST);
	assert_non_null(strstr(err, "already exists"));
	got = vmi("web-2", 1);
	json_object_set_new(json_object_get(got, "metadata"), "uid",
	    json_string("x"));
	json_object_set_new(json_object_get(got, "metadata"),
	    "resourceVersion", json_string("77777"));
	json_decref(out);
	assert_int_equal(create(s, got, &out), 0);
	assert_string_not_equal(md_str(out, "uid"), "x");
	assert_int_equal(rv_of(out), store_rv(s));
	json_decref(out);

	/* Cluster-scoped: no namespace. */
	assert_int_equal(create(s, obj("{s:s, s:s, s:{s:s, s:s}}", "apiVersion",
	    "v1", "kind", "Node", "metadata", "name", "edge-1", "namespace",
	    "x"), &out), 0);
	assert_null(md_str(out, "namespace"));
	assert_true(journaled("Node/edge-1"));
	json_decref(out);
	got = store_get(s, "Node", "whatever", "edge-1");
	assert_non_null(got);
	json_decref(got);

	/* Not an object with a known kind and a name. */
	assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Deployment",
	    "metadata", "name", "d"), NULL), -EINVAL);
	assert_int_equal(create(s, obj("{s:s}", "kind", "Pod"), NULL), -EINVAL);
	assert_int_equal(create(s, obj("[]"), NULL), -EINVAL);
	assert_int_equal(store_kind_namespaced("Pod"), 1);
	assert_int_equal(store_kind_namespaced("Node"), 0);
	assert_int_equal(store_kind_namespaced("Namespace"), 0);
	assert_int_equal(store_kind_namespaced("Deployment"), -1);
	assert_true(journal_size() > 0);
	store_close(s);
	/* Closed: every object in its file, the journal empty. */
	assert_true(exists("VirtualMachineInstance/default/web-1"));
	assert_true(exists("Node/edge-1"));
	assert_int_equal(journal_size(), 0);
}

static void
test_list(void **state)
{
	static const char *const names[] = { "b", "a", "c" };
	static const char *const nss[] = { "zz", "aa", "default" };
	struct store *s = open_ok();
	json_t *l, *o;
	size_t i, j;
	char buf[400];

	(void)state;
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			assert_int_equal(create(s, obj("{s:s, s:{s:s, s:s}}",
			    "kind", "Pod", "metadata", "name", names[j],
			    "namespace", nss[i]), NULL), 0);
	assert_int_equal(create(s, vmi("a", 1), NULL), 0);
	l = store_list(s, "Pod", NULL);
	buf[0] = '\0';
	json_array_foreach(l, i, o)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s/%s ",
		    md_str(o, "namespace"), md_str(o, "name"));
	assert_string_equal(buf, "aa/a aa/b aa/c default/a default/b "
	    "default/c zz/a zz/b zz/c ");
	json_decref(l);
	l = store_list(s, "Pod", "default");
	assert_int_equal(json_array_size(l), 3);
	assert_string_equal(md_str(json_array_get(l, 0), "name"), "a");
	json_decref(l);
	l = store_list(s, "Pod", "");
	assert_int_equal(json_array_size(l), 9);
	json_decref(l);
	l = store_list(s, "Pod", "nothing");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	l = store_list(s, "VirtualMachineInstance", NULL);
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	l = store_list(s, "Node", NULL);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	store_close(s);
}

/* ---- update, status, generation, conflicts --------------------------------------- */

static void
test_update(void **state)
{
	struct store *s = open_ok();
	json_t *out = NULL, *o, *st;
	unsigned long long rv;
	char uidbuf[40], rvs[24];

	(void)state;
	assert_int_equal(create(s, vmi("web", 1), &out), 0);
	rv = rv_of(out);
	snprintf(uidbuf, sizeof(uidbuf), "%s", md_str(out, "uid"));
	json_decref(out);

	/* Labels only: generation stays, resourceVersion moves. */
	o = vmi("web", 1);
	json_object_set_new(json_object_get(json_object_get(o, "metadata"),
	    "labels"), "tier", json_string("x"));
	assert_int_equal(update(s, o, &out), 0);
	assert_int_equal(md_int(out, "generation"), 1);
	assert_true(rv_of(out) > rv);
	assert_string_equal(md_str(out, "uid"), uidbuf);
	rv = rv_of(out);
	json_decref(out);

	/* Spec: generation + 1; a status in the update is ignored. */
	o = vmi("web", 2);
	json_object_set_new(o, "status", obj("{s:s}", "phase", "Running"));
	assert_int_equal(update(s, o, &out), 0);
	assert_int_equal(md_int(out, "generation"), 2);
	assert_null(json_object_get(out, "status"));
	assert_null(json_object_get(json_object_get(json_object_get(out,
	    "metadata"), "labels"), "tier"));
	json_decref(out);

	/* Status subresource: generation stays, status kept by updates. */
	st = obj("{s:s}", "phase", "Scheduled");
	assert_int_equal(store_update_status(s, "VirtualMachineInstance",
	    "default", "web", st, &out, err, sizeof(err)), 0);
	assert_int_equal(md_int(out, "generation"), 2);
	assert_true(json_equal(json_object_get(out, "status"), st));
	rv = rv_of(out);
	json_decref(out);
	/* The same status again: nothing written. */
	assert_int_equal(store_update_status(s, "VirtualMachineInstance",
	    "default", "web", st, &out, err, sizeof(err)), 0);
	assert_int_equal(rv_of(out), rv);
	assert_int_equal(store_rv(s), rv);
	json_decref(out);
	json_decref(st);
	assert_int_equal(update(s, vmi("web", 3), &out), 0);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(out, "status"), "phase")), "Scheduled");
	assert_int_equal(md_int(out, "generation"), 3);
	rv = rv_of(out);
	json_decref(out);

	/* The same object again: nothing written, no new resourceVersion. */
	assert_int_equal(update(s, vmi("web", 3), &out), 0);
	assert_int_equal(rv_of(out), rv);
	json_decref(out);

	/* Conflict: an old resourceVersion; the current one passes. */
	o = vmi("web", 4);
	json_object_set_new(json_object_get(o, "metadata"), "resourceVersion",
	    json_string("1"));
	assert_int_equal(update(s, o, NULL), -ESTALE);
	assert_non_null(strstr(err, "the object has been modified"));
	o = vmi("web", 4);
	snprintf(rvs, sizeof(rvs), "%llu", rv);
	json_object_set_new(json_object_get(o, "metadata"), "resourceVersion",
	    json_string(rvs));
	assert_int_equal(update(s, o, &out), 0);
	assert_int_equal(md_int(out, "generation"), 4);
	json_decref(out);
	o = vmi("web", 5);
	json_object_set_new(json_object_get(o, "metadata"), "uid",
	    json_string("00000000-0000-4000-8000-000000000000"));
	assert_int_equal(update(s, o, NULL), -ESTALE);

	/* Missing. */
	assert_int_equal(update(s, vmi("nope", 1), NULL), -ENOENT);
	assert_int_equal(store_update_status(s, "VirtualMachineInstance",
	    "default", "nope", NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(store_delete(s, "VirtualMachineInstance", "default",
	    "nope", err, sizeof(err)), -ENOENT);

	store_close(s);
}

static void
test_generate_name(void **state)
{
	struct store *s = open_ok();
	json_t *out;
	char base[80];
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Pod",
		    "metadata", "generateName", "virt-launcher-web-"), &out), 0);
		match("^virt-launcher-web-[bcdfghjklmnpqrstvwxz2456789]{5}$",
		    md_str(out, "name"));
		json_decref(out);
	}
	out = store_list(s, "Pod", NULL);
	assert_int_equal(json_array_size(out), 20);
	json_decref(out);
	/* A long base is cut to 58 characters. */
	memset(base, 'a', 70);
	base[70] = '\0';
	assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Pod",
	    "metadata", "generateName", base), &out), 0);
	assert_int_equal(strlen(md_str(out, "name")), 63);
	assert_memory_equal(md_str(out, "name"), base, 58);
	json_decref(out);
	/* An invalid base is refused. */
	assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Pod",
	    "metadata", "generateName", "Bad/"), NULL), -EINVAL);
	assert_non_null(strstr(err, "generateName"));
	store_close(s);
}

/* ---- deletion: finalizers, owner references --------------------------------------- */

static void
test_finalizers(void **state)
{
	struct store *s = open_ok();
	struct seen w = { 0 };
	json_t *out, *o;

	(void)state;
	o = vmi("fin", 1);
	json_object_set_new(json_object_get(o, "metadata"), "finalizers",
	    obj("[s, s]", "a.io/x", "b.io/y"));
	assert_int_equal(create(s, o, NULL), 0);
	assert_true(store_watch(s, record, &w) > 0);
	assert_int_equal(store_delete(s, "VirtualMachineInstance", "default",
	    "fin", err, sizeof(err)), 0);
	out = store_get(s, "VirtualMachineInstance", "default", "fin");
	assert_non_null(out);
	assert_non_null(md_str(out, "deletionTimestamp"));
	assert_int_equal(md_int(out, "generation"), 1);
	json_decref(out);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.ev[0], STORE_MODIFIED);
	/* Deleting again changes nothing. */
	assert_int_equal(store_delete(s, "VirtualMachineInstance", "default",
	    "fin", err, sizeof(err)), 0);
	assert_int_equal(w.n, 1);

	/* No finalizer may be added now; one may be removed. */
	o = vmi("fin", 1);
	json_object_set_new(json_object_get(o, "metadata"), "finalizers",
	    obj("[s, s, s]", "a.io/x", "b.io/y", "c.io/z"));
	assert_int_equal(update(s, o, NULL), -EINVAL);
	assert_non_null(strstr(err, "no new finalizers"));
	o = vmi("fin", 1);
	json_object_set_new(json_object_get(o, "metadata"), "finalizers",
	    obj("[s]", "b.io/y"));
	assert_int_equal(update(s, o, &out), 0);
	assert_non_null(md_str(out, "deletionTimestamp"));
	json_decref(out);
	assert_int_equal(w.n, 2);
	out = store_get(s, "VirtualMachineInstance", "default", "fin");
	assert_non_null(out);
	json_decref(out);

	/* The last one removed: gone, DELETED. */
	o = vmi("fin", 1);
	json_object_set_new(json_object_get(o, "metadata"), "finalizers",
	    json_array());
	assert_int_equal(update(s, o, NULL), 0);
	assert_null(store_get(s, "VirtualMachineInstance", "default", "fin"));
	assert_false(exists("VirtualMachineInstance/default/fin"));
	assert_int_equal(w.n, 3);
	assert_int_equal(w.ev[2], STORE_DELETED);
	assert_true(w.rv[2] > w.rv[1] && w.rv[1] > w.rv[0]);
	store_close(s);
	/* And it stays gone. */
	s = open_ok();
	assert_null(store_get(s, "VirtualMachineInstance", "default", "fin"));
	store_close(s);
}

/* Create kind/name owned by owner (NULL: none); its uid into uid. */
static void
owned(struct store *s, const char *kind, const char *name,
    const json_t *owner, int finalizer, char uid[40])
{
	json_t *o = obj("{s:s, s:{s:s}}", "kind", kind, "metadata", "name",
	    name), *out;

	if (owner)
		json_object_set_new(json_object_get(o, "metadata"),
		    "ownerReferences", obj("[{s:s, s:s, s:s, s:b}]", "kind",
		    json_string_value(json_object_get(owner, "kind")), "name",
		    md_str(owner, "name"), "uid", md_str(owner, "uid"),
		    "controller", 1));
	if (finalizer)
		json_object_set_new(json_object_get(o, "metadata"),
		    "finalizers", obj("[s]", "drover.io/test"));
	assert_int_equal(create(s, o, &out), 0);
	snprintf(uid, 40, "%s", md_str(out, "uid"));
	json_decref(out);
}

static json_t *
get(struct store *s, const char *kind, const char *name)
{
	json_t *o = store_get(s, kind, "default", name);

	json_decref(o);		/* still referenced by the store */
	return o;
}

static void
test_cascade(void **state)
{
	struct store *s = open_ok();
	struct seen w = { 0 };
	char uid[40];
	json_t *rs, *v1, *v2, *o;
	int i;

	(void)state;
	owned(s, "VirtualMachineInstanceReplicaSet", "rs", NULL, 0, uid);
	rs = get(s, "VirtualMachineInstanceReplicaSet", "rs");
	owned(s, "VirtualMachineInstance", "v1", rs, 0, uid);
	owned(s, "VirtualMachineInstance", "v2", rs, 1, uid);	/* finalizer */
	owned(s, "VirtualMachineInstance", "other", NULL, 0, uid);
	v1 = get(s, "VirtualMachineInstance", "v1");
	v2 = get(s, "VirtualMachineInstance", "v2");
	owned(s, "Pod", "p1", v1, 0, uid);
	owned(s, "Pod", "p2", v2, 0, uid);
	o = get(s, "Pod", "p1");
	owned(s, "Event", "e1", o, 0, uid);	/* three levels down */

	store_watch(s, record, &w);
	assert_int_equal(store_delete(s, "VirtualMachineInstanceReplicaSet",
	    "default", "rs", err, sizeof(err)), 0);
	assert_null(get(s, "VirtualMachineInstanceReplicaSet", "rs"));
	assert_null(get(s, "VirtualMachineInstance", "v1"));
	assert_null(get(s, "Pod", "p1"));
	assert_null(get(s, "Event", "e1"));
	assert_non_null(get(s, "VirtualMachineInstance", "other"));
	/* v2 has a finalizer: marked, its pod waits for it. */
	o = get(s, "VirtualMachineInstance", "v2");
	assert_non_null(o);
	assert_non_null(md_str(o, "deletionTimestamp"));
	assert_non_null(get(s, "Pod", "p2"));
	/* Owners go before what they own: rs, v1, p1, e1; v2 marked. */
	assert_int_equal(w.n, 5);
	assert_string_equal(w.name[0], "rs");
	for (i = 0; i < w.n; i++)
		assert_int_equal(w.ev[i], !strcmp(w.name[i], "v2") ?
		    STORE_MODIFIED : STORE_DELETED);
	assert_true(seen_at(&w, "rs") < seen_at(&w, "v1"));
	assert_true(seen_at(&w, "v1") < seen_at(&w, "p1"));
	assert_true(seen_at(&w, "p1") < seen_at(&w, "e1"));
	o = json_deep_copy(o);
	json_object_del(json_object_get(o, "metadata"), "finalizers");
	assert_int_equal(update(s, o, NULL), 0);
	assert_null(get(s, "VirtualMachineInstance", "v2"));
	assert_null(get(s, "Pod", "p2"));
	store_close(s);
}

/* Objects whose owners are gone (a cascade cut by a crash) go at open. */
static void
test_sweep(void **state)
{
	struct store *s = open_ok();
	char uid[40];
	json_t *owner = obj("{s:s, s:{s:s, s:s}}", "kind", "VirtualMachineInstance",
	    "metadata", "name", "gone", "uid", "0b5c1e9e-0000-4000-8000-00000000dead");

	(void)state;
	owned(s, "Pod", "orphan", owner, 0, uid);
	owned(s, "Pod", "alone", NULL, 0, uid);
	json_decref(owner);
	assert_non_null(get(s, "Pod", "orphan"));
	store_close(s);
	s = open_ok();
	assert_null(get(s, "Pod", "orphan"));
	assert_non_null(get(s, "Pod", "alone"));
	store_close(s);
}

/* ---- watchers, names, reopen ------------------------------------------------------ */

static void
test_watch(void **state)
{
	struct store *s = open_ok();
	struct seen a = { 0 }, b = { 0 };
	json_t *st = obj("{s:s}", "phase", "Running");
	int ida, idb;

	(void)state;
	ida = store_watch(s, record, &a);
	idb = store_watch(s, record, &b);
	assert_true(ida > 0 && idb > ida);
	assert_int_equal(create(s, vmi("w", 1), NULL), 0);
	assert_int_equal(update(s, vmi("w", 2), NULL), 0);
	assert_int_equal(store_update_status(s, "VirtualMachineInstance",
	    NULL, "w", st, NULL, err, sizeof(err)), 0);
	assert_int_equal(store_delete(s, "VirtualMachineInstance", NULL, "w",
	    err, sizeof(err)), 0);
	json_decref(st);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.ev[0], STORE_ADDED);
	assert_int_equal(a.ev[1], STORE_MODIFIED);
	assert_int_equal(a.ev[2], STORE_MODIFIED);
	assert_int_equal(a.ev[3], STORE_DELETED);
	assert_true(a.rv[0] < a.rv[1] && a.rv[1] < a.rv[2] &&
	    a.rv[2] < a.rv[3]);
	assert_int_equal(a.rv[3], store_rv(s));
	assert_memory_equal(a.rv, b.rv, sizeof(a.rv));
	/* Registration order: a before b every time. */
	assert_true(a.tag[0] < b.tag[0] && b.tag[0] < a.tag[1]);
	store_unwatch(s, ida);
	assert_int_equal(create(s, vmi("w2", 1), NULL), 0);
	assert_int_equal(a.n, 4);
	assert_int_equal(b.n, 5);
	store_unwatch(s, idb);
	store_close(s);
}

static void
test_bad_names(void **state)
{
	static const char *const bad[] = { "a/b", "..", ".", "", "Upper",
	    "-a", "a-", "a..b", "../../etc/passwd", "a b", "a_b", "é" };
	struct store *s = open_ok();
	char longname[300];
	size_t i;
	json_t *l;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(create(s, vmi(bad[i], 1), NULL), -EINVAL);
		assert_non_null(strstr(err, "metadata.name"));
		assert_int_equal(store_delete(s, "VirtualMachineInstance",
		    "default", bad[i], err, sizeof(err)), -EINVAL);
		assert_int_equal(create(s, obj("{s:s, s:{s:s, s:s}}", "kind",
		    "Pod", "metadata", "name", "ok", "namespace", bad[i][0] ?
		    bad[i] : "a/"), NULL), -EINVAL);
		assert_non_null(strstr(err, "metadata.namespace"));
	}
	memset(longname, 'a', sizeof(longname));
	longname[254] = '\0';
	assert_int_equal(create(s, vmi(longname, 1), NULL), -EINVAL);
	assert_non_null(strstr(err, "longer than 253"));
	longname[253] = '\0';
	assert_int_equal(create(s, vmi(longname, 1), NULL), 0);
	assert_int_equal(create(s, vmi("a.b-c.d", 1), NULL), 0);
	/* A namespace is a label: no dots, 63 at most. */
	assert_int_equal(create(s, obj("{s:s, s:{s:s, s:s}}", "kind", "Pod",
	    "metadata", "name", "ok", "namespace", "a.b"), NULL), -EINVAL);
	longname[64] = '\0';
	assert_int_equal(create(s, obj("{s:s, s:{s:s, s:s}}", "kind", "Pod",
	    "metadata", "name", "ok", "namespace", longname), NULL), -EINVAL);
	assert_int_equal(create(s, obj("{s:s, s:{s:i}}", "kind", "Pod",
	    "metadata", "name", 3), NULL), -EINVAL);
	l = store_list(s, "Pod", NULL);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	assert_false(exists("etc"));
	store_close(s);
}

static void
test_rv_reopen(void **state)
{
	struct store *s = open_ok();
	unsigned long long last;
	json_t *out;
	int i;

	(void)state;
	assert_int_equal(store_rv(s), 0);
	for (i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Pod",
		    "metadata", "name", name), NULL), 0);
	}
	/* Deleting the newest object: only the counter file remembers. */
	assert_int_equal(store_delete(s, "Pod", NULL, "p2", err, sizeof(err)),
	    0);
	last = store_rv(s);
	assert_int_equal(last, 4);
	store_close(s);
	for (i = 0; i < 3; i++) {
		s = open_ok();
		assert_true(store_rv(s) >= last);
		assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Pod",
		    "metadata", "generateName", "q"), &out), 0);
		assert_true(rv_of(out) > last);
		last = rv_of(out);
		json_decref(out);
		out = store_get(s, "Pod", NULL, "p1");
		assert_int_equal(rv_of(out), 2);
		json_decref(out);
		store_close(s);
	}
}

static void
test_lock(void **state)
{
	struct store *s = open_ok(), *t = NULL;

	(void)state;
	assert_int_equal(store_open(dir, &t, err, sizeof(err)), -EBUSY);
	assert_null(t);
	assert_non_null(strstr(err, dir));
	store_close(s);
	s = open_ok();
	store_close(s);
}

/* ---- damaged files ---------------------------------------------------------------- */

/* store_open fails naming rel; the file is still there afterwards. */
static void
open_fails(const char *rel, const char *why)
{
	struct store *s = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	err[0] = '\0';
	assert_int_equal(store_open(dir, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	if (strstr(err, path) == NULL || strstr(err, why) == NULL)
		print_error("error \"%s\" should name %s and say %s\n", err,
		    path, why);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, why));
	assert_true(exists(rel));
}

static void
test_damaged(void **state)
{
	static const struct {
		const char *rel, *data, *why;
	} cases[] = {
		{ "Pod/default/bad", "{\"kind\": \"Pod\", \"metadata\":",
		    "line 1" },
		{ "Pod/default/bad", "", "line" },
		{ "Pod/default/bad", "[1]", "not a JSON object" },
		{ "Pod/default/bad", "{\"kind\":\"Node\",\"metadata\":{"
		    "\"name\":\"bad\",\"namespace\":\"default\"}}", "kind" },
		{ "Pod/default/bad", "{\"kind\":\"Pod\"}", "no metadata" },
		{ "Pod/default/bad", "{\"kind\":\"Pod\",\"metadata\":{"
		    "\"name\":\"other\",\"namespace\":\"default\"}}",
		    "metadata.name" },
		{ "Pod/default/bad", "{\"kind\":\"Pod\",\"metadata\":{"
		    "\"name\":\"bad\",\"namespace\":\"kube-system\"}}",
		    "metadata.namespace" },
		{ "Pod/default/bad", "{\"kind\":\"Pod\",\"metadata\":{"
		    "\"name\":\"bad\",\"namespace\":\"default\"}}",
		    "metadata.uid" },
		{ "Pod/default/Bad", "{}", "not a valid object name" },
		{ "Pod/default/notes.txt", "by hand", "line 1" },
		{ "Node/edge", "{\"kind\":\"Node\",\"metadata\":{"
		    "\"name\":\"edge\",\"namespace\":\"default\"}}",
		    "metadata.namespace" },
		{ "resourceVersion", "12x\n", "not a decimal" },
	};
	struct store *s = open_ok();
	json_t *out;
	char *good, path[512];
	size_t i, len;
	int fd;

	(void)state;
	assert_int_equal(create(s, obj("{s:s, s:{s:s}, s:{s:s}}", "kind", "Pod",
	    "metadata", "name", "good", "spec", "nodeName", "edge"), &out), 0);
	json_decref(out);
	assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Node",
	    "metadata", "name", "edge"), NULL), 0);
	store_close(s);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char saved[64] = "";

		if (!strcmp(cases[i].rel, "resourceVersion")) {
			snprintf(path, sizeof(path), "%s/resourceVersion", dir);
			fd = open(path, O_RDONLY);
			assert_true(read(fd, saved, sizeof(saved) - 1) > 0);
			close(fd);
		}
		write_file(cases[i].rel, cases[i].data, strlen(cases[i].data));
		open_fails(cases[i].rel, cases[i].why);
		if (saved[0])
			write_file(cases[i].rel, saved, strlen(saved));
		else
			unlink(strcat(strcat(strcpy(path, dir), "/"),
			    cases[i].rel));
		s = open_ok();
		store_close(s);
	}

	/* A torn object file: the good one cut in half. */
	snprintf(path, sizeof(path), "%s/Pod/default/good", dir);
	fd = open(path, O_RDONLY);
	good = calloc(1, 65536);
	len = (size_t)read(fd, good, 65535);
	close(fd);
	write_file("Pod/default/good", good, len / 2);
	open_fails("Pod/default/good", "damaged store file");
	write_file("Pod/default/good", good, len);
	free(good);
	s = open_ok();
	out = store_get(s, "Pod", NULL, "good");
	assert_non_null(out);
	json_decref(out);
	store_close(s);
}

/* Temp files (a write cut short) are ignored and removed at open. */
static void
test_torn_temp(void **state)
{
	struct store *s = open_ok();
	char path[512];
	json_t *l;

	(void)state;
	assert_int_equal(create(s, obj("{s:s, s:{s:s}}", "kind", "Pod",
	    "metadata", "name", "x"), NULL), 0);
	store_close(s);
	write_file("Pod/default/.tmp", "{\"kind\": \"Po", 12);
	write_file("Pod/.tmp", "\0\0\0garbage", 10);
	write_file(".resourceVersion.tmp", "99", 2);
	write_file("Pod/default/.notes", "left alone", 10);
	/* A torn Event (written without fsync) is removed, not fatal. */
	assert_int_equal(mkdir(strcat(strcpy(path, dir), "/Event"), 0700), 0);
	assert_int_equal(mkdir(strcat(path, "/default"), 0700), 0);
	write_file("Event/default/x.17f0a", "{\"kind\": \"Ev", 13);
	s = open_ok();
	l = store_list(s, "Pod", NULL);
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	assert_false(exists("Pod/default/.tmp"));
	assert_false(exists("Pod/.tmp"));
	assert_false(exists(".resourceVersion.tmp"));
	assert_true(exists("Pod/default/.notes"));
	assert_false(exists("Event/default/x.17f0a"));
	store_close(s);
}

/* ---- the journal, batches, checkpoints ------------------------------------------- */

/* A process that writes pods p0..p(n-1) and dies without closing (as a
 * kill -9 would: the journal is not folded into the files). */
static void
write_and_die(int n, const char *prefix)
{
	pid_t pid = fork();
	int st, i;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		char name[32];

		log_set_level(LOG_LEVEL_ERROR);
		if (store_open(dir, &s, err, sizeof(err)) < 0)
			_exit(2);
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "%s%d", prefix, i);
			if (create(s, obj("{s:s, s:{s:s}, s:{s:i}}", "kind",
			    "Pod", "metadata", "name", name, "spec", "n", i),
			    NULL) < 0)
				_exit(3);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static size_t
read_all(const char *rel, char *buf, size_t max)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, max);
	close(fd);
	assert_true(n >= 0);
	return (size_t)n;
}

static size_t
npods(struct store *s)
{
	json_t *l = store_list(s, "Pod", NULL);
	size_t n = json_array_size(l);

	json_decref(l);
	return n;
}

/* Replay after a crash; the last record cut short or failing its CRC is
 * a write never acknowledged: dropped; anything else damaged: refused. */
static void
test_journal(void **state)
{
	static char buf[1 << 16], copy[1 << 16];
	struct store *s;
	size_t len, second;
	char *p;

	(void)state;
	write_and_die(3, "p");
	assert_false(exists("Pod/default/p0"));		/* journal only */
	len = read_all("journal", buf, sizeof(buf));
	assert_true(len > 0 && buf[len - 1] == '\n');
	memcpy(copy, buf, len);
	p = strstr(buf, "\nP ");
	assert_non_null(p);
	second = (size_t)(p + 1 - buf);

	/* Cut the last record short: p2 was never acknowledged. */
	p = strstr(buf + second, "\nP ");
	assert_non_null(p);
	write_file("journal", copy, len - 10);
	s = open_ok();
	assert_int_equal(npods(s), 2);
	assert_int_equal(journal_size(), 0);		/* folded in */
	assert_true(exists("Pod/default/p0") && exists("Pod/default/p1"));
	store_close(s);

	/* The whole journal again: all three come back (replay over the
	 * files is idempotent). */
	write_file("journal", copy, len);
	s = open_ok();
	assert_int_equal(npods(s), 3);
	store_close(s);

	/* The last record's CRC fails (torn by a power cut): dropped. */
	memcpy(buf, copy, len);
	buf[len - 5] ^= 0x20;
	write_file("journal", buf, len);
	s = open_ok();
	assert_int_equal(npods(s), 3);			/* the files have it */
	store_close(s);

	/* A damaged record followed by a good one: refused, named. */
	memcpy(buf, copy, len);
	buf[second + 20] ^= 0x01;
	write_file("journal", buf, len);
	snprintf(copy + len, 64, "journal, byte %zu", second);
	open_fails("journal", copy + len);
	open_fails("journal", "checksum mismatch");
	assert_true(exists("journal"));			/* left alone */

	/* A line that is no record, in the middle. */
	memcpy(buf, copy, len);
	memcpy(buf + second, "X 9", 3);
	write_file("journal", buf, len);
	open_fails("journal", "not a record");

	/* A record with a good CRC naming the wrong object: refused. */
	write_file("journal", "", 0);
	{
		const char *rec = "Pod/default/zz\n{\"kind\":\"Pod\","
		    "\"metadata\":{\"name\":\"yy\",\"namespace\":\"default\","
		    "\"uid\":\"u\",\"creationTimestamp\":\"t\",\"generation\":1,"
		    "\"resourceVersion\":\"5\"}}";
		char line[512];
		int n = snprintf(line, sizeof(line), "P %zu %08lx\n%s\n",
		    strlen(rec), crc32(crc32(0L, Z_NULL, 0),
		    (const Bytef *)rec, (uInt)strlen(rec)), rec);

		write_file("journal", line, (size_t)n);
		open_fails("journal", "metadata.name");
		/* the same, right: loaded */
		rec = "Pod/default/yy\n{\"kind\":\"Pod\",\"metadata\":{\"name\":"
		    "\"yy\",\"namespace\":\"default\",\"uid\":\"u\","
		    "\"creationTimestamp\":\"t\",\"generation\":1,"
		    "\"resourceVersion\":\"5\"}}";
		n = snprintf(line, sizeof(line), "P %zu %08lx\n%s\n",
		    strlen(rec), crc32(crc32(0L, Z_NULL, 0),
		    (const Bytef *)rec, (uInt)strlen(rec)), rec);
		write_file("journal", line, (size_t)n);
	}
	s = open_ok();
	assert_int_equal(npods(s), 4);
	store_close(s);
}

/* A batch: one fdatasync at its end, watchers told only then, in order. */
static void
test_batch(void **state)
{
	struct store *s = open_ok();
	struct seen a = { 0 };
	json_t *got;
	int id = store_watch(s, record, &a);

	(void)state;
	store_batch_begin(s);
	assert_int_equal(create(s, vmi("b1", 1), NULL), 0);
	store_batch_begin(s);				/* nested */
	assert_int_equal(create(s, vmi("b2", 1), NULL), 0);
	assert_int_equal(store_batch_end(s, err, sizeof(err)), 0);
	assert_int_equal(update(s, vmi("b1", 2), NULL), 0);
	assert_int_equal(a.n, 0);			/* held back */
	got = store_get(s, "VirtualMachineInstance", NULL, "b1");
	assert_non_null(got);				/* the writer sees it */
	json_decref(got);
	assert_int_equal(store_batch_end(s, err, sizeof(err)), 0);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.name[0], "b1");
	assert_int_equal(a.ev[0], STORE_ADDED);
	assert_string_equal(a.name[1], "b2");
	assert_string_equal(a.name[2], "b1");
	assert_int_equal(a.ev[2], STORE_MODIFIED);
	assert_true(a.rv[0] < a.rv[1] && a.rv[1] < a.rv[2]);
	assert_int_equal(store_batch_end(s, err, sizeof(err)), 0); /* extra */
	/* Outside a batch: at once. */
	assert_int_equal(create(s, vmi("b3", 1), NULL), 0);
	assert_int_equal(a.n, 4);
	/* Closed inside a batch: the batch ends (durable) first. */
	store_batch_begin(s);
	assert_int_equal(create(s, vmi("b4", 1), NULL), 0);
	store_unwatch(s, id);
	store_close(s);
	s = open_ok();
	got = store_get(s, "VirtualMachineInstance", NULL, "b4");
	assert_non_null(got);
	json_decref(got);
	store_close(s);
}

/* Checkpoints: rotation, a few ms of files per call, journal.old gone. */
static void
test_checkpoint(void **state)
{
	struct store *s = open_ok();
	char name[32], from[96], to[96];
	json_t *got;
	int i, calls = 0;

	(void)state;
	s->j.rotate = 4096;
	assert_int_equal(store_maintain(s), 0);		/* nothing to do */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(create(s, obj("{s:s, s:{s:s}, s:{s:i}}",
		    "kind", "Pod", "metadata", "name", name, "spec", "n", i),
		    NULL), 0);
	}
	assert_int_equal(store_delete(s, "Pod", NULL, "c3", err,
	    sizeof(err)), 0);
	assert_true(journal_size() > 4096);
	assert_false(exists("Pod/default/c0"));
	while (store_maintain(s) == 1)
		calls++;
	assert_false(exists("journal.old"));
	assert_true(journal_size() == 0);		/* a new one */
	assert_true(exists("Pod/default/c0") && exists("Pod/default/c39"));
	assert_false(exists("Pod/default/c3"));
	/* Writes during a checkpoint land in the new journal. */
	assert_int_equal(update(s, obj("{s:s, s:{s:s}, s:{s:i}}", "kind", "Pod",
	    "metadata", "name", "c0", "spec", "n", 100), NULL), 0);
	assert_true(journaled("Pod/default/c0"));
	store_close(s);
	s = open_ok();
	got = store_get(s, "Pod", NULL, "c0");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    got, "spec"), "n")), 100);
	json_decref(got);
	assert_int_equal(npods(s), 39);
	store_close(s);

	/* A crash between the rotation and the end of the checkpoint:
	 * journal.old and the journal are both replayed, in order. */
	write_and_die(5, "old");
	snprintf(from, sizeof(from), "%s/journal", dir);
	snprintf(to, sizeof(to), "%s/journal.old", dir);
	assert_int_equal(rename(from, to), 0);
	write_and_die(2, "new");
	s = open_ok();
	assert_int_equal(npods(s), 39 + 7);
	assert_false(exists("journal.old"));
	store_close(s);
}

/* ---- events ------------------------------------------------------------------------- */

static void
test_events(void **state)
{
	struct store *s = open_ok();
	json_t *v, *l, *e, *io;
	const char *name;
	size_t i;

	(void)state;
	assert_int_equal(create(s, vmi("web", 1), &v), 0);
	store_event(s, v, "Normal", "Created", "Created virtual machine pod %s",
	    "virt-launcher-web-abcde");
	store_event(s, v, "Normal", "Created", "Created virtual machine pod %s",
	    "virt-launcher-web-abcde");
	store_event(s, v, "Warning", "SyncFailed", "no room");
	l = store_list(s, "Event", "default");
	assert_int_equal(json_array_size(l), 2);
	json_array_foreach(l, i, e) {
		name = md_str(e, "name");
		match("^web\\.[0-9a-f]{16}$", name);
		io = json_object_get(e, "involvedObject");
		assert_string_equal(json_string_value(json_object_get(io,
		    "uid")), md_str(v, "uid"));
		assert_string_equal(json_string_value(json_object_get(io,
		    "kind")), "VirtualMachineInstance");
		assert_string_equal(json_string_value(json_object_get(io,
		    "apiVersion")), "kubevirt.io/v1");
		assert_string_equal(json_string_value(json_object_get(
		    json_object_get(e, "source"), "component")), "drover");
		assert_non_null(json_string_value(json_object_get(e,
		    "firstTimestamp")));
		assert_non_null(json_string_value(json_object_get(e,
		    "lastTimestamp")));
		if (!strcmp(json_string_value(json_object_get(e, "reason")),
		    "Created")) {
			assert_int_equal(json_integer_value(json_object_get(e,
			    "count")), 2);
			assert_string_equal(json_string_value(json_object_get(e,
			    "message")), "Created virtual machine pod "
			    "virt-launcher-web-abcde");
		} else {
			assert_string_equal(json_string_value(json_object_get(e,
			    "type")), "Warning");
			assert_int_equal(json_integer_value(json_object_get(e,
			    "count")), 1);
		}
	}
	json_decref(l);
	/* Bytes that are not UTF-8 (a guest's output, say) become '?'. */
	store_event(s, v, "Warning", "ProbeFailed", "got \"%s\"",
	    "a\xff\xc3(\xed\xa0\x80z\xe2\x82\xac");
	l = store_list(s, "Event", "default");
	assert_int_equal(json_array_size(l), 3);
	json_array_foreach(l, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "reason")),
		    "ProbeFailed"))
			assert_string_equal(json_string_value(json_object_get(e,
			    "message")), "got \"a?" "?(?" "??z\xe2\x82\xac\"");
	json_decref(l);
	store_event(s, v, "Warning", "ProbeFailed", "got \"%s\"",
	    "a\xff\xc3(\xed\xa0\x80z\xe2\x82\xac");
	l = store_list(s, "Event", "default");
	assert_int_equal(json_array_size(l), 3);	/* counted, not new */
	json_decref(l);
	/* Cluster-scoped objects' events go to "default". */
	assert_int_equal(create(s, obj("{s:s, s:s, s:{s:s}}", "apiVersion", "v1",
	    "kind", "Node", "metadata", "name", "edge"), &l), 0);
	store_event(s, l, "Normal", "NodeReady", "Node edge is ready");
	json_decref(l);
	l = store_list(s, "Event", "default");
	assert_int_equal(json_array_size(l), 4);
	json_decref(l);
	json_decref(v);
	store_close(s);
}

static void
test_events_pruned(void **state)
{
	struct store *s = open_ok();
	json_t *v, *l;
	int i;

	(void)state;
	assert_int_equal(create(s, vmi("busy", 1), &v), 0);
	for (i = 0; i < 1010; i++)
		store_event(s, v, "Normal", "Tick", "tick %d", i);
	l = store_list(s, "Event", NULL);
	assert_int_equal(json_array_size(l), 1000);
	json_decref(l);
	/* The oldest went: "tick 0".."tick 9". */
	store_event(s, v, "Normal", "Tick", "tick %d", 5);
	l = store_list(s, "Event", NULL);
	assert_int_equal(json_array_size(l), 1000);
	json_decref(l);
	json_decref(v);
	store_close(s);
	s = open_ok();
	l = store_list(s, "Event", NULL);
	assert_int_equal(json_array_size(l), 1000);
	json_decref(l);
	store_close(s);
}

/* ---- crash safety -------------------------------------------------------------------- */

#define CRASH_OBJS 12
#define CRASH_ROUNDS 30

struct rec {
	char type;		/* 'I': about to write; 'A': acknowledged */
	char op;		/* 'c' create, 'u' update, 'd' delete */
	short idx;
	int n;			/* spec.n written */
	unsigned long long rv;	/* the acknowledged resourceVersion */
};

struct want {
	int present;
	int n;
	unsigned long long rv;
};

static void
crash_name(int idx, char *buf, size_t len)
{
	snprintf(buf, len, "obj-%d", idx);
}

static json_t *
crash_obj(int idx, int n)
{
	static char pad[6000];
	char name[16];

	if (!pad[0])
		memset(pad, 'p', sizeof(pad) - 1);
	crash_name(idx, name, sizeof(name));
	return obj("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:s}}", "apiVersion",
	    "v1", "kind", "Pod", "metadata", "name", name, "namespace", "crash",
	    "spec", "n", n, "pad", pad);
}

static void
report(int fd, const struct rec *r)
{
	if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(3);
}

/* dep-IDX, owned by obj-IDX: deleting the owner cascades to it. */
static void
crash_dependent(struct store *s, int idx)
{
	json_t *owner, *o;
	char name[16];

	crash_name(idx, name, sizeof(name));
	owner = store_get(s, "Pod", "crash", name);
	if (owner == NULL)
		_exit(5);
	snprintf(name, sizeof(name), "dep-%d", idx);
	o = obj("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s}]}}", "apiVersion",
	    "v1", "kind", "Pod", "metadata", "name", name, "namespace", "crash",
	    "ownerReferences", "kind", "Pod", "name", md_str(owner, "name"),
	    "uid", md_str(owner, "uid"));
	if (create(s, o, NULL) < 0)
		_exit(6);
	json_decref(owner);
}

/*
 * The child: writes for ever, reporting intents and acknowledgements; a
 * third of the time 1-3 writes in a batch, acknowledged after its end;
 * checkpoints as droverd runs them (a small journal: rotations and
 * partial checkpoints all the time).
 */
static void __attribute__((noreturn))
crash_child(int fd, unsigned seed)
{
	struct store *s;
	struct rec r, pend[3];
	char name[16];
	json_t *out, *cur;
	int n = 1, nb, b, np, rc;

	log_set_level(LOG_LEVEL_ERROR);
	if (store_open(dir, &s, err, sizeof(err)) < 0)
		_exit(2);
	s->j.rotate = 64 << 10;
	srand(seed);
	for (;;) {
		nb = rand() % 3 == 0 ? 1 + rand() % 3 : 0;
		np = 0;
		if (nb)
			store_batch_begin(s);
		for (b = 0; b < (nb ? nb : 1); b++, n++) {
			memset(&r, 0, sizeof(r));
			r.idx = (short)(rand() % CRASH_OBJS);
			r.n = n;
			crash_name(r.idx, name, sizeof(name));
			cur = store_get(s, "Pod", "crash", name);
			r.op = cur == NULL ? 'c' : rand() % 4 == 0 ? 'd' : 'u';
			json_decref(cur);
			r.type = 'I';
			report(fd, &r);
			out = NULL;
			if (r.op == 'c')
				rc = create(s, crash_obj(r.idx, n), &out);
			else if (r.op == 'u')
				rc = update(s, crash_obj(r.idx, n), &out);
			else
				rc = store_delete(s, "Pod", "crash", name, err,
				    sizeof(err));
			if (rc < 0)
				_exit(4);
			r.rv = out ? rv_of(out) : store_rv(s);
			if (out && n % 7 == 0)
				store_event(s, out, "Normal", "Tick", "n %d", n);
			json_decref(out);
			r.type = 'A';
			if (nb)
				pend[np++] = r;
			else
				report(fd, &r);
			if (r.op == 'c')
				crash_dependent(s, r.idx);
		}
		if (nb) {
			if (store_batch_end(s, err, sizeof(err)) < 0)
				_exit(7);
			for (b = 0; b < np; b++)
				report(fd, &pend[b]);
		}
		store_maintain(s);
	}
}

/* No dependent outlives its owner: a cascade cut by the kill is finished
 * by store_open(). */
static void
crash_no_orphans(struct store *s)
{
	json_t *l = store_list(s, "Pod", "crash"), *o, *owner;
	const char *ouid;
	char name[16];
	size_t i;

	json_array_foreach(l, i, o) {
		if (strncmp(md_str(o, "name"), "dep-", 4))
			continue;
		ouid = json_string_value(json_object_get(json_array_get(
		    json_object_get(json_object_get(o, "metadata"),
		    "ownerReferences"), 0), "uid"));
		snprintf(name, sizeof(name), "obj-%s", md_str(o, "name") + 4);
		owner = store_get(s, "Pod", "crash", name);
		if (owner == NULL || strcmp(md_str(owner, "uid"), ouid))
			print_error("%s outlived its owner %s\n",
			    md_str(o, "name"), name);
		assert_non_null(owner);
		assert_string_equal(md_str(owner, "uid"), ouid);
		json_decref(owner);
	}
	json_decref(l);
}

/* Does an in-flight write on object i explain what was found? */
static int
crash_landed(const struct rec *fl, int nfl, int i, const json_t *o, int n,
    unsigned long long acked_rv)
{
	for (int j = 0; j < nfl; j++)
		if (fl[j].idx == i && (fl[j].op == 'd' ? o == NULL : o &&
		    n == fl[j].n && rv_of(o) > acked_rv))
			return 1;
	return 0;
}

/* Does the reopened store hold what was acknowledged? */
static void
crash_check(struct store *s, struct want *w, const struct rec *fl, int nfl)
{
	char name[16];
	json_t *o;
	int i, n;

	for (i = 0; i < CRASH_OBJS; i++) {
		crash_name(i, name, sizeof(name));
		o = store_get(s, "Pod", "crash", name);
		n = o ? (int)json_integer_value(json_object_get(
		    json_object_get(o, "spec"), "n")) : 0;
		if (crash_landed(fl, nfl, i, o, n, w[i].rv)) {
			/* A write in flight landed: fine, not required. */
		} else if (w[i].present) {
			if (o == NULL || n != w[i].n || rv_of(o) != w[i].rv)
				print_error("%s: acknowledged n=%d rv=%llu, found "
				    "%s n=%d\n", name, w[i].n, w[i].rv, o ?
				    "one with" : "none", n);
			assert_non_null(o);
			assert_int_equal(n, w[i].n);
			assert_int_equal(rv_of(o), w[i].rv);
		} else {
			if (o)
				print_error("%s: acknowledged deleted, found n=%d\n",
				    name, n);
			assert_null(o);
		}
		w[i].present = o != NULL;
		w[i].n = n;
		w[i].rv = o ? rv_of(o) : 0;
		json_decref(o);
	}
	crash_no_orphans(s);
}

static void
test_crash(void **state)
{
	struct want w[CRASH_OBJS];
	struct rec r, fl[8];
	unsigned long long maxrv = 0;
	struct store *s;
	int p[2], round, st, acks = 0, nfl, rounds = CRASH_ROUNDS, olds = 0;
	pid_t pid;

	(void)state;
	memset(w, 0, sizeof(w));
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	if (getenv("STORE_CRASH_ROUNDS"))	/* longer runs by hand */
		rounds = atoi(getenv("STORE_CRASH_ROUNDS"));
	for (round = 0; round < rounds; round++) {
		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(p[1], (unsigned)rand());
		}
		close(p[1]);
		usleep((useconds_t)(20000 + rand() % 180000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		/* Intents queue up (a batch: up to 3); acks come in order. */
		nfl = 0;
		while (read(p[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
			if (r.type == 'I') {
				assert_true(nfl < 8);
				fl[nfl++] = r;
				continue;
			}
			assert_true(nfl > 0 && fl[0].n == r.n);
			memmove(fl, fl + 1, (size_t)--nfl * sizeof(fl[0]));
			acks++;
			w[r.idx].present = r.op != 'd';
			w[r.idx].n = r.op != 'd' ? r.n : 0;
			w[r.idx].rv = r.op != 'd' ? r.rv : 0;
			if (r.rv > maxrv)
				maxrv = r.rv;
		}
		close(p[0]);
		olds += exists("journal.old");	/* killed mid-checkpoint */
		s = open_ok();
		assert_true(store_rv(s) >= maxrv);
		crash_check(s, w, fl, nfl);
		store_close(s);
	}
	print_message("# %d rounds (%d killed during a checkpoint), %d "
	    "acknowledged writes checked\n", rounds, olds, acks);
	assert_true(acks > rounds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_finalizers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rv_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_pruned, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};

	log_init("unit_agent_store", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
