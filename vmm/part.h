/*
 * part.h: partition tables (GPT and MBR with logical partitions) read from
 * a disk image through a read callback, so any block back end works (a
 * qcow2 image is read through blk_qcow2). The image is untrusted: every
 * field is checked, every walk is bounded, and a bad table is an error
 * naming the field, never a crash. 512-byte sectors.
 */
#ifndef DROVER_VMM_PART_H
#define DROVER_VMM_PART_H

#include <stddef.h>
#include <stdint.h>

#define PART_SECTOR		512
#define PART_MAX		128	/* partitions kept (GPT's usual array) */
#define PART_GPT_MAX_ENTRIES	1024	/* entries in a GPT array we read */
#define PART_MBR_MAX_LOGICAL	64	/* EBRs followed */

enum part_kind {
	PART_KIND_NONE,		/* no table: the whole disk */
	PART_KIND_MBR,
	PART_KIND_GPT,
};

struct part_entry {
	unsigned number;	/* as Linux numbers them: sda1 = 1, logical 5.. */
	uint64_t start;		/* bytes from the start of the disk */
	uint64_t size;		/* bytes */
	int bootable;		/* MBR: active (0x80); GPT: legacy BIOS bootable */
	uint8_t mbr_type;	/* MBR type byte; 0 for GPT */
	uint8_t guid_type[16];	/* GPT type GUID (on-disk order); 0 for MBR */
};

struct part_table {
	enum part_kind kind;
	unsigned n;
	struct part_entry e[PART_MAX];
};

struct part_error {
	char msg[200];
};

/* Read len bytes at byte offset off of the disk into buf: 0 or -errno. */
typedef int (*part_read_fn)(void *arg, void *buf, size_t len, uint64_t off);

/*
 * Read the partition table of a disk of disk_size bytes. A disk with
 * neither a GPT nor an MBR signature is PART_KIND_NONE with n = 0 (the
 * caller may try the whole disk as a file system). 0, or -EINVAL (a bad
 * table) / -EIO (a read failed) with e->msg set.
 */
int part_read(part_read_fn rd, void *arg, uint64_t disk_size,
    struct part_table *t, struct part_error *e);

/* "GPT", "MBR" or "none". */
const char *part_kind_name(enum part_kind k);

#endif
