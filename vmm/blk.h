/*
 * blk.h: block back ends, apart from the virtio-blk front end. A back end
 * is a const struct blk_backend_ops: blk_raw_ops (blk_raw.c) serves a raw
 * file or a block device; blk_qcow2_ops (blk_qcow2.c) a qcow2 image, over
 * a pinned chain of backing files through blk_qcow2.h. devices.c picks the ops by
 * the format the config pins (vmm_blk_formats[]); the front end never
 * knows which.
 *
 * All offsets and lengths are in bytes; the front end checks requests
 * against size before calling, so a back end sees only in-range I/O.
 * Calls on one back end never run concurrently (the device lock).
 */
#ifndef DROVER_VMM_BLK_H
#define DROVER_VMM_BLK_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct blk_backend;

struct blk_backend_ops {
	const char *name;
	/* Open path (read-only if ro). 0 and *out set, or -errno (logged). */
	int (*open)(const char *path, int ro, struct blk_backend **out);
	/* Read or write the whole iovec at off: bytes, or -errno. */
	ssize_t (*preadv)(struct blk_backend *b, const struct iovec *iov,
	    int n, uint64_t off);
	ssize_t (*pwritev)(struct blk_backend *b, const struct iovec *iov,
	    int n, uint64_t off);
	/* Make written data durable. 0 or -errno. */
	int (*flush)(struct blk_backend *b);
	/* Drop [off, off + len) (only called when can_discard): reads of
	 * the range then return zeros. 0 or -errno (-EOPNOTSUPP if the file
	 * system or device cannot after all). */
	int (*discard)(struct blk_backend *b, uint64_t off, uint64_t len);
	void (*close)(struct blk_backend *b);
};

/* Every back end starts with this. */
struct blk_backend {
	const struct blk_backend_ops *ops;
	uint64_t size;		/* bytes the guest sees */
	int ro;			/* opened read-only */
	int can_discard;	/* discard works (probed at open) */
};

extern const struct blk_backend_ops blk_raw_ops;
/* qcow2 (blk_qcow2.c); its pinned-backing API is in blk_qcow2.h. */
extern const struct blk_backend_ops blk_qcow2_ops;

#endif
