/*
 * Unit tests: the virtio-pci modern transport (vmm/virtio_pci.c) on the
 * PCI host bridge (vmm/pci.c), driven by a simulated guest driver with no
 * KVM: it finds the device through 0xcf8/0xcfc, walks the capability
 * list, sizes and moves BAR 0, negotiates features, sets up a queue in a
 * fake guest RAM buffer, programs the MSI-X table and kicks; a fake VMM
 * records MSI routes, fired vectors and ioeventfds. A tiny echo front end
 * stands in for blk/net/rng.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pci.h"
#include "virtio.h"
#include "virtio_pci.h"

#define RAM_SIZE	0x10000
#define DESC_GPA	0x1000
#define AVAIL_GPA	0x2000
#define USED_GPA	0x3000
#define DATA_GPA	0x4000
#define QSIZE		8
#define SLOT		3
#define BAR_GPA		(PCI_MMIO_BASE + 0x40000)
#define NQ		2
#define MSI_ADDR	0xfee00000u

/* ---- the echo front end: readable bytes copied into the writable ones --- */

struct echo {
	struct virtio_dev *vd;
	uint8_t config[8];
	int resets;
	struct virtq_chain c;
};

static uint64_t
echo_features(void *fe)
{
	(void)fe;
	return 1ull << 3;
}

static void
echo_config_read(void *fe, uint32_t off, uint8_t *data, unsigned len)
{
	memcpy(data, ((struct echo *)fe)->config + off, len);
}

static void
echo_config_write(void *fe, uint32_t off, const uint8_t *data, unsigned len)
{
	memcpy(((struct echo *)fe)->config + off, data, len);
}

static int
echo_start(void *fe, struct virtio_dev *vd, uint64_t features)
{
	(void)features;
	((struct echo *)fe)->vd = vd;
	return 0;
}

static void
echo_queue_notify(void *fe, unsigned q)
{
	struct echo *e = fe;
	struct virtq *vq = virtio_queue(e->vd, q);
	const struct gmem *m = virtio_mem(e->vd);
	uint8_t buf[64];
	int rc, n = 0;

	if (vq == NULL)
		return;
	while ((rc = virtq_pop(vq, m, &e->c)) > 0) {
		uint64_t len = virtq_read(&e->c, 0, buf, sizeof(buf));

		len = virtq_write(&e->c, 0, buf, len);
		virtq_push(vq, m, e->c.head, (uint32_t)len);
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
	struct echo *e = fe;

	e->resets++;
	e->vd = NULL;
}

static const struct virtio_dev_ops echo_ops = {
	.name = "echo",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = 0xff00,
	.nqueues = NQ,
	.config_size = sizeof(((struct echo *)0)->config),
	.features = echo_features,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.start = echo_start,
	.queue_notify = echo_queue_notify,
	.reset = echo_reset,
};

/* ---- the fake VMM --------------------------------------------------------- */

struct fake_vmm {
	int routes[VIRTIO_PCI_MAX_VECTORS];
	uint64_t route_addr[VIRTIO_PCI_MAX_VECTORS];
	uint32_t route_data[VIRTIO_PCI_MAX_VECTORS];
	int fired[VIRTIO_PCI_MAX_VECTORS];
	uint64_t ioev_gpa[VIRTIO_MAX_QUEUES];	/* registered, or 0 */
	int ioev_fd[VIRTIO_MAX_QUEUES];
	int ioev_calls;
	int ioev_fail;
};

static int
fake_route(void *arg, unsigned vec, uint64_t addr, uint32_t data)
{
	struct fake_vmm *v = arg;

	assert_true(vec < VIRTIO_PCI_MAX_VECTORS);
	v->routes[vec]++;
	v->route_addr[vec] = addr;
	v->route_data[vec] = data;
	return 0;
}

static void
fake_fire(void *arg, unsigned vec)
{
	struct fake_vmm *v = arg;

	assert_true(vec < VIRTIO_PCI_MAX_VECTORS);
	v->fired[vec]++;
}

/* Notify address gpa of queue q is (BAR + 0x3000 + 4q). */
static int
fake_ioeventfd(void *arg, uint64_t gpa, int efd, int on)
{
	struct fake_vmm *v = arg;
	unsigned q = (unsigned)((gpa & 0xfff) / 4);

	v->ioev_calls++;
	assert_true(q < VIRTIO_MAX_QUEUES);
	if (on) {
		if (v->ioev_fail)
			return -EEXIST;
		assert_int_equal(v->ioev_gpa[q], 0);
		v->ioev_gpa[q] = gpa;
		v->ioev_fd[q] = efd;
	} else {
		assert_int_equal(v->ioev_gpa[q], gpa);
		assert_int_equal(v->ioev_fd[q], efd);
		v->ioev_gpa[q] = 0;
	}
	return 0;
}

struct fix {
	uint8_t *ram;
	struct gmem m;
	struct echo fe;
	struct fake_vmm vmm;
	struct virtio_dev vd;
	void *pci;
	struct virtio_pci *vp;
	uint64_t bar;
	uint16_t avail_idx;
	unsigned cap[8];	/* by cfg_type; [0]: MSI-X */
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct vmm_dev_host dh = { 0 };
	struct virtio_host host;

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	gmem_layout(&f->m, f->ram, RAM_SIZE);
	host = (struct virtio_host){ .arg = &f->vmm, .mem = &f->m,
	    .msi_route = fake_route, .msi_fire = fake_fire,
	    .ioeventfd = fake_ioeventfd };
	assert_int_equal(virtio_dev_init(&f->vd, &echo_ops, &f->fe, &host), 0);
	f->pci = pci_host_ops.create(&dh);
	assert_non_null(f->pci);
	assert_int_equal(virtio_pci_create(&f->vd, f->pci, SLOT, BAR_GPA,
	    &f->vp), 0);
	f->bar = BAR_GPA;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	virtio_pci_destroy(f->vp);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		assert_int_equal(f->vmm.ioev_gpa[q], 0);
	assert_null(pci_get_function(f->pci, SLOT));
	pci_host_ops.destroy(f->pci);
	virtio_dev_destroy(&f->vd);
	free(f->ram);
	free(f);
	return 0;
}

/* ---- the guest's accessors ---------------------------------------------------- */

static uint32_t
cfg_addr(unsigned reg)
{
	return 0x80000000u | SLOT << 11 | (reg & 0xfc);
}

static uint32_t
cfg_read(struct fix *f, unsigned reg, unsigned len)
{
	uint32_t a = cfg_addr(reg), v = 0;

	pci_host_ops.write(f->pci, 0, (const uint8_t *)&a, 4);
	pci_host_ops.read(f->pci, 4 + (reg & 3), (uint8_t *)&v, len);
	return v;
}

static void
cfg_write(struct fix *f, unsigned reg, uint32_t v, unsigned len)
{
	uint32_t a = cfg_addr(reg);

	pci_host_ops.write(f->pci, 0, (const uint8_t *)&a, 4);
	pci_host_ops.write(f->pci, 4 + (reg & 3), (const uint8_t *)&v, len);
}

static uint64_t
mmio_read(struct fix *f, uint64_t off, unsigned len)
{
	uint64_t v = 0;

	assert_int_equal(pci_mmio_access(f->pci, f->bar + off, (uint8_t *)&v,
	    len, 0), 1);
	return v;
}

static void
mmio_write(struct fix *f, uint64_t off, uint64_t v, unsigned len)
{
	assert_int_equal(pci_mmio_access(f->pci, f->bar + off, (uint8_t *)&v,
	    len, 1), 1);
}

#define COMMON(o)	(VIRTIO_PCI_COMMON_OFF + (o))

/* Walk the capability list as Linux's virtio_pci_find_capability does. */
static void
find_caps(struct fix *f)
{
	unsigned pos = cfg_read(f, PCI_CAP_PTR, 1), n = 0;

	memset(f->cap, 0, sizeof(f->cap));
	while (pos) {
		unsigned id = cfg_read(f, pos, 1);

		assert_true(pos >= PCI_CAP_START && pos < PCI_CFG_SIZE &&
		    pos % 4 == 0);
		assert_true(++n < 16);		/* no loop */
		if (id == PCI_CAP_ID_MSIX) {
			f->cap[0] = pos;
		} else {
			unsigned type = cfg_read(f, pos + 3, 1);

			assert_int_equal(id, PCI_CAP_ID_VNDR);
			assert_true(type >= 1 && type <= 5);
			assert_int_equal(f->cap[type], 0);
			f->cap[type] = pos;
		}
		pos = cfg_read(f, pos + 1, 1);
	}
}

/* 3.1.1 steps 1-6, and the queue set-up of 4.1.5.1.3. */
static void
driver_features(struct fix *f, uint64_t features)
{
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_STATUS),
	    VIRTIO_STATUS_ACKNOWLEDGE, 1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_STATUS),
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GFSELECT), 0, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GF), (uint32_t)features, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GFSELECT), 1, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GF), features >> 32, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_STATUS),
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK, 1);
}

static void
queue_setup(struct fix *f, unsigned q, uint16_t vector)
{
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), q, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), 2),
	    VIRTQ_MAX_SIZE);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), QSIZE, 2);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_MSIX), vector, 2);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCLO), DESC_GPA, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCHI), 0, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_AVAILLO), AVAIL_GPA, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_AVAILHI), 0, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_USEDLO), USED_GPA, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_USEDHI), 0, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
}

static void
msix_program(struct fix *f, unsigned v, int masked)
{
	uint64_t e = VIRTIO_PCI_MSIX_TABLE_OFF + 16 * v;

	mmio_write(f, e, MSI_ADDR, 4);
	mmio_write(f, e + 4, 0, 4);
	mmio_write(f, e + 8, 0x40 + v, 4);
	mmio_write(f, e + 12, masked ? 1 : 0, 4);
}

static void
msix_control(struct fix *f, uint16_t ctrl)
{
	cfg_write(f, f->cap[0] + 2, ctrl, 2);
}

static void
driver_ok(struct fix *f)
{
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_STATUS),
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
}

/* The whole bring-up: features, queue 0 on vector 1, config on 0. */
static void
bring_up(struct fix *f)
{
	find_caps(f);
	driver_features(f, 1ull << VIRTIO_F_VERSION_1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 0, 2);
	queue_setup(f, 0, 1);
	for (unsigned v = 0; v <= NQ; v++)
		msix_program(f, v, 0);
	msix_control(f, 0x8000);
	driver_ok(f);
}

static void
desc(struct fix *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *d = f->ram + DESC_GPA + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void
post_ping(struct fix *f)
{
	memcpy(f->ram + DATA_GPA, "ping", 4);
	memset(f->ram + DATA_GPA + 0x100, 0, 8);
	desc(f, 0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
	memset(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), 0, 2);
	f->avail_idx++;
	memcpy(f->ram + AVAIL_GPA + 2, &f->avail_idx, 2);
}

static uint16_t
used_idx(struct fix *f)
{
	uint16_t v;

	memcpy(&v, f->ram + USED_GPA + 2, 2);
	return v;
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_identity(void **state)
{
	struct fix *f = *state;

	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR_ID);
	assert_int_equal(cfg_read(f, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	assert_int_equal(cfg_read(f, PCI_REVISION, 1), 1);
	assert_int_equal(cfg_read(f, PCI_REVISION, 4) >> 8, 0xff0000);
	assert_int_equal(cfg_read(f, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(cfg_read(f, PCI_SUBSYS_VENDOR, 2), 0x1af4);
	assert_true(cfg_read(f, PCI_SUBSYS_ID, 2) >= 0x40);
	assert_int_equal(cfg_read(f, PCI_INTERRUPT_PIN, 1), 0);	/* no INTx */
	assert_true(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* IDs are read-only */
	cfg_write(f, PCI_VENDOR_ID, 0, 4);
	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR_ID);
	/* the command register: memory on, as firmware leaves it */
	assert_int_equal(cfg_read(f, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	cfg_write(f, PCI_COMMAND, 0xffff, 2);
	assert_int_equal(cfg_read(f, PCI_COMMAND, 2), PCI_COMMAND_MEMORY |
	    PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
}

static void
test_capabilities(void **state)
{
	struct fix *f = *state;
	static const struct { unsigned type, off, len; } want[] = {
		{ VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, 0x38 },
		{ VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1 },
		{ VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, 8 },
		{ VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF, 4 * NQ },
	};
	unsigned c;

	find_caps(f);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		c = f->cap[want[i].type];
		assert_true(c != 0);
		assert_true(cfg_read(f, c + 2, 1) >= 16);	/* cap_len */
		assert_int_equal(cfg_read(f, c + 4, 1), 0);	/* BAR 0 */
		assert_int_equal(cfg_read(f, c + 8, 4), want[i].off);
		assert_int_equal(cfg_read(f, c + 12, 4), want[i].len);
		/* read-only */
		cfg_write(f, c + 8, 0x1234, 4);
		assert_int_equal(cfg_read(f, c + 8, 4), want[i].off);
	}
	c = f->cap[VIRTIO_PCI_CAP_NOTIFY_CFG];
	assert_int_equal(cfg_read(f, c + 2, 1), 20);
	assert_int_equal(cfg_read(f, c + 16, 4), 4);	/* multiplier */
	c = f->cap[VIRTIO_PCI_CAP_PCI_CFG];
	assert_true(c != 0);
	assert_int_equal(cfg_read(f, c + 2, 1), 20);
	/* MSI-X: NQ + 1 vectors, table and PBA in BAR 0 (BIR 0) */
	c = f->cap[0];
	assert_true(c != 0);
	assert_int_equal(cfg_read(f, c + 2, 2), NQ);	/* size - 1, off */
	assert_int_equal(cfg_read(f, c + 4, 4), VIRTIO_PCI_MSIX_TABLE_OFF);
	assert_int_equal(cfg_read(f, c + 8, 4), VIRTIO_PCI_MSIX_PBA_OFF);
	/* table entries start masked */
	for (unsigned v = 0; v <= NQ; v++)
		assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_TABLE_OFF +
		    16 * v + 12, 4), 1);
}

static void
test_bar(void **state)
{
	struct fix *f = *state;
	uint64_t v = 0, moved = PCI_MMIO_BASE + 0x100000;

	/* Linux's sizing: decode off, all ones, read back, restore */
	cfg_write(f, PCI_COMMAND, 0, 2);
	assert_int_equal(pci_mmio_access(f->pci, f->bar, (uint8_t *)&v, 4, 0),
	    0);
	assert_int_equal(cfg_read(f, PCI_BAR0, 4), (uint32_t)BAR_GPA | 4);
	assert_int_equal(cfg_read(f, PCI_BAR0 + 4, 4), 0);
	cfg_write(f, PCI_BAR0, 0xffffffff, 4);
	cfg_write(f, PCI_BAR0 + 4, 0xffffffff, 4);
	assert_int_equal(cfg_read(f, PCI_BAR0, 4),
	    (uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1) | 4);
	assert_int_equal(cfg_read(f, PCI_BAR0 + 4, 4), 0xffffffff);
	/* the other BARs are not implemented */
	cfg_write(f, PCI_BAR0 + 8, 0xffffffff, 4);
	assert_int_equal(cfg_read(f, PCI_BAR0 + 8, 4), 0);
	/* move it and turn decoding on */
	cfg_write(f, PCI_BAR0, (uint32_t)moved, 4);
	cfg_write(f, PCI_BAR0 + 4, 0, 4);
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	f->bar = moved;
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_NUMQ), 2), NQ);
	v = 0;
	assert_int_equal(pci_mmio_access(f->pci, BAR_GPA, (uint8_t *)&v, 2, 0),
	    0);
	assert_int_equal(v, 0xffff);
	/* the bus's window ops: offsets from PCI_MMIO_BASE */
	v = 0;
	pci_mmio_ops.read(f->pci, moved - PCI_MMIO_BASE +
	    COMMON(VIRTIO_PCI_COMMON_NUMQ), (uint8_t *)&v, 2);
	assert_int_equal(v, NQ);
	v = 1;
	pci_mmio_ops.write(f->pci, moved - PCI_MMIO_BASE +
	    COMMON(VIRTIO_PCI_COMMON_Q_SELECT), (uint8_t *)&v, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 2),
	    1);
	/* an access running past the BAR's end: claimed, all ones */
	v = 0;
	assert_int_equal(pci_mmio_access(f->pci, moved + VIRTIO_PCI_BAR_SIZE -
	    2, (uint8_t *)&v, 4, 0), 1);
	assert_int_equal(v, 0xffffffff);
	/* nothing past it, and nothing lives in the empty pages */
	assert_int_equal(pci_mmio_access(f->pci, moved + VIRTIO_PCI_BAR_SIZE,
	    (uint8_t *)&v, 4, 0), 0);
	assert_int_equal(mmio_read(f, 0x7000, 4), 0);
	mmio_write(f, 0x7000, 0, 4);
}

static void
test_driver(void **state)
{
	struct fix *f = *state;
	uint64_t notify = VIRTIO_PCI_NOTIFY_OFF;

	find_caps(f);
	/* device features, in two windows */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_DFSELECT), 0, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_DF), 4),
	    (1u << 3) | (1u << VIRTIO_F_INDIRECT_DESC) |
	    (1u << VIRTIO_F_RING_EVENT_IDX));
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_DFSELECT), 1, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_DF), 4), 1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_DFSELECT), 2, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_DF), 4), 0);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_NUMQ), 2), NQ);
	driver_features(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << 3) |
	    (1ull << VIRTIO_F_RING_EVENT_IDX));
	assert_true(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 1) &
	    VIRTIO_STATUS_FEATURES_OK);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GFSELECT), 1, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_GF), 4), 1);
	/* features are frozen after FEATURES_OK */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GF), 0, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_GF), 4), 1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 0, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 2), 0);
	queue_setup(f, 0, 1);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_MSIX), 2), 1);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 2),
	    1);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_NOFF), 2), 0);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), 2),
	    QSIZE);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_AVAILLO), 4),
	    AVAIL_GPA);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCLO), 8),
	    DESC_GPA);
	/* the enabled queue's notify address got an ioeventfd */
	assert_int_equal(f->vmm.ioev_gpa[0], f->bar + notify);
	assert_int_equal(f->vmm.ioev_fd[0], f->vd.kick_fd[0]);
	assert_int_equal(f->vmm.ioev_gpa[1], 0);
	/* queue 1's registers, then one that does not exist */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 1, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_NOFF), 2), 1);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 2),
	    0);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), NQ, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), 2), 0);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
	/* MSI-X: program, route, enable */
	for (unsigned v = 0; v <= NQ; v++)
		msix_program(f, v, 0);
	assert_int_equal(f->vmm.route_addr[1], MSI_ADDR);
	assert_int_equal(f->vmm.route_data[1], 0x41);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 8, 4),
	    0x41);
	msix_control(f, 0x8000);
	driver_ok(f);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 1),
	    0x0f);
	/* a request, kicked through the notify register (no ioeventfd: the
	 * write reaches us) */
	post_ping(f);
	mmio_write(f, notify, 0, 2);
	assert_int_equal(used_idx(f), 1);
	assert_memory_equal(f->ram + DATA_GPA + 0x100, "ping", 4);
	assert_int_equal(f->vmm.fired[1], 1);
	assert_int_equal(f->vmm.fired[0], 0);
	/* the ISR: queue bit, cleared by the read */
	assert_int_equal(mmio_read(f, VIRTIO_PCI_ISR_OFF, 1), 1);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_ISR_OFF, 1), 0);
	/* a notify for a queue that does not exist is ignored */
	mmio_write(f, notify + 4 * 7, 7, 2);
	/* device config */
	memcpy(f->fe.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_DEVICE_OFF + 4, 4),
	    0x88776655);
	mmio_write(f, VIRTIO_PCI_DEVICE_OFF + 1, 0xaa, 1);
	assert_int_equal(f->fe.config[1], 0xaa);
	/* beyond config_size: nothing */
	assert_int_equal(mmio_read(f, VIRTIO_PCI_DEVICE_OFF + 6, 4), 0);
	mmio_write(f, VIRTIO_PCI_DEVICE_OFF + 8, 0xbb, 1);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_CFGGEN), 1), 0);
	/* a config change: generation and config vector 0 */
	virtio_notify_config(&f->vd);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_CFGGEN), 1), 1);
	assert_int_equal(f->vmm.fired[0], 1);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_ISR_OFF, 1), 2);
}

static void
test_msix_masking(void **state)
{
	struct fix *f = *state;

	bring_up(f);
	/* a masked vector: pending, then fired on unmask */
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 1, 4);
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->vmm.fired[1], 0);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_PBA_OFF, 8), 2);
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 0, 4);
	assert_int_equal(f->vmm.fired[1], 1);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
	/* the function mask */
	msix_control(f, 0xc000);
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(f->vmm.fired[1], 1);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_PBA_OFF, 1), 2);
	msix_control(f, 0x8000);
	assert_int_equal(f->vmm.fired[1], 2);
	/* MSI-X disabled: pending until enabled */
	msix_control(f, 0);
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(f->vmm.fired[1], 2);
	msix_control(f, 0x8000);
	assert_int_equal(f->vmm.fired[1], 3);
	/* the control register keeps only enable and mask */
	msix_control(f, 0xffff);
	assert_int_equal(cfg_read(f, f->cap[0] + 2, 2), 0xc000 | NQ);
	msix_control(f, 0x8000);
	/* a qword write to an entry; odd widths are ignored */
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 32, 0xfee01000ull, 8);
	assert_int_equal(f->vmm.route_addr[2], 0xfee01000ull);
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 32 + 8, 0x99, 2);
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 32 + 9, 0x99, 4);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_TABLE_OFF + 40, 4), 0x42);
	/* only the mask bit of vector control is kept */
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 32 + 12, 0xfffffffe, 4);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_TABLE_OFF + 44, 4), 0);
	/* entries past the table, and PBA writes, do nothing */
	mmio_write(f, VIRTIO_PCI_MSIX_TABLE_OFF + 16 * (NQ + 1), 1, 4);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_TABLE_OFF +
	    16 * (NQ + 1), 4), 0);
	mmio_write(f, VIRTIO_PCI_MSIX_PBA_OFF, 0xff, 8);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
	/* a queue on NO_VECTOR raises nothing (no INTx), the ISR says so */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	f->vd.vq[0].msix_vector = VIRTIO_MSI_NO_VECTOR;
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(f->vmm.fired[1], 3);
	assert_int_equal(mmio_read(f, VIRTIO_PCI_ISR_OFF, 1), 1);
}

static void
test_reset(void **state)
{
	struct fix *f = *state;

	bring_up(f);
	assert_int_equal(f->vmm.ioev_gpa[0], f->bar + VIRTIO_PCI_NOTIFY_OFF);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	assert_int_equal(f->fe.resets, 2);	/* bring_up's, and this one */
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 1), 0);
	assert_int_equal(f->vmm.ioev_gpa[0], 0);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 2),
	    VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 2),
	    0);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 2),
	    0);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), 2),
	    VIRTQ_MAX_SIZE);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_MSIX), 2),
	    VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCLO), 4),
	    0);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_GFSELECT), 0, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_GF), 4), 0);
	/* a kick after reset does nothing */
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(used_idx(f), 0);
	/* and the device comes up again, ioeventfd and all */
	f->avail_idx = 0;
	memset(f->ram + AVAIL_GPA, 0, 0x1000);
	memset(f->ram + USED_GPA, 0, 0x1000);
	bring_up(f);
	assert_int_equal(f->vmm.ioev_gpa[0], f->bar + VIRTIO_PCI_NOTIFY_OFF);
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(used_idx(f), 1);
}

static void
test_bar_moves(void **state)
{
	struct fix *f = *state;
	uint64_t moved = PCI_MMIO_BASE + 0x200000;

	bring_up(f);
	queue_setup(f, 1, 2);
	assert_int_equal(f->vmm.ioev_gpa[1], f->bar + VIRTIO_PCI_NOTIFY_OFF + 4);
	/* decoding off: ioeventfds gone */
	cfg_write(f, PCI_COMMAND, 0, 2);
	assert_int_equal(f->vmm.ioev_gpa[0], 0);
	assert_int_equal(f->vmm.ioev_gpa[1], 0);
	/* moved, decoding on: back at the new place */
	cfg_write(f, PCI_BAR0, (uint32_t)moved, 4);
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	f->bar = moved;
	assert_int_equal(f->vmm.ioev_gpa[0], moved + VIRTIO_PCI_NOTIFY_OFF);
	assert_int_equal(f->vmm.ioev_gpa[1], moved + VIRTIO_PCI_NOTIFY_OFF + 4);
	/* moved while decoding (a bad guest): follows */
	cfg_write(f, PCI_BAR0, (uint32_t)BAR_GPA, 4);
	f->bar = BAR_GPA;
	assert_int_equal(f->vmm.ioev_gpa[0], BAR_GPA + VIRTIO_PCI_NOTIFY_OFF);
	/* outside the MMIO window: no ioeventfd, no decoding */
	cfg_write(f, PCI_BAR0 + 4, 1, 4);
	assert_int_equal(f->vmm.ioev_gpa[0], 0);
	cfg_write(f, PCI_BAR0 + 4, 0, 4);
	assert_int_equal(f->vmm.ioev_gpa[0], BAR_GPA + VIRTIO_PCI_NOTIFY_OFF);
	/* a VMM that cannot register: tried once per place, kicks still
	 * work through the MMIO write */
	cfg_write(f, PCI_COMMAND, 0, 2);
	f->vmm.ioev_fail = 1;
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(f->vmm.ioev_gpa[0], 0);
	f->vmm.ioev_calls = 0;
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	assert_int_equal(f->vmm.ioev_calls, 0);
	post_ping(f);
	mmio_write(f, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
	assert_int_equal(used_idx(f), 1);
	f->vmm.ioev_fail = 0;
}

static void
test_pci_cfg_window(void **state)
{
	struct fix *f = *state;
	unsigned c;

	bring_up(f);
	c = f->cap[VIRTIO_PCI_CAP_PCI_CFG];
	/* num_queues, 2 bytes, through the window = through the BAR */
	cfg_write(f, c + 4, 0, 1);
	cfg_write(f, c + 8, COMMON(VIRTIO_PCI_COMMON_NUMQ), 4);
	cfg_write(f, c + 12, 2, 4);
	assert_int_equal(cfg_read(f, c + 16, 2),
	    mmio_read(f, COMMON(VIRTIO_PCI_COMMON_NUMQ), 2));
	/* 4 bytes of the device features */
	cfg_write(f, c + 8, COMMON(VIRTIO_PCI_COMMON_DF), 4);
	cfg_write(f, c + 12, 4, 4);
	assert_int_equal(cfg_read(f, c + 16, 4),
	    mmio_read(f, COMMON(VIRTIO_PCI_COMMON_DF), 4));
	/* a write: queue_select, then read back through the BAR */
	cfg_write(f, c + 8, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 4);
	cfg_write(f, c + 12, 2, 4);
	cfg_write(f, c + 16, 1, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 2),
	    1);
	/* the ISR through the window: read and cleared */
	f->vd.isr = 1;
	cfg_write(f, c + 8, VIRTIO_PCI_ISR_OFF, 4);
	cfg_write(f, c + 12, 1, 4);
	assert_int_equal(cfg_read(f, c + 16, 1), 1);
	assert_int_equal(f->vd.isr, 0);
	/* the window works with memory decoding off */
	cfg_write(f, PCI_COMMAND, 0, 2);
	cfg_write(f, c + 8, COMMON(VIRTIO_PCI_COMMON_NUMQ), 4);
	cfg_write(f, c + 12, 2, 4);
	assert_int_equal(cfg_read(f, c + 16, 2), NQ);
	/* bad windows: another BAR, length 3, misaligned, past the BAR */
	cfg_write(f, c + 4, 1, 1);
	assert_int_equal(cfg_read(f, c + 16, 4), 0xffffffff);
	cfg_write(f, c + 4, 0, 1);
	cfg_write(f, c + 12, 3, 4);
	assert_int_equal(cfg_read(f, c + 16, 4), 0xffffffff);
	cfg_write(f, c + 12, 4, 4);
	cfg_write(f, c + 8, COMMON(VIRTIO_PCI_COMMON_NUMQ), 4);
	assert_int_equal(cfg_read(f, c + 16, 4), 0xffffffff);
	cfg_write(f, c + 8, VIRTIO_PCI_BAR_SIZE, 4);
	assert_int_equal(cfg_read(f, c + 16, 4), 0xffffffff);
	cfg_write(f, c + 16, 0, 4);		/* writes nothing */
	cfg_write(f, c + 8, 0xfffffffc, 4);
	assert_int_equal(cfg_read(f, c + 16, 4), 0xffffffff);
}

static void
test_bad_driver(void **state)
{
	struct fix *f = *state;

	find_caps(f);
	/* a feature not offered: FEATURES_OK does not stick */
	driver_features(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << 4));
	assert_false(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 1) &
	    VIRTIO_STATUS_FEATURES_OK);
	driver_features(f, 1ull << VIRTIO_F_VERSION_1);
	/* vectors beyond the table read back NO_VECTOR */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_MSIX), NQ + 1, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 2),
	    VIRTIO_MSI_NO_VECTOR);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_MSIX), 0x1234, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_MSIX), 2),
	    VIRTIO_MSI_NO_VECTOR);
	/* wrong widths are ignored */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 1, 1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 1, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 2),
	    0);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCLO + 2), 0x5555, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCLO), 4),
	    0);
	/* a read across two registers is fine (bytes as laid out) */
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 4),
	    0xffff | NQ << 16);
	/* past the common structure, and across a page */
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_SIZE), 4), 0);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_SIZE), 1, 4);
	assert_int_equal(mmio_read(f, 0xffe, 4), 0);
	/* a queue size that is not a power of 2 */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), 7, 2);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 2),
	    0);
	assert_true(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 1) &
	    VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->vmm.ioev_gpa[0], 0);
	/* reset, then a ring outside RAM: the kick breaks the device */
	driver_features(f, 1ull << VIRTIO_F_VERSION_1);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_MSIX), 0, 2);
	for (unsigned v = 0; v <= NQ; v++)
		msix_program(f, v, 0);
	msix_control(f, 0x8000);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), QSIZE, 2);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCHI), 0x10, 4);
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
	/* queue registers are frozen once enabled */
	mmio_write(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCHI), 0, 4);
	assert_int_equal(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_Q_DESCHI), 4),
	    0x10);
	driver_ok(f);
	assert_true(mmio_read(f, COMMON(VIRTIO_PCI_COMMON_STATUS), 1) &
	    VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->vmm.fired[0], 1);	/* config interrupt */
	assert_int_equal(mmio_read(f, VIRTIO_PCI_ISR_OFF, 1), 2);
}

static void
test_create_errors(void **state)
{
	struct fix *f = *state;
	struct virtio_pci *p;

	assert_int_equal(virtio_pci_create(&f->vd, f->pci, SLOT,
	    BAR_GPA + 0x8000, &p), -EBUSY);
	assert_int_equal(virtio_pci_create(&f->vd, f->pci, 0, BAR_GPA + 0x8000,
	    &p), -EINVAL);
	assert_int_equal(virtio_pci_create(&f->vd, f->pci, 4, BAR_GPA + 0x100,
	    &p), -EINVAL);		/* misaligned BAR */
	assert_null(pci_get_function(f->pci, 4));
	virtio_pci_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_masking, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_moves, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_driver, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
