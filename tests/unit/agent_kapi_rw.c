/*
 * unit_agent_kapi_rw: writes through the Kubernetes API handlers
 * (agent/kapi_write.c, objops.c) with the test transport on a real store:
 * create, strict field validation, malformed bodies, admission, PUT and
 * 409 conflicts, merge / strategic / JSON patches, 415, the scale and
 * status subresources, delete with preconditions, HPA v1 <-> v2, dry
 * runs. Every refusal is checked to leave the store as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_kapi_lib.h"
#include "store.h"

#define RS "/apis/kubevirt.io/v1/namespaces/alice/" \
	"virtualmachineinstancereplicasets"
#define RS1 RS "/lab05-cirros-replicaset"
#define HPA1 "/apis/autoscaling/v1/namespaces/alice/horizontalpodautoscalers"
#define HPA2 "/apis/autoscaling/v2/namespaces/alice/horizontalpodautoscalers"

static const char *lab_hpa = "{\"apiVersion\":\"autoscaling/v1\",\"kind\":"
    "\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":"
    "\"lab05-cirros-replicaset\"},\"spec\":{\"maxReplicas\":2,\"minReplicas\":"
    "1,\"scaleTargetRef\":{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
    "\"VirtualMachineInstanceReplicaSet\",\"name\":\"lab05-cirros-replicaset\"},"
    "\"targetCPUUtilizationPercentage\":75}}";

/* req with a body of content type ct; status must be code. */
static json_t *
call(struct kt *t, const char *method, const char *path, const char *query,
    const char *ct, const char *body, int code)
{
	struct kapi_conn *c = kt_req(t, &t->admin, method, path, query, ct,
	    NULL, body);
	json_t *j;

	if (c->status != code)
		fail_msg("%s %s: want %d, got %d: %s", method, path, code,
		    c->status, c->body);
	j = kt_json(c);
	free(c);
	return j;
}

static void
create_lab(struct kt *t)
{
	char *body = kt_vmirs_json("lab05-cirros-replicaset", NULL, 2);

	json_decref(call(t, "POST", RS, "fieldValidation=Strict",
	    "application/json", body, 201));
	free(body);
}

static void
test_create(void **state)
{
	struct kt *t = *state;
	char *body = kt_vmirs_json("lab05-cirros-replicaset", NULL, 2);
	json_t *j = call(t, "POST", RS, "fieldManager=kubectl-client-side-apply"
	    "&fieldValidation=Strict", "application/json", body, 201), *ns;

	assert_string_equal(kt_str(j, "metadata.namespace"), "alice");
	assert_true(strlen(kt_str(j, "metadata.uid")) == 36);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "metadata"), "generation")), 1);
	assert_string_equal(kt_str(j, "kind"), "VirtualMachineInstanceReplicaSet");
	json_decref(j);
	ns = store_get(t->s, "Namespace", "", "alice");
	assert_non_null(ns);
	json_decref(ns);
	/* again: AlreadyExists, with details */
	j = call(t, "POST", RS, NULL, "application/json", body, 409);
	assert_string_equal(kt_str(j, "reason"), "AlreadyExists");
	assert_string_equal(kt_str(j, "message"), "virtualmachineinstancereplicasets"
	    ".kubevirt.io \"lab05-cirros-replicaset\" already exists");
	assert_string_equal(kt_str(j, "details.name"), "lab05-cirros-replicaset");
	assert_string_equal(kt_str(j, "details.group"), "kubevirt.io");
	assert_string_equal(kt_str(j, "details.kind"),
	    "virtualmachineinstancereplicasets");
	json_decref(j);
	free(body);
	/* YAML bodies, kind and apiVersion from the endpoint */
	j = call(t, "POST", "/api/v1/namespaces", NULL, "application/yaml",
	    "metadata:\n  name: team\n", 201);
	assert_string_equal(kt_str(j, "status.phase"), "Active");
	assert_string_equal(kt_str(j, "kind"), "Namespace");
	json_decref(j);
}

static void
test_refused(void **state)
{
	static const struct {
		const char *ct, *body, *query, *msg;
		int code;
	} cases[] = {
		{ "application/json", "{\"apiVersion\":", NULL,
		    "json parse error", 400 },
		{ "application/yaml", "metadata: [a\n  b: }", NULL,
		    "error converting YAML to JSON", 400 },
		{ "application/json", "[1,2]", NULL, "not a JSON object", 400 },
		{ "application/json", "", NULL, "empty", 400 },
		{ "text/plain", "{}", NULL, "unknown format", 415 },
		{ "application/json", "{\"apiVersion\":\"kubevirt.io/v2\"}", NULL,
		    "does not match the expected API version", 400 },
		{ "application/json", "{\"kind\":\"Pod\"}", NULL,
		    "does not match the expected kind", 400 },
		{ "application/json", "{\"metadata\":{\"name\":\"a\","
		    "\"namespace\":\"bob\"}}", NULL, "does not match the namespace",
		    400 },
		{ "application/json", "{\"metadata\":{\"name\":\"a\"},\"spec\":"
		    "{\"template\":{},\"bogus\":1}}", "fieldValidation=Strict",
		    "strict decoding error: unknown field \\\"spec.bogus\\\"", 400 },
		{ "application/json", "{\"metadata\":{\"name\":\"a\"},\"spec\":"
		    "{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{"
		    "\"metadata\":{\"labels\":{\"a\":\"c\"}},\"spec\":{\"domain\":{"
		    "\"devices\":{},\"resources\":{\"requests\":{\"memory\":"
		    "\"64Mi\"}}}}}}}", NULL, "selector does not match labels.", 422 },
		{ "application/json", "{\"metadata\":{\"name\":\"A_b\"},\"spec\":"
		    "{}}", NULL, "Invalid value: \\\"A_b\\\"", 422 },
		{ "application/json", "{\"metadata\":{\"name\":\"a\"}}",
		    "fieldValidation=Bogus", "field validation directive", 400 },
	};
	struct kt *t = *state;
	uint64_t rv = store_rv(t->s);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kapi_conn *c = kt_req(t, &t->admin, "POST", RS,
		    cases[i].query, cases[i].ct, NULL, cases[i].body);

		if (c->status != cases[i].code || !strstr(c->body, cases[i].msg))
			fail_msg("case %zu: %d %s", i, c->status, c->body);
		free(c);
	}
	/* nothing was stored, not even the namespace */
	assert_int_equal(store_rv(t->s), rv);
	assert_null(store_get(t->s, "Namespace", "", "alice"));
}

static void
test_put_conflict(void **state)
{
	struct kt *t = *state;
	json_t *cur, *j;
	char *text, rv[32];

	create_lab(t);
	cur = call(t, "GET", RS1, NULL, NULL, NULL, 200);
	snprintf(rv, sizeof(rv), "%s", kt_str(cur, "metadata.resourceVersion"));
	json_object_set_new(json_object_get(cur, "spec"), "replicas",
	    json_integer(3));
	text = json_dumps(cur, JSON_COMPACT);
	j = call(t, "PUT", RS1, NULL, "application/json", text, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "metadata"), "generation")), 2);
	json_decref(j);
	free(text);
	/* the same body again carries a stale resourceVersion */
	json_object_set_new(json_object_get(cur, "spec"), "replicas",
	    json_integer(5));
	text = json_dumps(cur, JSON_COMPACT);
	j = call(t, "PUT", RS1, NULL, "application/json", text, 409);
	assert_string_equal(kt_str(j, "reason"), "Conflict");
	assert_string_equal(kt_str(j, "message"), "Operation cannot be fulfilled "
	    "on virtualmachineinstancereplicasets.kubevirt.io "
	    "\"lab05-cirros-replicaset\": the object has been modified; please "
	    "apply your changes to the latest version and try again");
	json_decref(j);
	free(text);
	/* a merge patch with a stale resourceVersion too */
	text = NULL;
	assert_true(asprintf(&text, "{\"metadata\":{\"resourceVersion\":\"%s\"},"
	    "\"spec\":{\"replicas\":7}}", rv) > 0);
	json_decref(call(t, "PATCH", RS1, NULL, "application/merge-patch+json",
	    text, 409));
	free(text);
	/* no resourceVersion: a custom resource's PUT is 422 */
	json_object_del(json_object_get(cur, "metadata"), "resourceVersion");
	text = json_dumps(cur, JSON_COMPACT);
	j = call(t, "PUT", RS1, NULL, "application/json", text, 422);
	assert_non_null(strstr(kt_str(j, "message"), "must be specified for an "
	    "update"));
	json_decref(j);
	free(text);
	/* a different name than the URL's */
	json_object_set_new(json_object_get(cur, "metadata"), "name",
	    json_string("other"));
	text = json_dumps(cur, JSON_COMPACT);
	json_decref(call(t, "PUT", RS1, NULL, "application/json", text, 400));
	free(text);
	json_decref(cur);
	/* nothing changed by the refusals */
	cur = call(t, "GET", RS1, NULL, NULL, NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(cur,
	    "spec"), "replicas")), 3);
	json_decref(cur);
}

static void
test_patches(void **state)
{
	struct kt *t = *state;
	json_t *j;
	uint64_t rv;

	create_lab(t);
	j = call(t, "PATCH", RS1, "fieldManager=kubectl-edit",
	    "application/merge-patch+json", "{\"spec\":{\"replicas\":1},"
	    "\"metadata\":{\"labels\":{\"a\":\"b\"}}}", 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 1);
	assert_string_equal(kt_str(j, "metadata.labels.a"), "b");
	json_decref(j);
	j = call(t, "PATCH", RS1, NULL, "application/json-patch+json",
	    "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":1},"
	    "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2},"
	    "{\"op\":\"add\",\"path\":\"/metadata/labels/c~1d\",\"value\":\"e\"},"
	    "{\"op\":\"remove\",\"path\":\"/metadata/labels/a\"},"
	    "{\"op\":\"copy\",\"from\":\"/metadata/labels/c~1d\",\"path\":"
	    "\"/metadata/labels/f\"},"
	    "{\"op\":\"move\",\"from\":\"/metadata/labels/f\",\"path\":"
	    "\"/metadata/labels/g\"}]", 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 2);
	assert_string_equal(kt_str(json_object_get(json_object_get(j,
	    "metadata"), "labels"), "g"), "e");
	assert_null(json_object_get(json_object_get(json_object_get(j,
	    "metadata"), "labels"), "a"));
	json_decref(j);
	rv = store_rv(t->s);
	/* refused patches change nothing */
	j = call(t, "PATCH", RS1, NULL, "application/json-patch+json",
	    "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":9}]", 422);
	assert_string_equal(kt_str(j, "reason"), "Invalid");
	json_decref(j);
	json_decref(call(t, "PATCH", RS1, NULL, "application/json-patch+json",
	    "[{\"op\":\"replace\",\"path\":\"/spec/nope/x\",\"value\":1}]", 422));
	json_decref(call(t, "PATCH", RS1, NULL, "application/json-patch+json",
	    "[{\"op\":\"frobnicate\",\"path\":\"/spec\"}]", 400));
	json_decref(call(t, "PATCH", RS1, NULL, "application/json-patch+json",
	    "{\"op\":\"add\"}", 400));
	json_decref(call(t, "PATCH", RS1, NULL, "application/merge-patch+json",
	    "{\"spec\":{\"replicas\":", 400));
	json_decref(call(t, "PATCH", RS1, NULL, "application/merge-patch+json",
	    "{\"spec\":{\"replicas\":-1}}", 422));
	json_decref(call(t, "PATCH", RS1, "fieldValidation=Strict",
	    "application/merge-patch+json", "{\"spec\":{\"replicaz\":3}}", 400));
	j = call(t, "PATCH", RS1, NULL, "application/apply-patch+yaml",
	    "spec: {}", 415);
	assert_string_equal(kt_str(j, "reason"), "UnsupportedMediaType");
	json_decref(j);
	json_decref(call(t, "PATCH", RS1, NULL, NULL, "{}", 415));
	json_decref(call(t, "PATCH", RS "/nope", NULL,
	    "application/merge-patch+json", "{}", 404));
	assert_int_equal(store_rv(t->s), rv);
	/* a strategic merge patch, as kubectl sends for an HPA */
	json_decref(call(t, "POST", HPA1, NULL, "application/json", lab_hpa,
	    201));
	j = call(t, "PATCH", HPA1 "/lab05-cirros-replicaset", NULL,
	    "application/strategic-merge-patch+json", "{\"$setElementOrder/x\":"
	    "[],\"spec\":{\"maxReplicas\":3,\"$retainKeys\":[\"a\"]},\"metadata\":"
	    "{\"annotations\":{\"$patch\":\"replace\",\"k\":\"v\"}}}", 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "maxReplicas")), 3);
	assert_string_equal(kt_str(j, "metadata.annotations.k"), "v");
	assert_int_equal(json_object_size(json_object_get(json_object_get(j,
	    "metadata"), "annotations")), 1);
	json_decref(j);
}

static void
test_scale_status(void **state)
{
	struct kt *t = *state;
	json_t *j, *st;
	char *text;
	char err[256];

	create_lab(t);
	st = json_pack("{s:i, s:i, s:s}", "replicas", 2, "readyReplicas", 1,
	    "labelSelector", "kubevirt.io/domain=lab05-cirros");
	assert_int_equal(store_update_status(t->s,
	    "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset", st, NULL, err, sizeof(err)), 0);
	json_decref(st);
	j = call(t, "GET", RS1 "/scale", NULL, NULL, NULL, 200);
	assert_string_equal(kt_str(j, "kind"), "Scale");
	assert_string_equal(kt_str(j, "apiVersion"), "autoscaling/v1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 2);
	assert_string_equal(kt_str(j, "status.selector"),
	    "kubevirt.io/domain=lab05-cirros");
	json_decref(j);
	/* kubectl scale: a merge patch of the Scale */
	j = call(t, "PATCH", RS1 "/scale", NULL, "application/merge-patch+json",
	    "{\"spec\":{\"replicas\":1}}", 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 1);
	json_decref(j);
	/* --resource-version: PUT of the whole Scale, without Content-Type */
	j = call(t, "GET", RS1 "/scale", NULL, NULL, NULL, 200);
	json_object_set_new(json_object_get(j, "spec"), "replicas",
	    json_integer(4));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(call(t, "PUT", RS1 "/scale", NULL, NULL, text, 200));
	json_decref(call(t, "PUT", RS1 "/scale", NULL, NULL, text, 409));
	free(text);
	json_decref(j);
	j = call(t, "GET", RS1, NULL, NULL, NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 4);
	/* the status subresource changes .status only */
	json_object_set_new(json_object_get(j, "status"), "replicas",
	    json_integer(9));
	json_object_set_new(json_object_get(j, "spec"), "replicas",
	    json_integer(8));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	j = call(t, "PUT", RS1 "/status", NULL, "application/json", text, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "status"), "replicas")), 9);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "replicas")), 4);
	json_decref(j);
	free(text);
	/* and a plain PUT keeps .status */
	j = call(t, "PATCH", RS1, NULL, "application/merge-patch+json",
	    "{\"status\":{\"replicas\":0}}", 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "status"), "replicas")), 9);
	json_decref(j);
	json_decref(call(t, "PATCH", RS1 "/status", NULL,
	    "application/merge-patch+json", "{\"status\":{\"replicas\":3}}",
	    200));
}

static void
test_delete(void **state)
{
	struct kt *t = *state;
	json_t *j, *o;

	create_lab(t);
	o = call(t, "GET", RS1, NULL, NULL, NULL, 200);
	json_decref(call(t, "DELETE", RS1, NULL, "application/json",
	    "{\"preconditions\":{\"uid\":\"0000\"}}", 409));
	json_decref(call(t, "DELETE", RS1, "dryRun=All", NULL, NULL, 200));
	json_decref(call(t, "DELETE", RS1, NULL, "application/json", "{x", 400));
	j = store_get(t->s, "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset");
	assert_non_null(j);
	json_decref(j);
	j = call(t, "DELETE", RS1, NULL, "application/json",
	    "{\"propagationPolicy\":\"Background\"}", 200);
	assert_string_equal(kt_str(j, "metadata.uid"), kt_str(o, "metadata.uid"));
	json_decref(j);
	json_decref(o);
	j = call(t, "GET", RS1, NULL, NULL, NULL, 404);
	assert_string_equal(kt_str(j, "message"), "virtualmachineinstancereplicasets"
	    ".kubevirt.io \"lab05-cirros-replicaset\" not found");
	assert_string_equal(kt_str(j, "details.kind"),
	    "virtualmachineinstancereplicasets");
	json_decref(j);
	json_decref(call(t, "DELETE", RS1, NULL, NULL, NULL, 404));
	json_decref(call(t, "POST", "/api/v1/namespaces", NULL,
	    "application/json", "{\"metadata\":{\"name\":\"default\"}}", 201));
	j = call(t, "DELETE", "/api/v1/namespaces/default", NULL, NULL, NULL, 403);
	assert_string_equal(kt_str(j, "reason"), "Forbidden");
	json_decref(j);
	/* a namespace goes with what it holds */
	create_lab(t);
	json_decref(call(t, "DELETE", "/api/v1/namespaces/alice", NULL, NULL,
	    NULL, 200));
	assert_null(store_get(t->s, "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset"));
}

static void
test_hpa_versions(void **state)
{
	struct kt *t = *state;
	json_t *j, *stored;
	struct kapi_conn *c;

	j = call(t, "POST", HPA1, "fieldValidation=Strict", "application/json",
	    lab_hpa, 201);
	assert_string_equal(kt_str(j, "apiVersion"), "autoscaling/v1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "spec"), "targetCPUUtilizationPercentage")), 75);
	json_decref(j);
	stored = store_get(t->s, "HorizontalPodAutoscaler", "alice",
	    "lab05-cirros-replicaset");
	assert_string_equal(kt_str(stored, "apiVersion"), "autoscaling/v2");
	json_decref(stored);
	j = call(t, "GET", HPA2 "/lab05-cirros-replicaset", NULL, NULL, NULL,
	    200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(json_array_get(json_object_get(json_object_get(j,
	    "spec"), "metrics"), 0), "resource"), "target"),
	    "averageUtilization")), 75);
	json_decref(j);
	c = kt_req(t, &t->admin, "GET", HPA1, NULL, NULL, KT_TABLE, NULL);
	j = kt_json(c);
	free(c);
	{
		json_t *cells = json_object_get(json_array_get(json_object_get(j,
		    "rows"), 0), "cells");

		assert_string_equal(json_string_value(json_array_get(cells, 1)),
		    "VirtualMachineInstanceReplicaSet/lab05-cirros-replicaset");
		assert_string_equal(json_string_value(json_array_get(cells, 2)),
		    "cpu: <unknown>/75%");
		assert_string_equal(json_string_value(json_array_get(cells, 3)),
		    "1");
		assert_int_equal(json_integer_value(json_array_get(cells, 4)), 2);
		assert_int_equal(json_integer_value(json_array_get(cells, 5)), 0);
	}
	json_decref(j);
	/* a v2-only field survives a round trip through v1 */
	json_decref(call(t, "PATCH", HPA2 "/lab05-cirros-replicaset", NULL,
	    "application/merge-patch+json", "{\"spec\":{\"behavior\":{"
	    "\"scaleDown\":{\"stabilizationWindowSeconds\":60}}}}", 200));
	json_decref(call(t, "PATCH", HPA1 "/lab05-cirros-replicaset", NULL,
	    "application/strategic-merge-patch+json",
	    "{\"spec\":{\"targetCPUUtilizationPercentage\":50}}", 200));
	j = call(t, "GET", HPA2 "/lab05-cirros-replicaset", NULL, NULL, NULL,
	    200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(json_object_get(j, "spec"), "behavior"),
	    "scaleDown"), "stabilizationWindowSeconds")), 60);
	assert_null(json_object_get(json_object_get(j, "metadata"),
	    "annotations"));
	json_decref(j);
}

static void
test_dry_run(void **state)
{
	struct kt *t = *state;
	char *body = kt_vmirs_json("dry", NULL, 1);
	uint64_t rv = store_rv(t->s);

	json_decref(call(t, "POST", RS, "dryRun=All", "application/json", body,
	    201));
	json_decref(call(t, "POST", RS, "dryRun=All&fieldValidation=Strict",
	    "application/json", "{\"metadata\":{\"name\":\"x\"},\"bad\":1}",
	    400));
	assert_int_equal(store_rv(t->s), rv);
	assert_null(store_get(t->s, "Namespace", "", "alice"));
	free(body);
}

/* What kapi_reply() makes of the tree (the slow path's bytes). */
static char *
dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_non_null(s);
	json_decref(j);
	return s;
}

/* The answer to GET path?query must be exactly want (freed). */
static void
same_bytes(struct kt *t, const char *path, const char *query, char *want)
{
	struct kapi_conn *c = kt_admin(t, "GET", path, query, NULL);

	if (c->status != 200 || strcmp(c->body, want))
		fail_msg("%s?%s: %d\n got  %s\n want %s", path, query ? query :
		    "", c->status, c->body, want);
	assert_string_equal(c->ctype, "application/json");
	free(c);
	free(want);
}

static char *
list_of(struct kt *t, const char *kind, const char *av, json_t *items)
{
	char k[128], rv[32];

	snprintf(k, sizeof(k), "%sList", kind);
	snprintf(rv, sizeof(rv), "%llu", (unsigned long long)store_rv(t->s));
	return dump(json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", k,
	    "apiVersion", av, "metadata", "resourceVersion", rv, "items",
	    items));
}

/*
 * GET and LIST (the fast path: the store's kept JSON text) answer the
 * bytes the tree would give, with and without selectors, for hot and
 * cold (Event) kinds, and a write replaces the kept text.
 */
static void
test_fast_reads(void **state)
{
	struct kt *t = *state;
	char *body = kt_vmirs_json("lab05-cirros-replicaset", NULL, 2), *b2;
	char rv[32], *want;
	json_t *items, *o;

	json_decref(call(t, "POST", RS, NULL, "application/json", body, 201));
	b2 = kt_vmirs_json("zz", NULL, 1);
	json_decref(call(t, "POST", RS, NULL, "application/json", b2, 201));
	same_bytes(t, RS1, NULL, dump(store_get(t->s,
	    "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset")));
	/* twice: the second from the kept text */
	same_bytes(t, RS1, NULL, dump(store_get(t->s,
	    "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset")));
	json_decref(call(t, "PATCH", RS1, NULL, "application/merge-patch+json",
	    "{\"metadata\":{\"labels\":{\"tier\":\"gold\"}}}", 200));
	o = store_get(t->s, "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset");
	assert_string_equal(kt_str(o, "metadata.labels.tier"), "gold");
	snprintf(rv, sizeof(rv), "%s", kt_str(o, "metadata.resourceVersion"));
	want = dump(o);
	assert_non_null(strstr(want, rv));
	same_bytes(t, RS1, NULL, want);

	/* lists: {kind, apiVersion, metadata.resourceVersion, items} */
	items = store_list(t->s, "VirtualMachineInstanceReplicaSet", "alice");
	want = list_of(t, "VirtualMachineInstanceReplicaSet", "kubevirt.io/v1",
	    items);
	same_bytes(t, RS, NULL, want);
	/* selectors: only the matching item's text */
	o = store_get(t->s, "VirtualMachineInstanceReplicaSet", "alice",
	    "lab05-cirros-replicaset");
	{
		struct kapi_conn *c;
		char *one = dump(json_incref(o));

		c = kt_admin(t, "GET", RS, "labelSelector=tier%3Dgold", NULL);
		assert_int_equal(c->status, 200);
		assert_non_null(strstr(c->body, one));
		assert_null(strstr(c->body, "\"name\":\"zz\""));
		free(c);
		c = kt_admin(t, "GET", RS, "fieldSelector=metadata.name%3D"
		    "lab05-cirros-replicaset", NULL);
		assert_non_null(strstr(c->body, one));
		assert_null(strstr(c->body, "\"name\":\"zz\""));
		free(c);
		c = kt_admin(t, "GET", RS, "fieldSelector=metadata.name%3Dnone",
		    NULL);
		assert_non_null(strstr(c->body, "\"items\":[]}"));
		free(c);
		free(one);
	}
	json_decref(o);
	/* an empty namespace; another user's is still 403 on the fast path */
	{
		struct kapi_conn *c = kt_admin(t, "GET", "/apis/kubevirt.io/v1/"
		    "namespaces/empty/virtualmachineinstancereplicasets", NULL,
		    NULL);

		assert_non_null(strstr(c->body, "\"items\":[]}"));
		free(c);
		c = kt_req(t, &t->bob, "GET", RS1, NULL, NULL, NULL, NULL);
		assert_int_equal(c->status, 403);
		free(c);
		c = kt_req(t, &t->bob, "GET", RS, NULL, NULL, NULL, NULL);
		assert_int_equal(c->status, 403);
		free(c);
	}
	/* Events: cold, kept as text; with a selector, parsed */
	json_decref(call(t, "POST", "/api/v1/namespaces/alice/events", NULL,
	    "application/json", "{\"metadata\":{\"name\":\"e1\"},"
	    "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},"
	    "\"reason\":\"Tested\",\"message\":\"m\",\"type\":\"Normal\"}",
	    201));
	items = store_list(t->s, "Event", "alice");
	assert_true(json_array_size(items) > 0);
	same_bytes(t, "/api/v1/namespaces/alice/events/e1", NULL, dump(
	    store_get(t->s, "Event", "alice", "e1")));
	same_bytes(t, "/api/v1/namespaces/alice/events", NULL, list_of(t,
	    "Event", "v1", json_incref(items)));
	{
		struct kapi_conn *c = kt_admin(t, "GET",
		    "/api/v1/namespaces/alice/events", NULL, NULL);
		size_t i;

		assert_int_equal(c->status, 200);
		json_array_foreach(items, i, o) {
			char *e = dump(json_incref(o));

			assert_non_null(strstr(c->body, e));
			free(e);
		}
		free(c);
		c = kt_admin(t, "GET", "/api/v1/namespaces/alice/events",
		    "fieldSelector=involvedObject.name%3Dnone", NULL);
		assert_non_null(strstr(c->body, "\"items\":[]}"));
		free(c);
		c = kt_admin(t, "GET", "/api/v1/namespaces/alice/events",
		    "fieldSelector=involvedObject.name%3Dp,reason%3DTested", NULL);
		assert_non_null(strstr(c->body, "\"name\":\"e1\""));
		free(c);
	}
	json_decref(items);
	free(body);
	free(b2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, kt_setup, kt_teardown)
		T(test_create), T(test_refused), T(test_put_conflict),
		T(test_patches), T(test_scale_status), T(test_delete),
		T(test_hpa_versions), T(test_dry_run), T(test_fast_reads),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
