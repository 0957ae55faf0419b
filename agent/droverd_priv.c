/*
 * droverd_priv.c: the split of droverd into droverd-priv and droverd-api
 * (droverd_priv.h says who does what).
 *
 * The grants to droverd-api's user, each one on purpose:
 * - <state-dir>: root:GID 0710, so that it enters; <state-dir>/objects
 *   (the store) and <state-dir>/images (the image store) are its own
 *   (chowned to UID:GID at each start, as earlier droverds ran as root);
 *   <state-dir>/net (IPAM) and the ephemeral dir stay root's;
 * - <run-dir>, <run-dir>/vmi and each VMI's run dir: root:GID 0750; the
 *   files droverd-priv writes there (vm.json, state.json, vmm.log)
 *   root:GID 0640 (priv_config.api_gid); drover-vmm --access-group GID
 *   makes its console and control sockets root:GID 0660 and its exit
 *   file 0640: droverd-api reads and connects, and writes nothing there;
 * - the local API socket is bound by droverd-api while still root: mode
 *   0600 root in the root-owned run dir, so root stays its only client;
 * - the TLS certificate, key and client CA are read while still root,
 *   into memfds (dpriv_memfd()): the key file stays 0600 root.
 * Nothing else: no /dev/kvm (droverd never opens it; drover-vmm does),
 * no tap fd, no netlink socket (all closed in the child right after the
 * fork), no capability.
 */
#include "droverd_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentconf.h"
#include "log.h"
#include "loop.h"
#include "priv.h"
#include "runtime.h"

#define DPRIV_DEFAULT_USER	"drover"
#define DPRIV_FALLBACK_USER	"nobody"
#define DPRIV_STOP_WAIT_MS	60000	/* droverd-api's clean stop */

/* "UID:GID" or a user name (its primary group). */
static int
dpriv_user(const char *spec, struct dpriv *p)
{
	const char *name = spec ? spec : DPRIV_DEFAULT_USER;
	unsigned long u, g;
	struct passwd *pw;
	char *end;

	errno = 0;
	u = strtoul(name, &end, 10);
	if (end != name && *end == ':' && name[0] != '-') {
		g = strtoul(end + 1, &end, 10);
		if (errno || *end != '\0' || u == 0 || g == 0 ||
		    u >= 0xffffffffUL || g >= 0xffffffffUL) {
			log_error("\"user\": '%s' is not a UID:GID other than "
			    "root's", name);
			return -1;
		}
		p->uid = (uid_t)u;
		p->gid = (gid_t)g;
		snprintf(p->user, sizeof(p->user), "%s", name);
		return 0;
	}
	if ((pw = getpwnam(name)) == NULL && spec == NULL) {
		log_warnx("droverd-api: no user \"%s\" on this host (the node "
		    "image creates it): running as \"%s\" (set \"user\" in the "
		    "agent config)", name, DPRIV_FALLBACK_USER);
		name = DPRIV_FALLBACK_USER;
		pw = getpwnam(name);
	}
	if (pw == NULL) {
		log_error("\"user\": no user \"%s\" on this host", name);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_error("\"user\": \"%s\" is root or in group 0: droverd-api "
		    "must not be", name);
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", name);
	return 0;
}

/* droverd-api: the parent's (volatile: the stores must stay, LSan reads them). */
static void *volatile dpriv_inherited[2];
static uid_t dpriv_chown_uid;
static gid_t dpriv_chown_gid;

static int
dpriv_chown_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (lchown(path, dpriv_chown_uid, dpriv_chown_gid) < 0) {
		log_warn("droverd-api's state: chown %s", path);
		return -1;
	}
	return 0;
}

static int
dpriv_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

/* The state dir's grants (the header comment lists them). */
static int
dpriv_grant_state(const char *state_dir, const struct dpriv *p)
{
	static const char *const own[] = { "objects", "images" };
	char path[4096];

	if (dpriv_mkdir(state_dir, 0700) < 0)
		return -1;
	if (chown(state_dir, 0, p->gid) < 0 || chmod(state_dir, 0710) < 0) {
		log_warn("%s: for droverd-api's group %u", state_dir,
		    (unsigned)p->gid);
		return -1;
	}
	dpriv_chown_uid = p->uid;
	dpriv_chown_gid = p->gid;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
		    own[i]) >= sizeof(path) || dpriv_mkdir(path, 0700) < 0)
			return -1;
		if (nftw(path, dpriv_chown_one, 16, FTW_PHYS) != 0)
			return -1;
	}
	return 0;
}

/* ---- droverd-priv --------------------------------------------------------- */

struct dpriv_parent {
	struct loop *l;
	pid_t child;
	int ended;		/* the connection ended (not our SIGTERM) */
};

static void
dpriv_on_end(void *arg, const char *why)
{
	struct dpriv_parent *pp = arg;

	log_info("droverd-priv: %s", why);
	pp->ended = 1;
	loop_stop(pp->l);
}

/* Wait for droverd-api; SIGKILL after DPRIV_STOP_WAIT_MS. Its status. */
static int
dpriv_wait_child(pid_t child)
{
	uint64_t until = loop_now_ms() + DPRIV_STOP_WAIT_MS;
	int ws = 0, killed = 0;
	pid_t r;

	for (;;) {
		r = waitpid(child, &ws, WNOHANG);
		if (r == child || (r < 0 && errno != EINTR))
			break;
		if (!killed && loop_now_ms() > until) {
			log_warnx("droverd-api (pid %d) did not stop: SIGKILL",
			    (int)child);
			kill(child, SIGKILL);
			killed = 1;
		}
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	if (r != child)
		return -1;
	if (WIFEXITED(ws))
		log_info("droverd-priv: droverd-api (pid %d) exited with "
		    "status %d", (int)child, WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		log_warnx("droverd-priv: droverd-api (pid %d) was killed by "
		    "signal %d", (int)child, WTERMSIG(ws));
	return ws;
}

static void
dpriv_unlink_socket(const char *path)
{
	struct stat st;

	if (path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

/*
 * <run-dir>/droverd-api.pid: droverd-api's pid, for the next droverd.
 * After a kill -9 of droverd-priv, droverd-api dies too (PDEATHSIG), but
 * not at once: a droverd started right then waits for it (it still holds
 * the store's lock and the local socket) instead of failing.
 */
static void
dpriv_pidfile(const struct agentconf *c, char *out, size_t len)
{
	snprintf(out, len, "%s/droverd-api.pid", c->run_dir);
}

static void
dpriv_write_pid(const char *path, pid_t pid)
{
	char dir[4096];
	FILE *f;

	/* Its dir (the run dir) as mkdir -p would (0755; priv_local's
	 * grant narrows it). */
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(dir, 0755);
			*s = '/';
		}
	f = fopen(path, "we");

	if (f == NULL) {
		log_warn("%s", path);
		return;
	}
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

/* /proc/PID/status's PPid, or -1. */
static pid_t
dpriv_ppid(pid_t pid)
{
	char path[64], line[128];
	pid_t pp = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &pp) == 1)
			break;
	fclose(f);
	return pp;
}

/* An orphaned droverd-api of an earlier droverd: wait up to 10 s for it
 * to end (one with a live droverd-priv is a running droverd: the socket
 * check refuses to start a second). */
static void
dpriv_wait_old(const struct agentconf *c)
{
	char path[4096];
	int pid = 0, i;
	uint64_t st;
	FILE *f;

	dpriv_pidfile(c, path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 1 || !priv_proc_comm_is(pid, "droverd-api"))
		return;
	/* (A zombie has ended: priv_proc_starttime() says -ESRCH.) */
	for (i = 0; i < 500 && priv_proc_comm_is(pid, "droverd-api") &&
	    priv_proc_starttime(pid, &st) == 0; i++) {
		pid_t pp = dpriv_ppid(pid);

		if (pp > 1 && priv_proc_comm_is(pp, "droverd-priv"))
			return;
		if (i == 0)
			log_info("droverd-api pid %d of an earlier droverd is "
			    "still ending: waiting for it", pid);
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
}

/* Serve droverd-api until it ends; never returns. */
static void
dpriv_parent(const struct agentconf *c, struct loop *l, struct priv *local,
    int fd, pid_t child)
{
	struct dpriv_parent pp = { .l = l, .child = child };
	const char *run = "", *eph = "";
	struct priv_server *srv;
	char pidfile[4096];
	int ws, code, asked = 0;

	prctl(PR_SET_NAME, "droverd-priv", 0, 0, 0);
	dpriv_pidfile(c, pidfile, sizeof(pidfile));
	dpriv_write_pid(pidfile, child);
	if (local)
		priv_local_paths(local, &run, &eph);
	srv = priv_server_new(l, local, run, eph, fd, dpriv_on_end, &pp);
	if (srv == NULL) {
		log_error("droverd-priv: out of memory");
		kill(child, SIGTERM);
		close(fd);
	} else {
		log_info("droverd-priv: pid %d (root) serves droverd-api, pid "
		    "%d", (int)getpid(), (int)child);
		loop_run(l);
	}
	if (srv && !pp.ended) {
		/* SIGTERM/SIGINT to us: stop droverd-api too, serving it
		 * until it has closed its end (a request of its may be in
		 * flight); a second signal stops waiting. */
		asked = 1;
		kill(child, SIGTERM);
		loop_run(l);
	}
	priv_server_free(srv);
	ws = dpriv_wait_child(child);
	code = asked && ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ?
	    0 : 1;
	unlink(pidfile);
	dpriv_unlink_socket(c->socket);
	if (local)
		priv_local_free(local);
	loop_free(l);
	log_info("droverd-priv stopping (%s)", code ? "droverd-api ended" :
	    "clean stop");
	exit(code);
}

/* ---- the fork ------------------------------------------------------------- */

/* In the child right after the fork: only fd, stdio and the log. */
static int
dpriv_child(const struct agentconf *c, int fd, pid_t parent)
{
	int rc;

	log_set_file(NULL);		/* its fd goes with the rest */
	priv_close_fds(fd);
	if (c->log_file && (rc = log_set_file(c->log_file)) < 0)
		log_error("--log-file %s: %s", c->log_file, strerror(-rc));
	prctl(PR_SET_NAME, "droverd-api", 0, 0, 0);
	/* droverd-priv ends cleanly only after stopping us: its death
	 * otherwise is a kill -9 or a crash of droverd, and we end with it
	 * (at once: a droverd started next must find the socket and the
	 * store free). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    getppid() != parent) {
		log_error("droverd-api: droverd-priv is gone");
		return -1;
	}
	return 0;
}

int
dpriv_split(const struct agentconf *c, const struct rt_config *rtc,
    struct dpriv *p)
{
	struct priv *local = NULL;
	struct loop *l;
	char err[1024] = "";
	int sv[2];
	pid_t parent = getpid(), child;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	dpriv_wait_old(c);
	if (dpriv_user(c->user, p) < 0 ||
	    dpriv_grant_state(c->state_dir, p) < 0)
		return -1;
	if ((l = loop_new()) == NULL) {
		log_error("out of memory");
		return -1;
	}
	if (rtc && (local = rt_priv_new(l, rtc, (int)p->gid, err,
	    sizeof(err))) == NULL) {
		log_error("cannot start the VMI runtime: %s", err);
		loop_free(l);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		goto fail;
	}
	fflush(NULL);
	if ((child = fork()) < 0) {
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (child == 0) {
		close(sv[0]);
		p->fd = sv[1];
		/* The parent's loop and priv_local are not ours: their fds
		 * go (dpriv_child), their memory is left alone (freeing
		 * them would act: the pod network's pool drops its entries,
		 * netns and addresses the parent still owns); kept
		 * reachable, not a leak. */
		dpriv_inherited[0] = local;
		dpriv_inherited[1] = l;
		return dpriv_child(c, sv[1], parent);
	}
	close(sv[1]);
	dpriv_parent(c, l, local, sv[0], child);
	/* not reached */
fail:
	if (local)
		priv_local_free(local);
	loop_free(l);
	return -1;
}

/* ---- droverd-api's drop ------------------------------------------------- */

/* /proc/self/status "KEY:\t<hex or number>" as a number, or -1. */
static long long
dpriv_status(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtoll(line + kl + 1, NULL,
			    strncmp(key, "Cap", 3) == 0 ? 16 : 10);
			break;
		}
	fclose(f);
	return v;
}

/* Empty the bounding set too (nothing to regain through an exec). */
static void
dpriv_drop_bounding(void)
{
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
}

int
dpriv_drop(const struct dpriv *p)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	dpriv_drop_bounding();
	if (setgroups(0, NULL) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0) {
		log_warn("droverd-api: dropping to %s (%u:%u)", p->user,
		    (unsigned)p->uid, (unsigned)p->gid);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_warn("droverd-api: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	/* Checked, not assumed. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid ||
	    eg != p->gid || sg != p->gid || setuid(0) == 0 ||
	    getgroups(0, NULL) != 0 || dpriv_status("CapEff") != 0 ||
	    dpriv_status("CapPrm") != 0 || dpriv_status("NoNewPrivs") != 1) {
		log_error("droverd-api: privileges still held after the drop "
		    "to %s", p->user);
		return -1;
	}
	log_info("droverd-api: pid %d runs as %s (uid %u, gid %u), no "
	    "capabilities", (int)getpid(), p->user, (unsigned)p->uid,
	    (unsigned)p->gid);
	return 0;
}

int
dpriv_memfd(const char *path, char *out, size_t outlen)
{
	char buf[65536];
	int in, fd;
	ssize_t n;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_warn("mTLS API: %s", path);
		return -1;
	}
	fd = (int)syscall(SYS_memfd_create, "drover-tls", MFD_CLOEXEC);
	if (fd < 0) {
		log_warn("memfd_create");
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (n < 0) {
		log_warn("mTLS API: copying %s", path);
		close(fd);
		return -1;
	}
	/* fd stays open for the process' life: lws reads it at start. */
	snprintf(out, outlen, "/proc/self/fd/%d", fd);
	return 0;
}
