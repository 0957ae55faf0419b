/*
 * iso9660.c: ISO 9660 (ECMA-119) images with Rock Ridge and Joliet, one
 * flat root directory of regular files. Layout and bounds: iso9660.h.
 * Section numbers are ECMA-119's unless they name SUSP 1.12 or RRIP 1.10.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byteorder.h"
#include "errfmt.h"
#include "iso9660.h"

/* Fixed blocks: the descriptors start at block 16 (6.2.1, 8.1). */
enum {
	BLK_PVD = 16,
	BLK_SVD = 17,
	BLK_TERM = 18,
	BLK_PT_L = 19,
	BLK_PT_M = 20,
	BLK_JPT_L = 21,
	BLK_JPT_M = 22,
	BLK_CE = 23,
	BLK_ROOT = 24,
};

#define PATH_TABLE_SIZE	10	/* one entry, the root (9.4) */
#define FLAG_DIR	0x02	/* file flags: directory (9.1.6) */
#define MODE_FILE	0100444
#define MODE_DIR	040555
#define DIR_REC_MAX	255	/* the length is one byte (9.1.1) */

/* SUSP and RRIP entry lengths; RR flags say which entries follow. */
#define SP_LEN	7
#define CE_LEN	28
#define RR_LEN	5
#define PX_LEN	36	/* RRIP 1.10: no inode number */
#define TF_LEN	(5 + 3 * 7)
#define NM_LEN(n) (5 + (n))
#define RR_PX	0x01
#define RR_NM	0x08
#define RR_TF	0x80
#define TF_MODIFY_ACCESS_ATTR 0x0e

/* RRIP 1.10 section 4.3: the ER entry's identifier, description, source. */
static const char er_id[] = "RRIP_1991A";
static const char er_des[] = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES "
    "SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
static const char er_src[] = "PLEASE CONTACT DISC PUBLISHER FOR "
    "SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME "
    "DESCRIPTOR FOR CONTACT INFORMATION.";
#define ER_LEN (8 + sizeof(er_id) - 1 + sizeof(er_des) - 1 + sizeof(er_src) - 1)
_Static_assert(ER_LEN <= 255, "ER entry fits its length byte");

struct ent {
	const struct iso9660_file *f;
	size_t namelen;
	char iso[16];		/* "BASENAME.EXT;1" */
	size_t isolen;
	uint32_t block;		/* 0 for an empty file */
};

struct plan {
	const struct iso9660_image *img;
	struct ent ent[ISO9660_MAX_FILES];
	size_t n;
	size_t iso_order[ISO9660_MAX_FILES];	/* sorted by ISO name (9.3) */
	size_t jol_order[ISO9660_MAX_FILES];	/* sorted by real name */
	uint32_t iso_blocks;	/* the ISO root at BLK_ROOT */
	uint32_t jol_root, jol_blocks;
	uint32_t data_start, total;
	uint8_t date7[7];	/* directory records (9.1.5) */
	uint8_t date17[17];	/* volume descriptors (8.4.26.1) */
};

/* A System Use field being built (SUSP 1.12 section 4). */
struct su {
	uint8_t buf[DIR_REC_MAX];
	size_t len;
};

/* A directory record's parts (9.1). */
struct rec {
	uint32_t extent, size;
	uint8_t flags;
	const uint8_t *id;
	size_t idlen;
	const struct su *su;
};

/* "iso9660: ..." into err (NULL: nothing); returns rc. */
#define seterr(err, errlen, rc, ...) \
	errfmt((err), (errlen), (rc), "iso9660: " __VA_ARGS__)

/* ---- numbers (7.2, 7.3) ----------------------------------------------- */

/* 7.2.3: both-byte orders, little-endian first. */
static void
put_both16(uint8_t *p, uint16_t v)
{
	bo_put16le(p, v);
	bo_put16be(p + 2, v);
}

/* 7.3.3. */
static void
put_both32(uint8_t *p, uint32_t v)
{
	bo_put32le(p, v);
	bo_put32be(p + 4, v);
}

/* ---- names ------------------------------------------------------------ */

static int
name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* The length of a valid real name, or 0. */
static size_t
name_check(const char *s)
{
	size_t i;

	if (s == NULL || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= ISO9660_MAX_NAME || !name_char_ok(s[i]))
			return 0;
	return i;
}

static int
volid_check(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= ISO9660_MAX_VOLID || s[i] == '.' || s[i] == '-' ||
		    !name_char_ok(s[i]))
			return -EINVAL;
	return 0;
}

/* A d-character (7.4.1): upper-case letters, digits and '_'. */
static char
dchar(char c)
{
	if (c >= 'a' && c <= 'z')
		return (char)(c - 'a' + 'A');
	if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return c;
	return '_';
}

/* Split an identifier at its last '.' (without one: no extension). */
static void
split(const char *s, size_t len, size_t *blen, const char **ext,
    size_t *elen)
{
	size_t i = len;

	while (i > 0 && s[i - 1] != '.')
		i--;
	if (i == 0) {
		*blen = len;
		*ext = s + len;
		*elen = 0;
		return;
	}
	*blen = i - 1;
	*ext = s + i;
	*elen = len - i;
}

/* The level-1 name of real name s (10.1): 8.3 d-characters, ";1". A
 * non-zero serial replaces the end of the base name with digits. */
static size_t
iso_name(const char *s, size_t len, unsigned serial, char out[16])
{
	const char *ext;
	size_t blen, elen, n = 0, i, keep;
	char digits[8] = "";

	split(s, len, &blen, &ext, &elen);
	if (serial)
		snprintf(digits, sizeof(digits), "%u", serial % 1000);
	keep = 8 - strlen(digits);
	for (i = 0; i < blen && i < keep; i++)
		out[n++] = dchar(s[i]);
	if (n == 0 && digits[0] == '\0')
		out[n++] = '_';
	memcpy(out + n, digits, strlen(digits));
	n += strlen(digits);
	out[n++] = '.';
	for (i = 0; i < elen && i < 3; i++)
		out[n++] = dchar(ext[i]);
	memcpy(out + n, ";1", 3);
	return n + 2;
}

/* Compare two identifiers the way 9.3 orders a directory: the name part,
 * then the extension, each padded with spaces. */
static int
pad_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i, n = alen > blen ? alen : blen;

	for (i = 0; i < n; i++) {
		unsigned ca = i < alen ? (unsigned char)a[i] : ' ';
		unsigned cb = i < blen ? (unsigned char)b[i] : ' ';

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return 0;
}

static int
ident_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ea, *eb;
	size_t ba, bb, la, lb;
	int r;

	split(a, alen, &ba, &ea, &la);
	split(b, blen, &bb, &eb, &lb);
	r = pad_cmp(a, ba, b, bb);
	return r != 0 ? r : pad_cmp(ea, la, eb, lb);
}

static int
ent_cmp(const struct ent *a, const struct ent *b, int joliet)
{
	if (joliet)
		return ident_cmp(a->f->name, a->namelen, b->f->name,
		    b->namelen);
	/* Without the ";1" version. */
	return ident_cmp(a->iso, a->isolen - 2, b->iso, b->isolen - 2);
}

static void
sort_order(const struct plan *pl, size_t *order, int joliet)
{
	size_t i, j, t;

	for (i = 0; i < pl->n; i++)
		order[i] = i;
	for (i = 1; i < pl->n; i++)
		for (j = i; j > 0 && ent_cmp(&pl->ent[order[j - 1]],
		    &pl->ent[order[j]], joliet) > 0; j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/* A level-1 name no earlier file has. */
static int
iso_name_unique(struct plan *pl, size_t k)
{
	struct ent *e = &pl->ent[k];
	unsigned serial;
	size_t i;

	for (serial = 0; serial < 1000; serial++) {
		e->isolen = iso_name(e->f->name, e->namelen, serial, e->iso);
		for (i = 0; i < k; i++)
			if (strcmp(pl->ent[i].iso, e->iso) == 0)
				break;
		if (i == k)
			return 0;
	}
	return -EEXIST;
}

/* ---- System Use entries (SUSP 1.12, RRIP 1.10) ------------------------ */

static uint8_t *
su_add(struct su *s, const char *sig, size_t len)
{
	uint8_t *p = s->buf + s->len;

	p[0] = (uint8_t)sig[0];
	p[1] = (uint8_t)sig[1];
	p[2] = (uint8_t)len;
	p[3] = 1;		/* entry version */
	s->len += len;
	return p;
}

/* SUSP 5.3: "SP", first in the root's "." record; no bytes skipped. */
static void
su_sp(struct su *s)
{
	uint8_t *p = su_add(s, "SP", SP_LEN);

	p[4] = 0xbe;
	p[5] = 0xef;
	p[6] = 0;
}

/* SUSP 5.1: "CE", where the rest (the ER entry) continues. */
static void
su_ce(struct su *s, uint32_t block, uint32_t len)
{
	uint8_t *p = su_add(s, "CE", CE_LEN);

	put_both32(p + 4, block);
	put_both32(p + 12, 0);
	put_both32(p + 20, len);
}

/* RRIP 1.10 4.1.1 "RR": which RRIP entries this record holds. */
static void
su_rr(struct su *s, uint8_t flags)
{
	su_add(s, "RR", RR_LEN)[4] = flags;
}

/* RRIP 4.1.1 "PX": mode, links, uid 0, gid 0. */
static void
su_px(struct su *s, uint32_t mode, uint32_t nlink)
{
	uint8_t *p = su_add(s, "PX", PX_LEN);

	put_both32(p + 4, mode);
	put_both32(p + 12, nlink);
	put_both32(p + 20, 0);
	put_both32(p + 28, 0);
}

/* RRIP 4.1.4 "NM": the real name, whole (no continuation flags). */
static void
su_nm(struct su *s, const char *name, size_t len)
{
	uint8_t *p = su_add(s, "NM", NM_LEN(len));

	p[4] = 0;
	memcpy(p + 5, name, len);
}

/* RRIP 4.1.6 "TF": modify, access and attribute-change times, short form. */
static void
su_tf(struct su *s, const uint8_t date7[7])
{
	uint8_t *p = su_add(s, "TF", TF_LEN);
	int i;

	p[4] = TF_MODIFY_ACCESS_ATTR;
	for (i = 0; i < 3; i++)
		memcpy(p + 5 + 7 * i, date7, 7);
}

/* SUSP 5.5 "ER": the extension in use, in the continuation area. */
static void
er_entry(uint8_t *p)
{
	size_t li = sizeof(er_id) - 1, ld = sizeof(er_des) - 1;
	size_t ls = sizeof(er_src) - 1;

	p[0] = 'E';
	p[1] = 'R';
	p[2] = (uint8_t)ER_LEN;
	p[3] = 1;
	p[4] = (uint8_t)li;
	p[5] = (uint8_t)ld;
	p[6] = (uint8_t)ls;
	p[7] = 1;		/* extension version */
	memcpy(p + 8, er_id, li);
	memcpy(p + 8 + li, er_des, ld);
	memcpy(p + 8 + li + ld, er_src, ls);
}

/* ---- directories ------------------------------------------------------ */

/* 9.1: the record's length; written at p unless p is NULL. The padding
 * byte after an even-length identifier and the one making the record
 * even stay zero (the caller's buffer is zeroed). */
static size_t
dir_record(uint8_t *p, const struct rec *r, const uint8_t date7[7])
{
	size_t idpad = (r->idlen % 2 == 0), sulen = r->su ? r->su->len : 0;
	size_t len = 33 + r->idlen + idpad + sulen;

	len += len % 2;
	if (p == NULL)
		return len;
	p[0] = (uint8_t)len;
	p[1] = 0;		/* no extended attribute record */
	put_both32(p + 2, r->extent);
	put_both32(p + 10, r->size);
	memcpy(p + 18, date7, 7);
	p[25] = r->flags;
	p[26] = 0;		/* not interleaved */
	p[27] = 0;
	put_both16(p + 28, 1);	/* volume sequence number */
	p[32] = (uint8_t)r->idlen;
	memcpy(p + 33, r->id, r->idlen);
	if (sulen)
		memcpy(p + 33 + r->idlen + idpad, r->su->buf, sulen);
	return len;
}

/* Record i of a root directory: 0 ".", 1 "..", then the files in order. */
static void
root_rec(const struct plan *pl, int joliet, size_t i, struct rec *r,
    struct su *su, uint8_t *id)
{
	static const uint8_t dot[1] = { 0 }, dotdot[1] = { 1 };
	const struct ent *e;
	size_t k;

	memset(r, 0, sizeof(*r));
	su->len = 0;
	r->su = joliet ? NULL : su;
	if (i < 2) {
		r->extent = joliet ? pl->jol_root : BLK_ROOT;
		r->size = (joliet ? pl->jol_blocks : pl->iso_blocks) *
		    ISO9660_BLOCK;
		r->flags = FLAG_DIR;
		r->id = i == 0 ? dot : dotdot;
		r->idlen = 1;
		if (joliet)
			return;
		if (i == 0)
			su_sp(su);
		su_rr(su, RR_PX | RR_TF);
		su_px(su, MODE_DIR, 2);
		su_tf(su, pl->date7);
		if (i == 0)
			su_ce(su, BLK_CE, (uint32_t)ER_LEN);
		return;
	}
	e = &pl->ent[(joliet ? pl->jol_order : pl->iso_order)[i - 2]];
	r->extent = e->block;
	r->size = (uint32_t)e->f->len;
	if (joliet) {
		/* Joliet: UCS-2 big-endian, no ";1" version (as genisoimage
		 * writes it; readers strip it anyway). */
		for (k = 0; k < e->namelen; k++) {
			id[2 * k] = 0;
			id[2 * k + 1] = (uint8_t)e->f->name[k];
		}
		r->id = id;
		r->idlen = 2 * e->namelen;
		return;
	}
	r->id = (const uint8_t *)e->iso;
	r->idlen = e->isolen;
	su_rr(su, RR_PX | RR_NM | RR_TF);
	su_px(su, MODE_FILE, 1);
	su_nm(su, e->f->name, e->namelen);
	su_tf(su, pl->date7);
}

/* Lay out a root directory into out (NULL: measure only); a record never
 * crosses a block boundary (6.8.1.1). Returns its size in whole blocks. */
static uint32_t
lay_dir(const struct plan *pl, int joliet, uint8_t *out)
{
	uint8_t id[2 * ISO9660_MAX_NAME];
	struct su su;
	struct rec r;
	size_t i, off = 0, len;

	for (i = 0; i < pl->n + 2; i++) {
		root_rec(pl, joliet, i, &r, &su, id);
		len = dir_record(NULL, &r, pl->date7);
		if (off / ISO9660_BLOCK != (off + len - 1) / ISO9660_BLOCK)
			off = (off / ISO9660_BLOCK + 1) * ISO9660_BLOCK;
		if (out)
			dir_record(out + off, &r, pl->date7);
		off += len;
	}
	return (uint32_t)((off + ISO9660_BLOCK - 1) / ISO9660_BLOCK);
}

/* ---- volume descriptors and path tables (8.4, 8.5, 9.4) --------------- */

static void
put_text(uint8_t *p, size_t n, const char *s, int ucs2)
{
	size_t i, len = strlen(s);

	if (!ucs2) {
		memset(p, ' ', n);
		memcpy(p, s, len < n ? len : n);
		return;
	}
	for (i = 0; i + 1 < n; i += 2) {
		p[i] = 0;
		p[i + 1] = i / 2 < len ? (uint8_t)s[i / 2] : ' ';
	}
}

static void
make_dates(struct plan *pl, time_t t)
{
	struct tm tm;
	char buf[80];

	if (t == 0)
		t = time(NULL);
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 70 || tm.tm_year > 255) {
		t = 0;		/* unrepresentable: 1970-01-01 */
		gmtime_r(&t, &tm);
	}
	pl->date7[0] = (uint8_t)tm.tm_year;
	pl->date7[1] = (uint8_t)(tm.tm_mon + 1);
	pl->date7[2] = (uint8_t)tm.tm_mday;
	pl->date7[3] = (uint8_t)tm.tm_hour;
	pl->date7[4] = (uint8_t)tm.tm_min;
	pl->date7[5] = (uint8_t)tm.tm_sec;
	pl->date7[6] = 0;	/* GMT offset, 15-minute units */
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	memcpy(pl->date17, buf, 16);
	pl->date17[16] = 0;
}

/* 8.4 (primary) and 8.5 (supplementary: Joliet). */
static void
volume_descriptor(const struct plan *pl, uint8_t *p, int joliet)
{
	static const uint8_t unset[17] = "0000000000000000";
	struct rec root = {
		.extent = joliet ? pl->jol_root : BLK_ROOT,
		.size = (joliet ? pl->jol_blocks : pl->iso_blocks) * ISO9660_BLOCK,
		.flags = FLAG_DIR,
		.id = (const uint8_t *)"",
		.idlen = 1,
	};

	p[0] = joliet ? 2 : 1;
	memcpy(p + 1, "CD001", 5);
	p[6] = 1;
	put_text(p + 8, 32, "LINUX", joliet);
	put_text(p + 40, 32, pl->img->volume_id, joliet);
	put_both32(p + 80, pl->total);
	if (joliet)
		memcpy(p + 88, "%/E", 3);	/* UCS-2 level 3 */
	put_both16(p + 120, 1);		/* volume set size */
	put_both16(p + 124, 1);		/* volume sequence number */
	put_both16(p + 128, ISO9660_BLOCK);
	put_both32(p + 132, PATH_TABLE_SIZE);
	bo_put32le(p + 140, joliet ? BLK_JPT_L : BLK_PT_L);
	bo_put32be(p + 148, joliet ? BLK_JPT_M : BLK_PT_M);
	dir_record(p + 156, &root, pl->date7);
	put_text(p + 190, 128, "", joliet);	/* volume set */
	put_text(p + 318, 128, "", joliet);	/* publisher */
	put_text(p + 446, 128, "", joliet);	/* data preparer */
	put_text(p + 574, 128, "DROVER", joliet);
	put_text(p + 702, 37, "", joliet);	/* copyright file */
	put_text(p + 739, 37, "", joliet);	/* abstract file */
	put_text(p + 776, 37, "", joliet);	/* bibliographic file */
	memcpy(p + 813, pl->date17, 17);	/* created */
	memcpy(p + 830, pl->date17, 17);	/* modified */
	memcpy(p + 847, unset, 17);		/* expires: never */
	memcpy(p + 864, unset, 17);		/* effective: now */
	p[881] = 1;				/* file structure version */
}

/* 9.4: the root's entry; parent directory number 1. */
static void
path_table(uint8_t *p, uint32_t root, int big_endian)
{
	p[0] = 1;
	p[1] = 0;
	if (big_endian) {
		bo_put32be(p + 2, root);
		bo_put16be(p + 6, 1);
	} else {
		bo_put32le(p + 2, root);
		bo_put16le(p + 6, 1);
	}
	p[8] = 0;
}

/* ---- the plan --------------------------------------------------------- */

static int
plan_files(struct plan *pl, char *err, size_t errlen)
{
	const struct iso9660_image *img = pl->img;
	size_t i, j;

	if (img->nfiles > ISO9660_MAX_FILES)
		return seterr(err, errlen, -EFBIG, "%zu files, more than %d",
		    img->nfiles, ISO9660_MAX_FILES);
	if (img->nfiles > 0 && img->files == NULL)
		return seterr(err, errlen, -EINVAL, "no file table");
	for (i = 0; i < img->nfiles; i++) {
		struct ent *e = &pl->ent[i];

		e->f = &img->files[i];
		e->namelen = name_check(e->f->name);
		if (e->namelen == 0)
			return seterr(err, errlen, -EINVAL, "file name \"%.*s\": "
			    "1 to %d of A-Z a-z 0-9 . _ -", ISO9660_MAX_NAME + 4,
			    e->f->name ? e->f->name : "", ISO9660_MAX_NAME);
		if (e->f->len > 0 && e->f->data == NULL)
			return seterr(err, errlen, -EINVAL, "%s: no data",
			    e->f->name);
		if (e->f->len > ISO9660_MAX_IMAGE)
			return seterr(err, errlen, -EFBIG, "%s: %zu bytes, more "
			    "than the image limit of %u", e->f->name, e->f->len,
			    ISO9660_MAX_IMAGE);
		for (j = 0; j < i; j++)
			if (strcmp(pl->ent[j].f->name, e->f->name) == 0)
				return seterr(err, errlen, -EEXIST,
				    "%s: duplicate file name", e->f->name);
		if (iso_name_unique(pl, i) < 0)
			return seterr(err, errlen, -EEXIST, "%s: no free "
			    "ISO 9660 name", e->f->name);
		pl->n++;
	}
	return 0;
}

static int
plan_make(struct plan *pl, const struct iso9660_image *img, char *err,
    size_t errlen)
{
	uint64_t b;
	size_t i;
	int rc;

	memset(pl, 0, sizeof(*pl));
	pl->img = img;
	if (img == NULL || volid_check(img->volume_id) < 0)
		return seterr(err, errlen, -EINVAL, "volume id: 1 to %d of "
		    "A-Z a-z 0-9 _", ISO9660_MAX_VOLID);
	rc = plan_files(pl, err, errlen);
	if (rc < 0)
		return rc;
	sort_order(pl, pl->iso_order, 0);
	sort_order(pl, pl->jol_order, 1);
	make_dates(pl, img->mtime);
	pl->iso_blocks = lay_dir(pl, 0, NULL);
	pl->jol_root = BLK_ROOT + pl->iso_blocks;
	pl->jol_blocks = lay_dir(pl, 1, NULL);
	pl->data_start = pl->jol_root + pl->jol_blocks;
	b = pl->data_start;
	for (i = 0; i < pl->n; i++) {
		size_t len = pl->ent[i].f->len;

		/* Empty files point at block 0 and take no room. */
		pl->ent[i].block = len ? (uint32_t)b : 0;
		b += (len + ISO9660_BLOCK - 1) / ISO9660_BLOCK;
		if (b * ISO9660_BLOCK > ISO9660_MAX_IMAGE)
			return seterr(err, errlen, -EFBIG, "the image would be "
			    "larger than %u bytes", ISO9660_MAX_IMAGE);
	}
	pl->total = (uint32_t)b;
	return 0;
}

/* Everything before the file data: system area, descriptors, path tables,
 * continuation area, both root directories. */
static uint8_t *
plan_meta(const struct plan *pl)
{
	uint8_t *m = calloc(pl->data_start, ISO9660_BLOCK);

	if (m == NULL)
		return NULL;
	volume_descriptor(pl, m + BLK_PVD * ISO9660_BLOCK, 0);
	volume_descriptor(pl, m + BLK_SVD * ISO9660_BLOCK, 1);
	m[BLK_TERM * ISO9660_BLOCK] = 255;	/* 8.3: the terminator */
	memcpy(m + BLK_TERM * ISO9660_BLOCK + 1, "CD001", 5);
	m[BLK_TERM * ISO9660_BLOCK + 6] = 1;
	path_table(m + BLK_PT_L * ISO9660_BLOCK, BLK_ROOT, 0);
	path_table(m + BLK_PT_M * ISO9660_BLOCK, BLK_ROOT, 1);
	path_table(m + BLK_JPT_L * ISO9660_BLOCK, pl->jol_root, 0);
	path_table(m + BLK_JPT_M * ISO9660_BLOCK, pl->jol_root, 1);
	er_entry(m + BLK_CE * ISO9660_BLOCK);
	lay_dir(pl, 0, m + BLK_ROOT * ISO9660_BLOCK);
	lay_dir(pl, 1, m + (size_t)pl->jol_root * ISO9660_BLOCK);
	return m;
}

/* ---- output ----------------------------------------------------------- */

static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
iso9660_size(const struct iso9660_image *img, uint64_t *size, char *err,
    size_t errlen)
{
	struct plan pl;
	int rc;

	rc = plan_make(&pl, img, err, errlen);
	if (rc == 0 && size)
		*size = (uint64_t)pl.total * ISO9660_BLOCK;
	return rc;
}

int
iso9660_write_fd(int fd, const struct iso9660_image *img, char *err,
    size_t errlen)
{
	static const uint8_t zero[ISO9660_BLOCK];
	struct plan pl;
	uint8_t *meta = NULL;
	size_t i, len;
	int rc;

	rc = plan_make(&pl, img, err, errlen);
	if (rc < 0)
		return rc;
	meta = plan_meta(&pl);
	if (meta == NULL)
		return seterr(err, errlen, -ENOMEM, "out of memory");
	rc = write_all(fd, meta, (size_t)pl.data_start * ISO9660_BLOCK);
	for (i = 0; rc == 0 && i < pl.n; i++) {
		len = pl.ent[i].f->len;
		rc = write_all(fd, pl.ent[i].f->data, len);
		if (rc == 0 && len % ISO9660_BLOCK)
			rc = write_all(fd, zero,
			    ISO9660_BLOCK - len % ISO9660_BLOCK);
	}
	if (rc < 0)
		seterr(err, errlen, rc, "write: %s", strerror(-rc));
	free(meta);
	return rc;
}

/* fsync the directory holding path, so that the new name is durable. */
static int
fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
iso9660_write(const char *path, const struct iso9660_image *img, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX];
	int fd = -1, rc, made = 0;
	const char *what = NULL;

	rc = iso9660_size(img, NULL, err, errlen);
	if (rc < 0)
		return rc;
	if (path == NULL || (size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX",
	    path) >= sizeof(tmp))
		return seterr(err, errlen, -ENAMETOOLONG, "bad output path");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		what = "create a temporary file";
		goto bad;
	}
	made = 1;
	if (fchmod(fd, 0644) < 0) {
		rc = -errno;
		what = "chmod";
		goto bad;
	}
	rc = iso9660_write_fd(fd, img, err, errlen);
	if (rc < 0)
		goto out;
	if (fsync(fd) < 0) {
		rc = -errno;
		what = "fsync";
		goto bad;
	}
	rc = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (rc < 0) {
		what = "close";
		goto bad;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		what = "rename";
		goto bad;
	}
	made = 0;
	rc = fsync_dir(path);
	if (rc < 0)
		what = "fsync the directory";
bad:
	if (rc < 0 && what)
		seterr(err, errlen, rc, "%s: %s: %s", path, what, strerror(-rc));
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return rc;
}
