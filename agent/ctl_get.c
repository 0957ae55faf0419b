/* ctl_get.c: `droverctl get`, printed as kubectl prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "kinds.h"
#include "manifest.h"
#include "yamljson.h"

#define CTL_MAXCOLS 10	/* NAMESPACE + a kind's widest row (VMI -o wide: 8) */

/* A table being printed with kubectl's tabwriter settings. */
struct ctl_table {
	int ncols;
	json_t *rows;		/* array of arrays of strings */
};

static void
ctl_row(struct ctl_table *t, const char *const *cells)
{
	json_t *row = json_array();

	for (int i = 0; i < t->ncols; i++)
		json_array_append_new(row, json_string(cells[i] ? cells[i] :
		    ""));
	json_array_append_new(t->rows, row);
}

/* minwidth 6, padding 3, like kubectl's printers.GetNewTabWriter. */
static void
ctl_table_print(const struct ctl_table *t)
{
	size_t w[CTL_MAXCOLS] = { 0 }, i;
	json_t *row;

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
}

static const char *
ctl_num(const json_t *obj, const char *path, char *buf, size_t len)
{
	const json_t *v = obj;
	char p[128], *save = NULL, *tok;

	snprintf(p, sizeof(p), "%s", path);
	for (tok = strtok_r(p, ".", &save); tok && v;
	    tok = strtok_r(NULL, ".", &save))
		v = json_object_get(v, tok);
	buf[0] = '\0';
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	return buf;
}

/* The status of condition type in .status.conditions. */
static const char *
ctl_condition(const json_t *obj, const char *type)
{
	json_t *conds = json_object_get(json_object_get(obj, "status"),
	    "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c)
		if (json_is_string(json_object_get(c, "type")) &&
		    strcmp(json_string_value(json_object_get(c, "type")),
		    type) == 0)
			return json_string_value(json_object_get(c, "status"));
	return "";
}

static const char *
ctl_str(const json_t *obj, const char *path)
{
	const char *s = manifest_str(obj, path);

	return s ? s : "";
}

/* The HPA's TARGETS column: "cpu: 2%/75%" or "cpu: <unknown>/75%". */
static const char *
ctl_hpa_targets(const json_t *hpa, char *buf, size_t len)
{
	json_t *spec = json_object_get(hpa, "spec"), *st, *m, *cur;
	json_t *target = json_object_get(spec,
	    "targetCPUUtilizationPercentage");
	char curs[32] = "<unknown>";
	size_t i;

	st = json_object_get(hpa, "status");
	cur = json_object_get(st, "currentCPUUtilizationPercentage");
	json_array_foreach(json_object_get(spec, "metrics"), i, m) {
		json_t *res = json_object_get(m, "resource");

		if (strcmp(ctl_str(res, "name"), "cpu") != 0)
			continue;
		target = json_object_get(json_object_get(res, "target"),
		    "averageUtilization");
		break;
	}
	json_array_foreach(json_object_get(st, "currentMetrics"), i, m) {
		json_t *res = json_object_get(m, "resource");

		if (strcmp(ctl_str(res, "name"), "cpu") == 0)
			cur = json_object_get(json_object_get(res, "current"),
			    "averageUtilization");
	}
	if (json_is_integer(cur))
		snprintf(curs, sizeof(curs), "%lld%%",
		    (long long)json_integer_value(cur));
	if (!json_is_integer(target))
		snprintf(buf, len, "<none>");
	else
		snprintf(buf, len, "cpu: %s/%lld%%", curs,
		    (long long)json_integer_value(target));
	return buf;
}

/* Headers and cells of a kind (without NAMESPACE). */
static int
ctl_cells(const struct kinds_info *k, const json_t *o, const char **cells,
    char bufs[][128], int wide)
{
	const char *kind = k->kind;
	int n = 0;

	cells[n++] = o ? ctl_str(o, "metadata.name") : "NAME";
#define AGE() (o ? ctl_age(manifest_str(o, "metadata.creationTimestamp"), \
    bufs[n], 128) : "AGE")
	if (strcmp(kind, "VirtualMachineInstanceReplicaSet") == 0) {
		cells[n] = o ? ctl_num(o, "spec.replicas", bufs[n], 128) :
		    "DESIRED", n++;
		cells[n] = o ? ctl_num(o, "status.replicas", bufs[n], 128) :
		    "CURRENT", n++;
		cells[n] = o ? ctl_num(o, "status.readyReplicas", bufs[n],
		    128) : "READY", n++;
		cells[n] = AGE(), n++;
	} else if (strcmp(kind, "VirtualMachineInstance") == 0) {
		json_t *ifs = json_object_get(json_object_get(o, "status"),
		    "interfaces");

		cells[n] = AGE(), n++;
		cells[n++] = o ? ctl_str(o, "status.phase") : "PHASE";
		cells[n++] = o ? ctl_str(json_array_get(ifs, 0), "ipAddress") :
		    "IP";
		cells[n++] = o ? ctl_str(o, "status.nodeName") : "NODENAME";
		cells[n++] = o ? ctl_condition(o, "Ready") : "READY";
		if (wide) {	/* KubeVirt's priority-1 columns */
			cells[n++] = o ? ctl_condition(o, "LiveMigratable") :
			    "LIVE-MIGRATABLE";
			cells[n++] = o ? ctl_condition(o, "Paused") : "PAUSED";
		}
	} else if (strcmp(kind, "HorizontalPodAutoscaler") == 0) {
		if (o)
			snprintf(bufs[n], 128, "%s/%s",
			    ctl_str(o, "spec.scaleTargetRef.kind"),
			    ctl_str(o, "spec.scaleTargetRef.name"));
		cells[n] = o ? bufs[n] : "REFERENCE", n++;
		cells[n] = o ? ctl_hpa_targets(o, bufs[n], 128) : "TARGETS",
		    n++;
		cells[n] = o ? ctl_num(o, "spec.minReplicas", bufs[n], 128) :
		    "MINPODS", n++;
		cells[n] = o ? ctl_num(o, "spec.maxReplicas", bufs[n], 128) :
		    "MAXPODS", n++;
		cells[n] = o ? ctl_num(o, "status.currentReplicas", bufs[n],
		    128) : "REPLICAS", n++;
		cells[n] = AGE(), n++;
	} else if (strcmp(kind, "Pod") == 0) {
		cells[n++] = o ? (strcmp(ctl_str(o, "status.phase"),
		    "Running") == 0 ? "1/1" : "0/1") : "READY";
		cells[n++] = o ? ctl_str(o, "status.phase") : "STATUS";
		cells[n++] = o ? "0" : "RESTARTS";
		cells[n] = AGE(), n++;
	} else if (strcmp(kind, "Event") == 0) {
		cells[0] = o ? ctl_age(manifest_str(o, "lastTimestamp"),
		    bufs[0], 128) : "LAST SEEN";
		cells[n++] = o ? ctl_str(o, "type") : "TYPE";
		cells[n++] = o ? ctl_str(o, "reason") : "REASON";
		if (o) {
			const struct kinds_info *ik = kinds_by_kind(
			    ctl_str(o, "involvedObject.kind"));

			snprintf(bufs[n], 128, "%s/%s", ik ? ik->singular :
			    ctl_str(o, "involvedObject.kind"),
			    ctl_str(o, "involvedObject.name"));
		}
		cells[n] = o ? bufs[n] : "OBJECT", n++;
		cells[n++] = o ? ctl_str(o, "message") : "MESSAGE";
	} else if (strcmp(kind, "Namespace") == 0) {
		cells[n++] = o ? ctl_str(o, "status.phase") : "STATUS";
		cells[n] = AGE(), n++;
	} else if (strcmp(kind, "Node") == 0) {
		cells[n++] = o ? (strcmp(ctl_condition(o, "Ready"), "True") ==
		    0 ? "Ready" : "NotReady") : "STATUS";
		cells[n++] = o ? "<none>" : "ROLES";
		cells[n] = AGE(), n++;
		cells[n++] = o ? ctl_str(o, "status.nodeInfo.kubeletVersion") :
		    "VERSION";
	} else
		cells[n] = AGE(), n++;
#undef AGE
	return n;
}

static void
ctl_print_table(const struct kinds_info *k, json_t *items, int with_ns,
    int wide)
{
	struct ctl_table t = { 0, json_array() };
	const char *cells[CTL_MAXCOLS + 1];
	char bufs[CTL_MAXCOLS + 1][128];
	json_t *o;
	size_t i;
	int off = with_ns ? 1 : 0;

	cells[0] = "NAMESPACE";
	t.ncols = ctl_cells(k, NULL, cells + off, bufs + off, wide) + off;
	ctl_row(&t, cells);
	json_array_foreach(items, i, o) {
		cells[0] = ctl_str(o, "metadata.namespace");
		ctl_cells(k, o, cells + off, bufs + off, wide);
		ctl_row(&t, cells);
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
