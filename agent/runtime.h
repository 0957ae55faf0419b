/*
 * runtime.h: the VMI runtime, the node half of KubeVirt (virt-handler and
 * virt-launcher in one module of droverd).
 *
 * It watches VirtualMachineInstance objects in the store and, for each:
 * - adds the finalizer RT_FINALIZER on first sight (deletion waits for
 *   the clean-up);
 * - schedules it against the node's allocatable CPU and memory (capacity:
 *   online CPUs x 1000 milli and MemTotal, minus the configured reserve);
 *   a VMI that does not fit stays Pending with PodScheduled=False, reason
 *   Unschedulable, and starts when room appears;
 * - resolves its containerDisk images (images.h), pulling a missing one
 *   in a child process (Pending meanwhile: "Pulling image", then
 *   ImagePullBackOff with the registry's error);
 * - gives it KubeVirt's pod network when enabled (rt_config.network):
 *   its own network namespace, a pod IP from the node's CIDR (shown in
 *   status.interfaces[0].ipAddress and the Pod's podIP), the masquerade
 *   binding's rules, a tap for its drover-vmm, DHCP for the guest;
 * - prepares its run dir <run_dir>/vmi/<ns>/<name>/ (vm.json, console
 *   and control sockets, log, state file) and its disk dir
 *   <ephemeral_dir>/<ns>/<name>/ on the node's disk (the qcow2 overlay,
 *   the cloud-init seed, empty disks; rt_launch.c lists them), and spawns one drover-vmm in its own session (it outlives
 *   droverd) through the privileged operations (priv.h);
 * - follows it: control socket "status" polled every poll_ms; Running,
 *   Unknown while the control socket does not answer, Succeeded (guest
 *   powered off, exit 0), Failed (crash, VMM error, killed); a guest
 *   reboot request (exit 3) restarts the VMM in place; Ready once the
 *   guest reported its boot (boot-timer mark, or "login:" on the
 *   console) or, with a readinessProbe, as the probe says (probe.h);
 * - keeps status (phase, nodeName, conditions Ready and PodScheduled,
 *   phaseTransitionTimestamps, qosClass) and one read-only Pod
 *   view (virt-launcher-<vmi>-<5 chars>) in the store, and the Node
 *   object;
 * - on deletion: graceful stop (control "stop", the grace period, then
 *   "kill", then SIGKILL), clean-up of everything, finalizer removed.
 *
 * After a droverd restart rt_new() re-adopts the VMMs still running
 * (state file in each run dir, verified against /proc, watched with a
 * pidfd); their exit status comes from the VMM's exit file (vm.json
 * "exit-file").
 *
 * Single-threaded: everything runs from the loop (loop.h).
 */
#ifndef DROVER_RUNTIME_H
#define DROVER_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

struct loop;
struct store;
struct images;
struct rt;

#define RT_FINALIZER		"drover.dev/vmi-runtime"
#define RT_DEFAULT_RUN_DIR	"/run/drover"
#define RT_DEFAULT_GRACE	30	/* s, terminationGracePeriodSeconds */

/*
 * The runtime's configuration (droverd fills it from its own). Strings
 * are copied by rt_new(); NULL or 0 means the default given.
 */
struct rt_config {
	const char *run_dir;		/* NULL: /run/drover */
	const char *state_dir;		/* droverd's state dir (may be NULL) */
	const char *ephemeral_dir;	/* the VMIs' disk files (KubeVirt's
					 * ephemeral storage: not on tmpfs);
					 * NULL: <state_dir>/ephemeral, or
					 * <run_dir>/ephemeral without a
					 * state dir */
	const char *images_dir;		/* the image store: every
					 * containerDisk's backing file lies
					 * in it (droverd-priv opens them
					 * there); NULL: <state_dir>/images */
	const struct json_t *images;	/* the agent config's "images": its
					 * "preloaded" disk files are backing
					 * files too (NULL: none) */
	const char *vmm_path;		/* NULL: "drover-vmm" next to droverd,
					 * else from PATH */
	const char *node_name;		/* NULL: the host name */
	int64_t reserve_cpu_milli;	/* kept back from the VMIs */
	int64_t reserve_memory;		/* bytes */
	const char *cgroup_root;	/* NULL: no cgroups (tests) */
	const char *cgroup_parent;	/* NULL: "drover" */
	const char *vmm_user;		/* "UID:GID" the VMMs drop to; NULL:
					 * they keep droverd's user */
	/* KubeVirt's pod network (masquerade binding, docs/net.md); off:
	 * the VMIs run without a NIC. */
	int network;
	const char *net_bridge;		/* NULL: "drover0" */
	const char *net_cidr;		/* NULL: "10.244.0.0/24" */
	const char *net_resolv;		/* NULL: /etc/resolv.conf */
	int net_pool;			/* warm pod netns (net/podnet.h) */
	int default_grace;		/* s when the VMI has no
					 * terminationGracePeriodSeconds;
					 * 0: RT_DEFAULT_GRACE */
	/* Tests and special set-ups; 0: the default. */
	unsigned poll_ms;		/* status polls (default 1000) */
	int64_t capacity_cpu_milli;	/* default: online CPUs x 1000 */
	int64_t capacity_memory;	/* default: MemTotal */
	int64_t vmm_overhead;		/* bytes a VMM needs beyond guest
					 * RAM, added to its memory request
					 * and limit (default:
					 * cg_vmm_overhead(), cgroup.h) */
	/* Privilege separation (docs/ARCHITECTURE.md): the privileged
	 * side to use (droverd-api: priv_remote_new(); the runtime does not
	 * free it); NULL: the runtime makes its own in-process one
	 * (priv_local, tests and single-process mode). */
	struct priv *priv;
	int access_gid;			/* > 0: vm.json "access-group" (the
					 * VMMs' sockets and exit file for
					 * this group: droverd-api's); 0:
					 * none */
};

struct priv;
/*
 * The in-process privileged side (priv_local) for cfg, as rt_new makes
 * it: same run, disk and pod network paths. droverd-priv makes it before
 * forking droverd-api, whose rt_new gets the remote end (cfg->priv).
 * access_gid > 0: the run dirs and the files in them are for that group
 * (priv_config.api_gid). l: the DHCP servers' loop.
 */
struct priv *rt_priv_new(struct loop *l, const struct rt_config *cfg,
    int access_gid, char *err, size_t errlen);

/*
 * Start the runtime: read the node's capacity, write the Node object,
 * re-adopt the VMMs of an earlier droverd (or mark their VMIs Failed when
 * they are gone), watch the store. im may be NULL (tests only: a
 * containerDisk image reference must then be an absolute path to a qcow2
 * or raw file, format from its first bytes). NULL with a message in err.
 */
struct rt *rt_new(struct loop *l, struct store *s, struct images *im,
    const struct rt_config *cfg, char *err, size_t errlen);

/*
 * Stop watching and free. Running VMMs are left running (a restarted
 * droverd adopts them); nothing in the store changes.
 */
void rt_free(struct rt *rt);

/*
 * The console socket of a VMI (for the console bridge): 0 with the path,
 * -ENOENT (no such VMI on this node), -EAGAIN (not running yet: KubeVirt
 * answers 400), -ESHUTDOWN (Succeeded or Failed: 409).
 */
int rt_console_path(struct rt *rt, const char *ns, const char *name,
    char *out, size_t outlen);

/*
 * The name of a VMI's cgroup under cgroup_parent (cgroup.h: cg_stats()
 * for `kubectl top pod` and the HPA): 0, or -ENOENT (no such VMI here).
 * The Pod view carries it too, as annotation RT_CGROUP_ANNOTATION.
 */
#define RT_CGROUP_ANNOTATION	"drover.dev/cgroup"
int rt_cgroup_of(struct rt *rt, const char *ns, const char *name,
    char *out, size_t outlen);

#endif
