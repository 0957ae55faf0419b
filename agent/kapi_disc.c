/*
 * kapi_disc.c: the resources droverd serves and the discovery documents
 * kubectl reads them from (legacy per-group discovery, kubectl-wire.md):
 *   /version, /api, /apis, /apis/G, and /api/v1, /apis/G/V
 *   (APIResourceList: name, singularName, namespaced, kind, verbs,
 *   shortNames, categories, and the subresources as "name/sub").
 * Aggregated discovery is not served: an Accept asking for it gets plain
 * application/json, and kubectl falls back to one request per group.
 *
 * Choices where Kubernetes has more: Pods (KubeVirt's virt-launcher
 * views) and Nodes are the runtime's, read-only here; Events and
 * Namespaces are created, changed and deleted like any object;
 * HorizontalPodAutoscalers are stored as autoscaling/v2 and served at v1
 * too (the conversion is Kubernetes': config/defaults.h).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kapi_int.h"
#include "kinds.h"

#define KAPI_MINOR "32"

static const struct kapi_res r_vmirs = {
	"kubevirt.io", "v1", "virtualmachineinstancereplicasets",
	"virtualmachineinstancereplicaset", "VirtualMachineInstanceReplicaSet",
	{ "vmirs", "vmirss" }, 1, KAPI_V_ALL, KAPI_SUB_STATUS | KAPI_SUB_SCALE,
	1, KAPI_STORED,
};
static const struct kapi_res r_vmi = {
	"kubevirt.io", "v1", "virtualmachineinstances",
	"virtualmachineinstance", "VirtualMachineInstance",
	{ "vmi", "vmis" }, 1, KAPI_V_ALL, KAPI_SUB_STATUS, 1, KAPI_STORED,
};
static const struct kapi_res r_hpa2 = {
	"autoscaling", "v2", "horizontalpodautoscalers",
	"horizontalpodautoscaler", "HorizontalPodAutoscaler", { "hpa" }, 1,
	KAPI_V_ALL, KAPI_SUB_STATUS, 1, KAPI_STORED,
};
static const struct kapi_res r_hpa1 = {
	"autoscaling", "v1", "horizontalpodautoscalers",
	"horizontalpodautoscaler", "HorizontalPodAutoscaler", { "hpa" }, 1,
	KAPI_V_ALL, KAPI_SUB_STATUS, 1, KAPI_STORED,
};
static const struct kapi_res r_pods = {
	"", "v1", "pods", "pod", "Pod", { "po" }, 1, KAPI_V_READ, 0, 1,
	KAPI_STORED,
};
static const struct kapi_res r_events = {
	"", "v1", "events", "event", "Event", { "ev" }, 1, KAPI_V_ALL, 0, 0,
	KAPI_STORED,
};
static const struct kapi_res r_ns = {
	"", "v1", "namespaces", "namespace", "Namespace", { "ns" }, 0,
	KAPI_V_ALL, KAPI_SUB_STATUS, 0, KAPI_STORED,
};
static const struct kapi_res r_nodes = {
	"", "v1", "nodes", "node", "Node", { "no" }, 0, KAPI_V_READ,
	KAPI_SUB_STATUS, 0, KAPI_STORED,
};
static const struct kapi_res r_podmetrics = {
	"metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", { NULL }, 1,
	KAPI_V_GET | KAPI_V_LIST, 0, 0, KAPI_PODMETRICS,
};
static const struct kapi_res r_nodemetrics = {
	"metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", { NULL }, 0,
	KAPI_V_GET | KAPI_V_LIST, 0, 0, KAPI_NODEMETRICS,
};
static const struct kapi_res r_console = {
	"subresources.kubevirt.io", "v1", "virtualmachineinstances", "",
	"VirtualMachineInstance", { NULL }, 1, KAPI_V_GET, KAPI_SUB_CONSOLE, 0,
	KAPI_CONSOLE,
};

static const struct kapi_res *const kapi_resources[] = {
	&r_vmirs, &r_vmi, &r_hpa2, &r_hpa1, &r_pods, &r_events, &r_ns,
	&r_nodes, &r_podmetrics, &r_nodemetrics, &r_console, NULL,
};

/* The group-versions, in /apis order; versions[0] is preferred. */
static const struct {
	const char *group;
	const char *versions[3];
} kapi_groups[] = {
	{ "kubevirt.io", { "v1" } },
	{ "autoscaling", { "v2", "v1" } },
	{ "metrics.k8s.io", { "v1beta1" } },
	{ "subresources.kubevirt.io", { "v1" } },
};
#define KAPI_NGROUPS (sizeof(kapi_groups) / sizeof(kapi_groups[0]))

const struct kapi_res *const *
kapi_res_all(void)
{
	return kapi_resources;
}

const struct kapi_res *
kapi_res_find(const char *group, const char *version, const char *resource)
{
	for (size_t i = 0; kapi_resources[i]; i++) {
		const struct kapi_res *r = kapi_resources[i];

		if (!strcmp(r->group, group) && !strcmp(r->version, version) &&
		    !strcmp(r->resource, resource))
			return r;
	}
	return NULL;
}

const char *
kapi_res_api_version(const struct kapi_res *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", r->group, *r->group ? "/" : "",
	    r->version);
	return buf;
}

const char *
kapi_res_qualified(const struct kapi_res *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", r->resource, *r->group ? "." : "",
	    r->group);
	return buf;
}

static int
kapi_group_known(const char *group, const char *version)
{
	for (size_t i = 0; i < KAPI_NGROUPS; i++) {
		if (strcmp(kapi_groups[i].group, group))
			continue;
		if (!version)
			return (int)i;
		for (size_t v = 0; v < 3 && kapi_groups[i].versions[v]; v++)
			if (!strcmp(kapi_groups[i].versions[v], version))
				return (int)i;
	}
	return -1;
}

/* ---- documents ------------------------------------------------------------ */

static json_t *
kapi_verbs(unsigned v)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ KAPI_V_CREATE, "create" }, { KAPI_V_DELETE, "delete" },
		{ KAPI_V_GET, "get" }, { KAPI_V_LIST, "list" },
		{ KAPI_V_PATCH, "patch" }, { KAPI_V_UPDATE, "update" },
		{ KAPI_V_WATCH, "watch" },
	};
	json_t *a = json_array();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (v & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

static json_t *
kapi_res_entry(const struct kapi_res *r)
{
	json_t *e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->resource,
	    "singularName", r->singular, "namespaced", r->namespaced, "kind",
	    r->kind, "verbs", kapi_verbs(r->verbs));
	json_t *shorts = json_array();

	for (size_t i = 0; i < 3 && r->shorts[i]; i++)
		json_array_append_new(shorts, json_string(r->shorts[i]));
	if (json_array_size(shorts))
		json_object_set_new(e, "shortNames", shorts);
	else
		json_decref(shorts);
	if (r->all)
		json_object_set_new(e, "categories", json_pack("[s]", "all"));
	return e;
}

static json_t *
kapi_sub_entry(const struct kapi_res *r, const char *sub, const char *group,
    const char *version, const char *kind, unsigned verbs)
{
	char name[128];
	json_t *e;

	snprintf(name, sizeof(name), "%s/%s", r->resource, sub);
	e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name,
	    "singularName", "", "namespaced", r->namespaced, "kind", kind,
	    "verbs", kapi_verbs(verbs));
	if (group)
		json_object_set_new(e, "group", json_string(group));
	if (version)
		json_object_set_new(e, "version", json_string(version));
	return e;
}

static json_t *
kapi_resource_list(const char *group, const char *version)
{
	json_t *res = json_array();
	char gv[96];

	for (size_t i = 0; kapi_resources[i]; i++) {
		const struct kapi_res *r = kapi_resources[i];

		if (strcmp(r->group, group) || strcmp(r->version, version))
			continue;
		if (r->special != KAPI_CONSOLE)
			json_array_append_new(res, kapi_res_entry(r));
		if (r->subres & KAPI_SUB_SCALE)
			json_array_append_new(res, kapi_sub_entry(r, "scale",
			    "autoscaling", "v1", "Scale", KAPI_V_GET |
			    KAPI_V_PATCH | KAPI_V_UPDATE));
		if (r->subres & KAPI_SUB_STATUS)
			json_array_append_new(res, kapi_sub_entry(r, "status",
			    NULL, NULL, r->kind, KAPI_V_GET | KAPI_V_PATCH |
			    KAPI_V_UPDATE));
		if (r->subres & KAPI_SUB_CONSOLE)
			json_array_append_new(res, kapi_sub_entry(r, "console",
			    NULL, NULL, "", KAPI_V_GET));
	}
	snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList",
	    "apiVersion", "v1", "groupVersion", gv, "resources", res);
}

static json_t *
kapi_gv(const char *group, const char *version)
{
	char gv[96];

	snprintf(gv, sizeof(gv), "%s/%s", group, version);
	return json_pack("{s:s, s:s}", "groupVersion", gv, "version", version);
}

static json_t *
kapi_group_doc(size_t i, int with_kind)
{
	json_t *vs = json_array(), *g;

	for (size_t v = 0; v < 3 && kapi_groups[i].versions[v]; v++)
		json_array_append_new(vs, kapi_gv(kapi_groups[i].group,
		    kapi_groups[i].versions[v]));
	g = json_pack("{s:s, s:o, s:o}", "name", kapi_groups[i].group,
	    "versions", vs, "preferredVersion", kapi_gv(kapi_groups[i].group,
	    kapi_groups[i].versions[0]));
	if (with_kind) {
		json_object_set_new(g, "kind", json_string("APIGroup"));
		json_object_set_new(g, "apiVersion", json_string("v1"));
	}
	return g;
}

static json_t *
kapi_version_doc(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "major", "1", "minor", KAPI_MINOR, "gitVersion",
	    "v1." KAPI_MINOR ".0", "gitCommit", "drover", "gitTreeState",
	    "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.23",
	    "compiler", "gc", "platform", "linux/amd64");
}

void
kapi_disc_handle(struct kapi_ctx *x)
{
	const struct kapi_path *p = &x->p;
	json_t *groups;
	int g;

	switch (p->kind) {
	case KAPI_P_VERSION:
		kapi_reply(x, 200, kapi_version_doc());
		return;
	case KAPI_P_API:
		kapi_reply(x, 200, json_pack("{s:s, s:[s], s:[{s:s, s:s}]}",
		    "kind", "APIVersions", "versions", "v1",
		    "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
		    "serverAddress", x->r->host && *x->r->host ? x->r->host :
		    "127.0.0.1:6443"));
		return;
	case KAPI_P_APIS:
		groups = json_array();
		for (size_t i = 0; i < KAPI_NGROUPS; i++)
			json_array_append_new(groups, kapi_group_doc(i, 0));
		kapi_reply(x, 200, json_pack("{s:s, s:s, s:o}", "kind",
		    "APIGroupList", "apiVersion", "v1", "groups", groups));
		return;
	case KAPI_P_GROUP:
		g = kapi_group_known(p->group, NULL);
		if (g < 0)
			break;
		kapi_reply(x, 200, kapi_group_doc((size_t)g, 1));
		return;
	case KAPI_P_GV:
		if (*p->group && kapi_group_known(p->group, p->version) < 0)
			break;
		if (!*p->group && strcmp(p->version, "v1"))
			break;
		kapi_reply(x, 200, kapi_resource_list(p->group, p->version));
		return;
	default:
		break;
	}
	kapi_fail(x, 404, "NotFound",
	    "the server could not find the requested resource");
}
