/*
 * virtq.h: the split virtqueue (virtio 1.2, 2.7), as a device walks it.
 * No KVM and no threads here: the rings live in guest memory (struct
 * gmem) and every guest-written value is checked before use, so a
 * malicious driver can only fail its own requests (2.7.5.3: a walk never
 * follows more descriptors than the queue size; indirect tables are
 * bounded by their length and may not nest).
 *
 * One chain becomes an array of host iovecs: first the device-readable
 * ("out") segments, then the device-writable ("in") ones. A segment that
 * is not wholly inside guest RAM, a writable segment before a readable
 * one, a loop, or too many segments makes virtq_pop return -EINVAL; the
 * caller then marks the device broken (DEVICE_NEEDS_RESET) rather than
 * guessing.
 */
#ifndef DROVER_VMM_VIRTQ_H
#define DROVER_VMM_VIRTQ_H

#include <stdint.h>
#include <sys/uio.h>

#include "guestmem.h"

#define VIRTQ_MAX_SIZE		256	/* queue size the devices offer */
#define VIRTQ_MAX_SEGS		(VIRTQ_MAX_SIZE + 2)	/* per chain */

/* Descriptor flags (2.7.5). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
/* avail->flags / used->flags (2.7.7). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	1

/* One queue as the driver configured it through the transport. */
struct virtq {
	uint16_t size;		/* entries, a power of 2 <= VIRTQ_MAX_SIZE */
	int ready;		/* queue_enable written 1 */
	uint16_t msix_vector;	/* transport: the queue's MSI-X vector */
	uint64_t desc_gpa;	/* descriptor table: 16 * size bytes */
	uint64_t avail_gpa;	/* driver area: 6 + 2 * size bytes */
	uint64_t used_gpa;	/* device area: 6 + 8 * size bytes */
	int event_idx;		/* VIRTIO_F_RING_EVENT_IDX negotiated */
	/* Device-side state. */
	uint16_t last_avail;	/* next avail->ring entry to take */
	uint16_t used_idx;	/* our copy of used->idx */
	uint16_t signalled_used;	/* used_idx at the last interrupt */
	int signalled_valid;
	int no_notify;		/* virtq_set_notify(q, m, 0) in force */
	const char *err;	/* why the last virtq_pop/push failed */
};

/* A descriptor chain taken from the avail ring. */
struct virtq_chain {
	uint16_t head;		/* for virtq_push */
	unsigned nout;		/* iov[0 .. nout): device-readable */
	unsigned nin;		/* iov[nout .. nout + nin): device-writable */
	uint64_t out_len;	/* bytes in the readable segments */
	uint64_t in_len;	/* bytes in the writable segments */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Reset device-side state (on device reset, or a new queue set-up). */
void virtq_reset(struct virtq *q);
/*
 * Take the next available chain: 1 and *c filled, 0 if the ring is empty,
 * -EINVAL if the queue is not ready or the driver broke the rules
 * (nothing is taken then; q->err says which rule, for virtio_dev_broken).
 * With EVENT_IDX and notifications on, avail_event follows last_avail.
 */
int virtq_pop(struct virtq *q, const struct gmem *m, struct virtq_chain *c);
/* Hand chain head back with len bytes written into its "in" segments.
 * 0, or -EINVAL (queue not ready, or head out of range: a device bug). */
int virtq_push(struct virtq *q, const struct gmem *m, uint16_t head,
    uint32_t len);
/* Whether the driver wants an interrupt now (flags or used_event); call
 * once after a batch of virtq_push, it records what it signalled. */
int virtq_should_signal(struct virtq *q, const struct gmem *m);
/* Tell the driver whether we want notifications (VIRTQ_USED_F_NO_NOTIFY,
 * or avail_event with EVENT_IDX). Ends with a full fence: after turning
 * notifications on, check virtq_has_avail again before sleeping. */
void virtq_set_notify(struct virtq *q, const struct gmem *m, int on);
/* 1 if the avail ring has chains we have not taken. */
int virtq_has_avail(const struct virtq *q, const struct gmem *m);

/* Copy helpers over a chain's segments. */
/* Gather up to len bytes of the readable part starting at off; bytes. */
uint64_t virtq_read(const struct virtq_chain *c, uint64_t off, void *dst,
    uint64_t len);
/* Scatter len bytes into the writable part at off; bytes written. */
uint64_t virtq_write(const struct virtq_chain *c, uint64_t off,
    const void *src, uint64_t len);

#endif
