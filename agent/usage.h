/*
 * usage.h: what the VMIs (their cgroups) and the node use, as
 * metrics-server reports it: CPU as a rate over a window, memory in use
 * now. One source for both readers: metrics.k8s.io (kapi_metrics.c:
 * `kubectl top`) and the HorizontalPodAutoscaler controller (hpa.h), so
 * that `kubectl top pod` and the HPA's TARGETS agree.
 *
 * CPU is a rate: every USAGE_PERIOD_MS the usage of every Pod view's
 * cgroup (its RT_CGROUP_ANNOTATION, runtime.h) and of the node
 * (/proc/stat) is sampled; a read samples again and divides by the time
 * since the latest sample at least USAGE_MIN_WINDOW_MS old (the window).
 * A cgroup with no earlier sample (just started) gets its average since
 * its Pod's creation. A Pod whose cgroup cannot be read (droverd without
 * cgroups, a VMI being torn down) has no usage (-ENOENT), as
 * metrics-server leaves out pods it has no metrics for.
 *
 * Usage (droverd):
 *	struct usage *u = usage_new(loop, store, cg);	(cg may be NULL)
 *	... usage_pod(u, pod, &v) ...
 *	usage_free(u);		(before cg_close and loop_free)
 */
#ifndef DROVER_USAGE_H
#define DROVER_USAGE_H

#include <stdint.h>

#include <jansson.h>

struct loop;
struct store;
struct cg;
struct usage;

#define USAGE_PERIOD_MS		10000
#define USAGE_MIN_WINDOW_MS	1000

struct usage_value {
	uint64_t nanocores;	/* CPU over the window: ns of CPU per s */
	uint64_t memory;	/* bytes in use */
	int64_t time_ms;	/* when it was read (wall clock, ms) */
	uint64_t window_ms;	/* the window of the CPU rate */
};

/*
 * Sample on loop l (NULL: only when read, for tests) the Pod views of
 * store s, through the VMIs' cgroups cg (read only; NULL: no Pod has
 * usage, the node still has). NULL when out of memory.
 */
struct usage *usage_new(struct loop *l, struct store *s, struct cg *cg);
void usage_free(struct usage *u);

/* The usage of a Pod view (its cgroup annotation): 0, or -ENOENT. */
int usage_pod(struct usage *u, const json_t *pod, struct usage_value *out);
/* The node's (busy CPU time, MemTotal - MemAvailable); node: its object
 * (creationTimestamp, for a first sample). 0 or -errno. */
int usage_node(struct usage *u, const json_t *node, struct usage_value *out);

#endif
