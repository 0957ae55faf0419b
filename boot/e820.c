/*
 * e820.c: the guest memory map, shared by the Linux zero page (e820_table)
 * and the PVH start info (memmap). Layout, in order:
 *   [0, 0x9f000)            RAM (real-mode area, boot structures)
 *   [0x9f000, 0xa0000)      reserved: EBDA, where the MP table lives
 *   [0xa0000, 1 MiB)        not listed (VGA and BIOS holes; nothing there)
 *   [1 MiB, low end)        RAM
 *   [4 GiB, 4 GiB + high)   RAM above the 32-bit MMIO hole, if any
 */
#include "boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int
boot_fail(struct boot_error *e, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static unsigned
e820_add(struct e820_entry *out, unsigned n, unsigned max, uint64_t addr,
    uint64_t size, uint32_t type)
{
	if (n >= max || size == 0)
		return n;
	out[n].addr = addr;
	out[n].size = size;
	out[n].type = type;
	return n + 1;
}

unsigned
e820_build(const struct gmem *m, struct e820_entry *out, unsigned max)
{
	unsigned n = 0;

	if (m->low_size < BOOT_KERNEL_MIN)
		return 0;	/* callers refuse guests below BOOT_MEM_MIN */
	n = e820_add(out, n, max, 0, BOOT_EBDA_GPA, E820_TYPE_RAM);
	n = e820_add(out, n, max, BOOT_EBDA_GPA, BOOT_LOWMEM_END -
	    BOOT_EBDA_GPA, E820_TYPE_RESERVED);
	n = e820_add(out, n, max, BOOT_KERNEL_MIN, m->low_size -
	    BOOT_KERNEL_MIN, E820_TYPE_RAM);
	n = e820_add(out, n, max, GMEM_HIGH_START, m->high_size,
	    E820_TYPE_RAM);
	return n;
}
