/*
 * agentbench.c: droverd's benchmark client (tests/bench/agent.sh). It
 * talks to droverd's local API socket (agent/localapi.h) as droverctl
 * does, and times what a user of the API sees:
 *
 *   agentbench SOCKET NS IMAGE latency N
 *       N times, one after the other: create a VMI (apply), wait until
 *       the API shows it Running, delete it and wait until it is gone.
 *       Prints "sample I MS" (request sent -> Running seen) per VMI.
 *   agentbench SOCKET NS IMAGE scale N
 *       apply the VMIRS "bench" with N replicas (0 before) and wait until
 *       N of its VMIs are Running. Prints "running MS" and "ready MS"
 *       (the VMIRS's readyReplicas reaching N), from the apply request.
 *   agentbench SOCKET NS IMAGE replace K RUNDIR
 *       with the VMIRS at N Running: K times, kill -9 the drover-vmm of
 *       one Running VMI (its pid from RUNDIR/vmi/NS/NAME/state.json) and
 *       wait until a VMI that was not there before is Running and N are
 *       Running again. Prints "sample I MS" (kill -> replacement Running).
 *   agentbench SOCKET NS IMAGE down
 *       scale "bench" to 0 and wait until no VMI is left; delete it.
 *
 * Observation: the client asks "ping" (a few bytes: the store's global
 * resourceVersion) every POLL_US and reads the objects again only when
 * the resourceVersion moved (a single VMI with "get"; lists at most every
 * LIST_MS, as a list of 50 VMIs costs droverd more). The figures are
 * therefore upper bounds by at most one poll (latency, replace) or one
 * list interval (scale). Every VMI: terminationGracePeriodSeconds 0,
 * 1 vCPU, 32Mi, cpu request 10m, no network (autoattachPodInterface
 * false), one containerDisk: IMAGE.
 *
 * Exit status 0 when every measure reached its end, 1 otherwise (a
 * timeout, an error from droverd: printed to stderr).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define POLL_US		1000
#define LIST_MS		10
#define TIMEOUT_MS	60000
#define RS_NAME		"bench"

static int fd = -1;
static char *buf;
static size_t blen, bcap;
static const char *ns, *image;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "agentbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		die("%s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", path, strerror(errno));
}

/* One request, one response line; the response (new reference). */
static json_t *
call(json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len, off = 0;
	json_t *resp;
	char *nl;

	json_decref(req);
	if (text == NULL)
		die("out of memory");
	len = strlen(text);
	text[len++] = '\n';	/* json_dumps left room for the NUL */
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			die("send: %s", strerror(errno));
		off += (size_t)n;
	}
	free(text);
	while ((nl = blen ? memchr(buf, '\n', blen) : NULL) == NULL) {
		ssize_t n;

		if (bcap - blen < 65536) {
			bcap = bcap ? 2 * bcap : 1 << 20;
			if ((buf = realloc(buf, bcap)) == NULL)
				die("out of memory");
		}
		n = read(fd, buf + blen, bcap - blen);
		if (n <= 0)
			die("droverd closed the connection");
		blen += (size_t)n;
	}
	resp = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
	memmove(buf, nl + 1, blen - (size_t)(nl - buf) - 1);
	blen -= (size_t)(nl - buf) + 1;
	if (resp == NULL)
		die("a response that is not JSON");
	return resp;
}

/* call(), dying on an error response. */
static json_t *
call_ok(json_t *req, const char *what)
{
	json_t *resp = call(req), *e = json_object_get(resp, "error");

	if (e)
		die("%s: %s", what, json_string_value(json_object_get(e,
		    "message")));
	return resp;
}

static json_t *
vmi_spec(void)
{
	return json_pack("{s:i, s:{s:{s:i}, s:{s:b, s:[{s:s, s:{s:s}}]}, "
	    "s:{s:{s:s, s:s}}}, s:[{s:s, s:{s:s}}]}",
	    "terminationGracePeriodSeconds", 0,
	    "domain", "cpu", "cores", 1,
	    "devices", "autoattachPodInterface", 0,
	    "disks", "name", "containerdisk", "disk", "bus", "virtio",
	    "resources", "requests", "memory", "32Mi", "cpu", "10m",
	    "volumes", "name", "containerdisk", "containerDisk", "image",
	    image);
}

static void
apply(json_t *obj)
{
	json_decref(call_ok(json_pack("{s:s, s:o, s:s}", "op", "apply",
	    "object", obj, "namespace", ns), "apply"));
}

static void
apply_rs(int replicas)
{
	apply(json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:{s:{s:s}}, "
	    "s:{s:{s:{s:s}}, s:o}}}", "apiVersion", "kubevirt.io/v1", "kind",
	    "VirtualMachineInstanceReplicaSet", "metadata", "name", RS_NAME,
	    "spec", "replicas", replicas, "selector", "matchLabels",
	    "bench", RS_NAME, "template", "metadata", "labels", "bench",
	    RS_NAME, "spec", vmi_spec()));
}

static uint64_t
rv(void)
{
	json_t *r = call_ok(json_pack("{s:s}", "op", "ping"), "ping");
	uint64_t v = strtoull(json_string_value(json_object_get(r,
	    "resourceVersion")) ? json_string_value(json_object_get(r,
	    "resourceVersion")) : "0", NULL, 10);

	json_decref(r);
	return v;
}

/* The object, or NULL when there is none. */
static json_t *
get(const char *kind, const char *name)
{
	json_t *r = call(json_pack("{s:s, s:s, s:s, s:s}", "op", "get", "kind",
	    kind, "name", name, "namespace", ns));
	json_t *o = json_incref(json_object_get(r, "object"));

	json_decref(r);
	return o;
}

static json_t *
list_vmis(void)
{
	json_t *r = call_ok(json_pack("{s:s, s:s, s:s}", "op", "list", "kind",
	    "VirtualMachineInstance", "namespace", ns), "list");
	json_t *items = json_incref(json_object_get(r, "items"));

	json_decref(r);
	return items;
}

static const char *
str_at(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static int
is_running(const json_t *vmi)
{
	const char *p = str_at(vmi, "status", "phase");

	return p && strcmp(p, "Running") == 0 && !json_object_get(
	    json_object_get(vmi, "metadata"), "deletionTimestamp");
}

/*
 * Wait until cond(arg) holds, asking it again whenever the
 * resourceVersion moved (at most every min_ms when min_ms > 0). Returns
 * the time it was first seen to hold.
 */
typedef int (*cond_fn)(void *arg);

static uint64_t
wait_until(cond_fn cond, void *arg, unsigned min_ms, const char *what)
{
	uint64_t start = now_us(), last = 0, seen = 0, r;

	for (;;) {
		uint64_t t = now_us();

		if (t - start > (uint64_t)TIMEOUT_MS * 1000)
			die("timed out waiting for %s", what);
		r = rv();
		if (r != seen && (min_ms == 0 || t - last >= min_ms * 1000u)) {
			last = t;
			seen = r;
			if (cond(arg))
				return now_us();
		}
		usleep(POLL_US);
	}
}

/* ---- latency --------------------------------------------------------- */

static int
cond_vmi_running(void *arg)
{
	json_t *v = get("VirtualMachineInstance", arg);
	int ok = v && is_running(v);

	if (v && str_at(v, "status", "phase") &&
	    strcmp(str_at(v, "status", "phase"), "Failed") == 0)
		die("%s Failed: %s", (char *)arg, json_dumps(json_object_get(
		    v, "status"), JSON_COMPACT));
	json_decref(v);
	return ok;
}

static int
cond_vmi_gone(void *arg)
{
	json_t *v = get("VirtualMachineInstance", arg);

	json_decref(v);
	return v == NULL;
}

static int
bench_latency(int n)
{
	char name[64];
	int i;

	for (i = 0; i < n; i++) {
		uint64_t t0, t1;

		snprintf(name, sizeof(name), "lat%d", i);
		t0 = now_us();
		apply(json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion",
		    "kubevirt.io/v1", "kind", "VirtualMachineInstance",
		    "metadata", "name", name, "spec", vmi_spec()));
		t1 = wait_until(cond_vmi_running, name, 0, name);
		printf("sample %d %.2f\n", i, (double)(t1 - t0) / 1000.0);
		fflush(stdout);
		json_decref(call_ok(json_pack("{s:s, s:s, s:s, s:s}", "op",
		    "delete", "kind", "VirtualMachineInstance", "name", name,
		    "namespace", ns), "delete"));
		wait_until(cond_vmi_gone, name, 0, "the VMI deleted");
	}
	return 0;
}

/* ---- scale ----------------------------------------------------------- */

struct count {
	int want;
	json_t *exclude;	/* names that do not count (replace) */
	int fresh;		/* seen: a Running VMI not in exclude */
};

static int
cond_n_running(void *arg)
{
	struct count *c = arg;
	json_t *l = list_vmis(), *v;
	int n = 0;
	size_t i;

	c->fresh = 0;
	json_array_foreach(l, i, v) {
		const char *name = str_at(v, "metadata", "name");

		if (!is_running(v))
			continue;
		n++;
		if (c->exclude && name && !json_object_get(c->exclude, name))
			c->fresh = 1;
	}
	json_decref(l);
	return n == c->want && (!c->exclude || c->fresh);
}

static int
cond_rs_ready(void *arg)
{
	json_t *rs = get("VirtualMachineInstanceReplicaSet", RS_NAME);
	int ok = rs && json_integer_value(json_object_get(json_object_get(rs,
	    "status"), "readyReplicas")) == *(int *)arg;

	json_decref(rs);
	return ok;
}

static int
bench_scale(int n)
{
	struct count c = { n, NULL, 0 };
	uint64_t t0, t1, t2;

	t0 = now_us();
	apply_rs(n);
	t1 = wait_until(cond_n_running, &c, LIST_MS, "every VMI Running");
	t2 = wait_until(cond_rs_ready, &n, 0, "readyReplicas");
	printf("running %.2f\nready %.2f\n", (double)(t1 - t0) / 1000.0,
	    (double)(t2 - t0) / 1000.0);
	return 0;
}

/* ---- replace --------------------------------------------------------- */

static pid_t
vmm_pid(const char *rundir, const char *name)
{
	char path[512];
	json_t *st;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/vmi/%s/%s/state.json", rundir, ns,
	    name);
	if ((st = json_load_file(path, 0, NULL)) == NULL)
		return -1;
	pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	json_decref(st);
	return pid;
}

static int
bench_replace(int k, const char *rundir)
{
	int i;

	for (i = 0; i < k; i++) {
		json_t *l = list_vmis(), *v, *names = json_object();
		struct count c = { 0, names, 0 };
		const char *victim = NULL;
		uint64_t t0, t1;
		size_t j;
		pid_t pid = -1;

		json_array_foreach(l, j, v) {
			json_object_set_new(names, str_at(v, "metadata",
			    "name"), json_true());
			if (is_running(v)) {
				c.want++;
				if (pid <= 0) {
					victim = str_at(v, "metadata", "name");
					pid = vmm_pid(rundir, victim);
				}
			}
		}
		if (pid <= 0)
			die("no Running VMI with a VMM pid under %s", rundir);
		t0 = now_us();
		if (kill(pid, SIGKILL) < 0)
			die("kill %d: %s", (int)pid, strerror(errno));
		t1 = wait_until(cond_n_running, &c, LIST_MS / 2,
		    "the replacement Running");
		printf("sample %d %.2f %s\n", i, (double)(t1 - t0) / 1000.0,
		    victim);
		fflush(stdout);
		json_decref(l);
		json_decref(names);
		usleep(200000);	/* let the finished VMI's clean-up settle */
	}
	return 0;
}

static int
cond_no_vmis(void *arg)
{
	json_t *l = list_vmis();
	size_t n = json_array_size(l);

	(void)arg;
	json_decref(l);
	return n == 0;
}

static int
bench_down(void)
{
	apply_rs(0);
	wait_until(cond_no_vmis, NULL, LIST_MS, "no VMI left");
	json_decref(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "delete",
	    "kind", "VirtualMachineInstanceReplicaSet", "name", RS_NAME,
	    "namespace", ns)));
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: agentbench SOCKET NS IMAGE latency N | "
		    "scale N | replace K RUNDIR | down\n");
		return 2;
	}
	ns = argv[2];
	image = argv[3];
	connect_to(argv[1]);
	if (strcmp(argv[4], "latency") == 0 && argc == 6)
		return bench_latency(atoi(argv[5]));
	if (strcmp(argv[4], "scale") == 0 && argc == 6)
		return bench_scale(atoi(argv[5]));
	if (strcmp(argv[4], "replace") == 0 && argc == 7)
		return bench_replace(atoi(argv[5]), argv[6]);
	if (strcmp(argv[4], "down") == 0 && argc == 5)
		return bench_down();
	fprintf(stderr, "agentbench: bad arguments\n");
	return 2;
}
