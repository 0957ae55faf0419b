/*
 * Unit tests: the HorizontalPodAutoscaler. The calculator and the
 * normalization (agent/hpa_calc.c) with fixed inputs and times; the
 * controller (agent/hpa.c, hpa_sync.c) against a real store in a
 * temporary directory, with a fake clock and fake metrics (what
 * usage_pod() would report per Pod), the test playing the VMI runtime
 * (the Pod views) and the VMIRS controller (status.labelSelector).
 * Every run is the same.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "hpa.h"
#include "hpa_calc.h"
#include "objops.h"
#include "store.h"
#include "usage.h"

#define NS "alice"
#define RS "lab05-cirros-replicaset"
#define T0 1700000000000LL		/* wall clock, ms */
#define MIN_MS 60000

static const struct hpa_calc_cfg cfg = { 0.1, 300000, 30000 };

/* A running, Ready replica started 10 minutes ago requesting 100m. */
static struct hpa_pod
pod(const char *name, int64_t usage_m)
{
	struct hpa_pod p;

	memset(&p, 0, sizeof(p));
	p.name = name;
	p.has_ready = 1;
	p.ready_change_ms = T0 - 10 * MIN_MS;
	p.has_start = 1;
	p.start_ms = T0 - 10 * MIN_MS;
	p.has_request = 1;
	p.request = 100;
	p.has_metric = usage_m >= 0;
	p.metric = usage_m;
	p.metric_ms = T0;
	p.window_ms = 15000;
	return p;
}

static int32_t
util(const struct hpa_pod *p, size_t n, int32_t cur, int32_t target,
    struct hpa_calc_out *o, char *err)
{
	assert_int_equal(hpa_calc_utilization(&cfg, T0, cur, target, "cpu", p,
	    n, o, err, 256), 0);
	return o->replicas;
}

/* ---- the calculator ---------------------------------------------------------- */

static void
test_tolerance(void **state)
{
	struct hpa_pod p[2] = { pod("a", 80), pod("b", 85) };
	struct hpa_calc_out o;
	char err[256];

	(void)state;
	/* 82% of a 75% target: ratio 1.093, within 0.1: unchanged */
	assert_int_equal(util(p, 2, 2, 75, &o, err), 2);
	assert_int_equal(o.utilization, 82);
	assert_int_equal(o.average, 82);
	/* 90%: ratio 1.2: ceil(1.2 * 2) */
	p[0].metric = 95;
	assert_int_equal(util(p, 2, 2, 75, &o, err), 3);
	/* exactly 0.1 below: unchanged */
	p[0].metric = p[1].metric = 90;
	assert_int_equal(util(p, 2, 2, 100, &o, err), 2);
}

static void
test_scale_up_lab(void **state)
{
	/* the lab's busy VM: 283m of 100m */
	struct hpa_pod p[1] = { pod("a", 283) };
	struct hpa_calc_out o;
	char err[256];

	(void)state;
	assert_int_equal(util(p, 1, 1, 75, &o, err), 4);
	assert_int_equal(o.utilization, 283);
	p[0].metric = 2;		/* idle: 2% -> ceil(0.026) */
	assert_int_equal(util(p, 1, 1, 75, &o, err), 1);
	assert_int_equal(o.utilization, 2);
}

static void
test_missing_metrics(void **state)
{
	struct hpa_pod p[3] = { pod("a", 10), pod("b", -1), pod("c", 10) };
	struct hpa_calc_out o;
	char err[256];

	(void)state;
	/* down: the missing one counts as 100%: (10+100+10)/300 = 40% of 50%:
	 * ratio 0.8 -> ceil(0.8 * 3) = 3: not below current: unchanged */
	assert_int_equal(util(p, 3, 3, 50, &o, err), 3);
	/* without it: 10% of 50%: 0.2 -> ceil(0.2 * 2) = 1 */
	p[1] = pod("b", 10);
	assert_int_equal(util(p, 3, 3, 50, &o, err), 1);
	/* up: the missing one counts as 0: (200+0+200)/300 = 133% of 50 */
	p[0].metric = p[2].metric = 200;
	p[1].has_metric = 0;
	assert_int_equal(util(p, 3, 3, 50, &o, err), 8);
	/* no metrics at all */
	p[0].has_metric = p[2].has_metric = 0;
	assert_int_equal(hpa_calc_utilization(&cfg, T0, 3, 50, "cpu", p, 3, &o,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "unable to get metrics for resource cpu: no "
	    "metrics returned from resource metrics API");
}

static void
test_unready_and_ignored(void **state)
{
	struct hpa_pod p[3] = { pod("a", 300), pod("b", 0), pod("c", 50) };
	struct hpa_calc_out o;
	char err[256];

	(void)state;
	/* b just started and is not Ready: 0 on a scale-up */
	p[1].start_ms = T0 - 20000;
	p[1].ready_false = 1;
	p[1].ready_change_ms = T0 - 20000;
	/* c is Failed: ignored */
	p[2].phase = HPA_PHASE_FAILED;
	/* a alone: 300% of 75 = ratio 4; with b at 0: 150% -> ratio 2 -> 4 */
	assert_int_equal(util(p, 3, 2, 75, &o, err), 4);
	assert_int_equal(o.utilization, 300);
	/* a being deleted too: no ready replica left */
	p[0].deleting = 1;
	assert_int_equal(hpa_calc_utilization(&cfg, T0, 2, 75, "cpu", p, 3, &o,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "did not receive metrics for targeted pods "
	    "(pods might be unready)");
}

static void
test_missing_request(void **state)
{
	struct hpa_pod p[2] = { pod("a", 10), pod("virt-launcher-x-abcde", 10) };
	struct hpa_calc_out o;
	char err[256];

	(void)state;
	p[1].has_request = 0;
	p[1].no_request = "compute";
	assert_int_equal(hpa_calc_utilization(&cfg, T0, 2, 75, "cpu", p, 2, &o,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "missing request for cpu in container compute "
	    "of Pod virt-launcher-x-abcde");
}

static void
test_average_value(void **state)
{
	struct hpa_pod p[2] = { pod("a", 300), pod("b", 100) };
	struct hpa_calc_out o;
	char err[256];

	(void)state;
	/* average 200m of a 100m target: ratio 2 -> 4 */
	assert_int_equal(hpa_calc_average(&cfg, T0, 2, 100, "cpu", p, 2, &o, err,
	    sizeof(err)), 0);
	assert_int_equal(o.replicas, 4);
	assert_int_equal(o.average, 200);
}

/* ---- normalization ---------------------------------------------------------- */

static void
test_stabilization(void **state)
{
	struct hpa_hist h = { 0 };
	struct hpa_norm n;

	(void)state;
	hpa_hist_initial(&h, 0, 3);
	/* below for 60 s: the highest of the last 300 s (3) */
	assert_int_equal(hpa_normalize(&h, 60000, 3, 1, 1, 5, 300000, &n), 3);
	assert_string_equal(n.able_reason, "ScaleDownStabilized");
	assert_int_equal(n.limited, 0);
	assert_int_equal(hpa_normalize(&h, 299000, 3, 1, 1, 5, 300000, &n), 3);
	/* 301 s: the 3 is out of the window */
	assert_int_equal(hpa_normalize(&h, 301000, 3, 1, 1, 5, 300000, &n), 1);
	assert_string_equal(n.able_reason, "ReadyForNewScale");
	assert_string_equal(n.limit_reason, "DesiredWithinRange");
	/* up at once */
	assert_int_equal(hpa_normalize(&h, 302000, 1, 2, 1, 5, 300000, &n), 2);
	hpa_hist_free(&h);
}

static void
test_min_max(void **state)
{
	struct hpa_hist h = { 0 };
	struct hpa_norm n;

	(void)state;
	/* max(2 * 1, 4) per step without behavior */
	assert_int_equal(hpa_normalize(&h, 0, 1, 10, 1, 8, 300000, &n), 4);
	assert_int_equal(n.limited, 1);
	assert_string_equal(n.limit_reason, "ScaleUpLimit");
	assert_int_equal(hpa_normalize(&h, 1000, 4, 10, 1, 8, 300000, &n), 8);
	assert_string_equal(n.limit_reason, "TooManyReplicas");
	hpa_hist_free(&h);
	memset(&h, 0, sizeof(h));
	assert_int_equal(hpa_normalize(&h, 0, 2, 0, 1, 2, 300000, &n), 1);
	assert_int_equal(n.limited, 1);
	assert_string_equal(n.limit_reason, "TooFewReplicas");
	hpa_hist_free(&h);
}

static void
test_behavior(void **state)
{
	struct hpa_behavior b;
	struct hpa_hist h = { 0 };
	struct hpa_norm n;

	(void)state;
	memset(&b, 0, sizeof(b));
	/* autoscaling/v2's defaults, scale-down window 10 s */
	b.up.npol = 2;
	b.up.pol[0] = (struct hpa_policy){ 0, 4, 15 };
	b.up.pol[1] = (struct hpa_policy){ 1, 100, 15 };
	b.down.window_s = 10;
	b.down.npol = 1;
	b.down.pol[0] = (struct hpa_policy){ 1, 100, 15 };
	hpa_hist_initial(&h, 0, 1);
	/* up: 1 -> 10 limited to max(1 + 4, 1 * 2) = 5 */
	assert_int_equal(hpa_normalize_behavior(&h, 0, &b, 1, 10, 1, 20, &n), 5);
	assert_string_equal(n.limit_reason, "ScaleUpLimit");
	hpa_hist_scaled(&h, &b, 0, 1, 5);
	/* 5 s later: another +4 is over the 15 s budget (5 - 4 + 4 = 5) */
	assert_int_equal(hpa_normalize_behavior(&h, 5000, &b, 5, 10, 1, 20,
	    &n), 5);
	/* down within 10 s of the 10 recommendation: stabilized */
	assert_int_equal(hpa_normalize_behavior(&h, 8000, &b, 5, 1, 1, 20, &n),
	    5);
	assert_string_equal(n.able_reason, "ScaleDownStabilized");
	/* 11 s after: the window has passed every higher recommendation */
	assert_int_equal(hpa_normalize_behavior(&h, 19000, &b, 5, 1, 1, 20, &n),
	    1);
	assert_string_equal(n.able_reason, "ReadyForNewScale");
	hpa_hist_free(&h);
}

static void
test_conditions(void **state)
{
	json_t *c = json_array();

	(void)state;
	hpa_cond_set(c, "AbleToScale", "True", "SucceededGetScale", "t1", "x %d",
	    1);
	hpa_cond_set(c, "AbleToScale", "True", "ReadyForNewScale", "t2", "y");
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(c,
	    0), "lastTransitionTime")), "t1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(c,
	    0), "reason")), "ReadyForNewScale");
	hpa_cond_set(c, "AbleToScale", "False", "FailedGetScale", "t3", "z");
	assert_string_equal(json_string_value(json_object_get(json_array_get(c,
	    0), "lastTransitionTime")), "t3");
	json_decref(c);
}

/* ---- the controller on a real store ------------------------------------------ */

struct fx {
	char dir[64];
	struct store *s;
	struct hpa_ctl *c;
	int64_t mono, wall;
	json_t *usage;			/* Pod name -> millicores */
};

static int64_t
fx_mono(void *arg)
{
	return ((struct fx *)arg)->mono;
}

static int64_t
fx_wall(void *arg)
{
	return ((struct fx *)arg)->wall;
}

static int
fx_metrics(void *arg, const json_t *p, struct usage_value *out)
{
	struct fx *f = arg;
	const json_t *m = json_object_get(f->usage, json_string_value(
	    json_object_get(json_object_get(p, "metadata"), "name")));

	if (!json_is_integer(m))
		return -ENOENT;
	out->nanocores = (uint64_t)json_integer_value(m) * 1000000u;
	out->memory = 1 << 20;
	out->time_ms = f->wall;
	out->window_ms = 15000;
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct hpa_config hc;
	char err[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/drover-hpa-XXXXXX");
	if (!mkdtemp(f->dir) || store_open(f->dir, &f->s, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	hpa_config_init(&hc);
	f->c = hpa_new(f->s, NULL, NULL, &hc);
	f->usage = json_object();
	if (!f->c || !f->usage)
		return -1;
	f->mono = 1000000;
	f->wall = T0;
	hpa_set_clock(f->c, fx_mono, fx_wall, f);
	hpa_set_metrics(f->c, fx_metrics, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	hpa_free(f->c);
	store_close(f->s);
	json_decref(f->usage);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("%s: %s", text, e.text);
	return j;
}

static void
create(struct fx *f, const char *text)
{
	json_t *o = parse(text), *st = NULL;

	if (objops_create(f->s, o, OBJOPS_STRICT, NULL, &st) < 0)
		fail_msg("create: %s", json_dumps(st, 0));
	json_decref(o);
}

static void
set_status(struct fx *f, const char *kind, const char *name,
    const char *text)
{
	json_t *st = parse(text);
	char err[256];

	if (store_update_status(f->s, kind, NS, name, st, NULL, err,
	    sizeof(err)) < 0)
		fail_msg("status: %s", err);
	json_decref(st);
}

static void
rs_add(struct fx *f, int replicas)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "{\"apiVersion\": \"kubevirt.io/v1\", "
	    "\"kind\": \"VirtualMachineInstanceReplicaSet\", \"metadata\": "
	    "{\"name\": \"%s\", \"namespace\": \"%s\"}, \"spec\": "
	    "{\"replicas\": %d, \"selector\": {\"matchLabels\": "
	    "{\"kubevirt.io/domain\": \"lab05-cirros\"}}, \"template\": "
	    "{\"metadata\": {\"labels\": {\"kubevirt.io/domain\": "
	    "\"lab05-cirros\"}}, \"spec\": {\"domain\": {\"devices\": {}, "
	    "\"resources\": {\"requests\": {\"cpu\": \"100m\", \"memory\": "
	    "\"64Mi\"}}}}}}}", RS, NS, replicas);
	create(f, buf);
	set_status(f, "VirtualMachineInstanceReplicaSet", RS, "{\"replicas\": "
	    "1, \"labelSelector\": \"kubevirt.io/domain=lab05-cirros\"}");
}

/* A Running, Ready Pod view started 10 minutes before T0. */
static void
pod_add(struct fx *f, const char *name, const char *labels, int request)
{
	char buf[1024], err[256];
	json_t *o;

	snprintf(buf, sizeof(buf), "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", "
	    "\"metadata\": {\"name\": \"%s\", \"namespace\": \"%s\", "
	    "\"labels\": %s}, \"spec\": {\"containers\": [{\"name\": "
	    "\"compute\", \"resources\": {\"requests\": %s}}]}}", name, NS,
	    labels, request ? "{\"cpu\": \"100m\"}" : "{}");
	o = parse(buf);
	if (store_create(f->s, o, NULL, err, sizeof(err)) < 0)
		fail_msg("pod: %s", err);
	json_decref(o);
	set_status(f, "Pod", name, "{\"phase\": \"Running\", \"startTime\": "
	    "\"2023-11-14T22:03:20Z\", \"conditions\": [{\"type\": \"Ready\", "
	    "\"status\": \"True\", \"lastTransitionTime\": "
	    "\"2023-11-14T22:03:20Z\"}]}");
}

#define LAB_LABELS "{\"kubevirt.io/domain\": \"lab05-cirros\"}"

static const char *lab_hpa = "{\"apiVersion\": \"autoscaling/v1\", \"kind\": "
    "\"HorizontalPodAutoscaler\", \"metadata\": {\"name\": \"" RS "\", "
    "\"namespace\": \"" NS "\"}, \"spec\": {\"maxReplicas\": 2, "
    "\"minReplicas\": 1, \"scaleTargetRef\": {\"apiVersion\": "
    "\"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstanceReplicaSet\", "
    "\"name\": \"" RS "\"}, \"targetCPUUtilizationPercentage\": 75}}";

static void
use(struct fx *f, const char *pod_name, int m)
{
	json_object_set_new(f->usage, pod_name, json_integer(m));
}

static json_t *
hpa_get(struct fx *f)
{
	json_t *h = store_get(f->s, HPA_KIND, NS, RS);

	assert_non_null(h);
	return h;
}

/* The condition type of the stored HPA: "status reason message". */
static const char *
cond(struct fx *f, const char *type)
{
	static char out[1024];
	json_t *h = hpa_get(f), *c;
	size_t i;

	snprintf(out, sizeof(out), "(none)");
	json_array_foreach(json_object_get(json_object_get(h, "status"),
	    "conditions"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")), type))
			snprintf(out, sizeof(out), "%s %s %s",
			    json_string_value(json_object_get(c, "status")),
			    json_string_value(json_object_get(c, "reason")),
			    json_string_value(json_object_get(c, "message")));
	json_decref(h);
	return out;
}

static json_int_t
st_int(struct fx *f, const char *k)
{
	json_t *h = hpa_get(f);
	json_int_t v = json_integer_value(json_object_get(json_object_get(h,
	    "status"), k));

	json_decref(h);
	return v;
}

static json_int_t
rs_replicas(struct fx *f)
{
	json_t *rs = store_get(f->s, "VirtualMachineInstanceReplicaSet", NS, RS);
	json_int_t v = json_integer_value(json_object_get(json_object_get(rs,
	    "spec"), "replicas"));

	json_decref(rs);
	return v;
}

/* The message of the latest Event with reason, or "". */
static const char *
event(struct fx *f, const char *reason)
{
	static char out[1024];
	json_t *all = store_list(f->s, "Event", NS), *e;
	size_t i;

	out[0] = '\0';
	json_array_foreach(all, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "reason")),
		    reason))
			snprintf(out, sizeof(out), "%s", json_string_value(
			    json_object_get(e, "message")));
	json_decref(all);
	return out;
}

static void
step(struct fx *f, int64_t ms)
{
	f->mono += ms;
	f->wall += ms;
	hpa_sync(f->c, NS, RS);
}

static void
test_ctl_lab(void **state)
{
	struct fx *f = *state;
	json_t *h, *v1, *cur;

	rs_add(f, 1);
	pod_add(f, "virt-launcher-a-bcdfg", LAB_LABELS, 1);
	pod_add(f, "other", "{\"app\": \"x\"}", 0);	/* not selected */
	use(f, "virt-launcher-a-bcdfg", 2);
	create(f, lab_hpa);
	step(f, 0);
	assert_int_equal(st_int(f, "currentReplicas"), 1);
	assert_int_equal(st_int(f, "desiredReplicas"), 1);
	assert_string_equal(cond(f, "AbleToScale"), "True ReadyForNewScale "
	    "recommended size matches current size");
	assert_string_equal(cond(f, "ScalingActive"), "True ValidMetricFound "
	    "the HPA was able to successfully calculate a replica count from "
	    "cpu resource utilization (percentage of request)");
	assert_string_equal(cond(f, "ScalingLimited"), "False "
	    "DesiredWithinRange the desired count is within the acceptable "
	    "range");
	h = hpa_get(f);
	cur = json_array_get(json_object_get(json_object_get(h, "status"),
	    "currentMetrics"), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(cur, "resource"), "current"),
	    "averageUtilization")), 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(cur, "resource"), "current"), "averageValue")),
	    "2m");
	/* the v1 view of the same object */
	v1 = objops_version_form(h, "autoscaling/v1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v1,
	    "status"), "currentCPUUtilizationPercentage")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v1,
	    "spec"), "targetCPUUtilizationPercentage")), 75);
	json_decref(v1);
	json_decref(h);

	/* load: 283% of 75%: 4, at most 2 */
	use(f, "virt-launcher-a-bcdfg", 283);
	step(f, 15000);
	assert_int_equal(rs_replicas(f), 2);
	assert_string_equal(event(f, "SuccessfulRescale"), "New size: 2; "
	    "reason: cpu resource utilization (percentage of request) above "
	    "target");
	assert_string_equal(cond(f, "AbleToScale"), "True SucceededRescale "
	    "the HPA controller was able to update the target scale to 2");
	assert_string_equal(cond(f, "ScalingLimited"), "True TooManyReplicas "
	    "the desired replica count is more than the maximum replica count");
	assert_int_equal(st_int(f, "desiredReplicas"), 2);
	h = hpa_get(f);
	assert_non_null(json_object_get(json_object_get(h, "status"),
	    "lastScaleTime"));
	json_decref(h);

	/* the second replica starts; the load stops */
	pod_add(f, "virt-launcher-b-bcdfg", LAB_LABELS, 1);
	use(f, "virt-launcher-a-bcdfg", 1);
	use(f, "virt-launcher-b-bcdfg", 1);
	step(f, 15000);
	assert_int_equal(rs_replicas(f), 2);
	assert_int_equal(st_int(f, "currentReplicas"), 2);
	assert_string_equal(cond(f, "AbleToScale"), "True ScaleDownStabilized "
	    "recent recommendations were higher than current one, applying "
	    "the highest recent recommendation");
	/* still 300 s after the high recommendation (the window includes
	 * its edge), down the sync after */
	for (int i = 0; i < 19; i++)
		step(f, 15000);
	assert_int_equal(rs_replicas(f), 2);
	step(f, 15000);
	assert_int_equal(rs_replicas(f), 1);
	assert_string_equal(event(f, "SuccessfulRescale"), "New size: 1; "
	    "reason: All metrics below target");
}

static void
test_ctl_behavior(void **state)
{
	struct fx *f = *state;

	rs_add(f, 1);
	pod_add(f, "virt-launcher-a-bcdfg", LAB_LABELS, 1);
	pod_add(f, "virt-launcher-b-bcdfg", LAB_LABELS, 1);
	use(f, "virt-launcher-a-bcdfg", 300);
	create(f, "{\"apiVersion\": \"autoscaling/v2\", \"kind\": "
	    "\"HorizontalPodAutoscaler\", \"metadata\": {\"name\": \"" RS "\", "
	    "\"namespace\": \"" NS "\"}, \"spec\": {\"maxReplicas\": 2, "
	    "\"scaleTargetRef\": {\"apiVersion\": \"kubevirt.io/v1\", "
	    "\"kind\": \"VirtualMachineInstanceReplicaSet\", \"name\": \"" RS
	    "\"}, \"metrics\": [{\"type\": \"Resource\", \"resource\": "
	    "{\"name\": \"cpu\", \"target\": {\"type\": \"Utilization\", "
	    "\"averageUtilization\": 75}}}], \"behavior\": {\"scaleDown\": "
	    "{\"stabilizationWindowSeconds\": 10}}}}");
	step(f, 0);
	/* b has no metric yet: counts 0 on a scale-up: 150% -> 2 */
	assert_int_equal(rs_replicas(f), 2);
	use(f, "virt-launcher-a-bcdfg", 0);
	use(f, "virt-launcher-b-bcdfg", 0);
	step(f, 5000);
	assert_int_equal(rs_replicas(f), 2);
	assert_string_equal(cond(f, "AbleToScale"), "True ScaleDownStabilized "
	    "recent recommendations were higher than current one, applying "
	    "the highest recent recommendation");
	step(f, 6000);
	assert_int_equal(rs_replicas(f), 1);
}

static void
test_ctl_no_metrics(void **state)
{
	struct fx *f = *state;
	json_t *h;

	rs_add(f, 1);
	pod_add(f, "virt-launcher-a-bcdfg", LAB_LABELS, 1);
	create(f, lab_hpa);
	step(f, 0);
	assert_string_equal(cond(f, "ScalingActive"), "False "
	    "FailedGetResourceMetric the HPA was unable to compute the replica "
	    "count: failed to get cpu utilization: unable to get metrics for "
	    "resource cpu: no metrics returned from resource metrics API");
	assert_string_equal(event(f, "FailedComputeMetricsReplicas"),
	    "invalid metrics (1 invalid out of 1), first error is: failed to "
	    "get cpu utilization: unable to get metrics for resource cpu: no "
	    "metrics returned from resource metrics API");
	assert_string_equal(event(f, "FailedGetResourceMetric"), "failed to "
	    "get cpu utilization: unable to get metrics for resource cpu: no "
	    "metrics returned from resource metrics API");
	assert_int_equal(rs_replicas(f), 1);
	assert_int_equal(st_int(f, "currentReplicas"), 1);
	/* an entry without a value: kubectl prints cpu: <unknown>/75% */
	h = hpa_get(f);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(h, "status"), "currentMetrics"), 0),
	    "type")), "");
	json_decref(h);
}

static void
test_ctl_no_request(void **state)
{
	struct fx *f = *state;

	rs_add(f, 1);
	pod_add(f, "virt-launcher-a-bcdfg", LAB_LABELS, 0);
	use(f, "virt-launcher-a-bcdfg", 50);
	create(f, lab_hpa);
	step(f, 0);
	assert_string_equal(cond(f, "ScalingActive"), "False "
	    "FailedGetResourceMetric the HPA was unable to compute the replica "
	    "count: failed to get cpu utilization: missing request for cpu in "
	    "container compute of Pod virt-launcher-a-bcdfg");
	assert_int_equal(rs_replicas(f), 1);
}

static void
test_ctl_target(void **state)
{
	struct fx *f = *state;

	create(f, lab_hpa);
	assert_int_equal(hpa_sync(f->c, NS, RS), -1);
	assert_string_equal(cond(f, "AbleToScale"), "False FailedGetScale the "
	    "HPA controller was unable to get the target's current scale: "
	    "virtualmachineinstancereplicasets.kubevirt.io \"" RS "\" not "
	    "found");
	assert_string_equal(event(f, "FailedGetScale"),
	    "virtualmachineinstancereplicasets.kubevirt.io \"" RS "\" not "
	    "found");
	/* scaled to zero: disabled */
	rs_add(f, 0);
	assert_int_equal(hpa_sync(f->c, NS, RS), 0);
	assert_string_equal(cond(f, "ScalingActive"), "False ScalingDisabled "
	    "scaling is disabled since the replica count of the target is zero");
	assert_int_equal(rs_replicas(f), 0);
}

static void
test_ctl_watch(void **state)
{
	struct fx *f = *state;
	json_t *h, *cp;
	char err[256];

	rs_add(f, 1);
	pod_add(f, "virt-launcher-a-bcdfg", LAB_LABELS, 1);
	use(f, "virt-launcher-a-bcdfg", 10);
	assert_int_equal(hpa_drain(f->c), 0);
	create(f, lab_hpa);
	assert_int_equal(hpa_drain(f->c), 1);	/* new */
	assert_int_equal(hpa_drain(f->c), 0);	/* its status write: no */
	h = hpa_get(f);
	cp = json_deep_copy(h);
	json_object_set_new(json_object_get(cp, "spec"), "maxReplicas",
	    json_integer(3));
	assert_int_equal(store_update(f->s, cp, NULL, err, sizeof(err)), 0);
	assert_int_equal(hpa_drain(f->c), 1);	/* spec changed */
	hpa_enqueue_all(f->c);
	assert_int_equal(hpa_drain(f->c), 1);	/* the resync */
	json_decref(cp);
	json_decref(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tolerance),
		cmocka_unit_test(test_scale_up_lab),
		cmocka_unit_test(test_missing_metrics),
		cmocka_unit_test(test_unready_and_ignored),
		cmocka_unit_test(test_missing_request),
		cmocka_unit_test(test_average_value),
		cmocka_unit_test(test_stabilization),
		cmocka_unit_test(test_min_max),
		cmocka_unit_test(test_behavior),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test_setup_teardown(test_ctl_lab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_behavior, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_no_metrics, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_no_request, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_target, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_watch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
