/*
 * kapi_patch.c: request bodies and the three patch types kubectl sends
 * (kapi_int.h):
 * - merge patch (RFC 7386), kubectl's patch for custom kinds;
 * - strategic merge patch, kubectl's patch for built-in kinds (the HPA):
 *   applied as a merge patch after its directives are read: "$patch":
 *   "delete" removes the map it is in, "$patch": "replace" replaces it
 *   instead of merging, other "$..." keys ($setElementOrder/...,
 *   $retainKeys, $deleteFromPrimitiveList/...) are dropped. Lists are
 *   replaced whole: the kinds served here have no lists kubectl merges by
 *   key (HPA metrics are atomic lists, Pods and Nodes are read-only);
 * - JSON patch (RFC 6902) with JSON pointers (RFC 6901): add, remove,
 *   replace, move, copy, test; at most KAPI_PATCH_MAX_OPS operations.
 * As the API server: a patch that does not parse is 400 BadRequest; one
 * that parses but does not apply (a missing path, a failed test) is 422.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "ferr.h"
#include "kapi_int.h"
#include "yamljson.h"

#define KAPI_PATCH_MAX_OPS 10000

json_t *
kapi_parse_body(const char *body, size_t len, int yaml, json_t **status)
{
	struct yamljson_error e;
	json_t *docs, *v;
	char msg[400], full[512];

	*status = NULL;
	docs = yaml ? yamljson_load_yaml(body, len, &e) :
	    yamljson_load_json(body, len, &e);
	if (!docs) {
		yamljson_strerror(&e, msg, sizeof(msg));
		snprintf(full, sizeof(full), "%s%s", yaml ? "" :
		    "couldn't get version/kind; json parse error: ", msg);
		*status = ferr_status(400, "BadRequest", full);
		return NULL;
	}
	if (json_array_size(docs) != 1) {
		*status = ferr_status(400, "BadRequest", json_array_size(docs) ?
		    "the request body holds more than one document" :
		    "the request body is empty");
		json_decref(docs);
		return NULL;
	}
	v = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	return v;
}

/* ---- strategic merge ------------------------------------------------------- */

/* A merge patch from a strategic one (new object): directives read. */
static json_t *
kapi_strategic_to_merge(const json_t *p)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *)p, key, v) {
		if (key[0] == '$')
			continue;
		if (json_is_object(v)) {
			const char *d = json_string_value(json_object_get(v,
			    "$patch"));

			if (d && !strcmp(d, "delete")) {
				json_object_set_new(out, key, json_null());
				continue;
			}
			if (d && !strcmp(d, "replace")) {
				/* null first, then the map: a replacement */
				json_t *m = kapi_strategic_to_merge(v);

				json_object_set_new(out, key, json_pack(
				    "{s:b, s:o}", "$replace", 1, "v", m));
				continue;
			}
			json_object_set_new(out, key, kapi_strategic_to_merge(v));
		} else
			json_object_set(out, key, v);
	}
	return out;
}

/* Merge with "$replace" markers from kapi_strategic_to_merge(). */
static void
kapi_merge_replace(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *pv;

	json_object_foreach((json_t *)patch, key, pv) {
		json_t *tv = json_object_get(target, key);

		if (json_is_object(pv) && json_object_get(pv, "$replace")) {
			json_object_set_new(target, key, json_deep_copy(
			    json_object_get(pv, "v")));
		} else if (json_is_null(pv))
			json_object_del(target, key);
		else if (json_is_object(pv)) {
			if (!json_is_object(tv)) {
				tv = json_object();
				json_object_set_new(target, key, tv);
			}
			kapi_merge_replace(tv, pv);
		} else
			json_object_set_new(target, key, json_deep_copy(pv));
	}
}

/* ---- JSON pointers ----------------------------------------------------------- */

/* Decode one reference token ("a~1b" -> "a/b"); NULL on a bad escape. */
static char *
kapi_ptr_token(const char *s, size_t len)
{
	char *o = malloc(len + 1), *w = o;

	if (!o)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '~') {
			*w++ = s[i];
			continue;
		}
		if (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')) {
			free(o);
			return NULL;
		}
		*w++ = s[i + 1] == '0' ? '~' : '/';
		i++;
	}
	*w = '\0';
	return o;
}

/* An array index token: 0..size-1 (or size when allow_end); -1 if bad. */
static long
kapi_ptr_index(const char *t, size_t size, int allow_end)
{
	char *end;
	long v;

	if (allow_end && !strcmp(t, "-"))
		return (long)size;
	if (!*t || (t[0] == '0' && t[1]) || t[0] < '0' || t[0] > '9')
		return -1;
	errno = 0;
	v = strtol(t, &end, 10);
	if (errno || *end || v < 0 || (size_t)v > size ||
	    ((size_t)v == size && !allow_end))
		return -1;
	return v;
}

/*
 * Resolve ptr's parent in doc: *parent and *last (the last token,
 * malloc'd). ptr "" has no parent: -2. -1: a path that does not exist.
 */
static int
kapi_ptr_parent(json_t *doc, const char *ptr, json_t **parent, char **last)
{
	json_t *cur = doc;
	const char *p = ptr;

	*last = NULL;
	if (!*ptr)
		return -2;
	if (*ptr != '/')
		return -1;
	for (;;) {
		const char *e = strchr(p + 1, '/');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
		char *tok = kapi_ptr_token(p + 1, n);

		if (!tok)
			return -1;
		if (!e) {
			*parent = cur;
			*last = tok;
			return 0;
		}
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else if (json_is_array(cur)) {
			long i = kapi_ptr_index(tok, json_array_size(cur), 0);

			cur = i < 0 ? NULL : json_array_get(cur, (size_t)i);
		} else
			cur = NULL;
		free(tok);
		if (!cur)
			return -1;
		p = e;
	}
}

static json_t *
kapi_ptr_get(json_t *doc, const char *ptr)
{
	json_t *parent;
	char *last;
	json_t *v = NULL;
	int rc = kapi_ptr_parent(doc, ptr, &parent, &last);

	if (rc == -2)
		return doc;
	if (rc < 0)
		return NULL;
	if (json_is_object(parent))
		v = json_object_get(parent, last);
	else if (json_is_array(parent)) {
		long i = kapi_ptr_index(last, json_array_size(parent), 0);

		v = i < 0 ? NULL : json_array_get(parent, (size_t)i);
	}
	free(last);
	return v;
}

/* add (replace: the member must exist, arrays set in place). */
static int
kapi_ptr_put(json_t **doc, const char *ptr, json_t *val, int replace)
{
	json_t *parent;
	char *last;
	int rc = kapi_ptr_parent(*doc, ptr, &parent, &last);

	if (rc == -2) {
		json_decref(*doc);
		*doc = json_incref(val);
		return 0;
	}
	if (rc < 0)
		return -1;
	rc = -1;
	if (json_is_object(parent)) {
		if (!replace || json_object_get(parent, last))
			rc = json_object_set(parent, last, val);
	} else if (json_is_array(parent)) {
		long i = kapi_ptr_index(last, json_array_size(parent),
		    !replace);

		if (i >= 0)
			rc = replace ? json_array_set(parent, (size_t)i, val) :
			    json_array_insert(parent, (size_t)i, val);
	}
	free(last);
	return rc;
}

static int
kapi_ptr_remove(json_t *doc, const char *ptr)
{
	json_t *parent;
	char *last;
	int rc = kapi_ptr_parent(doc, ptr, &parent, &last);

	if (rc < 0)
		return -1;
	rc = -1;
	if (json_is_object(parent))
		rc = json_object_del(parent, last);
	else if (json_is_array(parent)) {
		long i = kapi_ptr_index(last, json_array_size(parent), 0);

		if (i >= 0)
			rc = json_array_remove(parent, (size_t)i);
	}
	free(last);
	return rc;
}

/* ---- JSON patch ------------------------------------------------------------ */

/* One operation; 0, or -1 with the reason in why (422). */
static int
kapi_json_op(json_t **doc, const json_t *op, char *why, size_t len)
{
	const char *name = json_string_value(json_object_get(op, "op"));
	const char *path = json_string_value(json_object_get(op, "path"));
	const char *from = json_string_value(json_object_get(op, "from"));
	json_t *val = json_object_get(op, "value"), *src;

	if (!strcmp(name, "add") || !strcmp(name, "replace")) {
		json_t *c = json_deep_copy(val);
		int rc = c ? kapi_ptr_put(doc, path, c, name[0] == 'r') : -1;

		json_decref(c);
		if (rc < 0)
			goto missing;
		return 0;
	}
	if (!strcmp(name, "remove")) {
		if (kapi_ptr_remove(*doc, path) < 0)
			goto missing;
		return 0;
	}
	if (!strcmp(name, "test")) {
		src = kapi_ptr_get(*doc, path);
		if (!src)
			goto missing;
		if (!json_equal(src, val)) {
			snprintf(why, len, "testing value %.200s failed", path);
			return -1;
		}
		return 0;
	}
	/* move, copy */
	src = kapi_ptr_get(*doc, from);
	if (!src) {
		path = from;
		goto missing;
	}
	if (!strcmp(name, "move") && !strncmp(path, from, strlen(from)) &&
	    (path[strlen(from)] == '/' || path[strlen(from)] == '\0') &&
	    strcmp(path, from)) {
		snprintf(why, len, "move operation: %.200s is a child of "
		    "%.200s", path, from);
		return -1;
	}
	src = json_deep_copy(src);
	if (!strcmp(name, "move") && strcmp(path, from) &&
	    kapi_ptr_remove(*doc, from) < 0) {
		json_decref(src);
		path = from;
		goto missing;
	}
	if (kapi_ptr_put(doc, path, src, 0) < 0) {
		json_decref(src);
		goto missing;
	}
	json_decref(src);
	return 0;
missing:
	snprintf(why, len, "%s operation does not apply: doc is missing path: "
	    "\"%.200s\": missing value", name, path);
	return -1;
}

/* Check the patch's shape (400 when wrong). */
static int
kapi_json_patch_check(const json_t *ops, char *why, size_t len)
{
	static const char *const names[] = { "add", "remove", "replace",
	    "move", "copy", "test" };
	const json_t *op;
	size_t i;

	if (!json_is_array(ops)) {
		snprintf(why, len, "json: cannot unmarshal %s into Go value of "
		    "type jsonpatch.Patch", json_is_object(ops) ? "object" :
		    "a non-array");
		return -1;
	}
	if (json_array_size(ops) > KAPI_PATCH_MAX_OPS) {
		snprintf(why, len, "the allowed maximum operations in a JSON "
		    "patch is %d, got %zu", KAPI_PATCH_MAX_OPS,
		    json_array_size(ops));
		return -1;
	}
	json_array_foreach((json_t *)ops, i, op) {
		const char *name = json_string_value(json_object_get(op, "op"));
		size_t k = 0;

		for (; name && k < 6; k++)
			if (!strcmp(name, names[k]))
				break;
		if (!json_is_object(op) || !name || k == 6) {
			snprintf(why, len, "Unexpected kind: %.60s",
			    name ? name : "(no op)");
			return -1;
		}
		if (!json_is_string(json_object_get(op, "path")) ||
		    ((k == 0 || k == 2 || k == 5) &&
		    !json_object_get(op, "value")) ||
		    ((k == 3 || k == 4) &&
		    !json_is_string(json_object_get(op, "from")))) {
			snprintf(why, len, "%s operation %zu: missing %s", name,
			    i, !json_is_string(json_object_get(op, "path")) ?
			    "path" : (k == 3 || k == 4) ? "from" : "value");
			return -1;
		}
	}
	return 0;
}

int
kapi_patch(enum kapi_patch_type type, const json_t *target, const char *body,
    size_t len, json_t **out, json_t **status)
{
	json_t *p = kapi_parse_body(body, len, 0, status), *doc, *mp;
	char why[512];
	size_t i;
	const json_t *op;

	*out = NULL;
	if (!p)
		return -1;
	doc = json_deep_copy(target);
	if (type == KAPI_PATCH_JSON) {
		if (kapi_json_patch_check(p, why, sizeof(why)) < 0) {
			*status = ferr_status(400, "BadRequest", why);
			goto fail;
		}
		json_array_foreach(p, i, op)
			if (kapi_json_op(&doc, op, why, sizeof(why)) < 0) {
				*status = ferr_status(422, "Invalid", why);
				goto fail;
			}
	} else {
		if (!json_is_object(p)) {
			*status = ferr_status(400, "BadRequest", "json: cannot "
			    "unmarshal a non-object into Go value of type "
			    "map[string]interface {}");
			goto fail;
		}
		if (type == KAPI_PATCH_STRATEGIC) {
			mp = kapi_strategic_to_merge(p);
			kapi_merge_replace(doc, mp);
			json_decref(mp);
		} else
			apply_merge_patch(doc, p);
	}
	if (!json_is_object(doc)) {
		*status = ferr_status(422, "Invalid", "the patched document is "
		    "not an object");
		goto fail;
	}
	json_decref(p);
	*out = doc;
	return 0;
fail:
	json_decref(p);
	json_decref(doc);
	return -1;
}
