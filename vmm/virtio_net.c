/*
 * virtio_net.c: the virtio-net front end (virtio 1.2, 5.1) over a network
 * back end (netbe.h: a tap). Queue 0 receives, queue 1 transmits; no
 * control queue, one queue pair.
 *
 * Features (5.1.3): MAC and STATUS (link up; down for good if the back end
 * fails). Transmit offloads when the back end takes a virtio_net_hdr (a
 * tap with IFF_VNET_HDR: the kernel then checksums and segments, as for
 * QEMU's tap): CSUM, HOST_TSO4, HOST_TSO6 and HOST_ECN, so a Linux guest
 * sends up to 64 KiB TCP segments with partial checksums in one chain
 * instead of 1514-byte checksummed frames. No receive offloads
 * (GUEST_CSUM, GUEST_TSO*) and no MRG_RXBUF: every received frame is
 * whole and checksummed, and takes one receive chain with num_buffers = 1
 * (5.1.6.3.2), which Linux fills with 1526-byte buffers (5.1.6.3). No MTU
 * feature either: frames are as long as the tap's MTU (a host that raises
 * it should keep the guest's in step). The header is struct
 * virtio_net_hdr_v1, 12 bytes (5.1.6).
 *
 * Transmit (5.1.6.2): a chain's readable part is the header and the frame.
 * The guest's header is copied out of guest RAM first (the guest cannot
 * change it under the kernel's feet) and checked against what was
 * negotiated: flags only NEEDS_CSUM (with CSUM), gso_type NONE, TCPV4
 * (HOST_TSO4) or TCPV6 (HOST_TSO6), the ECN bit only with HOST_ECN, GSO
 * only with NEEDS_CSUM; num_buffers zeroed. Anything else drops the frame.
 * The kernel checks csum_start/csum_offset and gso_size against the frame
 * itself (virtio_net_hdr_to_skb) and drops what does not fit. Without
 * offloads a zeroed header is sent (5.1.6.2.1: flags 0, GSO_NONE). The
 * frame goes to the back end straight from guest RAM (no copy). A chain
 * shorter than the header or longer than NETBE_MAX_FRAME is dropped; so is
 * a frame the back end refuses. Used length 0 (nothing is written).
 *
 * Receive (5.1.6.4): frames are read straight into the chain's writable
 * segments, then the header is rewritten (flags 0, GSO_NONE,
 * num_buffers 1). A frame too long for the chain is dropped and the chain
 * kept for the next one. Frames are taken when the back end's fd is
 * readable (event) and when the driver adds receive buffers (queue 0
 * notify), at most VIRTIO_NET_RX_BATCH per call.
 *
 * Flow control: when the receive queue has no buffers the device stops
 * reading the tap (frames wait in the kernel, which drops them when its
 * queue is full, as a NIC would) and event_fd returns -1 so the I/O thread
 * no longer polls it; it asks for a receive-queue notification
 * (virtq_set_notify) and resumes on the next one. While buffers last,
 * receive-queue notifications are off. A guest that stops reading costs
 * nothing. event_fd is -1 too before DRIVER_OK, while the device needs a
 * reset, and once the back end has failed (link down, config interrupt).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "netbe.h"
#include "virtio.h"

/* Feature bits (5.1.3) and status (5.1.4). */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_S_LINK_UP	1

#define VIRTIO_NET_RXQ		0
#define VIRTIO_NET_TXQ		1
/* Frames received per call, so transmit and the other fds get a turn. */
#define VIRTIO_NET_RX_BATCH	256
/* Config space (5.1.4): mac[6], status, max_virtqueue_pairs (1). */
#define VIRTIO_NET_CFG_STATUS	6
#define VIRTIO_NET_CFG_PAIRS	8
#define VIRTIO_NET_CONFIG_SIZE	10
/* struct virtio_net_hdr_v1 (5.1.6): flags, gso_type, ..., num_buffers. */
#define VIRTIO_NET_HDR_FLAGS	0
#define VIRTIO_NET_HDR_GSO_TYPE	1
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_GSO_NONE		0
#define VIRTIO_NET_HDR_GSO_TCPV4	1
#define VIRTIO_NET_HDR_GSO_TCPV6	4
#define VIRTIO_NET_HDR_GSO_ECN		0x80
#define VIRTIO_NET_TX_OFFLOADS	(1ULL << VIRTIO_NET_F_CSUM | \
	1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6 | \
	1ULL << VIRTIO_NET_F_HOST_ECN)

#define VIRTIO_NET_LOG_LIMIT	8

struct virtio_net {
	struct net_backend *nb;
	uint8_t config[VIRTIO_NET_CONFIG_SIZE];
	uint64_t guest_features;
	struct virtio_dev *vd;		/* NULL until DRIVER_OK */
	int rx_stalled;			/* no receive buffers: tap not read */
	int rx_held;			/* rx_chain is popped, not yet used */
	int be_dead;			/* back end failed: link down */
	unsigned nlogged;
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped;
	/* Scratch (the I/O thread's only). */
	struct virtq_chain rx_chain;
	struct virtq_chain tx_chain;
	uint8_t tx_hdr[NETBE_HDR_LEN];	/* the checked copy of the guest's */
	struct iovec iov[VIRTQ_MAX_SEGS + 1];
};

static void __attribute__((format(printf, 2, 3)))
virtio_net_complain(struct virtio_net *vn, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (vn->nlogged > VIRTIO_NET_LOG_LIMIT)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (vn->nlogged++ == VIRTIO_NET_LOG_LIMIT)
		log_warnx("virtio-net: %s (further errors not logged)", msg);
	else
		log_warnx("virtio-net: %s", msg);
}

/* dst = bytes [off, end) of src[0..n) as segments; count. */
static int
virtio_net_skip(const struct iovec *src, unsigned n, uint64_t off,
    struct iovec *dst)
{
	int k = 0;

	for (unsigned i = 0; i < n; i++) {
		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = src[i].iov_len - (size_t)off;
		k++;
		off = 0;
	}
	return k;
}

/* Started and not broken: event() runs whatever the status (virtio.h). */
static int
virtio_net_live(const struct virtio_net *vn)
{
	return vn->vd != NULL &&
	    !(vn->vd->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* The back end failed for good: stop using it, tell the driver. */
static void
virtio_net_link_down(struct virtio_net *vn, const char *what, int err)
{
	if (vn->be_dead)
		return;
	vn->be_dead = 1;
	log_error("virtio-net: %s: %s; link down", what, strerror(err));
	vn->config[VIRTIO_NET_CFG_STATUS] &= (uint8_t)~VIRTIO_NET_S_LINK_UP;
	if (vn->vd != NULL)
		virtio_notify_config(vn->vd);
}

/* ---- transmit ------------------------------------------------------------ */

static int
virtio_net_has(const struct virtio_net *vn, unsigned bit)
{
	return (vn->guest_features >> bit) & 1;
}

/*
 * The header to send for chain c into vn->tx_hdr: a checked copy of the
 * guest's with transmit offloads, zeros without. 0, or -1: drop the frame.
 */
static int
virtio_net_tx_hdr(struct virtio_net *vn, const struct virtq_chain *c)
{
	uint8_t *h = vn->tx_hdr, flags, gso;
	size_t got = 0;

	memset(h, 0, NETBE_HDR_LEN);
	if ((vn->guest_features & VIRTIO_NET_TX_OFFLOADS) == 0)
		return 0;
	for (unsigned i = 0; i < c->nout && got < NETBE_HDR_LEN; i++) {
		size_t n = c->iov[i].iov_len < NETBE_HDR_LEN - got ?
		    c->iov[i].iov_len : NETBE_HDR_LEN - got;

		memcpy(h + got, c->iov[i].iov_base, n);
		got += n;
	}
	flags = h[VIRTIO_NET_HDR_FLAGS];
	gso = h[VIRTIO_NET_HDR_GSO_TYPE];
	h[VIRTIO_NET_HDR_NUM_BUFFERS] = h[VIRTIO_NET_HDR_NUM_BUFFERS + 1] = 0;
	if ((flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0 ||
	    (flags && !virtio_net_has(vn, VIRTIO_NET_F_CSUM)))
		return -1;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) &&
	    !virtio_net_has(vn, VIRTIO_NET_F_HOST_ECN))
		return -1;
	switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return gso == VIRTIO_NET_HDR_GSO_NONE ? 0 : -1;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_net_has(vn, VIRTIO_NET_F_HOST_TSO4) && flags ?
		    0 : -1;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_net_has(vn, VIRTIO_NET_F_HOST_TSO6) && flags ?
		    0 : -1;
	default:
		return -1;
	}
}

static void
virtio_net_tx_frame(struct virtio_net *vn, const struct virtq_chain *c)
{
	ssize_t r;
	int k;

	if (c->out_len < NETBE_HDR_LEN || c->out_len > NETBE_MAX_FRAME) {
		virtio_net_complain(vn, "transmit chain of %llu bytes dropped",
		    (unsigned long long)c->out_len);
		vn->tx_dropped++;
		return;
	}
	if (vn->be_dead) {
		vn->tx_dropped++;
		return;
	}
	if (virtio_net_tx_hdr(vn, c) < 0) {
		virtio_net_complain(vn, "transmit header (flags %#x, gso %#x) "
		    "not negotiated: frame dropped", vn->tx_hdr[0],
		    vn->tx_hdr[1]);
		vn->tx_dropped++;
		return;
	}
	vn->iov[0].iov_base = vn->tx_hdr;
	vn->iov[0].iov_len = sizeof(vn->tx_hdr);
	k = 1 + virtio_net_skip(c->iov, c->nout, NETBE_HDR_LEN, vn->iov + 1);
	r = vn->nb->ops->send(vn->nb, vn->iov, k);
	if (r >= 0) {
		vn->tx_frames++;
		return;
	}
	vn->tx_dropped++;
	/* A full or down tap drops frames, as a wire would. */
	if (r == -EAGAIN || r == -ENOBUFS || r == -EIO || r == -EINVAL)
		return;
	if (r == -EBADFD || r == -EBADF || r == -ENODEV)
		virtio_net_link_down(vn, "transmit", (int)-r);
	else
		virtio_net_complain(vn, "transmit: %s", strerror((int)-r));
}

static void
virtio_net_tx(struct virtio_net *vn)
{
	struct virtq *q = virtio_queue(vn->vd, VIRTIO_NET_TXQ);
	const struct gmem *m = virtio_mem(vn->vd);
	unsigned n = 0;
	int got;

	if (q == NULL || q->size == 0)
		return;
	while ((got = virtq_pop(q, m, &vn->tx_chain)) > 0) {
		virtio_net_tx_frame(vn, &vn->tx_chain);
		if (virtq_push(q, m, vn->tx_chain.head, 0) < 0) {
			got = -1;
			break;
		}
		/* Hand buffers back every ring's worth on a long burst. */
		if (++n % q->size == 0)
			virtio_notify_used(vn->vd, VIRTIO_NET_TXQ);
	}
	if (n % q->size)
		virtio_notify_used(vn->vd, VIRTIO_NET_TXQ);
	if (got < 0)
		virtio_dev_broken(vn->vd, "virtio-net: bad transmit chain");
}

/* ---- receive ------------------------------------------------------------- */

/*
 * A receive chain in vn->rx_chain: 1, 0 if the queue is empty (the device
 * is then stalled, unless a buffer arrived while we asked to be told),
 * -1 if the driver broke the ring.
 */
static int
virtio_net_rx_get(struct virtio_net *vn, struct virtq *q,
    const struct gmem *m)
{
	int got;

	if (vn->rx_held)
		return 1;
	got = virtq_pop(q, m, &vn->rx_chain);
	if (got == 0) {
		/* Ask for a notify, then look again: the driver may have
		 * added a buffer before it saw the request. */
		virtq_set_notify(q, m, 1);
		if (!virtq_has_avail(q, m)) {
			vn->rx_stalled = 1;
			return 0;
		}
		virtq_set_notify(q, m, 0);
		got = virtq_pop(q, m, &vn->rx_chain);
	}
	if (got < 0)
		return -1;
	vn->rx_held = got;
	return got;
}

/* Hand the held chain back with len bytes. 0, or -1 (used ring bad). */
static int
virtio_net_rx_put(struct virtio_net *vn, struct virtq *q,
    const struct gmem *m, uint32_t len)
{
	vn->rx_held = 0;
	return virtq_push(q, m, vn->rx_chain.head, len);
}

/*
 * Receive one frame into the held chain: 1 (used, or dropped with the
 * chain kept), 0 if the back end has nothing, -1 to stop.
 */
static int
virtio_net_rx_frame(struct virtio_net *vn, struct virtq *q,
    const struct gmem *m, int *used)
{
	static const uint8_t num_buffers[2] = { 1, 0 };	/* le16 1 */
	const struct virtq_chain *c = &vn->rx_chain;
	uint8_t hdr[NETBE_HDR_LEN] = { 0 };
	ssize_t r;

	if (c->in_len < NETBE_HDR_LEN) {
		virtio_net_complain(vn, "receive buffer of %llu bytes",
		    (unsigned long long)c->in_len);
		*used = 1;
		return virtio_net_rx_put(vn, q, m, 0) < 0 ? -1 : 1;
	}
	r = vn->nb->ops->recv(vn->nb, c->iov + c->nout, (int)c->nin);
	if (r == -EAGAIN)
		return 0;
	if (r == -EMSGSIZE || (r >= 0 && r < NETBE_HDR_LEN)) {
		vn->rx_dropped++;
		return 1;
	}
	if (r < 0) {
		virtio_net_link_down(vn, "receive", (int)-r);
		return -1;
	}
	virtq_write(c, 0, hdr, sizeof(hdr));
	virtq_write(c, VIRTIO_NET_HDR_NUM_BUFFERS, num_buffers, 2);
	vn->rx_frames++;
	*used = 1;
	return virtio_net_rx_put(vn, q, m, (uint32_t)r) < 0 ? -1 : 1;
}

static void
virtio_net_rx(struct virtio_net *vn)
{
	struct virtq *q;
	const struct gmem *m;
	int used = 0, broken = 0;

	if (!virtio_net_live(vn) || vn->be_dead || vn->rx_stalled)
		return;
	q = virtio_queue(vn->vd, VIRTIO_NET_RXQ);
	if (q == NULL) {
		vn->rx_stalled = 1;	/* a queue_notify will enable it */
		return;
	}
	m = virtio_mem(vn->vd);
	for (unsigned n = 0; n < VIRTIO_NET_RX_BATCH; n++) {
		int got = virtio_net_rx_get(vn, q, m);

		if (got <= 0) {
			broken = got < 0;
			break;
		}
		got = virtio_net_rx_frame(vn, q, m, &used);
		if (got <= 0) {
			broken = got < 0 && !vn->be_dead;
			break;
		}
	}
	if (used)
		virtio_notify_used(vn->vd, VIRTIO_NET_RXQ);
	if (broken)
		virtio_dev_broken(vn->vd, "virtio-net: bad receive chain");
}

/* ---- ops ----------------------------------------------------------------- */

static void
virtio_net_queue_notify(void *fe, unsigned qi)
{
	struct virtio_net *vn = fe;
	struct virtq *q;

	if (vn->vd == NULL)
		return;
	if (qi == VIRTIO_NET_TXQ) {
		virtio_net_tx(vn);
		return;
	}
	if (qi != VIRTIO_NET_RXQ)
		return;
	/* New receive buffers: read the tap again, without notifies. */
	if (vn->rx_stalled) {
		vn->rx_stalled = 0;
		q = virtio_queue(vn->vd, VIRTIO_NET_RXQ);
		if (q != NULL)
			virtq_set_notify(q, virtio_mem(vn->vd), 0);
	}
	virtio_net_rx(vn);
}

static int
virtio_net_event_fd(void *fe)
{
	struct virtio_net *vn = fe;

	if (!virtio_net_live(vn) || vn->rx_stalled || vn->be_dead)
		return -1;
	return vn->nb->ops->fd(vn->nb);
}

static void
virtio_net_event(void *fe)
{
	virtio_net_rx(fe);
}

static uint64_t
virtio_net_features(void *fe)
{
	struct virtio_net *vn = fe;
	uint64_t f = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS;

	/* The kernel does the checksums and segmentation (tun's vnet header). */
	if (vn->nb->vnet_hdr)
		f |= VIRTIO_NET_TX_OFFLOADS;
	return f;
}

static void
virtio_net_config_read(void *fe, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_net *vn = fe;

	virtio_config_copy(vn->config, sizeof(vn->config), off, data, len);
}

static int
virtio_net_start(void *fe, struct virtio_dev *vd, uint64_t features)
{
	struct virtio_net *vn = fe;

	vn->vd = vd;
	vn->guest_features = features;
	vn->rx_held = 0;
	vn->rx_stalled = 0;
	return 0;
}

static void
virtio_net_reset(void *fe)
{
	struct virtio_net *vn = fe;

	/* The held receive chain points into rings the driver dropped. */
	vn->vd = NULL;
	vn->rx_held = 0;
	vn->rx_stalled = 0;
	vn->guest_features = 0;
}

static void
virtio_net_destroy(void *fe)
{
	struct virtio_net *vn = fe;

	if (vn == NULL)
		return;
	log_debug("virtio-net: rx %llu frames (%llu dropped), tx %llu "
	    "(%llu dropped)", (unsigned long long)vn->rx_frames,
	    (unsigned long long)vn->rx_dropped,
	    (unsigned long long)vn->tx_frames,
	    (unsigned long long)vn->tx_dropped);
	vn->nb->ops->close(vn->nb);
	free(vn);
}

/* A random locally administered unicast MAC (52:54:00 is QEMU's). */
static void
virtio_net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, GRND_NONBLOCK) != 6)
		memset(mac, 0x5a, 6);
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

void *
virtio_net_create(struct net_backend *nb, const uint8_t mac[6])
{
	struct virtio_net *vn;

	if (nb == NULL || nb->ops == NULL)
		return NULL;
	vn = calloc(1, sizeof(*vn));
	if (vn == NULL) {
		log_warn("virtio-net: calloc");
		nb->ops->close(nb);	/* ours either way */
		return NULL;
	}
	vn->nb = nb;
	if (mac != NULL)
		memcpy(vn->config, mac, 6);
	else
		virtio_net_random_mac(vn->config);
	vn->config[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
	vn->config[VIRTIO_NET_CFG_PAIRS] = 1;
	return vn;
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x0200,		/* network, Ethernet */
	.nqueues = 2,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.features = virtio_net_features,
	.config_read = virtio_net_config_read,
	/* config_write: none; read-only for the driver (5.1.4.2). */
	.start = virtio_net_start,
	.queue_notify = virtio_net_queue_notify,
	.event_fd = virtio_net_event_fd,
	.event = virtio_net_event,
	.reset = virtio_net_reset,
	.destroy = virtio_net_destroy,
};
