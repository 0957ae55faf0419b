/*
 * hpa_sync.c: one reconciliation of one HorizontalPodAutoscaler (hpa.h),
 * Kubernetes' reconcileAutoscaler, computeReplicasForMetrics and
 * computeStatusForResourceMetric: the same branches, conditions, events
 * and messages. The arithmetic is hpa_calc.c's.
 *
 * Choices where Kubernetes gives no guidance for a VMIRS target, or
 * where following it would do harm:
 * - the scale target must be a VirtualMachineInstanceReplicaSet
 *   (kubevirt.io); its scale subresource is read from the stored object
 *   (spec.replicas, status.labelSelector) and written with objops_scale();
 * - the replicas are the Pod views whose labels the VMIRS's selector
 *   (the one its status.labelSelector is printed from) matches; a Pod
 *   whose VMI is being deleted counts as being deleted;
 * - a scale without status.labelSelector (the VMIRS controller has not
 *   written its status yet) stops the sync without a decision (Kubernetes
 *   goes on with a recommendation of 0), after the event SelectorRequired
 *   and ScalingActive=False InvalidSelector, as Kubernetes.
 * Values read from the store are bounded before use: nothing in an
 * object can overflow the arithmetic or the buffers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hpa_int.h"
#include "log.h"
#include "objops.h"
#include "quantity.h"
#include "store.h"
#include "usage.h"
#include "validate.h"

#define HPA_VMIRS_KIND	"VirtualMachineInstanceReplicaSet"
#define HPA_VMIRS_GROUP	"kubevirt.io"
#define HPA_MAX_PODS	4096
#define HPA_MAX_METRICS	16

struct hpa_run {
	struct hpa_ctl *c;
	const char *ns, *name;
	json_t *hpa;			/* as stored (autoscaling/v2) */
	const json_t *spec;
	struct hpa_state *st;
	json_t *conds;			/* the conditions being written */
	json_t *metrics;		/* currentMetrics being written */
	char now[32];
	int64_t mono, wall;
	int32_t min, max;
};

/* ---- small helpers ------------------------------------------------------- */

static const char *
hpa_str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* An integer field within [lo, hi], else def. */
static int32_t
hpa_int(const json_t *o, const char *k, int32_t lo, int32_t hi, int32_t def)
{
	const json_t *v = json_object_get(o, k);
	json_int_t i;

	if (!json_is_integer(v))
		return def;
	i = json_integer_value(v);
	return i < lo ? lo : i > hi ? hi : (int32_t)i;
}

static int64_t
hpa_time_ms(const char *ts)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

static void
hpa_format_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A quantity string to milli-units (MilliValue); -1 when not one. */
static int
hpa_milli(const json_t *v, int64_t *out)
{
	struct quantity q;
	const char *why;

	if (!json_is_string(v) || quantity_parse(json_string_value(v), &q,
	    &why) < 0 || quantity_milli(&q, out) < 0)
		return -1;
	return 0;
}

/* resource.NewMilliQuantity(m, DecimalSI).String() */
static json_t *
hpa_milli_json(int64_t m)
{
	char in[32], out[64];
	struct quantity q;
	const char *why;

	snprintf(in, sizeof(in), "%" PRId64 "m", m);
	if (quantity_parse(in, &q, &why) < 0 || quantity_format(&q, out,
	    sizeof(out)) < 0)
		return json_string(in);
	return json_string(out);
}

static void
hpa_event(struct hpa_run *r, const char *type, const char *reason,
    const char *msg)
{
	store_event(r->c->s, r->hpa, type, reason, "%s", msg);
}

/* ---- the behavior ---------------------------------------------------------- */

static void
hpa_rules_parse(const json_t *j, struct hpa_rules *r, int32_t def_window)
{
	const char *sel = hpa_str(j, "selectPolicy");
	const json_t *p;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->window_s = hpa_int(j, "stabilizationWindowSeconds", 0, 3600,
	    def_window);
	r->select = !strcmp(sel, "Min") ? HPA_SELECT_MIN :
	    !strcmp(sel, "Disabled") ? HPA_SELECT_DISABLED : HPA_SELECT_MAX;
	json_array_foreach(json_object_get(j, "policies"), i, p) {
		struct hpa_policy *pol;

		if (r->npol >= HPA_MAX_POLICIES)
			break;
		pol = &r->pol[r->npol++];
		pol->percent = !strcmp(hpa_str(p, "type"), "Percent");
		pol->value = hpa_int(p, "value", 0, INT32_MAX, 0);
		pol->period_s = hpa_int(p, "periodSeconds", 1, 1800, 15);
	}
}

/* spec.behavior with the controller's defaults filled in: 1, else 0. */
static int
hpa_behavior_parse(struct hpa_run *r, struct hpa_behavior *b)
{
	const json_t *j = json_object_get(r->spec, "behavior");
	int64_t down = r->c->cfg.downscale_ms / 1000;

	if (!json_is_object(j))
		return 0;
	hpa_rules_parse(json_object_get(j, "scaleUp"), &b->up, 0);
	/* maybeInitScaleDownStabilizationWindow */
	hpa_rules_parse(json_object_get(j, "scaleDown"), &b->down,
	    down > 3600 ? 3600 : (int32_t)down);
	return 1;
}

/* ---- the replicas --------------------------------------------------------- */

/* Is the VMI a Pod view belongs to being deleted? */
static int
hpa_vmi_deleting(struct hpa_run *r, const json_t *pod)
{
	const json_t *refs = json_object_get(json_object_get(pod, "metadata"),
	    "ownerReferences"), *ref;
	size_t i;
	int gone = 0;

	json_array_foreach(refs, i, ref) {
		json_t *vmi;

		if (strcmp(hpa_str(ref, "kind"), "VirtualMachineInstance"))
			continue;
		vmi = store_get(r->c->s, "VirtualMachineInstance", r->ns,
		    hpa_str(ref, "name"));
		gone = !vmi || json_object_get(json_object_get(vmi,
		    "metadata"), "deletionTimestamp") != NULL;
		json_decref(vmi);
	}
	return gone;
}

static void
hpa_pod_ready(const json_t *pod, struct hpa_pod *p)
{
	const json_t *st = json_object_get(pod, "status"), *cond;
	size_t i;

	json_array_foreach(json_object_get(st, "conditions"), i, cond) {
		if (strcmp(hpa_str(cond, "type"), "Ready"))
			continue;
		p->has_ready = 1;
		p->ready_false = strcmp(hpa_str(cond, "status"), "True") != 0;
		p->ready_change_ms = hpa_time_ms(hpa_str(cond,
		    "lastTransitionTime"));
	}
	p->start_ms = hpa_time_ms(json_string_value(json_object_get(st,
	    "startTime")));
	p->has_start = p->start_ms >= 0;
}

/* calculatePodRequests for one Pod. */
static void
hpa_pod_request(const json_t *pod, const char *res, struct hpa_pod *p)
{
	const json_t *ctrs = json_object_get(json_object_get(pod, "spec"),
	    "containers"), *ctr;
	int64_t m, sum = 0;
	size_t i;

	p->has_request = 1;
	json_array_foreach(ctrs, i, ctr) {
		if (hpa_milli(json_object_get(json_object_get(json_object_get(
		    ctr, "resources"), "requests"), res), &m) < 0 || m < 0) {
			p->has_request = 0;
			p->no_request = hpa_str(ctr, "name");
			return;
		}
		sum = sum > INT64_MAX - m ? INT64_MAX : sum + m;
	}
	p->request = sum;
}

static void
hpa_pod_fill(struct hpa_run *r, const json_t *pod, const char *res,
    struct hpa_pod *p)
{
	const json_t *md = json_object_get(pod, "metadata");
	const char *phase = hpa_str(json_object_get(pod, "status"), "phase");
	struct usage_value v;

	memset(p, 0, sizeof(*p));
	p->name = hpa_str(md, "name");
	p->deleting = json_object_get(md, "deletionTimestamp") != NULL ||
	    hpa_vmi_deleting(r, pod);
	p->phase = !strcmp(phase, "Pending") || !*phase ? HPA_PHASE_PENDING :
	    !strcmp(phase, "Failed") ? HPA_PHASE_FAILED : HPA_PHASE_RUNNING;
	hpa_pod_ready(pod, p);
	hpa_pod_request(pod, res, p);
	memset(&v, 0, sizeof(v));
	if (r->c->metrics(r->c->metrics_arg, pod, &v) == 0) {
		p->has_metric = 1;
		/* MilliValue(): rounded up */
		if (!strcmp(res, "cpu"))
			p->metric = (int64_t)(v.nanocores / 1000000 +
			    (v.nanocores % 1000000 != 0));
		else
			p->metric = v.memory > (uint64_t)INT64_MAX / 1000 ?
			    INT64_MAX : (int64_t)v.memory * 1000;
		p->metric_ms = v.time_ms;
		p->window_ms = v.window_ms > (uint64_t)INT64_MAX ? INT64_MAX :
		    (int64_t)v.window_ms;
	}
}

/* The Pod views of the namespace the selector matches (new array). */
static json_t *
hpa_pods(struct hpa_run *r, const json_t *selector)
{
	json_t *all = store_list(r->c->s, "Pod", r->ns), *out = json_array();
	json_t *pod, *empty = json_object();
	char err[256];
	size_t i;

	json_array_foreach(all, i, pod) {
		const json_t *l = json_object_get(json_object_get(pod,
		    "metadata"), "labels");

		if (json_array_size(out) >= HPA_MAX_PODS)
			break;
		if (validate_selector_matches(selector, json_is_object(l) ? l :
		    empty, err, sizeof(err)) == 1)
			json_array_append(out, pod);
	}
	json_decref(all);
	json_decref(empty);
	return out;
}

/* ---- one metric (computeStatusForResourceMetric) --------------------------- */

struct hpa_proposal {
	int32_t replicas;
	char name[96];			/* "cpu resource utilization ..." */
	json_t *status;			/* its MetricStatus */
};

static int
hpa_resource_metric(struct hpa_run *r, const json_t *m, const json_t *pods,
    int32_t current, struct hpa_proposal *out, char *err, size_t errlen)
{
	const json_t *res = json_object_get(m, "resource");
	const json_t *target = json_object_get(res, "target");
	const char *rname = hpa_str(res, "name");
	struct hpa_calc_cfg cfg = { r->c->cfg.tolerance, r->c->cfg.cpu_init_ms,
	    r->c->cfg.readiness_delay_ms };
	size_t n = json_array_size(pods), i;
	struct hpa_pod *pv = calloc(n ? n : 1, sizeof(*pv));
	struct hpa_calc_out co;
	char why[512] = "";
	int64_t value;
	int rc = -1;

	if (!pv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strcmp(rname, "cpu") && strcmp(rname, "memory")) {
		snprintf(err, errlen, "failed to get %s utilization: resource "
		    "%s is not measured", rname, rname);
		goto out;
	}
	for (i = 0; i < n; i++)
		hpa_pod_fill(r, json_array_get(pods, i), rname, &pv[i]);
	if (json_object_get(target, "averageValue")) {
		if (hpa_milli(json_object_get(target, "averageValue"),
		    &value) < 0)
			snprintf(why, sizeof(why), "invalid target value");
		else if (n == 0)
			snprintf(why, sizeof(why), "unable to get metrics for "
			    "resource %s: no metrics returned from resource "
			    "metrics API", rname);
		else if (hpa_calc_average(&cfg, r->wall, current, value, rname,
		    pv, n, &co, why, sizeof(why)) == 0) {
			out->replicas = co.replicas;
			snprintf(out->name, sizeof(out->name), "%s resource",
			    rname);
			out->status = json_pack("{s:s, s:{s:s, s:{s:o}}}", "type",
			    "Resource", "resource", "name", rname, "current",
			    "averageValue", hpa_milli_json(co.average));
			rc = 0;
			goto out;
		}
		snprintf(err, errlen, "failed to get %s usage: %s", rname, why);
		goto out;
	}
	if (!json_is_integer(json_object_get(target, "averageUtilization"))) {
		snprintf(err, errlen, "invalid resource metric source: neither "
		    "an average utilization target nor an average value target "
		    "was set");
		goto out;
	}
	if (n == 0)
		snprintf(why, sizeof(why), "unable to get metrics for resource "
		    "%s: no metrics returned from resource metrics API", rname);
	else if (hpa_calc_utilization(&cfg, r->wall, current, hpa_int(target,
	    "averageUtilization", 0, INT32_MAX, 0), rname, pv, n, &co, why,
	    sizeof(why)) == 0) {
		out->replicas = co.replicas;
		snprintf(out->name, sizeof(out->name), "%s resource utilization "
		    "(percentage of request)", rname);
		out->status = json_pack("{s:s, s:{s:s, s:{s:o, s:i}}}", "type",
		    "Resource", "resource", "name", rname, "current",
		    "averageValue", hpa_milli_json(co.average),
		    "averageUtilization", (int)co.utilization);
		rc = 0;
		goto out;
	}
	snprintf(err, errlen, "failed to get %s utilization: %s", rname, why);
out:
	free(pv);
	return rc;
}

/*
 * computeReplicasForMetrics: the highest proposal (*name: its metric),
 * or -1 (the sync makes no decision) with the error in err.
 */
static int32_t
hpa_metrics(struct hpa_run *r, const json_t *rs, int32_t current,
    char *name, size_t namelen, char *err, size_t errlen)
{
	const json_t *specs = json_object_get(r->spec, "metrics"), *m;
	size_t nspec = json_array_size(specs), i, invalid = 0;
	char first[1024] = "", cond[1200] = "", e[1024];
	const char *sel = hpa_str(json_object_get(rs, "status"),
	    "labelSelector");
	int32_t replicas = 0;
	json_t *pods;

	if (!*sel) {
		snprintf(err, errlen, "selector is required");
		hpa_event(r, "Warning", "SelectorRequired", err);
		hpa_cond_set(r->conds, "ScalingActive", "False",
		    "InvalidSelector", r->now, "the HPA target's scale is "
		    "missing a selector");
		return -1;
	}
	if (nspec == 0 || nspec > HPA_MAX_METRICS) {
		snprintf(err, errlen, "%zu metrics (1 to %d are measured)",
		    nspec, HPA_MAX_METRICS);
		return -1;
	}
	pods = hpa_pods(r, json_object_get(json_object_get(rs, "spec"),
	    "selector"));
	json_array_foreach(specs, i, m) {
		struct hpa_proposal p = { 0 };
		int rc;

		if (!strcmp(hpa_str(m, "type"), "Resource"))
			rc = hpa_resource_metric(r, m, pods, current, &p, e,
			    sizeof(e));
		else {
			snprintf(e, sizeof(e), "unsupported metric source type "
			    "\"%s\"", hpa_str(m, "type"));
			rc = -1;
		}
		if (rc < 0) {
			/* getUnableComputeReplicaCountCondition */
			hpa_event(r, "Warning", "FailedGetResourceMetric", e);
			if (invalid++ == 0) {
				snprintf(first, sizeof(first), "%s", e);
				snprintf(cond, sizeof(cond), "the HPA was unable "
				    "to compute the replica count: %s", e);
			}
			json_array_append_new(r->metrics, json_pack("{s:s}",
			    "type", ""));
			continue;
		}
		json_array_append_new(r->metrics, p.status ? p.status :
		    json_pack("{s:s}", "type", ""));
		if (replicas == 0 || p.replicas > replicas) {
			replicas = p.replicas;
			snprintf(name, namelen, "%s", p.name);
		}
	}
	json_decref(pods);
	if (invalid >= nspec || (invalid > 0 && replicas < current)) {
		hpa_cond_set(r->conds, "ScalingActive", "False",
		    "FailedGetResourceMetric", r->now, "%s", cond);
		snprintf(err, errlen, "invalid metrics (%zu invalid out of %zu), "
		    "first error is: %s", invalid, nspec, first);
		return -1;
	}
	hpa_cond_set(r->conds, "ScalingActive", "True", "ValidMetricFound",
	    r->now, "the HPA was able to successfully calculate a replica "
	    "count from %s", name);
	return replicas;
}

/* ---- the scale target -------------------------------------------------------- */

/* The VMIRS spec.scaleTargetRef names (new reference), or NULL with the
 * error (the API's words) in err. */
static json_t *
hpa_target(struct hpa_run *r, char *err, size_t errlen)
{
	const json_t *ref = json_object_get(r->spec, "scaleTargetRef");
	const char *av = hpa_str(ref, "apiVersion"), *kind = hpa_str(ref,
	    "kind"), *name = hpa_str(ref, "name"), *slash = strchr(av, '/');
	int glen = slash ? (int)(slash - av) : 0;
	json_t *rs;

	if (strcmp(kind, HPA_VMIRS_KIND) || glen != (int)strlen(HPA_VMIRS_GROUP)
	    || strncmp(av, HPA_VMIRS_GROUP, (size_t)glen)) {
		snprintf(err, errlen, "no matches for kind \"%.100s\" in group "
		    "\"%.*s\"", kind, glen > 100 ? 100 : glen, av);
		return NULL;
	}
	rs = *name ? store_get(r->c->s, HPA_VMIRS_KIND, r->ns, name) : NULL;
	if (!rs)
		snprintf(err, errlen, "virtualmachineinstancereplicasets."
		    "kubevirt.io \"%.253s\" not found", name);
	return rs;
}

/* ---- status ---------------------------------------------------------------------- */

/*
 * The new status: counts 0 keeps the old replica counts and metrics
 * (FailedGetScale); des < 0 keeps the old desiredReplicas
 * (setCurrentReplicasAndMetricsInStatus). Written only when it changes.
 */
static void
hpa_status_write(struct hpa_run *r, int counts, int32_t cur, int32_t des,
    int rescaled)
{
	const json_t *old = json_object_get(r->hpa, "status");
	const json_t *lst = json_object_get(old, "lastScaleTime");
	json_t *st = json_object();
	char err[256] = "";

	if (!st)
		return;
	json_object_set_new(st, "observedGeneration", json_integer(
	    json_integer_value(json_object_get(json_object_get(r->hpa,
	    "metadata"), "generation"))));
	if (rescaled)
		json_object_set_new(st, "lastScaleTime", json_string(r->now));
	else if (json_is_string(lst))
		json_object_set(st, "lastScaleTime", (json_t *)lst);
	json_object_set_new(st, "currentReplicas", json_integer(counts ? cur :
	    json_integer_value(json_object_get(old, "currentReplicas"))));
	json_object_set_new(st, "desiredReplicas", json_integer(counts &&
	    des >= 0 ? des : json_integer_value(json_object_get(old,
	    "desiredReplicas"))));
	if (counts && json_array_size(r->metrics))
		json_object_set(st, "currentMetrics", r->metrics);
	else if (!counts && json_is_array(json_object_get(old,
	    "currentMetrics")))
		json_object_set(st, "currentMetrics", json_object_get(old,
		    "currentMetrics"));
	json_object_set(st, "conditions", r->conds);
	if (!json_equal(st, old) && store_update_status(r->c->s, HPA_KIND,
	    r->ns, r->name, st, NULL, err, sizeof(err)) < 0)
		log_warnx("%s/%s: HPA status: %s", r->ns, r->name, err);
	json_decref(st);
}

/* ---- reconcileAutoscaler ------------------------------------------------------------ */

/* Write the new count through the scale subresource: 0 or -1. */
static int
hpa_rescale(struct hpa_run *r, const json_t *rs, int32_t desired,
    const char *reason)
{
	const char *name = hpa_str(json_object_get(rs, "metadata"), "name");
	json_t *status = NULL;
	char msg[1400];
	int rc;

	rc = objops_scale(r->c->s, HPA_VMIRS_KIND, r->ns, name, desired, NULL,
	    0, NULL, &status);
	if (rc < 0) {
		const char *why = hpa_str(status, "message");

		snprintf(msg, sizeof(msg), "New size: %d; reason: %s; error: %s",
		    desired, reason, why);
		hpa_event(r, "Warning", "FailedRescale", msg);
		hpa_cond_set(r->conds, "AbleToScale", "False",
		    "FailedUpdateScale", r->now, "the HPA controller was unable "
		    "to update the target scale: %s", why);
		json_decref(status);
		return -1;
	}
	hpa_cond_set(r->conds, "AbleToScale", "True", "SucceededRescale",
	    r->now, "the HPA controller was able to update the target scale "
	    "to %d", desired);
	snprintf(msg, sizeof(msg), "New size: %d; reason: %s", desired, reason);
	hpa_event(r, "Normal", "SuccessfulRescale", msg);
	return 0;
}

/* The count the metrics and the normalization give; *reason: why. */
static int32_t
hpa_decide(struct hpa_run *r, const json_t *rs, int32_t current,
    char *reason, size_t rlen, char *err, size_t errlen)
{
	struct hpa_behavior b;
	struct hpa_norm norm = { 0 };
	char mname[96] = "";
	int32_t desired = 0, proposal;

	proposal = hpa_metrics(r, rs, current, mname, sizeof(mname), err,
	    errlen);
	if (proposal < 0)
		return -1;
	if (proposal > desired)
		desired = proposal;
	else
		mname[0] = '\0';
	if (desired > current)
		snprintf(reason, rlen, "%s above target", mname);
	else if (desired < current)
		snprintf(reason, rlen, "All metrics below target");
	if (hpa_behavior_parse(r, &b))
		desired = hpa_normalize_behavior(&r->st->hist, r->mono, &b,
		    current, desired, r->min, r->max, &norm);
	else
		desired = hpa_normalize(&r->st->hist, r->mono, current, desired,
		    r->min, r->max, r->c->cfg.downscale_ms, &norm);
	hpa_cond_set(r->conds, "AbleToScale", "True", norm.able_reason, r->now,
	    "%s", norm.able_msg);
	hpa_cond_set(r->conds, "ScalingLimited", norm.limited ? "True" :
	    "False", norm.limit_reason, r->now, "%s", norm.limit_msg);
	return desired;
}

static int
hpa_reconcile(struct hpa_run *r)
{
	char err[1400] = "", reason[160] = "";
	struct hpa_behavior b;
	int32_t current, desired = 0;
	int rescale = 0, has_b;
	json_t *rs;

	rs = hpa_target(r, err, sizeof(err));
	if (!rs) {
		hpa_event(r, "Warning", "FailedGetScale", err);
		hpa_cond_set(r->conds, "AbleToScale", "False", "FailedGetScale",
		    r->now, "the HPA controller was unable to get the target's "
		    "current scale: %s", err);
		hpa_status_write(r, 0, 0, 0, 0);
		return -1;
	}
	hpa_cond_set(r->conds, "AbleToScale", "True", "SucceededGetScale",
	    r->now, "the HPA controller was able to get the target's current "
	    "scale");
	current = hpa_int(json_object_get(rs, "spec"), "replicas", 0,
	    INT32_MAX, 1);
	hpa_hist_initial(&r->st->hist, r->mono, current);
	if (current == 0 && r->min != 0) {
		hpa_cond_set(r->conds, "ScalingActive", "False",
		    "ScalingDisabled", r->now, "scaling is disabled since the "
		    "replica count of the target is zero");
	} else if (current > r->max) {
		snprintf(reason, sizeof(reason), "Current number of replicas "
		    "above Spec.MaxReplicas");
		desired = r->max;
	} else if (current < r->min) {
		snprintf(reason, sizeof(reason), "Current number of replicas "
		    "below Spec.MinReplicas");
		desired = r->min;
	} else {
		desired = hpa_decide(r, rs, current, reason, sizeof(reason), err,
		    sizeof(err));
		if (desired < 0) {
			hpa_event(r, "Warning", "FailedComputeMetricsReplicas",
			    err);
			hpa_status_write(r, 1, current, -1, 0);
			json_decref(rs);
			return -1;
		}
	}
	rescale = !(current == 0 && r->min != 0) && desired != current;
	if (rescale && hpa_rescale(r, rs, desired, reason) < 0) {
		hpa_status_write(r, 1, current, -1, 0);
		json_decref(rs);
		return -1;
	}
	if (rescale) {
		has_b = hpa_behavior_parse(r, &b);
		hpa_hist_scaled(&r->st->hist, has_b ? &b : NULL, r->mono,
		    current, desired);
	} else
		desired = current;
	hpa_status_write(r, 1, current, desired, rescale);
	json_decref(rs);
	return 0;
}

int
hpa_sync(struct hpa_ctl *c, const char *ns, const char *name)
{
	struct hpa_run r;
	char key[HPA_KEY_MAX];
	const json_t *old;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.ns = ns;
	r.name = name;
	hpa_key(ns, name, key, sizeof(key));
	r.hpa = store_get(c->s, HPA_KIND, ns, name);
	if (!r.hpa) {
		hpa_state_drop(c, key);
		return 0;
	}
	if (json_object_get(json_object_get(r.hpa, "metadata"),
	    "deletionTimestamp")) {
		rc = 0;
		goto out;
	}
	r.st = hpa_state_get(c, key, 1);
	old = json_object_get(json_object_get(r.hpa, "status"), "conditions");
	r.conds = json_is_array(old) ? json_deep_copy(old) : json_array();
	r.metrics = json_array();
	if (!r.st || !r.conds || !r.metrics) {
		log_error("%s: out of memory", key);
		goto out;
	}
	r.spec = json_object_get(r.hpa, "spec");
	r.mono = hpa_now_mono(c);
	r.wall = hpa_now_wall(c);
	hpa_format_time(r.wall, r.now);
	r.max = hpa_int(r.spec, "maxReplicas", 0, INT32_MAX, 0);
	r.min = hpa_int(r.spec, "minReplicas", 0, INT32_MAX, 1);
	if (r.min > r.max)
		r.min = r.max;		/* admission refuses it; never trusted */
	rc = hpa_reconcile(&r);
out:
	json_decref(r.conds);
	json_decref(r.metrics);
	json_decref(r.hpa);
	return rc;
}
