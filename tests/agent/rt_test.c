/*
 * rt_test.c: the VMI runtime on the bare host, with the real store, loop
 * and drover-vmm booting the PVH test payload from a containerDisk (an
 * ext2 image whose /boot/grub/menu.lst names the payload). Run by
 * tests/agent/runtime-vmi.sh, which builds the disks:
 *
 *   rt_test VMM DISK_SPIN DISK_REBOOT DISK_NOBOOT DISK_STOP DISK_LOGIN
 *
 * DISK_SPIN boots "boottimer spin" (reports boot, then idles), DISK_REBOOT
 * "boottimer" (reports boot, then resets: exit 3), DISK_NOBOOT has no
 * GRUB config, DISK_STOP "boottimer ctrlaltdel" (shuts down on the
 * graceful stop), DISK_LOGIN "spin login:" (no boot-timer mark; its
 * command line, echoed on the console, says "login:"). Prints TAP lines. Needs root (the run dir's VMMs open
 * /dev/kvm) and /dev/kvm; SKIPs without.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "loop.h"
#include "looptap.h"
#include "manifest.h"
#include "runtime.h"
#include "store.h"

#define NS	"alice"
#define MI	(1LL << 20)

static struct loop *L;
static struct store *S;
static struct rt *RT;
static char tmp[64], run_dir[80], state_dir[96], cg_parent[48];
/* The disk dirs' root: "" is the default, <state_dir>/ephemeral. */
static char eph_dir[96];
static const char *vmm, *disk_spin, *disk_reboot, *disk_noboot, *disk_stop;
static const char *disk_login;
/* The image store: the disks' directory (containerDisk.image is a path). */
static char images_dir[512];

/* ---- the loop until a condition holds ---------------------------------- */

/* A VMI-name condition, run on the loop until it holds (looptap_wait). */
typedef int (*cond_fn)(const char *name);

static int
wait_cond(const void *arg)
{
	const struct { cond_fn cond; const char *name; } *w = arg;

	return w->cond(w->name);
}

static int
wait_for(cond_fn cond, const char *name, unsigned ms)
{
	struct { cond_fn cond; const char *name; } w = { cond, name };

	return looptap_wait(L, wait_cond, &w, ms);
}

/* ---- objects ----------------------------------------------------------- */

static json_t *
vmi_get(const char *name)
{
	return store_get(S, "VirtualMachineInstance", NS, name);
}

static char *
vmi_str(const char *name, const char *dotted)
{
	json_t *v = vmi_get(name);
	const char *s = v ? manifest_str(v, dotted) : NULL;
	char *out = s ? strdup(s) : NULL;

	json_decref(v);
	return out;
}

/* The phase for messages (a static buffer). */
static const char *
phase_of(const char *name)
{
	static char buf[32];
	char *s = vmi_str(name, "status.phase");

	snprintf(buf, sizeof(buf), "%s", s ? s : "(none)");
	free(s);
	return buf;
}

static int
str_is(char *s, const char *want)
{
	int r = s && strcmp(s, want) == 0;

	free(s);
	return r;
}

static json_t *
cond_get(const json_t *obj, const char *type)
{
	const json_t *conds = json_object_get(json_object_get(obj, "status"),
	    "conditions");
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")) ?
		    json_string_value(json_object_get(c, "type")) : "",
		    type) == 0)
			return c;
	return NULL;
}

static int
cond_is(const char *name, const char *type, const char *status,
    const char *reason)
{
	json_t *v = vmi_get(name), *c = cond_get(v, type);
	const char *s = json_string_value(json_object_get(c, "status"));
	const char *r = json_string_value(json_object_get(c, "reason"));
	int ok = s && strcmp(s, status) == 0 && (reason == NULL ||
	    (r && strcmp(r, reason) == 0));

	json_decref(v);
	return ok;
}

static int
is_running_ready(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Running") &&
	    cond_is(name, "Ready", "True", NULL);
}

static int
is_failed(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Failed");
}

static int
is_succeeded(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Succeeded");
}

static int
is_gone(const char *name)
{
	json_t *v = vmi_get(name);

	json_decref(v);
	return v == NULL;
}

static int
is_unschedulable(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Pending") &&
	    cond_is(name, "PodScheduled", "False", "Unschedulable");
}

static int
is_image_wait(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Pending") &&
	    cond_is(name, "Ready", "False", "ErrImagePull");
}

static const char *vmi_yaml =
"apiVersion: kubevirt.io/v1\n"
"kind: VirtualMachineInstance\n"
"metadata:\n"
"  name: %s\n"
"  namespace: " NS "\n"
"  labels:\n"
"    kubevirt.io/domain: lab05-cirros\n"
"spec:\n"
"  terminationGracePeriodSeconds: %d\n"
"  domain:\n"
"    cpu:\n"
"      cores: 1\n"
"    devices:\n"
"      disks:\n"
"      - name: containerdisk\n"
"        disk:\n"
"          bus: virtio\n"
"      - name: cloudinitdisk\n"
"        disk:\n"
"          bus: virtio\n"
"      - name: scratch\n"
"        disk:\n"
"          bus: virtio\n"
"    resources:\n"
"      limits:\n"
"        cpu: 300m\n"
"      requests:\n"
"        cpu: 100m\n"
"        memory: %s\n"
"  volumes:\n"
"  - name: containerdisk\n"
"    containerDisk:\n"
"      image: %s\n"
"  - name: cloudinitdisk\n"
"    cloudInitNoCloud:\n"
"      userData: |\n"
"        #cloud-config\n"
"  - name: scratch\n"
"    emptyDisk:\n"
"      capacity: 64Mi\n";

static int
vmi_create(const char *name, const char *image, const char *mem, int grace)
{
	char buf[4096], err[256] = "";
	json_t *docs, *status = NULL, *obj;
	int rc;

	snprintf(buf, sizeof(buf), vmi_yaml, name, grace, mem, image);
	docs = manifest_parse(buf, strlen(buf), &status);
	if (docs == NULL)
		return -EINVAL;
	obj = json_array_get(docs, 0);
	if (manifest_admit(obj, MANIFEST_STRICT, &status) < 0) {
		fprintf(stderr, "# admit: %s\n", manifest_status_message(status));
		json_decref(status);
		json_decref(docs);
		return -EINVAL;
	}
	rc = store_create(S, obj, NULL, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "# create %s: %s\n", name, err);
	json_decref(docs);
	return rc;
}

static int
vmi_delete(const char *name)
{
	char err[256] = "";

	return store_delete(S, "VirtualMachineInstance", NS, name, err,
	    sizeof(err));
}

/* The VMM's pid from the run dir's state file. */
static pid_t
vmm_pid(const char *name)
{
	char path[256];
	json_t *j;
	pid_t pid = 0;

	snprintf(path, sizeof(path), "%s/vmi/" NS "/%s/state.json", run_dir,
	    name);
	if ((j = json_load_file(path, 0, NULL)) != NULL)
		pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	return pid;
}

static int
path_exists(const char *fmt, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), fmt, run_dir, name);
	return stat(path, &st) == 0;
}

/* A file in the VMI's disk dir <ephemeral>/NS/<name>/. */
static int
disk_exists(const char *name, const char *file)
{
	char path[512];
	struct stat st;

	if (eph_dir[0])
		snprintf(path, sizeof(path), "%s/" NS "/%s/%s", eph_dir, name,
		    file);
	else
		snprintf(path, sizeof(path), "%s/ephemeral/" NS "/%s/%s",
		    state_dir, name, file);
	return stat(path, &st) == 0;
}

static json_t *
pod_of(const char *name)
{
	json_t *pods = store_list(S, "Pod", NS), *p, *found = NULL;
	size_t i;

	json_array_foreach(pods, i, p) {
		const json_t *refs = json_object_get(json_object_get(p,
		    "metadata"), "ownerReferences");
		const char *owner = json_string_value(json_object_get(
		    json_array_get(refs, 0), "name"));

		if (owner && strcmp(owner, name) == 0)
			found = json_incref(p);
	}
	json_decref(pods);
	return found;
}

static int
pods_none(const char *name)
{
	json_t *p = pod_of(name);

	json_decref(p);
	return p == NULL;
}

static int
pid_gone(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return pid <= 0 || stat(path, &st) != 0;
}

/* ---- set-up ------------------------------------------------------------ */

static int
open_all(int64_t capacity_mem)
{
	struct rt_config cfg = {
		.run_dir = run_dir, .state_dir = state_dir, .vmm_path = vmm,
		.ephemeral_dir = eph_dir[0] ? eph_dir : NULL,
		.node_name = "edge1", .poll_ms = 100,
		.capacity_cpu_milli = 4000, .capacity_memory = capacity_mem,
		.vmm_overhead = 16 * MI,
		.cgroup_root = "/sys/fs/cgroup", .cgroup_parent = cg_parent,
		.vmm_user = "65534:65534", .images_dir = images_dir,
	};
	char err[256] = "";

	if (store_open(state_dir, &S, err, sizeof(err)) < 0) {
		fprintf(stderr, "# store: %s\n", err);
		return -1;
	}
	if ((L = loop_new()) == NULL)
		return -1;
	if ((RT = rt_new(L, S, NULL, &cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "# rt_new: %s\n", err);
		return -1;
	}
	return 0;
}

static void
close_all(void)
{
	rt_free(RT);
	loop_free(L);
	store_close(S);
	RT = NULL;
	L = NULL;
	S = NULL;
}

static int dir_empty(const char *path);

static int
is_unknown(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Unknown");
}

static int
is_running(const char *name)
{
	return str_is(vmi_str(name, "status.phase"), "Running");
}

/* The VMI's cgroup under the cpu hierarchy (v1) or the unified one. */
static int
cgroup_has(const char *vmi, pid_t pid)
{
	static const char *const roots[] = { "/sys/fs/cgroup/cpu",
	    "/sys/fs/cgroup" };
	char path[256], line[32];
	int found = 0;
	FILE *f;

	for (int i = 0; i < 2 && !found; i++) {
		snprintf(path, sizeof(path), "%s/%s/" NS ".%s/cgroup.procs",
		    roots[i], cg_parent, vmi);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		found = pid == 0;
		while (fgets(line, sizeof(line), f))
			found |= atoi(line) == pid;
		fclose(f);
	}
	return found;
}

/* A VMM that stops answering (SIGSTOP): Unknown; SIGCONT: Running. */
static void
test_unknown(const char *name)
{
	pid_t pid = vmm_pid(name);

	looptap_check(pid > 0 && kill(pid, SIGSTOP) == 0 &&
	    wait_for(is_unknown, name, 10000),
	    "a VMM that stops answering: Unknown", "phase %s", phase_of(name));
	looptap_check(kill(pid, SIGCONT) == 0 && wait_for(is_running, name, 10000),
	    "it answers again: Running", "phase %s", phase_of(name));
}

/* ---- tests ------------------------------------------------------------- */

static void
test_run_and_kill(void)
{
	json_t *v, *pod, *node;
	const char *s;
	pid_t pid;

	looptap_check(vmi_create("vm1", disk_spin, "64Mi", 30) == 0, "VMI created",
	    NULL);
	looptap_check(wait_for(is_running_ready, "vm1", 20000),
	    "VMI goes Running and Ready (guest boot reported)", "phase %s",
	    phase_of("vm1"));
	v = vmi_get("vm1");
	s = manifest_str(v, "status.nodeName");
	looptap_check(s && strcmp(s, "edge1") == 0, "status.nodeName is the node",
	    "%s", s ? s : "none");
	looptap_check(cond_is("vm1", "PodScheduled", "True", NULL),
	    "PodScheduled=True", NULL);
	looptap_check(json_array_size(json_object_get(json_object_get(v, "status"),
	    "phaseTransitionTimestamps")) >= 3,
	    "phaseTransitionTimestamps recorded", NULL);
	s = json_string_value(json_array_get(json_object_get(json_object_get(v,
	    "metadata"), "finalizers"), 0));
	looptap_check(s && strcmp(s, RT_FINALIZER) == 0,
	    "the runtime's finalizer is on the VMI", NULL);
	json_decref(v);
	pod = pod_of("vm1");
	s = pod ? manifest_str(pod, "metadata.name") : NULL;
	looptap_check(s && strncmp(s, "virt-launcher-vm1-", 18) == 0 &&
	    strlen(s) == 23, "Pod virt-launcher-vm1-XXXXX exists", "%s",
	    s ? s : "none");
	s = pod ? manifest_str(pod, "status.phase") : NULL;
	looptap_check(s && strcmp(s, "Running") == 0, "Pod phase mirrors (Running)",
	    "%s", s ? s : "none");
	s = pod ? json_string_value(json_object_get(json_object_get(
	    json_object_get(pod, "metadata"), "labels"),
	    "kubevirt.io/domain")) : NULL;
	looptap_check(s && strcmp(s, "lab05-cirros") == 0,
	    "Pod carries the VMI's labels", NULL);
	s = pod ? json_string_value(json_object_get(json_object_get(
	    json_object_get(pod, "metadata"), "annotations"),
	    RT_CGROUP_ANNOTATION)) : NULL;
	{
		char cg[256] = "";

		looptap_check(s && strcmp(s, NS ".vm1") == 0 && rt_cgroup_of(RT, NS,
		    "vm1", cg, sizeof(cg)) == 0 && strcmp(cg, s) == 0,
		    "Pod and rt_cgroup_of() name the VMI's cgroup", "%s",
		    s ? s : "none");
	}
	json_decref(pod);
	node = store_get(S, "Node", "", "edge1");
	looptap_check(node && manifest_str(node, "status.allocatable.memory"),
	    "Node object with allocatable", NULL);
	json_decref(node);
	looptap_check(disk_exists("vm1", "disk0.qcow2") &&
	    disk_exists("vm1", "cidata1.iso") &&
	    disk_exists("vm1", "empty2.raw") &&
	    !path_exists("%s/vmi/" NS "/%s/disk0.qcow2", "vm1") &&
	    path_exists("%s/vmi/" NS "/%s/control.sock", "vm1") &&
	    path_exists("%s/vmi/" NS "/%s/vm.json", "vm1"),
	    "the disk dir under the state dir holds the overlay, the seed, "
	    "the empty disk; the run dir vm.json and the sockets", NULL);
	pid = vmm_pid("vm1");
	looptap_check(pid > 0 && getsid(pid) == pid,
	    "drover-vmm runs in its own session", "pid %d sid %d", (int)pid,
	    (int)getsid(pid));
	looptap_check(cgroup_has("vm1", pid), "drover-vmm runs in the VMI's cgroup",
	    NULL);
	{
		char path[64];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		looptap_check(stat(path, &st) == 0 && st.st_uid == 65534,
		    "drover-vmm dropped to the configured user (65534)",
		    "uid %d", (int)st.st_uid);
	}
	test_unknown("vm1");
	looptap_check(pid > 0 && kill(pid, SIGKILL) == 0, "kill -9 drover-vmm", NULL);
	looptap_check(wait_for(is_failed, "vm1", 10000), "killed VMM: VMI Failed",
	    "phase %s", phase_of("vm1"));
	looptap_check(cond_is("vm1", "Ready", "False", "VMMKilled"),
	    "Ready=False says VMMKilled", NULL);
	looptap_check(!path_exists("%s/vmi/" NS "/%s", "vm1"),
	    "Failed VMI: run dir removed", NULL);
	looptap_check(!cgroup_has("vm1", 0), "Failed VMI: cgroup removed", NULL);
	looptap_check(vmi_delete("vm1") == 0 && wait_for(is_gone, "vm1", 10000),
	    "delete: the VMI goes (finalizer removed)", NULL);
	looptap_check(wait_for(pods_none, "vm1", 5000), "delete: its Pod goes", NULL);
}

static void
test_schedule(void)
{
	pid_t pid;

	/* 160 MiB allocatable: one 64Mi VMI (+16Mi overhead) fits. */
	looptap_check(vmi_create("big1", disk_spin, "100Mi", 1) == 0 &&
	    vmi_create("big2", disk_spin, "100Mi", 1) == 0,
	    "two VMIs of 100Mi on a 160Mi node", NULL);
	looptap_check(wait_for(is_running_ready, "big1", 20000), "the first runs", NULL);
	looptap_check(wait_for(is_unschedulable, "big2", 5000),
	    "the second is Pending, PodScheduled=False Unschedulable", NULL);
	{
		json_t *v = vmi_get("big2");
		const char *m = json_string_value(json_object_get(cond_get(v,
		    "PodScheduled"), "message"));

		looptap_check(m && strcmp(m, "0/1 nodes are available: 1 Insufficient "
		    "memory.") == 0, "the scheduler's message", "%s",
		    m ? m : "none");
		json_decref(v);
	}
	pid = vmm_pid("big1");
	/* Grace 1 s; "spin" ignores Ctrl+Alt+Del: stop, then kill. */
	looptap_check(vmi_delete("big1") == 0 && wait_for(is_gone, "big1", 15000),
	    "delete of a guest that ignores the stop: gone after the grace "
	    "period", NULL);
	looptap_check(pid_gone(pid), "its VMM process is gone", "pid %d", (int)pid);
	looptap_check(wait_for(is_running_ready, "big2", 20000),
	    "room appeared: the second starts", NULL);
	looptap_check(vmi_delete("big2") == 0 && wait_for(is_gone, "big2", 15000),
	    "delete the second", NULL);
}

static int
restarted(const char *name)
{
	char path[256];
	json_t *j;
	int n = 0;

	snprintf(path, sizeof(path), "%s/vmi/" NS "/%s/state.json", run_dir,
	    name);
	if ((j = json_load_file(path, 0, NULL)) != NULL)
		n = (int)json_integer_value(json_object_get(j, "restarts"));
	json_decref(j);
	return n >= 2;
}

static void
test_reboot_and_stop(void)
{
	uint64_t t0;

	looptap_check(vmi_create("rb", disk_reboot, "64Mi", 30) == 0 &&
	    wait_for(restarted, "rb", 20000),
	    "guest reboot (exit 3): drover-vmm restarted in place", NULL);
	looptap_check(str_is(vmi_str("rb", "status.phase"), "Running"),
	    "a rebooting VMI stays Running", "%s", phase_of("rb"));
	looptap_check(vmi_delete("rb") == 0 && wait_for(is_gone, "rb", 15000),
	    "delete a rebooting VMI", NULL);
	looptap_check(vmi_create("st", disk_stop, "64Mi", 30) == 0 &&
	    wait_for(is_running_ready, "st", 20000), "a VMI that obeys stop",
	    NULL);
	t0 = loop_now_ms();
	looptap_check(vmi_delete("st") == 0 && wait_for(is_gone, "st", 15000) &&
	    loop_now_ms() - t0 < 10000,
	    "graceful delete: the guest shuts down well before the 30 s grace",
	    "%llu ms", (unsigned long long)(loop_now_ms() - t0));
}

static int
listen_tcp(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0 || getsockname(fd, (struct sockaddr *)&sa,
	    &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
not_ready(const char *name)
{
	return cond_is(name, "Ready", "False", "ContainersNotReady");
}

/*
 * Probes (probe.h) against a port on the host (the VMI has no IP before
 * networking, issue 7): a readinessProbe decides Ready; a failing
 * livenessProbe ends the VMI.
 */
static void
test_probes(void)
{
	char buf[4096];
	json_t *docs, *obj, *st = NULL;
	int port = 0, fd = listen_tcp(&port), ok;

	if (fd < 0) {
		looptap_check(0, "a TCP listener for the probe", NULL);
		return;
	}
	snprintf(buf, sizeof(buf), vmi_yaml, "pr", 1, "64Mi", disk_spin);
	docs = manifest_parse(buf, strlen(buf), &st);
	obj = json_array_get(docs, 0);
	json_object_set_new(json_object_get(obj, "spec"), "readinessProbe",
	    json_pack("{s:{s:s, s:i}, s:i, s:i}", "tcpSocket", "host",
	    "127.0.0.1", "port", port, "periodSeconds", 1, "failureThreshold",
	    1));
	ok = obj && manifest_admit(obj, MANIFEST_STRICT, &st) == 0 &&
	    store_create(S, obj, NULL, NULL, 0) == 0;
	if (!ok)
		fprintf(stderr, "# %s\n", st ? manifest_status_message(st) : "");
	json_decref(st);
	json_decref(docs);
	looptap_check(ok && wait_for(is_running_ready, "pr", 20000),
	    "readinessProbe (tcpSocket) passes: Ready", "phase %s",
	    phase_of("pr"));
	close(fd);
	looptap_check(wait_for(not_ready, "pr", 10000),
	    "readinessProbe fails: Ready=False, still Running",
	    "phase %s", phase_of("pr"));
	looptap_check(vmi_delete("pr") == 0 && wait_for(is_gone, "pr", 15000),
	    "delete it", NULL);

	/* A liveness probe on the now closed port: the VMI fails. */
	snprintf(buf, sizeof(buf), vmi_yaml, "lp", 1, "64Mi", disk_spin);
	docs = manifest_parse(buf, strlen(buf), &st);
	obj = json_array_get(docs, 0);
	json_object_set_new(json_object_get(obj, "spec"), "livenessProbe",
	    json_pack("{s:{s:s, s:i}, s:i, s:i}", "tcpSocket", "host",
	    "127.0.0.1", "port", port, "periodSeconds", 1, "failureThreshold",
	    1));
	ok = obj && manifest_admit(obj, MANIFEST_STRICT, &st) == 0 &&
	    store_create(S, obj, NULL, NULL, 0) == 0;
	json_decref(st);
	json_decref(docs);
	looptap_check(ok && wait_for(is_failed, "lp", 20000) &&
	    cond_is("lp", "Ready", "False", "LivenessProbeFailed"),
	    "livenessProbe fails: the VMI is Failed (LivenessProbeFailed)",
	    "phase %s", phase_of("lp"));
	looptap_check(vmi_delete("lp") == 0 && wait_for(is_gone, "lp", 15000),
	    "delete it", NULL);
}

/* A 200-character name: its sockets would pass sun_path's 108 bytes. */
static void
test_long_name(void)
{
	char name[201], path[160], epath[160];
	json_t *pod;
	const char *pn;

	memset(name, 'l', 200);
	name[200] = '\0';
	looptap_check(vmi_create(name, disk_spin, "64Mi", 1) == 0 &&
	    wait_for(is_running_ready, name, 20000),
	    "a VMI with a 200-character name runs (hashed run dir)", "phase %s",
	    phase_of(name));
	snprintf(path, sizeof(path), "%s/vmi/_", run_dir);
	snprintf(epath, sizeof(epath), "%s/ephemeral/_", state_dir);
	looptap_check(!dir_empty(path) && !dir_empty(epath),
	    "its run dir is under vmi/_/, its disk dir under ephemeral/_/", NULL);
	pod = pod_of(name);
	pn = pod ? manifest_str(pod, "metadata.name") : NULL;
	looptap_check(pn && strlen(pn) == 63, "its Pod name is cut to 63 characters",
	    "%s", pn ? pn : "none");
	json_decref(pod);
	looptap_check(vmi_delete(name) == 0 && wait_for(is_gone, name, 15000) &&
	    dir_empty(path) && dir_empty(epath), "delete it: nothing left",
	    NULL);
}

/* A guest without the boot timer: "login:" on its console means booted. */
static void
test_login(void)
{
	looptap_check(vmi_create("lg", disk_login, "64Mi", 1) == 0 &&
	    wait_for(is_running_ready, "lg", 20000),
	    "Ready from \"login:\" on the console (no boot-timer mark)",
	    "phase %s", phase_of("lg"));
	looptap_check(vmi_delete("lg") == 0 && wait_for(is_gone, "lg", 15000),
	    "delete it", NULL);
}

static void
test_bad_input(void)
{
	json_t *v;
	const char *m;

	looptap_check(vmi_create("noimg", "/nonexistent/disk.qcow2", "64Mi", 1) == 0 &&
	    wait_for(is_image_wait, "noimg", 5000),
	    "missing image: Pending, Ready=False ErrImagePull", NULL);
	looptap_check(vmi_delete("noimg") == 0 && wait_for(is_gone, "noimg", 5000),
	    "delete a Pending VMI", NULL);
	looptap_check(vmi_create("noboot", disk_noboot, "64Mi", 1) == 0 &&
	    wait_for(is_failed, "noboot", 15000),
	    "a disk with nothing to boot: Failed", NULL);
	v = vmi_get("noboot");
	m = json_string_value(json_object_get(cond_get(v, "Ready"), "message"));
	looptap_check(m && strstr(m, "exit status 2") && strstr(m, "boot"),
	    "its message says why (the VMM's own words)", "%s", m ? m : "none");
	json_decref(v);
	looptap_check(vmi_delete("noboot") == 0 && wait_for(is_gone, "noboot", 5000),
	    "delete a Failed VMI", NULL);
}

static int
wait_exit_file(const char *name)
{
	char path[256], buf[8] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/vmi/" NS "/%s/exit", run_dir, name);
	for (int i = 0; i < 500; i++) {
		if ((f = fopen(path, "r")) != NULL) {
			int n = (int)fread(buf, 1, sizeof(buf) - 1, f);

			fclose(f);
			if (n > 0)
				return 1;
		}
		usleep(20000);
	}
	return 0;
}

/*
 * droverd dies (a child process that runs the runtime and _exits with
 * the VMM running, as kill -9 would leave it); a new runtime adopts it.
 */
static void
test_adopt(void)
{
	pid_t child, pid;
	int st = 0, ok;

	child = fork();
	if (child == 0) {
		if (open_all(4096 * MI) < 0)
			_exit(2);
		if (vmi_create("ad", disk_stop, "64Mi", 30) < 0 ||
		    vmi_create("ad2", disk_stop, "64Mi", 30) < 0 ||
		    !wait_for(is_running_ready, "ad", 20000) ||
		    !wait_for(is_running_ready, "ad2", 20000))
			_exit(3);
		_exit(0);		/* no clean-up: as kill -9 */
	}
	waitpid(child, &st, 0);
	looptap_check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "first droverd runs a VMI, then dies", "status %d", st);
	pid = vmm_pid("ad");
	looptap_check(pid > 0 && !pid_gone(pid), "its drover-vmm outlives it", NULL);
	/* ad2's VMM ends while no droverd runs: its exit file keeps 0. */
	looptap_check(kill(vmm_pid("ad2"), SIGTERM) == 0 && wait_exit_file("ad2"),
	    "a VMM ends while droverd is down (exit file written)", NULL);
	if (open_all(4096 * MI) < 0) {
		looptap_check(0, "second droverd starts", NULL);
		return;
	}
	looptap_check(wait_for(is_succeeded, "ad2", 5000),
	    "restarted droverd: the VMI whose VMM ended is Succeeded (exit "
	    "file)", "phase %s", phase_of("ad2"));
	looptap_check(vmi_delete("ad2") == 0 && wait_for(is_gone, "ad2", 5000),
	    "delete it", NULL);
	ok = wait_for(is_running_ready, "ad", 5000);
	looptap_check(ok && vmm_pid("ad") == pid,
	    "restarted droverd adopts the running VMM (same pid, still Running)",
	    NULL);
	/* Not its child: the exit status comes from the exit file. */
	looptap_check(kill(pid, SIGTERM) == 0, "SIGTERM to the adopted VMM", NULL);
	looptap_check(wait_for(is_succeeded, "ad", 15000),
	    "adopted VMM ends: exit status 0 read from its exit file: "
	    "Succeeded", "phase %s", phase_of("ad"));
	looptap_check(cond_is("ad", "Ready", "False", "GuestShutdown"),
	    "Ready=False says GuestShutdown", NULL);
	looptap_check(vmi_delete("ad") == 0 && wait_for(is_gone, "ad", 5000),
	    "delete the adopted VMI", NULL);
}

/* A disk dir root on a 64 KiB tmpfs: the qcow2 overlay cannot be made. */
static void
test_full_disk(void)
{
	char small[80], saved[96], cmd[4096], err[256] = "";
	json_t *docs, *obj, *st = NULL, *v;
	const char *m;
	int ok;

	snprintf(small, sizeof(small), "%.60s/small", tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && mount -t tmpfs -o size=64k "
	    "tmpfs %s 2>/dev/null", small, small);
	if (system(cmd) != 0) {
		printf("ok - runtime: full ephemeral dir # SKIP cannot mount a "
		    "tmpfs\n");
		return;
	}
	close_all();
	snprintf(saved, sizeof(saved), "%s", eph_dir);
	snprintf(eph_dir, sizeof(eph_dir), "%s", small);
	if (open_all(4096 * MI) < 0) {
		looptap_check(0, "runtime on a small ephemeral dir", NULL);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), vmi_yaml, "full", 1, "64Mi", disk_spin);
	docs = manifest_parse(cmd, strlen(cmd), &st);
	obj = json_array_get(docs, 0);
	ok = obj && manifest_admit(obj, MANIFEST_STRICT, &st) == 0 &&
	    store_create(S, obj, NULL, err, sizeof(err)) == 0;
	if (st)
		snprintf(err, sizeof(err), "%s", manifest_status_message(st));
	json_decref(st);
	json_decref(docs);
	looptap_check(ok && wait_for(is_failed, "full", 10000),
	    "full ephemeral dir: the VMI is Failed, droverd carries on", "%s",
	    err);
	v = vmi_get("full");
	m = json_string_value(json_object_get(cond_get(v, "Ready"), "message"));
	looptap_check(m && strstr(m, "No space left on device") &&
	    cond_is("full", "Ready", "False", "FailedCreate"),
	    "its message says the disk is full", "%s", m ? m : "none");
	json_decref(v);
	looptap_check(vmi_delete("full") == 0 && wait_for(is_gone, "full", 5000) &&
	    dir_empty(small), "delete it: its disk dir is gone", NULL);
	close_all();
out:
	snprintf(cmd, sizeof(cmd), "umount %s", small);
	if (system(cmd) != 0)
		fprintf(stderr, "# %s failed\n", cmd);
	snprintf(eph_dir, sizeof(eph_dir), "%s", saved);
	open_all(160 * MI);
}

static int
dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n == 0;
}

int
main(int argc, char **argv)
{
	char vmi_dir[128];

	setvbuf(stdout, NULL, _IOLBF, 0);
	looptap_prefix("runtime");
	if (argc != 7) {
		fprintf(stderr, "usage: rt_test VMM SPIN REBOOT NOBOOT STOP "
		    "LOGIN\n");
		return 2;
	}
	vmm = argv[1];
	disk_spin = argv[2];
	disk_reboot = argv[3];
	disk_noboot = argv[4];
	disk_stop = argv[5];
	disk_login = argv[6];
	snprintf(images_dir, sizeof(images_dir), "%s", disk_spin);
	if (strrchr(images_dir, '/'))
		*strrchr(images_dir, '/') = '\0';
	log_init("rt_test", LOG_LEVEL_INFO);
	if (access("/dev/kvm", R_OK | W_OK) != 0 || geteuid() != 0) {
		printf("ok - runtime # SKIP needs root and /dev/kvm\n");
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/drt.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(run_dir, sizeof(run_dir), "%s/run", tmp);
	snprintf(state_dir, sizeof(state_dir), "%s/state", tmp);
	snprintf(cg_parent, sizeof(cg_parent), "drover-rt-test-%d",
	    (int)getpid());
	test_adopt();
	if (RT == NULL && open_all(160 * MI) < 0) {
		looptap_check(0, "runtime starts", NULL);
		return 1;
	}
	close_all();
	{
		char stray[256];
		struct stat st;

		/* A cgroup a dead droverd left without a VMM in it. */
		snprintf(stray, sizeof(stray), "/sys/fs/cgroup/cpu/%s/ns.stray",
		    cg_parent);
		looptap_check(mkdir(stray, 0755) == 0, "a stray VMI cgroup", "%s: %s",
		    stray, strerror(errno));
		if (open_all(160 * MI) < 0) {
			looptap_check(0, "runtime starts (160Mi node)", NULL);
			return 1;
		}
		looptap_check(stat(stray, &st) != 0,
		    "the runtime removes cgroups no VMM runs in", NULL);
	}
	test_run_and_kill();
	test_schedule();
	test_reboot_and_stop();
	test_login();
	test_long_name();
	test_probes();
	test_bad_input();
	test_full_disk();
	snprintf(vmi_dir, sizeof(vmi_dir), "%s/vmi", run_dir);
	looptap_check(dir_empty(vmi_dir), "nothing left under the run dir", NULL);
	snprintf(vmi_dir, sizeof(vmi_dir), "%s/ephemeral", state_dir);
	looptap_check(dir_empty(vmi_dir), "nothing left under the ephemeral dir", NULL);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "! ls -d /sys/fs/cgroup/*/%s/*/ "
		    "2>/dev/null | grep -q .", cg_parent);
		looptap_check(system(cmd) == 0, "no VMI cgroup left", NULL);
		snprintf(cmd, sizeof(cmd), "rmdir /sys/fs/cgroup/*/%s "
		    "2>/dev/null; true", cg_parent);
		if (system(cmd) != 0)
			fprintf(stderr, "# %s failed\n", cmd);
	}
	close_all();
	if (looptap_failures == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "# %s failed\n", cmd);
	} else
		fprintf(stderr, "# left %s for a look\n", tmp);
	return looptap_failures ? 1 : 0;
}
