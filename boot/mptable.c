/*
 * mptable.c: MP Specification 1.4 tables (see mptable.h). Chapter 4 gives
 * the layouts: the 16-byte floating pointer structure (4.1), the 44-byte
 * configuration table header (4.2) and its entries (4.3): processor (20
 * bytes), bus, I/O APIC, I/O interrupt and local interrupt (8 bytes each).
 */
#include "byteorder.h"
#include "mptable.h"

#include <string.h>

enum {
	MP_ENTRY_CPU = 0,
	MP_ENTRY_BUS = 1,
	MP_ENTRY_IOAPIC = 2,
	MP_ENTRY_IOINT = 3,
	MP_ENTRY_LINT = 4,
	MP_INT = 0,		/* vectored interrupt, from the I/O APIC */
	MP_NMI = 1,
	MP_EXTINT = 3,		/* 8259A-compatible */
	MP_ISA_IRQS = 16,
	MP_APIC_VERSION = 0x14,
	MP_IOAPIC_VERSION = 0x11,
};

/* Spec 4.1/4.2: the bytes of each structure sum to zero. */
static uint8_t
mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

static uint8_t *
mp_cpu(uint8_t *p, unsigned id)
{
	p[0] = MP_ENTRY_CPU;
	p[1] = (uint8_t)id;		/* local APIC ID */
	p[2] = MP_APIC_VERSION;
	p[3] = 0x01 | (id == 0 ? 0x02 : 0);	/* enabled, BSP */
	bo_put32le(p + 4, 0x600);		/* signature: family 6 */
	bo_put32le(p + 8, 0x201);		/* features: FPU, APIC */
	memset(p + 12, 0, 8);
	return p + 20;
}

static uint8_t *
mp_small(uint8_t *p, uint8_t type, uint8_t b1, uint16_t w, uint8_t b4,
    uint8_t b5, uint8_t b6, uint8_t b7)
{
	p[0] = type;
	p[1] = b1;
	bo_put16le(p + 2, w);
	p[4] = b4;
	p[5] = b5;
	p[6] = b6;
	p[7] = b7;
	return p + 8;
}

/* ISA IRQ i reaches I/O APIC pin i, except IRQ 0 (the PIT), on pin 2 as
 * on PC hardware and in KVM's default routing; pin 0 carries the 8259. */
static uint8_t *
mp_irqs(uint8_t *p, uint8_t ioapic_id)
{
	p = mp_small(p, MP_ENTRY_IOINT, MP_EXTINT, 0, 0, 0, ioapic_id, 0);
	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++) {
		if (irq == 2)
			continue;
		p = mp_small(p, MP_ENTRY_IOINT, MP_INT, 0, 0, irq, ioapic_id,
		    irq == 0 ? 2 : irq);
	}
	/* LINT0 is ExtINT and LINT1 NMI on every local APIC (0xff: all). */
	p = mp_small(p, MP_ENTRY_LINT, MP_EXTINT, 0, 0, 0, 0xff, 0);
	return mp_small(p, MP_ENTRY_LINT, MP_NMI, 0, 0, 0, 0xff, 1);
}

int
mptable_write(struct gmem *m, unsigned cpus, struct boot_error *e)
{
	const uint64_t room = MPTABLE_FP_GPA - MPTABLE_CFG_GPA;
	uint8_t *cfg, *fp, *p;
	unsigned count;

	if (cpus == 0 || cpus > MPTABLE_MAX_CPUS)
		return boot_fail(e, "MP table: %u CPUs (1..%d)", cpus,
		    MPTABLE_MAX_CPUS);
	cfg = gmem_ptr(m, MPTABLE_CFG_GPA, room);
	fp = gmem_ptr(m, MPTABLE_FP_GPA, 16);
	if (cfg == NULL || fp == NULL)
		return boot_fail(e, "MP table: guest RAM too small");
	memset(cfg, 0, room);
	p = cfg + 44;
	for (unsigned i = 0; i < cpus; i++)
		p = mp_cpu(p, i);
	p = mp_small(p, MP_ENTRY_BUS, 0, 0, 0, 0, 0, 0);
	memcpy(p - 6, "ISA   ", 6);
	p = mp_small(p, MP_ENTRY_IOAPIC, (uint8_t)cpus, 0, 0, 0, 0, 0);
	p[-6] = MP_IOAPIC_VERSION;
	p[-5] = 0x01;			/* enabled */
	bo_put32le(p - 4, MPTABLE_IOAPIC_ADDR);
	p = mp_irqs(p, (uint8_t)cpus);
	count = cpus + 2 + (MP_ISA_IRQS) + 2;
	memcpy(cfg, "PCMP", 4);
	bo_put16le(cfg + 4, (uint16_t)(p - cfg));	/* base table length */
	cfg[6] = 4;				/* spec revision 1.4 */
	memcpy(cfg + 8, "DROVER  ", 8);
	memcpy(cfg + 16, "DROVER-VMM  ", 12);
	bo_put16le(cfg + 34, (uint16_t)count);
	bo_put32le(cfg + 36, MPTABLE_LAPIC_ADDR);
	cfg[7] = mp_checksum(cfg, (size_t)(p - cfg));

	memset(fp, 0, 16);
	memcpy(fp, "_MP_", 4);
	bo_put32le(fp + 4, (uint32_t)MPTABLE_CFG_GPA);
	fp[8] = 1;				/* length in 16-byte units */
	fp[9] = 4;
	fp[10] = mp_checksum(fp, 16);
	return 0;
}
