/*
 * devhost.h: what a device model may ask of the VMM, and what the VMM asks
 * of a device model. Device models see only this interface (never struct
 * vmm or KVM), so unit tests drive them with a fake host.
 *
 * Guest accesses arrive as (offset within the device's range, data, len);
 * len is 1, 2, 4 or 8 and data is in guest (little-endian) byte order. A
 * model must accept any offset and length the guest chooses: reads of
 * nothing return all ones, writes to nothing are ignored.
 */
#ifndef DROVER_DEVHOST_H
#define DROVER_DEVHOST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct vmm_dev_host {
	void *arg;
	/* Drive an ISA IRQ line (KVM_IRQ_LINE): level 1 asserted, 0 not. */
	void (*irq_line)(void *arg, unsigned irq, int level);
	/* Console output; never blocks (the console buffers or drops). */
	void (*console_out)(void *arg, const uint8_t *buf, size_t len);
	/* End the VM with this exit code (VMM_EXIT_*); why is logged. */
	void (*request_exit)(void *arg, int code, const char *why);
	/* CLOCK_MONOTONIC at VMM start, for the boot timer. */
	struct timespec start;
};

struct vmm_dev_ops {
	const char *name;
	/* Allocate the device's state; NULL on failure (errno set). */
	void *(*create)(const struct vmm_dev_host *host);
	void (*destroy)(void *dev);
	void (*read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data,
	    unsigned len);
};

#endif
