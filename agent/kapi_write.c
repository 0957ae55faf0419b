/*
 * kapi_write.c: writes (kapi_int.h): POST (create), PUT (replace, the
 * status and scale subresources), PATCH (merge, strategic merge, JSON
 * patch; of the object, its status or its scale) and DELETE, each through
 * objops.h (admission, the stored version, the store's preconditions).
 *
 * Bodies are JSON (Content-Type application/json, or none) or YAML
 * (application/yaml); anything else is 415. The object's apiVersion and
 * kind default to the endpoint's and must match it; its namespace and
 * (PUT) name default to the URL's and must match them (400 otherwise, in
 * the API server's words). fieldValidation=Strict refuses unknown fields
 * (400); Ignore and Warn (the default) prune them. dryRun=All runs
 * everything but the store write. A PUT of a kubevirt.io object must
 * carry metadata.resourceVersion (422, as for any custom resource); a
 * different one than stored is 409 Conflict, for PUT and PATCH alike.
 * Server-side apply (application/apply-patch+yaml) is not implemented:
 * 415, which kubectl reports as such.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferr.h"
#include "kapi_int.h"
#include "log.h"
#include "manifest.h"
#include "objops.h"
#include "store.h"

static const char kapi_patch_types[] = "the body of the request was in an "
    "unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, "
    "application/strategic-merge-patch+json";

/* OBJOPS_* flags from the query; -1 after a 400. */
static int
kapi_wflags(struct kapi_ctx *x, unsigned *flags)
{
	const char *fv = x->q.field_validation;

	*flags = x->q.dry_run ? OBJOPS_DRY_RUN : 0;
	if (!fv || !*fv || !strcmp(fv, "Ignore") || !strcmp(fv, "Warn"))
		return 0;
	if (!strcmp(fv, "Strict")) {
		*flags |= OBJOPS_STRICT;
		return 0;
	}
	kapi_fail(x, 400, "BadRequest", "fieldValidation: invalid field "
	    "validation directive: \"%.60s\" (Ignore, Warn or Strict)", fv);
	return -1;
}

static const char *
kapi_mstr(const json_t *o, const char *path)
{
	const char *s = manifest_str(o, path);

	return s ? s : "";
}

/* Default member key of o to want; 0, or -1 when it holds another one. */
static int
kapi_pin(json_t *o, const char *key, const char *want)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v) || (json_is_string(v) &&
	    !*json_string_value(v))) {
		json_object_set_new(o, key, json_string(want));
		return 0;
	}
	return json_is_string(v) && !strcmp(json_string_value(v), want) ? 0 :
	    -1;
}

/*
 * The request's object (new reference) with apiVersion, kind, namespace
 * and name (when name is not NULL) pinned to the endpoint's; NULL after
 * answering.
 */
static json_t *
kapi_pin_object(struct kapi_ctx *x, json_t *o, const char *name)
{
	const struct kapi_res *r = x->p.res;
	char av[96];
	json_t *md;

	kapi_res_api_version(r, av, sizeof(av));
	if (!json_is_object(o)) {
		kapi_fail(x, 400, "BadRequest", "the request body is not a JSON "
		    "object");
		goto fail;
	}
	if (kapi_pin(o, "apiVersion", av) < 0) {
		kapi_fail(x, 400, "BadRequest", "the API version in the data "
		    "(%.100s) does not match the expected API version (%s)",
		    kapi_mstr(o, "apiVersion"), av);
		goto fail;
	}
	if (kapi_pin(o, "kind", r->kind) < 0) {
		kapi_fail(x, 400, "BadRequest", "the kind in the data (%.100s) "
		    "does not match the expected kind (%s)", kapi_mstr(o,
		    "kind"), r->kind);
		goto fail;
	}
	md = json_object_get(o, "metadata");
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(o, "metadata", md);
	}
	snprintf(x->obj_name, sizeof(x->obj_name), "%s", kapi_mstr(md,
	    "name"));
	if (r->namespaced && kapi_pin(md, "namespace", x->p.ns) < 0) {
		kapi_fail(x, 400, "BadRequest", "the namespace of the provided "
		    "object does not match the namespace sent on the request");
		goto fail;
	}
	if (name && kapi_pin(md, "name", name) < 0) {
		kapi_fail(x, 400, "BadRequest", "the name of the object (%.253s) "
		    "does not match the name on the URL (%s)", kapi_mstr(md,
		    "name"), name);
		goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The body as an object (JSON or YAML by Content-Type); NULL: answered. */
static json_t *
kapi_body(struct kapi_ctx *x)
{
	const char *ct = x->r->content_type;
	int yaml = kapi_media_is(ct, "application/yaml");
	json_t *st = NULL, *o;

	if (ct && *ct && !yaml && !kapi_media_is(ct, "application/json")) {
		kapi_fail(x, 415, "UnsupportedMediaType", "the body of the "
		    "request was in an unknown format - accepted media types "
		    "include: application/json, application/yaml");
		return NULL;
	}
	o = kapi_parse_body(x->r->body, x->r->body_len, yaml, &st);
	if (!o)
		kapi_reply_status(x, st);
	return o;
}

/* Reply with the stored object out (stolen) as the endpoint shows it. */
static void
kapi_reply_obj(struct kapi_ctx *x, int code, json_t *out)
{
	kapi_reply(x, code, kapi_to_api(x->p.res, out));
	json_decref(out);
}

void
kapi_create(struct kapi_ctx *x)
{
	json_t *o, *out = NULL, *st = NULL;
	unsigned flags;

	if (kapi_wflags(x, &flags) < 0 || !(o = kapi_body(x)) ||
	    !(o = kapi_pin_object(x, o, NULL)))
		return;
	if (objops_create(x->k->store, o, flags, &out, &st) < 0)
		kapi_reply_status(x, st);
	else {
		log_info("%s %s/%s created by %s", x->p.res->kind,
		    kapi_mstr(out, "metadata.namespace"), kapi_mstr(out,
		    "metadata.name"), x->r->user->name);
		kapi_reply_obj(x, 201, out);
	}
	json_decref(o);
}

/* PUT and PATCH of .../scale: replicas and an optional resourceVersion. */
static void
kapi_scale_set(struct kapi_ctx *x, const json_t *scale, unsigned flags)
{
	const json_t *rep = json_object_get(json_object_get(scale, "spec"),
	    "replicas");
	const char *rv = manifest_str(scale, "metadata.resourceVersion");
	json_t *out = NULL, *st = NULL;

	if (!json_is_object(scale) || !json_is_integer(rep)) {
		kapi_reply_status(x, kapi_status_about(&x->p, 422, "Invalid",
		    x->p.name, "Scale.autoscaling \"%s\" is invalid: "
		    "spec.replicas: Required value: an integer", x->p.name));
		return;
	}
	if (objops_scale(x->k->store, x->p.res->kind, x->p.ns, x->p.name,
	    json_integer_value(rep), rv, flags, &out, &st) < 0) {
		kapi_reply_status(x, st);
		return;
	}
	kapi_reply(x, 200, kapi_scale_of(out));
	json_decref(out);
}

void
kapi_update(struct kapi_ctx *x)
{
	json_t *o, *out = NULL, *st = NULL;
	unsigned flags;
	int rc;

	if (kapi_wflags(x, &flags) < 0 || !(o = kapi_body(x)))
		return;
	if (!strcmp(x->p.sub, "scale")) {
		kapi_scale_set(x, o, flags);
		json_decref(o);
		return;
	}
	if (!(o = kapi_pin_object(x, o, x->p.name)))
		return;
	if (!strcmp(x->p.res->group, "kubevirt.io") && !*x->p.sub &&
	    !*kapi_mstr(o, "metadata.resourceVersion")) {
		kapi_reply_status(x, kapi_status_about(&x->p, 422, "Invalid",
		    x->p.name, "%s.%s \"%s\" is invalid: metadata."
		    "resourceVersion: Invalid value: 0x0: must be specified for "
		    "an update", x->p.res->kind, x->p.res->group, x->p.name));
		json_decref(o);
		return;
	}
	rc = !strcmp(x->p.sub, "status") ?
	    objops_replace_status(x->k->store, o, flags, &out, &st) :
	    objops_replace(x->k->store, o, flags, &out, &st);
	if (rc < 0)
		kapi_reply_status(x, st);
	else
		kapi_reply_obj(x, 200, out);
	json_decref(o);
}

/* The patch type of a Content-Type; -1 after a 415. */
static int
kapi_patch_type(struct kapi_ctx *x, enum kapi_patch_type *t)
{
	const char *ct = x->r->content_type;

	if (kapi_media_is(ct, "application/merge-patch+json"))
		*t = KAPI_PATCH_MERGE;
	else if (kapi_media_is(ct, "application/strategic-merge-patch+json"))
		*t = KAPI_PATCH_STRATEGIC;
	else if (kapi_media_is(ct, "application/json-patch+json"))
		*t = KAPI_PATCH_JSON;
	else {
		kapi_fail(x, 415, "UnsupportedMediaType", "%s%s",
		    kapi_patch_types, kapi_media_is(ct,
		    "application/apply-patch+yaml") ? " (server-side apply is "
		    "not implemented by Drover: use client-side kubectl apply)" :
		    "");
		return -1;
	}
	return 0;
}

void
kapi_patch_item(struct kapi_ctx *x)
{
	const struct kapi_res *r = x->p.res;
	enum kapi_patch_type type;
	json_t *cur, *target, *patched = NULL, *out = NULL, *st = NULL;
	unsigned flags;
	int rc;

	if (kapi_wflags(x, &flags) < 0 || kapi_patch_type(x, &type) < 0)
		return;
	cur = store_get(x->k->store, r->kind, r->namespaced ? x->p.ns : "",
	    x->p.name);
	if (!cur) {
		kapi_not_found(x, x->p.name);
		return;
	}
	target = !strcmp(x->p.sub, "scale") ? kapi_scale_of(cur) :
	    kapi_to_api(r, cur);
	json_decref(cur);
	rc = kapi_patch(type, target, x->r->body, x->r->body_len, &patched,
	    &st);
	json_decref(target);
	if (rc < 0) {
		kapi_reply_status(x, st);
		return;
	}
	if (!strcmp(x->p.sub, "scale")) {
		kapi_scale_set(x, patched, flags);
		json_decref(patched);
		return;
	}
	if (!(patched = kapi_pin_object(x, patched, x->p.name)))
		return;
	rc = !strcmp(x->p.sub, "status") ?
	    objops_replace_status(x->k->store, patched, flags, &out, &st) :
	    objops_replace(x->k->store, patched, flags, &out, &st);
	if (rc < 0)
		kapi_reply_status(x, st);
	else
		kapi_reply_obj(x, 200, out);
	json_decref(patched);
}

void
kapi_delete(struct kapi_ctx *x)
{
	const struct kapi_res *r = x->p.res;
	json_t *opts = NULL, *out = NULL, *st = NULL;
	unsigned flags = x->q.dry_run ? OBJOPS_DRY_RUN : 0;

	if (x->r->body_len > 0) {
		opts = kapi_parse_body(x->r->body, x->r->body_len, 0, &st);
		if (!opts || !json_is_object(opts)) {
			json_decref(opts);
			kapi_reply_status(x, st ? st : ferr_status(400,
			    "BadRequest", "the DeleteOptions are not an "
			    "object"));
			return;
		}
	} else
		opts = json_object();
	if (x->q.propagation_policy)
		json_object_set_new(opts, "propagationPolicy",
		    json_string(x->q.propagation_policy));
	if (objops_delete(x->k->store, r->kind, r->namespaced ? x->p.ns : "",
	    x->p.name, opts, flags, &out, &st) < 0)
		kapi_reply_status(x, st);
	else {
		log_info("%s %s/%s deleted by %s", r->kind, x->p.ns, x->p.name,
		    x->r->user->name);
		kapi_reply_obj(x, 200, out);
	}
	json_decref(opts);
}
