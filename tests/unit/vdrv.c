/* vdrv.c: a simulated virtio driver for unit tests (see vdrv.h). */
#include "vdrv.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#define VDRV_RING_BASE	0x1000u
#define VDRV_RING_SPAN	0x2000u		/* one queue's three areas */

static struct vdrv *
vdrv_of(struct virtio_dev *vd)
{
	return (struct vdrv *)(void *)((char *)vd - offsetof(struct vdrv, vd));
}

static void
vdrv_interrupt(struct virtio_dev *vd, uint16_t vector, int isr_bit)
{
	struct vdrv *d = vdrv_of(vd);

	(void)vector;
	if (isr_bit & 1)
		d->interrupts++;
	if (isr_bit & 2)
		d->config_interrupts++;
}

static int
vdrv_msi_route(void *arg, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)arg;
	(void)vec;
	(void)addr;
	(void)data;
	return 0;
}

static void
vdrv_msi_fire(void *arg, unsigned vec)
{
	(void)arg;
	(void)vec;
}

static int
vdrv_ioeventfd(void *arg, uint64_t gpa, int efd, int on)
{
	(void)arg;
	(void)gpa;
	(void)efd;
	(void)on;
	return -ENOSYS;
}

static void
vdrv_set_status(struct vdrv *d, uint8_t st)
{
	pthread_mutex_lock(&d->vd.lock);
	virtio_dev_set_status(&d->vd, st);
	pthread_mutex_unlock(&d->vd.lock);
}

uint8_t
vdrv_status(struct vdrv *d)
{
	uint8_t st;

	pthread_mutex_lock(&d->vd.lock);
	st = d->vd.status;
	pthread_mutex_unlock(&d->vd.lock);
	return st;
}

/* Queue i's areas (2.7: desc 16-, avail 2-, used 4-aligned) and free list. */
static int
vdrv_queue_setup(struct vdrv *d, unsigned i)
{
	struct vdrv_queue *q = &d->q[i];
	struct virtq *vq = &d->vd.vq[i];
	int rc;

	q->desc = VDRV_RING_BASE + (uint64_t)i * VDRV_RING_SPAN;
	q->avail = q->desc + 16 * VDRV_QSIZE;
	q->used = q->desc + 0x1000;
	q->nfree = VDRV_QSIZE;
	for (unsigned k = 0; k < VDRV_QSIZE; k++)
		q->free[k] = (uint16_t)(VDRV_QSIZE - 1 - k);
	pthread_mutex_lock(&d->vd.lock);
	vq->size = VDRV_QSIZE;
	vq->desc_gpa = q->desc;
	vq->avail_gpa = q->avail;
	vq->used_gpa = q->used;
	vq->msix_vector = (uint16_t)i;
	rc = virtio_dev_queue_enable(&d->vd, i);
	pthread_mutex_unlock(&d->vd.lock);
	return rc;
}

static int
vdrv_negotiate(struct vdrv *d, uint64_t want)
{
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE;

	vdrv_set_status(d, 0);
	vdrv_set_status(d, st);
	st |= VIRTIO_STATUS_DRIVER;
	vdrv_set_status(d, st);
	pthread_mutex_lock(&d->vd.lock);
	d->vd.guest_features = d->vd.host_features &
	    (want | 1ull << VIRTIO_F_VERSION_1);
	pthread_mutex_unlock(&d->vd.lock);
	st |= VIRTIO_STATUS_FEATURES_OK;
	vdrv_set_status(d, st);
	if (!(vdrv_status(d) & VIRTIO_STATUS_FEATURES_OK))
		return -EPROTO;
	for (unsigned i = 0; i < d->vd.ops->nqueues; i++)
		if (vdrv_queue_setup(d, i) < 0)
			return -EINVAL;
	st |= VIRTIO_STATUS_DRIVER_OK;
	vdrv_set_status(d, st);
	return vdrv_status(d) == st ? 0 : -EPROTO;
}

int
vdrv_init(struct vdrv *d, const struct virtio_dev_ops *ops, void *fe,
    uint64_t ram_size, uint64_t want)
{
	struct virtio_host host = {
		.arg = d, .mem = &d->mem, .msi_route = vdrv_msi_route,
		.msi_fire = vdrv_msi_fire, .ioeventfd = vdrv_ioeventfd,
	};
	int rc;

	memset(d, 0, sizeof(*d));
	host.mem = &d->mem;
	d->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->ram == MAP_FAILED) {
		d->ram = NULL;
		if (fe != NULL)
			ops->destroy(fe);
		return -ENOMEM;
	}
	d->ram_size = ram_size;
	gmem_layout(&d->mem, d->ram, ram_size);
	d->heap = VDRV_RING_BASE + VIRTIO_MAX_QUEUES * VDRV_RING_SPAN;
	rc = virtio_dev_init(&d->vd, ops, fe, &host);
	if (rc < 0) {
		if (fe != NULL)
			ops->destroy(fe);
		munmap(d->ram, ram_size);
		d->ram = NULL;
		return rc;
	}
	d->inited = 1;
	d->vd.interrupt = vdrv_interrupt;
	return vdrv_negotiate(d, want);
}

void
vdrv_fini(struct vdrv *d)
{
	if (d->inited)
		virtio_dev_destroy(&d->vd);
	d->inited = 0;
	if (d->ram != NULL)
		munmap(d->ram, d->ram_size);
	d->ram = NULL;
}

uint64_t
vdrv_alloc(struct vdrv *d, uint64_t len)
{
	uint64_t gpa = d->heap;

	d->heap = (d->heap + len + 63) & ~63ull;
	if (d->heap > d->ram_size)
		return 0;
	memset(d->ram + gpa, 0, len);
	return gpa;
}

void *
vdrv_hva(struct vdrv *d, uint64_t gpa)
{
	return gmem_ptr(&d->mem, gpa, 1);
}

struct vdrv_desc *
vdrv_desc(struct vdrv *d, unsigned q, unsigned i)
{
	return (struct vdrv_desc *)vdrv_hva(d, d->q[q].desc + 16ull * i);
}

void
vdrv_publish(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t *avail = vdrv_hva(d, vq->avail);

	avail[2 + vq->avail_idx % VDRV_QSIZE] = head;
	/* used_event (EVENT_IDX): an interrupt for every completion. */
	avail[2 + VDRV_QSIZE] = vq->used_seen;
	vq->avail_idx++;
	__atomic_store_n(&avail[1], vq->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int
vdrv_add(struct vdrv *d, unsigned q, const struct vdrv_seg *seg, unsigned n)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t idx[VDRV_QSIZE];

	if (n == 0 || n > vq->nfree)
		return -1;
	for (unsigned k = 0; k < n; k++)
		idx[k] = vq->free[--vq->nfree];
	for (unsigned k = 0; k < n; k++) {
		struct vdrv_desc *dd = vdrv_desc(d, q, idx[k]);

		dd->addr = seg[k].gpa;
		dd->len = seg[k].len;
		dd->flags = (uint16_t)((seg[k].write ? VIRTQ_DESC_F_WRITE : 0) |
		    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		dd->next = k + 1 < n ? idx[k + 1] : 0;
	}
	vdrv_publish(d, q, idx[0]);
	return idx[0];
}

void
vdrv_kick(struct vdrv *d, unsigned q)
{
	pthread_mutex_lock(&d->vd.lock);
	virtio_dev_kick(&d->vd, q);
	pthread_mutex_unlock(&d->vd.lock);
}

/* Put chain head's descriptors back on the free list (our own chains). */
static void
vdrv_free_chain(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t i = head;

	for (unsigned k = 0; k < VDRV_QSIZE && vq->nfree < VDRV_QSIZE; k++) {
		struct vdrv_desc *dd = vdrv_desc(d, q, i);

		vq->free[vq->nfree++] = i;
		if (!(dd->flags & VIRTQ_DESC_F_NEXT))
			break;
		i = dd->next % VDRV_QSIZE;
	}
}

int
vdrv_used(struct vdrv *d, unsigned q, uint32_t *len)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t *used = vdrv_hva(d, vq->used);
	uint32_t *elem;
	uint16_t head;

	if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == vq->used_seen)
		return -1;
	elem = (uint32_t *)(void *)(used + 2) + 2 * (vq->used_seen % VDRV_QSIZE);
	head = (uint16_t)elem[0];
	if (len)
		*len = elem[1];
	vq->used_seen++;
	vdrv_free_chain(d, q, head % VDRV_QSIZE);
	return head;
}
