/*
 * kapi_crud.c: reads (kapi_int.h): GET of an object, its status and its
 * scale; lists as KindList objects or Tables; the request filter
 * (namespace, labelSelector, fieldSelector); Tables with the kind's
 * printer columns (columns.h) and Scale objects.
 *
 * Lists always show the store as it is now: resourceVersion and
 * resourceVersionMatch on a list are accepted and not needed (there is
 * no cache older than the store); limit is ignored and metadata.continue
 * never returned (kubectl-wire.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "columns.h"
#include "kapi_int.h"
#include "manifest.h"
#include "objops.h"
#include "store.h"
#include "validate.h"

/* ---- filters --------------------------------------------------------------- */

int
kapi_filter_init(struct kapi_ctx *x, struct kapi_filter *f)
{
	char err[512];

	memset(f, 0, sizeof(*f));
	f->ns = x->p.has_ns ? x->p.ns : NULL;
	if (x->q.label_selector && *x->q.label_selector) {
		f->labels = kapi_label_selector(x->q.label_selector, err,
		    sizeof(err));
		if (!f->labels) {
			kapi_fail(x, 400, "BadRequest", "%s", err);
			return -1;
		}
	}
	if (kapi_fsel_parse(x->q.field_selector, x->p.res->kind, &f->fields,
	    err, sizeof(err)) < 0) {
		json_decref(f->labels);
		f->labels = NULL;
		kapi_fail(x, 400, "BadRequest", "%s", err);
		return -1;
	}
	return 0;
}

void
kapi_filter_free(struct kapi_filter *f)
{
	json_decref(f->labels);
	kapi_fsel_free(&f->fields);
	memset(f, 0, sizeof(*f));
}

int
kapi_filter_match(const struct kapi_filter *f, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const json_t *labels = json_object_get(md, "labels");
	json_t *empty = NULL;
	char err[256];
	int rc;

	if (f->ns && strcmp(f->ns, json_string_value(json_object_get(md,
	    "namespace")) ? json_string_value(json_object_get(md,
	    "namespace")) : ""))
		return 0;
	if (!kapi_fsel_match(&f->fields, obj))
		return 0;
	if (!f->labels)
		return 1;
	if (!json_is_object(labels))
		labels = empty = json_object();
	rc = validate_selector_matches(f->labels, labels, err,
	    sizeof(err)) == 1;
	json_decref(empty);
	return rc;
}

/* ---- Tables ------------------------------------------------------------------- */

static json_t *
kapi_columns_json(const char *kind)
{
	const struct columns_def *d;
	json_t *a = json_array();
	size_t n;

	d = columns_of(kind, &n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:i}",
		    "name", d[i].name, "type", d[i].type, "format", d[i].format,
		    "description", d[i].description, "priority",
		    d[i].priority));
	return a;
}

static json_t *
kapi_row(const struct kapi_res *r, const json_t *stored, const char *include,
    time_t now)
{
	/* the HPA's columns read the autoscaling/v2 form */
	json_t *v2 = objops_version_form(stored, !strcmp(r->kind,
	    "HorizontalPodAutoscaler") ? "autoscaling/v2" : NULL);
	json_t *row = json_pack("{s:o}", "cells", columns_cells(r->kind, v2,
	    now));

	json_decref(v2);
	if (include && !strcmp(include, "None"))
		return row;
	if (include && !strcmp(include, "Object"))
		json_object_set_new(row, "object", kapi_to_api(r, stored));
	else
		json_object_set_new(row, "object", json_pack("{s:s, s:s, s:O}",
		    "kind", "PartialObjectMetadata", "apiVersion",
		    "meta.k8s.io/v1", "metadata", json_object_get(stored,
		    "metadata")));
	return row;
}

json_t *
kapi_table(const struct kapi_res *r, const json_t *objs, const char *rv,
    int headers, const char *include)
{
	json_t *rows = json_array(), *t, *o;
	time_t now = time(NULL);
	size_t i;

	json_array_foreach((json_t *)objs, i, o)
		json_array_append_new(rows, kapi_row(r, o, include, now));
	t = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", "Table", "apiVersion",
	    "meta.k8s.io/v1", "metadata", "resourceVersion", rv, "rows", rows);
	if (headers)
		json_object_set_new(t, "columnDefinitions",
		    kapi_columns_json(r->kind));
	return t;
}

/* ---- Scale ---------------------------------------------------------------------- */

json_t *
kapi_scale_of(const json_t *vmirs)
{
	const json_t *md = json_object_get(vmirs, "metadata");
	const char *sel = manifest_str(vmirs, "status.labelSelector");
	char *made = NULL;
	json_t *st, *meta = json_object();
	static const char *const keys[] = { "name", "namespace", "uid",
	    "resourceVersion", "creationTimestamp" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(md, keys[i]))
			json_object_set(meta, keys[i], json_object_get(md,
			    keys[i]));
	if (!sel)
		sel = made = validate_selector_string(json_object_get(
		    json_object_get(vmirs, "spec"), "selector"));
	st = json_pack("{s:I}", "replicas", (json_int_t)json_integer_value(
	    json_object_get(json_object_get(vmirs, "status"), "replicas")));
	if (sel && *sel)
		json_object_set_new(st, "selector", json_string(sel));
	free(made);
	return json_pack("{s:s, s:s, s:o, s:{s:I}, s:o}", "kind", "Scale",
	    "apiVersion", "autoscaling/v1", "metadata", meta, "spec",
	    "replicas", (json_int_t)manifest_replicas(vmirs), "status", st);
}

/* ---- GET ---------------------------------------------------------------------------- */

static const char *
kapi_ns_of(const struct kapi_ctx *x)
{
	return x->p.res->namespaced ? x->p.ns : "";
}

/*
 * The fast path (what kubectl -o json and client-go send): JSON, the
 * object as stored (every kind but the HPA, whose versions differ), no
 * subresource, no Table. The answer is the stored object's compact JSON,
 * kept by the store per stored state (store_view): the same bytes
 * kapi_reply() would make, without a tree copy or a dump.
 */
static int
kapi_fast(const struct kapi_ctx *x)
{
	return !x->table && !x->yaml && !*x->p.sub &&
	    strcmp(x->p.res->kind, "HorizontalPodAutoscaler") != 0;
}

void
kapi_get(struct kapi_ctx *x)
{
	const struct kapi_res *r = x->p.res;
	struct store_view v;
	json_t *obj;
	char rv[32];
	int rc;

	if (kapi_fast(x)) {
		rc = store_get_view(x->k->store, r->kind, kapi_ns_of(x),
		    x->p.name, &v);
		if (rc == -ENOENT)
			kapi_not_found(x, x->p.name);
		else if (rc < 0)
			kapi_reply(x, 500, NULL);
		else
			kapi_reply_text(x, 200, v.text, v.len);
		store_view_done(&v);
		return;
	}
	obj = store_get(x->k->store, r->kind, kapi_ns_of(x), x->p.name);
	if (!obj) {
		kapi_not_found(x, x->p.name);
		return;
	}
	if (!strcmp(x->p.sub, "scale")) {
		kapi_reply(x, 200, kapi_scale_of(obj));
	} else if (x->table && !*x->p.sub) {
		json_t *one = json_pack("[O]", obj);

		snprintf(rv, sizeof(rv), "%s", manifest_str(obj,
		    "metadata.resourceVersion") ? manifest_str(obj,
		    "metadata.resourceVersion") : "");
		kapi_reply(x, 200, kapi_table(r, one, rv, 1,
		    x->q.include_object));
		json_decref(one);
	} else
		kapi_reply(x, 200, kapi_to_api(r, obj));
	json_decref(obj);
}

/* ---- LIST ---------------------------------------------------------------------------- */

/* The objects of the request (stored form), filtered; NULL after a 400. */
static json_t *
kapi_select(struct kapi_ctx *x)
{
	struct kapi_filter f;
	const char *name;
	json_t *all, *out, *o;
	size_t i;

	if (kapi_filter_init(x, &f) < 0)
		return NULL;
	name = kapi_fsel_name(&f.fields);
	if (name && x->p.has_ns) {
		/* one object by name: no need to list them all */
		o = store_get(x->k->store, x->p.res->kind, x->p.ns, name);
		all = o ? json_pack("[o]", o) : json_array();
	} else
		all = store_list(x->k->store, x->p.res->kind, x->p.has_ns ?
		    x->p.ns : NULL);
	out = json_array();
	json_array_foreach(all, i, o)
		if (kapi_filter_match(&f, o))
			json_array_append(out, o);
	json_decref(all);
	kapi_filter_free(&f);
	return out;
}

/* ---- LIST, the fast path (kapi_fast) ----------------------------------------- */

/* The matching items' texts (the store's, valid until its next write). */
struct kapi_texts {
	const struct kapi_filter *f;
	int filtered;		/* f needs the tree (labels, fields) */
	struct { const char *p; size_t len; } *v;
	size_t n, cap, bytes;
};

static int
kapi_texts_add(void *arg, const struct store_view *sv)
{
	struct kapi_texts *t = arg;
	void *nv;

	if (t->filtered && !kapi_filter_match(t->f, sv->obj))
		return 0;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		nv = realloc(t->v, t->cap * sizeof(t->v[0]));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
	}
	t->v[t->n].p = sv->text;
	t->v[t->n].len = sv->len;
	t->n++;
	t->bytes += sv->len + 1;
	return 0;
}

/*
 * {"kind":"KList","apiVersion":AV,"metadata":{"resourceVersion":RV},
 * "items":[...]} with the items' stored texts: byte for byte what
 * kapi_reply() makes of the tree kapi_list_tree() builds (kind, version
 * and resourceVersion need no escaping).
 */
static void
kapi_list_fast(struct kapi_ctx *x)
{
	const struct kapi_res *r = x->p.res;
	struct kapi_filter f;
	struct kapi_texts t;
	struct store_view one;
	const char *name;
	char head[256], av[96];
	struct kapi_iov *v = NULL;
	size_t nv = 0;
	int n, rc;

	if (kapi_filter_init(x, &f) < 0)
		return;
	memset(&t, 0, sizeof(t));
	memset(&one, 0, sizeof(one));
	t.f = &f;
	t.filtered = f.labels || f.fields.n || (f.ns && !r->namespaced);
	name = kapi_fsel_name(&f.fields);
	if (name && x->p.has_ns) {
		/* one object by name: no need to look at them all */
		rc = store_get_view(x->k->store, r->kind, x->p.ns, name, &one);
		if (rc == 0)
			rc = kapi_texts_add(&t, &one);
		else if (rc == -ENOENT)
			rc = 0;
	} else
		rc = store_each(x->k->store, r->kind, x->p.has_ns ? x->p.ns :
		    NULL, t.filtered, kapi_texts_add, &t);
	n = snprintf(head, sizeof(head), "{\"kind\":\"%sList\",\"apiVersion\":"
	    "\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"},\"items\":[",
	    r->kind, kapi_res_api_version(r, av, sizeof(av)),
	    (unsigned long long)store_rv(x->k->store));
	/* the pieces, copied once by the transport: head, items with ','
	 * between them, "]}" */
	if (rc == 0 && n > 0 && (size_t)n < sizeof(head))
		v = malloc((2 * t.n + 2) * sizeof(*v));
	if (!v) {
		kapi_reply(x, 500, NULL);
		goto cleanup;
	}
	v[nv++] = (struct kapi_iov){ head, (size_t)n };
	for (size_t i = 0; i < t.n; i++) {
		if (i)
			v[nv++] = (struct kapi_iov){ ",", 1 };
		v[nv++] = (struct kapi_iov){ t.v[i].p, t.v[i].len };
	}
	v[nv++] = (struct kapi_iov){ "]}", 2 };
	kapi_reply_textv(x, 200, v, nv);
cleanup:
	free(v);
	free(t.v);
	store_view_done(&one);
	kapi_filter_free(&f);
}

void
kapi_list(struct kapi_ctx *x)
{
	const struct kapi_res *r = x->p.res;
	json_t *items, *out, *o, *rvj;
	char kind[128], av[96];
	size_t i;

	if (kapi_fast(x)) {
		kapi_list_fast(x);
		return;
	}
	items = kapi_select(x);
	if (!items)
		return;
	rvj = kapi_rv_json(x->k);
	if (x->table) {
		kapi_reply(x, 200, kapi_table(r, items, json_string_value(rvj),
		    1, x->q.include_object));
		json_decref(items);
		json_decref(rvj);
		return;
	}
	out = json_array();
	json_array_foreach(items, i, o)
		json_array_append_new(out, kapi_to_api(r, o));
	json_decref(items);
	snprintf(kind, sizeof(kind), "%sList", r->kind);
	kapi_reply(x, 200, json_pack("{s:s, s:s, s:{s:o}, s:o}", "kind", kind,
	    "apiVersion", kapi_res_api_version(r, av, sizeof(av)), "metadata",
	    "resourceVersion", rvj, "items", out));
}
