/*
 * cgroup.c: one cgroup per VMI on cgroup v1 or v2 (cgroup.h).
 *
 * Layout: struct cg keeps one entry per hierarchy, the directory
 * <root>[/<controller>]/<parent> and the controllers it carries. v2 has
 * one entry; v1 one per distinct hierarchy (cpu and cpuacct co-mounted
 * count once, found by the directory's device and inode).
 *
 * Detection reads files, not mount tables, so that a plain directory laid
 * out like a cgroup tree works too (the unit test's fake roots):
 *   v2  <root>/cgroup.controllers exists; its words are the controllers;
 *   v1  <root>/<c>/cgroup.procs exists, plus the controller's own file at
 *       the hierarchy's root (cpu.shares, cpuacct.usage,
 *       memory.limit_in_bytes; pids has none at the root).
 *
 * VMM overhead (cg_vmm_overhead): measured on 2026-11-28 on the dev host
 * (kernel 6.18, KVM) with drover-vmm (static musl build, the node's, and
 * the glibc dev build) booting the CirrOS guest (build/guest: vmlinuz,
 * initramfs, qcow2 disk, console, rng): process RSS minus the guest-RAM
 * mapping's RSS (/proc/PID/smaps), sampled every second for 90 s, peak:
 * static 0.7 MiB, glibc 3.0 MiB, for 1 and 4 vCPUs (256Mi guest, of
 * which 25 MiB touched: on this host, a nested PVM guest, CirrOS had not
 * yet printed after 90 s, so the figures cover set-up and the kernel's
 * load, little device I/O); VmPTE 0.1 MiB; 3 + vCPUs threads without
 * disks, 5 + vCPUs with one qcow2 disk. With
 * the PVH test payload and 64Mi..1Gi of guest RAM: VmRSS 2.4 MiB
 * (glibc), independent of the guest size. What RSS does not show but the
 * memory controller charges: KVM's per-vCPU state (a few pages each) and
 * its page tables for guest RAM, at most 8 bytes per 4 KiB page (1/512)
 * for the TDP tables and as much again for rmaps under shadow paging
 * (1/256 in all), and the page cache of disk images (reclaimable).
 * In the node (kernel 6.1, cgroup v2, nested KVM), the static drover-vmm
 * booting CirrOS to its login prompt (256Mi, 1 vCPU, qcow2 disk, 120 s),
 * in a cgroup of its own: memory.current minus the guest-RAM mapping's
 * RSS was 1.3 MiB until the guest wrote to its disk, 1.9 MiB at most
 * without shmem (anon beyond guest RAM 0.6 MiB; kernel 1.0 MiB, of which
 * page tables 0.33 MiB, nested page tables 24 KiB, slab 0.2 MiB). The
 * rest, 22 MiB of shmem, was the qcow2 overlay's new clusters and the
 * console log on the node's tmpfs: writes to files on tmpfs are charged
 * to the writer's cgroup and cannot be reclaimed (cgroup.h).
 * Formula, with a wide margin because the VMM is OOM-killed at the limit:
 *     16 MiB + 1 MiB per vCPU + guest_ram / 256, rounded up to 1 MiB.
 * (256Mi, 1 vCPU: 18 MiB; 1Gi, 4 vCPUs: 24 MiB.)
 */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errfmt.h"
#include "log.h"

#define CG_PATH_MAX	4096
#define CG_NAME_MAX	255
#define CG_MAX_QUOTA_US	((int64_t)((1ULL << 44) - 1))

struct cg_hier {
	char *dir;		/* <root>[/<ctrl>]/<parent> */
	unsigned ctrls;		/* 1 << CG_* carried by this hierarchy */
};

struct cg {
	int version;
	unsigned ctrls;
	char *root, *parent;
	struct cg_hier h[CG_NCTRL];
	size_t nh;
};

static const char *const cg_ctrl_names[CG_NCTRL] = {
	"cpu", "cpuacct", "memory", "pids",
};

/* ---- kubelet's conversions ---------------------------------------------- */

uint64_t
cg_cpu_shares(int64_t request_milli)
{
	/* 262144 shares = 256000m; anything above clamps (no overflow). */
	if (request_milli <= 0)
		return CG_MIN_SHARES;
	if (request_milli >= (int64_t)CG_MAX_SHARES * 1000 / 1024 + 1)
		return CG_MAX_SHARES;
	uint64_t s = (uint64_t)request_milli * 1024 / 1000;
	return s < CG_MIN_SHARES ? CG_MIN_SHARES : s;
}

uint64_t
cg_cpu_weight(uint64_t shares)
{
	if (shares < CG_MIN_SHARES)
		shares = CG_MIN_SHARES;
	if (shares > CG_MAX_SHARES)
		shares = CG_MAX_SHARES;
	return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t
cg_cpu_quota(int64_t limit_milli)
{
	int64_t q;

	if (limit_milli <= 0)
		return -1;
	if (limit_milli > CG_MAX_QUOTA_US / (CG_CPU_PERIOD_US / 1000))
		return CG_MAX_QUOTA_US;
	q = limit_milli * CG_CPU_PERIOD_US / 1000;
	return q < CG_MIN_QUOTA_US ? CG_MIN_QUOTA_US : q;
}

int64_t
cg_vmm_overhead(int64_t guest_ram, unsigned vcpus)
{
	const int64_t mib = 1 << 20;
	int64_t o;

	if (guest_ram < 0)
		guest_ram = 0;
	if (vcpus > 4096)
		vcpus = 4096;
	o = 16 * mib + (int64_t)vcpus * mib + guest_ram / 256;
	return (o + mib - 1) / mib * mib;
}

int64_t
cg_pids_limit(unsigned vcpus)
{
	/* Measured 6 + vCPUs threads; 64 more for devices and helpers. */
	if (vcpus > 4096)
		vcpus = 4096;
	return 64 + (int64_t)vcpus;
}

int
cg_name_valid(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return 0;
	for (n = 0; name[n]; n++) {
		char c = name[n];

		if (n >= CG_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == ':'))
			return 0;
	}
	return strstr(name, "..") == NULL;
}

/* ---- files -------------------------------------------------------------- */

/* dir/a[/b] into buf; -ENAMETOOLONG if it does not fit. No allocation. */
static int
cg_join(char *buf, size_t len, const char *dir, const char *a, const char *b)
{
	int n = b ? snprintf(buf, len, "%s/%s/%s", dir, a, b) :
	    snprintf(buf, len, "%s/%s", dir, a);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Write val to dir/[sub/]file in one write(2). No allocation, no log. */
static int
cg_write(const char *dir, const char *sub, const char *file, const char *val)
{
	char path[CG_PATH_MAX];
	size_t len = strlen(val);
	ssize_t w;
	int fd, rc;

	if ((rc = cg_join(path, sizeof(path), dir, sub ? sub : file,
	    sub ? file : NULL)) < 0)
		return rc;
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
		return -errno;
	w = write(fd, val, len);
	rc = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Read dir/[sub/]file (up to len-1 bytes, NUL-terminated). */
static int
cg_read(const char *dir, const char *sub, const char *file, char *buf,
    size_t len)
{
	char path[CG_PATH_MAX];
	ssize_t r;
	size_t got = 0;
	int fd, rc;

	if ((rc = cg_join(path, sizeof(path), dir, sub ? sub : file,
	    sub ? file : NULL)) < 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while (got + 1 < len && (r = read(fd, buf + got, len - 1 - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return 0;
}

static int
cg_exists(const char *dir, const char *a, const char *b)
{
	char path[CG_PATH_MAX];

	return cg_join(path, sizeof(path), dir, a, b) == 0 &&
	    access(path, F_OK) == 0;
}

static int
cg_is_dir(const char *dir, const char *name)
{
	char path[CG_PATH_MAX];
	struct stat st;

	return cg_join(path, sizeof(path), dir, name, NULL) == 0 &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
cg_mkdir(const char *dir, const char *name, int *created)
{
	char path[CG_PATH_MAX];
	int rc;

	*created = 0;
	if ((rc = cg_join(path, sizeof(path), dir, name, NULL)) < 0)
		return rc;
	if (mkdir(path, 0755) == 0) {
		*created = 1;
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	return cg_is_dir(dir, name) ? 0 : -ENOTDIR;
}

/* ---- opening: detection ------------------------------------------------- */

static unsigned
cg_v2_words(const char *s)
{
	unsigned m = 0;
	char w[32];
	int n;

	while (sscanf(s, " %31s%n", w, &n) == 1) {
		const char *c = w[0] == '+' ? w + 1 : w;

		s += n;
		if (!strcmp(c, "cpu"))
			m |= 1u << CG_CPU;
		else if (!strcmp(c, "memory"))
			m |= 1u << CG_MEMORY;
		else if (!strcmp(c, "pids"))
			m |= 1u << CG_PIDS;
	}
	return m;
}

/* Enable the controllers in mask in dir's cgroup.subtree_control. */
static unsigned
cg_v2_enable(const char *dir, unsigned want)
{
	char buf[256] = "", line[256];
	unsigned got;

	for (int c = 0; c < CG_NCTRL; c++)
		if (want & (1u << c)) {
			strcat(buf, buf[0] ? " +" : "+");
			strcat(buf, cg_ctrl_names[c]);	/* < 40 bytes in all */
		}
	if (buf[0] && cg_write(dir, NULL, "cgroup.subtree_control", buf) < 0)
		/* One at a time: a single refused controller fails the lot. */
		for (int c = 0; c < CG_NCTRL; c++)
			if (want & (1u << c)) {
				snprintf(line, sizeof(line), "+%s", cg_ctrl_names[c]);
				int rc = cg_write(dir, NULL,
				    "cgroup.subtree_control", line);

				if (rc < 0)
					log_debug("%s: cannot enable %s: %s", dir,
					    cg_ctrl_names[c], strerror(-rc));
			}
	if (cg_read(dir, NULL, "cgroup.subtree_control", buf, sizeof(buf)) < 0)
		return 0;
	got = cg_v2_words(buf);
	return got & want;
}

/*
 * mkdir -p <base>/<parent>, enabling want in every subtree_control on the
 * way (v2) when v2 is set. Returns the controllers enabled for parent's
 * children (v2) or want (v1), or -errno.
 */
static int
cg_make_parent(const char *base, const char *parent, int v2, unsigned want,
    char *err, size_t errlen)
{
	char path[CG_PATH_MAX], comp[CG_NAME_MAX + 1];
	const char *p = parent;
	int created, rc;

	if (snprintf(path, sizeof(path), "%s", base) >= (int)sizeof(path))
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: path too long", base);
	for (;;) {
		size_t n = strcspn(p, "/");

		if (v2)
			want = cg_v2_enable(path, want);
		if (n == 0)
			break;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if ((rc = cg_mkdir(path, comp, &created)) < 0)
			return errfmt(err, errlen, rc, "cgroup %s/%s: mkdir: %s",
			    path, comp, strerror(-rc));
		if (strlen(path) + 1 + n >= sizeof(path))
			return errfmt(err, errlen, -ENAMETOOLONG, "%s: path too "
			    "long", path);
		strcat(strcat(path, "/"), comp);
		p += n;
		if (*p == '/')
			p++;
		if (*p == '\0') {
			if (v2)
				want = cg_v2_enable(path, want);
			break;
		}
	}
	return (int)want;
}

static int
cg_parent_valid(const char *parent)
{
	char comp[CG_NAME_MAX + 2];
	const char *p = parent;

	if (parent == NULL || *parent == '\0' || strlen(parent) > 1024)
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || n > CG_NAME_MAX)
			return 0;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (!cg_name_valid(comp))
			return 0;
		p += n;
		if (*p == '/' && *++p == '\0')
			return 0;
	}
	return 1;
}

static int
cg_add_hier(struct cg *cg, const char *base, unsigned ctrls)
{
	char path[CG_PATH_MAX];

	if (cg_join(path, sizeof(path), base, cg->parent, NULL) < 0)
		return -ENAMETOOLONG;
	if ((cg->h[cg->nh].dir = strdup(path)) == NULL)
		return -ENOMEM;
	cg->h[cg->nh++].ctrls = ctrls;
	cg->ctrls |= ctrls;
	return 0;
}

static int
cg_open_v2(struct cg *cg, const char *ctrls, char *err, size_t errlen)
{
	unsigned want = cg_v2_words(ctrls);
	int got;

	if ((got = cg_make_parent(cg->root, cg->parent, 1, want, err,
	    errlen)) < 0)
		return got;
	/* cpu.stat (usage) is there without the cpu controller. */
	return cg_add_hier(cg, cg->root, (unsigned)got | 1u << CG_CPUACCT);
}

static int
cg_open_v1(struct cg *cg, char *err, size_t errlen)
{
	static const char *const mark[CG_NCTRL] = {
		"cpu.shares", "cpuacct.usage", "memory.limit_in_bytes", NULL,
	};
	struct { dev_t dev; ino_t ino; } seen[CG_NCTRL];
	char base[CG_PATH_MAX];
	struct stat st;
	int rc;

	for (int c = 0; c < CG_NCTRL; c++) {
		size_t k;

		if (cg_join(base, sizeof(base), cg->root, cg_ctrl_names[c],
		    NULL) < 0 || !cg_exists(base, "cgroup.procs", NULL) ||
		    (mark[c] && !cg_exists(base, mark[c], NULL)) ||
		    stat(base, &st) < 0)
			continue;
		for (k = 0; k < cg->nh; k++)
			if (seen[k].dev == st.st_dev && seen[k].ino == st.st_ino)
				break;
		if (k < cg->nh) {
			cg->h[k].ctrls |= 1u << c;
			cg->ctrls |= 1u << c;
			continue;
		}
		if ((rc = cg_make_parent(base, cg->parent, 0, 0, err,
		    errlen)) < 0)
			return rc;
		seen[cg->nh].dev = st.st_dev;
		seen[cg->nh].ino = st.st_ino;
		if ((rc = cg_add_hier(cg, base, 1u << c)) < 0)
			return errfmt(err, errlen, rc, "cgroup %s: %s", base,
			    strerror(-rc));
	}
	if (cg->nh == 0)
		return errfmt(err, errlen, -ENOENT, "no cgroup file system "
		    "under %s (neither v2's cgroup.controllers nor a v1 "
		    "hierarchy for cpu, cpuacct, memory or pids)", cg->root);
	return 0;
}

static void
cg_warn_missing(const struct cg *cg)
{
	static const char *const what[CG_NCTRL] = {
		"CPU shares and quotas", "CPU usage (kubectl top)",
		"memory limits and usage", "process count limits",
	};

	for (int c = 0; c < CG_NCTRL; c++)
		if (!(cg->ctrls & (1u << c)))
			log_warnx("cgroup v%d under %s: no %s controller: %s "
			    "will not be applied or reported", cg->version,
			    cg->root, cg_ctrl_names[c], what[c]);
}

int
cg_open(const char *root, const char *parent, struct cg **out, char *err,
    size_t errlen)
{
	char ctrls[512];
	struct cg *cg;
	int rc;

	*out = NULL;
	if (root == NULL || root[0] != '/' || strlen(root) > 1024)
		return errfmt(err, errlen, -EINVAL, "cgroup root must be an "
		    "absolute path");
	if (!cg_parent_valid(parent))
		return errfmt(err, errlen, -EINVAL, "cgroup parent \"%s\": "
		    "components of [A-Za-z0-9._:-] separated by '/', none "
		    "starting with '.'", parent ? parent : "");
	if ((cg = calloc(1, sizeof(*cg))) == NULL ||
	    (cg->root = strdup(root)) == NULL ||
	    (cg->parent = strdup(parent)) == NULL) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	if (cg_read(root, NULL, "cgroup.controllers", ctrls, sizeof(ctrls)) == 0) {
		cg->version = 2;
		rc = cg_open_v2(cg, ctrls, err, errlen);
	} else {
		cg->version = 1;
		rc = cg_open_v1(cg, err, errlen);
	}
	if (rc < 0)
		goto fail;
	cg_warn_missing(cg);
	log_info("cgroup v%d under %s/%s (%zu hierarch%s)", cg->version, root,
	    parent, cg->nh, cg->nh == 1 ? "y" : "ies");
	*out = cg;
	return 0;
fail:
	cg_close(cg);
	return rc;
}

void
cg_close(struct cg *cg)
{
	if (cg == NULL)
		return;
	for (size_t i = 0; i < cg->nh; i++)
		free(cg->h[i].dir);
	free(cg->root);
	free(cg->parent);
	free(cg);
}

int
cg_version(const struct cg *cg)
{
	return cg->version;
}

unsigned
cg_controllers(const struct cg *cg)
{
	return cg->ctrls & ((1u << CG_NCTRL) - 1);
}

static const struct cg_hier *
cg_hier_of(const struct cg *cg, enum cg_ctrl c)
{
	for (size_t i = 0; i < cg->nh; i++)
		if (cg->h[i].ctrls & (1u << c))
			return &cg->h[i];
	return NULL;
}

/* ---- per VMI ------------------------------------------------------------ */

static int
cg_set(const char *dir, const char *name, const char *file, const char *val,
    char *err, size_t errlen)
{
	int rc = cg_write(dir, name, file, val);

	if (rc < 0)
		return errfmt(err, errlen, rc, "cgroup %s/%s: write \"%s\" to %s: "
		    "%s", dir, name, val, file, strerror(-rc));
	return 0;
}

static int
cg_apply_cpu(const struct cg *cg, const char *dir, const char *name,
    const struct cg_limits *lim, char *err, size_t errlen)
{
	uint64_t shares = cg_cpu_shares(lim->cpu_request_milli);
	int64_t quota = cg_cpu_quota(lim->cpu_limit_milli);
	char v[64];
	int rc;

	if (cg->version == 2) {
		snprintf(v, sizeof(v), "%llu",
		    (unsigned long long)cg_cpu_weight(shares));
		if ((rc = cg_set(dir, name, "cpu.weight", v, err, errlen)) < 0)
			return rc;
		if (quota < 0)
			snprintf(v, sizeof(v), "max %d", CG_CPU_PERIOD_US);
		else
			snprintf(v, sizeof(v), "%lld %d", (long long)quota,
			    CG_CPU_PERIOD_US);
		return cg_set(dir, name, "cpu.max", v, err, errlen);
	}
	snprintf(v, sizeof(v), "%llu", (unsigned long long)shares);
	if ((rc = cg_set(dir, name, "cpu.shares", v, err, errlen)) < 0)
		return rc;
	snprintf(v, sizeof(v), "%d", CG_CPU_PERIOD_US);
	if ((rc = cg_set(dir, name, "cpu.cfs_period_us", v, err, errlen)) < 0)
		return rc;
	snprintf(v, sizeof(v), "%lld", (long long)quota);
	return cg_set(dir, name, "cpu.cfs_quota_us", v, err, errlen);
}

static int
cg_apply_max(const struct cg *cg, const char *dir, const char *name,
    const char *file, int64_t max, char *err, size_t errlen)
{
	char v[32];

	if (max > 0)
		snprintf(v, sizeof(v), "%lld", (long long)max);
	else
		snprintf(v, sizeof(v), "%s", cg->version == 2 ||
		    !strcmp(file, "pids.max") ? "max" : "-1");
	return cg_set(dir, name, file, v, err, errlen);
}

static int
cg_apply(const struct cg *cg, const struct cg_hier *h, const char *name,
    const struct cg_limits *lim, char *err, size_t errlen)
{
	int rc;

	if ((h->ctrls & (1u << CG_CPU)) &&
	    (rc = cg_apply_cpu(cg, h->dir, name, lim, err, errlen)) < 0)
		return rc;
	if ((h->ctrls & (1u << CG_MEMORY)) &&
	    (rc = cg_apply_max(cg, h->dir, name, cg->version == 2 ?
	    "memory.max" : "memory.limit_in_bytes", lim->memory_max, err,
	    errlen)) < 0)
		return rc;
	if ((h->ctrls & (1u << CG_PIDS)) &&
	    (rc = cg_apply_max(cg, h->dir, name, "pids.max", lim->pids_max,
	    err, errlen)) < 0)
		return rc;
	return 0;
}

/* The controllers whose limits were asked for but cannot be applied. */
static unsigned
cg_unapplied(const struct cg *cg, const struct cg_limits *lim, char *err,
    size_t errlen, const char *name)
{
	unsigned asked = 0, miss;
	char list[64] = "";

	if (lim->cpu_request_milli > 0 || lim->cpu_limit_milli > 0)
		asked |= 1u << CG_CPU;
	if (lim->memory_max > 0)
		asked |= 1u << CG_MEMORY;
	if (lim->pids_max > 0)
		asked |= 1u << CG_PIDS;
	miss = asked & ~cg->ctrls;
	for (int c = 0; c < CG_NCTRL; c++)
		if (miss & (1u << c))
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
			    "%s%s", list[0] ? ", " : "", cg_ctrl_names[c]);
	if (miss)
		errfmt(err, errlen, 0, "cgroup %s/%s: no %s controller (cgroup "
		    "v%d under %s): those limits are not applied", cg->parent,
		    name, list, cg->version, cg->root);
	return miss;
}

static void
cg_rmdirs(const struct cg *cg, const char *name, const int *made)
{
	char path[CG_PATH_MAX];

	for (size_t i = 0; i < cg->nh; i++)
		if ((made == NULL || made[i]) && cg_join(path, sizeof(path),
		    cg->h[i].dir, name, NULL) == 0)
			rmdir(path);
}

int
cg_create(struct cg *cg, const char *name, const struct cg_limits *lim,
    char *err, size_t errlen)
{
	int made[CG_NCTRL] = { 0 }, rc;

	if (!cg_name_valid(name))
		return errfmt(err, errlen, -EINVAL, "bad cgroup name \"%s\": "
		    "1 to %d characters of [A-Za-z0-9._:-], not starting with "
		    "'.'", name ? name : "", CG_NAME_MAX);
	for (size_t i = 0; i < cg->nh; i++) {
		if ((rc = cg_mkdir(cg->h[i].dir, name, &made[i])) < 0) {
			errfmt(err, errlen, rc, "cgroup %s/%s: mkdir: %s",
			    cg->h[i].dir, name, strerror(-rc));
			goto fail;
		}
		if ((rc = cg_apply(cg, &cg->h[i], name, lim, err, errlen)) < 0)
			goto fail;
	}
	return (int)cg_unapplied(cg, lim, err, errlen, name);
fail:
	cg_rmdirs(cg, name, made);
	return rc;
}

int
cg_attach(struct cg *cg, const char *name, pid_t pid, char *err,
    size_t errlen)
{
	char v[24];
	int rc;

	if (!cg_name_valid(name))
		return errfmt(err, errlen, -EINVAL, "bad cgroup name");
	snprintf(v, sizeof(v), "%ld", (long)pid);
	for (size_t i = 0; i < cg->nh; i++) {
		/*
		 * v1, the caller itself: its one thread through "tasks". The
		 * kernel then skips the global cgroup_threadgroup_rwsem,
		 * whose write side waits for an RCU grace period (7-17 ms
		 * per spawn measured here, 0.4 ms this way); moving the only
		 * thread of a forked child moves the whole process.
		 */
		rc = -ENOENT;
		if (cg->version == 1 && pid == 0)
			rc = cg_write(cg->h[i].dir, name, "tasks", "0");
		if (rc == -ENOENT)
			rc = cg_write(cg->h[i].dir, name, "cgroup.procs", v);
		if (rc < 0)
			return errfmt(err, errlen, rc, "cgroup %s/%s: attach pid "
			    "%s: %s", cg->h[i].dir, name, v, strerror(-rc));
	}
	return 0;
}

/* ---- processes, destroy ------------------------------------------------- */

/* Read the pids in dir/name/cgroup.procs; -errno, else the count. */
static int
cg_read_procs(const char *dir, const char *name, pid_t *pids, size_t max,
    size_t *total)
{
	char path[CG_PATH_MAX];
	long v;
	size_t n = 0;
	FILE *f;
	int rc;

	if ((rc = cg_join(path, sizeof(path), dir, name, "cgroup.procs")) < 0)
		return rc;
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	while (fscanf(f, "%ld", &v) == 1) {
		if (n < max && v > 0)
			pids[n] = (pid_t)v;
		n++;
	}
	fclose(f);
	if (total)
		*total = n;
	return 0;
}

int
cg_procs(struct cg *cg, const char *name, pid_t *pids, size_t max, size_t *n)
{
	*n = 0;
	if (!cg_name_valid(name))
		return -EINVAL;
	if (cg->nh == 0)
		return -ENOENT;
	return cg_read_procs(cg->h[0].dir, name, pids, max, n);
}

/* SIGKILL everything listed in any hierarchy; the number found. */
static size_t
cg_kill_listed(const struct cg *cg, const char *name)
{
	pid_t pids[256];
	size_t found = 0, n;

	for (size_t i = 0; i < cg->nh; i++) {
		if (cg_read_procs(cg->h[i].dir, name, pids, 256, &n) < 0)
			continue;
		for (size_t k = 0; k < n && k < 256; k++)
			if (pids[k] > 1 && pids[k] != getpid())
				kill(pids[k], SIGKILL);
		found += n;
	}
	return found;
}

static uint64_t
cg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
cg_destroy(struct cg *cg, const char *name, char *err, size_t errlen)
{
	struct timespec tick = { 0, 10 * 1000000 };
	uint64_t deadline = cg_now_ms() + CG_DESTROY_WAIT_MS;
	char path[CG_PATH_MAX];
	size_t left;
	int rc = 0, busy;

	if (!cg_name_valid(name))
		return errfmt(err, errlen, -EINVAL, "bad cgroup name \"%s\"",
		    name ? name : "");
	if (cg->version == 2 && cg_is_dir(cg->h[0].dir, name))
		cg_write(cg->h[0].dir, name, "cgroup.kill", "1");
	for (;;) {
		left = cg_kill_listed(cg, name);
		busy = 0;
		for (size_t i = 0; left == 0 && i < cg->nh; i++) {
			if (cg_join(path, sizeof(path), cg->h[i].dir, name,
			    NULL) < 0)
				return errfmt(err, errlen, -ENAMETOOLONG, "path "
				    "too long");
			if (rmdir(path) == 0 || errno == ENOENT)
				continue;
			rc = -errno;
			busy = 1;
			if (rc != -EBUSY)
				return errfmt(err, errlen, rc, "cgroup %s: rmdir: "
				    "%s", path, strerror(-rc));
		}
		if (left == 0 && !busy)
			return 0;
		if (cg_now_ms() >= deadline)
			break;
		nanosleep(&tick, NULL);
	}
	return errfmt(err, errlen, -EBUSY, "cgroup %s/%s: %zu process%s still "
	    "there after SIGKILL and %d ms", cg->parent, name, left,
	    left == 1 ? "" : "es", CG_DESTROY_WAIT_MS);
}

/* ---- listing, stats ----------------------------------------------------- */

static int
cg_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cg_list_add(char ***v, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], name))
			return 0;
	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, nc * sizeof(**v));

		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	if (((*v)[*n] = strdup(name)) == NULL)
		return -ENOMEM;
	(*v)[++*n] = NULL;
	return 0;
}

int
cg_list(struct cg *cg, char ***names, size_t *count, char *err, size_t errlen)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	DIR *d;

	*names = NULL;
	for (size_t i = 0; i < cg->nh && rc == 0; i++) {
		if ((d = opendir(cg->h[i].dir)) == NULL) {
			if (errno == ENOENT)
				continue;
			rc = errfmt(err, errlen, -errno, "cgroup %s: %s",
			    cg->h[i].dir, strerror(errno));
			break;
		}
		while (rc == 0 && (de = readdir(d)) != NULL)
			if (cg_name_valid(de->d_name) &&
			    cg_is_dir(cg->h[i].dir, de->d_name))
				rc = cg_list_add(&v, &n, &cap, de->d_name);
		closedir(d);
	}
	if (rc == 0 && v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		rc = -ENOMEM;
	if (rc < 0) {
		cg_list_free(v);
		return rc == -ENOMEM ? errfmt(err, errlen, rc, "out of memory") :
		    rc;
	}
	qsort(v, n, sizeof(*v), cg_strcmp);
	*names = v;
	if (count)
		*count = n;
	return 0;
}

void
cg_list_free(char **names)
{
	if (names == NULL)
		return;
	for (size_t i = 0; names[i]; i++)
		free(names[i]);
	free(names);
}

static uint64_t
cg_read_u64(const char *dir, const char *name, const char *file,
    const char *key)
{
	char buf[4096], *p = buf, *end;
	unsigned long long v;
	size_t kl = key ? strlen(key) : 0;

	if (cg_read(dir, name, file, buf, sizeof(buf)) < 0)
		return CG_STAT_UNKNOWN;
	while (key && p && (strncmp(p, key, kl) || p[kl] != ' ')) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (p == NULL)
		return CG_STAT_UNKNOWN;
	p += kl;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (end == p || errno)
		return CG_STAT_UNKNOWN;
	return v;
}

int
cg_stats(struct cg *cg, const char *name, uint64_t *cpu_usage_ns,
    uint64_t *memory_bytes)
{
	const struct cg_hier *h;
	uint64_t cpu = CG_STAT_UNKNOWN, mem = CG_STAT_UNKNOWN;

	if (!cg_name_valid(name))
		return -EINVAL;
	if (cg->nh == 0 || !cg_is_dir(cg->h[0].dir, name))
		return -ENOENT;
	if ((h = cg_hier_of(cg, CG_CPUACCT)) != NULL) {
		if (cg->version == 2) {
			cpu = cg_read_u64(h->dir, name, "cpu.stat", "usage_usec");
			if (cpu != CG_STAT_UNKNOWN)
				cpu *= 1000;
		} else {
			cpu = cg_read_u64(h->dir, name, "cpuacct.usage", NULL);
		}
	}
	if ((h = cg_hier_of(cg, CG_MEMORY)) != NULL)
		mem = cg_read_u64(h->dir, name, cg->version == 2 ?
		    "memory.current" : "memory.usage_in_bytes", NULL);
	if (cpu_usage_ns)
		*cpu_usage_ns = cpu;
	if (memory_bytes)
		*memory_bytes = mem;
	return 0;
}
