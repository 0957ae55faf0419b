/* ctl_get.c: `droverctl get`, printed as kubectl prints it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "columns.h"
#include "ctl.h"
#include "kinds.h"
#include "manifest.h"
#include "yamljson.h"

static const char *
ctl_str(const json_t *obj, const char *path)
{
	const char *s = manifest_str(obj, path);

	return s ? s : "";
}

/* A table being printed with kubectl's tabwriter settings. */
struct ctl_table {
	int ncols;
	json_t *rows;		/* array of arrays of strings */
};

/* minwidth 6, padding 3, like kubectl's printers.GetNewTabWriter. */
static void
ctl_table_print(const struct ctl_table *t)
{
	size_t *w = calloc((size_t)t->ncols, sizeof(*w)), i;
	json_t *row;

	if (!w)
		return;
	json_array_foreach(t->rows, i, row)
		for (int c = 0; c < t->ncols; c++) {
			size_t l = strlen(json_string_value(
			    json_array_get(row, c)));
			if (l + 3 > w[c])
				w[c] = l + 3;
		}
	json_array_foreach(t->rows, i, row) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = json_string_value(
			    json_array_get(row, c));

			if (c == t->ncols - 1)
				printf("%s\n", s);
			else
				printf("%-*s", (int)(w[c] < 6 ? 6 : w[c]), s);
		}
	}
	free(w);
}

/* A cell as kubectl prints it: null blank, numbers in decimal. */
static json_t *
ctl_cell(const json_t *v)
{
	char buf[32];

	if (json_is_string(v))
		return json_string(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return json_string(buf);
	}
	return json_string("");
}

/* The kind's columns as the API's Table gives them (columns.h). */
static void
ctl_print_table(const struct kinds_info *k, json_t *items, int with_ns,
    int wide)
{
	struct ctl_table t = { 0, json_array() };
	const struct columns_def *defs;
	size_t n, i;
	json_t *o, *row = json_array();
	time_t now = time(NULL);

	defs = columns_of(k->kind, &n);
	if (with_ns)
		json_array_append_new(row, json_string("NAMESPACE"));
	for (size_t c = 0; c < n; c++) {
		char up[64];
		size_t j;

		if (defs[c].priority && !wide)
			continue;
		for (j = 0; defs[c].name[j] && j + 1 < sizeof(up); j++)
			up[j] = (char)toupper((unsigned char)defs[c].name[j]);
		up[j] = '\0';
		json_array_append_new(row, json_string(up));
	}
	t.ncols = (int)json_array_size(row);
	json_array_append_new(t.rows, row);
	json_array_foreach(items, i, o) {
		json_t *cells = columns_cells(k->kind, o, now);

		row = json_array();
		if (with_ns)
			json_array_append_new(row, json_string(ctl_str(o,
			    "metadata.namespace")));
		for (size_t c = 0; c < n; c++)
			if (!defs[c].priority || wide)
				json_array_append_new(row, ctl_cell(
				    json_array_get(cells, c)));
		json_decref(cells);
		json_array_append_new(t.rows, row);
	}
	ctl_table_print(&t);
	json_decref(t.rows);
}

static int
ctl_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy with every object's keys sorted (kubectl prints them so). */
static json_t *
ctl_sorted(const json_t *v)
{
	json_t *out, *m;
	const char *key, **keys;
	size_t n = 0, i;

	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach((json_t *)v, i, m)
			json_array_append_new(out, ctl_sorted(m));
		return out;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	keys = calloc(json_object_size(v) + 1, sizeof(*keys));
	if (!keys)
		return NULL;
	json_object_foreach((json_t *)v, key, m)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), ctl_key_cmp);
	out = json_object();
	for (i = 0; i < n; i++)
		json_object_set_new(out, keys[i],
		    ctl_sorted(json_object_get(v, keys[i])));
	free(keys);
	return out;
}

static int
ctl_print_doc(const json_t *doc_in, const char *fmt)
{
	json_t *doc = ctl_sorted(doc_in);
	char *text = NULL;
	size_t len;
	int rc = 0;

	if (!doc)
		return 1;
	if (strcmp(fmt, "json") == 0) {
		text = json_dumps(doc, JSON_INDENT(4));
		if (text)
			printf("%s\n", text);
		else
			rc = 1;
	} else if (yamljson_emit(doc, &text, &len) < 0) {
		fprintf(stderr, "error: cannot print YAML\n");
		rc = 1;
	} else
		fwrite(text, 1, len, stdout);
	free(text);
	json_decref(doc);
	return rc;
}

static int
ctl_print(const struct kinds_info *k, json_t *items, const struct ctl_args *a,
    int single)
{
	const char *fmt = a->output ? a->output : "";
	char q[128];
	json_t *o;
	size_t i;

	if (strcmp(fmt, "json") == 0 || strcmp(fmt, "yaml") == 0) {
		json_t *doc;
		int rc;

		if (single)
			return ctl_print_doc(json_array_get(items, 0), fmt);
		doc = json_pack("{s:s, s:O, s:s, s:{s:s}}", "apiVersion", "v1",
		    "items", items, "kind", "List", "metadata",
		    "resourceVersion", "");
		rc = ctl_print_doc(doc, fmt);
		json_decref(doc);
		return rc;
	}
	if (strcmp(fmt, "name") == 0) {
		kinds_qualified_singular(k, q, sizeof(q));
		json_array_foreach(items, i, o)
			printf("%s/%s\n", q, ctl_str(o, "metadata.name"));
		return 0;
	}
	if (*fmt && strcmp(fmt, "wide") != 0) {
		fprintf(stderr, "error: unable to match a printer suitable for "
		    "the output format \"%s\", allowed formats are: json,name,"
		    "wide,yaml\n", fmt);
		return 1;
	}
	ctl_print_table(k, items, a->all_ns && k->namespaced, *fmt != '\0');
	return 0;
}

int
ctl_get_main(int argc, char **argv, const char *socket)
{
	const struct kinds_info *k;
	struct ctl_args a;
	json_t *req, *resp, *items;
	const char *ns;
	int rc;

	if ((rc = ctl_parse(argc, argv, &a)) != 0)
		return rc;
	if (a.npos < 1 || a.npos > 2) {
		fprintf(stderr, "usage: droverctl get KIND [NAME] [-n NS] [-A] "
		    "[-o json|yaml|name|wide]\n");
		return 2;
	}
	k = kinds_lookup(a.pos[0]);
	if (!k) {
		fprintf(stderr, "error: the server doesn't have a resource type "
		    "\"%s\"\n", a.pos[0]);
		return 1;
	}
	ns = a.ns ? a.ns : "default";
	if (a.npos == 2)
		req = json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind",
		    k->kind, "namespace", ns, "name", a.pos[1]);
	else if (a.all_ns)
		req = json_pack("{s:s, s:s}", "op", "list", "kind", k->kind);
	else
		req = json_pack("{s:s, s:s, s:s}", "op", "list", "kind",
		    k->kind, "namespace", ns);
	resp = ctl_call1(socket, req);
	if (!resp)
		return 1;
	if (ctl_server_error(resp, NULL)) {
		json_decref(resp);
		return 1;
	}
	if (a.npos == 2)
		items = json_pack("[O]", json_object_get(resp, "object"));
	else
		items = json_incref(json_object_get(resp, "items"));
	json_decref(resp);
	if (!json_is_array(items)) {
		json_decref(items);
		fprintf(stderr, "error: droverd sent a bad response\n");
		return 1;
	}
	if (json_array_size(items) == 0 && (!a.output ||
	    strcmp(a.output, "wide") == 0)) {
		if (a.all_ns || !k->namespaced)
			fprintf(stderr, "No resources found\n");
		else
			fprintf(stderr, "No resources found in %s namespace.\n",
			    ns);
		json_decref(items);
		return 0;
	}
	rc = ctl_print(k, items, &a, a.npos == 2);
	json_decref(items);
	return rc;
}
