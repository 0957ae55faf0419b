/*
 * libFuzzer target: bzImage kernels are untrusted input. Parse the setup
 * header and run the whole boot_load path (kernel copy, zero page, page
 * tables, initrd placement) into a small guest memory.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "bzimage.h"

#define FUZZ_RAM (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct boot_args a = { .cmdline = "console=ttyS0 quiet", .cpus = 1,
	    .initrd_size = 8192 };
	struct boot_entry entry;
	struct boot_placed placed;
	struct bzimage_info bz;
	struct boot_error e;
	struct gmem m;
	uint8_t *copy;

	if (ram == NULL && (ram = malloc(FUZZ_RAM)) == NULL)
		return 0;
	gmem_layout(&m, ram, FUZZ_RAM);
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	(void)bzimage_parse(copy, size, &bz, &e);
	a.kernel = copy;
	a.kernel_len = size;
	(void)boot_load(&m, &a, &entry, &placed, &e);
	free(copy);
	return 0;
}
