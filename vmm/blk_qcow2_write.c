/*
 * blk_qcow2_write.c: the qcow2 back end's write path: refcounts,
 * allocation, copy-up, the flush order, discard (the overview is at the
 * top of blk_qcow2.c).
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
 */
#include "blk_qcow2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* ---- refcounts ("Host cluster management") ------------------------------------ */

uint64_t
qcow2_rc_read(const struct blk_qcow2 *q, const uint8_t *blk, uint64_t i)
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
int
qcow2_rt_entry(struct blk_qcow2 *q, uint64_t ti, uint64_t *off)
{
	uint64_t e = ld64(q->rt + 8 * ti);

	*off = e & QCOW2_RT_OFFSET_MASK;
	if (e & ~QCOW2_RT_OFFSET_MASK)
		return qcow2_corrupt(q, "refcount table entry %llu has reserved "
		    "bits set", (unsigned long long)ti);
	if (*off && ((*off & q->cmask) || *off < q->cs ||
	    *off > q->alloc_end - q->cs))
		return qcow2_corrupt(q, "refcount block %#llx outside the file "
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
	i = qcow2_cache_get(q, &q->rbc, off, QC_NEW);
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
		return qcow2_corrupt(q, "refcount structure does not converge");
	if (ti >= q->rt_entries) {
		if (!create)
			return -ENOENT;
		if (q->rt_growing)
			return -EIO;
		err = q_rt_grow(q, ti, depth);
		if (err < 0)
			return err;
	}
	err = qcow2_rt_entry(q, ti, &off);
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
	return qcow2_cache_get(q, &q->rbc, off, QC_LOAD);
}

static int
q_rc_set(struct blk_qcow2 *q, uint64_t ci, uint64_t v, int depth)
{
	uint64_t idx;
	int i = q_rc_block(q, ci, 1, depth, &idx);

	if (i < 0)
		return i;
	q_rc_write(q, q->rbc.slot[i].buf, idx, v);
	qcow2_cache_dirty(&q->rbc, i);
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
	*v = qcow2_rc_read(q, q->rbc.slot[i].buf, idx);
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
		v = qcow2_rc_read(q, q->rbc.slot[i].buf, idx);
	if (v == 0)
		return qcow2_corrupt(q, "freeing cluster %#llx with refcount 0",
		    (unsigned long long)(ci << q->cb));
	q_rc_write(q, q->rbc.slot[i].buf, idx, v - 1);
	qcow2_cache_dirty(&q->rbc, i);
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
	return qcow2_pwrite(q, b, sizeof(b), QCOW2_HDR_RT_OFFSET);
}

static int
q_flush_refcounts(struct blk_qcow2 *q)
{
	int err = 0;

	/* 1. Refcount blocks, and a moved table (unreferenced until 3). */
	if (q->rbc.ndirty)
		err = qcow2_cache_write(q, &q->rbc);
	if (err == 0 && q->rt_moved)
		err = qcow2_pwrite(q, q->rt, (size_t)q->rt_clusters * q->cs,
		    q->rt_offset);
	/* 2. Entries naming new blocks, after the blocks. */
	if (err == 0 && !q->rt_moved && q->rt_hi > q->rt_lo) {
		err = qcow2_sync(q);
		if (err == 0)
			err = qcow2_pwrite(q, q->rt + 8 * q->rt_lo,
			    8 * (q->rt_hi - q->rt_lo), q->rt_offset +
			    8 * q->rt_lo);
	}
	/* 3. The header names the moved table, after the table. */
	if (err == 0 && q->rt_moved) {
		err = qcow2_sync(q);
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
	err = qcow2_sync(q);
	if (err == 0)
		err = qcow2_cache_write(q, &q->l2c);
	/* 5. L1 entries, after the new L2 tables. */
	if (err == 0 && q->l1_hi > q->l1_lo) {
		err = qcow2_sync(q);
		if (err == 0)
			err = qcow2_pwrite(q, q->l1 + 8 * (uint64_t)q->l1_lo,
			    8 * (size_t)(q->l1_hi - q->l1_lo), q->l1_offset +
			    8 * (uint64_t)q->l1_lo);
		if (err == 0)
			q->l1_lo = q->l1_hi = 0;
	}
	return err;
}

int
qcow2_flush_meta(struct blk_qcow2 *q)
{
	int err;

	if (q->failed)
		return q->failed;
	err = q_flush_refcounts(q);
	if (err == 0)
		err = q_flush_mapping(q);
	if (err == 0)
		err = qcow2_sync(q);		/* 6. */
	if (err < 0) {
		log_warnx("%s: writing metadata: %s; no more writes",
		    q->path, strerror(-err));
		q->failed = err;
		return err;
	}
	q_apply_frees(q);			/* 7. */
	qcow2_cache_trim(&q->l2c);
	qcow2_cache_trim(&q->rbc);
	return 0;
}

/* After a write: flush when the caches have grown past their targets. */
static int
q_maybe_flush(struct blk_qcow2 *q)
{
	if (q->l2c.n <= q->l2c.target && q->rbc.n <= q->rbc.target &&
	    q->nfrees < QCOW2_FREES_MAX)
		return 0;
	return qcow2_flush_meta(q);
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
	int i = qcow2_l2_load(q, l1i, off), err;
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
			return qcow2_corrupt(q, "L2 table %#llx has refcount "
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
	i = qcow2_cache_get(q, &q->l2c, *off, QC_NEW);
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
	int i = qcow2_cache_get(q, &q->l2c, l2off, QC_LOAD), err;
	uint64_t mask = (1ull << q->l2_bits) - 1;

	if (i < 0)
		return i;
	for (uint64_t k = 0; k < n; k++) {
		uint8_t *p = q->l2c.slot[i].buf + 8 * (((g >> q->cb) + k) &
		    mask);
		struct qrun old;

		err = qcow2_entry(q, ld64(p), &old);
		if (err == 0 && old.cls != Q_UNALLOC)
			err = q_free_later(q, &old);
		if (err < 0)
			return err;
		st64(p, host ? (host + (k << q->cb)) | QCOW2_COPIED :
		    QCOW2_ZERO);
	}
	qcow2_cache_dirty(&q->l2c, i);
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
		err = qcow2_read_buf(q, q->bounce, head, cstart);
	if (err == 0 && tail)
		err = qcow2_read_buf(q, q->bounce + q->cs, tail, goff + len);
	if (err == 0)
		err = q_alloc(q, (cend - cstart) >> q->cb, &host);
	if (err < 0)
		return err;
	if (head)
		q->sv[k++] = (struct iovec){ q->bounce, head };
	cnt = qcow2_iov_slice(iov, n, skip, len, q->sv + k, IOV_MAX);
	if (cnt < 0)
		return cnt;
	k += cnt;
	if (tail)
		q->sv[k++] = (struct iovec){ q->bounce + q->cs, tail };
	err = qcow2_io(q, 1, q->sv, k, host);
	if (err < 0)
		return err;
	return q_l2_set(q, l2off, cstart, (cend - cstart) >> q->cb, host);
}

/* One run of a write: in place, or to new clusters. */
static int
q_write_run(struct blk_qcow2 *q, const struct qreq *rq, const struct qrun *r)
{
	if (r->cls == Q_DATA && r->copied)
		return qcow2_io_run(q, 1, rq, r);
	return q_write_alloc(q, rq->iov, rq->n, rq->skip, rq->goff, r->len);
}

/* Write guest bytes [goff, goff + len) from bytes [skip, ...) of iov. */
static int
q_write(struct blk_qcow2 *q, const struct iovec *iov, int n, size_t skip,
    uint64_t goff, uint64_t len)
{
	return qcow2_walk(q, iov, n, skip, goff, len, 1, q_write_run);
}

ssize_t
blk_qcow2_pwritev(struct blk_backend *b, const struct iovec *iov, int n,
    uint64_t off)
{
	struct blk_qcow2 *q = q_of(b);
	ssize_t total = qcow2_check_request(q, iov, n, off);
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

int
blk_qcow2_flush(struct blk_backend *b)
{
	struct blk_qcow2 *q = q_of(b);

	if (b->ro)
		return 0;
	return qcow2_flush_meta(q);
}

/* ---- discard ------------------------------------------------------------------ */

/* Make the whole guest cluster at goff a zero cluster (v3). */
static int
q_discard_cluster(struct blk_qcow2 *q, uint64_t goff)
{
	uint64_t l2off;
	struct qrun r;
	int err = qcow2_map(q, goff, q->cs, 1, &r);

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
int
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
