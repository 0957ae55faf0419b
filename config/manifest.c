/* manifest.c: parsing and admitting manifests (see manifest.h). */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "ferr.h"
#include "log.h"
#include "quantity.h"
#include "schema.h"
#include "validate.h"
#include "yamljson.h"

struct mkind {
	enum manifest_kind k;
	const char *api_version;
	const char *kind;
	const char *group;
	const char *version;
	int builtin;
	const struct schema_field *schema;
	const char *webhook;
	int cluster;		/* cluster-scoped */
};

static const struct mkind mkinds[] = {
	{ MANIFEST_VMIRS, "kubevirt.io/v1", "VirtualMachineInstanceReplicaSet",
	    "kubevirt.io", "v1", 0, schema_vmirs, MANIFEST_WEBHOOK_VMIRS,
	    0 },
	{ MANIFEST_VMI, "kubevirt.io/v1", "VirtualMachineInstance",
	    "kubevirt.io", "v1", 0, schema_vmi, MANIFEST_WEBHOOK_VMI, 0 },
	{ MANIFEST_HPA_V1, "autoscaling/v1", "HorizontalPodAutoscaler",
	    "autoscaling", "v1", 1, schema_hpa_v1, NULL, 0 },
	{ MANIFEST_HPA_V2, "autoscaling/v2", "HorizontalPodAutoscaler",
	    "autoscaling", "v2", 1, schema_hpa_v2, NULL, 0 },
	{ MANIFEST_NAMESPACE, "v1", "Namespace", "", "v1", 1, schema_namespace,
	    NULL, 1 },
	{ MANIFEST_EVENT, "v1", "Event", "", "v1", 1, schema_event, NULL,
	    0 },
};

#define NKINDS (sizeof(mkinds) / sizeof(mkinds[0]))

static const struct mkind *
mkind_of(enum manifest_kind k)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (mkinds[i].k == k)
			return &mkinds[i];
	return NULL;
}

enum manifest_kind
manifest_kind(const json_t *obj)
{
	const char *av = manifest_str(obj, "apiVersion");
	const char *kind = manifest_str(obj, "kind");

	for (size_t i = 0; av && kind && i < NKINDS; i++)
		if (strcmp(mkinds[i].api_version, av) == 0 &&
		    strcmp(mkinds[i].kind, kind) == 0)
			return mkinds[i].k;
	return MANIFEST_UNKNOWN;
}

const char *
manifest_kind_name(enum manifest_kind k)
{
	const struct mkind *m = mkind_of(k);

	return m ? m->kind : "";
}

const char *
manifest_kind_group(enum manifest_kind k)
{
	const struct mkind *m = mkind_of(k);

	return m ? m->group : "";
}

const char *
manifest_str(const json_t *obj, const char *dotted)
{
	char key[128];
	const char *dot;

	while (obj != NULL && *dotted != '\0') {
		dot = strchr(dotted, '.');
		snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - dotted) :
		    (int)strlen(dotted), dotted);
		obj = json_object_get(obj, key);
		dotted = dot ? dot + 1 : "";
	}
	return json_string_value(obj);
}

const char *
manifest_status_message(const json_t *status)
{
	const char *m = manifest_str(status, "message");

	return m ? m : "";
}

int
manifest_status_code(const json_t *status)
{
	return (int)json_integer_value(json_object_get(status, "code"));
}

/* ---- parsing ----------------------------------------------------------------- */

static int
parse_add(json_t *out, json_t *doc)
{
	const char *kind = manifest_str(doc, "kind");
	json_t *items = json_object_get(doc, "items"), *e;
	size_t i;

	if (kind == NULL || strcmp(kind, "List") != 0 || !json_is_array(items))
		return json_array_append(out, doc);
	json_array_foreach(items, i, e)
		if (json_array_append(out, e) < 0)
			return -1;
	return 0;
}

json_t *
manifest_parse(const char *buf, size_t len, json_t **status)
{
	struct yamljson_error err;
	json_t *docs, *out, *d;
	char msg[400];
	size_t i;

	*status = NULL;
	docs = yamljson_load(buf, len, &err);
	if (docs == NULL) {
		*status = ferr_status(400, "BadRequest",
		    yamljson_strerror(&err, msg, sizeof(msg)));
		return NULL;
	}
	out = json_array();
	json_array_foreach(docs, i, d)
		if (out == NULL || parse_add(out, d) < 0) {
			json_decref(out);
			out = NULL;
			*status = ferr_status(500, "InternalError", "out of memory");
			break;
		}
	json_decref(docs);
	return out;
}

/* ---- admission stages ----------------------------------------------------------- */

static int
fail(json_t **status, json_t *st)
{
	*status = st ? st : ferr_status(500, "InternalError", "out of memory");
	return -1;
}

static int
fail_msg(json_t **status, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail_msg(json_t **status, int code, const char *reason, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	json_t *st;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	st = msg ? ferr_status(code, reason, msg) : NULL;
	free(msg);
	return fail(status, st);
}

/* Stage 1: apiVersion and kind. */
static const struct mkind *
stage_kind(const json_t *obj, json_t **status)
{
	char *dump = json_is_object(obj) ? json_dumps(obj, JSON_COMPACT) : NULL;
	const char *av = manifest_str(obj, "apiVersion");
	const char *kind = manifest_str(obj, "kind");
	const struct mkind *m = mkind_of(manifest_kind(obj));

	if (!json_is_object(obj) || kind == NULL || kind[0] == '\0')
		fail_msg(status, 400, "BadRequest", "Object 'Kind' is missing in "
		    "'%.200s'", dump ? dump : "");
	else if (av == NULL || av[0] == '\0')
		fail_msg(status, 400, "BadRequest", "Object 'apiVersion' is "
		    "missing in '%.200s'", dump ? dump : "");
	else if (m == NULL)
		fail_msg(status, 404, "NotFound", "no matches for kind \"%s\" in "
		    "version \"%s\"", kind, av);
	free(dump);
	return *status ? NULL : m;
}

/* Stage 2: strict decoding (unknown fields; Go types for built-in kinds). */
static int
stage_decode(const struct mkind *m, json_t *obj, unsigned flags,
    struct schema_result *r, json_t **status)
{
	char *why = NULL;
	int rc = 0;

	r->prune = !(flags & MANIFEST_STRICT);
	if (schema_check(obj, m->schema, "", r) < 0)
		return fail(status, NULL);
	if (json_array_size(r->unknown) && (flags & MANIFEST_STRICT))
		why = schema_unknown_message(r);
	else if (m->builtin && r->errors.n)
		why = strdup(r->errors.v[0].message);
	else
		return 0;
	if (why != NULL)
		rc = fail_msg(status, 400, "BadRequest", "%s in version \"%s\" "
		    "cannot be handled as a %s: %s", m->kind, m->version, m->kind,
		    why);
	else
		rc = fail(status, NULL);
	free(why);
	return rc;
}

static void
vmirs_fields(const json_t *obj, struct ferr_list *l)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *rep = json_object_get(spec, "replicas");
	const json_t *labels = json_object_get(json_object_get(
	    json_object_get(spec, "template"), "metadata"), "labels");
	char n[32];

	if (json_is_integer(rep) && json_integer_value(rep) < 0)
		ferr_k8s(l, FERR_INVALID, "spec.replicas", ferr_value(rep, n,
		    sizeof(n)), "must be greater than or equal to 0");
	if (json_is_object(labels))
		validate_labels(labels, "spec.template.metadata.labels", l);
}

/* A Namespace's name is a DNS-1123 label (ValidateNamespaceName). */
static void
namespace_name(const char *name, struct ferr_list *l)
{
	struct validate_msgs vm;
	char q[300];

	validate_dns1123_label(name, &vm);
	for (int i = 0; i < vm.n; i++)
		ferr_k8s(l, FERR_INVALID, "metadata.name", ferr_quote(name, q,
		    sizeof(q)), "%s", vm.m[i]);
}

/* Stage 3: metadata, schema findings, Kubernetes' spec rules. */
static int
stage_validate(const struct mkind *m, const json_t *obj,
    struct schema_result *r, json_t **status)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *name = manifest_str(obj, "metadata.name");
	struct ferr_list l;
	json_t *empty = json_object();
	int rc = 0;

	ferr_init(&l);
	validate_object_meta(json_is_object(meta) ? meta : empty, !m->cluster,
	    &l);
	if (!m->builtin)
		ferr_move(&l, &r->errors);
	if (m->k == MANIFEST_VMIRS)
		vmirs_fields(obj, &l);
	if (m->k == MANIFEST_NAMESPACE && name && (strchr(name, '.') ||
	    strlen(name) > 63))
		namespace_name(name, &l);
	if (m->k == MANIFEST_HPA_V1 || m->k == MANIFEST_HPA_V2)
		validate_hpa_spec(json_object_get(obj, "spec"),
		    m->k == MANIFEST_HPA_V1, &l);
	if (l.n > 0 || l.oom)
		rc = fail(status, l.oom ? NULL : ferr_status_invalid(m->kind,
		    m->group, name ? name : "", &l));
	ferr_free(&l);
	json_decref(empty);
	return rc;
}

/* Stage 4. */
static int
stage_defaults(const struct mkind *m, json_t *obj, json_t **status)
{
	int r = 0;

	switch (m->k) {
	case MANIFEST_VMI:
		r = defaults_vmi_spec(json_object_get(obj, "spec"));
		break;
	case MANIFEST_VMIRS:
		r = defaults_vmirs(obj);
		break;
	case MANIFEST_HPA_V1:
	case MANIFEST_HPA_V2:
		r = defaults_hpa(obj, m->k == MANIFEST_HPA_V1);
		break;
	default:
		break;
	}
	return r < 0 ? fail(status, NULL) : 0;
}

/* KubeVirt's ValidateVMIRSSpec. */
static void
vmirs_admit(const json_t *obj, struct ferr_list *l)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *tmpl = json_object_get(spec, "template");
	char err[512];
	int r;

	if (!json_is_object(tmpl)) {
		ferr_cause(l, FERR_REQUIRED, "spec.template",
		    "missing virtual machine template.");
		return;
	}
	validate_vmi_spec(json_object_get(tmpl, "spec"), "spec.template.spec", 1,
	    l);
	r = validate_selector_matches(json_object_get(spec, "selector"),
	    json_object_get(json_object_get(tmpl, "metadata"), "labels"), err,
	    sizeof(err));
	if (r < 0)
		ferr_cause(l, FERR_INVALID, "spec.selector", "%s", err);
	else if (r == 0)
		ferr_cause(l, FERR_INVALID, "spec.selector",
		    "selector does not match labels.");
}

/* Stage 5: KubeVirt's validating webhooks, then Drover's limits. */
static int
stage_admit(const struct mkind *m, const json_t *obj, struct schema_result *r,
    json_t **status)
{
	struct ferr_list l;
	int rc = 0;

	if (m->webhook == NULL)
		return 0;
	ferr_init(&l);
	if (m->k == MANIFEST_VMIRS)
		vmirs_admit(obj, &l);
	else
		validate_vmi_spec(json_object_get(obj, "spec"), "spec", 1, &l);
	if (!(l.n == 1 && strcmp(l.v[0].field, "spec.template") == 0))
		ferr_move(&l, &r->unsupported);
	if (l.n > 0 || l.oom)
		rc = fail(status, l.oom ? NULL : ferr_status_webhook(m->webhook,
		    &l));
	ferr_free(&l);
	return rc;
}

int
manifest_admit(json_t *obj, unsigned flags, json_t **status)
{
	const struct mkind *m;
	struct schema_result r;
	int rc = -1;

	*status = NULL;
	if ((m = stage_kind(obj, status)) == NULL)
		return -1;
	if (schema_result_init(&r, m->builtin) < 0)
		return fail(status, NULL);
	if (stage_decode(m, obj, flags, &r, status) < 0 ||
	    stage_defaults(m, obj, status) < 0 ||
	    stage_validate(m, obj, &r, status) < 0 ||
	    stage_admit(m, obj, &r, status) < 0)
		goto out;
	if (flags & MANIFEST_CREATE)
		json_object_del(obj, "status");
	rc = 0;
out:
	if (rc < 0)
		log_debug("refused %s %s: %s", m->kind, manifest_str(obj,
		    "metadata.name") ? manifest_str(obj, "metadata.name") : "",
		    manifest_status_message(*status));
	schema_result_free(&r);
	return rc;
}

/* ---- typed views ------------------------------------------------------------------ */

int64_t
manifest_replicas(const json_t *vmirs)
{
	const json_t *v = json_object_get(json_object_get(vmirs, "spec"),
	    "replicas");

	return json_is_integer(v) ? json_integer_value(v) : 1;
}

static int64_t
res_value(const json_t *spec, const char *which, const char *name, int milli)
{
	const json_t *v;
	struct quantity q;
	int64_t out = 0;

	v = json_object_get(json_object_get(json_object_get(json_object_get(
	    spec, "domain"), "resources"), which), name);
	if (validate_quantity(v, &q) <= 0)
		return 0;
	if ((milli ? quantity_milli(&q, &out) : quantity_value(&q, &out)) < 0)
		return -1;
	return out;
}

static unsigned
topo(const json_t *cpu, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(cpu, key));

	return v >= 1 && v <= 1024 ? (unsigned)v : 1;
}

int
manifest_vmi_resources(const json_t *spec, struct manifest_vmi_resources *out)
{
	const json_t *domain = json_object_get(spec, "domain");
	const json_t *cpu = json_object_get(domain, "cpu");
	struct quantity q;
	int64_t v;

	memset(out, 0, sizeof(*out));
	out->cpu_request_milli = res_value(spec, "requests", "cpu", 1);
	out->cpu_limit_milli = res_value(spec, "limits", "cpu", 1);
	out->memory_request = res_value(spec, "requests", "memory", 0);
	out->memory_limit = res_value(spec, "limits", "memory", 0);
	if (validate_quantity(json_object_get(json_object_get(domain, "memory"),
	    "guest"), &q) > 0 && quantity_value(&q, &v) == 0)
		out->guest_memory = v;
	else
		out->guest_memory = out->memory_request ? out->memory_request :
		    out->memory_limit;
	out->sockets = topo(cpu, "sockets");
	out->cores = topo(cpu, "cores");
	out->threads = topo(cpu, "threads");
	out->vcpus = out->sockets * out->cores * out->threads;
	if (out->cpu_request_milli < 0 || out->cpu_limit_milli < 0 ||
	    out->memory_request < 0 || out->memory_limit < 0 ||
	    out->guest_memory <= 0)
		return -EINVAL;
	return 0;
}

static json_t *
vmi_meta(const json_t *vmirs, const json_t *tmeta)
{
	const char *base = manifest_str(tmeta, "name");
	json_t *meta = json_is_object(tmeta) ? json_deep_copy(tmeta) :
	    json_object();
	const char *ns = manifest_str(vmirs, "metadata.namespace");
	const char *uid = manifest_str(vmirs, "metadata.uid");
	char gen[59];
	json_t *ref;

	if (base == NULL || base[0] == '\0')
		base = manifest_str(tmeta, "generateName");
	if (base == NULL || base[0] == '\0')
		base = manifest_str(vmirs, "metadata.name");
	if (base == NULL || base[0] == '\0')	/* not named by the store yet */
		base = manifest_str(vmirs, "metadata.generateName");
	snprintf(gen, sizeof(gen), "%s", base ? base : "");
	ref = json_pack("{s:s, s:s, s:s, s:b, s:b}", "apiVersion",
	    "kubevirt.io/v1", "kind", "VirtualMachineInstanceReplicaSet", "name",
	    manifest_str(vmirs, "metadata.name") ? manifest_str(vmirs,
	    "metadata.name") : "", "controller", 1, "blockOwnerDeletion", 1);
	if (meta == NULL || ref == NULL)
		goto fail;
	json_object_del(meta, "name");
	json_object_del(meta, "creationTimestamp");
	if ((uid && json_object_set_new(ref, "uid", json_string(uid)) < 0) ||
	    json_object_set_new(meta, "generateName", json_string(gen)) < 0 ||
	    (ns && json_object_set_new(meta, "namespace", json_string(ns)) < 0) ||
	    json_object_set_new(meta, "ownerReferences", json_pack("[O]",
	    ref)) < 0)
		goto fail;
	json_decref(ref);
	return meta;
fail:
	json_decref(meta);
	json_decref(ref);
	return NULL;
}

json_t *
manifest_vmi_from_vmirs(const json_t *vmirs)
{
	const json_t *tmpl = json_object_get(json_object_get(vmirs, "spec"),
	    "template");
	const json_t *tspec = json_object_get(tmpl, "spec");
	json_t *meta = vmi_meta(vmirs, json_object_get(tmpl, "metadata"));
	json_t *spec = json_is_object(tspec) ? json_deep_copy(tspec) :
	    json_object();
	json_t *vmi = NULL;

	if (meta == NULL || spec == NULL || defaults_vmi_spec(spec) < 0)
		goto out;
	vmi = json_pack("{s:s, s:s, s:O, s:O}", "apiVersion", "kubevirt.io/v1",
	    "kind", "VirtualMachineInstance", "metadata", meta, "spec", spec);
out:
	json_decref(meta);
	json_decref(spec);
	return vmi;
}
