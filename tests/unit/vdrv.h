/*
 * vdrv.h: a simulated virtio driver for unit tests of the front ends (no
 * KVM, no PCI). Guest RAM is an anonymous mapping seen through struct
 * gmem; the device is a struct virtio_dev (vmm/virtio.h) around a front
 * end, set up with virtio_dev_init and a struct virtio_host whose hooks
 * only count. vdrv_init negotiates as a driver would (3.1.1:
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK), with
 * the queues laid out at the bottom of RAM and enabled through
 * virtio_dev_queue_enable. Buffers come from a bump allocator above them.
 *
 * Requests: vdrv_add (a chain of segments, descriptors from a free list,
 * published in the avail ring), vdrv_kick (virtio_dev_kick with the lock
 * held: no I/O thread, so the front end's queue_notify runs right there),
 * vdrv_used (the next used element; its descriptors go back on the free
 * list). A malicious driver writes descriptors itself (vdrv_desc) and
 * publishes a head (vdrv_publish).
 */
#ifndef DROVER_TESTS_VDRV_H
#define DROVER_TESTS_VDRV_H

#include <stdint.h>

#include "virtio.h"

#define VDRV_QSIZE	64	/* entries per queue */

/* One buffer of a chain: readable (write 0) or writable by the device. */
struct vdrv_seg {
	uint64_t gpa;
	uint32_t len;
	int write;
};

/* A descriptor as it sits in guest RAM (2.7.5; little-endian host). */
struct vdrv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vdrv_queue {
	uint64_t desc, avail, used;	/* GPAs */
	uint16_t avail_idx;		/* next avail->idx */
	uint16_t used_seen;		/* used entries consumed */
	uint16_t free[VDRV_QSIZE];	/* free descriptor indices */
	unsigned nfree;
};

struct vdrv {
	uint8_t *ram;
	uint64_t ram_size;
	struct gmem mem;
	struct virtio_dev vd;
	struct vdrv_queue q[VIRTIO_MAX_QUEUES];
	uint64_t heap;			/* next free GPA */
	unsigned interrupts;		/* queue interrupts */
	unsigned config_interrupts;
	int inited;
};

/* Set up d around front end fe (d owns fe from here, even on failure).
 * The driver accepts the offered features in want (plus VERSION_1).
 * 0 or -errno. */
int vdrv_init(struct vdrv *d, const struct virtio_dev_ops *ops, void *fe,
    uint64_t ram_size, uint64_t want);
/* Destroy the device (and the front end, and its back end), free RAM. */
void vdrv_fini(struct vdrv *d);
/* len bytes of guest RAM (64-byte aligned, zeroed): a GPA. */
uint64_t vdrv_alloc(struct vdrv *d, uint64_t len);
/* Host pointer to gpa (which must be RAM). */
void *vdrv_hva(struct vdrv *d, uint64_t gpa);
/* Post a chain: its head, or -1 if the queue lacks descriptors. */
int vdrv_add(struct vdrv *d, unsigned q, const struct vdrv_seg *seg,
    unsigned n);
/* Publish head in queue q's avail ring (vdrv_add does it itself). */
void vdrv_publish(struct vdrv *d, unsigned q, uint16_t head);
/* Descriptor i of queue q's table, to write by hand. */
struct vdrv_desc *vdrv_desc(struct vdrv *d, unsigned q, unsigned i);
/* Notify queue q (the front end runs now). */
void vdrv_kick(struct vdrv *d, unsigned q);
/* Take the next used element of q: its head and *len, or -1 if none. */
int vdrv_used(struct vdrv *d, unsigned q, uint32_t *len);
/* Device status with the lock held. */
uint8_t vdrv_status(struct vdrv *d);

#endif
