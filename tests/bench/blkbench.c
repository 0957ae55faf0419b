/*
 * blkbench.c: virtio-blk throughput through drover-vmm's own device code,
 * against pread/pwrite on the same file (issue 3: >= 0.8 of the latter).
 *
 * No KVM and no PCI: a simulated driver. Guest RAM is an anonymous
 * mapping seen through struct gmem; the device is struct virtio_dev
 * (vmm/virtio.h) around the virtio-blk front end (virtio_blk_ops) and the
 * raw-file back end (blk_raw_ops), set up with virtio_dev_init and a struct
 * virtio_host whose interrupt and ioeventfd hooks only count. The driver
 * negotiates features and sets the status bits as Linux does, configures
 * queue 0 directly in vd->vq[0] (then virtio_dev_queue_enable), posts requests (header, data, status:
 * one three-descriptor chain each) in the avail ring, calls the front
 * end's queue_notify itself (where the I/O thread would, after a kick),
 * and takes completions from the used ring, checking each status byte.
 *
 * Both sides do the same operations in the same order: the same block
 * size, the same offsets (sequential, or one xorshift sequence for
 * random), the same number of requests in flight (the queue depth; for
 * pread/pwrite, which block, it is the number of buffers they rotate
 * over), buffered I/O (no O_DIRECT, no fsync) on the same file, whose
 * pages stay in the page cache. The difference is the cost of the virtio
 * path: rings, chain walking, guest-address checks, the back end's
 * preadv/pwritev. Each block is stamped with its offset (first 8 bytes of
 * every 4 KiB) on write and checked on read, on both sides.
 *
 * With -o OVERLAY -b BACKING -f FMT the device's back end is not FILE but
 * the qcow2 image OVERLAY with BACKING (format FMT: raw or qcow2) pinned
 * behind it (blk_qcow2_open_pinned), the copy-on-write disk of issue 4;
 * the anchor is still pread/pwrite on FILE, which must hold the same bytes
 * (tests/bench/qcow2-cow.sh makes BACKING from FILE with qemu-img).
 *
 *   blkbench [-q DEPTH] [-r REPS] [-n OPS] [-o OVERLAY -b BACKING -f FMT]
 *            FILE WORKLOAD:BS...
 *     WORKLOAD: seqread, seqwrite, randread, randwrite; BS in bytes
 *     (a multiple of 4096); FILE must exist, a multiple of 4096 bytes
 *     (blkbench -p FILE SIZE_MIB writes such a file with the stamps).
 *   Per workload, REPS (default 5) alternating runs of OPS requests
 *   (default: the file's size in bytes for seq, 65536 requests for rand,
 *   at most 262144) each; prints, with medians of the runs:
 *     result WORKLOAD BS DEPTH OPS VIRTIO_MBPS VIRTIO_IOPS PREAD_MBPS PREAD_IOPS RATIO
 *   (MB = 10^6 bytes; RATIO = virtio / pread throughput.)
 * Exit status 0, or 1 when it could not measure (any error, a wrong
 * stamp, a request that did not complete with VIRTIO_BLK_S_OK).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blk.h"
#include "blk_qcow2.h"
#include "guestmem.h"
#include "log.h"
#include "virtio.h"
#include "virtq.h"

/* virtio 1.2, 5.2.6: the request header and codes. */
#define BLK_T_IN	0
#define BLK_T_OUT	1
#define BLK_S_OK	0
struct blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

#define MAX_DEPTH	64
#define QSIZE		256
/* Guest-physical layout. */
#define GPA_DESC	0x1000ull
#define GPA_AVAIL	0x2000ull
#define GPA_USED	0x3000ull
#define GPA_HDR		0x10000ull
#define GPA_STATUS	0x11000ull
#define GPA_DATA	0x100000ull

enum workload { SEQREAD, SEQWRITE, RANDREAD, RANDWRITE };
static const char *const wl_names[] = { "seqread", "seqwrite", "randread",
    "randwrite" };

static void
die(const char *what)
{
	fprintf(stderr, "blkbench: %s\n", what);
	exit(1);
}

static void
die_errno(const char *what, int err)
{
	fprintf(stderr, "blkbench: %s: %s\n", what, strerror(err));
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The offsets of one run: the same array for both sides. */
static uint64_t *
make_offsets(enum workload w, uint64_t fsize, uint32_t bs, uint64_t ops)
{
	uint64_t *off = malloc(ops * sizeof(*off)), blocks = fsize / bs;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (!off)
		die("out of memory");
	for (uint64_t i = 0; i < ops; i++) {
		if (w == SEQREAD || w == SEQWRITE) {
			off[i] = (i % blocks) * bs;
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off[i] = (x % blocks) * bs;
		}
	}
	return off;
}

static void
stamp(uint8_t *buf, uint32_t bs, uint64_t off)
{
	for (uint32_t o = 0; o < bs; o += 4096) {
		uint64_t v = off + o;

		memcpy(buf + o, &v, sizeof(v));
	}
}

static int
check_stamp(const uint8_t *buf, uint32_t bs, uint64_t off)
{
	for (uint32_t o = 0; o < bs; o += 4096) {
		uint64_t v;

		memcpy(&v, buf + o, sizeof(v));
		if (v != off + o)
			return -1;
	}
	return 0;
}

static int
is_write(enum workload w)
{
	return w == SEQWRITE || w == RANDWRITE;
}

/* ---- the anchor: pread/pwrite ------------------------------------------ */
static double
run_pread(int fd, enum workload w, uint32_t bs, unsigned depth,
    const uint64_t *off, uint64_t ops, uint8_t *bufs)
{
	double t0 = now_s();

	for (uint64_t i = 0; i < ops; i++) {
		uint8_t *b = bufs + (size_t)(i % depth) * bs;
		ssize_t n;

		if (is_write(w)) {
			stamp(b, bs, off[i]);
			n = pwrite(fd, b, bs, (off_t)off[i]);
		} else {
			n = pread(fd, b, bs, (off_t)off[i]);
		}
		if (n != (ssize_t)bs)
			die_errno("pread/pwrite", n < 0 ? errno : EIO);
		if (!is_write(w) && check_stamp(b, bs, off[i]) < 0)
			die("pread: wrong data (stamp)");
	}
	return now_s() - t0;
}

/* ---- the simulated driver -------------------------------------------------- */
struct sim {
	struct gmem mem;
	struct virtio_dev vd;
	struct vring_desc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[QSIZE], used_event */
	volatile uint16_t *used;	/* flags, idx, then elems */
	uint16_t avail_idx;		/* driver's next avail index */
	uint16_t used_seen;		/* driver's last used index seen */
	unsigned long interrupts;
};

static void
sim_interrupt(struct virtio_dev *vd, uint16_t vector, int isr_bit)
{
	struct sim *s = (struct sim *)((char *)vd - offsetof(struct sim, vd));

	(void)vector;
	(void)isr_bit;
	s->interrupts++;
}

static int
host_msi_route(void *arg, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)arg;
	(void)vec;
	(void)addr;
	(void)data;
	return 0;
}

static void
host_msi_fire(void *arg, unsigned vec)
{
	struct sim *s = arg;

	(void)vec;
	s->interrupts++;
}

static int
host_ioeventfd(void *arg, uint64_t gpa, int efd, int on)
{
	(void)arg;
	(void)gpa;
	(void)efd;
	(void)on;
	return -ENOSYS;
}

static void
sim_set_status(struct sim *s, uint8_t st)
{
	pthread_mutex_lock(&s->vd.lock);
	virtio_dev_set_status(&s->vd, st);
	pthread_mutex_unlock(&s->vd.lock);
	if (s->vd.status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		die("device status: needs reset or failed");
}

/* The device's disk: FILE raw, or a qcow2 overlay with a pinned backing
 * file (-o, -b, -f). */
struct disk_spec {
	const char *path;
	const char *overlay, *backing, *backing_fmt;
};

static void
sim_setup(struct sim *s, const struct disk_spec *ds, uint64_t ram)
{
	struct virtio_host host;
	struct blk_backend *be;
	struct virtq *q;
	uint8_t *m;
	void *fe;
	uint8_t st;
	int err;

	memset(s, 0, sizeof(*s));
	m = mmap(NULL, ram, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		die_errno("mmap guest RAM", errno);
	gmem_layout(&s->mem, m, ram);
	s->desc = (struct vring_desc *)(m + GPA_DESC);
	s->avail = (volatile uint16_t *)(m + GPA_AVAIL);
	s->used = (volatile uint16_t *)(m + GPA_USED);

	err = ds->overlay ? blk_qcow2_open_pinned(ds->overlay, 0, ds->backing,
	    ds->backing_fmt, &be) : blk_raw_ops.open(ds->path, 0, &be);
	if (err < 0)
		die_errno(ds->overlay ? "blk_qcow2_open_pinned" :
		    "blk_raw_ops.open", -err);
	fe = virtio_blk_create(be, "blkbench");
	if (!fe)
		die("virtio_blk_create failed");
	memset(&host, 0, sizeof(host));
	host.arg = s;
	host.mem = &s->mem;
	host.msi_route = host_msi_route;
	host.msi_fire = host_msi_fire;
	host.ioeventfd = host_ioeventfd;
	err = virtio_dev_init(&s->vd, &virtio_blk_ops, fe, &host);
	if (err < 0)
		die_errno("virtio_dev_init", -err);
	s->vd.interrupt = sim_interrupt;

	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. The
	 * driver takes every offered feature (as Linux's virtio_blk
	 * would, for those it knows); it uses one queue and plain chains. */
	sim_set_status(s, 0);
	st = VIRTIO_STATUS_ACKNOWLEDGE;
	sim_set_status(s, st);
	st |= VIRTIO_STATUS_DRIVER;
	sim_set_status(s, st);
	if (!(s->vd.host_features & (1ull << VIRTIO_F_VERSION_1)))
		die("device does not offer VIRTIO_F_VERSION_1");
	pthread_mutex_lock(&s->vd.lock);
	s->vd.guest_features = s->vd.host_features;
	pthread_mutex_unlock(&s->vd.lock);
	st |= VIRTIO_STATUS_FEATURES_OK;
	sim_set_status(s, st);
	if (!(s->vd.status & VIRTIO_STATUS_FEATURES_OK))
		die("device refused the features");

	/* Queue 0, as the transport would set it from common config. */
	pthread_mutex_lock(&s->vd.lock);
	q = &s->vd.vq[0];
	virtq_reset(q);
	q->size = QSIZE;
	q->desc_gpa = GPA_DESC;
	q->avail_gpa = GPA_AVAIL;
	q->used_gpa = GPA_USED;
	q->msix_vector = 0;
	err = virtio_dev_queue_enable(&s->vd, 0);
	pthread_mutex_unlock(&s->vd.lock);
	if (err < 0)
		die_errno("virtio_dev_queue_enable", -err);
	st |= VIRTIO_STATUS_DRIVER_OK;
	sim_set_status(s, st);
	if (!virtio_queue(&s->vd, 0))
		die("queue 0 is not enabled after DRIVER_OK");
}

/* Post request slot k (descriptors 3k .. 3k+2) for offset off. */
static void
sim_post(struct sim *s, unsigned k, enum workload w, uint32_t bs,
    uint64_t off)
{
	struct vring_desc *d = &s->desc[3 * k];
	struct blk_outhdr *h = gmem_ptr(&s->mem, GPA_HDR + 16 * k, 16);
	uint8_t *data = gmem_ptr(&s->mem, GPA_DATA + (uint64_t)k * bs, bs);
	uint8_t *status = gmem_ptr(&s->mem, GPA_STATUS + k, 1);

	h->type = is_write(w) ? BLK_T_OUT : BLK_T_IN;
	h->reserved = 0;
	h->sector = off / 512;
	*status = 0xff;
	if (is_write(w))
		stamp(data, bs, off);
	d[0] = (struct vring_desc){ GPA_HDR + 16 * k, 16, VIRTQ_DESC_F_NEXT,
	    (uint16_t)(3 * k + 1) };
	d[1] = (struct vring_desc){ GPA_DATA + (uint64_t)k * bs, bs,
	    (uint16_t)(VIRTQ_DESC_F_NEXT | (is_write(w) ? 0 : VIRTQ_DESC_F_WRITE)),
	    (uint16_t)(3 * k + 2) };
	d[2] = (struct vring_desc){ GPA_STATUS + k, 1, VIRTQ_DESC_F_WRITE, 0 };
	s->avail[2 + s->avail_idx % QSIZE] = (uint16_t)(3 * k);
	s->avail_idx++;
}

static void
sim_publish(struct sim *s)
{
	/* used_event (EVENT_IDX): interrupt for every completion. */
	s->avail[2 + QSIZE] = s->used_seen;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->avail[1] = s->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void
sim_notify(struct sim *s)
{
	pthread_mutex_lock(&s->vd.lock);
	s->vd.ops->queue_notify(s->vd.fe, 0);
	pthread_mutex_unlock(&s->vd.lock);
}

/* A front end that completes later does so through its back-end fd. */
static void
sim_wait_event(struct sim *s)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };

	if (s->vd.ops->event_fd)
		p.fd = s->vd.ops->event_fd(s->vd.fe);
	if (p.fd < 0 || !s->vd.ops->event)
		die("no completion after queue_notify, and no back-end event fd");
	if (poll(&p, 1, 10000) <= 0)
		die("no completion within 10 s");
	pthread_mutex_lock(&s->vd.lock);
	s->vd.ops->event(s->vd.fe);
	pthread_mutex_unlock(&s->vd.lock);
}

static double
run_virtio(struct sim *s, enum workload w, uint32_t bs, unsigned depth,
    const uint64_t *off, uint64_t ops)
{
	uint64_t posted = 0, done = 0, slot_off[MAX_DEPTH];
	struct vring_used_elem *ue =
	    (struct vring_used_elem *)(uintptr_t)(s->used + 2);
	double t0 = now_s();

	for (unsigned k = 0; k < depth && posted < ops; k++, posted++) {
		slot_off[k] = off[posted];
		sim_post(s, k, w, bs, off[posted]);
	}
	sim_publish(s);
	sim_notify(s);
	while (done < ops) {
		uint16_t uidx;
		int reposted = 0;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uidx = s->used[1];
		if (uidx == s->used_seen) {
			sim_wait_event(s);
			continue;
		}
		while (s->used_seen != uidx) {
			struct vring_used_elem e = ue[s->used_seen % QSIZE];
			unsigned k = e.id / 3;
			uint8_t *st = gmem_ptr(&s->mem, GPA_STATUS + k, 1);

			if (e.id % 3 || k >= depth)
				die("used ring: unknown descriptor head");
			if (*st != BLK_S_OK)
				die("request completed with an error status");
			if (!is_write(w) && (e.len != bs + 1 ||
			    check_stamp(gmem_ptr(&s->mem, GPA_DATA +
			    (uint64_t)k * bs, bs), bs, slot_off[k]) < 0))
				die("virtio-blk read: wrong length or data (stamp)");
			s->used_seen++;
			done++;
			if (posted < ops) {
				slot_off[k] = off[posted];
				sim_post(s, k, w, bs, off[posted++]);
				reposted = 1;
			}
		}
		if (reposted) {
			sim_publish(s);
			sim_notify(s);
		}
	}
	return now_s() - t0;
}

/* ---- main ---------------------------------------------------------------- */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* blkbench -p FILE MIB: write the stamped file. */
static int
prepare(const char *path, const char *mib_s)
{
	uint64_t mib = strtoull(mib_s, NULL, 10), size = mib << 20;
	static uint8_t buf[1 << 20];
	int fd;

	if (mib == 0)
		die("-p: size in MiB > 0");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die_errno(path, errno);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i += 8)
			memcpy(buf + i, &(uint64_t){ (off + i) ^ 0x5a5a5a5a5a5a5a5aull }, 8);
		stamp(buf, sizeof(buf), off);
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die_errno("write", errno);
	}
	if (close(fd) < 0)
		die_errno("close", errno);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned depth = 32;
	int reps = 5, opt, fd;
	uint64_t nops = 0, fsize;
	struct disk_spec ds = { 0 };
	const char *path;
	struct stat sb;
	uint8_t *bufs;
	struct sim *s;

	while ((opt = getopt(argc, argv, "q:r:n:po:b:f:")) != -1) {
		switch (opt) {
		case 'o':
			ds.overlay = optarg;
			break;
		case 'b':
			ds.backing = optarg;
			break;
		case 'f':
			ds.backing_fmt = optarg;
			break;
		case 'q':
			depth = (unsigned)atoi(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'n':
			nops = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			if (argc - optind != 2)
				goto usage;
			return prepare(argv[optind], argv[optind + 1]);
		default:
			goto usage;
		}
	}
	if (argc - optind < 2 || depth < 1 || depth > MAX_DEPTH || reps < 1 ||
	    reps > 101 || (ds.overlay && (!ds.backing || !ds.backing_fmt)))
		goto usage;
	log_init("blkbench", LOG_LEVEL_WARN);
	path = argv[optind];
	ds.path = path;
	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &sb) < 0)
		die_errno(path, errno);
	fsize = (uint64_t)sb.st_size;
	if (fsize == 0 || fsize % 4096)
		die("the file's size must be a non-zero multiple of 4096");
	s = malloc(sizeof(*s));
	if (!s)
		die("out of memory");
	/* Rings and headers below 1 MiB, then depth data buffers of up to
	 * 1 MiB each. */
	sim_setup(s, &ds, GPA_DATA + (uint64_t)MAX_DEPTH * (1u << 20));
	bufs = aligned_alloc(4096, (size_t)depth << 20);
	if (!bufs)
		die("out of memory");
	memset(bufs, 0, (size_t)depth << 20);
	printf("# file %s, %" PRIu64 " MiB, queue depth %u, %d runs per side "
	    "(alternating), medians\n", path, fsize >> 20, depth, reps);
	for (int a = optind + 1; a < argc; a++) {
		char name[32];
		unsigned long bs_ul;
		enum workload w = 0;
		double tv[101], tp[101], v, p;
		uint64_t ops, *off;
		uint32_t bs;
		int i;

		if (sscanf(argv[a], "%31[a-z]:%lu", name, &bs_ul) != 2)
			goto usage;
		for (i = 0; i < 4 && strcmp(name, wl_names[i]); i++)
			;
		if (i == 4 || bs_ul == 0 || bs_ul % 4096 || bs_ul > (1u << 20) ||
		    bs_ul > fsize)
			goto usage;
		w = (enum workload)i;
		bs = (uint32_t)bs_ul;
		ops = nops ? nops : (w == SEQREAD || w == SEQWRITE) ?
		    fsize / bs : 65536;
		if (ops > 262144 && !nops)
			ops = 262144;
		off = make_offsets(w, fsize, bs, ops);
		/* One untimed pass each: page cache, page tables, buffers. */
		run_virtio(s, w, bs, depth, off, ops < 1024 ? ops : 1024);
		run_pread(fd, w, bs, depth, off, ops < 1024 ? ops : 1024, bufs);
		for (i = 0; i < reps; i++) {
			tv[i] = run_virtio(s, w, bs, depth, off, ops);
			tp[i] = run_pread(fd, w, bs, depth, off, ops, bufs);
		}
		v = median(tv, reps);
		p = median(tp, reps);
		printf("result %s %u %u %" PRIu64 " %.1f %.0f %.1f %.0f %.3f\n",
		    wl_names[w], bs, depth, ops, (double)ops * bs / v / 1e6,
		    (double)ops / v, (double)ops * bs / p / 1e6,
		    (double)ops / p, p / v);
		fflush(stdout);
		free(off);
	}
	printf("# interrupts raised: %lu\n", s->interrupts);
	pthread_mutex_lock(&s->vd.lock);
	virtio_dev_set_status(&s->vd, 0);
	pthread_mutex_unlock(&s->vd.lock);
	virtio_dev_destroy(&s->vd);
	close(fd);
	free(bufs);
	free(s);
	return 0;
usage:
	fprintf(stderr, "usage: blkbench [-q DEPTH] [-r REPS] [-n OPS] "
	    "[-o OVERLAY -b BACKING -f raw|qcow2] FILE WORKLOAD:BS...\n"
	    "       blkbench -p FILE SIZE_MIB\n"
	    "  WORKLOAD: seqread seqwrite randread randwrite; BS: bytes, "
	    "a multiple of 4096, <= 1 MiB; DEPTH <= %d\n", MAX_DEPTH);
	return 2;
}
