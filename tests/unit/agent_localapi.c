/*
 * Unit tests: kubectl's apply on the store (agent/apply.c) and the local
 * API socket (agent/localapi.c), against a real store in a temporary
 * directory and a real loop; clients are sockets driven from the same
 * loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "apply.h"
#include "localapi.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "store.h"

struct env {
	char dir[64];
	char sock[128];
	struct store *store;
	struct loop *loop;
	struct localapi *api;
};

static const char *vmirs_yaml =
"apiVersion: kubevirt.io/v1\n"
"kind: VirtualMachineInstanceReplicaSet\n"
"metadata:\n"
"  name: rs\n"
"spec:\n"
"  replicas: 2\n"
"  selector:\n"
"    matchLabels: {app: rs}\n"
"  template:\n"
"    metadata:\n"
"      labels: {app: rs}\n"
"    spec:\n"
"      domain:\n"
"        devices: {}\n"
"        resources:\n"
"          requests: {memory: 64Mi}\n";

static json_t *
vmirs(void)
{
	json_t *status = NULL;
	json_t *docs = manifest_parse(vmirs_yaml, strlen(vmirs_yaml), &status);
	json_t *o;

	assert_non_null(docs);
	o = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	return o;
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char err[512];

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/unit_localapi.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/run/d.sock", e->dir);
	assert_int_equal(store_open(e->dir, &e->store, err, sizeof(err)), 0);
	e->loop = loop_new();
	assert_non_null(e->loop);
	e->api = localapi_new(e->loop, e->store, e->sock, err, sizeof(err));
	assert_non_null(e->api);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	localapi_free(e->api);
	loop_free(e->loop);
	store_close(e->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

/* ---- apply ---------------------------------------------------------------- */

static void
test_three_way(void **state)
{
	json_t *last = json_pack("{s:i, s:i, s:{s:i, s:i}}", "a", 1, "gone", 1,
	    "o", "x", 1, "y", 1);
	json_t *mod = json_pack("{s:i, s:{s:i}, s:[i]}", "a", 1, "o", "x", 2,
	    "arr", 1);
	json_t *live = json_pack("{s:i, s:i, s:i, s:{s:i, s:i, s:i}, s:[i]}",
	    "a", 1, "gone", 1, "other", 7, "o", "x", 1, "y", 1, "z", 3, "arr",
	    1);
	json_t *p, *want;

	(void)state;
	p = apply_three_way(last, mod, live);
	want = json_pack("{s:n, s:{s:i, s:n}}", "gone", "o", "x", 2, "y");
	assert_true(json_equal(p, want));
	apply_merge_patch(live, p);
	json_decref(want);
	/* Fields set by others (other, o.z) stay; arr unchanged. */
	want = json_pack("{s:i, s:i, s:{s:i, s:i}, s:[i]}", "a", 1, "other", 7,
	    "o", "x", 2, "z", 3, "arr", 1);
	assert_true(json_equal(live, want));
	json_decref(p);
	/* Nothing differs: an empty patch. */
	p = apply_three_way(mod, mod, live);
	assert_int_equal(json_object_size(p), 0);
	json_decref(p);
	json_decref(want);
	json_decref(last);
	json_decref(mod);
	json_decref(live);
}

static void
test_apply_lifecycle(void **state)
{
	struct env *e = *state;
	enum apply_result res;
	json_t *o = vmirs(), *out = NULL, *st = NULL, *ns, *cur;
	uint64_t rv;

	assert_int_equal(apply_object(e->store, o, "lab", &res, &out, &st), 0);
	assert_int_equal(res, APPLY_CREATED);
	assert_string_equal(manifest_str(out, "metadata.namespace"), "lab");
	assert_non_null(json_object_get(json_object_get(json_object_get(out,
	    "metadata"), "annotations"), APPLY_LAST_APPLIED));
	json_decref(out);
	ns = store_get(e->store, "Namespace", "", "lab");
	assert_non_null(ns);
	assert_string_equal(manifest_str(ns, "status.phase"), "Active");
	json_decref(ns);
	/* The same object again: unchanged, nothing written. */
	rv = store_rv(e->store);
	assert_int_equal(apply_object(e->store, o, "lab", &res, &out, &st), 0);
	assert_int_equal(res, APPLY_UNCHANGED);
	assert_int_equal(store_rv(e->store), rv);
	json_decref(out);
	/* Replicas changed in the manifest: configured, generation 2. */
	json_object_set_new(json_object_get(o, "spec"), "replicas",
	    json_integer(5));
	assert_int_equal(apply_object(e->store, o, "lab", &res, &out, &st), 0);
	assert_int_equal(res, APPLY_CONFIGURED);
	assert_int_equal(manifest_replicas(out), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    out, "metadata"), "generation")), 2);
	json_decref(out);
	/* A refused update stores nothing. */
	json_object_set_new(json_object_get(json_object_get(o, "spec"),
	    "selector"), "matchLabels", json_pack("{s:s}", "app", "x"));
	assert_int_equal(apply_object(e->store, o, "lab", &res, &out, &st), -1);
	assert_int_equal(manifest_status_code(st), 422);
	assert_non_null(strstr(manifest_status_message(st),
	    "selector does not match labels."));
	json_decref(st);
	cur = store_get(e->store, "VirtualMachineInstanceReplicaSet", "lab",
	    "rs");
	assert_string_equal(manifest_str(cur,
	    "spec.selector.matchLabels.app"), "rs");
	json_decref(cur);
	json_decref(o);
}

static void
test_apply_refusals(void **state)
{
	struct env *e = *state;
	enum apply_result res;
	json_t *o = vmirs(), *out = NULL, *st = NULL;

	json_object_set_new(json_object_get(o, "spec"), "foo", json_true());
	assert_int_equal(apply_object(e->store, o, NULL, &res, &out, &st), -1);
	assert_int_equal(manifest_status_code(st), 400);
	assert_non_null(strstr(manifest_status_message(st),
	    "unknown field \"spec.foo\""));
	json_decref(st);
	assert_null(store_get(e->store, "VirtualMachineInstanceReplicaSet",
	    "default", "rs"));
	json_object_del(json_object_get(o, "metadata"), "name");
	assert_int_equal(apply_object(e->store, o, NULL, &res, &out, &st), -1);
	assert_int_equal(manifest_status_code(st), 400);
	json_decref(st);
	json_object_set_new(o, "kind", json_string("Nope"));
	assert_int_equal(apply_object(e->store, o, NULL, &res, &out, &st), -1);
	assert_int_equal(manifest_status_code(st), 404);
	json_decref(st);
	json_decref(o);
}

/* ---- the socket ------------------------------------------------------------- */

static int
client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

struct reader {
	struct loop *loop;
	char buf[1 << 16];
	size_t len;
	int lines_wanted;
	int eof;
};

static int
count_lines(const struct reader *r)
{
	int n = 0;

	for (size_t i = 0; i < r->len; i++)
		n += r->buf[i] == '\n';
	return n;
}

static void
reader_cb(void *arg, int fd, short revents)
{
	struct reader *r = arg;
	ssize_t n;

	(void)revents;
	n = read(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
	if (n <= 0) {
		r->eof = 1;
		loop_del_fd(r->loop, fd);
		loop_stop(r->loop);
		return;
	}
	r->len += (size_t)n;
	r->buf[r->len] = '\0';
	if (count_lines(r) >= r->lines_wanted)
		loop_stop(r->loop);
}

static void
stop_cb(void *arg)
{
	loop_stop(arg);
}

static void
timeout_cb(void *arg)
{
	loop_stop(arg);
	fail_msg("timed out");
}

/* Send text on fd and run the loop until `lines` lines came back. */
static void
roundtrip(struct env *e, int fd, const char *text, struct reader *r,
    int lines)
{
	int t;

	memset(r, 0, sizeof(*r));
	r->loop = e->loop;
	r->lines_wanted = lines;
	if (text)
		assert_int_equal(write(fd, text, strlen(text)),
		    (ssize_t)strlen(text));
	assert_int_equal(loop_add_fd(e->loop, fd, POLLIN, reader_cb, r), 0);
	t = loop_timer(e->loop, 5000, timeout_cb, e->loop);
	assert_int_equal(loop_run(e->loop), 0);
	loop_cancel(e->loop, t);
	loop_del_fd(e->loop, fd);
}

static json_t *
line(const struct reader *r, int n)
{
	const char *p = r->buf;

	while (n-- > 0)
		p = strchr(p, '\n') + 1;
	return json_loadb(p, (size_t)(strchr(p, '\n') - p), 0, NULL);
}

static int
error_code(const json_t *resp)
{
	return (int)json_integer_value(json_object_get(json_object_get(resp,
	    "error"), "code"));
}

static void
test_socket_mode(void **state)
{
	struct env *e = *state;
	struct stat st;

	(void)state;
	assert_int_equal(stat(e->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_protocol(void **state)
{
	struct env *e = *state;
	struct reader r;
	char *req, *obj;
	json_t *o = vmirs(), *resp;
	int fd = client(e->sock);

	obj = json_dumps(o, JSON_COMPACT);
	assert_true(asprintf(&req, "{\"op\":\"apply\",\"object\":%s}\n"
	    "{\"op\":\"apply\",\"object\":%s}\n"
	    "\n"
	    "{\"op\":\"get\",\"kind\":\"vmirs\",\"name\":\"rs\"}\n"
	    "{\"op\":\"list\",\"kind\":\"virtualmachineinstancereplicasets\"}\n"
	    "{\"op\":\"get\",\"kind\":\"vmi\",\"name\":\"nope\"}\n"
	    "{\"op\":\"get\",\"kind\":\"widgets\",\"name\":\"x\"}\n"
	    "[1]\n"
	    "{\"op\":\"frobnicate\"}\n"
	    "{\"op\":\"scale\",\"kind\":\"vmirs\",\"name\":\"rs\",\"replicas\":-1}\n"
	    "{\"op\":\"scale\",\"kind\":\"vmirs\",\"name\":\"rs\",\"replicas\":3}\n"
	    "{\"op\":\"delete\",\"kind\":\"VirtualMachineInstanceReplicaSet\",\"name\":\"rs\"}\n"
	    "{\"op\":\"delete\",\"kind\":\"vmirs\",\"name\":\"rs\"}\n",
	    obj, obj) > 0);
	roundtrip(e, fd, req, &r, 12);
	free(req);
	free(obj);
	json_decref(o);

	resp = line(&r, 0);
	assert_string_equal(json_string_value(json_object_get(resp, "result")),
	    "created");
	json_decref(resp);
	resp = line(&r, 1);
	assert_string_equal(json_string_value(json_object_get(resp, "result")),
	    "unchanged");
	json_decref(resp);
	resp = line(&r, 2);	/* the blank line got no answer */
	assert_string_equal(manifest_str(json_object_get(resp, "object"),
	    "metadata.name"), "rs");
	json_decref(resp);
	resp = line(&r, 3);
	assert_int_equal(json_array_size(json_object_get(resp, "items")), 1);
	assert_non_null(json_string_value(json_object_get(resp,
	    "resourceVersion")));
	json_decref(resp);
	resp = line(&r, 4);
	assert_int_equal(error_code(resp), 404);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    resp, "error"), "message")),
	    "virtualmachineinstances.kubevirt.io \"nope\" not found");
	json_decref(resp);
	resp = line(&r, 5);
	assert_int_equal(error_code(resp), 404);
	json_decref(resp);
	resp = line(&r, 6);
	assert_int_equal(error_code(resp), 400);
	json_decref(resp);
	resp = line(&r, 7);
	assert_int_equal(error_code(resp), 404);
	json_decref(resp);
	resp = line(&r, 8);
	assert_int_equal(error_code(resp), 422);	/* replicas -1 */
	json_decref(resp);
	resp = line(&r, 9);
	assert_int_equal(manifest_replicas(json_object_get(resp, "object")),
	    3);
	json_decref(resp);
	resp = line(&r, 10);
	assert_non_null(json_object_get(resp, "object"));
	json_decref(resp);
	resp = line(&r, 11);
	assert_int_equal(error_code(resp), 404);
	json_decref(resp);
	close(fd);
}

static json_t *
echo_op(void *arg, const json_t *req)
{
	(*(int *)arg)++;
	return json_pack("{s:O}", "echo", json_object_get(req, "v"));
}

static void
test_register(void **state)
{
	struct env *e = *state;
	struct reader r;
	json_t *resp;
	int calls = 0, fd;

	assert_int_equal(localapi_register(e->api, "x.echo", echo_op, &calls),
	    0);
	assert_int_equal(localapi_register(e->api, "x.echo", echo_op, &calls),
	    -EEXIST);
	assert_int_equal(localapi_register(e->api, "get", echo_op, &calls),
	    -EEXIST);
	fd = client(e->sock);
	roundtrip(e, fd, "{\"op\":\"x.echo\",\"v\":[1,2]}\n", &r, 1);
	resp = line(&r, 0);
	assert_int_equal(json_array_size(json_object_get(resp, "echo")), 2);
	assert_int_equal(calls, 1);
	json_decref(resp);
	close(fd);
}

/* A line of 4 MiB or more: 413, then the connection is closed. */
static void
test_long_line(void **state)
{
	struct env *e = *state;
	size_t len = LOCALAPI_MAX_LINE + 100;
	char *big = malloc(len + 1);
	struct reader r;
	json_t *resp;
	int fd = client(e->sock), fl;

	memset(big, 'x', len);
	big[len] = '\0';
	/* Written from a non-blocking fd as the loop drains it. */
	fl = fcntl(fd, F_GETFL);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	{
		size_t off = 0;

		while (off < len) {
			ssize_t n = send(fd, big + off, len - off,
			    MSG_NOSIGNAL);
			int t;

			if (n > 0) {
				off += (size_t)n;
				continue;
			}
			if (errno == EPIPE || errno == ECONNRESET)
				break;	/* refused and closed */
			assert_true(errno == EAGAIN);
			/* Let droverd's side read some. */
			t = loop_timer(e->loop, 5, stop_cb, e->loop);
			assert_true(t > 0);
			assert_int_equal(loop_run(e->loop), 0);
			if (off > LOCALAPI_MAX_LINE)
				break;	/* refused already: peer may close */
		}
	}
	free(big);
	roundtrip(e, fd, NULL, &r, 1);
	resp = line(&r, 0);
	assert_int_equal(error_code(resp), 413);
	json_decref(resp);
	roundtrip(e, fd, NULL, &r, 1);
	assert_true(r.eof);
	close(fd);
}

/*
 * A client that sends requests and never reads its answers stops being
 * read; another client is answered meanwhile.
 */
static void
test_slow_client(void **state)
{
	struct env *e = *state;
	const char *req = "{\"op\":\"list\",\"kind\":\"ns\"}\n";
	struct reader r;
	json_t *resp;
	int slow = client(e->sock), fast, n = 0, t;

	assert_int_equal(fcntl(slow, F_SETFL, O_NONBLOCK), 0);
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 200; i++) {
			if (send(slow, req, strlen(req), MSG_NOSIGNAL) < 0)
				break;
			n++;
		}
		t = loop_timer(e->loop, 2, stop_cb, e->loop);
		assert_true(t > 0);
		assert_int_equal(loop_run(e->loop), 0);
	}
	assert_true(n > 1000);	/* droverd has queued what it could */
	fast = client(e->sock);
	roundtrip(e, fast, "{\"op\":\"ping\"}\n", &r, 1);
	resp = line(&r, 0);
	assert_true(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	close(fast);
	close(slow);
	/* droverd notices the close; the loop keeps running. */
	t = loop_timer(e->loop, 20, stop_cb, e->loop);
	assert_true(t > 0);
	assert_int_equal(loop_run(e->loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_way),
		cmocka_unit_test_setup_teardown(test_apply_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_apply_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slow_client, setup,
		    teardown),
	};

	log_init("unit", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests_name("agent_localapi", tests, NULL,
	    NULL);
}
