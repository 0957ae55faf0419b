/*
 * boottimer.h: a boot-time marker like Firecracker's: the guest (its
 * init, or a test payload) writes a byte, and the VMM logs the time since
 * the VMM started. It answers at I/O port 0x440 and, as in Firecracker,
 * at MMIO 0xd0000000 (Firecracker's guests write 123 there). Reads return
 * the last byte written, so a guest can check that the device exists.
 */
#ifndef DROVER_BOOTTIMER_H
#define DROVER_BOOTTIMER_H

#include "devhost.h"

#define BOOTTIMER_PORT		0x440
#define BOOTTIMER_MMIO		0xd0000000ULL
#define BOOTTIMER_MMIO_LEN	0x1000
#define BOOTTIMER_MAGIC		123	/* Firecracker's "boot complete" */

extern const struct vmm_dev_ops boottimer_ops;

/*
 * When the guest first wrote BOOTTIMER_MAGIC: ms since VMM start, or -1
 * (not yet). dev is the device's state; the caller holds its lock. The
 * control socket's status reports it as "booted_ms" (the agent's Ready).
 */
double boottimer_booted_ms(const void *dev);

/* Milliseconds from start to now (CLOCK_MONOTONIC). */
double boottimer_since_ms(const struct timespec *start);

#endif
