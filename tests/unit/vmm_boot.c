/*
 * Unit tests: the boot loaders (boot/): PVH ELF and bzImage parsing and
 * loading of synthetic images, good and malformed; initrd placement; the
 * e820 map; the MP table; guest-memory bounds. No KVM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <asm/bootparam.h>

#include "boot.h"
#include "bzimage.h"
#include "mptable.h"
#include "pvh.h"

#define RAM (16u << 20)

static uint8_t *ram;
static struct gmem mem;

static int
setup(void **state)
{
	(void)state;
	ram = calloc(1, RAM);
	gmem_layout(&mem, ram, RAM);
	return ram ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/*
 * A minimal ELF32 PVH image: header, PT_LOAD (code at paddr 1 MiB, 16
 * bytes of file, 32 of memory), PT_NOTE with the PVH entry note.
 */
#define ELF_CODE_OFF 0x100
#define ELF_NOTE_OFF 0x80
static size_t
make_elf(uint8_t *img, uint32_t entry)
{
	memset(img, 0, 0x200);
	memcpy(img, "\177ELF", 4);
	img[4] = 1;			/* ELFCLASS32 */
	img[5] = 1;			/* little-endian */
	img[6] = 1;
	put16(img + 16, 2);		/* ET_EXEC */
	put16(img + 18, 3);		/* EM_386 */
	put32(img + 24, entry);
	put32(img + 28, 52);		/* e_phoff */
	put16(img + 42, 32);		/* e_phentsize */
	put16(img + 44, 2);		/* e_phnum */
	/* phdr 0: PT_LOAD */
	put32(img + 52, 1);
	put32(img + 56, ELF_CODE_OFF);
	put32(img + 64, 0x100000);	/* p_paddr */
	put32(img + 68, 16);		/* filesz */
	put32(img + 72, 32);		/* memsz */
	/* phdr 1: PT_NOTE */
	put32(img + 84, 4);
	put32(img + 88, ELF_NOTE_OFF);
	put32(img + 100, 20);
	/* the note */
	put32(img + ELF_NOTE_OFF, 4);
	put32(img + ELF_NOTE_OFF + 4, 4);
	put32(img + ELF_NOTE_OFF + 8, 18);
	memcpy(img + ELF_NOTE_OFF + 12, "Xen", 4);
	put32(img + ELF_NOTE_OFF + 16, entry);
	memset(img + ELF_CODE_OFF, 0x90, 16);
	return 0x200;
}

static void
expect_pvh_error(uint8_t *img, size_t len, const char *needle)
{
	struct pvh_image p;
	struct boot_error e = { "" };

	assert_int_equal(pvh_parse(img, len, &p, &e), -EINVAL);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", e.msg, needle);
}

static void
test_pvh_good(void **state)
{
	uint8_t img[0x200];
	size_t len = make_elf(img, 0x100004);
	struct pvh_image p;
	struct boot_error e = { "" };

	(void)state;
	assert_int_equal(pvh_parse(img, len, &p, &e), 0);
	assert_int_equal(p.entry, 0x100004);
	assert_int_equal(p.nseg, 1);
	assert_int_equal(p.start, 0x100000);
	assert_int_equal(p.end, 0x100020);
	memset(ram + 0x100000, 0xee, 64);
	assert_int_equal(pvh_load(&p, img, len, &mem, &e), 0);
	assert_int_equal(ram[0x100000], 0x90);
	assert_int_equal(ram[0x10000f], 0x90);
	assert_int_equal(ram[0x100010], 0);	/* bss zeroed */
	assert_int_equal(ram[0x10001f], 0);
	assert_int_equal(ram[0x100020], 0xee);	/* untouched */
}

static void
test_pvh_bad(void **state)
{
	uint8_t img[0x200];
	size_t len;

	(void)state;
	len = make_elf(img, 0x100000);
	expect_pvh_error(img, 40, "truncated");
	img[4] = 3;
	expect_pvh_error(img, len, "class");
	make_elf(img, 0x100000);
	put16(img + 18, 40);		/* ARM */
	expect_pvh_error(img, len, "machine");
	make_elf(img, 0x100000);
	put32(img + 28, 0x1f0);		/* phdrs run off the end */
	expect_pvh_error(img, len, "program headers");
	make_elf(img, 0x100000);
	put32(img + 56, 0x1f8);		/* PT_LOAD data past EOF */
	expect_pvh_error(img, len, "outside the file");
	make_elf(img, 0x100000);
	put32(img + 68, 64);		/* filesz > memsz */
	expect_pvh_error(img, len, "filesz");
	make_elf(img, 0x100000);
	put32(img + ELF_NOTE_OFF, 0x7ffffff0);	/* namesz runs away */
	expect_pvh_error(img, len, "runs past");
	make_elf(img, 0x100000);
	put32(img + ELF_NOTE_OFF + 8, 17);	/* another note type */
	expect_pvh_error(img, len, "no PVH entry note");
	make_elf(img, 0x100000);
	put32(img + ELF_NOTE_OFF + 4, 2);	/* 2-byte descriptor */
	expect_pvh_error(img, len, "want 4 or 8");
	make_elf(img, 0x200000);	/* entry outside the segment */
	expect_pvh_error(img, len, "not inside a loaded segment");
	make_elf(img, 0x100000);
	put32(img + 72, 0xffffffff);	/* huge memsz */
	put32(img + 68, 16);
	{
		struct pvh_image p;
		struct boot_error e;

		assert_int_equal(pvh_parse(img, len, &p, &e), 0);
		assert_int_equal(pvh_load(&p, img, len, &mem, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "not in guest RAM"));
	}
}

static void
test_pvh_low_segment(void **state)
{
	uint8_t img[0x200];
	size_t len = make_elf(img, 0x7000);
	struct pvh_image p;
	struct boot_error e;

	(void)state;
	put32(img + 64, 0x7000);	/* would overwrite the zero page */
	assert_int_equal(pvh_parse(img, len, &p, &e), 0);
	assert_int_equal(pvh_load(&p, img, len, &mem, &e), -EINVAL);
}

static void
test_boot_load_pvh(void **state)
{
	uint8_t img[0x200];
	struct boot_args a = { .cmdline = "console=ttyS0", .cpus = 2,
	    .initrd_size = 5000 };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e = { "" };
	struct pvh_start_info si;
	struct pvh_modlist_entry mod;

	(void)state;
	a.kernel = img;
	a.kernel_len = make_elf(img, 0x100000);
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), 0);
	assert_int_equal(entry.mode, BOOT_MODE_PROT32);
	assert_int_equal(entry.rip, 0x100000);
	assert_int_equal(entry.rbx, BOOT_PVH_INFO_GPA);
	memcpy(&si, ram + BOOT_PVH_INFO_GPA, sizeof(si));
	assert_int_equal(si.magic, PVH_START_MAGIC);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.nr_modules, 1);
	assert_string_equal((char *)ram + si.cmdline_paddr, "console=ttyS0");
	assert_int_equal(si.memmap_entries, 3);
	memcpy(&mod, ram + si.modlist_paddr, sizeof(mod));
	assert_int_equal(mod.paddr, placed.initrd_gpa);
	assert_int_equal(mod.size, 5000);
	assert_int_equal(placed.initrd_gpa % 4096, 0);
	assert_true(placed.initrd_gpa + 5000 <= RAM);
	assert_true(placed.initrd_gpa >= placed.kernel_end);
}

/* ---- bzImage ----------------------------------------------------------- */

#define BZ_LEN (5 * 512 + 4096)
static void
make_bz(uint8_t *img)
{
	struct setup_header *h;

	memset(img, 0, BZ_LEN);
	h = (struct setup_header *)(img + 0x1f1);
	h->setup_sects = 4;
	h->boot_flag = 0xaa55;
	img[0x200] = 0xeb;		/* jmp */
	img[0x201] = 0x6a;		/* header ends at 0x26c */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = 0x01;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->xloadflags = 0x03;
	h->cmdline_size = 255;
	h->init_size = 0x10000;
	h->setup_data = 0x1234;		/* a loader must not pass this on */
	memset(img + 5 * 512, 0xcc, 4096);
}

static void
expect_bz_error(uint8_t *img, size_t len, const char *needle)
{
	struct bzimage_info bz;
	struct boot_error e = { "" };

	assert_int_equal(bzimage_parse(img, len, &bz, &e), -EINVAL);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", e.msg, needle);
}

static void
test_bz_good(void **state)
{
	static uint8_t img[BZ_LEN];
	struct boot_args a = { .cmdline = "console=ttyS0 root=/dev/ram",
	    .cpus = 1, .initrd_size = 10000, .kernel = img,
	    .kernel_len = BZ_LEN };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e = { "" };
	struct boot_params bp;

	(void)state;
	make_bz(img);
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), 0);
	assert_string_equal(placed.format, "bzimage");
	assert_int_equal(entry.mode, BOOT_MODE_LONG64);
	assert_int_equal(entry.rip, 0x100200);
	assert_int_equal(entry.rsi, BOOT_ZEROPAGE_GPA);
	assert_int_equal(ram[0x100000], 0xcc);
	memcpy(&bp, ram + BOOT_ZEROPAGE_GPA, sizeof(bp));
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.cmd_line_ptr, BOOT_CMDLINE_GPA);
	assert_int_equal(bp.hdr.ramdisk_image, placed.initrd_gpa);
	assert_int_equal(bp.hdr.ramdisk_size, 10000);
	assert_int_equal(bp.hdr.setup_data, 0);
	assert_int_equal(bp.e820_entries, 3);
	assert_int_equal(bp.e820_table[2].addr, 0x100000);
	assert_string_equal((char *)ram + BOOT_CMDLINE_GPA,
	    "console=ttyS0 root=/dev/ram");
	/* identity page tables: 2 MiB pages */
	{
		uint64_t pde;

		memcpy(&pde, ram + BOOT_PD_GPA + 8, 8);
		assert_int_equal(pde, 0x200000 | 0x83);
	}
}

static void
test_bz_32bit(void **state)
{
	static uint8_t img[BZ_LEN];
	struct boot_args a = { .cpus = 1, .kernel = img, .kernel_len = BZ_LEN };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e;

	(void)state;
	make_bz(img);
	((struct setup_header *)(img + 0x1f1))->xloadflags = 0;
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), 0);
	assert_int_equal(entry.mode, BOOT_MODE_PROT32);
	assert_int_equal(entry.rip, 0x100000);
}

static void
test_bz_bad(void **state)
{
	static uint8_t img[BZ_LEN];
	struct setup_header *h = (struct setup_header *)(img + 0x1f1);
	struct boot_args a = { .cpus = 1, .kernel = img, .kernel_len = BZ_LEN };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e = { "" };
	char longline[400];

	(void)state;
	make_bz(img);
	h->version = 0x0204;
	expect_bz_error(img, BZ_LEN, "older than 2.06");
	make_bz(img);
	h->loadflags = 0;
	expect_bz_error(img, BZ_LEN, "zImage");
	make_bz(img);
	h->setup_sects = 200;
	expect_bz_error(img, BZ_LEN, "setup_sects");
	make_bz(img);
	h->initrd_addr_max = 0x1000;
	expect_bz_error(img, BZ_LEN, "initrd_addr_max");
	make_bz(img);
	img[0x201] = 0x10;		/* header too short for cmdline_size */
	expect_bz_error(img, BZ_LEN, "truncated");
	expect_bz_error(img, 0x204, "not a bzImage");
	/* init_size beyond RAM */
	make_bz(img);
	h->init_size = 0x40000000;
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too small"));
	/* command line longer than cmdline_size */
	make_bz(img);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	a.cmdline = longline;
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "at most 255"));
}

static void
test_bz_initrd_limit(void **state)
{
	static uint8_t img[BZ_LEN];
	struct setup_header *h = (struct setup_header *)(img + 0x1f1);
	struct boot_args a = { .cpus = 1, .kernel = img, .kernel_len = BZ_LEN,
	    .initrd_size = 0x100000 };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e = { "" };

	(void)state;
	make_bz(img);
	h->initrd_addr_max = 0x7fffff;	/* 8 MiB - 1 */
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), 0);
	assert_true(placed.initrd_gpa + 0x100000 - 1 <= 0x7fffff);
	/* an initrd that cannot fit below the limit */
	a.initrd_size = 0x7f0000;
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "does not fit"));
}

/* ---- e820, MP table, guest memory ------------------------------------- */

static void
test_e820(void **state)
{
	struct e820_entry m[E820_MAX];
	struct gmem big;

	(void)state;
	assert_int_equal(e820_build(&mem, m, E820_MAX), 3);
	assert_int_equal(m[0].addr, 0);
	assert_int_equal(m[0].size, BOOT_EBDA_GPA);
	assert_int_equal(m[1].type, E820_TYPE_RESERVED);
	assert_int_equal(m[2].addr + m[2].size, RAM);
	gmem_layout(&big, NULL, 5ULL << 30);	/* 5 GiB: split at 3 GiB */
	assert_int_equal(e820_build(&big, m, E820_MAX), 4);
	assert_int_equal(m[2].addr + m[2].size, GMEM_HOLE_START);
	assert_int_equal(m[3].addr, GMEM_HIGH_START);
	assert_int_equal(m[3].size, 2ULL << 30);
	assert_int_equal(e820_build(&big, m, 2), 2);
}

static uint8_t
sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void
test_mptable(void **state)
{
	const uint8_t *fp = ram + MPTABLE_FP_GPA, *cfg, *p;
	uint16_t len, count;
	unsigned cpus = 0;
	struct boot_error e;

	(void)state;
	assert_int_equal(mptable_write(&mem, 4, &e), 0);
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum(fp, 16), 0);
	cfg = ram + MPTABLE_CFG_GPA;
	assert_memory_equal(cfg, "PCMP", 4);
	memcpy(&len, cfg + 4, 2);
	memcpy(&count, cfg + 34, 2);
	assert_int_equal(sum(cfg, len), 0);
	p = cfg + 44;
	for (unsigned i = 0; i < count; i++) {
		if (p[0] == 0) {
			assert_int_equal(p[1], cpus);		/* APIC ID */
			assert_int_equal(!!(p[3] & 2), cpus == 0);	/* BSP */
			cpus++;
			p += 20;
		} else {
			p += 8;
		}
	}
	assert_int_equal(cpus, 4);
	assert_int_equal(p - cfg, len);
	assert_int_equal(mptable_write(&mem, 0, &e), -EINVAL);
	assert_int_equal(mptable_write(&mem, MPTABLE_MAX_CPUS + 1, &e),
	    -EINVAL);
	assert_int_equal(mptable_write(&mem, MPTABLE_MAX_CPUS, &e), 0);
}

static void
test_gmem_bounds(void **state)
{
	struct gmem big;

	(void)state;
	assert_non_null(gmem_ptr(&mem, 0, RAM));
	assert_null(gmem_ptr(&mem, 0, RAM + 1ULL));
	assert_null(gmem_ptr(&mem, RAM, 1));
	assert_null(gmem_ptr(&mem, RAM - 1, UINT64_MAX));
	assert_null(gmem_ptr(&mem, UINT64_MAX, 2));
	gmem_layout(&big, (uint8_t *)0x1000, 5ULL << 30);
	assert_ptr_equal(gmem_ptr(&big, GMEM_HIGH_START, 1),
	    (uint8_t *)0x1000 + GMEM_HOLE_START);
	assert_null(gmem_ptr(&big, GMEM_HOLE_START, 1));
	assert_null(gmem_ptr(&big, GMEM_HOLE_START - 1, 2));
	assert_null(gmem_ptr(&big, GMEM_HIGH_START + (2ULL << 30), 1));
}

static void
test_unknown_format(void **state)
{
	uint8_t junk[4096] = { 1, 2, 3 };
	struct boot_args a = { .cpus = 1, .kernel = junk, .kernel_len = 4096 };
	struct boot_entry entry;
	struct boot_placed placed;
	struct boot_error e = { "" };
	struct gmem tiny;

	(void)state;
	assert_int_equal(boot_load(&mem, &a, &entry, &placed, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "neither"));
	gmem_layout(&tiny, ram, 1 << 20);
	assert_int_equal(boot_load(&tiny, &a, &entry, &placed, &e), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvh_good),
		cmocka_unit_test(test_pvh_bad),
		cmocka_unit_test(test_pvh_low_segment),
		cmocka_unit_test(test_boot_load_pvh),
		cmocka_unit_test(test_bz_good),
		cmocka_unit_test(test_bz_32bit),
		cmocka_unit_test(test_bz_bad),
		cmocka_unit_test(test_bz_initrd_limit),
		cmocka_unit_test(test_e820),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_gmem_bounds),
		cmocka_unit_test(test_unknown_format),
	};

	return cmocka_run_group_tests_name("vmm_boot", tests, setup, teardown);
}
