/*
 * boot.h: loading a kernel into guest memory: the fixed low-memory layout,
 * the e820 map, and the CPU state the kernel expects at its entry point.
 *
 * Every loader treats the kernel image and initrd as untrusted input: all
 * offsets, sizes and addresses taken from them are bounds-checked, and a
 * bad image is refused with a message naming the field (struct boot_error).
 */
#ifndef DROVER_BOOT_H
#define DROVER_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"

/*
 * Low memory layout (guest-physical). Everything below 1 MiB that the
 * kernel must not overwrite before it has read it is either marked
 * reserved in the e820 map (MP table) or is the documented place of a boot
 * structure the kernel copies early (zero page, command line, start info).
 */
#define BOOT_GDT_GPA		0x500ULL	/* 5 entries: see boot_write_gdt */
#define BOOT_PVH_INFO_GPA	0x6000ULL	/* hvm_start_info, modlist, memmap */
#define BOOT_ZEROPAGE_GPA	0x7000ULL	/* Linux boot_params */
#define BOOT_PML4_GPA		0x9000ULL	/* identity page tables, 64-bit */
#define BOOT_PDPT_GPA		0xa000ULL
#define BOOT_PD_GPA		0xb000ULL	/* 4 pages: 4 GiB of 2 MiB pages */
#define BOOT_STACK_GPA		0x8ff0ULL	/* initial %rsp for Linux entry */
#define BOOT_CMDLINE_GPA	0x20000ULL
#define BOOT_CMDLINE_MAX	0x10000ULL	/* including the NUL */
#define BOOT_EBDA_GPA		0x9f000ULL	/* reserved: MP table lives here */
#define BOOT_LOWMEM_END		0xa0000ULL	/* 640 KiB; VGA/BIOS hole above */
#define BOOT_KERNEL_MIN		0x100000ULL	/* 1 MiB: kernels load above */
#define BOOT_MEM_MIN		(4ULL << 20)	/* smallest guest we build */

/* Selectors of the flat boot GDT (Linux's __BOOT_CS/__BOOT_DS). */
#define BOOT_SEL_CODE		0x10
#define BOOT_SEL_DATA		0x18
#define BOOT_SEL_TSS		0x20

/* e820 types (ACPI spec, "Address Range Types"). */
#define E820_TYPE_RAM		1
#define E820_TYPE_RESERVED	2
#define E820_MAX		32

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct boot_error {
	char msg[256];
};

/* Format e->msg (e may be NULL); returns -EINVAL for "return boot_fail()". */
int boot_fail(struct boot_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

enum boot_mode {
	BOOT_MODE_PROT32 = 1,	/* flat 32-bit protected mode, paging off */
	BOOT_MODE_LONG64,	/* 64-bit mode, identity-mapped 4 GiB */
};

/* The BSP's state at the kernel's entry point. */
struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi;		/* Linux: boot_params */
	uint64_t rbx;		/* PVH: hvm_start_info */
	uint64_t cr3;		/* BOOT_MODE_LONG64 only */
};

/* What to boot. The images are in host memory the loaders only read. */
struct boot_args {
	const uint8_t *kernel;
	size_t kernel_len;
	const char *cmdline;		/* NULL: empty */
	uint64_t initrd_size;		/* 0: none */
	unsigned cpus;
};

/* Where the initrd must go: filled by boot_load, read in by the caller. */
struct boot_placed {
	uint64_t initrd_gpa;
	uint64_t kernel_start;
	uint64_t kernel_end;
	const char *format;		/* "pvh" or "bzimage" */
};

/* e820.c: the memory map for a guest with this RAM; returns the count. */
unsigned e820_build(const struct gmem *m, struct e820_entry *out,
    unsigned max);

/*
 * boot.c: detect the image format, load it, write the command line, the
 * e820 map (in the format's own structure), the MP table and the GDT (and
 * page tables for 64-bit entry). The caller then copies the initrd to
 * placed->initrd_gpa. 0 or -EINVAL with e->msg set.
 */
int boot_load(struct gmem *m, const struct boot_args *a,
    struct boot_entry *entry, struct boot_placed *placed,
    struct boot_error *e);
/* Place an initrd of size bytes below limit, above floor, page-aligned. */
int boot_place_initrd(const struct gmem *m, uint64_t size, uint64_t floor,
    uint64_t limit, uint64_t *gpa, struct boot_error *e);
/* Write the command line at BOOT_CMDLINE_GPA; max includes the NUL. */
int boot_write_cmdline(struct gmem *m, const char *cmdline, uint64_t max,
    struct boot_error *e);
void boot_write_gdt(struct gmem *m, enum boot_mode mode);
int boot_write_pagetables(struct gmem *m, struct boot_error *e);

#endif
