/* columns.c: the kinds' printer columns (columns.h). */
#include "columns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define D_NAME "Name must be unique within a namespace. Is required when " \
	"creating resources, although some resources may allow a client to " \
	"request the generation of an appropriate name automatically. Name " \
	"is primarily intended for creation idempotence and configuration " \
	"definition. Cannot be updated."
#define D_AGE "CreationTimestamp is a timestamp representing the server " \
	"time when this object was created."

static const struct columns_def cd_vmirs[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Desired", "integer", "", "Number of desired VirtualMachineInstances",
	    0 },
	{ "Current", "integer", "", "Number of managed and not final or "
	    "deleted VirtualMachineInstances", 0 },
	{ "Ready", "integer", "", "Number of managed VirtualMachineInstances "
	    "which are ready to receive traffic", 0 },
	{ "Age", "date", "", "", 0 },
};

static const struct columns_def cd_vmi[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Age", "date", "", "", 0 },
	{ "Phase", "string", "", "", 0 },
	{ "IP", "string", "", "", 0 },
	{ "NodeName", "string", "", "", 0 },
	{ "Ready", "string", "", "", 0 },
	{ "Live-Migratable", "string", "", "", 1 },
	{ "Paused", "string", "", "", 1 },
};

static const struct columns_def cd_hpa[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Reference", "string", "", "scaleTargetRef points to the target "
	    "resource to scale", 0 },
	{ "Targets", "string", "", "metrics contains the specifications for "
	    "which to use to calculate the desired replica count", 0 },
	{ "MinPods", "string", "", "minReplicas is the lower limit for the "
	    "number of replicas to which the autoscaler can scale down.", 0 },
	{ "MaxPods", "integer", "", "maxReplicas is the upper limit for the "
	    "number of replicas to which the autoscaler can scale up.", 0 },
	{ "Replicas", "integer", "", "currentReplicas is current number of "
	    "replicas of pods managed by this autoscaler", 0 },
	{ "Age", "string", "", D_AGE, 0 },
};

static const struct columns_def cd_pod[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Ready", "string", "", "The aggregate readiness state of this pod "
	    "for accepting traffic.", 0 },
	{ "Status", "string", "", "The aggregate status of the containers in "
	    "this pod.", 0 },
	{ "Restarts", "string", "", "The number of times the containers in "
	    "this pod have been restarted and when the last container in this "
	    "pod has restarted.", 0 },
	{ "Age", "string", "", D_AGE, 0 },
	{ "IP", "string", "", "IP address allocated to the pod.", 1 },
	{ "Node", "string", "", "Name of the Node this pod runs on.", 1 },
	{ "Nominated Node", "string", "", "Name of the node nominated by the "
	    "scheduler.", 1 },
	{ "Readiness Gates", "string", "", "The readiness gates of the pod.",
	    1 },
};

static const struct columns_def cd_event[] = {
	{ "Last Seen", "string", "", "The time at which the most recent "
	    "occurrence of this event was recorded.", 0 },
	{ "Type", "string", "", "Type of this event (Normal, Warning).", 0 },
	{ "Reason", "string", "", "This should be a short, machine "
	    "understandable string that gives the reason for the transition "
	    "into the object's current status.", 0 },
	{ "Object", "string", "", "The object that this event is about.", 0 },
	{ "Subobject", "string", "", "The field of the object.", 1 },
	{ "Source", "string", "", "The component reporting this event.", 1 },
	{ "Message", "string", "", "A human-readable description of the "
	    "status of this operation.", 0 },
	{ "First Seen", "string", "", "The time at which the event was first "
	    "recorded.", 1 },
	{ "Count", "string", "", "The number of times this event has "
	    "occurred.", 1 },
	{ "Name", "string", "name", D_NAME, 1 },
};

static const struct columns_def cd_ns[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Status", "string", "", "The status of the namespace", 0 },
	{ "Age", "string", "", D_AGE, 0 },
};

static const struct columns_def cd_node[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Status", "string", "", "The status of the node", 0 },
	{ "Roles", "string", "", "The roles of the node", 0 },
	{ "Age", "string", "", D_AGE, 0 },
	{ "Version", "string", "", "Kubelet Version reported by the node.", 0 },
	{ "Internal-IP", "string", "", "List of addresses reachable to the "
	    "node.", 1 },
	{ "External-IP", "string", "", "List of addresses reachable to the "
	    "node.", 1 },
	{ "OS-Image", "string", "", "OS Image reported by the node.", 1 },
	{ "Kernel-Version", "string", "", "Kernel Version reported by the "
	    "node.", 1 },
	{ "Container-Runtime", "string", "", "Container Runtime Version "
	    "reported by the node.", 1 },
};

static const struct columns_def cd_default[] = {
	{ "Name", "string", "name", D_NAME, 0 },
	{ "Age", "date", "", "", 0 },
};

#define N(a) (sizeof(a) / sizeof(a[0]))

static const struct {
	const char *kind;
	const struct columns_def *defs;
	size_t n;
} c_kinds[] = {
	{ "VirtualMachineInstanceReplicaSet", cd_vmirs, N(cd_vmirs) },
	{ "VirtualMachineInstance", cd_vmi, N(cd_vmi) },
	{ "HorizontalPodAutoscaler", cd_hpa, N(cd_hpa) },
	{ "Pod", cd_pod, N(cd_pod) },
	{ "Event", cd_event, N(cd_event) },
	{ "Namespace", cd_ns, N(cd_ns) },
	{ "Node", cd_node, N(cd_node) },
};

const struct columns_def *
columns_of(const char *kind, size_t *n)
{
	for (size_t i = 0; kind && i < N(c_kinds); i++)
		if (!strcmp(c_kinds[i].kind, kind)) {
			*n = c_kinds[i].n;
			return c_kinds[i].defs;
		}
	*n = N(cd_default);
	return cd_default;
}

/* ---- ages ------------------------------------------------------------------ */

const char *
columns_human_duration(long long s, char *buf, size_t len)
{
	long long m = s / 60, h = s / 3600;

	if (s < -1)
		snprintf(buf, len, "<invalid>");
	else if (s < 0)
		snprintf(buf, len, "0s");
	else if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (m < 10)
		snprintf(buf, len, s % 60 ? "%lldm%llds" : "%lldm", m, s % 60);
	else if (m < 180)
		snprintf(buf, len, "%lldm", m);
	else if (h < 8)
		snprintf(buf, len, m % 60 ? "%lldh%lldm" : "%lldh", h, m % 60);
	else if (h < 48)
		snprintf(buf, len, "%lldh", h);
	else if (h < 24 * 8)
		snprintf(buf, len, h % 24 ? "%lldd%lldh" : "%lldd", h / 24,
		    h % 24);
	else if (h < 24 * 365 * 2)
		snprintf(buf, len, "%lldd", h / 24);
	else if (h < 24 * 365 * 8)
		snprintf(buf, len, (h / 24) % 365 ? "%lldy%lldd" : "%lldy",
		    h / 24 / 365, (h / 24) % 365);
	else
		snprintf(buf, len, "%lldy", h / 24 / 365);
	return buf;
}

const char *
columns_age(const char *ts, time_t now, char *buf, size_t len)
{
	struct tm tm;

	snprintf(buf, len, "<unknown>");
	if (!ts || !*ts)
		return buf;
	memset(&tm, 0, sizeof(tm));
	if (!strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
		return buf;
	return columns_human_duration((long long)(now - timegm(&tm)), buf,
	    len);
}

/* ---- accessors ----------------------------------------------------------------- */

static const json_t *
c_path(const json_t *o, const char *path)
{
	char key[64];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		path += n + (dot ? 1 : 0);
	}
	return o;
}

static const char *
c_str(const json_t *o, const char *path)
{
	const char *s = json_string_value(c_path(o, path));

	return s ? s : "";
}

/* The string at path, or null. */
static json_t *
c_strv(const json_t *o, const char *path)
{
	const json_t *v = c_path(o, path);

	return json_is_string(v) ? json_string(json_string_value(v)) :
	    json_null();
}

static json_t *
c_intv(const json_t *o, const char *path)
{
	const json_t *v = c_path(o, path);

	return json_is_integer(v) ? json_integer(json_integer_value(v)) :
	    json_null();
}

static const json_t *
c_cond(const json_t *o, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(c_path(o, "status.conditions"), i, c)
		if (!strcmp(c_str(c, "type"), type))
			return c;
	return NULL;
}

static json_t *
c_condv(const json_t *o, const char *type)
{
	const json_t *c = c_cond(o, type);

	return c ? c_strv(c, "status") : json_null();
}

static json_t *
c_age(const char *ts, time_t now)
{
	char buf[32];

	return json_string(columns_age(ts, now, buf, sizeof(buf)));
}

/* ---- kinds ---------------------------------------------------------------------- */

/* formatHPAMetrics: "cpu: 2%/75%", statuses matched by position. */
static json_t *
c_hpa_targets(const json_t *hpa)
{
	const json_t *specs = c_path(hpa, "spec.metrics"), *m;
	const json_t *cur = c_path(hpa, "status.currentMetrics");
	char out[256] = "", one[128];
	size_t i, shown = 0;

	if (json_array_size(specs) == 0)
		return json_string("<none>");
	json_array_foreach(specs, i, m) {
		const json_t *res = json_object_get(m, "resource");
		const json_t *st = json_object_get(json_array_get(cur, i),
		    "resource");
		const json_t *tu = c_path(res, "target.averageUtilization");
		const json_t *cu = c_path(st, "current.averageUtilization");
		char c[32] = "<unknown>", t[32] = "<auto>";

		if (shown == 2) {
			snprintf(one, sizeof(one), " + %zu more...",
			    json_array_size(specs) - 2);
			strncat(out, one, sizeof(out) - strlen(out) - 1);
			break;
		}
		if (strcmp(c_str(m, "type"), "Resource")) {
			snprintf(one, sizeof(one), "%s<unknown>/<unknown>",
			    shown ? ", " : "");
		} else if (json_is_string(c_path(res, "target.averageValue"))) {
			const char *cv = c_str(st, "current.averageValue");

			snprintf(one, sizeof(one), "%s%s: %s/%s", shown ? ", " :
			    "", c_str(res, "name"), *cv ? cv : "<unknown>",
			    c_str(res, "target.averageValue"));
		} else {
			if (json_is_integer(cu))
				snprintf(c, sizeof(c), "%lld%%",
				    (long long)json_integer_value(cu));
			if (json_is_integer(tu))
				snprintf(t, sizeof(t), "%lld%%",
				    (long long)json_integer_value(tu));
			snprintf(one, sizeof(one), "%s%s: %s/%s", shown ? ", " :
			    "", c_str(res, "name"), c, t);
		}
		strncat(out, one, sizeof(out) - strlen(out) - 1);
		shown++;
	}
	return json_string(out);
}

static void
c_hpa(json_t *cells, const json_t *o, time_t now)
{
	char buf[300];
	const json_t *min = c_path(o, "spec.minReplicas");
	const json_t *rep = c_path(o, "status.currentReplicas");

	snprintf(buf, sizeof(buf), "%s/%s", c_str(o, "spec.scaleTargetRef.kind"),
	    c_str(o, "spec.scaleTargetRef.name"));
	json_array_append_new(cells, json_string(buf));
	json_array_append_new(cells, c_hpa_targets(o));
	if (json_is_integer(min))
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(min));
	else
		snprintf(buf, sizeof(buf), "<unset>");
	json_array_append_new(cells, json_string(buf));
	json_array_append_new(cells, json_integer(json_integer_value(c_path(o,
	    "spec.maxReplicas"))));
	json_array_append_new(cells, json_integer(json_is_integer(rep) ?
	    json_integer_value(rep) : 0));
	json_array_append_new(cells, c_age(c_str(o,
	    "metadata.creationTimestamp"), now));
}

static json_t *
c_or_none(const char *s)
{
	return json_string(*s ? s : "<none>");
}

static void
c_pod(json_t *cells, const json_t *o, time_t now)
{
	const json_t *cs = c_path(o, "status.containerStatuses"), *c;
	size_t i, ready = 0, total = json_array_size(c_path(o,
	    "spec.containers"));
	long long restarts = 0;
	const char *status = c_str(o, "status.phase");
	char buf[64];

	json_array_foreach(cs, i, c) {
		ready += json_is_true(json_object_get(c, "ready"));
		restarts += json_integer_value(json_object_get(c,
		    "restartCount"));
	}
	if (*c_str(o, "status.reason"))
		status = c_str(o, "status.reason");
	if (c_path(o, "metadata.deletionTimestamp"))
		status = "Terminating";
	snprintf(buf, sizeof(buf), "%zu/%zu", ready, total);
	json_array_append_new(cells, json_string(buf));
	json_array_append_new(cells, json_string(status));
	snprintf(buf, sizeof(buf), "%lld", restarts);
	json_array_append_new(cells, json_string(buf));
	json_array_append_new(cells, c_age(c_str(o,
	    "metadata.creationTimestamp"), now));
	json_array_append_new(cells, c_or_none(c_str(o, "status.podIP")));
	json_array_append_new(cells, c_or_none(c_str(o, "spec.nodeName")));
	json_array_append_new(cells, c_or_none(c_str(o,
	    "status.nominatedNodeName")));
	json_array_append_new(cells, json_string("<none>"));
}

static void
c_event(json_t *cells, const json_t *o, time_t now)
{
	const char *first = c_str(o, "firstTimestamp");
	const char *last = c_str(o, "lastTimestamp");
	const char *comp = c_str(o, "source.component");
	const char *host = c_str(o, "source.host");
	char buf[512];
	long long count = json_integer_value(c_path(o, "count"));

	if (!*first)
		first = c_str(o, "eventTime");
	if (!*last)
		last = first;
	if (c_path(o, "series")) {
		last = c_str(o, "series.lastObservedTime");
		count = json_integer_value(c_path(o, "series.count"));
	} else if (count == 0)
		count = 1;
	json_array_append_new(cells, c_age(last, now));
	json_array_append_new(cells, c_strv(o, "type"));
	json_array_append_new(cells, c_strv(o, "reason"));
	if (*c_str(o, "involvedObject.name"))
		snprintf(buf, sizeof(buf), "%s/%s", c_str(o,
		    "involvedObject.kind"), c_str(o, "involvedObject.name"));
	else
		snprintf(buf, sizeof(buf), "%s", c_str(o, "involvedObject.kind"));
	for (char *p = buf; *p && *p != '/'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	json_array_append_new(cells, json_string(buf));
	json_array_append_new(cells, json_string(c_str(o,
	    "involvedObject.fieldPath")));
	if (!*comp)
		comp = c_str(o, "reportingComponent");
	if (!*host)
		host = c_str(o, "reportingInstance");
	snprintf(buf, sizeof(buf), "%s%s%s", comp, *host ? ", " : "", host);
	json_array_append_new(cells, json_string(buf));
	json_array_append_new(cells, c_strv(o, "message"));
	json_array_append_new(cells, c_age(first, now));
	json_array_append_new(cells, json_integer(count));
	json_array_append_new(cells, json_string(c_str(o, "metadata.name")));
}

static void
c_node(json_t *cells, const json_t *o, time_t now)
{
	const json_t *labels = c_path(o, "metadata.labels"), *v, *a;
	const json_t *ready = c_cond(o, "Ready");
	char status[64], roles[256] = "", ip[2][64] = { "", "" };
	const char *key;
	size_t i;

	snprintf(status, sizeof(status), "%s", !ready ? "Unknown" :
	    !strcmp(c_str(ready, "status"), "True") ? "Ready" : "NotReady");
	if (json_is_true(c_path(o, "spec.unschedulable")))
		strncat(status, ",SchedulingDisabled", sizeof(status) -
		    strlen(status) - 1);
	json_object_foreach((json_t *)labels, key, v) {
		static const char pre[] = "node-role.kubernetes.io/";

		if (strncmp(key, pre, sizeof(pre) - 1) || !key[sizeof(pre) - 1])
			continue;
		if (*roles)
			strncat(roles, ",", sizeof(roles) - strlen(roles) - 1);
		strncat(roles, key + sizeof(pre) - 1, sizeof(roles) -
		    strlen(roles) - 1);
	}
	json_array_foreach(c_path(o, "status.addresses"), i, a) {
		int ext = !strcmp(c_str(a, "type"), "ExternalIP");

		if ((ext || !strcmp(c_str(a, "type"), "InternalIP")) &&
		    !ip[ext][0])
			snprintf(ip[ext], sizeof(ip[ext]), "%s", c_str(a,
			    "address"));
	}
	json_array_append_new(cells, json_string(status));
	json_array_append_new(cells, c_or_none(roles));
	json_array_append_new(cells, c_age(c_str(o,
	    "metadata.creationTimestamp"), now));
	json_array_append_new(cells, json_string(c_str(o,
	    "status.nodeInfo.kubeletVersion")));
	json_array_append_new(cells, c_or_none(ip[0]));
	json_array_append_new(cells, c_or_none(ip[1]));
	json_array_append_new(cells, json_string(c_str(o,
	    "status.nodeInfo.osImage")));
	json_array_append_new(cells, json_string(c_str(o,
	    "status.nodeInfo.kernelVersion")));
	json_array_append_new(cells, json_string(c_str(o,
	    "status.nodeInfo.containerRuntimeVersion")));
}

json_t *
columns_cells(const char *kind, const json_t *o, time_t now)
{
	json_t *cells = json_array();
	const char *ts = c_str(o, "metadata.creationTimestamp");

	if (!cells)
		return NULL;
	if (strcmp(kind ? kind : "", "Event"))
		json_array_append_new(cells, json_string(c_str(o,
		    "metadata.name")));
	if (!kind)
		kind = "";
	if (!strcmp(kind, "VirtualMachineInstanceReplicaSet")) {
		json_array_append_new(cells, c_intv(o, "spec.replicas"));
		json_array_append_new(cells, c_intv(o, "status.replicas"));
		json_array_append_new(cells, c_intv(o, "status.readyReplicas"));
		json_array_append_new(cells, c_age(ts, now));
	} else if (!strcmp(kind, "VirtualMachineInstance")) {
		json_array_append_new(cells, c_age(ts, now));
		json_array_append_new(cells, c_strv(o, "status.phase"));
		json_array_append_new(cells, c_strv(json_array_get(c_path(o,
		    "status.interfaces"), 0), "ipAddress"));
		json_array_append_new(cells, c_strv(o, "status.nodeName"));
		json_array_append_new(cells, c_condv(o, "Ready"));
		json_array_append_new(cells, c_condv(o, "LiveMigratable"));
		json_array_append_new(cells, c_condv(o, "Paused"));
	} else if (!strcmp(kind, "HorizontalPodAutoscaler"))
		c_hpa(cells, o, now);
	else if (!strcmp(kind, "Pod"))
		c_pod(cells, o, now);
	else if (!strcmp(kind, "Event"))
		c_event(cells, o, now);
	else if (!strcmp(kind, "Namespace")) {
		json_array_append_new(cells, json_string(*c_str(o,
		    "status.phase") ? c_str(o, "status.phase") : "Active"));
		json_array_append_new(cells, c_age(ts, now));
	} else if (!strcmp(kind, "Node"))
		c_node(cells, o, now);
	else
		json_array_append_new(cells, c_age(ts, now));
	return cells;
}
