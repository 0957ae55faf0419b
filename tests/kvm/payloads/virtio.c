/*
 * virtio.c: the payload's virtio-pci driver, just enough to prove the
 * VMM's whole device path under real KVM: configuration mechanism #1, the
 * capability list, BAR 0 in the MMIO window, feature negotiation, a split
 * virtqueue, the notify write (an ioeventfd in KVM), the device's I/O
 * thread, the used ring, and an MSI-X interrupt (an irqfd with an MSI
 * route) arriving at the local APIC.
 *
 * "virtio" on the command line: find the first virtio-blk function,
 * write a marker to sector 1, read sector 0 back and print its first
 * bytes, then GET_ID; each request waits for its MSI-X interrupt.
 *
 * Interrupts stay disabled (IF=0): KVM's instruction emulator, which
 * runs all guest kernel code on PVM hosts, cannot emulate a protected-mode
 * IRET. So each request gets its own vector (the MSI-X table entry is
 * rewritten, which also makes the VMM rebuild the MSI route), and the
 * payload polls the local APIC's IRR for that vector.
 */
#include <stdint.h>

#include "io.h"

void virtio_test(void);
void puts_(const char *s);
void putc_(char c);
void puthex(uint64_t v);

#define LAPIC_BASE	0xfee00000u
#define IRQ_VECTOR	0x40
#define RING_BASE	0x40000u	/* desc, avail, used: 4 KiB each */
#define REQ_BASE	0x44000u	/* request header, data, status */
#define QSIZE		8

static uint32_t irq_count;

static uint32_t
cfg32(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	return inl(0xcfc);
}

static void
cfg_w32(unsigned slot, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

static uint8_t
cfg8(unsigned slot, unsigned off)
{
	return (uint8_t)(cfg32(slot, off) >> ((off & 3) * 8));
}

#define MMIO8(a)	(*(volatile uint8_t *)(uintptr_t)(a))
#define MMIO16(a)	(*(volatile uint16_t *)(uintptr_t)(a))
#define MMIO32(a)	(*(volatile uint32_t *)(uintptr_t)(a))

struct vdev {
	unsigned slot;
	uint32_t bar;
	uint32_t common, notify, device;	/* absolute addresses */
	uint32_t notify_mult;
	unsigned msix_cap;
	uint32_t msix_table;
	uint16_t avail_idx, used_seen;
};

/* Walk the capability list for the virtio structures and MSI-X. */
static int
find_caps(struct vdev *d)
{
	unsigned p = cfg8(d->slot, 0x34), guard = 0;

	while (p >= 0x40 && guard++ < 48) {
		uint8_t id = cfg8(d->slot, p), type = cfg8(d->slot, p + 3);
		uint32_t off = cfg32(d->slot, p + 8);

		if (id == 0x11) {
			d->msix_cap = p;
			d->msix_table = d->bar + (cfg32(d->slot, p + 4) & ~7u);
		} else if (id == 0x09 && type == 1)
			d->common = d->bar + off;
		else if (id == 0x09 && type == 2) {
			d->notify = d->bar + off;
			d->notify_mult = cfg32(d->slot, p + 16);
		} else if (id == 0x09 && type == 4)
			d->device = d->bar + off;
		p = cfg8(d->slot, p + 1);
	}
	return d->common && d->notify && d->msix_cap ? 0 : -1;
}

static int
find_blk(struct vdev *d)
{
	for (unsigned s = 1; s < 32; s++) {
		if (cfg32(s, 0) != 0x10421af4u)
			continue;
		d->slot = s;
		d->bar = cfg32(s, 0x10) & ~0xfu;
		/* Memory decoding and bus mastering on. */
		cfg_w32(s, 0x04, cfg32(s, 0x04) | 0x6);
		return find_caps(d);
	}
	return -1;
}

/* Is vector v pending in the local APIC (IRR, 32 vectors a register)? */
static int
irr_pending(unsigned v)
{
	return (MMIO32(LAPIC_BASE + 0x200 + (v / 32) * 0x10) >> (v % 32)) & 1;
}

/* MSI-X table entry 0: to APIC 0 (fixed, edge), vector v, unmasked. */
static void
msix_vector(struct vdev *d, unsigned v)
{
	MMIO32(d->msix_table + 0) = LAPIC_BASE;
	MMIO32(d->msix_table + 4) = 0;
	MMIO32(d->msix_table + 8) = v;
	MMIO32(d->msix_table + 12) = 0;
}

/* Status, features (VERSION_1 only), queue 0, MSI-X vector 0. */
static int
setup_dev(struct vdev *d)
{
	uint32_t c = d->common;

	MMIO8(c + 0x14) = 0;			/* reset */
	MMIO8(c + 0x14) = 1 | 2;		/* ACKNOWLEDGE | DRIVER */
	MMIO32(c + 0x00) = 1;			/* device_feature_select */
	if (!(MMIO32(c + 0x04) & 1))		/* VERSION_1 */
		return -1;
	MMIO32(c + 0x08) = 0;
	MMIO32(c + 0x0c) = 0;
	MMIO32(c + 0x08) = 1;
	MMIO32(c + 0x0c) = 1;
	MMIO8(c + 0x14) = 1 | 2 | 8;		/* FEATURES_OK */
	if (!(MMIO8(c + 0x14) & 8))
		return -1;
	MMIO32(LAPIC_BASE + 0xf0) = 0x1ff;	/* SVR: LAPIC enabled */
	cfg_w32(d->slot, d->msix_cap, cfg32(d->slot, d->msix_cap) | 0x80000000u);
	MMIO16(c + 0x16) = 0;			/* queue_select */
	MMIO16(c + 0x18) = QSIZE;
	MMIO16(c + 0x1a) = 0;			/* queue_msix_vector */
	if (MMIO16(c + 0x1a) != 0)
		return -1;
	MMIO32(c + 0x20) = RING_BASE;
	MMIO32(c + 0x24) = 0;
	MMIO32(c + 0x28) = RING_BASE + 0x1000;
	MMIO32(c + 0x2c) = 0;
	MMIO32(c + 0x30) = RING_BASE + 0x2000;
	MMIO32(c + 0x34) = 0;
	MMIO16(c + 0x1c) = 1;			/* queue_enable */
	MMIO8(c + 0x14) = 1 | 2 | 8 | 4;	/* DRIVER_OK */
	return 0;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* One request: header, data (len bytes, device-writable if in), status.
 * Waits for the used entry and the interrupt. Returns the status byte. */
static int
request(struct vdev *d, uint32_t type, uint32_t sector, uint32_t len, int in)
{
	volatile struct desc *desc = (volatile struct desc *)RING_BASE;
	volatile uint16_t *avail = (volatile uint16_t *)(RING_BASE + 0x1000);
	volatile uint16_t *used = (volatile uint16_t *)(RING_BASE + 0x2000);
	volatile uint32_t *hdr = (volatile uint32_t *)REQ_BASE;
	volatile uint8_t *status = (volatile uint8_t *)(REQ_BASE + 0x1000);
	unsigned spin, vec = IRQ_VECTOR + d->avail_idx;
	int irq = 0;

	hdr[0] = type;
	hdr[1] = 0;
	hdr[2] = sector;
	hdr[3] = 0;
	*status = 0xff;
	msix_vector(d, vec);
	desc[0] = (struct desc){ REQ_BASE, 16, 1, 1 };
	desc[1] = (struct desc){ REQ_BASE + 0x200, len, (uint16_t)(1 |
	    (in ? 2 : 0)), 2 };
	desc[2] = (struct desc){ REQ_BASE + 0x1000, 1, 2, 0 };
	avail[2 + (d->avail_idx % QSIZE)] = 0;
	__asm__ volatile("lock addl $0, (%%esp)" ::: "memory");
	avail[1] = ++d->avail_idx;
	__asm__ volatile("lock addl $0, (%%esp)" ::: "memory");
	MMIO16(d->notify) = 0;		/* queue 0, notify_off 0 */
	for (spin = 0; spin < 5000000; spin++) {
		irq = irq || irr_pending(vec);
		if (used[1] != d->used_seen && irq)
			break;
		__asm__ volatile("pause");
	}
	if (used[1] == d->used_seen) {
		puts_("virtio request timed out\n");
		return -1;
	}
	d->used_seen = used[1];
	if (irq)
		irq_count++;
	else
		puts_("virtio no interrupt\n");
	return *status;
}

static void
print_bytes(const volatile char *p, unsigned n)
{
	for (unsigned i = 0; i < n && p[i] >= 0x20 && p[i] < 0x7f; i++)
		putc_(p[i]);
	putc_('\n');
}

void
virtio_test(void)
{
	static const char marker[] = "written-by-the-guest";
	volatile char *data = (volatile char *)(REQ_BASE + 0x200);
	struct vdev d = { 0 };
	int st;

	if (find_blk(&d) < 0 || setup_dev(&d) < 0) {
		puts_("virtio-blk not found or refused set-up\n");
		return;
	}
	puts_("virtio-blk at slot ");
	puthex(d.slot);
	puts_(" bar ");
	puthex(d.bar);
	putc_('\n');
	for (unsigned i = 0; i < 512; i++)
		data[i] = i < sizeof(marker) ? marker[i] : 0;
	st = request(&d, 1, 1, 512, 0);		/* OUT, sector 1 */
	puts_("virtio write status ");
	puthex((uint64_t)st);
	putc_('\n');
	st = request(&d, 0, 0, 512, 1);		/* IN, sector 0 */
	puts_("virtio read status ");
	puthex((uint64_t)st);
	puts_(" data ");
	print_bytes(data, 40);
	st = request(&d, 8, 0, 20, 1);		/* GET_ID */
	puts_("virtio id status ");
	puthex((uint64_t)st);
	puts_(" id ");
	print_bytes(data, 20);
	puts_("virtio interrupts ");
	puthex(irq_count);
	putc_('\n');
	__asm__ volatile("cli");
}
