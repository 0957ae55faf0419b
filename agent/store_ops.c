/*
 * store_ops.c: store.h's object operations (create, update, status,
 * delete, get, list) with the API server's metadata rules; store.c holds
 * the arrays, writes and cascades they use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_priv.h"

#define GEN_ALPHABET "bcdfghjklmnpqrstvwxz2456789"
#define GEN_SUFFIX 5
#define GEN_BASE_MAX (63 - GEN_SUFFIX)	/* apimachinery's maxGeneratedNameLength */
#define GEN_TRIES 16

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

static int
uuid4(char out[37])
{
	uint8_t u[16];
	int rc = store_random(u, sizeof(u));

	if (rc < 0)
		return rc;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);	/* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

/* The namespace an object of k lives in: "default" when none is given. */
static const char *
ns_of(const struct store_kind *k, const char *ns)
{
	if (!k->namespaced)
		return "";
	return ns && *ns ? ns : "default";
}

static int
oom(char *err, size_t errlen)
{
	return store_seterr(err, errlen, -ENOMEM, "out of memory");
}

/* ---- names ---------------------------------------------------------------- */

static int
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * DNS-1123: a label is [a-z0-9]([-a-z0-9]*[a-z0-9])?; a subdomain is
 * labels joined by dots. Either way never "", ".", "..", nor a '/'.
 */
int
store_name_check(const char *what, const char *v, size_t max, int subdomain,
    char *err, size_t errlen)
{
	size_t len, i;
	char prev = '.';

	if (v == NULL || *v == '\0')
		return store_seterr(err, errlen, -EINVAL, "%s must not be empty",
		    what);
	len = strlen(v);
	if (len > max)
		return store_seterr(err, errlen, -EINVAL,
		    "%s \"%.40s...\" is longer than %zu characters", what, v,
		    max);
	for (i = 0; i < len; i++) {
		char c = v[i];

		if (c == '.' && subdomain) {
			if (!alnum(prev))
				goto bad;
		} else if (c == '-') {
			if (prev == '.')
				goto bad;
		} else if (!alnum(c)) {
			goto bad;
		}
		prev = c;
	}
	if (!alnum(prev))
		goto bad;
	return 0;
bad:
	return store_seterr(err, errlen, -EINVAL, "%s \"%s\" is invalid: a "
	    "lowercase RFC 1123 %s must consist of lower case alphanumeric "
	    "characters, '-'%s, and must start and end with an alphanumeric "
	    "character", what, v, subdomain ? "subdomain" : "label",
	    subdomain ? " or '.'" : "");
}

/* ---- checking what clients send ----------------------------------------------- */

/* An object of strings (labels, annotations), if present. */
static int
check_strmap(const json_t *md, const char *key, char *err, size_t errlen)
{
	json_t *m = json_object_get(md, key), *v;
	const char *k;

	if (m == NULL || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.%s must be an object", key);
	json_object_foreach(m, k, v)
		if (!json_is_string(v))
			return store_seterr(err, errlen, -EINVAL,
			    "metadata.%s.%s must be a string", key, k);
	return 0;
}

static int
check_lists(const json_t *md, char *err, size_t errlen)
{
	json_t *a, *v;
	size_t i;

	a = json_object_get(md, "finalizers");
	if (a && !json_is_null(a) && !json_is_array(a))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.finalizers must be an array");
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return store_seterr(err, errlen, -EINVAL,
			    "metadata.finalizers[%zu] must be a string", i);
	a = json_object_get(md, "ownerReferences");
	if (a && !json_is_null(a) && !json_is_array(a))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.ownerReferences must be an array");
	json_array_foreach(a, i, v)
		if (!json_is_string(json_object_get(v, "uid")))
			return store_seterr(err, errlen, -EINVAL,
			    "metadata.ownerReferences[%zu].uid must be a "
			    "string", i);
	return 0;
}

/*
 * c: a caller's object, copied. Finds its kind, gives it a metadata and
 * a checked namespace ("default" when none; none for cluster-scoped
 * kinds) and checks the metadata members the store relies on.
 */
static int
prepare(struct store *s, json_t *c, struct store_kind **kp, char *err,
    size_t errlen)
{
	const char *kind = json_string_value(json_object_get(c, "kind"));
	struct store_kind *k = store_kind_get(s, kind);
	json_t *md = meta(c), *ns;
	int rc;

	if (!json_is_object(c))
		return store_seterr(err, errlen, -EINVAL, "not a JSON object");
	if (k == NULL)
		return store_seterr(err, errlen, -EINVAL, "kind \"%s\" is not "
		    "one the store keeps", kind ? kind : "");
	if (md == NULL) {
		md = json_object();
		if (md == NULL || json_object_set_new(c, "metadata", md) < 0)
			return oom(err, errlen);
	}
	if (!json_is_object(md))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata must be an object");
	ns = json_object_get(md, "namespace");
	if (ns && !json_is_null(ns) && !json_is_string(ns))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.namespace must be a string");
	if (!k->namespaced)
		json_object_del(md, "namespace");
	else if (json_object_set_new(md, "namespace", json_string(ns_of(k,
	    json_string_value(ns)))) < 0)
		return oom(err, errlen);
	if (k->namespaced && (rc = store_name_check("metadata.namespace",
	    meta_str(c, "namespace"), STORE_NS_MAX, 0, err, errlen)) < 0)
		return rc;
	if ((rc = check_strmap(md, "labels", err, errlen)) < 0 ||
	    (rc = check_strmap(md, "annotations", err, errlen)) < 0 ||
	    (rc = check_lists(md, err, errlen)) < 0)
		return rc;
	*kp = k;
	return 0;
}

static int
check_name(const json_t *c, char *err, size_t errlen)
{
	json_t *n = json_object_get(meta(c), "name");

	if (n && !json_is_string(n))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.name must be a string");
	return store_name_check("metadata.name", json_string_value(n),
	    STORE_NAME_MAX, 1, err, errlen);
}

/* ---- create --------------------------------------------------------------------- */

/* metadata.name from metadata.generateName and 5 random characters. */
static int
generate_name(struct store_kind *k, json_t *c, char *err, size_t errlen)
{
	const char *base = meta_str(c, "generateName");
	const char *ns = meta_str(c, "namespace");
	char name[GEN_BASE_MAX + GEN_SUFFIX + 1];
	uint8_t r[GEN_SUFFIX * 4];
	int tries, rc, len, i, j;

	if (base == NULL || *base == '\0')
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.name or metadata.generateName is required");
	len = (int)strnlen(base, GEN_BASE_MAX);
	for (tries = 0; tries < GEN_TRIES; tries++) {
		rc = store_random(r, sizeof(r));
		if (rc < 0)
			return store_seterr(err, errlen, rc, "getrandom: %s",
			    strerror(-rc));
		memcpy(name, base, (size_t)len);
		/* Unbiased: bytes >= 243 (9 * 27) are skipped. */
		for (i = j = 0; i < (int)sizeof(r) && j < GEN_SUFFIX; i++)
			if (r[i] < 243)
				name[len + j++] = GEN_ALPHABET[r[i] % 27];
		if (j < GEN_SUFFIX)
			continue;
		name[len + GEN_SUFFIX] = '\0';
		rc = store_name_check("metadata.generateName", name,
		    STORE_NAME_MAX, 1, err, errlen);
		if (rc < 0)
			return rc;
		if (store_find(k, ns_of(k, ns), name, NULL) == NULL)
			return json_object_set_new(meta(c), "name",
			    json_string(name)) < 0 ? oom(err, errlen) : 0;
	}
	return store_seterr(err, errlen, -EEXIST, "%s: no free name from "
	    "generateName \"%s\" after %d tries", k->kind, base, GEN_TRIES);
}

/* The metadata the store owns, for a new object. */
static int
fill_new_meta(json_t *md, char *err, size_t errlen)
{
	char uid[37], now[32];
	int rc;

	rc = uuid4(uid);
	if (rc < 0)
		return store_seterr(err, errlen, rc, "getrandom: %s",
		    strerror(-rc));
	store_now(now);
	json_object_del(md, "deletionTimestamp");
	json_object_del(md, "deletionGracePeriodSeconds");
	json_object_del(md, "resourceVersion");
	if (json_object_set_new(md, "uid", json_string(uid)) < 0 ||
	    json_object_set_new(md, "creationTimestamp", json_string(now)) < 0 ||
	    json_object_set_new(md, "generation", json_integer(1)) < 0)
		return oom(err, errlen);
	return 0;
}

int
store_create(struct store *s, const json_t *obj, json_t **out, char *err,
    size_t errlen)
{
	struct store_kind *k;
	json_t *c;
	const char *name;
	int rc;

	if (out)
		*out = NULL;
	if (!json_is_object(obj))
		return store_seterr(err, errlen, -EINVAL, "not a JSON object");
	c = json_deep_copy(obj);
	if (c == NULL)
		return oom(err, errlen);
	rc = prepare(s, c, &k, err, errlen);
	if (rc < 0)
		goto fail;
	name = meta_str(c, "name");
	if (name == NULL || *name == '\0')
		rc = generate_name(k, c, err, errlen);
	if (rc == 0)
		rc = check_name(c, err, errlen);
	if (rc < 0)
		goto fail;
	name = meta_str(c, "name");
	if (store_find(k, ns_of(k, meta_str(c, "namespace")), name, NULL)) {
		rc = store_seterr(err, errlen, -EEXIST, "%s \"%s\" already "
		    "exists", k->kind, name);
		goto fail;
	}
	/* A full disk: nothing new, so that deletes (which free the space)
	 * and the updates they need keep working on the journal's reserve. */
	if ((rc = store_disk_room(s, err, errlen)) < 0)
		goto fail;
	rc = fill_new_meta(meta(c), err, errlen);
	if (rc < 0)
		goto fail;
	return store_put(s, k, c, STORE_ADDED, out, err, errlen);
fail:
	json_decref(c);
	return rc;
}

/* ---- update ---------------------------------------------------------------------- */

/* metadata.resourceVersion and uid, when given, must be the stored ones. */
static int
preconditions(const struct store_kind *k, const json_t *c, const json_t *cur,
    char *err, size_t errlen)
{
	json_t *rv = json_object_get(meta(c), "resourceVersion");
	const char *uid = meta_str(c, "uid"), *name = meta_str(cur, "name");

	if (rv && !json_is_null(rv) && !json_is_string(rv))
		return store_seterr(err, errlen, -EINVAL,
		    "metadata.resourceVersion must be a string");
	if (json_string_length(rv) &&
	    strcmp(json_string_value(rv), meta_str(cur, "resourceVersion")))
		return store_seterr(err, errlen, -ESTALE, "Operation cannot "
		    "be fulfilled on %s \"%s\": the object has been modified; "
		    "please apply your changes to the latest version and try "
		    "again", k->kind, name);
	if (uid && *uid && strcmp(uid, meta_str(cur, "uid")))
		return store_seterr(err, errlen, -ESTALE, "Precondition "
		    "failed: UID in precondition: %s, UID in object meta: %s",
		    meta_str(cur, "uid"), uid);
	return 0;
}

/* Copy member key of cur's metadata (or its absence) into md. */
static int
keep(json_t *md, const json_t *curmd, const char *key)
{
	json_t *v = json_object_get(curmd, key);

	if (v == NULL)
		return json_object_del(md, key), 0;
	return json_object_set(md, key, v);
}

/* No finalizer can be added to an object being deleted. */
static int
check_new_finalizers(const json_t *c, const json_t *cur, char *err,
    size_t errlen)
{
	json_t *nf = json_object_get(meta(c), "finalizers"), *v, *w;
	json_t *of = json_object_get(meta(cur), "finalizers");
	size_t i, j;
	int found;

	if (!json_object_get(meta(cur), "deletionTimestamp"))
		return 0;
	json_array_foreach(nf, i, v) {
		found = 0;
		json_array_foreach(of, j, w)
			found |= json_equal(v, w);
		if (!found)
			return store_seterr(err, errlen, -EINVAL, "metadata."
			    "finalizers: Forbidden: no new finalizers can be "
			    "added if the object is being deleted, found new "
			    "finalizers [\"%s\"]", json_string_value(v));
	}
	return 0;
}

/* c takes what the store owns from cur; generation +1 on a spec change. */
static int
carry_over(json_t *c, const json_t *cur)
{
	json_t *md = meta(c), *cmd = meta(cur), *st;
	json_int_t gen = json_integer_value(json_object_get(cmd, "generation"));

	if (!json_equal(json_object_get(c, "spec"),
	    json_object_get(cur, "spec")))
		gen++;
	st = json_object_get(cur, "status");
	if (st == NULL)
		json_object_del(c, "status");
	if ((st && json_object_set(c, "status", st) < 0) ||
	    keep(md, cmd, "uid") < 0 || keep(md, cmd, "creationTimestamp") < 0 ||
	    keep(md, cmd, "deletionTimestamp") < 0 ||
	    keep(md, cmd, "deletionGracePeriodSeconds") < 0 ||
	    keep(md, cmd, "resourceVersion") < 0 ||
	    json_object_set_new(md, "generation", json_integer(gen)) < 0)
		return -ENOMEM;
	return 0;
}

int
store_update(struct store *s, const json_t *obj, json_t **out, char *err,
    size_t errlen)
{
	struct store_kind *k;
	struct store_obj *cur;
	json_t *c, *cj = NULL;
	size_t pos;
	int rc;

	if (out)
		*out = NULL;
	if (!json_is_object(obj))
		return store_seterr(err, errlen, -EINVAL, "not a JSON object");
	c = json_deep_copy(obj);
	if (c == NULL)
		return oom(err, errlen);
	rc = prepare(s, c, &k, err, errlen);
	if (rc == 0)
		rc = check_name(c, err, errlen);
	if (rc < 0)
		goto fail;
	cur = store_find(k, ns_of(k, meta_str(c, "namespace")),
	    meta_str(c, "name"), &pos);
	if (cur == NULL) {
		rc = store_seterr(err, errlen, -ENOENT, "%s \"%s\" not found",
		    k->kind, meta_str(c, "name"));
		goto fail;
	}
	cj = store_obj_json(cur);
	rc = cj ? preconditions(k, c, cj, err, errlen) : oom(err, errlen);
	if (rc == 0)
		rc = check_new_finalizers(c, cj, err, errlen);
	if (rc == 0 && carry_over(c, cj) < 0)
		rc = oom(err, errlen);
	if (rc < 0)
		goto fail;
	if (json_equal(c, cj)) {		/* nothing to write */
		if (out)
			*out = json_incref(cj);
		json_decref(c);
		json_decref(cj);
		return 0;
	}
	json_decref(cj);
	if (json_object_get(meta(c), "deletionTimestamp") &&
	    json_array_size(json_object_get(meta(c), "finalizers")) == 0)
		return store_remove(s, k, pos, c, out, err, errlen);
	return store_put(s, k, c, STORE_MODIFIED, out, err, errlen);
fail:
	json_decref(cj);
	json_decref(c);
	return rc;
}

int
store_update_status(struct store *s, const char *kind, const char *ns,
    const char *name, const json_t *status, json_t **out, char *err,
    size_t errlen)
{
	struct store_kind *k = store_kind_get(s, kind);
	struct store_obj *cur;
	json_t *c, *cj, *st = NULL;

	if (out)
		*out = NULL;
	if (k == NULL)
		return store_seterr(err, errlen, -EINVAL, "kind \"%s\" is not "
		    "one the store keeps", kind ? kind : "");
	cur = name ? store_find(k, ns_of(k, ns), name, NULL) : NULL;
	if (cur == NULL)
		return store_seterr(err, errlen, -ENOENT, "%s \"%s\" not found",
		    kind, name ? name : "");
	cj = store_obj_json(cur);
	if (cj == NULL)
		return oom(err, errlen);
	if (json_equal((json_t *)status, json_object_get(cj, "status")) ||
	    (status == NULL && !json_object_get(cj, "status"))) {
		if (out)
			*out = json_incref(cj);
		json_decref(cj);
		return 0;
	}
	c = store_meta_copy(cj);
	json_decref(cj);
	if (c && status && (st = json_deep_copy(status)) == NULL) {
		json_decref(c);
		c = NULL;
	}
	if (c == NULL)
		return oom(err, errlen);
	if (st)
		json_object_set_new(c, "status", st);
	else
		json_object_del(c, "status");
	return store_put(s, k, c, STORE_MODIFIED, out, err, errlen);
}

/* ---- delete, get, list -------------------------------------------------------- */

int
store_delete(struct store *s, const char *kind, const char *ns,
    const char *name, char *err, size_t errlen)
{
	struct store_kind *k = store_kind_get(s, kind);
	char *uid;
	size_t pos;
	int rc;

	if (k == NULL)
		return store_seterr(err, errlen, -EINVAL, "kind \"%s\" is not "
		    "one the store keeps", kind ? kind : "");
	rc = store_name_check("name", name, STORE_NAME_MAX, 1, err, errlen);
	if (rc < 0)
		return rc;
	if (store_find(k, ns_of(k, ns), name, &pos) == NULL)
		return store_seterr(err, errlen, -ENOENT, "%s \"%s\" not found",
		    kind, name);
	rc = store_delete_at(s, k, pos, &uid, err, errlen);
	if (rc == 0)
		store_cascade(s, uid);
	return rc;
}

json_t *
store_get(struct store *s, const char *kind, const char *ns,
    const char *name)
{
	struct store_kind *k = store_kind_get(s, kind);
	struct store_obj *o;

	if (k == NULL || name == NULL)
		return NULL;
	o = store_find(k, ns_of(k, ns), name, NULL);
	return o ? store_obj_json(o) : NULL;
}

/* o's compact JSON: cold entries have it; hot ones make it once. */
static int
view_of(struct store_obj *o, int want_tree, struct store_view *v)
{
	v->tree = NULL;
	v->obj = o->obj;
	if (o->text == NULL) {
		o->text = json_dumps(o->obj, JSON_COMPACT);
		if (o->text == NULL)
			return -ENOMEM;
		o->text_len = strlen(o->text);
	}
	v->text = o->text;
	v->len = o->text_len;
	if (want_tree && v->obj == NULL) {
		v->tree = json_loads(o->text, 0, NULL);
		if (v->tree == NULL)
			return -ENOMEM;
		v->obj = v->tree;
	}
	return 0;
}

int
store_get_view(struct store *s, const char *kind, const char *ns,
    const char *name, struct store_view *v)
{
	struct store_kind *k = store_kind_get(s, kind);
	struct store_obj *o;

	memset(v, 0, sizeof(*v));
	if (k == NULL || name == NULL)
		return -ENOENT;
	o = store_find(k, ns_of(k, ns), name, NULL);
	return o ? view_of(o, 1, v) : -ENOENT;
}

void
store_view_done(struct store_view *v)
{
	json_decref(v->tree);
	memset(v, 0, sizeof(*v));
}

int
store_each(struct store *s, const char *kind, const char *ns, int want_tree,
    store_each_fn fn, void *arg)
{
	struct store_kind *k = store_kind_get(s, kind);
	struct store_view v;
	size_t i = 0;
	int rc = 0;

	if (k == NULL)
		return 0;
	if (ns && *ns && k->namespaced)
		store_find(k, ns, "", &i);	/* the namespace's first */
	else
		ns = NULL;
	for (; i < k->n && rc == 0; i++) {
		if (ns && strcmp(k->v[i].ns, ns))
			break;
		rc = view_of(&k->v[i], want_tree, &v);
		if (rc == 0)
			rc = fn(arg, &v);
		store_view_done(&v);
	}
	return rc;
}

json_t *
store_list(struct store *s, const char *kind, const char *ns)
{
	struct store_kind *k = store_kind_get(s, kind);
	json_t *a = json_array();
	size_t i = 0;

	if (a == NULL || k == NULL)
		return a;
	if (ns && *ns && k->namespaced)
		store_find(k, ns, "", &i);	/* the namespace's first */
	else
		ns = NULL;
	for (; i < k->n; i++) {
		if (ns && strcmp(k->v[i].ns, ns))
			break;
		if (json_array_append_new(a, store_obj_json(&k->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
