/*
 * virtio.h: virtio devices (virtio 1.2). Three layers, each apart:
 *
 *  - front ends (virtio_blk.c, virtio_net.c, virtio_rng.c): a
 *    const struct virtio_dev_ops each, listed in virtio_frontends[]
 *    (virtio_table.c); they turn chains into back-end calls and know
 *    nothing of PCI or KVM;
 *  - the device core (virtio.c): feature negotiation, device status,
 *    queue state, and the device's I/O thread, which waits on the queues'
 *    kick eventfds and the front end's back-end fd;
 *  - the transport (virtio_pci.c): the virtio-pci modern layout
 *    (capabilities, BAR 0 with common/notify/ISR/device config and the
 *    MSI-X table and PBA) on top of pci.c.
 *
 * Back ends sit behind their own ops tables (blk.h: raw files now, qcow2
 * later; netbe.h: tap).
 *
 * Locking: struct virtio_dev.lock is held for every transport access
 * (vCPU threads) and while the I/O thread calls into the front end, so a
 * front end never runs concurrently with itself or with a reset. Lock
 * order: the bus's PCI device lock, then vd->lock; the I/O thread takes
 * only vd->lock, and virtio code never takes the PCI lock.
 *
 * Front ends run on the device's I/O thread: a kick (the notify register,
 * through KVM's ioeventfd or virtio_dev_kick) wakes it, it calls
 * queue_notify. Without the thread (unit tests), virtio_dev_kick calls
 * queue_notify itself. queue_notify is called only while the device is
 * live (DRIVER_OK set, NEEDS_RESET clear) and the queue enabled; after
 * DRIVER_OK every enabled queue gets one kick, for buffers the driver
 * made available before it.
 */
#ifndef DROVER_VMM_VIRTIO_H
#define DROVER_VMM_VIRTIO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"
#include "virtq.h"

#define VIRTIO_MAX_QUEUES	4
#define VIRTIO_CONFIG_MAX	0x1000	/* bytes of device config, at most */

/* Device IDs (5). */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_RNG		4

/* Reserved feature bits (6) the core offers itself. */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_RING_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

#define VIRTIO_MSI_NO_VECTOR	0xffff

struct virtio_dev;

/* A front end: one device model. Called with virtio_dev.lock held. */
struct virtio_dev_ops {
	const char *name;
	uint16_t device_id;		/* VIRTIO_ID_* */
	uint16_t pci_class;		/* class << 8 | subclass */
	unsigned nqueues;		/* <= VIRTIO_MAX_QUEUES */
	uint32_t config_size;		/* bytes of device config (<= 4 KiB) */
	/* Device-specific feature bits offered (bits 0..23; others are
	 * dropped: the core offers VERSION_1, RING_EVENT_IDX and
	 * INDIRECT_DESC itself). NULL: none. */
	uint64_t (*features)(void *fe);
	/* Device config space; off + len <= config_size (checked). */
	void (*config_read)(void *fe, uint32_t off, uint8_t *data,
	    unsigned len);
	void (*config_write)(void *fe, uint32_t off, const uint8_t *data,
	    unsigned len);
	/* DRIVER_OK: the driver accepted features and set up queues.
	 * 0, or -errno: the device reports NEEDS_RESET. */
	int (*start)(void *fe, struct virtio_dev *vd, uint64_t features);
	/* The driver made buffers available on queue q (I/O thread). */
	void (*queue_notify)(void *fe, unsigned q);
	/* A back-end fd the I/O thread should wait on (readable), or -1;
	 * event() runs when it is (POLLIN, POLLERR or POLLHUP), whatever the
	 * device status. Asked again before every wait: return -1 while
	 * event() could not make progress (e.g. no receive buffers), or the
	 * thread spins; a queue_notify then brings it back. Both NULL if
	 * none. */
	int (*event_fd)(void *fe);
	void (*event)(void *fe);
	/* Device reset (status 0): drop every in-flight reference. */
	void (*reset)(void *fe);
	void (*destroy)(void *fe);
};

/* Which front end (an index into virtio_frontends[]). */
enum virtio_kind {
	VIRTIO_KIND_BLK,
	VIRTIO_KIND_NET,
	VIRTIO_KIND_RNG,
	VIRTIO_KIND_COUNT,
};
extern const struct virtio_dev_ops *const virtio_frontends[VIRTIO_KIND_COUNT];
/* The front ends (virtio_blk.c, virtio_net.c, virtio_rng.c). */
extern const struct virtio_dev_ops virtio_blk_ops, virtio_net_ops,
    virtio_rng_ops;

/* What the VMM provides to a device: memory and interrupts. */
struct virtio_host {
	void *arg;
	const struct gmem *mem;
	/* MSI-X vector vec of this device now sends (addr, data); the VMM
	 * may (re)build an irqfd route. 0 or -errno. */
	int (*msi_route)(void *arg, unsigned vec, uint64_t addr,
	    uint32_t data);
	/* Raise vector vec (as last routed). Any thread. */
	void (*msi_fire)(void *arg, unsigned vec);
	/* Register (on = 1) or remove an ioeventfd: a 4-byte (or any
	 * length, datamatch-free) guest write at gpa signals efd. 0 or
	 * -errno; without one the transport writes efd itself. */
	int (*ioeventfd)(void *arg, uint64_t gpa, int efd, int on);
};

/* The device core's state; the transport and the front end share it. */
struct virtio_dev {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *fe;			/* front end state */
	struct virtio_host host;
	uint64_t host_features;		/* offered: device | core bits */
	uint64_t guest_features;	/* accepted by the driver */
	uint32_t dfselect, gfselect;	/* feature window selectors */
	uint8_t status;
	uint8_t isr;			/* bit 0 queue, bit 1 config */
	uint16_t config_vector;		/* MSI-X vector for config change */
	uint16_t queue_select;
	uint32_t config_generation;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	int kick_fd[VIRTIO_MAX_QUEUES];	/* eventfds: notify -> I/O thread */
	int stop_fd;			/* eventfd: ends the I/O thread */
	pthread_t thread;
	int thread_started;
	void *transport;		/* virtio_pci state */
	/* Interrupt a queue or config change: set by the transport (NULL:
	 * none). vector may be VIRTIO_MSI_NO_VECTOR or out of range. */
	void (*interrupt)(struct virtio_dev *vd, uint16_t vector, int isr_bit);
	unsigned broken_logged;		/* virtio_dev_broken warnings so far */
};

/* Front-end constructors (each file's own). NULL on failure (logged). */
struct blk_backend;
struct net_backend;
/* serial: up to 20 bytes (VIRTIO_BLK_ID_BYTES), or NULL. Owns be. */
void *virtio_blk_create(struct blk_backend *be, const char *serial);
/* Owns nb. */
void *virtio_net_create(struct net_backend *nb, const uint8_t mac[6]);
void *virtio_rng_create(void);

/* Set up vd around front end fe (created by its own *_create). 0/-errno;
 * on failure fe is still the caller's. */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops,
    void *fe, const struct virtio_host *host);
/* Start / stop the I/O thread. */
int virtio_dev_start_thread(struct virtio_dev *vd);
void virtio_dev_stop_thread(struct virtio_dev *vd);
/* Stop the thread, destroy the front end, close fds. Destroy the
 * transport (virtio_pci_destroy) first. */
void virtio_dev_destroy(struct virtio_dev *vd);

/* For the transport (called with lock held). */
void virtio_dev_set_status(struct virtio_dev *vd, uint8_t status);
void virtio_dev_reset(struct virtio_dev *vd);
/* The driver notified queue q (MMIO exit path, no ioeventfd). */
void virtio_dev_kick(struct virtio_dev *vd, unsigned q);
/* queue_enable written 1 (4.1.4.3): check the size the driver chose (a
 * power of 2, <= VIRTQ_MAX_SIZE), take the negotiated EVENT_IDX, mark it
 * ready. 0 or -EINVAL (the queue stays disabled). */
int virtio_dev_queue_enable(struct virtio_dev *vd, unsigned q);

/* For front ends (lock held). */
/* Copy [off, off + len) of a front end's config structure cfg (size
 * bytes) to data; bytes past its end read as 0. */
void virtio_config_copy(const void *cfg, size_t size, uint32_t off,
    uint8_t *data, unsigned len);
/* Queue q if the driver enabled it, else NULL. */
struct virtq *virtio_queue(struct virtio_dev *vd, unsigned q);
const struct gmem *virtio_mem(const struct virtio_dev *vd);
/* Used buffers were added to q: interrupt the driver if it wants one. */
void virtio_notify_used(struct virtio_dev *vd, unsigned q);
/* Device config changed (e.g. capacity): config interrupt. */
void virtio_notify_config(struct virtio_dev *vd);
/* The driver broke a rule on this device: set NEEDS_RESET, tell it. */
void virtio_dev_broken(struct virtio_dev *vd, const char *why);

#endif
