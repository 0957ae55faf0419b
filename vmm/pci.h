/*
 * pci.h: the PCI host bridge, configuration mechanism #1 (PCI Local Bus
 * Specification 3.0, 3.2.2.3.2): a 32-bit address register at 0xcf8
 * (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2)
 * and the data window at 0xcfc-0xcff. Bus 0 only. Slot 0 is the host
 * bridge (Intel 440FX IDs, class 06 00 00), so Linux's type-1 sanity
 * check finds a bridge; further devices (virtio-pci) add themselves with
 * pci_add_device. Each function's 256-byte configuration space has a
 * write mask: read-only bits keep their value, which is also how BAR
 * sizing works (write all ones, read back the size mask, 6.2.5.1).
 *
 * Memory BARs live in the MMIO window [PCI_MMIO_BASE, + PCI_MMIO_SIZE),
 * inside the 32-bit hole (guestmem.h: from 0xc0000000; e820 does not
 * cover it) and below the IOAPIC at 0xfec00000. The VMM places each BAR
 * there; the guest may move it. pci_mmio_access routes an access in the
 * window to the function whose enabled memory BAR holds it (the bus
 * reaches it through pci_mmio_ops, which shares pci_host_ops' state).
 *
 * A function may have hooks (struct pci_function_ops), called with the
 * bus's lock for this device held: cfg_read before a configuration read
 * (to refresh cfg[]), cfg_write after a configuration write (wmask
 * applied), bar_read / bar_write for its memory BARs.
 */
#ifndef DROVER_VMM_PCI_H
#define DROVER_VMM_PCI_H

#include <stdint.h>

#include "devhost.h"

#define PCI_CONFIG_PORT		0xcf8	/* 0xcf8-0xcfb address, 0xcfc-0xcff data */
#define PCI_CONFIG_SPAN		8
#define PCI_SLOTS		32
#define PCI_CFG_SIZE		256
#define PCI_NUM_BARS		6

/* Where the VMM places memory BARs (bus.c routes the window here). */
#define PCI_MMIO_BASE		0xe0000000ull
#define PCI_MMIO_SIZE		0x10000000ull

/* Configuration space header, type 0 (6.1). */
#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_REVISION		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SUBSYS_VENDOR	0x2c
#define PCI_SUBSYS_ID		0x2e
#define PCI_CAP_PTR		0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d
#define PCI_CAP_START		0x40	/* capabilities go from here */

#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST	0x0010

/* BAR type bits (6.2.5.1). */
#define PCI_BAR_MEM64		0x04
#define PCI_BAR_PREFETCH	0x08

/* Capability IDs (PCI Code and ID Assignment). */
#define PCI_CAP_ID_VNDR		0x09
#define PCI_CAP_ID_MSIX		0x11

struct pci_host;

/* A function's hooks; arg is pci_function.arg. bar is the BAR's index
 * (the low one of a 64-bit BAR), off is within it, and off + len never
 * passes the BAR's end. */
struct pci_function_ops {
	void (*cfg_read)(void *arg, unsigned reg, unsigned len);
	void (*cfg_write)(void *arg, unsigned reg, unsigned len);
	void (*bar_read)(void *arg, unsigned bar, uint64_t off, uint8_t *data,
	    unsigned len);
	void (*bar_write)(void *arg, unsigned bar, uint64_t off,
	    const uint8_t *data, unsigned len);
};

/* The configuration space of one function, and which bits may change. */
struct pci_function {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	/* Memory BAR sizes (pci_set_bar); 0: no BAR there. */
	uint64_t bar_size[PCI_NUM_BARS];
	unsigned cap_last;		/* the last capability, or 0 */
	unsigned cap_end;		/* where the next one goes, or 0 */
	const struct pci_function_ops *ops;	/* NULL: no hooks */
	void *arg;
};

extern const struct vmm_dev_ops pci_host_ops;
/* The MMIO window, for bus.c: offsets from PCI_MMIO_BASE, same state as
 * pci_host_ops (no create or destroy of its own). */
extern const struct vmm_dev_ops pci_mmio_ops;

/*
 * Put a function in slot (1..31). The host keeps the pointer: fn is the
 * caller's and must stay until pci_remove_device or the host's destroy.
 * 0 or -EBUSY/-EINVAL.
 */
int pci_add_device(struct pci_host *h, unsigned slot, struct pci_function *fn);
/* Take the function out of slot (nothing if empty). */
void pci_remove_device(struct pci_host *h, unsigned slot);
/* Read a function's configuration space as the guest left it. */
const struct pci_function *pci_get_function(const struct pci_host *h,
    unsigned slot);

/*
 * Make BAR bar of fn a memory BAR of size bytes (a power of 2, >= 16) at
 * gpa (aligned to size); flags PCI_BAR_MEM64 (takes bar and bar + 1) and
 * PCI_BAR_PREFETCH. 0 or -EINVAL.
 */
int pci_set_bar(struct pci_function *fn, unsigned bar, uint64_t gpa,
    uint64_t size, unsigned flags);
/* Where memory BAR bar of fn is now (as the guest programmed it). */
uint64_t pci_bar_addr(const struct pci_function *fn, unsigned bar);
/*
 * Append a capability of len bytes (id and next pointer included) to fn's
 * list, dword aligned, from PCI_CAP_START on; sets the status register's
 * capability-list bit. Its offset, or -ENOSPC.
 */
int pci_cap_add(struct pci_function *fn, uint8_t id, unsigned len);

/*
 * A guest access at gpa: to the function whose memory BAR holds it, if
 * the function's command register enables memory space. 1 if a BAR
 * claimed it (an access running past the BAR's end then reads all ones
 * and writes nothing), 0 if none did (reads all ones).
 */
int pci_mmio_access(struct pci_host *h, uint64_t gpa, uint8_t *data,
    unsigned len, int is_write);

#endif
