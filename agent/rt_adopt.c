/*
 * rt_adopt.c: after a droverd restart (kill -9 included), take over the
 * VMMs that kept running. Each run dir holds state.json (namespace,
 * name, uid, pid, start time: rt_launch.c); a VMM is adopted only when
 * its VMI (same uid) is still in the store and /proc/PID/stat still shows
 * the same start time and the process is a drover-vmm (a reused pid is
 * never signalled). It is then watched through a pidfd like our own
 * children, but its exit status comes from its exit file (vm.json
 * "exit-file"): it is not our child. A VMM that ended while droverd was
 * down is handled as if it had just ended (exit file). Run dirs without
 * a VMI are cleaned up (the process killed first). An adopted VMI's pod
 * network is found again (IP, DHCP server); the pod networks of VMIs that
 * do not run any more are removed.
 */
#include "rt_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "manifest.h"
#include "priv.h"
#include "store.h"

struct ra_state {
	char ns[64], name[RT_NAME_MAX], uid[64];
	pid_t pid;
	uint64_t starttime;
	unsigned restarts;
};

static int
ra_read_state(const char *dir, struct ra_state *st)
{
	char path[PATH_MAX];
	json_t *j;
	const char *ns, *name, *uid;
	json_int_t pid, start;
	int restarts = 0, rc = -EINVAL;

	if (snprintf(path, sizeof(path), "%s/state.json", dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -ENOENT;
	if (json_unpack(j, "{s:s, s:s, s:s, s:I, s:I, s?:i}", "namespace", &ns,
	    "name", &name, "uid", &uid, "pid", &pid, "starttime", &start,
	    "restarts", &restarts) == 0 && pid > 1 && pid < INT32_MAX &&
	    start >= 0 && strlen(ns) < sizeof(st->ns) &&
	    strlen(name) < sizeof(st->name) && strlen(uid) < sizeof(st->uid)) {
		snprintf(st->ns, sizeof(st->ns), "%s", ns);
		snprintf(st->name, sizeof(st->name), "%s", name);
		snprintf(st->uid, sizeof(st->uid), "%s", uid);
		st->pid = (pid_t)pid;
		st->starttime = (uint64_t)start;
		st->restarts = restarts > 0 ? (unsigned)restarts : 0;
		rc = 0;
	}
	json_decref(j);
	return rc;
}

/* Is pid still the drover-vmm that state.json names? */
static int
ra_alive(const struct ra_state *st)
{
	uint64_t start;

	return priv_proc_starttime(st->pid, &start) == 0 &&
	    start == st->starttime && priv_proc_comm_is(st->pid, "drover-vmm");
}

static void
ra_orphan(struct rt *rt, const char *dir, const struct ra_state *st)
{
	struct priv *p = rt->priv;
	char cg[RT_NAME_MAX], err[256] = "";

	log_warnx("%s: VMI %s/%s (uid %s) is gone: stopping its drover-vmm "
	    "and removing the run dir", dir, st->ns, st->name, st->uid);
	if (ra_alive(st))
		p->ops->vmm_signal(p, st->pid, st->starttime, SIGKILL);
	rt_cgroup_name(st->ns, st->name, st->uid, cg, sizeof(cg));
	if (p->ops->vmi_cleanup(p, dir, rt->cgroups ? cg : NULL, err,
	    sizeof(err)) < 0)
		log_warnx("%s: %s", dir, err);
}

static int
ra_ready_true(const json_t *vmi)
{
	const json_t *conds = json_object_get(json_object_get(vmi, "status"),
	    "conditions");
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
		if (json_is_string(json_object_get(c, "type")) &&
		    strcmp(json_string_value(json_object_get(c, "type")),
		    "Ready") == 0)
			return json_is_string(json_object_get(c, "status")) &&
			    strcmp(json_string_value(json_object_get(c,
			    "status")), "True") == 0;
	return 0;
}

static void
ra_adopt(struct rt *rt, const char *dir, const struct ra_state *st,
    const json_t *vmi)
{
	const char *phase = manifest_str(vmi, "status.phase");
	struct rt_vmi *v = rt_vmi_get(rt, st->ns, st->name, 1);
	char err[256];

	if (v == NULL || strlen(dir) >= sizeof(v->dir))
		return;
	rt_vmi_init(v, vmi);
	memcpy(v->dir, dir, strlen(dir) + 1);
	v->pid = st->pid;
	v->starttime = st->starttime;
	v->restarts = st->restarts;
	v->adopted = 1;
	v->stage = RT_ACTIVE;
	v->scheduled = 1;
	v->phase = phase && strcmp(phase, "Running") == 0 ? "Running" :
	    "Scheduled";
	v->answered = strcmp(v->phase, "Running") == 0;
	v->booted = ra_ready_true(vmi);
	v->started_ms = 0;
	if (rt_vmi_res(vmi, rt->overhead_cfg, &v->res, err, sizeof(err)) == 0)
		v->reserved = 1;
	/* Its pod network: the IP and MAC again, the DHCP server on our
	 * loop (the VMM kept the tap). */
	if (rt_net_setup(v, vmi, 1, err, sizeof(err)) < 0)
		log_warnx("%s/%s: pod network: %s", v->ns, v->name, err);
	if (ra_alive(st) && rt_watch_pid(v) == 0) {
		log_info("%s/%s: adopted drover-vmm pid %d", v->ns, v->name,
		    (int)v->pid);
		rt_start_polling(v);
		return;
	}
	/* It ended while droverd was away: its exit file says how. */
	log_info("%s/%s: drover-vmm pid %d ended while droverd was down",
	    v->ns, v->name, (int)v->pid);
	rt_vmi_exited(v, rt_exit_file(v), 0);
}

static void
ra_dir(struct rt *rt, const char *dir)
{
	struct ra_state st;
	json_t *vmi;
	const char *uid;

	if (ra_read_state(dir, &st) < 0) {
		/* Never spawned (a failed launch left nothing) or not ours. */
		log_debug("%s: no usable state.json", dir);
		return;
	}
	vmi = store_get(rt->s, "VirtualMachineInstance", st.ns, st.name);
	uid = manifest_str(vmi, "metadata.uid");
	if (vmi == NULL || uid == NULL || strcmp(uid, st.uid) != 0)
		ra_orphan(rt, dir, &st);
	else
		ra_adopt(rt, dir, &st, vmi);
	json_decref(vmi);
}

/* Calls fn for each subdirectory of dir. */
static void
ra_each(struct rt *rt, const char *dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR &&
		    de->d_type != DT_UNKNOWN))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path))
			continue;
		if (depth == 0)
			ra_each(rt, path, 1);
		else
			ra_dir(rt, path);
	}
	closedir(d);
}

/* Cgroups of VMIs that have no VMM any more (a launch cut short). */
static void
ra_prune_cgroups(struct rt *rt)
{
	const char **keep;
	struct rt_vmi *v;
	char err[256] = "";
	size_t n = 0;

	if (!rt->cgroups)
		return;
	for (v = rt->vmis; v; v = v->next)
		n++;
	if ((keep = calloc(n + 1, sizeof(*keep))) == NULL)
		return;
	n = 0;
	for (v = rt->vmis; v; v = v->next)
		if (v->stage == RT_ACTIVE && v->pid > 0)
			keep[n++] = v->cgroup;
	if (rt->priv->ops->cgroup_prune(rt->priv, keep, n, err,
	    sizeof(err)) < 0)
		log_warnx("cgroups: %s", err);
	free(keep);
}

/* Pod networks of VMIs that run no more (a launch cut short, a VMM that
 * ended while droverd was down, a reboot: /run is empty, the IPAM file
 * is not). */
static void
ra_prune_nets(struct rt *rt)
{
	const char **keep;
	struct rt_vmi *v;
	char err[256] = "";
	size_t n = 0;

	if (!rt->network)
		return;
	for (v = rt->vmis; v; v = v->next)
		n++;
	if ((keep = calloc(n + 1, sizeof(*keep))) == NULL)
		return;
	n = 0;
	for (v = rt->vmis; v; v = v->next)
		if (v->stage == RT_ACTIVE && v->pid > 0 && v->net)
			keep[n++] = v->dir;
	if (rt->priv->ops->net_prune(rt->priv, keep, n, err, sizeof(err)) < 0)
		log_warnx("pod network: %s", err);
	free(keep);
}

void
rt_adopt_all(struct rt *rt)
{
	char vmi[PATH_MAX];

	snprintf(vmi, sizeof(vmi), "%s/vmi", rt->run_dir);
	ra_each(rt, vmi, 0);
	ra_prune_cgroups(rt);
	ra_prune_nets(rt);
}
