/*
 * rt_pod.c: what the runtime shows in the store: the VMI's status
 * (phase, nodeName, conditions Ready and PodScheduled, phase transition
 * timestamps, qosClass), the read-only Pod view of each VMI (KubeVirt's
 * virt-launcher pod: `kubectl get pods`, `kubectl top pod`, the HPA's
 * selector), and the Node object.
 *
 * Every write compares with what is stored first: an unchanged status is
 * not written, so the watcher's echo of our own writes settles at once.
 * Times are RFC 3339 seconds; a condition keeps its lastTransitionTime
 * while its status does not change.
 */
#include "rt_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "log.h"
#include "manifest.h"
#include "store.h"

/* ---- quantities -------------------------------------------------------- */

static json_t *
rp_bytes(int64_t b)
{
	char buf[32];

	if (b > 0 && b % (1LL << 30) == 0)
		snprintf(buf, sizeof(buf), "%lldGi", (long long)(b >> 30));
	else if (b > 0 && b % (1LL << 20) == 0)
		snprintf(buf, sizeof(buf), "%lldMi", (long long)(b >> 20));
	else if (b > 0 && b % 1024 == 0)
		snprintf(buf, sizeof(buf), "%lldKi", (long long)(b >> 10));
	else
		snprintf(buf, sizeof(buf), "%lld", (long long)b);
	return json_string(buf);
}

static json_t *
rp_milli(int64_t m)
{
	char buf[32];

	if (m % 1000 == 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)(m / 1000));
	else
		snprintf(buf, sizeof(buf), "%lldm", (long long)m);
	return json_string(buf);
}

/* ---- conditions -------------------------------------------------------- */

static const json_t *
rp_cond_find(const json_t *conds, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
		if (json_is_string(json_object_get(c, "type")) &&
		    strcmp(json_string_value(json_object_get(c, "type")),
		    type) == 0)
			return c;
	return NULL;
}

/*
 * The condition type in new_conds (built from old_conds): status, and
 * reason/message when not empty; lastTransitionTime kept from the old
 * condition while its status is the same. pod: Pod conditions carry
 * lastProbeTime null too, as the VMI's do.
 */
static void
rp_cond_set(json_t *new_conds, const json_t *old_conds, const char *type,
    const char *status, const char *reason, const char *msg)
{
	const json_t *old = rp_cond_find(old_conds, type);
	const char *os = json_string_value(json_object_get(old, "status"));
	const json_t *lt = json_object_get(old, "lastTransitionTime");
	char now[32];
	json_t *c;

	rt_now_rfc3339(now, sizeof(now));
	c = json_pack("{s:s, s:s, s:n}", "type", type, "status", status,
	    "lastProbeTime");
	if (c == NULL)
		return;
	json_object_set_new(c, "lastTransitionTime", os && lt &&
	    strcmp(os, status) == 0 ? json_deep_copy(lt) : json_string(now));
	if (reason && reason[0])
		json_object_set_new(c, "reason", json_string(reason));
	if (msg && msg[0])
		json_object_set_new(c, "message", json_string(msg));
	json_array_append_new(new_conds, c);
}

/* Conditions other than the runtime's are kept as they are. */
static json_t *
rp_cond_others(const json_t *old, const char *const *mine)
{
	json_t *out = json_array(), *c;
	size_t i;

	json_array_foreach(old, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		int skip = 0;

		for (const char *const *m = mine; *m; m++)
			skip |= t && strcmp(t, *m) == 0;
		if (!skip)
			json_array_append(out, c);
	}
	return out;
}

struct rp_ready {
	const char *status, *reason;
	char msg[600];
};

static int
rp_has_probe(const json_t *vmi)
{
	return json_is_object(json_object_get(json_object_get(vmi, "spec"),
	    "readinessProbe"));
}

static void
rp_ready(const struct rt_vmi *v, const json_t *vmi, struct rp_ready *r)
{
	int running = strcmp(v->phase, "Running") == 0;
	int ready = rp_has_probe(vmi) ? v->probe_ready : v->booted;

	r->status = "False";
	r->reason = "";
	r->msg[0] = '\0';
	if (v->deleting) {
		r->reason = "PodTerminating";
		snprintf(r->msg, sizeof(r->msg), "the VMI is being deleted");
	} else if (v->stage == RT_DONE && v->reason[0]) {
		r->reason = v->reason;
		snprintf(r->msg, sizeof(r->msg), "%s", v->message);
	} else if (!running && v->wait_reason[0]) {
		r->reason = v->wait_reason;
		snprintf(r->msg, sizeof(r->msg), "%s", v->wait_msg);
	} else if (!running) {
		r->reason = "GuestNotRunning";
		snprintf(r->msg, sizeof(r->msg), "Guest VM is not reported as "
		    "running");
	} else if (!ready) {
		r->reason = "ContainersNotReady";
		snprintf(r->msg, sizeof(r->msg), "containers with unready "
		    "status: [compute]");
	} else
		r->status = "True";
}

static const char *
rp_qos(const struct rt_res *r)
{
	if (r->cpu_limit_milli && r->memory_limit &&
	    r->cpu_limit_milli == r->cpu_milli && r->memory_limit == r->memory)
		return "Guaranteed";
	return "Burstable";	/* the VMM's memory is always requested */
}

static int
rp_node_known(const struct rt_vmi *v)
{
	return v->scheduled || v->stage == RT_ACTIVE;
}

/* ---- the VMI's status -------------------------------------------------- */

static json_t *
rp_vmi_status(const struct rt_vmi *v, const json_t *vmi)
{
	static const char *const mine[] = { "Ready", "PodScheduled", NULL };
	const json_t *old = json_object_get(vmi, "status");
	const json_t *oconds = json_object_get(old, "conditions");
	const char *ophase = json_string_value(json_object_get(old, "phase"));
	json_t *st = json_is_object(old) ? json_deep_copy(old) : json_object();
	json_t *conds = rp_cond_others(oconds, mine), *pt;
	struct rp_ready r;
	char now[32];

	json_object_set_new(st, "phase", json_string(v->phase));
	if (rp_node_known(v))
		json_object_set_new(st, "nodeName",
		    json_string(v->rt->node_name));
	if (rp_node_known(v) || (v->stage == RT_DONE &&
	    json_object_get(st, "nodeName")))
		rp_cond_set(conds, oconds, "PodScheduled", "True", "", "");
	else if (v->sched_msg[0])
		rp_cond_set(conds, oconds, "PodScheduled", "False",
		    "Unschedulable", v->sched_msg);
	rp_ready(v, vmi, &r);
	rp_cond_set(conds, oconds, "Ready", r.status, r.reason, r.msg);
	json_object_set_new(st, "conditions", conds);
	if (v->res.vcpus)
		json_object_set_new(st, "qosClass", json_string(rp_qos(&v->res)));
	/* The pod network: the IP column of kubectl get vmi. The address
	 * goes back to the pool when the VMI ends: so does the entry. */
	if (v->net && v->pod_ip[0] && v->stage == RT_ACTIVE)
		json_object_set_new(st, "interfaces", json_pack("[{s:s, s:s, "
		    "s:[s], s:s, s:s, s:i}]", "name", v->net_iface, "ipAddress",
		    v->pod_ip, "ipAddresses", v->pod_ip, "mac", v->mac,
		    "infoSource", "domain", "queueCount", 1));
	else
		json_object_del(st, "interfaces");
	if (ophase == NULL || strcmp(ophase, v->phase) != 0) {
		pt = json_object_get(st, "phaseTransitionTimestamps");
		if (!json_is_array(pt)) {
			pt = json_array();
			json_object_set_new(st, "phaseTransitionTimestamps", pt);
		}
		rt_now_rfc3339(now, sizeof(now));
		json_array_append_new(pt, json_pack("{s:s, s:s}", "phase",
		    v->phase, "phaseTransitionTimestamp", now));
	}
	return st;
}

/* ---- the Pod view ------------------------------------------------------ */

static const char *
rp_pod_phase(const char *vmi_phase)
{
	if (strcmp(vmi_phase, "Scheduled") == 0 ||
	    strcmp(vmi_phase, "Running") == 0)
		return "Running";
	if (strcmp(vmi_phase, "Succeeded") == 0 ||
	    strcmp(vmi_phase, "Failed") == 0 ||
	    strcmp(vmi_phase, "Unknown") == 0)
		return vmi_phase;
	return "Pending";
}

static json_t *
rp_pod_resources(const struct rt_res *r)
{
	json_t *req = json_object(), *lim = json_object();

	if (r->cpu_milli)
		json_object_set_new(req, "cpu", rp_milli(r->cpu_milli));
	if (r->memory)
		json_object_set_new(req, "memory", rp_bytes(r->memory));
	if (r->cpu_limit_milli)
		json_object_set_new(lim, "cpu", rp_milli(r->cpu_limit_milli));
	if (r->memory_limit)
		json_object_set_new(lim, "memory", rp_bytes(r->memory_limit));
	return json_pack("{s:o, s:o}", "requests", req, "limits", lim);
}

static json_t *
rp_pod_object(const struct rt_vmi *v, const json_t *vmi)
{
	const json_t *vl = json_object_get(json_object_get(vmi, "metadata"),
	    "labels");
	json_t *labels = json_is_object(vl) ? json_deep_copy(vl) :
	    json_object();
	json_t *pod, *spec;

	json_object_set_new(labels, "kubevirt.io", json_string("virt-launcher"));
	json_object_set_new(labels, "kubevirt.io/created-by",
	    json_string(v->uid));
	json_object_set_new(labels, "vm.kubevirt.io/name", json_string(v->name));
	spec = json_pack("{s:[{s:s, s:s, s:o}], s:s, s:i}", "containers",
	    "name", "compute", "image", "drover-vmm", "resources",
	    rp_pod_resources(&v->res), "restartPolicy", "Never",
	    "terminationGracePeriodSeconds", v->grace);
	if (spec && rp_node_known(v))
		json_object_set_new(spec, "nodeName",
		    json_string(v->rt->node_name));
	pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s, s:s}, s:[{s:s, "
	    "s:s, s:s, s:s, s:b, s:b}]}, s:o}", "apiVersion", "v1", "kind",
	    "Pod", "metadata", "name", v->pod, "namespace", v->ns, "labels",
	    labels, "annotations", "kubevirt.io/domain", v->name,
	    RT_CGROUP_ANNOTATION, v->cgroup, "ownerReferences",
	    "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
	    "name", v->name, "uid", v->uid, "controller", 1,
	    "blockOwnerDeletion", 1, "spec", spec);
	return pod;
}

static json_t *
rp_container_state(const struct rt_vmi *v, const json_t *oldst)
{
	const json_t *running = json_object_get(json_object_get(
	    json_object_get(json_array_get(json_object_get(oldst,
	    "containerStatuses"), 0), "state"), "running"), "startedAt");
	char now[32];

	rt_now_rfc3339(now, sizeof(now));
	if (v->stage == RT_ACTIVE && v->pid > 0)
		return json_pack("{s:{s:o}}", "running", "startedAt",
		    running ? json_deep_copy(running) : json_string(now));
	if (v->stage == RT_DONE)
		return json_pack("{s:{s:i, s:s}}", "terminated", "exitCode",
		    strcmp(v->phase, "Succeeded") == 0 ? 0 : 1, "reason",
		    v->reason[0] ? v->reason : "Completed");
	return json_pack("{s:{s:s}}", "waiting", "reason", v->wait_reason[0] ?
	    v->wait_reason : "ContainerCreating");
}

static json_t *
rp_pod_status(const struct rt_vmi *v, const json_t *vmi, const json_t *old)
{
	const json_t *oconds = json_object_get(old, "conditions");
	const json_t *ostart = json_object_get(old, "startTime");
	json_t *st, *conds = json_array();
	struct rp_ready r;
	const char *ready;
	char now[32];

	rp_ready(v, vmi, &r);
	ready = strcmp(r.status, "True") == 0 ? "True" : "False";
	rt_now_rfc3339(now, sizeof(now));
	if (rp_node_known(v) || v->stage == RT_DONE)
		rp_cond_set(conds, oconds, "PodScheduled", "True", "", "");
	else if (v->sched_msg[0])
		rp_cond_set(conds, oconds, "PodScheduled", "False",
		    "Unschedulable", v->sched_msg);
	if (rp_node_known(v) || v->stage == RT_DONE) {
		rp_cond_set(conds, oconds, "Initialized", "True", "", "");
		rp_cond_set(conds, oconds, "ContainersReady", ready, "", "");
		rp_cond_set(conds, oconds, "Ready", ready, "", "");
	}
	st = json_pack("{s:s, s:o, s:s}", "phase", rp_pod_phase(v->phase),
	    "conditions", conds, "qosClass", rp_qos(&v->res));
	if (st && (rp_node_known(v) || v->stage == RT_DONE)) {
		json_object_set_new(st, "startTime", ostart ?
		    json_deep_copy(ostart) : json_string(now));
		json_object_set_new(st, "containerStatuses", json_pack(
		    "[{s:s, s:s, s:b, s:b, s:i, s:o}]", "name", "compute",
		    "image", "drover-vmm", "ready", strcmp(ready, "True") == 0,
		    "started", v->stage == RT_ACTIVE && v->pid > 0,
		    "restartCount", 0, "state", rp_container_state(v, old)));
	}
	if (st && v->stage == RT_DONE && v->message[0])
		json_object_set_new(st, "message", json_string(v->message));
	if (st && v->net && v->pod_ip[0] && v->stage == RT_ACTIVE) {
		json_object_set_new(st, "podIP", json_string(v->pod_ip));
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip",
		    v->pod_ip));
	}
	return st;
}

static void
rp_pod_sync(struct rt_vmi *v, const json_t *vmi)
{
	struct store *s = v->rt->s;
	json_t *want = rp_pod_object(v, vmi), *have, *st;
	char err[256] = "";
	int rc = 0;

	if (want == NULL)
		return;
	have = store_get(s, "Pod", v->ns, v->pod);
	if (have == NULL)
		rc = store_create(s, want, &have, err, sizeof(err));
	else if (!json_equal(json_object_get(have, "spec"),
	    json_object_get(want, "spec")) || !json_equal(json_object_get(
	    json_object_get(have, "metadata"), "labels"), json_object_get(
	    json_object_get(want, "metadata"), "labels"))) {
		json_decref(have);
		have = NULL;
		rc = store_update(s, want, &have, err, sizeof(err));
	}
	json_decref(want);
	if (rc < 0 || have == NULL) {
		log_warnx("%s/%s: Pod %s: %s", v->ns, v->name, v->pod, err);
		json_decref(have);
		return;
	}
	st = rp_pod_status(v, vmi, json_object_get(have, "status"));
	if (st && !json_equal(st, json_object_get(have, "status")) &&
	    store_update_status(s, "Pod", v->ns, v->pod, st, NULL, err,
	    sizeof(err)) < 0)
		log_warnx("%s/%s: Pod %s status: %s", v->ns, v->name, v->pod,
		    err);
	json_decref(st);
	json_decref(have);
}

void
rt_pod_delete(struct rt_vmi *v)
{
	if (v->pod[0])
		store_delete(v->rt->s, "Pod", v->ns, v->pod, NULL, 0);
}

int
rt_status_sync(struct rt_vmi *v, const json_t *vmi)
{
	json_t *st = rp_vmi_status(v, vmi);
	char err[256] = "";
	int rc = 0;

	if (st == NULL)
		return -ENOMEM;
	if (!json_equal(st, json_object_get(vmi, "status")))
		rc = store_update_status(v->rt->s, "VirtualMachineInstance",
		    v->ns, v->name, st, NULL, err, sizeof(err));
	json_decref(st);
	if (rc < 0 && rc != -ENOENT)
		log_warnx("%s/%s: status: %s", v->ns, v->name, err);
	if (rc == 0 && v->stage != RT_NEW && v->stage != RT_GONE)
		rp_pod_sync(v, vmi);
	return rc;
}

/* ---- the Node ---------------------------------------------------------- */

static void
rp_os_image(char *out, size_t len)
{
	char line[256];
	FILE *f = fopen("/etc/os-release", "re");

	snprintf(out, len, "Linux");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
			char *s = line + 12, *e;

			s += *s == '"';
			e = s + strcspn(s, "\"\n");
			*e = '\0';
			snprintf(out, len, "%s", s);
			break;
		}
	fclose(f);
}

static json_t *
rp_node_res(int64_t cpu, int64_t mem, int64_t pods)
{
	char kib[32], np[16];

	/* The kubelet reports memory in Ki. */
	snprintf(kib, sizeof(kib), "%lldKi", (long long)(mem >> 10));
	snprintf(np, sizeof(np), "%lld", (long long)pods);
	return json_pack("{s:o, s:s, s:s}", "cpu", rp_milli(cpu), "memory", kib,
	    "pods", np);
}

int
rt_node_sync(struct rt *rt)
{
	const struct rt_node *n = &rt->node;
	json_t *have = store_get(rt->s, "Node", "", rt->node_name), *st, *conds;
	char err[256] = "", now[32], os[128];
	struct utsname u;
	int rc = 0;

	if (have == NULL) {
		json_t *node = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s, "
		    "s:s}}, s:{}}", "apiVersion", "v1", "kind", "Node",
		    "metadata", "name", rt->node_name, "labels",
		    "kubernetes.io/hostname", rt->node_name, "kubernetes.io/os",
		    "linux", "kubernetes.io/arch", "amd64",
		    "kubevirt.io/schedulable", "true", "spec");

		rc = node ? store_create(rt->s, node, &have, err, sizeof(err)) :
		    -ENOMEM;
		json_decref(node);
		if (rc < 0) {
			log_warnx("Node %s: %s", rt->node_name, err);
			return rc;
		}
	}
	uname(&u);
	rp_os_image(os, sizeof(os));
	rt_now_rfc3339(now, sizeof(now));
	conds = json_array();
	rp_cond_set(conds, json_object_get(json_object_get(have, "status"),
	    "conditions"), "Ready", "True", "KubeletReady",
	    "kubelet is posting ready status");
	json_object_del(json_array_get(conds, 0), "lastProbeTime");
	json_object_set_new(json_array_get(conds, 0), "lastHeartbeatTime",
	    json_string(now));
	st = json_pack("{s:o, s:o, s:o, s:[{s:s, s:s}], s:{s:s, s:s, s:s, s:s, "
	    "s:s, s:s}}", "capacity", rp_node_res(n->cap_cpu_milli,
	    n->cap_memory, n->pods), "allocatable", rp_node_res(
	    n->alloc_cpu_milli, n->alloc_memory, n->pods), "conditions", conds,
	    "addresses", "type", "Hostname", "address", rt->node_name,
	    "nodeInfo", "architecture", "amd64", "operatingSystem", "linux",
	    "kernelVersion", u.release, "osImage", os, "kubeletVersion",
	    "drover", "containerRuntimeVersion", "drover-vmm");
	if (st && store_update_status(rt->s, "Node", "", rt->node_name, st,
	    NULL, err, sizeof(err)) < 0) {
		log_warnx("Node %s status: %s", rt->node_name, err);
		rc = -EIO;
	}
	json_decref(st);
	json_decref(have);
	return rc;
}
