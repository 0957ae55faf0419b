/*
 * hpa.h: the HorizontalPodAutoscaler controller (Kubernetes'
 * pkg/controller/podautoscaler, kube-controller-manager's defaults), for
 * HPAs whose scaleTargetRef is a VirtualMachineInstanceReplicaSet.
 *
 * Usage (droverd):
 *
 *	struct hpa_config cfg;
 *	hpa_config_init(&cfg);		(then the agent config's "hpa")
 *	struct hpa_ctl *h = hpa_new(store, loop, usage, &cfg);
 *	... loop_run(loop) ...
 *	hpa_free(h);			(before usage_free and store_close)
 *
 * Level-triggered: an HPA is synced when it is added or its spec changes
 * (its generation; not on the controller's own status writes) and every
 * sync period (15 s) whatever happened, as Kubernetes' resync; the scale
 * target is read at each sync, not watched (Kubernetes does not watch it
 * either). The queue is drained from a loop_defer() call.
 *
 * One sync (hpa_sync.c, Kubernetes' reconcileAutoscaler):
 * 1. the scale target: spec.scaleTargetRef's apiVersion, kind and name
 *    must name a VMIRS in the HPA's namespace (else AbleToScale=False
 *    FailedGetScale, event FailedGetScale); its spec.replicas is the
 *    current count, its status.labelSelector the selector of the
 *    replicas (the virt-launcher Pod views carry their VMI's labels);
 * 2. current 0 with minReplicas != 0: ScalingActive=False ScalingDisabled;
 *    above maxReplicas / below minReplicas: to the bound; else every
 *    metric (Resource cpu or memory: Utilization of the Pods' requests or
 *    AverageValue; usage.h's numbers, metrics-server's) proposes a count
 *    (hpa_calc.h), the highest wins (ScalingActive=True ValidMetricFound;
 *    a failed metric: ScalingActive=False FailedGetResourceMetric and its
 *    event, FailedComputeMetricsReplicas when none works), and the
 *    normalization (stabilization, rate limits, bounds: AbleToScale
 *    ReadyForNewScale/ScaleDownStabilized/ScaleUpStabilized,
 *    ScalingLimited) gives the desired count;
 * 3. a desired count other than the current one is written as the scale
 *    subresource writes it (objops_scale()): AbleToScale=True
 *    SucceededRescale and event SuccessfulRescale "New size: N; reason:
 *    ...", or AbleToScale=False FailedUpdateScale and event FailedRescale;
 * 4. status (autoscaling/v2: observedGeneration, lastScaleTime,
 *    currentReplicas, desiredReplicas, currentMetrics, conditions; v1
 *    readers see currentCPUUtilizationPercentage: config/defaults.h),
 *    written only when it changes.
 * The recommendations and scale events that stabilization and the
 * behavior policies look back on are kept in memory per HPA, as in
 * Kubernetes (a restarted droverd starts from the current count).
 */
#ifndef DROVER_HPA_H
#define DROVER_HPA_H

#include <stdint.h>

#include <jansson.h>

struct store;
struct loop;
struct usage;
struct usage_value;
struct hpa_ctl;

#define HPA_KIND		"HorizontalPodAutoscaler"
/* kube-controller-manager's --horizontal-pod-autoscaler-* defaults */
#define HPA_SYNC_MS		15000
#define HPA_DOWNSCALE_MS	300000
#define HPA_CPU_INIT_MS		300000
#define HPA_READINESS_DELAY_MS	30000
#define HPA_TOLERANCE		0.1

struct hpa_config {
	unsigned sync_ms;		/* sync-period */
	int64_t downscale_ms;		/* downscale-stabilization */
	int64_t cpu_init_ms;		/* cpu-initialization-period */
	int64_t readiness_delay_ms;	/* initial-readiness-delay */
	double tolerance;		/* tolerance */
};

/* The defaults above. */
void hpa_config_init(struct hpa_config *cfg);

/*
 * Start the controller on store s; metrics from u (usage_pod()). l may be
 * NULL (tests: nothing scheduled, call hpa_drain() or hpa_sync()). NULL
 * on allocation failure.
 */
struct hpa_ctl *hpa_new(struct store *s, struct loop *l, struct usage *u,
    const struct hpa_config *cfg);
void hpa_free(struct hpa_ctl *c);

/* Reconcile the HPA ns/name once: 0, or -1 when it did not get as far as
 * a decision (its status and events say why; the next sync retries). */
int hpa_sync(struct hpa_ctl *c, const char *ns, const char *name);
/* Handle the watch events so far, sync what is queued; the number of
 * syncs. The loop calls it by itself. */
int hpa_drain(struct hpa_ctl *c);
/* Queue every HPA (the resync; tests). */
void hpa_enqueue_all(struct hpa_ctl *c);

/* Tests: a Pod's usage (0, or -ENOENT: no metrics for it), and the clocks
 * (monotonic and wall, ms); NULL: usage_pod() and the real clocks. */
typedef int (*hpa_metrics_fn)(void *arg, const json_t *pod,
    struct usage_value *out);
typedef int64_t (*hpa_clock_fn)(void *arg);
void hpa_set_metrics(struct hpa_ctl *c, hpa_metrics_fn fn, void *arg);
void hpa_set_clock(struct hpa_ctl *c, hpa_clock_fn mono, hpa_clock_fn wall,
    void *arg);

#endif
