/*
 * Unit tests: the boot disk reader's child process (vmm/bootdisk_sandbox.c).
 * The real fork, the real seccomp filter and the real answer parsing; the
 * reader the child runs is replaced (bootdisk_load_with) by ones that
 * crash, make a forbidden system call, answer lengths past the limits,
 * answer a bad status or never answer. Each must give bootdisk_load's
 * clear error, with nothing returned; the VMM (this process) lives on.
 * tests/unit/vmm_bootdisk.c drives the real reader through the same child.
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
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk.h"
#include "bootdisk.h"

static char path[64];
static struct blk_backend *disk;

static int
setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/unit_bdsb.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	return blk_raw_ops.open(path, 1, &disk);
}

static int
teardown(void **state)
{
	(void)state;
	disk->ops->close(disk);
	unlink(path);
	return 0;
}

static void
sandbox_defaults(unsigned timeout_s)
{
	bootdisk_set_sandbox(&(struct bootdisk_sandbox){ .seccomp = 1,
	    .timeout_s = timeout_s });
}

/* bootdisk_load_with reader must fail with -EIO and a message holding
 * want, and return nothing. */
static void
expect_error(bootdisk_reader_fn reader, const char *want)
{
	struct bootdisk bd;
	struct bootdisk_error e;

	memset(&bd, 0xa5, sizeof(bd));
	assert_int_equal(bootdisk_load_with(disk, &bd, &e, reader), -EIO);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error '%s' does not say '%s'", e.msg, want);
	assert_null(bd.kernel);
	assert_null(bd.initrd);
	assert_null(bd.cmdline);
	assert_null(bd.entry.kernel);
}

/* ---- readers standing in for a libext2fs gone wrong ------------------------ */

/* A crash (ud2: SIGILL, which the sanitizers leave alone). */
static int
reader_crash(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)out;
	(void)e;
	__builtin_trap();
}

/* A parser taken over by the image would try to reach out: a socket. */
static int
reader_socket(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)out;
	snprintf(e->msg, sizeof(e->msg), "socket %d",
	    socket(AF_INET, SOCK_STREAM, 0));
	return -EINVAL;
}

/* A kernel one byte past the limit (allocated, never touched). */
static int
reader_huge_kernel(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)e;
	out->kernel_len = BOOTDISK_KERNEL_MAX + 1;
	out->kernel = calloc(1, out->kernel_len);
	out->config = bootdisk_config_name(0);
	out->cmdline = strdup("console=ttyS0");
	return out->kernel ? 0 : -ENOMEM;
}

/* Initrd bytes but no initrd in the entry. */
static int
reader_stray_initrd(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)e;
	out->kernel_len = 16;
	out->kernel = calloc(1, 16);
	out->initrd_len = 16;
	out->initrd = calloc(1, 16);
	out->config = bootdisk_config_name(0);
	return 0;
}

/* A config the child does not know: garbage in the answer. */
static int
reader_bad_config(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)e;
	out->kernel_len = 16;
	out->kernel = calloc(1, 16);
	out->config = "/etc/passwd";
	return 0;
}

/* A positive status: not an errno. */
static int
reader_bad_status(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)out;
	(void)e;
	return 12345;
}

static int
reader_spin(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	volatile unsigned long n = 0;

	(void)be;
	(void)out;
	(void)e;
	for (;;)
		n++;
	return 0;
}

/* The child's own error, passed on as it is. */
static int
reader_fails(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	(void)be;
	(void)out;
	snprintf(e->msg, sizeof(e->msg), "no GRUB configuration (here)");
	return -ENOENT;
}

/* A good answer: 3 bytes of kernel, one initrd, the disk's size in the
 * command line (the disk was readable through the filter). */
static int
reader_good(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	uint8_t b[512];
	struct iovec v = { b, sizeof(b) };
	char line[64];

	(void)e;
	if (be->ops->preadv(be, &v, 1, 0) != (ssize_t)sizeof(b))
		return -EIO;
	snprintf(line, sizeof(line), "size=%llu", (unsigned long long)be->size);
	out->kernel = (uint8_t *)strdup("KRN");
	out->kernel_len = 3;
	out->initrd = (uint8_t *)strdup("INITRD");
	out->initrd_len = 6;
	out->cmdline = strdup(line);
	out->entry.kernel = strdup("/boot/vmlinuz");
	out->entry.initrd[0] = strdup("/boot/initrd");
	out->entry.ninitrd = 1;
	out->entry.cmdline = strdup("");
	out->part = 2;
	out->config = bootdisk_config_name(1);
	return 0;
}

/* ---- tests ----------------------------------------------------------------- */

static void
test_crash(void **state)
{
	(void)state;
	sandbox_defaults(0);
	expect_error(reader_crash, "killed by signal 4");
}

static void
test_seccomp(void **state)
{
	(void)state;
	sandbox_defaults(0);
	expect_error(reader_socket, "killed by signal 31");
	expect_error(reader_socket, "seccomp allow-list");
}

static void
test_garbage(void **state)
{
	(void)state;
	sandbox_defaults(0);
	expect_error(reader_huge_kernel, "malformed: a kernel of 67108865 "
	    "bytes");
	expect_error(reader_stray_initrd, "malformed: initrds of 16 bytes");
	expect_error(reader_bad_config, "malformed: configuration file");
	expect_error(reader_bad_status, "malformed: status 12345");
}

static void
test_timeout(void **state)
{
	(void)state;
	sandbox_defaults(1);
	expect_error(reader_spin, "no answer in 1 s (killed)");
	sandbox_defaults(0);
}

static void
test_answers(void **state)
{
	struct bootdisk bd;
	struct bootdisk_error e;

	(void)state;
	sandbox_defaults(0);
	assert_int_equal(bootdisk_load_with(disk, &bd, &e, reader_fails),
	    -ENOENT);
	assert_string_equal(e.msg, "no GRUB configuration (here)");
	assert_null(bd.kernel);
	assert_int_equal(bootdisk_load_with(disk, &bd, &e, reader_good), 0);
	assert_int_equal(bd.kernel_len, 3);
	assert_memory_equal(bd.kernel, "KRN", 3);
	assert_int_equal(bd.initrd_len, 6);
	assert_memory_equal(bd.initrd, "INITRD", 6);
	assert_string_equal(bd.cmdline, "size=1048576");
	assert_string_equal(bd.entry.kernel, "/boot/vmlinuz");
	assert_int_equal(bd.entry.ninitrd, 1);
	assert_string_equal(bd.entry.initrd[0], "/boot/initrd");
	assert_null(bd.entry.initrd[1]);
	assert_null(bd.entry.title == NULL ? NULL : (bd.entry.title[0] ?
	    bd.entry.title : NULL));
	assert_int_equal(bd.part, 2);
	assert_ptr_equal(bd.config, bootdisk_config_name(1));
	bootdisk_free(&bd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_crash),
		cmocka_unit_test(test_seccomp),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_timeout),
	};

	return cmocka_run_group_tests_name("bootdisk_sandbox", tests, setup,
	    teardown);
}
