/*
 * priv.h: the VMI runtime's privileged operations, behind one const ops
 * table.
 *
 * Everything the runtime does that needs root goes through here: the
 * VMI's run dir under <run_dir>/vmi/ (vm.json, sockets, state, log), its
 * disk dir, the run dir's twin under <ephemeral_dir>/ on the node's disk
 * (qcow2 overlays, the cloud-init seed, empty disks: KubeVirt keeps them
 * in the pod's ephemeral storage; in /run, a tmpfs, guest writes would
 * take RAM charged to the VMI's memory cgroup), the cgroup, spawning
 * drover-vmm in its own session and cgroup, signalling it, and the
 * clean-up. The rest of the runtime (store, scheduling, phases, polling
 * the control socket, which is a plain unix socket) needs none.
 *
 * priv_local_ops does the work in the process that holds root:
 * droverd-priv, the parent (or droverd itself when it runs as one
 * process: not root, tests). droverd-api's table (priv_remote.c) sends
 * each call over a socketpair as a fixed, length-checked message
 * (priv_msg.h), which droverd-priv decodes, checks and hands to
 * priv_local_ops (priv_server.c). That is why every
 * argument is plain data: names, numbers, and paths that must lie under
 * <run_dir>/vmi/ or <ephemeral_dir>/ (checked by the implementation,
 * which refuses "..", anything outside, and symlinks: priv_path_ok()).
 * The disk dir of run dir <run_dir>/vmi/<rel> is <ephemeral_dir>/<rel>
 * (priv_disk_dir()). No fds, no pointers
 * into the caller's objects cross this interface, except the cidata
 * strings, which are copied into the message.
 *
 * The pod network (issue 7, net/podnet.h) is the VMI's too: net_setup
 * makes it for a prepared run dir (the netns is named after the run dir:
 * <ns>.<name>, or _.<hash>), the privileged side keeps the tap fd and
 * gives it to that VMI's drover-vmm only, as fd PRIV_NET_FD (the VMM
 * never opens a tap nor gets CAP_NET_ADMIN), and serves the guest's DHCP
 * on the loop (net/dhcp_srv.h); vmi_cleanup removes it with the rest.
 *
 * Every op returns 0 or -errno with a message in err (err may be NULL).
 * None blocks for long: vmi_cleanup may wait up to 2 s for a cgroup to
 * empty (cg_destroy).
 */
#ifndef DROVER_PRIV_H
#define DROVER_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cidata.h"

struct json_t;

struct priv;
struct loop;

/*
 * The fds drover-vmm is started with (and nothing else above 2): its tap
 * (vm.json "net": [{"fd": 3}]); the backing files droverd-priv opened in
 * the image store, one per disk that has one, in vm.json's order (the
 * VMM's config, <dir>/vmm.json, names them "backing": "/proc/self/fd/4",
 * ...: priv_vmjson.c).
 */
#define PRIV_NET_FD		3
#define PRIV_BACKING_FD		4
#define PRIV_BACKING_MAX	16
#define PRIV_VMM_CONFIG		"vmm.json"
#define PRIV_NET_MAX_PORTS	32

/* What vmm_spawn starts: drover-vmm --config <dir>/vm.json. */
struct priv_spawn {
	const char *dir;	/* the VMI's run dir */
	const char *cgroup;	/* its cgroup's name, or NULL: none */
	int net;		/* 1: its tap as fd PRIV_NET_FD (net_setup
				 * was done for dir) */
};

/* One VMI's pod network: plain data. */
struct priv_net_port {
	int proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
};
struct priv_net_req {
	char hostname[64];	/* the guest's DHCP host name (option 12) */
	struct priv_net_port ports[PRIV_NET_MAX_PORTS];
	unsigned nports;	/* 0: everything is DNATed to the guest */
};
struct priv_net_info {
	char ip[16];		/* the pod IP, dotted quad */
	unsigned char mac[6];	/* the pod netns's eth0 */
	int mtu;		/* eth0's, handed to the guest by DHCP */
};

/* The cgroup limits (as cgroup.h's struct cg_limits). */
struct priv_limits {
	int64_t cpu_request_milli, cpu_limit_milli;
	int64_t memory_max, pids_max;	/* 0: none */
};

struct priv_ops {
	/* Create the VMI's run dir and its disk dir (mode 0700, parents as
	 * needed); existing ones are reused. dir: the run dir. */
	int (*vmi_prepare)(struct priv *p, const char *dir, char *err,
	    size_t errlen);
	/* Write <dir>/<name> (temp file, fsync, rename), mode 0600. */
	int (*file_write)(struct priv *p, const char *dir, const char *name,
	    const char *data, size_t len, char *err, size_t errlen);
	/* The disk ops: dir is the VMI's disk dir (priv_disk_dir()).
	 * <dir>/<name>: a qcow2 overlay on backing (format backing_fmt,
	 * "raw" or "qcow2"), of size bytes (0: the backing file's). */
	int (*disk_overlay)(struct priv *p, const char *dir, const char *name,
	    const char *backing, const char *backing_fmt, uint64_t size,
	    char *err, size_t errlen);
	/* <dir>/<name>: a sparse raw file of size bytes (emptyDisk). */
	int (*disk_empty)(struct priv *p, const char *dir, const char *name,
	    uint64_t size, char *err, size_t errlen);
	/* <dir>/<name>: the NoCloud seed ISO (cidata.h). */
	int (*disk_cidata)(struct priv *p, const char *dir, const char *name,
	    const struct cidata *ci, char *err, size_t errlen);
	/* The VMI's cgroup <parent>/<name> with these limits. 0 also when
	 * there are no cgroups (cgroup_root not configured) or a controller
	 * is missing (logged). */
	int (*cgroup_create)(struct priv *p, const char *name,
	    const struct priv_limits *lim, char *err, size_t errlen);
	/* Start drover-vmm: own session (setsid), stdin /dev/null, stdout
	 * and stderr to <dir>/vmm.log, in the cgroup. *pid and *starttime
	 * (field 22 of /proc/PID/stat) identify it from now on. */
	int (*vmm_spawn)(struct priv *p, const struct priv_spawn *sp,
	    pid_t *pid, uint64_t *starttime, char *err, size_t errlen);
	/* Send sig to the VMM pid, only if its start time still matches
	 * (-ESRCH otherwise: it is gone, or the pid was reused). */
	int (*vmm_signal)(struct priv *p, pid_t pid, uint64_t starttime,
	    int sig);
	/* Reap an exited VMM spawned by this process: 0 and its wait(2)
	 * status; -ECHILD when it was not our child (adopted: its status is
	 * in its exit file); -EAGAIN when it has not exited. */
	int (*vmm_reap)(struct priv *p, pid_t pid, int *wstatus);
	/* Remove the run dir (dir) and everything in it, its disk dir,
	 * and the cgroup (killing what is left in it). Idempotent: absent
	 * is fine. */
	int (*vmi_cleanup)(struct priv *p, const char *dir, const char *cgroup,
	    char *err, size_t errlen);
	/* Remove every VMI cgroup under the parent whose name is not one of
	 * keep[0..nkeep) (left by a droverd that died half way). */
	int (*cgroup_prune)(struct priv *p, const char *const *keep,
	    size_t nkeep, char *err, size_t errlen);
	/* The pod network of the prepared run dir dir: netns, veth, bridge
	 * k6t-eth0, tap0 (kept for vmm_spawn), KubeVirt's nat rules, the
	 * pod IP, the DHCP server. All or nothing. -EOPNOTSUPP: the pod
	 * network is not enabled (priv_config.net) or not built in. */
	int (*net_setup)(struct priv *p, const char *dir,
	    const struct priv_net_req *req, struct priv_net_info *out,
	    char *err, size_t errlen);
	/* After a droverd restart: the network of a VMI whose VMM was
	 * adopted (its IP, MAC; the DHCP server again). -ENOENT: none. */
	int (*net_adopt)(struct priv *p, const char *dir,
	    const struct priv_net_req *req, struct priv_net_info *out,
	    char *err, size_t errlen);
	/* Remove every pod network (netns, veth, address) whose run dir is
	 * not one of keep[0..nkeep). */
	int (*net_prune)(struct priv *p, const char *const *keep,
	    size_t nkeep, char *err, size_t errlen);
};

/* A privileged side: its ops table first (implementations extend it). */
struct priv {
	const struct priv_ops *ops;
};

struct priv_config {
	const char *run_dir;		/* every run dir must lie under
					 * <run_dir>/vmi/ */
	const char *ephemeral_dir;	/* every disk dir under it (absolute,
					 * neither in <run_dir>/vmi nor
					 * holding it); created */
	const char *vmm_path;		/* the drover-vmm binary */
	const char *cgroup_root;	/* NULL: no cgroups */
	const char *cgroup_parent;	/* NULL: "drover" */
	struct loop *loop;		/* the DHCP servers' loop */
	const struct priv_net_config *net;	/* NULL: no pod network */
	int api_gid;			/* > 0: droverd-api's group: the run
					 * dirs (<run_dir>, <run_dir>/vmi and
					 * each VMI's) are root:api_gid 0750,
					 * the files written in them and
					 * vmm.log root:api_gid 0640, so that
					 * it reads them and (drover-vmm
					 * --access-group) connects to the
					 * VMMs' sockets; 0: root only */
	const char *images_dir;		/* the image store: every backing
					 * file lies in it (NULL: none) */
	const struct json_t *preloaded;	/* the agent config's "images" ->
					 * "preloaded" ({REF: FILE}): those
					 * files may be backing files too
					 * (the operator's; NULL: none) */
	const char *vmm_user;		/* vm.json's only "user" (NULL:
					 * none may be given) */
	int access_gid;			/* > 0: an "access-group" allowed
					 * besides api_gid */
};

/* The node side of the pod network (net/podnet.h). */
struct priv_net_config {
	const char *bridge;		/* NULL: "drover0" */
	const char *cidr;		/* NULL: "10.244.0.0/24" */
	const char *netns_dir;		/* the pod netns files */
	const char *ipam_path;		/* the durable IPAM file */
	const char *resolv_conf;	/* NULL: /etc/resolv.conf */
	int pool;			/* warm pod netns (net/podnet.h) */
};


/* The in-process implementation. NULL with a message in err. */
struct priv *priv_local_new(const struct priv_config *cfg, char *err,
    size_t errlen);
void priv_local_free(struct priv *p);
/* Its run dir and disk dirs' root (as checked at priv_local_new()). */
void priv_local_paths(struct priv *p, const char **run_dir,
    const char **ephemeral_dir);

/*
 * droverd-api's implementation (priv_remote.c): every op is a request to
 * droverd-priv over fd (a SOCK_STREAM socketpair end, owned from now on).
 * on_dead(arg) runs once when the connection breaks (droverd-priv gone);
 * every op then fails with -EPIPE.
 */
struct priv *priv_remote_new(int fd, void (*on_dead)(void *), void *arg);
void priv_remote_free(struct priv *p);

/*
 * droverd-priv's end (priv_server.c): serve the requests arriving on fd
 * (owned from now on) on loop l with local (priv_local_new(); NULL: no
 * runtime, every request refused), checking paths against run_dir and
 * ephemeral_dir. on_end(arg, why) runs once when the connection ends:
 * droverd-api closed it, or it broke the protocol and was dropped.
 */
struct priv_server;
struct privmsg_rep;
struct priv_server *priv_server_new(struct loop *l, struct priv *local,
    const char *run_dir, const char *ephemeral_dir, int fd,
    void (*on_end)(void *arg, const char *why), void *arg);
void priv_server_free(struct priv_server *s);
/*
 * One whole message msg[0..len): 0 with the reply in *rep (rep->rc the
 * op's result, or -EINVAL when privmsg_check() refused it), or -EPROTO
 * (why says what): a protocol violation, nothing done. The unit test and
 * fuzz_privmsg drive it directly.
 */
int priv_server_handle(struct priv_server *s, const uint8_t *msg, size_t len,
    struct privmsg_rep *rep, char *why, size_t whylen);

/*
 * Is path a directory (or file in one) strictly under <run_dir>/vmi/ or
 * under <ephemeral_dir>/ (may be NULL: not accepted), without "." or
 * ".." components, doubled slashes or a trailing slash? 0 no,
 * PRIV_PATH_RUN or PRIV_PATH_DISK: which root. name (may be NULL) must be
 * one plain component.
 */
#define PRIV_PATH_RUN	1
#define PRIV_PATH_DISK	2
int priv_path_ok(const char *run_dir, const char *ephemeral_dir,
    const char *path, const char *name);

/*
 * The disk dir of the run dir dir = <run_dir>/vmi/<rel>: <ephemeral_dir>/
 * <rel>. 0, -EINVAL (dir not a run dir) or -ENAMETOOLONG.
 */
int priv_disk_dir(const char *run_dir, const char *ephemeral_dir,
    const char *dir, char *out, size_t len);

/* Start time (clock ticks since boot, /proc/PID/stat field 22) of pid:
 * 0 and *out, or -errno (-ESRCH: no such process). */
int priv_proc_starttime(pid_t pid, uint64_t *out);
/* Is pid's command name (/proc/PID/comm) want? 0 also when it is gone. */
int priv_proc_comm_is(pid_t pid, const char *want);

/* In a forked child: close every fd above 2 except keep (-1: none). */
void priv_close_fds(int keep);

#endif
