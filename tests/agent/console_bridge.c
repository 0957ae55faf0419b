/*
 * console_bridge.c: the console subresource's handler (agent/
 * kapi_console.c) against the real VMI runtime: the real store, loop,
 * runtime and drover-vmm booting the PVH test payload in echo mode
 * ("boottimer echo": it upper-cases what it reads). Only the transport is
 * a stand-in (tests/agent/kapi_fake.c). Run by tests/agent/
 * console-bridge.sh, which builds the disk:
 *
 *   console_bridge VMM DISK_ECHO
 *
 * Checks: a VMI that does not fit (Pending) gets 400, the Running one is
 * bridged (the payload's greeting, typed bytes echoed), a second session
 * takes over (the first is closed, the second types), the VMM killed:
 * the session ends and the Failed VMI gets 409, an unknown VMI 404.
 * Prints TAP lines. Root and /dev/kvm, else SKIP.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "kapi_console.h"
#include "kapi_fake.h"
#include "log.h"
#include "loop.h"
#include "looptap.h"
#include "manifest.h"
#include "runtime.h"
#include "store.h"

#define NS	"bob"
#define MI	(1LL << 20)

struct kapi {
	struct store *s;
	struct rt *rt;
	struct loop *l;
};

static struct kapi K;
static char tmp[64], run_dir[96], state_dir[96];
static char images_dir[512];	/* the disk's directory */

struct store *kapi_store(struct kapi *k) { return k->s; }
struct rt *kapi_rt(struct kapi *k) { return k->rt; }
struct loop *kapi_loop(struct kapi *k) { return k->l; }

/* A waiter on the loop (cond takes any argument). */
typedef int (*cond_fn)(const void *arg);

static int
wait_for(cond_fn cond, const void *arg, unsigned ms)
{
	return looptap_wait(K.l, cond, arg, ms);
}

static const char *
phase_of(const char *name)
{
	static char buf[32];
	json_t *v = store_get(K.s, "VirtualMachineInstance", NS, name);
	const char *p = v ? manifest_str(v, "status.phase") : NULL;

	snprintf(buf, sizeof(buf), "%s", p ? p : "(none)");
	json_decref(v);
	return buf;
}

static int
is_running(const void *name)
{
	return strcmp(phase_of(name), "Running") == 0;
}

static int
is_failed(const void *name)
{
	return strcmp(phase_of(name), "Failed") == 0;
}

static int
is_pending(const void *name)
{
	return strcmp(phase_of(name), "Pending") == 0;
}

struct want {
	struct kapi_conn *c;
	const char *text;	/* NULL: wait for the close */
};

static int
saw(const void *arg)
{
	const struct want *w = arg;

	return w->text ? kapi_fake_saw(w->c, w->text) : w->c->closed;
}

static int
expect(struct kapi_conn *c, const char *text, unsigned ms)
{
	struct want w = { c, text };

	return wait_for(saw, &w, ms);
}

/* ---- objects --------------------------------------------------------- */

static int
create_vmi(const char *name, const char *disk, const char *memory)
{
	char err[256] = "";
	json_t *v = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:{s:{s:[{s:s,"
	    " s:{s:s}}]}, s:{s:{s:s}}}, s:[{s:s, s:{s:s}}]}}",
	    "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
	    "metadata", "name", name, "namespace", NS,
	    "spec", "terminationGracePeriodSeconds", 1,
	    "domain", "devices", "disks", "name", "containerdisk",
	    "disk", "bus", "virtio",
	    "resources", "requests", "memory", memory,
	    "volumes", "name", "containerdisk", "containerDisk", "image", disk);
	int rc;

	if (!v)
		return -1;
	rc = store_create(K.s, v, NULL, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "# create %s: %s\n", name, err);
	json_decref(v);
	return rc;
}

/* The drover-vmm whose command line names the VMI's run dir. */
static pid_t
vmm_pid(const char *name)
{
	char want[256], path[300], cmd[4096];
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t pid = 0;

	snprintf(want, sizeof(want), "%s/vmi/%s/%s/", run_dir, NS, name);
	while (d && (e = readdir(d))) {
		FILE *f;
		size_t n;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, "drover-vmm") && strstr(cmd, want)) {
			pid = atoi(e->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
	return pid;
}

static const struct kapi_req WS = {
	.method = "GET", .path = "/console", .query = "",
	.content_type = "", .accept = "", .upgrade = "websocket",
	.ws_protocols = KAPI_CONSOLE_PROTOCOL, .body = "", .body_len = 0,
};

/* A refusal: status and a word of the message. */
static void
refused(const char *name, int status, const char *text, const char *what)
{
	struct kapi_conn *c = calloc(1, sizeof(*c));

	kapi_console_handle(&K, c, &WS, NS, name);
	looptap_check(c->status == status && strstr(c->body, text) && !c->accepted,
	    what, "status %d, body %s", c->status, c->body);
	free(c);
}

static void
run(const char *disk)
{
	struct kapi_conn *a = calloc(1, sizeof(*a));
	struct kapi_conn *b = calloc(1, sizeof(*b));
	pid_t pid;

	looptap_check(create_vmi("echo1", disk, "64Mi") == 0 &&
	    create_vmi("toobig", disk, "64Gi") == 0, "VMIs created", NULL);
	looptap_check(wait_for(is_pending, "toobig", 5000),
	    "a VMI that does not fit stays Pending", "%s", phase_of("toobig"));
	refused("toobig", 400, "phase is Pending instead of Running",
	    "console of a Pending VMI: 400");
	looptap_check(wait_for(is_running, "echo1", 30000), "echo1 Running", "%s",
	    phase_of("echo1"));

	kapi_console_handle(&K, a, &WS, NS, "echo1");
	looptap_check(a->accepted && !a->status, "console accepted (101)",
	    "status %d %s", a->status, a->body);
	if (!a->accepted)
		goto out;
	looptap_check(expect(a, "echo ready", 10000), "the guest's output arrives",
	    "got %zu bytes", a->nout);
	kapi_fake_type(a, "hello");
	looptap_check(expect(a, "HELLO", 10000), "typed bytes reach the guest and "
	    "its echo comes back", "got %.*s", (int)a->nout, a->out);

	kapi_console_handle(&K, b, &WS, NS, "echo1");
	looptap_check(b->accepted && a->closed, "a second session takes over: the "
	    "first is closed", "accepted %d, first closed %d", b->accepted,
	    a->closed);
	if (b->accepted) {
		kapi_fake_type(b, "world");
		looptap_check(expect(b, "WORLD", 10000), "the new session types",
		    NULL);
	}

	pid = vmm_pid("echo1");
	looptap_check(pid > 0 && kill(pid, SIGKILL) == 0, "the VMM killed", NULL);
	looptap_check(b->accepted && expect(b, NULL, 10000), "the VMM gone: the "
	    "session is closed", NULL);
	looptap_check(wait_for(is_failed, "echo1", 10000), "echo1 Failed", "%s",
	    phase_of("echo1"));
	refused("echo1", 409, "VMI is in failed status",
	    "console of a Failed VMI: 409");
	refused("nope", 404, "\\\"nope\\\" not found",
	    "console of an unknown VMI: 404");
	looptap_check(a->misuse == 0 && b->misuse == 0, "the transport contract kept",
	    NULL);
out:
	free(a);
	free(b);
}

static void
cleanup(void)
{
	char cmd[256];

	pid_t p = vmm_pid("echo1");

	if (p > 0)
		kill(p, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", tmp);
}

int
main(int argc, char **argv)
{
	struct rt_config cfg = {
		.run_dir = run_dir, .state_dir = state_dir,
		.node_name = "edge1", .poll_ms = 100,
		.capacity_cpu_milli = 4000, .capacity_memory = 4096 * MI,
		.vmm_overhead = 16 * MI, .images_dir = images_dir,
	};
	char err[256] = "";

	looptap_prefix("console-bridge");
	if (argc != 3) {
		fprintf(stderr, "usage: console_bridge VMM DISK_ECHO\n");
		return 2;
	}
	if (geteuid() != 0 || access("/dev/kvm", W_OK) != 0) {
		printf("ok - console-bridge # SKIP needs root and /dev/kvm\n");
		return 0;
	}
	log_init("console_bridge", LOG_LEVEL_WARN);
	snprintf(images_dir, sizeof(images_dir), "%s", argv[2]);
	if (strrchr(images_dir, '/'))
		*strrchr(images_dir, '/') = '\0';
	snprintf(tmp, sizeof(tmp), "/tmp/console-bridge.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(run_dir, sizeof(run_dir), "%s/run", tmp);
	snprintf(state_dir, sizeof(state_dir), "%s/state", tmp);
	cfg.vmm_path = argv[1];
	if (store_open(state_dir, &K.s, err, sizeof(err)) < 0 ||
	    !(K.l = loop_new()) ||
	    !(K.rt = rt_new(K.l, K.s, NULL, &cfg, err, sizeof(err)))) {
		printf("not ok - console-bridge: set-up # %s\n", err);
		cleanup();
		return 1;
	}
	run(argv[2]);
	kapi_console_shutdown(&K);
	cleanup();
	rt_free(K.rt);
	loop_free(K.l);
	store_close(K.s);
	return looptap_failures ? 1 : 0;
}
