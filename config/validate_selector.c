/*
 * validate_selector.c: metav1.LabelSelector as labels.Selector: validity
 * (NewRequirement's errors, worded as apimachinery words them), matching,
 * and the string form that status.labelSelector carries.
 */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sel_op { SEL_EQ, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOTEXISTS };

struct sel_req {
	const char *key;
	enum sel_op op;
	const char *eq;		/* SEL_EQ */
	const json_t *values;	/* array of strings, or NULL */
};

/* []string as Go's %#v prints it. */
static void
sel_values_str(const json_t *values, char *buf, size_t len)
{
	size_t n, i;
	json_t *v;
	char q[200];

	if (json_array_size(values) == 0) {
		snprintf(buf, len, "[]string(nil)");
		return;
	}
	n = (size_t)snprintf(buf, len, "[]string{");
	json_array_foreach(values, i, v)
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    i ? ", " : "", ferr_quote(json_string_value(v) ?
			    json_string_value(v) : "", q, sizeof(q)));
	if (n < len)
		snprintf(buf + n, len - n, "}");
}

/* labels.NewRequirement's checks. */
static void
sel_req_check(const struct sel_req *r, struct ferr_list *l)
{
	struct validate_msgs m;
	char q[400], j[1200], vs[600], p[FERR_PATH_MAX];
	size_t n = json_array_size(r->values), i;
	json_t *v;

	validate_qualified_name(r->key, &m);
	if (m.n)
		ferr_k8s(l, FERR_INVALID, "key", ferr_quote(r->key, q, sizeof(q)),
		    "%s", validate_join(&m, "; ", j, sizeof(j)));
	sel_values_str(r->values, vs, sizeof(vs));
	if ((r->op == SEL_IN || r->op == SEL_NOTIN) && n == 0)
		ferr_k8s(l, FERR_INVALID, "values", vs, "for 'in', 'notin' "
		    "operators, values set can't be empty");
	if ((r->op == SEL_EXISTS || r->op == SEL_NOTEXISTS) && n != 0)
		ferr_k8s(l, FERR_INVALID, "values", vs, "values set must be "
		    "empty for exists and does not exist");
	json_array_foreach(r->values, i, v) {
		const char *s = json_string_value(v) ? json_string_value(v) : "";

		validate_label_value(s, &m);
		if (m.n == 0)
			continue;
		ferr_index(p, "values", i);
		snprintf(p + strlen(p), sizeof(p) - strlen(p), "[%s]", r->key);
		ferr_k8s(l, FERR_INVALID, p, ferr_quote(s, q, sizeof(q)), "%s",
		    validate_join(&m, "; ", j, sizeof(j)));
	}
}

/* The aggregate's text: "f: m" or "[f: m, g: n]". */
static void
sel_aggregate(const struct ferr_list *l, char *err, size_t len)
{
	size_t n = 0;

	if (l->n > 1)
		n += (size_t)snprintf(err, len, "[");
	for (size_t i = 0; i < l->n && n < len; i++)
		n += (size_t)snprintf(err + n, len - n, "%s%s: %s", i ? ", " : "",
		    l->v[i].field, l->v[i].message);
	if (l->n > 1 && n < len)
		snprintf(err + n, len - n, "]");
}

static int
sel_op_parse(const char *s, enum sel_op *op)
{
	static const char *const names[] = { "", "In", "NotIn", "Exists",
	    "DoesNotExist" };

	for (int i = 1; i < 5; i++)
		if (strcmp(s, names[i]) == 0) {
			*op = (enum sel_op)i;
			return 0;
		}
	return -1;
}

/*
 * The requirements of a selector into reqs (up to max); returns how many,
 * or -1 with err set. A NULL selector gives -2 (matches nothing).
 */
static int
sel_reqs(const json_t *sel, struct sel_req *reqs, int max, char *err,
    size_t len)
{
	const json_t *ml = json_object_get(sel, "matchLabels");
	const json_t *me = json_object_get(sel, "matchExpressions"), *e;
	struct ferr_list l;
	const char *k;
	json_t *v;
	size_t i;
	int n = 0;

	if (!json_is_object(sel))
		return -2;
	json_object_foreach((json_t *)ml, k, v)
		if (n < max)
			reqs[n++] = (struct sel_req){ k, SEL_EQ,
			    json_string_value(v) ? json_string_value(v) : "", NULL };
	json_array_foreach(me, i, e) {
		const char *op = json_string_value(json_object_get(e, "operator"));

		if (n >= max)
			break;
		reqs[n] = (struct sel_req){ json_string_value(json_object_get(e,
		    "key")), SEL_EQ, NULL, json_object_get(e, "values") };
		if (reqs[n].key == NULL)
			reqs[n].key = "";
		if (sel_op_parse(op ? op : "", &reqs[n].op) < 0) {
			char q[200];

			snprintf(err, len, "%s is not a valid label selector "
			    "operator", ferr_quote(op ? op : "", q, sizeof(q)));
			return -1;
		}
		n++;
	}
	for (int r = 0; r < n; r++) {
		ferr_init(&l);
		sel_req_check(&reqs[r], &l);
		if (l.n)
			sel_aggregate(&l, err, len);
		ferr_free(&l);
		if (err[0] != '\0')
			return -1;
	}
	return n;
}

static int
sel_in(const json_t *values, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(values, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

static int
sel_req_matches(const struct sel_req *r, const json_t *labels)
{
	const char *have = json_string_value(json_object_get(labels, r->key));

	switch (r->op) {
	case SEL_EQ:
		return have != NULL && strcmp(have, r->eq) == 0;
	case SEL_IN:
		return have != NULL && sel_in(r->values, have);
	case SEL_NOTIN:
		return have == NULL || !sel_in(r->values, have);
	case SEL_EXISTS:
		return have != NULL;
	default:
		return have == NULL;
	}
}

#define SEL_MAX 256

int
validate_selector_matches(const json_t *selector, const json_t *labels,
    char *err, size_t errlen)
{
	struct sel_req *reqs = calloc(SEL_MAX, sizeof(*reqs));
	int n, r = 1;

	if (reqs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	err[0] = '\0';
	n = sel_reqs(selector, reqs, SEL_MAX, err, errlen);
	if (n == -2)
		r = 0;
	else if (n < 0)
		r = -1;
	for (int i = 0; r == 1 && i < n; i++)
		r = sel_req_matches(&reqs[i], labels);
	free(reqs);
	return r;
}

static int
sel_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
sel_cmp_req(const void *a, const void *b)
{
	return strcmp(((const struct sel_req *)a)->key,
	    ((const struct sel_req *)b)->key);
}

/* "k in (a,b)": values sorted. */
static int
sel_req_string(const struct sel_req *r, FILE *f)
{
	const char *vals[SEL_MAX];
	size_t n = 0, i;
	json_t *v;

	switch (r->op) {
	case SEL_EQ:
		return fprintf(f, "%s=%s", r->key, r->eq);
	case SEL_EXISTS:
		return fprintf(f, "%s", r->key);
	case SEL_NOTEXISTS:
		return fprintf(f, "!%s", r->key);
	default:
		break;
	}
	json_array_foreach(r->values, i, v)
		if (n < SEL_MAX && json_is_string(v))
			vals[n++] = json_string_value(v);
	qsort(vals, n, sizeof(vals[0]), sel_cmp_str);
	fprintf(f, "%s %s (", r->key, r->op == SEL_IN ? "in" : "notin");
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", vals[i]);
	return fprintf(f, ")");
}

char *
validate_selector_string(const json_t *selector)
{
	struct sel_req *reqs = calloc(SEL_MAX, sizeof(*reqs));
	char err[512] = "", *out = NULL;
	size_t len = 0;
	FILE *f;
	int n;

	if (reqs == NULL)
		return NULL;
	n = sel_reqs(selector, reqs, SEL_MAX, err, sizeof(err));
	if (n == -2)
		n = 0;
	if (n >= 0 && (f = open_memstream(&out, &len)) != NULL) {
		qsort(reqs, (size_t)n, sizeof(reqs[0]), sel_cmp_req);
		for (int i = 0; i < n; i++) {
			if (i)
				fputc(',', f);
			sel_req_string(&reqs[i], f);
		}
		fclose(f);
	}
	free(reqs);
	return out;
}
