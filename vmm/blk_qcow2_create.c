/*
 * blk_qcow2_create.c: a new qcow2 v3 copy-on-write overlay over a pinned
 * backing file (blk_qcow2_create_overlay, blk_qcow2.h).
 */
#include "blk_qcow2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* ---- creating an overlay ------------------------------------------------------ */

#define QCOW2_NEW_CB		16	/* 64 KiB clusters */

/*
 * Cluster 0: header (v3, 104 bytes), backing format extension, end of
 * extensions, backing file name. Cluster 1: refcount table. Cluster 2:
 * refcount block 0. Clusters 3...: the L1 table (zeros: nothing
 * allocated). Every one of them has refcount 1.
 */
static void
q_new_header(uint8_t *h, const char *backing, const char *fmt, uint64_t size,
    uint32_t l1_size, uint64_t cs)
{
	size_t blen = strlen(backing), flen = strlen(fmt), pos;

	st32(h, QCOW2_MAGIC);
	st32(h + 4, 3);
	st32(h + 16, (uint32_t)blen);
	st32(h + 20, QCOW2_NEW_CB);
	st64(h + 24, size);
	st32(h + 36, l1_size);
	st64(h + 40, 3 * cs);			/* L1 table */
	st64(h + 48, cs);			/* refcount table */
	st32(h + 56, 1);
	st32(h + 96, 4);			/* 16-bit refcounts */
	st32(h + 100, QCOW2_V3_HEADER);
	pos = QCOW2_V3_HEADER;
	st32(h + pos, QCOW2_EXT_BACKING_FMT);
	st32(h + pos + 4, (uint32_t)flen);
	memcpy(h + pos + 8, fmt, flen);
	pos += 8 + ((flen + 7) & ~(size_t)7);
	pos += 8;				/* end of extensions */
	st64(h + 8, pos);			/* backing file name */
	memcpy(h + pos, backing, blen);
}

static int
q_write_new(int fd, const char *backing, const char *fmt, uint64_t size)
{
	uint64_t cs = 1ull << QCOW2_NEW_CB, span = cs * (cs / 8);
	uint64_t l1_size = size / span + !!(size % span);
	uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs, n;
	uint8_t *buf = calloc(3, cs);
	int err = 0;

	if (buf == NULL)
		return -ENOMEM;
	n = 3 + l1_clusters;
	q_new_header(buf, backing, fmt, size, (uint32_t)l1_size, cs);
	st64(buf + cs, 2 * cs);			/* refcount block 0 */
	for (uint64_t i = 0; i < n; i++)
		st16(buf + 2 * cs + 2 * i, 1);
	for (size_t done = 0; done < 3 * cs && err == 0;) {
		ssize_t r = pwrite(fd, buf + done, 3 * cs - done,
		    (off_t)done);

		if (r < 0 && errno != EINTR)
			err = -errno;
		else if (r == 0)
			err = -EIO;
		else if (r > 0)
			done += (size_t)r;
	}
	free(buf);
	if (err == 0 && ftruncate(fd, (off_t)(n * cs)) < 0)
		err = -errno;
	if (err == 0 && fsync(fd) < 0)
		err = -errno;
	return err;
}

/* fsync the directory holding path, so the new name is durable too. */
static void
q_sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (dir == NULL)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

static int
q_overlay_size(const char *backing, const char *fmt, uint64_t *size)
{
	struct blk_backend *b;
	int err;

	if (*size)
		return 0;
	err = qcow2_open_backing(backing, fmt, &b);
	if (err < 0)
		return err;
	*size = b->size;
	b->ops->close(b);
	return 0;
}

int
blk_qcow2_backing_size(const char *backing, const char *fmt, uint64_t *size)
{
	*size = 0;
	return q_overlay_size(backing, fmt, size);
}

int
blk_qcow2_create_overlay(const char *path, const char *backing,
    const char *backing_fmt, uint64_t size)
{
	uint64_t max = (uint64_t)(QCOW2_MAX_L1_BYTES / 8) <<
	    (2 * QCOW2_NEW_CB - 3);
	int fd, err;

	if (backing == NULL || backing[0] == '\0' ||
	    strlen(backing) > BLK_QCOW2_BACKING_NAME_MAX) {
		log_warnx("%s: backing file name empty or longer than %u "
		    "bytes", path, BLK_QCOW2_BACKING_NAME_MAX);
		return -EINVAL;
	}
	if (backing_fmt == NULL || (strcmp(backing_fmt, "raw") != 0 &&
	    strcmp(backing_fmt, "qcow2") != 0)) {
		log_warnx("%s: backing format '%s': must be raw or qcow2", path,
		    backing_fmt ? backing_fmt : "(none)");
		return -EINVAL;
	}
	err = q_overlay_size(backing, backing_fmt, &size);
	if (err < 0)
		return err;
	if (size == 0 || size > max) {
		log_warnx("%s: overlay size %llu bytes (1 to %llu)", path,
		    (unsigned long long)size, (unsigned long long)max);
		return -EINVAL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		log_warn("%s: create", path);
		return err;
	}
	err = q_write_new(fd, backing, backing_fmt, size);
	close(fd);
	if (err < 0) {
		log_warnx("%s: writing the new image: %s", path,
		    strerror(-err));
		unlink(path);
		return err;
	}
	q_sync_dir(path);
	return 0;
}
