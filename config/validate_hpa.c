/*
 * validate_hpa.c: Kubernetes' HorizontalPodAutoscaler validation
 * (pkg/apis/autoscaling/validation/validation.go), on the v1 or v2 form,
 * and Drover's limit: the only metric is the cpu Resource metric.
 */
#include "validate.h"

#include <stdio.h>
#include <string.h>

static void
int_invalid(struct ferr_list *l, const char *field, const json_t *v,
    const char *detail)
{
	char n[32];

	ferr_k8s(l, FERR_INVALID, field, ferr_value(v, n, sizeof(n)), "%s",
	    detail);
}

/* IsValidPathSegmentName. */
static void
segment(struct ferr_list *l, const char *field, const char *s)
{
	char q[300];

	ferr_quote(s, q, sizeof(q));
	if (s[0] == '\0')
		ferr_k8s(l, FERR_REQUIRED, field, NULL, NULL);
	else if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		ferr_k8s(l, FERR_INVALID, field, q, "may not be '%s'", s);
	else {
		if (strchr(s, '/'))
			ferr_k8s(l, FERR_INVALID, field, q, "may not contain '/'");
		if (strchr(s, '%'))
			ferr_k8s(l, FERR_INVALID, field, q, "may not contain '%%'");
	}
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void
metric_target(const json_t *t, const char *base, struct ferr_list *l)
{
	const char *type = str(t, "type");
	char p[FERR_PATH_MAX], q[300];
	const json_t *au = json_object_get(t, "averageUtilization");
	const json_t *av = json_object_get(t, "averageValue");
	struct quantity qv;

	if (type[0] == '\0')
		ferr_k8s(l, FERR_REQUIRED, ferr_child(p, base, "type"), NULL,
		    "must specify a metric target type");
	if (strcmp(type, "Utilization") && strcmp(type, "Value") &&
	    strcmp(type, "AverageValue"))
		ferr_k8s(l, FERR_INVALID, ferr_child(p, base, "type"),
		    ferr_quote(type, q, sizeof(q)), "must be either Utilization, "
		    "Value, or AverageValue");
	if (validate_quantity(json_object_get(t, "value"), &qv) > 0 &&
	    quantity_sign(&qv) != 1)
		ferr_k8s(l, FERR_INVALID, ferr_child(p, base, "value"),
		    validate_quantity_string(json_object_get(t, "value"), q,
		    sizeof(q)), "must be positive");
	if (validate_quantity(av, &qv) > 0 && quantity_sign(&qv) != 1)
		ferr_k8s(l, FERR_INVALID, ferr_child(p, base, "averageValue"),
		    validate_quantity_string(av, q, sizeof(q)), "must be positive");
	if (json_is_integer(au) && json_integer_value(au) < 1)
		int_invalid(l, ferr_child(p, base, "averageUtilization"), au,
		    "must be greater than 0");
	if (au == NULL && av == NULL)
		ferr_k8s(l, FERR_REQUIRED, ferr_child(p, base,
		    "averageUtilization"), NULL, "must set either a target raw "
		    "value or a target utilization");
	if (au != NULL && av != NULL)
		ferr_k8s(l, FERR_INVALID, ferr_child(p, base, "averageValue"),
		    validate_quantity_string(av, q, sizeof(q)), "may not set both "
		    "a target raw value and a target utilization");
}

static void
metric(const json_t *m, const char *base, struct ferr_list *l)
{
	static const char *const sup = "\"ContainerResource\", \"External\", "
	    "\"Object\", \"Pods\", \"Resource\"";
	const char *type = str(m, "type");
	const json_t *res = json_object_get(m, "resource");
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], q[300];

	ferr_quote(type, q, sizeof(q));
	ferr_child(p, base, "type");
	if (type[0] == '\0')
		ferr_k8s(l, FERR_REQUIRED, p, NULL, "must specify a metric source "
		    "type");
	if (strcmp(type, "Resource") && strcmp(type, "Pods") &&
	    strcmp(type, "Object") && strcmp(type, "External") &&
	    strcmp(type, "ContainerResource"))
		ferr_k8s(l, FERR_NOT_SUPPORTED, p, q, "supported values: %s", sup);
	else if (strcmp(type, "Resource"))	/* Drover's limit */
		ferr_k8s(l, FERR_NOT_SUPPORTED, p, q, "supported values: "
		    "\"Resource\"");
	else if (!json_is_object(res))
		ferr_k8s(l, FERR_REQUIRED, ferr_child(t, base, "resource"), NULL,
		    "must populate information for the given metric source");
	if (!json_is_object(res))
		return;
	ferr_child(t, base, "resource");
	if (str(res, "name")[0] == '\0')
		ferr_k8s(l, FERR_REQUIRED, ferr_child(p, t, "name"), NULL,
		    "must specify a resource name");
	else if (strcmp(str(res, "name"), "cpu"))
		ferr_k8s(l, FERR_NOT_SUPPORTED, ferr_child(p, t, "name"),
		    ferr_quote(str(res, "name"), q, sizeof(q)),
		    "supported values: \"cpu\"");
	metric_target(json_object_get(res, "target"), ferr_child(p, t,
	    "target"), l);
}

static void
scaling_rules(const json_t *r, const char *base, struct ferr_list *l)
{
	const json_t *sw = json_object_get(r, "stabilizationWindowSeconds"), *e;
	const json_t *pol = json_object_get(r, "policies");
	const char *sel = json_string_value(json_object_get(r, "selectPolicy"));
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], q[300];
	size_t i;

	if (!json_is_object(r))
		return;
	if (json_is_integer(sw) && json_integer_value(sw) < 0)
		int_invalid(l, ferr_child(p, base, "stabilizationWindowSeconds"),
		    sw, "must be greater than or equal to zero");
	if (json_is_integer(sw) && json_integer_value(sw) > 3600)
		int_invalid(l, ferr_child(p, base, "stabilizationWindowSeconds"),
		    sw, "must be less than or equal to 3600");
	if (sel && strcmp(sel, "Max") && strcmp(sel, "Min") &&
	    strcmp(sel, "Disabled"))
		ferr_k8s(l, FERR_NOT_SUPPORTED, ferr_child(p, base,
		    "selectPolicy"), ferr_quote(sel, q, sizeof(q)),
		    "supported values: \"Disabled\", \"Max\", \"Min\"");
	if (json_array_size(pol) == 0)
		ferr_k8s(l, FERR_REQUIRED, ferr_child(p, base, "policies"), NULL,
		    "must specify at least one Policy");
	json_array_foreach(pol, i, e) {
		const json_t *v = json_object_get(e, "value");
		const json_t *ps = json_object_get(e, "periodSeconds");

		ferr_index(t, ferr_child(p, base, "policies"), i);
		if (strcmp(str(e, "type"), "Pods") && strcmp(str(e, "type"),
		    "Percent"))
			ferr_k8s(l, FERR_NOT_SUPPORTED, ferr_child(p, t, "type"),
			    ferr_quote(str(e, "type"), q, sizeof(q)),
			    "supported values: \"Percent\", \"Pods\"");
		if (json_integer_value(v) <= 0)
			ferr_k8s(l, FERR_INVALID, ferr_child(p, t, "value"),
			    v ? ferr_value(v, q, sizeof(q)) : "0",
			    "must be greater than zero");
		if (json_integer_value(ps) <= 0)
			ferr_k8s(l, FERR_INVALID, ferr_child(p, t,
			    "periodSeconds"), ps ? ferr_value(ps, q, sizeof(q)) :
			    "0", "must be greater than zero");
		if (json_integer_value(ps) > 1800)
			int_invalid(l, ferr_child(p, t, "periodSeconds"), ps,
			    "must be less than or equal to 1800");
	}
}

static void
replicas(const json_t *spec, struct ferr_list *l)
{
	const json_t *min = json_object_get(spec, "minReplicas");
	const json_t *max = json_object_get(spec, "maxReplicas");
	json_int_t maxv = json_integer_value(max);
	char n[32];

	/* an absent maxReplicas is Go's zero value */
	snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT, maxv);
	if (json_is_integer(min) && json_integer_value(min) < 1)
		int_invalid(l, "spec.minReplicas", min,
		    "must be greater than or equal to 1");
	if (maxv < 1)
		ferr_k8s(l, FERR_INVALID, "spec.maxReplicas", n,
		    "must be greater than 0");
	if (json_is_integer(min) && maxv < json_integer_value(min))
		ferr_k8s(l, FERR_INVALID, "spec.maxReplicas", n,
		    "must be greater than or equal to `minReplicas`");
}

void
validate_hpa_spec(const json_t *spec, int v1, struct ferr_list *l)
{
	const json_t *ref = json_object_get(spec, "scaleTargetRef"), *m;
	const json_t *cpu = json_object_get(spec, "targetCPUUtilizationPercentage");
	char p[FERR_PATH_MAX];
	size_t i;

	replicas(spec, l);
	segment(l, "spec.scaleTargetRef.kind", str(ref, "kind"));
	segment(l, "spec.scaleTargetRef.name", str(ref, "name"));
	if (v1) {
		if (json_is_integer(cpu) && json_integer_value(cpu) < 1)
			int_invalid(l, "spec.metrics[0].resource.target."
			    "averageUtilization", cpu, "must be greater than 0");
		return;
	}
	json_array_foreach(json_object_get(spec, "metrics"), i, m)
		metric(m, ferr_index(p, "spec.metrics", i), l);
	scaling_rules(json_object_get(json_object_get(spec, "behavior"),
	    "scaleUp"), "spec.behavior.scaleUp", l);
	scaling_rules(json_object_get(json_object_get(spec, "behavior"),
	    "scaleDown"), "spec.behavior.scaleDown", l);
}
