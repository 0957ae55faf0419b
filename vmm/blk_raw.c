/*
 * blk_raw.c: the raw block back end (blk.h). The guest sees the bytes of a
 * regular file or a host block device one for one.
 *
 *  - open: O_RDONLY or O_RDWR, O_CLOEXEC; the size comes from fstat (a
 *    regular file) or BLKGETSIZE64 (a block device). A flock(2) lock, shared
 *    when read-only and exclusive otherwise, keeps two writers (two VMs, or
 *    a VM and a tool that honours the lock) off one image: -EBUSY.
 *  - I/O: preadv/pwritev loops that resume after short transfers and EINTR
 *    (pread/pwrite for a single segment);
 *    an unexpected end of file (the image shrank under us) is -EIO.
 *  - flush: fdatasync (the front end offers VIRTIO_BLK_F_FLUSH, so the guest
 *    sees a write-back cache and flushes when it needs durability).
 *  - discard: fallocate(PUNCH_HOLE | KEEP_SIZE), which reads back as zeros
 *    on regular files and, since Linux 4.9, block devices. Whether the file
 *    system can punch holes is probed at open with an empty punch past the
 *    end of the image (it changes nothing), so the front end offers
 *    VIRTIO_BLK_F_DISCARD only when it works.
 *
 * A qcow2 back end (issue 4) is a second file with its own ops table; this
 * one knows nothing of image formats and serves a qcow2 file as raw bytes.
 */
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"

struct blk_raw {
	struct blk_backend be;		/* first: the ops see a blk_backend */
	int fd;
	int is_blkdev;
};

static struct blk_raw *
blk_raw_of(struct blk_backend *b)
{
	return (struct blk_raw *)b;
}

/*
 * One step of a transfer: iov[i] is done up to skip bytes. Whole segments
 * go to preadv/pwritev at once; the last segment, or a partly done one,
 * goes to pread/pwrite (cheaper in the kernel: no iovec to import, which
 * shows on 4 KiB requests). Bytes moved, or -errno.
 */
static ssize_t
blk_raw_step(int fd, int write, const struct iovec *iov, int n, int i,
    size_t skip, uint64_t off)
{
	ssize_t r;

	do {
		if (skip || n - i == 1) {
			uint8_t *p = (uint8_t *)iov[i].iov_base + skip;
			size_t len = iov[i].iov_len - skip;

			r = write ? pwrite(fd, p, len, (off_t)off) :
			    pread(fd, p, len, (off_t)off);
		} else {
			r = write ? pwritev(fd, iov + i, n - i, (off_t)off) :
			    preadv(fd, iov + i, n - i, (off_t)off);
		}
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* The whole of iov at off, through short transfers. Bytes, or -errno. */
static ssize_t
blk_raw_rw(struct blk_backend *b, int write, const struct iovec *iov, int n,
    uint64_t off)
{
	struct blk_raw *r = blk_raw_of(b);
	ssize_t total = iov_total(iov, n, IOV_MAX);
	size_t done = 0, skip = 0;
	int i = 0;

	if (total < 0)
		return total;
	if (off > (uint64_t)INT64_MAX - (uint64_t)total)
		return -EINVAL;
	while (done < (size_t)total) {
		ssize_t got;

		/* Skip finished (and empty) segments. */
		while (i < n && skip == iov[i].iov_len) {
			i++;
			skip = 0;
		}
		got = blk_raw_step(r->fd, write, iov, n, i, skip, off + done);
		if (got < 0)
			return got;
		if (got == 0)
			return -EIO;	/* end of file inside the image */
		done += (size_t)got;
		/* Advance (i, skip) past got bytes. */
		while (got > 0) {
			size_t left = iov[i].iov_len - skip;

			if ((size_t)got < left) {
				skip += (size_t)got;
				break;
			}
			got -= (ssize_t)left;
			i++;
			skip = 0;
		}
	}
	return total;
}

static ssize_t
blk_raw_preadv(struct blk_backend *b, const struct iovec *iov, int n,
    uint64_t off)
{
	return blk_raw_rw(b, 0, iov, n, off);
}

static ssize_t
blk_raw_pwritev(struct blk_backend *b, const struct iovec *iov, int n,
    uint64_t off)
{
	if (b->ro)
		return -EROFS;
	return blk_raw_rw(b, 1, iov, n, off);
}

static int
blk_raw_flush(struct blk_backend *b)
{
	struct blk_raw *r = blk_raw_of(b);

	while (fdatasync(r->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int
blk_raw_punch(int fd, uint64_t off, uint64_t len)
{
	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	while (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int
blk_raw_discard(struct blk_backend *b, uint64_t off, uint64_t len)
{
	struct blk_raw *r = blk_raw_of(b);
	int err;

	if (b->ro)
		return -EROFS;
	if (len == 0)
		return 0;
	err = blk_raw_punch(r->fd, off, len);
	/* ENODEV, ENOTTY and ENOSYS all mean "not here": one answer. */
	if (err == -ENODEV || err == -ENOTTY || err == -ENOSYS)
		err = -EOPNOTSUPP;
	return err;
}

/*
 * Can this image punch holes? A regular file: punch 4 KiB past the end
 * (KEEP_SIZE: nothing visible changes). A block device: assume yes (the
 * front end answers a later -EOPNOTSUPP as a no-op, which discard allows).
 */
static int
blk_raw_probe_discard(const struct blk_raw *r)
{
	if (r->be.ro)
		return 0;
	if (r->is_blkdev)
		return 1;
	return blk_raw_punch(r->fd, r->be.size, 4096) == 0;
}

/* Size in bytes of the open image: 0 and *size, or -errno. */
static int
blk_raw_size(int fd, const char *path, int *is_blkdev, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		log_warn("%s: fstat", path);
		return -errno;
	}
	*is_blkdev = S_ISBLK(st.st_mode);
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (*is_blkdev) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			log_warn("%s: BLKGETSIZE64", path);
			return -errno;
		}
		return 0;
	}
	log_warnx("%s: not a regular file or block device", path);
	return -EINVAL;
}

static int
blk_raw_lock(int fd, const char *path, int ro)
{
	while (flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			log_warnx("%s: in use by another process (flock)",
			    path);
			return -EBUSY;
		}
		log_warn("%s: flock", path);
		return -errno;
	}
	return 0;
}

static int
blk_raw_open(const char *path, int ro, struct blk_backend **out)
{
	struct blk_raw *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		log_warn("%s: open", path);
		goto fail;
	}
	err = blk_raw_size(r->fd, path, &r->is_blkdev, &r->be.size);
	if (err < 0)
		goto fail;
	err = blk_raw_lock(r->fd, path, ro);
	if (err < 0)
		goto fail;
	if (r->be.size % 512)
		log_warnx("%s: %llu bytes, not a whole number of sectors: the "
		    "last %u bytes are not seen", path,
		    (unsigned long long)r->be.size,
		    (unsigned)(r->be.size % 512));
	r->be.ops = &blk_raw_ops;
	r->be.ro = ro;
	r->be.can_discard = blk_raw_probe_discard(r);
	log_debug("%s: %llu bytes%s%s", path, (unsigned long long)r->be.size,
	    ro ? ", read-only" : "", r->be.can_discard ? ", discard" : "");
	*out = &r->be;
	return 0;
fail:
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	return err;
}

static void
blk_raw_close(struct blk_backend *b)
{
	struct blk_raw *r;

	if (b == NULL)
		return;
	r = blk_raw_of(b);
	close(r->fd);
	free(r);
}

const struct blk_backend_ops blk_raw_ops = {
	.name = "raw",
	.open = blk_raw_open,
	.preadv = blk_raw_preadv,
	.pwritev = blk_raw_pwritev,
	.flush = blk_raw_flush,
	.discard = blk_raw_discard,
	.close = blk_raw_close,
};
