/*
 * bzimage.c: the Linux/x86 boot protocol loader (see bzimage.h). Field
 * offsets and meanings are those of Documentation/arch/x86/boot.rst, "THE
 * REAL-MODE KERNEL HEADER" and "64-bit BOOT PROTOCOL"; the structure is
 * the kernel's own UAPI struct boot_params.
 */
#include "bzimage.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

_Static_assert(offsetof(struct boot_params, hdr) == BZIMAGE_HDR_OFFSET,
    "setup_header at 0x1f1");
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is 4 KiB");

#define BZ_BOOT_FLAG		0xaa55		/* at 0x1fe */
#define BZ_HDRS			0x53726448	/* "HdrS" at 0x202 */
#define BZ_LOADED_HIGH		0x01		/* loadflags */
#define BZ_XLF_KERNEL_64	0x01		/* xloadflags */
#define BZ_LOAD_ADDR		0x100000ULL	/* bzImages load at 1 MiB */
#define BZ_LOADER_UNDEFINED	0xff		/* type_of_loader */

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

/* The file's bytes at a setup_header field, if the file has them. */
#define BZ_OFF(f) (offsetof(struct boot_params, hdr) + \
	offsetof(struct setup_header, f))
#define BZ_HAS(len, f) ((len) >= BZ_OFF(f) + \
	sizeof(((struct setup_header *)0)->f))

int
bzimage_is(const uint8_t *img, size_t len)
{
	return BZ_HAS(len, version) && rd16(img + BZ_OFF(boot_flag)) ==
	    BZ_BOOT_FLAG && rd32(img + BZ_OFF(header)) == BZ_HDRS;
}

/* The header ends where the jump at 0x200 lands (boot.rst, "jump"). */
static size_t
bz_header_end(const uint8_t *img, size_t len)
{
	size_t end = 0x202 + img[0x201];
	size_t max = BZIMAGE_HDR_OFFSET + sizeof(struct setup_header);

	if (end > max)
		end = max;
	return end > len ? len : end;
}

static int
bz_check_version(const uint8_t *img, size_t len, struct bzimage_info *out,
    struct boot_error *e)
{
	if (!bzimage_is(img, len))
		return boot_fail(e, "not a bzImage (no 0xAA55 boot flag and "
		    "\"HdrS\" header)");
	out->version = rd16(img + BZ_OFF(version));
	if (out->version < BZIMAGE_MIN_VERSION)
		return boot_fail(e, "bzImage boot protocol %u.%02u is older "
		    "than 2.06", out->version >> 8, out->version & 0xff);
	out->header_end = bz_header_end(img, len);
	if (!BZ_HAS(out->header_end, cmdline_size))
		return boot_fail(e, "bzImage setup header is truncated "
		    "(%zu bytes)", out->header_end);
	if (!(img[BZ_OFF(loadflags)] & BZ_LOADED_HIGH))
		return boot_fail(e, "kernel is a zImage (LOADED_HIGH clear); "
		    "only bzImages are supported");
	return 0;
}

static void
bz_read_optional(const uint8_t *img, struct bzimage_info *out)
{
	out->init_size = out->kernel_size;
	/* init_size is there from protocol 2.10 (boot.rst). */
	if (out->version >= 0x020a && BZ_HAS(out->header_end, init_size) &&
	    rd32(img + BZ_OFF(init_size)) > out->kernel_size)
		out->init_size = rd32(img + BZ_OFF(init_size));
	/* xloadflags from 2.12; XLF_KERNEL_64: 64-bit entry at +0x200. */
	if (out->version >= 0x020c && BZ_HAS(out->header_end, xloadflags))
		out->has_64bit_entry = (rd16(img + BZ_OFF(xloadflags)) &
		    BZ_XLF_KERNEL_64) != 0;
}

int
bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *out,
    struct boot_error *e)
{
	unsigned sects;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = bz_check_version(img, len, out, e)) < 0)
		return err;
	sects = img[BZ_OFF(setup_sects)];
	if (sects == 0)
		sects = 4;	/* boot.rst: "if this field is 0, the real value is 4" */
	out->setup_size = (sects + 1) * 512;
	if (out->setup_size >= len)
		return boot_fail(e, "setup_sects %u: setup code (%u bytes) "
		    "leaves no kernel in a %zu-byte file", sects,
		    out->setup_size, len);
	out->kernel_offset = out->setup_size;
	out->kernel_size = len - out->setup_size;
	out->load_addr = BZ_LOAD_ADDR;
	out->initrd_addr_max = rd32(img + BZ_OFF(initrd_addr_max));
	if (out->initrd_addr_max < BOOT_KERNEL_MIN)
		return boot_fail(e, "initrd_addr_max %#x is below 1 MiB",
		    out->initrd_addr_max);
	out->cmdline_size = rd32(img + BZ_OFF(cmdline_size));
	if (out->cmdline_size > BOOT_CMDLINE_MAX - 1)
		out->cmdline_size = BOOT_CMDLINE_MAX - 1;
	bz_read_optional(img, out);
	if (out->init_size > (1ULL << 32) - BZ_LOAD_ADDR)
		return boot_fail(e, "init_size %#llx does not fit below 4 GiB",
		    (unsigned long long)out->init_size);
	return 0;
}

int
bzimage_load(const struct bzimage_info *info, const uint8_t *img,
    size_t len, struct gmem *m, struct boot_error *e)
{
	uint8_t *dst;

	if (info->kernel_offset > len || info->kernel_size >
	    len - info->kernel_offset)
		return boot_fail(e, "bzImage kernel is outside the file");
	/* The kernel decompresses in place: all of init_size must be RAM. */
	dst = gmem_ptr(m, info->load_addr, info->init_size);
	if (dst == NULL)
		return boot_fail(e, "bzImage needs %#llx bytes of RAM at %#llx "
		    "(init_size); the guest is too small",
		    (unsigned long long)info->init_size,
		    (unsigned long long)info->load_addr);
	memcpy(dst, img + info->kernel_offset, info->kernel_size);
	return 0;
}

static void
bz_fill_e820(struct boot_params *bp, const struct e820_entry *map,
    unsigned n)
{
	if (n > E820_MAX_ENTRIES_ZEROPAGE)
		n = E820_MAX_ENTRIES_ZEROPAGE;
	for (unsigned i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].size;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = (uint8_t)n;
}

int
bzimage_write_zeropage(const struct bzimage_info *info,
    const uint8_t *img, size_t len, struct gmem *m, uint64_t initrd_gpa,
    uint64_t initrd_size, const struct e820_entry *map, unsigned n,
    struct boot_error *e)
{
	struct boot_params bp;
	uint8_t *dst;

	dst = gmem_ptr(m, BOOT_ZEROPAGE_GPA, sizeof(bp));
	if (dst == NULL || info->header_end > len ||
	    info->header_end <= BZIMAGE_HDR_OFFSET)
		return boot_fail(e, "cannot write the zero page");
	if (initrd_gpa > UINT32_MAX || initrd_size > UINT32_MAX)
		return boot_fail(e, "initrd does not fit the 32-bit fields");
	memset(&bp, 0, sizeof(bp));
	/* boot.rst: copy the setup header from the image, then fill in. */
	memcpy((uint8_t *)&bp + BZIMAGE_HDR_OFFSET, img + BZIMAGE_HDR_OFFSET,
	    info->header_end - BZIMAGE_HDR_OFFSET);
	bp.hdr.type_of_loader = BZ_LOADER_UNDEFINED;
	bp.hdr.vid_mode = 0xffff;		/* "normal" */
	bp.hdr.code32_start = (uint32_t)info->load_addr;
	bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp.hdr.ramdisk_size = (uint32_t)initrd_size;
	bp.hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_GPA;
	bp.hdr.heap_end_ptr = 0;
	bp.hdr.loadflags &= BZ_LOADED_HIGH;	/* no CAN_USE_HEAP, no QUIET */
	/* Never pass on pointers from the image: they are not ours. */
	bp.hdr.setup_data = 0;
	bp.hdr.hardware_subarch = 0;
	bp.hdr.hardware_subarch_data = 0;
	bz_fill_e820(&bp, map, n);
	memcpy(dst, &bp, sizeof(bp));
	return 0;
}
