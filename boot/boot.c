/*
 * boot.c: the format-independent half of loading a guest kernel: format
 * detection, the command line, initrd placement, the flat GDT and the
 * identity page tables; the MP table and e820 map are written for both
 * formats. See boot.h for the low-memory layout.
 */
#include "boot.h"

#include <errno.h>
#include <string.h>

#include "bzimage.h"
#include "mptable.h"
#include "pvh.h"

#define PAGE_SIZE_4K	0x1000ULL
#define PAGE_2M		0x200000ULL
#define PTE_P		0x1ULL
#define PTE_RW		0x2ULL
#define PTE_PS		0x80ULL

/* Flat descriptors (Intel SDM vol. 3, 3.4.5): base 0, limit 4 GiB. */
#define GDT_CODE32	0x00cf9b000000ffffULL	/* D=1, exec/read */
#define GDT_CODE64	0x00af9b000000ffffULL	/* L=1 */
#define GDT_DATA	0x00cf93000000ffffULL	/* read/write */
#define GDT_TSS		0x00008b0000000067ULL	/* busy 32-bit TSS, 104 B */
#define GDT_ENTRIES	6	/* null, null, code, data, TSS (16 B in long mode) */

int
boot_write_cmdline(struct gmem *m, const char *cmdline, uint64_t max,
    struct boot_error *e)
{
	size_t len = cmdline ? strlen(cmdline) : 0;
	uint8_t *dst;

	if (max > BOOT_CMDLINE_MAX)
		max = BOOT_CMDLINE_MAX;
	if (len + 1 > max)
		return boot_fail(e, "command line is %zu bytes; the kernel "
		    "accepts at most %llu", len, (unsigned long long)max - 1);
	dst = gmem_ptr(m, BOOT_CMDLINE_GPA, max);
	if (dst == NULL)
		return boot_fail(e, "no room for the command line");
	memset(dst, 0, max);
	if (len)
		memcpy(dst, cmdline, len);
	return 0;
}

int
boot_place_initrd(const struct gmem *m, uint64_t size, uint64_t floor,
    uint64_t limit, uint64_t *gpa, struct boot_error *e)
{
	uint64_t top = limit < m->low_size ? limit : m->low_size;

	*gpa = 0;
	if (size == 0)
		return 0;
	floor = (floor + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (size > top || ((top - size) & ~(PAGE_SIZE_4K - 1)) < floor)
		return boot_fail(e, "initrd of %llu bytes does not fit between "
		    "the kernel end (%#llx) and %#llx; give the guest more "
		    "memory", (unsigned long long)size,
		    (unsigned long long)floor, (unsigned long long)top);
	*gpa = (top - size) & ~(PAGE_SIZE_4K - 1);
	return 0;
}

void
boot_write_gdt(struct gmem *m, enum boot_mode mode)
{
	uint64_t gdt[GDT_ENTRIES] = { 0 };
	uint8_t *dst = gmem_ptr(m, BOOT_GDT_GPA, sizeof(gdt));

	gdt[BOOT_SEL_CODE / 8] = mode == BOOT_MODE_LONG64 ? GDT_CODE64 :
	    GDT_CODE32;
	gdt[BOOT_SEL_DATA / 8] = GDT_DATA;
	gdt[BOOT_SEL_TSS / 8] = GDT_TSS;
	if (dst)	/* low memory always exists (BOOT_MEM_MIN) */
		memcpy(dst, gdt, sizeof(gdt));
}

/* Identity-map the first 4 GiB with 2 MiB pages (64-bit boot protocol:
 * the kernel, zero page and command line must be identity-mapped). */
int
boot_write_pagetables(struct gmem *m, struct boot_error *e)
{
	uint64_t *pml4 = gmem_ptr(m, BOOT_PML4_GPA, PAGE_SIZE_4K);
	uint64_t *pdpt = gmem_ptr(m, BOOT_PDPT_GPA, PAGE_SIZE_4K);
	uint64_t *pd = gmem_ptr(m, BOOT_PD_GPA, 4 * PAGE_SIZE_4K);

	if (!pml4 || !pdpt || !pd)
		return boot_fail(e, "no room for the page tables");
	memset(pml4, 0, PAGE_SIZE_4K);
	memset(pdpt, 0, PAGE_SIZE_4K);
	pml4[0] = BOOT_PDPT_GPA | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_GPA + i * PAGE_SIZE_4K) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = i * PAGE_2M | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static int
boot_pvh(struct gmem *m, const struct boot_args *a, struct boot_entry *entry,
    struct boot_placed *placed, const struct e820_entry *map, unsigned n,
    struct boot_error *e)
{
	struct pvh_image p;
	int err;

	if ((err = pvh_parse(a->kernel, a->kernel_len, &p, e)) < 0 ||
	    (err = pvh_load(&p, a->kernel, a->kernel_len, m, e)) < 0 ||
	    (err = boot_write_cmdline(m, a->cmdline, BOOT_CMDLINE_MAX, e)) < 0)
		return err;
	placed->format = "pvh";
	placed->kernel_start = p.start;
	placed->kernel_end = p.end;
	err = boot_place_initrd(m, a->initrd_size, p.end, GMEM_HOLE_START,
	    &placed->initrd_gpa, e);
	if (err < 0 || (err = pvh_write_start_info(m, placed->initrd_gpa,
	    a->initrd_size, map, n, e)) < 0)
		return err;
	/* PVH ABI: 32-bit protected mode, paging off, %ebx = start info. */
	entry->mode = BOOT_MODE_PROT32;
	entry->rip = p.entry;
	entry->rbx = BOOT_PVH_INFO_GPA;
	return 0;
}

static int
boot_bzimage(struct gmem *m, const struct boot_args *a,
    struct boot_entry *entry, struct boot_placed *placed,
    const struct e820_entry *map, unsigned n, struct boot_error *e)
{
	struct bzimage_info bz;
	int err;

	if ((err = bzimage_parse(a->kernel, a->kernel_len, &bz, e)) < 0 ||
	    (err = bzimage_load(&bz, a->kernel, a->kernel_len, m, e)) < 0 ||
	    (err = boot_write_cmdline(m, a->cmdline,
	    (uint64_t)bz.cmdline_size + 1, e)) < 0)
		return err;
	placed->format = "bzimage";
	placed->kernel_start = bz.load_addr;
	placed->kernel_end = bz.load_addr + bz.init_size;
	/* boot.rst: the initrd's last byte must be <= initrd_addr_max. */
	err = boot_place_initrd(m, a->initrd_size, placed->kernel_end,
	    (uint64_t)bz.initrd_addr_max + 1, &placed->initrd_gpa, e);
	if (err < 0 || (err = bzimage_write_zeropage(&bz, a->kernel,
	    a->kernel_len, m, placed->initrd_gpa, a->initrd_size, map, n,
	    e)) < 0)
		return err;
	entry->rsi = BOOT_ZEROPAGE_GPA;
	if (bz.has_64bit_entry) {
		/* boot.rst "64-bit BOOT PROTOCOL": startup_64 at +0x200. */
		entry->mode = BOOT_MODE_LONG64;
		entry->rip = bz.load_addr + 0x200;
		entry->cr3 = BOOT_PML4_GPA;
		return boot_write_pagetables(m, e);
	}
	entry->mode = BOOT_MODE_PROT32;
	entry->rip = bz.load_addr;	/* code32_start */
	return 0;
}

int
boot_load(struct gmem *m, const struct boot_args *a,
    struct boot_entry *entry, struct boot_placed *placed,
    struct boot_error *e)
{
	struct e820_entry map[E820_MAX];
	unsigned n;
	int err;

	memset(entry, 0, sizeof(*entry));
	memset(placed, 0, sizeof(*placed));
	if (m->low_size < BOOT_MEM_MIN)
		return boot_fail(e, "guest RAM below %llu MiB",
		    BOOT_MEM_MIN >> 20);
	n = e820_build(m, map, E820_MAX);
	if ((err = mptable_write(m, a->cpus, e)) < 0)
		return err;
	if (bzimage_is(a->kernel, a->kernel_len))
		err = boot_bzimage(m, a, entry, placed, map, n, e);
	else if (pvh_is_elf(a->kernel, a->kernel_len))
		err = boot_pvh(m, a, entry, placed, map, n, e);
	else
		err = boot_fail(e, "kernel is neither a bzImage nor an ELF "
		    "file");
	if (err < 0)
		return err;
	boot_write_gdt(m, entry->mode);
	return 0;
}
