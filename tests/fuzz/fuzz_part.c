/*
 * libFuzzer target: the partition table of a disk image is untrusted
 * (vmm/part.c). The input is the start of a disk; the disk's size comes
 * from the first 4 bytes (so the backup-GPT and bounds paths are reached
 * with a small input), and reads past the input return zeros, as a sparse
 * file would. Every read part.c makes must lie inside that size, and a
 * table it accepts must have in-range, non-overlapping partitions.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_disk {
	const uint8_t *data;
	size_t len;
	uint64_t size;
};

static int
fz_read(void *arg, void *buf, size_t len, uint64_t off)
{
	const struct fz_disk *d = arg;

	if (off > d->size || len > d->size - off)
		abort();	/* part.c read outside the disk */
	memset(buf, 0, len);
	if (off < d->len)
		memcpy(buf, d->data + off, len < d->len - off ? len :
		    d->len - off);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_disk d;
	struct part_table *t;
	struct part_error e;
	uint32_t sectors;

	if (size < 4)
		return 0;
	memcpy(&sectors, data, 4);
	d.data = data + 4;
	d.len = size - 4;
	/* Up to 2^24 sectors (8 GiB), at least the input. */
	d.size = (uint64_t)(sectors & 0xffffff) * PART_SECTOR;
	if (d.size < d.len)
		d.size = d.len;
	if ((t = malloc(sizeof(*t))) == NULL)
		return 0;
	if (part_read(fz_read, &d, d.size, t, &e) == 0) {
		for (unsigned i = 0; i < t->n; i++) {
			if (t->e[i].size == 0 || t->e[i].start > d.size ||
			    t->e[i].size > d.size - t->e[i].start)
				abort();
			for (unsigned j = 0; j < i; j++)
				if (t->e[i].start < t->e[j].start + t->e[j].size &&
				    t->e[j].start < t->e[i].start + t->e[i].size)
					abort();
		}
	} else if (e.msg[0] == '\0') {
		abort();	/* an error must say what was wrong */
	}
	free(t);
	return 0;
}
