/*
 * priv_local.c: the privileged operations (priv.h) done in the process
 * that holds root: droverd-priv (priv_server.c hands it droverd-api's
 * requests) or a single-process droverd. Every path is checked to lie
 * under <run_dir>/vmi/ (run dirs) or <ephemeral_dir>/ (disk dirs), here,
 * whoever asks.
 */
#include "priv.h"
#include "priv_int.h"
#include "errfmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "blk_qcow2.h"
#include "cgroup.h"
#include "log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct priv_local {
	struct priv base;
	char run_dir[64];		/* checked at priv_local_new() */
	char eph_dir[PATH_MAX];		/* disk dirs' root, likewise */
	char vmm_path[PATH_MAX];
	struct cg *cg;			/* NULL: no cgroups */
	struct pl_nets *nets;		/* NULL: no pod network */
	int api_gid;			/* > 0: priv_config.api_gid */
	int access_gid;			/* priv_config.access_gid */
	char images_dir[PATH_MAX];	/* "": no image store */
	char vmm_user[64];		/* "": none */
	json_t *preloaded;		/* priv_config.preloaded's copy */
};

static int pl_net_id(struct priv_local *p, const char *dir,
    char id[PLN_ID_MAX]);

static struct priv_local *
pl(struct priv *p)
{
	return (struct priv_local *)p;
}

/* dir checked (under the root want), and a real directory, no symlink. */
static int
pl_dir_ok(struct priv_local *p, const char *dir, const char *name, int want,
    char *err, size_t errlen)
{
	struct stat st;

	if (priv_path_ok(p->run_dir, p->eph_dir, dir, name) != want)
		return errfmt(err, errlen, -EINVAL, "%s%s%s: not a VMI path "
		    "under %s%s", dir, name ? "/" : "", name ? name : "",
		    want == PRIV_PATH_RUN ? p->run_dir : p->eph_dir,
		    want == PRIV_PATH_RUN ? "/vmi" : "");
	if (lstat(dir, &st) < 0)
		return errfmt(err, errlen, -errno, "%s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errfmt(err, errlen, -ENOTDIR, "%s: not a directory", dir);
	return 0;
}

static int
pl_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The grant to droverd-api (priv_config.api_gid): dir root:api_gid 0750,
 * so that it lists and reads the run dirs and reaches the VMMs' sockets,
 * and writes nothing there. No-op without an API group.
 */
static int
pl_grant_dir(struct priv_local *p, const char *dir)
{
	if (p->api_gid <= 0)
		return 0;
	if (chown(dir, 0, (gid_t)p->api_gid) < 0 || chmod(dir, 0750) < 0)
		return -errno;
	return 0;
}

/* Every directory from <run_dir>/vmi down to the run dir dir. */
static int
pl_grant_run_dir(struct priv_local *p, const char *dir)
{
	char buf[PATH_MAX];
	size_t base = strlen(p->run_dir) + 4;	/* "<run_dir>/vmi" */
	int rc;

	if (p->api_gid <= 0)
		return 0;
	if (strlen(dir) >= sizeof(buf) || strlen(dir) <= base)
		return -EINVAL;
	memcpy(buf, dir, strlen(dir) + 1);
	for (char *s = buf + base + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		rc = pl_grant_dir(p, buf);
		*s = '/';
		if (rc < 0)
			return rc;
	}
	return pl_grant_dir(p, buf);
}

/* A file in a run dir for droverd-api to read: root:api_gid 0640. */
static int
pl_grant_file(struct priv_local *p, int fd)
{
	if (p->api_gid <= 0)
		return 0;
	if (fchown(fd, 0, (gid_t)p->api_gid) < 0 || fchmod(fd, 0640) < 0)
		return -errno;
	return 0;
}

static int
pl_vmi_prepare(struct priv *pp, const char *dir, char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char ddir[PATH_MAX];
	int rc;

	if (priv_path_ok(p->run_dir, p->eph_dir, dir, NULL) != PRIV_PATH_RUN ||
	    priv_disk_dir(p->run_dir, p->eph_dir, dir, ddir, sizeof(ddir)) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: not a VMI path under "
		    "%s/vmi", dir, p->run_dir);
	if ((rc = pl_mkdirs(dir, 0700)) < 0)
		return errfmt(err, errlen, rc, "creating %s: %s", dir,
		    strerror(-rc));
	if ((rc = pl_mkdirs(ddir, 0700)) < 0)
		return errfmt(err, errlen, rc, "creating %s: %s", ddir,
		    strerror(-rc));
	if ((rc = pl_dir_ok(p, dir, NULL, PRIV_PATH_RUN, err, errlen)) < 0)
		return rc;
	if ((rc = pl_grant_run_dir(p, dir)) < 0)
		return errfmt(err, errlen, rc, "%s: for droverd-api's group: %s",
		    dir, strerror(-rc));
	return pl_dir_ok(p, ddir, NULL, PRIV_PATH_DISK, err, errlen);
}

static int
pl_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int
pl_write(struct priv *pp, const char *dir, const char *name,
    const char *data, size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, rc;
	size_t off = 0;

	if ((rc = pl_dir_ok(pl(pp), dir, name, PRIV_PATH_RUN, err,
	    errlen)) < 0)
		return rc;
	if (pl_path(path, sizeof(path), dir, name) < 0)
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: name too long",
		    dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return errfmt(err, errlen, -errno, "%s: %s", tmp,
		    strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (pl_grant_file(pl(pp), fd) < 0 || fsync(fd) < 0)
		goto fail;
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return errfmt(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	return 0;
fail:
	rc = errno ? -errno : -EIO;
	close(fd);
	unlink(tmp);
	return errfmt(err, errlen, rc, "writing %s: %s", tmp, strerror(-rc));
}

/* The VMM's config is droverd-priv's alone (vmm_spawn). */
static int
pl_file_write(struct priv *pp, const char *dir, const char *name,
    const char *data, size_t len, char *err, size_t errlen)
{
	if (name && strcmp(name, PRIV_VMM_CONFIG) == 0)
		return errfmt(err, errlen, -EPERM, "%s/%s: written by "
		    "droverd-priv only", dir, name);
	return pl_write(pp, dir, name, data, len, err, errlen);
}

static int
pl_disk_overlay(struct priv *pp, const char *dir, const char *name,
    const char *backing, const char *backing_fmt, uint64_t size, char *err,
    size_t errlen)
{
	struct priv_local *p = pl(pp);
	char path[PATH_MAX], fdp[32];
	int rc, fd;

	if ((rc = pl_dir_ok(p, dir, name, PRIV_PATH_DISK, err, errlen)) < 0)
		return rc;
	if (pl_path(path, sizeof(path), dir, name) < 0)
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: too long", dir);
	/* Opened here, safely; its size read through the fd (the name
	 * recorded in the overlay is informational: vm.json pins it). */
	fd = priv_backing_open(p->images_dir, p->preloaded, backing, err,
	    errlen);
	if (fd < 0)
		return fd;
	snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
	rc = size ? 0 : blk_qcow2_backing_size(fdp, backing_fmt, &size);
	close(fd);
	if (rc < 0)
		return errfmt(err, errlen, rc, "backing file %s: not a %s image: "
		    "%s", backing, backing_fmt, strerror(-rc));
	unlink(path);	/* a half-made one from an earlier attempt */
	rc = blk_qcow2_create_overlay(path, backing, backing_fmt, size);
	if (rc < 0)
		return errfmt(err, errlen, rc, "creating the overlay %s on %s: "
		    "%s", path, backing, strerror(-rc));
	return 0;
}

static int
pl_disk_empty(struct priv *pp, const char *dir, const char *name,
    uint64_t size, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = pl_dir_ok(pl(pp), dir, name, PRIV_PATH_DISK, err,
	    errlen)) < 0)
		return rc;
	if (pl_path(path, sizeof(path), dir, name) < 0 || size > INT64_MAX)
		return errfmt(err, errlen, -EINVAL, "%s: bad name or size", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return errfmt(err, errlen, -errno, "%s: %s", path,
		    strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		return errfmt(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	close(fd);
	return 0;
}

static int
pl_disk_cidata(struct priv *pp, const char *dir, const char *name,
    const struct cidata *ci, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = pl_dir_ok(pl(pp), dir, name, PRIV_PATH_DISK, err,
	    errlen)) < 0)
		return rc;
	if (pl_path(path, sizeof(path), dir, name) < 0)
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: too long", dir);
	return cidata_write(path, ci, err, errlen);
}

static int
pl_cgroup_create(struct priv *pp, const char *name,
    const struct priv_limits *lim, char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	struct cg_limits cl = {
		.cpu_request_milli = lim->cpu_request_milli,
		.cpu_limit_milli = lim->cpu_limit_milli,
		.memory_max = lim->memory_max,
		.pids_max = lim->pids_max,
	};
	int rc;

	if (p->cg == NULL)
		return 0;
	rc = cg_create(p->cg, name, &cl, err, errlen);
	if (rc > 0) {
		log_warnx("cgroup %s: %s", name, err ? err : "");
		rc = 0;
	}
	return rc;
}

/*
 * The VMM's fds (priv.h): src[i] on PRIV_NET_FD + i (-1: none), every
 * other fd above 2 closed but the error pipe *fd, which moves above them.
 * Each one is first copied above the targets, so that no dup2 clobbers a
 * source. 0 or -1 (errno).
 */
#define PL_CHILD_FDS	(PRIV_BACKING_FD + PRIV_BACKING_MAX - PRIV_NET_FD)
static int
pl_child_fds(int *fd, const int *src)
{
	const int top = PRIV_NET_FD + PL_CHILD_FDS;	/* first free one */
	int hi[PL_CHILD_FDS], e;

	if ((e = fcntl(*fd, F_DUPFD_CLOEXEC, top)) < 0)
		return -1;
	*fd = e;
	for (int i = 0; i < PL_CHILD_FDS; i++)
		if ((hi[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC,
		    top)) < 0 && src[i] >= 0)
			return -1;
	for (int i = 0; i < PL_CHILD_FDS; i++) {
		if (hi[i] < 0)
			close(PRIV_NET_FD + i);
		else if (dup2(hi[i], PRIV_NET_FD + i) < 0)
			return -1;
	}
	priv_close_fds_above(top - 1, *fd);
	return 0;
}

/* The child: never returns. Reports an exec failure's errno on fd. */
static void
pl_child(struct priv_local *p, const struct priv_spawn *sp, int fd,
    const int *src)
{
	char conf[PATH_MAX], logp[PATH_MAX];
	int e, null, logfd;

	setsid();
	/* The loop's signal handling must not be inherited. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	snprintf(conf, sizeof(conf), "%s/" PRIV_VMM_CONFIG, sp->dir);
	snprintf(logp, sizeof(logp), "%s/vmm.log", sp->dir);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (null < 0 || logfd < 0 || pl_grant_file(p, logfd) < 0 ||
	    dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		goto fail;
	if (pl_child_fds(&fd, src) < 0)
		goto fail;
	if (p->cg && sp->cgroup && cg_attach(p->cg, sp->cgroup, 0, NULL, 0) < 0)
		goto fail;
	execl(p->vmm_path, "drover-vmm", "--config", conf, (char *)NULL);
fail:
	e = errno ? errno : EIO;
	if (write(fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* Close every fd above 2 but keep: the VMM must not hold droverd's. */
static int
pl_spawn_fork(struct priv_local *p, const struct priv_spawn *sp,
    const int *src, pid_t *pid, char *err, size_t errlen)
{
	int pfd[2], e = 0, rc;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return errfmt(err, errlen, -errno, "pipe: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0) {
		rc = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return errfmt(err, errlen, rc, "fork: %s", strerror(-rc));
	}
	if (*pid == 0) {
		close(pfd[0]);
		pl_child(p, sp, pfd[1], src);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(*pid, NULL, 0);
		return errfmt(err, errlen, -e, "starting %s: %s", p->vmm_path,
		    strerror(e));
	}
	return 0;
}

/* vm.json checked (priv_vmjson.c) into <dir>/vmm.json, the VMM's
 * config; its backing files open in out. */
static int
pl_spawn_config(struct priv_local *p, const struct priv_spawn *sp,
    struct priv_vmjson_out *out, char *err, size_t errlen)
{
	char ddir[PATH_MAX];
	struct priv_vmjson_in in = {
		.dir = sp->dir, .ddir = ddir, .net = sp->net,
		.images_dir = p->images_dir[0] ? p->images_dir : NULL,
		.preloaded = p->preloaded,
		.vmm_user = p->vmm_user[0] ? p->vmm_user : NULL,
		.gids = { p->api_gid, p->access_gid },
	};
	int rc;

	if (priv_disk_dir(p->run_dir, p->eph_dir, sp->dir, ddir,
	    sizeof(ddir)) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: not a VMI run dir",
		    sp->dir);
	if ((rc = priv_vmjson_load(&in, out, err, errlen)) < 0)
		return rc;
	rc = pl_write(&p->base, sp->dir, PRIV_VMM_CONFIG, out->text,
	    strlen(out->text), err, errlen);
	if (rc < 0)
		priv_vmjson_out_free(out);
	return rc;
}

static int
pl_vmm_spawn(struct priv *pp, const struct priv_spawn *sp, pid_t *pid,
    uint64_t *starttime, char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char id[PLN_ID_MAX], path[PATH_MAX];
	struct priv_vmjson_out out;
	int src[PL_CHILD_FDS];
	int rc, tap = -1;

	if ((rc = pl_dir_ok(p, sp->dir, NULL, PRIV_PATH_RUN, err,
	    errlen)) < 0)
		return rc;
	if (sp->cgroup && !cg_name_valid(sp->cgroup))
		return errfmt(err, errlen, -EINVAL, "bad cgroup name %s",
		    sp->cgroup);
	if (sp->net) {
		if (p->nets == NULL || pl_net_id(p, sp->dir, id) < 0)
			return errfmt(err, errlen, -EINVAL, "%s: no pod network",
			    sp->dir);
		if ((tap = pln_tap(p->nets, id)) < 0)
			return errfmt(err, errlen, tap, "%s: its tap: %s",
			    sp->dir, strerror(-tap));
	}
	/* A stale exit file must not be read for this run. */
	if (pl_path(path, sizeof(path), sp->dir, "exit") < 0 ||
	    (unlink(path) < 0 && errno != ENOENT))
		return errfmt(err, errlen, -EIO, "%s/exit: cannot remove it",
		    sp->dir);
	if ((rc = pl_spawn_config(p, sp, &out, err, errlen)) < 0)
		return rc;
	for (int i = 0; i < PL_CHILD_FDS; i++)
		src[i] = -1;
	src[0] = tap;
	for (unsigned i = 0; i < out.nfds; i++)
		src[PRIV_BACKING_FD - PRIV_NET_FD + (int)i] = out.fds[i];
	rc = pl_spawn_fork(p, sp, src, pid, err, errlen);
	priv_vmjson_out_free(&out);
	if (rc < 0)
		return rc;
	if ((rc = priv_proc_starttime(*pid, starttime)) < 0) {
		/* Exited already (a bad config): reaped by vmm_reap. */
		*starttime = 0;
	}
	return 0;
}

static int
pl_vmm_signal(struct priv *pp, pid_t pid, uint64_t starttime, int sig)
{
	uint64_t st;
	int fd, rc;

	(void)pp;
	if (pid <= 1)
		return -EINVAL;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	/* Checked after the pidfd is open: it then names this process. */
	rc = priv_proc_starttime(pid, &st);
	if (rc == 0 && st != starttime)
		rc = -ESRCH;
	if (rc == 0 && syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
pl_vmm_reap(struct priv *pp, pid_t pid, int *wstatus)
{
	pid_t r;

	(void)pp;
	do
		r = waitpid(pid, wstatus, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -EAGAIN : 0;
}

/* rm -r of a run dir: plain files and sockets, one level of subdirs. */
static int
pl_rmtree(const char *dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (pl_path(path, sizeof(path), dir, de->d_name) < 0)
			continue;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth < 4)
			pl_rmtree(path, depth + 1);
		else if (unlink(path) < 0 && errno != ENOENT)
			rc = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

/* rm -r dir (under root); then its parent when empty, unless root. */
static int
pl_remove_dir(const char *root, const char *dir, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	char *slash;
	int rc;

	if ((rc = pl_rmtree(dir, 0)) < 0)
		return errfmt(err, errlen, rc, "removing %s: %s", dir,
		    strerror(-rc));
	/* The namespace's dir goes when it is empty. */
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) != NULL) {
		*slash = '\0';
		if (strcmp(parent, root) != 0)
			rmdir(parent);	/* ENOTEMPTY is fine */
	}
	return 0;
}

static int
pl_vmi_cleanup(struct priv *pp, const char *dir, const char *cgroup,
    char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char vmi[PATH_MAX], ddir[PATH_MAX];
	int rc = 0;

	char id[PLN_ID_MAX];

	if (cgroup && p->cg && (rc = cg_destroy(p->cg, cgroup, err, errlen)) < 0)
		return rc;
	if (dir == NULL)
		return 0;
	if (priv_path_ok(p->run_dir, p->eph_dir, dir, NULL) != PRIV_PATH_RUN ||
	    priv_disk_dir(p->run_dir, p->eph_dir, dir, ddir, sizeof(ddir)) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: not a VMI path under "
		    "%s/vmi", dir, p->run_dir);
	/* The network after the VMM (the cgroup is empty now). */
	if (p->nets && pl_net_id(p, dir, id) == 0 &&
	    (rc = pln_teardown(p->nets, id, err, errlen)) < 0)
		return rc;
	/* The disks first: a run dir left behind is found again at the
	 * next start (rt_adopt.c), a disk dir alone only by the prune. */
	if ((rc = pl_remove_dir(p->eph_dir, ddir, err, errlen)) < 0)
		return rc;
	snprintf(vmi, sizeof(vmi), "%s/vmi", p->run_dir);
	return pl_remove_dir(vmi, dir, err, errlen);
}

/*
 * At start: remove the disk dirs <eph>/<a>/<b> whose run dir
 * <run_dir>/vmi/<a>/<b> is gone (/run is empty after a reboot: no VMM
 * can be adopted, the VMI fails, its disks are of no use any more).
 */
static void
pl_disk_prune(struct priv_local *p)
{
	char ns[PATH_MAX], ddir[PATH_MAX], rdir[PATH_MAX];
	struct dirent *a, *b;
	struct stat st;
	DIR *da, *db;

	if ((da = opendir(p->eph_dir)) == NULL)
		return;
	while ((a = readdir(da)) != NULL) {
		if (a->d_name[0] == '.' || pl_path(ns, sizeof(ns), p->eph_dir,
		    a->d_name) < 0 || lstat(ns, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if ((db = opendir(ns)) == NULL)
			continue;
		while ((b = readdir(db)) != NULL) {
			if (b->d_name[0] == '.' || pl_path(ddir, sizeof(ddir),
			    ns, b->d_name) < 0 || (size_t)snprintf(rdir,
			    sizeof(rdir), "%s/vmi/%s/%s", p->run_dir, a->d_name,
			    b->d_name) >= sizeof(rdir) || lstat(rdir, &st) == 0)
				continue;
			log_warnx("%s: its run dir %s is gone: removed", ddir,
			    rdir);
			pl_rmtree(ddir, 0);
		}
		closedir(db);
		rmdir(ns);		/* when empty */
	}
	closedir(da);
}

/* The disk dirs' root: absolute, apart from <run_dir>/vmi. */
static int
pl_eph_ok(const char *run_dir, const char *eph)
{
	char vmi[PATH_MAX];
	size_t n = strlen(eph), m;

	snprintf(vmi, sizeof(vmi), "%s/vmi", run_dir);
	m = strlen(vmi);
	if (eph[0] != '/' || n < 2 || n >= PATH_MAX - 300 ||
	    eph[n - 1] == '/' || !priv_path_rel_ok(eph + 1))
		return 0;
	/* Neither inside the other. */
	if (strncmp(eph, vmi, m) == 0 && (eph[m] == '\0' || eph[m] == '/'))
		return 0;
	if (strncmp(vmi, eph, n) == 0 && (vmi[n] == '\0' || vmi[n] == '/'))
		return 0;
	return 1;
}

static int
pl_cgroup_prune(struct priv *pp, const char *const *keep, size_t nkeep,
    char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char **names = NULL;
	int rc;

	if (p->cg == NULL)
		return 0;
	if ((rc = cg_list(p->cg, &names, NULL, err, errlen)) < 0)
		return rc;
	for (char **n = names; n && *n; n++) {
		size_t i;

		for (i = 0; i < nkeep && strcmp(keep[i], *n) != 0; i++)
			;
		if (i < nkeep)
			continue;
		log_warnx("cgroup %s: no VMI runs in it: removed", *n);
		if (cg_destroy(p->cg, *n, err, errlen) < 0)
			log_warnx("cgroup %s: %s", *n, err ? err : "");
	}
	cg_list_free(names);
	return 0;
}

/* ---- the pod network (priv_net.c) ---------------------------------------- */

/*
 * The netns name of run dir dir: its part below <run_dir>/vmi/ with "/"
 * as ".": "<ns>.<name>" (a namespace has no dot) or "_.<hash>".
 */
static int
pl_net_id(struct priv_local *p, const char *dir, char id[PLN_ID_MAX])
{
	const char *rel;
	size_t n;

	if (priv_path_ok(p->run_dir, p->eph_dir, dir, NULL) != PRIV_PATH_RUN ||
	    (rel = priv_path_below(p->run_dir, "/vmi/", dir)) == NULL ||
	    (n = strlen(rel)) >= PLN_ID_MAX || strchr(rel, '/') == NULL ||
	    strchr(strchr(rel, '/') + 1, '/') != NULL)
		return -EINVAL;
	memcpy(id, rel, n + 1);
	*strchr(id, '/') = '.';
	return 0;
}

/* A request for a VMI the privileged side knows: its run dir exists. */
static int
pl_net_check(struct priv_local *p, const char *dir,
    const struct priv_net_req *req, char id[PLN_ID_MAX], char *err,
    size_t errlen)
{
	int rc;

	if (p->nets == NULL)
		return errfmt(err, errlen, -EOPNOTSUPP, "the pod network is not "
		    "enabled on this node (agent config \"network\")");
	if ((rc = pl_dir_ok(p, dir, NULL, PRIV_PATH_RUN, err, errlen)) < 0)
		return rc;
	if (pl_net_id(p, dir, id) < 0)
		return errfmt(err, errlen, -EINVAL, "%s: not a VMI run dir", dir);
	if (req && (memchr(req->hostname, '\0', sizeof(req->hostname)) ==
	    NULL || req->nports > PRIV_NET_MAX_PORTS))
		return errfmt(err, errlen, -EINVAL, "%s: malformed network "
		    "request", dir);
	return 0;
}

static int
pl_net_setup(struct priv *pp, const char *dir, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char id[PLN_ID_MAX];
	int rc;

	if ((rc = pl_net_check(p, dir, req, id, err, errlen)) < 0)
		return rc;
	return pln_setup(p->nets, id, req, out, err, errlen);
}

static int
pl_net_adopt(struct priv *pp, const char *dir, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char id[PLN_ID_MAX];
	int rc;

	if ((rc = pl_net_check(p, dir, req, id, err, errlen)) < 0)
		return rc;
	return pln_adopt(p->nets, id, req, out, err, errlen);
}

static int
pl_net_prune(struct priv *pp, const char *const *keep, size_t nkeep,
    char *err, size_t errlen)
{
	struct priv_local *p = pl(pp);
	char (*ids)[PLN_ID_MAX];
	const char **kp;
	size_t n = 0;
	int rc;

	if (p->nets == NULL)
		return 0;
	ids = calloc(nkeep + 1, sizeof(*ids));
	kp = calloc(nkeep + 1, sizeof(*kp));
	if (ids == NULL || kp == NULL) {
		free(ids);
		free(kp);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nkeep; i++)
		if (pl_net_id(p, keep[i], ids[n]) == 0) {
			kp[n] = ids[n];
			n++;
		}
	rc = pln_prune(p->nets, kp, n);
	free(ids);
	free(kp);
	if (rc > 0)
		log_warnx("pod network: %d left by an earlier droverd removed",
		    rc);
	return rc < 0 ? errfmt(err, errlen, rc, "pruning the pod networks: %s",
	    strerror(-rc)) : 0;
}

static const struct priv_ops priv_local_ops = {
	.vmi_prepare = pl_vmi_prepare,
	.file_write = pl_file_write,
	.disk_overlay = pl_disk_overlay,
	.disk_empty = pl_disk_empty,
	.disk_cidata = pl_disk_cidata,
	.cgroup_create = pl_cgroup_create,
	.vmm_spawn = pl_vmm_spawn,
	.vmm_signal = pl_vmm_signal,
	.vmm_reap = pl_vmm_reap,
	.vmi_cleanup = pl_vmi_cleanup,
	.cgroup_prune = pl_cgroup_prune,
	.net_setup = pl_net_setup,
	.net_adopt = pl_net_adopt,
	.net_prune = pl_net_prune,
};

struct priv *
priv_local_new(const struct priv_config *cfg, char *err, size_t errlen)
{
	struct priv_local *p = calloc(1, sizeof(*p));
	char vmi[PATH_MAX + 8];
	int rc;

	if (p == NULL) {
		errfmt(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	p->base.ops = &priv_local_ops;
	if (cfg->run_dir[0] != '/' || strlen(cfg->run_dir) >= sizeof(p->run_dir) ||
	    strlen(cfg->vmm_path) >= sizeof(p->vmm_path)) {
		errfmt(err, errlen, -EINVAL, "run dir %s: must be an absolute "
		    "path of at most 63 bytes (unix socket paths live under it)",
		    cfg->run_dir);
		goto fail;
	}
	snprintf(p->run_dir, sizeof(p->run_dir), "%s", cfg->run_dir);
	snprintf(p->vmm_path, sizeof(p->vmm_path), "%s", cfg->vmm_path);
	if (cfg->ephemeral_dir == NULL ||
	    !pl_eph_ok(p->run_dir, cfg->ephemeral_dir)) {
		errfmt(err, errlen, -EINVAL, "ephemeral dir %s: must be an "
		    "absolute path apart from %s/vmi", cfg->ephemeral_dir ?
		    cfg->ephemeral_dir : "(none)", p->run_dir);
		goto fail;
	}
	snprintf(p->eph_dir, sizeof(p->eph_dir), "%s", cfg->ephemeral_dir);
	snprintf(vmi, sizeof(vmi), "%s/vmi", p->run_dir);
	p->api_gid = cfg->api_gid;
	p->access_gid = cfg->access_gid;
	if ((cfg->images_dir && (cfg->images_dir[0] != '/' ||
	    strlen(cfg->images_dir) >= sizeof(p->images_dir))) ||
	    (cfg->vmm_user && strlen(cfg->vmm_user) >= sizeof(p->vmm_user))) {
		errfmt(err, errlen, -EINVAL, "image store %s or VMM user: not "
		    "an absolute path or too long", cfg->images_dir ?
		    cfg->images_dir : "(none)");
		goto fail;
	}
	if (cfg->images_dir)
		snprintf(p->images_dir, sizeof(p->images_dir), "%s",
		    cfg->images_dir);
	if (cfg->vmm_user)
		snprintf(p->vmm_user, sizeof(p->vmm_user), "%s", cfg->vmm_user);
	if (cfg->preloaded)
		p->preloaded = json_deep_copy((const json_t *)cfg->preloaded);
	if ((rc = pl_mkdirs(vmi, 0700)) < 0 ||
	    (rc = pl_grant_dir(p, p->run_dir)) < 0 ||
	    (rc = pl_grant_dir(p, vmi)) < 0) {
		errfmt(err, errlen, rc, "creating %s: %s", vmi, strerror(-rc));
		goto fail;
	}
	if ((rc = pl_mkdirs(p->eph_dir, 0700)) < 0) {
		errfmt(err, errlen, rc, "creating %s: %s", p->eph_dir,
		    strerror(-rc));
		goto fail;
	}
	pl_disk_prune(p);
	if (cfg->cgroup_root && cg_open(cfg->cgroup_root, cfg->cgroup_parent ?
	    cfg->cgroup_parent : "drover", &p->cg, err, errlen) < 0)
		goto fail;
	if (cfg->net && pln_open(&p->nets, cfg->net, cfg->loop, err,
	    errlen) < 0)
		goto fail;
	return &p->base;
fail:
	if (p->cg)
		cg_close(p->cg);
	free(p);
	return NULL;
}

void
priv_local_paths(struct priv *pp, const char **run_dir,
    const char **ephemeral_dir)
{
	struct priv_local *p = pl(pp);

	*run_dir = p->run_dir;
	*ephemeral_dir = p->eph_dir;
}

void
priv_local_free(struct priv *pp)
{
	struct priv_local *p = pl(pp);

	if (p == NULL)
		return;
	if (p->cg)
		cg_close(p->cg);
	pln_close(p->nets);
	json_decref(p->preloaded);
	free(p);
}
