/*
 * vmirs_rank.c: what the VMIRS controller reads from a VMI: active,
 * finished, ready, the controller reference, and the scale-down order.
 *
 * KubeVirt's own scale-down takes the VMIs in list order. We rank them as
 * Kubernetes' ReplicaSet controller ranks pods (controller_utils.go,
 * ActivePodsWithRanks.Less), first deleted first:
 *   1. unscheduled (status.nodeName empty) before scheduled;
 *   2. phase: Pending/Scheduling (and no phase yet) < Scheduled <
 *      Unknown < Running. Kubernetes has Pending < Unknown < Running for
 *      pods; a Scheduled VMI has its launcher up but no guest yet, so it
 *      sits between a Pending pod and an Unknown one;
 *   3. not ready before ready (the Ready condition);
 *   4. (pod-deletion-cost, co-located replicas, restarts: pod notions
 *      with no VMI counterpart, skipped; on one node every VMI shares it);
 *   5. both ready: ready for a shorter time first (the Ready condition's
 *      lastTransitionTime, later first; a missing time counts as latest,
 *      as Kubernetes' afterOrZero does);
 *   6. newer before older (creationTimestamp, same zero rule);
 *   7. then by name, so that the order is total and tests deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmirs_int.h"

static const char *
str_at(const json_t *obj, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(obj, a), b));
}

int
vmirs_vmi_final(const json_t *vmi)
{
	const char *ph = str_at(vmi, "status", "phase");

	return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

int
vmirs_vmi_deleting(const json_t *vmi)
{
	const json_t *d = json_object_get(json_object_get(vmi, "metadata"),
	    "deletionTimestamp");

	return d != NULL && !json_is_null(d);
}

const json_t *
vmirs_vmi_cond(const json_t *vmi, const char *type)
{
	const json_t *conds = json_object_get(json_object_get(vmi, "status"),
	    "conditions");
	const json_t *cond;
	size_t i;

	json_array_foreach(conds, i, cond) {
		const char *t = json_string_value(json_object_get(cond, "type"));

		if (t && !strcmp(t, type))
			return cond;
	}
	return NULL;
}

static int
cond_is(const json_t *cond, const char *status, const char *reason)
{
	const char *st = json_string_value(json_object_get(cond, "status"));
	const char *re = json_string_value(json_object_get(cond, "reason"));

	if (cond == NULL || st == NULL || strcmp(st, status))
		return 0;
	return reason == NULL || (re && !strcmp(re, reason));
}

int
vmirs_vmi_ready(const json_t *vmi)
{
	return cond_is(vmirs_vmi_cond(vmi, "Ready"), "True", NULL);
}

int
vmirs_vmi_terminating(const json_t *vmi)
{
	return cond_is(vmirs_vmi_cond(vmi, "Ready"), "False",
	    "PodTerminating");
}

/* KubeVirt's filterActiveVMIs: Unknown counts as active. */
int
vmirs_vmi_active(const json_t *vmi)
{
	return !vmirs_vmi_final(vmi) && !vmirs_vmi_deleting(vmi) &&
	    !vmirs_vmi_terminating(vmi);
}

/*
 * filterFinishedVMIs + filterUnkownVMIs: final, or terminating without a
 * deletionTimestamp; either way not being deleted already.
 */
int
vmirs_vmi_finished(const json_t *vmi)
{
	return !vmirs_vmi_deleting(vmi) && (vmirs_vmi_final(vmi) ||
	    vmirs_vmi_terminating(vmi));
}

const json_t *
vmirs_controller_ref(const json_t *obj)
{
	const json_t *refs = json_object_get(json_object_get(obj, "metadata"),
	    "ownerReferences");
	const json_t *ref;
	size_t i;

	json_array_foreach(refs, i, ref)
		if (json_is_true(json_object_get(ref, "controller")))
			return ref;
	return NULL;
}

int64_t
vmirs_time_parse(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh, om;
	int64_t t;
	const char *p;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d,
	    &h, &mi, &sec, &n) != 6 || n == 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' && p[1] == '\0')
		return t;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) ==
	    2 && strlen(p) == 6)
		return *p == '+' ? t - (oh * 3600 + om * 60) :
		    t + (oh * 3600 + om * 60);
	return -1;
}

const char *
vmirs_time_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
	return buf;
}

/* What the ranking compares, read once per VMI. */
struct rank {
	json_t *vmi;
	const char *name;
	int scheduled, phase, ready;
	int64_t ready_since, created;
};

static int
phase_rank(const char *ph)
{
	if (ph == NULL)
		return 0;
	if (!strcmp(ph, "Scheduled"))
		return 1;
	if (!strcmp(ph, "Unknown"))
		return 2;
	if (!strcmp(ph, "Running"))
		return 3;
	return 0;	/* "", Pending, Scheduling */
}

static void
rank_read(struct rank *r, json_t *vmi)
{
	const char *node = str_at(vmi, "status", "nodeName");
	const json_t *ready = vmirs_vmi_cond(vmi, "Ready");

	r->vmi = vmi;
	r->name = str_at(vmi, "metadata", "name");
	r->name = r->name ? r->name : "";
	r->scheduled = node != NULL && node[0] != '\0';
	r->phase = phase_rank(str_at(vmi, "status", "phase"));
	r->ready = vmirs_vmi_ready(vmi);
	r->ready_since = r->ready ? vmirs_time_parse(json_string_value(
	    json_object_get(ready, "lastTransitionTime"))) : -1;
	r->created = vmirs_time_parse(str_at(vmi, "metadata",
	    "creationTimestamp"));
}

/* afterOrZero: is a after b, a missing time (-1) being after all others? */
static int
after_or_zero(int64_t a, int64_t b)
{
	if (a < 0 || b < 0)
		return a < 0;
	return a > b;
}

static int
rank_cmp(const void *pa, const void *pb)
{
	const struct rank *a = pa, *b = pb;

	if (a->scheduled != b->scheduled)
		return a->scheduled ? 1 : -1;
	if (a->phase != b->phase)
		return a->phase < b->phase ? -1 : 1;
	if (a->ready != b->ready)
		return a->ready ? 1 : -1;
	if (a->ready && a->ready_since != b->ready_since)
		return after_or_zero(a->ready_since, b->ready_since) ? -1 : 1;
	if (a->created != b->created)
		return after_or_zero(a->created, b->created) ? -1 : 1;
	return strcmp(a->name, b->name);
}

void
vmirs_rank_sort(json_t *vmis)
{
	size_t n = json_array_size(vmis), i;
	struct rank *r;

	if (n < 2)
		return;
	r = calloc(n, sizeof(*r));
	if (r == NULL)
		return;		/* list order, as KubeVirt does */
	for (i = 0; i < n; i++)
		rank_read(&r[i], json_incref(json_array_get(vmis, i)));
	qsort(r, n, sizeof(*r), rank_cmp);
	json_array_clear(vmis);
	for (i = 0; i < n; i++)
		json_array_append_new(vmis, r[i].vmi);
	free(r);
}
