/*
 * blk_qcow2_read.c: the qcow2 back end's file I/O, table caches, cluster
 * mapping and read path (the overview is at the top of blk_qcow2.c).
 *
 * Reading: guest offset -> L1 entry -> L2 table (a small LRU cache of whole
 * L2 clusters) -> data cluster ("Cluster mapping"). A run of clusters that
 * are contiguous in the file is one preadv straight into the guest's
 * iovecs; unallocated clusters read from the backing file (zeros past its
 * end, or with none); zero clusters (v3, bit 0) read as zeros; a
 * compressed cluster is inflated with raw deflate (windowBits -12) into a
 * one-cluster buffer that is kept for the next read.
 */
#include "blk_qcow2_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "iov.h"
#include "log.h"

/* ---- corruption ---------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
int
qcow2_corrupt(struct blk_qcow2 *q, const char *fmt, ...)
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
int
qcow2_iov_slice(const struct iovec *iov, int n, size_t skip, size_t len,
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
void
qcow2_iov_fill(const struct iovec *iov, int n, size_t skip, const uint8_t *buf,
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
int
qcow2_io(struct blk_qcow2 *q, int write, struct iovec *v, int cnt, uint64_t off)
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

int
qcow2_pread(struct blk_qcow2 *q, void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return qcow2_io(q, 0, &v, 1, off);
}

int
qcow2_pwrite(struct blk_qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	return qcow2_io(q, 1, &v, 1, off);
}

/* Where the file's clusters end: nothing is read at or past this. */
static uint64_t
q_file_limit(const struct blk_qcow2 *q)
{
	return (q->file_end + q->cmask) & ~q->cmask;
}

int
qcow2_sync(struct blk_qcow2 *q)
{
	while (fdatasync(q->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* ---- table caches ------------------------------------------------------------- */

static int
qcache_find(const struct qcache *c, uint64_t off)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->slot[i].off == off)
			return (int)i;
	return -1;
}

void
qcow2_cache_dirty(struct qcache *c, int i)
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
int
qcow2_cache_get(struct blk_qcow2 *q, struct qcache *c, uint64_t off, int mode)
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
				return qcow2_corrupt(q, "table at %#llx past the "
				    "end of the file", (unsigned long long)off);
			err = qcow2_pread(q, c->slot[i].buf, q->cs, off);
			if (err < 0)
				return err;
		}
		c->slot[i].off = off;
	}
	if (mode == QC_NEW) {
		memset(c->slot[i].buf, 0, q->cs);
		qcow2_cache_dirty(c, i);
	}
	c->slot[i].used = ++c->clock;
	return i;
}

/* Write every dirty slot back. 0 or -errno. */
int
qcow2_cache_write(struct blk_qcow2 *q, struct qcache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		int err;

		if (!c->slot[i].dirty)
			continue;
		err = qcow2_pwrite(q, c->slot[i].buf, q->cs, c->slot[i].off);
		if (err < 0)
			return err;
		c->slot[i].dirty = 0;
		c->ndirty--;
	}
	return 0;
}

/* Free clean slots past the target (after a flush). */
void
qcow2_cache_trim(struct qcache *c)
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

void
qcow2_cache_free(struct qcache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->slot[i].buf);
	free(c->slot);
	memset(c, 0, sizeof(*c));
}


/* ---- mapping ("Cluster mapping") ----------------------------------------------- */

/* The L2 table for L1 entry l1i: its cache slot, or -ENOENT if the entry
 * is unallocated; *off its host offset. */
int
qcow2_l2_load(struct blk_qcow2 *q, uint64_t l1i, uint64_t *off)
{
	uint64_t e;

	if (l1i >= q->l1_size)
		return qcow2_corrupt(q, "guest offset past the L1 table");
	e = ld64(q->l1 + 8 * l1i);
	*off = e & QCOW2_OFFSET_MASK;
	if (e & QCOW2_L1_RESERVED)
		return qcow2_corrupt(q, "L1 entry %llu has reserved bits set",
		    (unsigned long long)l1i);
	if (*off == 0)
		return -ENOENT;
	if ((*off & q->cmask) || *off < q->cs || *off > q->alloc_end - q->cs)
		return qcow2_corrupt(q, "L2 table %#llx outside the file or "
		    "unaligned", (unsigned long long)*off);
	return qcow2_cache_get(q, &q->l2c, *off, QC_LOAD);
}

/* Decode one L2 entry ("L2 table entry", "Standard/Compressed Cluster
 * Descriptor") into r (len not set). */
int
qcow2_entry(struct blk_qcow2 *q, uint64_t e, struct qrun *r)
{
	uint64_t host;

	r->entry = e;
	r->copied = !!(e & QCOW2_COPIED);
	if (e & QCOW2_COMPRESSED) {
		host = e & q->coff_mask;
		if (r->copied || host >= QCOW2_MAX_HOST || host < q->cs ||
		    host >= q->file_end)
			return qcow2_corrupt(q, "compressed cluster entry %#llx",
			    (unsigned long long)e);
		r->cls = Q_COMPRESSED;
		r->host = host;
		return 0;
	}
	host = e & QCOW2_OFFSET_MASK;
	if ((e & QCOW2_L2_RESERVED) || (host & q->cmask) ||
	    (host && (host < q->cs || host >= q_file_limit(q))))
		return qcow2_corrupt(q, "L2 entry %#llx: reserved bits, unaligned "
		    "or outside the file", (unsigned long long)e);
	if (e & QCOW2_ZERO) {
		if (q->version < 3)
			return qcow2_corrupt(q, "zero cluster in a version 2 "
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
int
qcow2_map(struct blk_qcow2 *q, uint64_t goff, uint64_t len, int write,
    struct qrun *r)
{
	uint64_t in = goff & q->cmask, l1i = goff >> q->l1_shift;
	uint64_t room = ((l1i + 1) << q->l1_shift) - goff, done, l2off;
	uint64_t l2i = (goff >> q->cb) & ((1ull << q->l2_bits) - 1);
	const uint8_t *l2;
	int i, err;

	len = min64(len, room);
	i = qcow2_l2_load(q, l1i, &l2off);
	if (i == -ENOENT) {
		memset(r, 0, sizeof(*r));
		r->cls = Q_UNALLOC;
		r->len = len;
		return 0;
	}
	if (i < 0)
		return i;
	l2 = q->l2c.slot[i].buf;
	err = qcow2_entry(q, ld64(l2 + 8 * l2i), r);
	if (err < 0)
		return err;
	if (r->cls == Q_DATA)
		r->host += in;
	done = min64(len, q->cs - in);
	while (done < len) {
		struct qrun next;

		l2i++;
		/* A bad entry ends the run; the next call reports it. */
		if (qcow2_entry(q, ld64(l2 + 8 * l2i), &next) < 0 ||
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

		cnt = qcow2_iov_slice(iov, n, skip, blen, q->sv, IOV_MAX);
		if (cnt < 0)
			return cnt;
		r = b->ops->preadv(b, q->sv, cnt, goff);
		if (r < 0)
			return (int)r;
		if ((uint64_t)r != blen)
			return -EIO;
	}
	if (len > blen)
		qcow2_iov_fill(iov, n, skip + blen, NULL, len - blen);
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
	err = qcow2_pread(q, q->cbuf, clen, r->host);
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
		return qcow2_corrupt(q, "compressed cluster at %#llx does not "
		    "inflate to a cluster", (unsigned long long)r->host);
	q->zkey = r->entry;
	q->zvalid = 1;
	return 0;
}

/* Move guest bytes [rq->goff, + r->len) of a Q_DATA run to or from the
 * file, from bytes [rq->skip, ...) of rq->iov. */
int
qcow2_io_run(struct blk_qcow2 *q, int write, const struct qreq *rq,
    const struct qrun *r)
{
	int cnt = qcow2_iov_slice(rq->iov, rq->n, rq->skip, r->len, q->sv,
	    IOV_MAX);

	return cnt < 0 ? cnt : qcow2_io(q, write, q->sv, cnt, r->host);
}

/* Guest bytes [goff, goff + len), bytes [skip, ...) of iov: one call of fn
 * per run of clusters of one kind (qcow2_map). */
int
qcow2_walk(struct blk_qcow2 *q, const struct iovec *iov, int n, size_t skip,
    uint64_t goff, uint64_t len, int write, qcow2_run_fn fn)
{
	struct qreq rq = { .iov = iov, .n = n, .skip = skip, .goff = goff };

	while (len > 0) {
		struct qrun r;
		int err = qcow2_map(q, rq.goff, len, write, &r);

		if (err == 0)
			err = fn(q, &rq, &r);
		if (err < 0)
			return err;
		rq.skip += r.len;
		rq.goff += r.len;
		len -= r.len;
	}
	return 0;
}

static int
q_read_run(struct blk_qcow2 *q, const struct qreq *rq, const struct qrun *r)
{
	int err = 0;

	switch (r->cls) {
	case Q_DATA:
		err = qcow2_io_run(q, 0, rq, r);
		break;
	case Q_ZERO:
		qcow2_iov_fill(rq->iov, rq->n, rq->skip, NULL, r->len);
		break;
	case Q_UNALLOC:
		err = q_read_backing(q, rq->iov, rq->n, rq->skip, rq->goff,
		    r->len);
		break;
	case Q_COMPRESSED:
		err = q_inflate(q, r);
		if (err == 0)
			qcow2_iov_fill(rq->iov, rq->n, rq->skip, q->zbuf +
			    (rq->goff & q->cmask), r->len);
		break;
	}
	return err;
}

int
qcow2_read_buf(struct blk_qcow2 *q, uint8_t *buf, uint64_t len, uint64_t goff)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return qcow2_walk(q, &v, 1, 0, goff, len, 0, q_read_run);
}

/* Whether [off, off + len) is a request the guest may make. */
ssize_t
qcow2_check_request(struct blk_qcow2 *q, const struct iovec *iov, int n,
    uint64_t off)
{
	ssize_t total = iov_total(iov, n, IOV_MAX);

	if (total < 0)
		return total;
	if (off > q->be.size || (uint64_t)total > q->be.size - off)
		return -EINVAL;
	return total;
}

ssize_t
blk_qcow2_preadv(struct blk_backend *b, const struct iovec *iov, int n,
    uint64_t off)
{
	struct blk_qcow2 *q = q_of(b);
	ssize_t total = qcow2_check_request(q, iov, n, off);
	int err;

	if (total <= 0)
		return total;
	err = qcow2_walk(q, iov, n, 0, off, (uint64_t)total, 0, q_read_run);
	return err < 0 ? err : total;
}
