/*
 * kapi_openapi.c: OpenAPI v3, as kubectl needs it (kubectl-wire.md):
 *   GET /openapi/v3  the index: {"paths":{"apis/kubevirt.io/v1":
 *       {"serverRelativeURL":"/openapi/v3/apis/kubevirt.io/v1"},...}};
 *   GET /openapi/v3/{api/v1 | apis/G/V}  one group-version's document:
 *       per kind, its collection and item paths (and status, scale), the
 *       item's patch operation carrying x-kubernetes-group-version-kind
 *       and a fieldValidation query parameter (so kubectl apply, create
 *       and edit send fieldValidation=Strict and leave validation to the
 *       server), and components.schemas with the kind's fields for
 *       `kubectl explain`.
 * The schemas come from config/'s (schema.h): the fields admission knows
 * are the fields explain shows. Members KubeVirt has and Drover refuses
 * are shown with "Not supported by Drover" and what to use instead.
 * Request bodies advertise JSON, merge and JSON patches, not strategic
 * merge (it needs full schemas with patch strategies).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kapi_int.h"
#include "schema.h"

struct kapi_oa_kind {
	const char *group, *version, *kind;
	const char *schema_name;		/* components.schemas key */
	const struct schema_field *fields;
	const char *description;
};

static const struct schema_field oa_scale_spec[] = {
	{ "replicas", SCHEMA_INT, 0, NULL, SCHEMA_ANY, NULL },
	{ NULL, SCHEMA_ANY, 0, NULL, SCHEMA_ANY, NULL },
};
static const struct schema_field oa_scale_status[] = {
	{ "replicas", SCHEMA_INT, 0, NULL, SCHEMA_ANY, NULL },
	{ "selector", SCHEMA_STRING, 0, NULL, SCHEMA_ANY, NULL },
	{ NULL, SCHEMA_ANY, 0, NULL, SCHEMA_ANY, NULL },
};
static const struct schema_field oa_scale[] = {
	{ "apiVersion", SCHEMA_STRING, 0, NULL, SCHEMA_ANY, NULL },
	{ "kind", SCHEMA_STRING, 0, NULL, SCHEMA_ANY, NULL },
	{ "metadata", SCHEMA_OBJECT, 0, schema_object_meta, SCHEMA_ANY, NULL },
	{ "spec", SCHEMA_OBJECT, 0, oa_scale_spec, SCHEMA_ANY, NULL },
	{ "status", SCHEMA_OBJECT, 0, oa_scale_status, SCHEMA_ANY, NULL },
	{ NULL, SCHEMA_ANY, 0, NULL, SCHEMA_ANY, NULL },
};

static const struct kapi_oa_kind kapi_oa_kinds[] = {
	{ "kubevirt.io", "v1", "VirtualMachineInstanceReplicaSet",
	    "io.kubevirt.v1.VirtualMachineInstanceReplicaSet", schema_vmirs,
	    "VirtualMachineInstanceReplicaSet is a replica set for "
	    "VirtualMachineInstances: it keeps spec.replicas "
	    "VirtualMachineInstances made from spec.template running." },
	{ "kubevirt.io", "v1", "VirtualMachineInstance",
	    "io.kubevirt.v1.VirtualMachineInstance", schema_vmi,
	    "VirtualMachineInstance is *the* VirtualMachineInstance Definition. "
	    "It represents a virtual machine in the runtime environment of "
	    "kubernetes." },
	{ "autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale",
	    oa_scale, "Scale represents a scaling request for a resource." },
	{ "autoscaling", "v1", "HorizontalPodAutoscaler",
	    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", schema_hpa_v1,
	    "configuration of a horizontal pod autoscaler." },
	{ "autoscaling", "v2", "HorizontalPodAutoscaler",
	    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", schema_hpa_v2,
	    "HorizontalPodAutoscaler is the configuration for a horizontal pod "
	    "autoscaler, which automatically manages the replica count of any "
	    "resource implementing the scale subresource based on the metrics "
	    "specified." },
	{ "", "v1", "Pod", "io.k8s.api.core.v1.Pod", schema_pod,
	    "Pod is a collection of containers that can run on a host. Here: "
	    "the read-only view of a VirtualMachineInstance's virt-launcher." },
	{ "", "v1", "Event", "io.k8s.api.core.v1.Event", schema_event,
	    "Event is a report of an event somewhere in the cluster." },
	{ "", "v1", "Namespace", "io.k8s.api.core.v1.Namespace",
	    schema_namespace, "Namespace provides a scope for Names." },
	{ "", "v1", "Node", "io.k8s.api.core.v1.Node", schema_node,
	    "Node is a worker node in Kubernetes. Here: the Drover node "
	    "itself, read-only." },
};
#define KAPI_OA_NKINDS (sizeof(kapi_oa_kinds) / sizeof(kapi_oa_kinds[0]))

/* Descriptions of well-known fields (path from the kind's root). */
static const struct {
	const char *path, *text;
} kapi_oa_docs[] = {
	{ "apiVersion", "APIVersion defines the versioned schema of this "
	    "representation of an object. Servers should convert recognized "
	    "schemas to the latest internal value, and may reject unrecognized "
	    "values." },
	{ "kind", "Kind is a string value representing the REST resource this "
	    "object represents. Servers may infer this from the endpoint the "
	    "client submits requests to. Cannot be updated. In CamelCase." },
	{ "metadata", "Standard object's metadata." },
	{ "spec", "Spec defines the desired state of the object." },
	{ "status", "Status is the most recently observed status of the "
	    "object. Read-only: the server sets it." },
	{ "metadata.name", "Name must be unique within a namespace." },
	{ "metadata.namespace", "Namespace defines the space within which each "
	    "name must be unique." },
	{ "metadata.labels", "Map of string keys and values that can be used "
	    "to organize and categorize (scope and select) objects." },
	{ "spec.replicas", "Number of desired pods. This is a pointer to "
	    "distinguish between explicit zero and not specified. Defaults to "
	    "1." },
	{ "spec.selector", "Label selector for pods. Existing ReplicaSets whose "
	    "pods are selected by this will be the ones affected by this "
	    "deployment." },
	{ "spec.template", "Template describes the pods that will be "
	    "created." },
	{ "spec.paused", "Indicates that the replica set is paused." },
	{ "spec.domain", "Specification of the desired behavior of the "
	    "VirtualMachineInstance on the host." },
	{ "spec.volumes", "List of volumes that can be mounted by disks "
	    "belonging to the vmi." },
	{ "spec.networks", "List of networks that can be attached to a vm's "
	    "virtual interface." },
	{ "spec.scaleTargetRef", "reference to scaled resource; horizontal pod "
	    "autoscaler will learn the current resource consumption and will "
	    "set the desired number of pods by using its Scale subresource." },
	{ "spec.minReplicas", "minReplicas is the lower limit for the number "
	    "of replicas to which the autoscaler can scale down. It defaults "
	    "to 1 pod." },
	{ "spec.maxReplicas", "maxReplicas is the upper limit for the number "
	    "of pods that can be set by the autoscaler; cannot be smaller than "
	    "MinReplicas." },
	{ "spec.targetCPUUtilizationPercentage", "targetCPUUtilizationPercentage "
	    "is the target average CPU utilization (represented as a "
	    "percentage of requested CPU) over all the pods; if not specified "
	    "the default autoscaling policy will be used." },
	{ "spec.metrics", "metrics contains the specifications for which to "
	    "use to calculate the desired replica count." },
	{ "spec.behavior", "behavior configures the scaling behavior of the "
	    "target in both Up and Down directions." },
};

static const char *
kapi_oa_doc(const char *path)
{
	for (size_t i = 0; i < sizeof(kapi_oa_docs) / sizeof(kapi_oa_docs[0]);
	    i++)
		if (!strcmp(kapi_oa_docs[i].path, path))
			return kapi_oa_docs[i].text;
	return NULL;
}

/* ---- schemas ----------------------------------------------------------------- */

static json_t *kapi_oa_props(const struct schema_field *fields,
    const char *path, json_t **required);

static json_t *
kapi_oa_scalar(enum schema_type t)
{
	switch (t) {
	case SCHEMA_STRING:
		return json_pack("{s:s}", "type", "string");
	case SCHEMA_INT:
		return json_pack("{s:s, s:s}", "type", "integer", "format",
		    "int64");
	case SCHEMA_BOOL:
		return json_pack("{s:s}", "type", "boolean");
	case SCHEMA_QUANTITY:
	case SCHEMA_INT_OR_STRING:
		return json_pack("{s:[{s:s}, {s:s}], s:b}", "anyOf", "type",
		    "integer", "type", "string", "x-kubernetes-int-or-string",
		    1);
	case SCHEMA_STRING_MAP:
		return json_pack("{s:s, s:{s:s}}", "type", "object",
		    "additionalProperties", "type", "string");
	case SCHEMA_QUANTITY_MAP:
		return json_pack("{s:s, s:{s:[{s:s}, {s:s}], s:b}}", "type",
		    "object", "additionalProperties", "anyOf", "type", "integer",
		    "type", "string", "x-kubernetes-int-or-string", 1);
	default:
		return json_pack("{s:s, s:b}", "type", "object",
		    "x-kubernetes-preserve-unknown-fields", 1);
	}
}

static json_t *
kapi_oa_field(const struct schema_field *f, const char *path)
{
	json_t *s, *req = NULL, *item;
	const char *doc = kapi_oa_doc(path);
	char text[512];

	if (f->type == SCHEMA_OBJECT && f->fields) {
		s = json_pack("{s:s, s:o}", "type", "object", "properties",
		    kapi_oa_props(f->fields, path, &req));
		if (req)
			json_object_set_new(s, "required", req);
	} else if (f->type == SCHEMA_ARRAY) {
		if (f->fields) {
			item = json_pack("{s:s, s:o}", "type", "object",
			    "properties", kapi_oa_props(f->fields, path, &req));
			if (req)
				json_object_set_new(item, "required", req);
		} else
			item = kapi_oa_scalar(f->item);
		s = json_pack("{s:s, s:o}", "type", "array", "items", item);
	} else
		s = kapi_oa_scalar(f->type);
	if (f->flags & SCHEMA_DROVER_NO) {
		snprintf(text, sizeof(text), "Not supported by Drover%s%s.",
		    f->hint ? ": " : "", f->hint ? f->hint : "");
		json_object_set_new(s, "description", json_string(text));
	} else if (doc)
		json_object_set_new(s, "description", json_string(doc));
	return s;
}

static json_t *
kapi_oa_props(const struct schema_field *fields, const char *path,
    json_t **required)
{
	json_t *props = json_object();
	char sub[512];

	*required = NULL;
	for (size_t i = 0; fields && fields[i].name; i++) {
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
		    fields[i].name);
		json_object_set_new(props, fields[i].name,
		    kapi_oa_field(&fields[i], sub));
		if (fields[i].flags & SCHEMA_REQUIRED) {
			if (!*required)
				*required = json_array();
			json_array_append_new(*required,
			    json_string(fields[i].name));
		}
	}
	return props;
}

static json_t *
kapi_oa_gvk(const struct kapi_oa_kind *k)
{
	return json_pack("{s:s, s:s, s:s}", "group", k->group, "version",
	    k->version, "kind", k->kind);
}

static json_t *
kapi_oa_schema(const struct kapi_oa_kind *k)
{
	json_t *req = NULL;
	json_t *s = json_pack("{s:s, s:s, s:o, s:[o]}", "description",
	    k->description, "type", "object", "properties",
	    kapi_oa_props(k->fields, "", &req),
	    "x-kubernetes-group-version-kind", kapi_oa_gvk(k));

	if (req)
		json_object_set_new(s, "required", req);
	return s;
}

/* ---- paths ------------------------------------------------------------------------ */

static json_t *
kapi_oa_param(const char *name, const char *in, const char *desc)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s}, s:b}", "name", name, "in",
	    in, "description", desc, "schema", "type", "string",
	    "uniqueItems", 1);
}

static json_t *
kapi_oa_op(const char *action, const struct kapi_oa_kind *k,
    const char *opid, int patch)
{
	char ref[256];
	json_t *op, *params = json_array();

	snprintf(ref, sizeof(ref), "#/components/schemas/%s", k->schema_name);
	json_array_append_new(params, kapi_oa_param("pretty", "query",
	    "If 'true', then the output is pretty printed."));
	if (patch || !strcmp(action, "post") || !strcmp(action, "put")) {
		json_array_append_new(params, kapi_oa_param("dryRun", "query",
		    "When present, indicates that modifications should not be "
		    "persisted. Valid value: All."));
		json_array_append_new(params, kapi_oa_param("fieldManager",
		    "query", "fieldManager is a name associated with the actor "
		    "or entity that is making these changes."));
		json_array_append_new(params, kapi_oa_param("fieldValidation",
		    "query", "fieldValidation instructs the server on how to "
		    "handle objects in the request containing unknown or "
		    "duplicate fields. Valid values are: Ignore, Warn, Strict."));
	}
	op = json_pack("{s:s, s:o, s:{s:{s:s, s:{s:{s:{s:s}}}}}, s:s, s:o}",
	    "operationId", opid, "parameters", params, "responses", "200",
	    "description", "OK", "content", "application/json", "schema",
	    "$ref", ref, "x-kubernetes-action", action,
	    "x-kubernetes-group-version-kind", kapi_oa_gvk(k));
	if (patch)
		json_object_set_new(op, "requestBody", json_pack("{s:{s:{s:{s:s}}, "
		    "s:{s:{s:s}}}, s:b}", "content", "application/json-patch+json",
		    "schema", "type", "object", "application/merge-patch+json",
		    "schema", "type", "object", "required", 1));
	else if (!strcmp(action, "post") || !strcmp(action, "put"))
		json_object_set_new(op, "requestBody", json_pack("{s:{s:{s:{s:s}}}, "
		    "s:b}", "content", "application/json", "schema", "$ref", ref,
		    "required", 1));
	return op;
}

static const struct kapi_oa_kind *
kapi_oa_kind_of(const char *group, const char *version, const char *kind)
{
	for (size_t i = 0; i < KAPI_OA_NKINDS; i++)
		if (!strcmp(kapi_oa_kinds[i].group, group) &&
		    !strcmp(kapi_oa_kinds[i].version, version) &&
		    !strcmp(kapi_oa_kinds[i].kind, kind))
			return &kapi_oa_kinds[i];
	return NULL;
}

/* The paths of resource r into paths. */
static void
kapi_oa_resource(json_t *paths, const struct kapi_res *r)
{
	const struct kapi_oa_kind *k = kapi_oa_kind_of(r->group, r->version,
	    r->kind);
	const struct kapi_oa_kind *scale = kapi_oa_kind_of("autoscaling", "v1",
	    "Scale");
	char base[256], item[300], sub[320], opid[160];
	json_t *p;

	if (!k)
		return;
	if (*r->group)
		snprintf(base, sizeof(base), "/apis/%s/%s%s/%s", r->group,
		    r->version, r->namespaced ? "/namespaces/{namespace}" : "",
		    r->resource);
	else
		snprintf(base, sizeof(base), "/api/v1%s/%s", r->namespaced ?
		    "/namespaces/{namespace}" : "", r->resource);
	snprintf(item, sizeof(item), "%s/{name}", base);
	p = json_object();
	snprintf(opid, sizeof(opid), "list%s", r->kind);
	json_object_set_new(p, "get", kapi_oa_op("list", k, opid, 0));
	if (r->verbs & KAPI_V_CREATE) {
		snprintf(opid, sizeof(opid), "create%s", r->kind);
		json_object_set_new(p, "post", kapi_oa_op("post", k, opid, 0));
	}
	json_object_set_new(paths, base, p);
	p = json_object();
	snprintf(opid, sizeof(opid), "read%s", r->kind);
	json_object_set_new(p, "get", kapi_oa_op("get", k, opid, 0));
	if (r->verbs & KAPI_V_UPDATE) {
		snprintf(opid, sizeof(opid), "replace%s", r->kind);
		json_object_set_new(p, "put", kapi_oa_op("put", k, opid, 0));
	}
	if (r->verbs & KAPI_V_PATCH) {
		snprintf(opid, sizeof(opid), "patch%s", r->kind);
		json_object_set_new(p, "patch", kapi_oa_op("patch", k, opid, 1));
	}
	if (r->verbs & KAPI_V_DELETE) {
		snprintf(opid, sizeof(opid), "delete%s", r->kind);
		json_object_set_new(p, "delete", kapi_oa_op("delete", k, opid,
		    0));
	}
	json_object_set_new(paths, item, p);
	if ((r->subres & KAPI_SUB_STATUS) && (r->verbs & KAPI_V_PATCH)) {
		snprintf(sub, sizeof(sub), "%s/status", item);
		snprintf(opid, sizeof(opid), "patch%sStatus", r->kind);
		json_object_set_new(paths, sub, json_pack("{s:o}", "patch",
		    kapi_oa_op("patch", k, opid, 1)));
	}
	if (r->subres & KAPI_SUB_SCALE) {
		snprintf(sub, sizeof(sub), "%s/scale", item);
		snprintf(opid, sizeof(opid), "patch%sScale", r->kind);
		json_object_set_new(paths, sub, json_pack("{s:o}", "patch",
		    kapi_oa_op("patch", scale, opid, 1)));
	}
}

static json_t *
kapi_oa_gv_doc(const char *group, const char *version)
{
	const struct kapi_res *const *all = kapi_res_all();
	json_t *paths = json_object(), *schemas = json_object();
	int any = 0;

	for (size_t i = 0; all[i]; i++) {
		const struct kapi_res *r = all[i];
		const struct kapi_oa_kind *k;

		if (strcmp(r->group, group) || strcmp(r->version, version) ||
		    r->special != KAPI_STORED)
			continue;
		kapi_oa_resource(paths, r);
		k = kapi_oa_kind_of(r->group, r->version, r->kind);
		if (k)
			json_object_set_new(schemas, k->schema_name,
			    kapi_oa_schema(k));
		if (r->subres & KAPI_SUB_SCALE) {
			k = kapi_oa_kind_of("autoscaling", "v1", "Scale");
			json_object_set_new(schemas, k->schema_name,
			    kapi_oa_schema(k));
		}
		any = 1;
	}
	if (!any) {
		json_decref(paths);
		json_decref(schemas);
		return NULL;
	}
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi",
	    "3.0.0", "info", "title", "Kubernetes", "version", "v1.32.0",
	    "paths", paths, "components", "schemas", schemas);
}

void
kapi_openapi_handle(struct kapi_ctx *x)
{
	static const char *const gvs[] = { "api/v1", "apis/kubevirt.io/v1",
	    "apis/autoscaling/v1", "apis/autoscaling/v2" };
	json_t *doc, *paths;
	char url[96];

	if (x->p.kind == KAPI_P_OPENAPI) {
		paths = json_object();
		for (size_t i = 0; i < sizeof(gvs) / sizeof(gvs[0]); i++) {
			snprintf(url, sizeof(url), "/openapi/v3/%s", gvs[i]);
			json_object_set_new(paths, gvs[i], json_pack("{s:s}",
			    "serverRelativeURL", url));
		}
		kapi_reply(x, 200, json_pack("{s:o}", "paths", paths));
		return;
	}
	doc = kapi_oa_gv_doc(x->p.group, x->p.version);
	if (!doc) {
		kapi_fail(x, 404, "NotFound", "the server could not find the "
		    "requested resource");
		return;
	}
	kapi_reply(x, 200, doc);
}
