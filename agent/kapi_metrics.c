/*
 * kapi_metrics.c: metrics.k8s.io/v1beta1, as metrics-server serves it, so
 * that `kubectl top pod` and `kubectl top node` work:
 *   GET .../namespaces/NS/pods[/NAME]  PodMetrics(List) of the
 *       virt-launcher Pods (the runtime's views, rt_pod.c), one container
 *       "compute": the VMI's cgroup; CPU in nanocores ("123456n"), memory
 *       in use ("1234Ki");
 *   GET .../nodes[/NAME]  NodeMetrics of the Node: /proc/stat's busy
 *       time and MemTotal - MemAvailable.
 * The numbers, their window and what is left out (Pods whose cgroup
 * cannot be read) are usage.h's, which the HPA reads too; kubectl says
 * so when a Pod has none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kapi_int.h"
#include "manifest.h"
#include "store.h"
#include "usage.h"

/* ---- documents -------------------------------------------------------------------- */

static void
kapi_ts_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* {"cpu": "Nn", "memory": "NKi"} and its window, from v. */
static json_t *
kapi_usage_json(const struct usage_value *v, char window[32])
{
	char c[32], mm[32];

	snprintf(c, sizeof(c), "%" PRIu64 "n", v->nanocores);
	snprintf(mm, sizeof(mm), "%" PRIu64 "Ki", v->memory / 1024);
	snprintf(window, 32, "%" PRIu64 "s", (v->window_ms + 500) / 1000);
	return json_pack("{s:s, s:s}", "cpu", c, "memory", mm);
}

static json_t *
kapi_pod_metrics(struct kapi *k, const json_t *pod)
{
	const json_t *md = json_object_get(pod, "metadata");
	struct usage_value v;
	char now[32], window[32];
	json_t *usage, *meta;

	if (usage_pod(k->usage, pod, &v) < 0 ||
	    !(usage = kapi_usage_json(&v, window)))
		return NULL;
	kapi_ts_now(now);
	meta = json_pack("{s:O*, s:O*, s:s}", "name", json_object_get(md,
	    "name"), "namespace", json_object_get(md, "namespace"),
	    "creationTimestamp", now);
	if (json_object_get(md, "labels"))
		json_object_set(meta, "labels", json_object_get(md, "labels"));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:[{s:s, s:o}]}", "kind",
	    "PodMetrics", "apiVersion", "metrics.k8s.io/v1beta1", "metadata",
	    meta, "timestamp", now, "window", window, "containers", "name",
	    "compute", "usage", usage);
}

static json_t *
kapi_node_metrics(struct kapi *k, const json_t *node)
{
	const json_t *md = json_object_get(node, "metadata");
	struct usage_value v;
	char now[32], window[32];
	json_t *usage, *meta;

	if (usage_node(k->usage, node, &v) < 0 ||
	    !(usage = kapi_usage_json(&v, window)))
		return NULL;
	kapi_ts_now(now);
	meta = json_pack("{s:O*, s:s}", "name", json_object_get(md, "name"),
	    "creationTimestamp", now);
	if (json_object_get(md, "labels"))
		json_object_set(meta, "labels", json_object_get(md, "labels"));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "kind",
	    "NodeMetrics", "apiVersion", "metrics.k8s.io/v1beta1", "metadata",
	    meta, "timestamp", now, "window", window, "usage", usage);
}

void
kapi_metrics_handle(struct kapi_ctx *x)
{
	int pods = x->p.res->special == KAPI_PODMETRICS;
	const char *kind = pods ? "Pod" : "Node";
	struct kapi_filter f;
	json_t *objs, *items, *o, *mo;
	size_t i;

	if (*x->p.name) {
		o = store_get(x->k->store, kind, pods ? x->p.ns : "", x->p.name);
		mo = !o ? NULL : pods ? kapi_pod_metrics(x->k, o) :
		    kapi_node_metrics(x->k, o);
		json_decref(o);
		if (!mo)
			kapi_reply_status(x, kapi_status_about(&x->p, 404,
			    "NotFound", x->p.name, "%s.metrics.k8s.io \"%s\" "
			    "not found", pods ? "podmetrics" : "nodemetrics",
			    x->p.name));
		else
			kapi_reply(x, 200, mo);
		return;
	}
	if (kapi_filter_init(x, &f) < 0)
		return;
	objs = store_list(x->k->store, kind, pods && x->p.has_ns ? x->p.ns :
	    NULL);
	items = json_array();
	json_array_foreach(objs, i, o) {
		if (!kapi_filter_match(&f, o))
			continue;
		mo = pods ? kapi_pod_metrics(x->k, o) :
		    kapi_node_metrics(x->k, o);
		if (mo)
			json_array_append_new(items, mo);
	}
	json_decref(objs);
	kapi_filter_free(&f);
	kapi_reply(x, 200, json_pack("{s:s, s:s, s:{}, s:o}", "kind", pods ?
	    "PodMetricsList" : "NodeMetricsList", "apiVersion",
	    "metrics.k8s.io/v1beta1", "metadata", "items", items));
}
