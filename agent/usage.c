/*
 * usage.c: the VMIs' and the node's usage, sampled (usage.h). Moved out
 * of kapi_metrics.c so that the HPA reads the same numbers as
 * `kubectl top`.
 */
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "loop.h"
#include "manifest.h"
#include "runtime.h"
#include "store.h"

#define USAGE_MAX	4096		/* samples kept (VMIs + node) */

struct usage_sample {
	char name[256];		/* cgroup name; "" for the node */
	uint64_t t_ms, cpu_ns;	/* latest */
	uint64_t pt_ms, pcpu_ns;	/* the one before; pt_ms 0: none */
	int seen;
};

struct usage {
	struct loop *l;
	struct store *s;
	struct cg *cg;
	int timer;
	struct usage_sample *v;
	size_t n;
};

/* ---- reading ----------------------------------------------------------------- */

/* The node's busy CPU time (ns) and memory in use (bytes). */
static int
usage_node_now(uint64_t *cpu_ns, uint64_t *mem)
{
	unsigned long long f[8] = { 0 }, total = 0, avail = 0, v;
	char line[256], key[64];
	long hz = sysconf(_SC_CLK_TCK);
	FILE *fp = fopen("/proc/stat", "re");

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
	fp = fopen("/proc/meminfo", "re");
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

/* Usage of a cgroup ("" the node) now; 0 or -errno. */
static int
usage_now(struct usage *u, const char *cg, uint64_t *cpu_ns, uint64_t *mem)
{
	if (!*cg)
		return usage_node_now(cpu_ns, mem);
	if (!u->cg || !cg_name_valid(cg))
		return -ENOENT;
	if (cg_stats(u->cg, cg, cpu_ns, mem) < 0)
		return -ENOENT;
	if (*mem == CG_STAT_UNKNOWN)
		*mem = 0;
	return *cpu_ns == CG_STAT_UNKNOWN ? -ENOENT : 0;
}

/* The cgroup of a Pod view (its annotation: a key with dots), or NULL. */
static const char *
usage_pod_cgroup(const json_t *pod)
{
	return json_string_value(json_object_get(json_object_get(
	    json_object_get(pod, "metadata"), "annotations"),
	    RT_CGROUP_ANNOTATION));
}

/* ---- samples ----------------------------------------------------------------- */

static struct usage_sample *
usage_sample_get(struct usage *u, const char *name, int create)
{
	struct usage_sample *n;

	for (size_t i = 0; i < u->n; i++)
		if (!strcmp(u->v[i].name, name))
			return &u->v[i];
	if (!create || u->n >= USAGE_MAX)
		return NULL;
	n = realloc(u->v, (u->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	u->v = n;
	n = &u->v[u->n++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	return n;
}

static void
usage_sample_push(struct usage_sample *s, uint64_t t, uint64_t cpu)
{
	if (s->t_ms && t >= s->t_ms + USAGE_MIN_WINDOW_MS) {
		s->pt_ms = s->t_ms;
		s->pcpu_ns = s->cpu_ns;
	} else if (s->t_ms)
		return;		/* keep the older base */
	s->t_ms = t;
	s->cpu_ns = cpu;
}

static void
usage_tick(void *arg)
{
	struct usage *u = arg;
	json_t *pods = store_list(u->s, "Pod", NULL), *p;
	uint64_t now = loop_now_ms(), cpu, mem;
	struct usage_sample *s;
	size_t i, j;

	for (i = 0; i < u->n; i++)
		u->v[i].seen = 0;
	if ((s = usage_sample_get(u, "", 1)) && usage_now(u, "", &cpu,
	    &mem) == 0) {
		usage_sample_push(s, now, cpu);
		s->seen = 1;
	}
	json_array_foreach(pods, i, p) {
		const char *cg = usage_pod_cgroup(p);

		if (!cg || usage_now(u, cg, &cpu, &mem) < 0)
			continue;
		if ((s = usage_sample_get(u, cg, 1))) {
			usage_sample_push(s, now, cpu);
			s->seen = 1;
		}
	}
	json_decref(pods);
	for (i = j = 0; i < u->n; i++)
		if (u->v[i].seen)
			u->v[j++] = u->v[i];
	u->n = j;
	u->timer = loop_timer(u->l, USAGE_PERIOD_MS, usage_tick, u);
}

static time_t
usage_ts_parse(const char *ts)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

/*
 * The rate of cgroup cg ("" the node) since its latest sample at least
 * USAGE_MIN_WINDOW_MS old; created: the object's creationTimestamp, the
 * base when there is no sample yet.
 */
static int
usage_read(struct usage *u, const char *cg, const json_t *obj,
    struct usage_value *out)
{
	uint64_t now = loop_now_ms(), cpu, mem, dcpu, dt;
	struct usage_sample *s;
	struct timespec wall;
	int rc;

	if ((rc = usage_now(u, cg, &cpu, &mem)) < 0)
		return rc;
	s = usage_sample_get(u, cg, 1);
	if (s && s->t_ms && now >= s->t_ms + USAGE_MIN_WINDOW_MS &&
	    cpu >= s->cpu_ns) {
		dcpu = cpu - s->cpu_ns;
		dt = now - s->t_ms;
	} else if (s && s->pt_ms && now >= s->pt_ms + USAGE_MIN_WINDOW_MS &&
	    cpu >= s->pcpu_ns) {
		dcpu = cpu - s->pcpu_ns;
		dt = now - s->pt_ms;
	} else {
		time_t created = usage_ts_parse(manifest_str(json_object_get(
		    obj, "metadata"), "creationTimestamp"));
		time_t age = time(NULL) - created;

		dcpu = cpu;
		dt = created > 0 && age > 0 ? (uint64_t)age * 1000 : 1000;
	}
	if (s)
		usage_sample_push(s, now, cpu);
	/* ns of CPU per ms of time, times 1000: ns per s (nanocores) */
	out->nanocores = dcpu / dt * 1000 + (dcpu % dt) * 1000 / dt;
	out->memory = mem;
	out->window_ms = dt;
	clock_gettime(CLOCK_REALTIME, &wall);
	out->time_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	return 0;
}

int
usage_pod(struct usage *u, const json_t *pod, struct usage_value *out)
{
	const char *cg = usage_pod_cgroup(pod);

	if (!u || !cg || !*cg)
		return -ENOENT;
	return usage_read(u, cg, pod, out);
}

int
usage_node(struct usage *u, const json_t *node, struct usage_value *out)
{
	if (!u)
		return -ENOENT;
	return usage_read(u, "", node, out);
}

/* ---- life cycle --------------------------------------------------------------- */

struct usage *
usage_new(struct loop *l, struct store *s, struct cg *cg)
{
	struct usage *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->l = l;
	u->s = s;
	u->cg = cg;
	if (l && (u->timer = loop_timer(l, 0, usage_tick, u)) <= 0) {
		free(u);
		return NULL;
	}
	return u;
}

void
usage_free(struct usage *u)
{
	if (!u)
		return;
	if (u->l && u->timer > 0)
		loop_cancel(u->l, u->timer);
	free(u->v);
	free(u);
}
