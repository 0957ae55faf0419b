/*
 * mptable.h: the Intel MultiProcessor Specification 1.4 tables that tell a
 * guest without ACPI how many CPUs it has and how ISA IRQs reach the I/O
 * APIC. Linux (CONFIG_X86_MPPARSE) scans the last KiB of base memory
 * (639 KiB) for the floating pointer, so that is where it goes.
 */
#ifndef DROVER_MPTABLE_H
#define DROVER_MPTABLE_H

#include "boot.h"

#define MPTABLE_FP_GPA		0x9fc00ULL	/* 639 KiB */
#define MPTABLE_CFG_GPA		BOOT_EBDA_GPA	/* config table */
#define MPTABLE_LAPIC_ADDR	0xfee00000U
#define MPTABLE_IOAPIC_ADDR	0xfec00000U
#define MPTABLE_MAX_CPUS	64	/* fits below the floating pointer */

/* Write the tables for cpus CPUs with APIC IDs 0..cpus-1. 0 or -EINVAL. */
int mptable_write(struct gmem *m, unsigned cpus, struct boot_error *e);

#endif
