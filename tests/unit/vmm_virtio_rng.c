/*
 * Unit tests: virtio-rng (vmm/virtio_rng.c) driven by a simulated driver
 * (vdrv.h: fake guest RAM, the device core with a fake host, no KVM, no
 * PCI): buffers are filled (and look random), long ones only up to the
 * per-request bound, chains with nothing writable come back empty, and a
 * broken ring marks the device as needing a reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "vdrv.h"
#include "virtio.h"

#define RAM_SIZE	(4u << 20)
#define MAX_REQ		(64u << 10)

static int
setup(void **state)
{
	struct vdrv *d = calloc(1, sizeof(*d));
	void *fe = virtio_rng_create();

	assert_non_null(d);
	assert_non_null(fe);
	assert_int_equal(vdrv_init(d, &virtio_rng_ops, fe, RAM_SIZE, ~0ull),
	    0);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct vdrv *d = *state;

	vdrv_fini(d);
	free(d);
	return 0;
}

/* Bytes of p[0..n) still equal to the 0xee fill. */
static size_t
untouched(const uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == 0xee;
	return k;
}

static void
test_device(void **state)
{
	struct vdrv *d = *state;

	assert_int_equal(virtio_rng_ops.device_id, VIRTIO_ID_RNG);
	assert_int_equal(virtio_rng_ops.nqueues, 1);
	assert_int_equal(d->vd.host_features & 0xffffff, 0);
	assert_int_equal(vdrv_status(d) & VIRTIO_STATUS_DRIVER_OK,
	    VIRTIO_STATUS_DRIVER_OK);
}

static void
test_fill(void **state)
{
	struct vdrv *d = *state;
	uint64_t a = vdrv_alloc(d, 4096), b = vdrv_alloc(d, 64);
	struct vdrv_seg seg[2] = { { a, 4096, 1 }, { b, 64, 1 } };
	uint8_t *pa = vdrv_hva(d, a);
	uint32_t len;
	int head;

	memset(pa, 0xee, 4096);
	memset(vdrv_hva(d, b), 0xee, 64);
	head = vdrv_add(d, 0, seg, 2);
	vdrv_kick(d, 0);
	assert_int_equal(vdrv_used(d, 0, &len), head);
	assert_int_equal(len, 4096 + 64);
	assert_int_equal(d->interrupts, 1);
	/* Random bytes: about 1 in 256 equals the fill value. */
	assert_true(untouched(pa, 4096) < 64);
	assert_true(untouched(vdrv_hva(d, b), 64) < 8);
	/* A second request gets different bytes. */
	{
		uint8_t first[64];

		memcpy(first, pa, 64);
		head = vdrv_add(d, 0, seg, 1);
		vdrv_kick(d, 0);
		assert_int_equal(vdrv_used(d, 0, &len), head);
		assert_int_equal(len, 4096);
		assert_memory_not_equal(first, pa, 64);
	}
}

/* Longer than the bound: the first 64 KiB are filled, the rest not. */
static void
test_bounded(void **state)
{
	struct vdrv *d = *state;
	uint64_t a = vdrv_alloc(d, MAX_REQ + 8192);
	struct vdrv_seg seg[2] = { { a, MAX_REQ - 100, 1 },
	    { a + MAX_REQ - 100, 8192 + 100, 1 } };
	uint8_t *p = vdrv_hva(d, a);
	uint32_t len;

	memset(p, 0xee, MAX_REQ + 8192);
	vdrv_add(d, 0, seg, 2);
	vdrv_kick(d, 0);
	assert_true(vdrv_used(d, 0, &len) >= 0);
	assert_int_equal(len, MAX_REQ);
	assert_int_equal(untouched(p + MAX_REQ, 8192), 8192);
	assert_true(untouched(p + MAX_REQ - 100, 100) < 8);
}

/* Nothing writable: back with length 0; the device goes on. */
static void
test_readonly_chain(void **state)
{
	struct vdrv *d = *state;
	uint64_t a = vdrv_alloc(d, 64);
	struct vdrv_seg seg = { a, 64, 0 };
	uint8_t *p = vdrv_hva(d, a);
	uint32_t len = 5;

	memset(p, 0xee, 64);
	vdrv_add(d, 0, &seg, 1);
	vdrv_kick(d, 0);
	assert_true(vdrv_used(d, 0, &len) >= 0);
	assert_int_equal(len, 0);
	assert_int_equal(untouched(p, 64), 64);
	assert_false(vdrv_status(d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* A whole ring of requests in one kick. */
static void
test_many(void **state)
{
	struct vdrv *d = *state;
	uint64_t a = vdrv_alloc(d, 16 * VDRV_QSIZE);
	uint32_t len;

	for (unsigned i = 0; i < VDRV_QSIZE; i++) {
		struct vdrv_seg seg = { a + 16 * i, 16, 1 };

		assert_true(vdrv_add(d, 0, &seg, 1) >= 0);
	}
	vdrv_kick(d, 0);
	for (unsigned i = 0; i < VDRV_QSIZE; i++) {
		assert_true(vdrv_used(d, 0, &len) >= 0);
		assert_int_equal(len, 16);
	}
	assert_int_equal(vdrv_used(d, 0, &len), -1);
}

/* A buffer outside guest RAM: the ring is broken, nothing is written. */
static void
test_bad_chain(void **state)
{
	struct vdrv *d = *state;
	uint32_t len;

	*vdrv_desc(d, 0, 3) = (struct vdrv_desc){ RAM_SIZE - 16, 4096,
	    VIRTQ_DESC_F_WRITE, 0 };
	vdrv_publish(d, 0, 3);
	vdrv_kick(d, 0);
	assert_true(vdrv_status(d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(vdrv_used(d, 0, &len), -1);
}

static void
quiet(enum log_level level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chain, setup, teardown),
	};

	log_set_sink(quiet, NULL);
	return cmocka_run_group_tests_name("vmm_virtio_rng", tests, NULL,
	    NULL);
}
