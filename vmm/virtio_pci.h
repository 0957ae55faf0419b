/*
 * virtio_pci.h: the virtio-pci modern transport (virtio 1.2, 4.1) for one
 * struct virtio_dev, as a function on PCI bus 0 (pci.c).
 *
 * Identity (4.1.2): vendor 0x1af4, device 0x1040 + device ID, revision 1,
 * subsystem 0x1af4:0x1100, class from ops->pci_class, no INTx (interrupt
 * pin 0): interrupts are MSI-X only. The ISR register still reads (and
 * clears) the queue and config bits, for a driver that polls it.
 *
 * Capabilities (4.1.4), from 0x40: MSI-X, then the vendor-specific
 * COMMON_CFG, ISR_CFG, DEVICE_CFG (when the device has config), NOTIFY_CFG
 * and PCI_CFG (the configuration-space window onto BAR 0, 4.1.4.9).
 *
 * BAR 0: a 64-bit non-prefetchable memory BAR of VIRTIO_PCI_BAR_SIZE
 * (32 KiB); each structure in its own 4 KiB page (the MSI-X table and
 * PBA must not share a page with other registers, PCI 3.0 6.8.2):
 *
 *	0x0000	common configuration (struct virtio_pci_common_cfg, 0x38)
 *	0x1000	ISR status (1 byte)
 *	0x2000	device-specific configuration (ops->config_size)
 *	0x3000	notify: queue q at 0x3000 + 4 * q (notify_off_multiplier 4,
 *		queue_notify_off q)
 *	0x4000	MSI-X table: nqueues + 1 entries of 16 bytes
 *	0x5000	MSI-X PBA (one qword)
 *	0x6000-0x7fff	nothing (reads 0)
 *
 * The VMM provides (struct virtio_host): msi_route when the guest
 * programs or unmasks a table entry, msi_fire to raise a vector (only
 * when MSI-X is enabled, the function not masked and the vector not
 * masked; otherwise its PBA bit is set, and the vector fires when
 * unmasked), and ioeventfd for each enabled queue's notify address while
 * BAR 0 is enabled in the MMIO window (removed on reset, re-registered if
 * the guest moves the BAR). Without an ioeventfd the notify write exits
 * to the VMM and becomes virtio_dev_kick.
 *
 * Locking: configuration and BAR accesses arrive with the bus's PCI lock
 * held; this file then takes vd->lock. The interrupt path (vd->interrupt,
 * from the I/O thread) runs under vd->lock only.
 */
#ifndef DROVER_VMM_VIRTIO_PCI_H
#define DROVER_VMM_VIRTIO_PCI_H

#include <stdint.h>

#include "pci.h"
#include "virtio.h"

#define VIRTIO_PCI_VENDOR_ID		0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE	0x1040	/* + virtio device ID */
#define VIRTIO_PCI_SUBSYS_ID		0x1100
#define VIRTIO_PCI_REVISION		1

#define VIRTIO_PCI_BAR_SIZE		0x8000
#define VIRTIO_PCI_COMMON_OFF		0x0000
#define VIRTIO_PCI_ISR_OFF		0x1000
#define VIRTIO_PCI_DEVICE_OFF		0x2000
#define VIRTIO_PCI_NOTIFY_OFF		0x3000
#define VIRTIO_PCI_MSIX_TABLE_OFF	0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF		0x5000
#define VIRTIO_PCI_NOTIFY_MULT		4
#define VIRTIO_PCI_MAX_VECTORS		(VIRTIO_MAX_QUEUES + 1)

/* virtio_pci_cap.cfg_type (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4
#define VIRTIO_PCI_CAP_PCI_CFG		5

/* struct virtio_pci_common_cfg (4.1.4.3), offsets in the structure. */
#define VIRTIO_PCI_COMMON_DFSELECT	0x00
#define VIRTIO_PCI_COMMON_DF		0x04
#define VIRTIO_PCI_COMMON_GFSELECT	0x08
#define VIRTIO_PCI_COMMON_GF		0x0c
#define VIRTIO_PCI_COMMON_MSIX		0x10
#define VIRTIO_PCI_COMMON_NUMQ		0x12
#define VIRTIO_PCI_COMMON_STATUS	0x14
#define VIRTIO_PCI_COMMON_CFGGEN	0x15
#define VIRTIO_PCI_COMMON_Q_SELECT	0x16
#define VIRTIO_PCI_COMMON_Q_SIZE	0x18
#define VIRTIO_PCI_COMMON_Q_MSIX	0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE	0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF	0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO	0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI	0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO	0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI	0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO	0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI	0x34
#define VIRTIO_PCI_COMMON_SIZE		0x38

struct virtio_pci;

/*
 * Put vd (virtio_dev_init done) on bus h in slot (1..31) with BAR 0 at
 * bar_gpa (VIRTIO_PCI_BAR_SIZE aligned, inside the PCI MMIO window),
 * memory decoding enabled as firmware would leave it. Sets vd->interrupt
 * and vd->transport. 0 and *out, or -errno (-EINVAL, -EBUSY, -ENOMEM).
 * Call before the vCPUs run.
 */
int virtio_pci_create(struct virtio_dev *vd, struct pci_host *h,
    unsigned slot, uint64_t bar_gpa, struct virtio_pci **out);
/*
 * Remove the ioeventfds and the function from the bus; vd stays (destroy
 * it after this). Call after the vCPUs stopped and before the PCI host
 * is destroyed. NULL is fine.
 */
void virtio_pci_destroy(struct virtio_pci *p);

#endif
