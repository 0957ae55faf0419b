/*
 * hpa_calc.h: the HorizontalPodAutoscaler's arithmetic, pure and
 * deterministic: no store, no clock, no I/O; every time is passed in
 * (milliseconds). Kubernetes' pkg/controller/podautoscaler:
 *
 * - the replica calculator (replica_calculator.go, metrics/utilization.go):
 *   hpa_calc_utilization() for a target averageUtilization (percent of
 *   the replicas' requests), hpa_calc_average() for a target averageValue;
 *   the replicas are grouped first (groupPods):
 *     ignored   being deleted, or Failed;
 *     unready   Pending; or, for cpu, no Ready condition or no start time,
 *               or within the CPU initialization period of its start and
 *               not Ready or its sample's window beginning before it
 *               became Ready, or after that period not Ready and never
 *               ready (it last changed within the initial readiness
 *               delay of its start);
 *     missing   no metric;
 *     ready     the rest.
 *   Ignored and unready replicas' samples are dropped. Utilization =
 *   sum(usage) * 100 / sum(request) (integer percent), ratio =
 *   utilization / target; without unready (on a scale-up) or missing
 *   replicas: the count is unchanged when |1 - ratio| <= tolerance, else
 *   ceil(ratio * ready). Otherwise missing replicas count as using 100%
 *   of their request (the target when it is above 100%; for a value
 *   target: the target) on a scale-down and 0 on a scale-up, unready ones
 *   0 on a scale-up, the ratio is computed again, and the count stays
 *   when that lands within tolerance, flips the direction, or
 *   ceil(new ratio * replicas counted) goes the other way.
 * - the normalization (horizontal.go): without spec.behavior, the highest
 *   recommendation of the downscale stabilization window, then
 *   [minReplicas, min(maxReplicas, max(2 * current, 4))]; with it, the
 *   scale-up window's lowest and the scale-down window's highest
 *   recommendation around the current count, then the policies' rate
 *   over their periods (selectPolicy Max, Min or Disabled) and
 *   [minReplicas, maxReplicas]. Each call records its unstabilized
 *   recommendation in the history (replacing one older than every window).
 * - the status conditions (setConditionInList).
 */
#ifndef DROVER_HPA_CALC_H
#define DROVER_HPA_CALC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define HPA_SCALE_UP_FACTOR	2	/* without behavior: max(2 * cur, 4) */
#define HPA_SCALE_UP_MIN	4
#define HPA_MAX_POLICIES	16

enum hpa_phase {
	HPA_PHASE_RUNNING = 0,	/* Running, Succeeded, Unknown: counted */
	HPA_PHASE_PENDING,
	HPA_PHASE_FAILED,
};

/* One replica (a virt-launcher Pod view) and its sample of one resource. */
struct hpa_pod {
	const char *name;
	int deleting;			/* it or its VMI has a deletionTimestamp */
	enum hpa_phase phase;
	int has_ready;			/* a Ready condition ... */
	int ready_false;		/* ... with status False */
	int64_t ready_change_ms;	/* its lastTransitionTime */
	int has_start;
	int64_t start_ms;		/* status.startTime */
	int has_request;		/* every container requests it */
	const char *no_request;		/* else: the container that does not */
	int64_t request;		/* milli-units (millicores) */
	int has_metric;
	int64_t metric;			/* milli-units */
	int64_t metric_ms;		/* the sample's time */
	int64_t window_ms;		/* its window */
};

struct hpa_calc_cfg {
	double tolerance;		/* 0.1 */
	int64_t cpu_init_ms;		/* 300000 */
	int64_t readiness_delay_ms;	/* 30000 */
};

struct hpa_calc_out {
	int32_t replicas;
	int32_t utilization;		/* percent (utilization targets) */
	int64_t average;		/* average usage, milli-units */
};

/*
 * GetResourceReplicas: the replica count for target_pct percent of the
 * requests of resource (readiness rules for "cpu" only), now_ms the wall
 * clock. 0, or -1 with the calculator's error in err ("unable to get
 * metrics for resource cpu: no metrics returned from resource metrics
 * API", "missing request for cpu in container compute of Pod P", ...).
 */
int hpa_calc_utilization(const struct hpa_calc_cfg *cfg, int64_t now_ms,
    int32_t current, int32_t target_pct, const char *resource,
    const struct hpa_pod *pods, size_t n, struct hpa_calc_out *out,
    char *err, size_t errlen);
/* GetRawResourceReplicas: for an average of target milli-units. */
int hpa_calc_average(const struct hpa_calc_cfg *cfg, int64_t now_ms,
    int32_t current, int64_t target, const char *resource,
    const struct hpa_pod *pods, size_t n, struct hpa_calc_out *out,
    char *err, size_t errlen);

/* ---- normalization ---------------------------------------------------------- */

enum hpa_select { HPA_SELECT_MAX = 0, HPA_SELECT_MIN, HPA_SELECT_DISABLED };

struct hpa_policy {
	int percent;			/* 1: Percent, 0: Pods */
	int32_t value, period_s;
};

/* HPAScalingRules. */
struct hpa_rules {
	int32_t window_s;		/* stabilizationWindowSeconds */
	enum hpa_select select;
	struct hpa_policy pol[HPA_MAX_POLICIES];
	size_t npol;
};

struct hpa_behavior {
	struct hpa_rules up, down;
};

struct hpa_rec {
	int64_t t_ms;
	int32_t replicas;
};

struct hpa_scale_event {
	int64_t t_ms;
	int32_t change;			/* replicas added or removed */
	int outdated;
};

/* One HPA's memory between syncs (Kubernetes keeps it in memory too). */
struct hpa_hist {
	struct hpa_rec *rec;
	size_t nrec;
	struct hpa_scale_event *up, *down;
	size_t nup, ndown;
};

/* The AbleToScale (True) and ScalingLimited conditions a normalization
 * sets. */
struct hpa_norm {
	const char *able_reason, *able_msg;
	int limited;
	const char *limit_reason, *limit_msg;
};

void hpa_hist_free(struct hpa_hist *h);
/* The first recommendation: the current count (recordInitialRecommendation). */
void hpa_hist_initial(struct hpa_hist *h, int64_t now_ms, int32_t current);

/* normalizeDesiredReplicas (no behavior); downscale_ms: the window. */
int32_t hpa_normalize(struct hpa_hist *h, int64_t now_ms, int32_t current,
    int32_t desired, int32_t min, int32_t max, int64_t downscale_ms,
    struct hpa_norm *out);
/* normalizeDesiredReplicasWithBehaviors. */
int32_t hpa_normalize_behavior(struct hpa_hist *h, int64_t now_ms,
    const struct hpa_behavior *b, int32_t current, int32_t desired,
    int32_t min, int32_t max, struct hpa_norm *out);
/* storeScaleEvent: a rescale from prev to next (b NULL: not kept). */
void hpa_hist_scaled(struct hpa_hist *h, const struct hpa_behavior *b,
    int64_t now_ms, int32_t prev, int32_t next);

/* ---- conditions ----------------------------------------------------------- */

/*
 * setConditionInList on the JSON array conds: the condition type gets
 * status ("True"/"False"), reason and message; lastTransitionTime (now,
 * RFC 3339) only when it is new or its status changes. Appended if absent.
 */
void hpa_cond_set(json_t *conds, const char *type, const char *status,
    const char *reason, const char *now, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
