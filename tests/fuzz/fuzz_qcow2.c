/*
 * libFuzzer target: a qcow2 image is untrusted input (a containerDisk is
 * pulled from a registry). The input is the image file (in a memfd); it is
 * opened read-only and read at spread-out offsets, then read-write and
 * written, discarded, flushed and read again. A corrupt image must get an
 * error, never a crash or an access outside the back end's buffers
 * (ASan), whatever its header, tables and compressed data say. An image
 * that names a backing file gets a 64 KiB raw one.
 *
 * Linked with --wrap=preadv: every read the back end makes (they all go
 * through preadv) must end inside the file, rounded up to the image's
 * cluster size (a last cluster may be short); one that does not aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blk.h"
#include "blk_qcow2.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
ssize_t __real_preadv(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __wrap_preadv(int fd, const struct iovec *iov, int n, off_t off);

static char backing_path[64];
static uint8_t buf[3 * 65536];
static uint64_t slack;		/* cluster size of the current input */

ssize_t
__wrap_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	uint64_t len = 0, end;
	struct stat st;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (fstat(fd, &st) == 0 && len) {
		end = ((uint64_t)st.st_size + slack - 1) / slack * slack;
		if ((uint64_t)off > end || len > end - (uint64_t)off) {
			fprintf(stderr, "read [%lld, +%llu) outside a file of "
			    "%lld bytes\n", (long long)off,
			    (unsigned long long)len, (long long)st.st_size);
			abort();
		}
	}
	return __real_preadv(fd, iov, n, off);
}

static void
quiet(enum log_level level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

/* A memfd holding data; its /proc path in path. */
static int
memfile(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("qcow2", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t base[65536];

	(void)argc;
	(void)argv;
	log_set_sink(quiet, NULL);
	for (size_t i = 0; i < sizeof(base); i++)
		base[i] = (uint8_t)(i * 7 + 1);
	if (memfile(base, sizeof(base), backing_path, sizeof(backing_path)) < 0)
		abort();
	return 0;
}

static int
open_image(const char *path, int ro, int has_backing, struct blk_backend **b)
{
	if (has_backing)
		return blk_qcow2_open_pinned(path, ro, backing_path, "raw", b);
	return blk_qcow2_ops.open(path, ro, b);
}

/* Reads of up to 3 clusters at 16 offsets spread over the disk. */
static void
read_around(struct blk_backend *b)
{
	for (uint64_t i = 0; i < 16 && b->size; i++) {
		uint64_t off = b->size / 16 * i & ~511ull;
		struct iovec v[2] = { { buf, 1000 }, { buf + 1000,
		    sizeof(buf) - 1000 } };

		if (b->size - off < sizeof(buf)) {
			v[0].iov_len = (b->size - off) / 2;
			v[1].iov_len = b->size - off - v[0].iov_len;
		}
		(void)b->ops->preadv(b, v, 2, off);
	}
}

static void
write_around(struct blk_backend *b)
{
	uint64_t sz = b->size;

	memset(buf, 0x5a, sizeof(buf));
	for (uint64_t i = 0; i < 4 && sz; i++) {
		uint64_t off = sz / 4 * i + 100, len = 70000;
		struct iovec v = { buf, 0 };

		if (off >= sz)
			off = 0;
		v.iov_len = sz - off < len ? sz - off : len;
		(void)b->ops->pwritev(b, &v, 1, off);
	}
	if (b->can_discard && sz > 4096)
		(void)b->ops->discard(b, 512, sz / 2 > 200000 ? 200000 :
		    sz / 2);
	(void)b->ops->flush(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_backend *b;
	char path[64];
	int fd, has_backing = 0;

	/* backing_file_offset (header bytes 8-15) set: give it a backing. */
	for (size_t i = 8; i < 16 && i < size; i++)
		has_backing |= data[i] != 0;
	slack = 1;
	if (size >= 24 && data[20] == 0 && data[21] == 0 && data[22] == 0 &&
	    data[23] >= 9 && data[23] <= 21)
		slack = 1ull << data[23];
	fd = memfile(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	if (open_image(path, 1, has_backing, &b) == 0) {
		read_around(b);
		b->ops->close(b);
	}
	if (open_image(path, 0, has_backing, &b) == 0) {
		write_around(b);
		read_around(b);
		b->ops->close(b);
	}
	close(fd);
	return 0;
}
