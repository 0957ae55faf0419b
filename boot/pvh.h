/*
 * pvh.h: PVH ELF kernels (Xen's x86/HVM direct boot ABI, as Linux
 * implements it with CONFIG_PVH: arch/x86/platform/pvh/head.S).
 *
 * The image is an ELF32 or ELF64 file whose note XEN_ELFNOTE_PHYS32_ENTRY
 * (type 18, name "Xen") holds the 32-bit physical entry point. The loader
 * copies PT_LOAD segments to their physical addresses and passes an
 * hvm_start_info in %ebx (xen/include/public/arch-x86/hvm/start_info.h).
 */
#ifndef DROVER_PVH_H
#define DROVER_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"

#define PVH_NOTE_PHYS32_ENTRY	18
#define PVH_START_MAGIC		0x336ec578
#define PVH_MAX_SEGMENTS	16

/* start_info.h: version 1 adds the memory map. All fields little-endian. */
struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;		/* e820 types */
	uint32_t reserved;
};

struct pvh_segment {
	uint64_t offset;	/* in the file */
	uint64_t filesz;
	uint64_t paddr;
	uint64_t memsz;
};

struct pvh_image {
	uint32_t entry;
	unsigned nseg;
	struct pvh_segment seg[PVH_MAX_SEGMENTS];
	uint64_t start;		/* lowest paddr loaded */
	uint64_t end;		/* highest paddr + memsz */
};

/* Is this an ELF file at all (the magic)? */
int pvh_is_elf(const uint8_t *img, size_t len);
/* Validate the ELF headers and find the PVH entry. 0 or -EINVAL. */
int pvh_parse(const uint8_t *img, size_t len, struct pvh_image *out,
    struct boot_error *e);
/* Copy the segments into guest RAM (each must fit, above 1 MiB). */
int pvh_load(const struct pvh_image *p, const uint8_t *img, size_t len,
    struct gmem *m, struct boot_error *e);
/* Write hvm_start_info, the module list and the memory map. */
int pvh_write_start_info(struct gmem *m, uint64_t initrd_gpa,
    uint64_t initrd_size, const struct e820_entry *map, unsigned n,
    struct boot_error *e);

#endif
