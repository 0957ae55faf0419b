/*
 * pci.h: the PCI host bridge, configuration mechanism #1 (PCI Local Bus
 * Specification 3.0, 3.2.2.3.2): a 32-bit address register at 0xcf8
 * (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2)
 * and the data window at 0xcfc-0xcff. Bus 0 only. Slot 0 is the host
 * bridge (Intel 440FX IDs, class 06 00 00), so Linux's type-1 sanity
 * check finds a bridge; further devices (virtio-pci, not built yet) add
 * themselves with pci_add_device. Each function's 256-byte configuration
 * space has a write mask: read-only bits keep their value, which is also
 * how BAR sizing works (write all ones, read back the size mask).
 */
#ifndef DROVER_VMM_PCI_H
#define DROVER_VMM_PCI_H

#include <stdint.h>

#include "devhost.h"

#define PCI_CONFIG_PORT		0xcf8	/* 0xcf8-0xcfb address, 0xcfc-0xcff data */
#define PCI_CONFIG_SPAN		8
#define PCI_SLOTS		32
#define PCI_CFG_SIZE		256

struct pci_host;

/* The configuration space of one function, and which bits may change. */
struct pci_function {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
};

extern const struct vmm_dev_ops pci_host_ops;

/* Put a function in slot (1..31). 0 or -EBUSY/-EINVAL. */
int pci_add_device(struct pci_host *h, unsigned slot,
    const struct pci_function *fn);
/* Read a function's configuration space as the guest left it. */
const struct pci_function *pci_get_function(const struct pci_host *h,
    unsigned slot);

#endif
