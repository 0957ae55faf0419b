/*
 * blk_qcow2.c: the qcow2 block back end (blk.h, blk_qcow2.h). Reads qcow2
 * v2 and v3 (zlib-compressed clusters, zero clusters, a backing file);
 * writes as a copy-on-write overlay. The format is QEMU's
 * docs/interop/qcow2.txt ("the spec" below; sections are named in quotes).
 *
 * Pinned formats and backing files. The caller says which format an image
 * is, and which file (and format) backs it: blk_qcow2_open_pinned or
 * blk_qcow2_open_over. The backing file name recorded in an image is
 * never opened and never used to guess a format; the image must record a
 * backing file exactly when the caller gives one, and a recorded backing
 * format must equal the pinned one. blk_qcow2_ops.open refuses an image
 * that names a backing file (a KubeVirt containerDisk is a single file).
 *
 * Untrusted images. Every offset read from the image is checked against
 * the file size and the cluster alignment before use, every table size is
 * bounded (cluster_bits 9..21, an L1 table of at most 32 MiB that fits the
 * file, a refcount table of at most 8 MiB that fits the file, qemu's own
 * limits), and a bad entry fails the request with -EIO and a warning that
 * names the file; nothing is asserted.
 *
 * Reading: guest offset -> L1 entry -> L2 table (a small LRU cache of whole
 * L2 clusters) -> data cluster ("Cluster mapping"). A run of clusters that
 * are contiguous in the file is one preadv straight into the guest's
 * iovecs; unallocated clusters read from the backing file (zeros past its
 * end, or with none); zero clusters (v3, bit 0) read as zeros; a
 * compressed cluster is inflated with raw deflate (windowBits -12) into a
 * one-cluster buffer that is kept for the next read.
 *
 * Writing: a cluster that is allocated with refcount exactly one (the
 * COPIED flag, bit 63) is overwritten in place with pwritev. Any other
 * (unallocated, zero, compressed, shared) gets new clusters: a run of them
 * is allocated contiguously at the end of the file, filled in one pwritev
 * with the guest data and, for partly written first and last clusters,
 * the old contents read through the mapping (backing file, zeros,
 * inflated data): the copy-up. Clusters are only ever allocated past the
 * end of the file; clusters freed by discard are given back to the file
 * system with fallocate(PUNCH_HOLE) but not reused (qemu-img check sees no
 * leak: their refcounts drop to 0).
 *
 * Metadata is cached and written back (like QEMU's qcow2 caches): new
 * refcounts, L2 entries, L1 entries live in memory until a flush (a guest
 * flush, close, or too many dirty tables), which writes them in an order
 * that keeps the file consistent if it stops at any point:
 *
 *   0. data clusters are written by the guest write itself (pwritev)
 *   1. refcount blocks (and a moved refcount table, not yet referenced)
 *   2. fdatasync; refcount table entries that name new refcount blocks
 *   3. fdatasync; the header names a moved refcount table (one 12-byte
 *      write of refcount_table_offset and refcount_table_clusters)
 *   4. fdatasync; L2 tables (new entries point at written, counted data)
 *   5. fdatasync; L1 entries that name new L2 tables
 *   6. fdatasync: the flush is durable
 *   7. clusters dropped by those L2 entries (discard, copy-on-write of a
 *      compressed or shared cluster, an old refcount table) get their
 *      refcounts decremented: dirty again, written by the next flush
 *
 * So a crash leaves every L2/L1/refcount-table entry pointing at written
 * data or tables whose refcount is already on disk, and no cluster in use
 * with refcount 0; it can leak clusters (refcount 1, unreferenced: steps
 * 1-5 or 7 lost), which `qemu-img check` reports as leaks (exit 3) and
 * `qemu-img check -r leaks` reclaims. Guest writes not yet flushed may be
 * lost, as the virtio-blk write-back cache (VIRTIO_BLK_F_FLUSH) allows.
 * Steps with nothing to write are skipped: a flush after in-place
 * overwrites is one fdatasync, after allocating writes two (three with a
 * new L2 table).
 *
 * Not supported (refused at open with a message): encryption, external
 * data files, extended L2 entries (subclusters), zstd compression; for
 * writing also internal snapshots (shared clusters), the dirty and corrupt
 * bits. Unknown autoclear feature bits (e.g. persistent bitmaps) are
 * cleared before the first write, as the spec requires. Discard (v3
 * images, read-write) turns whole clusters into zero clusters and zeroes
 * partial ones.
 *
 * Threads: a back end is called by one device I/O thread at a time (the
 * device lock is held, blk.h), so there is no locking here.
 *
 * System calls after open (for the sandbox): preadv, pwritev, fdatasync,
 * fallocate (punching freed clusters), and malloc's, which runs only to
 * grow a cache past its target while every slot is dirty, the list of
 * clusters to free, or the refcount table.
 */
#include "blk_qcow2.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "iov.h"
#include "log.h"

#define QCOW2_MAGIC		0x514649fbu	/* "QFI\xfb" */
#define QCOW2_V2_HEADER		72
#define QCOW2_V3_HEADER		104
#define QCOW2_MIN_CLUSTER_BITS	9
#define QCOW2_MAX_CLUSTER_BITS	21	/* qemu's limit: 2 MiB clusters */
#define QCOW2_MAX_L1_BYTES	(32u << 20)	/* qemu's limit */
#define QCOW2_MAX_RT_BYTES	(8u << 20)	/* qemu's limit */
#define QCOW2_MAX_HOST		(1ull << 56)	/* "Cluster mapping": 56 bits */

/* Header extension types ("Header extensions"). */
#define QCOW2_EXT_END		0x00000000u
#define QCOW2_EXT_BACKING_FMT	0xe2792acau
#define QCOW2_EXT_FEATURES	0x6803f857u

/* incompatible_features bits ("Header", bytes 72-79). */
#define QCOW2_INCOMPAT_DIRTY	(1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT	(1ull << 1)
#define QCOW2_INCOMPAT_DATA	(1ull << 2)
#define QCOW2_INCOMPAT_COMPRESS	(1ull << 3)
#define QCOW2_INCOMPAT_EXTL2	(1ull << 4)
#define QCOW2_INCOMPAT_KNOWN	0x1full

/* L1/L2 entries ("Cluster mapping"). */
#define QCOW2_COPIED		(1ull << 63)
#define QCOW2_COMPRESSED	(1ull << 62)
#define QCOW2_ZERO		(1ull << 0)
#define QCOW2_OFFSET_MASK	0x00fffffffffffe00ull	/* bits 9-55 */
#define QCOW2_L1_RESERVED	0x7f000000000001ffull	/* bits 0-8, 56-62 */
#define QCOW2_L2_RESERVED	0x3f000000000001feull	/* bits 1-8, 56-61 */
#define QCOW2_RT_OFFSET_MASK	0xfffffffffffffe00ull	/* bits 9-63 */

/* Byte offsets of header fields that are rewritten. */
#define QCOW2_HDR_RT_OFFSET	48
#define QCOW2_HDR_AUTOCLEAR	88

#define QCOW2_WARN_MAX		16	/* corruption warnings per image */
#define QCOW2_FREES_MAX		4096	/* queued frees before a flush */

enum qclass { Q_UNALLOC, Q_ZERO, Q_DATA, Q_COMPRESSED };

/* A cache of whole-cluster tables (L2 tables, refcount blocks), kept as
 * on disk (big endian). Only clean slots are evicted; when every slot is
 * dirty the cache grows, and a flush brings it back to its target. */
struct qslot {
	uint64_t off;		/* host offset of the table */
	uint8_t *buf;		/* one cluster */
	uint64_t used;		/* LRU stamp */
	int dirty;
};

struct qcache {
	struct qslot *slot;
	unsigned n;		/* slots in use */
	unsigned target;	/* slots kept after a flush */
	unsigned ndirty;
	uint64_t clock;
};

/* Host clusters whose refcounts drop after the next flush. */
struct qfree {
	uint64_t off;		/* first byte */
	uint64_t len;		/* bytes (every cluster touched counts once) */
	int punch;		/* punch a hole when it reaches 0 */
};

/* The mapping of a run of guest clusters of one kind (q_map). */
struct qrun {
	enum qclass cls;
	int copied;		/* bit 63: refcount exactly one */
	uint64_t host;		/* Q_DATA: host offset of the first byte */
	uint64_t entry;		/* the first cluster's L2 entry */
	uint64_t len;		/* bytes */
};

struct blk_qcow2 {
	struct blk_backend be;		/* first: the ops see a blk_backend */
	int fd;
	char *path;
	struct blk_backend *backing;	/* NULL: none */
	unsigned version;
	unsigned cb;			/* cluster_bits */
	uint64_t cs, cmask;		/* cluster size, cs - 1 */
	unsigned l2_bits;		/* log2 of entries per L2 table */
	unsigned l1_shift;		/* cb + l2_bits */
	unsigned rc_order;		/* refcount_order */
	unsigned rb_bits;		/* log2 of entries per refcount block */
	uint64_t csize_shift, csize_mask, coff_mask; /* compressed entries */
	uint64_t file_end;		/* bytes in the file, as far as we know */
	uint64_t alloc_end;		/* next cluster to allocate */
	uint64_t autoclear;

	uint8_t *l1;			/* l1_size entries, big endian */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint32_t l1_lo, l1_hi;		/* dirty entries [lo, hi) */

	uint8_t *rt;			/* refcount table, big endian */
	uint64_t rt_offset, rt_entries;
	uint32_t rt_clusters;
	uint64_t rt_lo, rt_hi;		/* dirty entries [lo, hi) */
	int rt_moved;			/* header must name a new table */
	int rt_growing;

	struct qcache l2c, rbc;
	struct qfree *frees;
	size_t nfrees, frees_cap;

	uint8_t *bounce;		/* 2 clusters: copy-up head and tail */
	uint8_t *zeros;			/* 1 cluster of zeros (discard) */
	uint8_t *cbuf;			/* 2 clusters: compressed bytes */
	uint8_t *zbuf;			/* 1 cluster: inflated */
	uint64_t zkey;			/* L2 entry inflated in zbuf */
	int zvalid, zinit;
	z_stream zs;

	struct iovec *sv;		/* scratch iovecs: IOV_MAX + 2 */
	int failed;			/* sticky -errno after a failed flush */
	unsigned nwarn;
};

static struct blk_qcow2 *
q_of(struct blk_backend *b)
{
	return (struct blk_qcow2 *)b;
}

/* ---- bytes ---------------------------------------------------------------- */

static uint64_t
ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static uint32_t
ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint16_t
ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static void
st64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static void
st32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void
st16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Copy an image-supplied name for a log line: printable ASCII only. */
static void
q_printable(char *dst, size_t dstlen, const uint8_t *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < dstlen && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[i] = '\0';
}

/* Log a corrupt structure (the first QCOW2_WARN_MAX times): -EIO. */
__attribute__((format(printf, 2, 3)))
static int
q_corrupt(struct blk_qcow2 *q, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (q->nwarn >= QCOW2_WARN_MAX)
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: corrupt qcow2 image: %s%s", q->path, msg,
	    ++q->nwarn == QCOW2_WARN_MAX ? " (no more warnings)" : "");
	return -EIO;
}

/* ---- iovecs and file I/O ----------------------------------------------------- */

/* dst = bytes [skip, skip + len) of iov[0..n): entries used (at most max),
 * or -EINVAL. */
static int
q_iov_slice(const struct iovec *iov, int n, size_t skip, size_t len,
    struct iovec *dst, int max)
{
	int i = 0, k = 0;

	while (i < n && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	while (len > 0) {
		size_t take;

		if (i >= n || k >= max)
			return -EINVAL;
		take = min64(iov[i].iov_len - skip, len);
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[k].iov_len = take;
		k++;
		len -= take;
		skip = 0;
		i++;
	}
	return k;
}

/* Fill bytes [skip, skip + len) of iov with zeros, or copy buf there. */
static void
q_iov_fill(const struct iovec *iov, int n, size_t skip, const uint8_t *buf,
    size_t len)
{
	for (int i = 0; i < n && len > 0; i++) {
		size_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = min64(iov[i].iov_len - skip, len);
		if (buf) {
			memcpy((uint8_t *)iov[i].iov_base + skip, buf, take);
			buf += take;
		} else {
			memset((uint8_t *)iov[i].iov_base + skip, 0, take);
		}
		len -= take;
		skip = 0;
	}
}

/*
 * Move all of v[0..cnt) to or from the file at off; v is used up. Reads
 * past the end of the file give zeros (a last cluster may be short).
 * 0 or -errno.
 */
static int
q_io(struct blk_qcow2 *q, int write, struct iovec *v, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t r;

		if (v->iov_len == 0) {
			v++;
			cnt--;
			continue;
		}
		if (off > (uint64_t)INT64_MAX)
			return -EIO;
		r = write ? pwritev(q->fd, v, cnt > IOV_MAX ? IOV_MAX : cnt,
		    (off_t)off) : preadv(q->fd, v, cnt > IOV_MAX ? IOV_MAX :
		    cnt, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			if (write)
				return -EIO;
			for (; cnt > 0; v++, cnt--)
				memset(v->iov_base, 0, v->iov_len);
			return 0;
		}
		off += (uint64_t)r;
		while (r > 0) {
			size_t take = min64(v->iov_len, (uint64_t)r);

			v->iov_base = (uint8_t *)v->iov_base + take;
			v->iov_len -= take;
			r -= (ssize_t)take;
			if (v->iov_len == 0) {
				v++;
				cnt--;
			}
		}
	}
	if (write)
		q->file_end = max64(q->file_end, off);
	return 0;
}

static int
q_pread(struct blk_qcow2 *q, void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return q_io(q, 0, &v, 1, off);
}

static int
q_pwrite(struct blk_qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	return q_io(q, 1, &v, 1, off);
}

/* Where the file's clusters end: nothing is read at or past this. */
static uint64_t
q_file_limit(const struct blk_qcow2 *q)
{
	return (q->file_end + q->cmask) & ~q->cmask;
}

static int
q_sync(struct blk_qcow2 *q)
{
	while (fdatasync(q->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* ---- table caches ------------------------------------------------------------- */

enum { QC_LOAD, QC_NEW };

static int
qcache_find(const struct qcache *c, uint64_t off)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->slot[i].off == off)
			return (int)i;
	return -1;
}

static void
qcache_dirty(struct qcache *c, int i)
{
	if (!c->slot[i].dirty) {
		c->slot[i].dirty = 1;
		c->ndirty++;
	}
}

/* A slot to (re)use: a free one below target, the LRU clean one, or a new
 * one past target. Index, or -ENOMEM. */
static int
qcache_victim(struct blk_qcow2 *q, struct qcache *c)
{
	struct qslot *s;
	int best = -1;

	if (c->n >= c->target) {
		for (unsigned i = 0; i < c->n; i++)
			if (!c->slot[i].dirty && (best < 0 ||
			    c->slot[i].used < c->slot[best].used))
				best = (int)i;
		if (best >= 0)
			return best;
	}
	s = realloc(c->slot, (c->n + 1) * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	c->slot = s;
	s[c->n].buf = malloc(q->cs);
	if (s[c->n].buf == NULL)
		return -ENOMEM;
	s[c->n].off = 0;
	s[c->n].dirty = 0;
	return (int)c->n++;
}

/*
 * The slot holding the table at off: read from the file (QC_LOAD), or a
 * new zeroed dirty table (QC_NEW). The caller has checked off. Slot index
 * or -errno; the index is good until the next call on this cache.
 */
static int
qcache_get(struct blk_qcow2 *q, struct qcache *c, uint64_t off, int mode)
{
	int i = qcache_find(c, off), err;

	if (i < 0) {
		i = qcache_victim(q, c);
		if (i < 0)
			return i;
		c->slot[i].off = 0;
		if (mode == QC_LOAD) {
			/* New tables stay cached until written: one to load
			 * must be in the file. */
			if (off > q_file_limit(q) - q->cs)
				return q_corrupt(q, "table at %#llx past the "
				    "end of the file", (unsigned long long)off);
			err = q_pread(q, c->slot[i].buf, q->cs, off);
			if (err < 0)
				return err;
		}
		c->slot[i].off = off;
	}
	if (mode == QC_NEW) {
		memset(c->slot[i].buf, 0, q->cs);
		qcache_dirty(c, i);
	}
	c->slot[i].used = ++c->clock;
	return i;
}

/* Write every dirty slot back. 0 or -errno. */
static int
qcache_write(struct blk_qcow2 *q, struct qcache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		int err;

		if (!c->slot[i].dirty)
			continue;
		err = q_pwrite(q, c->slot[i].buf, q->cs, c->slot[i].off);
		if (err < 0)
			return err;
		c->slot[i].dirty = 0;
		c->ndirty--;
	}
	return 0;
}

/* Free clean slots past the target (after a flush). */
static void
qcache_trim(struct qcache *c)
{
	unsigned i = 0;

	while (c->n > c->target && i < c->n) {
		if (c->slot[i].dirty) {
			i++;
			continue;
		}
		free(c->slot[i].buf);
		c->slot[i] = c->slot[--c->n];
	}
}

static void
qcache_free(struct qcache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->slot[i].buf);
	free(c->slot);
	memset(c, 0, sizeof(*c));
}

/* ---- refcounts ("Host cluster management") ------------------------------------ */

static uint64_t
q_rc_read(const struct blk_qcow2 *q, const uint8_t *blk, uint64_t i)
{
	unsigned bits = 1u << q->rc_order;

	switch (q->rc_order) {
	case 0: case 1: case 2:
		/* Sub-byte widths: bit 0 is the least significant. */
		return (blk[i * bits / 8] >> (i * bits % 8)) &
		    ((1u << bits) - 1);
	case 3:
		return blk[i];
	case 4:
		return ld16(blk + 2 * i);
	case 5:
		return ld32(blk + 4 * i);
	default:
		return ld64(blk + 8 * i);
	}
}

static void
q_rc_write(const struct blk_qcow2 *q, uint8_t *blk, uint64_t i, uint64_t v)
{
	unsigned bits = 1u << q->rc_order, shift;
	uint8_t mask;

	switch (q->rc_order) {
	case 0: case 1: case 2:
		shift = (unsigned)(i * bits % 8);
		mask = (uint8_t)(((1u << bits) - 1) << shift);
		blk[i * bits / 8] = (uint8_t)((blk[i * bits / 8] & ~mask) |
		    ((v << shift) & mask));
		break;
	case 3:
		blk[i] = (uint8_t)v;
		break;
	case 4:
		st16(blk + 2 * i, (uint16_t)v);
		break;
	case 5:
		st32(blk + 4 * i, (uint32_t)v);
		break;
	default:
		st64(blk + 8 * i, v);
		break;
	}
}

static void
q_rt_dirty(struct blk_qcow2 *q, uint64_t ti)
{
	if (q->rt_hi <= q->rt_lo) {
		q->rt_lo = ti;
		q->rt_hi = ti + 1;
		return;
	}
	q->rt_lo = min64(q->rt_lo, ti);
	q->rt_hi = max64(q->rt_hi, ti + 1);
}

static int q_rc_set(struct blk_qcow2 *q, uint64_t ci, uint64_t v, int depth);

/* Queue host bytes [off, off + len) to be freed after the next flush. */
static int
q_push_free(struct blk_qcow2 *q, uint64_t off, uint64_t len, int punch)
{
	if (q->nfrees == q->frees_cap) {
		size_t cap = q->frees_cap ? 2 * q->frees_cap : 64;
		struct qfree *f = realloc(q->frees, cap * sizeof(*f));

		if (f == NULL)
			return -ENOMEM;
		q->frees = f;
		q->frees_cap = cap;
	}
	q->frees[q->nfrees++] = (struct qfree){ off, len, punch };
	return 0;
}

/*
 * Move the refcount table to a larger one at the end of the file that
 * covers entry ti, itself and the refcount blocks it may need. The old
 * table is freed after the flush that switches the header over.
 */
static int
q_rt_grow(struct blk_qcow2 *q, uint64_t ti, int depth)
{
	uint64_t per = q->cs / 8, clusters, off, last;
	uint8_t *nt;
	int err = 0;

	clusters = max64(2ull * q->rt_clusters, (ti + per) / per);
	for (;;) {
		off = q->alloc_end;
		/* Room for the refcount blocks that count the new table. */
		last = ((off + (clusters + (clusters >> q->rb_bits) + 4) *
		    q->cs) >> q->cb) >> q->rb_bits;
		if ((ti < clusters * per && last < clusters * per) ||
		    clusters * q->cs > QCOW2_MAX_RT_BYTES)
			break;
		clusters++;
	}
	if (clusters * q->cs > QCOW2_MAX_RT_BYTES ||
	    off + clusters * q->cs > QCOW2_MAX_HOST) {
		log_warnx("%s: refcount table full (%llu clusters)", q->path,
		    (unsigned long long)q->rt_clusters);
		return -ENOSPC;
	}
	nt = calloc(clusters, q->cs);
	if (nt == NULL)
		return -ENOMEM;
	err = q_push_free(q, q->rt_offset, (uint64_t)q->rt_clusters * q->cs,
	    1);
	if (err < 0) {
		free(nt);
		return err;
	}
	memcpy(nt, q->rt, q->rt_clusters * q->cs);
	free(q->rt);
	q->rt = nt;
	q->rt_offset = off;
	q->rt_clusters = (uint32_t)clusters;
	q->rt_entries = clusters * per;
	q->rt_moved = 1;
	q->rt_lo = q->rt_hi = 0;
	q->alloc_end = off + clusters * q->cs;
	q->rt_growing = 1;
	for (uint64_t i = 0; i < clusters; i++) {
		err = q_rc_set(q, (off >> q->cb) + i, 1, depth + 1);
		if (err < 0)
			break;
	}
	q->rt_growing = 0;
	return err;
}

/* The host offset of refcount block ti (0: none), checked. */
static int
q_rt_entry(struct blk_qcow2 *q, uint64_t ti, uint64_t *off)
{
	uint64_t e = ld64(q->rt + 8 * ti);

	*off = e & QCOW2_RT_OFFSET_MASK;
	if (e & ~QCOW2_RT_OFFSET_MASK)
		return q_corrupt(q, "refcount table entry %llu has reserved "
		    "bits set", (unsigned long long)ti);
	if (*off && ((*off & q->cmask) || *off < q->cs ||
	    *off > q->alloc_end - q->cs))
		return q_corrupt(q, "refcount block %#llx outside the file "
		    "or unaligned", (unsigned long long)*off);
	return 0;
}

/* A new refcount block for table entry ti, at the end of the file. */
static int
q_rc_new_block(struct blk_qcow2 *q, uint64_t ti, int depth)
{
	uint64_t off = q->alloc_end;
	int i;

	if (off + q->cs > QCOW2_MAX_HOST)
		return -ENOSPC;
	q->alloc_end += q->cs;
	i = qcache_get(q, &q->rbc, off, QC_NEW);
	if (i < 0)
		return i;
	st64(q->rt + 8 * ti, off);
	q_rt_dirty(q, ti);
	/* Its own refcount: usually in itself (it covers the file's end). */
	return q_rc_set(q, off >> q->cb, 1, depth + 1);
}

/*
 * The cache slot of the refcount block for cluster ci (-ENOENT if there is
 * none and !create), and ci's index in it.
 */
static int
q_rc_block(struct blk_qcow2 *q, uint64_t ci, int create, int depth,
    uint64_t *idx)
{
	uint64_t ti = ci >> q->rb_bits, off;
	int err;

	*idx = ci & ((1ull << q->rb_bits) - 1);
	if (depth > 8)
		return q_corrupt(q, "refcount structure does not converge");
	if (ti >= q->rt_entries) {
		if (!create)
			return -ENOENT;
		if (q->rt_growing)
			return -EIO;
		err = q_rt_grow(q, ti, depth);
		if (err < 0)
			return err;
	}
	err = q_rt_entry(q, ti, &off);
	if (err < 0)
		return err;
	if (off == 0) {
		if (!create)
			return -ENOENT;
		err = q_rc_new_block(q, ti, depth);
		if (err < 0)
			return err;
		off = ld64(q->rt + 8 * ti);
	}
	return qcache_get(q, &q->rbc, off, QC_LOAD);
}

static int
q_rc_set(struct blk_qcow2 *q, uint64_t ci, uint64_t v, int depth)
{
	uint64_t idx;
	int i = q_rc_block(q, ci, 1, depth, &idx);

	if (i < 0)
		return i;
	q_rc_write(q, q->rbc.slot[i].buf, idx, v);
	qcache_dirty(&q->rbc, i);
	return 0;
}

/* Cluster ci's refcount in *v. 0 or -errno. */
static int
q_rc_get(struct blk_qcow2 *q, uint64_t ci, uint64_t *v)
{
	uint64_t idx;
	int i = q_rc_block(q, ci, 0, 0, &idx);

	*v = 0;
	if (i == -ENOENT)
		return 0;
	if (i < 0)
		return i;
	*v = q_rc_read(q, q->rbc.slot[i].buf, idx);
	return 0;
}

/* Decrement cluster ci's refcount: the new value, or -errno. */
static int64_t
q_rc_dec(struct blk_qcow2 *q, uint64_t ci)
{
	uint64_t idx, v;
	int i = q_rc_block(q, ci, 0, 0, &idx);

	if (i == -ENOENT)
		v = 0;
	else if (i < 0)
		return i;
	else
		v = q_rc_read(q, q->rbc.slot[i].buf, idx);
	if (v == 0)
		return q_corrupt(q, "freeing cluster %#llx with refcount 0",
		    (unsigned long long)(ci << q->cb));
	q_rc_write(q, q->rbc.slot[i].buf, idx, v - 1);
	qcache_dirty(&q->rbc, i);
	return (int64_t)(v - 1);
}

/* n contiguous new clusters at the end of the file, refcount 1. */
static int
q_alloc(struct blk_qcow2 *q, uint64_t n, uint64_t *off)
{
	uint64_t first = q->alloc_end;
	int err;

	if (first >= QCOW2_MAX_HOST || n > (QCOW2_MAX_HOST - first) >> q->cb) {
		log_warnx("%s: image file would pass 64 PiB", q->path);
		return -ENOSPC;
	}
	q->alloc_end += n << q->cb;
	for (uint64_t i = 0; i < n; i++) {
		err = q_rc_set(q, (first >> q->cb) + i, 1, 0);
		if (err < 0)
			return err;
	}
	*off = first;
	return 0;
}

/* Queue the clusters behind an old L2 entry to be freed after the next
 * flush (they are referenced until the new entry is on disk). */
static int
q_free_later(struct blk_qcow2 *q, const struct qrun *old)
{
	uint64_t off, len;
	int punch = 1;

	if (old->cls == Q_COMPRESSED) {
		uint64_t nsec = ((old->entry >> q->csize_shift) &
		    q->csize_mask) + 1;

		/* As counted by qemu: the sectors from the one holding the
		 * first byte ("Compressed Clusters Descriptor"). */
		off = old->host & ~511ull;
		len = nsec * 512;
		punch = 0;
	} else {
		off = old->entry & QCOW2_OFFSET_MASK;
		len = q->cs;
	}
	if (off == 0)
		return 0;
	return q_push_free(q, off, len, punch);
}

/* Step 7 of the flush: drop the refcounts of queued clusters. A failure
 * only leaks clusters. */
static void
q_apply_frees(struct blk_qcow2 *q)
{
	for (size_t k = 0; k < q->nfrees; k++) {
		const struct qfree *f = &q->frees[k];
		uint64_t c = f->off >> q->cb;
		uint64_t last = (f->off + f->len - 1) >> q->cb;

		for (; c <= last; c++) {
			int64_t v = q_rc_dec(q, c);

			if (v == 0 && f->punch)
				(void)fallocate(q->fd, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, (off_t)(c << q->cb),
				    (off_t)q->cs);
		}
	}
	q->nfrees = 0;
}

/* ---- flushing metadata (the order is in the comment at the top) --------------- */

static int
q_write_header_rt(struct blk_qcow2 *q)
{
	uint8_t b[12];

	st64(b, q->rt_offset);
	st32(b + 8, q->rt_clusters);
	return q_pwrite(q, b, sizeof(b), QCOW2_HDR_RT_OFFSET);
}

static int
q_flush_refcounts(struct blk_qcow2 *q)
{
	int err = 0;

	/* 1. Refcount blocks, and a moved table (unreferenced until 3). */
	if (q->rbc.ndirty)
		err = qcache_write(q, &q->rbc);
	if (err == 0 && q->rt_moved)
		err = q_pwrite(q, q->rt, (size_t)q->rt_clusters * q->cs,
		    q->rt_offset);
	/* 2. Entries naming new blocks, after the blocks. */
	if (err == 0 && !q->rt_moved && q->rt_hi > q->rt_lo) {
		err = q_sync(q);
		if (err == 0)
			err = q_pwrite(q, q->rt + 8 * q->rt_lo,
			    8 * (q->rt_hi - q->rt_lo), q->rt_offset +
			    8 * q->rt_lo);
	}
	/* 3. The header names the moved table, after the table. */
	if (err == 0 && q->rt_moved) {
		err = q_sync(q);
		if (err == 0)
			err = q_write_header_rt(q);
	}
	if (err == 0) {
		q->rt_moved = 0;
		q->rt_lo = q->rt_hi = 0;
	}
	return err;
}

static int
q_flush_mapping(struct blk_qcow2 *q)
{
	int err = 0;

	if (q->l2c.ndirty == 0 && q->l1_hi <= q->l1_lo)
		return 0;
	/* 4. L2 tables, after the data and refcounts they point at. */
	err = q_sync(q);
	if (err == 0)
		err = qcache_write(q, &q->l2c);
	/* 5. L1 entries, after the new L2 tables. */
	if (err == 0 && q->l1_hi > q->l1_lo) {
		err = q_sync(q);
		if (err == 0)
			err = q_pwrite(q, q->l1 + 8 * (uint64_t)q->l1_lo,
			    8 * (size_t)(q->l1_hi - q->l1_lo), q->l1_offset +
			    8 * (uint64_t)q->l1_lo);
		if (err == 0)
			q->l1_lo = q->l1_hi = 0;
	}
	return err;
}

static int
q_flush_meta(struct blk_qcow2 *q)
{
	int err;

	if (q->failed)
		return q->failed;
	err = q_flush_refcounts(q);
	if (err == 0)
		err = q_flush_mapping(q);
	if (err == 0)
		err = q_sync(q);		/* 6. */
	if (err < 0) {
		log_warnx("%s: writing metadata: %s; no more writes",
		    q->path, strerror(-err));
		q->failed = err;
		return err;
	}
	q_apply_frees(q);			/* 7. */
	qcache_trim(&q->l2c);
	qcache_trim(&q->rbc);
	return 0;
}

/* After a write: flush when the caches have grown past their targets. */
static int
q_maybe_flush(struct blk_qcow2 *q)
{
	if (q->l2c.n <= q->l2c.target && q->rbc.n <= q->rbc.target &&
	    q->nfrees < QCOW2_FREES_MAX)
		return 0;
	return q_flush_meta(q);
}

/* ---- mapping ("Cluster mapping") ----------------------------------------------- */

/* The L2 table for L1 entry l1i: its cache slot, or -ENOENT if the entry
 * is unallocated; *off its host offset. */
static int
q_l2_load(struct blk_qcow2 *q, uint64_t l1i, uint64_t *off)
{
	uint64_t e;

	if (l1i >= q->l1_size)
		return q_corrupt(q, "guest offset past the L1 table");
	e = ld64(q->l1 + 8 * l1i);
	*off = e & QCOW2_OFFSET_MASK;
	if (e & QCOW2_L1_RESERVED)
		return q_corrupt(q, "L1 entry %llu has reserved bits set",
		    (unsigned long long)l1i);
	if (*off == 0)
		return -ENOENT;
	if ((*off & q->cmask) || *off < q->cs || *off > q->alloc_end - q->cs)
		return q_corrupt(q, "L2 table %#llx outside the file or "
		    "unaligned", (unsigned long long)*off);
	return qcache_get(q, &q->l2c, *off, QC_LOAD);
}

/* Decode one L2 entry ("L2 table entry", "Standard/Compressed Cluster
 * Descriptor") into r (len not set). */
static int
q_entry(struct blk_qcow2 *q, uint64_t e, struct qrun *r)
{
	uint64_t host;

	r->entry = e;
	r->copied = !!(e & QCOW2_COPIED);
	if (e & QCOW2_COMPRESSED) {
		host = e & q->coff_mask;
		if (r->copied || host >= QCOW2_MAX_HOST || host < q->cs ||
		    host >= q->file_end)
			return q_corrupt(q, "compressed cluster entry %#llx",
			    (unsigned long long)e);
		r->cls = Q_COMPRESSED;
		r->host = host;
		return 0;
	}
	host = e & QCOW2_OFFSET_MASK;
	if ((e & QCOW2_L2_RESERVED) || (host & q->cmask) ||
	    (host && (host < q->cs || host >= q_file_limit(q))))
		return q_corrupt(q, "L2 entry %#llx: reserved bits, unaligned "
		    "or outside the file", (unsigned long long)e);
	if (e & QCOW2_ZERO) {
		if (q->version < 3)
			return q_corrupt(q, "zero cluster in a version 2 "
			    "image");
		r->cls = Q_ZERO;
	} else {
		r->cls = host ? Q_DATA : Q_UNALLOC;
	}
	r->host = host;
	return 0;
}

/* Whether next continues run r (first cluster at offset `in` into its
 * cluster, done bytes so far): same kind, and contiguous data. For writes
 * the kinds are "overwrite in place" and "allocate". */
static int
q_same_run(const struct qrun *r, const struct qrun *next, uint64_t done,
    int write)
{
	int in_place = r->cls == Q_DATA && r->copied;

	if (write) {
		if (in_place != (next->cls == Q_DATA && next->copied))
			return 0;
		return !in_place || next->host == r->host + done;
	}
	if (next->cls != r->cls || r->cls == Q_COMPRESSED)
		return 0;
	return r->cls != Q_DATA || next->host == r->host + done;
}

/*
 * The mapping of guest bytes [goff, goff + len) up to the first change of
 * kind or the end of the L2 table: r, with r->len bytes (> 0).
 */
static int
q_map(struct blk_qcow2 *q, uint64_t goff, uint64_t len, int write,
    struct qrun *r)
{
	uint64_t in = goff & q->cmask, l1i = goff >> q->l1_shift;
	uint64_t room = ((l1i + 1) << q->l1_shift) - goff, done, l2off;
	uint64_t l2i = (goff >> q->cb) & ((1ull << q->l2_bits) - 1);
	const uint8_t *l2;
	int i, err;

	len = min64(len, room);
	i = q_l2_load(q, l1i, &l2off);
	if (i == -ENOENT) {
		memset(r, 0, sizeof(*r));
		r->cls = Q_UNALLOC;
		r->len = len;
		return 0;
	}
	if (i < 0)
		return i;
	l2 = q->l2c.slot[i].buf;
	err = q_entry(q, ld64(l2 + 8 * l2i), r);
	if (err < 0)
		return err;
	if (r->cls == Q_DATA)
		r->host += in;
	done = min64(len, q->cs - in);
	while (done < len) {
		struct qrun next;

		l2i++;
		/* A bad entry ends the run; the next call reports it. */
		if (q_entry(q, ld64(l2 + 8 * l2i), &next) < 0 ||
		    !q_same_run(r, &next, done, write))
			break;
		done += min64(len - done, q->cs);
	}
	r->len = done;
	return 0;
}

/* ---- reading ------------------------------------------------------------------ */

/* Unallocated clusters: the backing file up to its end, then zeros. */
static int
q_read_backing(struct blk_qcow2 *q, const struct iovec *iov, int n,
    size_t skip, uint64_t goff, uint64_t len)
{
	struct blk_backend *b = q->backing;
	uint64_t blen = 0;
	int cnt;

	if (b && goff < b->size)
		blen = min64(len, b->size - goff);
	if (blen) {
		ssize_t r;

		cnt = q_iov_slice(iov, n, skip, blen, q->sv, IOV_MAX);
		if (cnt < 0)
			return cnt;
		r = b->ops->preadv(b, q->sv, cnt, goff);
		if (r < 0)
			return (int)r;
		if ((uint64_t)r != blen)
			return -EIO;
	}
	if (len > blen)
		q_iov_fill(iov, n, skip + blen, NULL, len - blen);
	return 0;
}

/* Inflate the compressed cluster of L2 entry r into q->zbuf. */
static int
q_inflate(struct blk_qcow2 *q, const struct qrun *r)
{
	uint64_t nsec = ((r->entry >> q->csize_shift) & q->csize_mask) + 1;
	uint64_t clen = nsec * 512 - (r->host & 511);
	int err, zr;

	if (q->zvalid && q->zkey == r->entry)
		return 0;
	q->zvalid = 0;
	clen = min64(clen, q->file_end - r->host);
	err = q_pread(q, q->cbuf, clen, r->host);
	if (err < 0)
		return err;
	if (inflateReset(&q->zs) != Z_OK)
		return -EIO;
	q->zs.next_in = q->cbuf;
	q->zs.avail_in = (uInt)clen;
	q->zs.next_out = q->zbuf;
	q->zs.avail_out = (uInt)q->cs;
	zr = inflate(&q->zs, Z_FINISH);
	/* Done when a whole cluster came out; trailing bytes are allowed. */
	if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || q->zs.avail_out)
		return q_corrupt(q, "compressed cluster at %#llx does not "
		    "inflate to a cluster", (unsigned long long)r->host);
	q->zkey = r->entry;
	q->zvalid = 1;
	return 0;
}

/* Guest bytes [goff, goff + len) into bytes [skip, ...) of iov. */
static int
q_read(struct blk_qcow2 *q, const struct iovec *iov, int n, size_t skip,
    uint64_t goff, uint64_t len)
{
	while (len > 0) {
		struct qrun r;
		int err = q_map(q, goff, len, 0, &r), cnt;

		if (err < 0)
			return err;
		switch (r.cls) {
		case Q_DATA:
			cnt = q_iov_slice(iov, n, skip, r.len, q->sv, IOV_MAX);
			err = cnt < 0 ? cnt : q_io(q, 0, q->sv, cnt, r.host);
			break;
		case Q_ZERO:
			q_iov_fill(iov, n, skip, NULL, r.len);
			break;
		case Q_UNALLOC:
			err = q_read_backing(q, iov, n, skip, goff, r.len);
			break;
		case Q_COMPRESSED:
			err = q_inflate(q, &r);
			if (err == 0)
				q_iov_fill(iov, n, skip, q->zbuf +
				    (goff & q->cmask), r.len);
			break;
		}
		if (err < 0)
			return err;
		skip += r.len;
		goff += r.len;
		len -= r.len;
	}
	return 0;
}

static int
q_read_buf(struct blk_qcow2 *q, uint8_t *buf, uint64_t len, uint64_t goff)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return q_read(q, &v, 1, 0, goff, len);
}

/* Whether [off, off + len) is a request the guest may make. */
static ssize_t
q_check_request(struct blk_qcow2 *q, const struct iovec *iov, int n,
    uint64_t off)
{
	ssize_t total = iov_total(iov, n, IOV_MAX);

	if (total < 0)
		return total;
	if (off > q->be.size || (uint64_t)total > q->be.size - off)
		return -EINVAL;
	return total;
}

static ssize_t
blk_qcow2_preadv(struct blk_backend *b, const struct iovec *iov, int n,
    uint64_t off)
{
	struct blk_qcow2 *q = q_of(b);
	ssize_t total = q_check_request(q, iov, n, off);
	int err;

	if (total <= 0)
		return total;
	err = q_read(q, iov, n, 0, off, (uint64_t)total);
	return err < 0 ? err : total;
}

/* ---- writing ------------------------------------------------------------------ */

static void
q_l1_dirty(struct blk_qcow2 *q, uint32_t l1i)
{
	if (q->l1_hi <= q->l1_lo) {
		q->l1_lo = l1i;
		q->l1_hi = l1i + 1;
		return;
	}
	if (l1i < q->l1_lo)
		q->l1_lo = l1i;
	if (l1i + 1 > q->l1_hi)
		q->l1_hi = l1i + 1;
}

/* The host offset of a writable L2 table for l1i, allocated if needed. */
static int
q_l2_prepare(struct blk_qcow2 *q, uint64_t l1i, uint64_t *off)
{
	int i = q_l2_load(q, l1i, off), err;
	uint64_t rc;

	if (i >= 0) {
		if (ld64(q->l1 + 8 * l1i) & QCOW2_COPIED)
			return 0;
		/* No COPIED flag: writable only if nothing else uses it
		 * (then the flag is set, as qemu-img check -r would). */
		err = q_rc_get(q, *off >> q->cb, &rc);
		if (err < 0)
			return err;
		if (rc != 1)
			return q_corrupt(q, "L2 table %#llx has refcount "
			    "%llu (an internal snapshot?): cannot write",
			    (unsigned long long)*off, (unsigned long long)rc);
		st64(q->l1 + 8 * l1i, *off | QCOW2_COPIED);
		q_l1_dirty(q, (uint32_t)l1i);
		return 0;
	}
	if (i != -ENOENT)
		return i;
	err = q_alloc(q, 1, off);
	if (err < 0)
		return err;
	i = qcache_get(q, &q->l2c, *off, QC_NEW);
	if (i < 0)
		return i;
	st64(q->l1 + 8 * l1i, *off | QCOW2_COPIED);
	q_l1_dirty(q, (uint32_t)l1i);
	return 0;
}

/*
 * Point the L2 entries of guest clusters [g, g + n) (one L2 table) at new
 * host clusters from host on (0: zero clusters); the old clusters are freed
 * after the next flush.
 */
static int
q_l2_set(struct blk_qcow2 *q, uint64_t l2off, uint64_t g, uint64_t n,
    uint64_t host)
{
	int i = qcache_get(q, &q->l2c, l2off, QC_LOAD), err;
	uint64_t mask = (1ull << q->l2_bits) - 1;

	if (i < 0)
		return i;
	for (uint64_t k = 0; k < n; k++) {
		uint8_t *p = q->l2c.slot[i].buf + 8 * (((g >> q->cb) + k) &
		    mask);
		struct qrun old;

		err = q_entry(q, ld64(p), &old);
		if (err == 0 && old.cls != Q_UNALLOC)
			err = q_free_later(q, &old);
		if (err < 0)
			return err;
		st64(p, host ? (host + (k << q->cb)) | QCOW2_COPIED :
		    QCOW2_ZERO);
	}
	qcache_dirty(&q->l2c, i);
	return 0;
}

/*
 * Write guest bytes [goff, goff + len) (clusters of one L2 table that need
 * allocating) to new clusters, copying up the rest of the first and last
 * cluster from the old mapping.
 */
static int
q_write_alloc(struct blk_qcow2 *q, const struct iovec *iov, int n,
    size_t skip, uint64_t goff, uint64_t len)
{
	uint64_t cstart = goff & ~q->cmask;
	uint64_t cend = (goff + len + q->cmask) & ~q->cmask;
	uint64_t head = goff - cstart, tail = cend - goff - len, l2off = 0, host = 0;
	int err, k = 0, cnt;

	err = q_l2_prepare(q, goff >> q->l1_shift, &l2off);
	if (err == 0 && head)
		err = q_read_buf(q, q->bounce, head, cstart);
	if (err == 0 && tail)
		err = q_read_buf(q, q->bounce + q->cs, tail, goff + len);
	if (err == 0)
		err = q_alloc(q, (cend - cstart) >> q->cb, &host);
	if (err < 0)
		return err;
	if (head)
		q->sv[k++] = (struct iovec){ q->bounce, head };
	cnt = q_iov_slice(iov, n, skip, len, q->sv + k, IOV_MAX);
	if (cnt < 0)
		return cnt;
	k += cnt;
	if (tail)
		q->sv[k++] = (struct iovec){ q->bounce + q->cs, tail };
	err = q_io(q, 1, q->sv, k, host);
	if (err < 0)
		return err;
	return q_l2_set(q, l2off, cstart, (cend - cstart) >> q->cb, host);
}

/* Write guest bytes [goff, goff + len) from bytes [skip, ...) of iov. */
static int
q_write(struct blk_qcow2 *q, const struct iovec *iov, int n, size_t skip,
    uint64_t goff, uint64_t len)
{
	while (len > 0) {
		struct qrun r;
		int err = q_map(q, goff, len, 1, &r), cnt;

		if (err < 0)
			return err;
		if (r.cls == Q_DATA && r.copied) {
			cnt = q_iov_slice(iov, n, skip, r.len, q->sv, IOV_MAX);
			err = cnt < 0 ? cnt : q_io(q, 1, q->sv, cnt, r.host);
		} else {
			err = q_write_alloc(q, iov, n, skip, goff, r.len);
		}
		if (err < 0)
			return err;
		skip += r.len;
		goff += r.len;
		len -= r.len;
	}
	return 0;
}

static ssize_t
blk_qcow2_pwritev(struct blk_backend *b, const struct iovec *iov, int n,
    uint64_t off)
{
	struct blk_qcow2 *q = q_of(b);
	ssize_t total = q_check_request(q, iov, n, off);
	int err;

	if (b->ro)
		return -EROFS;
	if (q->failed)
		return q->failed;
	if (total <= 0)
		return total;
	err = q_write(q, iov, n, 0, off, (uint64_t)total);
	if (err == 0)
		err = q_maybe_flush(q);
	return err < 0 ? err : total;
}

static int
blk_qcow2_flush(struct blk_backend *b)
{
	struct blk_qcow2 *q = q_of(b);

	if (b->ro)
		return 0;
	return q_flush_meta(q);
}

/* ---- discard ------------------------------------------------------------------ */

/* Make the whole guest cluster at goff a zero cluster (v3). */
static int
q_discard_cluster(struct blk_qcow2 *q, uint64_t goff)
{
	uint64_t l2off;
	struct qrun r;
	int err = q_map(q, goff, q->cs, 1, &r);

	if (err < 0)
		return err;
	if (r.cls == Q_ZERO && r.host == 0)
		return 0;
	if (r.cls == Q_UNALLOC && (!q->backing || goff >= q->backing->size))
		return 0;	/* reads as zeros already */
	err = q_l2_prepare(q, goff >> q->l1_shift, &l2off);
	if (err < 0)
		return err;
	return q_l2_set(q, l2off, goff, 1, 0);
}

/* Discard: whole clusters become zero clusters (their host clusters are
 * freed and punched after the next flush); partial ones are zeroed. */
static int
blk_qcow2_discard(struct blk_backend *b, uint64_t off, uint64_t len)
{
	struct blk_qcow2 *q = q_of(b);
	struct iovec z = { .iov_base = NULL, .iov_len = 0 };
	int err = 0;

	if (b->ro)
		return -EROFS;
	if (!b->can_discard)
		return -EOPNOTSUPP;
	if (q->failed)
		return q->failed;
	if (off > b->size || len > b->size - off)
		return -EINVAL;
	while (len > 0 && err == 0) {
		uint64_t in = off & q->cmask, piece = min64(len, q->cs - in);

		/* A cluster cut by the end of the disk counts as whole. */
		if (in == 0 && (piece == q->cs || off + piece == b->size)) {
			err = q_discard_cluster(q, off);
		} else {
			z.iov_base = q->zeros;
			z.iov_len = piece;
			err = q_write(q, &z, 1, 0, off, piece);
		}
		off += piece;
		len -= piece;
	}
	if (err == 0)
		err = q_maybe_flush(q);
	return err;
}

/* ---- opening ------------------------------------------------------------------ */

struct qhdr {
	uint32_t version, cluster_bits, backing_len, crypt, l1_size;
	uint32_t rt_clusters, nb_snapshots, refcount_order, header_length;
	uint64_t backing_off, size, l1_offset, rt_offset;
	uint64_t incompat, compat, autoclear;
	uint8_t compression_type;
	const uint8_t *features;	/* feature name table, or NULL */
	uint32_t features_len;
	char backing_fmt[32];		/* "" if not recorded */
	int has_backing_fmt;
};

/* The fields of the header ("Header"); buf holds the first 112 bytes of
 * the file (zero-padded). */
static int
q_parse_header(struct blk_qcow2 *q, const uint8_t *buf, uint64_t fsize,
    struct qhdr *h)
{
	memset(h, 0, sizeof(*h));
	if (fsize < QCOW2_V2_HEADER || ld32(buf) != QCOW2_MAGIC) {
		log_warnx("%s: not a qcow2 image (no QFI\\xfb magic)", q->path);
		return -EINVAL;
	}
	h->version = ld32(buf + 4);
	h->backing_off = ld64(buf + 8);
	h->backing_len = ld32(buf + 16);
	h->cluster_bits = ld32(buf + 20);
	h->size = ld64(buf + 24);
	h->crypt = ld32(buf + 32);
	h->l1_size = ld32(buf + 36);
	h->l1_offset = ld64(buf + 40);
	h->rt_offset = ld64(buf + 48);
	h->rt_clusters = ld32(buf + 56);
	h->nb_snapshots = ld32(buf + 60);
	h->refcount_order = 4;
	h->header_length = QCOW2_V2_HEADER;
	if (h->version != 2 && h->version != 3) {
		log_warnx("%s: qcow2 version %u (only 2 and 3 are known)",
		    q->path, h->version);
		return -EINVAL;
	}
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
		log_warnx("%s: cluster_bits %u outside %u..%u", q->path,
		    h->cluster_bits, QCOW2_MIN_CLUSTER_BITS,
		    QCOW2_MAX_CLUSTER_BITS);
		return -EINVAL;
	}
	if (h->version == 3) {
		h->incompat = ld64(buf + 72);
		h->compat = ld64(buf + 80);
		h->autoclear = ld64(buf + 88);
		h->refcount_order = ld32(buf + 96);
		h->header_length = ld32(buf + 100);
		if (h->header_length < QCOW2_V3_HEADER ||
		    h->header_length % 8 ||
		    h->header_length > (1u << h->cluster_bits) ||
		    h->header_length > fsize) {
			log_warnx("%s: bad header_length %u", q->path,
			    h->header_length);
			return -EINVAL;
		}
		if (h->header_length > 104)
			h->compression_type = buf[104];
	}
	return 0;
}

static void
q_feature_name(const struct qhdr *h, unsigned bit, char *name, size_t len)
{
	static const char *const known[] = { "dirty bit", "corrupt bit",
	    "external data file", "compression type",
	    "extended L2 entries" };

	snprintf(name, len, "%s", bit < 5 ? known[bit] : "unknown");
	for (uint32_t o = 0; h->features && o + 48 <= h->features_len;
	    o += 48)
		if (h->features[o] == 0 && h->features[o + 1] == bit)
			q_printable(name, len, h->features + o + 2, 46);
}

/* Header extensions ("Header extensions") from header_length to the end
 * of the first cluster (or the backing file name). */
static int
q_parse_extensions(struct blk_qcow2 *q, const uint8_t *buf, uint64_t end,
    struct qhdr *h)
{
	uint64_t pos = h->header_length;

	while (pos + 8 <= end) {
		uint32_t type = ld32(buf + pos), len = ld32(buf + pos + 4);

		if (type == QCOW2_EXT_END)
			break;
		if (len > end - pos - 8) {
			log_warnx("%s: header extension %#x runs past the "
			    "header cluster", q->path, type);
			return -EINVAL;
		}
		if (type == QCOW2_EXT_BACKING_FMT && !h->has_backing_fmt) {
			if (len == 0 || len >= sizeof(h->backing_fmt)) {
				log_warnx("%s: backing format name of %u "
				    "bytes", q->path, len);
				return -EINVAL;
			}
			q_printable(h->backing_fmt, len + 1, buf + pos + 8,
			    len);
			h->has_backing_fmt = 1;
		} else if (type == QCOW2_EXT_FEATURES && !h->features) {
			h->features = buf + pos + 8;
			h->features_len = len;
		}
		pos += 8 + (((uint64_t)len + 7) & ~7ull);
	}
	return 0;
}

/* Refuse what this back end cannot read (or write) correctly. */
static int
q_check_features(struct blk_qcow2 *q, const struct qhdr *h, int ro)
{
	uint64_t bad = h->incompat & (~QCOW2_INCOMPAT_KNOWN |
	    QCOW2_INCOMPAT_DATA | QCOW2_INCOMPAT_EXTL2);
	char name[48];

	if (h->crypt) {
		log_warnx("%s: encrypted qcow2 images are not supported",
		    q->path);
		return -ENOTSUP;
	}
	if ((h->incompat & QCOW2_INCOMPAT_COMPRESS) || h->compression_type) {
		log_warnx("%s: compression type %u (%s) is not supported: "
		    "only zlib", q->path, h->compression_type,
		    h->compression_type == 1 ? "zstd" : "unknown");
		return -ENOTSUP;
	}
	for (unsigned bit = 0; bit < 64; bit++) {
		if (!(bad & (1ull << bit)))
			continue;
		q_feature_name(h, bit, name, sizeof(name));
		log_warnx("%s: unsupported incompatible feature bit %u (%s)",
		    q->path, bit, name);
		return -ENOTSUP;
	}
	if (!ro && (h->incompat & QCOW2_INCOMPAT_DIRTY)) {
		log_warnx("%s: dirty bit set (refcounts may be wrong): run "
		    "'qemu-img check -r all' before writing", q->path);
		return -EINVAL;
	}
	if (h->incompat & QCOW2_INCOMPAT_CORRUPT) {
		log_warnx("%s: marked corrupt%s", q->path, ro ? "; reading it "
		    "anyway" : ": not writing to it");
		if (!ro)
			return -EINVAL;
	}
	if (!ro && h->nb_snapshots) {
		log_warnx("%s: %u internal snapshots: writing to images with "
		    "snapshots is not supported", q->path, h->nb_snapshots);
		return -ENOTSUP;
	}
	return 0;
}

/* The backing file recorded in the image against the pinned one. */
static int
q_check_backing(struct blk_qcow2 *q, const uint8_t *buf, const struct qhdr *h)
{
	char name[BLK_QCOW2_BACKING_NAME_MAX + 1];

	if (h->backing_off == 0) {
		if (q->backing) {
			log_warnx("%s: has no backing file, but one is "
			    "configured", q->path);
			return -EINVAL;
		}
		return 0;
	}
	q_printable(name, sizeof(name), buf + h->backing_off, h->backing_len);
	if (q->backing == NULL) {
		log_warnx("%s: qcow2 with a backing file ('%s'): backing "
		    "files must be given in the VM config, never taken from "
		    "the image (a containerDisk must be a single file)",
		    q->path, name);
		return -EINVAL;
	}
	if (h->has_backing_fmt && strcmp(h->backing_fmt,
	    q->backing->ops->name) != 0) {
		log_warnx("%s: the image records backing format '%s', the "
		    "config says '%s'", q->path, h->backing_fmt,
		    q->backing->ops->name);
		return -EINVAL;
	}
	log_debug("%s: backing file recorded as '%s' (not used: pinned)",
	    q->path, name);
	return 0;
}

/* Sizes and offsets of the tables, against the file and qemu's limits. */
static int
q_check_layout(struct blk_qcow2 *q, const struct qhdr *h, uint64_t fsize)
{
	unsigned cb = h->cluster_bits, l1_shift = 2 * cb - 3;
	uint64_t cs = 1ull << cb, need, rt_bytes;

	need = (h->size >> l1_shift) + !!(h->size & ((1ull << l1_shift) - 1));
	if (need > h->l1_size || (uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		log_warnx("%s: L1 table of %u entries for %llu bytes (needs "
		    "%llu, at most %u)", q->path, h->l1_size,
		    (unsigned long long)h->size, (unsigned long long)need,
		    QCOW2_MAX_L1_BYTES / 8);
		return -EINVAL;
	}
	if (h->l1_size && ((h->l1_offset & (cs - 1)) || h->l1_offset < cs ||
	    h->l1_offset > fsize || fsize - h->l1_offset <
	    (uint64_t)h->l1_size * 8)) {
		log_warnx("%s: L1 table at %#llx outside the file or "
		    "unaligned", q->path, (unsigned long long)h->l1_offset);
		return -EINVAL;
	}
	rt_bytes = (uint64_t)h->rt_clusters << cb;
	if (h->rt_clusters == 0 || rt_bytes > QCOW2_MAX_RT_BYTES ||
	    (h->rt_offset & (cs - 1)) || h->rt_offset < cs ||
	    h->rt_offset > fsize || fsize - h->rt_offset < rt_bytes) {
		log_warnx("%s: refcount table (%u clusters at %#llx) outside "
		    "the file, unaligned or too big", q->path, h->rt_clusters,
		    (unsigned long long)h->rt_offset);
		return -EINVAL;
	}
	if (h->refcount_order > 6) {
		log_warnx("%s: refcount_order %u > 6", q->path,
		    h->refcount_order);
		return -EINVAL;
	}
	if (h->backing_off && (h->backing_len > BLK_QCOW2_BACKING_NAME_MAX ||
	    h->backing_off < h->header_length ||
	    h->backing_off > min64(cs, fsize) ||
	    h->backing_len > min64(cs, fsize) - h->backing_off)) {
		log_warnx("%s: backing file name (%u bytes at %#llx) outside "
		    "the header cluster", q->path, h->backing_len,
		    (unsigned long long)h->backing_off);
		return -EINVAL;
	}
	return 0;
}

/* Read the header cluster and check it all; fills q's geometry. */
static int
q_load_header(struct blk_qcow2 *q, uint64_t fsize, struct qhdr *h,
    uint8_t **hbuf)
{
	uint8_t first[112] = { 0 };
	uint64_t len;
	int err;

	err = q_pread(q, first, min64(fsize, sizeof(first)), 0);
	if (err == 0)
		err = q_parse_header(q, first, fsize, h);
	if (err < 0)
		return err;
	len = min64(fsize, 1ull << h->cluster_bits);
	*hbuf = calloc(1, len);
	if (*hbuf == NULL)
		return -ENOMEM;
	err = q_pread(q, *hbuf, len, 0);
	if (err == 0)
		err = q_check_layout(q, h, fsize);
	if (err == 0)
		err = q_parse_extensions(q, *hbuf, h->backing_off ?
		    h->backing_off : len, h);
	return err;
}

static void
q_set_geometry(struct blk_qcow2 *q, const struct qhdr *h, uint64_t fsize)
{
	unsigned x;

	q->version = h->version;
	q->cb = h->cluster_bits;
	q->cs = 1ull << q->cb;
	q->cmask = q->cs - 1;
	q->l2_bits = q->cb - 3;
	q->l1_shift = q->cb + q->l2_bits;
	q->rc_order = h->refcount_order;
	q->rb_bits = q->cb + 3 - q->rc_order;
	/* "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8). */
	x = 62 - (q->cb - 8);
	q->coff_mask = (1ull << x) - 1;
	q->csize_shift = x;
	q->csize_mask = (1ull << (q->cb - 8)) - 1;
	q->file_end = fsize;
	q->alloc_end = (fsize + q->cmask) & ~q->cmask;
	q->be.size = h->size;
	q->autoclear = h->autoclear;
}

static int
q_load_tables(struct blk_qcow2 *q, const struct qhdr *h)
{
	int err;

	q->l1_size = h->l1_size;
	q->l1_offset = h->l1_offset;
	q->l1 = calloc(1, (size_t)h->l1_size * 8 + 8);
	if (q->l1 == NULL)
		return -ENOMEM;
	err = q_pread(q, q->l1, (size_t)h->l1_size * 8, h->l1_offset);
	if (err < 0 || q->be.ro)
		return err;
	q->rt_offset = h->rt_offset;
	q->rt_clusters = h->rt_clusters;
	q->rt_entries = ((uint64_t)h->rt_clusters << q->cb) / 8;
	q->rt = malloc((size_t)h->rt_clusters << q->cb);
	if (q->rt == NULL)
		return -ENOMEM;
	return q_pread(q, q->rt, (size_t)h->rt_clusters << q->cb,
	    h->rt_offset);
}

/* Past every cluster with a refcount (qemu may count clusters past the
 * end of the file): only refcount blocks past alloc_end are read. */
static int
q_find_alloc_end(struct blk_qcow2 *q)
{
	uint64_t first = (q->alloc_end >> q->cb) >> q->rb_bits;
	uint64_t per = 1ull << q->rb_bits;

	for (uint64_t ti = q->rt_entries; ti-- > first;) {
		uint64_t off;
		int i, err = q_rt_entry(q, ti, &off);

		if (err < 0)
			return err;
		if (off == 0)
			continue;
		i = qcache_get(q, &q->rbc, off, QC_LOAD);
		if (i < 0)
			return i;
		for (uint64_t k = per; k-- > 0;) {
			if (q_rc_read(q, q->rbc.slot[i].buf, k) == 0)
				continue;
			q->alloc_end = max64(q->alloc_end,
			    (ti * per + k + 1) << q->cb);
			return 0;
		}
	}
	return 0;
}

/* Before the first write: clear autoclear bits we do not maintain (the
 * spec's rule for "autoclear_features"), durably. */
static int
q_prepare_write(struct blk_qcow2 *q)
{
	uint8_t z[8] = { 0 };
	int err;

	if (q->autoclear == 0 || q->version < 3)
		return 0;
	log_info("%s: clearing autoclear features %#llx (bitmaps are not "
	    "kept up to date)", q->path, (unsigned long long)q->autoclear);
	err = q_pwrite(q, z, sizeof(z), QCOW2_HDR_AUTOCLEAR);
	if (err == 0)
		err = q_sync(q);
	if (err == 0)
		q->autoclear = 0;
	return err;
}

static int
q_alloc_buffers(struct blk_qcow2 *q)
{
	uint64_t budget_l2 = 2u << 20, budget_rb = 1u << 20;

	q->l2c.target = (unsigned)max64(4, min64(32, budget_l2 >> q->cb));
	q->rbc.target = (unsigned)max64(2, min64(16, budget_rb >> q->cb));
	q->sv = calloc(IOV_MAX + 2, sizeof(*q->sv));
	q->cbuf = malloc(2 * q->cs);
	q->zbuf = malloc(q->cs);
	if (q->sv == NULL || q->cbuf == NULL || q->zbuf == NULL)
		return -ENOMEM;
	if (!q->be.ro) {
		q->bounce = malloc(2 * q->cs);
		q->zeros = calloc(1, q->cs);
		if (q->bounce == NULL || q->zeros == NULL)
			return -ENOMEM;
	}
	/* Raw deflate, 4 KiB window: how qemu compresses clusters. */
	if (inflateInit2(&q->zs, -12) != Z_OK)
		return -ENOMEM;
	q->zinit = 1;
	return 0;
}

static int
q_open_file(struct blk_qcow2 *q, int ro, uint64_t *fsize)
{
	struct stat st;
	int err;

	q->fd = open(q->path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (q->fd < 0 || fstat(q->fd, &st) < 0) {
		err = -errno;
		log_warn("%s: %s", q->path, q->fd < 0 ? "open" : "fstat");
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: a qcow2 image must be a regular file", q->path);
		return -EINVAL;
	}
	*fsize = (uint64_t)st.st_size;
	/* One writer or any readers (as blk_raw.c): two VMs on one overlay
	 * would corrupt it. */
	while (flock(q->fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			log_warnx("%s: in use by another process (flock)",
			    q->path);
			return -EBUSY;
		}
		err = -errno;
		log_warn("%s: flock", q->path);
		return err;
	}
	return 0;
}

static void blk_qcow2_close(struct blk_backend *b);

static int
q_open(struct blk_qcow2 *q, int ro)
{
	uint8_t *hbuf = NULL;
	uint64_t fsize = 0;
	struct qhdr h;
	int err;

	err = q_open_file(q, ro, &fsize);
	if (err == 0)
		err = q_load_header(q, fsize, &h, &hbuf);
	if (err == 0)
		err = q_check_features(q, &h, ro);
	if (err == 0)
		err = q_check_backing(q, hbuf, &h);
	free(hbuf);
	if (err < 0)
		return err;
	q_set_geometry(q, &h, fsize);
	err = q_alloc_buffers(q);
	if (err == 0)
		err = q_load_tables(q, &h);
	if (err == 0 && !ro)
		err = q_find_alloc_end(q);
	if (err == 0 && !ro)
		err = q_prepare_write(q);
	if (err < 0)
		return err;
	q->be.can_discard = !ro && q->version >= 3;
	log_debug("%s: qcow2 v%u, %llu bytes, %llu-byte clusters%s%s",
	    q->path, q->version, (unsigned long long)q->be.size,
	    (unsigned long long)q->cs, q->backing ? ", backing file" : "",
	    ro ? ", read-only" : "");
	return 0;
}

int
blk_qcow2_open_over(const char *path, int ro, struct blk_backend *backing,
    struct blk_backend **out)
{
	struct blk_qcow2 *q = calloc(1, sizeof(*q));
	int err;

	if (q == NULL) {
		if (backing)
			backing->ops->close(backing);
		return -ENOMEM;
	}
	q->be.ops = &blk_qcow2_ops;
	q->be.ro = ro;
	q->fd = -1;
	q->backing = backing;
	q->path = strdup(path);
	err = q->path ? q_open(q, ro) : -ENOMEM;
	if (err < 0) {
		blk_qcow2_close(&q->be);
		return err;
	}
	*out = &q->be;
	return 0;
}

static int
blk_qcow2_open(const char *path, int ro, struct blk_backend **out)
{
	return blk_qcow2_open_over(path, ro, NULL, out);
}

/* The back end for a pinned backing file format (read-only). */
static int
q_open_backing(const char *path, const char *fmt, struct blk_backend **out)
{
	if (fmt && strcmp(fmt, "raw") == 0)
		return blk_raw_ops.open(path, 1, out);
	if (fmt && strcmp(fmt, "qcow2") == 0)
		return blk_qcow2_ops.open(path, 1, out);
	log_warnx("%s: backing format '%s': must be raw or qcow2", path,
	    fmt ? fmt : "(none)");
	return -EINVAL;
}

int
blk_qcow2_open_pinned(const char *path, int ro, const char *backing,
    const char *backing_fmt, struct blk_backend **out)
{
	struct blk_backend *b = NULL;
	int err;

	if (backing) {
		err = q_open_backing(backing, backing_fmt, &b);
		if (err < 0)
			return err;
	}
	return blk_qcow2_open_over(path, ro, b, out);
}

static void
blk_qcow2_close(struct blk_backend *b)
{
	struct blk_qcow2 *q;

	if (b == NULL)
		return;
	q = q_of(b);
	if (!b->ro && q->fd >= 0 && q->l1) {
		/* Frees applied by one flush are written by the next. */
		for (int k = 0; k < 3 && !q->failed; k++) {
			if (q->rbc.ndirty == 0 && q->l2c.ndirty == 0 &&
			    q->nfrees == 0 && !q->rt_moved)
				break;
			(void)q_flush_meta(q);
		}
	}
	if (q->fd >= 0)
		close(q->fd);
	if (q->backing)
		q->backing->ops->close(q->backing);
	if (q->zinit)
		inflateEnd(&q->zs);
	qcache_free(&q->l2c);
	qcache_free(&q->rbc);
	free(q->frees);
	free(q->l1);
	free(q->rt);
	free(q->bounce);
	free(q->zeros);
	free(q->cbuf);
	free(q->zbuf);
	free(q->sv);
	free(q->path);
	free(q);
}

const struct blk_backend_ops blk_qcow2_ops = {
	.name = "qcow2",
	.open = blk_qcow2_open,
	.preadv = blk_qcow2_preadv,
	.pwritev = blk_qcow2_pwritev,
	.flush = blk_qcow2_flush,
	.discard = blk_qcow2_discard,
	.close = blk_qcow2_close,
};

/* ---- creating an overlay ------------------------------------------------------ */

#define QCOW2_NEW_CB		16	/* 64 KiB clusters */

/*
 * Cluster 0: header (v3, 104 bytes), backing format extension, end of
 * extensions, backing file name. Cluster 1: refcount table. Cluster 2:
 * refcount block 0. Clusters 3...: the L1 table (zeros: nothing
 * allocated). Every one of them has refcount 1.
 */
static void
q_new_header(uint8_t *h, const char *backing, const char *fmt, uint64_t size,
    uint32_t l1_size, uint64_t cs)
{
	size_t blen = strlen(backing), flen = strlen(fmt), pos;

	st32(h, QCOW2_MAGIC);
	st32(h + 4, 3);
	st32(h + 16, (uint32_t)blen);
	st32(h + 20, QCOW2_NEW_CB);
	st64(h + 24, size);
	st32(h + 36, l1_size);
	st64(h + 40, 3 * cs);			/* L1 table */
	st64(h + 48, cs);			/* refcount table */
	st32(h + 56, 1);
	st32(h + 96, 4);			/* 16-bit refcounts */
	st32(h + 100, QCOW2_V3_HEADER);
	pos = QCOW2_V3_HEADER;
	st32(h + pos, QCOW2_EXT_BACKING_FMT);
	st32(h + pos + 4, (uint32_t)flen);
	memcpy(h + pos + 8, fmt, flen);
	pos += 8 + ((flen + 7) & ~(size_t)7);
	pos += 8;				/* end of extensions */
	st64(h + 8, pos);			/* backing file name */
	memcpy(h + pos, backing, blen);
}

static int
q_write_new(int fd, const char *backing, const char *fmt, uint64_t size)
{
	uint64_t cs = 1ull << QCOW2_NEW_CB, span = cs * (cs / 8);
	uint64_t l1_size = size / span + !!(size % span);
	uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs, n;
	uint8_t *buf = calloc(3, cs);
	int err = 0;

	if (buf == NULL)
		return -ENOMEM;
	n = 3 + l1_clusters;
	q_new_header(buf, backing, fmt, size, (uint32_t)l1_size, cs);
	st64(buf + cs, 2 * cs);			/* refcount block 0 */
	for (uint64_t i = 0; i < n; i++)
		st16(buf + 2 * cs + 2 * i, 1);
	for (size_t done = 0; done < 3 * cs && err == 0;) {
		ssize_t r = pwrite(fd, buf + done, 3 * cs - done,
		    (off_t)done);

		if (r < 0 && errno != EINTR)
			err = -errno;
		else if (r == 0)
			err = -EIO;
		else if (r > 0)
			done += (size_t)r;
	}
	free(buf);
	if (err == 0 && ftruncate(fd, (off_t)(n * cs)) < 0)
		err = -errno;
	if (err == 0 && fsync(fd) < 0)
		err = -errno;
	return err;
}

/* fsync the directory holding path, so the new name is durable too. */
static void
q_sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (dir == NULL)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

static int
q_overlay_size(const char *backing, const char *fmt, uint64_t *size)
{
	struct blk_backend *b;
	int err;

	if (*size)
		return 0;
	err = q_open_backing(backing, fmt, &b);
	if (err < 0)
		return err;
	*size = b->size;
	b->ops->close(b);
	return 0;
}

int
blk_qcow2_create_overlay(const char *path, const char *backing,
    const char *backing_fmt, uint64_t size)
{
	uint64_t max = (uint64_t)(QCOW2_MAX_L1_BYTES / 8) <<
	    (2 * QCOW2_NEW_CB - 3);
	int fd, err;

	if (backing == NULL || backing[0] == '\0' ||
	    strlen(backing) > BLK_QCOW2_BACKING_NAME_MAX) {
		log_warnx("%s: backing file name empty or longer than %u "
		    "bytes", path, BLK_QCOW2_BACKING_NAME_MAX);
		return -EINVAL;
	}
	if (backing_fmt == NULL || (strcmp(backing_fmt, "raw") != 0 &&
	    strcmp(backing_fmt, "qcow2") != 0)) {
		log_warnx("%s: backing format '%s': must be raw or qcow2", path,
		    backing_fmt ? backing_fmt : "(none)");
		return -EINVAL;
	}
	err = q_overlay_size(backing, backing_fmt, &size);
	if (err < 0)
		return err;
	if (size == 0 || size > max) {
		log_warnx("%s: overlay size %llu bytes (1 to %llu)", path,
		    (unsigned long long)size, (unsigned long long)max);
		return -EINVAL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		log_warn("%s: create", path);
		return err;
	}
	err = q_write_new(fd, backing, backing_fmt, size);
	close(fd);
	if (err < 0) {
		log_warnx("%s: writing the new image: %s", path,
		    strerror(-err));
		unlink(path);
		return err;
	}
	q_sync_dir(path);
	return 0;
}
