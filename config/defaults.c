/* defaults.c: KubeVirt's and Kubernetes' defaults (see defaults.h). */
#include "defaults.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quantity.h"
#include "validate.h"

/* obj[key] as an object, created when absent or null; NULL on ENOMEM. */
static json_t *
obj_child(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_object(v))
		return v;
	if (v != NULL && !json_is_null(v))
		return NULL;	/* wrong type: the schema said so already */
	v = json_object();
	if (v == NULL || json_object_set_new(obj, key, v) < 0)
		return NULL;
	return v;
}

static int
set_if_absent(json_t *obj, const char *key, json_t *v)
{
	json_t *have = json_object_get(obj, key);

	if (v == NULL)
		return -ENOMEM;
	if (have != NULL && !json_is_null(have) && !(json_is_string(have) &&
	    json_string_length(have) == 0)) {
		json_decref(v);
		return 0;
	}
	return json_object_set_new(obj, key, v) < 0 ? -ENOMEM : 0;
}

/* A quantity member that is present and not zero. */
static int
nonzero(const json_t *v)
{
	struct quantity q;

	return validate_quantity(v, &q) > 0 && quantity_sign(&q) != 0;
}

static int
d_resources(json_t *domain)
{
	json_t *res = json_object_get(domain, "resources");
	json_t *lim = json_object_get(res, "limits"), *req;
	json_t *mem, *guest;

	if (nonzero(json_object_get(lim, "cpu")) &&
	    !nonzero(json_object_get(json_object_get(res, "requests"), "cpu"))) {
		if ((req = obj_child(res, "requests")) == NULL ||
		    json_object_set(req, "cpu", json_object_get(lim, "cpu")) < 0)
			return -ENOMEM;
	}
	if ((mem = obj_child(domain, "memory")) == NULL)
		return -ENOMEM;
	if (json_object_get(mem, "guest") != NULL &&
	    !json_is_null(json_object_get(mem, "guest")))
		return 0;
	req = json_object_get(res, "requests");
	guest = nonzero(json_object_get(req, "memory")) ?
	    json_object_get(req, "memory") : nonzero(json_object_get(lim,
	    "memory")) ? json_object_get(lim, "memory") : NULL;
	if (guest != NULL && json_object_set(mem, "guest", guest) < 0)
		return -ENOMEM;
	return 0;
}

static json_int_t
cpu_count(const json_t *v)
{
	struct quantity q;
	int64_t n;

	if (validate_quantity(v, &q) <= 0 || quantity_value(&q, &n) < 0)
		return -1;
	return n;
}

static int
d_topology(json_t *domain)
{
	static const char *const keys[] = { "sockets", "cores", "threads" };
	json_t *cpu = obj_child(domain, "cpu"), *res;
	json_int_t sockets = 1, n;
	int any = 0;

	if (cpu == NULL)
		return -ENOMEM;
	for (int i = 0; i < 3; i++)
		any |= json_integer_value(json_object_get(cpu, keys[i])) != 0;
	res = json_object_get(domain, "resources");
	if (!any && (n = cpu_count(json_object_get(json_object_get(res,
	    "limits"), "cpu"))) >= 0)
		sockets = n;
	else if (!any && (n = cpu_count(json_object_get(json_object_get(res,
	    "requests"), "cpu"))) >= 0)
		sockets = n;
	if (sockets < 1)
		sockets = 1;
	for (int i = 0; i < 3; i++)
		if (json_integer_value(json_object_get(cpu, keys[i])) == 0 &&
		    json_object_set_new(cpu, keys[i], json_integer(i ||
		    any ? 1 : sockets)) < 0)
			return -ENOMEM;
	return set_if_absent(cpu, "model", json_string("host-model"));
}

static int
d_pull_policy(json_t *spec)
{
	json_t *v, *cd;
	size_t i;

	json_array_foreach(json_object_get(spec, "volumes"), i, v) {
		const char *img;
		size_t n;

		cd = json_object_get(v, "containerDisk");
		if (!json_is_object(cd))
			continue;
		img = json_string_value(json_object_get(cd, "image"));
		img = img ? img : "";
		n = strlen(img);
		if (set_if_absent(cd, "imagePullPolicy", json_string((n >= 7 &&
		    strcmp(img + n - 7, ":latest") == 0) || !strpbrk(img, ":@") ?
		    "Always" : "IfNotPresent")) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
d_network(json_t *spec, json_t *devices)
{
	json_t *ifaces = json_object_get(devices, "interfaces"), *e;
	size_t i;

	if (json_array_size(ifaces) == 0 && json_array_size(json_object_get(spec,
	    "networks")) == 0 && !json_is_false(json_object_get(devices,
	    "autoattachPodInterface"))) {
		if (json_object_set_new(devices, "interfaces", json_pack(
		    "[{s:s, s:{}}]", "name", "default", "masquerade")) < 0 ||
		    json_object_set_new(spec, "networks", json_pack(
		    "[{s:s, s:{}}]", "name", "default", "pod")) < 0)
			return -ENOMEM;
		return 0;
	}
	json_array_foreach(ifaces, i, e) {
		static const char *const bindings[] = { "masquerade", "bridge",
		    "sriov", "slirp", "passt", "macvtap", "binding", NULL };
		int has = 0;

		for (int k = 0; bindings[k]; k++)
			has |= json_object_get(e, bindings[k]) != NULL;
		if (json_is_object(e) && !has && json_object_set_new(e,
		    "masquerade", json_object()) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
has_named(const json_t *arr, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
		if (json_is_string(json_object_get(e, "name")) && strcmp(
		    json_string_value(json_object_get(e, "name")), name) == 0)
			return 1;
	return 0;
}

static int
d_disks(json_t *spec, json_t *devices)
{
	json_t *disks = json_object_get(devices, "disks"), *v, *d;
	size_t i;

	if (disks == NULL || json_is_null(disks)) {
		if ((disks = json_array()) == NULL ||
		    json_object_set_new(devices, "disks", disks) < 0)
			return -ENOMEM;
	}
	json_array_foreach(json_object_get(spec, "volumes"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (name && !has_named(disks, name) && json_array_append_new(
		    disks, json_pack("{s:s}", "name", name)) < 0)
			return -ENOMEM;
	}
	json_array_foreach(disks, i, d) {
		json_t *t;

		if (!json_is_object(d) || json_object_get(d, "cdrom") ||
		    json_object_get(d, "lun"))
			continue;
		if ((t = obj_child(d, "disk")) == NULL ||
		    set_if_absent(t, "bus", json_string("virtio")) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
d_probe(json_t *spec, const char *name)
{
	static const struct { const char *k; int min, def; } f[] = {
		{ "timeoutSeconds", 1, 1 }, { "periodSeconds", 1, 10 },
		{ "successThreshold", 1, 1 }, { "failureThreshold", 1, 3 },
	};
	json_t *p = json_object_get(spec, name);

	if (!json_is_object(p))
		return 0;
	for (size_t i = 0; i < 4; i++)
		if (json_integer_value(json_object_get(p, f[i].k)) < f[i].min &&
		    json_object_set_new(p, f[i].k, json_integer(f[i].def)) < 0)
			return -ENOMEM;
	return 0;
}

int
defaults_vmi_spec(json_t *spec)
{
	json_t *domain, *machine, *devices;

	if (!json_is_object(spec) || (domain = obj_child(spec, "domain")) == NULL)
		return json_is_object(spec) ? -ENOMEM : 0;
	if (set_if_absent(spec, "architecture", json_string("amd64")) < 0 ||
	    (machine = obj_child(domain, "machine")) == NULL ||
	    set_if_absent(machine, "type", json_string("q35")) < 0)
		return -ENOMEM;
	if (d_resources(domain) < 0 || d_topology(domain) < 0 ||
	    d_pull_policy(spec) < 0)
		return -ENOMEM;
	if ((devices = obj_child(domain, "devices")) == NULL ||
	    d_network(spec, devices) < 0 || d_disks(spec, devices) < 0)
		return -ENOMEM;
	if (d_probe(spec, "readinessProbe") < 0 ||
	    d_probe(spec, "livenessProbe") < 0)
		return -ENOMEM;
	return 0;
}

int
defaults_vmirs(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");

	if (!json_is_object(spec))
		return 0;
	return set_if_absent(spec, "replicas", json_integer(1));
}

/* Kubernetes' GenerateHPAScaleUpRules / GenerateHPAScaleDownRules. */
static int
d_rules(json_t *behavior, const char *which, int up)
{
	json_t *r = obj_child(behavior, which);

	if (r == NULL)
		return -ENOMEM;
	if (up && set_if_absent(r, "stabilizationWindowSeconds",
	    json_integer(0)) < 0)
		return -ENOMEM;
	if (set_if_absent(r, "selectPolicy", json_string("Max")) < 0)
		return -ENOMEM;
	if (json_object_get(r, "policies") != NULL &&
	    !json_is_null(json_object_get(r, "policies")))
		return 0;
	return json_object_set_new(r, "policies", up ? json_pack(
	    "[{s:s, s:i, s:i}, {s:s, s:i, s:i}]", "type", "Pods", "value", 4,
	    "periodSeconds", 15, "type", "Percent", "value", 100,
	    "periodSeconds", 15) : json_pack("[{s:s, s:i, s:i}]", "type",
	    "Percent", "value", 100, "periodSeconds", 15)) < 0 ? -ENOMEM : 0;
}

int
defaults_hpa(json_t *obj, int v1)
{
	json_t *spec = json_object_get(obj, "spec"), *b;

	if (!json_is_object(spec))
		return 0;
	if (set_if_absent(spec, "minReplicas", json_integer(1)) < 0)
		return -ENOMEM;
	if (v1)
		return 0;
	if (json_array_size(json_object_get(spec, "metrics")) == 0 &&
	    json_object_set_new(spec, "metrics", json_pack("[{s:s, s:{s:s, "
	    "s:{s:s, s:i}}}]", "type", "Resource", "resource", "name", "cpu",
	    "target", "type", "Utilization", "averageUtilization", 80)) < 0)
		return -ENOMEM;
	b = json_object_get(spec, "behavior");
	if (!json_is_object(b))
		return 0;
	return d_rules(b, "scaleUp", 1) < 0 || d_rules(b, "scaleDown", 0) < 0 ?
	    -ENOMEM : 0;
}

/* ---- HorizontalPodAutoscaler autoscaling/v1 <-> v2 ------------------------- */

static json_t *
hpa_ann(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata"), *ann;

	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(obj, "metadata", md);
	}
	ann = json_object_get(md, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(md, "annotations", ann);
	}
	return ann;
}

/* Move v (not NULL, not empty) into annotation key as JSON text. */
static void
hpa_ann_put(json_t *obj, const char *key, const json_t *v)
{
	char *text;

	if (!v || (json_is_array(v) && json_array_size(v) == 0))
		return;
	text = json_dumps(v, JSON_COMPACT);
	if (text)
		json_object_set_new(hpa_ann(obj), key, json_string(text));
	free(text);
}

/* Take annotation key back (parsed JSON, new reference) or NULL. */
static json_t *
hpa_ann_take(json_t *obj, const char *key)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *ann = json_object_get(md, "annotations");
	const char *text = json_string_value(json_object_get(ann, key));
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	json_object_del(ann, key);
	if (json_is_object(ann) && json_object_size(ann) == 0)
		json_object_del(md, "annotations");
	return v;
}

/* Is m the cpu Utilization Resource metric (v1's only one)? */
static int
hpa_is_cpu(const json_t *m)
{
	const json_t *r = json_object_get(m, "resource");

	return json_is_string(json_object_get(m, "type")) &&
	    !strcmp(json_string_value(json_object_get(m, "type")), "Resource") &&
	    json_is_string(json_object_get(r, "name")) &&
	    !strcmp(json_string_value(json_object_get(r, "name")), "cpu") &&
	    json_is_integer(json_object_get(json_object_get(r, "target"),
	    "averageUtilization"));
}

static void
hpa_status_to_v2(json_t *st, json_t *cur, json_t *conds)
{
	json_t *cpu = json_object_get(st, "currentCPUUtilizationPercentage");
	json_t *metrics = json_is_array(cur) ? json_incref(cur) : json_array();

	if (json_is_integer(cpu))
		json_array_insert_new(metrics, 0, json_pack("{s:s, s:{s:s, "
		    "s:{s:I}}}", "type", "Resource", "resource", "name", "cpu",
		    "current", "averageUtilization",
		    (json_int_t)json_integer_value(cpu)));
	json_object_del(st, "currentCPUUtilizationPercentage");
	if (json_array_size(metrics))
		json_object_set(st, "currentMetrics", metrics);
	if (json_is_array(conds))
		json_object_set(st, "conditions", conds);
	json_decref(metrics);
}

json_t *
defaults_hpa_v1_to_v2(const json_t *v1)
{
	json_t *v2 = json_deep_copy(v1), *spec, *cpu, *other, *beh, *cur, *cond;
	json_t *metrics, *st;
	json_int_t pct = 80;

	if (v2 == NULL)
		return NULL;
	if (!strcmp(json_string_value(json_object_get(v2, "apiVersion")) ?
	    json_string_value(json_object_get(v2, "apiVersion")) : "",
	    "autoscaling/v2"))
		return v2;
	json_object_set_new(v2, "apiVersion", json_string("autoscaling/v2"));
	other = hpa_ann_take(v2, DEFAULTS_HPA_ANN_METRICS);
	beh = hpa_ann_take(v2, DEFAULTS_HPA_ANN_BEHAVIOR);
	cur = hpa_ann_take(v2, DEFAULTS_HPA_ANN_CURRENT);
	cond = hpa_ann_take(v2, DEFAULTS_HPA_ANN_CONDITIONS);
	st = json_object_get(v2, "status");
	if (json_is_object(st))
		hpa_status_to_v2(st, cur, cond);
	spec = json_object_get(v2, "spec");
	if (!json_is_object(spec))
		goto out;
	cpu = json_object_get(spec, "targetCPUUtilizationPercentage");
	if (json_is_integer(cpu))
		pct = json_integer_value(cpu);
	metrics = json_is_array(other) ? json_incref(other) : json_array();
	if (json_is_integer(cpu) || json_array_size(metrics) == 0)
		json_array_insert_new(metrics, 0, json_pack("{s:s, s:{s:s, "
		    "s:{s:s, s:I}}}", "type", "Resource", "resource", "name",
		    "cpu", "target", "type", "Utilization", "averageUtilization",
		    pct));
	json_object_del(spec, "targetCPUUtilizationPercentage");
	json_object_set_new(spec, "metrics", metrics);
	if (json_is_object(beh))
		json_object_set(spec, "behavior", beh);
out:
	json_decref(other);
	json_decref(beh);
	json_decref(cur);
	json_decref(cond);
	return v2;
}

json_t *
defaults_hpa_v2_to_v1(const json_t *v2)
{
	json_t *v1 = json_deep_copy(v2), *spec, *st, *m, *other, *cur;
	size_t i;

	if (v1 == NULL)
		return NULL;
	if (!strcmp(json_string_value(json_object_get(v1, "apiVersion")) ?
	    json_string_value(json_object_get(v1, "apiVersion")) : "",
	    "autoscaling/v1"))
		return v1;
	json_object_set_new(v1, "apiVersion", json_string("autoscaling/v1"));
	spec = json_object_get(v1, "spec");
	if (json_is_object(spec)) {
		other = json_array();
		json_array_foreach(json_object_get(spec, "metrics"), i, m) {
			if (hpa_is_cpu(m) && !json_object_get(spec,
			    "targetCPUUtilizationPercentage"))
				json_object_set(spec,
				    "targetCPUUtilizationPercentage",
				    json_object_get(json_object_get(
				    json_object_get(m, "resource"), "target"),
				    "averageUtilization"));
			else
				json_array_append(other, m);
		}
		hpa_ann_put(v1, DEFAULTS_HPA_ANN_METRICS, other);
		json_decref(other);
		hpa_ann_put(v1, DEFAULTS_HPA_ANN_BEHAVIOR,
		    json_object_get(spec, "behavior"));
		json_object_del(spec, "metrics");
		json_object_del(spec, "behavior");
	}
	st = json_object_get(v1, "status");
	if (json_is_object(st)) {
		cur = json_array();
		json_array_foreach(json_object_get(st, "currentMetrics"), i, m) {
			json_t *u = json_object_get(json_object_get(
			    json_object_get(m, "resource"), "current"),
			    "averageUtilization");

			if (json_is_integer(u) && !strcmp(json_string_value(
			    json_object_get(json_object_get(m, "resource"),
			    "name")) ? json_string_value(json_object_get(
			    json_object_get(m, "resource"), "name")) : "", "cpu"))
				json_object_set(st,
				    "currentCPUUtilizationPercentage", u);
			else
				json_array_append(cur, m);
		}
		hpa_ann_put(v1, DEFAULTS_HPA_ANN_CURRENT, cur);
		json_decref(cur);
		hpa_ann_put(v1, DEFAULTS_HPA_ANN_CONDITIONS,
		    json_object_get(st, "conditions"));
		json_object_del(st, "currentMetrics");
		json_object_del(st, "conditions");
	}
	return v1;
}
