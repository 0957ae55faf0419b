/*
 * virtq.c: the split virtqueue as a device walks it (virtio 1.2, 2.7).
 *
 * Everything in the rings is written by the guest, possibly while we read
 * it from another thread: every index is read once (an atomic load or a
 * copy followed by a compiler barrier), then checked, then used. No guest
 * value is trusted: ring indices are reduced modulo the queue size,
 * descriptor indices are checked against the table they index, every
 * buffer goes through gmem_ptr (wholly inside guest RAM or refused), and
 * a walk visits at most as many descriptors as its table holds, so a loop
 * ends it (2.7.5.3.1, 2.7.5.3.2).
 *
 * Memory ordering (2.7.13, and 2.7.7 / 2.7.10 for notifications):
 *  - pop: load avail->idx, acquire fence, then the ring entry and the
 *    descriptors it names;
 *  - push: write the used element, release fence, store used->idx;
 *  - should_signal: full fence between publishing used->idx and reading
 *    avail->flags or used_event (else a driver that just re-enabled
 *    interrupts could be missed);
 *  - set_notify: full fence after writing used->flags or avail_event, so
 *    the caller's next virtq_has_avail sees any buffer added meanwhile.
 */
#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Ring layouts (2.7.5, 2.7.6, 2.7.8), little-endian in guest memory. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#define VIRTQ_DESC_SIZE		16
#define VIRTQ_AVAIL_RING	4	/* avail: flags, idx, ring[size], used_event */
#define VIRTQ_USED_RING		4	/* used: flags, idx, elem[size], avail_event */
#define VIRTQ_USED_ELEM		8

/* Host pointers to one queue's three areas, checked for this call. */
struct virtq_map {
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
};

static uint16_t
virtq_ld16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p,
	    __ATOMIC_RELAXED));
}

static void
virtq_st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELAXED);
}

static void
virtq_st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

static int
virtq_fail(struct virtq *q, const char *why)
{
	q->err = why;
	return -EINVAL;
}

/* A host pointer to [gpa, gpa + len) aligned to align, or NULL. */
static uint8_t *
virtq_area(const struct gmem *m, uint64_t gpa, uint64_t len, unsigned align)
{
	uint8_t *p;

	if (gpa % align != 0)
		return NULL;
	p = gmem_ptr(m, gpa, len);
	if (p == NULL || (uintptr_t)p % align != 0)
		return NULL;
	return p;
}

/*
 * Check the queue as configured and map its areas: the size is a power
 * of 2 no larger than we offered (2.7), and each area is aligned as 2.7
 * requires (descriptors 16, avail 2, used 4) and wholly in RAM.
 */
static int
virtq_map(struct virtq *q, const struct gmem *m, struct virtq_map *r)
{
	uint64_t n = q->size;

	if (!q->ready)
		return virtq_fail(q, "queue not ready");
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) != 0)
		return virtq_fail(q, "bad queue size");
	r->desc = virtq_area(m, q->desc_gpa, VIRTQ_DESC_SIZE * n, 16);
	r->avail = virtq_area(m, q->avail_gpa, VIRTQ_AVAIL_RING + 2 * n + 2,
	    2);
	r->used = virtq_area(m, q->used_gpa,
	    VIRTQ_USED_RING + VIRTQ_USED_ELEM * n + 2, 4);
	if (r->desc == NULL || r->avail == NULL || r->used == NULL)
		return virtq_fail(q, "ring outside RAM or misaligned");
	return 0;
}

void
virtq_reset(struct virtq *q)
{
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = 0;
	q->no_notify = 0;
	q->err = NULL;
}

/* Copy descriptor i of table t once; the guest may rewrite it meanwhile. */
static void
virtq_desc_get(const uint8_t *t, unsigned i, struct virtq_desc *d)
{
	uint8_t raw[VIRTQ_DESC_SIZE];

	memcpy(raw, t + (size_t)i * VIRTQ_DESC_SIZE, sizeof(raw));
	/* Use only the copy from here on (no second fetch). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	memcpy(&d->addr, raw, 8);
	memcpy(&d->len, raw + 8, 4);
	memcpy(&d->flags, raw + 12, 2);
	memcpy(&d->next, raw + 14, 2);
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Where the walk is: the table it reads and how many it may still visit. */
struct virtq_walk {
	const uint8_t *table;
	unsigned entries;	/* descriptors in table */
	unsigned budget;	/* visits left in this table (loop bound) */
	int indirect;		/* table is an indirect one */
};

/* Append the buffer d describes to c (2.7.4: readable ones first). */
static int
virtq_add_seg(struct virtq *q, const struct gmem *m, const struct virtq_desc *d,
    struct virtq_chain *c)
{
	void *p;
	unsigned n = c->nout + c->nin;

	if (n >= VIRTQ_MAX_SEGS)
		return virtq_fail(q, "chain has too many segments");
	p = gmem_ptr(m, d->addr, d->len);
	if (p == NULL)
		return virtq_fail(q, "buffer outside RAM");
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		c->nin++;
		c->in_len += d->len;
	} else {
		/* 2.7.4.2: the driver puts device-readable buffers first. */
		if (c->nin != 0)
			return virtq_fail(q, "readable buffer after writable");
		c->nout++;
		c->out_len += d->len;
	}
	c->iov[n].iov_base = p;
	c->iov[n].iov_len = d->len;
	return 0;
}

/*
 * Switch the walk to the indirect table d points at (2.7.5.3): only from
 * the main table (no nesting), never with NEXT also set, a whole number
 * of descriptors, at most VIRTQ_MAX_SEGS of them, wholly in RAM. 2.7.5.3.2:
 * the WRITE flag of the descriptor pointing at the table is ignored.
 */
static int
virtq_enter_indirect(struct virtq *q, const struct gmem *m,
    const struct virtq_desc *d, struct virtq_walk *w)
{
	const uint8_t *t;

	if (w->indirect)
		return virtq_fail(q, "nested indirect descriptor");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return virtq_fail(q, "indirect descriptor with NEXT");
	if (d->len == 0 || d->len % VIRTQ_DESC_SIZE != 0 ||
	    d->len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SEGS)
		return virtq_fail(q, "bad indirect table length");
	t = gmem_ptr(m, d->addr, d->len);
	if (t == NULL)
		return virtq_fail(q, "indirect table outside RAM");
	w->table = t;
	w->entries = d->len / VIRTQ_DESC_SIZE;
	w->budget = w->entries;
	w->indirect = 1;
	return 0;
}

/* Walk the chain starting at head into c; nothing is taken on failure. */
static int
virtq_walk_chain(struct virtq *q, const struct gmem *m,
    const struct virtq_map *r, uint16_t head, struct virtq_chain *c)
{
	struct virtq_walk w = { r->desc, q->size, q->size, 0 };
	struct virtq_desc d;
	unsigned i = head;
	int rc;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		if (i >= w.entries)
			return virtq_fail(q, "descriptor index out of range");
		if (w.budget-- == 0)
			return virtq_fail(q, "descriptor loop");
		virtq_desc_get(w.table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			rc = virtq_enter_indirect(q, m, &d, &w);
			if (rc < 0)
				return rc;
			i = 0;
			continue;
		}
		rc = virtq_add_seg(q, m, &d, c);
		if (rc < 0)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int
virtq_pop(struct virtq *q, const struct gmem *m, struct virtq_chain *c)
{
	struct virtq_map r;
	uint16_t avail_idx, head;
	int rc;

	rc = virtq_map(q, m, &r);
	if (rc < 0)
		return rc;
	avail_idx = virtq_ld16(r.avail + 2);
	if (avail_idx == q->last_avail)
		return 0;
	/* 2.7.6: the driver never gets more than size ahead of us. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return virtq_fail(q, "avail index ran past the queue size");
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = virtq_ld16(r.avail + VIRTQ_AVAIL_RING +
	    2 * (q->last_avail & (q->size - 1)));
	rc = virtq_walk_chain(q, m, &r, head, c);
	if (rc < 0)
		return rc;
	q->last_avail++;
	/* 2.7.10: with EVENT_IDX, ask to be notified of the next one. */
	if (q->event_idx && !q->no_notify)
		virtq_st16(r.used + VIRTQ_USED_RING + VIRTQ_USED_ELEM * q->size,
		    q->last_avail);
	return 1;
}

int
virtq_push(struct virtq *q, const struct gmem *m, uint16_t head,
    uint32_t len)
{
	struct virtq_map r;
	uint8_t *e;
	int rc;

	rc = virtq_map(q, m, &r);
	if (rc < 0)
		return rc;
	if (head >= q->size)
		return virtq_fail(q, "pushed head out of range");
	/* 2.7.8: used elements are 32-bit id and len. */
	e = r.used + VIRTQ_USED_RING +
	    VIRTQ_USED_ELEM * (q->used_idx & (q->size - 1));
	virtq_st32(e, head);
	virtq_st32(e + 4, len);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx++;
	virtq_st16(r.used + 2, q->used_idx);
	return 0;
}

int
virtq_should_signal(struct virtq *q, const struct gmem *m)
{
	struct virtq_map r;
	uint16_t old, new, event;
	int valid;

	if (virtq_map(q, m, &r) < 0)
		return 0;
	/* used->idx was published; now read what the driver asked for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)	/* 2.7.7.2 */
		return !(virtq_ld16(r.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* 2.7.10: interrupt when used->idx passes used_event. */
	event = virtq_ld16(r.avail + VIRTQ_AVAIL_RING + 2 * q->size);
	old = q->signalled_used;
	valid = q->signalled_valid;
	new = q->used_idx;
	q->signalled_used = new;
	q->signalled_valid = 1;
	if (!valid)
		return 1;
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void
virtq_set_notify(struct virtq *q, const struct gmem *m, int on)
{
	struct virtq_map r;

	q->no_notify = !on;
	if (virtq_map(q, m, &r) < 0)
		return;
	if (q->event_idx) {
		/* 2.7.10: avail_event; nothing to write to turn them off. */
		if (on)
			virtq_st16(r.used + VIRTQ_USED_RING +
			    VIRTQ_USED_ELEM * q->size, q->last_avail);
	} else {
		virtq_st16(r.used, on ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int
virtq_has_avail(const struct virtq *q, const struct gmem *m)
{
	struct virtq tmp = *q;
	struct virtq_map r;

	if (virtq_map(&tmp, m, &r) < 0)
		return 0;
	return virtq_ld16(r.avail + 2) != q->last_avail;
}

uint64_t
virtq_read(const struct virtq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *d = dst;
	uint64_t done = 0, n;

	for (unsigned i = 0; i < c->nout && i < VIRTQ_MAX_SEGS && done < len;
	    i++) {
		const struct iovec *v = &c->iov[i];

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		n = v->iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy(d + done, (const uint8_t *)v->iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t
virtq_write(const struct virtq_chain *c, uint64_t off, const void *src,
    uint64_t len)
{
	const uint8_t *s = src;
	uint64_t done = 0, n;
	unsigned end = c->nout + c->nin;

	if (end > VIRTQ_MAX_SEGS)
		end = VIRTQ_MAX_SEGS;
	for (unsigned i = c->nout; i < end && done < len; i++) {
		const struct iovec *v = &c->iov[i];

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		n = v->iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)v->iov_base + off, s + done, n);
		done += n;
		off = 0;
	}
	return done;
}
