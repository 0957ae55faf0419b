/*
 * libFuzzer target: PVH ELF kernels are untrusted input. Parse, load into
 * a small guest memory, and run the whole boot_load path (start info, MP
 * table, command line); nothing may read or write outside the buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "pvh.h"

#define FUZZ_RAM (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct boot_args a = { .cmdline = "console=ttyS0", .cpus = 2,
	    .initrd_size = 4096 };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e;
	struct pvh_image p;
	struct gmem m;
	uint8_t *copy;

	if (ram == NULL && (ram = malloc(FUZZ_RAM)) == NULL)
		return 0;
	gmem_layout(&m, ram, FUZZ_RAM);
	/* An exact-size copy, so ASan sees any read past the image. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (pvh_parse(copy, size, &p, &e) == 0)
		(void)pvh_load(&p, copy, size, &m, &e);
	a.kernel = copy;
	a.kernel_len = size;
	(void)boot_load(&m, &a, &entry, &placed, &e);
	free(copy);
	return 0;
}
