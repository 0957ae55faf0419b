/*
 * rt_int.h: the VMI runtime's internals, shared by runtime.c (watch,
 * phase machine, control socket), rt_spec.c (pure functions: resources,
 * scheduling arithmetic, exit mapping, names, vm.json), rt_launch.c (run
 * dir, disks, spawn), rt_pod.c (status, Pod and Node objects) and
 * rt_adopt.c (re-adoption after a droverd restart).
 */
#ifndef DROVER_RT_INT_H
#define DROVER_RT_INT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "priv.h"
#include "runtime.h"

struct priv;
struct probe;
struct rt_pull;

#define RT_DIR_MAX	160	/* a run dir; sockets must stay < 108 */
#define RT_SOCK_MAX	108	/* sun_path */
#define RT_MAX_DISKS	8	/* VMM_MAX_DISKS */
#define RT_NAME_MAX	254
#define RT_POD_MAX	80

/* Where a VMI is in its life, as the runtime sees it. */
enum rt_stage {
	RT_NEW,		/* seen, not looked at yet */
	RT_PENDING,	/* waiting for room or for its image */
	RT_ACTIVE,	/* a VMM exists (Scheduled, Running, Unknown) */
	RT_DONE,	/* Succeeded or Failed; cleaned up */
	RT_GONE,	/* finalizer removed: the record is freed */
};

/* What a VMI asks of the node (scheduling) and of its cgroup. */
struct rt_res {
	int64_t cpu_milli;		/* scheduling request */
	int64_t memory;			/* scheduling request, bytes */
	int64_t cpu_limit_milli;	/* 0: none */
	int64_t memory_limit;		/* bytes, overhead added; 0: none */
	int64_t cgroup_memory;		/* the cgroup's memory limit: that,
					 * else guest RAM + overhead */
	int64_t guest_memory;		/* bytes */
	int64_t overhead;		/* bytes */
	unsigned vcpus;
};

/* The node: capacity and allocatable. */
struct rt_node {
	int64_t cap_cpu_milli, cap_memory;
	int64_t alloc_cpu_milli, alloc_memory;
	int64_t pods;
};

enum rt_disk_kind {
	RT_DISK_CONTAINER,	/* qcow2 overlay on the image's disk */
	RT_DISK_CIDATA,		/* NoCloud seed ISO, read-only */
	RT_DISK_EMPTY,		/* sparse raw file */
};

/* One disk of the VM, in spec.domain.devices.disks order. */
struct rt_disk {
	enum rt_disk_kind kind;
	char volume[RT_NAME_MAX];
	char file[32];			/* its file in the run dir */
	char backing[PATH_MAX];		/* containerDisk: the image's disk */
	char backing_fmt[8];
	uint64_t size;			/* emptyDisk capacity; else 0 */
	int ro;
	char serial[21];
	int64_t boot_order;		/* disks[].bootOrder; 0: none */
	const json_t *volume_obj;	/* borrowed from the VMI */
};

/* The VMI's pod network interface (masquerade binding). */
struct rt_net {
	char iface[64];			/* interfaces[].name ("default") */
	char mac[18];			/* the guest's: macAddress, or made
					 * from the uid (52:54:00:...) */
	struct priv_net_req req;	/* host name, ports */
};

/* The control-socket request in flight. */
enum rt_ctl_req {
	RT_CTL_NONE,
	RT_CTL_STATUS,
	RT_CTL_STOP,
	RT_CTL_KILL,
};

struct rt_vmi {
	struct rt *rt;
	struct rt_vmi *next;
	char ns[64], name[RT_NAME_MAX], uid[64];
	char created[32];		/* creationTimestamp (queue order) */
	char dir[RT_DIR_MAX];		/* run dir */
	char cgroup[RT_NAME_MAX];
	char pod[RT_POD_MAX];
	enum rt_stage stage;
	const char *phase;		/* the phase the runtime reports */
	int dirty;

	struct rt_res res;
	int reserved;			/* res counts against the node */
	int scheduled;			/* PodScheduled=True */
	char sched_msg[160];		/* Unschedulable message */

	/* The pod network (net: set up; its IP and the guest's MAC). */
	int net;
	char net_iface[64];
	char pod_ip[16];
	char mac[18];

	/* The VMM. */
	pid_t pid;
	uint64_t starttime;
	int pidfd;
	int adopted;			/* not our child: exit file */
	uint64_t started_ms;
	unsigned restarts;
	int restart_timer;

	/* Control socket. */
	int ctl_fd, ctl_timer, poll_timer;
	unsigned poll_backoff;		/* ms to the next poll until answered */
	unsigned poll_tries;		/* polls since the spawn */
	enum rt_ctl_req ctl_req;
	char ctl_buf[2048];
	size_t ctl_len;
	unsigned ctl_fails;
	int answered;			/* the VMM answered at least once */

	/* Readiness. */
	int booted;
	int con_fd;			/* console reader until booted */
	char console_tail[8];
	struct probe *readiness, *liveness;
	int probe_ready;

	/* Pending with an error (image missing): retry later. */
	int retry_timer;
	char wait_reason[32];
	char wait_msg[512];

	/* Deletion. */
	int deleting;
	int stop_stage;			/* 0 none, 1 stop, 2 kill, 3 SIGKILL */
	int stop_timer;
	int grace;			/* seconds */

	/* Why it ended (Failed/Succeeded). */
	char reason[48];
	char message[512];
};

struct rt {
	struct loop *l;
	struct store *s;
	struct images *im;
	struct priv *priv;
	int priv_owned;			/* priv_local made by rt_new */
	int access_gid;			/* rt_config.access_gid */
	char run_dir[64];
	char eph_dir[PATH_MAX];		/* the disk dirs' root */
	char images_dir[PATH_MAX];	/* the backing files' ("": none) */
	char vmm_path[PATH_MAX];
	char node_name[254];
	char vmm_user[32];
	int cgroups;			/* cgroup_root configured */
	int network;			/* the pod network is on */
	int default_grace;
	unsigned poll_ms;
	int64_t overhead_cfg;
	struct rt_node node;
	int watch_id;
	int sync_id;			/* loop_defer pending */
	int node_timer;
	struct rt_vmi *vmis;
	struct rt_pull *pulls;		/* image pulls (rt_pull.c) */
};

/* ---- rt_spec.c: pure functions (unit-tested) --------------------------- */

/* The VMI's requests and limits; overhead: bytes beyond guest RAM. */
int rt_vmi_res(const json_t *vmi, int64_t overhead_cfg, struct rt_res *out,
    char *err, size_t errlen);
/* Does r fit next to used (cpu milli, bytes)? 1, or 0 with the
 * scheduler's message ("0/1 nodes are available: 1 Insufficient memory."). */
int rt_fits(const struct rt_node *n, int64_t used_cpu, int64_t used_mem,
    const struct rt_res *r, char *msg, size_t msglen);
/* Allocatable from capacity and the reserve (never below zero). */
void rt_node_alloc(struct rt_node *n, int64_t reserve_cpu, int64_t reserve_mem);
/* The host's capacity: online CPUs x 1000, MemTotal. */
int rt_node_capacity(int64_t *cpu_milli, int64_t *memory);

/* What a VMM's end means. */
enum rt_outcome {
	RT_OUT_SUCCEEDED,
	RT_OUT_FAILED,
	RT_OUT_REBOOT,		/* restart the VMM in place */
};
/*
 * code: the exit status (0..255) or -1; sig: the signal that killed it,
 * or 0; -1/0 both: unknown (adopted VMM with an empty exit file: killed).
 * Sets *reason (a CamelCase word) and a message into msg.
 */
enum rt_outcome rt_exit_outcome(int code, int sig, const char **reason,
    char *msg, size_t msglen);

/* "virt-launcher-<vmi>-<5 chars>", the chars derived from uid. */
void rt_pod_name(const char *vmi, const char *uid, char *out, size_t len);
/* The VMI's run dir: <run_dir>/vmi/<ns>/<name>, or <run_dir>/vmi/_/<hash>
 * when a socket path in it would pass RT_SOCK_MAX. 0 or -ENAMETOOLONG. */
int rt_vmi_dir(const char *run_dir, const char *ns, const char *name,
    const char *uid, char *out, size_t len);
/* Its cgroup name: "<ns>.<name>", or "vmi-<hash>" when too long. */
void rt_cgroup_name(const char *ns, const char *name, const char *uid,
    char *out, size_t len);

/*
 * The disks of a VMI in spec order (drover-vmm boots from its first disk:
 * the disk with the lowest bootOrder, when any has one, is moved first),
 * without touching any file except
 * through resolve (containerDisk: the image's disk). 0 and *n, or -errno
 * with a message (-ENOENT: image missing, retry later).
 */
typedef int (*rt_resolve_fn)(void *arg, const char *image, const char *path,
    char *file, size_t filelen, char *fmt, size_t fmtlen, char *err,
    size_t errlen);
int rt_plan_disks(const json_t *vmi, rt_resolve_fn resolve, void *arg,
    struct rt_disk *d, unsigned max, unsigned *n, char *err, size_t errlen);

/*
 * The VMI's pod network interface: 1 and *out (the interface bound to a
 * "pod" network, its macAddress or one made from uid, its ports, the
 * DHCP host name: spec.hostname, else the VMI's name), 0 when it has
 * none (autoattachPodInterface: false), -EINVAL with a message.
 */
int rt_vmi_net(const json_t *vmi, const char *uid, struct rt_net *out,
    char *err, size_t errlen);

/* Inputs of vm.json beyond the disks. */
struct rt_vmjson {
	const char *dir;
	const struct rt_res *res;
	const struct rt_disk *disks;
	unsigned ndisks;
	const char *user;		/* "UID:GID" or NULL */
	int access_gid;			/* > 0: "access-group" */
	int stop_timeout;		/* seconds */
	const char *net_mac;		/* NULL: no NIC; else a virtio-net on
					 * the tap at fd PRIV_NET_FD */
};
/* vm.json for drover-vmm --config (a new object). */
json_t *rt_vmjson(const struct rt_vmjson *in);

/* Time as RFC 3339 UTC seconds ("2026-11-28T15:00:00Z"). */
void rt_now_rfc3339(char *out, size_t len);

/* ---- rt_launch.c ------------------------------------------------------- */
struct priv_config;
/* rt->eph_dir from cfg (run_dir set), and pc->ephemeral_dir. 0, or -errno
 * with a message. */
int rt_launch_setup(struct rt *rt, const struct rt_config *cfg,
    struct priv_config *pc, char *err, size_t errlen);
/* The VMI's disk dir (priv_disk_dir()). 0 or -errno. */
int rt_disk_dir(const struct rt_vmi *v, char *out, size_t len);
/* Prepare the run dir and disks, spawn the VMM. 0; -ENOENT (image not
 * there: stay Pending; missing names it when the image store is used);
 * other -errno: Failed. Message in err. */
int rt_launch(struct rt_vmi *v, const json_t *vmi, char *missing,
    size_t missing_len, char *err, size_t errlen);

/* ---- rt_pull.c --------------------------------------------------------- */
/*
 * Pull image ref into the image store in a child process (kubelet's
 * IfNotPresent). 1: a pull runs (started now or earlier); -EAGAIN: the
 * last pull failed and the back-off has not passed (msg says why); -EIO:
 * it was pulled, yet still does not resolve (msg).
 */
int rt_pull_image(struct rt *rt, const char *ref, char *msg, size_t msglen);
void rt_pull_free_all(struct rt *rt);
/* Spawn the VMM again in the same run dir (guest reboot). */
int rt_respawn(struct rt_vmi *v, char *err, size_t errlen);
/* The state file (pid, start time) for re-adoption. */
int rt_state_write(struct rt_vmi *v, char *err, size_t errlen);
/* Start watching the VMM's pidfd. */
int rt_watch_pid(struct rt_vmi *v);
/* The last line of the VMM's log (for messages). */
void rt_log_tail(const struct rt_vmi *v, char *out, size_t len);
/* Read the exit file: 0..255, or -1. */
int rt_exit_file(const struct rt_vmi *v);

/* ---- rt_pod.c ---------------------------------------------------------- */
/* Write the VMI's status (and its Pod) from v when they changed. */
int rt_status_sync(struct rt_vmi *v, const json_t *vmi);
/* Create or refresh the Node object. */
int rt_node_sync(struct rt *rt);
/* Remove the Pod view. */
void rt_pod_delete(struct rt_vmi *v);

/* The pod network of a launched or adopted VMI: v->pod_ip, v->mac. */
int rt_net_setup(struct rt_vmi *v, const json_t *vmi, int adopt, char *err,
    size_t errlen);

/* ---- rt_adopt.c -------------------------------------------------------- */
/* Find VMMs of an earlier droverd under the run dir and take them over. */
void rt_adopt_all(struct rt *rt);

/* ---- rt_ctl.c ---------------------------------------------------------- */
/* Send one control request (the answer handled on the loop). */
void rt_ctl_send(struct rt_vmi *v, enum rt_ctl_req req);
/* Drop the request in flight. */
void rt_ctl_abort(struct rt_vmi *v);
/* Stop reading the console. */
void rt_con_close(struct rt_vmi *v);
/* Poll "status" from now on (also after an adoption or a restart). */
void rt_start_polling(struct rt_vmi *v);

/* ---- runtime.c --------------------------------------------------------- */
void rt_timer_cancel(struct rt *rt, int *id);
/* The VMI as stored now (a new reference), or NULL. */
json_t *rt_get(struct rt_vmi *v);
/* Write the VMI's status (and Pod) from v, reading the VMI first. */
void rt_sync_status(struct rt_vmi *v);
struct rt_vmi *rt_vmi_get(struct rt *rt, const char *ns, const char *name,
    int create);
/* Names, run dir and grace period from the VMI object. */
void rt_vmi_init(struct rt_vmi *v, const json_t *vmi);
void rt_vmi_exited(struct rt_vmi *v, int code, int sig);
void rt_kick(struct rt *rt);		/* queue a sync of dirty VMIs */
/* Group the store writes of one reaction into one durable commit
 * (store_batch_begin/end; a failure is logged). */
void rt_batch_begin(struct rt *rt);
void rt_batch_end(struct rt *rt);

#endif
