/* agent_kapi_lib.c: fixtures for the kapi unit tests (agent_kapi_lib.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent_kapi_lib.h"
#include "kapi_server.h"
#include "loop.h"
#include "manifest.h"
#include "runtime.h"
#include "store.h"

/* The runtime is off in these tests (rt NULL): never asked. */
int
rt_console_path(struct rt *rt, const char *ns, const char *name, char *out,
    size_t outlen)
{
	(void)rt; (void)ns; (void)name; (void)out; (void)outlen;
	fail_msg("rt_console_path called without a runtime");
	return -1;
}

static void
kt_user(struct kapi_user *u, const char *name, const char *group)
{
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->ngroups = group ? 1 : 0;
	if (group)
		snprintf(u->groups[0], sizeof(u->groups[0]), "%s", group);
}

int
kt_setup(void **state)
{
	struct kt *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/unit_kapi.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(store_open(t->dir, &t->s, err, sizeof(err)), 0);
	t->l = loop_new();
	assert_non_null(t->l);
	t->k = kapi_new(t->s, t->l, NULL, NULL, err, sizeof(err));
	assert_non_null(t->k);
	kt_user(&t->admin, "admin", "system:masters");
	kt_user(&t->alice, "alice", NULL);
	kt_user(&t->viewer, "vera", "drover:viewers");
	kt_user(&t->bob, "bob", "developers");
	*state = t;
	return 0;
}

int
kt_teardown(void **state)
{
	struct kt *t = *state;
	char cmd[128];

	kapi_free(t->k);
	loop_free(t->l);
	store_close(t->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	free(t);
	return 0;
}

struct kapi_conn *
kt_req(struct kt *t, const struct kapi_user *u, const char *method,
    const char *path, const char *query, const char *ctype,
    const char *accept, const char *body)
{
	struct kapi_conn *c = calloc(1, sizeof(*c));
	struct kapi_req r = {
		.method = method, .path = path, .query = query ? query : "",
		.content_type = ctype ? ctype : "", .accept = accept ? accept :
		"", .upgrade = "", .ws_protocols = "", .body = body ? body : "",
		.body_len = body ? strlen(body) : 0, .user = u,
		.host = "127.0.0.1:6443",
	};

	assert_non_null(c);
	kapi_handle(t->k, c, &r);
	assert_int_equal(c->misuse, 0);
	assert_int_not_equal(c->status, 0);
	return c;
}

struct kapi_conn *
kt_admin(struct kt *t, const char *method, const char *path,
    const char *query, const char *body)
{
	return kt_req(t, &t->admin, method, path, query, body ?
	    "application/json" : NULL, NULL, body);
}

json_t *
kt_json(const struct kapi_conn *c)
{
	json_error_t e;
	json_t *j = json_loads(c->body, 0, &e);

	if (!j)
		fail_msg("not JSON (%s): %.300s", e.text, c->body);
	return j;
}

const char *
kt_str(const json_t *o, const char *path)
{
	const char *s = manifest_str(o, path);

	return s ? s : "";
}

static void
kt_stop(void *arg)
{
	loop_stop(arg);
}

void
kt_run(struct kt *t, int ms)
{
	loop_timer(t->l, (uint64_t)ms, kt_stop, t->l);
	loop_run(t->l);
}

char *
kt_vmirs_json(const char *name, const char *ns, int replicas)
{
	char *s = NULL;

	if (asprintf(&s, "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
	    "\"VirtualMachineInstanceReplicaSet\",\"metadata\":{\"name\":\"%s\""
	    "%s%s%s},\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":"
	    "{\"kubevirt.io/domain\":\"lab05-cirros\"}},\"template\":{"
	    "\"metadata\":{\"labels\":{\"kubevirt.io/domain\":\"lab05-cirros\"}},"
	    "\"spec\":{\"domain\":{\"cpu\":{\"cores\":1},\"devices\":{\"disks\":"
	    "[{\"name\":\"containerdisk\",\"disk\":{\"bus\":\"virtio\"}}],"
	    "\"interfaces\":[{\"name\":\"default\",\"masquerade\":{}}]},"
	    "\"resources\":{\"limits\":{\"cpu\":\"300m\"},\"requests\":{\"cpu\":"
	    "\"100m\",\"memory\":\"265Mi\"}}},\"networks\":[{\"name\":\"default\","
	    "\"pod\":{}}],\"volumes\":[{\"name\":\"containerdisk\","
	    "\"containerDisk\":{\"image\":"
	    "\"quay.io/kubevirt/cirros-container-disk-demo\"}}]}}}}", name,
	    ns ? ",\"namespace\":\"" : "", ns ? ns : "", ns ? "\"" : "",
	    replicas) < 0)
		return NULL;
	return s;
}
