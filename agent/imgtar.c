/*
 * imgtar.c: streaming tar (ustar, pax, GNU) over plain or gzip input.
 *
 * Hand-written rather than libarchive: the agent needs only to walk
 * regular files of trusted-format, untrusted-content archives (OCI and
 * Docker image archives, image layers) and never to write to the file
 * system from an entry name, so a small reader with zlib keeps the
 * musl sysroot as it is. Everything the archive says is checked: header
 * checksums, octal and base-256 numbers, pax record lengths, name sizes,
 * and every short read is reported as a truncated archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgtar.h"

#define IBUF_SIZE	(256u << 10)
#define PAX_MAX		(1u << 20)
#define BLOCK		512

static int __attribute__((format(printf, 4, 5)))
tfail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---------------------------------------------------------------- source */

static int
src_fill(struct imgtar_src *s, char *err, size_t errlen)
{
	ssize_t n;

	if (s->ilen > 0 && s->ipos > 0)
		memmove(s->ibuf, s->ibuf + s->ipos, s->ilen);
	s->ipos = 0;
	while (!s->eof && s->ilen < IBUF_SIZE) {
		n = read(s->fd, s->ibuf + s->ilen, IBUF_SIZE - s->ilen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tfail(err, errlen, -errno, "%s: read: %s",
			    s->what, strerror(errno));
		if (n == 0)
			s->eof = 1;
		s->ilen += (size_t)n;
		if (n > 0)
			break;
	}
	return 0;
}

int
imgtar_src_open(struct imgtar_src *s, const char *path, char *err,
    size_t errlen)
{
	static const unsigned char zstd[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	const char *base = strrchr(path, '/');
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->what, sizeof(s->what), "%s", base ? base + 1 : path);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return tfail(err, errlen, -errno, "%s: %s", path,
		    strerror(errno));
	s->ibuf = malloc(IBUF_SIZE);
	if (s->ibuf == NULL) {
		rc = tfail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	/* Enough bytes to see the magic. */
	while (s->ilen < 4 && !s->eof)
		if ((rc = src_fill(s, err, errlen)) < 0)
			goto fail;
	if (s->ilen >= 4 && memcmp(s->ibuf, zstd, 4) == 0) {
		rc = tfail(err, errlen, -ENOTSUP, "%s: zstd-compressed data "
		    "is not supported (gzip or plain tar only)", s->what);
		goto fail;
	}
	if (s->ilen >= 2 && s->ibuf[0] == 0x1f && s->ibuf[1] == 0x8b) {
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
			rc = tfail(err, errlen, -ENOMEM, "inflateInit failed");
			goto fail;
		}
		s->gz = 1;
	}
	return 0;
fail:
	imgtar_src_close(s);
	return rc;
}

void
imgtar_src_close(struct imgtar_src *s)
{
	if (s->gz)
		inflateEnd(&s->z);
	s->gz = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->ibuf);
	s->ibuf = NULL;
}

static ssize_t
src_read_plain(struct imgtar_src *s, void *buf, size_t n, char *err,
    size_t errlen)
{
	int rc;

	if (s->ilen == 0) {
		if (s->eof)
			return 0;
		if ((rc = src_fill(s, err, errlen)) < 0)
			return rc;
		if (s->ilen == 0)
			return 0;
	}
	if (n > s->ilen)
		n = s->ilen;
	memcpy(buf, s->ibuf + s->ipos, n);
	s->ipos += n;
	s->ilen -= n;
	return (ssize_t)n;
}

/* After one gzip member: another one follows (1), or the end (0). */
static int
gz_next_member(struct imgtar_src *s, char *err, size_t errlen)
{
	int rc;

	s->ilen = s->z.avail_in;
	s->ipos = (size_t)(s->z.next_in - s->ibuf);
	while (s->ilen < 2 && !s->eof)
		if ((rc = src_fill(s, err, errlen)) < 0)
			return rc;
	if (s->ilen >= 2 && s->ibuf[s->ipos] == 0x1f &&
	    s->ibuf[s->ipos + 1] == 0x8b) {
		inflateReset(&s->z);
		return 1;
	}
	return 0;	/* trailing bytes that are not gzip: ignored */
}

static ssize_t
src_read_gz(struct imgtar_src *s, void *buf, size_t n, char *err,
    size_t errlen)
{
	int zr, rc;

	if (s->zend)
		return 0;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	s->z.next_out = buf;
	s->z.avail_out = (uInt)n;
	while (s->z.avail_out == n) {
		if (s->ilen == 0 && !s->eof) {
			if ((rc = src_fill(s, err, errlen)) < 0)
				return rc;
		}
		s->z.next_in = s->ibuf + s->ipos;
		s->z.avail_in = (uInt)s->ilen;
		zr = inflate(&s->z, Z_NO_FLUSH);
		s->ipos = (size_t)(s->z.next_in - s->ibuf);
		s->ilen = s->z.avail_in;
		if (zr == Z_STREAM_END) {
			rc = gz_next_member(s, err, errlen);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				s->zend = 1;
				break;
			}
			continue;
		}
		if (zr == Z_BUF_ERROR && s->ilen == 0 && s->eof)
			return tfail(err, errlen, -EPIPE, "%s: truncated gzip "
			    "stream (the file ends inside compressed data)",
			    s->what);
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return tfail(err, errlen, -EBADMSG, "%s: corrupt gzip "
			    "data (%s)", s->what, s->z.msg ? s->z.msg : "inflate");
		if (zr == Z_BUF_ERROR && s->ilen == 0 && !s->eof)
			continue;
	}
	return (ssize_t)(n - s->z.avail_out);
}

ssize_t
imgtar_src_read(struct imgtar_src *s, void *buf, size_t n, char *err,
    size_t errlen)
{
	if (n == 0)
		return 0;
	return s->gz ? src_read_gz(s, buf, n, err, errlen) :
	    src_read_plain(s, buf, n, err, errlen);
}

/* Exactly n bytes, or a "truncated" error. */
static int
src_read_full(struct imgtar_src *s, void *buf, size_t n, char *err,
    size_t errlen)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = imgtar_src_read(s, (char *)buf + got, n - got, err, errlen);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return tfail(err, errlen, -EPIPE, "%s: truncated "
			    "archive (ends in the middle of an entry)", s->what);
		got += (size_t)r;
	}
	return 0;
}

static int
src_skip(struct imgtar_src *s, uint64_t n, char *err, size_t errlen)
{
	char buf[8192];
	size_t k;
	int rc;

	while (n > 0) {
		k = n > sizeof(buf) ? sizeof(buf) : (size_t)n;
		if ((rc = src_read_full(s, buf, k, err, errlen)) < 0)
			return rc;
		n -= k;
	}
	return 0;
}

/* ---------------------------------------------------------------- tar */

void
imgtar_init(struct imgtar *t, struct imgtar_src *src)
{
	memset(t, 0, sizeof(*t));
	t->src = src;
}

/* An octal (or GNU base-256) number field. -1 if malformed. */
static int
tar_num(const unsigned char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (p[0] & 0x80) {
		if (p[0] != 0x80)
			return -1;	/* negative or too large */
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | p[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && p[i] == ' ')
		i++;
	for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = (v << 3) | (uint64_t)(p[i] - '0');
	}
	if (i < len && p[i] != 0 && p[i] != ' ')
		return -1;
	*out = v;
	return 0;
}

static int
tar_checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long sum = 0;
	long ssum = 0;
	int i;

	if (tar_num(h + 148, 8, &want) < 0)
		return 0;
	for (i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
		sum += c;
		ssum += (signed char)c;
	}
	return want == sum || (long)want == ssum;
}

static void
field_str(char *dst, size_t dlen, const unsigned char *p, size_t len)
{
	size_t n = strnlen((const char *)p, len);

	if (n >= dlen)
		n = dlen - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
}

struct tar_ext {
	char path[IMGTAR_NAME_MAX];
	char linkpath[IMGTAR_NAME_MAX];
	uint64_t size;
	int has_size;
	int sparse;		/* GNU.sparse.* pax keys: the data is a map */
	char sparse_name[IMGTAR_NAME_MAX];
};

/* Parse pax records "LEN key=value\n" into ext. */
static int
pax_parse(struct tar_ext *x, char *buf, size_t len, const char *what,
    char *err, size_t errlen)
{
	size_t pos = 0, rlen, klen;
	char *sp, *eq, *end, *rec;
	uint64_t v;

	while (pos < len) {
		rec = buf + pos;
		rlen = 0;
		for (sp = rec; sp < buf + len && *sp >= '0' && *sp <= '9'; sp++) {
			rlen = rlen * 10 + (size_t)(*sp - '0');
			if (rlen > len)
				break;
		}
		if (sp >= buf + len || *sp != ' ' || rlen == 0 ||
		    rlen > len - pos || rec[rlen - 1] != '\n')
			return tfail(err, errlen, -EBADMSG, "%s: malformed pax "
			    "extended header", what);
		end = rec + rlen - 1;
		*end = 0;
		eq = memchr(sp + 1, '=', (size_t)(end - sp - 1));
		if (eq == NULL)
			return tfail(err, errlen, -EBADMSG, "%s: malformed pax "
			    "record", what);
		klen = (size_t)(eq - sp - 1);
		if (klen == 4 && memcmp(sp + 1, "path", 4) == 0) {
			if (strlen(eq + 1) >= sizeof(x->path))
				return tfail(err, errlen, -ENAMETOOLONG,
				    "%s: pax path too long", what);
			strcpy(x->path, eq + 1);
		} else if (klen == 8 && memcmp(sp + 1, "linkpath", 8) == 0) {
			if (strlen(eq + 1) >= sizeof(x->linkpath))
				return tfail(err, errlen, -ENAMETOOLONG,
				    "%s: pax linkpath too long", what);
			strcpy(x->linkpath, eq + 1);
		} else if (klen > 11 && memcmp(sp + 1, "GNU.sparse.", 11) == 0) {
			x->sparse = 1;
			/* format 1.0 keeps the real name here */
			if (klen == 15 && memcmp(sp + 12, "name", 4) == 0 &&
			    strlen(eq + 1) < sizeof(x->sparse_name))
				strcpy(x->sparse_name, eq + 1);
		} else if (klen == 4 && memcmp(sp + 1, "size", 4) == 0) {
			char *e;
			errno = 0;
			v = strtoull(eq + 1, &e, 10);
			if (errno || *e || e == eq + 1 || eq[1] == '-')
				return tfail(err, errlen, -EBADMSG,
				    "%s: bad pax size", what);
			x->size = v;
			x->has_size = 1;
		}
		pos += rlen;
	}
	return 0;
}

/* Read an extension entry's data (pax or GNU long name) into a buffer. */
static int
ext_data(struct imgtar *t, uint64_t size, size_t max, char **out, char *err,
    size_t errlen)
{
	char *buf;
	int rc;

	if (size > max)
		return tfail(err, errlen, -EBADMSG, "%s: extension header of "
		    "%llu bytes is too large", t->src->what,
		    (unsigned long long)size);
	buf = malloc((size_t)size + 1);
	if (buf == NULL)
		return tfail(err, errlen, -ENOMEM, "out of memory");
	rc = src_read_full(t->src, buf, (size_t)size, err, errlen);
	if (rc == 0)
		rc = src_skip(t->src, (BLOCK - size % BLOCK) % BLOCK, err,
		    errlen);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[size] = 0;
	*out = buf;
	return 0;
}

static int
is_zero_block(const unsigned char *h)
{
	int i;

	for (i = 0; i < BLOCK; i++)
		if (h[i])
			return 0;
	return 1;
}

static int
has_data(char type)
{
	return !(type == '1' || type == '2' || type == '3' || type == '4' ||
	    type == '5' || type == '6');
}

/* Fill e from a regular header and the pending extensions. */
static int
entry_from_header(struct imgtar *t, const unsigned char *h,
    const struct tar_ext *x, struct imgtar_entry *e, char *err, size_t errlen)
{
	char name[101], prefix[156];
	uint64_t size;

	memset(e, 0, sizeof(*e));
	e->type = h[156] ? (char)h[156] : '0';
	if (tar_num(h + 124, 12, &size) < 0)
		return tfail(err, errlen, -EBADMSG, "%s: bad size field",
		    t->src->what);
	{
		uint64_t mode;
		if (tar_num(h + 100, 8, &mode) < 0)
			mode = 0644;
		e->mode = (unsigned)(mode & 07777);
	}
	if (x->has_size)
		size = x->size;
	if (x->sparse_name[0]) {
		snprintf(e->name, sizeof(e->name), "%s", x->sparse_name);
	} else if (x->path[0]) {
		snprintf(e->name, sizeof(e->name), "%s", x->path);
	} else {
		field_str(name, sizeof(name), h, 100);
		field_str(prefix, sizeof(prefix), h + 345, 155);
		if (memcmp(h + 257, "ustar", 5) == 0 && prefix[0] &&
		    memcmp(h + 257, "ustar  ", 8) != 0)
			snprintf(e->name, sizeof(e->name), "%s/%s", prefix,
			    name);
		else
			snprintf(e->name, sizeof(e->name), "%s", name);
	}
	if (x->linkpath[0])
		snprintf(e->linkname, sizeof(e->linkname), "%s", x->linkpath);
	else
		field_str(e->linkname, sizeof(e->linkname), h + 157, 100);
	if (x->sparse)
		e->type = 'S';	/* reported as sparse, never read as a file */
	e->size = has_data(e->type) ? size : 0;
	t->left = e->size;
	t->pad = (BLOCK - e->size % BLOCK) % BLOCK;
	return 1;
}

int
imgtar_next(struct imgtar *t, struct imgtar_entry *e, char *err,
    size_t errlen)
{
	unsigned char h[BLOCK];
	struct tar_ext x;
	uint64_t size;
	char *data;
	int rc;

	if (t->done)
		return 0;
	if ((rc = src_skip(t->src, t->left + t->pad, err, errlen)) < 0)
		return rc;
	t->left = t->pad = 0;
	memset(&x, 0, sizeof(x));
	for (;;) {
		if ((rc = src_read_full(t->src, h, BLOCK, err, errlen)) < 0)
			return rc;
		if (is_zero_block(h)) {
			t->done = 1;
			return 0;
		}
		if (!tar_checksum_ok(h))
			return tfail(err, errlen, -EBADMSG, "%s: not a tar "
			    "archive, or a damaged one (bad header checksum)",
			    t->src->what);
		if (tar_num(h + 124, 12, &size) < 0)
			return tfail(err, errlen, -EBADMSG, "%s: bad size "
			    "field", t->src->what);
		switch (h[156]) {
		case 'x':
			if ((rc = ext_data(t, size, PAX_MAX, &data, err,
			    errlen)) < 0)
				return rc;
			rc = pax_parse(&x, data, (size_t)size, t->src->what,
			    err, errlen);
			free(data);
			if (rc < 0)
				return rc;
			continue;
		case 'g':
			if ((rc = src_skip(t->src, size + (BLOCK - size %
			    BLOCK) % BLOCK, err, errlen)) < 0)
				return rc;
			continue;
		case 'L':
		case 'K':
			if ((rc = ext_data(t, size, IMGTAR_NAME_MAX - 1, &data,
			    err, errlen)) < 0)
				return rc;
			snprintf(h[156] == 'L' ? x.path : x.linkpath,
			    IMGTAR_NAME_MAX, "%s", data);
			free(data);
			continue;
		default:
			return entry_from_header(t, h, &x, e, err, errlen);
		}
	}
}

ssize_t
imgtar_read(struct imgtar *t, void *buf, size_t n, char *err, size_t errlen)
{
	int rc;

	if (t->left == 0)
		return 0;
	if (n > t->left)
		n = (size_t)t->left;
	if ((rc = src_read_full(t->src, buf, n, err, errlen)) < 0)
		return rc;
	t->left -= n;
	return (ssize_t)n;
}

int
imgtar_finish(struct imgtar *t, char *err, size_t errlen)
{
	char buf[8192];
	ssize_t n;

	while ((n = imgtar_src_read(t->src, buf, sizeof(buf), err, errlen)) > 0)
		;
	return (int)n;
}

int
imgtar_clean_path(char *name)
{
	char *src = name, *dst = name, *comp;
	size_t len;

	while (*src) {
		while (*src == '/')
			src++;
		if (!*src)
			break;
		comp = src;
		while (*src && *src != '/')
			src++;
		len = (size_t)(src - comp);
		if (len == 1 && comp[0] == '.')
			continue;
		if (len == 2 && comp[0] == '.' && comp[1] == '.')
			return -EINVAL;
		if (dst != name)
			*dst++ = '/';
		memmove(dst, comp, len);
		dst += len;
	}
	*dst = 0;
	return dst == name ? -EINVAL : 0;
}
