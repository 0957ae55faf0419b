/*
 * part.c: GPT and MBR partition tables (part.h).
 *
 * MBR: the boot signature 0x55 0xaa at 510, four 16-byte entries at 446
 * (status, CHS, type, CHS, first LBA, sector count; little-endian). A type
 * 0xee entry is a protective MBR: the disk is GPT. Extended partitions
 * (types 0x05, 0x0f, 0x85) hold a chain of EBRs, each with a logical
 * partition relative to itself and a link relative to the extended
 * partition's start; the chain is followed at most PART_MBR_MAX_LOGICAL
 * steps and every EBR must lie inside the extended partition.
 *
 * GPT (UEFI 2.x, "GUID Partition Table Disk Layout"): the header at LBA 1
 * ("EFI PART", revision 1.0, header size 92..512, CRC32 of the header with
 * its CRC field zeroed, MyLBA 1, usable range inside the disk), the entry
 * array (128 << k bytes per entry, at most PART_GPT_MAX_ENTRIES, CRC32 of
 * the whole array). If the primary header or array is bad, the backup
 * header in the disk's last sector is tried (MyLBA = last sector).
 * Entries with a zero type GUID are unused; used ones must lie in the
 * usable range. In both formats partitions must fit the disk and must not
 * overlap.
 */
#include "errfmt.h"
#include "part.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MBR_SIG_OFF		510
#define MBR_TABLE_OFF		446
#define MBR_ENTRY_SIZE		16
#define MBR_TYPE_GPT		0xee
#define GPT_SIG			"EFI PART"
#define GPT_REVISION		0x00010000u
#define GPT_HDR_MIN		92
#define GPT_ENTRY_MIN		128
#define GPT_ENTRY_MAX		4096
#define GPT_ATTR_LEGACY_BOOT	(1ULL << 2)

#define part_fail(e, err, ...) ERRFMT(e, err, __VA_ARGS__)

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

const char *
part_kind_name(enum part_kind k)
{
	return k == PART_KIND_GPT ? "GPT" : k == PART_KIND_MBR ? "MBR" : "none";
}

static int
part_read_at(part_read_fn rd, void *arg, void *buf, size_t len, uint64_t off,
    struct part_error *e)
{
	int err = rd(arg, buf, len, off);

	if (err < 0)
		return part_fail(e, -EIO, "reading %zu bytes at %llu: %s", len,
		    (unsigned long long)off, strerror(-err));
	return 0;
}

/* Add [start, start + size) sectors; checks bounds and overlaps. */
static int
part_add(struct part_table *t, uint64_t disk_sectors, unsigned number,
    uint64_t start, uint64_t size, struct part_error *e)
{
	struct part_entry *p;

	if (size == 0 || start == 0 || start > disk_sectors ||
	    size > disk_sectors - start)
		return part_fail(e, -EINVAL, "%s partition %u (sectors %llu+%llu) "
		    "does not fit the disk (%llu sectors)", part_kind_name(t->kind),
		    number, (unsigned long long)start, (unsigned long long)size,
		    (unsigned long long)disk_sectors);
	for (unsigned i = 0; i < t->n; i++) {
		p = &t->e[i];
		if (start * PART_SECTOR < p->start + p->size &&
		    p->start < (start + size) * PART_SECTOR)
			return part_fail(e, -EINVAL, "%s partitions %u and %u "
			    "overlap", part_kind_name(t->kind), p->number, number);
	}
	if (t->n >= PART_MAX)
		return part_fail(e, -EINVAL, "more than %d partitions", PART_MAX);
	p = &t->e[t->n++];
	memset(p, 0, sizeof(*p));
	p->number = number;
	p->start = start * PART_SECTOR;
	p->size = size * PART_SECTOR;
	return 0;
}

/* ---- MBR ------------------------------------------------------------------- */

static int
mbr_is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Follow the EBR chain of the extended partition [ext, ext + ext_len). */
static int
mbr_logical(part_read_fn rd, void *arg, uint64_t disk_sectors,
    struct part_table *t, uint64_t ext, uint64_t ext_len, uint8_t *sec,
    struct part_error *e)
{
	uint64_t ebr = ext, lstart, llen, next;
	const uint8_t *p;
	int err;

	for (unsigned i = 0; i < PART_MBR_MAX_LOGICAL; i++) {
		if ((err = part_read_at(rd, arg, sec, PART_SECTOR,
		    ebr * PART_SECTOR, e)) < 0)
			return err;
		if (sec[MBR_SIG_OFF] != 0x55 || sec[MBR_SIG_OFF + 1] != 0xaa)
			return part_fail(e, -EINVAL, "MBR: extended boot record "
			    "at sector %llu has no 0x55aa signature",
			    (unsigned long long)ebr);
		p = sec + MBR_TABLE_OFF;
		if (p[4] != 0) {
			lstart = ebr + le32(p + 8);
			llen = le32(p + 12);
			if (lstart < ext || lstart - ext > ext_len ||
			    llen > ext_len - (lstart - ext))
				return part_fail(e, -EINVAL, "MBR: logical "
				    "partition %u lies outside its extended "
				    "partition", 5 + i);
			if ((err = part_add(t, disk_sectors, 5 + i, lstart,
			    llen, e)) < 0)
				return err;
			t->e[t->n - 1].mbr_type = p[4];
			t->e[t->n - 1].bootable = p[0] == 0x80;
		}
		p += MBR_ENTRY_SIZE;
		if (!mbr_is_extended(p[4]) || le32(p + 12) == 0)
			return 0;
		next = ext + le32(p + 8);
		if (next <= ebr || next - ext >= ext_len)
			return part_fail(e, -EINVAL, "MBR: extended boot record "
			    "link after sector %llu points outside the extended "
			    "partition or backwards", (unsigned long long)ebr);
		ebr = next;
	}
	return part_fail(e, -EINVAL, "MBR: more than %d logical partitions",
	    PART_MBR_MAX_LOGICAL);
}

static int
mbr_parse(part_read_fn rd, void *arg, uint64_t disk_sectors,
    struct part_table *t, const uint8_t *mbr, struct part_error *e)
{
	uint8_t sec[PART_SECTOR];
	const uint8_t *p;
	uint64_t ext = 0, ext_len = 0;
	int err;

	t->kind = PART_KIND_MBR;
	for (unsigned i = 0; i < 4; i++) {
		p = mbr + MBR_TABLE_OFF + i * MBR_ENTRY_SIZE;
		if (p[4] == 0)
			continue;
		if (p[0] != 0 && p[0] != 0x80)
			return part_fail(e, -EINVAL, "MBR: partition %u has "
			    "status %#x (not 0x00 or 0x80)", i + 1, p[0]);
		if ((err = part_add(t, disk_sectors, i + 1, le32(p + 8),
		    le32(p + 12), e)) < 0)
			return err;
		t->e[t->n - 1].mbr_type = p[4];
		t->e[t->n - 1].bootable = p[0] == 0x80;
		if (mbr_is_extended(p[4])) {
			if (ext_len)
				return part_fail(e, -EINVAL, "MBR: more than "
				    "one extended partition");
			ext = le32(p + 8);
			ext_len = le32(p + 12);
			t->n--;	/* a container, not a file system */
		}
	}
	if (ext_len)
		return mbr_logical(rd, arg, disk_sectors, t, ext, ext_len, sec,
		    e);
	return 0;
}

/* ---- GPT ------------------------------------------------------------------- */

/* Check the header at lba (primary 1, backup last); 0 fills the fields. */
static int
gpt_header(const uint8_t *h, uint64_t lba, uint64_t disk_sectors,
    uint64_t *array_lba, uint32_t *nent, uint32_t *esize, uint32_t *acrc,
    uint64_t *first, uint64_t *last, struct part_error *e)
{
	uint8_t copy[PART_SECTOR];
	uint32_t hsize = le32(h + 12), crc;
	uint64_t bytes;

	if (memcmp(h, GPT_SIG, 8) != 0)
		return part_fail(e, -EINVAL, "GPT header at sector %llu: no "
		    "\"EFI PART\" signature", (unsigned long long)lba);
	if (le32(h + 8) != GPT_REVISION)
		return part_fail(e, -EINVAL, "GPT header: revision %#x is not "
		    "1.0", le32(h + 8));
	if (hsize < GPT_HDR_MIN || hsize > PART_SECTOR)
		return part_fail(e, -EINVAL, "GPT header: size %u is not 92 to "
		    "512", hsize);
	memcpy(copy, h, PART_SECTOR);
	memset(copy + 16, 0, 4);
	crc = (uint32_t)crc32(0, copy, hsize);
	if (crc != le32(h + 16))
		return part_fail(e, -EINVAL, "GPT header at sector %llu: CRC32 "
		    "%#x, computed %#x", (unsigned long long)lba, le32(h + 16),
		    crc);
	if (le64(h + 24) != lba)
		return part_fail(e, -EINVAL, "GPT header at sector %llu says "
		    "it is at sector %llu", (unsigned long long)lba,
		    (unsigned long long)le64(h + 24));
	*first = le64(h + 40);
	*last = le64(h + 48);
	*array_lba = le64(h + 72);
	*nent = le32(h + 80);
	*esize = le32(h + 84);
	*acrc = le32(h + 88);
	if (*first < 2 || *first > *last || *last >= disk_sectors)
		return part_fail(e, -EINVAL, "GPT header: usable sectors "
		    "%llu-%llu do not fit the disk (%llu sectors)",
		    (unsigned long long)*first, (unsigned long long)*last,
		    (unsigned long long)disk_sectors);
	if (*esize < GPT_ENTRY_MIN || *esize > GPT_ENTRY_MAX ||
	    (*esize & (*esize - 1)) != 0)
		return part_fail(e, -EINVAL, "GPT header: entry size %u is not "
		    "128 times a power of two (at most %d)", *esize,
		    GPT_ENTRY_MAX);
	if (*nent == 0 || *nent > PART_GPT_MAX_ENTRIES)
		return part_fail(e, -EINVAL, "GPT header: %u entries (1 to %d "
		    "supported)", *nent, PART_GPT_MAX_ENTRIES);
	bytes = (uint64_t)*nent * *esize;
	if (*array_lba < 2 || *array_lba >= disk_sectors ||
	    (bytes + PART_SECTOR - 1) / PART_SECTOR > disk_sectors - *array_lba)
		return part_fail(e, -EINVAL, "GPT header: the entry array at "
		    "sector %llu does not fit the disk",
		    (unsigned long long)*array_lba);
	return 0;
}

static int
gpt_entries(struct part_table *t, const uint8_t *arr, uint32_t nent,
    uint32_t esize, uint64_t first, uint64_t last, uint64_t disk_sectors,
    struct part_error *e)
{
	static const uint8_t zero[16];
	const uint8_t *p;
	uint64_t s, l;
	int err;

	t->kind = PART_KIND_GPT;
	t->n = 0;
	for (uint32_t i = 0; i < nent; i++) {
		p = arr + (size_t)i * esize;
		if (memcmp(p, zero, 16) == 0)
			continue;
		s = le64(p + 32);
		l = le64(p + 40);
		if (s < first || l > last || s > l)
			return part_fail(e, -EINVAL, "GPT partition %u: sectors "
			    "%llu-%llu are outside the usable %llu-%llu", i + 1,
			    (unsigned long long)s, (unsigned long long)l,
			    (unsigned long long)first, (unsigned long long)last);
		if ((err = part_add(t, disk_sectors, i + 1, s, l - s + 1,
		    e)) < 0)
			return err;
		memcpy(t->e[t->n - 1].guid_type, p, 16);
		t->e[t->n - 1].bootable = (le64(p + 48) &
		    GPT_ATTR_LEGACY_BOOT) != 0;
	}
	return 0;
}

/* The GPT whose header is at lba. */
static int
gpt_parse_at(part_read_fn rd, void *arg, uint64_t disk_sectors, uint64_t lba,
    struct part_table *t, struct part_error *e)
{
	uint8_t h[PART_SECTOR], *arr;
	uint64_t array_lba = 0, first = 0, last = 0;
	uint32_t nent = 0, esize = 0, acrc = 0, crc;
	size_t bytes;
	int err;

	if ((err = part_read_at(rd, arg, h, sizeof(h), lba * PART_SECTOR,
	    e)) < 0)
		return err;
	if ((err = gpt_header(h, lba, disk_sectors, &array_lba, &nent, &esize,
	    &acrc, &first, &last, e)) < 0)
		return err;
	bytes = (size_t)nent * esize;	/* at most 4 MiB (checked) */
	if ((arr = malloc(bytes)) == NULL)
		return part_fail(e, -ENOMEM, "GPT: out of memory");
	err = part_read_at(rd, arg, arr, bytes, array_lba * PART_SECTOR, e);
	if (err == 0 && (crc = (uint32_t)crc32(0, arr, (uInt)bytes)) != acrc)
		err = part_fail(e, -EINVAL, "GPT entry array at sector %llu: "
		    "CRC32 %#x, computed %#x", (unsigned long long)array_lba,
		    acrc, crc);
	if (err == 0)
		err = gpt_entries(t, arr, nent, esize, first, last,
		    disk_sectors, e);
	free(arr);
	return err;
}

static int
gpt_parse(part_read_fn rd, void *arg, uint64_t disk_sectors,
    struct part_table *t, struct part_error *e)
{
	struct part_error first_err;
	int err;

	err = gpt_parse_at(rd, arg, disk_sectors, 1, t, &first_err);
	if (err != -EINVAL)
		return err == 0 ? 0 : part_fail(e, err, "%s", first_err.msg);
	/* The backup header, in the last sector. */
	t->n = 0;
	if (gpt_parse_at(rd, arg, disk_sectors, disk_sectors - 1, t, e) == 0)
		return 0;
	t->n = 0;
	return part_fail(e, -EINVAL, "%s (and no good backup GPT)",
	    first_err.msg);
}

int
part_read(part_read_fn rd, void *arg, uint64_t disk_size,
    struct part_table *t, struct part_error *e)
{
	uint8_t mbr[PART_SECTOR];
	uint64_t disk_sectors = disk_size / PART_SECTOR;
	int err, gpt = 0;

	memset(t, 0, sizeof(*t));
	if (disk_sectors < 2)
		return 0;	/* too small for any table */
	if ((err = part_read_at(rd, arg, mbr, sizeof(mbr), 0, e)) < 0)
		return err;
	if (mbr[MBR_SIG_OFF] != 0x55 || mbr[MBR_SIG_OFF + 1] != 0xaa) {
		uint8_t h[8];

		/* Some tools write a GPT without a protective MBR. */
		if ((err = part_read_at(rd, arg, h, sizeof(h), PART_SECTOR,
		    e)) < 0)
			return err;
		if (memcmp(h, GPT_SIG, 8) != 0)
			return 0;
		return gpt_parse(rd, arg, disk_sectors, t, e);
	}
	for (unsigned i = 0; i < 4; i++)
		if (mbr[MBR_TABLE_OFF + i * MBR_ENTRY_SIZE + 4] == MBR_TYPE_GPT)
			gpt = 1;
	if (gpt)
		return gpt_parse(rd, arg, disk_sectors, t, e);
	err = mbr_parse(rd, arg, disk_sectors, t, mbr, e);
	if (err < 0)
		t->n = 0;
	return err;
}
