/*
 * vmirs_sync.c: one reconciliation of one VMIRS (KubeVirt's
 * replicaset.go execute(), scale(), cleanFinishedVmis(), updateStatus()).
 *
 * Choices where KubeVirt leaves room, written down:
 * - Names: the controller picks the 5 characters itself (from the
 *   store's alphabet, VMIRS_NAME_ALPHABET) and sets metadata.name next to
 *   the generateName, so that a create is expected by name; a name taken
 *   is retried with new characters (NAME_TRIES times) as the API server
 *   retries a generateName clash.
 * - Every VMI goes through manifest_admit() before it is stored, as the
 *   API server runs KubeVirt's VMI admitter on the controller's create: a
 *   template that admission refuses (a VMIRS stored without admission)
 *   is a FailedCreate with the admitter's message.
 * - Creates go in slow-start batches (1, 2, 4, ..., Kubernetes'
 *   slowStartBatch) and stop after the first batch with a failure.
 * - Scale-down deletes the lowest-ranked VMIs (vmirs_rank.c).
 * - The ReplicaFailure reason names the operation that failed
 *   (KubeVirt derives it from the sign of the replica difference).
 * - Event texts are KubeVirt's: "Created virtual machine: NAME", "Error
 *   creating virtual machine: ERR", "Deleted virtual machine: UID",
 *   "Error deleting virtual machine NAME: ERR", "Deleted finished virtual
 *   machine: UID", "Error deleting finished virtual machine NAME: ERR",
 *   "Paused", "Resumed".
 * - A VMIRS not acted on (spec unusable) gets a Warning event
 *   (SelectorMismatch or InvalidSpec) and an error log line once per
 *   metadata.generation; KubeVirt only logs.
 * - status.replicas and readyReplicas are left out when 0, conditions
 *   when empty (KubeVirt's omitempty); lastProbeTime is null as in
 *   KubeVirt's conditions.
 * - The VMIRS is read from the store at the start of the sync, so
 *   KubeVirt's uncached re-read before adopting is not needed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manifest.h"
#include "store.h"
#include "validate.h"
#include "vmirs_int.h"

#define NAME_TRIES	8
#define NAME_SUFFIX	5

struct sync {
	struct vmirs_ctl *c;
	json_t *rs;
	const json_t *selector;
	const char *ns, *name, *uid;
	char key[VMIRS_KEY_MAX];
	int64_t replicas;
	int paused, deleting;
	int err;		/* first scale error (negative errno), or 0 */
	const char *reason;	/* FailedCreate, FailedDelete */
	char msg[512];
};

static const char *
mstr(const json_t *obj, const char *k)
{
	return json_string_value(json_object_get(json_object_get(obj,
	    "metadata"), k));
}

static void
set_err(struct sync *x, int rc, const char *reason, const char *msg)
{
	if (x->err)
		return;
	x->err = rc < 0 ? rc : -EIO;
	x->reason = reason;
	snprintf(x->msg, sizeof(x->msg), "%s", msg);
}

/* ---- the spec ------------------------------------------------------------ */

/* 0: usable; else why not in why, and the event reason in *reason. */
static int
spec_check(struct sync *x, const char **reason, char *why, size_t len)
{
	const json_t *spec = json_object_get(x->rs, "spec");
	const json_t *tmpl = json_object_get(spec, "template");
	const json_t *labels = json_object_get(json_object_get(tmpl,
	    "metadata"), "labels");
	const json_t *rep = json_object_get(spec, "replicas");
	char err[400];
	int m;

	*reason = "InvalidSpec";
	if (!json_is_object(tmpl))
		return snprintf(why, len, "Invalid controller spec: no "
		    "template"), -1;
	if (!json_is_object(x->selector))
		return snprintf(why, len, "Invalid controller spec: no "
		    "selector"), -1;
	if (json_object_size(labels) == 0)
		return snprintf(why, len, "Invalid controller spec: the "
		    "template has no labels"), -1;
	if (rep && (!json_is_integer(rep) || json_integer_value(rep) < 0 ||
	    json_integer_value(rep) > INT32_MAX))
		return snprintf(why, len, "Invalid controller spec: "
		    "spec.replicas out of range"), -1;
	m = validate_selector_matches(x->selector, labels, err, sizeof(err));
	if (m < 0)
		return snprintf(why, len, "Invalid selector on replicaset: %s",
		    err), -1;
	if (m == 0) {
		*reason = "SelectorMismatch";
		return snprintf(why, len, "Selector does not match template "
		    "labels"), -1;
	}
	return 0;
}

/* Log and record a Warning once per (uid, generation). */
static void
spec_refused(struct sync *x, const char *reason, const char *why)
{
	char id[160];
	const char *seen = json_string_value(json_object_get(x->c->warned,
	    x->key));

	snprintf(id, sizeof(id), "%s/%" JSON_INTEGER_FORMAT, x->uid ? x->uid :
	    "", json_integer_value(json_object_get(json_object_get(x->rs,
	    "metadata"), "generation")));
	if (seen && !strcmp(seen, id)) {
		log_debug("%s: %s, not acted on", x->key, why);
		return;
	}
	log_error("%s: %s, will not act on this replica set", x->key, why);
	store_event(x->c->s, x->rs, "Warning", reason, "%s, will not act on "
	    "this replica set", why);
	json_object_set_new(x->c->warned, x->key, json_string(id));
}

/* ---- claiming (ControllerRefManager.ClaimObject) ------------------------- */

static json_t *
owner_ref(const struct sync *x)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion",
	    "kubevirt.io/v1", "kind", VMIRS_KIND, "name", x->name, "uid",
	    x->uid, "controller", 1, "blockOwnerDeletion", 1);
}

/* A copy of vmi without the ownerReferences naming uid. */
static json_t *
without_ref(const json_t *vmi, const char *uid)
{
	json_t *cp = json_deep_copy(vmi);
	json_t *meta = json_object_get(cp, "metadata");
	json_t *refs = json_object_get(meta, "ownerReferences");
	size_t i = 0;

	while (i < json_array_size(refs)) {
		const char *u = json_string_value(json_object_get(
		    json_array_get(refs, i), "uid"));

		if (u && !strcmp(u, uid))
			json_array_remove(refs, i);
		else
			i++;
	}
	if (refs && json_array_size(refs) == 0)
		json_object_del(meta, "ownerReferences");
	return cp;
}

/* Adopt (add our reference) or release (drop it) vmi; *out the result. */
static int
rewrite_owner(struct sync *x, const json_t *vmi, int adopt, json_t **out)
{
	json_t *cp = without_ref(vmi, x->uid), *meta, *refs;
	char err[512];
	int rc = -ENOMEM;

	*out = NULL;
	if (cp == NULL)
		goto fail;
	meta = json_object_get(cp, "metadata");
	if (adopt) {
		refs = json_object_get(meta, "ownerReferences");
		if (refs == NULL && (json_object_set_new(meta,
		    "ownerReferences", json_array()) < 0 ||
		    (refs = json_object_get(meta, "ownerReferences")) == NULL))
			goto fail;
		if (json_array_append_new(refs, owner_ref(x)) < 0)
			goto fail;
	}
	rc = store_update(x->c->s, cp, out, err, sizeof(err));
	if (rc == -ENOENT)
		rc = 0;		/* gone meanwhile: nothing to claim */
	else if (rc < 0)
		log_error("%s: cannot %s VMI %s: %s", x->key, adopt ? "adopt" :
		    "release", mstr(vmi, "name"), err);
	else
		log_info("%s: %s VMI %s", x->key, adopt ? "adopted" :
		    "released", mstr(vmi, "name"));
fail:
	json_decref(cp);
	return rc;
}

static int
matches(const struct sync *x, const json_t *vmi)
{
	const json_t *labels = json_object_get(json_object_get(vmi,
	    "metadata"), "labels");
	json_t *none = labels ? NULL : json_object();
	char err[256];
	int m = validate_selector_matches(x->selector, labels ? labels : none,
	    err, sizeof(err));

	json_decref(none);
	return m == 1;
}

/* One VMI: append it to claimed if it is ours after claiming. */
static int
claim_one(struct sync *x, json_t *vmi, json_t *claimed)
{
	const json_t *ref = vmirs_controller_ref(vmi);
	const char *ruid = ref ? json_string_value(json_object_get(ref,
	    "uid")) : NULL;
	json_t *out = NULL;
	int rc;

	if (ref != NULL) {
		if (ruid == NULL || strcmp(ruid, x->uid))
			return 0;		/* someone else's */
		if (matches(x, vmi))
			return json_array_append(claimed, vmi) < 0 ? -ENOMEM :
			    0;
		if (x->deleting)
			return 0;
		rc = rewrite_owner(x, vmi, 0, &out);	/* release */
		json_decref(out);
		return rc;
	}
	if (x->deleting || !matches(x, vmi) || vmirs_vmi_deleting(vmi))
		return 0;
	rc = rewrite_owner(x, vmi, 1, &out);
	if (rc == 0 && out != NULL)
		json_array_append(claimed, out);
	json_decref(out);
	return rc;
}

/* The VMIs of the namespace this VMIRS owns after adopting/releasing. */
static int
claim(struct sync *x, json_t *claimed)
{
	json_t *vmis = store_list(x->c->s, VMIRS_VMI_KIND, x->ns), *vmi;
	size_t i;
	int rc = 0, r;

	if (vmis == NULL)
		return -ENOMEM;
	json_array_foreach(vmis, i, vmi) {
		r = claim_one(x, vmi, claimed);
		if (r < 0 && rc == 0)
			rc = r;
	}
	json_decref(vmis);
	return rc;
}

/* ---- creating ------------------------------------------------------------ */

/* The VMI to create, admitted as the API server would admit it. */
static json_t *
new_vmi(struct sync *x, char *err, size_t errlen)
{
	json_t *vmi = manifest_vmi_from_vmirs(x->rs), *status = NULL;

	if (vmi == NULL) {
		snprintf(err, errlen, "cannot build a VirtualMachineInstance "
		    "from spec.template");
		return NULL;
	}
	if (manifest_admit(vmi, MANIFEST_CREATE, &status) < 0) {
		snprintf(err, errlen, "%s", manifest_status_message(status) ?
		    manifest_status_message(status) : "refused by admission");
		json_decref(status);
		json_decref(vmi);
		return NULL;
	}
	return vmi;
}

static int
pick_name(struct sync *x, json_t *vmi, char *name, size_t len)
{
	static const char abc[] = VMIRS_NAME_ALPHABET;
	json_t *meta = json_object_get(vmi, "metadata");
	const char *base = json_string_value(json_object_get(meta,
	    "generateName"));
	size_t n = (size_t)snprintf(name, len, "%.58s", base ? base : "");
	int i;

	for (i = 0; i < NAME_SUFFIX && n + 1 < len; i++)
		name[n++] = abc[x->c->rnd(x->c->rand_arg) % (sizeof(abc) - 1)];
	name[n] = '\0';
	return json_object_set_new(meta, "name", json_string(name));
}

static int
create_one(struct sync *x)
{
	char err[512] = "", name[80] = "";
	json_t *vmi = new_vmi(x, err, sizeof(err));
	int rc = -EINVAL, i;

	for (i = 0; vmi != NULL && i < NAME_TRIES; i++) {
		if ((rc = pick_name(x, vmi, name, sizeof(name))) < 0) {
			rc = -ENOMEM;
			snprintf(err, sizeof(err), "out of memory");
			break;
		}
		vmirs_expect_create(x->c, x->key, name);
		rc = store_create(x->c->s, vmi, NULL, err, sizeof(err));
		if (rc == 0)
			break;
		vmirs_observe_create(x->c, x->key, name);	/* never comes */
		if (rc != -EEXIST)
			break;
	}
	json_decref(vmi);
	if (rc < 0) {
		log_error("%s: creating a VMI: %s", x->key, err);
		store_event(x->c->s, x->rs, "Warning", "FailedCreate",
		    "Error creating virtual machine: %s", err);
		set_err(x, rc, "FailedCreate", err);
		return rc;
	}
	log_debug("%s: created VMI %s", x->key, name);
	store_event(x->c->s, x->rs, "Normal", "SuccessfulCreate",
	    "Created virtual machine: %s", name);
	return 0;
}

/* slowStartBatch: 1, 2, 4, ... creates; a batch with a failure ends it. */
static int
create_many(struct sync *x, int64_t n)
{
	int64_t batch = n < 1 ? n : 1, i, done = 0;
	int fails;

	while (batch > 0) {
		for (fails = 0, i = 0; i < batch; i++)
			if (create_one(x) < 0)
				fails++;
		if (fails) {
			log_warnx("%s: %d of %" PRId64 " creates failed; %"
			    PRId64 " not attempted", x->key, fails, batch,
			    n - done - batch);
			return x->err;
		}
		done += batch;
		batch = 2 * batch < n - done ? 2 * batch : n - done;
	}
	log_info("%s: created %" PRId64 " VMIs", x->key, n);
	return 0;
}

/* ---- deleting ------------------------------------------------------------ */

static int
delete_one(struct sync *x, const json_t *vmi, int finished)
{
	const char *name = mstr(vmi, "name"), *uid = mstr(vmi, "uid");
	char err[512] = "";
	int rc;

	if (name == NULL)
		return 0;
	vmirs_expect_delete(x->c, x->key, uid);
	rc = store_delete(x->c->s, VMIRS_VMI_KIND, x->ns, name, err,
	    sizeof(err));
	if (rc == -ENOENT) {
		vmirs_observe_delete(x->c, x->key, uid);
		return 0;	/* already gone: what we wanted */
	}
	if (rc < 0) {
		vmirs_observe_delete(x->c, x->key, uid);
		log_error("%s: deleting VMI %s: %s", x->key, name, err);
		store_event(x->c->s, x->rs, "Warning", "FailedDelete",
		    "Error deleting %svirtual machine %s: %s", finished ?
		    "finished " : "", name, err);
		set_err(x, rc, "FailedDelete", err);
		return rc;
	}
	log_debug("%s: deleted VMI %s", x->key, name);
	store_event(x->c->s, x->rs, "Normal", "SuccessfulDelete",
	    "Deleted %svirtual machine: %s", finished ? "finished " : "",
	    uid ? uid : name);
	return 0;
}

/* Delete the first n of vmis (all issued, as KubeVirt's goroutines). */
static int
delete_many(struct sync *x, const json_t *vmis, size_t n, int finished)
{
	size_t i;
	int fails = 0;

	for (i = 0; i < n && i < json_array_size(vmis); i++)
		if (delete_one(x, json_array_get(vmis, i), finished) < 0)
			fails++;
	if (fails == 0)
		log_info("%s: deleted %zu %sVMIs", x->key, n, finished ?
		    "finished " : "");
	return fails ? x->err : 0;
}

/* Create or delete (at most VMIRS_BURST) towards spec.replicas. */
static int
scale(struct sync *x, json_t *active)
{
	int64_t diff = (int64_t)json_array_size(active) - x->replicas;
	int64_t n = diff < 0 ? -diff : diff;

	if (n > VMIRS_BURST)
		n = VMIRS_BURST;
	if (diff < 0)
		return create_many(x, n);
	if (diff > 0) {
		vmirs_rank_sort(active);
		return delete_many(x, active, (size_t)n, 0);
	}
	return 0;
}

/* ---- status -------------------------------------------------------------- */

static json_t *
cond_find(json_t *conds, const char *type, size_t *at)
{
	json_t *cond;
	size_t i;

	json_array_foreach(conds, i, cond) {
		const char *t = json_string_value(json_object_get(cond, "type"));

		if (t && !strcmp(t, type)) {
			*at = i;
			return cond;
		}
	}
	return NULL;
}

/* Add (when on and absent) or remove (when off) a condition. */
static void
cond_set(struct sync *x, json_t *conds, const char *type, int on,
    const char *reason, const char *msg)
{
	char now[32];
	size_t at;
	json_t *have = cond_find(conds, type, &at);

	if (!on && have)
		json_array_remove(conds, at);
	if (!on || have)
		return;
	vmirs_time_format(x->c->wall(x->c->clock_arg), now, sizeof(now));
	json_array_append_new(conds, json_pack("{s:s, s:s, s:n, s:s, s:s, "
	    "s:s}", "type", type, "status", "True", "lastProbeTime",
	    "lastTransitionTime", now, "reason", reason, "message", msg));
}

/* An integer member, left out when 0 (omitempty). */
static void
set_count(json_t *st, const char *k, size_t v)
{
	if (v)
		json_object_set_new(st, k, json_integer((json_int_t)v));
	else
		json_object_del(st, k);
}

static json_t *
status_new(struct sync *x, const json_t *old, const json_t *active)
{
	json_t *st = json_is_object(old) ? json_deep_copy(old) : json_object();
	json_t *conds;
	char *sel = validate_selector_string(x->selector);
	size_t i, ready = 0;

	if (st == NULL)
		goto out;
	for (i = 0; i < json_array_size(active); i++)
		ready += vmirs_vmi_ready(json_array_get(active, i)) != 0;
	if (sel && sel[0])
		json_object_set_new(st, "labelSelector", json_string(sel));
	else
		json_object_del(st, "labelSelector");	/* omitempty */
	set_count(st, "replicas", json_array_size(active));
	set_count(st, "readyReplicas", ready);
	conds = json_object_get(st, "conditions");
	conds = json_is_array(conds) ? json_incref(conds) : json_array();
	cond_set(x, conds, "ReplicaPaused", x->paused, "Paused",
	    "Controller got paused");
	cond_set(x, conds, "ReplicaFailure", x->err != 0, x->reason ?
	    x->reason : "FailedCreate", x->msg);
	if (json_array_size(conds))
		json_object_set(st, "conditions", conds);
	else
		json_object_del(st, "conditions");
	json_decref(conds);
out:
	free(sel);
	return st;
}

static int
has_cond(const json_t *st, const char *type)
{
	size_t at;

	return cond_find(json_object_get(st, "conditions"), type, &at) != NULL;
}

/* Write the status when it changed; then the paused/resumed events. */
static int
status_update(struct sync *x, const json_t *active)
{
	const json_t *old = json_object_get(x->rs, "status");
	json_t *empty = json_object();
	json_t *st = status_new(x, old, active);
	int was_paused = has_cond(old, "ReplicaPaused"), rc = 0;
	char err[512];

	if (st == NULL || empty == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (json_equal(st, old ? old : empty))
		goto out;
	rc = store_update_status(x->c->s, VMIRS_KIND, x->ns, x->name, st, NULL,
	    err, sizeof(err));
	if (rc == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		log_error("%s: updating the status: %s", x->key, err);
		goto out;
	}
	if (x->paused && !was_paused)
		store_event(x->c->s, x->rs, "Normal", "SuccessfulPaused",
		    "Paused");
	else if (!x->paused && was_paused)
		store_event(x->c->s, x->rs, "Normal", "SuccessfulResumed",
		    "Resumed");
out:
	json_decref(st);
	json_decref(empty);
	return rc;
}

/* ---- the sync ------------------------------------------------------------ */

/* Split the claimed VMIs into active and finished (new arrays). */
static void
split(const json_t *claimed, json_t *active, json_t *finished)
{
	json_t *vmi;
	size_t i;

	json_array_foreach(claimed, i, vmi) {
		if (vmirs_vmi_active(vmi))
			json_array_append(active, vmi);
		else if (vmirs_vmi_finished(vmi))
			json_array_append(finished, vmi);
	}
}

static int
sync_rs(struct sync *x)
{
	json_t *claimed = json_array(), *active = json_array();
	json_t *finished = json_array();
	int needs, rc, st;

	if (!claimed || !active || !finished) {
		rc = -ENOMEM;
		goto out;
	}
	needs = vmirs_expect_satisfied(x->c, x->key);
	rc = claim(x, claimed);
	if (rc < 0)
		goto out;	/* KubeVirt: the claim error, no status */
	split(claimed, active, finished);
	if (needs && !x->paused && !x->deleting) {
		rc = scale(x, active);
		if (rc == 0 && json_array_size(finished))
			rc = delete_many(x, finished, json_array_size(finished)
			    < VMIRS_BURST ? json_array_size(finished) :
			    VMIRS_BURST, 1);
	} else if (!needs) {
		log_debug("%s: waiting for expectations", x->key);
	}
	st = status_update(x, active);
	if (rc == 0)
		rc = st;
out:
	json_decref(claimed);
	json_decref(active);
	json_decref(finished);
	return rc;
}

int
vmirs_sync(struct vmirs_ctl *c, const char *ns, const char *name)
{
	struct sync x;
	const char *reason;
	char why[512];
	int rc = 0;

	memset(&x, 0, sizeof(x));
	x.c = c;
	vmirs_key(ns, name, x.key, sizeof(x.key));
	x.rs = store_get(c->s, VMIRS_KIND, ns, name);
	if (x.rs == NULL) {
		vmirs_expect_forget(c, x.key);
		json_object_del(c->warned, x.key);
		return 0;
	}
	x.ns = mstr(x.rs, "namespace");
	x.name = mstr(x.rs, "name");
	x.uid = mstr(x.rs, "uid");
	x.selector = json_object_get(json_object_get(x.rs, "spec"),
	    "selector");
	x.replicas = manifest_replicas(x.rs);
	x.paused = json_is_true(json_object_get(json_object_get(x.rs, "spec"),
	    "paused"));
	x.deleting = vmirs_vmi_deleting(x.rs);
	if (x.ns == NULL || x.name == NULL || x.uid == NULL) {
		log_error("%s: stored without namespace, name or uid", x.key);
		goto out;
	}
	if (spec_check(&x, &reason, why, sizeof(why)) < 0) {
		spec_refused(&x, reason, why);
		goto out;
	}
	json_object_del(c->warned, x.key);
	/* One reaction, one durable commit (store.h, batches): the creates,
	 * deletes, status and events of this sync. */
	store_batch_begin(c->s);
	rc = sync_rs(&x);
	if (store_batch_end(c->s, why, sizeof(why)) < 0) {
		log_error("%s: %s", x.key, why);
		rc = rc < 0 ? rc : -EIO;
	}
out:
	json_decref(x.rs);
	return rc;
}
