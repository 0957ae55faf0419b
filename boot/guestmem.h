/*
 * guestmem.h: guest-physical memory as the boot loaders and devices see it.
 *
 * Guest RAM is one host mapping. RAM below the 32-bit MMIO hole occupies
 * GPA [0, low_size); the rest, if any, sits at GPA [4 GiB, 4 GiB +
 * high_size) and follows the low part in the host mapping. Every access
 * from the VMM goes through gmem_ptr(), which checks the whole range: a
 * guest- or image-supplied address can never reach outside guest RAM.
 */
#ifndef DROVER_GUESTMEM_H
#define DROVER_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>

/* The 32-bit hole: [GMEM_HOLE_START, 4 GiB) is MMIO (LAPIC, IOAPIC, PCI). */
#define GMEM_HOLE_START 0xc0000000ULL
#define GMEM_HIGH_START 0x100000000ULL

struct gmem {
	uint8_t *host;		/* host address of GPA 0 */
	uint64_t low_size;	/* bytes of RAM at GPA 0 */
	uint64_t high_size;	/* bytes of RAM at GPA 4 GiB */
};

/* Split size bytes of RAM around the hole. */
static inline void
gmem_layout(struct gmem *m, uint8_t *host, uint64_t size)
{
	m->host = host;
	m->low_size = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;
	m->high_size = size - m->low_size;
}

/* Host pointer for [gpa, gpa + len) if that range is all RAM, else NULL. */
static inline void *
gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (gpa < m->low_size) {
		if (len > m->low_size - gpa)
			return NULL;
		return m->host + gpa;
	}
	if (gpa >= GMEM_HIGH_START && gpa - GMEM_HIGH_START < m->high_size) {
		if (len > m->high_size - (gpa - GMEM_HIGH_START))
			return NULL;
		return m->host + m->low_size + (gpa - GMEM_HIGH_START);
	}
	return NULL;
}

#endif
