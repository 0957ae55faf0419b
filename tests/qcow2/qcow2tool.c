/*
 * qcow2tool: drives vmm/blk_qcow2.c for the shell tests (tests/qcow2/).
 *
 *   qcow2tool create OVERLAY BACKING FMT [SIZE]
 *   qcow2tool [OPTS] info IMAGE            print "size BYTES"
 *   qcow2tool [OPTS] dump IMAGE OUT        the guest's bytes to a raw file
 *   qcow2tool [OPTS] write IMAGE OFF FILE  FILE's bytes at OFF, flushed
 *   qcow2tool [OPTS] discard IMAGE OFF LEN
 *   qcow2tool [OPTS] workload IMAGE MIRROR SEED NOPS [LO HI]
 *
 * OPTS: -b BACKING -F FMT (repeat for a chain: the first is the image's
 * backing file, the next that one's, ...; opened with blk_qcow2_open_chain), -r (read-only), -d (workload
 * also discards), -m MAXLEN (workload request size, default 256 KiB).
 *
 * workload: NOPS random requests (0: until killed) inside [LO, HI) of the
 * disk, each done to the image through blk_qcow2_ops and to MIRROR (a raw
 * file) with pwrite: writes of random length and alignment split over up
 * to 4 iovecs, sometimes discards (-d), read-backs compared with the
 * mirror, and a flush every 8 requests, after which it prints
 * "flushed N". Exit 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "blk_qcow2.h"
#include "log.h"

/* One more than the back end opens, to see it refuse. */
#define MAX_CHAIN	(BLK_QCOW2_CHAIN_MAX + 1)
#define CHUNK		(1u << 20)

struct opts {
	const char *backing[MAX_CHAIN];
	const char *fmt[MAX_CHAIN];
	int nbacking;
	int ro;
	int discard;
	uint64_t maxlen;
};

static int
die(const char *what, int err)
{
	fprintf(stderr, "qcow2tool: %s: %s\n", what, strerror(err < 0 ?
	    -err : err));
	return 1;
}

static uint64_t
num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "qcow2tool: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Open path (qcow2) over the pinned chain, as drover-vmm opens a disk. */
static int
open_chain(const struct opts *o, const char *path, struct blk_backend **out)
{
	struct blk_qcow2_level chain[MAX_CHAIN];

	for (int i = 0; i < o->nbacking; i++)
		chain[i] = (struct blk_qcow2_level){ o->backing[i], o->fmt[i] };
	return blk_qcow2_open_chain(path, o->ro, chain, (unsigned)o->nbacking,
	    out);
}

static int
cmd_info(struct blk_backend *b)
{
	printf("size %" PRIu64 "\n", b->size);
	return 0;
}

static int
cmd_dump(struct blk_backend *b, const char *out)
{
	uint8_t *buf = malloc(CHUNK);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = 0;

	if (buf == NULL || fd < 0)
		return die(out, errno);
	for (uint64_t off = 0; off < b->size && rc == 0; off += CHUNK) {
		struct iovec v = { buf, b->size - off < CHUNK ?
		    b->size - off : CHUNK };
		ssize_t r = b->ops->preadv(b, &v, 1, off);

		if (r < 0)
			rc = die("read", (int)r);
		else if (pwrite(fd, buf, v.iov_len, (off_t)off) !=
		    (ssize_t)v.iov_len)
			rc = die("write", errno);
	}
	if (ftruncate(fd, (off_t)b->size) < 0)
		rc = die("ftruncate", errno);
	close(fd);
	free(buf);
	return rc;
}

static int
cmd_write(struct blk_backend *b, uint64_t off, const char *file)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(file, O_RDONLY), rc = 0;
	ssize_t r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return die(file, errno);
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size)
		return die(file, errno);
	close(fd);
	r = b->ops->pwritev(b, &(struct iovec){ buf, (size_t)st.st_size },
	    1, off);
	if (r < 0)
		rc = die("write", (int)r);
	else if ((r = b->ops->flush(b)) < 0)
		rc = die("flush", (int)r);
	free(buf);
	return rc;
}

static int
cmd_discard(struct blk_backend *b, uint64_t off, uint64_t len)
{
	int err;

	if (!b->can_discard)
		return die("discard", EOPNOTSUPP);
	err = b->ops->discard(b, off, len);
	if (err == 0)
		err = b->ops->flush(b);
	return err < 0 ? die("discard", err) : 0;
}

/* ---- workload ------------------------------------------------------------------ */

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

struct wl {
	struct blk_backend *b;
	int mfd;
	uint64_t seed, lo, hi, maxlen;
	uint8_t *buf, *chk;
	int discard;
};

/* A request [*off, *off + *len) inside [lo, hi): sizes from 1 byte to
 * maxlen, offsets sector-aligned 3 times in 4. */
static void
wl_range(struct wl *w, uint64_t *off, uint64_t *len)
{
	uint64_t span = w->hi - w->lo, r = rnd(&w->seed);
	uint64_t l;

	switch (r % 4) {
	case 0:
		l = 1 + rnd(&w->seed) % 4096;
		break;
	case 1:
		l = 65536;
		break;
	default:
		l = 1 + rnd(&w->seed) % w->maxlen;
		break;
	}
	l = l < span ? l : span;
	*off = w->lo + rnd(&w->seed) % (span - l + 1);
	if ((r >> 8) % 4 != 0) {
		*off &= ~511ull;
		if (*off < w->lo)
			*off = w->lo;
	}
	*len = l;
}

static int
wl_write(struct wl *w, uint64_t off, uint64_t len)
{
	struct iovec v[4];
	int n = 1 + (int)(rnd(&w->seed) % 4);
	uint64_t pos = 0;
	ssize_t r;

	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t x = rnd(&w->seed);

		memcpy(w->buf + i, &x, len - i < 8 ? len - i : 8);
	}
	for (int i = 0; i < n; i++) {
		uint64_t take = i == n - 1 ? len - pos :
		    rnd(&w->seed) % (len - pos + 1);

		v[i] = (struct iovec){ w->buf + pos, take };
		pos += take;
	}
	r = w->b->ops->pwritev(w->b, v, n, off);
	if (r != (ssize_t)len)
		return die("qcow2 write", r < 0 ? (int)r : EIO);
	if (pwrite(w->mfd, w->buf, len, (off_t)off) != (ssize_t)len)
		return die("mirror write", errno);
	return 0;
}

static int
wl_discard(struct wl *w, uint64_t off, uint64_t len)
{
	int err = w->b->ops->discard(w->b, off, len);

	if (err < 0)
		return die("qcow2 discard", err);
	memset(w->buf, 0, len);
	if (pwrite(w->mfd, w->buf, len, (off_t)off) != (ssize_t)len)
		return die("mirror write", errno);
	return 0;
}

static int
wl_check(struct wl *w, uint64_t off, uint64_t len)
{
	struct iovec v = { w->buf, len };
	ssize_t r = w->b->ops->preadv(w->b, &v, 1, off);

	if (r != (ssize_t)len)
		return die("qcow2 read", r < 0 ? (int)r : EIO);
	if (pread(w->mfd, w->chk, len, (off_t)off) != (ssize_t)len)
		return die("mirror read", errno);
	if (memcmp(w->buf, w->chk, len) != 0) {
		fprintf(stderr, "qcow2tool: read-back of [%" PRIu64 ", +%"
		    PRIu64 ") differs from the mirror\n", off, len);
		return 1;
	}
	return 0;
}

static int
wl_one(struct wl *w)
{
	uint64_t off, len, op = rnd(&w->seed) % 16;

	wl_range(w, &off, &len);
	if (op < 3)
		return wl_check(w, off, len);
	if (op < 5 && w->discard && w->b->can_discard)
		return wl_discard(w, off, len);
	return wl_write(w, off, len);
}

static int
cmd_workload(struct blk_backend *b, const struct opts *o, char **argv,
    int argc)
{
	struct wl w = { .b = b, .maxlen = o->maxlen, .discard = o->discard };
	uint64_t nops;
	int rc = 0;

	w.mfd = open(argv[0], O_RDWR);
	if (w.mfd < 0)
		return die(argv[0], errno);
	w.seed = num(argv[1]) * 2654435761u + 1;
	nops = num(argv[2]);
	w.lo = argc >= 5 ? num(argv[3]) : 0;
	w.hi = argc >= 5 ? num(argv[4]) : b->size;
	if (w.lo >= w.hi || w.hi > b->size) {
		fprintf(stderr, "qcow2tool: bad range\n");
		return 2;
	}
	w.buf = malloc(w.maxlen + 4096);
	w.chk = malloc(w.maxlen + 4096);
	if (w.buf == NULL || w.chk == NULL)
		return die("malloc", ENOMEM);
	for (uint64_t i = 1; rc == 0 && (nops == 0 || i <= nops); i++) {
		rc = wl_one(&w);
		if (rc == 0 && i % 8 == 0) {
			int err = b->ops->flush(b);

			if (err < 0)
				rc = die("flush", err);
			else
				printf("flushed %" PRIu64 "\n", i);
			fflush(stdout);
		}
	}
	close(w.mfd);
	free(w.buf);
	free(w.chk);
	return rc;
}

static int
cmd_create(char **argv, int argc)
{
	int err;

	if (argc < 4)
		return 2;
	err = blk_qcow2_create_overlay(argv[1], argv[2], argv[3],
	    argc > 4 ? num(argv[4]) : 0);
	return err < 0 ? die("create", err) : 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: qcow2tool create OVERLAY BACKING FMT [SIZE]\n"
	    "       qcow2tool [-b BACKING -F FMT]... [-r] [-d] [-m MAXLEN] "
	    "info|dump|write|discard|workload IMAGE ARGS...\n");
	return 2;
}

static int
run(const struct opts *o, char **argv, int argc)
{
	struct blk_backend *b;
	const char *cmd = argv[0];
	int err, rc;

	if (argc < 2)
		return usage();
	err = open_chain(o, argv[1], &b);
	if (err < 0)
		return die(argv[1], err);
	if (strcmp(cmd, "info") == 0)
		rc = cmd_info(b);
	else if (strcmp(cmd, "dump") == 0 && argc == 3)
		rc = cmd_dump(b, argv[2]);
	else if (strcmp(cmd, "write") == 0 && argc == 4)
		rc = cmd_write(b, num(argv[2]), argv[3]);
	else if (strcmp(cmd, "discard") == 0 && argc == 4)
		rc = cmd_discard(b, num(argv[2]), num(argv[3]));
	else if (strcmp(cmd, "workload") == 0 && (argc == 5 || argc == 7))
		rc = cmd_workload(b, o, argv + 2, argc - 2);
	else
		rc = usage();
	b->ops->close(b);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { .maxlen = 256 * 1024 };
	int c;

	log_init("qcow2tool", LOG_LEVEL_INFO);
	while ((c = getopt(argc, argv, "b:F:rdm:")) != -1) {
		switch (c) {
		case 'b':
			if (o.nbacking == MAX_CHAIN)
				return usage();
			o.backing[o.nbacking] = optarg;
			o.fmt[o.nbacking++] = "raw";
			break;
		case 'F':
			if (o.nbacking == 0)
				return usage();
			o.fmt[o.nbacking - 1] = optarg;
			break;
		case 'r':
			o.ro = 1;
			break;
		case 'd':
			o.discard = 1;
			break;
		case 'm':
			o.maxlen = num(optarg);
			break;
		default:
			return usage();
		}
	}
	argv += optind;
	argc -= optind;
	if (argc < 1)
		return usage();
	if (strcmp(argv[0], "create") == 0)
		return cmd_create(argv, argc);
	return run(&o, argv, argc);
}
