/*
 * kapi_metrics.c: metrics.k8s.io/v1beta1, as metrics-server serves it, so
 * that `kubectl top pod` and `kubectl top node` work:
 *   GET .../namespaces/NS/pods[/NAME]  PodMetrics(List) of the
 *       virt-launcher Pods (the runtime's views, rt_pod.c), one container
 *       "compute": the VMI's cgroup (the Pod's RT_CGROUP_ANNOTATION)
 *       through cg_stats(): CPU in nanocores ("123456n"), memory in use
 *       ("1234Ki");
 *   GET .../nodes[/NAME]  NodeMetrics of the Node: /proc/stat's busy
 *       time and MemTotal - MemAvailable.
 * CPU is a rate: every KAPI_METRICS_PERIOD_MS the usage of every VMI and
 * of the node is sampled; a request samples again and divides by the
 * time since the latest sample at least a second old (window: that
 * time). A Pod with no earlier sample (just started) gets its average
 * since its creation. Pods whose cgroup cannot be read (droverd without
 * cgroups, a VMI being torn down) are left out, as metrics-server leaves
 * out pods it has no metrics for; kubectl then says so.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "kapi_int.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "runtime.h"
#include "store.h"

#define KAPI_METRICS_PERIOD_MS 10000
#define KAPI_METRICS_MIN_WINDOW_MS 1000
#define KAPI_METRICS_MAX 4096		/* samples kept (VMIs + node) */

struct kapi_msample {
	char name[256];		/* cgroup name; "" for the node */
	uint64_t t_ms, cpu_ns;	/* latest */
	uint64_t pt_ms, pcpu_ns;	/* the one before; pt_ms 0: none */
	int seen;
};

struct kapi_metrics {
	struct kapi *k;
	int timer;
	struct kapi_msample *v;
	size_t n;
};

/* ---- sampling ------------------------------------------------------------------ */

/* The node's busy CPU time (ns) and memory in use (bytes). */
static int
kapi_node_usage(uint64_t *cpu_ns, uint64_t *mem)
{
	unsigned long long f[8] = { 0 }, total = 0, avail = 0, v;
	char line[256], key[64];
	long hz = sysconf(_SC_CLK_TCK);
	FILE *fp = fopen("/proc/stat", "r");

	if (!fp)
		return -errno;
	if (!fgets(line, sizeof(line), fp) || sscanf(line, "cpu %llu %llu %llu "
	    "%llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4],
	    &f[5], &f[6], &f[7]) < 4) {
		fclose(fp);
		return -EINVAL;
	}
	fclose(fp);
	if (hz <= 0)
		hz = 100;
	*cpu_ns = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) *
	    (1000000000ull / (unsigned long long)hz);
	fp = fopen("/proc/meminfo", "r");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "%63[^:]: %llu", key, &v) == 2) {
			if (!strcmp(key, "MemTotal"))
				total = v;
			else if (!strcmp(key, "MemAvailable"))
				avail = v;
		}
	fclose(fp);
	*mem = total > avail ? (total - avail) * 1024 : 0;
	return 0;
}

static struct kapi_msample *
kapi_msample_get(struct kapi_metrics *m, const char *name, int create)
{
	struct kapi_msample *n;

	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	if (!create || m->n >= KAPI_METRICS_MAX)
		return NULL;
	n = realloc(m->v, (m->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	m->v = n;
	n = &m->v[m->n++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	return n;
}

/* The cgroup of a Pod view (its annotation: a key with dots), or NULL. */
static const char *
kapi_pod_cgroup(const json_t *pod)
{
	return json_string_value(json_object_get(json_object_get(
	    json_object_get(pod, "metadata"), "annotations"),
	    RT_CGROUP_ANNOTATION));
}

/* Usage of a cgroup ("" the node) now; 0 or -errno. */
static int
kapi_usage(struct kapi *k, const char *cg, uint64_t *cpu_ns, uint64_t *mem)
{
	if (!*cg)
		return kapi_node_usage(cpu_ns, mem);
	if (!k->cg || !cg_name_valid(cg))
		return -ENOENT;
	if (cg_stats(k->cg, cg, cpu_ns, mem) < 0)
		return -ENOENT;
	return *cpu_ns == CG_STAT_UNKNOWN ? -ENOENT : 0;
}

static void
kapi_msample_push(struct kapi_msample *s, uint64_t t, uint64_t cpu)
{
	if (s->t_ms && t >= s->t_ms + KAPI_METRICS_MIN_WINDOW_MS) {
		s->pt_ms = s->t_ms;
		s->pcpu_ns = s->cpu_ns;
	} else if (s->t_ms)
		return;		/* keep the older base */
	s->t_ms = t;
	s->cpu_ns = cpu;
}

static void
kapi_metrics_tick(void *arg)
{
	struct kapi_metrics *m = arg;
	json_t *pods = store_list(m->k->store, "Pod", NULL), *p;
	uint64_t now = loop_now_ms(), cpu, mem;
	struct kapi_msample *s;
	size_t i, j;

	for (i = 0; i < m->n; i++)
		m->v[i].seen = 0;
	if ((s = kapi_msample_get(m, "", 1)) && kapi_usage(m->k, "", &cpu,
	    &mem) == 0) {
		kapi_msample_push(s, now, cpu);
		s->seen = 1;
	}
	json_array_foreach(pods, i, p) {
		const char *cg = kapi_pod_cgroup(p);

		if (!cg || kapi_usage(m->k, cg, &cpu, &mem) < 0)
			continue;
		if ((s = kapi_msample_get(m, cg, 1))) {
			kapi_msample_push(s, now, cpu);
			s->seen = 1;
		}
	}
	json_decref(pods);
	for (i = j = 0; i < m->n; i++)
		if (m->v[i].seen)
			m->v[j++] = m->v[i];
	m->n = j;
	m->timer = loop_timer(m->k->loop, KAPI_METRICS_PERIOD_MS,
	    kapi_metrics_tick, m);
}

int
kapi_metrics_init(struct kapi *k)
{
	struct kapi_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -1;
	m->k = k;
	k->metrics = m;
	m->timer = loop_timer(k->loop, 0, kapi_metrics_tick, m);
	return m->timer > 0 ? 0 : -1;
}

void
kapi_metrics_shutdown(struct kapi *k)
{
	struct kapi_metrics *m = k->metrics;

	if (!m)
		return;
	if (m->timer > 0)
		loop_cancel(k->loop, m->timer);
	free(m->v);
	free(m);
	k->metrics = NULL;
}

/* ---- documents -------------------------------------------------------------------- */

static time_t
kapi_ts_parse(const char *ts)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

static void
kapi_ts_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * {"cpu": "Nn", "memory": "NKi"} and the window of cgroup cg ("" the
 * node); created: the object's creation time, for a first sample. NULL
 * when there is no usage to show.
 */
static json_t *
kapi_usage_json(struct kapi_metrics *m, const char *cg, time_t created,
    char window[32])
{
	uint64_t now = loop_now_ms(), cpu, mem, dcpu, dt, nanocores;
	struct kapi_msample *s;
	char c[32], mm[32];

	if (kapi_usage(m->k, cg, &cpu, &mem) < 0)
		return NULL;
	s = kapi_msample_get(m, cg, 1);
	if (s && s->t_ms && now >= s->t_ms + KAPI_METRICS_MIN_WINDOW_MS &&
	    cpu >= s->cpu_ns) {
		dcpu = cpu - s->cpu_ns;
		dt = now - s->t_ms;
	} else if (s && s->pt_ms && now >= s->pt_ms +
	    KAPI_METRICS_MIN_WINDOW_MS && cpu >= s->pcpu_ns) {
		dcpu = cpu - s->pcpu_ns;
		dt = now - s->pt_ms;
	} else {
		time_t age = time(NULL) - created;

		dcpu = cpu;
		dt = created > 0 && age > 0 ? (uint64_t)age * 1000 : 1000;
	}
	if (s)
		kapi_msample_push(s, now, cpu);
	/* ns of CPU per ms of time, times 1000: ns per s (nanocores) */
	nanocores = dcpu / dt * 1000 + (dcpu % dt) * 1000 / dt;
	snprintf(c, sizeof(c), "%" PRIu64 "n", nanocores);
	snprintf(mm, sizeof(mm), "%" PRIu64 "Ki", mem / 1024);
	snprintf(window, 32, "%" PRIu64 "s", (dt + 500) / 1000);
	return json_pack("{s:s, s:s}", "cpu", c, "memory", mm);
}

static json_t *
kapi_pod_metrics(struct kapi_metrics *m, const json_t *pod)
{
	const json_t *md = json_object_get(pod, "metadata");
	const char *cg = kapi_pod_cgroup(pod);
	char now[32], window[32];
	json_t *usage, *meta;

	if (!cg)
		return NULL;
	usage = kapi_usage_json(m, cg, kapi_ts_parse(manifest_str(md,
	    "creationTimestamp")), window);
	if (!usage)
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
kapi_node_metrics(struct kapi_metrics *m, const json_t *node)
{
	const json_t *md = json_object_get(node, "metadata");
	char now[32], window[32];
	json_t *usage, *meta;

	usage = kapi_usage_json(m, "", kapi_ts_parse(manifest_str(md,
	    "creationTimestamp")), window);
	if (!usage)
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
		mo = !o ? NULL : pods ? kapi_pod_metrics(x->k->metrics, o) :
		    kapi_node_metrics(x->k->metrics, o);
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
		mo = pods ? kapi_pod_metrics(x->k->metrics, o) :
		    kapi_node_metrics(x->k->metrics, o);
		if (mo)
			json_array_append_new(items, mo);
	}
	json_decref(objs);
	kapi_filter_free(&f);
	kapi_reply(x, 200, json_pack("{s:s, s:s, s:{}, s:o}", "kind", pods ?
	    "PodMetricsList" : "NodeMetricsList", "apiVersion",
	    "metrics.k8s.io/v1beta1", "metadata", "items", items));
}
