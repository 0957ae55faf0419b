/*
 * unit_agent_kapi: the Kubernetes API router (agent/kapi.c) called
 * directly with the test transport (tests/agent/kapi_fake.c), on a real
 * store and loop.
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

#include "../agent/kapi_fake.h"
#include "kapi.h"
#include "kapi_server.h"
#include "loop.h"
#include "runtime.h"
#include "store.h"

/* The runtime is off in these tests (rt NULL): never asked. */
int rt_console_path(struct rt *rt, const char *ns, const char *name,
    char *out, size_t outlen)
{
	(void)rt; (void)ns; (void)name; (void)out; (void)outlen;
	fail_msg("rt_console_path called without a runtime");
	return -1;
}

struct fx {
	char dir[64];
	struct store *s;
	struct loop *l;
	struct kapi *k;
	struct kapi_user admin;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/unit_kapi.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, &f->s, err, sizeof(err)), 0);
	f->l = loop_new();
	assert_non_null(f->l);
	f->k = kapi_new(f->s, f->l, NULL, NULL, err, sizeof(err));
	assert_non_null(f->k);
	snprintf(f->admin.name, sizeof(f->admin.name), "admin");
	f->admin.ngroups = 1;
	snprintf(f->admin.groups[0], sizeof(f->admin.groups[0]),
	    "system:masters");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	kapi_free(f->k);
	loop_free(f->l);
	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static struct kapi_conn *req(struct fx *f, const char *method,
    const char *path)
{
	struct kapi_conn *c = calloc(1, sizeof(*c));
	struct kapi_req r = {
		.method = method, .path = path, .query = "",
		.content_type = "", .accept = "", .upgrade = "",
		.ws_protocols = "", .body = "", .body_len = 0,
		.user = &f->admin, .host = "127.0.0.1",
	};

	assert_non_null(c);
	kapi_handle(f->k, c, &r);
	assert_int_equal(c->misuse, 0);
	return c;
}

static void test_version(void **state)
{
	struct kapi_conn *c = req(*state, "GET", "/version");
	json_t *j;

	assert_int_equal(c->status, 200);
	j = json_loads(c->body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "major")),
	    "1");
	assert_string_equal(json_string_value(json_object_get(j, "minor")),
	    "32");
	json_decref(j);
	free(c);
	c = req(*state, "POST", "/version");
	assert_int_equal(c->status, 405);
	free(c);
}

static void test_not_found_status(void **state)
{
	struct kapi_conn *c = req(*state, "GET", "/nothing/here");
	json_t *j;

	assert_int_equal(c->status, 404);
	j = json_loads(c->body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "kind")),
	    "Status");
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	    "NotFound");
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 404);
	json_decref(j);
	free(c);
}

static void test_console_routed(void **state)
{
	/* no runtime: kapi_console.c answers, not the router's 404 */
	struct kapi_conn *c = req(*state, "GET", "/apis/subresources."
	    "kubevirt.io/v1/namespaces/default/virtualmachineinstances/x/"
	    "console");

	assert_int_not_equal(c->status, 0);
	assert_non_null(strstr(c->body, "x"));
	free(c);
	c = req(*state, "GET", "/apis/subresources.kubevirt.io/v1/"
	    "namespaces/default/virtualmachineinstances/x/consolex");
	assert_int_equal(c->status, 404);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found_status, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_console_routed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
