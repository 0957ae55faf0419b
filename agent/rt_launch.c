/*
 * rt_launch.c: from a scheduled VMI to a running drover-vmm: the disk
 * plan (containerDisk through images_resolve()), the run dir and its
 * files through the privileged operations (priv.h): qcow2 overlays with
 * their backing file pinned, the cloud-init seed ISO, empty disks, the
 * cgroup, the pod network (netns <run_dir>/netns/<ns>.<name>, its tap
 * handed to the VMM as fd PRIV_NET_FD), vm.json; then the VMM, its state
 * file (for re-adoption) and its pidfd on the loop. A failure at any step
 * removes all that was made (vmi_cleanup).
 *
 * Run dir layout (<run_dir>/vmi/<ns>/<name>/, or vmi/_/<hash> when a
 * socket path would be too long), on /run (tmpfs):
 *   vm.json        drover-vmm --config
 *   state.json     {ns, name, uid, pid, starttime, cgroup, pod}
 *   vmm.log        the VMM's stdout and stderr
 *   console.sock   serial console (the console bridge connects here; the
 *                  runtime reads it for "login:" until the guest booted)
 *   control.sock   status / stop / kill
 *   exit           the VMM's exit status, written when it ends
 * Disk dir, its twin on the node's disk (<ephemeral_dir>/<ns>/<name>/ or
 * <ephemeral_dir>/_/<hash>; KubeVirt's pod ephemeral storage: guest
 * writes on a tmpfs would take RAM, charged to the VMI's memory cgroup
 * for good):
 *   disk<i>.qcow2, cidata<i>.iso, empty<i>.raw   the disks
 * Both go when the VMI is cleaned up (priv.h vmi_cleanup).
 */
#include "rt_int.h"
#include "errfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "images.h"
#include "log.h"
#include "loop.h"
#include "priv.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/*
 * Without an image store (tests only): the reference must be an absolute
 * path to a disk file; its format is read from its first bytes here
 * (qcow2 magic, else raw), as images.c pins it at import.
 */
static int
rl_resolve_file(const char *ref, char *file, size_t filelen, char *fmt,
    size_t fmtlen, char *err, size_t errlen)
{
	unsigned char magic[4] = { 0 };
	struct stat st;
	int fd;

	if (ref[0] != '/')
		return errfmt(err, errlen, -ENOENT, "image %s: not present "
		    "(no image store: only absolute paths)", ref);
	fd = open(ref, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errfmt(err, errlen, -ENOENT, "image %s: %s", ref,
		    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    read(fd, magic, 4) != 4) {
		close(fd);
		return errfmt(err, errlen, -EINVAL, "image %s: not a disk file",
		    ref);
	}
	close(fd);
	snprintf(file, filelen, "%s", ref);
	snprintf(fmt, fmtlen, "%s", memcmp(magic, "QFI\xfb", 4) == 0 ?
	    "qcow2" : "raw");
	return 0;
}

struct rl_ctx {
	struct rt *rt;
	char *missing;		/* the image reference that is not there */
	size_t missing_len;
};

static int
rl_resolve(void *arg, const char *image, const char *path, char *file,
    size_t filelen, char *fmt, size_t fmtlen, char *err, size_t errlen)
{
	struct rl_ctx *ctx = arg;
	struct images_disk d;
	int rc;

	if (ctx->rt->im == NULL)
		return rl_resolve_file(image, file, filelen, fmt, fmtlen, err,
		    errlen);
	rc = images_resolve(ctx->rt->im, image, path, &d, err, errlen);
	if (rc == -ENOENT && ctx->missing)
		snprintf(ctx->missing, ctx->missing_len, "%s", image);
	if (rc < 0)
		return rc;
	snprintf(file, filelen, "%s", d.path);
	snprintf(fmt, fmtlen, "%s", d.format);
	return 0;
}

static void
rl_cidata(const struct rt_vmi *v, const json_t *vmi, const json_t *vol,
    struct cidata *ci)
{
	const json_t *c = json_object_get(vol, "cloudInitNoCloud");
	const json_t *spec = json_object_get(vmi, "spec");
	const char *host = json_string_value(json_object_get(spec, "hostname"));

	memset(ci, 0, sizeof(*ci));
	ci->hostname = host && host[0] ? host : v->name;
	ci->firmware_uuid = json_string_value(json_object_get(json_object_get(
	    json_object_get(spec, "domain"), "firmware"), "uuid"));
	ci->user_data = json_string_value(json_object_get(c, "userData"));
	ci->user_data_b64 = json_string_value(json_object_get(c,
	    "userDataBase64"));
	ci->network_data = json_string_value(json_object_get(c, "networkData"));
	ci->network_data_b64 = json_string_value(json_object_get(c,
	    "networkDataBase64"));
}

int
rt_launch_setup(struct rt *rt, const struct rt_config *cfg,
    struct priv_config *pc, char *err, size_t errlen)
{
	int n;

	if (cfg->ephemeral_dir && cfg->ephemeral_dir[0])
		n = snprintf(rt->eph_dir, sizeof(rt->eph_dir), "%s",
		    cfg->ephemeral_dir);
	else if (cfg->state_dir && cfg->state_dir[0])
		n = snprintf(rt->eph_dir, sizeof(rt->eph_dir), "%s/ephemeral",
		    cfg->state_dir);
	else
		n = snprintf(rt->eph_dir, sizeof(rt->eph_dir), "%s/ephemeral",
		    rt->run_dir);
	if (n < 0 || (size_t)n >= sizeof(rt->eph_dir))
		return errfmt(err, errlen, -ENAMETOOLONG, "ephemeral dir: too "
		    "long");
	pc->ephemeral_dir = rt->eph_dir;
	return 0;
}

int
rt_disk_dir(const struct rt_vmi *v, char *out, size_t len)
{
	return priv_disk_dir(v->rt->run_dir, v->rt->eph_dir, v->dir, out, len);
}

static int
rl_disks(struct rt_vmi *v, const json_t *vmi, const char *ddir,
    const struct rt_disk *d, unsigned n, char *err, size_t errlen)
{
	struct priv *p = v->rt->priv;
	struct cidata ci;
	int rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		switch (d[i].kind) {
		case RT_DISK_CONTAINER:
			rc = p->ops->disk_overlay(p, ddir, d[i].file,
			    d[i].backing, d[i].backing_fmt, 0, err, errlen);
			break;
		case RT_DISK_CIDATA:
			rl_cidata(v, vmi, d[i].volume_obj, &ci);
			rc = p->ops->disk_cidata(p, ddir, d[i].file, &ci, err,
			    errlen);
			break;
		case RT_DISK_EMPTY:
			rc = p->ops->disk_empty(p, ddir, d[i].file, d[i].size,
			    err, errlen);
			break;
		}
		if (rc < 0 && err && errlen) {
			char tmp[512];

			snprintf(tmp, sizeof(tmp), "%s", err);
			snprintf(err, errlen, "volume %s: %s", d[i].volume, tmp);
		}
	}
	return rc;
}

/* vm.json's disk paths: in the disk dir, not the run dir. */
static int
rl_vmjson_disks(json_t *j, const char *ddir, const struct rt_disk *d,
    unsigned n)
{
	json_t *disks = json_object_get(j, "disk");
	char path[PATH_MAX];

	if (json_array_size(disks) != n)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", ddir,
		    d[i].file) >= sizeof(path) ||
		    json_object_set_new(json_array_get(disks, i), "path",
		    json_string(path)) < 0)
			return -ENAMETOOLONG;
	}
	return 0;
}

static int
rl_vmjson(struct rt_vmi *v, const char *ddir, const struct rt_disk *d,
    unsigned n, char *err, size_t errlen)
{
	struct priv *p = v->rt->priv;
	struct rt_vmjson in = {
		.dir = v->dir, .res = &v->res, .disks = d, .ndisks = n,
		.user = v->rt->vmm_user[0] ? v->rt->vmm_user : NULL,
		.access_gid = v->rt->access_gid,
		.stop_timeout = v->grace > 3600 ? 3600 : v->grace,
		.net_mac = v->net ? v->mac : NULL,
	};
	json_t *j = rt_vmjson(&in);
	char *text = j && rl_vmjson_disks(j, ddir, d, n) == 0 ?
	    json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int rc;

	json_decref(j);
	if (text == NULL)
		return errfmt(err, errlen, -ENOMEM, "vm.json: out of memory");
	rc = p->ops->file_write(p, v->dir, "vm.json", text, strlen(text), err,
	    errlen);
	free(text);
	return rc;
}

static int
rl_cgroup(struct rt_vmi *v, char *err, size_t errlen)
{
	struct priv *p = v->rt->priv;
	struct priv_limits lim = {
		.cpu_request_milli = v->res.cpu_milli,
		.cpu_limit_milli = v->res.cpu_limit_milli,
		.memory_max = v->res.cgroup_memory,
		.pids_max = cg_pids_limit(v->res.vcpus),
	};

	if (!v->rt->cgroups)
		return 0;
	return p->ops->cgroup_create(p, v->cgroup, &lim, err, errlen);
}

static int
rl_net(struct rt_vmi *v, const json_t *vmi, char *err, size_t errlen)
{
	int rc = rt_net_setup(v, vmi, 0, err, errlen);

	if (rc < 0 && err && errlen) {
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "pod network: %s", tmp);
	}
	return rc;
}

int
rt_state_write(struct rt_vmi *v, char *err, size_t errlen)
{
	struct priv *p = v->rt->priv;
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:i}",
	    "namespace", v->ns, "name", v->name, "uid", v->uid,
	    "pid", (json_int_t)v->pid, "starttime", (json_int_t)v->starttime,
	    "cgroup", v->cgroup, "pod", v->pod, "restarts", (int)v->restarts);
	char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
	int rc;

	json_decref(j);
	if (text == NULL)
		return errfmt(err, errlen, -ENOMEM, "state: out of memory");
	rc = p->ops->file_write(p, v->dir, "state.json", text, strlen(text),
	    err, errlen);
	free(text);
	return rc;
}

int
rt_exit_file(const struct rt_vmi *v)
{
	char path[PATH_MAX], buf[16] = { 0 };
	int fd, code;
	char *end;
	ssize_t n;
	long c;

	snprintf(path, sizeof(path), "%s/exit", v->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	c = strtol(buf, &end, 10);
	code = (end != buf && c >= 0 && c <= 255) ? (int)c : -1;
	return code;
}

/*
 * A VMM log line without its prefix: "1795879901.918 drover-vmm error:
 * vmm_load_disk: booting from ..." gives "booting from ...".
 */
static char *
rl_log_strip(char *line)
{
	char *s = line;
	size_t n;

	s += strspn(s, "0123456789.");
	if (s != line && *s == ' ')
		s++;
	if (strncmp(s, "drover-vmm", 10) != 0)
		return line;
	s += 10;
	if (*s == ' ')			/* a level word */
		s += 1 + strcspn(s + 1, ":");
	if (*s != ':')
		return line;
	s += 1 + (s[1] == ' ');
	/* a function name (log.h adds __func__) */
	n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n && s[n] == ':' && s[n + 1] == ' ')
		s += n + 2;
	return s;
}

void
rt_log_tail(const struct rt_vmi *v, char *out, size_t len)
{
	char path[PATH_MAX], buf[2048], *line, *nl;
	ssize_t n;
	off_t size;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/vmm.log", v->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf) - 1)
		lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	nl = strrchr(buf, '\n');
	line = nl ? nl + 1 : buf;
	/* "Try 'drover-vmm --help'." follows a usage error: the line
	 * before it says what was wrong. */
	if (strncmp(line, "Try ", 4) == 0 && nl) {
		*nl = '\0';
		nl = strrchr(buf, '\n');
		line = nl ? nl + 1 : buf;
	}
	line = rl_log_strip(line);
	for (char *s = line; *s; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
	snprintf(out, len, "%s", line);
}

static void
rl_pidfd_ready(void *arg, int fd, short revents)
{
	struct rt_vmi *v = arg;
	int ws = 0, rc, code = -1, sig = 0;

	(void)revents;
	loop_del_fd(v->rt->l, fd);
	close(fd);
	v->pidfd = -1;
	rc = v->rt->priv->ops->vmm_reap(v->rt->priv, v->pid, &ws);
	if (rc == 0 && WIFEXITED(ws))
		code = WEXITSTATUS(ws);
	else if (rc == 0 && WIFSIGNALED(ws))
		sig = WTERMSIG(ws);
	else
		code = rt_exit_file(v);		/* adopted: not our child */
	rt_vmi_exited(v, code, sig);
}

int
rt_watch_pid(struct rt_vmi *v)
{
	int fd = (int)syscall(SYS_pidfd_open, v->pid, 0);

	if (fd < 0)
		return -errno;
	if (loop_add_fd(v->rt->l, fd, POLLIN, rl_pidfd_ready, v) < 0) {
		close(fd);
		return -ENOMEM;
	}
	v->pidfd = fd;
	return 0;
}

static int
rl_spawn(struct rt_vmi *v, char *err, size_t errlen)
{
	struct priv *p = v->rt->priv;
	struct priv_spawn sp = {
		.dir = v->dir,
		.cgroup = v->rt->cgroups ? v->cgroup : NULL,
		.net = v->net,
	};
	int rc;

	/* vmm_spawn removes a stale exit file (not to be read for this
	 * run): the run dir is the privileged side's. */
	rc = p->ops->vmm_spawn(p, &sp, &v->pid, &v->starttime, err, errlen);
	if (rc < 0)
		return rc;
	v->adopted = 0;
	v->answered = 0;
	v->ctl_fails = 0;
	v->started_ms = loop_now_ms();
	if ((rc = rt_state_write(v, err, errlen)) < 0)
		log_warnx("%s/%s: %s", v->ns, v->name, err ? err : "state");
	if ((rc = rt_watch_pid(v)) < 0) {
		/* Cannot happen for a child (a zombie keeps its pid). */
		log_warnx("%s/%s: pidfd_open(%d): %s", v->ns, v->name,
		    (int)v->pid, strerror(-rc));
		return errfmt(err, errlen, rc, "watching drover-vmm: %s",
		    strerror(-rc));
	}
	log_info("%s/%s: drover-vmm started, pid %d", v->ns, v->name,
	    (int)v->pid);
	return 0;
}

/*
 * The pod network: set up for a new VMI (adopt 0) or found again after a
 * droverd restart (adopt 1). A VMI without a pod interface, or a node
 * without the pod network (the VMI then runs without a NIC, logged),
 * gets none: 0 with v->net 0.
 */
int
rt_net_setup(struct rt_vmi *v, const json_t *vmi, int adopt, char *err,
    size_t errlen)
{
	struct priv *p = v->rt->priv;
	struct priv_net_info info;
	struct rt_net rn;
	int rc;

	v->net = 0;
	v->pod_ip[0] = v->mac[0] = v->net_iface[0] = '\0';
	if ((rc = rt_vmi_net(vmi, v->uid, &rn, err, errlen)) <= 0)
		return rc;
	if (!v->rt->network) {
		log_info("%s/%s: interface %s: the pod network is off on this "
		    "node (agent config \"network\"): no NIC", v->ns, v->name,
		    rn.iface);
		return 0;
	}
	rc = adopt ? p->ops->net_adopt(p, v->dir, &rn.req, &info, err, errlen) :
	    p->ops->net_setup(p, v->dir, &rn.req, &info, err, errlen);
	if (rc < 0)
		return rc;
	v->net = 1;
	snprintf(v->net_iface, sizeof(v->net_iface), "%s", rn.iface);
	snprintf(v->pod_ip, sizeof(v->pod_ip), "%s", info.ip);
	snprintf(v->mac, sizeof(v->mac), "%s", rn.mac);
	return 0;
}

int
rt_launch(struct rt_vmi *v, const json_t *vmi, char *missing,
    size_t missing_len, char *err, size_t errlen)
{
	struct rt_disk disks[RT_MAX_DISKS];
	struct rl_ctx ctx = { v->rt, missing, missing_len };
	struct priv *p = v->rt->priv;
	char ddir[PATH_MAX];
	unsigned n = 0;
	int rc;

	if (missing && missing_len)
		missing[0] = '\0';
	if ((rc = rt_disk_dir(v, ddir, sizeof(ddir))) < 0)
		return errfmt(err, errlen, rc == -ENOENT ? -EIO : rc,
		    "%s: no disk dir: %s", v->dir, strerror(-rc));
	rc = rt_plan_disks(vmi, rl_resolve, &ctx, disks, RT_MAX_DISKS, &n,
	    err, errlen);
	if (rc < 0)
		return rc;
	if (n == 0)
		return errfmt(err, errlen, -EINVAL, "no disks: drover-vmm boots "
		    "from the first disk (a containerDisk)");
	if ((rc = p->ops->vmi_prepare(p, v->dir, err, errlen)) < 0)
		return rc;
	if ((rc = rl_disks(v, vmi, ddir, disks, n, err, errlen)) < 0 ||
	    (rc = rl_cgroup(v, err, errlen)) < 0 ||
	    (rc = rl_net(v, vmi, err, errlen)) < 0 ||
	    (rc = rl_vmjson(v, ddir, disks, n, err, errlen)) < 0 ||
	    (rc = rl_spawn(v, err, errlen)) < 0)
		goto fail;
	return 0;
fail:
	/* Everything made so far goes, the pod network included. */
	p->ops->vmi_cleanup(p, v->dir, v->rt->cgroups ? v->cgroup : NULL,
	    NULL, 0);
	v->net = 0;
	v->pod_ip[0] = '\0';
	return rc == -ENOENT ? -EIO : rc;	/* -ENOENT means "retry" */
}

int
rt_respawn(struct rt_vmi *v, char *err, size_t errlen)
{
	return rl_spawn(v, err, errlen);
}
