/*
 * hpa_calc.c: the HPA's replica calculator, normalization and conditions
 * (hpa_calc.h), written after Kubernetes' pkg/controller/podautoscaler
 * (same comparisons, same float64 arithmetic, same messages). Sums
 * saturate instead of overflowing: usage and requests are bounded in
 * practice, but never trusted.
 */
#include "hpa_calc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { G_READY, G_UNREADY, G_MISSING, G_IGNORED };

/* A replica's sample in the calculation; present 0: left out. */
struct hpa_work {
	int present;
	int64_t value;
};

struct hpa_groups {
	unsigned char *g;
	size_t ready, unready, missing;
};

static int
hpa_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
hpa_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int64_t
hpa_add(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t
hpa_mul(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int32_t
hpa_i32(double v)
{
	if (!(v < 2147483647.0))
		return INT32_MAX;
	if (!(v > -2147483648.0))
		return INT32_MIN;
	return (int32_t)v;
}

/* ---- groupPods ------------------------------------------------------------- */

static int
hpa_unready_cpu(const struct hpa_calc_cfg *cfg, int64_t now,
    const struct hpa_pod *p)
{
	if (!p->has_ready || !p->has_start)
		return 1;
	/* still within the initialization period of its start */
	if (hpa_add(p->start_ms, cfg->cpu_init_ms) > now)
		return p->ready_false || p->metric_ms <
		    hpa_add(p->ready_change_ms, p->window_ms);
	/* not ready, and never was */
	return p->ready_false && hpa_add(p->start_ms,
	    cfg->readiness_delay_ms) > p->ready_change_ms;
}

static void
hpa_group(const struct hpa_calc_cfg *cfg, int64_t now, int cpu,
    const struct hpa_pod *pods, size_t n, struct hpa_groups *gr)
{
	for (size_t i = 0; i < n; i++) {
		const struct hpa_pod *p = &pods[i];
		unsigned char g = G_READY;

		if (p->deleting || p->phase == HPA_PHASE_FAILED)
			g = G_IGNORED;
		else if (p->phase == HPA_PHASE_PENDING)
			g = G_UNREADY;
		else if (!p->has_metric)
			g = G_MISSING;
		else if (cpu && hpa_unready_cpu(cfg, now, p))
			g = G_UNREADY;
		gr->g[i] = g;
		gr->ready += g == G_READY;
		gr->unready += g == G_UNREADY;
		gr->missing += g == G_MISSING;
	}
}

/* The metrics, the samples of ignored and unready replicas removed. */
static size_t
hpa_work_init(const struct hpa_pod *pods, size_t n,
    const struct hpa_groups *gr, struct hpa_work *w)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		w[i].present = pods[i].has_metric && gr->g[i] == G_READY;
		w[i].value = w[i].present ? pods[i].metric : 0;
		k += (size_t)w[i].present;
	}
	return k;
}

static size_t
hpa_work_count(const struct hpa_work *w, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += (size_t)w[i].present;
	return k;
}

/* Common start: metrics at all, groups, what is left. */
static int
hpa_prepare(const struct hpa_calc_cfg *cfg, int64_t now, const char *res,
    const struct hpa_pod *pods, size_t n, struct hpa_groups *gr,
    struct hpa_work **wp, char *err, size_t errlen)
{
	size_t i, have = 0;

	for (i = 0; i < n; i++)
		have += (size_t)(pods[i].has_metric != 0);
	if (have == 0)
		return hpa_fail(err, errlen, "unable to get metrics for resource "
		    "%s: no metrics returned from resource metrics API", res);
	gr->g = calloc(n, 1);
	*wp = calloc(n, sizeof(**wp));
	if (!gr->g || !*wp)
		return hpa_fail(err, errlen, "out of memory");
	hpa_group(cfg, now, !strcmp(res, "cpu"), pods, n, gr);
	if (hpa_work_init(pods, n, gr, *wp) == 0)
		return hpa_fail(err, errlen, "did not receive metrics for "
		    "targeted pods (pods might be unready)");
	return 0;
}

/* ---- GetResourceReplicas ------------------------------------------------------ */

/* GetResourceUtilizationRatio. */
static int
hpa_util_ratio(const struct hpa_pod *pods, size_t n,
    const struct hpa_work *w, int32_t target, double *ratio, int32_t *util,
    int64_t *avg, char *err, size_t errlen)
{
	int64_t mt = 0, rt = 0, u;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!w[i].present)
			continue;
		mt = hpa_add(mt, w[i].value);
		rt = hpa_add(rt, pods[i].request);
		k++;
	}
	if (rt == 0)
		return hpa_fail(err, errlen, "no metrics returned matched "
		    "known pods");
	u = hpa_mul(mt, 100) / rt;
	*util = u > INT32_MAX ? INT32_MAX : (int32_t)u;
	*ratio = (double)*util / (double)target;
	if (avg)
		*avg = mt / (int64_t)k;
	return 0;
}

static int
hpa_requests(const char *res, const struct hpa_pod *pods, size_t n,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (!pods[i].has_request)
			return hpa_fail(err, errlen, "missing request for %s in "
			    "container %s of Pod %s", res, pods[i].no_request ?
			    pods[i].no_request : "", pods[i].name);
	return 0;
}

/*
 * The end both calculators share once the first ratio is known: the
 * second pass with the missing and unready replicas filled in. fill_down:
 * what a missing replica i uses on a scale-down. ratio_fn computes a
 * ratio over w.
 */
struct hpa_pass2 {
	const struct hpa_calc_cfg *cfg;
	const struct hpa_pod *pods;
	size_t n;
	const struct hpa_groups *gr;
	struct hpa_work *w;
	int32_t current;
	double ratio;
	int (*ratio_fn)(const struct hpa_pass2 *p, double *out, char *err,
	    size_t errlen);
	int64_t (*fill_down)(const struct hpa_pass2 *p, size_t i);
	int32_t target_pct;
	int64_t target;
};

/* The second pass's inputs that both calculations share. */
static void
hpa_pass2_init(struct hpa_pass2 *p, const struct hpa_calc_cfg *cfg,
    const struct hpa_pod *pods, size_t n, const struct hpa_groups *gr,
    struct hpa_work *w, int32_t current)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->pods = pods;
	p->n = n;
	p->gr = gr;
	p->w = w;
	p->current = current;
}

static int
hpa_second_pass(const struct hpa_pass2 *p, int32_t *replicas, char *err,
    size_t errlen)
{
	int up_unready = p->gr->unready > 0 && p->ratio > 1.0;
	double nr;
	int32_t nrep;

	if (!up_unready && p->gr->missing == 0) {
		if (fabs(1.0 - p->ratio) <= p->cfg->tolerance)
			*replicas = p->current;
		else
			*replicas = hpa_i32(ceil(p->ratio *
			    (double)p->gr->ready));
		return 0;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->gr->g[i] == G_MISSING && p->ratio < 1.0) {
			p->w[i].present = 1;
			p->w[i].value = p->fill_down(p, i);
		} else if (p->gr->g[i] == G_MISSING && p->ratio > 1.0) {
			p->w[i].present = 1;
			p->w[i].value = 0;
		}
		if (p->gr->g[i] == G_UNREADY && up_unready) {
			p->w[i].present = 1;
			p->w[i].value = 0;
		}
	}
	if (p->ratio_fn(p, &nr, err, errlen) < 0)
		return -1;
	if (fabs(1.0 - nr) <= p->cfg->tolerance ||
	    (p->ratio < 1.0 && nr > 1.0) || (p->ratio > 1.0 && nr < 1.0)) {
		*replicas = p->current;
		return 0;
	}
	nrep = hpa_i32(ceil(nr * (double)hpa_work_count(p->w, p->n)));
	if ((nr < 1.0 && nrep > p->current) || (nr > 1.0 && nrep < p->current))
		nrep = p->current;
	*replicas = nrep;
	return 0;
}

static int
hpa_util_fn(const struct hpa_pass2 *p, double *out, char *err, size_t errlen)
{
	int32_t u;

	return hpa_util_ratio(p->pods, p->n, p->w, p->target_pct, out, &u,
	    NULL, err, errlen);
}

/* 100% of the request, or the target when it is higher. */
static int64_t
hpa_util_fill(const struct hpa_pass2 *p, size_t i)
{
	int64_t pct = p->target_pct > 100 ? p->target_pct : 100;

	return hpa_mul(p->pods[i].request, pct) / 100;
}

int
hpa_calc_utilization(const struct hpa_calc_cfg *cfg, int64_t now_ms,
    int32_t current, int32_t target_pct, const char *resource,
    const struct hpa_pod *pods, size_t n, struct hpa_calc_out *out,
    char *err, size_t errlen)
{
	struct hpa_groups gr = { 0 };
	struct hpa_work *w = NULL;
	struct hpa_pass2 p;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (target_pct <= 0) {
		hpa_fail(err, errlen, "invalid target utilization %d",
		    target_pct);
		goto out;
	}
	if (hpa_prepare(cfg, now_ms, resource, pods, n, &gr, &w, err,
	    errlen) < 0 || hpa_requests(resource, pods, n, err, errlen) < 0)
		goto out;
	hpa_pass2_init(&p, cfg, pods, n, &gr, w, current);
	p.ratio_fn = hpa_util_fn;
	p.fill_down = hpa_util_fill;
	p.target_pct = target_pct;
	if (hpa_util_ratio(pods, n, w, target_pct, &p.ratio, &out->utilization,
	    &out->average, err, errlen) < 0)
		goto out;
	rc = hpa_second_pass(&p, &out->replicas, err, errlen);
out:
	free(gr.g);
	free(w);
	return rc;
}

/* ---- GetRawResourceReplicas (calcPlainMetricReplicas) --------------------------- */

/* GetMetricUsageRatio. */
static int
hpa_plain_ratio(const struct hpa_work *w, size_t n, int64_t target,
    double *ratio, int64_t *avg)
{
	int64_t mt = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (w[i].present) {
			mt = hpa_add(mt, w[i].value);
			k++;
		}
	if (k == 0)
		return -1;
	*ratio = (double)(mt / (int64_t)k) / (double)target;
	if (avg)
		*avg = mt / (int64_t)k;
	return 0;
}

static int
hpa_plain_fn(const struct hpa_pass2 *p, double *out, char *err,
    size_t errlen)
{
	if (hpa_plain_ratio(p->w, p->n, p->target, out, NULL) < 0)
		return hpa_fail(err, errlen, "did not receive metrics for "
		    "targeted pods (pods might be unready)");
	return 0;
}

/* On a scale-down a missing replica uses exactly the target. */
static int64_t
hpa_plain_fill(const struct hpa_pass2 *p, size_t i)
{
	(void)i;
	return p->target;
}

int
hpa_calc_average(const struct hpa_calc_cfg *cfg, int64_t now_ms,
    int32_t current, int64_t target, const char *resource,
    const struct hpa_pod *pods, size_t n, struct hpa_calc_out *out,
    char *err, size_t errlen)
{
	struct hpa_groups gr = { 0 };
	struct hpa_work *w = NULL;
	struct hpa_pass2 p;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (target <= 0) {
		hpa_fail(err, errlen, "invalid target value %lld",
		    (long long)target);
		goto out;
	}
	if (hpa_prepare(cfg, now_ms, resource, pods, n, &gr, &w, err,
	    errlen) < 0)
		goto out;
	hpa_pass2_init(&p, cfg, pods, n, &gr, w, current);
	p.ratio_fn = hpa_plain_fn;
	p.fill_down = hpa_plain_fill;
	p.target = target;
	hpa_plain_ratio(w, n, target, &p.ratio, &out->average);
	rc = hpa_second_pass(&p, &out->replicas, err, errlen);
out:
	free(gr.g);
	free(w);
	return rc;
}

/* ---- history ----------------------------------------------------------------- */

void
hpa_hist_free(struct hpa_hist *h)
{
	free(h->rec);
	free(h->up);
	free(h->down);
	memset(h, 0, sizeof(*h));
}

static void
hpa_rec_add(struct hpa_hist *h, int64_t now, int32_t replicas)
{
	struct hpa_rec *n = realloc(h->rec, (h->nrec + 1) * sizeof(*n));

	if (!n)
		return;		/* the recommendation is lost, not the HPA */
	h->rec = n;
	h->rec[h->nrec].t_ms = now;
	h->rec[h->nrec].replicas = replicas;
	h->nrec++;
}

void
hpa_hist_initial(struct hpa_hist *h, int64_t now_ms, int32_t current)
{
	if (h->nrec == 0)
		hpa_rec_add(h, now_ms, current);
}

/* ---- normalization without behavior ---------------------------------------------- */

/* stabilizeRecommendation: the highest recent recommendation. */
static int32_t
hpa_stabilize(struct hpa_hist *h, int64_t now, int32_t desired,
    int64_t window_ms)
{
	int32_t max = desired;
	int64_t cutoff = now - window_ms;
	size_t i, old = 0;
	int found = 0;

	for (i = 0; i < h->nrec; i++) {
		if (h->rec[i].t_ms < cutoff) {
			found = 1;
			old = i;
		} else if (h->rec[i].replicas > max)
			max = h->rec[i].replicas;
	}
	if (found) {
		h->rec[old].t_ms = now;
		h->rec[old].replicas = desired;
	} else
		hpa_rec_add(h, now, desired);
	return max;
}

int32_t
hpa_normalize(struct hpa_hist *h, int64_t now_ms, int32_t current,
    int32_t desired, int32_t min, int32_t max, int64_t downscale_ms,
    struct hpa_norm *out)
{
	int32_t stab = hpa_stabilize(h, now_ms, desired, downscale_ms);
	int64_t up = (int64_t)HPA_SCALE_UP_FACTOR * current;
	int32_t limit = up > HPA_SCALE_UP_MIN ? (up > INT32_MAX ? INT32_MAX :
	    (int32_t)up) : HPA_SCALE_UP_MIN;
	int32_t maxok, res;
	const char *reason, *msg;

	if (stab != desired) {
		out->able_reason = "ScaleDownStabilized";
		out->able_msg = "recent recommendations were higher than "
		    "current one, applying the highest recent recommendation";
	} else {
		out->able_reason = "ReadyForNewScale";
		out->able_msg = "recommended size matches current size";
	}
	/* convertDesiredReplicasWithRules */
	if (max > limit) {
		maxok = limit;
		reason = "ScaleUpLimit";
		msg = "the desired replica count is increasing faster than the "
		    "maximum scale rate";
	} else {
		maxok = max;
		reason = "TooManyReplicas";
		msg = "the desired replica count is more than the maximum "
		    "replica count";
	}
	if (stab < min) {
		res = min;
		reason = "TooFewReplicas";
		msg = "the desired replica count is less than the minimum "
		    "replica count";
	} else if (stab > maxok)
		res = maxok;
	else {
		res = stab;
		reason = "DesiredWithinRange";
		msg = "the desired count is within the acceptable range";
	}
	out->limited = res != stab;
	out->limit_reason = reason;
	out->limit_msg = msg;
	return res;
}

/* ---- normalization with behavior -------------------------------------------------- */

/* stabilizeRecommendationWithBehaviors. */
static int32_t
hpa_stabilize_b(struct hpa_hist *h, int64_t now, const struct hpa_behavior *b,
    int32_t current, int32_t desired, struct hpa_norm *out)
{
	int64_t upcut = now - (int64_t)b->up.window_s * 1000;
	int64_t downcut = now - (int64_t)b->down.window_s * 1000;
	int32_t uprec = desired, downrec = desired, rec = current;
	size_t i, old = 0;
	int found = 0;

	for (i = 0; i < h->nrec; i++) {
		const struct hpa_rec *r = &h->rec[i];

		if (r->t_ms > upcut && r->replicas < uprec)
			uprec = r->replicas;
		if (r->t_ms > downcut && r->replicas > downrec)
			downrec = r->replicas;
		if (r->t_ms < upcut && r->t_ms < downcut) {
			found = 1;
			old = i;
		}
	}
	if (rec < uprec)
		rec = uprec;
	if (rec > downrec)
		rec = downrec;
	if (found) {
		h->rec[old].t_ms = now;
		h->rec[old].replicas = desired;
	} else
		hpa_rec_add(h, now, desired);
	if (desired >= current) {
		out->able_reason = "ScaleUpStabilized";
		out->able_msg = "recent recommendations were lower than current "
		    "one, applying the lowest recent recommendation";
	} else {
		out->able_reason = "ScaleDownStabilized";
		out->able_msg = "recent recommendations were higher than "
		    "current one, applying the highest recent recommendation";
	}
	return rec;
}

/* getReplicasChangePerPeriod. */
static int32_t
hpa_changes(int64_t now, int32_t period_s, const struct hpa_scale_event *e,
    size_t n)
{
	int64_t cutoff = now - (int64_t)period_s * 1000;
	int64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		if (e[i].t_ms > cutoff)
			sum += e[i].change;
	return sum > INT32_MAX ? INT32_MAX : sum < INT32_MIN ? INT32_MIN :
	    (int32_t)sum;
}

static int32_t
hpa_min32(int32_t a, int32_t b)
{
	return a <= b ? a : b;
}

static int32_t
hpa_max32(int32_t a, int32_t b)
{
	return a >= b ? a : b;
}

/* calculateScaleUpLimitWithScalingRules (up) and
 * calculateScaleDownLimitWithBehaviors (!up). */
static int32_t
hpa_rate_limit(const struct hpa_hist *h, int64_t now, int32_t current,
    const struct hpa_rules *r, int up)
{
	int32_t result, proposed = 0, start;
	int use_min;

	if (r->select == HPA_SELECT_DISABLED)
		return current;
	/* Up: Min takes the lowest proposal; down: Min the highest. */
	use_min = up ? r->select == HPA_SELECT_MIN : r->select != HPA_SELECT_MIN;
	result = use_min ? INT32_MAX : INT32_MIN;
	for (size_t i = 0; i < r->npol; i++) {
		const struct hpa_policy *p = &r->pol[i];
		int64_t s = (int64_t)current - hpa_changes(now, p->period_s,
		    h->up, h->nup) + hpa_changes(now, p->period_s, h->down,
		    h->ndown);

		start = s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN :
		    (int32_t)s;
		if (!p->percent)
			proposed = hpa_i32(up ? (double)start + p->value :
			    (double)start - p->value);
		else if (up)
			proposed = hpa_i32(ceil((double)start * (1 +
			    (double)p->value / 100)));
		else
			proposed = hpa_i32((double)start * (1 -
			    (double)p->value / 100));
		result = use_min ? hpa_min32(result, proposed) :
		    hpa_max32(result, proposed);
	}
	return result;
}

/* convertDesiredReplicasWithBehaviorRate. */
static int32_t
hpa_behavior_rate(const struct hpa_hist *h, int64_t now,
    const struct hpa_behavior *b, int32_t current, int32_t desired,
    int32_t min, int32_t max, struct hpa_norm *out)
{
	int32_t limit, bound;

	if (desired > current) {
		limit = hpa_rate_limit(h, now, current, &b->up, 1);
		if (limit < current)
			limit = current;
		if (max > limit) {
			bound = limit;
			out->limit_reason = "ScaleUpLimit";
			out->limit_msg = "the desired replica count is increasing "
			    "faster than the maximum scale rate";
		} else {
			bound = max;
			out->limit_reason = "TooManyReplicas";
			out->limit_msg = "the desired replica count is more than "
			    "the maximum replica count";
		}
		if (desired > bound)
			return bound;
	} else if (desired < current) {
		limit = hpa_rate_limit(h, now, current, &b->down, 0);
		if (limit > current)
			limit = current;
		if (min < limit) {
			bound = limit;
			out->limit_reason = "ScaleDownLimit";
			out->limit_msg = "the desired replica count is decreasing "
			    "faster than the maximum scale rate";
		} else {
			bound = min;
			out->limit_reason = "TooFewReplicas";
			out->limit_msg = "the desired replica count is less than "
			    "the minimum replica count";
		}
		if (desired < bound)
			return bound;
	}
	out->limit_reason = "DesiredWithinRange";
	out->limit_msg = "the desired count is within the acceptable range";
	return desired;
}

int32_t
hpa_normalize_behavior(struct hpa_hist *h, int64_t now_ms,
    const struct hpa_behavior *b, int32_t current, int32_t desired,
    int32_t min, int32_t max, struct hpa_norm *out)
{
	int32_t stab = hpa_stabilize_b(h, now_ms, b, current, desired, out);
	int32_t res;

	if (stab == desired) {
		out->able_reason = "ReadyForNewScale";
		out->able_msg = "recommended size matches current size";
	}
	res = hpa_behavior_rate(h, now_ms, b, current, stab, min, max, out);
	out->limited = res != stab;
	return res;
}

/* ---- scale events (storeScaleEvent) ---------------------------------------------- */

static int32_t
hpa_longest_period(const struct hpa_rules *r)
{
	int32_t p = 0;

	for (size_t i = 0; i < r->npol; i++)
		if (r->pol[i].period_s > p)
			p = r->pol[i].period_s;
	return p;
}

static void
hpa_event_store(struct hpa_scale_event **ev, size_t *n, int64_t now,
    int32_t period_s, int32_t change)
{
	int64_t cutoff = now - (int64_t)period_s * 1000;
	struct hpa_scale_event *nv;
	size_t i, old = 0;
	int found = 0;

	for (i = 0; i < *n; i++)
		if ((*ev)[i].t_ms < cutoff)
			(*ev)[i].outdated = 1;	/* markScaleEventsOutdated */
	for (i = 0; i < *n; i++)
		if ((*ev)[i].outdated) {
			found = 1;
			old = i;
		}
	if (!found) {
		nv = realloc(*ev, (*n + 1) * sizeof(*nv));
		if (!nv)
			return;
		*ev = nv;
		old = (*n)++;
	}
	(*ev)[old].t_ms = now;
	(*ev)[old].change = change;
	(*ev)[old].outdated = 0;
}

void
hpa_hist_scaled(struct hpa_hist *h, const struct hpa_behavior *b,
    int64_t now_ms, int32_t prev, int32_t next)
{
	if (!b)
		return;		/* nothing reads them without a behavior */
	if (next > prev)
		hpa_event_store(&h->up, &h->nup, now_ms,
		    hpa_longest_period(&b->up), next - prev);
	else
		hpa_event_store(&h->down, &h->ndown, now_ms,
		    hpa_longest_period(&b->down), prev - next);
}

/* ---- conditions ------------------------------------------------------------------ */

void
hpa_cond_set(json_t *conds, const char *type, const char *status,
    const char *reason, const char *now, const char *fmt, ...)
{
	json_t *c = NULL, *e;
	const char *old;
	char msg[1024];
	va_list ap;
	size_t i;

	if (!json_is_array(conds))
		return;
	json_array_foreach(conds, i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));

		if (t && !strcmp(t, type)) {
			c = e;
			break;
		}
	}
	if (!c) {
		/* in the order Kubernetes writes the fields */
		c = json_pack("{s:s, s:s, s:s}", "type", type, "status", "",
		    "lastTransitionTime", now);
		if (!c || json_array_append_new(conds, c) < 0)
			return;
	}
	old = json_string_value(json_object_get(c, "status"));
	if (!old || strcmp(old, status))
		json_object_set_new(c, "lastTransitionTime", json_string(now));
	json_object_set_new(c, "status", json_string(status));
	json_object_set_new(c, "reason", json_string(reason));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_set_new(c, "message", json_string(msg));
}
