/*
 * manifest.h: manifests in, admitted objects out.
 *
 * DESIGN. Objects stay JSON trees (jansson json_t), exactly as the user
 * gave them, as the API server keeps custom resources: there is no C
 * struct per kind to fall out of step with KubeVirt's API, `kubectl get -o
 * yaml` shows what was applied, and unknown-but-harmless members (status,
 * managedFields, annotations) survive round trips. Types are enforced by a
 * schema walk (schema.h) instead of by decoding into structs; defaults are
 * written into the tree in place (defaults.h), as the API server's
 * defaulting and KubeVirt's mutating webhook do; validation (validate.h)
 * reads the tree with small accessors. Callers that need typed values use
 * the accessors below (manifest_vmi_resources(), manifest_replicas()).
 *
 * manifest_admit() runs the API server's pipeline for a create, in order,
 * and stops at the first failing stage with the Status the API server
 * would send (kubectl prints its message):
 *   1. kind and apiVersion known: else 404 `no matches for kind "K" in
 *      version "G/V"`; missing: 400 `Object 'Kind' is missing in '{...}'`;
 *   2. strict decoding (MANIFEST_STRICT, kubectl's default
 *      fieldValidation=Strict): unknown fields are 400 BadRequest
 *      `K in version "v1" cannot be handled as a K: strict decoding error:
 *      unknown field "spec.foo"`; without it they are dropped (pruned);
 *      for built-in kinds (HPA) a wrong JSON type is a 400 here too;
 *   3. defaults (VMI spec for a VMI, replicas for a VMIRS, HPA defaults),
 *      before validation as in the API server (decoding defaults, then
 *      mutating webhooks);
 *   4. schema and metadata validation: 422 Invalid `K.group "name" is
 *      invalid: field: Invalid value: ...` (types, required members,
 *      quantity patterns, DNS-1123 names, labels, annotations, owners);
 *      for the HPA also Kubernetes' spec rules;
 *   5. KubeVirt's admitters: 422 Invalid `admission webhook
 *      "virtualmachinereplicaset-validator.kubevirt.io" denied the request:
 *      selector does not match labels.` (or ...instances-create-validator
 *      for a VMI); Drover's own limits (unsupported volumes, devices,
 *      buses, bindings) are causes of this stage, worded
 *      "FIELD is not supported by Drover: what to use instead".
 * The object is only changed by stages 2 (pruning) and 3 (defaults), and
 * the caller stores it only when manifest_admit() returns 0.
 */
#ifndef DROVER_MANIFEST_H
#define DROVER_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum manifest_kind {
	MANIFEST_UNKNOWN = 0,
	MANIFEST_VMIRS,		/* kubevirt.io/v1 VirtualMachineInstanceReplicaSet */
	MANIFEST_VMI,		/* kubevirt.io/v1 VirtualMachineInstance */
	MANIFEST_HPA_V1,	/* autoscaling/v1 HorizontalPodAutoscaler */
	MANIFEST_HPA_V2,	/* autoscaling/v2 HorizontalPodAutoscaler */
	MANIFEST_NAMESPACE,	/* v1 Namespace (cluster-scoped) */
	MANIFEST_EVENT,		/* v1 Event */
};

#define MANIFEST_STRICT 0x1	/* reject unknown fields (else prune them) */
#define MANIFEST_CREATE 0x2	/* a create: drop .status, as the API does */

#define MANIFEST_WEBHOOK_VMIRS "virtualmachinereplicaset-validator.kubevirt.io"
#define MANIFEST_WEBHOOK_VMI "virtualmachineinstances-create-validator.kubevirt.io"

/*
 * A file (YAML, multi-document YAML, JSON) to a new array of objects;
 * "kind: List" documents are expanded into their items. NULL on a syntax
 * error, with *status a 400 Status whose message says where
 * ("error converting YAML to JSON: yaml: line 3, column 7: ...").
 */
json_t *manifest_parse(const char *buf, size_t len, json_t **status);

/* Which kind obj is (from apiVersion and kind). */
enum manifest_kind manifest_kind(const json_t *obj);
/* "VirtualMachineInstanceReplicaSet", "kubevirt.io", "v1" ... */
const char *manifest_kind_name(enum manifest_kind k);
const char *manifest_kind_group(enum manifest_kind k);

/*
 * Validate and default obj in place (see above). 0: admitted; -1: refused,
 * *status is a new Status object (code, reason, message, details.causes).
 */
int manifest_admit(json_t *obj, unsigned flags, json_t **status);

/* The Status' message and code (for logs and tests). */
const char *manifest_status_message(const json_t *status);
int manifest_status_code(const json_t *status);

/* A string member by dotted path ("metadata.name"); NULL if absent. */
const char *manifest_str(const json_t *obj, const char *dotted);
/* spec.replicas of a VMIRS (1 when absent). */
int64_t manifest_replicas(const json_t *vmirs);

/* What a VMI spec (defaulted) asks of the host. */
struct manifest_vmi_resources {
	int64_t guest_memory;	/* bytes: memory.guest, requests, limits */
	unsigned sockets, cores, threads, vcpus;
	int64_t cpu_request_milli, cpu_limit_milli;	/* 0: none */
	int64_t memory_request, memory_limit;		/* bytes; 0: none */
};
int manifest_vmi_resources(const json_t *spec,
    struct manifest_vmi_resources *out);

/*
 * The VMI a VMIRS's controller creates (new object): the template's
 * metadata and spec, the spec defaulted, generateName = template name,
 * else template generateName, else the VMIRS name (cut to 58 characters,
 * no dash added), the namespace, and an ownerReference to the VMIRS
 * (controller, blockOwnerDeletion; uid from metadata.uid when set).
 */
json_t *manifest_vmi_from_vmirs(const json_t *vmirs);

#endif
