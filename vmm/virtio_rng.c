/*
 * virtio_rng.c: the virtio entropy device (virtio 1.2, 5.4). One request
 * queue; each chain's writable segments are filled from getrandom(2), up to
 * VIRTIO_RNG_MAX_REQ bytes per chain, so one request cannot keep the I/O
 * thread busy for long. The device may use less than the whole buffer but
 * must place at least one byte (5.4.6.2); the used length says how much.
 * A chain with no writable byte is handed back with length 0 (the driver's
 * own loss). No features, no config space.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "virtio.h"

#define VIRTIO_RNG_MAX_REQ	(64u << 10)

struct virtio_rng {
	struct virtio_dev *vd;		/* NULL until DRIVER_OK */
	int warned;
	struct virtq_chain chain;	/* scratch (the I/O thread's only) */
};

/* Fill [p, p + len) with random bytes: 0, or -errno. */
static int
virtio_rng_fill(void *p, size_t len)
{
	uint8_t *b = p;

	while (len > 0) {
		ssize_t r = getrandom(b, len, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Fill one chain's writable part: bytes written. */
static uint32_t
virtio_rng_request(struct virtio_rng *vr, const struct virtq_chain *c)
{
	uint32_t done = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin; i++) {
		size_t n = c->iov[i].iov_len;
		int err;

		if (n > VIRTIO_RNG_MAX_REQ - done)
			n = VIRTIO_RNG_MAX_REQ - done;
		err = virtio_rng_fill(c->iov[i].iov_base, n);
		if (err < 0) {
			if (!vr->warned++)
				log_warnx("virtio-rng: getrandom: %s",
				    strerror(-err));
			break;
		}
		done += (uint32_t)n;
		if (done == VIRTIO_RNG_MAX_REQ)
			break;
	}
	return done;
}

static void
virtio_rng_queue_notify(void *fe, unsigned qi)
{
	struct virtio_rng *vr = fe;
	const struct gmem *m;
	struct virtq *q;
	unsigned n = 0;
	int got;

	if (vr->vd == NULL || qi != 0)
		return;
	q = virtio_queue(vr->vd, 0);
	if (q == NULL || q->size == 0)
		return;
	m = virtio_mem(vr->vd);
	while ((got = virtq_pop(q, m, &vr->chain)) > 0) {
		uint32_t len = virtio_rng_request(vr, &vr->chain);

		if (virtq_push(q, m, vr->chain.head, len) < 0) {
			got = -1;
			break;
		}
		if (++n % q->size == 0)
			virtio_notify_used(vr->vd, 0);
	}
	if (n % q->size)
		virtio_notify_used(vr->vd, 0);
	if (got < 0)
		virtio_dev_broken(vr->vd, "virtio-rng: bad chain");
}

static uint64_t
virtio_rng_features(void *fe)
{
	(void)fe;
	return 0;
}

static void
virtio_rng_config_read(void *fe, uint32_t off, uint8_t *data, unsigned len)
{
	(void)fe;
	(void)off;
	memset(data, 0, len);
}

static void
virtio_rng_config_write(void *fe, uint32_t off, const uint8_t *data,
    unsigned len)
{
	(void)fe;
	(void)off;
	(void)data;
	(void)len;
}

static int
virtio_rng_start(void *fe, struct virtio_dev *vd, uint64_t features)
{
	struct virtio_rng *vr = fe;

	(void)features;
	vr->vd = vd;
	return 0;
}

static void
virtio_rng_reset(void *fe)
{
	((struct virtio_rng *)fe)->vd = NULL;
}

static void
virtio_rng_destroy(void *fe)
{
	free(fe);
}

void *
virtio_rng_create(void)
{
	struct virtio_rng *vr = calloc(1, sizeof(*vr));

	if (vr == NULL)
		log_warn("virtio-rng: calloc");
	return vr;
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = 0xff00,		/* unclassified device */
	.nqueues = 1,
	.config_size = 0,
	.features = virtio_rng_features,
	.config_read = virtio_rng_config_read,
	.config_write = virtio_rng_config_write,
	.start = virtio_rng_start,
	.queue_notify = virtio_rng_queue_notify,
	.reset = virtio_rng_reset,
	.destroy = virtio_rng_destroy,
};
