/*
 * kapi_path.c: what a client sends besides the body, parsed without
 * trusting it: the request path, the query string, label and field
 * selectors, media types (kapi_int.h). Every parser is bounded (segment
 * counts and lengths, selector terms) and fuzzed (tests/fuzz/fuzz_kapi.c).
 *
 * Paths, as the API server routes them:
 *   /version  /api  /apis  /apis/G  /api/v1  /apis/G/V
 *   /openapi/v3  /openapi/v3/api/v1  /openapi/v3/apis/G/V
 *   {/api/v1 | /apis/G/V} [/namespaces/NS] /RESOURCE [/NAME [/SUB]]
 * "namespaces/NS/RESOURCE" is a namespaced collection when RESOURCE is a
 * namespaced resource of the group-version, else (core v1) it is the
 * Namespace NS and its subresource.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kapi_int.h"
#include "validate.h"

#define KAPI_MAX_SEGS 10
#define KAPI_SEG_MAX 253
#define KAPI_SEL_MAX_TERMS 64
#define KAPI_SEL_MAX_VALUES 64

/* ---- paths -------------------------------------------------------------------- */

struct kapi_segs {
	int n;
	char s[KAPI_MAX_SEGS][KAPI_SEG_MAX + 1];
};

/* Split "/a/b/c" (one trailing '/' allowed); -1 if too many or too long. */
static int
kapi_split(const char *path, struct kapi_segs *g)
{
	const char *p = path;

	g->n = 0;
	if (*p != '/')
		return -1;
	while (*p == '/' && p[1] != '\0') {
		const char *e;
		size_t len;

		p++;
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 || len > KAPI_SEG_MAX || g->n == KAPI_MAX_SEGS)
			return -1;
		memcpy(g->s[g->n], p, len);
		g->s[g->n][len] = '\0';
		g->n++;
		p += len;
	}
	return 0;
}

/* A name or namespace segment: printable ASCII, not "." or "..". */
static int
kapi_seg_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
kapi_sub_ok(const struct kapi_res *r, const char *sub)
{
	if (!*sub)
		return r->special != KAPI_CONSOLE;
	if (!strcmp(sub, "status"))
		return (r->subres & KAPI_SUB_STATUS) != 0;
	if (!strcmp(sub, "scale"))
		return (r->subres & KAPI_SUB_SCALE) != 0;
	if (!strcmp(sub, "console"))
		return (r->subres & KAPI_SUB_CONSOLE) != 0;
	return 0;
}

/* The resource part: segs[i..] after the group-version. */
static void
kapi_parse_resource(const struct kapi_segs *g, int i, struct kapi_path *p)
{
	const struct kapi_res *r;
	int left = g->n - i;

	if (left >= 3 && !strcmp(g->s[i], "namespaces") &&
	    (r = kapi_res_find(p->group, p->version, g->s[i + 2])) &&
	    r->namespaced) {
		if (left > 5 || !kapi_seg_ok(g->s[i + 1], KAPI_NS_MAX))
			return;
		p->has_ns = 1;
		snprintf(p->ns, sizeof(p->ns), "%s", g->s[i + 1]);
		i += 2;
		left -= 2;
	} else {
		r = kapi_res_find(p->group, p->version, g->s[i]);
		if (!r || left > 3 || (r->namespaced && left > 1))
			return;
	}
	if (left >= 2) {
		if (!kapi_seg_ok(g->s[i + 1], KAPI_NAME_MAX))
			return;
		snprintf(p->name, sizeof(p->name), "%s", g->s[i + 1]);
	}
	if (left == 3) {
		if (strlen(g->s[i + 2]) >= sizeof(p->sub))
			return;
		snprintf(p->sub, sizeof(p->sub), "%s", g->s[i + 2]);
	}
	if (!kapi_sub_ok(r, p->sub))
		return;
	p->res = r;
	p->kind = KAPI_P_RESOURCE;
}

/* segs[i], segs[i+1]... is "api/v1" or "apis/G/V": index after it, or -1. */
static int
kapi_parse_gv(const struct kapi_segs *g, int i, struct kapi_path *p)
{
	if (i < g->n && !strcmp(g->s[i], "api")) {
		if (i + 1 >= g->n)
			return i + 1;
		if (strlen(g->s[i + 1]) >= sizeof(p->version))
			return -1;
		p->group[0] = '\0';
		snprintf(p->version, sizeof(p->version), "%s", g->s[i + 1]);
		return i + 2;
	}
	if (i < g->n && !strcmp(g->s[i], "apis")) {
		if (i + 1 >= g->n)
			return i + 1;
		if (strlen(g->s[i + 1]) >= sizeof(p->group))
			return -1;
		snprintf(p->group, sizeof(p->group), "%s", g->s[i + 1]);
		if (i + 2 >= g->n)
			return i + 2;
		if (strlen(g->s[i + 2]) >= sizeof(p->version))
			return -1;
		snprintf(p->version, sizeof(p->version), "%s", g->s[i + 2]);
		return i + 3;
	}
	return -1;
}

void
kapi_parse_path(const char *path, struct kapi_path *p)
{
	struct kapi_segs g;
	int i;

	memset(p, 0, sizeof(*p));
	if (!path || kapi_split(path, &g) < 0 || g.n == 0)
		return;
	if (g.n == 1 && !strcmp(g.s[0], "version")) {
		p->kind = KAPI_P_VERSION;
		return;
	}
	if (!strcmp(g.s[0], "openapi")) {
		if (g.n < 2 || strcmp(g.s[1], "v3"))
			return;
		if (g.n == 2) {
			p->kind = KAPI_P_OPENAPI;
			return;
		}
		i = kapi_parse_gv(&g, 2, p);
		if (i == g.n && p->version[0])
			p->kind = KAPI_P_OPENAPI_GV;
		return;
	}
	i = kapi_parse_gv(&g, 0, p);
	if (i < 0)
		return;
	if (i == g.n) {
		if (p->version[0])
			p->kind = KAPI_P_GV;
		else if (p->group[0])
			p->kind = KAPI_P_GROUP;
		else
			p->kind = !strcmp(g.s[0], "api") ? KAPI_P_API :
			    KAPI_P_APIS;
		return;
	}
	kapi_parse_resource(&g, i, p);
}

/* ---- query strings -------------------------------------------------------------- */

static int
kapi_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a new string; NULL on a bad escape/NUL. */
static char *
kapi_unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '+') {
			*o++ = ' ';
			continue;
		}
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= len)
			goto bad;
		hi = kapi_hex((unsigned char)s[i + 1]);
		lo = kapi_hex((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static void
kapi_set(char **slot, char *v)
{
	free(*slot);
	*slot = v;
}

static int
kapi_bool(const char *v)
{
	return !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True") ||
	    !strcmp(v, "");
}

static int
kapi_query_param(struct kapi_query *q, const char *key, char *v, char *err,
    size_t errlen)
{
	char *end;

	if (!strcmp(key, "labelSelector"))
		kapi_set(&q->label_selector, v);
	else if (!strcmp(key, "fieldSelector"))
		kapi_set(&q->field_selector, v);
	else if (!strcmp(key, "resourceVersion"))
		kapi_set(&q->resource_version, v);
	else if (!strcmp(key, "fieldValidation"))
		kapi_set(&q->field_validation, v);
	else if (!strcmp(key, "fieldManager"))
		kapi_set(&q->field_manager, v);
	else if (!strcmp(key, "propagationPolicy"))
		kapi_set(&q->propagation_policy, v);
	else if (!strcmp(key, "includeObject"))
		kapi_set(&q->include_object, v);
	else {
		if (!strcmp(key, "watch"))
			q->watch = kapi_bool(v);
		else if (!strcmp(key, "dryRun")) {
			if (*v && strcmp(v, "All")) {
				snprintf(err, errlen, "Invalid dry run value: "
				    "%.100s", v);
				free(v);
				return -1;
			}
			q->dry_run = *v != '\0';
		} else if (!strcmp(key, "timeoutSeconds")) {
			errno = 0;
			q->timeout_s = strtol(v, &end, 10);
			if (errno || end == v || *end || q->timeout_s < 0) {
				snprintf(err, errlen, "invalid value for "
				    "timeoutSeconds: \"%.100s\"", v);
				free(v);
				return -1;
			}
		}
		free(v);
	}
	return 0;
}

int
kapi_parse_query(const char *qs, struct kapi_query *q, char *err,
    size_t errlen)
{
	const char *p = qs ? qs : "";

	memset(q, 0, sizeof(*q));
	q->timeout_s = -1;
	while (*p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp ? (size_t)(amp - p) : strlen(p), klen;
		char *key, *val;

		eq = memchr(p, '=', len);
		klen = eq ? (size_t)(eq - p) : len;
		if (len > 0) {
			key = kapi_unescape(p, klen);
			val = eq ? kapi_unescape(eq + 1, len - klen - 1) :
			    strdup("");
			if (!key || !val) {
				free(key);
				free(val);
				snprintf(err, errlen, "invalid query string: a "
				    "bad %%-escape");
				goto fail;
			}
			if (kapi_query_param(q, key, val, err, errlen) < 0) {
				free(key);
				goto fail;
			}
			free(key);
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
fail:
	kapi_query_free(q);
	return -1;
}

void
kapi_query_free(struct kapi_query *q)
{
	free(q->label_selector);
	free(q->field_selector);
	free(q->resource_version);
	free(q->field_validation);
	free(q->field_manager);
	free(q->propagation_policy);
	free(q->include_object);
	memset(q, 0, sizeof(*q));
	q->timeout_s = -1;
}

/* ---- label selectors ------------------------------------------------------------ */

struct kapi_lex {
	const char *s;
	size_t i;
};

static void
kapi_ws(struct kapi_lex *l)
{
	while (l->s[l->i] == ' ' || l->s[l->i] == '\t')
		l->i++;
}

/* An identifier or value: up to whitespace or one of ",()=!<>". */
static int
kapi_word(struct kapi_lex *l, char *out, size_t max)
{
	size_t n = 0;

	kapi_ws(l);
	while (l->s[l->i] && !strchr(" \t,()=!<>", l->s[l->i])) {
		if (n + 1 >= max)
			return -1;
		out[n++] = l->s[l->i++];
	}
	out[n] = '\0';
	return (int)n;
}

static json_t *
kapi_req_expr(const char *key, const char *op, json_t *values)
{
	json_t *e = json_pack("{s:s, s:s}", "key", key, "operator", op);

	if (values)
		json_object_set_new(e, "values", values);
	return e;
}

/* "(a, b, c)" after in/notin. */
static json_t *
kapi_value_set(struct kapi_lex *l, char *err, size_t errlen)
{
	json_t *vals = json_array();
	char v[KAPI_SEG_MAX + 2];

	kapi_ws(l);
	if (l->s[l->i] != '(') {
		snprintf(err, errlen, "found '%c', expected: '('",
		    l->s[l->i] ? l->s[l->i] : ' ');
		goto fail;
	}
	l->i++;
	for (;;) {
		if (kapi_word(l, v, sizeof(v)) < 0 ||
		    json_array_size(vals) >= KAPI_SEL_MAX_VALUES) {
			snprintf(err, errlen, "value too long or too many");
			goto fail;
		}
		json_array_append_new(vals, json_string(v));
		kapi_ws(l);
		if (l->s[l->i] == ',') {
			l->i++;
			continue;
		}
		if (l->s[l->i] == ')') {
			l->i++;
			return vals;
		}
		snprintf(err, errlen, "found '%c', expected: ',' or ')'",
		    l->s[l->i] ? l->s[l->i] : ' ');
		goto fail;
	}
fail:
	json_decref(vals);
	return NULL;
}

/* One requirement; appended to exprs. 0 or -1 (err). */
static int
kapi_requirement(struct kapi_lex *l, json_t *exprs, char *err, size_t errlen)
{
	char key[KAPI_SEG_MAX + 2], op[8], v[KAPI_SEG_MAX + 2];
	json_t *vals;
	int neg = 0;

	kapi_ws(l);
	if (l->s[l->i] == '!') {
		neg = 1;
		l->i++;
	}
	if (kapi_word(l, key, sizeof(key)) <= 0) {
		snprintf(err, errlen, "found '%c', expected: identifier",
		    l->s[l->i] ? l->s[l->i] : ' ');
		return -1;
	}
	kapi_ws(l);
	if (neg || l->s[l->i] == ',' || l->s[l->i] == '\0')
		return json_array_append_new(exprs, kapi_req_expr(key, neg ?
		    "DoesNotExist" : "Exists", NULL));
	if (l->s[l->i] == '=' || l->s[l->i] == '!') {
		int ne = l->s[l->i] == '!';

		l->i++;
		if (ne && l->s[l->i] != '=') {
			snprintf(err, errlen, "found '!', expected: '!='");
			return -1;
		}
		if (l->s[l->i] == '=')
			l->i++;
		if (kapi_word(l, v, sizeof(v)) < 0) {
			snprintf(err, errlen, "value too long");
			return -1;
		}
		return json_array_append_new(exprs, kapi_req_expr(key, ne ?
		    "NotIn" : "In", json_pack("[s]", v)));
	}
	if (l->s[l->i] == '<' || l->s[l->i] == '>') {
		snprintf(err, errlen, "the operator '%c' is not supported "
		    "by Drover", l->s[l->i]);
		return -1;
	}
	if (kapi_word(l, op, sizeof(op)) <= 0 || (strcmp(op, "in") &&
	    strcmp(op, "notin"))) {
		snprintf(err, errlen, "found '%.20s', expected: in, notin, =, "
		    "==, !=, gt, lt", l->s + l->i);
		return -1;
	}
	vals = kapi_value_set(l, err, errlen);
	if (!vals)
		return -1;
	return json_array_append_new(exprs, kapi_req_expr(key, strcmp(op,
	    "in") ? "NotIn" : "In", vals));
}

json_t *
kapi_label_selector(const char *s, char *err, size_t errlen)
{
	struct kapi_lex l = { s ? s : "", 0 };
	json_t *exprs = json_array(), *sel, *empty;
	char why[256];

	kapi_ws(&l);
	while (l.s[l.i]) {
		if (json_array_size(exprs) >= KAPI_SEL_MAX_TERMS) {
			snprintf(why, sizeof(why), "too many requirements");
			goto bad;
		}
		if (kapi_requirement(&l, exprs, why, sizeof(why)) < 0)
			goto bad;
		kapi_ws(&l);
		if (l.s[l.i] == ',') {
			l.i++;
			kapi_ws(&l);
			if (!l.s[l.i]) {
				snprintf(why, sizeof(why), "found '', expected: "
				    "identifier");
				goto bad;
			}
		} else if (l.s[l.i]) {
			snprintf(why, sizeof(why), "found '%c', expected: ','",
			    l.s[l.i]);
			goto bad;
		}
	}
	sel = json_array_size(exprs) ? json_pack("{s:o}", "matchExpressions",
	    exprs) : (json_decref(exprs), json_object());
	empty = json_object();
	if (validate_selector_matches(sel, empty, why, sizeof(why)) < 0) {
		json_decref(empty);
		json_decref(sel);
		snprintf(err, errlen, "unable to parse requirement: %s", why);
		return NULL;
	}
	json_decref(empty);
	return sel;
bad:
	json_decref(exprs);
	snprintf(err, errlen, "unable to parse requirement: %s", why);
	return NULL;
}

/* ---- field selectors ------------------------------------------------------------ */

static const char *const kapi_fields_event[] = {
	"involvedObject.kind", "involvedObject.namespace",
	"involvedObject.name", "involvedObject.uid",
	"involvedObject.apiVersion", "involvedObject.resourceVersion",
	"involvedObject.fieldPath", "reason", "reportingComponent", "source",
	"type", NULL,
};
static const char *const kapi_fields_pod[] = {
	"spec.nodeName", "spec.restartPolicy", "status.phase", "status.podIP",
	NULL,
};

static int
kapi_field_known(const char *kind, const char *f)
{
	const char *const *list = NULL;

	if (!strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace"))
		return 1;
	if (kind && !strcmp(kind, "Event"))
		list = kapi_fields_event;
	else if (kind && !strcmp(kind, "Pod"))
		list = kapi_fields_pod;
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(list[i], f))
			return 1;
	return 0;
}

/* The value of field f of obj ("" when absent). */
static const char *
kapi_field_value(const json_t *obj, const char *f)
{
	char key[64];
	const json_t *v = obj;
	const char *p;

	if (!strcmp(f, "source"))
		f = "source.component";
	p = f;
	while (v && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(key))
			return "";
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		p += n + (dot ? 1 : 0);
	}
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Split one term at its operator, unescaping "\x"; 0 or -1. */
static int
kapi_fsel_term(const char *s, size_t len, struct kapi_fsel_term *t)
{
	char *buf = malloc(len + 1), *o = buf, *val = NULL;

	if (!buf)
		return -1;
	t->neg = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			*o++ = s[++i];
			continue;
		}
		if (!val && (s[i] == '=' || (s[i] == '!' && i + 1 < len &&
		    s[i + 1] == '='))) {
			t->neg = s[i] == '!';
			i += (s[i] == '!' || (i + 1 < len && s[i + 1] == '='));
			*o++ = '\0';
			val = o;
			continue;
		}
		*o++ = s[i];
	}
	*o = '\0';
	if (!val) {
		free(buf);
		return -1;
	}
	t->field = buf;
	t->value = strdup(val);
	if (!t->value) {
		free(buf);
		return -1;
	}
	/* trim the field name */
	for (char *e = t->field + strlen(t->field); e > t->field &&
	    (e[-1] == ' '); e--)
		e[-1] = '\0';
	return 0;
}

int
kapi_fsel_parse(const char *s, const char *kind, struct kapi_fsel *out,
    char *err, size_t errlen)
{
	const char *p = s ? s : "";

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *e = p;
		struct kapi_fsel_term t, *nt;

		while (*e && *e != ',') {
			if (*e == '\\' && e[1])
				e++;
			e++;
		}
		if (e == p) {
			p++;
			continue;
		}
		if (out->n >= KAPI_SEL_MAX_TERMS ||
		    kapi_fsel_term(p, (size_t)(e - p), &t) < 0) {
			snprintf(err, errlen, "invalid selector: '%.100s'; can't "
			    "understand '%.*s'", s, (int)(e - p) > 100 ? 100 :
			    (int)(e - p), p);
			goto fail;
		}
		if (!kapi_field_known(kind, t.field)) {
			snprintf(err, errlen, "field label not supported: %.100s",
			    t.field);
			free(t.field);
			free(t.value);
			goto fail;
		}
		nt = realloc(out->t, (out->n + 1) * sizeof(*nt));
		if (!nt) {
			free(t.field);
			free(t.value);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		out->t = nt;
		out->t[out->n++] = t;
		p = *e ? e + 1 : e;
	}
	return 0;
fail:
	kapi_fsel_free(out);
	return -1;
}

int
kapi_fsel_match(const struct kapi_fsel *f, const json_t *obj)
{
	for (size_t i = 0; i < f->n; i++) {
		const char *v = kapi_field_value(obj, f->t[i].field);

		if ((strcmp(v, f->t[i].value) == 0) == f->t[i].neg)
			return 0;
	}
	return 1;
}

const char *
kapi_fsel_name(const struct kapi_fsel *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (!f->t[i].neg && !strcmp(f->t[i].field, "metadata.name"))
			return f->t[i].value;
	return NULL;
}

void
kapi_fsel_free(struct kapi_fsel *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->t[i].field);
		free(f->t[i].value);
	}
	free(f->t);
	memset(f, 0, sizeof(*f));
}

/* ---- media types ---------------------------------------------------------------- */

int
kapi_media_is(const char *h, const char *want)
{
	size_t n = strlen(want);

	if (!h)
		return 0;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, want, n))
		return 0;
	h += n;
	while (*h == ' ')
		h++;
	return *h == '\0' || *h == ';';
}

int
kapi_accept_table(const char *accept)
{
	return accept && strcasestr(accept, "as=Table") != NULL;
}
