/*
 * Unit tests: the virtio device core (vmm/virtio.c) with a fake front end
 * (an echo device: each chain's readable bytes are copied into its
 * writable part) and a fake transport interrupt, no PCI and no KVM:
 * feature negotiation, the status state machine, reset, queue enabling,
 * kicks with and without the I/O thread, the back-end fd, and a driver
 * that breaks the rules (NEEDS_RESET and a config interrupt).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio.h"

#define RAM_SIZE	0x10000
#define DESC_GPA	0x1000
#define AVAIL_GPA	0x2000
#define USED_GPA	0x3000
#define DATA_GPA	0x4000
#define QSIZE		8
#define ECHO_FEATURE	5	/* a device-specific bit the echo offers */

struct echo {
	struct virtio_dev *vd;		/* from start() */
	uint64_t features;
	int start_rc;
	int starts, resets, notifies, events, destroyed;
	int pipe[2];			/* the back-end fd */
	struct virtq_chain c;
};

struct fix {
	uint8_t *ram;
	struct gmem m;
	struct echo fe;
	struct virtio_dev vd;
	int irqs;			/* atomic: the I/O thread adds */
	int last_vector, last_isr;
	uint16_t avail_idx;
};

/* ---- the echo front end ------------------------------------------------- */

static uint64_t
echo_features(void *fe)
{
	(void)fe;
	return (1ull << ECHO_FEATURE) | (1ull << 40);	/* 40: not ours */
}

static void
echo_config_read(void *fe, uint32_t off, uint8_t *data, unsigned len)
{
	(void)fe;
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(0xc0 + off + i);
}

static void
echo_config_write(void *fe, uint32_t off, const uint8_t *data, unsigned len)
{
	(void)fe;
	(void)off;
	(void)data;
	(void)len;
}

static int
echo_start(void *fe, struct virtio_dev *vd, uint64_t features)
{
	struct echo *e = fe;

	e->starts++;
	e->features = features;
	if (e->start_rc == 0)
		e->vd = vd;
	return e->start_rc;
}

static void
echo_queue_notify(void *fe, unsigned q)
{
	struct echo *e = fe;
	struct virtq *vq = virtio_queue(e->vd, q);
	const struct gmem *m = virtio_mem(e->vd);
	uint8_t buf[256];
	int rc;

	e->notifies++;
	if (vq == NULL)
		return;
	while ((rc = virtq_pop(vq, m, &e->c)) > 0) {
		uint64_t n = virtq_read(&e->c, 0, buf, sizeof(buf));

		n = virtq_write(&e->c, 0, buf, n);
		virtq_push(vq, m, e->c.head, (uint32_t)n);
	}
	virtio_notify_used(e->vd, q);
	if (rc < 0)
		virtio_dev_broken(e->vd, vq->err);
}

static int
echo_event_fd(void *fe)
{
	return ((struct echo *)fe)->pipe[0];
}

static void
echo_event(void *fe)
{
	struct echo *e = fe;
	char b[16];

	if (read(e->pipe[0], b, sizeof(b)) > 0)
		__atomic_add_fetch(&e->events, 1, __ATOMIC_SEQ_CST);
}

static void
echo_reset(void *fe)
{
	struct echo *e = fe;

	e->resets++;
	e->vd = NULL;
}

static void
echo_destroy(void *fe)
{
	((struct echo *)fe)->destroyed++;
}

static const struct virtio_dev_ops echo_ops = {
	.name = "echo",
	.device_id = 0x3f,
	.pci_class = 0xff00,
	.nqueues = 2,
	.config_size = 8,
	.features = echo_features,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.start = echo_start,
	.queue_notify = echo_queue_notify,
	.event_fd = echo_event_fd,
	.event = echo_event,
	.reset = echo_reset,
	.destroy = echo_destroy,
};

/* ---- fixture ------------------------------------------------------------ */

static void
fake_interrupt(struct virtio_dev *vd, uint16_t vector, int isr_bit)
{
	struct fix *f = (struct fix *)((char *)vd - offsetof(struct fix, vd));

	f->last_vector = vector;
	f->last_isr = isr_bit;
	__atomic_add_fetch(&f->irqs, 1, __ATOMIC_SEQ_CST);
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct virtio_host host = { 0 };

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	gmem_layout(&f->m, f->ram, RAM_SIZE);
	assert_int_equal(pipe(f->fe.pipe), 0);
	host.mem = &f->m;
	assert_int_equal(virtio_dev_init(&f->vd, &echo_ops, &f->fe, &host), 0);
	f->vd.interrupt = fake_interrupt;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	virtio_dev_destroy(&f->vd);
	assert_int_equal(f->fe.destroyed, 1);
	close(f->fe.pipe[0]);
	close(f->fe.pipe[1]);
	free(f->ram);
	free(f);
	return 0;
}

/* What a driver does up to FEATURES_OK (3.1.1 steps 1-6). */
static void
negotiate(struct fix *f, uint64_t features)
{
	virtio_dev_set_status(&f->vd, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_dev_set_status(&f->vd, VIRTIO_STATUS_ACKNOWLEDGE |
	    VIRTIO_STATUS_DRIVER);
	f->vd.guest_features = features;
	virtio_dev_set_status(&f->vd, VIRTIO_STATUS_ACKNOWLEDGE |
	    VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void
queue_setup(struct fix *f, unsigned q)
{
	f->vd.vq[q].size = QSIZE;
	f->vd.vq[q].msix_vector = (uint16_t)(q + 1);
	f->vd.vq[q].desc_gpa = DESC_GPA;
	f->vd.vq[q].avail_gpa = AVAIL_GPA;
	f->vd.vq[q].used_gpa = USED_GPA;
	assert_int_equal(virtio_dev_queue_enable(&f->vd, q), 0);
}

static void
driver_ok(struct fix *f)
{
	virtio_dev_set_status(&f->vd, VIRTIO_STATUS_ACKNOWLEDGE |
	    VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
	    VIRTIO_STATUS_DRIVER_OK);
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

/* A request "ping" -> 8-byte reply buffer, made available. */
static void
post_ping(struct fix *f)
{
	memcpy(f->ram + DATA_GPA, "ping", 4);
	memset(f->ram + DATA_GPA + 0x100, 0, 8);
	desc(f, 0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	desc(f, 1, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
	memcpy(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), "\0\0", 2);
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

static const uint64_t good = (1ull << VIRTIO_F_VERSION_1) |
    (1ull << ECHO_FEATURE);

/* Wait up to 2 s for *p to reach v (the I/O thread is running). */
static int
wait_for(int *p, int v)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(p, __ATOMIC_SEQ_CST) >= v)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_init(void **state)
{
	struct fix *f = *state;
	struct virtio_dev vd;
	struct virtio_dev_ops bad = echo_ops;
	struct virtio_host host = { .mem = &f->m };

	/* core bits plus the device's bits 0..23; bit 40 dropped */
	assert_int_equal(f->vd.host_features, good |
	    (1ull << VIRTIO_F_RING_EVENT_IDX) |
	    (1ull << VIRTIO_F_INDIRECT_DESC));
	assert_int_equal(f->vd.status, 0);
	assert_int_equal(f->vd.config_vector, VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(f->vd.vq[0].size, VIRTQ_MAX_SIZE);
	assert_int_equal(f->vd.vq[1].msix_vector, VIRTIO_MSI_NO_VECTOR);
	assert_true(f->vd.kick_fd[0] >= 0 && f->vd.kick_fd[1] >= 0);
	assert_int_equal(f->vd.kick_fd[2], -1);
	assert_null(virtio_queue(&f->vd, 0));
	assert_ptr_equal(virtio_mem(&f->vd), &f->m);
	/* descriptions the core refuses */
	bad.nqueues = 0;
	assert_int_equal(virtio_dev_init(&vd, &bad, NULL, &host), -EINVAL);
	bad.nqueues = VIRTIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_dev_init(&vd, &bad, NULL, &host), -EINVAL);
	bad.nqueues = 1;
	bad.config_size = VIRTIO_CONFIG_MAX + 1;
	assert_int_equal(virtio_dev_init(&vd, &bad, NULL, &host), -EINVAL);
	bad.config_size = 0;
	bad.event = NULL;		/* event_fd without event */
	assert_int_equal(virtio_dev_init(&vd, &bad, NULL, &host), -EINVAL);
	host.mem = NULL;
	assert_int_equal(virtio_dev_init(&vd, &echo_ops, NULL, &host),
	    -EINVAL);
}

static void
test_features(void **state)
{
	struct fix *f = *state;
	uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	/* a bit we did not offer: FEATURES_OK does not stick */
	negotiate(f, good | (1ull << 6));
	assert_int_equal(f->vd.status, base);
	/* no VERSION_1: refused as well (a modern-only device) */
	negotiate(f, 1ull << ECHO_FEATURE);
	assert_int_equal(f->vd.status, base);
	/* DRIVER_OK without FEATURES_OK is refused; nothing starts */
	virtio_dev_set_status(&f->vd, base | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->vd.status, base);
	assert_int_equal(f->fe.starts, 0);
	/* good */
	negotiate(f, good | (1ull << VIRTIO_F_RING_EVENT_IDX));
	assert_int_equal(f->vd.status, base | VIRTIO_STATUS_FEATURES_OK);
	/* the driver cannot clear bits, nor set NEEDS_RESET */
	virtio_dev_set_status(&f->vd, VIRTIO_STATUS_ACKNOWLEDGE |
	    VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->vd.status, base | VIRTIO_STATUS_FEATURES_OK);
	queue_setup(f, 0);
	assert_int_equal(f->vd.vq[0].event_idx, 1);
	driver_ok(f);
	assert_int_equal(f->fe.starts, 1);
	assert_int_equal(f->fe.features, good |
	    (1ull << VIRTIO_F_RING_EVENT_IDX));
	assert_true(f->vd.status & VIRTIO_STATUS_DRIVER_OK);
	/* FAILED is the driver's to set */
	virtio_dev_set_status(&f->vd, f->vd.status | VIRTIO_STATUS_FAILED);
	assert_true(f->vd.status & VIRTIO_STATUS_FAILED);
}

static void
test_queue_enable(void **state)
{
	struct fix *f = *state;

	negotiate(f, good);
	assert_int_equal(virtio_dev_queue_enable(&f->vd, 2), -EINVAL);
	assert_int_equal(virtio_dev_queue_enable(&f->vd, 99), -EINVAL);
	f->vd.vq[0].size = 0;
	assert_int_equal(virtio_dev_queue_enable(&f->vd, 0), -EINVAL);
	f->vd.vq[0].size = 6;
	assert_int_equal(virtio_dev_queue_enable(&f->vd, 0), -EINVAL);
	f->vd.vq[0].size = 2 * VIRTQ_MAX_SIZE;
	assert_int_equal(virtio_dev_queue_enable(&f->vd, 0), -EINVAL);
	assert_null(virtio_queue(&f->vd, 0));
	queue_setup(f, 0);
	assert_int_equal(f->vd.vq[0].event_idx, 0);
	assert_non_null(virtio_queue(&f->vd, 0));
	assert_null(virtio_queue(&f->vd, 1));
	assert_null(virtio_queue(&f->vd, VIRTIO_MAX_QUEUES));
}

static void
test_kick_inline(void **state)
{
	struct fix *f = *state;

	negotiate(f, good);
	queue_setup(f, 0);
	/* made available and kicked before DRIVER_OK: not looked at */
	post_ping(f);
	virtio_dev_kick(&f->vd, 0);
	assert_int_equal(f->fe.notifies, 0);
	/* DRIVER_OK kicks every enabled queue */
	driver_ok(f);
	assert_int_equal(f->fe.notifies, 1);
	assert_int_equal(used_idx(f), 1);
	assert_memory_equal(f->ram + DATA_GPA + 0x100, "ping\0\0\0\0", 8);
	assert_int_equal(f->irqs, 1);
	assert_int_equal(f->last_vector, 1);
	assert_int_equal(f->last_isr, 1);
	assert_int_equal(f->vd.isr & 1, 1);
	/* a kick on a queue that is not enabled, or does not exist */
	virtio_dev_kick(&f->vd, 1);
	virtio_dev_kick(&f->vd, 7);
	assert_int_equal(f->fe.notifies, 1);
	/* once more */
	post_ping(f);
	virtio_dev_kick(&f->vd, 0);
	assert_int_equal(used_idx(f), 2);
	assert_int_equal(f->irqs, 2);
}

static void
test_thread(void **state)
{
	struct fix *f = *state;
	uint16_t used;
	int irqs;

	negotiate(f, good);
	queue_setup(f, 0);
	driver_ok(f);
	irqs = f->irqs;		/* DRIVER_OK's catch-up kick may have fired */
	assert_int_equal(virtio_dev_start_thread(&f->vd), 0);
	assert_int_equal(virtio_dev_start_thread(&f->vd), 0);	/* again */
	pthread_mutex_lock(&f->vd.lock);
	post_ping(f);
	virtio_dev_kick(&f->vd, 0);	/* through the eventfd */
	pthread_mutex_unlock(&f->vd.lock);
	assert_true(wait_for(&f->irqs, irqs + 1));
	pthread_mutex_lock(&f->vd.lock);
	used = used_idx(f);
	pthread_mutex_unlock(&f->vd.lock);
	assert_int_equal(used, 1);
	/* the back-end fd */
	assert_int_equal(write(f->fe.pipe[1], "x", 1), 1);
	assert_true(wait_for(&f->fe.events, 1));
	/* KVM's ioeventfd writes the kick fd directly */
	pthread_mutex_lock(&f->vd.lock);
	post_ping(f);
	pthread_mutex_unlock(&f->vd.lock);
	assert_int_equal(write(f->vd.kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	assert_true(wait_for(&f->irqs, irqs + 2));
	pthread_mutex_lock(&f->vd.lock);
	used = used_idx(f);
	pthread_mutex_unlock(&f->vd.lock);
	assert_int_equal(used, 2);
	virtio_dev_stop_thread(&f->vd);
	virtio_dev_stop_thread(&f->vd);	/* again */
	/* and it starts again */
	assert_int_equal(virtio_dev_start_thread(&f->vd), 0);
	virtio_dev_stop_thread(&f->vd);
}

static void
test_reset(void **state)
{
	struct fix *f = *state;
	int notifies;

	negotiate(f, good);
	queue_setup(f, 0);
	f->vd.config_vector = 0;
	f->vd.queue_select = 1;
	f->vd.dfselect = 1;
	driver_ok(f);
	post_ping(f);
	virtio_dev_kick(&f->vd, 0);
	assert_int_equal(f->vd.vq[0].used_idx, 1);
	virtio_dev_set_status(&f->vd, 0);
	assert_int_equal(f->fe.resets, 1);
	assert_int_equal(f->vd.status, 0);
	assert_int_equal(f->vd.guest_features, 0);
	assert_int_equal(f->vd.isr, 0);
	assert_int_equal(f->vd.config_vector, VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(f->vd.queue_select, 0);
	assert_int_equal(f->vd.dfselect, 0);
	assert_int_equal(f->vd.vq[0].ready, 0);
	assert_int_equal(f->vd.vq[0].used_idx, 0);
	assert_int_equal(f->vd.vq[0].desc_gpa, 0);
	assert_int_equal(f->vd.vq[0].size, VIRTQ_MAX_SIZE);
	assert_int_equal(f->vd.vq[0].msix_vector, VIRTIO_MSI_NO_VECTOR);
	assert_null(virtio_queue(&f->vd, 0));
	/* kicks after reset reach nobody */
	notifies = f->fe.notifies;
	virtio_dev_kick(&f->vd, 0);
	assert_int_equal(f->fe.notifies, notifies);
}

static void
test_broken(void **state)
{
	struct fix *f = *state;
	int irqs, notifies;

	negotiate(f, good);
	queue_setup(f, 0);
	f->vd.config_vector = 3;
	driver_ok(f);
	/* a descriptor loop */
	desc(f, 0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 0);
	memset(f->ram + AVAIL_GPA + 4, 0, 2);
	f->avail_idx = 1;
	memcpy(f->ram + AVAIL_GPA + 2, &f->avail_idx, 2);
	virtio_dev_kick(&f->vd, 0);
	assert_true(f->vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->last_vector, 3);
	assert_int_equal(f->last_isr, 2);
	assert_int_equal(f->vd.isr & 2, 2);
	assert_int_equal(f->vd.config_generation, 1);
	assert_int_equal(f->vd.broken_logged, 1);
	/* once broken, the front end is not called and nothing repeats */
	irqs = f->irqs;
	notifies = f->fe.notifies;
	virtio_dev_kick(&f->vd, 0);
	virtio_dev_broken(&f->vd, "again");
	assert_int_equal(f->fe.notifies, notifies);
	assert_int_equal(f->irqs, irqs);
	assert_int_equal(f->vd.broken_logged, 1);
	/* NEEDS_RESET survives status writes; a reset clears it */
	virtio_dev_set_status(&f->vd, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_true(f->vd.status & VIRTIO_STATUS_NEEDS_RESET);
	virtio_dev_set_status(&f->vd, 0);
	assert_int_equal(f->vd.status, 0);
	/* before DRIVER_OK: no config interrupt, but the generation moves */
	irqs = f->irqs;
	virtio_notify_config(&f->vd);
	assert_int_equal(f->irqs, irqs);
	assert_int_equal(f->vd.config_generation, 2);
}

static void
test_start_fails(void **state)
{
	struct fix *f = *state;

	f->fe.start_rc = -EIO;
	negotiate(f, good);
	queue_setup(f, 0);
	post_ping(f);
	driver_ok(f);
	assert_true(f->vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(f->vd.status & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->fe.notifies, 0);
	assert_int_equal(f->last_isr, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_enable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kick_inline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_fails, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
