/*
 * virtio_blk.c: the virtio-blk front end (virtio 1.2, 5.2) over a block
 * back end (blk.h). One request queue; every request is served
 * synchronously on the device's I/O thread, straight between the back end
 * and guest RAM (preadv/pwritev on the chain's own iovecs, no bounce
 * buffer).
 *
 * Features (5.2.3): SEG_MAX (VIRTQ_MAX_SIZE - 2 data segments), BLK_SIZE
 * (512), FLUSH (a write-back cache: T_FLUSH is fdatasync), DISCARD when the
 * back end can and is writable, RO when the back end is read-only.
 * Config space (5.2.4) up to write_zeroes_may_unmap and its padding
 * (60 bytes); read at any offset and length, never writable.
 *
 * Requests (5.2.6): struct virtio_blk_req is a 16-byte header (type,
 * reserved, sector) in the readable part, the data, and a status byte,
 * which is the last byte of the writable part (virtio 1.x drivers may lay
 * a chain out any way they like, 2.7.4, so the data may share segments
 * with the header or the status). Every guest value is checked: the
 * header length, the type, data lengths (multiples of 512, 5.2.6), sector
 * + length against the capacity without overflow, GET_ID lengths, discard
 * segment counts, sizes and flags. A request that fails its checks is
 * answered VIRTIO_BLK_S_IOERR (a malformed request) or
 * VIRTIO_BLK_S_UNSUPP (an unknown type, a feature not negotiated, or a
 * discard flag set: 5.2.6.2); writes to a read-only device get IOERR and
 * write nothing (5.2.6.2). A chain with no writable byte has nowhere to
 * put a status: it is handed back with used length 0 and logged, and the
 * device goes on (our choice: only that request fails, no
 * DEVICE_NEEDS_RESET). A chain that breaks the ring rules (virtq_pop
 * -EINVAL: out-of-RAM buffers, loops, writable before readable) marks the
 * device broken (virtio_dev_broken), as virtq.h asks.
 *
 * The used length (2.7.8) is the data bytes written into the writable part
 * plus the status byte: in_len for a read that succeeds, 1 otherwise
 * (the Linux driver ignores it for block devices).
 *
 * Driving it without PCI or KVM (unit tests, benchmarks): tests/unit/vdrv.c
 * is a simulated driver that does this, and tests/bench/blkbench.c does
 * it inline. In short:
 *   1. guest RAM: any host mapping described by a struct gmem;
 *   2. be from blk_raw_ops.open(path, ro, &be), fe = virtio_blk_create(be,
 *      serial) (fe owns be);
 *   3. virtio_dev_init(&vd, &virtio_blk_ops, fe, &host) with a struct
 *      virtio_host whose msi_* and ioeventfd hooks are stubs; set
 *      vd.interrupt to count completions;
 *   4. virtio_dev_set_status through ACKNOWLEDGE, DRIVER; set
 *      vd.guest_features; FEATURES_OK; fill vd.vq[0] (size, desc, avail
 *      and used GPAs) and call virtio_dev_queue_enable(&vd, 0); DRIVER_OK
 *      (which calls ops->start);
 *   5. build requests in guest RAM, publish them in the avail ring, and
 *      call virtio_dev_kick(&vd, 0) (or virtio_blk_ops.queue_notify(fe,
 *      0)) with vd.lock held: without the I/O thread the requests are
 *      served right there; completions are in the used ring.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byteorder.h"
#include "blk.h"
#include "log.h"
#include "virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9
#define VIRTIO_BLK_F_DISCARD	13

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_T_DISCARD	11
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define VIRTIO_BLK_SECTOR	512u
#define VIRTIO_BLK_HDR_LEN	16u	/* type, reserved, sector */
#define VIRTIO_BLK_ID_BYTES	20u
#define VIRTIO_BLK_DISCARD_LEN	16u	/* struct virtio_blk_discard_write_zeroes */
/* What we advertise. The data segments plus header and status fit one
 * chain (VIRTQ_MAX_SEGS) even through an indirect table. */
#define VIRTIO_BLK_SEG_MAX	(VIRTQ_MAX_SIZE - 2)
#define VIRTIO_BLK_DISCARD_SEG	32u
#define VIRTIO_BLK_DISCARD_SECTORS (1u << 22)	/* 2 GiB per segment */
#define VIRTIO_BLK_DISCARD_ALIGN 8u		/* 4 KiB, the usual hole size */

/* Config space offsets (5.2.4, struct virtio_blk_config). */
#define VIRTIO_BLK_CFG_CAPACITY		0
#define VIRTIO_BLK_CFG_SEG_MAX		12
#define VIRTIO_BLK_CFG_BLK_SIZE		20
#define VIRTIO_BLK_CFG_DISCARD_SECTORS	36
#define VIRTIO_BLK_CFG_DISCARD_SEG	40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN	44
#define VIRTIO_BLK_CONFIG_SIZE		60	/* through unused1[3] */

/* Guest mistakes logged per device before we go quiet. */
#define VIRTIO_BLK_LOG_LIMIT	8

struct virtio_blk {
	struct blk_backend *be;
	uint64_t capacity;		/* sectors */
	uint64_t features;		/* offered (device bits) */
	uint64_t guest_features;	/* accepted, from start() */
	struct virtio_dev *vd;		/* NULL until DRIVER_OK */
	uint8_t id[VIRTIO_BLK_ID_BYTES];	/* NUL-padded serial */
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	unsigned nlogged;		/* guest/back-end errors logged */
	int discard_warned;
	/* Scratch for one request (the I/O thread's only). */
	struct virtq_chain chain;
	struct iovec data[VIRTQ_MAX_SEGS];
};

/* One request being served. */
struct virtio_blk_req {
	const struct virtq_chain *c;
	uint32_t type;
	uint64_t sector;
	uint64_t data_len;		/* payload bytes (readable or writable) */
	uint64_t written;		/* payload bytes written to the guest */
};

/* Rate-limited warning about something the guest (or the disk) did. */
static void __attribute__((format(printf, 2, 3)))
virtio_blk_complain(struct virtio_blk *vb, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (vb->nlogged > VIRTIO_BLK_LOG_LIMIT)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (vb->nlogged++ == VIRTIO_BLK_LOG_LIMIT)
		log_warnx("virtio-blk: %s (further errors not logged)", msg);
	else
		log_warnx("virtio-blk: %s", msg);
}

/*
 * dst = the bytes [off, off + len) of src[0..n), as at most n segments.
 * The caller knows off + len is within src. Segments: count.
 */
static unsigned
virtio_blk_slice(const struct iovec *src, unsigned n, uint64_t off,
    uint64_t len, struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len > 0; i++) {
		uint64_t seg = src[i].iov_len;
		uint64_t take;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		take = seg - off < len ? seg - off : len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = (size_t)take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

/* Whether [sector, sector + bytes / 512) is a whole-sector range on the
 * disk; overflow-safe. */
static int
virtio_blk_range_ok(const struct virtio_blk *vb, uint64_t sector,
    uint64_t bytes)
{
	if (bytes % VIRTIO_BLK_SECTOR)
		return 0;
	if (sector > vb->capacity)
		return 0;
	return bytes / VIRTIO_BLK_SECTOR <= vb->capacity - sector;
}

/* Read or write (T_IN / T_OUT): data straight between guest and disk. */
static uint8_t
virtio_blk_rw(struct virtio_blk *vb, struct virtio_blk_req *r, int write)
{
	const struct virtq_chain *c = r->c;
	unsigned n;
	ssize_t got;

	if (write && vb->be->ro) {
		virtio_blk_complain(vb, "write to a read-only disk");
		return VIRTIO_BLK_S_IOERR;
	}
	if (!virtio_blk_range_ok(vb, r->sector, r->data_len)) {
		virtio_blk_complain(vb, "%s of %llu bytes at sector %llu: "
		    "outside the disk or not whole sectors",
		    write ? "write" : "read", (unsigned long long)r->data_len,
		    (unsigned long long)r->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	if (r->data_len == 0)
		return VIRTIO_BLK_S_OK;
	if (write) {
		n = virtio_blk_slice(c->iov, c->nout, VIRTIO_BLK_HDR_LEN,
		    r->data_len, vb->data);
		got = vb->be->ops->pwritev(vb->be, vb->data, (int)n,
		    r->sector * VIRTIO_BLK_SECTOR);
	} else {
		n = virtio_blk_slice(c->iov + c->nout, c->nin, 0, r->data_len,
		    vb->data);
		got = vb->be->ops->preadv(vb->be, vb->data, (int)n,
		    r->sector * VIRTIO_BLK_SECTOR);
	}
	if (got < 0 || (uint64_t)got != r->data_len) {
		virtio_blk_complain(vb, "%s at sector %llu: %s",
		    write ? "write" : "read", (unsigned long long)r->sector,
		    strerror(got < 0 ? (int)-got : EIO));
		return VIRTIO_BLK_S_IOERR;
	}
	if (!write)
		r->written = r->data_len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t
virtio_blk_flush(struct virtio_blk *vb)
{
	int err = vb->be->ops->flush(vb->be);

	if (err < 0) {
		virtio_blk_complain(vb, "flush: %s", strerror(-err));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* T_GET_ID: the serial, NUL-padded to 20 bytes, no terminator when full. */
static uint8_t
virtio_blk_get_id(struct virtio_blk *vb, struct virtio_blk_req *r)
{
	uint64_t n = r->data_len;

	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	r->written = virtq_write(r->c, 0, vb->id, n);
	return VIRTIO_BLK_S_OK;
}

/* One discard segment from the request, checked. A status, or OK. */
static uint8_t
virtio_blk_discard_check(struct virtio_blk *vb, const uint8_t *seg)
{
	uint64_t sector = bo_get64le(seg);
	uint32_t nsect = bo_get32le(seg + 8);
	uint32_t flags = bo_get32le(seg + 12);

	/* Unmap and unknown flags: UNSUPP (5.2.6.2). */
	if (flags != 0)
		return VIRTIO_BLK_S_UNSUPP;
	if (nsect > VIRTIO_BLK_DISCARD_SECTORS ||
	    !virtio_blk_range_ok(vb, sector,
	    (uint64_t)nsect * VIRTIO_BLK_SECTOR)) {
		virtio_blk_complain(vb, "discard of %u sectors at %llu: out "
		    "of range", nsect, (unsigned long long)sector);
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t
virtio_blk_discard_do(struct virtio_blk *vb, const uint8_t *seg)
{
	uint64_t sector = bo_get64le(seg);
	uint64_t nsect = bo_get32le(seg + 8);
	int err;

	err = vb->be->ops->discard(vb->be, sector * VIRTIO_BLK_SECTOR,
	    nsect * VIRTIO_BLK_SECTOR);
	if (err == -EOPNOTSUPP) {
		/* Discard is a hint (the device MAY deallocate, 5.2.6.2). */
		if (!vb->discard_warned) {
			vb->discard_warned = 1;
			log_warnx("virtio-blk: discard not supported by the "
			    "back end after all; ignoring discards");
		}
		return VIRTIO_BLK_S_OK;
	}
	if (err < 0) {
		virtio_blk_complain(vb, "discard: %s", strerror(-err));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * T_DISCARD: 1..max_discard_seg segments of 16 bytes after the header.
 * All are copied out of guest RAM and checked before any is done.
 */
static uint8_t
virtio_blk_discard(struct virtio_blk *vb, struct virtio_blk_req *r)
{
	uint8_t segs[VIRTIO_BLK_DISCARD_SEG][VIRTIO_BLK_DISCARD_LEN];
	uint64_t nseg;
	uint8_t st;

	if (!(vb->guest_features & (1ULL << VIRTIO_BLK_F_DISCARD)))
		return VIRTIO_BLK_S_UNSUPP;
	nseg = r->data_len / VIRTIO_BLK_DISCARD_LEN;
	if (r->data_len % VIRTIO_BLK_DISCARD_LEN || nseg == 0 ||
	    nseg > VIRTIO_BLK_DISCARD_SEG) {
		virtio_blk_complain(vb, "discard with %llu bytes of segments",
		    (unsigned long long)r->data_len);
		return VIRTIO_BLK_S_IOERR;
	}
	virtq_read(r->c, VIRTIO_BLK_HDR_LEN, segs, r->data_len);
	for (uint64_t i = 0; i < nseg; i++) {
		st = virtio_blk_discard_check(vb, segs[i]);
		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	for (uint64_t i = 0; i < nseg; i++) {
		st = virtio_blk_discard_do(vb, segs[i]);
		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}

/* Serve a parsed request: its status. */
static uint8_t
virtio_blk_dispatch(struct virtio_blk *vb, struct virtio_blk_req *r)
{
	const struct virtq_chain *c = r->c;

	/* Payload: writable bytes before the status for requests that
	 * return data, readable bytes after the header for the others. */
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		r->data_len = c->in_len - 1;
		break;
	default:
		r->data_len = c->out_len - VIRTIO_BLK_HDR_LEN;
		break;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return virtio_blk_rw(vb, r, 0);
	case VIRTIO_BLK_T_OUT:
		return virtio_blk_rw(vb, r, 1);
	case VIRTIO_BLK_T_FLUSH:
		return virtio_blk_flush(vb);
	case VIRTIO_BLK_T_GET_ID:
		return virtio_blk_get_id(vb, r);
	case VIRTIO_BLK_T_DISCARD:
		return virtio_blk_discard(vb, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Serve one chain: the used length to report. */
static uint32_t
virtio_blk_request(struct virtio_blk *vb, const struct virtq_chain *c)
{
	struct virtio_blk_req r = { .c = c };
	uint8_t hdr[VIRTIO_BLK_HDR_LEN];
	uint8_t status;

	if (c->in_len == 0) {
		virtio_blk_complain(vb, "request without a status byte "
		    "(no writable buffer): dropped");
		return 0;
	}
	if (c->out_len < VIRTIO_BLK_HDR_LEN) {
		virtio_blk_complain(vb, "request header of %llu bytes",
		    (unsigned long long)c->out_len);
		status = VIRTIO_BLK_S_IOERR;
	} else {
		virtq_read(c, 0, hdr, sizeof(hdr));
		r.type = bo_get32le(hdr);
		r.sector = bo_get64le(hdr + 8);
		status = virtio_blk_dispatch(vb, &r);
	}
	virtq_write(c, c->in_len - 1, &status, 1);
	/* Segments of up to 4 GiB each could add up past 32 bits. */
	if (r.written >= UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)r.written + 1;
}

/*
 * Pop and serve up to a ring's worth of chains: how many. *broken is set
 * if the driver broke the ring rules (the device is then marked broken).
 */
static int
virtio_blk_batch(struct virtio_blk *vb, struct virtq *q,
    const struct gmem *m, int *broken)
{
	int served = 0;

	while (served < q->size) {
		int got = virtq_pop(q, m, &vb->chain);
		uint32_t len;

		if (got == 0)
			break;
		if (got < 0) {
			virtio_dev_broken(vb->vd, "virtio-blk: bad chain");
			*broken = 1;
			break;
		}
		len = virtio_blk_request(vb, &vb->chain);
		if (virtq_push(q, m, vb->chain.head, len) < 0) {
			virtio_dev_broken(vb->vd, "virtio-blk: used ring");
			*broken = 1;
			break;
		}
		served++;
	}
	return served;
}

static void
virtio_blk_queue_notify(void *fe, unsigned qi)
{
	struct virtio_blk *vb = fe;
	const struct gmem *m;
	struct virtq *q;
	int n, broken = 0;

	if (vb->vd == NULL || qi != 0)
		return;
	q = virtio_queue(vb->vd, 0);
	if (q == NULL || q->size == 0)
		return;
	m = virtio_mem(vb->vd);
	/* Interrupt once per ring's worth, so a driver that keeps the ring
	 * full still sees completions. */
	do {
		n = virtio_blk_batch(vb, q, m, &broken);
		if (n > 0)
			virtio_notify_used(vb->vd, 0);
	} while (!broken && n == q->size);
}

static uint64_t
virtio_blk_features(void *fe)
{
	return ((struct virtio_blk *)fe)->features;
}

static void
virtio_blk_config_read(void *fe, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_blk *vb = fe;

	virtio_config_copy(vb->config, sizeof(vb->config), off, data, len);
}

static int
virtio_blk_start(void *fe, struct virtio_dev *vd, uint64_t features)
{
	struct virtio_blk *vb = fe;

	vb->vd = vd;
	vb->guest_features = features & vb->features;
	return 0;
}

static void
virtio_blk_reset(void *fe)
{
	struct virtio_blk *vb = fe;

	/* Requests are served synchronously: nothing is in flight. */
	vb->vd = NULL;
	vb->guest_features = 0;
}

static void
virtio_blk_destroy(void *fe)
{
	struct virtio_blk *vb = fe;

	if (vb == NULL)
		return;
	vb->be->ops->close(vb->be);
	free(vb);
}

static void
virtio_blk_build_config(struct virtio_blk *vb)
{
	uint8_t *c = vb->config;

	memset(c, 0, sizeof(vb->config));
	bo_put64le(c + VIRTIO_BLK_CFG_CAPACITY, vb->capacity);
	bo_put32le(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	bo_put32le(c + VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
	if (vb->features & (1ULL << VIRTIO_BLK_F_DISCARD)) {
		bo_put32le(c + VIRTIO_BLK_CFG_DISCARD_SECTORS,
		    VIRTIO_BLK_DISCARD_SECTORS);
		bo_put32le(c + VIRTIO_BLK_CFG_DISCARD_SEG,
		    VIRTIO_BLK_DISCARD_SEG);
		bo_put32le(c + VIRTIO_BLK_CFG_DISCARD_ALIGN,
		    VIRTIO_BLK_DISCARD_ALIGN);
	}
}

static uint64_t
virtio_blk_offer(const struct blk_backend *be)
{
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX |
	    1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (be->ro)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else if (be->can_discard)
		f |= 1ULL << VIRTIO_BLK_F_DISCARD;
	return f;
}

void *
virtio_blk_create(struct blk_backend *be, const char *serial)
{
	struct virtio_blk *vb;
	size_t n;

	if (be == NULL || be->ops == NULL)
		return NULL;
	vb = calloc(1, sizeof(*vb));
	if (vb == NULL) {
		log_warn("virtio-blk: calloc");
		be->ops->close(be);	/* ours either way */
		return NULL;
	}
	vb->be = be;
	vb->capacity = be->size / VIRTIO_BLK_SECTOR;
	vb->features = virtio_blk_offer(be);
	if (serial != NULL) {
		n = strlen(serial);
		if (n > VIRTIO_BLK_ID_BYTES) {
			log_warnx("virtio-blk: serial \"%s\" cut to %u bytes",
			    serial, VIRTIO_BLK_ID_BYTES);
			n = VIRTIO_BLK_ID_BYTES;
		}
		memcpy(vb->id, serial, n);
	}
	virtio_blk_build_config(vb);
	return vb;
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x0100,		/* mass storage, SCSI (as QEMU) */
	.nqueues = 1,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.features = virtio_blk_features,
	.config_read = virtio_blk_config_read,
	/* config_write: none; every field is read-only (no CONFIG_WCE). */
	.start = virtio_blk_start,
	.queue_notify = virtio_blk_queue_notify,
	.reset = virtio_blk_reset,
	.destroy = virtio_blk_destroy,
};
