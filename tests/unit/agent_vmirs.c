/*
 * Unit tests: the VirtualMachineInstanceReplicaSet controller (agent/vmirs*.c)
 * against a real store (agent/store*.c) in a temporary directory. The test
 * plays the VMI runtime: it sets VMI phases and conditions through
 * store_update_status(), adds finalizers, deletes VMIs, as the runtime and
 * users do. Clocks and the name source are injected, so every run is the
 * same. vmirs_sync() is called directly, or vmirs_drain() handles the watch
 * events and syncs what they queued, as the loop would.
 */
#include <errno.h>
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

#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "store.h"
#include "store_priv.h"
#include "vmirs.h"
#include "vmirs_int.h"

#define NS "lab"
#define RS "lab05-cirros-replicaset"
#define WALL 1700000000			/* 2023-11-14T22:13:20Z */
#define WALL_STR "2023-11-14T22:13:20Z"

struct fx {
	char dir[64];
	struct store *s;
	struct vmirs_ctl *c;
	uint64_t mono;
	int64_t wall;
	uint32_t seed;		/* LCG state of the name source */
	int fixed;		/* 1: the name source always returns 0 */
	int fixed_after;	/* > 0: returns 0 after that many names */
	int calls;
};

static uint64_t
fx_mono(void *arg)
{
	return ((struct fx *)arg)->mono;
}

static int64_t
fx_wall(void *arg)
{
	return ((struct fx *)arg)->wall;
}

static uint32_t
fx_rand(void *arg)
{
	struct fx *f = arg;

	if (f->fixed || (f->fixed_after > 0 && f->calls++ >=
	    5 * f->fixed_after))
		return 0;
	f->seed = f->seed * 1103515245u + 12345u;
	return f->seed >> 8;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/drover-vmirs-XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    store_open(f->dir, &f->s, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	f->c = vmirs_new(f->s, NULL);
	if (f->c == NULL)
		return -1;
	f->mono = 1000000;
	f->wall = WALL;
	f->seed = 42;
	vmirs_set_clock(f->c, fx_mono, fx_wall, f);
	vmirs_set_rand(f->c, fx_rand, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	vmirs_free(f->c);
	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

static const char *rs_yaml =
    "apiVersion: kubevirt.io/v1\n"
    "kind: VirtualMachineInstanceReplicaSet\n"
    "metadata: {name: %s, namespace: %s}\n"
    "spec:\n"
    "  replicas: %d\n"
    "  selector: {matchLabels: {kubevirt.io/domain: lab05-cirros}}\n"
    "  template:\n"
    "    metadata: {labels: {kubevirt.io/domain: %s, tier: lab}}\n"
    "    spec:\n"
    "      domain:\n"
    "        cpu: {cores: 1}\n"
    "        devices:\n"
    "          disks:\n"
    "          - {name: containerdisk, disk: {bus: virtio}}\n"
    "          - {name: %s, disk: {bus: virtio}}\n"
    "          interfaces: [{name: default, masquerade: {}}]\n"
    "        resources:\n"
    "          limits: {cpu: 300m}\n"
    "          requests: {cpu: 100m, memory: 265Mi}\n"
    "      networks: [{name: default, pod: {}}]\n"
    "      volumes:\n"
    "      - name: containerdisk\n"
    "        containerDisk: {image: quay.io/kubevirt/cirros-container-disk-demo}\n"
    "      - name: cloudinitdisk\n"
    "        cloudInitNoCloud: {userData: \"#cloud-config\\n\"}\n";

/*
 * A VMIRS as the API would store it (admitted), or, with admit == 0, as
 * only a client bypassing admission could store it. label: the template's
 * kubevirt.io/domain; disk2: the second disk's name (a name with no
 * volume makes the template one the VMI admitter refuses).
 */
static json_t *
rs_make(const char *name, const char *ns, int replicas, const char *label,
    const char *disk2, int admit)
{
	char buf[4096];
	json_t *st = NULL, *docs, *rs;

	snprintf(buf, sizeof(buf), rs_yaml, name, ns, replicas, label, disk2);
	docs = manifest_parse(buf, strlen(buf), &st);
	assert_non_null(docs);
	rs = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	if (admit) {
		if (manifest_admit(rs, MANIFEST_CREATE | MANIFEST_STRICT,
		    &st) < 0)
			fail_msg("admission: %s", manifest_status_message(st));
	}
	return rs;
}

static json_t *
rs_add(struct fx *f, const char *name, int replicas)
{
	json_t *rs = rs_make(name, NS, replicas, "lab05-cirros",
	    "cloudinitdisk", 1), *out = NULL;
	char err[256];

	if (store_create(f->s, rs, &out, err, sizeof(err)) < 0)
		fail_msg("store_create: %s", err);
	json_decref(rs);
	return out;
}

static json_t *
get(struct fx *f, const char *kind, const char *name)
{
	return store_get(f->s, kind, NS, name);
}

/* Change the stored VMIRS's spec member k to v (stolen). */
static void
rs_spec_set(struct fx *f, const char *name, const char *k, json_t *v)
{
	json_t *rs = get(f, VMIRS_KIND, name), *cp;
	char err[256];

	assert_non_null(rs);
	cp = json_deep_copy(rs);
	json_object_set_new(json_object_get(cp, "spec"), k, v);
	if (store_update(f->s, cp, NULL, err, sizeof(err)) < 0)
		fail_msg("store_update: %s", err);
	json_decref(cp);
	json_decref(rs);
}

static json_t *
vmis(struct fx *f)
{
	json_t *l = store_list(f->s, VMIRS_VMI_KIND, NS);

	assert_non_null(l);
	return l;
}

static size_t
nvmis(struct fx *f)
{
	json_t *l = vmis(f);
	size_t n = json_array_size(l);

	json_decref(l);
	return n;
}

static const char *
s_at(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static const char *
vmi_name(const json_t *l, size_t i)
{
	return s_at(json_array_get(l, i), "metadata", "name");
}

/* The runtime's part: phase, node, Ready (NULL: no condition). */
static void
vmi_status(struct fx *f, const char *name, const char *phase,
    const char *node, const char *ready, const char *reason,
    const char *since)
{
	json_t *st = json_pack("{s:s}", "phase", phase);
	char err[256];

	if (node)
		json_object_set_new(st, "nodeName", json_string(node));
	if (ready)
		json_object_set_new(st, "conditions", json_pack("[{s:s, s:s, "
		    "s:s, s:s, s:n}]", "type", "Ready", "status", ready,
		    "reason", reason ? reason : "", "lastTransitionTime",
		    since ? since : WALL_STR, "lastProbeTime"));
	if (store_update_status(f->s, VMIRS_VMI_KIND, NS, name, st, NULL, err,
	    sizeof(err)) < 0)
		fail_msg("store_update_status %s: %s", name, err);
	json_decref(st);
}

/* The runtime's finalizer on every VMI (deletion then only marks). */
static void
vmi_finalize_all(struct fx *f)
{
	json_t *l = vmis(f), *v, *cp;
	size_t i;
	char err[256];

	json_array_foreach(l, i, v) {
		cp = json_deep_copy(v);
		json_object_set_new(json_object_get(cp, "metadata"),
		    "finalizers", json_pack("[s]", "drover.dev/vmi-runtime"));
		if (store_update(f->s, cp, NULL, err, sizeof(err)) < 0)
			fail_msg("store_update: %s", err);
		json_decref(cp);
	}
	json_decref(l);
}

static json_t *
rs_status(struct fx *f, const char *name)
{
	json_t *rs = get(f, VMIRS_KIND, name);
	json_t *st;

	assert_non_null(rs);
	st = json_incref(json_object_get(rs, "status"));
	json_decref(rs);
	return st;
}

static json_int_t
st_int(const json_t *st, const char *k)
{
	return json_integer_value(json_object_get(st, k));
}

static const json_t *
st_cond(const json_t *st, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(st, "conditions"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")),
		    type))
			return c;
	return NULL;
}

/*
 * Events about name with this reason: how many (the count summed), and
 * whether one has message msg (NULL: any).
 */
static int
events(struct fx *f, const char *name, const char *reason, const char *msg)
{
	json_t *l = store_list(f->s, "Event", NS), *e;
	size_t i;
	int n = 0;

	json_array_foreach(l, i, e) {
		if (strcmp(s_at(e, "involvedObject", "name"), name) ||
		    strcmp(json_string_value(json_object_get(e, "reason")),
		    reason))
			continue;
		if (msg && strcmp(json_string_value(json_object_get(e,
		    "message")), msg))
			continue;
		n += (int)json_integer_value(json_object_get(e, "count"));
	}
	json_decref(l);
	return n;
}

static int
sync_rs(struct fx *f, const char *name)
{
	return vmirs_sync(f->c, NS, name);
}

static const char alphabet[] = VMIRS_NAME_ALPHABET;

/* name = base + 5 characters of the alphabet? */
static void
assert_generated(const char *name, const char *base)
{
	size_t bl = strlen(base), i;

	assert_int_equal(strlen(name), bl + 5);
	assert_memory_equal(name, base, bl);
	for (i = bl; i < bl + 5; i++)
		assert_non_null(strchr(alphabet, name[i]));
}

static void
vmi_add(struct fx *f, const char *ns, const char *name, const char *domain,
    const char *owner_uid)
{
	json_t *v = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:{s:{}, "
	    "s:{s:{s:s}}}}}", "apiVersion", "kubevirt.io/v1", "kind",
	    VMIRS_VMI_KIND, "metadata", "name", name, "namespace", ns,
	    "labels", "kubevirt.io/domain", domain, "spec", "domain",
	    "devices", "resources", "requests", "memory", "64Mi");
	char err[256];

	if (owner_uid)
		json_object_set_new(json_object_get(v, "metadata"),
		    "ownerReferences", json_pack("[{s:s, s:s, s:s, s:s, s:b}]",
		    "apiVersion", "kubevirt.io/v1", "kind", VMIRS_KIND, "name",
		    "ghost", "uid", owner_uid, "controller", 1));
	if (store_create(f->s, v, NULL, err, sizeof(err)) < 0)
		fail_msg("store_create %s: %s", name, err);
	json_decref(v);
}

static const char *
owner_uid(struct fx *f, const char *ns, const char *name, char *buf,
    size_t len)
{
	json_t *v = store_get(f->s, VMIRS_VMI_KIND, ns, name);
	const json_t *refs;

	assert_non_null(v);
	refs = json_object_get(json_object_get(v, "metadata"),
	    "ownerReferences");
	if (refs == NULL) {
		json_decref(v);
		return NULL;
	}
	assert_int_equal(json_array_size(refs), 1);
	assert_true(json_is_true(json_object_get(json_array_get(refs, 0),
	    "controller")));
	snprintf(buf, len, "%s", json_string_value(json_object_get(
	    json_array_get(refs, 0), "uid")));
	json_decref(v);
	return buf;
}

/* ---- tests --------------------------------------------------------------- */

/* 0 -> 3: names, labels, owner references, events, status. */
static void
test_scale_up(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 3), *l, *v, *st, *ref;
	json_t *labels = json_pack("{s:s, s:s}", "kubevirt.io/domain",
	    "lab05-cirros", "tier", "lab");
	const char *uid = s_at(rs, "metadata", "uid");
	char msg[128];
	size_t i;

	assert_int_equal(sync_rs(f, RS), 0);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 3);
	json_array_foreach(l, i, v) {
		assert_generated(vmi_name(l, i), RS);
		assert_string_equal(s_at(v, "metadata", "generateName"), RS);
		assert_true(json_equal(json_object_get(json_object_get(v,
		    "metadata"), "labels"), labels));
		ref = json_array_get(json_object_get(json_object_get(v,
		    "metadata"), "ownerReferences"), 0);
		assert_int_equal(json_array_size(json_object_get(
		    json_object_get(v, "metadata"), "ownerReferences")), 1);
		assert_string_equal(json_string_value(json_object_get(ref,
		    "uid")), uid);
		assert_string_equal(json_string_value(json_object_get(ref,
		    "kind")), VMIRS_KIND);
		assert_string_equal(json_string_value(json_object_get(ref,
		    "apiVersion")), "kubevirt.io/v1");
		assert_string_equal(json_string_value(json_object_get(ref,
		    "name")), RS);
		assert_true(json_is_true(json_object_get(ref, "controller")));
		assert_true(json_is_true(json_object_get(ref,
		    "blockOwnerDeletion")));
		/* the template's spec, defaulted */
		assert_non_null(json_object_get(json_object_get(v, "spec"),
		    "domain"));
		snprintf(msg, sizeof(msg), "Created virtual machine: %s",
		    vmi_name(l, i));
		assert_int_equal(events(f, RS, "SuccessfulCreate", msg), 1);
	}
	assert_string_not_equal(vmi_name(l, 0), vmi_name(l, 1));
	json_decref(l);

	/* the status counts what the sync found (0); the watch brings it */
	st = rs_status(f, RS);
	assert_string_equal(json_string_value(json_object_get(st,
	    "labelSelector")), "kubevirt.io/domain=lab05-cirros");
	assert_null(json_object_get(st, "replicas"));
	json_decref(st);
	vmirs_drain(f->c);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 3);
	assert_null(json_object_get(st, "readyReplicas"));
	assert_null(json_object_get(st, "conditions"));
	json_decref(st);
	assert_int_equal(nvmis(f), 3);
	json_decref(labels);
	json_decref(rs);
}

/* The name base is cut to 58 characters; 63 in all. */
static void
test_name_cut(void **state)
{
	struct fx *f = *state;
	const char *longname = "a23456789-123456789-123456789-123456789-"
	    "123456789-123456789-12";	/* 62 */
	json_t *rs = rs_add(f, longname, 1), *l;

	assert_int_equal(sync_rs(f, longname), 0);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 1);
	assert_int_equal(strlen(vmi_name(l, 0)), 63);
	assert_memory_equal(vmi_name(l, 0), longname, 58);
	json_decref(l);
	json_decref(rs);
}

/* Scale down: Kubernetes' ranking, as the runtime reports each VMI. */
static void
test_scale_down_rank(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 7), *l;
	char names[7][80];
	size_t i;

	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 7);
	for (i = 0; i < 7; i++)
		snprintf(names[i], sizeof(names[i]), "%s", vmi_name(l, i));
	json_decref(l);
	/*
	 * The list is in name order; ranks go the other way, so that list
	 * order would delete the wrong ones: names[6] is deleted first ...
	 * names[0] last.
	 */
	vmi_status(f, names[0], "Running", "node1", "True", NULL,
	    "2023-11-14T20:00:00Z");			/* ready longest */
	vmi_status(f, names[1], "Running", "node1", "True", NULL,
	    "2023-11-14T22:00:00Z");			/* ready shorter */
	vmi_status(f, names[2], "Running", "node1", "False",
	    "GuestNotRunning", NULL);			/* not ready */
	vmi_status(f, names[3], "Unknown", "node1", NULL, NULL, NULL);
	vmi_status(f, names[4], "Scheduled", "node1", NULL, NULL, NULL);
	vmi_status(f, names[5], "Scheduling", "node1", NULL, NULL, NULL);
	vmi_status(f, names[6], "Pending", NULL, NULL, NULL, NULL);
	vmirs_drain(f->c);

	rs_spec_set(f, RS, "replicas", json_integer(4));
	vmirs_drain(f->c);
	for (i = 0; i < 7; i++) {
		json_t *v = get(f, VMIRS_VMI_KIND, names[i]);

		if (i >= 4)
			assert_null(v);
		else
			assert_non_null(v);
		json_decref(v);
	}
	rs_spec_set(f, RS, "replicas", json_integer(1));
	vmirs_drain(f->c);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(vmi_name(l, 0), names[0]);
	json_decref(l);
	assert_int_equal(events(f, RS, "SuccessfulDelete", NULL), 6);
	json_decref(rs);
}

/* The ranking itself, on VMIs built here (creation times too). */
static void
test_rank_sort(void **state)
{
	json_t *l = json_array();
	static const struct {
		const char *name, *node, *phase, *ready, *since, *created;
	} v[] = {
		{ "g-ready-old", "n", "Running", "True",
		    "2023-01-01T00:00:00Z", "2022-01-01T00:00:00Z" },
		{ "f-ready-new", "n", "Running", "True",
		    "2023-06-01T00:00:00+02:00", "2022-01-01T00:00:00Z" },
		{ "e2-running-older", "n", "Running", "False", NULL,
		    "2022-01-01T00:00:00Z" },
		{ "e1-running-newer", "n", "Running", "False", NULL,
		    "2022-02-01T00:00:00.5Z" },
		{ "d-unknown", "n", "Unknown", NULL, NULL,
		    "2022-01-01T00:00:00Z" },
		{ "c-scheduled", "n", "Scheduled", NULL, NULL,
		    "2022-01-01T00:00:00Z" },
		{ "b-pending-on-node", "n", "Pending", NULL, NULL,
		    "2022-01-01T00:00:00Z" },
		{ "a2-unscheduled-running", "", "Running", "True",
		    "2023-01-01T00:00:00Z", "2022-01-01T00:00:00Z" },
		{ "a1-unscheduled", NULL, NULL, NULL, NULL, NULL },
	};
	static const char *const want[] = { "a1-unscheduled",
	    "a2-unscheduled-running", "b-pending-on-node", "c-scheduled",
	    "d-unknown", "e1-running-newer", "e2-running-older",
	    "f-ready-new", "g-ready-old" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *o = json_pack("{s:{s:s}, s:{}}", "metadata", "name",
		    v[i].name, "status");
		json_t *st = json_object_get(o, "status");

		if (v[i].created)
			json_object_set_new(json_object_get(o, "metadata"),
			    "creationTimestamp", json_string(v[i].created));
		if (v[i].node)
			json_object_set_new(st, "nodeName",
			    json_string(v[i].node));
		if (v[i].phase)
			json_object_set_new(st, "phase",
			    json_string(v[i].phase));
		if (v[i].ready)
			json_object_set_new(st, "conditions", json_pack(
			    "[{s:s, s:s, s:s?}]", "type", "Ready", "status",
			    v[i].ready, "lastTransitionTime", v[i].since));
		json_array_append_new(l, o);
	}
	vmirs_rank_sort(l);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(vmi_name(l, i), want[i]);
	json_decref(l);
}

/* 300 replicas: 250 per sync, the rest once the 250 are observed. */
static void
test_burst(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 300);
	int creates, deletes;

	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), VMIRS_BURST);
	vmirs_expectations(f->c, NS, RS, &creates, &deletes);
	assert_int_equal(creates, VMIRS_BURST);
	assert_int_equal(deletes, 0);
	/* not observed yet: a second sync waits */
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), VMIRS_BURST);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 300);
	vmirs_expectations(f->c, NS, RS, &creates, &deletes);
	assert_int_equal(creates + deletes, 0);

	/* and down: 250 deletes, then 50 */
	rs_spec_set(f, RS, "replicas", json_integer(0));
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 50);
	vmirs_expectations(f->c, NS, RS, &creates, &deletes);
	assert_int_equal(deletes, VMIRS_BURST);
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 50);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 0);
	json_decref(rs);
}

/* Expectations: unobserved creates block scaling until seen or expired. */
static void
test_expectations(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 2), *l;
	char err[256];
	int creates;

	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 2);
	/* a user deletes one before the controller saw its creation */
	l = vmis(f);
	assert_int_equal(store_delete(f->s, VMIRS_VMI_KIND, NS, vmi_name(l, 0),
	    err, sizeof(err)), 0);
	json_decref(l);
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 1);		/* blocked */
	vmirs_expectations(f->c, NS, RS, &creates, NULL);
	assert_int_equal(creates, 2);
	/* 5 minutes later the expectations expire */
	f->mono += VMIRS_EXPECT_TIMEOUT_MS;
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 1);		/* not yet: exactly 5 min */
	f->mono += 1;
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 2);

	/* observed through the watch: the next sync may scale at once */
	vmirs_drain(f->c);
	vmirs_expectations(f->c, NS, RS, &creates, NULL);
	assert_int_equal(creates, 0);
	l = vmis(f);
	assert_int_equal(store_delete(f->s, VMIRS_VMI_KIND, NS, vmi_name(l, 1),
	    err, sizeof(err)), 0);
	json_decref(l);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 2);
	json_decref(rs);
}

/* Paused: no scaling, no clean-up; condition and events; resume. */
static void
test_paused(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 2), *st, *l;
	const json_t *cond;
	char fin[80];

	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	l = vmis(f);
	snprintf(fin, sizeof(fin), "%s", vmi_name(l, 0));
	json_decref(l);
	rs_spec_set(f, RS, "paused", json_true());
	rs_spec_set(f, RS, "replicas", json_integer(4));
	vmi_status(f, fin, "Failed", "node1", "False", "GuestNotRunning",
	    NULL);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 2);			/* nothing done */
	l = get(f, VMIRS_VMI_KIND, fin);
	assert_non_null(l);				/* not cleaned */
	json_decref(l);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 1);	/* still updated */
	cond = st_cond(st, "ReplicaPaused");
	assert_non_null(cond);
	assert_string_equal(json_string_value(json_object_get(cond,
	    "status")), "True");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "reason")), "Paused");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "message")), "Controller got paused");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "lastTransitionTime")), WALL_STR);
	assert_true(json_is_null(json_object_get(cond, "lastProbeTime")));
	json_decref(st);
	assert_int_equal(events(f, RS, "SuccessfulPaused", "Paused"), 1);
	sync_rs(f, RS);
	assert_int_equal(events(f, RS, "SuccessfulPaused", "Paused"), 1);

	f->wall += 60;
	rs_spec_set(f, RS, "paused", json_false());
	vmirs_drain(f->c);
	assert_int_equal(events(f, RS, "SuccessfulResumed", "Resumed"), 1);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 4);	/* 1 active + 3 */
	json_decref(l);
	assert_null(get(f, VMIRS_VMI_KIND, fin));	/* cleaned up now */
	st = rs_status(f, RS);
	assert_null(st_cond(st, "ReplicaPaused"));
	assert_int_equal(st_int(st, "replicas"), 4);
	json_decref(st);
	json_decref(rs);
}

/* Finished VMIs: not counted, replaced by new names, then deleted. */
static void
test_finished_replaced(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 3), *l, *v;
	char old[3][80], uid[3][64], msg[160];
	size_t i, j;

	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	l = vmis(f);
	for (i = 0; i < 3; i++) {
		snprintf(old[i], sizeof(old[i]), "%s", vmi_name(l, i));
		snprintf(uid[i], sizeof(uid[i]), "%s", s_at(json_array_get(l,
		    i), "metadata", "uid"));
	}
	json_decref(l);
	vmi_status(f, old[0], "Succeeded", "node1", "False",
	    "GuestNotRunning", NULL);
	vmi_status(f, old[1], "Failed", "node1", "False", "GuestNotRunning",
	    NULL);
	vmi_status(f, old[2], "Running", "node1", "False", "PodTerminating",
	    NULL);				/* terminating: not active */
	vmirs_drain(f->c);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 3);
	json_array_foreach(l, i, v) {
		assert_generated(vmi_name(l, i), RS);
		for (j = 0; j < 3; j++)
			assert_string_not_equal(vmi_name(l, i), old[j]);
		assert_true(json_object_get(v, "status") == NULL ||
		    json_object_get(json_object_get(v, "status"), "phase") ==
		    NULL);
	}
	json_decref(l);
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "Deleted finished virtual machine: "
		    "%s", uid[i]);
		assert_int_equal(events(f, RS, "SuccessfulDelete", msg), 1);
	}
	assert_int_equal(events(f, RS, "SuccessfulCreate", NULL), 6);
	json_decref(rs);
}

/* Counting: active, ready, Unknown, being deleted, finished. */
static void
test_status_counts(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 5), *l, *st;
	char n[5][80], err[256];
	size_t i;

	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	vmi_finalize_all(f);
	l = vmis(f);
	for (i = 0; i < 5; i++)
		snprintf(n[i], sizeof(n[i]), "%s", vmi_name(l, i));
	json_decref(l);
	vmi_status(f, n[0], "Running", "node1", "True", NULL, NULL);
	vmi_status(f, n[1], "Running", "node1", "True", NULL, NULL);
	vmi_status(f, n[2], "Unknown", "node1", "False", "GuestNotRunning",
	    NULL);
	vmi_status(f, n[3], "Scheduling", NULL, NULL, NULL, NULL);
	vmirs_drain(f->c);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 5);
	assert_int_equal(st_int(st, "readyReplicas"), 2);
	json_decref(st);

	/* a user deletes a ready one: it lingers (finalizer), not counted,
	 * and is replaced at once */
	assert_int_equal(store_delete(f->s, VMIRS_VMI_KIND, NS, n[0], err,
	    sizeof(err)), 0);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 6);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 5);
	assert_int_equal(st_int(st, "readyReplicas"), 1);
	json_decref(st);
	json_decref(rs);
}

/* A create refused by the store: ReplicaFailure, then a good sync. */
static void
test_failure_condition(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 2), *st, *l;
	const json_t *cond;
	char msg[300];
	int rc;

	f->fixed = 1;		/* every name is RS + "bbbbb" */
	rc = sync_rs(f, RS);
	assert_int_equal(rc, -EEXIST);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(vmi_name(l, 0), RS "bbbbb");
	json_decref(l);
	st = rs_status(f, RS);
	cond = st_cond(st, "ReplicaFailure");
	assert_non_null(cond);
	assert_string_equal(json_string_value(json_object_get(cond,
	    "status")), "True");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "reason")), "FailedCreate");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "message")), "VirtualMachineInstance \"" RS "bbbbb\" already "
	    "exists");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "lastTransitionTime")), WALL_STR);
	json_decref(st);
	snprintf(msg, sizeof(msg), "Error creating virtual machine: "
	    "VirtualMachineInstance \"%sbbbbb\" already exists", RS);
	assert_int_equal(events(f, RS, "FailedCreate", msg), 1);

	/* the failure is observed: the next sync tries again; it fails
	 * again with the same names, and the condition stays as it was */
	f->wall += 10;
	vmirs_drain(f->c);
	st = rs_status(f, RS);
	cond = st_cond(st, "ReplicaFailure");
	assert_non_null(cond);
	assert_string_equal(json_string_value(json_object_get(cond,
	    "lastTransitionTime")), WALL_STR);
	json_decref(st);

	f->fixed = 0;
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(nvmis(f), 2);
	st = rs_status(f, RS);
	assert_null(st_cond(st, "ReplicaFailure"));
	assert_null(json_object_get(st, "conditions"));
	json_decref(st);
	json_decref(rs);
}

/* A template the VMI admitter refuses (the VMIRS bypassed admission). */
static void
test_admission_failure(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_make(RS, NS, 1, "lab05-cirros", "nosuchvolume", 0);
	json_t *st;
	const json_t *cond;
	const char *m;
	char err[256];

	assert_int_equal(store_create(f->s, rs, NULL, err, sizeof(err)), 0);
	assert_true(sync_rs(f, RS) < 0);
	assert_int_equal(nvmis(f), 0);
	st = rs_status(f, RS);
	cond = st_cond(st, "ReplicaFailure");
	assert_non_null(cond);
	assert_string_equal(json_string_value(json_object_get(cond,
	    "reason")), "FailedCreate");
	m = json_string_value(json_object_get(cond, "message"));
	assert_non_null(strstr(m, "admission webhook \""
	    MANIFEST_WEBHOOK_VMI "\" denied the request"));
	assert_non_null(strstr(m, "nosuchvolume"));
	json_decref(st);
	assert_int_equal(events(f, RS, "FailedCreate", NULL), 1);
	json_decref(rs);
}

/* A selector that does not match the template: nothing done, one warning. */
static void
test_selector_mismatch(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_make(RS, NS, 2, "something-else", "cloudinitdisk", 0);
	json_t *got;
	char err[256];

	assert_int_equal(store_create(f->s, rs, NULL, err, sizeof(err)), 0);
	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 0);
	got = get(f, VMIRS_KIND, RS);
	assert_null(json_object_get(got, "status"));
	json_decref(got);
	assert_int_equal(events(f, RS, "SelectorMismatch",
	    "Selector does not match template labels, will not act on this "
	    "replica set"), 1);
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(events(f, RS, "SelectorMismatch", NULL), 1);
	/* a new generation is warned about again */
	rs_spec_set(f, RS, "replicas", json_integer(3));
	vmirs_drain(f->c);
	assert_int_equal(events(f, RS, "SelectorMismatch", NULL), 2);
	assert_int_equal(nvmis(f), 0);
	json_decref(rs);
}

/*
 * Slow start: batches of 1, 2, 4; the first batch with a failure ends the
 * sync. Names after the second are all RS "bbbbb", which a VMI the
 * controller does not own already has: the third create fails, in the
 * second batch, and the fourth batch is never tried.
 */
static void
test_slow_start(void **state)
{
	struct fx *f = *state;
	json_t *rs;

	vmi_add(f, NS, RS "bbbbb", "not-selected", NULL);
	rs = rs_add(f, RS, 7);
	f->fixed_after = 2;
	assert_int_equal(sync_rs(f, RS), -EEXIST);
	assert_int_equal(nvmis(f), 3);		/* the stranger + 2 */
	assert_int_equal(events(f, RS, "SuccessfulCreate", NULL), 2);
	assert_int_equal(events(f, RS, "FailedCreate", NULL), 1);
	json_decref(rs);
}

/* Deleting the VMIRS deletes its VMIs (the store's ownerReference GC). */
static void
test_cascade(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 3), *other = rs_add(f, "other", 1), *l;
	char err[256];

	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 4);
	assert_int_equal(store_delete(f->s, VMIRS_KIND, NS, RS, err,
	    sizeof(err)), 0);
	vmirs_drain(f->c);
	l = vmis(f);
	assert_int_equal(json_array_size(l), 1);
	assert_memory_equal(vmi_name(l, 0), "other", 5);
	json_decref(l);
	vmirs_expectations(f->c, NS, RS, NULL, NULL);
	json_decref(rs);
	json_decref(other);
}

/* ControllerRefManager: adopt matching orphans, release non-matching. */
static void
test_adopt_release(void **state)
{
	struct fx *f = *state;
	json_t *rs, *l, *st, *cp, *v;
	const char *uid, *ghost = "0b7c2f5e-1a2b-4c3d-8e9f-001122334455";
	char buf[64], err[256], moved[80] = "";
	size_t i, owned = 0;

	vmi_add(f, NS, "orphan1", "lab05-cirros", NULL);
	vmi_add(f, "elsewhere", "orphan2", "lab05-cirros", NULL);
	vmi_add(f, NS, "foreign", "lab05-cirros", ghost);
	vmi_add(f, NS, "nomatch", "other", NULL);
	rs = rs_add(f, RS, 3);
	uid = s_at(rs, "metadata", "uid");
	vmirs_drain(f->c);

	assert_string_equal(owner_uid(f, NS, "orphan1", buf, sizeof(buf)),
	    uid);
	assert_null(owner_uid(f, "elsewhere", "orphan2", buf, sizeof(buf)));
	assert_string_equal(owner_uid(f, NS, "foreign", buf, sizeof(buf)),
	    ghost);
	assert_null(owner_uid(f, NS, "nomatch", buf, sizeof(buf)));
	assert_int_equal(nvmis(f), 5);		/* orphan1 + 2 new + 2 */
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 3);
	json_decref(st);

	/* a user relabels one of ours: released, and replaced */
	l = vmis(f);
	json_array_foreach(l, i, v) {
		if (strncmp(vmi_name(l, i), RS, strlen(RS)))
			continue;
		snprintf(moved, sizeof(moved), "%s", vmi_name(l, i));
		cp = json_deep_copy(v);
		json_object_set_new(json_object_get(json_object_get(cp,
		    "metadata"), "labels"), "kubevirt.io/domain",
		    json_string("moved"));
		assert_int_equal(store_update(f->s, cp, NULL, err,
		    sizeof(err)), 0);
		json_decref(cp);
		break;
	}
	json_decref(l);
	assert_true(moved[0]);
	vmirs_drain(f->c);
	assert_null(owner_uid(f, NS, moved, buf, sizeof(buf)));
	l = vmis(f);
	assert_int_equal(json_array_size(l), 6);
	json_array_foreach(l, i, v)
		if (owner_uid(f, NS, vmi_name(l, i), buf, sizeof(buf)) &&
		    !strcmp(buf, uid))
			owned++;
	json_decref(l);
	assert_int_equal(owned, 3);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 3);
	json_decref(st);
	json_decref(rs);
}

/* A VMIRS being deleted: no scaling, no adoption, status still kept. */
static void
test_rs_deleting(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 2), *cp, *l, *st;
	char err[256], buf[64];

	vmirs_drain(f->c);
	cp = json_deep_copy(rs);
	json_object_set_new(json_object_get(cp, "metadata"), "finalizers",
	    json_pack("[s]", "test/hold"));
	json_object_del(json_object_get(cp, "metadata"), "resourceVersion");
	assert_int_equal(store_update(f->s, cp, NULL, err, sizeof(err)), 0);
	json_decref(cp);
	assert_int_equal(store_delete(f->s, VMIRS_KIND, NS, RS, err,
	    sizeof(err)), 0);
	vmi_add(f, NS, "orphan1", "lab05-cirros", NULL);
	l = vmis(f);
	assert_int_equal(store_delete(f->s, VMIRS_VMI_KIND, NS, vmi_name(l, 0),
	    err, sizeof(err)), 0);
	json_decref(l);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 2);		/* one of ours + orphan1 */
	assert_null(owner_uid(f, NS, "orphan1", buf, sizeof(buf)));
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 1);
	json_decref(st);
	json_decref(rs);
}

/* A sync that finds nothing to do writes nothing (no resourceVersion). */
static void
test_no_churn(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 2), *st;
	uint64_t rv;

	vmirs_drain(f->c);
	vmi_finalize_all(f);
	vmirs_drain(f->c);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 2);
	json_decref(st);
	rv = store_rv(f->s);
	assert_int_equal(sync_rs(f, RS), 0);
	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_enqueue(f->c, NS, RS);
	assert_int_equal(vmirs_drain(f->c), 1);
	assert_int_equal(store_rv(f->s), rv);
	json_decref(rs);
}

static void
stop_cb(void *arg)
{
	loop_stop(arg);
}

/* With a loop: the watch queues, loop_defer drains, no test calls. */
static void
test_loop(void **state)
{
	struct fx *f = *state;
	struct loop *l = loop_new();
	struct vmirs_ctl *c;
	json_t *rs, *st;
	char err[256];

	assert_non_null(l);
	vmirs_free(f->c);		/* the fixture's loop-less one */
	f->c = NULL;
	c = vmirs_new(f->s, l);
	assert_non_null(c);
	rs = rs_add(f, RS, 2);
	assert_int_equal(nvmis(f), 0);	/* nothing synchronous */
	loop_timer(l, 300, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 2);
	st = rs_status(f, RS);
	assert_int_equal(st_int(st, "replicas"), 2);
	json_decref(st);
	/* a VMI goes: replaced from the loop */
	st = vmis(f);
	assert_int_equal(store_delete(f->s, VMIRS_VMI_KIND, NS,
	    vmi_name(st, 0), err, sizeof(err)), 0);
	json_decref(st);
	loop_timer(l, 300, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 2);
	/* freed with work pending: nothing of it runs afterwards */
	vmirs_enqueue(c, NS, RS);
	vmirs_free(c);
	rs_spec_set(f, RS, "replicas", json_integer(3));
	loop_timer(l, 100, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 2);
	loop_free(l);
	json_decref(rs);
}

/* With a loop: a failing sync is retried after 1 s, with nothing new. */
static void
test_loop_retry(void **state)
{
	struct fx *f = *state;
	struct loop *l = loop_new();
	struct vmirs_ctl *c;
	json_t *rs;
	int before;

	assert_non_null(l);
	vmirs_free(f->c);
	f->c = NULL;
	c = vmirs_new(f->s, l);
	assert_non_null(c);
	vmirs_set_rand(c, fx_rand, f);
	f->fixed = 1;		/* the second name always clashes */
	rs = rs_add(f, RS, 2);
	loop_timer(l, 400, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	/* the first sync, then those its own writes queued */
	before = events(f, RS, "FailedCreate", NULL);
	assert_true(before >= 2);
	loop_timer(l, 1100, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(events(f, RS, "FailedCreate", NULL), before + 1);
	f->fixed = 0;		/* the next retry (2 s later) succeeds */
	assert_int_equal(nvmis(f), 1);
	loop_timer(l, 2200, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 2);
	vmirs_free(c);
	loop_free(l);
	json_decref(rs);
}

/* The disk refuses the VMI deletes (a store failpoint, as an I/O error):
 * ReplicaFailure FailedDelete, FailedDelete events, nothing wedged; the
 * next good sync deletes them and drops the condition. */
static int
fail_vmi_deletes(void *arg, char op, const char *path)
{
	(void)arg;
	return op == 'D' && strncmp(path, VMIRS_VMI_KIND "/", strlen(
	    VMIRS_VMI_KIND) + 1) == 0 ? -EIO : 0;
}

static void
test_delete_failure(void **state)
{
	struct fx *f = *state;
	json_t *rs = rs_add(f, RS, 3), *st, *l;
	const json_t *cond;
	char msg[400];
	int deletes;

	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	f->s->failpoint = fail_vmi_deletes;
	rs_spec_set(f, RS, "replicas", json_integer(1));
	assert_int_equal(sync_rs(f, RS), -EIO);
	assert_int_equal(nvmis(f), 3);
	vmirs_expectations(f->c, NS, RS, NULL, &deletes);
	assert_int_equal(deletes, 0);		/* nothing waits for them */
	st = rs_status(f, RS);
	cond = st_cond(st, "ReplicaFailure");
	assert_non_null(cond);
	assert_string_equal(json_string_value(json_object_get(cond,
	    "status")), "True");
	assert_string_equal(json_string_value(json_object_get(cond,
	    "reason")), "FailedDelete");
	assert_non_null(strstr(json_string_value(json_object_get(cond,
	    "message")), "Input/output error"));
	json_decref(st);
	assert_int_equal(events(f, RS, "FailedDelete", NULL), 2);
	l = vmis(f);
	vmirs_rank_sort(l);
	snprintf(msg, sizeof(msg), "Error deleting virtual machine %s: %s/"
	    "journal: writing " VMIRS_VMI_KIND "/" NS "/%s: Input/output "
	    "error", vmi_name(l, 0), f->dir, vmi_name(l, 0));
	json_decref(l);
	assert_int_equal(events(f, RS, "FailedDelete", msg), 1);

	f->s->failpoint = NULL;
	assert_int_equal(sync_rs(f, RS), 0);
	vmirs_drain(f->c);
	assert_int_equal(nvmis(f), 1);
	st = rs_status(f, RS);
	assert_null(st_cond(st, "ReplicaFailure"));
	assert_int_equal(st_int(st, "replicas"), 1);
	json_decref(st);
	json_decref(rs);
}

/* The periodic resync: a change the watch never delivered is acted on
 * at the next resync. */
static void
test_loop_resync(void **state)
{
	struct fx *f = *state;
	struct loop *l = loop_new();
	struct vmirs_ctl *c;
	json_t *rs, *v;
	char err[256];

	assert_non_null(l);
	vmirs_free(f->c);
	f->c = NULL;
	c = vmirs_new(f->s, l);
	assert_non_null(c);
	vmirs_set_clock(c, fx_mono, fx_wall, f);
	vmirs_set_rand(c, fx_rand, f);
	vmirs_set_resync(c, 300);
	rs = rs_add(f, RS, 2);
	loop_timer(l, 100, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 2);
	/* The controller's watch gone: only the resync can see this. */
	store_unwatch(f->s, c->watch_id);
	c->watch_id = 0;
	v = vmis(f);
	assert_int_equal(store_delete(f->s, VMIRS_VMI_KIND, NS, vmi_name(v, 0),
	    err, sizeof(err)), 0);
	json_decref(v);
	loop_timer(l, 50, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 1);		/* no resync yet */
	loop_timer(l, 400, stop_cb, l);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nvmis(f), 2);		/* the resync did it */
	vmirs_free(c);
	loop_free(l);
	json_decref(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scale_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_down_rank, setup,
		    teardown),
		cmocka_unit_test(test_rank_sort),
		cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expectations, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_paused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finished_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_counts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failure_condition, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_admission_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_selector_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slow_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_release, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rs_deleting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_churn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loop_resync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loop_retry, setup,
		    teardown),
	};

	log_init("unit_agent_vmirs", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
