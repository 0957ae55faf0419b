/*
 * pci.c: the PCI host bridge and configuration mechanism #1 (see pci.h).
 * Every guest-supplied value (the address latch, the access width and
 * offset) is masked or bounded before use: bus and function numbers other
 * than 0 read as absent, accesses never cross the 4-byte data window.
 */
#include "pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCI_ADDR_ENABLE		0x80000000u
#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_REVISION		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_HEADER_TYPE		0x0e
#define PCI_SUBSYS_VENDOR	0x2c

struct pci_host {
	uint32_t addr;			/* the 0xcf8 latch */
	struct pci_function *slot[PCI_SLOTS];
	struct pci_function bridge;
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* 00:00.0: a host bridge (440FX IDs, as QEMU and kvmtool use). */
static void
pci_init_bridge(struct pci_function *f)
{
	memset(f, 0, sizeof(*f));
	put16(f->cfg + PCI_VENDOR_ID, 0x8086);
	put16(f->cfg + PCI_DEVICE_ID, 0x1237);
	f->cfg[PCI_REVISION] = 0x02;
	f->cfg[PCI_CLASS_PROG + 2] = 0x06;	/* bridge */
	f->cfg[PCI_CLASS_PROG + 1] = 0x00;	/* host bridge */
	f->cfg[PCI_HEADER_TYPE] = 0x00;
	/* Memory and I/O enable are writable; the rest reads back fixed. */
	f->wmask[PCI_COMMAND] = 0x07;
}

int
pci_add_device(struct pci_host *h, unsigned slot,
    const struct pci_function *fn)
{
	struct pci_function *copy;

	if (slot == 0 || slot >= PCI_SLOTS)
		return -EINVAL;
	if (h->slot[slot])
		return -EBUSY;
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, fn, sizeof(*copy));
	h->slot[slot] = copy;
	return 0;
}

const struct pci_function *
pci_get_function(const struct pci_host *h, unsigned slot)
{
	return slot < PCI_SLOTS ? h->slot[slot] : NULL;
}

/* The function the latch selects, or NULL (absent: reads all ones). */
static struct pci_function *
pci_selected(struct pci_host *h)
{
	uint32_t a = h->addr;

	if (!(a & PCI_ADDR_ENABLE) || ((a >> 16) & 0xff) != 0 ||
	    ((a >> 8) & 7) != 0)
		return NULL;
	return h->slot[(a >> 11) & 0x1f];
}

static void
pci_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci_host *h = dev;
	struct pci_function *f;
	unsigned reg;

	memset(data, 0xff, len);
	if (off < 4) {
		/* The latch reads back only as a whole dword. */
		if (off == 0 && len == 4)
			memcpy(data, &h->addr, 4);
		return;
	}
	if (off >= PCI_CONFIG_SPAN || len > PCI_CONFIG_SPAN - off ||
	    (f = pci_selected(h)) == NULL)
		return;
	reg = (h->addr & 0xfc) + (unsigned)(off - 4);
	for (unsigned i = 0; i < len && reg + i < PCI_CFG_SIZE; i++)
		data[i] = f->cfg[reg + i];
}

static void
pci_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pci_host *h = dev;
	struct pci_function *f;
	unsigned reg;

	if (off < 4) {
		/* Mechanism #1 latches only dword writes to 0xcf8. */
		if (off == 0 && len == 4)
			memcpy(&h->addr, data, 4);
		return;
	}
	if (off >= PCI_CONFIG_SPAN || len > PCI_CONFIG_SPAN - off ||
	    (f = pci_selected(h)) == NULL)
		return;
	reg = (h->addr & 0xfc) + (unsigned)(off - 4);
	for (unsigned i = 0; i < len && reg + i < PCI_CFG_SIZE; i++) {
		uint8_t m = f->wmask[reg + i];

		f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) |
		    (data[i] & m));
	}
}

static void *
pci_create(const struct vmm_dev_host *host)
{
	struct pci_host *h = calloc(1, sizeof(*h));

	(void)host;
	if (h == NULL)
		return NULL;
	pci_init_bridge(&h->bridge);
	h->slot[0] = &h->bridge;
	return h;
}

static void
pci_destroy(void *dev)
{
	struct pci_host *h = dev;

	for (unsigned i = 1; i < PCI_SLOTS; i++)
		free(h->slot[i]);
	free(h);
}

const struct vmm_dev_ops pci_host_ops = {
	.name = "pci-host",
	.create = pci_create,
	.destroy = pci_destroy,
	.read = pci_read,
	.write = pci_write,
};
