/*
 * Unit tests: backing chains pinned level by level (blk_qcow2_open_chain,
 * vmm/blk_qcow2.c), on overlays made by our own blk_qcow2_create_overlay:
 *  - a raw base, a qcow2 middle with clusters over the base, a qcow2 top
 *    larger than both: reads fall through the levels (zeros past the
 *    base), writes go to the top only (the middle and the base keep every
 *    byte), read-only and read-write;
 *  - 16 backing files (each level with data of its own) read; 17 refused;
 *  - each level checked against the pinned one below it: a middle whose
 *    backing file is left out, a recorded format the pin contradicts;
 *  - a raw level above the base, a loop back to the image through a
 *    symlink, one file twice (a hard link), a bad format, a missing file:
 *    each refused with a message naming the level, nothing leaked (ASan).
 * qemu-img's view of such chains is tests/qcow2/interop.sh's.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk.h"
#include "blk_qcow2.h"
#include "log.h"

#define BASE_SIZE	(1u << 20)
#define TOP_SIZE	(2u << 20)

static char dir[64];
static char logbuf[16384];

static void
sink(enum log_level level, const char *line, void *arg)
{
	size_t n = strlen(logbuf);

	(void)level;
	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", line);
}

static int
logged(const char *text)
{
	return strstr(logbuf, text) != NULL;
}

/* dir/name, one buffer per name for the whole run (never reused). */
static const char *
tp(const char *name)
{
	static char p[16][128];
	static unsigned n;

	for (unsigned k = 0; k < n; k++)
		if (strcmp(strrchr(p[k], '/') + 1, name) == 0)
			return p[k];
	assert_true(n < 16);
	snprintf(p[n], sizeof(p[n]), "%s/%s", dir, name);
	return p[n++];
}

static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

/* The whole file (or NULL); *len its size. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
must_write(struct blk_backend *b, const uint8_t *buf, uint64_t off,
    size_t len)
{
	struct iovec v = { (void *)buf, len };

	assert_int_equal(b->ops->pwritev(b, &v, 1, off), (ssize_t)len);
}

/* b reads exactly model (b->size bytes). */
static void
assert_reads(struct blk_backend *b, const uint8_t *model)
{
	uint8_t *buf = malloc(b->size);
	struct iovec v = { buf, b->size };

	assert_non_null(buf);
	assert_int_equal(b->ops->preadv(b, &v, 1, 0), (ssize_t)b->size);
	assert_memory_equal(buf, model, b->size);
	free(buf);
}

/* Write len bytes of seed's pattern at off through b and into model. */
static void
put(struct blk_backend *b, uint8_t *model, uint64_t off, size_t len,
    unsigned seed)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	fill(buf, len, seed);
	must_write(b, buf, off, len);
	memcpy(model + off, buf, len);
	free(buf);
}

/* base.raw (BASE_SIZE), mid.qcow2 over it with some clusters of its own,
 * top.qcow2 (TOP_SIZE) over mid: model gets what top must read. */
static void
mk_chain3(uint8_t *model)
{
	struct blk_backend *b;
	uint8_t *base = malloc(BASE_SIZE);
	FILE *f;

	assert_non_null(base);
	fill(base, BASE_SIZE, 1);
	f = fopen(tp("base.raw"), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(base, 1, BASE_SIZE, f), BASE_SIZE);
	fclose(f);
	memset(model, 0, TOP_SIZE);
	memcpy(model, base, BASE_SIZE);
	free(base);
	unlink(tp("mid.qcow2"));
	unlink(tp("top.qcow2"));
	assert_int_equal(blk_qcow2_create_overlay(tp("mid.qcow2"),
	    tp("base.raw"), "raw", 0), 0);
	assert_int_equal(blk_qcow2_open_pinned(tp("mid.qcow2"), 0,
	    tp("base.raw"), "raw", &b), 0);
	put(b, model, 0, 65536, 2);		/* a whole cluster */
	put(b, model, 300000, 5000, 3);		/* straddles two */
	assert_int_equal(b->ops->flush(b), 0);
	b->ops->close(b);
	assert_int_equal(blk_qcow2_create_overlay(tp("top.qcow2"),
	    tp("mid.qcow2"), "qcow2", TOP_SIZE), 0);
}

static void
test_three_levels(void **state)
{
	const struct blk_qcow2_level chain[] = {
		{ tp("mid.qcow2"), "qcow2" }, { tp("base.raw"), "raw" } };
	uint8_t *model = malloc(TOP_SIZE), *mid0, *base0, *mid1, *base1;
	size_t midn, basen, n;
	struct blk_backend *b;

	(void)state;
	assert_non_null(model);
	mk_chain3(model);
	mid0 = slurp(chain[0].path, &midn);
	base0 = slurp(chain[1].path, &basen);
	assert_int_equal(blk_qcow2_open_chain(tp("top.qcow2"), 0, chain, 2,
	    &b), 0);
	assert_int_equal(b->size, TOP_SIZE);
	assert_reads(b, model);
	/* Over the middle's cluster, the base, and past the base's end. */
	put(b, model, 1000, 70000, 4);
	put(b, model, 500000, 4096, 5);
	put(b, model, BASE_SIZE - 100, 300, 6);
	assert_int_equal(b->ops->flush(b), 0);
	assert_reads(b, model);
	b->ops->close(b);
	mid1 = slurp(chain[0].path, &n);
	assert_int_equal(n, midn);
	assert_memory_equal(mid1, mid0, n);
	base1 = slurp(chain[1].path, &n);
	assert_int_equal(n, basen);
	assert_memory_equal(base1, base0, n);
	assert_int_equal(blk_qcow2_open_chain(tp("top.qcow2"), 1, chain, 2,
	    &b), 0);
	assert_reads(b, model);
	b->ops->close(b);
	free(mid0);
	free(mid1);
	free(base0);
	free(base1);
	free(model);
}

/* l0.raw <- l1.qcow2 <- ... <- l16.qcow2 <- l17.qcow2, each qcow2 level
 * with 4 KiB of its own at 32 KiB * i. */
static void
test_depth(void **state)
{
	struct blk_qcow2_level chain[BLK_QCOW2_CHAIN_MAX + 1];
	char names[BLK_QCOW2_CHAIN_MAX + 2][128], lower[128];
	uint8_t *model = calloc(1, BASE_SIZE);
	struct blk_backend *b;
	FILE *f;

	(void)state;
	assert_non_null(model);
	for (int i = 0; i <= BLK_QCOW2_CHAIN_MAX + 1; i++)
		snprintf(names[i], sizeof(names[i]), "%s/l%d.%s", dir, i,
		    i ? "qcow2" : "raw");
	f = fopen(names[0], "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(model, 1, BASE_SIZE, f), BASE_SIZE);
	fclose(f);
	for (int i = 1; i <= BLK_QCOW2_CHAIN_MAX + 1; i++) {
		/* Level i's chain: l(i-1) down to l0. */
		for (int k = 0; k < i; k++)
			chain[k] = (struct blk_qcow2_level){ names[i - 1 - k],
			    i - 1 - k ? "qcow2" : "raw" };
		snprintf(lower, sizeof(lower), "%s", names[i - 1]);
		unlink(names[i]);
		assert_int_equal(blk_qcow2_create_overlay(names[i], lower,
		    i > 1 ? "qcow2" : "raw", BASE_SIZE), 0);
		if (i > BLK_QCOW2_CHAIN_MAX)
			break;
		assert_int_equal(blk_qcow2_open_chain(names[i], 0, chain,
		    (unsigned)i, &b), 0);
		put(b, model, (uint64_t)i << 15, 4096, 10 + (unsigned)i);
		b->ops->close(b);
	}
	/* l16 over 16 backing files reads every level's data. */
	for (int k = 0; k < BLK_QCOW2_CHAIN_MAX; k++)
		chain[k] = (struct blk_qcow2_level){
		    names[BLK_QCOW2_CHAIN_MAX - 1 - k],
		    BLK_QCOW2_CHAIN_MAX - 1 - k ? "qcow2" : "raw" };
	assert_int_equal(blk_qcow2_open_chain(names[BLK_QCOW2_CHAIN_MAX], 1,
	    chain, BLK_QCOW2_CHAIN_MAX, &b), 0);
	assert_reads(b, model);
	b->ops->close(b);
	/* l17 would need 17. */
	memmove(chain + 1, chain, sizeof(chain[0]) * BLK_QCOW2_CHAIN_MAX);
	chain[0] = (struct blk_qcow2_level){ names[BLK_QCOW2_CHAIN_MAX],
	    "qcow2" };
	assert_int_equal(blk_qcow2_open_chain(names[BLK_QCOW2_CHAIN_MAX + 1],
	    1, chain, BLK_QCOW2_CHAIN_MAX + 1, &b), -ELOOP);
	assert_true(logged("a backing chain of 17 files (at most 16)"));
	free(model);
}

struct refusal {
	const char *name;
	struct blk_qcow2_level chain[4];
	unsigned n;
	int err;
	const char *text;
};

static void
test_refusals(void **state)
{
	uint8_t *model = malloc(TOP_SIZE);
	struct blk_backend *b;
	char mid[128], base[128], other[128], lnk[128], hard[128];

	(void)state;
	assert_non_null(model);
	mk_chain3(model);
	free(model);
	snprintf(mid, sizeof(mid), "%s", tp("mid.qcow2"));
	snprintf(base, sizeof(base), "%s", tp("base.raw"));
	snprintf(other, sizeof(other), "%s", tp("other.qcow2"));
	snprintf(lnk, sizeof(lnk), "%s", tp("link.qcow2"));
	snprintf(hard, sizeof(hard), "%s", tp("hard.qcow2"));
	unlink(other);
	assert_int_equal(blk_qcow2_create_overlay(other, base, "raw", 0), 0);
	unlink(lnk);
	assert_int_equal(symlink(tp("top.qcow2"), lnk), 0);
	unlink(hard);
	assert_int_equal(link(mid, hard), 0);
	const struct refusal r[] = {
		{ "the middle's backing file left out", { { mid, "qcow2" } },
		    1, -EINVAL, "mid.qcow2: qcow2 with a backing file" },
		{ "the middle's recorded format contradicted", { { mid,
		    "qcow2" }, { other, "qcow2" }, { base, "raw" } }, 3, -EINVAL,
		    "mid.qcow2: the image records backing format 'raw', the "
		    "config says 'qcow2'" },
		{ "raw above the base", { { base, "raw" }, { mid, "qcow2" } },
		    2, -EINVAL, "base.raw) is raw, but backing file 2 follows "
		    "it: only the last one (the base) may be raw" },
		{ "a loop back to the image", { { lnk, "qcow2" }, { mid,
		    "qcow2" }, { base, "raw" } }, 3, -ELOOP, "link.qcow2) is "
		    "the image itself: a backing chain cannot loop" },
		{ "one file twice", { { mid, "qcow2" }, { hard, "qcow2" },
		    { base, "raw" } }, 3, -ELOOP, "hard.qcow2) is the same "
		    "file as backing file 1 (" },
		{ "a bad format", { { mid, "vmdk" }, { base, "raw" } }, 2,
		    -EINVAL, "format 'vmdk': must be raw or qcow2" },
		{ "no format", { { mid, NULL }, { base, "raw" } }, 2, -EINVAL,
		    "format '(none)': must be raw or qcow2" },
		{ "a missing file", { { mid, "qcow2" }, { tp("none.raw"),
		    "raw" } }, 2, -ENOENT, "none.raw)" },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		logbuf[0] = '\0';
		b = NULL;
		int err = blk_qcow2_open_chain(tp("top.qcow2"), 0, r[i].chain,
		    r[i].n, &b);

		if (err != r[i].err || !logged(r[i].text))
			fail_msg("%s: %d (want %d), no '%s' in: %s", r[i].name,
			    err, r[i].err, r[i].text, logbuf);
		assert_null(b);
	}
	/* The image itself opens fine afterwards (nothing left locked). */
	const struct blk_qcow2_level good[] = { { mid, "qcow2" },
	    { base, "raw" } };
	assert_int_equal(blk_qcow2_open_chain(tp("top.qcow2"), 0, good, 2,
	    &b), 0);
	b->ops->close(b);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/dev/shm/unit_qcow2c.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/unit_qcow2c.XXXXXX");
		assert_non_null(mkdtemp(dir));
	}
	log_set_sink(sink, NULL);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_levels),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("vmm_qcow2_chain", tests, setup,
	    teardown);
}
