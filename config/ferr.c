/* ferr.c: field errors and Status objects, worded as Kubernetes words them. */
#include "ferr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *cause;
	const char *text;
} ferr_names[] = {
	[FERR_REQUIRED] = { "FieldValueRequired", "Required value" },
	[FERR_INVALID] = { "FieldValueInvalid", "Invalid value" },
	[FERR_NOT_SUPPORTED] = { "FieldValueNotSupported", "Unsupported value" },
	[FERR_FORBIDDEN] = { "FieldValueForbidden", "Forbidden" },
	[FERR_DUPLICATE] = { "FieldValueDuplicate", "Duplicate value" },
	[FERR_NOT_FOUND] = { "FieldValueNotFound", "Not found" },
	[FERR_TOO_LONG] = { "FieldValueTooLong", "Too long" },
};

void
ferr_init(struct ferr_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
ferr_free(struct ferr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].field);
		free(l->v[i].message);
	}
	free(l->v);
	ferr_init(l);
}

const char *
ferr_cause_type(enum ferr_type t)
{
	return ferr_names[t].cause;
}

/* Length of the valid UTF-8 prefix of s. */
static size_t
ferr_utf8_prefix(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (p[i] != 0) {
		if (p[i] < 0x80)
			n = 1;
		else if ((p[i] & 0xe0) == 0xc0 && p[i] >= 0xc2)
			n = 2;
		else if ((p[i] & 0xf0) == 0xe0)
			n = 3;
		else if ((p[i] & 0xf8) == 0xf0 && p[i] <= 0xf4)
			n = 4;
		else
			break;
		for (size_t k = 1; k < n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
		i += n;
	}
	return i;
}

/* Takes message (malloc'd); both strings are cut to valid UTF-8. */
static void
ferr_push(struct ferr_list *l, enum ferr_type t, const char *field,
    char *message)
{
	struct ferr *v;

	if (message == NULL)
		goto oom;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;

		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			goto oom;
		l->v = v;
		l->cap = cap;
	}
	v = &l->v[l->n];
	v->type = t;
	message[ferr_utf8_prefix(message)] = '\0';
	v->message = message;
	if ((v->field = strdup(field ? field : "")) == NULL)
		goto oom;
	v->field[ferr_utf8_prefix(v->field)] = '\0';
	l->n++;
	return;
oom:
	free(message);
	l->oom = 1;
}

void
ferr_k8s(struct ferr_list *l, enum ferr_type t, const char *field,
    const char *value, const char *detail_fmt, ...)
{
	char detail[1024] = "";
	char *msg = NULL;
	va_list ap;

	if (detail_fmt != NULL) {
		va_start(ap, detail_fmt);
		vsnprintf(detail, sizeof(detail), detail_fmt, ap);
		va_end(ap);
	}
	if (t == FERR_REQUIRED || t == FERR_FORBIDDEN || t == FERR_TOO_LONG)
		value = NULL;
	if (asprintf(&msg, "%s%s%s%s%s", ferr_names[t].text,
	    value ? ": " : "", value ? value : "", detail[0] ? ": " : "",
	    detail) < 0)
		msg = NULL;
	ferr_push(l, t, field, msg);
}

void
ferr_cause(struct ferr_list *l, enum ferr_type t, const char *field,
    const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ferr_push(l, t, field, msg);
}

void
ferr_move(struct ferr_list *dst, struct ferr_list *src)
{
	for (size_t i = 0; i < src->n; i++) {
		ferr_push(dst, src->v[i].type, src->v[i].field,
		    src->v[i].message);
		src->v[i].message = NULL;
	}
	dst->oom |= src->oom;
	ferr_free(src);
}

const char *
ferr_quote(const char *s, char *buf, size_t len)
{
	static const char esc[] = "\a\b\f\n\r\t\v", let[] = "abfnrtv";
	size_t n = 0;
	char tmp[8];

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (; *s != '\0' && n + 6 < len; s++) {
		const char *e = strchr(esc, *s);
		unsigned char c = (unsigned char)*s;

		if (*s == '"' || *s == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", *s);
		else if (e != NULL)
			snprintf(tmp, sizeof(tmp), "\\%c", let[e - esc]);
		else if (c < 0x20 || c == 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			snprintf(tmp, sizeof(tmp), "%c", c);
		memcpy(buf + n, tmp, strlen(tmp));
		n += strlen(tmp);
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

const char *
ferr_value(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return ferr_quote(json_string_value(v), buf, len);
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	default:
		snprintf(buf, len, "%s", json_is_object(v) ? "map[...]" : "[...]");
		return buf;
	}
}

/* out = a + b + c, cut to FERR_PATH_MAX - 1 bytes (a may alias out). */
static const char *
ferr_join(char out[FERR_PATH_MAX], const char *a, const char *b,
    const char *c)
{
	char tmp[FERR_PATH_MAX];
	size_t n = 0;
	const char *parts[3] = { a, b, c };

	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p && n + 1 < sizeof(tmp); p++)
			tmp[n++] = *p;
	tmp[n] = '\0';
	memcpy(out, tmp, n + 1);
	return out;
}

const char *
ferr_child(char out[FERR_PATH_MAX], const char *parent, const char *name)
{
	if (parent == NULL || parent[0] == '\0')
		return ferr_join(out, "", "", name);
	return ferr_join(out, parent, ".", name);
}

const char *
ferr_index(char out[FERR_PATH_MAX], const char *parent, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	return ferr_join(out, parent, idx, "");
}

/* ---- Status ----------------------------------------------------------------- */

json_t *
ferr_status(int code, const char *reason, const char *message)
{
	return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind",
	    "Status", "apiVersion", "v1", "metadata", "status", "Failure",
	    "message", message, "reason", reason, "code", code);
}

static json_t *
ferr_causes(const struct ferr_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < l->n; i++) {
		json_t *c = json_pack("{s:s, s:s}", "reason",
		    ferr_cause_type(l->v[i].type), "message", l->v[i].message);

		if (c != NULL && l->v[i].field[0] != '\0')
			json_object_set_new(c, "field",
			    json_string(l->v[i].field));
		if (c == NULL || json_array_append_new(a, c) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Append to a growing malloc'd string. */
static int
ferr_cat(char **s, const char *a, const char *b, const char *c)
{
	char *n = NULL;

	if (asprintf(&n, "%s%s%s%s", *s ? *s : "", a, b, c) < 0)
		return -1;
	free(*s);
	*s = n;
	return 0;
}

static json_t *
ferr_finish(json_t *st, char *msg, json_t *details)
{
	if (st == NULL || msg == NULL || details == NULL)
		goto fail;
	if (json_object_set_new(st, "message", json_string(msg)) < 0 ||
	    json_object_set_new(st, "details", details) < 0) {
		details = NULL;
		goto fail;
	}
	free(msg);
	return st;
fail:
	json_decref(st);
	json_decref(details);
	free(msg);
	return NULL;
}

json_t *
ferr_status_invalid(const char *kind, const char *group, const char *name,
    const struct ferr_list *l)
{
	char *msg = NULL, q[FERR_PATH_MAX];
	json_t *details;
	int r;

	ferr_quote(name ? name : "", q, sizeof(q));
	r = asprintf(&msg, "%s%s%s %s is invalid%s", kind, group[0] ? "." : "",
	    group, q, l->n ? (l->n > 1 ? ": [" : ": ") : "");
	if (r < 0)
		msg = NULL;
	for (size_t i = 0; msg && i < l->n; i++)
		if (ferr_cat(&msg, i ? ", " : "", l->v[i].field[0] ?
		    l->v[i].field : "<nil>", ": ") < 0 ||
		    ferr_cat(&msg, l->v[i].message, "", "") < 0)
			break;
	if (msg && l->n > 1 && ferr_cat(&msg, "]", "", "") < 0) {
		free(msg);
		msg = NULL;
	}
	details = json_pack("{s:s, s:s, s:s, s:o*}", "name", name ? name : "",
	    "group", group, "kind", kind, "causes", ferr_causes(l));
	return ferr_finish(ferr_status(422, "Invalid", ""), msg, details);
}

json_t *
ferr_status_webhook(const char *webhook, const struct ferr_list *l)
{
	char *msg = NULL;
	json_t *details;

	if (asprintf(&msg, "admission webhook \"%s\" denied the request: ",
	    webhook) < 0)
		msg = NULL;
	for (size_t i = 0; msg && i < l->n; i++)
		if (ferr_cat(&msg, i ? ", " : "", l->v[i].message, "") < 0) {
			free(msg);
			msg = NULL;
		}
	details = json_pack("{s:o*}", "causes", ferr_causes(l));
	return ferr_finish(ferr_status(422, "Invalid", ""), msg, details);
}
