/*
 * Unit tests: the VMI runtime's pure parts (agent/rt_spec.c): what the
 * lab's VMI asks of the node, the scheduler's arithmetic and message, the
 * meaning of drover-vmm's exit statuses, the disk plan, vm.json (read
 * back by drover-vmm's own config parser, vmm/config.c), the Pod, run dir
 * and cgroup names. The lab's VMI is made the way droverd makes it: the
 * VMIRS manifest parsed, admitted (defaults) and turned into a VMI by
 * manifest_vmi_from_vmirs().
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "cgroup.h"
#include "config.h"
#include "manifest.h"
#include "priv.h"
#include "rt_int.h"

#define MI (1LL << 20)

/* /work/shared/lab/vmirs_lab05-cirros.yaml, as the users apply it. */
static const char lab_vmirs[] =
"apiVersion: kubevirt.io/v1\n"
"kind: VirtualMachineInstanceReplicaSet\n"
"metadata:\n"
"  name: lab05-cirros-replicaset\n"
"  namespace: alice\n"
"spec:\n"
"  replicas: 2\n"
"  selector:\n"
"    matchLabels:\n"
"      kubevirt.io/domain: lab05-cirros\n"
"  template:\n"
"    metadata:\n"
"      labels:\n"
"        kubevirt.io/domain: lab05-cirros\n"
"    spec:\n"
"      domain:\n"
"        cpu:\n"
"          cores: 1\n"
"        devices:\n"
"          disks:\n"
"            - name: containerdisk\n"
"              disk:\n"
"                bus: virtio\n"
"            - name: cloudinitdisk\n"
"              disk:\n"
"                bus: virtio\n"
"          interfaces:\n"
"          - name: default\n"
"            masquerade: {}\n"
"        resources:\n"
"          limits:\n"
"            cpu: 300m\n"
"          requests:\n"
"            cpu: 100m\n"
"            memory: 265Mi\n"
"      networks:\n"
"      - name: default\n"
"        pod: {}\n"
"      volumes:\n"
"      - name: containerdisk\n"
"        containerDisk:\n"
"          image: quay.io/kubevirt/cirros-container-disk-demo\n"
"      - name: cloudinitdisk\n"
"        cloudInitNoCloud:\n"
"          userData: |\n"
"            #cloud-config\n";

static json_t *
lab_vmi(void)
{
	json_t *status = NULL, *docs, *rs, *vmi;

	docs = manifest_parse(lab_vmirs, strlen(lab_vmirs), &status);
	assert_non_null(docs);
	rs = json_array_get(docs, 0);
	if (manifest_admit(rs, MANIFEST_STRICT, &status) < 0)
		fail_msg("lab VMIRS refused: %s", manifest_status_message(status));
	json_object_set_new(json_object_get(rs, "metadata"), "uid",
	    json_string("0f2e7a5c-1111-4222-8333-944455556666"));
	vmi = manifest_vmi_from_vmirs(rs);
	assert_non_null(vmi);
	json_object_set_new(json_object_get(vmi, "metadata"), "name",
	    json_string("lab05-cirros-replicasetnc5p5"));
	json_decref(docs);
	return vmi;
}

/* ---- resources and scheduling ------------------------------------------ */

static void
test_res_lab(void **state)
{
	json_t *vmi = lab_vmi();
	struct rt_res r;
	char err[256];

	(void)state;
	assert_int_equal(rt_vmi_res(vmi, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.vcpus, 1);
	assert_int_equal(r.guest_memory, 265 * MI);
	assert_int_equal(r.cpu_milli, 100);
	assert_int_equal(r.cpu_limit_milli, 300);
	/* The launcher's request: the VMI's memory plus the VMM overhead
	 * (cgroup.c: 16 MiB + 1 MiB per vCPU + RAM/256, rounded up). */
	assert_int_equal(r.overhead, cg_vmm_overhead(265 * MI, 1));
	assert_int_equal(r.overhead, 19 * MI);
	assert_int_equal(r.memory, 284 * MI);
	assert_int_equal(r.memory_limit, 0);
	/* No memory limit on the VMI: its cgroup still caps guest RAM plus
	 * the overhead. */
	assert_int_equal(r.cgroup_memory, 284 * MI);
	/* A configured overhead wins. */
	assert_int_equal(rt_vmi_res(vmi, 32 * MI, &r, err, sizeof(err)), 0);
	assert_int_equal(r.memory, 297 * MI);
	assert_int_equal(r.cgroup_memory, 297 * MI);
	/* With limits.memory: the limit plus the overhead. */
	json_object_set_new(json_object_get(json_object_get(json_object_get(
	    json_object_get(vmi, "spec"), "domain"), "resources"), "limits"),
	    "memory", json_string("512Mi"));
	assert_int_equal(rt_vmi_res(vmi, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.guest_memory, 265 * MI);	/* the request */
	assert_int_equal(r.memory_limit, 531 * MI);
	assert_int_equal(r.cgroup_memory, 531 * MI);
	json_decref(vmi);
}

static void
test_res_bad(void **state)
{
	json_t *vmi = json_pack("{s:{s:{s:{s:i}}}}", "spec", "domain", "cpu",
	    "cores", 2);
	struct rt_res r;
	char err[256] = "";

	(void)state;
	/* No memory anywhere: refused with a message, never a crash. */
	assert_int_equal(rt_vmi_res(vmi, 0, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "memory"));
	json_decref(vmi);
	assert_int_equal(rt_vmi_res(NULL, 0, &r, err, sizeof(err)), -EINVAL);
}

static void
test_fits(void **state)
{
	struct rt_node n = { .cap_cpu_milli = 2000, .cap_memory = 1024 * MI };
	struct rt_res r = { .cpu_milli = 100, .memory = 284 * MI };
	char msg[160] = "";

	(void)state;
	rt_node_alloc(&n, 100, 64 * MI);
	assert_int_equal(n.alloc_cpu_milli, 1900);
	assert_int_equal(n.alloc_memory, 960 * MI);
	assert_int_equal(n.pods, 110);
	assert_int_equal(rt_fits(&n, 0, 0, &r, msg, sizeof(msg)), 1);
	/* Exactly full still fits; one byte more does not. */
	assert_int_equal(rt_fits(&n, 0, 960 * MI - 284 * MI, &r, msg,
	    sizeof(msg)), 1);
	assert_int_equal(rt_fits(&n, 0, 960 * MI - 284 * MI + 1, &r, msg,
	    sizeof(msg)), 0);
	assert_string_equal(msg, "0/1 nodes are available: 1 Insufficient "
	    "memory.");
	assert_int_equal(rt_fits(&n, 1850, 0, &r, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "0/1 nodes are available: 1 Insufficient cpu.");
	assert_int_equal(rt_fits(&n, 1850, 900 * MI, &r, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "0/1 nodes are available: 1 Insufficient cpu, "
	    "1 Insufficient memory.");
	/* A reserve above capacity leaves nothing, not a negative. */
	rt_node_alloc(&n, 5000, 2048 * MI);
	assert_int_equal(n.alloc_cpu_milli, 0);
	assert_int_equal(n.alloc_memory, 0);
}

/* Three lab VMIs on 700 MiB: two run, the third waits; one ends, it fits. */
static void
test_fits_queue(void **state)
{
	struct rt_node n = { .cap_cpu_milli = 2000, .cap_memory = 700 * MI };
	struct rt_res r = { .cpu_milli = 100, .memory = 284 * MI };
	int64_t cpu = 0, mem = 0;
	char msg[160];
	int started = 0;

	(void)state;
	rt_node_alloc(&n, 0, 0);
	for (int i = 0; i < 3; i++)
		if (rt_fits(&n, cpu, mem, &r, msg, sizeof(msg))) {
			cpu += r.cpu_milli;
			mem += r.memory;
			started++;
		}
	assert_int_equal(started, 2);
	assert_string_equal(msg, "0/1 nodes are available: 1 Insufficient "
	    "memory.");
	cpu -= r.cpu_milli;		/* one VMI removed */
	mem -= r.memory;
	assert_int_equal(rt_fits(&n, cpu, mem, &r, msg, sizeof(msg)), 1);
}

static void
test_capacity(void **state)
{
	int64_t cpu, mem;

	(void)state;
	assert_int_equal(rt_node_capacity(&cpu, &mem), 0);
	assert_true(cpu >= 1000 && cpu % 1000 == 0);
	assert_true(mem > 64 * MI);
}

/* ---- exit statuses ----------------------------------------------------- */

static void
expect_outcome(int code, int sig, enum rt_outcome want, const char *reason)
{
	const char *r = NULL;
	char msg[256] = "";

	assert_int_equal(rt_exit_outcome(code, sig, &r, msg, sizeof(msg)), want);
	assert_string_equal(r, reason);
	assert_true(msg[0] != '\0');
}

static void
test_exit_outcome(void **state)
{
	(void)state;
	expect_outcome(0, 0, RT_OUT_SUCCEEDED, "GuestShutdown");
	expect_outcome(1, 0, RT_OUT_FAILED, "VMMError");
	expect_outcome(2, 0, RT_OUT_FAILED, "InvalidVMConfig");
	expect_outcome(3, 0, RT_OUT_REBOOT, "GuestReboot");
	expect_outcome(4, 0, RT_OUT_FAILED, "GuestCrashed");
	expect_outcome(5, 0, RT_OUT_FAILED, "StoppedByHost");
	expect_outcome(127, 0, RT_OUT_FAILED, "VMMError");
	expect_outcome(-1, 0, RT_OUT_FAILED, "VMMGone");
	expect_outcome(-1, SIGKILL, RT_OUT_FAILED, "VMMKilled");
	expect_outcome(-1, SIGSYS, RT_OUT_FAILED, "VMMSandboxViolation");
}

/* ---- disks and vm.json ------------------------------------------------- */

static int
resolve_lab(void *arg, const char *image, const char *path, char *file,
    size_t filelen, char *fmt, size_t fmtlen, char *err, size_t errlen)
{
	(void)arg;
	assert_null(path);
	if (strcmp(image, "quay.io/kubevirt/cirros-container-disk-demo") != 0) {
		snprintf(err, errlen, "image %s: not present", image);
		return -ENOENT;
	}
	snprintf(file, filelen, "/var/lib/drover/images/blobs/sha256/ab");
	snprintf(fmt, fmtlen, "qcow2");
	return 0;
}

static void
test_plan_lab(void **state)
{
	json_t *vmi = lab_vmi();
	struct rt_disk d[RT_MAX_DISKS];
	unsigned n = 0;
	char err[256];

	(void)state;
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, RT_MAX_DISKS,
	    &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].kind, RT_DISK_CONTAINER);
	assert_string_equal(d[0].file, "disk0.qcow2");
	assert_string_equal(d[0].backing,
	    "/var/lib/drover/images/blobs/sha256/ab");
	assert_string_equal(d[0].backing_fmt, "qcow2");
	assert_int_equal(d[0].ro, 0);
	assert_int_equal(d[1].kind, RT_DISK_CIDATA);
	assert_string_equal(d[1].file, "cidata1.iso");
	assert_int_equal(d[1].ro, 1);
	assert_non_null(json_object_get(d[1].volume_obj, "cloudInitNoCloud"));
	json_decref(vmi);
}

/* bootOrder: drover-vmm boots from its first disk, so that one goes first. */
static void
test_plan_boot_order(void **state)
{
	json_t *vmi = lab_vmi(), *disks;
	struct rt_disk d[RT_MAX_DISKS];
	unsigned n = 0;
	char err[256];

	(void)state;
	disks = json_object_get(json_object_get(json_object_get(json_object_get(
	    vmi, "spec"), "domain"), "devices"), "disks");
	json_object_set_new(json_array_get(disks, 1), "bootOrder",
	    json_integer(1));
	json_object_set_new(json_array_get(disks, 0), "bootOrder",
	    json_integer(2));
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, RT_MAX_DISKS,
	    &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].kind, RT_DISK_CIDATA);
	assert_string_equal(d[0].file, "cidata1.iso");
	assert_int_equal(d[1].kind, RT_DISK_CONTAINER);
	assert_string_equal(d[1].file, "disk0.qcow2");
	json_decref(vmi);
}

static void
test_plan_errors(void **state)
{
	struct rt_disk d[2];
	unsigned n = 0;
	char err[256] = "";
	json_t *vmi;

	(void)state;
	/* An image that is not there: -ENOENT, passed through (retry). */
	vmi = json_pack("{s:{s:[{s:s, s:{s:s}}]}}", "spec", "volumes", "name",
	    "root", "containerDisk", "image", "example.org/missing");
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, 2, &n, err,
	    sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "example.org/missing"));
	json_decref(vmi);
	/* A disk naming no volume. */
	vmi = json_pack("{s:{s:{s:{s:[{s:s}]}}}}", "spec", "domain", "devices",
	    "disks", "name", "nothere");
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, 2, &n, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nothere"));
	json_decref(vmi);
	/* An unsupported volume kind. */
	vmi = json_pack("{s:{s:[{s:s, s:{}}]}}", "spec", "volumes", "name",
	    "pvc", "persistentVolumeClaim");
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, 2, &n, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "volume pvc: only containerDisk"));
	json_decref(vmi);
	/* emptyDisk: its capacity; a bad one is refused. */
	vmi = json_pack("{s:{s:[{s:s, s:{s:s}}]}}", "spec", "volumes", "name",
	    "scratch", "emptyDisk", "capacity", "2Gi");
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, 2, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].kind, RT_DISK_EMPTY);
	assert_int_equal(d[0].size, 2ULL << 30);
	assert_string_equal(d[0].file, "empty0.raw");
	json_decref(vmi);
	vmi = json_pack("{s:{s:[{s:s, s:{s:s}}]}}", "spec", "volumes", "name",
	    "scratch", "emptyDisk", "capacity", "lots");
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, 2, &n, err,
	    sizeof(err)), -EINVAL);
	json_decref(vmi);
	/* Too many disks for the VMM. */
	vmi = json_pack("{s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, "
	    "s:{s:s}}]}}", "spec", "volumes", "name", "a", "emptyDisk",
	    "capacity", "1Mi", "name", "b", "emptyDisk", "capacity", "1Mi",
	    "name", "c", "emptyDisk", "capacity", "1Mi");
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, 2, &n, err,
	    sizeof(err)), -E2BIG);
	json_decref(vmi);
}

static void
test_vmjson_lab(void **state)
{
	json_t *vmi = lab_vmi(), *j, *disk;
	struct rt_disk d[RT_MAX_DISKS];
	struct rt_res r;
	struct vmm_config c;
	unsigned n = 0;
	char err[256], *text;
	const char *dir = "/run/drover/vmi/alice/lab05-cirros-replicasetnc5p5";
	struct rt_vmjson in = { .dir = dir, .res = &r, .disks = d,
	    .user = "65534:65534", .stop_timeout = 30 };

	(void)state;
	assert_int_equal(rt_vmi_res(vmi, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(rt_plan_disks(vmi, resolve_lab, NULL, d, RT_MAX_DISKS,
	    &n, err, sizeof(err)), 0);
	in.ndisks = n;
	j = rt_vmjson(&in);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "mem")),
	    265 * MI);
	assert_int_equal(json_integer_value(json_object_get(j, "cpus")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "disk")), 2);
	disk = json_array_get(json_object_get(j, "disk"), 0);
	assert_string_equal(json_string_value(json_object_get(disk, "format")),
	    "qcow2");
	assert_string_equal(json_string_value(json_object_get(disk,
	    "backing-format")), "qcow2");
	/* drover-vmm's own parser takes it, field by field. */
	text = json_dumps(j, 0);
	vmm_config_init(&c);
	assert_int_equal(vmm_config_parse_json(&c, text, strlen(text),
	    "vm.json"), 0);
	assert_int_equal(vmm_config_validate(&c), 0);
	assert_null(c.kernel);			/* boots from disk 0 */
	assert_int_equal(c.mem, 265ULL << 20);
	assert_int_equal(c.cpus, 1);
	assert_int_equal(c.ndisks, 2);
	assert_string_equal(c.disk[0].path, "/run/drover/vmi/alice/"
	    "lab05-cirros-replicasetnc5p5/disk0.qcow2");
	assert_int_equal(c.disk[0].format, VMM_DISK_QCOW2);
	assert_int_equal(c.disk[0].nbacking, 1);
	assert_string_equal(c.disk[0].backing[0].path,
	    "/var/lib/drover/images/blobs/sha256/ab");
	assert_int_equal(c.disk[0].backing[0].format, VMM_DISK_QCOW2);
	assert_int_equal(c.disk[0].ro, 0);
	assert_string_equal(c.disk[1].path, "/run/drover/vmi/alice/"
	    "lab05-cirros-replicasetnc5p5/cidata1.iso");
	assert_int_equal(c.disk[1].format, VMM_DISK_RAW);
	assert_int_equal(c.disk[1].ro, 1);
	assert_int_equal(c.console, VMM_CONSOLE_UNIX);
	assert_string_equal(c.console_path, "/run/drover/vmi/alice/"
	    "lab05-cirros-replicasetnc5p5/console.sock");
	assert_string_equal(c.control, "/run/drover/vmi/alice/"
	    "lab05-cirros-replicasetnc5p5/control.sock");
	assert_string_equal(c.exit_file, "/run/drover/vmi/alice/"
	    "lab05-cirros-replicasetnc5p5/exit");
	assert_int_equal(c.has_user, 1);
	assert_int_equal(c.uid, 65534);
	assert_int_equal(c.stop_timeout, 30);
	assert_int_equal(c.seccomp, 1);
	vmm_config_free(&c);
	free(text);
	json_decref(j);
	json_decref(vmi);
}

/* ---- names ------------------------------------------------------------- */

static void
test_pod_name(void **state)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	char a[RT_POD_MAX], b[RT_POD_MAX], c[RT_POD_MAX];
	char longname[120];

	(void)state;
	rt_pod_name("lab05-cirros-replicasetnc5p5", "uid-1", a, sizeof(a));
	assert_int_equal(strlen(a), strlen("virt-launcher-"
	    "lab05-cirros-replicasetnc5p5-") + 5);
	assert_memory_equal(a, "virt-launcher-lab05-cirros-replicasetnc5p5-",
	    43);
	for (size_t i = 43; i < strlen(a); i++)
		assert_non_null(strchr(alpha, a[i]));
	/* Stable for a uid (a restarted droverd finds the same Pod). */
	rt_pod_name("lab05-cirros-replicasetnc5p5", "uid-1", b, sizeof(b));
	assert_string_equal(a, b);
	rt_pod_name("lab05-cirros-replicasetnc5p5", "uid-2", c, sizeof(c));
	assert_string_not_equal(a, c);
	/* generateName's base is cut to 58 characters: 63 in all. */
	memset(longname, 'x', 100);
	longname[100] = '\0';
	rt_pod_name(longname, "uid-1", a, sizeof(a));
	assert_int_equal(strlen(a), 63);
}

static void
test_dirs(void **state)
{
	char d[RT_DIR_MAX], e[RT_DIR_MAX], cg[RT_NAME_MAX], name[254];

	(void)state;
	assert_int_equal(rt_vmi_dir("/run/drover", "alice", "vm1", "u1", d,
	    sizeof(d)), 0);
	assert_string_equal(d, "/run/drover/vmi/alice/vm1");
	/* A name that would push console.sock past sun_path: hashed. */
	memset(name, 'a', 200);
	name[200] = '\0';
	assert_int_equal(rt_vmi_dir("/run/drover", "alice", name, "u1", d,
	    sizeof(d)), 0);
	assert_memory_equal(d, "/run/drover/vmi/_/", 18);
	assert_int_equal(strlen(d), 18 + 16);
	assert_true(strlen(d) + strlen("/console.sock") < 108);
	assert_int_equal(rt_vmi_dir("/run/drover", "alice", name, "u2", e,
	    sizeof(e)), 0);
	assert_string_not_equal(d, e);
	/* Anything but a DNS name is hashed too (no "..", no "/"). */
	assert_int_equal(rt_vmi_dir("/run/drover", "..", "x", "u", d,
	    sizeof(d)), 0);
	assert_memory_equal(d, "/run/drover/vmi/_/", 18);
	assert_int_equal(rt_vmi_dir("/run/drover", "a", "b/c", "u", d,
	    sizeof(d)), 0);
	assert_memory_equal(d, "/run/drover/vmi/_/", 18);
	rt_cgroup_name("alice", "vm1", "u1", cg, sizeof(cg));
	assert_string_equal(cg, "alice.vm1");
	assert_int_equal(cg_name_valid(cg), 1);
	rt_cgroup_name("alice", name, "u1", cg, sizeof(cg));
	assert_int_equal(cg_name_valid(cg), 1);
}

/* ---- the privileged operations (priv_local.c) -------------------------- */

#define EPH "/var/lib/drover/ephemeral"

static void
test_priv_paths(void **state)
{
	(void)state;
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a/b",
	    NULL), 1);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a/b",
	    "vm.json"), 1);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/_/"
	    "0123456789abcdef", NULL), 1);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi", NULL),
	    0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/", NULL),
	    0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a/../..",
	    NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a//b",
	    NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a/./b",
	    NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a/b/",
	    NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/droverx/vmi/a",
	    NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/etc/passwd", NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a",
	    "../x"), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a", ".."),
	    0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a", ""),
	    0);
	/* The disk dirs' root: the run dir's twins, nothing else. */
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH "/a/b", NULL),
	    PRIV_PATH_DISK);
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH "/a/b",
	    "disk0.qcow2"), PRIV_PATH_DISK);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/run/drover/vmi/a/b",
	    NULL), PRIV_PATH_RUN);
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH, NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH "/", NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH "x/a", NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH "/a/../..", NULL),
	    0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, EPH "/a", "../x"), 0);
	assert_int_equal(priv_path_ok("/run/drover", NULL, EPH "/a/b", NULL), 0);
	assert_int_equal(priv_path_ok("/run/drover", EPH, "/var/lib/drover/"
	    "objects/a", NULL), 0);
}

static void
test_priv_disk_dir(void **state)
{
	char out[128];

	(void)state;
	assert_int_equal(priv_disk_dir("/run/drover", EPH, "/run/drover/vmi/ns/"
	    "vm", out, sizeof(out)), 0);
	assert_string_equal(out, EPH "/ns/vm");
	assert_int_equal(priv_disk_dir("/run/drover", EPH, "/run/drover/vmi/_/"
	    "0123456789abcdef", out, sizeof(out)), 0);
	assert_string_equal(out, EPH "/_/0123456789abcdef");
	assert_int_equal(priv_disk_dir("/run/drover", EPH, EPH "/ns/vm", out,
	    sizeof(out)), -EINVAL);
	assert_int_equal(priv_disk_dir("/run/drover", EPH, "/run/drover/vmi/"
	    "ns/..", out, sizeof(out)), -EINVAL);
	assert_int_equal(priv_disk_dir("/run/drover", EPH, "/run/drover/vmi/ns/"
	    "vm", out, 10), -ENAMETOOLONG);
}

static void
test_priv_local(void **state)
{
	char tmp[] = "/tmp/drover-priv-XXXXXX", run[64], dir[128], path[192];
	char eph[96], ddir[160], img[96], err[256] = "";
	struct priv_config pc = { .run_dir = run, .ephemeral_dir = eph,
		.vmm_path = "/bin/false", .images_dir = img };
	struct priv *p;
	struct stat st;
	uint64_t start;
	unsigned char magic[4];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(run, sizeof(run), "%s/run", tmp);
	snprintf(dir, sizeof(dir), "%s/vmi/ns/vm", run);
	snprintf(img, sizeof(img), "%s/images", tmp);
	/* The disk dirs' root inside <run>/vmi, or holding it: refused. */
	snprintf(eph, sizeof(eph), "%s/vmi/e", run);
	assert_null(priv_local_new(&pc, err, sizeof(err)));
	snprintf(eph, sizeof(eph), "%s", tmp);
	assert_null(priv_local_new(&pc, err, sizeof(err)));
	snprintf(eph, sizeof(eph), "%s/eph", tmp);
	snprintf(ddir, sizeof(ddir), "%s/ns/vm", eph);
	/* A disk dir left without its run dir (a reboot emptied /run) is
	 * removed at start. */
	snprintf(path, sizeof(path), "mkdir -p %.60s/ns/old", eph);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "touch %.60s/ns/old/disk0.qcow2", eph);
	assert_int_equal(system(path), 0);
	p = priv_local_new(&pc, err, sizeof(err));
	assert_non_null(p);
	snprintf(path, sizeof(path), "%s/ns", eph);
	assert_int_not_equal(stat(path, &st), 0);
	/* Outside <run>/vmi: refused before anything is touched. */
	assert_int_equal(p->ops->vmi_prepare(p, tmp, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(p->ops->vmi_prepare(p, ddir, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(p->ops->vmi_prepare(p, dir, err, sizeof(err)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(ddir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Disks only in the disk dir, other files only in the run dir. */
	assert_int_equal(p->ops->disk_empty(p, dir, "empty0.raw", 1 << 20, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(p->ops->file_write(p, ddir, "vm.json", "{}", 2, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(p->ops->file_write(p, dir, "vm.json", "{}", 2, err,
	    sizeof(err)), 0);
	assert_int_equal(p->ops->file_write(p, dir, "../x", "{}", 2, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(p->ops->disk_empty(p, ddir, "empty0.raw", 64 << 20,
	    err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/empty0.raw", ddir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 64 << 20);
	assert_true(st.st_blocks < 64);		/* sparse */
	/* Not on the empty disk (not in the image store): on a raw image in
	 * the store. */
	assert_int_equal(p->ops->disk_overlay(p, ddir, "disk0.qcow2", path,
	    "raw", 0, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "image store"));
	snprintf(path, sizeof(path), "mkdir %.60s && truncate -s 1M "
	    "%.60s/base.raw", img, img);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/base.raw", img);
	assert_int_equal(p->ops->disk_overlay(p, ddir, "disk0.qcow2", path,
	    "raw", 0, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/disk0.qcow2", ddir);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(magic, 1, 4, f), 4);
	fclose(f);
	assert_memory_equal(magic, "QFI\xfb", 4);
	assert_int_equal(p->ops->disk_overlay(p, ddir, "disk1.qcow2", "rel.raw",
	    "raw", 0, err, sizeof(err)), -EPERM);
	/* A pid whose start time does not match is never signalled. */
	assert_int_equal(priv_proc_starttime(getpid(), &start), 0);
	assert_int_equal(p->ops->vmm_signal(p, getpid(), start + 1, 0), -ESRCH);
	assert_int_equal(p->ops->vmm_signal(p, getpid(), start, 0), 0);
	assert_int_equal(p->ops->vmm_signal(p, 1, 0, SIGKILL), -EINVAL);
	/* Clean-up removes both dirs and the emptied namespace dirs. */
	assert_int_equal(p->ops->vmi_cleanup(p, ddir, NULL, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(p->ops->vmi_cleanup(p, dir, NULL, err, sizeof(err)), 0);
	assert_int_not_equal(stat(dir, &st), 0);
	assert_int_not_equal(stat(ddir, &st), 0);
	snprintf(path, sizeof(path), "%s/vmi/ns", run);
	assert_int_not_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/ns", eph);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(stat(eph, &st), 0);
	assert_int_equal(p->ops->vmi_cleanup(p, dir, NULL, err, sizeof(err)), 0);
	priv_local_free(p);
	snprintf(path, sizeof(path), "rm -rf %s", tmp);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_res_lab),
		cmocka_unit_test(test_res_bad),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_fits_queue),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_exit_outcome),
		cmocka_unit_test(test_plan_lab),
		cmocka_unit_test(test_plan_boot_order),
		cmocka_unit_test(test_plan_errors),
		cmocka_unit_test(test_vmjson_lab),
		cmocka_unit_test(test_pod_name),
		cmocka_unit_test(test_dirs),
		cmocka_unit_test(test_priv_paths),
		cmocka_unit_test(test_priv_disk_dir),
		cmocka_unit_test(test_priv_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
