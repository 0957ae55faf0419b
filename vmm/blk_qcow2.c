/*
 * blk_qcow2.c: the qcow2 block back end (blk.h, blk_qcow2.h). Reads qcow2
 * v2 and v3 (zlib-compressed clusters, zero clusters, a backing file);
 * writes as a copy-on-write overlay. The format is QEMU's
 * docs/interop/qcow2.txt ("the spec" below; sections are named in quotes).
 *
 * Pinned formats and backing files. The caller says which format an image
 * is, and which files (and formats) back it, level by level down to the
 * base: blk_qcow2_open_chain (or blk_qcow2_open_pinned for one level, or
 * blk_qcow2_open_over over a back end already open). The backing file name recorded in an image is
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
 * The files: this one (the header, its checks, opening, closing);
 * blk_qcow2_read.c (the mapping and reading); blk_qcow2_write.c
 * (allocation, copy-up, refcounts, the flush order that keeps the file
 * consistent across a crash); blk_qcow2_create.c (new overlays).
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
#include "blk_qcow2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

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

	err = qcow2_pread(q, first, min64(fsize, sizeof(first)), 0);
	if (err == 0)
		err = q_parse_header(q, first, fsize, h);
	if (err < 0)
		return err;
	len = min64(fsize, 1ull << h->cluster_bits);
	*hbuf = calloc(1, len);
	if (*hbuf == NULL)
		return -ENOMEM;
	err = qcow2_pread(q, *hbuf, len, 0);
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
	err = qcow2_pread(q, q->l1, (size_t)h->l1_size * 8, h->l1_offset);
	if (err < 0 || q->be.ro)
		return err;
	q->rt_offset = h->rt_offset;
	q->rt_clusters = h->rt_clusters;
	q->rt_entries = ((uint64_t)h->rt_clusters << q->cb) / 8;
	q->rt = malloc((size_t)h->rt_clusters << q->cb);
	if (q->rt == NULL)
		return -ENOMEM;
	return qcow2_pread(q, q->rt, (size_t)h->rt_clusters << q->cb,
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
		int i, err = qcow2_rt_entry(q, ti, &off);

		if (err < 0)
			return err;
		if (off == 0)
			continue;
		i = qcow2_cache_get(q, &q->rbc, off, QC_LOAD);
		if (i < 0)
			return i;
		for (uint64_t k = per; k-- > 0;) {
			if (qcow2_rc_read(q, q->rbc.slot[i].buf, k) == 0)
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
	err = qcow2_pwrite(q, z, sizeof(z), QCOW2_HDR_AUTOCLEAR);
	if (err == 0)
		err = qcow2_sync(q);
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
int
qcow2_open_backing(const char *path, const char *fmt, struct blk_backend **out)
{
	if (fmt && strcmp(fmt, "raw") == 0)
		return blk_raw_ops.open(path, 1, out);
	if (fmt && strcmp(fmt, "qcow2") == 0)
		return blk_qcow2_ops.open(path, 1, out);
	log_warnx("%s: backing format '%s': must be raw or qcow2", path,
	    fmt ? fmt : "(none)");
	return -EINVAL;
}

/* The formats of a pinned chain, and no file twice in it (path is
 * level 0). */
static int
q_check_chain(const char *path, const struct blk_qcow2_level *chain,
    unsigned n)
{
	struct { dev_t dev; ino_t ino; } seen[BLK_QCOW2_CHAIN_MAX + 1];
	const struct blk_qcow2_level *l;
	struct stat st;
	int err;

	if (n > BLK_QCOW2_CHAIN_MAX) {
		log_warnx("%s: a backing chain of %u files (at most %u)", path,
		    n, BLK_QCOW2_CHAIN_MAX);
		return -ELOOP;
	}
	for (unsigned i = 0; i <= n; i++) {
		l = i ? &chain[i - 1] : NULL;
		if (l && (l->path == NULL || l->format == NULL ||
		    (strcmp(l->format, "raw") && strcmp(l->format, "qcow2")))) {
			log_warnx("%s: backing file %u (%s): format '%s': must "
			    "be raw or qcow2", path, i, l->path ? l->path :
			    "(none)", l->format ? l->format : "(none)");
			return -EINVAL;
		}
		if (l && i < n && strcmp(l->format, "qcow2") != 0) {
			log_warnx("%s: backing file %u (%s) is raw, but backing "
			    "file %u follows it: only the last one (the base) "
			    "may be raw", path, i, l->path, i + 1);
			return -EINVAL;
		}
		if (stat(l ? l->path : path, &st) < 0) {
			err = -errno;
			if (l)
				log_warn("%s: backing file %u (%s)", path, i,
				    l->path);
			else
				log_warn("%s", path);
			return err;
		}
		for (unsigned j = 0; j < i; j++) {
			if (seen[j].dev != st.st_dev || seen[j].ino != st.st_ino)
				continue;
			if (j == 0)
				log_warnx("%s: backing file %u (%s) is the image "
				    "itself: a backing chain cannot loop", path,
				    i, l->path);
			else
				log_warnx("%s: backing file %u (%s) is the same "
				    "file as backing file %u (%s): a backing "
				    "chain cannot loop", path, i, l->path, j,
				    chain[j - 1].path);
			return -ELOOP;
		}
		seen[i].dev = st.st_dev;
		seen[i].ino = st.st_ino;
	}
	return 0;
}

int
blk_qcow2_open_chain(const char *path, int ro,
    const struct blk_qcow2_level *chain, unsigned n, struct blk_backend **out)
{
	struct blk_backend *b = NULL, *nb = NULL;
	const struct blk_qcow2_level *l;
	int err;

	if ((err = q_check_chain(path, chain, n)) < 0)
		return err;
	/* Bottom-up: each level is opened over the one below it, which it
	 * then owns (and closes, also when its own open fails). */
	for (unsigned i = n; i-- > 0; b = nb) {
		l = &chain[i];
		if (strcmp(l->format, "raw") == 0)
			err = blk_raw_ops.open(l->path, 1, &nb);
		else
			err = blk_qcow2_open_over(l->path, 1, b, &nb);
		if (err < 0) {
			log_warnx("%s: backing file %u (%s, %s) cannot be used",
			    path, i + 1, l->path, l->format);
			return err;
		}
	}
	return blk_qcow2_open_over(path, ro, b, out);
}

int
blk_qcow2_open_pinned(const char *path, int ro, const char *backing,
    const char *backing_fmt, struct blk_backend **out)
{
	struct blk_qcow2_level l = { backing, backing_fmt };

	return blk_qcow2_open_chain(path, ro, &l, backing ? 1 : 0, out);
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
			(void)qcow2_flush_meta(q);
		}
	}
	if (q->fd >= 0)
		close(q->fd);
	if (q->backing)
		q->backing->ops->close(q->backing);
	if (q->zinit)
		inflateEnd(&q->zs);
	qcow2_cache_free(&q->l2c);
	qcow2_cache_free(&q->rbc);
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
