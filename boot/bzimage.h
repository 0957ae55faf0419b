/*
 * bzimage.h: Linux bzImage kernels, loaded through the 32-bit or 64-bit
 * entry of the Linux/x86 boot protocol (Documentation/arch/x86/boot.rst).
 * The real-mode setup code is not run: the VMM fills the zero page
 * (struct boot_params) itself, as the protocol allows for boot loaders
 * that start the kernel in protected or long mode.
 */
#ifndef DROVER_BZIMAGE_H
#define DROVER_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"

#define BZIMAGE_HDR_OFFSET	0x1f1	/* struct setup_header in the file */
#define BZIMAGE_MIN_VERSION	0x0206	/* cmdline_size and initrd_addr_max */

struct bzimage_info {
	uint16_t version;		/* boot protocol version */
	uint32_t setup_size;		/* bytes of real-mode code + header */
	uint64_t kernel_offset;		/* protected-mode kernel in the file */
	uint64_t kernel_size;
	uint64_t load_addr;		/* where it goes (code32_start) */
	uint64_t init_size;		/* memory the kernel needs from there */
	uint32_t initrd_addr_max;	/* highest byte address of the initrd */
	uint32_t cmdline_size;		/* longest command line, without NUL */
	int has_64bit_entry;		/* XLF_KERNEL_64: entry at +0x200 */
	size_t header_end;		/* end of the setup header in the file */
};

/* "HdrS" at 0x202 and the 0xAA55 boot flag: is this a bzImage? */
int bzimage_is(const uint8_t *img, size_t len);
/* Validate the setup header. 0 or -EINVAL with e->msg naming the field. */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *out,
    struct boot_error *e);
/* Copy the protected-mode kernel to info->load_addr. */
int bzimage_load(const struct bzimage_info *info, const uint8_t *img,
    size_t len, struct gmem *m, struct boot_error *e);
/*
 * Fill the zero page at BOOT_ZEROPAGE_GPA: the image's setup header, the
 * loader fields, the command line pointer, the initrd and the e820 map.
 */
int bzimage_write_zeropage(const struct bzimage_info *info,
    const uint8_t *img, size_t len, struct gmem *m, uint64_t initrd_gpa,
    uint64_t initrd_size, const struct e820_entry *map, unsigned n,
    struct boot_error *e);

#endif
