/*
 * runtime.c: the VMI runtime's core (runtime.h): the store watch, one
 * record per VMI, the phase machine, the scheduling queue, the control
 * socket polls and the graceful deletion.
 *
 * Flow. The store watcher only marks records dirty and defers one sync
 * (watchers must not write). rt_sync() looks at each dirty VMI, then
 * schedules the Pending ones in creation order. Every status write
 * compares first (rt_pod.c), so our own writes, which come back through
 * the watcher, settle after one more pass.
 *
 * Phases (KubeVirt's): Pending (queued; PodScheduled=False Unschedulable
 * when it does not fit, or waiting for its image), Scheduling (fits:
 * resources reserved, disks being made), Scheduled (drover-vmm spawned),
 * Running (its control socket answered), Unknown (it stopped answering
 * for RT_UNKNOWN_AFTER polls; Running again when it answers), Succeeded
 * (the guest shut down: exit 0), Failed (anything else; the message says
 * what). A guest reboot (exit 3) restarts drover-vmm in place and the VMI
 * stays Running, as KubeVirt's domain reboots inside its launcher.
 *
 * Ready (no readinessProbe): True once the guest reported its boot, by
 * the boot-timer mark ("booted_ms" in the control status) or "login:" on
 * its console; with a probe, the probe decides (probe.h). The control
 * socket, the polls and the probes are in rt_ctl.c.
 */
#include "rt_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "priv.h"
#include "probe.h"
#include "store.h"

/* The probes are weak (rt_ctl.c says why). */
#pragma weak probe_free
#pragma weak probe_ok
#pragma weak probe_last_error

#define RT_KIND			"VirtualMachineInstance"
#define RT_RETRY_MS		10000	/* image missing: look again */
#define RT_KILL_WAIT_MS		3000
#define RT_NODE_HEARTBEAT_MS	60000

static void rt_delete_step(struct rt_vmi *v, const json_t *vmi);

/* ---- records ----------------------------------------------------------- */

struct rt_vmi *
rt_vmi_get(struct rt *rt, const char *ns, const char *name, int create)
{
	struct rt_vmi *v;

	for (v = rt->vmis; v; v = v->next)
		if (v->stage != RT_GONE && strcmp(v->ns, ns) == 0 &&
		    strcmp(v->name, name) == 0)
			return v;
	if (!create || strlen(ns) >= sizeof(v->ns) ||
	    strlen(name) >= sizeof(v->name))
		return NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->rt = rt;
	snprintf(v->ns, sizeof(v->ns), "%s", ns);
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->stage = RT_NEW;
	v->phase = "Pending";
	v->pidfd = v->ctl_fd = v->con_fd = -1;
	v->next = rt->vmis;
	rt->vmis = v;
	return v;
}

void
rt_timer_cancel(struct rt *rt, int *id)
{
	if (*id > 0)
		loop_cancel(rt->l, *id);
	*id = 0;
}

static void
rt_vmi_quiesce(struct rt_vmi *v)
{
	struct rt *rt = v->rt;

	rt_ctl_abort(v);
	rt_con_close(v);
	rt_timer_cancel(rt, &v->poll_timer);
	rt_timer_cancel(rt, &v->stop_timer);
	rt_timer_cancel(rt, &v->retry_timer);
	rt_timer_cancel(rt, &v->restart_timer);
	if (v->readiness)
		probe_free(v->readiness);
	if (v->liveness)
		probe_free(v->liveness);
	v->readiness = v->liveness = NULL;
	if (v->pidfd >= 0) {
		loop_del_fd(rt->l, v->pidfd);
		close(v->pidfd);
		v->pidfd = -1;
	}
}

static void
rt_vmi_free(struct rt_vmi *v)
{
	rt_vmi_quiesce(v);
	free(v);
}

void
rt_kick(struct rt *rt);

static void
rt_release(struct rt_vmi *v)
{
	if (v->reserved) {
		v->reserved = 0;
		rt_kick(v->rt);		/* room for a Pending VMI */
	}
}

static void
rt_cleanup(struct rt_vmi *v)
{
	struct priv *p = v->rt->priv;
	char err[256] = "";

	if (v->dir[0] && p->ops->vmi_cleanup(p, v->dir, v->rt->cgroups ?
	    v->cgroup : NULL, err, sizeof(err)) < 0)
		log_warnx("%s/%s: clean-up: %s", v->ns, v->name, err);
}

json_t *
rt_get(struct rt_vmi *v)
{
	return store_get(v->rt->s, RT_KIND, v->ns, v->name);
}

void
rt_sync_status(struct rt_vmi *v)
{
	json_t *vmi = rt_get(v);

	if (vmi)
		rt_status_sync(v, vmi);
	json_decref(vmi);
}

/* The VMI ends here (no VMM any more): Failed or Succeeded. */
static void
rt_finish(struct rt_vmi *v, const char *phase, const char *reason,
    const char *msg)
{
	json_t *vmi;

	rt_vmi_quiesce(v);
	v->pid = 0;
	v->stage = RT_DONE;
	v->phase = phase;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	snprintf(v->message, sizeof(v->message), "%s", msg);
	rt_release(v);
	rt_cleanup(v);
	log_info("%s/%s: %s: %s", v->ns, v->name, phase, msg);
	if ((vmi = rt_get(v)) != NULL) {
		store_event(v->rt->s, vmi, strcmp(phase, "Failed") == 0 ?
		    "Warning" : "Normal", reason, "%s", msg);
		rt_status_sync(v, vmi);
		json_decref(vmi);
	}
}

/* ---- VMM exit ---------------------------------------------------------- */

static void
rt_restart_cb(void *arg)
{
	struct rt_vmi *v = arg;
	char err[512] = "";

	v->restart_timer = 0;
	if (v->deleting) {
		v->dirty = 1;
		rt_kick(v->rt);
		return;
	}
	if (rt_respawn(v, err, sizeof(err)) < 0) {
		rt_finish(v, "Failed", "FailedCreate", err);
		return;
	}
	rt_start_polling(v);
}

static void rt_vmi_ended(struct rt_vmi *v, int code, int sig);

void
rt_batch_begin(struct rt *rt)
{
	store_batch_begin(rt->s);
}

void
rt_batch_end(struct rt *rt)
{
	char err[512];

	if (store_batch_end(rt->s, err, sizeof(err)) < 0)
		log_error("VMI runtime: %s", err);
}

/* One commit for what the VMM's end writes (status, Pod, Event). */
void
rt_vmi_exited(struct rt_vmi *v, int code, int sig)
{
	struct rt *rt = v->rt;

	rt_batch_begin(rt);
	rt_vmi_ended(v, code, sig);
	rt_batch_end(rt);
}

static void
rt_vmi_ended(struct rt_vmi *v, int code, int sig)
{
	const char *reason;
	char msg[256], tail[240], full[sizeof(msg) + sizeof(tail) + 4];
	enum rt_outcome out;

	rt_ctl_abort(v);
	rt_con_close(v);
	rt_timer_cancel(v->rt, &v->poll_timer);
	log_info("%s/%s: drover-vmm pid %d ended (status %d, signal %d)",
	    v->ns, v->name, (int)v->pid, code, sig);
	v->pid = 0;
	if (v->deleting) {
		v->stage = RT_DONE;
		v->dirty = 1;
		rt_kick(v->rt);
		return;
	}
	out = rt_exit_outcome(code, sig, &reason, msg, sizeof(msg));
	if (v->liveness && !probe_ok(v->liveness)) {
		reason = "LivenessProbeFailed";
		snprintf(msg, sizeof(msg), "the liveness probe failed: %s",
		    probe_last_error(v->liveness));
	}
	if (out == RT_OUT_REBOOT) {
		/* The guest reboots: a new VMM on the same disks. At most one
		 * restart a second, so a reboot loop cannot spin. */
		v->restarts++;
		/* The guest ran: it was Running whether or not the VMM had
		 * answered a status poll yet. */
		if (strcmp(v->phase, "Scheduled") == 0) {
			v->phase = "Running";
			rt_sync_status(v);
		}
		v->restart_timer = loop_timer(v->rt->l,
		    loop_now_ms() - v->started_ms < 1000 ? 1000 : 1,
		    rt_restart_cb, v);
		return;
	}
	full[0] = '\0';
	if (code == 1 || code == 2) {
		rt_log_tail(v, tail, sizeof(tail));
		if (tail[0])
			snprintf(full, sizeof(full), "%s: %s", msg, tail);
	}
	rt_finish(v, out == RT_OUT_SUCCEEDED ? "Succeeded" : "Failed", reason,
	    full[0] ? full : msg);
}

/* ---- deletion ---------------------------------------------------------- */

static void
rt_stop_escalate(void *arg)
{
	struct rt_vmi *v = arg;
	struct priv *p = v->rt->priv;

	v->stop_timer = 0;
	if (v->pid <= 0)
		return;
	if (v->stop_stage == 1) {
		log_info("%s/%s: grace period over: kill", v->ns, v->name);
		rt_ctl_send(v, RT_CTL_KILL);
		v->stop_stage = 2;
	} else {
		log_warnx("%s/%s: drover-vmm pid %d still there: SIGKILL",
		    v->ns, v->name, (int)v->pid);
		p->ops->vmm_signal(p, v->pid, v->starttime, SIGKILL);
		v->stop_stage = 3;
	}
	v->stop_timer = loop_timer(v->rt->l, RT_KILL_WAIT_MS, rt_stop_escalate,
	    v);
}

static int
rt_grace(const struct rt_vmi *v, const json_t *vmi)
{
	const json_t *g = json_object_get(json_object_get(vmi, "spec"),
	    "terminationGracePeriodSeconds");

	if (json_is_integer(g) && json_integer_value(g) >= 0)
		return json_integer_value(g) > 86400 ? 86400 :
		    (int)json_integer_value(g);
	return v->rt->default_grace;
}

/* Add or remove our finalizer on the VMI as stored now. */
static int
rt_finalizer_edit(struct rt_vmi *v, int add)
{
	json_t *cur = rt_get(v);
	json_t *copy = cur ? json_deep_copy(cur) : NULL, *meta, *fin;
	char err[256] = "";
	size_t i;
	int rc, found = -1;

	json_decref(cur);
	if (copy == NULL)
		return cur ? -ENOMEM : -ENOENT;
	meta = json_object_get(copy, "metadata");
	fin = json_object_get(meta, "finalizers");
	if (!json_is_array(fin)) {
		fin = json_array();
		json_object_set_new(meta, "finalizers", fin);
	}
	for (i = 0; i < json_array_size(fin); i++)
		if (json_is_string(json_array_get(fin, i)) &&
		    strcmp(json_string_value(json_array_get(fin, i)),
		    RT_FINALIZER) == 0)
			found = (int)i;
	if (add && found < 0)
		json_array_append_new(fin, json_string(RT_FINALIZER));
	else if (!add && found >= 0)
		json_array_remove(fin, (size_t)found);
	else {
		json_decref(copy);
		return 0;
	}
	if (!add && json_array_size(fin) == 0)
		json_object_del(meta, "finalizers");
	rc = store_update(v->rt->s, copy, NULL, err, sizeof(err));
	json_decref(copy);
	if (rc < 0 && rc != -ENOENT)
		log_warnx("%s/%s: finalizer: %s", v->ns, v->name, err);
	return rc;
}

static int
rt_has_finalizer(const json_t *vmi)
{
	const json_t *fin = json_object_get(json_object_get(vmi, "metadata"),
	    "finalizers");
	size_t i;
	json_t *e;

	json_array_foreach(fin, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e),
		    RT_FINALIZER) == 0)
			return 1;
	return 0;
}

static void
rt_delete_step(struct rt_vmi *v, const json_t *vmi)
{
	int rc;

	if (!v->deleting) {
		v->deleting = 1;
		rt_timer_cancel(v->rt, &v->retry_timer);
		v->grace = rt_grace(v, vmi);
		rt_status_sync(v, vmi);		/* Ready=False PodTerminating */
	}
	if (v->pid > 0 && v->stage == RT_ACTIVE) {
		if (v->stop_stage == 0) {
			log_info("%s/%s: deleting: graceful stop, %d s", v->ns,
			    v->name, v->grace);
			store_event(v->rt->s, vmi, "Normal", "ShuttingDown",
			    "Signaled Graceful Shutdown");
			rt_timer_cancel(v->rt, &v->poll_timer);
			rt_ctl_send(v, RT_CTL_STOP);
			v->stop_stage = 1;
			v->stop_timer = loop_timer(v->rt->l,
			    (uint64_t)v->grace * 1000 + 1000, rt_stop_escalate,
			    v);
		}
		return;			/* the pidfd says when it is gone */
	}
	if (v->restart_timer)		/* between two VMMs of a reboot */
		rt_timer_cancel(v->rt, &v->restart_timer);
	rt_vmi_quiesce(v);
	rt_release(v);
	rt_cleanup(v);
	rt_pod_delete(v);
	rc = rt_has_finalizer(vmi) ? rt_finalizer_edit(v, 0) : 0;
	if (rc == 0 || rc == -ENOENT) {
		log_info("%s/%s: deleted, nothing left", v->ns, v->name);
		v->stage = RT_GONE;
	}
}

/* The object went away without us (forced): stop everything now. */
static void
rt_vmi_vanished(struct rt_vmi *v)
{
	struct priv *p = v->rt->priv;
	int ws;

	if (v->pid > 0) {
		p->ops->vmm_signal(p, v->pid, v->starttime, SIGKILL);
		for (int i = 0; i < 100; i++) {
			int rc = p->ops->vmm_reap(p, v->pid, &ws);

			if (rc != -EAGAIN)
				break;
			usleep(10000);
		}
	}
	rt_vmi_quiesce(v);
	rt_release(v);
	rt_cleanup(v);
	rt_pod_delete(v);
	v->stage = RT_GONE;
}

/* ---- the phase machine ------------------------------------------------- */

void
rt_vmi_init(struct rt_vmi *v, const json_t *vmi)
{
	const char *uid = manifest_str(vmi, "metadata.uid");
	const char *ts = manifest_str(vmi, "metadata.creationTimestamp");

	snprintf(v->uid, sizeof(v->uid), "%s", uid ? uid : "");
	snprintf(v->created, sizeof(v->created), "%s", ts ? ts : "");
	rt_pod_name(v->name, v->uid, v->pod, sizeof(v->pod));
	rt_cgroup_name(v->ns, v->name, v->uid, v->cgroup, sizeof(v->cgroup));
	if (rt_vmi_dir(v->rt->run_dir, v->ns, v->name, v->uid, v->dir,
	    sizeof(v->dir)) < 0)
		v->dir[0] = '\0';
	v->grace = rt_grace(v, vmi);
}

/* First look at a VMI that no VMM of ours runs for. */
static void
rt_vmi_first(struct rt_vmi *v, const json_t *vmi)
{
	const char *phase = manifest_str(vmi, "status.phase");

	if (phase && (strcmp(phase, "Succeeded") == 0 ||
	    strcmp(phase, "Failed") == 0)) {
		v->stage = RT_DONE;
		v->phase = strcmp(phase, "Failed") == 0 ? "Failed" :
		    "Succeeded";
		return;
	}
	if (phase && (strcmp(phase, "Scheduled") == 0 ||
	    strcmp(phase, "Running") == 0 || strcmp(phase, "Unknown") == 0)) {
		rt_finish(v, "Failed", "VMMLost", "drover-vmm was not found "
		    "running after droverd restarted");
		return;
	}
	v->stage = RT_PENDING;
	v->phase = "Pending";
}

static void
rt_vmi_sync(struct rt_vmi *v)
{
	json_t *vmi = rt_get(v);
	const char *uid = manifest_str(vmi, "metadata.uid");

	if (vmi == NULL || (v->uid[0] && uid && strcmp(uid, v->uid) != 0)) {
		rt_vmi_vanished(v);
		if (vmi)	/* a new VMI of the same name: a new record */
			rt_kick(v->rt);
		goto out;
	}
	if (!v->uid[0])
		rt_vmi_init(v, vmi);
	if (v->dir[0] == '\0') {
		rt_finish(v, "Failed", "FailedCreate", "no usable run dir name");
		goto out;
	}
	if (json_object_get(json_object_get(vmi, "metadata"),
	    "deletionTimestamp")) {
		rt_delete_step(v, vmi);
		goto out;
	}
	if (!rt_has_finalizer(vmi)) {
		/* Carry on with the VMI as it is now stored (the write's
		 * MODIFIED echo only brings one more, idle, look). */
		if (rt_finalizer_edit(v, 1) < 0)
			goto out;
		json_decref(vmi);
		if ((vmi = rt_get(v)) == NULL)
			goto out;
	}
	if (v->stage == RT_NEW)
		rt_vmi_first(v, vmi);
	rt_status_sync(v, vmi);
out:
	json_decref(vmi);
}

/* ---- scheduling -------------------------------------------------------- */

static int
rt_queue_cmp(const void *a, const void *b)
{
	const struct rt_vmi *x = *(struct rt_vmi *const *)a;
	const struct rt_vmi *y = *(struct rt_vmi *const *)b;
	int c = strcmp(x->created, y->created);

	if (c == 0)
		c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

static void
rt_retry_cb(void *arg)
{
	struct rt_vmi *v = arg;

	v->retry_timer = 0;
	rt_kick(v->rt);
}

/*
 * The VMI's image is not in the store: Pending while it is pulled (the
 * pull's end wakes it), or with the pull's error until the back-off ends;
 * looked at again every RT_RETRY_MS in any case (an image imported by
 * hand, a pull by droverctl).
 */
static void
rt_wait_image(struct rt_vmi *v, const json_t *vmi, const char *missing,
    const char *err)
{
	char msg[sizeof(v->wait_msg)];
	const char *reason = "ErrImagePull";
	int rc = -EAGAIN;

	snprintf(msg, sizeof(msg), "%s", err);
	if (v->rt->im && missing[0]) {
		rc = rt_pull_image(v->rt, missing, msg, sizeof(msg));
		if (rc == -EIO)
			snprintf(msg, sizeof(msg), "%s", err);
		if (rc == 1) {
			reason = "ContainerCreating";
			snprintf(msg, sizeof(msg), "Pulling image \"%.400s\"",
			    missing);
		} else if (rc == -EAGAIN)
			reason = "ImagePullBackOff";
	}
	v->phase = "Pending";
	if (strcmp(v->wait_msg, msg) != 0)
		store_event(v->rt->s, vmi, rc == 1 ? "Normal" : "Warning",
		    rc == 1 ? "Pulling" : "Failed", "%s", msg);
	snprintf(v->wait_reason, sizeof(v->wait_reason), "%s", reason);
	snprintf(v->wait_msg, sizeof(v->wait_msg), "%s", msg);
	v->retry_timer = loop_timer(v->rt->l, RT_RETRY_MS, rt_retry_cb, v);
	rt_status_sync(v, vmi);
}

static void
rt_try_start(struct rt_vmi *v, const json_t *vmi, int64_t *cpu, int64_t *mem)
{
	char err[512] = "", msg[160], missing[1024];
	int rc;

	if ((rc = rt_vmi_res(vmi, v->rt->overhead_cfg, &v->res, err,
	    sizeof(err))) < 0) {
		rt_finish(v, "Failed", "InvalidSpec", err);
		return;
	}
	if (!rt_fits(&v->rt->node, *cpu, *mem, &v->res, msg, sizeof(msg))) {
		if (v->scheduled || strcmp(v->sched_msg, msg) != 0) {
			store_event(v->rt->s, vmi, "Warning", "FailedScheduling",
			    "%s", msg);
			v->scheduled = 0;
			snprintf(v->sched_msg, sizeof(v->sched_msg), "%s", msg);
			rt_status_sync(v, vmi);
		}
		return;
	}
	v->reserved = 1;
	*cpu += v->res.cpu_milli;
	*mem += v->res.memory;
	v->scheduled = 1;
	v->sched_msg[0] = '\0';
	v->phase = "Scheduling";
	v->wait_reason[0] = v->wait_msg[0] = '\0';
	rt_status_sync(v, vmi);
	rc = rt_launch(v, vmi, missing, sizeof(missing), err, sizeof(err));
	if (rc == -ENOENT) {
		v->reserved = 0;
		*cpu -= v->res.cpu_milli;
		*mem -= v->res.memory;
		rt_wait_image(v, vmi, missing, err);
		return;
	}
	if (rc < 0) {
		*cpu -= v->res.cpu_milli;
		*mem -= v->res.memory;
		rt_finish(v, "Failed", "FailedCreate", err);
		return;
	}
	v->stage = RT_ACTIVE;
	v->phase = "Scheduled";
	rt_status_sync(v, vmi);
	rt_start_polling(v);
}

static void
rt_schedule(struct rt *rt)
{
	struct rt_vmi **q, *v;
	int64_t cpu = 0, mem = 0;
	size_t n = 0, i;

	for (v = rt->vmis; v; v = v->next) {
		if (v->reserved) {
			cpu += v->res.cpu_milli;
			mem += v->res.memory;
		}
		n += v->stage == RT_PENDING;
	}
	if (n == 0 || (q = calloc(n, sizeof(*q))) == NULL)
		return;
	n = 0;
	for (v = rt->vmis; v; v = v->next)
		if (v->stage == RT_PENDING && !v->deleting && !v->retry_timer)
			q[n++] = v;
	qsort(q, n, sizeof(*q), rt_queue_cmp);
	for (i = 0; i < n; i++) {
		json_t *vmi = rt_get(q[i]);

		if (vmi && !json_object_get(json_object_get(vmi, "metadata"),
		    "deletionTimestamp") && rt_has_finalizer(vmi))
			rt_try_start(q[i], vmi, &cpu, &mem);
		json_decref(vmi);
	}
	free(q);
}

static void
rt_sync_cb(void *arg)
{
	struct rt *rt = arg;
	struct rt_vmi **pp, *v;

	rt->sync_id = 0;
	rt_batch_begin(rt);
	for (v = rt->vmis; v; v = v->next)
		if (v->dirty && v->stage != RT_GONE) {
			v->dirty = 0;
			rt_vmi_sync(v);
		}
	rt_schedule(rt);
	rt_batch_end(rt);
	for (pp = &rt->vmis; (v = *pp) != NULL;) {
		if (v->stage == RT_GONE) {
			*pp = v->next;
			rt_vmi_free(v);
		} else
			pp = &v->next;
	}
}

void
rt_kick(struct rt *rt)
{
	if (rt->sync_id <= 0)
		rt->sync_id = loop_defer(rt->l, rt_sync_cb, rt);
}

static void
rt_watch_cb(void *arg, enum store_event ev, const json_t *obj)
{
	struct rt *rt = arg;
	const char *kind = manifest_str(obj, "kind");
	const char *ns = manifest_str(obj, "metadata.namespace");
	const char *name = manifest_str(obj, "metadata.name");
	struct rt_vmi *v;

	if (kind == NULL || strcmp(kind, RT_KIND) != 0 || ns == NULL ||
	    name == NULL)
		return;
	v = rt_vmi_get(rt, ns, name, ev != STORE_DELETED);
	if (v == NULL)
		return;
	v->dirty = 1;
	rt_kick(rt);
}

/* ---- set-up ------------------------------------------------------------ */

/* drover-vmm next to our own binary, else on PATH. */
static int
rt_find_vmm(char *out, size_t len)
{
	char self[PATH_MAX], *slash, *path, *save = NULL, *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc = -ENOENT;

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, len, "%s/drover-vmm", self) <
			    len && access(out, X_OK) == 0)
				return 0;
		}
	}
	if ((path = getenv("PATH")) == NULL || (path = strdup(path)) == NULL)
		return rc;
	for (dir = strtok_r(path, ":", &save); dir;
	    dir = strtok_r(NULL, ":", &save)) {
		if ((size_t)snprintf(out, len, "%s/drover-vmm", dir) < len &&
		    dir[0] == '/' && access(out, X_OK) == 0) {
			rc = 0;
			break;
		}
	}
	free(path);
	return rc;
}

static int
rt_setup_node(struct rt *rt, const struct rt_config *cfg, char *err,
    size_t errlen)
{
	int64_t cpu = 0, mem = 0;

	if (cfg->node_name && cfg->node_name[0])
		snprintf(rt->node_name, sizeof(rt->node_name), "%s",
		    cfg->node_name);
	else if (gethostname(rt->node_name, sizeof(rt->node_name) - 1) < 0 ||
	    rt->node_name[0] == '\0')
		snprintf(rt->node_name, sizeof(rt->node_name), "localhost");
	if ((!cfg->capacity_cpu_milli || !cfg->capacity_memory) &&
	    rt_node_capacity(&cpu, &mem) < 0) {
		snprintf(err, errlen, "/proc/meminfo: no MemTotal");
		return -EINVAL;
	}
	rt->node.cap_cpu_milli = cfg->capacity_cpu_milli ?
	    cfg->capacity_cpu_milli : cpu;
	rt->node.cap_memory = cfg->capacity_memory ? cfg->capacity_memory : mem;
	rt_node_alloc(&rt->node, cfg->reserve_cpu_milli, cfg->reserve_memory);
	return 0;
}

static void
rt_node_cb(void *arg)
{
	struct rt *rt = arg;

	rt_node_sync(rt);
	rt->node_timer = loop_timer(rt->l, RT_NODE_HEARTBEAT_MS, rt_node_cb,
	    rt);
}

/* The pod network's files: netns in <run_dir>/netns (gone with a reboot,
 * as the VMMs are), the IPAM file in <state_dir>/net (durable). */
static int
rt_net_config(struct rt *rt, const struct rt_config *cfg,
    struct priv_net_config *nc, char *netns, char *ipam, char *err,
    size_t errlen)
{
	const char *sd = cfg->state_dir && cfg->state_dir[0] ? cfg->state_dir :
	    rt->run_dir;

	if ((size_t)snprintf(netns, PATH_MAX, "%s/netns", rt->run_dir) >=
	    PATH_MAX || (size_t)snprintf(ipam, PATH_MAX, "%s/net/ipam", sd) >=
	    PATH_MAX) {
		snprintf(err, errlen, "pod network: paths too long");
		return -ENAMETOOLONG;
	}
	memset(nc, 0, sizeof(*nc));
	nc->bridge = cfg->net_bridge;
	nc->cidr = cfg->net_cidr;
	nc->resolv_conf = cfg->net_resolv;
	nc->pool = cfg->net_pool;
	nc->netns_dir = netns;
	nc->ipam_path = ipam;
	return 0;
}

/* rt's paths and settings from cfg, and the priv side's config in pc
 * (its net config in nc, netns and ipam: PATH_MAX buffers). */
static int
rt_setup_paths(struct rt *rt, const struct rt_config *cfg,
    struct priv_config *pc, struct priv_net_config *nc, char *netns,
    char *ipam, char *err, size_t errlen)
{
	snprintf(rt->run_dir, sizeof(rt->run_dir), "%s", cfg->run_dir ?
	    cfg->run_dir : RT_DEFAULT_RUN_DIR);
	if (cfg->vmm_path && cfg->vmm_path[0])
		snprintf(rt->vmm_path, sizeof(rt->vmm_path), "%s",
		    cfg->vmm_path);
	else if (rt_find_vmm(rt->vmm_path, sizeof(rt->vmm_path)) < 0) {
		snprintf(err, errlen, "drover-vmm: not next to droverd nor on "
		    "PATH (set vmm_path)");
		return -ENOENT;
	}
	if (cfg->vmm_user)
		snprintf(rt->vmm_user, sizeof(rt->vmm_user), "%s", cfg->vmm_user);
	rt->default_grace = cfg->default_grace > 0 ? cfg->default_grace :
	    RT_DEFAULT_GRACE;
	rt->poll_ms = cfg->poll_ms ? cfg->poll_ms : 1000;
	rt->overhead_cfg = cfg->vmm_overhead;
	rt->cgroups = cfg->cgroup_root != NULL;
	rt->access_gid = cfg->access_gid;
	if (cfg->network && rt_net_config(rt, cfg, nc, netns, ipam, err,
	    errlen) < 0)
		return -EINVAL;
	rt->network = cfg->network;
	memset(pc, 0, sizeof(*pc));
	pc->net = cfg->network ? nc : NULL;
	pc->loop = rt->l;
	pc->run_dir = rt->run_dir;
	pc->vmm_path = rt->vmm_path;
	pc->cgroup_root = cfg->cgroup_root;
	pc->cgroup_parent = cfg->cgroup_parent;
	pc->vmm_user = cfg->vmm_user;
	pc->access_gid = cfg->access_gid;
	if (cfg->images_dir)
		snprintf(rt->images_dir, sizeof(rt->images_dir), "%s",
		    cfg->images_dir);
	else if (cfg->state_dir && cfg->state_dir[0])
		snprintf(rt->images_dir, sizeof(rt->images_dir), "%s/images",
		    cfg->state_dir);
	pc->images_dir = rt->images_dir[0] ? rt->images_dir : NULL;
	pc->preloaded = cfg->images ? json_object_get(cfg->images,
	    "preloaded") : NULL;
	if (rt_launch_setup(rt, cfg, pc, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

static int
rt_setup(struct rt *rt, const struct rt_config *cfg, char *err, size_t errlen)
{
	struct priv_config pc;
	struct priv_net_config nc;
	char netns[PATH_MAX], ipam[PATH_MAX];

	if (rt_setup_paths(rt, cfg, &pc, &nc, netns, ipam, err, errlen) < 0)
		return -EINVAL;
	if (cfg->priv)
		rt->priv = cfg->priv;		/* droverd-api: not ours */
	else if ((rt->priv = priv_local_new(&pc, err, errlen)) == NULL)
		return -EINVAL;
	else
		rt->priv_owned = 1;
	return rt_setup_node(rt, cfg, err, errlen);
}

struct priv *
rt_priv_new(struct loop *l, const struct rt_config *cfg, int access_gid,
    char *err, size_t errlen)
{
	static const struct rt_config none;
	struct rt *rt = calloc(1, sizeof(*rt));
	struct priv_config pc;
	struct priv_net_config nc;
	char netns[PATH_MAX], ipam[PATH_MAX];
	struct priv *p = NULL;

	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->l = l;
	if (rt_setup_paths(rt, cfg ? cfg : &none, &pc, &nc, netns, ipam, err,
	    errlen) == 0) {
		pc.api_gid = access_gid;
		p = priv_local_new(&pc, err, errlen);
	}
	free(rt);
	return p;
}

struct rt *
rt_new(struct loop *l, struct store *s, struct images *im,
    const struct rt_config *cfg, char *err, size_t errlen)
{
	static const struct rt_config none;
	struct rt *rt = calloc(1, sizeof(*rt));
	json_t *all, *e;
	size_t i;

	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->l = l;
	rt->s = s;
	rt->im = im;
	if (rt_setup(rt, cfg ? cfg : &none, err, errlen) < 0) {
		rt_free(rt);
		return NULL;
	}
	rt_node_sync(rt);
	rt_adopt_all(rt);
	rt->watch_id = store_watch(s, rt_watch_cb, rt);
	all = store_list(s, RT_KIND, NULL);
	json_array_foreach(all, i, e) {
		struct rt_vmi *v = rt_vmi_get(rt, manifest_str(e,
		    "metadata.namespace"), manifest_str(e, "metadata.name"), 1);

		if (v)
			v->dirty = 1;
	}
	json_decref(all);
	rt_kick(rt);
	rt->node_timer = loop_timer(l, RT_NODE_HEARTBEAT_MS, rt_node_cb, rt);
	log_info("VMI runtime: node %s, allocatable %lld mCPU %lld MiB, run "
	    "dir %s, %s", rt->node_name, (long long)rt->node.alloc_cpu_milli,
	    (long long)(rt->node.alloc_memory >> 20), rt->run_dir,
	    rt->vmm_path);
	return rt;
}

void
rt_free(struct rt *rt)
{
	struct rt_vmi *v;

	if (rt == NULL)
		return;
	if (rt->watch_id > 0)
		store_unwatch(rt->s, rt->watch_id);
	if (rt->sync_id > 0)
		loop_cancel(rt->l, rt->sync_id);
	rt_timer_cancel(rt, &rt->node_timer);
	while ((v = rt->vmis) != NULL) {
		rt->vmis = v->next;
		rt_vmi_free(v);		/* VMMs keep running */
	}
	rt_pull_free_all(rt);
	if (rt->priv && rt->priv_owned)
		priv_local_free(rt->priv);
	free(rt);
}

int
rt_console_path(struct rt *rt, const char *ns, const char *name, char *out,
    size_t outlen)
{
	struct rt_vmi *v = rt_vmi_get(rt, ns, name, 0);

	if (v == NULL)
		return -ENOENT;
	if (v->stage == RT_DONE)
		return -ESHUTDOWN;
	if (v->stage != RT_ACTIVE || v->pid <= 0 || !v->answered)
		return -EAGAIN;
	snprintf(out, outlen, "%s/console.sock", v->dir);
	return 0;
}

int
rt_cgroup_of(struct rt *rt, const char *ns, const char *name, char *out,
    size_t outlen)
{
	struct rt_vmi *v = rt_vmi_get(rt, ns, name, 0);

	if (v == NULL || v->cgroup[0] == '\0')
		return -ENOENT;
	snprintf(out, outlen, "%s", v->cgroup);
	return 0;
}
