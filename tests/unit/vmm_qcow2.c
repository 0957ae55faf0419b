/*
 * Unit tests: vmm/blk_qcow2.c without qemu-img (tests/qcow2/interop.sh is
 * the qemu-img side). Images are built here byte by byte (mk_image), and
 * checked by an independent reader of the format (chk_image: every L1/L2
 * and refcount table entry in the file, references counted against the
 * refcounts, as `qemu-img check` does).
 *
 * Crash replay: the test binary is linked with --wrap for pwritev,
 * fdatasync and fallocate, so every write the back end makes to the image
 * is recorded with the fdatasync calls between them. The image is then
 * rebuilt as it could be on disk after a crash at every point: each
 * prefix of the writes since the last fdatasync (kill -9: writes reach
 * the page cache in order), and, for a sample, all of them but one (power
 * loss: the disk may reorder writes between flushes). Every such state
 * must have no corruption (leaks are allowed), and no L2/L1/refcount table
 * entry may point at a cluster that was never written.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "blk.h"
#include "blk_qcow2.h"
#include "log.h"

/* ---- recording the back end's writes (--wrap) ---------------------------------- */

ssize_t __real_pwritev(int fd, const struct iovec *iov, int n, off_t off);
int __real_fdatasync(int fd);
int __real_fallocate(int fd, int mode, off_t off, off_t len);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off);
int __wrap_fdatasync(int fd);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);

struct ev {
	int sync;		/* an fdatasync, else a write */
	uint64_t off;
	size_t len;
	uint8_t *data;		/* NULL: zeros (a punched hole) */
};

static struct {
	int on;
	dev_t dev;
	ino_t ino;
	struct ev *ev;
	size_t n, cap;
	unsigned syncs;
} rec;

static int
rec_fd(int fd)
{
	struct stat st;

	return rec.on && fstat(fd, &st) == 0 && st.st_dev == rec.dev &&
	    st.st_ino == rec.ino;
}

static void
rec_push(struct ev e)
{
	if (rec.n == rec.cap) {
		rec.cap = rec.cap ? 2 * rec.cap : 256;
		rec.ev = realloc(rec.ev, rec.cap * sizeof(*rec.ev));
		assert_non_null(rec.ev);
	}
	rec.ev[rec.n++] = e;
}

ssize_t
__wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	ssize_t r = __real_pwritev(fd, iov, n, off);
	struct ev e = { 0, (uint64_t)off, 0, NULL };

	if (r <= 0 || !rec_fd(fd))
		return r;
	e.len = (size_t)r;
	e.data = malloc(e.len);
	assert_non_null(e.data);
	for (size_t done = 0, i = 0; done < e.len; i++) {
		size_t take = iov[i].iov_len < e.len - done ?
		    iov[i].iov_len : e.len - done;

		memcpy(e.data + done, iov[i].iov_base, take);
		done += take;
	}
	rec_push(e);
	return r;
}

int
__wrap_fdatasync(int fd)
{
	if (rec_fd(fd)) {
		rec_push((struct ev){ 1, 0, 0, NULL });
		rec.syncs++;
	}
	return __real_fdatasync(fd);
}

int
__wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
	int r = __real_fallocate(fd, mode, off, len);

	if (r == 0 && rec_fd(fd))
		rec_push((struct ev){ 0, (uint64_t)off, (size_t)len, NULL });
	return r;
}

static void
rec_start(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	rec.dev = st.st_dev;
	rec.ino = st.st_ino;
	rec.on = 1;
	rec.syncs = 0;
}

static void
rec_stop(void)
{
	for (size_t i = 0; i < rec.n; i++)
		free(rec.ev[i].data);
	free(rec.ev);
	memset(&rec, 0, sizeof(rec));
}

/* ---- files, logs, patterns ---------------------------------------------------------- */

static char dir[64];
static char logbuf[16384];

static void
sink(enum log_level level, const char *line, void *arg)
{
	size_t n = strlen(logbuf);

	(void)level;
	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", line);
}

static int
logged(const char *text)
{
	return strstr(logbuf, text) != NULL;
}

static const char *
tpath(const char *name)
{
	static char p[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *d;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	d = malloc((size_t)st.st_size + 1);
	assert_non_null(d);
	assert_int_equal(pread(fd, d, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return d;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void
fill(uint8_t *b, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(rnd(&seed) >> 32);
}

static uint64_t
be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put(uint8_t *p, int bytes, uint64_t v)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* ---- building images --------------------------------------------------------------- */

enum { MK_DATA = 1, MK_COMPRESSED, MK_ZERO };

struct mkc {
	uint64_t guest;		/* guest offset (cluster-aligned) */
	int kind;
	uint64_t seed;		/* MK_DATA, MK_COMPRESSED: contents */
};

struct mk {
	unsigned version, cb, rc_order;
	uint64_t size;
	const char *backing, *backing_fmt;	/* recorded; NULL: none */
	uint64_t incompat, autoclear;
	uint32_t crypt, snapshots;
	const char *feature;	/* name of incompat bit 9 in the table */
	/* Overrides for broken images (0: computed). */
	uint32_t magic, l1_size, header_length, refcount_order_raw;
	uint64_t l1_offset, rt_offset;
	uint8_t compression_type;
};

/* Contents of a guest cluster the builder wrote (compressible when
 * compressed: runs of one byte). */
static void
mk_contents(uint8_t *b, size_t cs, const struct mkc *c)
{
	if (c->kind == MK_COMPRESSED)
		for (size_t i = 0; i < cs; i++)
			b[i] = (uint8_t)(c->seed + i / 64);
	else
		fill(b, cs, c->seed);
}

struct mkstate {
	uint8_t *d;
	size_t cs, ncl;		/* clusters in d */
	uint64_t *refs;		/* refcount per cluster */
};

static uint64_t
mk_cluster(struct mkstate *s)
{
	s->ncl++;
	s->d = realloc(s->d, s->ncl * s->cs);
	s->refs = realloc(s->refs, s->ncl * sizeof(*s->refs));
	assert_non_null(s->d);
	memset(s->d + (s->ncl - 1) * s->cs, 0, s->cs);
	s->refs[s->ncl - 1] = 1;
	return (s->ncl - 1) * s->cs;
}

static void
mk_header(const struct mk *m, struct mkstate *s, uint32_t l1_size,
    uint64_t l1_off, uint64_t rt_off)
{
	uint8_t *h = s->d;
	uint32_t hl = m->header_length ? m->header_length : 112;
	size_t pos;

	put(h, 4, m->magic ? m->magic : 0x514649fb);
	put(h + 4, 4, m->version);
	put(h + 20, 4, m->cb);
	put(h + 24, 8, m->size);
	put(h + 32, 4, m->crypt);
	put(h + 36, 4, m->l1_size ? m->l1_size : l1_size);
	put(h + 40, 8, m->l1_offset ? m->l1_offset : l1_off);
	put(h + 48, 8, m->rt_offset ? m->rt_offset : rt_off);
	put(h + 56, 4, 1);
	put(h + 60, 4, m->snapshots);
	if (m->version < 3)
		return;
	put(h + 72, 8, m->incompat);
	put(h + 88, 8, m->autoclear);
	put(h + 96, 4, m->refcount_order_raw ? m->refcount_order_raw :
	    m->rc_order);
	put(h + 100, 4, hl);
	h[104] = m->compression_type;
	pos = hl < 112 ? 112 : hl;
	if (m->backing_fmt) {
		put(h + pos, 4, 0xe2792aca);
		put(h + pos + 4, 4, strlen(m->backing_fmt));
		memcpy(h + pos + 8, m->backing_fmt, strlen(m->backing_fmt));
		pos += 8 + ((strlen(m->backing_fmt) + 7) & ~7ul);
	}
	if (m->feature) {
		put(h + pos, 4, 0x6803f857);
		put(h + pos + 4, 4, 48);
		h[pos + 8] = 0;
		h[pos + 9] = 9;
		memcpy(h + pos + 10, m->feature, strlen(m->feature));
		pos += 8 + 48;
	}
	pos += 8;
	if (m->backing) {
		put(h + 8, 8, pos);
		put(h + 16, 4, strlen(m->backing));
		memcpy(h + pos, m->backing, strlen(m->backing));
	}
}

/* Compressed data of guest cluster c, packed at *cur (not aligned). */
static uint64_t
mk_compressed(struct mkstate *s, const struct mk *m, const struct mkc *c,
    uint64_t *cur)
{
	uint8_t *raw = malloc(s->cs), *z = malloc(2 * s->cs + 64);
	z_stream zs = { 0 };
	uint64_t len, nsec, x = 62 - (m->cb - 8), e;

	mk_contents(raw, s->cs, c);
	assert_int_equal(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = raw;
	zs.avail_in = (uInt)s->cs;
	zs.next_out = z;
	zs.avail_out = (uInt)(2 * s->cs + 64);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	len = zs.total_out;
	deflateEnd(&zs);
	/* Packed after the previous one while it is in the last cluster;
	 * refcounts are counted at the end (mk_image). */
	if (*cur == 0 || *cur / s->cs != s->ncl - 1) {
		*cur = mk_cluster(s) + 7;	/* odd on purpose */
		s->refs[*cur / s->cs] = 0;
	}
	while (*cur + len > s->ncl * s->cs)
		s->refs[mk_cluster(s) / s->cs] = 0;
	memcpy(s->d + *cur, z, len);
	nsec = ((*cur + len - 1) >> 9) - (*cur >> 9);
	free(raw);
	free(z);
	e = (1ull << 62) | (nsec << x) | *cur;
	*cur += len;
	return e;
}

/*
 * Build an image: header, refcount table, one refcount block, L1 table,
 * L2 tables and clusters as listed. Returns its bytes (*len).
 */
static uint8_t *
mk_image(const struct mk *m, const struct mkc *c, int n, size_t *len)
{
	struct mkstate s = { .cs = (size_t)1 << m->cb };
	uint64_t l1_span = (uint64_t)s.cs * (s.cs / 8), rt, rb, l1, cur = 0;
	uint32_t l1_size = (uint32_t)((m->size + l1_span - 1) / l1_span);
	uint64_t l2[64] = { 0 }, per_rb;

	mk_cluster(&s);
	rt = mk_cluster(&s);
	rb = mk_cluster(&s);
	l1 = mk_cluster(&s);
	for (uint64_t i = 1; i * s.cs < (uint64_t)l1_size * 8; i++)
		mk_cluster(&s);
	for (int i = 0; i < n; i++) {
		uint64_t l1i = c[i].guest / l1_span, e;
		uint64_t l2i = c[i].guest / s.cs % (s.cs / 8);

		assert_true(l1i < 64);
		if (l2[l1i] == 0) {
			l2[l1i] = mk_cluster(&s);
			put(s.d + l1 + 8 * l1i, 8, l2[l1i] | 1ull << 63);
		}
		if (c[i].kind == MK_ZERO) {
			e = 1;
		} else if (c[i].kind == MK_COMPRESSED) {
			e = mk_compressed(&s, m, &c[i], &cur);
		} else {
			e = mk_cluster(&s);
			mk_contents(s.d + e, s.cs, &c[i]);
			e |= 1ull << 63;
		}
		put(s.d + l2[l1i] + 8 * l2i, 8, e);
	}
	per_rb = s.cs * 8 >> m->rc_order;
	assert_true(s.ncl <= per_rb);
	put(s.d + rt, 8, rb);
	mk_header(m, &s, l1_size, l1, rt);
	/* Recount compressed clusters as qemu does: each compressed cluster
	 * adds one to every host cluster its sectors touch. */
	for (int i = 0; i < n; i++) {
		uint64_t e, l1i = c[i].guest / l1_span;
		uint64_t x = 62 - (m->cb - 8), off, nsec;

		if (c[i].kind != MK_COMPRESSED)
			continue;
		e = be(s.d + l2[l1i] + 8 * (c[i].guest / s.cs % (s.cs / 8)), 8);
		off = e & ((1ull << x) - 1);
		nsec = ((e >> x) & ((1ull << (m->cb - 8)) - 1)) + 1;
		for (uint64_t k = (off & ~511ull) / s.cs;
		    k <= ((off & ~511ull) + nsec * 512 - 1) / s.cs; k++)
			s.refs[k]++;
	}
	for (size_t k = 0; k < s.ncl; k++) {
		unsigned bits = 1u << m->rc_order;
		uint8_t *blk = s.d + rb;
		uint64_t v = s.refs[k];

		if (bits < 8)
			blk[k * bits / 8] |= (uint8_t)(v << (k * bits % 8));
		else
			put(blk + k * bits / 8, (int)bits / 8, v);
	}
	free(s.refs);
	*len = s.ncl * s.cs;
	return s.d;
}

static void
mk_file(const char *path, const struct mk *m, const struct mkc *c, int n)
{
	size_t len;
	uint8_t *d = mk_image(m, c, n, &len);

	write_file(path, d, len);
	free(d);
}

/* ---- an independent check (what qemu-img check does) ---------------------------- */

struct chk {
	int corrupt, leaks, unwritten;
	char why[200];
};

struct ckimg {
	const uint8_t *d;
	size_t n;
	const uint8_t *written;	/* per cluster; NULL: all */
	unsigned cb, order;
	uint64_t cs, ncl;
	uint64_t *refs;		/* references found, per cluster */
	struct chk *r;
};

static void
ck_bad(struct ckimg *k, const char *why, uint64_t what)
{
	if (!k->r->corrupt)
		snprintf(k->r->why, sizeof(k->r->why), "%s %#llx", why,
		    (unsigned long long)what);
	k->r->corrupt++;
}

/* Count a reference to host bytes [off, off + len); a table (whole) must
 * have been written. */
static void
ck_ref(struct ckimg *k, uint64_t off, uint64_t len, int table)
{
	for (uint64_t c = off >> k->cb; c <= (off + len - 1) >> k->cb; c++) {
		if (c >= k->ncl) {
			ck_bad(k, "reference past the end", c << k->cb);
			return;
		}
		k->refs[c]++;
		if (k->written && !k->written[c]) {
			k->r->unwritten++;
			if (!k->r->corrupt)
				snprintf(k->r->why, sizeof(k->r->why), "%s "
				    "%#llx never written", table ? "table" :
				    "data", (unsigned long long)(c << k->cb));
		}
	}
}

static uint64_t
ck_rc(const struct ckimg *k, const uint8_t *blk, uint64_t i)
{
	unsigned bits = 1u << k->order;

	if (bits < 8)
		return (blk[i * bits / 8] >> (i * bits % 8)) & ((1u << bits) - 1);
	return be(blk + i * bits / 8, (int)bits / 8);
}

static void
ck_l2(struct ckimg *k, uint64_t l2off, unsigned version)
{
	for (uint64_t i = 0; i < k->cs / 8; i++) {
		uint64_t e = be(k->d + l2off + 8 * i, 8), off;

		if (e & (1ull << 62)) {
			uint64_t x = 62 - (k->cb - 8), nsec;

			off = e & ((1ull << x) - 1);
			nsec = ((e >> x) & ((1ull << (k->cb - 8)) - 1)) + 1;
			ck_ref(k, off & ~511ull, nsec * 512, 0);
			continue;
		}
		off = e & 0x00fffffffffffe00ull;
		if ((e & 1) && version < 3)
			ck_bad(k, "zero flag in v2", e);
		if (off & (k->cs - 1))
			ck_bad(k, "unaligned data cluster", e);
		else if (off)
			ck_ref(k, off, k->cs, 0);
	}
}

/* Check the image in d; references past ncl count as corruption. */
static void
chk_image(const uint8_t *d, size_t n, const uint8_t *written, struct chk *r)
{
	struct ckimg k = { .d = d, .n = n, .written = written, .r = r };
	uint64_t l1off, l1size, rtoff, rtcl, c, rb_entries;
	unsigned version = (unsigned)be(d + 4, 4);

	memset(r, 0, sizeof(*r));
	k.cb = (unsigned)be(d + 20, 4);
	k.order = version >= 3 ? (unsigned)be(d + 96, 4) : 4;
	k.cs = 1ull << k.cb;
	k.ncl = (n + k.cs - 1) >> k.cb;
	k.refs = calloc(k.ncl + 1, sizeof(*k.refs));
	assert_non_null(k.refs);
	l1size = be(d + 36, 4);
	l1off = be(d + 40, 8);
	rtoff = be(d + 48, 8);
	rtcl = be(d + 56, 4);
	ck_ref(&k, 0, k.cs, 1);
	ck_ref(&k, l1off, l1size * 8, 1);
	ck_ref(&k, rtoff, rtcl * k.cs, 1);
	if (r->corrupt)
		goto out;
	for (uint64_t i = 0; i < l1size; i++) {
		uint64_t e = be(d + l1off + 8 * i, 8), off = e & 0x00fffffffffffe00ull;

		if (off == 0)
			continue;
		if ((off & (k.cs - 1)) || off + k.cs > k.ncl * k.cs) {
			ck_bad(&k, "bad L2 table offset", e);
			continue;
		}
		ck_ref(&k, off, k.cs, 1);
		if (off + k.cs <= n)
			ck_l2(&k, off, version);
	}
	rb_entries = k.cs * 8 >> k.order;
	for (uint64_t ti = 0; ti < rtcl * k.cs / 8; ti++) {
		uint64_t off = be(d + rtoff + 8 * ti, 8);

		if (off == 0)
			continue;
		if ((off & (k.cs - 1)) || off + k.cs > n) {
			ck_bad(&k, "bad refcount block offset", off);
			continue;
		}
		ck_ref(&k, off, k.cs, 1);
	}
	/* Compare with the refcounts. */
	for (c = 0; c < k.ncl; c++) {
		uint64_t ti = c / rb_entries, rc = 0, off;

		if (ti < rtcl * k.cs / 8) {
			off = be(d + rtoff + 8 * ti, 8);
			if (off && off + k.cs <= n)
				rc = ck_rc(&k, d + off, c % rb_entries);
		}
		if (k.refs[c] > rc)
			ck_bad(&k, "refcount below references for", c << k.cb);
		else if (k.refs[c] < rc)
			r->leaks++;
	}
out:
	free(k.refs);
}

static void
assert_clean(const char *path, int leaks_ok)
{
	size_t n;
	uint8_t *d = read_file(path, &n);
	struct chk r;

	chk_image(d, n, NULL, &r);
	free(d);
	if (r.corrupt || (!leaks_ok && r.leaks))
		fail_msg("%s: %d corrupt (%s), %d leaks", path, r.corrupt,
		    r.why, r.leaks);
}

/* ---- helpers over a back end ------------------------------------------------------- */

static void
must_read(struct blk_backend *b, uint8_t *buf, uint64_t off, size_t len)
{
	/* Three iovecs of odd sizes. */
	size_t a = len / 3, c = len / 5;
	struct iovec v[3] = { { buf, a }, { buf + a, len - a - c },
	    { buf + len - c, c } };

	assert_int_equal(b->ops->preadv(b, v, 3, off), (ssize_t)len);
}

static void
must_write(struct blk_backend *b, const uint8_t *buf, uint64_t off,
    size_t len)
{
	size_t a = len / 2;
	struct iovec v[2] = { { (void *)buf, a }, { (void *)(buf + a),
	    len - a } };

	assert_int_equal(b->ops->pwritev(b, v, 2, off), (ssize_t)len);
}

static void
assert_reads(struct blk_backend *b, const uint8_t *want, uint64_t size)
{
	uint8_t *got = malloc(size);

	must_read(b, got, 0, size);
	for (uint64_t i = 0; i < size; i++)
		if (got[i] != want[i])
			fail_msg("byte %#llx: %#x, want %#x",
			    (unsigned long long)i, got[i], want[i]);
	free(got);
}

static uint8_t *
mk_base(const char *path, size_t size, uint64_t seed)
{
	uint8_t *d = malloc(size);

	fill(d, size, seed);
	write_file(path, d, size);
	return d;
}

/* Random writes (and discards) to b and to the model. */
static void
workload(struct blk_backend *b, uint8_t *model, uint64_t seed, int nops,
    size_t maxlen, int flush_every)
{
	uint8_t *buf = malloc(maxlen);

	for (int i = 1; i <= nops; i++) {
		uint64_t len = 1 + rnd(&seed) % maxlen, off;

		if (len > b->size)
			len = b->size;
		off = rnd(&seed) % (b->size - len + 1);
		if (rnd(&seed) % 4)
			off &= ~511ull;
		if (b->can_discard && rnd(&seed) % 8 == 0) {
			assert_int_equal(b->ops->discard(b, off, len), 0);
			memset(model + off, 0, len);
		} else {
			fill(buf, len, seed + (uint64_t)i);
			must_write(b, buf, off, len);
			memcpy(model + off, buf, len);
		}
		if (flush_every && i % flush_every == 0)
			assert_int_equal(b->ops->flush(b), 0);
	}
	free(buf);
}

/* ---- tests -------------------------------------------------------------------------- */

static int
setup(void **state)
{
	(void)state;
	/* tmpfs when there is one: the crash tests need no real fsync. */
	snprintf(dir, sizeof(dir), "/dev/shm/unit_qcow2.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/unit_qcow2.XXXXXX");
		assert_non_null(mkdtemp(dir));
	}
	log_set_sink(sink, NULL);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int
before(void **state)
{
	(void)state;
	logbuf[0] = '\0';
	return 0;
}

static void
test_create_overlay(void **state)
{
	char ov[128], base[128], name[1100];
	struct blk_backend *b;
	uint8_t *b0, *d;
	size_t n;

	(void)state;
	/* Own copies: tpath's buffers are reused by the calls below. */
	snprintf(ov, sizeof(ov), "%s", tpath("ov.qcow2"));
	snprintf(base, sizeof(base), "%s", tpath("base.raw"));
	b0 = mk_base(base, 3 << 20, 1);
	unlink(ov);
	assert_int_equal(blk_qcow2_create_overlay(ov, base, "raw", 0), 0);
	d = read_file(ov, &n);
	assert_int_equal(be(d, 4), 0x514649fb);
	assert_int_equal(be(d + 4, 4), 3);
	assert_int_equal(be(d + 24, 8), 3 << 20);
	assert_memory_equal(d + be(d + 8, 8), base, strlen(base));
	free(d);
	assert_clean(ov, 0);
	assert_int_equal(blk_qcow2_open_pinned(ov, 0, base, "raw", &b), 0);
	assert_int_equal(b->size, 3 << 20);
	assert_true(b->can_discard);
	assert_reads(b, b0, b->size);
	b->ops->close(b);
	/* Never over an existing file; formats and names checked. */
	assert_int_equal(blk_qcow2_create_overlay(ov, base, "raw", 0), -EEXIST);
	assert_int_equal(blk_qcow2_create_overlay(tpath("x"), base, "vmdk", 0),
	    -EINVAL);
	assert_int_equal(blk_qcow2_create_overlay(tpath("x"), tpath("none"),
	    "raw", 0), -ENOENT);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(blk_qcow2_create_overlay(tpath("x"), name, "raw",
	    1 << 20), -EINVAL);
	assert_int_equal(access(tpath("x"), F_OK), -1);
	/* An explicit size larger than the base. */
	unlink(ov);
	assert_int_equal(blk_qcow2_create_overlay(ov, base, "raw", 5 << 20), 0);
	assert_int_equal(blk_qcow2_open_pinned(ov, 1, base, "raw", &b), 0);
	assert_int_equal(b->size, 5 << 20);
	b->ops->close(b);
	free(b0);
}

struct refusal {
	const char *name;
	struct mk m;
	int ro;
	const char *pin_fmt;	/* pin a backing file of this format */
	int err;
	const char *text;
};

static void
test_refusals(void **state)
{
#define V3 .version = 3, .cb = 16, .rc_order = 4, .size = 1 << 20
	static const struct refusal r[] = {
		{ "magic", { V3, .magic = 0x514649fa }, 1, NULL, -EINVAL,
		    "not a qcow2 image" },
		{ "version", { .version = 4, .cb = 16, .rc_order = 4,
		    .size = 1 << 20 }, 1, NULL, -EINVAL, "version 4" },
		{ "cluster_bits 8", { .version = 3, .cb = 8, .rc_order = 4,
		    .size = 1 << 20 }, 1, NULL, -EINVAL, "cluster_bits 8" },
		{ "unknown feature", { V3, .incompat = 1 << 9,
		    .feature = "frobnicate" }, 1, NULL, -ENOTSUP,
		    "bit 9 (frobnicate)" },
		{ "unknown feature, no table", { V3, .incompat = 1ull << 40 },
		    1, NULL, -ENOTSUP, "bit 40 (unknown)" },
		{ "extended L2", { V3, .incompat = 1 << 4 }, 1, NULL,
		    -ENOTSUP, "extended L2 entries" },
		{ "data file", { V3, .incompat = 1 << 2 }, 1, NULL, -ENOTSUP,
		    "external data file" },
		{ "zstd", { V3, .incompat = 1 << 3, .compression_type = 1 },
		    1, NULL, -ENOTSUP, "(zstd)" },
		{ "encryption", { V3, .crypt = 2 }, 1, NULL, -ENOTSUP,
		    "encrypted" },
		{ "L1 too small", { .version = 3, .cb = 16, .rc_order = 4,
		    .size = 1ull << 40, .l1_size = 1 }, 1, NULL, -EINVAL,
		    "L1 table of 1 entries" },
		{ "L1 outside", { V3, .l1_offset = 1ull << 40 }, 1, NULL,
		    -EINVAL, "L1 table at" },
		{ "L1 unaligned", { V3, .l1_offset = (3 << 16) + 8 }, 1,
		    NULL, -EINVAL, "L1 table at" },
		{ "refcount table outside", { V3, .rt_offset = 1 << 30 }, 1,
		    NULL, -EINVAL, "refcount table" },
		{ "refcount_order", { V3, .refcount_order_raw = 7 }, 1, NULL,
		    -EINVAL, "refcount_order 7" },
		{ "header_length", { V3, .header_length = 100 }, 1, NULL,
		    -EINVAL, "header_length" },
		{ "backing not pinned", { V3, .backing = "/etc/passwd" }, 1,
		    NULL, -EINVAL, "qcow2 with a backing file ('/etc/passwd')" },
		{ "backing format", { V3, .backing = "b", .backing_fmt =
		    "qcow2" }, 1, "raw", -EINVAL,
		    "records backing format 'qcow2', the config says 'raw'" },
		{ "pinned but none", { V3 }, 1, "raw", -EINVAL,
		    "has no backing file" },
		{ "dirty, rw", { V3, .incompat = 1 }, 0, NULL, -EINVAL,
		    "dirty bit" },
		{ "corrupt, rw", { V3, .incompat = 2 }, 0, NULL, -EINVAL,
		    "marked corrupt" },
		{ "snapshots, rw", { V3, .snapshots = 1 }, 0, NULL, -ENOTSUP,
		    "internal snapshots" },
	};
#undef V3
	const char *img = tpath("bad.qcow2"), *base = tpath("rbase.raw");
	struct blk_backend *b = NULL;

	(void)state;
	free(mk_base(base, 1 << 20, 2));
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		int err;

		logbuf[0] = '\0';
		mk_file(img, &r[i].m, NULL, 0);
		err = r[i].pin_fmt ? blk_qcow2_open_pinned(img, r[i].ro, base,
		    r[i].pin_fmt, &b) : blk_qcow2_ops.open(img, r[i].ro, &b);
		if (err != r[i].err || !logged(r[i].text))
			fail_msg("%s: %d, want %d and '%s' in: %s", r[i].name,
			    err, r[i].err, r[i].text, logbuf);
	}
	/* What is refused for writing is read. */
	for (uint64_t bits = 1; bits <= 2; bits++) {
		struct mk m = { .version = 3, .cb = 16, .rc_order = 4,
		    .size = 1 << 20, .incompat = bits };

		mk_file(img, &m, NULL, 0);
		assert_int_equal(blk_qcow2_ops.open(img, 1, &b), 0);
		b->ops->close(b);
	}
	/* A file too short for a header. */
	write_file(img, "QFI\xfb", 4);
	assert_int_equal(blk_qcow2_ops.open(img, 1, &b), -EINVAL);
}

/* Every kind of cluster, read through three odd iovecs. */
static void
test_read_kinds(void **state)
{
	const struct mk m = { .version = 3, .cb = 12, .rc_order = 4,
	    .size = 64 << 10, .backing = "base", .backing_fmt = "raw" };
	const struct mkc c[] = {
		{ 1 << 12, MK_DATA, 11 },
		{ 2 << 12, MK_COMPRESSED, 12 },
		{ 3 << 12, MK_ZERO, 0 },
		{ 5 << 12, MK_COMPRESSED, 13 },
		{ 6 << 12, MK_COMPRESSED, 14 },
		{ 12 << 12, MK_DATA, 15 },
	};
	const char *img = tpath("kinds.qcow2"), *base = tpath("kbase.raw");
	uint8_t *b0 = mk_base(base, 40 << 10, 3), want[64 << 10];
	struct blk_backend *b;

	(void)state;
	mk_file(img, &m, c, 6);
	assert_clean(img, 0);
	memset(want, 0, sizeof(want));
	memcpy(want, b0, 40 << 10);
	for (int i = 0; i < 6; i++) {
		if (c[i].kind == MK_ZERO)
			memset(want + c[i].guest, 0, 1 << 12);
		else
			mk_contents(want + c[i].guest, 1 << 12, &c[i]);
	}
	assert_int_equal(blk_qcow2_open_pinned(img, 1, base, "raw", &b), 0);
	assert_reads(b, want, sizeof(want));
	/* Small reads inside a compressed cluster, then across kinds. */
	for (uint64_t off = 0; off + 3000 <= sizeof(want); off += 2999) {
		uint8_t got[3000];

		must_read(b, got, off, sizeof(got));
		assert_memory_equal(got, want + off, sizeof(got));
	}
	b->ops->close(b);
	free(b0);
}

/* Writes over a raw base through our own overlay, against a model. */
static void
test_overlay_writes(void **state)
{
	const char *ov = tpath("w.qcow2"), *base = tpath("wbase.raw");
	uint64_t size = 6 << 20;
	uint8_t *model = mk_base(base, 4 << 20, 4);
	struct blk_backend *b;

	(void)state;
	model = realloc(model, size);
	memset(model + (4 << 20), 0, 2 << 20);
	unlink(ov);
	assert_int_equal(blk_qcow2_create_overlay(ov, base, "raw", size), 0);
	assert_int_equal(blk_qcow2_open_pinned(ov, 0, base, "raw", &b), 0);
	workload(b, model, 5, 300, 300000, 16);
	assert_reads(b, model, size);
	b->ops->close(b);
	assert_clean(ov, 0);
	assert_int_equal(blk_qcow2_open_pinned(ov, 0, base, "raw", &b), 0);
	assert_reads(b, model, size);
	workload(b, model, 6, 100, 70000, 0);	/* no flush but close's */
	b->ops->close(b);
	assert_clean(ov, 0);
	assert_int_equal(blk_qcow2_open_pinned(ov, 1, base, "raw", &b), 0);
	assert_reads(b, model, size);
	assert_int_equal(b->ops->pwritev(b, &(struct iovec){ model, 1 }, 1, 0),
	    -EROFS);
	b->ops->close(b);
	free(model);
}

/* 512-byte clusters with 64-bit (and 1-bit) refcounts: the refcount table
 * covers 2 MiB (8 MiB) of file, so it has to move, more than once. */
static void
test_refcount_growth(void **state)
{
	const char *img = tpath("grow.qcow2");
	uint64_t size = 4 << 20;

	(void)state;
	for (unsigned order = 0; order <= 6; order += 6) {
		struct mk m = { .version = 3, .cb = 9, .rc_order = order,
		    .size = size };
		uint8_t *model = calloc(1, size), *d;
		struct blk_backend *b;
		uint64_t rt0;
		size_t n;

		mk_file(img, &m, NULL, 0);
		d = read_file(img, &n);
		rt0 = be(d + 48, 8);
		free(d);
		assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
		workload(b, model, 7 + order, 200, 128 << 10, 10);
		assert_reads(b, model, size);
		b->ops->close(b);
		d = read_file(img, &n);
		if (order == 6)
			assert_true(be(d + 48, 8) != rt0);
		free(d);
		assert_clean(img, 0);
		assert_int_equal(blk_qcow2_ops.open(img, 1, &b), 0);
		assert_reads(b, model, size);
		b->ops->close(b);
		free(model);
	}
}

/* Writing into compressed and zero clusters: copy-up, then the compressed
 * sectors' refcounts drop (no leaks). A v2 image cannot discard. */
static void
test_cow_compressed(void **state)
{
	const struct mk m = { .version = 3, .cb = 12, .rc_order = 4,
	    .size = 64 << 10 };
	const struct mkc c[] = {
		{ 0, MK_COMPRESSED, 21 }, { 1 << 12, MK_COMPRESSED, 22 },
		{ 2 << 12, MK_COMPRESSED, 23 }, { 3 << 12, MK_ZERO, 0 },
		{ 4 << 12, MK_DATA, 24 },
	};
	const char *img = tpath("cow.qcow2");
	uint8_t model[64 << 10] = { 0 }, buf[6000];
	struct blk_backend *b;
	struct mk v2 = m;

	(void)state;
	mk_file(img, &m, c, 5);
	for (int i = 0; i < 5; i++)
		if (c[i].kind != MK_ZERO)
			mk_contents(model + c[i].guest, 1 << 12, &c[i]);
	assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
	fill(buf, sizeof(buf), 25);
	must_write(b, buf, 1000, 100);		/* inside compressed 0 */
	memcpy(model + 1000, buf, 100);
	must_write(b, buf, 6000, 6000);		/* compressed 1 and 2 */
	memcpy(model + 6000, buf, 6000);
	must_write(b, buf, (3 << 12) + 5, 10);	/* zero cluster */
	memcpy(model + (3 << 12) + 5, buf, 10);
	assert_int_equal(b->ops->discard(b, 4 << 12, 1 << 12), 0);
	memset(model + (4 << 12), 0, 1 << 12);
	assert_reads(b, model, sizeof(model));
	b->ops->close(b);
	assert_clean(img, 0);
	assert_int_equal(blk_qcow2_ops.open(img, 1, &b), 0);
	assert_reads(b, model, sizeof(model));
	b->ops->close(b);
	/* Version 2: no zero clusters, so no discard. */
	v2.version = 2;
	mk_file(img, &v2, NULL, 0);
	assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
	assert_false(b->can_discard);
	assert_int_equal(b->ops->discard(b, 0, 4096), -EOPNOTSUPP);
	b->ops->close(b);
}

/* Bad entries fail the request with -EIO and a warning; the rest of the
 * image still reads. */
static void
test_corrupt_entries(void **state)
{
	const struct mk m = { .version = 3, .cb = 12, .rc_order = 4,
	    .size = 64 << 10 };
	const struct mkc c[] = { { 0, MK_DATA, 31 }, { 1 << 12, MK_DATA, 32 },
	    { 2 << 12, MK_COMPRESSED, 33 } };
	static const struct { uint64_t entry; const char *text; } bad[] = {
		{ (1ull << 63) | (1ull << 40), "outside the file" },
		{ (1ull << 63) | 0x5200, "unaligned" },
		{ (1ull << 63) | (1ull << 57) | 0x4000, "reserved bits" },
		{ (1ull << 63) | (1ull << 62) | 0x4000, "compressed cluster" },
		{ 0, "does not inflate" },	/* at data cluster 0 */
	};
	const char *img = tpath("corrupt.qcow2");
	uint8_t buf[4096];
	struct blk_backend *b;
	uint64_t l2;
	size_t n;
	uint8_t *d = mk_image(&m, c, 3, &n);

	(void)state;
	l2 = be(d + be(d + 40, 8), 8) & 0x00fffffffffffe00ull;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t e = bad[i].entry;

		/* Random bytes as a compressed cluster (x = 58 for 4 KiB). */
		if (e == 0)
			e = (1ull << 62) | (1ull << 58) | (be(d + l2, 8) &
			    0x00fffffffffffe00ull);
		logbuf[0] = '\0';
		put(d + l2 + 8, 8, e);
		write_file(img, d, n);
		assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
		assert_int_equal(b->ops->preadv(b, &(struct iovec){ buf,
		    sizeof(buf) }, 1, 1 << 12), -EIO);
		assert_int_equal(b->ops->pwritev(b, &(struct iovec){ buf, 10 },
		    1, (1 << 12) + 1), -EIO);
		assert_int_equal(b->ops->preadv(b, &(struct iovec){ buf,
		    sizeof(buf) }, 1, 0), sizeof(buf));
		if (!logged("corrupt qcow2 image") || !logged(bad[i].text))
			fail_msg("entry %zu: %s", i, logbuf);
		b->ops->close(b);
	}
	/* An L2 table past the end of the file. */
	put(d + be(d + 40, 8), 8, (1ull << 63) | (1ull << 30));
	write_file(img, d, n);
	assert_int_equal(blk_qcow2_ops.open(img, 1, &b), 0);
	assert_int_equal(b->ops->preadv(b, &(struct iovec){ buf, 512 }, 1, 0),
	    -EIO);
	assert_true(logged("L2 table"));
	b->ops->close(b);
	free(d);
}

/* An L1 entry without the COPIED flag: writable if the L2 table's
 * refcount is 1 (the flag is then set), refused if it is shared. */
static void
test_l1_copied(void **state)
{
	const struct mk m = { .version = 3, .cb = 12, .rc_order = 4,
	    .size = 64 << 10 };
	const struct mkc c[] = { { 0, MK_DATA, 61 } };
	const char *img = tpath("copied.qcow2");
	uint8_t buf[100] = { 7 }, got[100];
	uint64_t l1off, l2off, rb;
	struct blk_backend *b;
	size_t n;
	uint8_t *d = mk_image(&m, c, 1, &n);

	(void)state;
	l1off = be(d + 40, 8);
	l2off = be(d + l1off, 8) & 0x00fffffffffffe00ull;
	put(d + l1off, 8, l2off);
	write_file(img, d, n);
	assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
	must_write(b, buf, 5000, sizeof(buf));
	must_read(b, got, 5000, sizeof(got));
	assert_memory_equal(got, buf, sizeof(buf));
	b->ops->close(b);
	assert_clean(img, 0);
	free(d);
	d = read_file(img, &n);
	assert_true(be(d + l1off, 8) >> 63);
	/* Refcount 2 (as if a snapshot shared it): refused. */
	rb = be(d + be(d + 48, 8), 8);
	put(d + l1off, 8, l2off);
	put(d + rb + 2 * (l2off >> 12), 2, 2);
	write_file(img, d, n);
	assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
	assert_int_equal(b->ops->pwritev(b, &(struct iovec){ buf, 10 }, 1,
	    3 << 12), -EIO);
	assert_true(logged("has refcount 2"));
	b->ops->close(b);
	free(d);
}

/* Autoclear bits we do not maintain are cleared before writing only. */
static void
test_autoclear(void **state)
{
	const struct mk m = { .version = 3, .cb = 16, .rc_order = 4,
	    .size = 1 << 20, .autoclear = 1 };
	const char *img = tpath("ac.qcow2");
	struct blk_backend *b;
	uint8_t *d;
	size_t n;

	(void)state;
	mk_file(img, &m, NULL, 0);
	assert_int_equal(blk_qcow2_ops.open(img, 1, &b), 0);
	b->ops->close(b);
	d = read_file(img, &n);
	assert_int_equal(be(d + 88, 8), 1);
	free(d);
	assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
	b->ops->close(b);
	d = read_file(img, &n);
	assert_int_equal(be(d + 88, 8), 0);
	free(d);
}

/* Backing chains are built by the caller; a qcow2 base with a backing
 * file of its own is refused unless pinned too. */
static void
test_chain(void **state)
{
	const struct mk mid = { .version = 3, .cb = 12, .rc_order = 4,
	    .size = 32 << 10, .backing = "whatever", .backing_fmt = "raw" };
	const struct mkc c[] = { { 1 << 12, MK_DATA, 41 },
	    { 2 << 12, MK_COMPRESSED, 42 } };
	const char *base = tpath("cbase.raw"), *mp = tpath("mid.qcow2");
	const char *top = tpath("top.qcow2");
	uint8_t *b0 = mk_base(base, 32 << 10, 43), model[32 << 10], buf[8192];
	struct blk_backend *rb, *mb, *tb;

	(void)state;
	mk_file(mp, &mid, c, 2);
	memcpy(model, b0, sizeof(model));
	mk_contents(model + (1 << 12), 1 << 12, &c[0]);
	mk_contents(model + (2 << 12), 1 << 12, &c[1]);
	unlink(top);
	assert_int_equal(blk_qcow2_create_overlay(top, mp, "qcow2",
	    sizeof(model)), 0);
	assert_int_equal(blk_qcow2_open_pinned(top, 0, mp, "qcow2", &tb),
	    -EINVAL);
	assert_true(logged("qcow2 with a backing file ('whatever')"));
	assert_int_equal(blk_raw_ops.open(base, 1, &rb), 0);
	assert_int_equal(blk_qcow2_open_over(mp, 1, rb, &mb), 0);
	assert_int_equal(blk_qcow2_open_over(top, 0, mb, &tb), 0);
	assert_reads(tb, model, sizeof(model));
	fill(buf, sizeof(buf), 44);
	must_write(tb, buf, 5000, sizeof(buf));
	memcpy(model + 5000, buf, sizeof(buf));
	assert_reads(tb, model, sizeof(model));
	tb->ops->close(tb);
	assert_clean(top, 0);
	assert_clean(mp, 0);
	free(b0);
}

/* The number of fdatasync calls per flush, as documented. */
static void
test_flush_syncs(void **state)
{
	const char *ov = tpath("sync.qcow2"), *base = tpath("sbase.raw");
	uint8_t buf[4096] = { 1 };
	struct blk_backend *b;

	(void)state;
	free(mk_base(base, 4 << 20, 5));
	unlink(ov);
	assert_int_equal(blk_qcow2_create_overlay(ov, base, "raw", 0), 0);
	assert_int_equal(blk_qcow2_open_pinned(ov, 0, base, "raw", &b), 0);
	rec_start(ov);
	must_write(b, buf, 100, sizeof(buf));	/* new L2 table */
	assert_int_equal(b->ops->flush(b), 0);
	assert_int_equal(rec.syncs, 3);
	rec.syncs = 0;
	must_write(b, buf, 1 << 20, sizeof(buf));	/* new cluster */
	assert_int_equal(b->ops->flush(b), 0);
	assert_int_equal(rec.syncs, 2);
	rec.syncs = 0;
	must_write(b, buf, 200, sizeof(buf));	/* in place */
	assert_int_equal(b->ops->flush(b), 0);
	assert_int_equal(rec.syncs, 1);
	b->ops->close(b);
	rec_stop();
}

/* ---- crash replay -------------------------------------------------------------------- */

struct disk {
	uint8_t *d;
	size_t n, cap;
	uint8_t *written;	/* per cluster */
	size_t ncl, wcap;
	unsigned cb;
};

/* Grow *p (capacity *cap) to hold need bytes, doubling. */
static void
grow(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need > 2 * *cap ? need : 2 * *cap;
	*p = realloc(*p, *cap);
	assert_non_null(*p);
}

static void
disk_apply(struct disk *k, const struct ev *e)
{
	uint64_t end = e->off + e->len;

	if (end > k->n) {
		grow(&k->d, &k->cap, end);
		memset(k->d + k->n, 0, end - k->n);
		k->n = end;
	}
	if (((end + (1ull << k->cb) - 1) >> k->cb) > k->ncl) {
		size_t ncl = (end + (1ull << k->cb) - 1) >> k->cb;

		grow(&k->written, &k->wcap, ncl);
		memset(k->written + k->ncl, 0, ncl - k->ncl);
		k->ncl = ncl;
	}
	if (e->data)
		memcpy(k->d + e->off, e->data, e->len);
	else
		memset(k->d + e->off, 0, e->len);
	for (uint64_t c = e->off >> k->cb; c < (end + (1ull << k->cb) - 1) >>
	    k->cb; c++)
		k->written[c] = 1;
}

static void
disk_copy(struct disk *dst, const struct disk *src)
{
	dst->n = src->n;
	dst->ncl = src->ncl;
	dst->cb = src->cb;
	dst->cap = src->n + (1u << 20);
	dst->wcap = src->ncl + (1u << 12);
	dst->d = malloc(dst->cap);
	dst->written = malloc(dst->wcap);
	memcpy(dst->d, src->d, src->n);
	memcpy(dst->written, src->written, src->ncl);
}

static void
disk_free(struct disk *k)
{
	free(k->d);
	free(k->written);
}

static void
disk_check(const struct disk *k, const char *what, size_t at)
{
	struct chk r;

	chk_image(k->d, k->n, k->written, &r);
	if (r.corrupt || r.unwritten)
		fail_msg("crash %s at event %zu: %d corrupt, %d unwritten: %s",
		    what, at, r.corrupt, r.unwritten, r.why);
}

/* Replay rec.ev over the image as it was (d, n): every crash state. */
static unsigned
replay(uint8_t *d, size_t n, unsigned cb, uint64_t seed)
{
	struct disk state = { .d = d, .n = n, .cap = n, .cb = cb };
	unsigned states = 0;
	size_t a = 0;

	state.ncl = (n + (1ull << cb) - 1) >> cb;
	state.wcap = state.ncl;
	state.written = malloc(state.ncl + 1);
	memset(state.written, 1, state.ncl);
	while (a < rec.n) {
		size_t b = a;
		struct disk t;

		while (b < rec.n && !rec.ev[b].sync)
			b++;
		/* kill -9: every prefix of this epoch. */
		disk_copy(&t, &state);
		disk_check(&t, "prefix", a);
		for (size_t j = a; j < b; j++, states++) {
			disk_apply(&t, &rec.ev[j]);
			disk_check(&t, "prefix", j);
		}
		disk_free(&t);
		/* Power loss: all but one, for up to 6 of them. */
		for (int s = 0; s < 6 && b - a > 1; s++, states++) {
			size_t drop = a + rnd(&seed) % (b - a);

			disk_copy(&t, &state);
			for (size_t j = a; j < b; j++)
				if (j != drop)
					disk_apply(&t, &rec.ev[j]);
			disk_check(&t, "all but one", drop);
			disk_free(&t);
		}
		for (size_t j = a; j < b; j++)
			disk_apply(&state, &rec.ev[j]);
		a = b + 1;
	}
	disk_check(&state, "end", rec.n);
	disk_free(&state);
	return states;
}

static void
crash_run(const char *img, const char *base, unsigned cb, uint64_t size,
    uint64_t seed, size_t maxlen)
{
	struct blk_backend *b;
	uint8_t *d, *model = calloc(1, size);
	size_t n;
	unsigned states;

	d = read_file(img, &n);
	if (base) {
		assert_int_equal(blk_qcow2_open_pinned(img, 0, base, "raw",
		    &b), 0);
		must_read(b, model, 0, size);
	} else {
		assert_int_equal(blk_qcow2_ops.open(img, 0, &b), 0);
	}
	rec_start(img);
	workload(b, model, seed, 60, maxlen, 4);
	b->ops->close(b);
	rec.on = 0;
	states = replay(d, n, cb, seed);
	print_message("%s: %zu writes and syncs, %u crash states checked\n",
	    img, rec.n, states);
	rec_stop();
	assert_clean(img, 0);
	if (base)
		assert_int_equal(blk_qcow2_open_pinned(img, 1, base, "raw",
		    &b), 0);
	else
		assert_int_equal(blk_qcow2_ops.open(img, 1, &b), 0);
	assert_reads(b, model, size);
	b->ops->close(b);
	free(model);
}

static void
test_crash_replay(void **state)
{
	const struct mk m = { .version = 3, .cb = 9, .rc_order = 6,
	    .size = 4 << 20 };
	const char *img = tpath("crash.qcow2"), *ov = tpath("crash-ov.qcow2");

	(void)state;
	/* Small clusters, 64-bit refcounts: the refcount table moves. */
	mk_file(img, &m, NULL, 0);
	crash_run(img, NULL, 9, 4 << 20, 51, 96 << 10);
	/* Our overlay over a raw base, with discards and hole punching. */
	unlink(ov);
	free(mk_base(tpath("crash-base.raw"), 8 << 20, 52));
	assert_int_equal(blk_qcow2_create_overlay(ov, tpath("crash-base.raw"),
	    "raw", 0), 0);
	crash_run(ov, tpath("crash-base.raw"), 16, 8 << 20, 52, 300 << 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_create_overlay, before),
		cmocka_unit_test_setup(test_refusals, before),
		cmocka_unit_test_setup(test_read_kinds, before),
		cmocka_unit_test_setup(test_overlay_writes, before),
		cmocka_unit_test_setup(test_refcount_growth, before),
		cmocka_unit_test_setup(test_cow_compressed, before),
		cmocka_unit_test_setup(test_corrupt_entries, before),
		cmocka_unit_test_setup(test_l1_copied, before),
		cmocka_unit_test_setup(test_autoclear, before),
		cmocka_unit_test_setup(test_chain, before),
		cmocka_unit_test_setup(test_flush_syncs, before),
		cmocka_unit_test_setup(test_crash_replay, before),
	};

	return cmocka_run_group_tests_name("qcow2", tests, setup, teardown);
}
