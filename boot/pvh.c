/*
 * pvh.c: the PVH ELF loader (see pvh.h). The ELF file is untrusted: every
 * header field is checked against the file size before it is used, with
 * 64-bit arithmetic that cannot wrap (all sizes are bounded first).
 */
#include "pvh.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Is [off, off + size) inside a buffer of len bytes? */
static int
in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

int
pvh_is_elf(const uint8_t *img, size_t len)
{
	return len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* A program header, whichever the class. */
struct pvh_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static void
pvh_read_phdr(const uint8_t *p, int is64, struct pvh_phdr *ph)
{
	ph->type = rd32(p);
	if (is64) {
		/* Elf64_Phdr: type flags offset vaddr paddr filesz memsz align */
		ph->offset = rd64(p + 8);
		ph->paddr = rd64(p + 24);
		ph->filesz = rd64(p + 32);
		ph->memsz = rd64(p + 40);
	} else {
		/* Elf32_Phdr: type offset vaddr paddr filesz memsz flags align */
		ph->offset = rd32(p + 4);
		ph->paddr = rd32(p + 12);
		ph->filesz = rd32(p + 16);
		ph->memsz = rd32(p + 20);
	}
}

/*
 * Walk one PT_NOTE segment (ELF spec "Note Section": namesz, descsz, type,
 * then name and desc, each padded to 4 bytes). 1 and *entry set if the PVH
 * note is there, 0 if not, -EINVAL if the segment is malformed.
 */
static int
pvh_scan_notes(const uint8_t *img, size_t len, const struct pvh_phdr *ph,
    uint32_t *entry, struct boot_error *e)
{
	uint64_t off = ph->offset, end = ph->offset + ph->filesz;
	uint64_t namesz, descsz, namepad, descpad, v;
	uint32_t type;

	if (!in_file(ph->offset, ph->filesz, len))
		return boot_fail(e, "ELF note segment at offset %#llx (%llu "
		    "bytes) is outside the file", (unsigned long long)ph->offset,
		    (unsigned long long)ph->filesz);
	while (end - off >= 12) {
		namesz = rd32(img + off);
		descsz = rd32(img + off + 4);
		type = rd32(img + off + 8);
		namepad = (namesz + 3) & ~3ULL;
		descpad = (descsz + 3) & ~3ULL;
		off += 12;
		if (namepad > end - off || descpad > end - off - namepad)
			return boot_fail(e, "ELF note (type %u) runs past its "
			    "segment", type);
		if (type == PVH_NOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(img + off, "Xen", 4) == 0) {
			if (descsz == 4)
				v = rd32(img + off + namepad);
			else if (descsz == 8)
				v = rd64(img + off + namepad);
			else
				return boot_fail(e, "PVH entry note has %llu "
				    "bytes, want 4 or 8",
				    (unsigned long long)descsz);
			if (v > UINT32_MAX)
				return boot_fail(e, "PVH entry %#llx is above "
				    "4 GiB", (unsigned long long)v);
			*entry = (uint32_t)v;
			return 1;
		}
		off += namepad + descpad;
	}
	return 0;
}

static int
pvh_check_ehdr(const uint8_t *img, size_t len, int *is64,
    struct boot_error *e)
{
	uint16_t machine;

	if (!pvh_is_elf(img, len) || len < EI_NIDENT)
		return boot_fail(e, "not an ELF file");
	if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64)
		return boot_fail(e, "ELF class %u is neither 32 nor 64-bit",
		    img[EI_CLASS]);
	*is64 = img[EI_CLASS] == ELFCLASS64;
	if (img[EI_DATA] != ELFDATA2LSB)
		return boot_fail(e, "ELF file is not little-endian");
	if (len < (*is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return boot_fail(e, "ELF header truncated (%zu bytes)", len);
	machine = rd16(img + 18);	/* e_machine, same offset in both */
	if (machine != EM_386 && machine != EM_X86_64)
		return boot_fail(e, "ELF machine %u is not x86", machine);
	return 0;
}

static int
pvh_add_segment(struct pvh_image *out, const struct pvh_phdr *ph, size_t len,
    unsigned idx, struct boot_error *e)
{
	struct pvh_segment *s;

	if (ph->memsz == 0)
		return 0;
	if (out->nseg == PVH_MAX_SEGMENTS)
		return boot_fail(e, "more than %d PT_LOAD segments",
		    PVH_MAX_SEGMENTS);
	if (!in_file(ph->offset, ph->filesz, len))
		return boot_fail(e, "PT_LOAD %u: file range %#llx+%#llx is "
		    "outside the file (%zu bytes)", idx,
		    (unsigned long long)ph->offset,
		    (unsigned long long)ph->filesz, len);
	if (ph->filesz > ph->memsz)
		return boot_fail(e, "PT_LOAD %u: filesz %#llx > memsz %#llx",
		    idx, (unsigned long long)ph->filesz,
		    (unsigned long long)ph->memsz);
	/* Guest RAM is far below 2^48; refuse anything that could wrap. */
	if (ph->paddr >= 1ULL << 48 || ph->memsz >= 1ULL << 48)
		return boot_fail(e, "PT_LOAD %u: paddr %#llx size %#llx out "
		    "of range", idx, (unsigned long long)ph->paddr,
		    (unsigned long long)ph->memsz);
	s = &out->seg[out->nseg++];
	s->offset = ph->offset;
	s->filesz = ph->filesz;
	s->paddr = ph->paddr;
	s->memsz = ph->memsz;
	if (out->nseg == 1 || s->paddr < out->start)
		out->start = s->paddr;
	if (s->paddr + s->memsz > out->end)
		out->end = s->paddr + s->memsz;
	return 0;
}

static int
pvh_entry_loaded(const struct pvh_image *p)
{
	for (unsigned i = 0; i < p->nseg; i++)
		if (p->entry >= p->seg[i].paddr &&
		    p->entry - p->seg[i].paddr < p->seg[i].filesz)
			return 1;
	return 0;
}

int
pvh_parse(const uint8_t *img, size_t len, struct pvh_image *out,
    struct boot_error *e)
{
	uint64_t phoff, phentsize, phnum;
	struct pvh_phdr ph;
	int is64 = 0, found = 0, err;

	memset(out, 0, sizeof(*out));
	if ((err = pvh_check_ehdr(img, len, &is64, e)) < 0)
		return err;
	phoff = is64 ? rd64(img + 32) : rd32(img + 28);
	phentsize = rd16(img + (is64 ? 54 : 42));
	phnum = rd16(img + (is64 ? 56 : 44));
	if (phentsize < (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return boot_fail(e, "ELF e_phentsize %llu is too small",
		    (unsigned long long)phentsize);
	if (phnum == 0 || !in_file(phoff, phentsize * phnum, len))
		return boot_fail(e, "ELF program headers (%llu at %#llx) are "
		    "outside the file", (unsigned long long)phnum,
		    (unsigned long long)phoff);
	for (unsigned i = 0; i < phnum; i++) {
		pvh_read_phdr(img + phoff + i * phentsize, is64, &ph);
		if (ph.type == PT_LOAD)
			err = pvh_add_segment(out, &ph, len, i, e);
		else if (ph.type == PT_NOTE && !found)
			err = found = pvh_scan_notes(img, len, &ph, &out->entry,
			    e);
		else
			err = 0;
		if (err < 0)
			return err;
	}
	if (!found)
		return boot_fail(e, "ELF file has no PVH entry note "
		    "(XEN_ELFNOTE_PHYS32_ENTRY); is it built with CONFIG_PVH?");
	if (out->nseg == 0)
		return boot_fail(e, "ELF file has no PT_LOAD segment");
	if (!pvh_entry_loaded(out))
		return boot_fail(e, "PVH entry %#x is not inside a loaded "
		    "segment", out->entry);
	return 0;
}

int
pvh_load(const struct pvh_image *p, const uint8_t *img, size_t len,
    struct gmem *m, struct boot_error *e)
{
	const struct pvh_segment *s;
	uint8_t *dst;

	for (unsigned i = 0; i < p->nseg; i++) {
		s = &p->seg[i];
		dst = gmem_ptr(m, s->paddr, s->memsz);
		if (s->paddr < BOOT_KERNEL_MIN || dst == NULL)
			return boot_fail(e, "segment %u at %#llx (%#llx bytes) "
			    "is not in guest RAM above 1 MiB", i,
			    (unsigned long long)s->paddr,
			    (unsigned long long)s->memsz);
		if (!in_file(s->offset, s->filesz, len))
			return boot_fail(e, "segment %u is outside the file", i);
		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

/*
 * start_info.h, version 1: the structure, then (here) the one module (the
 * initrd, as Linux's PVH entry expects in modlist[0]) and the memory map.
 * The command line is already at BOOT_CMDLINE_GPA.
 */
int
pvh_write_start_info(struct gmem *m, uint64_t initrd_gpa,
    uint64_t initrd_size, const struct e820_entry *map, unsigned n,
    struct boot_error *e)
{
	uint64_t mod_gpa = BOOT_PVH_INFO_GPA + sizeof(struct pvh_start_info);
	uint64_t map_gpa = mod_gpa + sizeof(struct pvh_modlist_entry);
	struct pvh_start_info si;
	struct pvh_modlist_entry mod;
	struct pvh_memmap_entry me;
	uint8_t *p;

	p = gmem_ptr(m, BOOT_PVH_INFO_GPA, map_gpa - BOOT_PVH_INFO_GPA +
	    (uint64_t)n * sizeof(me));
	if (p == NULL || map_gpa + n * sizeof(me) > BOOT_ZEROPAGE_GPA)
		return boot_fail(e, "no room for the PVH start info");
	memset(&si, 0, sizeof(si));
	si.magic = PVH_START_MAGIC;
	si.version = 1;
	si.cmdline_paddr = BOOT_CMDLINE_GPA;
	si.memmap_paddr = map_gpa;
	si.memmap_entries = n;
	if (initrd_size) {
		si.nr_modules = 1;
		si.modlist_paddr = mod_gpa;
	}
	memset(&mod, 0, sizeof(mod));
	mod.paddr = initrd_gpa;
	mod.size = initrd_size;
	memcpy(p, &si, sizeof(si));
	memcpy(p + (mod_gpa - BOOT_PVH_INFO_GPA), &mod, sizeof(mod));
	for (unsigned i = 0; i < n; i++) {
		memset(&me, 0, sizeof(me));
		me.addr = map[i].addr;
		me.size = map[i].size;
		me.type = map[i].type;
		memcpy(p + (map_gpa - BOOT_PVH_INFO_GPA) + i * sizeof(me), &me,
		    sizeof(me));
	}
	return 0;
}
