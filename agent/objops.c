/* objops.c: the writes droverd's APIs share (objops.h). */
#include "objops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "defaults.h"
#include "ferr.h"
#include "kinds.h"
#include "log.h"
#include "manifest.h"
#include "store.h"

/* Kinds whose objects may name owners, in the order a namespace's
 * content is deleted. */
static const char *const objops_ns_kinds[] = {
	"VirtualMachineInstanceReplicaSet", "HorizontalPodAutoscaler",
	"VirtualMachineInstance", "Pod", "Event",
};
#define OBJOPS_NKINDS (sizeof(objops_ns_kinds) / sizeof(objops_ns_kinds[0]))

static const char *
objops_str(const json_t *o, const char *path)
{
	const char *s = manifest_str(o, path);

	return s ? s : "";
}

static int
objops_fail(json_t **status, json_t *st)
{
	*status = st ? st : ferr_status(500, "InternalError", "out of memory");
	return -1;
}

static int
objops_is_hpa(const json_t *o)
{
	return !strcmp(objops_str(o, "kind"), "HorizontalPodAutoscaler");
}

json_t *
objops_storage_form(const json_t *obj)
{
	if (objops_is_hpa(obj) &&
	    !strcmp(objops_str(obj, "apiVersion"), "autoscaling/v1"))
		return defaults_hpa_v1_to_v2(obj);
	return json_incref((json_t *)obj);
}

json_t *
objops_version_form(const json_t *stored, const char *api_version)
{
	if (!objops_is_hpa(stored) || !api_version ||
	    !strcmp(objops_str(stored, "apiVersion"), api_version))
		return json_incref((json_t *)stored);
	if (!strcmp(api_version, "autoscaling/v1"))
		return defaults_hpa_v2_to_v1(stored);
	if (!strcmp(api_version, "autoscaling/v2"))
		return defaults_hpa_v1_to_v2(stored);
	return json_incref((json_t *)stored);
}

/* manifest_admit() for a create or an update. */
static int
objops_admit(json_t *o, unsigned flags, int create, json_t **status)
{
	unsigned mf = (flags & OBJOPS_STRICT ? MANIFEST_STRICT : 0) |
	    (create ? MANIFEST_CREATE : 0);

	if (manifest_admit(o, mf, status) < 0)
		return -1;
	if (manifest_kind(o) == MANIFEST_UNKNOWN)	/* not reached */
		return objops_fail(status, ferr_status(404, "NotFound",
		    "the server could not find the requested resource"));
	return 0;
}

static const struct kinds_info *
objops_kind(const json_t *o)
{
	return kinds_by_kind(objops_str(o, "kind"));
}

int
objops_create(struct store *s, const json_t *obj, unsigned flags,
    json_t **out, json_t **status)
{
	const struct kinds_info *k;
	json_t *o = json_deep_copy(obj), *st = NULL;
	char err[512] = "";
	int rc = -1;

	*status = NULL;
	if (out)
		*out = NULL;
	if (!o)
		return objops_fail(status, NULL);
	if (objops_admit(o, flags, 1, status) < 0)
		goto done;
	k = objops_kind(o);
	if (k && k->namespaced && !(flags & OBJOPS_DRY_RUN) &&
	    apply_ensure_namespace(s, objops_str(o, "metadata.namespace"),
	    status) < 0)
		goto done;
	if (!strcmp(objops_str(o, "kind"), "Namespace"))
		json_object_set_new(o, "status", json_pack("{s:s}", "phase",
		    "Active"));
	st = objops_storage_form(o);
	if (!st) {
		objops_fail(status, NULL);
		goto done;
	}
	if (flags & OBJOPS_DRY_RUN) {
		if (out)
			*out = json_incref(st);
		rc = 0;
		goto done;
	}
	rc = store_create(s, st, out, err, sizeof(err));
	if (rc < 0) {
		objops_fail(status, apply_store_status(rc, k, objops_str(o,
		    "metadata.name"), err));
		rc = -1;
	}
done:
	json_decref(st);
	json_decref(o);
	return rc;
}

/* The stored object o names, with its resourceVersion checked. */
static json_t *
objops_current(struct store *s, const json_t *o, json_t **status)
{
	const struct kinds_info *k = objops_kind(o);
	const char *name = objops_str(o, "metadata.name");
	const char *rv = manifest_str(o, "metadata.resourceVersion");
	json_t *cur;

	if (!k) {
		objops_fail(status, ferr_status(404, "NotFound", "the server "
		    "could not find the requested resource"));
		return NULL;
	}
	cur = store_get(s, k->kind, k->namespaced ? objops_str(o,
	    "metadata.namespace") : "", name);
	if (!cur) {
		objops_fail(status, apply_store_status(-ENOENT, k, name, NULL));
		return NULL;
	}
	if (rv && *rv && strcmp(rv, objops_str(cur,
	    "metadata.resourceVersion"))) {
		json_decref(cur);
		objops_fail(status, apply_store_status(-ESTALE, k, name, NULL));
		return NULL;
	}
	return cur;
}

int
objops_replace(struct store *s, const json_t *obj, unsigned flags,
    json_t **out, json_t **status)
{
	json_t *o = json_deep_copy(obj), *st = NULL, *cur = NULL;
	char err[512] = "";
	int rc = -1;

	*status = NULL;
	if (out)
		*out = NULL;
	if (!o)
		return objops_fail(status, NULL);
	if (objops_admit(o, flags, 0, status) < 0)
		goto done;
	st = objops_storage_form(o);
	if (!st) {
		objops_fail(status, NULL);
		goto done;
	}
	if (flags & OBJOPS_DRY_RUN) {
		cur = objops_current(s, st, status);
		if (!cur)
			goto done;
		if (out)
			*out = json_incref(st);
		rc = 0;
		goto done;
	}
	rc = store_update(s, st, out, err, sizeof(err));
	if (rc < 0) {
		objops_fail(status, apply_store_status(rc, objops_kind(st),
		    objops_str(st, "metadata.name"), err));
		rc = -1;
	}
done:
	json_decref(cur);
	json_decref(st);
	json_decref(o);
	return rc;
}

int
objops_replace_status(struct store *s, const json_t *obj, unsigned flags,
    json_t **out, json_t **status)
{
	json_t *st = objops_storage_form(obj), *cur;
	const struct kinds_info *k;
	char err[512] = "";
	int rc;

	*status = NULL;
	if (out)
		*out = NULL;
	if (!st)
		return objops_fail(status, NULL);
	cur = objops_current(s, st, status);
	if (!cur) {
		json_decref(st);
		return -1;
	}
	k = objops_kind(st);
	if (flags & OBJOPS_DRY_RUN) {
		json_object_set(cur, "status", json_object_get(st, "status"));
		if (out)
			*out = json_incref(cur);
		json_decref(cur);
		json_decref(st);
		return 0;
	}
	json_decref(cur);
	rc = store_update_status(s, k->kind, objops_str(st,
	    "metadata.namespace"), objops_str(st, "metadata.name"),
	    json_object_get(st, "status"), out, err, sizeof(err));
	if (rc < 0)
		objops_fail(status, apply_store_status(rc, k, objops_str(st,
		    "metadata.name"), err));
	json_decref(st);
	return rc < 0 ? -1 : 0;
}

/* ---- delete --------------------------------------------------------------- */

/*
 * Deleting a Namespace deletes what it holds first (the namespace
 * controller's work, done at once here; objects with finalizers finish
 * on their own).
 */
static int
objops_delete_ns_content(struct store *s, const char *ns, json_t **status)
{
	char msg[512];

	if (!strcmp(ns, "default") || !strcmp(ns, "kube-system") ||
	    !strcmp(ns, "kube-public")) {
		snprintf(msg, sizeof(msg), "namespaces \"%s\" is forbidden: this "
		    "namespace may not be deleted", ns);
		return objops_fail(status, ferr_status(403, "Forbidden", msg));
	}
	for (size_t k = 0; k < OBJOPS_NKINDS; k++) {
		json_t *list = store_list(s, objops_ns_kinds[k], ns), *o;
		size_t i;

		json_array_foreach(list, i, o) {
			int rc = store_delete(s, objops_ns_kinds[k], ns,
			    objops_str(o, "metadata.name"), msg, sizeof(msg));

			if (rc < 0 && rc != -ENOENT)
				log_warnx("namespace %s: deleting %s %s: %s", ns,
				    objops_ns_kinds[k], objops_str(o,
				    "metadata.name"), msg);
		}
		json_decref(list);
	}
	return 0;
}

/* Orphan: drop the ownerReferences naming uid from every object. */
static void
objops_orphan(struct store *s, const char *uid)
{
	char err[256];

	for (size_t k = 0; k < OBJOPS_NKINDS; k++) {
		json_t *list = store_list(s, objops_ns_kinds[k], NULL), *o, *r;
		size_t i, j;

		json_array_foreach(list, i, o) {
			json_t *refs = json_object_get(json_object_get(o,
			    "metadata"), "ownerReferences"), *c, *keep;
			int hit = 0;

			json_array_foreach(refs, j, r)
				hit |= !strcmp(objops_str(r, "uid"), uid);
			if (!hit)
				continue;
			c = json_deep_copy(o);
			keep = json_array();
			json_array_foreach(refs, j, r)
				if (strcmp(objops_str(r, "uid"), uid))
					json_array_append(keep, r);
			if (json_array_size(keep))
				json_object_set(json_object_get(c, "metadata"),
				    "ownerReferences", keep);
			else
				json_object_del(json_object_get(c, "metadata"),
				    "ownerReferences");
			json_decref(keep);
			if (store_update(s, c, NULL, err, sizeof(err)) < 0)
				log_warnx("orphaning %s %s: %s",
				    objops_ns_kinds[k], objops_str(o,
				    "metadata.name"), err);
			json_decref(c);
		}
		json_decref(list);
	}
}

/* DeleteOptions' preconditions and policy; 0, 1 (orphan) or -1. */
static int
objops_delete_opts(const struct kinds_info *k, const json_t *cur,
    const json_t *opts, json_t **status)
{
	const json_t *pre = json_object_get(opts, "preconditions");
	const char *uid = manifest_str(pre, "uid");
	const char *rv = manifest_str(pre, "resourceVersion");
	const char *pol = manifest_str(opts, "propagationPolicy");
	const char *name = objops_str(cur, "metadata.name");
	char res[128], msg[768];

	kinds_qualified_resource(k, res, sizeof(res));
	if (uid && *uid && strcmp(uid, objops_str(cur, "metadata.uid"))) {
		snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s "
		    "\"%s\": Precondition failed: UID in precondition: %s, UID "
		    "in object meta: %s", res, name, uid, objops_str(cur,
		    "metadata.uid"));
		return objops_fail(status, ferr_status(409, "Conflict", msg));
	}
	if (rv && *rv && strcmp(rv, objops_str(cur,
	    "metadata.resourceVersion"))) {
		snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s "
		    "\"%s\": Precondition failed: ResourceVersion in "
		    "precondition: %s, ResourceVersion in meta: %s", res, name,
		    rv, objops_str(cur, "metadata.resourceVersion"));
		return objops_fail(status, ferr_status(409, "Conflict", msg));
	}
	if (json_is_true(json_object_get(opts, "orphanDependents")))
		return 1;
	if (!pol || !*pol || !strcmp(pol, "Background") ||
	    !strcmp(pol, "Foreground"))
		return 0;
	if (!strcmp(pol, "Orphan"))
		return 1;
	snprintf(msg, sizeof(msg), "DeleteOptions.meta.k8s.io \"\" is invalid: "
	    "propagationPolicy: Unsupported value: \"%.100s\": supported "
	    "values: \"Foreground\", \"Background\", \"Orphan\"", pol);
	return objops_fail(status, ferr_status(422, "Invalid", msg));
}

int
objops_delete(struct store *s, const char *kind, const char *ns,
    const char *name, const json_t *opts, unsigned flags, json_t **out,
    json_t **status)
{
	const struct kinds_info *k = kinds_by_kind(kind);
	json_t *cur, *after;
	char err[512] = "";
	int rc, orphan;

	*status = NULL;
	if (out)
		*out = NULL;
	if (!k)
		return objops_fail(status, ferr_status(404, "NotFound",
		    "the server could not find the requested resource"));
	ns = k->namespaced ? ns : "";
	cur = store_get(s, k->kind, ns, name);
	if (!cur)
		return objops_fail(status, apply_store_status(-ENOENT, k, name,
		    NULL));
	orphan = objops_delete_opts(k, cur, opts, status);
	if (orphan < 0 || (flags & OBJOPS_DRY_RUN))
		goto done;
	if (!strcmp(k->kind, "Namespace") &&
	    objops_delete_ns_content(s, name, status) < 0) {
		orphan = -1;
		goto done;
	}
	if (orphan)
		objops_orphan(s, objops_str(cur, "metadata.uid"));
	rc = store_delete(s, k->kind, ns, name, err, sizeof(err));
	if (rc < 0) {
		objops_fail(status, apply_store_status(rc, k, name, err));
		orphan = -1;
		goto done;
	}
	after = store_get(s, k->kind, ns, name);
	if (after) {
		json_decref(cur);
		cur = after;
	}
	log_info("%s %s/%s deleted%s", k->kind, ns, name, after ?
	    " (finalizers pending)" : "");
done:
	if (orphan >= 0 && out)
		*out = json_incref(cur);
	json_decref(cur);
	return orphan < 0 ? -1 : 0;
}

/* ---- scale ------------------------------------------------------------------- */

int
objops_scale(struct store *s, const char *kind, const char *ns,
    const char *name, json_int_t replicas, const char *rv, unsigned flags,
    json_t **out, json_t **status)
{
	const struct kinds_info *k = kinds_by_kind(kind);
	json_t *obj, *spec, *c;
	char msg[256];
	int rc;

	*status = NULL;
	if (out)
		*out = NULL;
	if (!k || strcmp(k->kind, "VirtualMachineInstanceReplicaSet")) {
		snprintf(msg, sizeof(msg), "the server could not find the "
		    "requested resource (%s has no scale subresource)",
		    k ? k->resource : "it");
		return objops_fail(status, ferr_status(404, "NotFound", msg));
	}
	obj = store_get(s, k->kind, ns, name);
	if (!obj)
		return objops_fail(status, apply_store_status(-ENOENT, k, name,
		    NULL));
	if (rv && *rv && strcmp(rv, objops_str(obj,
	    "metadata.resourceVersion"))) {
		json_decref(obj);
		return objops_fail(status, apply_store_status(-ESTALE, k, name,
		    NULL));
	}
	spec = json_object_get(obj, "spec");
	if (json_is_integer(json_object_get(spec, "replicas")) &&
	    json_integer_value(json_object_get(spec, "replicas")) == replicas) {
		if (out)
			*out = obj;
		else
			json_decref(obj);
		return 0;
	}
	c = json_deep_copy(obj);
	json_decref(obj);
	if (!c)
		return objops_fail(status, NULL);
	spec = json_object_get(c, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(c, "spec", spec);
	}
	json_object_set_new(spec, "replicas", json_integer(replicas));
	rc = objops_replace(s, c, OBJOPS_STRICT | (flags & OBJOPS_DRY_RUN), out,
	    status);
	json_decref(c);
	if (rc == 0)
		log_info("%s %s/%s scaled to %lld", k->kind, ns, name,
		    (long long)replicas);
	return rc;
}
