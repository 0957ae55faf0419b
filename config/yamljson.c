/* yamljson.c: YAML (libyaml events) and JSON (jansson) to jansson trees. */
#include "yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct yj_frame {
	json_t *node;		/* object or array being filled */
	char *key;		/* pending key of an object */
	int merge;		/* the pending key is the merge key "<<" */
	char *anchor;		/* registered when the node is complete */
};

struct yj_anchor {
	char *name;
	json_t *node;
};

struct yj_ctx {
	yaml_parser_t parser;
	struct yj_frame stack[YAMLJSON_MAX_DEPTH + 1];
	int depth;
	struct yj_anchor *anchors;
	size_t nanchors, anchors_cap;
	json_t *docs;
	json_t *root;
	size_t nodes;
	int line, column;	/* of the event being handled, 1-based */
	struct yamljson_error *err;
};

static int
yj_fail(struct yamljson_error *err, int line, int column, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->column = column;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return -1;
}

#define YJ_FAIL(c, ...) yj_fail((c)->err, (c)->line, (c)->column, __VA_ARGS__)

const char *
yamljson_strerror(const struct yamljson_error *err, char *buf, size_t len)
{
	const char *pre = err->json ? "error parsing JSON: " :
	    "error converting YAML to JSON: yaml: ";

	if (err->line > 0)
		snprintf(buf, len, "%sline %d, column %d: %s", pre, err->line,
		    err->column, err->text);
	else
		snprintf(buf, len, "%s%s", pre, err->text);
	return buf;
}

/* ---- scalars ------------------------------------------------------------ */

struct yj_word {
	const char *s;
	int kind;	/* 0 null, 1 true, 2 false, 3 not representable */
};

static const struct yj_word yj_words[] = {
	{ "~", 0 }, { "null", 0 }, { "Null", 0 }, { "NULL", 0 },
	{ "y", 1 }, { "Y", 1 }, { "yes", 1 }, { "Yes", 1 }, { "YES", 1 },
	{ "true", 1 }, { "True", 1 }, { "TRUE", 1 },
	{ "on", 1 }, { "On", 1 }, { "ON", 1 },
	{ "n", 2 }, { "N", 2 }, { "no", 2 }, { "No", 2 }, { "NO", 2 },
	{ "false", 2 }, { "False", 2 }, { "FALSE", 2 },
	{ "off", 2 }, { "Off", 2 }, { "OFF", 2 },
	{ ".nan", 3 }, { ".NaN", 3 }, { ".NAN", 3 },
	{ ".inf", 3 }, { ".Inf", 3 }, { ".INF", 3 },
	{ "+.inf", 3 }, { "+.Inf", 3 }, { "+.INF", 3 },
	{ "-.inf", 3 }, { "-.Inf", 3 }, { "-.INF", 3 },
};

static int
yj_word(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(yj_words) / sizeof(yj_words[0]); i++)
		if (strlen(yj_words[i].s) == len &&
		    memcmp(yj_words[i].s, s, len) == 0)
			return yj_words[i].kind;
	return -1;
}

static int
yj_digit(char c, int base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return d < base ? d : -1;
}

/* Go's strconv.ParseInt(s, 0, 64), then ParseUint: 1 if s is an integer. */
static int
yj_parse_int(const char *s, int64_t *iv, double *big)
{
	uint64_t v = 0;
	int neg = 0, base = 10, d, n = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		base = 2, s += 2;
	else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		base = 8, s += 2;
	else if (s[0] == '0' && s[1] != '\0')
		base = 8, s += 1;
	for (; *s != '\0'; s++, n++) {
		d = yj_digit(*s, base);
		if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return 0;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (n == 0 || (neg && v > (uint64_t)INT64_MAX + 1))
		return 0;
	if (!neg && v > (uint64_t)INT64_MAX) {
		*big = (double)v;
		return 2;
	}
	*iv = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

static const char *
yj_skip_digits(const char *s)
{
	while (*s >= '0' && *s <= '9')
		s++;
	return s;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int
yj_is_float(const char *s)
{
	const char *p;

	if (*s == '+' || *s == '-')
		s++;
	if (*s == '.') {
		p = yj_skip_digits(s + 1);
		if (p == s + 1)
			return 0;
	} else {
		p = yj_skip_digits(s);
		if (p == s)
			return 0;
		if (*p == '.')
			p = yj_skip_digits(p + 1);
	}
	if (*p == 'e' || *p == 'E') {
		s = p + 1;
		if (*s == '+' || *s == '-')
			s++;
		p = yj_skip_digits(s);
		if (p == s)
			return 0;
	}
	return *p == '\0';
}

/* A JSON number for a double, integral values as integers (as Go does). */
static json_t *
yj_number_from_double(double v)
{
	if (v == floor(v) && v >= -9223372036854775808.0 &&
	    v < 9223372036854775808.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* A number, or NULL with *isnum 0 when the text is not one. */
static json_t *
yj_number(const char *s, size_t len, int *isnum)
{
	char buf[128];
	size_t n = 0;
	int64_t iv;
	double dv;
	int r;

	*isnum = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '_')
			continue;
		if (s[i] == '\0' || n + 1 >= sizeof(buf))
			return NULL;
		buf[n++] = s[i];
	}
	buf[n] = '\0';
	r = buf[0] == '.' ? 0 : yj_parse_int(buf, &iv, &dv);
	if (r != 0) {
		*isnum = 1;
		return r == 1 ? json_integer(iv) : json_real(dv);
	}
	if (!yj_is_float(buf))
		return NULL;
	dv = strtod(buf, NULL);
	if (!isfinite(dv))	/* Go's ParseFloat fails: a string */
		return NULL;
	*isnum = 1;
	return yj_number_from_double(dv);
}

static json_t *
yj_string(const char *s, size_t len)
{
	if (memchr(s, '\0', len) != NULL)
		return NULL;
	return json_stringn(s, len);
}

json_t *
yamljson_resolve_plain(const char *s, size_t len)
{
	json_t *num;
	int isnum;

	switch (len == 0 ? 0 : yj_word(s, len)) {
	case 0:
		return json_null();
	case 1:
		return json_true();
	case 2:
		return json_false();
	case 3:
		errno = EDOM;
		return NULL;
	}
	if (strchr("0123456789+-.", s[0]) != NULL) {
		num = yj_number(s, len, &isnum);
		if (isnum)
			return num;
	}
	return yj_string(s, len);
}

/* ---- YAML tags ------------------------------------------------------------- */

static int
yj_b64(int c)
{
	const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;

	return p ? (int)(p - tab) : -1;
}

/* !!binary: standard base64, whitespace ignored. */
static json_t *
yj_binary(const char *s, size_t len)
{
	unsigned char *out = malloc(len / 4 * 3 + 3);
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0, d;
	json_t *v = NULL;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			continue;
		if (s[i] == '=')
			break;
		if ((d = yj_b64((unsigned char)s[i])) < 0)
			goto out;
		acc = (acc << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	v = yj_string((const char *)out, n);
out:
	free(out);
	return v;
}

static const char *
yj_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return "!!int";
	case JSON_REAL:
		return "!!float";
	case JSON_TRUE:
	case JSON_FALSE:
		return "!!bool";
	case JSON_NULL:
		return "!!null";
	default:
		return "!!str";
	}
}

/* An explicitly tagged scalar. */
static json_t *
yj_tagged(struct yj_ctx *c, const char *tag, const char *s, size_t len)
{
	const char *pre = "tag:yaml.org,2002:", *t;
	json_t *v;
	int ok;

	if (strncmp(tag, pre, strlen(pre)) != 0)
		return yj_string(s, len);	/* "!", "!foo": strings */
	t = tag + strlen(pre);
	if (strcmp(t, "binary") == 0)
		return yj_binary(s, len);
	if (strcmp(t, "int") && strcmp(t, "float") && strcmp(t, "bool") &&
	    strcmp(t, "null"))
		return yj_string(s, len);
	v = yamljson_resolve_plain(s, len);
	if (v == NULL)
		return NULL;
	ok = strcmp(t, "int") == 0 ? json_is_integer(v) :
	    strcmp(t, "float") == 0 ? json_is_number(v) :
	    strcmp(t, "bool") == 0 ? json_is_boolean(v) : json_is_null(v);
	if (!ok) {
		YJ_FAIL(c, "cannot decode %s `%.*s` as a !!%s", yj_type_name(v),
		    (int)(len > 40 ? 40 : len), s, t);
		json_decref(v);
		errno = EINVAL;
		return NULL;
	}
	return v;
}

static json_t *
yj_scalar(struct yj_ctx *c, const yaml_event_t *ev, int *merge)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	json_t *v;

	*merge = 0;
	errno = 0;
	if (tag != NULL)
		v = yj_tagged(c, tag, s, len);
	else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		*merge = len == 2 && memcmp(s, "<<", 2) == 0;
		v = yamljson_resolve_plain(s, len);
	} else
		v = yj_string(s, len);
	if (v != NULL || errno == EINVAL)
		return v;
	if (errno == EDOM)
		YJ_FAIL(c, "json: unsupported value: %s", s[0] == '-' ? "-Inf" :
		    (s[1] == 'n' || s[1] == 'N') ? "NaN" : "+Inf");
	else if (memchr(s, '\0', len) != NULL)
		YJ_FAIL(c, "NUL characters are not allowed in strings");
	else
		YJ_FAIL(c, "invalid UTF-8 or out of memory");
	return NULL;
}

/* ---- keys ---------------------------------------------------------------- */

/* Go's strconv.FormatFloat(v, 'g', -1, 32), as sigs.k8s.io/yaml does. */
static void
yj_float_key(double v, char *buf, size_t len)
{
	float f = (float)v;
	const char *e;
	int p, exp;

	for (p = 1; p < 9; p++) {
		snprintf(buf, len, "%.*e", p - 1, (double)f);
		if ((float)strtod(buf, NULL) == f)
			break;
	}
	e = strchr(buf, 'e');
	exp = e ? atoi(e + 1) : 0;
	if (exp < -4 || exp >= 21)
		return;
	snprintf(buf, len, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0,
	    (double)f);
}

/* The key string for a scalar value; NULL with an error set otherwise. */
static char *
yj_key(struct yj_ctx *c, const json_t *k)
{
	char buf[64];

	switch (json_typeof(k)) {
	case JSON_STRING:
		return strdup(json_string_value(k));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(k));
		return strdup(buf);
	case JSON_REAL:
		yj_float_key(json_real_value(k), buf, sizeof(buf));
		return strdup(buf);
	case JSON_TRUE:
	case JSON_FALSE:
		return strdup(json_is_true(k) ? "true" : "false");
	case JSON_NULL:
		YJ_FAIL(c, "unsupported map key of type: <nil>");
		return NULL;
	default:
		YJ_FAIL(c, "invalid map key: maps and sequences cannot be keys");
		return NULL;
	}
}

/* ---- the tree -------------------------------------------------------------- */

static int
yj_count(struct yj_ctx *c, size_t n, const char *why)
{
	if (n > YAMLJSON_MAX_NODES || c->nodes + n > YAMLJSON_MAX_NODES)
		return YJ_FAIL(c, "%s", why);
	c->nodes += n;
	return 0;
}

static int
yj_tree_size(const json_t *v, int depth, size_t *n, int *maxdepth)
{
	const char *k;
	json_t *e;
	size_t i;

	if (depth > *maxdepth)
		*maxdepth = depth;
	if (++*n > YAMLJSON_MAX_NODES || depth > YAMLJSON_MAX_DEPTH)
		return -1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
			if (yj_tree_size(e, depth + 1, n, maxdepth) < 0)
				return -1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (yj_tree_size(e, depth + 1, n, maxdepth) < 0)
				return -1;
	}
	return 0;
}

/* Merge key: add the keys of a mapping (or of each in a sequence). */
static int
yj_merge(struct yj_ctx *c, json_t *obj, json_t *src)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_array(src)) {
		json_array_foreach(src, i, e)
			if (!json_is_object(e) || yj_merge(c, obj, e) < 0)
				return YJ_FAIL(c, "map merge requires map or "
				    "sequence of maps as the value");
		return 0;
	}
	if (!json_is_object(src))
		return YJ_FAIL(c, "map merge requires map or sequence of maps "
		    "as the value");
	json_object_foreach(src, k, e)
		if (json_object_get(obj, k) == NULL &&
		    json_object_set(obj, k, e) < 0)
			return YJ_FAIL(c, "out of memory");
	return 0;
}

/* Put a complete value into its parent (steals v). */
static int
yj_add(struct yj_ctx *c, json_t *v, int merge_key)
{
	struct yj_frame *f;
	int r = 0;

	if (c->depth == 0) {
		c->root = v;
		return 0;
	}
	f = &c->stack[c->depth - 1];
	if (json_is_array(f->node))
		r = json_array_append_new(f->node, v) < 0 ? -1 : 0;
	else if (f->key == NULL && !f->merge) {
		f->merge = merge_key;
		if (!merge_key && (f->key = yj_key(c, v)) == NULL)
			r = -1;
		json_decref(v);
		return r;
	} else if (f->merge) {
		f->merge = 0;
		r = yj_merge(c, f->node, v);
		json_decref(v);
	} else {
		r = json_object_set_new(f->node, f->key, v) < 0 ? -1 : 0;
		free(f->key);
		f->key = NULL;
	}
	if (r < 0 && c->err->text[0] == '\0')
		YJ_FAIL(c, "out of memory");
	return r;
}

static int
yj_anchor(struct yj_ctx *c, const char *name, json_t *v)
{
	struct yj_anchor *a;

	if (c->nanchors == c->anchors_cap) {
		size_t cap = c->anchors_cap ? 2 * c->anchors_cap : 16;

		a = realloc(c->anchors, cap * sizeof(*a));
		if (a == NULL)
			return YJ_FAIL(c, "out of memory");
		c->anchors = a;
		c->anchors_cap = cap;
	}
	a = &c->anchors[c->nanchors];
	if ((a->name = strdup(name)) == NULL)
		return YJ_FAIL(c, "out of memory");
	a->node = json_incref(v);
	c->nanchors++;
	return 0;
}

static void
yj_anchors_clear(struct yj_ctx *c)
{
	for (size_t i = 0; i < c->nanchors; i++) {
		free(c->anchors[i].name);
		json_decref(c->anchors[i].node);
	}
	c->nanchors = 0;
}

/* The latest anchor of that name (anchors may be redefined). */
static json_t *
yj_anchor_find(struct yj_ctx *c, const char *name)
{
	for (size_t i = c->nanchors; i > 0; i--)
		if (strcmp(c->anchors[i - 1].name, name) == 0)
			return c->anchors[i - 1].node;
	return NULL;
}

static int
yj_on_alias(struct yj_ctx *c, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	json_t *src = yj_anchor_find(c, name), *copy;
	size_t n = 0;
	int d = 0;

	if (src == NULL)
		return YJ_FAIL(c, "unknown anchor '%s' referenced", name);
	if (yj_tree_size(src, 0, &n, &d) < 0 || yj_count(c, n,
	    "document contains excessive aliasing") < 0)
		return YJ_FAIL(c, "document contains excessive aliasing");
	if (c->depth + d > YAMLJSON_MAX_DEPTH)
		return YJ_FAIL(c, "exceeded max depth of %d", YAMLJSON_MAX_DEPTH);
	copy = json_deep_copy(src);
	if (copy == NULL)
		return YJ_FAIL(c, "out of memory");
	return yj_add(c, copy, 0);
}

static int
yj_on_scalar(struct yj_ctx *c, const yaml_event_t *ev)
{
	json_t *v;
	int merge;

	if (yj_count(c, 1, "too many values") < 0)
		return -1;
	if ((v = yj_scalar(c, ev, &merge)) == NULL)
		return -1;
	if (ev->data.scalar.anchor != NULL &&
	    yj_anchor(c, (const char *)ev->data.scalar.anchor, v) < 0) {
		json_decref(v);
		return -1;
	}
	return yj_add(c, v, merge);
}

static int
yj_on_start(struct yj_ctx *c, json_t *node, const yaml_char_t *anchor)
{
	struct yj_frame *f;

	if (node == NULL)
		return YJ_FAIL(c, "out of memory");
	if (c->depth >= YAMLJSON_MAX_DEPTH || yj_count(c, 1, "too many values")) {
		json_decref(node);
		return c->depth >= YAMLJSON_MAX_DEPTH ? YJ_FAIL(c,
		    "exceeded max depth of %d", YAMLJSON_MAX_DEPTH) : -1;
	}
	f = &c->stack[c->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node;
	if (anchor != NULL && (f->anchor = strdup((const char *)anchor)) == NULL)
		return YJ_FAIL(c, "out of memory");
	return 0;
}

static int
yj_on_end(struct yj_ctx *c)
{
	struct yj_frame *f = &c->stack[--c->depth];
	json_t *node = f->node;
	int r = 0;

	free(f->key);
	if (f->anchor != NULL)
		r = yj_anchor(c, f->anchor, node);
	free(f->anchor);
	memset(f, 0, sizeof(*f));
	if (r < 0) {
		json_decref(node);
		return -1;
	}
	return yj_add(c, node, 0);
}

static int
yj_on_document_end(struct yj_ctx *c)
{
	json_t *doc = c->root;

	c->root = NULL;
	yj_anchors_clear(c);
	if (doc == NULL || json_is_null(doc)) {
		json_decref(doc);
		return 0;
	}
	if (json_array_size(c->docs) >= YAMLJSON_MAX_DOCS) {
		json_decref(doc);
		return YJ_FAIL(c, "more than %d documents", YAMLJSON_MAX_DOCS);
	}
	return json_array_append_new(c->docs, doc) < 0 ?
	    YJ_FAIL(c, "out of memory") : 0;
}

static int
yj_event(struct yj_ctx *c, const yaml_event_t *ev)
{
	c->line = (int)ev->start_mark.line + 1;
	c->column = (int)ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return yj_on_scalar(c, ev);
	case YAML_ALIAS_EVENT:
		return yj_on_alias(c, ev);
	case YAML_MAPPING_START_EVENT:
		return yj_on_start(c, json_object(),
		    ev->data.mapping_start.anchor);
	case YAML_SEQUENCE_START_EVENT:
		return yj_on_start(c, json_array(),
		    ev->data.sequence_start.anchor);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		return yj_on_end(c);
	case YAML_DOCUMENT_END_EVENT:
		return yj_on_document_end(c);
	default:
		return 0;
	}
}

static void
yj_parser_error(struct yj_ctx *c)
{
	const yaml_parser_t *p = &c->parser;
	const char *what = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_READER_ERROR)
		yj_fail(c->err, 0, 0, "%s at byte %zu", what, p->problem_offset);
	else
		yj_fail(c->err, (int)p->problem_mark.line + 1,
		    (int)p->problem_mark.column + 1, "%s", what);
}

static void
yj_ctx_free(struct yj_ctx *c)
{
	while (c->depth > 0) {
		struct yj_frame *f = &c->stack[--c->depth];

		json_decref(f->node);
		free(f->key);
		free(f->anchor);
	}
	yj_anchors_clear(c);
	free(c->anchors);
	json_decref(c->root);
	yaml_parser_delete(&c->parser);
}

json_t *
yamljson_load_yaml(const char *buf, size_t len, struct yamljson_error *err)
{
	struct yj_ctx c;
	yaml_event_t ev;
	int done = 0, r = 0;

	memset(err, 0, sizeof(*err));
	memset(&c, 0, sizeof(c));
	c.err = err;
	if (len > YAMLJSON_MAX_INPUT) {
		yj_fail(err, 0, 0, "input larger than %u bytes", YAMLJSON_MAX_INPUT);
		return NULL;
	}
	if (!yaml_parser_initialize(&c.parser) || (c.docs = json_array()) == NULL) {
		yj_fail(err, 0, 0, "out of memory");
		yaml_parser_delete(&c.parser);
		return NULL;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)buf, len);
	while (!done && r == 0) {
		if (!yaml_parser_parse(&c.parser, &ev)) {
			yj_parser_error(&c);
			r = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		r = yj_event(&c, &ev);
		yaml_event_delete(&ev);
	}
	yj_ctx_free(&c);
	if (r < 0) {
		json_decref(c.docs);
		return NULL;
	}
	return c.docs;
}

/* ---- JSON ------------------------------------------------------------------------ */

/* Integral reals to integers (in children; *v itself by the caller). */
static int
yj_json_fix(json_t *v, int depth, size_t *n)
{
	const char *k;
	json_t *e;
	size_t i;

	if (++*n > YAMLJSON_MAX_NODES || depth > YAMLJSON_MAX_DEPTH)
		return -1;
	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			if (json_is_real(e) && json_object_set_new(v, k,
			    yj_number_from_double(json_real_value(e))) < 0)
				return -1;
			if (yj_json_fix(json_object_get(v, k), depth + 1, n) < 0)
				return -1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (json_is_real(e) && json_array_set_new(v, i,
			    yj_number_from_double(json_real_value(e))) < 0)
				return -1;
			if (yj_json_fix(json_array_get(v, i), depth + 1, n) < 0)
				return -1;
		}
	}
	return 0;
}

static int
yj_line_of(const char *buf, size_t off, int *col)
{
	int line = 1;
	size_t start = 0;

	for (size_t i = 0; i < off; i++)
		if (buf[i] == '\n') {
			line++;
			start = i + 1;
		}
	*col = (int)(off - start) + 1;
	return line;
}

json_t *
yamljson_load_json(const char *buf, size_t len, struct yamljson_error *err)
{
	json_t *docs = json_array(), *v;
	json_error_t je;
	size_t off = 0, n = 0;
	int line, col;

	memset(err, 0, sizeof(*err));
	err->json = 1;
	if (docs == NULL || len > YAMLJSON_MAX_INPUT) {
		yj_fail(err, 0, 0, docs ? "input too large" : "out of memory");
		goto fail;
	}
	for (;;) {
		while (off < len && (buf[off] == ' ' || buf[off] == '\t' ||
		    buf[off] == '\r' || buf[off] == '\n'))
			off++;
		if (off >= len)
			return docs;
		v = json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK |
		    JSON_DECODE_ANY, &je);
		if (v == NULL) {
			line = yj_line_of(buf, off, &col);
			yj_fail(err, line + je.line - 1, je.line == 1 ?
			    col + je.column - 1 : je.column, "%s", je.text);
			goto fail;
		}
		off += je.position;
		if (yj_json_fix(v, 0, &n) < 0) {
			json_decref(v);
			yj_fail(err, 0, 0, "document too large or too deep");
			goto fail;
		}
		if (json_array_size(docs) >= YAMLJSON_MAX_DOCS) {
			json_decref(v);
			yj_fail(err, 0, 0, "more than %d documents",
			    YAMLJSON_MAX_DOCS);
			goto fail;
		}
		if (!json_is_null(v) && json_array_append(docs, v) < 0) {
			json_decref(v);
			yj_fail(err, 0, 0, "out of memory");
			goto fail;
		}
		json_decref(v);
	}
fail:
	json_decref(docs);
	return NULL;
}

json_t *
yamljson_load(const char *buf, size_t len, struct yamljson_error *err)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
	    buf[i] == '\n'))
		i++;
	if (i < len && buf[i] == '{')
		return yamljson_load_json(buf, len, err);
	return yamljson_load_yaml(buf, len, err);
}
