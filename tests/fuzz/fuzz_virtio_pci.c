/*
 * libFuzzer target: everything a guest driver can do to a virtio-pci
 * device. Each 8-byte record of the input is one action: a write of the
 * 0xcf8 latch, a configuration read or write through 0xcfc, a BAR 0 read
 * or write (common config, ISR, device config, notify, MSI-X table and
 * PBA), an access anywhere in the MMIO window, or a write to guest RAM
 * (the rings). A small echo front end serves the queues inline. The
 * model must answer all of it without touching memory outside its state
 * and guest RAM, and its ioeventfd registrations must balance.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pci.h"
#include "virtio.h"
#include "virtio_pci.h"

#define RAM_SIZE	0x10000u
#define SLOT		3
#define BAR_GPA		(PCI_MMIO_BASE + 0x8000)
#define NQ		2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct echo {
	struct virtio_dev *vd;		/* from start() */
	struct virtio_dev *owner;	/* always */
	uint8_t config[12];
	struct virtq_chain c;
};

static uint8_t *ram;
static uint64_t ioev[VIRTIO_MAX_QUEUES];

static uint64_t
echo_features(void *fe)
{
	(void)fe;
	return 0x7;
}

static void
echo_config_read(void *fe, uint32_t off, uint8_t *data, unsigned len)
{
	struct echo *e = fe;

	if (off > sizeof(e->config) || len > sizeof(e->config) - off)
		abort();
	memcpy(data, e->config + off, len);
}

static void
echo_config_write(void *fe, uint32_t off, const uint8_t *data, unsigned len)
{
	struct echo *e = fe;

	if (off > sizeof(e->config) || len > sizeof(e->config) - off)
		abort();
	memcpy(e->config + off, data, len);
	if (off == 0)
		virtio_notify_config(e->owner);
}

static int
echo_start(void *fe, struct virtio_dev *vd, uint64_t features)
{
	((struct echo *)fe)->vd = vd;
	return features & 1 ? -5 : 0;	/* sometimes the back end fails */
}

static void
echo_queue_notify(void *fe, unsigned q)
{
	struct echo *e = fe;
	struct virtq *vq = virtio_queue(e->vd, q);
	const struct gmem *m = virtio_mem(e->vd);
	uint8_t buf[256];
	int rc, n = 0;

	if (vq == NULL)
		return;
	while (n < 64 && (rc = virtq_pop(vq, m, &e->c)) > 0) {
		uint64_t len = virtq_read(&e->c, 0, buf, sizeof(buf));

		len = virtq_write(&e->c, 0, buf, len);
		(void)virtq_push(vq, m, e->c.head, (uint32_t)len);
		n++;
	}
	if (n)
		virtio_notify_used(e->vd, q);
	if (rc < 0)
		virtio_dev_broken(e->vd, vq->err);
}

static void
echo_reset(void *fe)
{
	((struct echo *)fe)->vd = NULL;
}

static const struct virtio_dev_ops echo_ops = {
	.name = "echo",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x0100,
	.nqueues = NQ,
	.config_size = 12,
	.features = echo_features,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.start = echo_start,
	.queue_notify = echo_queue_notify,
	.reset = echo_reset,
};

static int
fake_route(void *arg, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)arg;
	(void)addr;
	(void)data;
	if (vec > NQ)
		abort();
	return 0;
}

static void
fake_fire(void *arg, unsigned vec)
{
	(void)arg;
	if (vec > NQ)
		abort();
}

static int
fake_ioeventfd(void *arg, uint64_t gpa, int efd, int on)
{
	uint64_t q = (gpa - PCI_MMIO_BASE) % VIRTIO_PCI_BAR_SIZE;

	(void)arg;
	(void)efd;
	q = (q - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;
	if (q >= NQ || gpa < PCI_MMIO_BASE ||
	    gpa >= PCI_MMIO_BASE + PCI_MMIO_SIZE)
		abort();
	if (on) {
		if (ioev[q])
			abort();
		ioev[q] = gpa;
	} else {
		if (ioev[q] != gpa)
			abort();
		ioev[q] = 0;
	}
	return 0;
}

/* One 8-byte action. */
static void
act(void *pci, const uint8_t *r)
{
	unsigned len = 1u << (r[3] % 4);
	uint8_t v[8];
	uint32_t a;
	uint64_t off;

	memcpy(v, r + 4, 4);
	memcpy(v + 4, r + 4, 4);
	switch (r[0] % 8) {
	case 0:		/* latch: our slot's register, or anything */
		a = r[1] & 0x80 ? (uint32_t)(r[4] | r[5] << 8 | r[6] << 16 |
		    r[7] << 24) : 0x80000000u | SLOT << 11 | (r[2] & 0xfc);
		pci_host_ops.write(pci, 0, (const uint8_t *)&a, 4);
		break;
	case 1:
		pci_host_ops.read(pci, 4 + r[1] % 4, v, len);
		break;
	case 2:
		pci_host_ops.write(pci, 4 + r[1] % 4, v, len);
		break;
	case 3:		/* BAR 0: page r[1], offset r[2] */
	case 4:
		off = (uint64_t)(r[1] % 8) * 0x1000 + r[2];
		(void)pci_mmio_access(pci, BAR_GPA + off, v, len, r[0] % 8 == 4);
		break;
	case 5:		/* anywhere in the first MiB of the window */
		off = (uint64_t)(r[1] | r[2] << 8 | (r[3] & 0xf0) << 12);
		if (r[0] & 0x80)
			pci_mmio_ops.write(pci, off, v, len);
		else
			pci_mmio_ops.read(pci, off, v, len);
		break;
	default:	/* the rings: 4 bytes into guest RAM */
		off = (uint64_t)(r[1] | r[2] << 8) % (RAM_SIZE - 4);
		memcpy(ram + off, r + 4, 4);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct echo fe;
	struct vmm_dev_host dh = { 0 };
	struct virtio_host host;
	struct virtio_dev vd;
	struct virtio_pci *vp;
	struct gmem m;
	void *pci;

	if (ram == NULL) {
		log_set_level(LOG_LEVEL_ERROR);
		if ((ram = aligned_alloc(4096, RAM_SIZE)) == NULL)
			return 0;
	}
	memset(ram, 0, RAM_SIZE);
	memset(&fe, 0, sizeof(fe));
	memset(ioev, 0, sizeof(ioev));
	gmem_layout(&m, ram, RAM_SIZE);
	host = (struct virtio_host){ .mem = &m, .msi_route = fake_route,
	    .msi_fire = fake_fire, .ioeventfd = fake_ioeventfd };
	if (virtio_dev_init(&vd, &echo_ops, &fe, &host) < 0)
		return 0;
	fe.owner = &vd;
	pci = pci_host_ops.create(&dh);
	if (pci == NULL || virtio_pci_create(&vd, pci, SLOT, BAR_GPA, &vp) < 0)
		abort();
	for (; size >= 8; data += 8, size -= 8)
		act(pci, data);
	virtio_pci_destroy(vp);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (ioev[q])
			abort();
	pci_host_ops.destroy(pci);
	virtio_dev_destroy(&vd);
	return 0;
}
