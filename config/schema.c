/* schema.c: checking a JSON tree against the kinds' schemas. */
#include "schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"

int
schema_result_init(struct schema_result *r, int builtin)
{
	memset(r, 0, sizeof(*r));
	ferr_init(&r->errors);
	ferr_init(&r->unsupported);
	r->builtin = builtin;
	r->unknown = json_array();
	return r->unknown ? 0 : -ENOMEM;
}

void
schema_result_free(struct schema_result *r)
{
	json_decref(r->unknown);
	ferr_free(&r->errors);
	ferr_free(&r->unsupported);
	r->unknown = NULL;
}

/* The CRD validator's type names. */
static const char *
schema_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static const char *
schema_type_name(enum schema_type t, int go)
{
	switch (t) {
	case SCHEMA_OBJECT:
	case SCHEMA_STRING_MAP:
	case SCHEMA_QUANTITY_MAP:
		return go ? "map" : "object";
	case SCHEMA_ARRAY:
		return go ? "slice" : "array";
	case SCHEMA_STRING:
		return "string";
	case SCHEMA_INT:
		return go ? "int32" : "integer";
	case SCHEMA_BOOL:
		return go ? "bool" : "boolean";
	case SCHEMA_QUANTITY:
		return go ? "resource.Quantity" : "integer,string";
	default:
		return go ? "intstr.IntOrString" : "integer,string";
	}
}

static int
schema_type_ok(enum schema_type t, const json_t *v)
{
	switch (t) {
	case SCHEMA_ANY:
		return 1;
	case SCHEMA_OBJECT:
	case SCHEMA_STRING_MAP:
	case SCHEMA_QUANTITY_MAP:
		return json_is_object(v);
	case SCHEMA_ARRAY:
		return json_is_array(v);
	case SCHEMA_STRING:
		return json_is_string(v);
	case SCHEMA_INT:
		return json_is_integer(v);
	case SCHEMA_BOOL:
		return json_is_boolean(v);
	case SCHEMA_QUANTITY:
		return json_is_string(v) || json_is_number(v);
	default:
		return json_is_string(v) || json_is_integer(v);
	}
}

static void
schema_type_error(struct schema_result *r, const char *path, enum schema_type t,
    const json_t *v)
{
	char q[32];
	const char *jt = schema_json_type(v);

	ferr_quote(jt, q, sizeof(q));
	if (r->builtin)	/* encoding/json's words, as a 400 from decoding */
		ferr_cause(&r->errors, FERR_INVALID, path,
		    "json: cannot unmarshal %s into Go struct field %s of type %s",
		    strcmp(jt, "integer") == 0 ? "number" :
		    strcmp(jt, "boolean") == 0 ? "bool" : jt, path,
		    schema_type_name(t, 1));
	else
		ferr_k8s(&r->errors, FERR_INVALID, path, q,
		    "%s in body must be of type %s: %s", path,
		    schema_type_name(t, 0), q);
}

static void
schema_quantity(struct schema_result *r, const char *path, const json_t *v)
{
	char q[FERR_PATH_MAX];
	const char *s;

	if (!json_is_string(v))
		return;
	s = json_string_value(v);
	if (quantity_pattern_ok(s))
		return;
	ferr_quote(s, q, sizeof(q));
	if (r->builtin)
		ferr_cause(&r->errors, FERR_INVALID, path, "%s",
		    QUANTITY_ERR_FORMAT);
	else
		ferr_k8s(&r->errors, FERR_INVALID, path, q,
		    "%s in body should match '%s'", path, QUANTITY_PATTERN);
}

static int schema_value(const json_t *v, const struct schema_field *f,
    enum schema_type t, const char *path, struct schema_result *r);

static int
schema_map(const json_t *v, enum schema_type item, const char *path,
    struct schema_result *r)
{
	char p[FERR_PATH_MAX];
	const char *k;
	json_t *e;

	json_object_foreach((json_t *)v, k, e)
		if (schema_value(e, NULL, item, ferr_child(p, path, k), r) < 0)
			return -ENOMEM;
	return 0;
}

static int
schema_array(const json_t *v, const struct schema_field *f, const char *path,
    struct schema_result *r)
{
	char p[FERR_PATH_MAX];
	json_t *e;
	size_t i;

	json_array_foreach(v, i, e)
		if (schema_value(e, f, f->item, ferr_index(p, path, i), r) < 0)
			return -ENOMEM;
	return 0;
}

/* One value of type t; f gives members (objects) and items (arrays). */
static int
schema_value(const json_t *v, const struct schema_field *f, enum schema_type t,
    const char *path, struct schema_result *r)
{
	if (json_is_null(v))
		return 0;
	if (!schema_type_ok(t, v)) {
		schema_type_error(r, path, t, v);
		return 0;
	}
	switch (t) {
	case SCHEMA_OBJECT:
		return f && f->fields ? schema_check(v, f->fields, path, r) : 0;
	case SCHEMA_ARRAY:
		return schema_array(v, f, path, r);
	case SCHEMA_STRING_MAP:
		return schema_map(v, SCHEMA_STRING, path, r);
	case SCHEMA_QUANTITY_MAP:
		return schema_map(v, SCHEMA_QUANTITY, path, r);
	case SCHEMA_QUANTITY:
		schema_quantity(r, path, v);
		return 0;
	default:
		return 0;
	}
}

static const struct schema_field *
schema_find(const struct schema_field *fields, const char *name)
{
	for (; fields->name != NULL; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

static int
schema_unknown(struct schema_result *r, const char *path)
{
	json_t *s = json_string(path);
	size_t i, n = json_array_size(r->unknown);

	if (n >= 100 || s == NULL)	/* enough to say; or cut mid-UTF-8 */
		return json_decref(s), 0;
	for (i = 0; i < n; i++)
		if (strcmp(json_string_value(json_array_get(r->unknown, i)),
		    path) > 0)
			break;
	return json_array_insert_new(r->unknown, i, s) < 0 ? -ENOMEM : 0;
}

static void
schema_required(const json_t *obj, const struct schema_field *fields,
    const char *path, struct schema_result *r)
{
	char p[FERR_PATH_MAX];
	const json_t *v;

	for (; fields->name != NULL; fields++) {
		if (!(fields->flags & SCHEMA_REQUIRED))
			continue;
		v = json_object_get(obj, fields->name);
		if (v == NULL || json_is_null(v))
			ferr_k8s(&r->errors, FERR_REQUIRED,
			    ferr_child(p, path, fields->name), NULL, NULL);
	}
}

int
schema_check(const json_t *obj, const struct schema_field *fields,
    const char *path, struct schema_result *r)
{
	char p[FERR_PATH_MAX];
	const struct schema_field *f;
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe((json_t *)obj, tmp, k, v) {
		ferr_child(p, path, k);
		f = schema_find(fields, k);
		if (f == NULL) {
			if (schema_unknown(r, p) < 0)
				return -ENOMEM;
			if (r->prune)	/* the object is the caller's to change */
				json_object_del((json_t *)obj, k);
			continue;
		}
		if ((f->flags & SCHEMA_DROVER_NO) && !json_is_null(v)) {
			ferr_cause(&r->unsupported, FERR_NOT_SUPPORTED, p,
			    "%s is not supported by Drover%s%s", p,
			    f->hint ? ": " : "", f->hint ? f->hint : "");
			continue;
		}
		if (schema_value(v, f, f->type, p, r) < 0)
			return -ENOMEM;
	}
	schema_required(obj, fields, path, r);
	return r->errors.oom || r->unsupported.oom ? -ENOMEM : 0;
}

char *
schema_unknown_message(const struct schema_result *r)
{
	char *msg = strdup("strict decoding error: "), *n;
	char q[FERR_PATH_MAX + 8];
	json_t *e;
	size_t i;

	json_array_foreach(r->unknown, i, e) {
		if (msg == NULL)
			return NULL;
		ferr_quote(json_string_value(e), q, sizeof(q));
		if (asprintf(&n, "%s%sunknown field %s", msg, i ? ", " : "",
		    q) < 0)
			n = NULL;
		free(msg);
		msg = n;
	}
	return msg;
}
