/*
 * virtio.c: the virtio device core (see virtio.h): feature negotiation
 * (virtio 1.2, 2.2 and 3.1), the device status state machine (2.1),
 * device reset, queue enabling, and the device's I/O thread, which waits
 * on the queues' kick eventfds (the transport's notify registers, written
 * by KVM through an ioeventfd, or by virtio_dev_kick) and on the front
 * end's back-end fd, and calls the front end with vd->lock held.
 *
 * The front end table virtio_frontends[] is in virtio_table.c, so that
 * tests can link this file without the real front ends.
 */
#include "virtio.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

/* Device-specific feature bits are 0..23 (6); the rest are the core's. */
#define VIRTIO_DEV_FEATURE_MASK	((1ull << 24) - 1)
#define VIRTIO_CORE_FEATURES	((1ull << VIRTIO_F_VERSION_1) | \
	(1ull << VIRTIO_F_RING_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC))
/* Status bits only the driver sets (2.1). */
#define VIRTIO_STATUS_DRIVER_BITS (VIRTIO_STATUS_ACKNOWLEDGE | \
	VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
	VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)
/* virtio_dev_broken logs this many times, then only at debug level. */
#define VIRTIO_BROKEN_LOG_MAX	8

/* Queues and negotiation back to their state at power-on. */
static void
virtio_dev_clear(struct virtio_dev *vd)
{
	vd->guest_features = 0;
	vd->dfselect = vd->gfselect = 0;
	vd->status = 0;
	vd->isr = 0;
	vd->config_vector = VIRTIO_MSI_NO_VECTOR;
	vd->queue_select = 0;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct virtq *q = &vd->vq[i];

		memset(q, 0, sizeof(*q));
		q->size = VIRTQ_MAX_SIZE;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		virtq_reset(q);
	}
}

static int
virtio_dev_check_ops(const struct virtio_dev_ops *ops)
{
	if (ops == NULL || ops->nqueues == 0 ||
	    ops->nqueues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_CONFIG_MAX)
		return -EINVAL;
	if ((ops->event_fd == NULL) != (ops->event == NULL))
		return -EINVAL;
	return 0;
}

static void
virtio_dev_close_fds(struct virtio_dev *vd)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (vd->kick_fd[i] >= 0)
			close(vd->kick_fd[i]);
		vd->kick_fd[i] = -1;
	}
	if (vd->stop_fd >= 0)
		close(vd->stop_fd);
	vd->stop_fd = -1;
}

int
virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops,
    void *fe, const struct virtio_host *host)
{
	int rc;

	if (virtio_dev_check_ops(ops) < 0 || host == NULL ||
	    host->mem == NULL) {
		log_warnx("%s: bad device description",
		    ops && ops->name ? ops->name : "virtio");
		return -EINVAL;
	}
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->fe = fe;
	vd->host = *host;
	vd->stop_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->kick_fd[i] = -1;
	rc = pthread_mutex_init(&vd->lock, NULL);
	if (rc != 0)
		return -rc;
	for (unsigned i = 0; i < ops->nqueues; i++) {
		vd->kick_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vd->kick_fd[i] < 0)
			goto fail;
	}
	vd->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vd->stop_fd < 0)
		goto fail;
	vd->host_features = (ops->features ? ops->features(fe) : 0) &
	    VIRTIO_DEV_FEATURE_MASK;
	vd->host_features |= VIRTIO_CORE_FEATURES;
	virtio_dev_clear(vd);
	return 0;
fail:
	rc = -errno;
	log_warn("%s: eventfd", ops->name);
	virtio_dev_close_fds(vd);
	pthread_mutex_destroy(&vd->lock);
	return rc;
}

/* 2.1.2 and 4.1.4.3.2: writing 0 to device_status resets the device. */
void
virtio_dev_reset(struct virtio_dev *vd)
{
	if (vd->ops->reset)
		vd->ops->reset(vd->fe);
	virtio_dev_clear(vd);
}

/*
 * 3.1.1 step 5 and 2.2.1: FEATURES_OK sticks only if the driver accepted
 * nothing we did not offer, and (a modern-only device) VERSION_1.
 */
static int
virtio_features_ok(const struct virtio_dev *vd)
{
	if (vd->guest_features & ~vd->host_features) {
		log_debug("%s: driver accepted features %#llx not offered",
		    vd->ops->name, (unsigned long long)(vd->guest_features &
		    ~vd->host_features));
		return 0;
	}
	if (!(vd->guest_features & (1ull << VIRTIO_F_VERSION_1))) {
		log_debug("%s: driver did not accept VERSION_1",
		    vd->ops->name);
		return 0;
	}
	return 1;
}

/* DRIVER_OK (3.1.1 step 8): start the front end, catch up on kicks. */
static void
virtio_dev_go(struct virtio_dev *vd)
{
	int rc = 0;

	if (vd->ops->start)
		rc = vd->ops->start(vd->fe, vd, vd->guest_features);
	if (rc < 0) {
		virtio_dev_broken(vd, "the device could not start");
		return;
	}
	/* Buffers made available before DRIVER_OK were not looked at. */
	for (unsigned i = 0; i < vd->ops->nqueues; i++)
		if (vd->vq[i].ready)
			virtio_dev_kick(vd, i);
}

void
virtio_dev_set_status(struct virtio_dev *vd, uint8_t status)
{
	uint8_t old = vd->status, new;

	if (status == 0) {
		virtio_dev_reset(vd);
		return;
	}
	/* NEEDS_RESET is the device's; the driver only adds bits (2.1.1). */
	new = (uint8_t)((status & VIRTIO_STATUS_DRIVER_BITS) |
	    (old & ~VIRTIO_STATUS_DRIVER_BITS));
	if (old & ~new & VIRTIO_STATUS_DRIVER_BITS) {
		log_debug("%s: driver cleared status bits %#x", vd->ops->name,
		    old & ~new);
		new |= old;
	}
	if ((new & ~old & VIRTIO_STATUS_FEATURES_OK) && !virtio_features_ok(vd))
		new &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	if ((new & ~old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(new & VIRTIO_STATUS_FEATURES_OK)) {
		log_debug("%s: DRIVER_OK without FEATURES_OK", vd->ops->name);
		new &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	vd->status = new;
	if ((new & ~old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(new & VIRTIO_STATUS_NEEDS_RESET))
		virtio_dev_go(vd);
}

int
virtio_dev_queue_enable(struct virtio_dev *vd, unsigned q)
{
	struct virtq *vq;
	unsigned n;

	if (q >= vd->ops->nqueues)
		return -EINVAL;
	vq = &vd->vq[q];
	n = vq->size;
	/* 2.7: a power of 2, no larger than offered (4.1.4.3.2). */
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) != 0)
		return -EINVAL;
	virtq_reset(vq);
	vq->event_idx = !!(vd->guest_features &
	    (1ull << VIRTIO_F_RING_EVENT_IDX));
	vq->ready = 1;
	return 0;
}

/* The driver may use the device: DRIVER_OK, and not broken. */
static int
virtio_dev_live(const struct virtio_dev *vd)
{
	return (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vd->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* Queue q was kicked: let the front end look at it. Lock held. */
static void
virtio_dev_run_queue(struct virtio_dev *vd, unsigned q)
{
	if (virtio_dev_live(vd) && vd->vq[q].ready && vd->ops->queue_notify)
		vd->ops->queue_notify(vd->fe, q);
}

void
virtio_dev_kick(struct virtio_dev *vd, unsigned q)
{
	uint64_t one = 1;

	if (q >= vd->ops->nqueues)
		return;
	if (!vd->thread_started) {
		/* No I/O thread (tests): the front end runs here. */
		virtio_dev_run_queue(vd, q);
		return;
	}
	/* EAGAIN: the counter is saturated, a wake-up is pending anyway. */
	if (write(vd->kick_fd[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("%s: kick", vd->ops->name);
}

struct virtq *
virtio_queue(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->ops->nqueues || !vd->vq[q].ready)
		return NULL;
	return &vd->vq[q];
}

const struct gmem *
virtio_mem(const struct virtio_dev *vd)
{
	return vd->host.mem;
}

void
virtio_notify_used(struct virtio_dev *vd, unsigned q)
{
	struct virtq *vq = virtio_queue(vd, q);

	if (vq == NULL || !virtq_should_signal(vq, vd->host.mem))
		return;
	vd->isr |= 1;	/* 4.1.4.5: queue interrupt */
	if (vd->interrupt)
		vd->interrupt(vd, vq->msix_vector, 1);
}

void
virtio_notify_config(struct virtio_dev *vd)
{
	/* 2.5.1 / 4.1.4.3.1: a new generation, then a config interrupt. */
	vd->config_generation++;
	if (!(vd->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	vd->isr |= 2;
	if (vd->interrupt)
		vd->interrupt(vd, vd->config_vector, 2);
}

void
virtio_dev_broken(struct virtio_dev *vd, const char *why)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* 2.1.2: NEEDS_RESET, then a config change notification. */
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vd->broken_logged < VIRTIO_BROKEN_LOG_MAX) {
		vd->broken_logged++;
		log_warnx("%s: %s: the device needs a reset%s", vd->ops->name,
		    why ? why : "driver error",
		    vd->broken_logged == VIRTIO_BROKEN_LOG_MAX ?
		    " (not logged again)" : "");
	} else {
		log_debug("%s: %s", vd->ops->name, why ? why : "driver error");
	}
	virtio_notify_config(vd);
}

/* ---- the I/O thread --------------------------------------------------------- */

static void
virtio_drain(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) > 0)
		;
}

/* Fill pfd: stop_fd, the kick fds, then the front end's fd if any. */
static unsigned
virtio_io_fds(struct virtio_dev *vd, struct pollfd *pfd, int *efd)
{
	unsigned n = 0;

	pfd[n++] = (struct pollfd){ .fd = vd->stop_fd, .events = POLLIN };
	for (unsigned i = 0; i < vd->ops->nqueues; i++)
		pfd[n++] = (struct pollfd){ .fd = vd->kick_fd[i],
		    .events = POLLIN };
	*efd = -1;
	if (vd->ops->event_fd) {
		pthread_mutex_lock(&vd->lock);
		*efd = vd->ops->event_fd(vd->fe);
		pthread_mutex_unlock(&vd->lock);
	}
	if (*efd >= 0)
		pfd[n++] = (struct pollfd){ .fd = *efd, .events = POLLIN };
	return n;
}

static void *
virtio_io_thread(void *arg)
{
	struct virtio_dev *vd = arg;
	struct pollfd pfd[VIRTIO_MAX_QUEUES + 2];
	unsigned n, nq = vd->ops->nqueues;
	int efd;

	for (;;) {
		n = virtio_io_fds(vd, pfd, &efd);
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("%s: poll", vd->ops->name);
			break;
		}
		if (pfd[0].revents)
			break;
		for (unsigned i = 0; i < nq; i++) {
			if (!(pfd[1 + i].revents & POLLIN))
				continue;
			virtio_drain(vd->kick_fd[i]);
			pthread_mutex_lock(&vd->lock);
			virtio_dev_run_queue(vd, i);
			pthread_mutex_unlock(&vd->lock);
		}
		if (efd >= 0 && pfd[1 + nq].revents) {
			pthread_mutex_lock(&vd->lock);
			vd->ops->event(vd->fe);
			pthread_mutex_unlock(&vd->lock);
		}
	}
	return NULL;
}

int
virtio_dev_start_thread(struct virtio_dev *vd)
{
	int rc;

	if (vd->thread_started)
		return 0;
	/* Set before the thread runs: kicks from now on go through it. */
	pthread_mutex_lock(&vd->lock);
	vd->thread_started = 1;
	pthread_mutex_unlock(&vd->lock);
	rc = pthread_create(&vd->thread, NULL, virtio_io_thread, vd);
	if (rc != 0) {
		pthread_mutex_lock(&vd->lock);
		vd->thread_started = 0;
		pthread_mutex_unlock(&vd->lock);
		errno = rc;
		log_warn("%s: I/O thread", vd->ops->name);
		return -rc;
	}
	return 0;
}

void
virtio_dev_stop_thread(struct virtio_dev *vd)
{
	uint64_t one = 1;

	if (!vd->thread_started)
		return;
	if (write(vd->stop_fd, &one, sizeof(one)) < 0)
		log_warn("%s: stop", vd->ops->name);
	pthread_join(vd->thread, NULL);
	virtio_drain(vd->stop_fd);
	pthread_mutex_lock(&vd->lock);
	vd->thread_started = 0;
	pthread_mutex_unlock(&vd->lock);
}

void
virtio_dev_destroy(struct virtio_dev *vd)
{
	if (vd->ops == NULL)
		return;
	virtio_dev_stop_thread(vd);
	if (vd->ops->destroy && vd->fe)
		vd->ops->destroy(vd->fe);
	vd->fe = NULL;
	virtio_dev_close_fds(vd);
	pthread_mutex_destroy(&vd->lock);
	vd->ops = NULL;
}

void
virtio_config_copy(const void *cfg, size_t size, uint32_t off, uint8_t *data,
    unsigned len)
{
	memset(data, 0, len);
	if (off >= size)
		return;
	if (len > size - off)
		len = (unsigned)(size - off);
	memcpy(data, (const uint8_t *)cfg + off, len);
}
