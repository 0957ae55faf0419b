/*
 * blk_qcow2_int.h: what the files of the qcow2 back end share (not an API:
 * blk_qcow2.h is). The back end is four files along the format's seams:
 *
 *   blk_qcow2.c         the header, its checks, opening, closing, ops table
 *   blk_qcow2_read.c    file I/O, the table caches, L1/L2 lookup, reading
 *                       (backing file, zero and zlib-compressed clusters)
 *   blk_qcow2_write.c   refcounts, allocation, copy-up, the flush order,
 *                       writing and discard
 *   blk_qcow2_create.c  creating a copy-on-write overlay
 */
#ifndef DROVER_VMM_BLK_QCOW2_INT_H
#define DROVER_VMM_BLK_QCOW2_INT_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <zlib.h>

#include "blk_qcow2.h"

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

enum { QC_LOAD, QC_NEW };	/* qcow2_cache_get modes */

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

/* The mapping of a run of guest clusters of one kind (qcow2_map). */
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

static inline struct blk_qcow2 *
q_of(struct blk_backend *b)
{
	return (struct blk_qcow2 *)b;
}

/* ---- bytes ---------------------------------------------------------------- */

static inline uint64_t
ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline uint32_t
ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static inline uint16_t
ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static inline void
st64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static inline void
st32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static inline void
st16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static inline uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t
max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---- blk_qcow2_read.c: file I/O, table caches, mapping, reading ------------ */

__attribute__((format(printf, 2, 3)))
int qcow2_corrupt(struct blk_qcow2 *q, const char *fmt, ...);
int qcow2_iov_slice(const struct iovec *iov, int n, size_t skip, size_t len,
    struct iovec *dst, int max);
void qcow2_iov_fill(const struct iovec *iov, int n, size_t skip,
    const uint8_t *buf, size_t len);
int qcow2_io(struct blk_qcow2 *q, int write, struct iovec *v, int cnt,
    uint64_t off);
int qcow2_pread(struct blk_qcow2 *q, void *buf, size_t len, uint64_t off);
int qcow2_pwrite(struct blk_qcow2 *q, const void *buf, size_t len,
    uint64_t off);
int qcow2_sync(struct blk_qcow2 *q);
int qcow2_cache_get(struct blk_qcow2 *q, struct qcache *c, uint64_t off,
    int mode);
void qcow2_cache_dirty(struct qcache *c, int i);
int qcow2_cache_write(struct blk_qcow2 *q, struct qcache *c);
void qcow2_cache_trim(struct qcache *c);
void qcow2_cache_free(struct qcache *c);
int qcow2_l2_load(struct blk_qcow2 *q, uint64_t l1i, uint64_t *off);
int qcow2_entry(struct blk_qcow2 *q, uint64_t e, struct qrun *r);
int qcow2_map(struct blk_qcow2 *q, uint64_t goff, uint64_t len, int write,
    struct qrun *r);
/* A request being walked: bytes [skip, ...) of iov are guest offset goff. */
struct qreq {
	const struct iovec *iov;
	int n;
	size_t skip;
	uint64_t goff;
};

typedef int (*qcow2_run_fn)(struct blk_qcow2 *q, const struct qreq *rq,
    const struct qrun *r);
int qcow2_walk(struct blk_qcow2 *q, const struct iovec *iov, int n,
    size_t skip, uint64_t goff, uint64_t len, int write, qcow2_run_fn fn);
int qcow2_io_run(struct blk_qcow2 *q, int write, const struct qreq *rq,
    const struct qrun *r);
int qcow2_read_buf(struct blk_qcow2 *q, uint8_t *buf, uint64_t len,
    uint64_t goff);
ssize_t qcow2_check_request(struct blk_qcow2 *q, const struct iovec *iov,
    int n, uint64_t off);
ssize_t blk_qcow2_preadv(struct blk_backend *b, const struct iovec *iov,
    int n, uint64_t off);

/* ---- blk_qcow2_write.c: refcounts, allocation, flushing, writing ----------- */

uint64_t qcow2_rc_read(const struct blk_qcow2 *q, const uint8_t *blk,
    uint64_t i);
int qcow2_rt_entry(struct blk_qcow2 *q, uint64_t ti, uint64_t *off);
int qcow2_flush_meta(struct blk_qcow2 *q);
ssize_t blk_qcow2_pwritev(struct blk_backend *b, const struct iovec *iov,
    int n, uint64_t off);
int blk_qcow2_flush(struct blk_backend *b);
int blk_qcow2_discard(struct blk_backend *b, uint64_t off, uint64_t len);

/* ---- blk_qcow2.c: opening ---------------------------------------------------- */

/* The back end for a pinned backing file format (read-only). */
int qcow2_open_backing(const char *path, const char *fmt,
    struct blk_backend **out);

#endif
