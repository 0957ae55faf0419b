/*
 * validate_vmi.c: KubeVirt's ValidateVirtualMachineInstanceSpec
 * (pkg/virt-api/webhooks/validating-webhook/admitters/vmi-create-admitter.go
 * and pkg/network/admitter) for the fields Drover knows, in KubeVirt's order
 * and words (its odd paths included, e.g. "spec.interfaces"), then the
 * limits of Drover's VMM. Types were checked by the schema already.
 */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate_vmi.h"

#define NOT_FOUND "%s '%s' not found."
#define MUST_BE_POSITIVE "%s '%s': must be greater than or equal to 0."

/* A member by dotted path ("domain.resources.requests"); NULL if absent. */
const json_t *
vmi_get(const json_t *o, const char *dotted)
{
	char key[64];
	const char *dot;

	while (o != NULL && *dotted != '\0') {
		dot = strchr(dotted, '.');
		snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - dotted) :
		    (int)strlen(dotted), dotted);
		o = json_object_get(o, key);
		dotted = dot ? dot + 1 : "";
	}
	return json_is_null(o) ? NULL : o;
}

const char *
vmi_str(const json_t *o, const char *dotted)
{
	const char *s = json_string_value(vmi_get(o, dotted));

	return s ? s : "";
}

/* path + "." + rel ("domain.devices.disks"), into out. */
const char *
vmi_path(const struct vctx *c, char out[FERR_PATH_MAX], const char *rel)
{
	return ferr_child(out, c->path, rel);
}

/* path.rel[i].child (child may be NULL) */
const char *
vmi_path_i(const struct vctx *c, char out[FERR_PATH_MAX], const char *rel,
    size_t i, const char *child)
{
	char tmp[FERR_PATH_MAX];

	ferr_index(tmp, vmi_path(c, out, rel), i);
	if (child == NULL)
		return strcpy(out, tmp);
	return ferr_child(out, tmp, child);
}

int
validate_quantity(const json_t *v, struct quantity *q)
{
	char buf[64];

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return quantity_parse(json_string_value(v), q, NULL) < 0 ? -1 : 1;
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v)) {
		for (int p = 1; p <= 17; p++) {
			snprintf(buf, sizeof(buf), "%.*g", p, json_real_value(v));
			if (strtod(buf, NULL) == json_real_value(v))
				break;
		}
	} else
		return -1;
	return quantity_parse(buf, q, NULL) < 0 ? -1 : 1;
}

const char *
validate_quantity_string(const json_t *v, char *buf, size_t len)
{
	struct quantity q;

	if (validate_quantity(v, &q) <= 0 || quantity_format(&q, buf, len) < 0)
		snprintf(buf, len, "0");
	return buf;
}

/* A resource quantity: 0 when absent or malformed. */
static struct quantity
vres(const struct vctx *c, const char *which, const char *name)
{
	struct quantity q = { 0 };
	char p[80];

	snprintf(p, sizeof(p), "domain.resources.%s.%s", which, name);
	if (validate_quantity(vmi_get(c->spec, p), &q) <= 0)
		memset(&q, 0, sizeof(q));
	return q;
}

static const char *
vres_str(const struct vctx *c, const char *which, const char *name, char *buf,
    size_t len)
{
	char p[80];

	snprintf(p, sizeof(p), "domain.resources.%s.%s", which, name);
	return validate_quantity_string(vmi_get(c->spec, p), buf, len);
}

/* ---- names ------------------------------------------------------------------ */

static void
v_hostname(const struct vctx *c)
{
	const char *h = vmi_str(c->spec, "hostname"), *s = vmi_str(c->spec, "subdomain");
	struct validate_msgs m;
	char p[FERR_PATH_MAX], j[1200];

	if (h[0] != '\0') {
		validate_dns1123_label(h, &m);
		if (m.n)
			ferr_cause(c->l, FERR_INVALID, vmi_path(c, p, "hostname"),
			    "%s does not conform to the kubernetes DNS_LABEL "
			    "rules : %s", p, validate_join(&m, ", ", j, sizeof(j)));
	}
	if (s[0] != '\0') {
		validate_dns1123_subdomain(s, &m);
		if (m.n)
			ferr_cause(c->l, FERR_INVALID, vmi_path(c, p, "subdomain"),
			    "%s does not conform to the kubernetes DNS_SUBDOMAIN "
			    "rules : %s", p, validate_join(&m, ", ", j, sizeof(j)));
	}
}

/* ---- memory and cpu ---------------------------------------------------------- */

static void
v_negative(const struct vctx *c, const char *which, const char *name)
{
	struct quantity q = vres(c, which, name);
	char p[FERR_PATH_MAX], rel[64], s[64];

	if (quantity_sign(&q) >= 0)
		return;
	snprintf(rel, sizeof(rel), "domain.resources.%s.%s", which, name);
	ferr_cause(c->l, FERR_INVALID, vmi_path(c, p, rel), MUST_BE_POSITIVE, p,
	    vres_str(c, which, name, s, sizeof(s)));
}

/* requests.NAME > limits.NAME (limit set). */
static void
v_request_over_limit(const struct vctx *c, const char *name)
{
	struct quantity rq = vres(c, "requests", name);
	struct quantity lq = vres(c, "limits", name);
	char p[FERR_PATH_MAX], lp[FERR_PATH_MAX], rel[64], rs[64], ls[64];

	if (quantity_sign(&lq) <= 0 || quantity_cmp(&rq, &lq) <= 0)
		return;
	snprintf(rel, sizeof(rel), "domain.resources.requests.%s", name);
	vmi_path(c, p, rel);
	snprintf(rel, sizeof(rel), "domain.resources.limits.%s", name);
	ferr_cause(c->l, FERR_INVALID, p, "%s '%s' is greater than %s '%s'", p,
	    vres_str(c, "requests", name, rs, sizeof(rs)), vmi_path(c, lp, rel),
	    vres_str(c, "limits", name, ls, sizeof(ls)));
}

static void
v_memory(const struct vctx *c)
{
	struct quantity rq = vres(c, "requests", "memory"), one_m, g;
	char p[FERR_PATH_MAX], lp[FERR_PATH_MAX], s[64], t[64];

	quantity_parse("1M", &one_m, NULL);
	v_negative(c, "requests", "memory");
	if (quantity_sign(&rq) > 0 && quantity_cmp(&rq, &one_m) < 0)
		ferr_cause(c->l, FERR_INVALID, vmi_path(c, p,
		    "domain.resources.requests.memory"), "%s '%s': must be "
		    "greater than or equal to 1M.", p, vres_str(c, "requests",
		    "memory", s, sizeof(s)));
	v_negative(c, "limits", "memory");
	v_request_over_limit(c, "memory");
	if (validate_quantity(vmi_get(c->spec, "domain.memory.guest"), &g) > 0) {
		struct quantity lq = vres(c, "limits", "memory");

		if (quantity_sign(&lq) != 0 && quantity_cmp(&lq, &g) < 0)
			ferr_cause(c->l, FERR_INVALID, vmi_path(c, p,
			    "domain.memory.guest"), "%s '%s' must be equal to or "
			    "less than the memory limit %s '%s'", p,
			    validate_quantity_string(vmi_get(c->spec,
			    "domain.memory.guest"), s, sizeof(s)), vmi_path(c, lp,
			    "domain.resources.limits.memory"), vres_str(c,
			    "limits", "memory", t, sizeof(t)));
	}
}

static void
v_cpu(const struct vctx *c)
{
	v_negative(c, "requests", "cpu");
	v_negative(c, "limits", "cpu");
	v_request_over_limit(c, "cpu");
}

/* ---- networks and interfaces -------------------------------------------------- */

static const json_t *
v_find_named(const json_t *arr, const char *name, size_t before)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
		if (i < before && strcmp(vmi_str(e, "name"), name) == 0)
			return e;
	return NULL;
}

static void
v_network_sources(const struct vctx *c, const json_t *nets)
{
	char p[FERR_PATH_MAX];
	json_t *n;
	size_t i, pods = 0;

	json_array_foreach(nets, i, n)
		pods += vmi_get(n, "pod") != NULL;
	if (pods > 1)
		ferr_cause(c->l, FERR_DUPLICATE, vmi_path(c, p, "interfaces"),
		    "more than one interface is connected to a pod network in %s",
		    p);
	json_array_foreach(nets, i, n)
		if (vmi_get(n, "pod") == NULL && vmi_get(n, "multus") == NULL)
			ferr_cause(c->l, FERR_REQUIRED, vmi_path_i(c, p, "networks",
			    i, NULL), "should have a network type");
}

static void
v_masquerade(const struct vctx *c, const json_t *ifaces, const json_t *nets)
{
	char p[FERR_PATH_MAX];
	const json_t *net;
	json_t *e;
	size_t i;

	json_array_foreach(ifaces, i, e) {
		if (vmi_get(e, "masquerade") == NULL)
			continue;
		net = v_find_named(nets, vmi_str(e, "name"), SIZE_MAX);
		if (net == NULL || vmi_get(net, "pod") == NULL)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "name"),
			    "Masquerade interface only implemented with pod "
			    "network");
	}
}

static void
v_network_names(const struct vctx *c, const json_t *ifaces, const json_t *nets)
{
	char p[FERR_PATH_MAX], q[300];
	json_t *e;
	size_t i;

	json_array_foreach(nets, i, e)
		if (v_find_named(nets, vmi_str(e, "name"), i) != NULL)
			ferr_cause(c->l, FERR_DUPLICATE, vmi_path_i(c, p, "networks",
			    i, "name"), "Network with name %s already exists, "
			    "every network must have a unique name",
			    ferr_quote(vmi_str(e, "name"), q, sizeof(q)));
	json_array_foreach(nets, i, e)
		if (v_find_named(ifaces, vmi_str(e, "name"), SIZE_MAX) == NULL)
			ferr_cause(c->l, FERR_REQUIRED, vmi_path_i(c, p, "networks",
			    i, "name"), NOT_FOUND, p, vmi_str(e, "name"));
	json_array_foreach(ifaces, i, e)
		if (v_find_named(ifaces, vmi_str(e, "name"), i) != NULL)
			ferr_cause(c->l, FERR_DUPLICATE, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "name"),
			    "Only one interface can be connected to one specific "
			    "network");
	json_array_foreach(ifaces, i, e)
		if (v_find_named(nets, vmi_str(e, "name"), SIZE_MAX) == NULL)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "name"), NOT_FOUND, p,
			    vmi_str(e, "name"));
}

static int
v_mac_ok(const char *s)
{
	/* net.ParseMAC, 6-byte forms: xx:xx:xx:xx:xx:xx or with '-' */
	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != s[2] || (s[i] != ':' && s[i] != '-'))
				return 0;
		} else if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
			return 0;
	}
	return 1;
}

/* k8s IsValidPortName: 1-15 of [a-z0-9-], a letter, no "--", no edge '-'. */
static int
v_port_name_ok(const char *s)
{
	size_t n = strlen(s);
	int letter = 0;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' ||
	    strstr(s, "--"))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-'))
			return 0;
		letter |= s[i] >= 'a' && s[i] <= 'z';
	}
	return letter;
}

static void
v_ports(const struct vctx *c, const json_t *iface, size_t idx)
{
	char base[FERR_PATH_MAX], p[FERR_PATH_MAX], t[FERR_PATH_MAX];
	const json_t *ports = vmi_get(iface, "ports");
	const char *proto;
	json_t *e;
	size_t i;

	vmi_path_i(c, base, "domain.devices.interfaces", idx, "ports");
	json_array_foreach(ports, i, e) {
		const char *name = vmi_str(e, "name");
		json_int_t port = json_integer_value(vmi_get(e, "port"));

		ferr_child(p, ferr_index(t, base, i), "name");
		if (name[0] && v_find_named(ports, name, i) != NULL)
			ferr_cause(c->l, FERR_DUPLICATE, p, "Duplicate name of "
			    "the port: %s", name);
		if (name[0] && !v_port_name_ok(name))
			ferr_cause(c->l, FERR_INVALID, p, "Invalid name of the "
			    "port: %s", name);
		if (port == 0)
			ferr_cause(c->l, FERR_REQUIRED, t, "Port field is "
			    "mandatory.");
		if (port < 0 || port > 65536)
			ferr_cause(c->l, FERR_INVALID, t, "Port field must be in "
			    "range 0 < x < 65536.");
		proto = vmi_str(e, "protocol");
		if (proto[0] && strcmp(proto, "TCP") && strcmp(proto, "UDP"))
			ferr_cause(c->l, FERR_INVALID, ferr_child(p, t,
			    "protocol"), "Unknown protocol, only TCP or UDP "
			    "allowed");
	}
}

static void
v_interface_fields(const struct vctx *c, const json_t *ifaces,
    const json_t *nets)
{
	static const char *const models[] = { "e1000", "e1000e", "ne2k_pci",
	    "pcnet", "rtl8139", "virtio", NULL };
	char p[FERR_PATH_MAX], n[FERR_PATH_MAX];
	const json_t *net;
	json_t *e;
	size_t i;

	json_array_foreach(ifaces, i, e) {
		const char *name = vmi_str(e, "name"), *model = vmi_str(e, "model");
		const char *mac = vmi_str(e, "macAddress");
		int ok = name[0] != '\0', k;

		for (const char *s = name; *s; s++)
			ok &= (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <=
			    'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
			    *s == '_';
		vmi_path_i(c, n, "domain.devices.interfaces", i, "name");
		if (!ok)
			ferr_cause(c->l, FERR_INVALID, n, "Network interface name "
			    "can only contain alphabetical characters, numbers, "
			    "dashes (-) or underscores (_)");
		for (k = 0; model[0] && models[k] && strcmp(models[k], model); k++)
			;
		if (model[0] && models[k] == NULL)
			ferr_cause(c->l, FERR_NOT_SUPPORTED, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "model"), "interface "
			    "%s uses model %s that is not supported.", n, model);
		if (mac[0] && !v_mac_ok(mac))
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "macAddress"),
			    "interface %s has malformed MAC address (%s).", n, mac);
		net = v_find_named(nets, name, SIZE_MAX);
		if (net != NULL && vmi_get(net, "pod") != NULL)
			v_ports(c, e, i);
	}
}

static void
v_network(const struct vctx *c)
{
	const json_t *ifaces = vmi_get(c->spec, "domain.devices.interfaces");
	const json_t *nets = vmi_get(c->spec, "networks");

	v_network_sources(c, nets);
	v_masquerade(c, ifaces, nets);
	v_network_names(c, ifaces, nets);
	v_interface_fields(c, ifaces, nets);
}

/* ---- boot order, probes ------------------------------------------------------- */

static void
v_boot_order(const struct vctx *c)
{
	const json_t *disks = vmi_get(c->spec, "domain.devices.disks");
	const json_t *ifaces = vmi_get(c->spec, "domain.devices.interfaces");
	const json_t *vols = vmi_get(c->spec, "volumes"), *bo;
	char p[FERR_PATH_MAX], t[FERR_PATH_MAX];
	json_int_t seen[64];
	size_t nseen = 0, i, k;
	json_t *e;

	json_array_foreach(disks, i, e) {
		if (v_find_named(vols, vmi_str(e, "name"), SIZE_MAX) == NULL)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.disks", i, "name"), NOT_FOUND,
			    vmi_path_i(c, t, "domain.devices.disks", i, "Name"),
			    vmi_str(e, "name"));
		if ((bo = vmi_get(e, "bootOrder")) == NULL)
			continue;
		for (k = 0; k < nseen && seen[k] != json_integer_value(bo); k++)
			;
		if (k < nseen)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.disks", i, "bootOrder"), "Boot order "
			    "for %s already set for a different device.", p);
		else if (nseen < 64)
			seen[nseen++] = json_integer_value(bo);
	}
	json_array_foreach(ifaces, i, e) {
		if ((bo = vmi_get(e, "bootOrder")) == NULL)
			continue;
		if (json_integer_value(bo) < 1) {
			snprintf(t, sizeof(t), "%s[%zu]", c->path, i);
			ferr_cause(c->l, FERR_INVALID, ferr_child(p, t,
			    "bootOrder"), "%s must have a boot order > 0, if "
			    "supplied", t);
			continue;
		}
		for (k = 0; k < nseen && seen[k] != json_integer_value(bo); k++)
			;
		if (k < nseen)
			ferr_cause(c->l, FERR_INVALID, vmi_path_i(c, p,
			    "domain.devices.interfaces", i, "bootOrder"), "Boot "
			    "order for %s already set for a different device.", p);
		else if (nseen < 64)
			seen[nseen++] = json_integer_value(bo);
	}
}

static void
v_probe(const struct vctx *c, const char *name)
{
	const json_t *pr = vmi_get(c->spec, name);
	char p[FERR_PATH_MAX], a[FERR_PATH_MAX], b[FERR_PATH_MAX],
	    d[FERR_PATH_MAX];
	int n;

	if (pr == NULL)
		return;
	n = (vmi_get(pr, "httpGet") != NULL) + (vmi_get(pr, "tcpSocket") != NULL) +
	    (vmi_get(pr, "exec") != NULL) + (vmi_get(pr, "guestAgentPing") != NULL);
	vmi_path(c, p, name);
	if (n > 1)
		ferr_cause(c->l, FERR_INVALID, p, "%s must have exactly one probe "
		    "type set", p);
	if (n < 1)
		ferr_cause(c->l, FERR_REQUIRED, p, "either %s, %s or %s must be "
		    "set if a %s is specified", ferr_child(a, p, "tcpSocket"),
		    ferr_child(b, p, "exec"), ferr_child(d, p, "httpGet"), p);
}

void
vmi_validate_first(const struct vctx *c)
{
	v_hostname(c);
	v_memory(c);
	v_cpu(c);
	v_network(c);
	v_boot_order(c);
	v_probe(c, "readinessProbe");
	v_probe(c, "livenessProbe");
}
