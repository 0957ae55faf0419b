/*
 * Unit tests: the console subresource's bridge (agent/kapi_console.c) on
 * droverd's real loop, with VMIs in a real store (temporary directory) and
 * the VMM's real console socket server (vmm/console.c) whose "guest"
 * echoes its input in upper case, as the PVH test payload's echo mode
 * does. The transport side (kapi_respond, kapi_ws_*) is
 * tests/agent/kapi_fake.c: it records what the handler answered and sent,
 * and plays the client.
 * rt_console_path() is this file's too (the runtime's part: which socket
 * belongs to which VMI).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "../agent/kapi_fake.h"
#include "console.h"
#include "kapi_console.h"
#include "loop.h"
#include "runtime.h"
#include "store.h"

/* ---- the handler side's accessors (kapi.c in droverd) --------------- */
struct kapi {
	struct store *store;
	struct loop *loop;
};

static struct kapi K;
static char tmpdir[64], sock_path[128];
static struct console *con;

struct store *kapi_store(struct kapi *k) { return k->store; }
struct rt *kapi_rt(struct kapi *k) { (void)k; return (struct rt *)1; }
struct loop *kapi_loop(struct kapi *k) { return k->loop; }

int
rt_console_path(struct rt *rt, const char *ns, const char *name, char *out,
    size_t outlen)
{
	(void)rt;
	if (strcmp(ns, "default") == 0 && strcmp(name, "vm1") == 0) {
		snprintf(out, outlen, "%s", sock_path);
		return 0;
	}
	if (strcmp(name, "gone") == 0)
		return -ESHUTDOWN;
	return -ENOENT;
}

/* The guest: echo in upper case. */
static size_t
guest_input(void *arg, const uint8_t *buf, size_t n)
{
	uint8_t up[256];
	size_t m = n < sizeof(up) ? n : sizeof(up);

	(void)arg;
	for (size_t i = 0; i < m; i++)
		up[i] = buf[i] >= 'a' && buf[i] <= 'z' ?
		    (uint8_t)(buf[i] - 'a' + 'A') : buf[i];
	console_write(con, up, m);
	return m;
}

static void
put_vmi(const char *name, const char *phase)
{
	char err[256] = "";
	json_t *vmi = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}",
	    "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
	    "metadata", "name", name, "namespace", "default", "spec");
	json_t *st = json_pack("{s:s}", "phase", phase);

	assert_int_equal(store_create(K.store, vmi, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(store_update_status(K.store,
	    "VirtualMachineInstance", "default", name, st, NULL, err,
	    sizeof(err)), 0);
	json_decref(vmi);
	json_decref(st);
}

static int
setup(void **state)
{
	char err[256] = "";
	char dir[96];
	static const uint8_t hello[] = "hello from the guest\r\n";

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/drover-kcon-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(dir, sizeof(dir), "%s/store", tmpdir);
	if (store_open(dir, &K.store, err, sizeof(err)) < 0) {
		fprintf(stderr, "store: %s\n", err);
		return -1;
	}
	K.loop = loop_new();
	snprintf(sock_path, sizeof(sock_path), "%s/console.sock", tmpdir);
	con = console_open_unix(sock_path, guest_input, NULL);
	if (!K.loop || !con)
		return -1;
	console_write(con, hello, sizeof(hello) - 1);
	put_vmi("vm1", "Running");
	put_vmi("broken", "Failed");
	put_vmi("waiting", "Scheduling");
	put_vmi("done", "Succeeded");
	put_vmi("gone", "Running");
	put_vmi("elsewhere", "Running");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	kapi_console_shutdown(&K);
	if (con)
		console_close(con, 1000);
	loop_free(K.loop);
	store_close(K.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
stop_loop(void *arg)
{
	loop_stop(arg);
}

/* Run the loop until c has received want (or closed, if want is NULL). */
static int
run_until(struct kapi_conn *c, const char *want, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		if (want && kapi_fake_saw(c, want))
			return 1;
		if (!want && c->closed)
			return 1;
		loop_timer(K.loop, 20, stop_loop, K.loop);
		loop_run(K.loop);
	}
	return 0;
}

static const struct kapi_req WS = {
	.method = "GET", .path = "/console", .query = "",
	.content_type = "", .accept = "", .upgrade = "websocket",
	.ws_protocols = "plain.kubevirt.io", .body = "", .body_len = 0,
};

static void
expect_refusal(const char *name, const struct kapi_req *r, int status,
    const char *reason, const char *msg)
{
	struct kapi_conn *c = calloc(1, sizeof(*c));
	json_t *st;

	assert_int_equal(kapi_console_handle(&K, c, r, "default", name), 0);
	assert_int_equal(c->status, status);
	assert_false(c->accepted);
	assert_int_equal(c->misuse, 0);
	st = json_loads(c->body, 0, NULL);
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "kind")),
	    "Status");
	assert_string_equal(json_string_value(json_object_get(st, "reason")),
	    reason);
	assert_int_equal(json_integer_value(json_object_get(st, "code")),
	    status);
	if (strcmp(json_string_value(json_object_get(st, "message")), msg))
		fail_msg("message '%s', expected '%s'",
		    json_string_value(json_object_get(st, "message")), msg);
	json_decref(st);
	free(c);
}

static void
test_refusals(void **state)
{
	struct kapi_req r = WS;

	(void)state;
	expect_refusal("nope", &WS, 404, "NotFound",
	    "virtualmachineinstances.kubevirt.io \"nope\" not found");
	expect_refusal("broken", &WS, 409, "Conflict",
	    "Operation cannot be fulfilled on "
	    "virtualmachineinstance.kubevirt.io \"broken\": VMI is in failed "
	    "status");
	expect_refusal("waiting", &WS, 400, "BadRequest",
	    "Unable to connect to VirtualMachineInstance because phase is "
	    "Scheduling instead of Running");
	expect_refusal("done", &WS, 400, "BadRequest",
	    "Unable to connect to VirtualMachineInstance because phase is "
	    "Succeeded instead of Running");
	/* Running in the store, ended in the runtime. */
	expect_refusal("gone", &WS, 409, "Conflict",
	    "Operation cannot be fulfilled on "
	    "virtualmachineinstance.kubevirt.io \"gone\": VMI is in failed "
	    "status");
	expect_refusal("elsewhere", &WS, 400, "BadRequest",
	    "Unable to connect to VirtualMachineInstance: its console is not "
	    "available on this node (No such file or directory)");
	r.upgrade = "";
	expect_refusal("vm1", &r, 400, "BadRequest",
	    "the console is a WebSocket with subprotocol plain.kubevirt.io");
	r = WS;
	r.ws_protocols = "base64.channel.k8s.io";
	expect_refusal("vm1", &r, 400, "BadRequest",
	    "the console is a WebSocket with subprotocol plain.kubevirt.io");
	r = WS;
	r.method = "POST";
	expect_refusal("vm1", &r, 405, "MethodNotAllowed",
	    "the server does not allow this method on the requested "
	    "resource");
}

#define type kapi_fake_type

static void
test_bridge(void **state)
{
	struct kapi_conn *a = calloc(1, sizeof(*a));
	struct kapi_conn *b = calloc(1, sizeof(*b));
	struct kapi_req r = WS;
	static uint8_t big[50000];

	(void)state;
	r.ws_protocols = "base64.channel.k8s.io, plain.kubevirt.io";
	assert_int_equal(kapi_console_handle(&K, a, &r, "default", "vm1"), 0);
	assert_true(a->accepted);
	assert_string_equal(a->proto, "plain.kubevirt.io");
	/* The kept output first, then the guest's echo of what is typed. */
	assert_true(run_until(a, "hello from the guest\r\n", 3000));
	type(a, "abc");
	assert_true(run_until(a, "ABC", 3000));

	/* Large output: frames of at most 10240 bytes, nothing lost. */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '!';
	a->nout = 0;
	console_write(con, big, sizeof(big));
	assert_true(run_until(a, "!", 3000));
	assert_int_equal(a->nout, sizeof(big));
	assert_true(a->max_frame <= 10240);
	assert_true(a->frames >= 5);

	/* A second session takes over: the first one is closed. */
	assert_int_equal(kapi_console_handle(&K, b, &WS, "default", "vm1"), 0);
	assert_true(b->accepted);
	assert_true(a->closed);
	type(a, "late");	/* after its close: ignored, no crash */
	type(b, "xyz");
	assert_true(run_until(b, "XYZ", 3000));
	assert_null(memmem(b->out, b->nout, "LATE", 4));

	/* The client goes: the session ends; a third one may type. */
	kapi_fake_hangup(b);
	memset(a, 0, sizeof(*a));
	assert_int_equal(kapi_console_handle(&K, a, &WS, "default", "vm1"), 0);
	type(a, "again");
	assert_true(run_until(a, "AGAIN", 3000));

	/* A client too slow for the transport is dropped. */
	a->send_result = -ENOBUFS;
	console_write(con, (const uint8_t *)"more", 4);
	assert_true(run_until(a, NULL, 3000));
	assert_int_equal(a->misuse + b->misuse, 0);
	free(a);
	free(b);
}

/* The VMM goes away: the WebSocket is closed. */
static void
test_vmm_gone(void **state)
{
	struct kapi_conn *a = calloc(1, sizeof(*a));

	(void)state;
	assert_int_equal(kapi_console_handle(&K, a, &WS, "default", "vm1"), 0);
	assert_true(a->accepted);
	assert_true(run_until(a, "hello", 3000));
	assert_int_equal(console_close(con, 1000), 1);
	con = NULL;
	assert_true(run_until(a, NULL, 3000));
	/* Nothing listens any more: 500 with the reason. */
	memset(a, 0, sizeof(*a));
	assert_int_equal(kapi_console_handle(&K, a, &WS, "default", "vm1"), 0);
	assert_int_equal(a->status, 500);
	assert_non_null(strstr(a->body, "cannot connect to the console"));
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bridge),
		cmocka_unit_test(test_vmm_gone),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
