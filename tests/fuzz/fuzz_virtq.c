/*
 * libFuzzer target: virtqueue rings are written by the guest. The input
 * fills a small guest RAM (4 KiB low, 4 KiB at 4 GiB) holding the rings;
 * the device then pops, reads, writes and pushes chains while the rest of
 * the input keeps rewriting RAM between steps, as a racing driver would.
 * Every segment handed out must lie inside guest RAM, and nothing may
 * read or write outside it (ASan checks the rest).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtq.h"

#define LOW	4096u
#define HIGH	4096u
#define STEPS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;

/* Every segment inside RAM, the counts and lengths consistent. */
static void
check_chain(const struct virtq_chain *c, uint16_t qsize)
{
	uint64_t out = 0, in = 0;

	if (c->head >= qsize || c->nout + c->nin > VIRTQ_MAX_SEGS)
		abort();
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		const uint8_t *b = c->iov[i].iov_base;

		if (b < ram || b > ram + LOW + HIGH ||
		    c->iov[i].iov_len > (size_t)(ram + LOW + HIGH - b))
			abort();
		if (i < c->nout)
			out += c->iov[i].iov_len;
		else
			in += c->iov[i].iov_len;
	}
	if (out != c->out_len || in != c->in_len)
		abort();
}

/* Use a chain as a device would: gather, scatter, hand back. */
static void
serve(struct virtq *q, const struct gmem *m, const struct virtq_chain *c)
{
	static uint8_t buf[LOW + HIGH];
	uint64_t n;

	check_chain(c, q->size);
	n = virtq_read(c, 1, buf, sizeof(buf));
	if (n > c->out_len)
		abort();
	memset(buf, 0x5a, sizeof(buf));
	n = virtq_write(c, 3, buf, c->in_len);
	if (n > c->in_len)
		abort();
	if (virtq_push(q, m, c->head, (uint32_t)n) < 0)
		abort();	/* the queue was fine a moment ago */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain c;
	struct virtq q;
	struct gmem m;
	size_t n;

	if (ram == NULL && (ram = aligned_alloc(4096, LOW + HIGH)) == NULL)
		return 0;
	if (size < 8)
		return 0;
	memset(ram, 0, LOW + HIGH);
	m = (struct gmem){ .host = ram, .low_size = LOW, .high_size = HIGH };
	memset(&q, 0, sizeof(q));
	q.size = (uint16_t)(1u << (data[0] % 6));	/* 1 .. 32 */
	q.ready = 1;
	q.event_idx = data[1] & 1;
	q.desc_gpa = data[2] & 0x80 ? 0x100000000ull : 0;
	q.avail_gpa = 0x400 + (data[3] & 0x7);	/* sometimes misaligned */
	q.used_gpa = data[2] & 0x40 ? 0x100000800ull : 0x800;
	virtq_reset(&q);
	q.last_avail = q.used_idx = (uint16_t)(data[4] | data[5] << 8);
	data += 8;
	size -= 8;
	n = size < LOW + HIGH ? size : LOW + HIGH;
	memcpy(ram, data, n);
	data += n;
	size -= n;
	for (unsigned step = 0; step < STEPS; step++) {
		int rc = virtq_pop(&q, &m, &c);

		if (rc > 0)
			serve(&q, &m, &c);
		(void)virtq_should_signal(&q, &m);
		virtq_set_notify(&q, &m, step & 1);
		(void)virtq_has_avail(&q, &m);
		/* The driver rewrites a 16-bit word somewhere. */
		if (size < 4) {
			if (rc <= 0)
				break;
			continue;
		}
		n = (size_t)(data[0] | data[1] << 8) % (LOW + HIGH - 1);
		memcpy(ram + n, data + 2, 2);
		data += 4;
		size -= 4;
	}
	return 0;
}
