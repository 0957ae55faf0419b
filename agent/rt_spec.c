/*
 * rt_spec.c: the runtime's pure functions: what a VMI asks of the node,
 * whether it fits (the scheduler's arithmetic and message), what a VMM's
 * exit status means, names (Pod, run dir, cgroup), the disk plan and
 * vm.json. Nothing here touches the store or the loop; the unit test
 * (tests/unit/agent_runtime.c) drives it directly.
 */
#include "rt_int.h"
#include "errfmt.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "manifest.h"
#include "quantity.h"

/* ---- resources and scheduling ------------------------------------------ */

int
rt_vmi_res(const json_t *vmi, int64_t overhead_cfg, struct rt_res *out,
    char *err, size_t errlen)
{
	struct manifest_vmi_resources m;
	const json_t *spec = json_object_get(vmi, "spec");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(spec) || manifest_vmi_resources(spec, &m) < 0)
		return errfmt(err, errlen, -EINVAL, "spec.domain: no usable "
		    "guest memory (memory.guest, resources.requests.memory or "
		    "resources.limits.memory) or a negative request");
	if (m.vcpus == 0 || m.vcpus > 64)
		return errfmt(err, errlen, -EINVAL, "spec.domain.cpu: %u vCPUs "
		    "(sockets x cores x threads must be 1 to 64)", m.vcpus);
	out->vcpus = m.vcpus;
	out->guest_memory = m.guest_memory;
	out->overhead = overhead_cfg > 0 ? overhead_cfg :
	    cg_vmm_overhead(m.guest_memory, m.vcpus);
	/* The launcher pod's requests: the VMI's, plus the VMM's overhead
	 * on memory (as KubeVirt adds virt-launcher's). */
	out->cpu_milli = m.cpu_request_milli ? m.cpu_request_milli :
	    m.cpu_limit_milli;
	out->cpu_limit_milli = m.cpu_limit_milli;
	out->memory = (m.memory_request ? m.memory_request : m.guest_memory) +
	    out->overhead;
	out->memory_limit = m.memory_limit ? m.memory_limit + out->overhead : 0;
	/* The VMM never needs more than its guest's RAM and its overhead
	 * (cgroup.h): its cgroup is capped there even when the VMI sets no
	 * memory limit (the Pod view then shows none, as KubeVirt's). */
	out->cgroup_memory = out->memory_limit ? out->memory_limit :
	    m.guest_memory + out->overhead;
	return 0;
}

int
rt_fits(const struct rt_node *n, int64_t used_cpu, int64_t used_mem,
    const struct rt_res *r, char *msg, size_t msglen)
{
	int cpu_ok = used_cpu + r->cpu_milli <= n->alloc_cpu_milli;
	int mem_ok = used_mem + r->memory <= n->alloc_memory;

	if (cpu_ok && mem_ok)
		return 1;
	/* kube-scheduler's FitError: reasons sorted, one node. */
	snprintf(msg, msglen, "0/1 nodes are available: %s%s%s.",
	    cpu_ok ? "" : "1 Insufficient cpu", !cpu_ok && !mem_ok ? ", " : "",
	    mem_ok ? "" : "1 Insufficient memory");
	return 0;
}

void
rt_node_alloc(struct rt_node *n, int64_t reserve_cpu, int64_t reserve_mem)
{
	n->alloc_cpu_milli = n->cap_cpu_milli - (reserve_cpu > 0 ?
	    reserve_cpu : 0);
	n->alloc_memory = n->cap_memory - (reserve_mem > 0 ? reserve_mem : 0);
	if (n->alloc_cpu_milli < 0)
		n->alloc_cpu_milli = 0;
	if (n->alloc_memory < 0)
		n->alloc_memory = 0;
	if (n->pods == 0)
		n->pods = 110;		/* kubelet's maxPods */
}

int
rt_node_capacity(int64_t *cpu_milli, int64_t *memory)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long long kb = 0;
	char line[256];
	FILE *f;

	*cpu_milli = (ncpu > 0 ? ncpu : 1) * 1000;
	*memory = 0;
	if ((f = fopen("/proc/meminfo", "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	if (kb == 0)
		return -EINVAL;
	*memory = (int64_t)kb * 1024;
	return 0;
}

/* ---- exit status ------------------------------------------------------- */

enum rt_outcome
rt_exit_outcome(int code, int sig, const char **reason, char *msg,
    size_t msglen)
{
	if (sig > 0) {
		*reason = sig == SIGSYS ? "VMMSandboxViolation" : "VMMKilled";
		snprintf(msg, msglen, "drover-vmm was killed by signal %d (%s)%s",
		    sig, strsignal(sig), sig == SIGSYS ? ": its seccomp filter "
		    "stopped a system call" : "");
		return RT_OUT_FAILED;
	}
	switch (code) {
	case 0:
		*reason = "GuestShutdown";
		snprintf(msg, msglen, "the guest shut down (drover-vmm exit "
		    "status 0)");
		return RT_OUT_SUCCEEDED;
	case 2:
		*reason = "InvalidVMConfig";
		snprintf(msg, msglen, "drover-vmm refused its configuration "
		    "(exit status 2)");
		return RT_OUT_FAILED;
	case 3:
		*reason = "GuestReboot";
		snprintf(msg, msglen, "the guest asked for a reboot (exit "
		    "status 3)");
		return RT_OUT_REBOOT;
	case 4:
		*reason = "GuestCrashed";
		snprintf(msg, msglen, "the guest crashed (drover-vmm exit "
		    "status 4)");
		return RT_OUT_FAILED;
	case 5:
		*reason = "StoppedByHost";
		snprintf(msg, msglen, "the VM was stopped by the host (drover-vmm "
		    "exit status 5)");
		return RT_OUT_FAILED;
	case -1:
		*reason = "VMMGone";
		snprintf(msg, msglen, "drover-vmm ended without an exit status "
		    "(killed)");
		return RT_OUT_FAILED;
	default:
		*reason = "VMMError";
		snprintf(msg, msglen, "drover-vmm failed (exit status %d)", code);
		return RT_OUT_FAILED;
	}
}

/* ---- names ------------------------------------------------------------- */

static uint64_t
rs_fnv(const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < 3; i++) {
		for (const char *s = parts[i] ? parts[i] : ""; *s; s++)
			h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
		h = (h ^ '/') * 0x100000001b3ULL;
	}
	return h;
}

void
rt_pod_name(const char *vmi, const char *uid, char *out, size_t len)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	uint64_t h = rs_fnv(uid, NULL, NULL);
	char base[64], sfx[6];

	/* generateName "virt-launcher-<vmi>-": the base is cut to 58. */
	snprintf(base, sizeof(base), "virt-launcher-%s-", vmi);
	base[58] = '\0';
	for (int i = 0; i < 5; i++) {
		sfx[i] = alpha[h % (sizeof(alpha) - 1)];
		h /= sizeof(alpha) - 1;
	}
	sfx[5] = '\0';
	snprintf(out, len, "%s%s", base, sfx);
}

static int
rs_plain(const char *s)
{
	if (s == NULL || s[0] == '\0' || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '.'))
			return 0;
	return 1;
}

int
rt_vmi_dir(const char *run_dir, const char *ns, const char *name,
    const char *uid, char *out, size_t len)
{
	/* The longest file the VMM binds there: "/console.sock". */
	size_t sock = strlen("/console.sock");
	int n = -1;

	if (rs_plain(ns) && rs_plain(name))
		n = snprintf(out, len, "%s/vmi/%s/%s", run_dir, ns, name);
	if (n < 0 || (size_t)n >= len || (size_t)n + sock >= RT_SOCK_MAX)
		n = snprintf(out, len, "%s/vmi/_/%016llx", run_dir,
		    (unsigned long long)rs_fnv(ns, name, uid));
	if (n < 0 || (size_t)n >= len || (size_t)n + sock >= RT_SOCK_MAX)
		return -ENAMETOOLONG;
	return 0;
}

void
rt_cgroup_name(const char *ns, const char *name, const char *uid, char *out,
    size_t len)
{
	int n = -1;

	if (rs_plain(ns) && rs_plain(name))
		n = snprintf(out, len, "%s.%s", ns, name);
	if (n < 0 || (size_t)n >= len || n > 255)
		snprintf(out, len, "vmi-%016llx",
		    (unsigned long long)rs_fnv(ns, name, uid));
}

/* ---- disks ------------------------------------------------------------- */

static const json_t *
rs_find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if (json_is_string(json_object_get(e, "name")) &&
		    strcmp(json_string_value(json_object_get(e, "name")),
		    name) == 0)
			return e;
	return NULL;
}

static int
rs_quantity_bytes(const json_t *v, uint64_t *out)
{
	const char *why = NULL;
	struct quantity q;
	int64_t b;

	if (!json_is_string(v) || quantity_parse(json_string_value(v), &q,
	    &why) < 0 || quantity_value(&q, &b) < 0 || b <= 0)
		return -EINVAL;
	*out = (uint64_t)b;
	return 0;
}

/* One disk from its volume. */
static int
rs_disk(const json_t *disk, const json_t *vol, unsigned i,
    rt_resolve_fn resolve, void *arg, struct rt_disk *d, char *err,
    size_t errlen)
{
	const char *vname = json_string_value(json_object_get(vol, "name"));
	const json_t *cd = json_object_get(vol, "containerDisk");
	const json_t *ci = json_object_get(vol, "cloudInitNoCloud");
	const json_t *ed = json_object_get(vol, "emptyDisk");
	const json_t *ddev = json_object_get(disk, "disk");
	const char *serial = json_string_value(json_object_get(disk, "serial"));
	int rc;

	memset(d, 0, sizeof(*d));
	snprintf(d->volume, sizeof(d->volume), "%s", vname ? vname : "");
	d->volume_obj = vol;
	d->ro = json_is_true(json_object_get(ddev, "readonly")) ||
	    json_object_get(disk, "cdrom") != NULL;
	if (serial)
		snprintf(d->serial, sizeof(d->serial), "%s", serial);
	if (json_is_integer(json_object_get(disk, "bootOrder")) &&
	    json_integer_value(json_object_get(disk, "bootOrder")) > 0)
		d->boot_order = json_integer_value(json_object_get(disk,
		    "bootOrder"));
	if (cd) {
		const char *img = json_string_value(json_object_get(cd, "image"));

		if (img == NULL || img[0] == '\0')
			return errfmt(err, errlen, -EINVAL, "volume %s: "
			    "containerDisk.image is missing", d->volume);
		d->kind = RT_DISK_CONTAINER;
		snprintf(d->file, sizeof(d->file), "disk%u.qcow2", i);
		rc = resolve(arg, img, json_string_value(json_object_get(cd,
		    "path")), d->backing, sizeof(d->backing), d->backing_fmt,
		    sizeof(d->backing_fmt), err, errlen);
		return rc;
	}
	if (ci) {
		d->kind = RT_DISK_CIDATA;
		d->ro = 1;
		snprintf(d->file, sizeof(d->file), "cidata%u.iso", i);
		return 0;
	}
	if (ed) {
		d->kind = RT_DISK_EMPTY;
		snprintf(d->file, sizeof(d->file), "empty%u.raw", i);
		if (rs_quantity_bytes(json_object_get(ed, "capacity"),
		    &d->size) < 0)
			return errfmt(err, errlen, -EINVAL, "volume %s: "
			    "emptyDisk.capacity is not a positive quantity",
			    d->volume);
		return 0;
	}
	return errfmt(err, errlen, -EINVAL, "volume %s: only containerDisk, "
	    "cloudInitNoCloud and emptyDisk volumes are supported by Drover",
	    d->volume);
}

/* The disk with the lowest bootOrder first; the others keep their order. */
static void
rs_boot_first(struct rt_disk *d, unsigned n)
{
	unsigned best = n;
	struct rt_disk tmp;

	for (unsigned i = 0; i < n; i++)
		if (d[i].boot_order > 0 && (best == n ||
		    d[i].boot_order < d[best].boot_order))
			best = i;
	if (best == n || best == 0)
		return;
	tmp = d[best];
	memmove(&d[1], &d[0], best * sizeof(*d));
	d[0] = tmp;
}

int
rt_plan_disks(const json_t *vmi, rt_resolve_fn resolve, void *arg,
    struct rt_disk *d, unsigned max, unsigned *n, char *err, size_t errlen)
{
	const json_t *spec = json_object_get(vmi, "spec");
	const json_t *disks = json_object_get(json_object_get(json_object_get(
	    spec, "domain"), "devices"), "disks");
	const json_t *vols = json_object_get(spec, "volumes");
	const json_t *disk, *vol;
	size_t i;
	int rc;

	*n = 0;
	/* The disks in spec order, then volumes without a disk (KubeVirt
	 * gives each a default disk). */
	json_array_foreach(disks, i, disk) {
		const char *name = json_string_value(json_object_get(disk,
		    "name"));

		if (name == NULL || (vol = rs_find_named(vols, name)) == NULL)
			return errfmt(err, errlen, -EINVAL, "disk %s: no volume "
			    "of that name", name ? name : "(unnamed)");
		if (*n >= max)
			return errfmt(err, errlen, -E2BIG, "more than %u disks",
			    max);
		if ((rc = rs_disk(disk, vol, *n, resolve, arg, &d[*n], err,
		    errlen)) < 0)
			return rc;
		(*n)++;
	}
	json_array_foreach(vols, i, vol) {
		const char *name = json_string_value(json_object_get(vol,
		    "name"));

		if (name == NULL || rs_find_named(disks, name))
			continue;
		if (*n >= max)
			return errfmt(err, errlen, -E2BIG, "more than %u disks",
			    max);
		if ((rc = rs_disk(NULL, vol, *n, resolve, arg, &d[*n], err,
		    errlen)) < 0)
			return rc;
		(*n)++;
	}
	rs_boot_first(d, *n);
	return 0;
}

/* ---- the pod network --------------------------------------------------- */

static int
rs_mac_ok(const char *m)
{
	for (int i = 0; i < 17; i++) {
		int hex = (m[i] >= '0' && m[i] <= '9') ||
		    (m[i] >= 'a' && m[i] <= 'f') || (m[i] >= 'A' && m[i] <= 'F');

		if (i % 3 == 2 ? m[i] != ':' && m[i] != '-' : !hex)
			return 0;
	}
	return m[17] == '\0';
}

static int
rs_net_ports(const json_t *iface, struct priv_net_req *req, char *err,
    size_t errlen)
{
	const json_t *ports = json_object_get(iface, "ports");
	size_t i;
	json_t *e;

	if (json_array_size(ports) > PRIV_NET_MAX_PORTS)
		return errfmt(err, errlen, -EINVAL, "interface: more than %d "
		    "ports", PRIV_NET_MAX_PORTS);
	json_array_foreach(ports, i, e) {
		const char *proto = json_string_value(json_object_get(e,
		    "protocol"));
		json_int_t port = json_integer_value(json_object_get(e, "port"));

		if (port <= 0 || port > 65535 || (proto && strcmp(proto, "TCP") &&
		    strcmp(proto, "UDP")))
			return errfmt(err, errlen, -EINVAL, "interface: bad port "
			    "%lld/%s", (long long)port, proto ? proto : "TCP");
		req->ports[req->nports].proto = proto && strcmp(proto, "UDP") ==
		    0 ? IPPROTO_UDP : IPPROTO_TCP;
		req->ports[req->nports].port = (uint16_t)port;
		req->nports++;
	}
	return 0;
}

int
rt_vmi_net(const json_t *vmi, const char *uid, struct rt_net *out, char *err,
    size_t errlen)
{
	const json_t *spec = json_object_get(vmi, "spec");
	const json_t *ifaces = json_object_get(json_object_get(json_object_get(
	    spec, "domain"), "devices"), "interfaces");
	const json_t *nets = json_object_get(spec, "networks");
	const char *host = json_string_value(json_object_get(spec, "hostname"));
	const char *name = json_string_value(json_object_get(json_object_get(
	    vmi, "metadata"), "name"));
	const json_t *iface = NULL, *e;
	const char *mac;
	size_t i;

	memset(out, 0, sizeof(*out));
	json_array_foreach(nets, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && json_object_get(e, "pod") && iface == NULL)
			iface = rs_find_named(ifaces, n);
	}
	if (iface == NULL)
		return 0;
	if (json_object_get(iface, "masquerade") == NULL)
		return errfmt(err, errlen, -EINVAL, "interface %s: only the "
		    "masquerade binding is supported", json_string_value(
		    json_object_get(iface, "name")));
	snprintf(out->iface, sizeof(out->iface), "%s", json_string_value(
	    json_object_get(iface, "name")));
	mac = json_string_value(json_object_get(iface, "macAddress"));
	if (mac && !rs_mac_ok(mac))
		return errfmt(err, errlen, -EINVAL, "interface %s: bad "
		    "macAddress %s", out->iface, mac);
	if (mac) {
		for (int k = 0; k < 17; k++)
			out->mac[k] = mac[k] == '-' ? ':' : (char)(mac[k] |
			    (mac[k] >= 'A' && mac[k] <= 'F' ? 0x20 : 0));
	} else {
		uint64_t h = rs_fnv(uid, name, "mac");

		/* QEMU's and libvirt's OUI, as KubeVirt's guests get. */
		snprintf(out->mac, sizeof(out->mac), "52:54:00:%02x:%02x:%02x",
		    (unsigned)(h & 0xff), (unsigned)((h >> 8) & 0xff),
		    (unsigned)((h >> 16) & 0xff));
	}
	snprintf(out->req.hostname, sizeof(out->req.hostname), "%s",
	    host && host[0] ? host : name ? name : "");
	return rs_net_ports(iface, &out->req, err, errlen) < 0 ? -EINVAL : 1;
}

/* ---- vm.json ----------------------------------------------------------- */

static json_t *
rs_path(const char *dir, const char *file)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", dir, file);
	return json_string(buf);
}

static json_t *
rs_vmjson_disk(const char *dir, const struct rt_disk *d)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "path", rs_path(dir, d->file));
	json_object_set_new(o, "format", json_string(d->kind ==
	    RT_DISK_CONTAINER ? "qcow2" : "raw"));
	if (d->kind == RT_DISK_CONTAINER) {
		/* The backing file pinned: never taken from the overlay. */
		json_object_set_new(o, "backing", json_string(d->backing));
		json_object_set_new(o, "backing-format",
		    json_string(d->backing_fmt));
	}
	if (d->ro)
		json_object_set_new(o, "ro", json_true());
	if (d->serial[0])
		json_object_set_new(o, "serial", json_string(d->serial));
	return o;
}

json_t *
rt_vmjson(const struct rt_vmjson *in)
{
	json_t *o = json_object(), *disks = json_array();
	char console[RT_SOCK_MAX + 8];

	if (o == NULL || disks == NULL)
		goto fail;
	snprintf(console, sizeof(console), "unix:%s/console.sock", in->dir);
	json_object_set_new(o, "mem", json_integer(in->res->guest_memory));
	json_object_set_new(o, "cpus", json_integer(in->res->vcpus));
	json_object_set_new(o, "console", json_string(console));
	json_object_set_new(o, "control", rs_path(in->dir, "control.sock"));
	json_object_set_new(o, "exit-file", rs_path(in->dir, "exit"));
	json_object_set_new(o, "stop-timeout", json_integer(in->stop_timeout));
	if (in->user && in->user[0])
		json_object_set_new(o, "user", json_string(in->user));
	if (in->access_gid > 0) {
		char g[16];

		snprintf(g, sizeof(g), "%d", in->access_gid);
		json_object_set_new(o, "access-group", json_string(g));
	}
	for (unsigned i = 0; i < in->ndisks; i++) {
		json_t *d = rs_vmjson_disk(in->dir, &in->disks[i]);

		if (d == NULL || json_array_append_new(disks, d) < 0)
			goto fail;
	}
	json_object_set_new(o, "disk", disks);
	if (in->net_mac)
		json_object_set_new(o, "net", json_pack("[{s:i, s:s}]", "fd",
		    PRIV_NET_FD, "mac", in->net_mac));
	return o;
fail:
	json_decref(disks);
	json_decref(o);
	return NULL;
}

void
rt_now_rfc3339(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
