/*
 * validate_vmi2.c: the second half of KubeVirt's VMI spec validation
 * (disks, volumes, containerDisk paths, mandatory memory) and Drover's
 * limits; validate_vmi_spec() runs all of validate_vmi.c and this file.
 */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate_vmi.h"

#define CLOUD_INIT_MAX 2048

/* ---- disks -------------------------------------------------------------------- */

static const char *
disk_bus(const json_t *d, const char **type)
{
	static const char *const targets[] = { "disk", "lun", "cdrom" };

	for (int i = 0; i < 3; i++)
		if (vmi_get(d, targets[i]) != NULL) {
			*type = targets[i];
			return vmi_str(vmi_get(d, targets[i]), "bus");
		}
	*type = "";
	return "";
}

static void
v_disk_bus(const struct vctx *c, const json_t *d, size_t i)
{
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], rel[40];
	const char *type, *bus = disk_bus(d, &type);

	if (bus[0] == '\0')
		return;
	snprintf(rel, sizeof(rel), "%s.bus", type);
	vmi_path_i(c, p, "domain.devices.disks", i, rel);
	if (strcmp(bus, "ide") == 0)
		ferr_cause(c->l, FERR_INVALID, p, "IDE bus is not supported");
	else if (strcmp(bus, "virtio") == 0 && strcmp(type, "cdrom") == 0)
		ferr_cause(c->l, FERR_INVALID, p, "Bus type %s is invalid for "
		    "CD-ROM device", bus);
	else if (strcmp(bus, "virtio") && strcmp(bus, "scsi") &&
	    strcmp(bus, "sata") && strcmp(bus, "usb"))
		ferr_cause(c->l, FERR_INVALID, p, "%s is set with an "
		    "unrecognized bus %s, must be one of: [virtio scsi sata usb]",
		    vmi_path_i(c, t, "domain.devices.disks", i, NULL), bus);
}

static int
serial_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || strchr("_.+-", *s)))
			return 0;
	return 1;
}

static void
v_disk_fields(const struct vctx *c, const json_t *d, size_t i)
{
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], all[FERR_PATH_MAX];
	const char *serial = vmi_str(d, "serial"), *cache = vmi_str(d, "cache");
	const char *io = vmi_str(d, "io"), *ep = vmi_str(d, "errorPolicy");
	const json_t *bo = vmi_get(d, "bootOrder");

	vmi_path_i(c, t, "domain.devices.disks", i, NULL);
	if (bo != NULL && json_integer_value(bo) < 1)
		ferr_cause(c->l, FERR_INVALID, ferr_child(p, t, "bootOrder"),
		    "%s must have a boot order > 0, if supplied", t);
	v_disk_bus(c, d, i);
	if (serial[0] && !serial_ok(serial))
		ferr_cause(c->l, FERR_INVALID, ferr_child(p, t, "serial"), "%s "
		    "must be made up of the following characters "
		    "[A-Za-z0-9_.+-], if specified", t);
	if (strlen(serial) > 256)
		ferr_cause(c->l, FERR_INVALID, ferr_child(p, t, "serial"), "%s "
		    "must be less than or equal to 256 in length, if specified", t);
	if (cache[0] && strcmp(cache, "none") && strcmp(cache, "writethrough") &&
	    strcmp(cache, "writeback"))
		ferr_cause(c->l, FERR_INVALID, ferr_child(p, t, "cache"),
		    "%s has invalid value %s", p, cache);
	if (io[0] && strcmp(io, "native") && strcmp(io, "threads"))
		ferr_cause(c->l, FERR_NOT_SUPPORTED, ferr_child(p, t, "io"),
		    "Disk IO mode for %s is not supported. Supported modes are: "
		    "native, threads.", vmi_path(c, all, "domain.devices.disks"));
	if (ep[0] && strcmp(ep, "stop") && strcmp(ep, "ignore") &&
	    strcmp(ep, "report") && strcmp(ep, "enospace"))
		ferr_cause(c->l, FERR_INVALID, ferr_child(p, t, "errorPolicy"),
		    "%s has invalid value \"%s\"", p, ep);
}

static void
v_disks(const struct vctx *c)
{
	const json_t *disks = vmi_get(c->spec, "domain.devices.disks"), *o;
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], u[FERR_PATH_MAX];
	struct validate_msgs m;
	json_t *d;
	size_t i, k;

	json_array_foreach(disks, i, d) {
		json_array_foreach(disks, k, o)
			if (k < i && strcmp(vmi_str(o, "name"),
			    vmi_str(d, "name")) == 0)
				ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
				    "domain.devices.disks", i, "name"), "%s and %s "
				    "must not have the same Name.", vmi_path_i(c, t,
				    "domain.devices.disks", i, NULL), vmi_path_i(c,
				    u, "domain.devices.disks", k, NULL));
		if ((vmi_get(d, "disk") != NULL) + (vmi_get(d, "lun") != NULL) +
		    (vmi_get(d, "cdrom") != NULL) > 1)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.disks", i, NULL), "%s can only have a "
			    "single target type defined", p);
		v_disk_fields(c, d, i);
		validate_dns1123_label(vmi_str(d, "name"), &m);
		for (int j = 0; j < m.n; j++)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.disks", i, "name"), "%s", m.m[j]);
	}
}

/* ---- volumes -------------------------------------------------------------------- */

static const char *const volume_sources[] = { "persistentVolumeClaim",
	"sysprep", "cloudInitNoCloud", "cloudInitConfigDrive", "containerDisk",
	"ephemeral", "emptyDisk", "hostDisk", "dataVolume", "configMap", "secret",
	"downwardAPI", "serviceAccount", "downwardMetrics", "memoryDump", NULL };

static int
base64_ok(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n % 4 != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i < n - 2 || ++pad > 2)
				return 0;
		} else if (pad || !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '+' || s[i] == '/'))
			return 0;
	}
	return 1;
}

static size_t
base64_len(const char *s)
{
	size_t n = strlen(s);

	return n / 4 * 3 - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
}

/* One of user or network data: counts its sources, checks its size. */
static int
v_cloud_init_data(const struct vctx *c, const json_t *ci, const char *base,
    const char *what, const char *secret_hint)
{
	char key[40], p[FERR_PATH_MAX], t[FERR_PATH_MAX];
	const char *b64, *plain;
	size_t len = 0;
	int n = 0;

	snprintf(key, sizeof(key), "%sDataBase64", what);
	b64 = vmi_str(ci, key);
	snprintf(key, sizeof(key), "%sData", what);
	plain = vmi_str(ci, key);
	if (b64[0]) {
		n++;
		snprintf(key, sizeof(key), "%sDataBase64", what);
		if (!base64_ok(b64))
			ferr_cause(c->l, FERR_INVALID, ferr_child(p, base, key),
			    "%s.cloudInitNoCloud.%s is not a valid base64 value.",
			    ferr_child(t, base, key), key);
		len = base64_len(b64);
	}
	if (plain[0]) {
		n++;
		len = strlen(plain);
	}
	if (n > 1)
		ferr_cause(c->l, FERR_INVALID, base, "%s must have only one %s "
		    "set.", base, what[0] == 'u' ? "userdatasource" :
		    "networkdata source");
	if (len > CLOUD_INIT_MAX)
		ferr_cause(c->l, FERR_INVALID, base, "%s %sdata exceeds %d byte "
		    "limit. Should use %s for larger data.", base, what,
		    CLOUD_INIT_MAX, secret_hint);
	return n;
}

static void
v_cloud_init(const struct vctx *c, const json_t *vol, size_t i)
{
	const json_t *ci = vmi_get(vol, "cloudInitNoCloud");
	char base[FERR_PATH_MAX];
	int n;

	if (ci == NULL)
		return;
	vmi_path_i(c, base, "volumes", i, "cloudInitNoCloud");
	n = v_cloud_init_data(c, ci, base, "user", "UserDataSecretRef");
	n += v_cloud_init_data(c, ci, base, "network", "NetworkDataSecretRef");
	if (n == 0)
		ferr_cause(c->l, FERR_INVALID, base, "%s must have at least one "
		    "userdatasource or one networkdatasource set.", base);
}

static void
v_container_disk_path(const struct vctx *c, const json_t *vol, size_t i)
{
	const char *path = vmi_str(vol, "containerDisk.path");
	char p[FERR_PATH_MAX];

	if (path[0] == '\0')
		return;
	vmi_path_i(c, p, "volumes", i, "containerDisk");
	if (strcmp(path, "/") == 0)
		ferr_cause(c->l, FERR_INVALID, p, "%s must not point to root", p);
	else if (path[0] != '/' || strstr(path, "//") || strstr(path, "/./") ||
	    strstr(path, "/../") || (strlen(path) >= 2 &&
	    strcmp(path + strlen(path) - 2, "/.") == 0) || (strlen(path) >= 3 &&
	    strcmp(path + strlen(path) - 3, "/..") == 0))
		ferr_cause(c->l, FERR_INVALID, p, "%s must be an absolute path to "
		    "a file without relative components", p);
}

static void
v_volumes(const struct vctx *c)
{
	const json_t *vols = vmi_get(c->spec, "volumes"), *o;
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], u[FERR_PATH_MAX];
	json_t *v;
	size_t i, k;
	int n;

	json_array_foreach(vols, i, v) {
		json_array_foreach(vols, k, o)
			if (k < i && strcmp(vmi_str(o, "name"),
			    vmi_str(v, "name")) == 0) {
				ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
				    "volumes", i, "name"), "%s and %s must not have "
				    "the same Name.", vmi_path_i(c, t, "volumes", i,
				    NULL), vmi_path_i(c, u, "volumes", k, NULL));
				break;
			}
		for (n = 0, k = 0; volume_sources[k] != NULL; k++)
			n += vmi_get(v, volume_sources[k]) != NULL;
		if (n != 1)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p, "volumes",
			    i, NULL), "%s must have exactly one source type set", p);
		v_cloud_init(c, v, i);
	}
	json_array_foreach(vols, i, v)
		v_container_disk_path(c, v, i);
}

/* ValidateVirtualMachineInstanceMandatoryFields (after defaults). */
static void
v_mandatory(const struct vctx *c)
{
	struct quantity q;
	char a[FERR_PATH_MAX], b[FERR_PATH_MAX], d[FERR_PATH_MAX];

	if (validate_quantity(vmi_get(c->spec, "domain.resources.requests."
	    "memory"), &q) > 0 && quantity_sign(&q) != 0)
		return;
	/* the defaults make memory.guest of a memory limit */
	if (validate_quantity(vmi_get(c->spec, "domain.resources.limits."
	    "memory"), &q) > 0 && quantity_sign(&q) != 0)
		return;
	if (vmi_get(c->spec, "domain.memory.guest") != NULL ||
	    vmi_get(c->spec, "domain.memory.hugepages") != NULL)
		return;
	ferr_cause(c->l, FERR_REQUIRED, "", "no memory requested, at least one "
	    "of '%s', '%s' or '%s' must be set", vmi_path(c, a,
	    "domain.memory.guest"), vmi_path(c, b, "domain.memory.hugepages.size"),
	    vmi_path(c, d, "domain.resources.requests.memory"));
}

/* ---- Drover's limits -------------------------------------------------------------- */

static void
v_drover_disks(const struct vctx *c)
{
	const json_t *disks = vmi_get(c->spec, "domain.devices.disks");
	char p[FERR_PATH_MAX];
	json_t *d;
	size_t i;

	json_array_foreach(disks, i, d) {
		const char *type, *bus = disk_bus(d, &type);

		if (bus[0] && strcmp(bus, "virtio") && strcmp(bus, "ide") &&
		    (!strcmp(bus, "sata") || !strcmp(bus, "scsi") ||
		    !strcmp(bus, "usb")))
			ferr_cause(c->l, FERR_NOT_SUPPORTED, vmi_path_i(c, p,
			    "domain.devices.disks", i, "disk.bus"), "%s %s is not "
			    "supported by Drover: the only disk bus is virtio", p,
			    bus);
	}
}

static void
v_drover_interfaces(const struct vctx *c)
{
	const json_t *ifaces = vmi_get(c->spec, "domain.devices.interfaces");
	char p[FERR_PATH_MAX];
	json_t *e;
	size_t i;

	json_array_foreach(ifaces, i, e) {
		const char *model = vmi_str(e, "model");

		if (model[0] && strcmp(model, "virtio") && (!strcmp(model,
		    "e1000") || !strcmp(model, "e1000e") || !strcmp(model,
		    "ne2k_pci") || !strcmp(model, "pcnet") || !strcmp(model,
		    "rtl8139")))
			ferr_cause(c->l, FERR_NOT_SUPPORTED, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "model"), "%s %s is not "
			    "supported by Drover: the only interface model is "
			    "virtio", p, model);
	}
}

static void
v_drover_resources(const struct vctx *c)
{
	static const char *const which[] = { "requests", "limits" };
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX], rel[64];
	const char *k;
	json_t *v;

	for (int w = 0; w < 2; w++) {
		snprintf(rel, sizeof(rel), "domain.resources.%s", which[w]);
		json_object_foreach((json_t *)vmi_get(c->spec, rel), k, v) {
			if (!strcmp(k, "cpu") || !strcmp(k, "memory") ||
			    !strcmp(k, "ephemeral-storage"))
				continue;
			ferr_cause(c->l, FERR_NOT_SUPPORTED, ferr_child(p,
			    vmi_path(c, t, rel), k), "%s is "
			    "not supported by Drover: the resources are cpu and "
			    "memory", p);
		}
	}
}

static void
v_drover_misc(const struct vctx *c)
{
	static const char *const probes[] = { "readinessProbe", "livenessProbe" };
	const char *arch = vmi_str(c->spec, "architecture");
	const char *mt = vmi_str(c->spec, "domain.machine.type");
	char p[FERR_PATH_MAX], rel[64];

	if (json_is_true(vmi_get(c->spec, "domain.cpu.dedicatedCpuPlacement")))
		ferr_cause(c->l, FERR_NOT_SUPPORTED, vmi_path(c, p,
		    "domain.cpu.dedicatedCpuPlacement"), "%s is not supported by "
		    "Drover", p);
	if (arch[0] && strcmp(arch, "amd64"))
		ferr_cause(c->l, FERR_INVALID, vmi_path(c, p, "architecture"),
		    "unsupported architecture: %s", arch);
	if (mt[0] && strncmp(mt, "q35", 3) && strncmp(mt, "pc-q35", 6))
		ferr_cause(c->l, FERR_INVALID, vmi_path(c, p,
		    "domain.machine.type"), "%s is not supported: %s (allowed "
		    "values: [q35* pc-q35*])", p, mt);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++) {
			const char *h = k ? "guestAgentPing" : "exec";

			snprintf(rel, sizeof(rel), "%s.%s", probes[i], h);
			if (vmi_get(c->spec, rel) != NULL)
				ferr_cause(c->l, FERR_NOT_SUPPORTED, vmi_path(c, p,
				    rel), "%s is not supported by Drover: it needs "
				    "a guest agent; use tcpSocket or httpGet", p);
		}
}

void
validate_vmi_spec(const json_t *spec, const char *path, int mandatory,
    struct ferr_list *l)
{
	struct vctx c = { spec, path, l };

	vmi_validate_first(&c);
	v_disks(&c);
	v_volumes(&c);
	if (mandatory)
		v_mandatory(&c);
	v_drover_disks(&c);
	v_drover_interfaces(&c);
	v_drover_resources(&c);
	v_drover_misc(&c);
}
