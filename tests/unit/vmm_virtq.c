/*
 * Unit tests: the split virtqueue walker (vmm/virtq.c) on a fake guest
 * RAM buffer, as a driver would fill it: good chains (direct, indirect),
 * then a malicious driver (loops, buffers outside RAM, huge lengths, too
 * many segments, nested indirect tables, writable before readable, an
 * avail index that runs past the queue size), then EVENT_IDX signalling.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtq.h"

#define RAM_SIZE	0x10000
#define DESC_GPA	0x1000
#define AVAIL_GPA	0x2000
#define USED_GPA	0x3000
#define DATA_GPA	0x4000
#define QSIZE		16

struct fix {
	uint8_t *ram;
	struct gmem m;
	struct virtq q;
	uint16_t avail_idx;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	gmem_layout(&f->m, f->ram, RAM_SIZE);
	f->q.size = QSIZE;
	f->q.ready = 1;
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = USED_GPA;
	virtq_reset(&f->q);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Descriptor i of the table at gpa. */
static void
desc(struct fix *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
    uint16_t flags, uint16_t next)
{
	uint8_t *d = f->ram + table + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void
offer(struct fix *f, uint16_t head)
{
	put16(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), head);
	f->avail_idx++;
	put16(f->ram + AVAIL_GPA + 2, f->avail_idx);
}

static void
expect_bad(struct fix *f, struct virtq_chain *c)
{
	uint16_t before = f->q.last_avail;

	assert_int_equal(virtq_pop(&f->q, &f->m, c), -EINVAL);
	assert_non_null(f->q.err);
	assert_int_equal(f->q.last_avail, before);	/* nothing taken */
}

/* ---- good chains -------------------------------------------------------- */

static void
test_direct_chain(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	uint8_t buf[32];

	memcpy(f->ram + DATA_GPA, "hello ", 6);
	memcpy(f->ram + DATA_GPA + 0x100, "world", 5);
	desc(f, DESC_GPA, 3, DATA_GPA, 6, VIRTQ_DESC_F_NEXT, 7);
	desc(f, DESC_GPA, 7, DATA_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC_GPA, 1, DATA_GPA + 0x200, 4,
	    VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	desc(f, DESC_GPA, 2, DATA_GPA + 0x300, 8, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 0);	/* empty */
	assert_int_equal(virtq_has_avail(&f->q, &f->m), 0);
	offer(f, 3);
	assert_int_equal(virtq_has_avail(&f->q, &f->m), 1);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nout, 2);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_len, 11);
	assert_int_equal(c.in_len, 12);
	assert_ptr_equal(c.iov[0].iov_base, f->ram + DATA_GPA);
	/* gather across segments, from an offset, and past the end */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(virtq_read(&c, 0, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "hello world", 11);
	assert_int_equal(virtq_read(&c, 4, buf, 4), 4);
	assert_memory_equal(buf, "o wo", 4);
	assert_int_equal(virtq_read(&c, 100, buf, 4), 0);
	/* scatter: 4 bytes in the first writable segment, 2 in the next */
	assert_int_equal(virtq_write(&c, 0, "ABCDEF", 6), 6);
	assert_memory_equal(f->ram + DATA_GPA + 0x200, "ABCD", 4);
	assert_memory_equal(f->ram + DATA_GPA + 0x300, "EF", 2);
	assert_int_equal(virtq_write(&c, 10, "xyz", 3), 2);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 0);
	assert_int_equal(virtq_has_avail(&f->q, &f->m), 0);
	/* push: the used element, then the index */
	assert_int_equal(virtq_push(&f->q, &f->m, 3, 6), 0);
	assert_int_equal(get32(f->ram + USED_GPA + 4), 3);
	assert_int_equal(get32(f->ram + USED_GPA + 8), 6);
	assert_int_equal(get16(f->ram + USED_GPA + 2), 1);
	assert_int_equal(virtq_push(&f->q, &f->m, QSIZE, 0), -EINVAL);
	assert_int_equal(get16(f->ram + USED_GPA + 2), 1);
}

static void
test_wraparound(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;

	desc(f, DESC_GPA, 0, DATA_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	/* the 16-bit indices wrap: start just below 65536 */
	f->avail_idx = 65530;
	f->q.last_avail = 65530;
	f->q.used_idx = 65530;
	for (unsigned i = 0; i < 40; i++) {
		offer(f, 0);
		assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
		assert_int_equal(c.nin, 1);
		assert_int_equal(virtq_push(&f->q, &f->m, 0, 1), 0);
	}
	assert_int_equal(f->q.last_avail, (uint16_t)(65530 + 40));
	assert_int_equal(get16(f->ram + USED_GPA + 2), (uint16_t)(65530 + 40));
}

static void
test_indirect(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	uint64_t tbl = DATA_GPA + 0x1000;

	desc(f, tbl, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(f, tbl, 2, DATA_GPA + 0x100, 512,
	    VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(f, tbl, 1, DATA_GPA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	/* the WRITE flag on the pointing descriptor is ignored (2.7.5.3.2) */
	desc(f, DESC_GPA, 5, tbl, 3 * 16,
	    VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	offer(f, 5);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(c.in_len, 513);
	/* direct descriptors, then an indirect table ends the chain */
	desc(f, DESC_GPA, 6, DATA_GPA + 0x800, 4, VIRTQ_DESC_F_NEXT, 9);
	desc(f, DESC_GPA, 9, tbl, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 6);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(c.nout, 2);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_len, 20);
	/* a table as long as VIRTQ_MAX_SEGS, every entry used */
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		desc(f, tbl, i, DATA_GPA, 1,
		    i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	desc(f, DESC_GPA, 4, tbl, VIRTQ_MAX_SEGS * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 4);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(c.nout, VIRTQ_MAX_SEGS);
}

/* ---- a malicious driver ------------------------------------------------- */

static void
test_loops(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	uint64_t tbl = DATA_GPA + 0x1000;

	/* 0 -> 1 -> 0 -> ... */
	desc(f, DESC_GPA, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC_GPA, 1, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	expect_bad(f, &c);
	/* a descriptor pointing at itself */
	desc(f, DESC_GPA, 0, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, 0);
	expect_bad(f, &c);
	/* a loop inside an indirect table */
	desc(f, tbl, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(f, tbl, 1, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	desc(f, DESC_GPA, 0, tbl, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	/* the queue still works once the driver behaves */
	desc(f, DESC_GPA, 0, DATA_GPA, 1, 0, 0);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
}

static void
test_bad_buffers(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;

	offer(f, 2);
	/* runs off the end of RAM */
	desc(f, DESC_GPA, 2, RAM_SIZE - 10, 100, 0, 0);
	expect_bad(f, &c);
	/* starts past RAM, in the 32-bit hole, and at 4 GiB (no high RAM) */
	desc(f, DESC_GPA, 2, RAM_SIZE, 1, 0, 0);
	expect_bad(f, &c);
	desc(f, DESC_GPA, 2, 0xfec00000, 4, 0, 0);
	expect_bad(f, &c);
	desc(f, DESC_GPA, 2, GMEM_HIGH_START, 4, 0, 0);
	expect_bad(f, &c);
	/* huge length, and an address that wraps around */
	desc(f, DESC_GPA, 2, DATA_GPA, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	expect_bad(f, &c);
	desc(f, DESC_GPA, 2, 0xfffffffffffffff0ull, 0x20, 0, 0);
	expect_bad(f, &c);
	/* next out of range */
	desc(f, DESC_GPA, 2, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, QSIZE);
	expect_bad(f, &c);
	/* writable, then readable (2.7.4.2) */
	desc(f, DESC_GPA, 2, DATA_GPA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
	    3);
	desc(f, DESC_GPA, 3, DATA_GPA, 1, 0, 0);
	expect_bad(f, &c);
	/* a head index past the table */
	put16(f->ram + AVAIL_GPA + 4, QSIZE + 3);
	expect_bad(f, &c);
	put16(f->ram + AVAIL_GPA + 4, 0xffff);
	expect_bad(f, &c);
}

static void
test_bad_indirect(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	uint64_t tbl = DATA_GPA + 0x1000, tbl2 = DATA_GPA + 0x2000;

	offer(f, 0);
	desc(f, tbl2, 0, DATA_GPA, 1, 0, 0);
	/* nested */
	desc(f, tbl, 0, tbl2, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(f, DESC_GPA, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	/* INDIRECT with NEXT */
	desc(f, tbl, 0, DATA_GPA, 1, 0, 0);
	desc(f, DESC_GPA, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
	    1);
	expect_bad(f, &c);
	/* lengths: zero, not a multiple of 16, more than VIRTQ_MAX_SEGS */
	desc(f, DESC_GPA, 0, tbl, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	desc(f, DESC_GPA, 0, tbl, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	desc(f, DESC_GPA, 0, tbl, (VIRTQ_MAX_SEGS + 1) * 16,
	    VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	desc(f, DESC_GPA, 0, tbl, 0xfffffff0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	/* a table outside RAM */
	desc(f, DESC_GPA, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
	/* next beyond the table (but inside the ring's size) */
	desc(f, tbl, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(f, DESC_GPA, 0, tbl, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_bad(f, &c);
}

static void
test_too_many_segments(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	uint64_t tbl = DATA_GPA + 0x1000;

	/* 15 direct descriptors, then a full-length indirect table */
	for (unsigned i = 0; i < QSIZE - 1; i++)
		desc(f, DESC_GPA, i, DATA_GPA, 1, VIRTQ_DESC_F_NEXT,
		    (uint16_t)(i + 1));
	desc(f, DESC_GPA, QSIZE - 1, tbl, VIRTQ_MAX_SEGS * 16,
	    VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		desc(f, tbl, i, DATA_GPA, 1,
		    i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	offer(f, 0);
	expect_bad(f, &c);
}

static void
test_bad_ring(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;

	desc(f, DESC_GPA, 0, DATA_GPA, 1, 0, 0);
	/* the driver claims more than size new entries */
	f->avail_idx = QSIZE + 1;
	put16(f->ram + AVAIL_GPA + 2, f->avail_idx);
	expect_bad(f, &c);
	f->avail_idx = 0x8000;
	put16(f->ram + AVAIL_GPA + 2, f->avail_idx);
	expect_bad(f, &c);
	assert_int_equal(virtq_has_avail(&f->q, &f->m), 1);
	/* exactly size is fine */
	f->avail_idx = QSIZE;
	put16(f->ram + AVAIL_GPA + 2, f->avail_idx);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	/* queue set-up the driver got wrong */
	f->q.ready = 0;
	expect_bad(f, &c);
	assert_int_equal(virtq_has_avail(&f->q, &f->m), 0);
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), -EINVAL);
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 0);
	f->q.ready = 1;
	f->q.size = 12;			/* not a power of 2 */
	expect_bad(f, &c);
	f->q.size = 512;		/* more than we offer */
	expect_bad(f, &c);
	f->q.size = QSIZE;
	f->q.desc_gpa = DESC_GPA + 8;	/* misaligned */
	expect_bad(f, &c);
	f->q.desc_gpa = RAM_SIZE - 16 * QSIZE + 16;	/* runs off RAM */
	expect_bad(f, &c);
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA + 1;
	expect_bad(f, &c);
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = USED_GPA + 2;
	expect_bad(f, &c);
	f->q.used_gpa = 0xfee00000;
	expect_bad(f, &c);
	f->q.used_gpa = USED_GPA;
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
}

/* ---- notifications ------------------------------------------------------ */

static void
test_signal_flags(void **state)
{
	struct fix *f = *state;

	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 1);
	put16(f->ram + AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 0);
	/* notifications off / on: used->flags */
	virtq_set_notify(&f->q, &f->m, 0);
	assert_int_equal(get16(f->ram + USED_GPA), VIRTQ_USED_F_NO_NOTIFY);
	virtq_set_notify(&f->q, &f->m, 1);
	assert_int_equal(get16(f->ram + USED_GPA), 0);
}

static void
test_event_idx(void **state)
{
	struct fix *f = *state;
	struct virtq_chain c;
	uint8_t *used_event = f->ram + AVAIL_GPA + 4 + 2 * QSIZE;
	uint8_t *avail_event = f->ram + USED_GPA + 4 + 8 * QSIZE;

	f->q.event_idx = 1;
	desc(f, DESC_GPA, 0, DATA_GPA, 1, 0, 0);
	/* NO_INTERRUPT is ignored with EVENT_IDX; the first one signals */
	put16(f->ram + AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(used_event, 0);
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);	/* used 1 */
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 1);
	/* used_event 1: signal when used->idx moves past 1 */
	put16(used_event, 1);
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);	/* used 2 */
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 1);
	/* used_event 5: nothing until used->idx passes 5 */
	put16(used_event, 5);
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);	/* 3 */
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 0);
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);	/* 4 */
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);	/* 5 */
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 0);
	/* a batch crossing it: 5 -> 7 passes 6 = used_event + 1 */
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);
	assert_int_equal(virtq_push(&f->q, &f->m, 0, 0), 0);
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 1);
	/* nothing new: no signal */
	assert_int_equal(virtq_should_signal(&f->q, &f->m), 0);
	/* avail_event follows what we took */
	offer(f, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(get16(avail_event), 1);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(get16(avail_event), 2);
	/* notifications off: avail_event stays; on again: catches up */
	virtq_set_notify(&f->q, &f->m, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->m, &c), 1);
	assert_int_equal(get16(avail_event), 2);
	assert_int_equal(get16(f->ram + USED_GPA), 0);	/* flags untouched */
	virtq_set_notify(&f->q, &f->m, 1);
	assert_int_equal(get16(avail_event), 3);
	/* reset forgets what was signalled */
	virtq_reset(&f->q);
	assert_int_equal(f->q.signalled_valid, 0);
	assert_int_equal(f->q.last_avail, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_direct_chain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wraparound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_buffers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_indirect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_many_segments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_flags, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
