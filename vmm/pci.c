/*
 * pci.c: the PCI host bridge and configuration mechanism #1 (see pci.h),
 * and the routing of the MMIO window to memory BARs. Every guest-supplied
 * value (the address latch, the access width and offset, a BAR address)
 * is masked or bounded before use: bus and function numbers other than 0
 * read as absent, accesses never cross the 4-byte data window, a BAR
 * claims only accesses wholly inside it.
 */
#include "pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCI_ADDR_ENABLE		0x80000000u

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

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

int
pci_add_device(struct pci_host *h, unsigned slot, struct pci_function *fn)
{
	if (slot == 0 || slot >= PCI_SLOTS || fn == NULL)
		return -EINVAL;
	if (h->slot[slot])
		return -EBUSY;
	h->slot[slot] = fn;
	return 0;
}

void
pci_remove_device(struct pci_host *h, unsigned slot)
{
	if (slot != 0 && slot < PCI_SLOTS)
		h->slot[slot] = NULL;
}

const struct pci_function *
pci_get_function(const struct pci_host *h, unsigned slot)
{
	return slot < PCI_SLOTS ? h->slot[slot] : NULL;
}

int
pci_set_bar(struct pci_function *fn, unsigned bar, uint64_t gpa,
    uint64_t size, unsigned flags)
{
	int is64 = !!(flags & PCI_BAR_MEM64);
	uint64_t mask = ~(size - 1);

	if (bar >= PCI_NUM_BARS || (is64 && bar + 1 >= PCI_NUM_BARS) ||
	    size < 16 || (size & (size - 1)) != 0 || (gpa & (size - 1)) ||
	    (flags & ~(PCI_BAR_MEM64 | PCI_BAR_PREFETCH)) ||
	    (!is64 && (gpa >> 32 || size > 0x80000000ull)))
		return -EINVAL;
	/* 6.2.5.1: bits 3:0 are the type, the size's bits read back 0. */
	put32(fn->cfg + PCI_BAR0 + 4 * bar, (uint32_t)gpa | (flags & 0xf));
	put32(fn->wmask + PCI_BAR0 + 4 * bar, (uint32_t)mask & ~0xfu);
	if (is64) {
		put32(fn->cfg + PCI_BAR0 + 4 * (bar + 1), (uint32_t)(gpa >> 32));
		put32(fn->wmask + PCI_BAR0 + 4 * (bar + 1),
		    (uint32_t)(mask >> 32));
		fn->bar_size[bar + 1] = 0;
	}
	fn->bar_size[bar] = size;
	return 0;
}

uint64_t
pci_bar_addr(const struct pci_function *fn, unsigned bar)
{
	uint32_t lo;
	uint64_t a;

	if (bar >= PCI_NUM_BARS)
		return 0;
	lo = get32(fn->cfg + PCI_BAR0 + 4 * bar);
	a = lo & ~0xfu;
	if ((lo & PCI_BAR_MEM64) && bar + 1 < PCI_NUM_BARS)
		a |= (uint64_t)get32(fn->cfg + PCI_BAR0 + 4 * (bar + 1)) << 32;
	return a;
}

int
pci_cap_add(struct pci_function *fn, uint8_t id, unsigned len)
{
	unsigned off = fn->cap_end ? fn->cap_end : PCI_CAP_START;
	uint16_t status;

	if (len < 2 || off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
		return -ENOSPC;
	fn->cfg[off] = id;
	fn->cfg[off + 1] = 0;
	if (fn->cap_last == 0)
		fn->cfg[PCI_CAP_PTR] = (uint8_t)off;
	else
		fn->cfg[fn->cap_last + 1] = (uint8_t)off;
	fn->cap_last = off;
	fn->cap_end = (off + len + 3) & ~3u;
	status = (uint16_t)(fn->cfg[PCI_STATUS] | fn->cfg[PCI_STATUS + 1] << 8);
	put16(fn->cfg + PCI_STATUS, status | PCI_STATUS_CAP_LIST);
	return (int)off;
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
	if (reg >= PCI_CFG_SIZE)
		return;
	if (len > PCI_CFG_SIZE - reg)
		len = PCI_CFG_SIZE - reg;
	if (f->ops && f->ops->cfg_read)
		f->ops->cfg_read(f->arg, reg, len);
	memcpy(data, f->cfg + reg, len);
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
	if (reg >= PCI_CFG_SIZE)
		return;
	if (len > PCI_CFG_SIZE - reg)
		len = PCI_CFG_SIZE - reg;
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = f->wmask[reg + i];

		f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) |
		    (data[i] & m));
	}
	if (f->ops && f->ops->cfg_write)
		f->ops->cfg_write(f->arg, reg, len);
}

/* Memory BAR i of f holds [gpa, gpa + 1): *off within it, 1; else 0. */
static int
pci_bar_hit(const struct pci_function *f, unsigned i, uint64_t gpa,
    uint64_t *off)
{
	uint64_t base, size = f->bar_size[i];

	if (size == 0)
		return 0;
	base = pci_bar_addr(f, i) & ~(size - 1);
	if (gpa < base || gpa - base >= size)
		return 0;
	*off = gpa - base;
	return 1;
}

int
pci_mmio_access(struct pci_host *h, uint64_t gpa, uint8_t *data,
    unsigned len, int is_write)
{
	struct pci_function *f;
	uint64_t off;

	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		f = h->slot[s];
		if (f == NULL || f->ops == NULL ||
		    !(f->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
			continue;
		for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
			if (!pci_bar_hit(f, i, gpa, &off))
				continue;
			if (len > f->bar_size[i] - off) {
				if (!is_write)
					memset(data, 0xff, len);
			} else if (is_write) {
				if (f->ops->bar_write)
					f->ops->bar_write(f->arg, i, off, data,
					    len);
			} else if (f->ops->bar_read) {
				f->ops->bar_read(f->arg, i, off, data, len);
			} else {
				memset(data, 0xff, len);
			}
			return 1;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return 0;
}

static void
pci_mmio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)pci_mmio_access(dev, PCI_MMIO_BASE + off, data, len, 0);
}

static void
pci_mmio_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	uint8_t buf[8];

	if (len > sizeof(buf))
		return;
	memcpy(buf, data, len);
	(void)pci_mmio_access(dev, PCI_MMIO_BASE + off, buf, len, 1);
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

/* The functions are their owners'. */
static void
pci_destroy(void *dev)
{
	free(dev);
}

const struct vmm_dev_ops pci_host_ops = {
	.name = "pci-host",
	.create = pci_create,
	.destroy = pci_destroy,
	.read = pci_read,
	.write = pci_write,
};

const struct vmm_dev_ops pci_mmio_ops = {
	.name = "pci-mmio",
	.read = pci_mmio_read,
	.write = pci_mmio_write,
};
