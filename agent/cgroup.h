/*
 * cgroup.h: one cgroup per VMI, on cgroup v1 or v2 (privileged side).
 *
 * cg_open() looks at root ("/sys/fs/cgroup") once:
 * - v2 when root holds cgroup.controllers (a cgroup2 mount): one tree;
 *   the controllers Drover uses (cpu, memory, pids) are enabled in every
 *   cgroup.subtree_control from root down to <parent>;
 * - v1 otherwise: one hierarchy per controller, root/<controller>
 *   ("cpu", "cpuacct", "memory", "pids"; co-mounts such as "cpu,cpuacct"
 *   are found through the usual symlinks), each a directory holding
 *   cgroup.procs. Hierarchies shared by two controllers are used once.
 * A controller that is missing is logged once (log_warnx) at cg_open()
 * and is not an error: the limits it would carry are not applied, and
 * cg_create() says so (its return value and err). <parent> ("drover", or
 * "a/b") is created in every hierarchy at cg_open().
 *
 * Per VMI, <parent>/<name> in every hierarchy:
 *   cpu      v1 cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us
 *            v2 cpu.weight, cpu.max ("quota period" or "max 100000")
 *   memory   v1 memory.limit_in_bytes   v2 memory.max  (when memory_max)
 *   pids     pids.max
 * with kubelet's conversions (cg_cpu_shares() and friends below).
 *
 * Names (VMI cgroup names, parent components) are 1..255 characters of
 * [A-Za-z0-9._:-], not starting with '.': anything else is -EINVAL, so a
 * client-given name cannot leave <parent>.
 *
 * Errors: negative errno and a message in err (err may be NULL).
 * Nothing here blocks for long except cg_destroy(), which waits up to
 * CG_DESTROY_WAIT_MS for killed processes to leave.
 */
#ifndef DROVER_CGROUP_H
#define DROVER_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cg;

/* Controllers (bit masks of 1 << CG_*). */
enum cg_ctrl {
	CG_CPU = 0,	/* shares/weight, CFS quota */
	CG_CPUACCT,	/* v1 usage (v2: cpu.stat, always there) */
	CG_MEMORY,
	CG_PIDS,
	CG_NCTRL,
};

struct cg_limits {
	int64_t cpu_request_milli;	/* 0: none (shares 2, as kubelet) */
	int64_t cpu_limit_milli;	/* 0: no CFS quota */
	int64_t memory_max;		/* bytes; 0: no limit */
	int64_t pids_max;		/* 0: no limit */
};

#define CG_CPU_PERIOD_US	100000
#define CG_MIN_SHARES		2
#define CG_MAX_SHARES		262144
#define CG_MIN_QUOTA_US		1000
#define CG_DESTROY_WAIT_MS	2000

/* ---- kubelet's conversions (pure functions) ---------------------------- */
/* milliCPU*1024/1000 clamped to [2, 262144]; 0 or less gives 2. */
uint64_t cg_cpu_shares(int64_t request_milli);
/* cgroup v2 cpu.weight: 1 + ((shares-2)*9999)/262142 (1..10000). */
uint64_t cg_cpu_weight(uint64_t shares);
/*
 * CFS quota in µs for period 100000: milliCPU*100000/1000, at least 1000;
 * -1 (no quota) for 0 or less. Capped at the kernel's maximum quota
 * (2^44-1 µs) so a huge limit is still a valid write.
 */
int64_t cg_cpu_quota(int64_t limit_milli);
/*
 * Memory the VMM needs beyond guest RAM (bytes): the cgroup's memory
 * limit is guest_ram + cg_vmm_overhead(). cgroup.c documents the
 * measurement the formula rests on. Not included: what the VMM writes to
 * files on tmpfs (disk overlays, logs in a tmpfs run dir), which the
 * memory controller charges to the VMI as unreclaimable shmem; page
 * cache of files on a disk file system is charged too, but reclaimable.
 */
int64_t cg_vmm_overhead(int64_t guest_ram, unsigned vcpus);
/* pids.max for a VMM with vcpus vCPUs (threads + a margin). */
int64_t cg_pids_limit(unsigned vcpus);
/* A valid cgroup name (see above)? 1 or 0. */
int cg_name_valid(const char *name);

/* ---- the cgroup tree ----------------------------------------------------- */
int cg_open(const char *root, const char *parent, struct cg **out,
    char *err, size_t errlen);
void cg_close(struct cg *cg);
/* 1 or 2. */
int cg_version(const struct cg *cg);
/* Mask of the controllers found (1 << CG_CPU | ...). */
unsigned cg_controllers(const struct cg *cg);

/*
 * Create <parent>/<name> in every hierarchy (an existing one is reused:
 * re-adoption) and write the limits. Returns 0 when every limit asked
 * for was applied; a positive mask of the controllers whose limits could
 * not be applied because the controller is missing (err names them); or
 * -errno (the cgroup is removed again when it was created by this call).
 */
int cg_create(struct cg *cg, const char *name, const struct cg_limits *lim,
    char *err, size_t errlen);

/*
 * Move pid (0: the calling process) into <parent>/<name> in every
 * hierarchy (cgroup.procs; v1 with pid 0: "tasks", which moves only the
 * calling thread, so the caller must be single-threaded, as a forked
 * child is). Safe in a forked child before exec: no allocation, no
 * logging.
 */
int cg_attach(struct cg *cg, const char *name, pid_t pid, char *err,
    size_t errlen);

/*
 * SIGKILL whatever is left in <parent>/<name> (v2 cgroup.kill, else
 * cgroup.procs one by one), wait up to CG_DESTROY_WAIT_MS for it to
 * empty, rmdir it in every hierarchy. A cgroup that does not exist is
 * fine (0): idempotent. -EBUSY if processes remain.
 */
int cg_destroy(struct cg *cg, const char *name, char *err, size_t errlen);

/*
 * The names present under <parent> in any hierarchy (union, sorted),
 * as a NULL-terminated array; free with cg_list_free(). *n may be NULL.
 */
int cg_list(struct cg *cg, char ***names, size_t *n, char *err,
    size_t errlen);
void cg_list_free(char **names);

/* The pids in <parent>/<name> (first hierarchy); -ENOENT if absent. */
int cg_procs(struct cg *cg, const char *name, pid_t *pids, size_t max,
    size_t *n);

#define CG_STAT_UNKNOWN UINT64_MAX
/*
 * CPU time used (ns: v1 cpuacct.usage, v2 cpu.stat usage_usec*1000) and
 * memory in use (bytes: v1 memory.usage_in_bytes, v2 memory.current).
 * A value whose controller is missing is CG_STAT_UNKNOWN. Either pointer
 * may be NULL. -ENOENT if the cgroup does not exist.
 */
int cg_stats(struct cg *cg, const char *name, uint64_t *cpu_usage_ns,
    uint64_t *memory_bytes);

#endif
