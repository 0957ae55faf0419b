/*
 * virtio_pci.c: the virtio-pci modern transport (virtio 1.2, 4.1); the
 * layout and the contract are in virtio_pci.h.
 *
 * Every register access is bounded by its structure: an offset or width
 * that matches no register reads 0 and writes nothing. Values the driver
 * writes are checked where they matter (a vector beyond the table reads
 * back as VIRTIO_MSI_NO_VECTOR, 4.1.5.1.2; a queue size that is not a
 * power of 2 up to VIRTQ_MAX_SIZE makes queue_enable fail and the device
 * need a reset); ring addresses are checked by virtq.c at each use.
 */
#include "byteorder.h"
#include "virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Vendor capability sizes (4.1.4): struct virtio_pci_cap, and the
 * notify and PCI configuration access variants. */
#define VPCI_CAP_LEN		16
#define VPCI_NOTIFY_CAP_LEN	20
#define VPCI_CFG_CAP_LEN	20
#define VPCI_CAP_BAR		4	/* offsets within virtio_pci_cap */
#define VPCI_CAP_OFFSET		8
#define VPCI_CAP_LENGTH		12
#define VPCI_CFG_DATA		16	/* virtio_pci_cfg_cap.pci_cfg_data */

/* MSI-X capability (PCI 3.0, 6.8.2). */
#define MSIX_CAP_LEN		12
#define MSIX_CTRL		2
#define MSIX_TABLE		4
#define MSIX_PBA		8
#define MSIX_CTRL_ENABLE	0x8000
#define MSIX_CTRL_MASKALL	0x4000
#define MSIX_ENTRY_SIZE		16
#define MSIX_ENTRY_MASKED	1

struct virtio_pci_msix {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct virtio_pci {
	struct virtio_dev *vd;
	struct pci_host *host;
	unsigned slot;
	struct pci_function fn;		/* under the bus's PCI lock */
	unsigned nvec;			/* MSI-X table entries */
	unsigned cap_msix, cap_cfg;	/* capability offsets */
	/* The rest under vd->lock. */
	struct virtio_pci_msix msix[VIRTIO_PCI_MAX_VECTORS];
	uint64_t pba;
	int msix_enabled, msix_maskall;
	uint64_t bar;			/* BAR 0 while it decodes, else 0 */
	uint64_t ioev[VIRTIO_MAX_QUEUES];	/* registered at, or 0 */
	uint64_t ioev_tried[VIRTIO_MAX_QUEUES];	/* last attempt */
};

/* The little-endian value of a 1, 2, 4 or 8 byte access. */
static uint64_t
getn(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* [a, a + alen) and [b, b + blen) overlap. */
static int
overlaps(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
	return a < b + blen && b < a + alen;
}

/* ---- MSI-X (PCI 3.0, 6.8) ------------------------------------------------ */

static int
virtio_pci_vec_masked(const struct virtio_pci *p, unsigned v)
{
	return !p->msix_enabled || p->msix_maskall ||
	    (p->msix[v].ctrl & MSIX_ENTRY_MASKED);
}

static void
virtio_pci_msix_raise(struct virtio_pci *p, unsigned v)
{
	if (virtio_pci_vec_masked(p, v)) {
		p->pba |= 1ull << v;	/* 6.8.3.4: pending until unmasked */
		return;
	}
	if (p->vd->host.msi_fire)
		p->vd->host.msi_fire(p->vd->host.arg, v);
}

/* Send the pending messages that are no longer masked. */
static void
virtio_pci_msix_flush(struct virtio_pci *p)
{
	for (unsigned v = 0; v < p->nvec; v++) {
		if (!(p->pba & (1ull << v)) || virtio_pci_vec_masked(p, v))
			continue;
		p->pba &= ~(1ull << v);
		if (p->vd->host.msi_fire)
			p->vd->host.msi_fire(p->vd->host.arg, v);
	}
}

static void
virtio_pci_msix_route(struct virtio_pci *p, unsigned v)
{
	const struct virtio_pci_msix *e = &p->msix[v];
	int rc;

	if (p->vd->host.msi_route == NULL || (e->ctrl & MSIX_ENTRY_MASKED))
		return;
	rc = p->vd->host.msi_route(p->vd->host.arg, v,
	    (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
	if (rc < 0)
		log_debug("%s: MSI-X vector %u: route: %s", p->vd->ops->name,
		    v, strerror(-rc));
}

/* vd->interrupt: the core wants vector raised (lock held). */
static void
virtio_pci_interrupt(struct virtio_dev *vd, uint16_t vector, int isr_bit)
{
	struct virtio_pci *p = vd->transport;

	(void)isr_bit;		/* the core set vd->isr */
	/* No INTx: without a vector the driver can only poll the ISR. */
	if (p == NULL || vector >= p->nvec)
		return;
	virtio_pci_msix_raise(p, vector);
}

static void
virtio_pci_table_read(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len)
{
	uint8_t raw[VIRTIO_PCI_MAX_VECTORS * MSIX_ENTRY_SIZE];
	uint64_t size = (uint64_t)p->nvec * MSIX_ENTRY_SIZE;

	memset(data, 0, len);
	if (off >= size || len > size - off)
		return;
	for (unsigned v = 0; v < p->nvec; v++) {
		uint8_t *e = raw + v * MSIX_ENTRY_SIZE;

		bo_put32le(e, p->msix[v].addr_lo);
		bo_put32le(e + 4, p->msix[v].addr_hi);
		bo_put32le(e + 8, p->msix[v].data);
		bo_put32le(e + 12, p->msix[v].ctrl);
	}
	memcpy(data, raw + off, len);
}

/* One aligned dword of the table. */
static void
virtio_pci_table_dword(struct virtio_pci *p, uint64_t off, uint32_t val)
{
	unsigned v = (unsigned)(off / MSIX_ENTRY_SIZE);
	struct virtio_pci_msix *e = &p->msix[v];
	int was_masked = e->ctrl & MSIX_ENTRY_MASKED;

	switch (off % MSIX_ENTRY_SIZE) {
	case 0:
		e->addr_lo = val & ~3u;		/* dword aligned */
		break;
	case 4:
		e->addr_hi = val;
		break;
	case 8:
		e->data = val;
		break;
	default:
		e->ctrl = val & MSIX_ENTRY_MASKED;	/* the rest reserved */
		break;
	}
	virtio_pci_msix_route(p, v);
	if (was_masked && !(e->ctrl & MSIX_ENTRY_MASKED))
		virtio_pci_msix_flush(p);
}

/* 6.8.2: software writes aligned dwords or qwords; others are ignored. */
static void
virtio_pci_table_write(struct virtio_pci *p, uint64_t off,
    const uint8_t *data, unsigned len)
{
	uint64_t size = (uint64_t)p->nvec * MSIX_ENTRY_SIZE;

	if ((len != 4 && len != 8) || off % len != 0 || off >= size ||
	    len > size - off)
		return;
	virtio_pci_table_dword(p, off, bo_get32le(data));
	if (len == 8)
		virtio_pci_table_dword(p, off + 4, bo_get32le(data + 4));
}

static void
virtio_pci_pba_read(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len)
{
	uint8_t raw[8];

	memset(data, 0, len);
	if (off >= sizeof(raw) || len > sizeof(raw) - off)
		return;
	bo_put32le(raw, (uint32_t)p->pba);
	bo_put32le(raw + 4, (uint32_t)(p->pba >> 32));
	memcpy(data, raw + off, len);
}

/* The guest wrote the MSI-X message control (enable, function mask). */
static void
virtio_pci_msix_control(struct virtio_pci *p)
{
	uint16_t ctrl = bo_get16le(p->fn.cfg + p->cap_msix + MSIX_CTRL);

	pthread_mutex_lock(&p->vd->lock);
	p->msix_enabled = !!(ctrl & MSIX_CTRL_ENABLE);
	p->msix_maskall = !!(ctrl & MSIX_CTRL_MASKALL);
	virtio_pci_msix_flush(p);
	pthread_mutex_unlock(&p->vd->lock);
}

/* ---- ioeventfds ------------------------------------------------------------ */

/* Make the registered ioeventfds match the enabled queues and BAR 0. */
static void
virtio_pci_sync_ioeventfds(struct virtio_pci *p)
{
	struct virtio_dev *vd = p->vd;
	uint64_t want;

	if (vd->host.ioeventfd == NULL)
		return;
	for (unsigned q = 0; q < vd->ops->nqueues; q++) {
		want = p->bar && vd->vq[q].ready ? p->bar +
		    VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q : 0;
		if (p->ioev[q] == want)
			continue;
		if (p->ioev[q])
			(void)vd->host.ioeventfd(vd->host.arg, p->ioev[q],
			    vd->kick_fd[q], 0);
		p->ioev[q] = 0;
		if (want == 0) {
			p->ioev_tried[q] = 0;
			continue;
		}
		/* A failed registration is not retried at the same place:
		 * the notify write then exits to us (virtio_dev_kick). */
		if (p->ioev_tried[q] == want)
			continue;
		p->ioev_tried[q] = want;
		if (vd->host.ioeventfd(vd->host.arg, want, vd->kick_fd[q],
		    1) == 0)
			p->ioev[q] = want;
	}
}

/* BAR 0 decodes if memory space is on and it lies in the MMIO window. */
static uint64_t
virtio_pci_bar_decoding(const struct virtio_pci *p)
{
	uint64_t a = pci_bar_addr(&p->fn, 0);

	if (!(p->fn.cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY) ||
	    a < PCI_MMIO_BASE || a - PCI_MMIO_BASE > PCI_MMIO_SIZE -
	    VIRTIO_PCI_BAR_SIZE)
		return 0;
	return a;
}

/* The command register or BAR 0 changed. */
static void
virtio_pci_remap(struct virtio_pci *p)
{
	uint64_t bar = virtio_pci_bar_decoding(p);

	pthread_mutex_lock(&p->vd->lock);
	if (bar != p->bar) {
		p->bar = bar;
		memset(p->ioev_tried, 0, sizeof(p->ioev_tried));
		virtio_pci_sync_ioeventfds(p);
	}
	pthread_mutex_unlock(&p->vd->lock);
}

/* ---- common configuration (4.1.4.3) ------------------------------------------ */

/* The selected queue, or NULL if queue_select names none. */
static struct virtq *
virtio_pci_selq(struct virtio_pci *p)
{
	struct virtio_dev *vd = p->vd;

	return vd->queue_select < vd->ops->nqueues ?
	    &vd->vq[vd->queue_select] : NULL;
}

static void
virtio_pci_common_read(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len)
{
	struct virtio_dev *vd = p->vd;
	struct virtq *q = virtio_pci_selq(p);
	uint8_t c[VIRTIO_PCI_COMMON_SIZE];

	memset(data, 0, len);
	if (off >= sizeof(c) || len > sizeof(c) - off)
		return;
	memset(c, 0, sizeof(c));
	bo_put32le(c + VIRTIO_PCI_COMMON_DFSELECT, vd->dfselect);
	if (vd->dfselect < 2)
		bo_put32le(c + VIRTIO_PCI_COMMON_DF,
		    (uint32_t)(vd->host_features >> (32 * vd->dfselect)));
	bo_put32le(c + VIRTIO_PCI_COMMON_GFSELECT, vd->gfselect);
	if (vd->gfselect < 2)
		bo_put32le(c + VIRTIO_PCI_COMMON_GF,
		    (uint32_t)(vd->guest_features >> (32 * vd->gfselect)));
	bo_put16le(c + VIRTIO_PCI_COMMON_MSIX, vd->config_vector);
	bo_put16le(c + VIRTIO_PCI_COMMON_NUMQ, (uint16_t)vd->ops->nqueues);
	c[VIRTIO_PCI_COMMON_STATUS] = vd->status;
	c[VIRTIO_PCI_COMMON_CFGGEN] = (uint8_t)vd->config_generation;
	bo_put16le(c + VIRTIO_PCI_COMMON_Q_SELECT, vd->queue_select);
	if (q) {
		bo_put16le(c + VIRTIO_PCI_COMMON_Q_SIZE, q->size);
		bo_put16le(c + VIRTIO_PCI_COMMON_Q_MSIX, q->msix_vector);
		bo_put16le(c + VIRTIO_PCI_COMMON_Q_ENABLE, (uint16_t)q->ready);
		bo_put16le(c + VIRTIO_PCI_COMMON_Q_NOFF, vd->queue_select);
		bo_put32le(c + VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)q->desc_gpa);
		bo_put32le(c + VIRTIO_PCI_COMMON_Q_DESCHI,
		    (uint32_t)(q->desc_gpa >> 32));
		bo_put32le(c + VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)q->avail_gpa);
		bo_put32le(c + VIRTIO_PCI_COMMON_Q_AVAILHI,
		    (uint32_t)(q->avail_gpa >> 32));
		bo_put32le(c + VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)q->used_gpa);
		bo_put32le(c + VIRTIO_PCI_COMMON_Q_USEDHI,
		    (uint32_t)(q->used_gpa >> 32));
	}
	memcpy(data, c + off, len);
}

/* A vector the table has, else NO_VECTOR (4.1.5.1.2). */
static uint16_t
virtio_pci_vector(const struct virtio_pci *p, uint64_t v)
{
	return v < p->nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* Write half (hi or lo) of a 64-bit queue address, or all of it. */
static void
virtio_pci_set_addr(uint64_t *a, uint64_t field_off, uint64_t off,
    uint64_t v, unsigned len)
{
	if (len == 8 && off == field_off)
		*a = v;
	else if (len == 4 && off == field_off)
		*a = (*a & 0xffffffff00000000ull) | (uint32_t)v;
	else if (len == 4 && off == field_off + 4)
		*a = (*a & 0xffffffffull) | v << 32;
}

static void
virtio_pci_queue_enable(struct virtio_pci *p, uint64_t v)
{
	struct virtio_dev *vd = p->vd;

	/* Only 1 means anything (0 needs VIRTIO_F_RING_RESET, not offered). */
	if (v != 1 || vd->vq[vd->queue_select].ready)
		return;
	if (virtio_dev_queue_enable(vd, vd->queue_select) < 0) {
		virtio_dev_broken(vd, "queue enabled with a bad size");
		return;
	}
	virtio_pci_sync_ioeventfds(p);
}

/* Queue registers: only while the queue is not enabled (4.1.4.3.2). */
static void
virtio_pci_queue_write(struct virtio_pci *p, uint64_t off, uint64_t v,
    unsigned len)
{
	struct virtq *q = virtio_pci_selq(p);

	if (q == NULL)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_MSIX && len == 2) {
		q->msix_vector = virtio_pci_vector(p, v);
		return;
	}
	if (off == VIRTIO_PCI_COMMON_Q_ENABLE && len == 2) {
		virtio_pci_queue_enable(p, v);
		return;
	}
	if (q->ready)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_SIZE && len == 2)
		q->size = (uint16_t)v;
	virtio_pci_set_addr(&q->desc_gpa, VIRTIO_PCI_COMMON_Q_DESCLO, off, v,
	    len);
	virtio_pci_set_addr(&q->avail_gpa, VIRTIO_PCI_COMMON_Q_AVAILLO, off, v,
	    len);
	virtio_pci_set_addr(&q->used_gpa, VIRTIO_PCI_COMMON_Q_USEDLO, off, v,
	    len);
}

/* driver_feature: half of guest_features, until FEATURES_OK (3.1.1). */
static void
virtio_pci_set_features(struct virtio_dev *vd, uint32_t v)
{
	unsigned shift;

	if (vd->gfselect >= 2 || (vd->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	shift = 32 * vd->gfselect;
	vd->guest_features = (vd->guest_features & ~(0xffffffffull << shift)) |
	    (uint64_t)v << shift;
}

static void
virtio_pci_common_write(struct virtio_pci *p, uint64_t off,
    const uint8_t *data, unsigned len)
{
	struct virtio_dev *vd = p->vd;
	uint64_t v = getn(data, len);

	if (off == VIRTIO_PCI_COMMON_DFSELECT && len == 4)
		vd->dfselect = (uint32_t)v;
	else if (off == VIRTIO_PCI_COMMON_GFSELECT && len == 4)
		vd->gfselect = (uint32_t)v;
	else if (off == VIRTIO_PCI_COMMON_GF && len == 4)
		virtio_pci_set_features(vd, (uint32_t)v);
	else if (off == VIRTIO_PCI_COMMON_MSIX && len == 2)
		vd->config_vector = virtio_pci_vector(p, v);
	else if (off == VIRTIO_PCI_COMMON_STATUS && len == 1) {
		virtio_dev_set_status(vd, (uint8_t)v);
		virtio_pci_sync_ioeventfds(p);	/* a reset drops them */
	} else if (off == VIRTIO_PCI_COMMON_Q_SELECT && len == 2)
		vd->queue_select = (uint16_t)v;
	else if (off >= VIRTIO_PCI_COMMON_Q_SIZE &&
	    off < VIRTIO_PCI_COMMON_SIZE)
		virtio_pci_queue_write(p, off, v, len);
}

/* ---- BAR 0 ------------------------------------------------------------------ */

static void
virtio_pci_isr_read(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len)
{
	memset(data, 0, len);
	if (off != 0)
		return;
	data[0] = p->vd->isr;
	p->vd->isr = 0;		/* 4.1.4.5.1: cleared on read */
}

static int
virtio_pci_in_config(const struct virtio_pci *p, uint64_t off, unsigned len)
{
	uint32_t n = p->vd->ops->config_size;

	return off < n && len <= n - off;
}

static void
virtio_pci_config_read(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len)
{
	memset(data, 0, len);
	if (virtio_pci_in_config(p, off, len) && p->vd->ops->config_read)
		p->vd->ops->config_read(p->vd->fe, (uint32_t)off, data, len);
}

static void
virtio_pci_config_write(struct virtio_pci *p, uint64_t off,
    const uint8_t *data, unsigned len)
{
	if (virtio_pci_in_config(p, off, len) && p->vd->ops->config_write)
		p->vd->ops->config_write(p->vd->fe, (uint32_t)off, data, len);
}

/* 4.1.4.4: queue q's notify address; the value written is not used. */
static void
virtio_pci_notify_write(struct virtio_pci *p, uint64_t off)
{
	uint64_t q = off / VIRTIO_PCI_NOTIFY_MULT;

	if (q < p->vd->ops->nqueues)
		virtio_dev_kick(p->vd, (unsigned)q);
}

/* BAR 0 access at off (off + len <= VIRTIO_PCI_BAR_SIZE); lock held. */
static void
virtio_pci_bar_locked(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len, int is_write)
{
	uint64_t page = off & ~0xfffull, o = off & 0xfff;

	if (len == 0 || len > 8 || o + len > 0x1000) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		if (page == VIRTIO_PCI_COMMON_OFF)
			virtio_pci_common_write(p, o, data, len);
		else if (page == VIRTIO_PCI_DEVICE_OFF)
			virtio_pci_config_write(p, o, data, len);
		else if (page == VIRTIO_PCI_NOTIFY_OFF)
			virtio_pci_notify_write(p, o);
		else if (page == VIRTIO_PCI_MSIX_TABLE_OFF)
			virtio_pci_table_write(p, o, data, len);
		return;
	}
	if (page == VIRTIO_PCI_COMMON_OFF)
		virtio_pci_common_read(p, o, data, len);
	else if (page == VIRTIO_PCI_ISR_OFF)
		virtio_pci_isr_read(p, o, data, len);
	else if (page == VIRTIO_PCI_DEVICE_OFF)
		virtio_pci_config_read(p, o, data, len);
	else if (page == VIRTIO_PCI_MSIX_TABLE_OFF)
		virtio_pci_table_read(p, o, data, len);
	else if (page == VIRTIO_PCI_MSIX_PBA_OFF)
		virtio_pci_pba_read(p, o, data, len);
	else
		memset(data, 0, len);
}

static void
virtio_pci_bar(struct virtio_pci *p, uint64_t off, uint8_t *data,
    unsigned len, int is_write)
{
	pthread_mutex_lock(&p->vd->lock);
	virtio_pci_bar_locked(p, off, data, len, is_write);
	pthread_mutex_unlock(&p->vd->lock);
}

static void
virtio_pci_bar_read(void *arg, unsigned bar, uint64_t off, uint8_t *data,
    unsigned len)
{
	memset(data, 0, len);
	if (bar == 0 && off < VIRTIO_PCI_BAR_SIZE &&
	    len <= VIRTIO_PCI_BAR_SIZE - off)
		virtio_pci_bar(arg, off, data, len, 0);
}

static void
virtio_pci_bar_write(void *arg, unsigned bar, uint64_t off,
    const uint8_t *data, unsigned len)
{
	uint8_t buf[8];

	if (bar != 0 || len > sizeof(buf) || off >= VIRTIO_PCI_BAR_SIZE ||
	    len > VIRTIO_PCI_BAR_SIZE - off)
		return;
	memcpy(buf, data, len);
	virtio_pci_bar(arg, off, buf, len, 1);
}

/* ---- configuration space ----------------------------------------------------- */

/*
 * 4.1.4.9: the VIRTIO_PCI_CAP_PCI_CFG window. An access to pci_cfg_data
 * becomes an access of cap.length (1, 2 or 4) bytes at cap.offset (so
 * aligned) in BAR cap.bar (only 0 exists); anything else does nothing.
 */
static int
virtio_pci_window(struct virtio_pci *p, uint64_t *off, unsigned *len)
{
	const uint8_t *c = p->fn.cfg + p->cap_cfg;
	uint32_t o = bo_get32le(c + VPCI_CAP_OFFSET), n = bo_get32le(c + VPCI_CAP_LENGTH);

	if (c[VPCI_CAP_BAR] != 0 || (n != 1 && n != 2 && n != 4) ||
	    o % n != 0 || o >= VIRTIO_PCI_BAR_SIZE)
		return 0;
	*off = o;
	*len = n;
	return 1;
}

static void
virtio_pci_cfg_read(void *arg, unsigned reg, unsigned len)
{
	struct virtio_pci *p = arg;
	uint8_t *d = p->fn.cfg + p->cap_cfg + VPCI_CFG_DATA;
	uint64_t off;
	unsigned n;

	if (!overlaps(reg, len, p->cap_cfg + VPCI_CFG_DATA, 4))
		return;
	if (!virtio_pci_window(p, &off, &n)) {
		memset(d, 0xff, 4);
		return;
	}
	virtio_pci_bar(p, off, d, n, 0);
}

static void
virtio_pci_cfg_write(void *arg, unsigned reg, unsigned len)
{
	struct virtio_pci *p = arg;
	uint64_t off;
	unsigned n;

	if (overlaps(reg, len, PCI_COMMAND, 2) ||
	    overlaps(reg, len, PCI_BAR0, 8))
		virtio_pci_remap(p);
	if (overlaps(reg, len, p->cap_msix + MSIX_CTRL, 2))
		virtio_pci_msix_control(p);
	if (overlaps(reg, len, p->cap_cfg + VPCI_CFG_DATA, 4) &&
	    virtio_pci_window(p, &off, &n))
		virtio_pci_bar(p, off, p->fn.cfg + p->cap_cfg + VPCI_CFG_DATA,
		    n, 1);
}

static const struct pci_function_ops virtio_pci_fn_ops = {
	.cfg_read = virtio_pci_cfg_read,
	.cfg_write = virtio_pci_cfg_write,
	.bar_read = virtio_pci_bar_read,
	.bar_write = virtio_pci_bar_write,
};

/* ---- set-up ------------------------------------------------------------------- */

/* A virtio_pci_cap (4.1.4) of cfg_type for [off, off + len) of BAR 0. */
static int
virtio_pci_add_vcap(struct pci_function *fn, uint8_t type, unsigned caplen,
    uint32_t off, uint32_t len)
{
	int at = pci_cap_add(fn, PCI_CAP_ID_VNDR, caplen);

	if (at < 0)
		return at;
	fn->cfg[at + 2] = (uint8_t)caplen;
	fn->cfg[at + 3] = type;
	fn->cfg[at + VPCI_CAP_BAR] = 0;
	bo_put32le(fn->cfg + at + VPCI_CAP_OFFSET, off);
	bo_put32le(fn->cfg + at + VPCI_CAP_LENGTH, len);
	return at;
}

static int
virtio_pci_add_msix(struct virtio_pci *p)
{
	struct pci_function *fn = &p->fn;
	int at = pci_cap_add(fn, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);

	if (at < 0)
		return at;
	bo_put16le(fn->cfg + at + MSIX_CTRL, (uint16_t)(p->nvec - 1));
	fn->wmask[at + MSIX_CTRL + 1] = 0xc0;	/* enable, function mask */
	bo_put32le(fn->cfg + at + MSIX_TABLE, VIRTIO_PCI_MSIX_TABLE_OFF);	/* BIR 0 */
	bo_put32le(fn->cfg + at + MSIX_PBA, VIRTIO_PCI_MSIX_PBA_OFF);
	p->cap_msix = (unsigned)at;
	for (unsigned v = 0; v < p->nvec; v++)
		p->msix[v].ctrl = MSIX_ENTRY_MASKED;	/* 6.8.2.9 */
	return 0;
}

static int
virtio_pci_add_caps(struct virtio_pci *p)
{
	const struct virtio_dev_ops *ops = p->vd->ops;
	struct pci_function *fn = &p->fn;
	int at;

	if (virtio_pci_add_msix(p) < 0 ||
	    virtio_pci_add_vcap(fn, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_CAP_LEN,
	    VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_SIZE) < 0 ||
	    virtio_pci_add_vcap(fn, VIRTIO_PCI_CAP_ISR_CFG, VPCI_CAP_LEN,
	    VIRTIO_PCI_ISR_OFF, 1) < 0)
		return -ENOSPC;
	if (ops->config_size > 0 && virtio_pci_add_vcap(fn,
	    VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_CAP_LEN, VIRTIO_PCI_DEVICE_OFF,
	    ops->config_size) < 0)
		return -ENOSPC;
	at = virtio_pci_add_vcap(fn, VIRTIO_PCI_CAP_NOTIFY_CFG,
	    VPCI_NOTIFY_CAP_LEN, VIRTIO_PCI_NOTIFY_OFF,
	    VIRTIO_PCI_NOTIFY_MULT * ops->nqueues);
	if (at < 0)
		return -ENOSPC;
	bo_put32le(fn->cfg + at + VPCI_CAP_LEN, VIRTIO_PCI_NOTIFY_MULT);
	/* 4.1.4.9: the device MUST present the PCI_CFG capability. */
	at = virtio_pci_add_vcap(fn, VIRTIO_PCI_CAP_PCI_CFG, VPCI_CFG_CAP_LEN,
	    0, 0);
	if (at < 0)
		return -ENOSPC;
	fn->wmask[at + VPCI_CAP_BAR] = 0xff;
	memset(fn->wmask + at + VPCI_CAP_OFFSET, 0xff, 12);	/* + data */
	p->cap_cfg = (unsigned)at;
	return 0;
}

/* The header (4.1.2): IDs, class, command, BAR 0, no INTx. */
static int
virtio_pci_init_header(struct virtio_pci *p, uint64_t bar_gpa)
{
	const struct virtio_dev_ops *ops = p->vd->ops;
	struct pci_function *fn = &p->fn;

	bo_put16le(fn->cfg + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR_ID);
	bo_put16le(fn->cfg + PCI_DEVICE_ID,
	    (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + ops->device_id));
	fn->cfg[PCI_REVISION] = VIRTIO_PCI_REVISION;
	fn->cfg[PCI_CLASS_PROG + 1] = (uint8_t)ops->pci_class;
	fn->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(ops->pci_class >> 8);
	bo_put16le(fn->cfg + PCI_SUBSYS_VENDOR, VIRTIO_PCI_VENDOR_ID);
	bo_put16le(fn->cfg + PCI_SUBSYS_ID, VIRTIO_PCI_SUBSYS_ID);
	bo_put16le(fn->cfg + PCI_COMMAND, PCI_COMMAND_MEMORY);
	bo_put16le(fn->wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
	    PCI_COMMAND_INTX_DISABLE);
	fn->wmask[PCI_INTERRUPT_LINE] = 0xff;	/* scratch for the OS */
	return pci_set_bar(fn, 0, bar_gpa, VIRTIO_PCI_BAR_SIZE, PCI_BAR_MEM64);
}

int
virtio_pci_create(struct virtio_dev *vd, struct pci_host *h, unsigned slot,
    uint64_t bar_gpa, struct virtio_pci **out)
{
	struct virtio_pci *p;
	int rc;

	if (vd == NULL || vd->ops == NULL || h == NULL ||
	    vd->ops->config_size > VIRTIO_PCI_NOTIFY_OFF -
	    VIRTIO_PCI_DEVICE_OFF)
		return -EINVAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->vd = vd;
	p->host = h;
	p->slot = slot;
	p->nvec = vd->ops->nqueues + 1;
	p->fn.ops = &virtio_pci_fn_ops;
	p->fn.arg = p;
	if ((rc = virtio_pci_init_header(p, bar_gpa)) < 0 ||
	    (rc = virtio_pci_add_caps(p)) < 0 ||
	    (rc = pci_add_device(h, slot, &p->fn)) < 0)
		goto fail;
	pthread_mutex_lock(&vd->lock);
	vd->transport = p;
	vd->interrupt = virtio_pci_interrupt;
	p->bar = virtio_pci_bar_decoding(p);
	pthread_mutex_unlock(&vd->lock);
	*out = p;
	return 0;
fail:
	free(p);
	return rc;
}

void
virtio_pci_destroy(struct virtio_pci *p)
{
	struct virtio_dev *vd;

	if (p == NULL)
		return;
	vd = p->vd;
	pthread_mutex_lock(&vd->lock);
	p->bar = 0;
	for (unsigned q = 0; q < vd->ops->nqueues; q++) {
		if (p->ioev[q] && vd->host.ioeventfd)
			(void)vd->host.ioeventfd(vd->host.arg, p->ioev[q],
			    vd->kick_fd[q], 0);
		p->ioev[q] = 0;
	}
	vd->interrupt = NULL;
	vd->transport = NULL;
	pthread_mutex_unlock(&vd->lock);
	pci_remove_device(p->host, p->slot);
	free(p);
}
