/* apply.c: kubectl apply on the store (apply.h). */
#include "apply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferr.h"
#include "kinds.h"
#include "log.h"
#include "manifest.h"
#include "objops.h"
#include "store.h"

const char *
apply_result_name(enum apply_result r)
{
	switch (r) {
	case APPLY_CREATED:
		return "created";
	case APPLY_CONFIGURED:
		return "configured";
	default:
		return "unchanged";
	}
}

json_t *
apply_store_status(int err, const struct kinds_info *k, const char *name,
    const char *msg)
{
	char res[128], buf[1024];

	if (!name)
		name = "";
	switch (err) {
	case -ENOENT:
		if (k)
			kinds_qualified_resource(k, res, sizeof(res));
		else
			snprintf(res, sizeof(res), "objects");
		snprintf(buf, sizeof(buf), "%s \"%s\" not found", res, name);
		return ferr_status(404, "NotFound", buf);
	case -EEXIST:
		if (k)
			kinds_qualified_resource(k, res, sizeof(res));
		else
			snprintf(res, sizeof(res), "objects");
		snprintf(buf, sizeof(buf), "%s \"%s\" already exists", res,
		    name);
		return ferr_status(409, "AlreadyExists", buf);
	case -ESTALE:
		if (k)
			kinds_qualified_resource(k, res, sizeof(res));
		else
			snprintf(res, sizeof(res), "objects");
		snprintf(buf, sizeof(buf), "Operation cannot be fulfilled on "
		    "%s \"%s\": the object has been modified; please apply "
		    "your changes to the latest version and try again", res,
		    name);
		return ferr_status(409, "Conflict", buf);
	case -EINVAL:
		return ferr_status(400, "BadRequest",
		    msg && *msg ? msg : "bad object");
	default:
		snprintf(buf, sizeof(buf), "storing the object failed: %s",
		    msg && *msg ? msg : strerror(-err));
		return ferr_status(500, "InternalError", buf);
	}
}

void
apply_merge_patch(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *pv;

	json_object_foreach((json_t *)patch, key, pv) {
		json_t *tv = json_object_get(target, key);

		if (json_is_null(pv))
			json_object_del(target, key);
		else if (json_is_object(pv) && json_is_object(tv))
			apply_merge_patch(tv, pv);
		else if (json_is_object(pv)) {
			json_t *n = json_object();

			apply_merge_patch(n, pv);
			json_object_set_new(target, key, n);
		} else
			json_object_set_new(target, key, json_deep_copy(pv));
	}
}

json_t *
apply_three_way(const json_t *last, const json_t *mod, const json_t *live)
{
	json_t *patch = json_object(), *mv, *lv;
	const char *key;

	if (!patch)
		return NULL;
	/* Additions and changes: mod against live. */
	json_object_foreach((json_t *)mod, key, mv) {
		json_t *cv = json_object_get(live, key);

		if (json_is_null(mv))
			continue;
		if (json_is_object(mv) && json_is_object(cv)) {
			json_t *sub = apply_three_way(
			    json_object_get(last, key), mv, cv);

			if (sub && json_object_size(sub) > 0)
				json_object_set_new(patch, key, sub);
			else
				json_decref(sub);
		} else if (!cv || !json_equal(mv, cv))
			json_object_set_new(patch, key, json_deep_copy(mv));
	}
	/* Deletions: keys last applied, gone from mod, still live. */
	json_object_foreach((json_t *)last, key, lv) {
		(void)lv;
		if (!json_object_get(mod, key) && json_object_get(live, key))
			json_object_set_new(patch, key, json_null());
	}
	return patch;
}

int
apply_ensure_namespace(struct store *s, const char *ns, json_t **status)
{
	char err[256] = "";
	json_t *obj, *cur;
	int rc;

	cur = store_get(s, "Namespace", "", ns);
	if (cur) {
		json_decref(cur);
		return 0;
	}
	obj = json_pack("{s:s, s:s, s:{s:s}, s:{}, s:{s:s}}", "apiVersion",
	    "v1", "kind", "Namespace", "metadata", "name", ns, "spec",
	    "status", "phase", "Active");
	if (!obj) {
		*status = ferr_status(500, "InternalError", "out of memory");
		return -1;
	}
	rc = store_create(s, obj, NULL, err, sizeof(err));
	json_decref(obj);
	if (rc < 0 && rc != -EEXIST) {
		*status = apply_store_status(rc, kinds_by_kind("Namespace"), ns,
		    err);
		return -1;
	}
	if (rc == 0)
		log_info("namespace %s created", ns);
	return 0;
}

/* Set the last-applied annotation from obj as given. */
static int
apply_annotate(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	char *text, *line;
	int rc;

	if (json_is_object(ann))
		json_object_del(ann, APPLY_LAST_APPLIED);
	text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -1;
	if (asprintf(&line, "%s\n", text) < 0) {
		free(text);
		return -1;
	}
	free(text);
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(meta, "annotations", ann);
	}
	rc = json_object_set_new(ann, APPLY_LAST_APPLIED, json_string(line));
	free(line);
	return rc;
}

/* The last applied configuration of a stored object, or NULL. */
static json_t *
apply_last(const json_t *live)
{
	json_t *ann = json_object_get(json_object_get(live, "metadata"),
	    "annotations");

	ann = json_object_get(ann, APPLY_LAST_APPLIED);
	if (!json_is_string(ann))
		return NULL;
	return json_loads(json_string_value(ann), 0, NULL);
}

static int
apply_update(struct store *s, const json_t *o, const json_t *stored,
    enum apply_result *res, json_t **out, json_t **status)
{
	/* The live object in the manifest's version (an HPA applied as
	 * autoscaling/v1 is stored as v2). */
	json_t *live = objops_version_form(stored, manifest_str(o,
	    "apiVersion"));
	json_t *last = apply_last(live), *patch, *merged = NULL;
	int rc = -1;

	patch = live ? apply_three_way(last, o, live) : NULL;
	json_decref(last);
	if (!patch) {
		*status = ferr_status(500, "InternalError", "out of memory");
		json_decref(live);
		return -1;
	}
	if (json_object_size(patch) == 0) {
		*res = APPLY_UNCHANGED;
		if (out)
			*out = json_incref((json_t *)stored);
		rc = 0;
		goto done;
	}
	merged = json_deep_copy(live);
	apply_merge_patch(merged, patch);
	if (objops_replace(s, merged, OBJOPS_STRICT, out, status) < 0)
		goto done;
	*res = APPLY_CONFIGURED;
	rc = 0;
done:
	json_decref(patch);
	json_decref(merged);
	json_decref(live);
	return rc;
}

int
apply_object(struct store *s, const json_t *obj, const char *ns,
    enum apply_result *res, json_t **out, json_t **status)
{
	json_t *o = NULL, *meta, *live = NULL;
	const char *name;
	int rc = -1;

	*status = NULL;
	if (out)
		*out = NULL;
	if (!json_is_object(obj)) {
		*status = ferr_status(400, "BadRequest",
		    "the object is not a JSON object");
		return -1;
	}
	o = json_deep_copy(obj);
	if (!o)
		goto oom;
	if (manifest_kind(o) == MANIFEST_UNKNOWN) {
		/* The admission's own 400/404 Status. */
		if (manifest_admit(o, MANIFEST_STRICT | MANIFEST_CREATE,
		    status) == 0)
			*status = ferr_status(404, "NotFound",
			    "the server could not find the requested resource");
		goto done;
	}
	meta = json_object_get(o, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(o, "metadata", meta);
	}
	name = manifest_str(o, "metadata.name");
	if (!name || !*name) {
		*status = ferr_status(400, "BadRequest",
		    "resource name may not be empty");
		goto done;
	}
	if (store_kind_namespaced(manifest_kind_name(manifest_kind(o))) == 0) {
		json_object_del(meta, "namespace");
	} else if (!json_is_string(json_object_get(meta, "namespace")) ||
	    !*json_string_value(json_object_get(meta, "namespace")))
		json_object_set_new(meta, "namespace",
		    json_string(ns && *ns ? ns : "default"));
	ns = manifest_str(o, "metadata.namespace");
	if (!ns)
		ns = "";
	if (apply_annotate(o) < 0)
		goto oom;
	live = store_get(s, manifest_kind_name(manifest_kind(o)), ns, name);
	if (!live) {
		rc = objops_create(s, o, OBJOPS_STRICT, out, status);
		if (rc == 0)
			*res = APPLY_CREATED;
	} else
		rc = apply_update(s, o, live, res, out, status);
	goto done;
oom:
	*status = ferr_status(500, "InternalError", "out of memory");
done:
	json_decref(o);
	json_decref(live);
	return rc;
}
