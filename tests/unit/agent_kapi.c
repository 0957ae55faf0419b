/*
 * unit_agent_kapi: the Kubernetes API handlers (agent/kapi*.c) called
 * directly with the test transport (tests/agent/kapi_fake.c) on a real
 * store and loop: routing, /version, discovery, OpenAPI, reads, Tables,
 * selectors, watches, authorization, metrics. Writes: agent_kapi_rw.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_kapi_lib.h"
#include "cgroup.h"
#include "kapi_server.h"
#include "store.h"
#include "usage.h"

static void
test_version(void **state)
{
	struct kt *t = *state;
	struct kapi_conn *c = kt_admin(t, "GET", "/version", NULL, NULL);
	json_t *j = kt_json(c);

	assert_int_equal(c->status, 200);
	assert_string_equal(kt_str(j, "major"), "1");
	assert_string_equal(kt_str(j, "minor"), "32");
	assert_string_equal(kt_str(j, "platform"), "linux/amd64");
	json_decref(j);
	free(c);
	c = kt_admin(t, "POST", "/version", NULL, NULL);
	assert_int_equal(c->status, 405);
	free(c);
}

static void
test_not_found_status(void **state)
{
	static const char *const paths[] = { "/nothing/here", "/api/v2",
	    "/apis/kubevirt.io/v9", "/apis/nope.io/v1",
	    "/apis/kubevirt.io/v1/namespaces/default/widgets",
	    "/apis/kubevirt.io/v1/virtualmachineinstances/x",
	    "/apis/kubevirt.io/v1/namespaces/default/"
	    "virtualmachineinstancereplicasets/x/nope",
	    "/api/v1/namespaces/default/pods/x/status/more",
	    "/api/v1/namespaces/../pods", "/openapi/v2" };
	struct kt *t = *state;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct kapi_conn *c = kt_admin(t, "GET", paths[i], NULL, NULL);
		json_t *j = kt_json(c);

		if (c->status != 404)
			fail_msg("%s: %d %s", paths[i], c->status, c->body);
		assert_string_equal(kt_str(j, "kind"), "Status");
		assert_string_equal(kt_str(j, "reason"), "NotFound");
		assert_int_equal(json_integer_value(json_object_get(j, "code")),
		    404);
		json_decref(j);
		free(c);
	}
}

static void
test_console_routed(void **state)
{
	struct kt *t = *state;
	/* no runtime: kapi_console.c answers, not the router's 404 */
	struct kapi_conn *c = kt_admin(t, "GET", "/apis/subresources."
	    "kubevirt.io/v1/namespaces/default/virtualmachineinstances/x/"
	    "console", NULL, NULL);

	assert_int_not_equal(c->status, 0);
	assert_non_null(strstr(c->body, "\\\"x\\\""));
	assert_null(strstr(c->body, "could not find the requested"));
	free(c);
	c = kt_admin(t, "GET", "/apis/subresources.kubevirt.io/v1/"
	    "namespaces/default/virtualmachineinstances/x/consolex", NULL,
	    NULL);
	assert_int_equal(c->status, 404);
	free(c);
	/* a viewer may not type into a VM */
	c = kt_req(t, &t->viewer, "GET", "/apis/subresources.kubevirt.io/v1/"
	    "namespaces/default/virtualmachineinstances/x/console", NULL, NULL,
	    NULL, NULL);
	assert_int_equal(c->status, 403);
	free(c);
}

/* The resource named name in an APIResourceList. */
static json_t *
find_res(json_t *list, const char *name)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(list, "resources"), i, r)
		if (!strcmp(kt_str(r, "name"), name))
			return r;
	fail_msg("no %s in %s", name, kt_str(list, "groupVersion"));
	return NULL;
}

static void
test_discovery(void **state)
{
	struct kt *t = *state;
	struct kapi_conn *c = kt_admin(t, "GET", "/apis", NULL, NULL);
	json_t *j = kt_json(c), *g, *v, *r;
	size_t i, k;
	char path[128];
	int n = 0;

	assert_string_equal(kt_str(j, "kind"), "APIGroupList");
	json_array_foreach(json_object_get(j, "groups"), i, g) {
		if (!strcmp(kt_str(g, "name"), "autoscaling"))
			assert_string_equal(kt_str(g,
			    "preferredVersion.version"), "v2");
		/* every group-version listed answers 200 */
		json_array_foreach(json_object_get(g, "versions"), k, v) {
			struct kapi_conn *gc;

			snprintf(path, sizeof(path), "/apis/%s",
			    kt_str(v, "groupVersion"));
			gc = kt_admin(t, "GET", path, NULL, NULL);
			assert_int_equal(gc->status, 200);
			n++;
			free(gc);
		}
	}
	assert_int_equal(n, 5);
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/api", NULL, NULL);
	j = kt_json(c);
	assert_string_equal(kt_str(json_array_get(json_object_get(j,
	    "serverAddressByClientCIDRs"), 0), "serverAddress"),
	    "127.0.0.1:6443");
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/apis/kubevirt.io/v1", NULL, NULL);
	j = kt_json(c);
	r = find_res(j, "virtualmachineinstancereplicasets");
	assert_string_equal(kt_str(r, "kind"),
	    "VirtualMachineInstanceReplicaSet");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r,
	    "shortNames"), 0)), "vmirs");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r,
	    "categories"), 0)), "all");
	assert_true(json_is_true(json_object_get(r, "namespaced")));
	r = find_res(j, "virtualmachineinstancereplicasets/scale");
	assert_string_equal(kt_str(r, "group"), "autoscaling");
	assert_string_equal(kt_str(r, "kind"), "Scale");
	find_res(j, "virtualmachineinstancereplicasets/status");
	r = find_res(j, "virtualmachineinstances");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r,
	    "shortNames"), 1)), "vmis");
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/api/v1", NULL, NULL);
	j = kt_json(c);
	r = find_res(j, "namespaces");
	assert_true(json_is_false(json_object_get(r, "namespaced")));
	r = find_res(j, "pods");
	assert_int_equal(json_array_size(json_object_get(r, "verbs")), 3);
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/apis/metrics.k8s.io/v1beta1", NULL, NULL);
	j = kt_json(c);
	assert_string_equal(kt_str(find_res(j, "pods"), "kind"), "PodMetrics");
	assert_string_equal(kt_str(find_res(j, "nodes"), "kind"),
	    "NodeMetrics");
	json_decref(j);
	free(c);
}

static void
test_openapi(void **state)
{
	struct kt *t = *state;
	struct kapi_conn *c = kt_admin(t, "GET", "/openapi/v3", NULL, NULL);
	json_t *j = kt_json(c), *p, *op, *par, *s;
	const char *key;
	size_t i;
	int fv = 0;

	assert_string_equal(kt_str(json_object_get(json_object_get(j, "paths"),
	    "apis/kubevirt.io/v1"), "serverRelativeURL"),
	    "/openapi/v3/apis/kubevirt.io/v1");
	json_object_foreach(json_object_get(j, "paths"), key, p) {
		struct kapi_conn *gc = kt_admin(t, "GET",
		    kt_str(p, "serverRelativeURL"), NULL, NULL);

		assert_int_equal(gc->status, 200);
		free(gc);
	}
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/openapi/v3/apis/kubevirt.io/v1", NULL, NULL);
	assert_int_equal(c->status, 200);
	j = kt_json(c);
	p = json_object_get(json_object_get(j, "paths"), "/apis/kubevirt.io/v1/"
	    "namespaces/{namespace}/virtualmachineinstancereplicasets/{name}");
	op = json_object_get(p, "patch");
	assert_non_null(op);
	assert_string_equal(kt_str(op, "x-kubernetes-group-version-kind.kind"),
	    "VirtualMachineInstanceReplicaSet");
	json_array_foreach(json_object_get(op, "parameters"), i, par)
		fv |= !strcmp(kt_str(par, "name"), "fieldValidation") &&
		    !strcmp(kt_str(par, "in"), "query");
	assert_true(fv);
	assert_null(json_object_get(json_object_get(json_object_get(op,
	    "requestBody"), "content"), "application/strategic-merge-patch+json"));
	s = json_object_get(json_object_get(json_object_get(j, "components"),
	    "schemas"), "io.kubevirt.v1.VirtualMachineInstanceReplicaSet");
	assert_string_equal(kt_str(json_array_get(json_object_get(s,
	    "x-kubernetes-group-version-kind"), 0), "kind"),
	    "VirtualMachineInstanceReplicaSet");
	assert_string_equal(kt_str(s, "properties.spec.properties.replicas."
	    "type"), "integer");
	assert_string_equal(kt_str(s, "properties.spec.properties.template."
	    "properties.spec.properties.domain.type"), "object");
	json_decref(j);
	free(c);
}

/* Create the lab's VMIRS as admin. */
static void
mk_vmirs(struct kt *t, const char *name, const char *ns)
{
	char path[256], *body = kt_vmirs_json(name, NULL, 2);
	struct kapi_conn *c;

	snprintf(path, sizeof(path), KT_VMIRS, ns);
	c = kt_admin(t, "POST", path, "fieldManager=kubectl-client-side-apply&"
	    "fieldValidation=Strict", body);
	if (c->status != 201)
		fail_msg("create %s: %d %s", name, c->status, c->body);
	free(c);
	free(body);
}

static void
test_table(void **state)
{
	struct kt *t = *state;
	struct kapi_conn *c;
	json_t *j, *defs, *row;
	static const char *const names[] = { "Name", "Desired", "Current",
	    "Ready", "Age" };

	mk_vmirs(t, "lab05-cirros-replicaset", "alice");
	c = kt_req(t, &t->admin, "GET", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets", "limit=500", NULL, KT_TABLE,
	    NULL);
	assert_int_equal(c->status, 200);
	j = kt_json(c);
	assert_string_equal(kt_str(j, "kind"), "Table");
	defs = json_object_get(j, "columnDefinitions");
	assert_int_equal(json_array_size(defs), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(kt_str(json_array_get(defs, i), "name"),
		    names[i]);
	assert_string_equal(kt_str(json_array_get(defs, 0), "format"), "name");
	row = json_array_get(json_object_get(j, "rows"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(row,
	    "cells"), 0)), "lab05-cirros-replicaset");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(row,
	    "cells"), 1)), 2);
	assert_true(json_is_null(json_array_get(json_object_get(row, "cells"),
	    2)));
	assert_non_null(strstr(json_string_value(json_array_get(
	    json_object_get(row, "cells"), 4)), "s"));
	assert_string_equal(kt_str(row, "object.kind"), "PartialObjectMetadata");
	assert_string_equal(kt_str(row, "object.metadata.namespace"), "alice");
	json_decref(j);
	free(c);
	/* a named get as a one-row Table; -o yaml as a List; YAML Accept */
	c = kt_req(t, &t->admin, "GET", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets/lab05-cirros-replicaset", NULL,
	    NULL, KT_TABLE, NULL);
	j = kt_json(c);
	assert_int_equal(json_array_size(json_object_get(j, "rows")), 1);
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets", NULL, NULL);
	j = kt_json(c);
	assert_string_equal(kt_str(j, "kind"),
	    "VirtualMachineInstanceReplicaSetList");
	assert_string_equal(kt_str(j, "apiVersion"), "kubevirt.io/v1");
	assert_int_equal(strtoull(kt_str(j, "metadata.resourceVersion"), NULL,
	    10), store_rv(t->s));
	assert_null(json_object_get(json_object_get(j, "metadata"), "continue"));
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	free(c);
	c = kt_req(t, &t->admin, "GET", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets/lab05-cirros-replicaset", NULL,
	    NULL, "application/yaml", NULL);
	assert_string_equal(c->ctype, "application/yaml");
	assert_non_null(strstr(c->body, "kind: VirtualMachineInstanceReplicaSet"));
	free(c);
	/* -A: the cluster-wide path */
	mk_vmirs(t, "other", "bob");
	c = kt_admin(t, "GET", "/apis/kubevirt.io/v1/"
	    "virtualmachineinstancereplicasets", NULL, NULL);
	j = kt_json(c);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
	json_decref(j);
	free(c);
}

static size_t
n_items(struct kt *t, const char *path, const char *query)
{
	struct kapi_conn *c = kt_admin(t, "GET", path, query, NULL);
	json_t *j;
	size_t n;

	if (c->status != 200)
		fail_msg("%s?%s: %d %s", path, query, c->status, c->body);
	j = kt_json(c);
	n = json_array_size(json_object_get(j, "items"));
	json_decref(j);
	free(c);
	return n;
}

static void
test_selectors(void **state)
{
	struct kt *t = *state;
	const char *p = "/apis/kubevirt.io/v1/namespaces/ns1/"
	    "virtualmachineinstancereplicasets";
	static const char *const bad[] = {
	    "labelSelector=a%20in%20(b", "labelSelector=a%3D%3D%3Db",
	    "labelSelector=-bad-key-%3Dx", "labelSelector=a,",
	    "fieldSelector=spec.replicas%3D2", "fieldSelector=metadata.name",
	    "labelSelector=a%3Cb", "labelSelector=%zz", "timeoutSeconds=x" };
	struct kapi_conn *c;

	mk_vmirs(t, "one", "ns1");
	mk_vmirs(t, "two", "ns1");
	c = kt_admin(t, "PATCH", "/apis/kubevirt.io/v1/namespaces/ns1/"
	    "virtualmachineinstancereplicasets/two", NULL, NULL);
	free(c);
	c = kt_req(t, &t->admin, "PATCH", "/apis/kubevirt.io/v1/namespaces/ns1/"
	    "virtualmachineinstancereplicasets/two", NULL,
	    "application/merge-patch+json", NULL,
	    "{\"metadata\":{\"labels\":{\"tier\":\"gold\",\"app\":\"x\"}}}");
	assert_int_equal(c->status, 200);
	free(c);
	assert_int_equal(n_items(t, p, NULL), 2);
	assert_int_equal(n_items(t, p, "fieldSelector=metadata.name%3Dtwo"), 1);
	assert_int_equal(n_items(t, p, "fieldSelector=metadata.name!%3Dtwo"), 1);
	assert_int_equal(n_items(t, p, "fieldSelector=metadata.namespace%3Dns1,"
	    "metadata.name%3D%3Done"), 1);
	assert_int_equal(n_items(t, p, "fieldSelector=metadata.namespace%3Dx"),
	    0);
	assert_int_equal(n_items(t, p, "labelSelector=tier%3Dgold"), 1);
	assert_int_equal(n_items(t, p, "labelSelector=tier!%3Dgold"), 1);
	assert_int_equal(n_items(t, p, "labelSelector=tier"), 1);
	assert_int_equal(n_items(t, p, "labelSelector=!tier"), 1);
	assert_int_equal(n_items(t, p, "labelSelector=tier+in+(gold,+silver),"
	    "app%3Dx"), 1);
	assert_int_equal(n_items(t, p, "labelSelector=tier+notin+(gold)"), 1);
	assert_int_equal(n_items(t, p, "labelSelector=&fieldSelector=&limit=500"
	    "&timeout=32s&unknown=1"), 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = kt_admin(t, "GET", p, bad[i], NULL);
		if (c->status != 400)
			fail_msg("%s: %d %s", bad[i], c->status, c->body);
		assert_non_null(strstr(c->body, "\"reason\":\"BadRequest\""));
		free(c);
	}
	c = kt_admin(t, "GET", p, "fieldSelector=spec.replicas%3D2", NULL);
	assert_non_null(strstr(c->body, "field label not supported: "
	    "spec.replicas"));
	free(c);
	/* Events have involvedObject fields */
	assert_int_equal(n_items(t, "/api/v1/namespaces/ns1/events",
	    "fieldSelector=involvedObject.name%3Done,involvedObject.kind%3D"
	    "VirtualMachineInstanceReplicaSet"), 0);
}

/* The JSON events in a stream so far. */
static json_t *
events_of(const struct kapi_conn *c)
{
	json_t *a = json_array();
	const char *p = c->out, *end = c->out + c->nout;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		json_t *e;

		assert_non_null(nl);
		e = json_loadb(p, (size_t)(nl - p), 0, NULL);
		assert_non_null(e);
		json_array_append_new(a, e);
		p = nl + 1;
	}
	return a;
}

static void
test_watch(void **state)
{
	struct kt *t = *state;
	const char *p = "/apis/kubevirt.io/v1/namespaces/w/"
	    "virtualmachineinstancereplicasets";
	struct kapi_conn *w, *wt, *wn, *c;
	char q[128];
	json_t *ev;

	mk_vmirs(t, "first", "w");
	/* from now: ADDED for what is there */
	w = kt_admin(t, "GET", p, "watch=true", NULL);
	assert_int_equal(w->status, 200);
	assert_true(w->streaming);
	ev = events_of(w);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(kt_str(json_array_get(ev, 0), "type"), "ADDED");
	assert_string_equal(kt_str(json_array_get(ev, 0), "object.metadata."
	    "name"), "first");
	json_decref(ev);
	/* from a resourceVersion, as Tables, and by name */
	snprintf(q, sizeof(q), "watch=1&resourceVersion=%llu",
	    (unsigned long long)store_rv(t->s));
	wt = kt_req(t, &t->admin, "GET", p, q, NULL, KT_TABLE, NULL);
	assert_int_equal(wt->nout, 0);
	snprintf(q, sizeof(q), "watch=1&resourceVersion=%llu&fieldSelector="
	    "metadata.name%%3Dsecond", (unsigned long long)store_rv(t->s));
	wn = kt_admin(t, "GET", p, q, NULL);
	mk_vmirs(t, "second", "w");
	c = kt_req(t, &t->admin, "DELETE", "/apis/kubevirt.io/v1/namespaces/w/"
	    "virtualmachineinstancereplicasets/first", NULL, "application/json",
	    NULL, "{\"propagationPolicy\":\"Background\"}");
	assert_int_equal(c->status, 200);
	free(c);
	ev = events_of(w);
	assert_int_equal(json_array_size(ev), 3);
	assert_string_equal(kt_str(json_array_get(ev, 1), "type"), "ADDED");
	assert_string_equal(kt_str(json_array_get(ev, 2), "type"), "DELETED");
	assert_string_equal(kt_str(json_array_get(ev, 2), "object.metadata."
	    "name"), "first");
	json_decref(ev);
	ev = events_of(wt);
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(kt_str(json_array_get(ev, 0), "object.kind"),
	    "Table");
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    json_array_get(ev, 0), "object"), "columnDefinitions")), 5);
	assert_null(json_object_get(json_object_get(json_array_get(ev, 1),
	    "object"), "columnDefinitions"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    json_array_get(ev, 1), "object"), "rows")), 1);
	json_decref(ev);
	ev = events_of(wn);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(kt_str(json_array_get(ev, 0), "object.metadata."
	    "name"), "second");
	json_decref(ev);
	/* Events (kept as text in the ring) replay from a resourceVersion */
	{
		json_t *o = store_get(t->s, "VirtualMachineInstanceReplicaSet",
		    "w", "second");
		struct kapi_conn *we;

		snprintf(q, sizeof(q), "watch=1&resourceVersion=%llu",
		    (unsigned long long)store_rv(t->s));
		store_event(t->s, o, "Normal", "Tested", "hello %d", 42);
		json_decref(o);
		we = kt_admin(t, "GET", "/api/v1/namespaces/w/events", q, NULL);
		ev = events_of(we);
		assert_int_equal(json_array_size(ev), 1);
		assert_string_equal(kt_str(json_array_get(ev, 0), "object.reason"),
		    "Tested");
		assert_string_equal(kt_str(json_array_get(ev, 0), "object.message"),
		    "hello 42");
		json_decref(ev);
		kapi_fake_hangup(we);
		free(we);
	}
	/* the client goes away; later writes do not touch its stream */
	kapi_fake_hangup(w);
	mk_vmirs(t, "third", "w");
	assert_int_equal(wt->misuse + wn->misuse + w->misuse, 0);
	/* timeoutSeconds ends a stream */
	c = kt_admin(t, "GET", p, "watch=1&timeoutSeconds=1", NULL);
	assert_false(c->ended);
	kt_run(t, 1300);
	assert_true(c->ended);
	free(c);
	kapi_fake_hangup(wt);
	kapi_fake_hangup(wn);
	free(w);
	free(wt);
	free(wn);
}

static void
test_watch_expired(void **state)
{
	struct kt *t = *state;
	struct kapi *k2;
	struct kapi_conn *c;
	char err[256];
	json_t *ev;

	mk_vmirs(t, "a", "x");
	mk_vmirs(t, "b", "x");
	/* a handler started now has no history before this point */
	k2 = kapi_new(t->s, t->l, NULL, NULL, err, sizeof(err));
	assert_non_null(k2);
	c = calloc(1, sizeof(*c));
	{
		struct kapi_req r = { .method = "GET", .path = "/apis/kubevirt.io/"
		    "v1/namespaces/x/virtualmachineinstancereplicasets", .query =
		    "watch=true&resourceVersion=1", .content_type = "", .accept =
		    "", .upgrade = "", .ws_protocols = "", .body = "",
		    .user = &t->admin, .host = "" };

		kapi_handle(k2, c, &r);
	}
	assert_int_equal(c->status, 200);
	assert_true(c->ended);
	ev = events_of(c);
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(kt_str(json_array_get(ev, 0), "type"), "ERROR");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_array_get(ev, 0), "object"), "code")), 410);
	assert_string_equal(kt_str(json_array_get(ev, 0), "object.reason"),
	    "Expired");
	json_decref(ev);
	free(c);
	kapi_free(k2);
}

static void
expect(struct kt *t, const struct kapi_user *u, const char *method,
    const char *path, const char *body, int code, const char *msg)
{
	struct kapi_conn *c = kt_req(t, u, method, path, NULL, body ?
	    "application/json" : NULL, NULL, body);

	if (c->status != code || (msg && !strstr(c->body, msg)))
		fail_msg("%s %s %s: %d %s", u->name, method, path, c->status,
		    c->body);
	free(c);
}

static void
test_authz(void **state)
{
	struct kt *t = *state;
	char *body = kt_vmirs_json("rs", NULL, 1);
	uint64_t rv;

	mk_vmirs(t, "theirs", "bob");
	expect(t, &t->alice, "POST", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets", body, 201, NULL);
	expect(t, &t->alice, "GET", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets", NULL, 200, NULL);
	expect(t, &t->alice, "GET", "/api/v1/namespaces/alice", NULL, 200,
	    "\"phase\":\"Active\"");
	rv = store_rv(t->s);
	expect(t, &t->alice, "POST", "/apis/kubevirt.io/v1/namespaces/bob/"
	    "virtualmachineinstancereplicasets", body, 403,
	    "virtualmachineinstancereplicasets.kubevirt.io is forbidden: User "
	    "\\\"alice\\\" cannot create resource "
	    "\\\"virtualmachineinstancereplicasets\\\" in API group "
	    "\\\"kubevirt.io\\\" in the namespace \\\"bob\\\"");
	expect(t, &t->alice, "GET", "/apis/kubevirt.io/v1/namespaces/bob/"
	    "virtualmachineinstancereplicasets/theirs", NULL, 403,
	    "virtualmachineinstancereplicasets.kubevirt.io \\\"theirs\\\" is "
	    "forbidden: User \\\"alice\\\" cannot get resource");
	expect(t, &t->alice, "DELETE", "/apis/kubevirt.io/v1/namespaces/bob/"
	    "virtualmachineinstancereplicasets/theirs", NULL, 403, NULL);
	expect(t, &t->alice, "GET", "/apis/kubevirt.io/v1/"
	    "virtualmachineinstancereplicasets", NULL, 403, "at the cluster "
	    "scope");
	expect(t, &t->alice, "GET", "/api/v1/nodes", NULL, 403, NULL);
	expect(t, &t->alice, "DELETE", "/api/v1/namespaces/alice", NULL, 403,
	    NULL);
	expect(t, &t->alice, "PATCH", "/apis/kubevirt.io/v1/namespaces/bob/"
	    "virtualmachineinstancereplicasets/theirs/scale", "{}", 403,
	    "cannot patch resource \\\"virtualmachineinstancereplicasets/"
	    "scale\\\"");
	expect(t, &t->viewer, "GET", "/apis/kubevirt.io/v1/namespaces/bob/"
	    "virtualmachineinstancereplicasets/theirs", NULL, 200, NULL);
	expect(t, &t->viewer, "GET", "/apis/kubevirt.io/v1/"
	    "virtualmachineinstancereplicasets", NULL, 200, NULL);
	expect(t, &t->viewer, "POST", "/apis/kubevirt.io/v1/namespaces/vera/"
	    "virtualmachineinstancereplicasets", body, 403, "User \\\"vera\\\" "
	    "cannot create");
	expect(t, &t->viewer, "DELETE", "/apis/kubevirt.io/v1/namespaces/bob/"
	    "virtualmachineinstancereplicasets/theirs", NULL, 403, NULL);
	expect(t, &t->bob, "GET", "/apis/kubevirt.io/v1/namespaces/alice/"
	    "virtualmachineinstancereplicasets", NULL, 403, NULL);
	/* refusals changed nothing */
	assert_int_equal(store_rv(t->s), rv);
	/* everyone reads discovery */
	expect(t, &t->bob, "GET", "/apis", NULL, 200, NULL);
	expect(t, &t->bob, "GET", "/openapi/v3", NULL, 200, NULL);
	free(body);
}

static void
test_read_only_kinds(void **state)
{
	struct kt *t = *state;
	struct kapi_conn *c;

	c = kt_admin(t, "POST", "/api/v1/namespaces/default/pods", NULL,
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
	    "\"p\"}}");
	assert_int_equal(c->status, 405);
	assert_non_null(strstr(c->body, "MethodNotAllowed"));
	free(c);
	c = kt_admin(t, "DELETE", "/api/v1/nodes/n1", NULL, NULL);
	assert_int_equal(c->status, 405);
	free(c);
	c = kt_admin(t, "POST", "/apis/kubevirt.io/v1/namespaces/default/"
	    "virtualmachineinstancereplicasets/x", NULL, "{}");
	assert_int_equal(c->status, 405);
	free(c);
	c = kt_admin(t, "GET", "/api/v1/namespaces/default/pods/nope", NULL,
	    NULL);
	assert_int_equal(c->status, 404);
	assert_non_null(strstr(c->body, "pods \\\"nope\\\" not found"));
	assert_non_null(strstr(c->body, "\"details\":{"));
	free(c);
}

static void
test_metrics(void **state)
{
	struct kt *t = *state;
	struct kapi_conn *c;
	json_t *j, *node = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1",
	    "kind", "Node", "metadata", "name", "edge1");
	char err[256];

	assert_int_equal(store_create(t->s, node, NULL, err, sizeof(err)), 0);
	json_decref(node);
	/* no cgroups in this test: no pod has metrics */
	c = kt_admin(t, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/alice/"
	    "pods", NULL, NULL);
	assert_int_equal(c->status, 200);
	j = kt_json(c);
	assert_string_equal(kt_str(j, "kind"), "PodMetricsList");
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	free(c);
	/* the node's own usage, from /proc */
	c = kt_admin(t, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", NULL,
	    NULL);
	j = kt_json(c);
	assert_string_equal(kt_str(json_array_get(json_object_get(j, "items"),
	    0), "metadata.name"), "edge1");
	assert_non_null(strstr(kt_str(json_array_get(json_object_get(j,
	    "items"), 0), "usage.cpu"), "n"));
	assert_non_null(strstr(kt_str(json_array_get(json_object_get(j,
	    "items"), 0), "usage.memory"), "Ki"));
	json_decref(j);
	free(c);
	c = kt_admin(t, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/alice/"
	    "pods/nope", NULL, NULL);
	assert_int_equal(c->status, 404);
	free(c);
	c = kt_req(t, &t->alice, "GET", "/apis/metrics.k8s.io/v1beta1/nodes",
	    NULL, NULL, NULL, NULL);
	assert_int_equal(c->status, 403);
	free(c);
}

static void
putf(const char *dir, const char *name, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* PodMetrics from a (fake, cgroup v2 layout) VMI cgroup: rate and memory. */
static void
test_metrics_cgroup(void **state)
{
	struct kt *t = *state;
	char root[128], dir[256], err[256];
	struct cg *cg;
	struct usage *u;
	struct kapi *k;
	struct kapi_conn *c;
	json_t *pod, *j, *item;
	unsigned long long n;
	struct kapi_req r = { .method = "GET", .path = "/apis/metrics.k8s.io/"
	    "v1beta1/namespaces/alice/pods", .query = "labelSelector="
	    "kubevirt.io%3Dvirt-launcher", .content_type = "", .accept =
	    "application/vnd.kubernetes.protobuf, */*", .upgrade = "",
	    .ws_protocols = "", .body = "", .user = &t->admin, .host = "" };

	snprintf(root, sizeof(root), "%s/cg", t->dir);
	assert_int_equal(mkdir(root, 0755), 0);
	putf(root, "cgroup.controllers", "cpu memory pids\n");
	putf(root, "cgroup.subtree_control", "");
	putf(root, "cgroup.procs", "1\n");
	snprintf(dir, sizeof(dir), "%s/drover", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	putf(dir, "cgroup.subtree_control", "");
	snprintf(dir, sizeof(dir), "%s/drover/alice.vm1", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	putf(dir, "cpu.stat", "usage_usec 1000000\n");
	putf(dir, "memory.current", "104857600\n");
	assert_int_equal(cg_open(root, "drover", &cg, err, sizeof(err)), 0);
	pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}}}",
	    "apiVersion", "v1", "kind", "Pod", "metadata", "name",
	    "virt-launcher-vm1-abcde", "namespace", "alice", "labels",
	    "kubevirt.io", "virt-launcher", "annotations", "drover.dev/cgroup",
	    "alice.vm1");
	assert_int_equal(store_create(t->s, pod, NULL, err, sizeof(err)), 0);
	json_decref(pod);
	u = usage_new(t->l, t->s, cg);
	assert_non_null(u);
	k = kapi_new(t->s, t->l, NULL, u, err, sizeof(err));
	assert_non_null(k);
	c = calloc(1, sizeof(*c));
	kapi_handle(k, c, &r);
	assert_int_equal(c->status, 200);
	free(c);
	/* half a second of CPU in the next second or so */
	putf(dir, "cpu.stat", "usage_usec 1500000\n");
	kt_run(t, 1100);
	c = calloc(1, sizeof(*c));
	kapi_handle(k, c, &r);
	j = kt_json(c);
	free(c);
	assert_string_equal(kt_str(j, "kind"), "PodMetricsList");
	item = json_array_get(json_object_get(j, "items"), 0);
	assert_string_equal(kt_str(item, "metadata.name"),
	    "virt-launcher-vm1-abcde");
	assert_string_equal(kt_str(json_array_get(json_object_get(item,
	    "containers"), 0), "name"), "compute");
	n = strtoull(kt_str(json_array_get(json_object_get(item, "containers"),
	    0), "usage.cpu"), NULL, 10);
	if (n < 250000000ull || n > 500000000ull)
		fail_msg("cpu %s", kt_str(json_array_get(json_object_get(item,
		    "containers"), 0), "usage.cpu"));
	assert_string_equal(kt_str(json_array_get(json_object_get(item,
	    "containers"), 0), "usage.memory"), "102400Ki");
	json_decref(j);
	kapi_free(k);
	usage_free(u);
	cg_close(cg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, kt_setup, kt_teardown)
		T(test_version), T(test_not_found_status),
		T(test_console_routed), T(test_discovery), T(test_openapi),
		T(test_table), T(test_selectors), T(test_watch),
		T(test_watch_expired), T(test_authz), T(test_read_only_kinds),
		T(test_metrics), T(test_metrics_cgroup),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
