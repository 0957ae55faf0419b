/*
 * Unit tests: booting from a disk alone (vmm/part.c, grubcfg.c,
 * bootdisk.c). The disks are built here with the real tools: sgdisk (GPT)
 * and sfdisk (MBR), mkfs.ext4 -d / mkfs.ext3 -d from a directory holding
 * boot/vmlinuz, boot/initrd.img and a GRUB configuration, qemu-img convert
 * -c for compressed qcow2 copies. The kernel and initrd found must be the
 * files' bytes exactly; corrupt tables, file systems and configurations
 * must give errors naming the problem. Without the tools the disk tests
 * are skipped; the grubcfg tests need nothing.
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk.h"
#include "bootdisk.h"
#include "grubcfg.h"
#include "part.h"

static char dir[64];
static int have_tools;
static uint8_t kernel[300000], initrd[100001];

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static const char grub_cfg[] =
	"# written by a test\n"
	"set default=\"${saved_entry}\"\n"
	"if [ \"${next_entry}\" ] ; then\n"
	"   set default=\"${next_entry}\"\n"
	"else\n"
	"   set default=\"1\"\n"
	"fi\n"
	"set rootopts='ro quiet'\n"
	"function load_video {\n  insmod all_video\n}\n"
	"menuentry 'Rescue' --class debian {\n"
	"\tlinux /boot/missing root=/dev/vda1\n"
	"}\n"
	"menuentry \"Drover test\" --id drover {\n"
	"\tload_video\n"
	"\tsearch --no-floppy --fs-uuid --set=root 1234-abcd\n"
	"\techo 'Loading Linux ...'\n"
	"\tlinux ($root)/boot/vmlinuz root=/dev/vda2 $rootopts \"a b\"\n"
	"\tinitrd /boot/initrd.img\n"
	"}\n";

static const char menu_lst[] =
	"default=1\n"
	"timeout=0\n"
	"hiddenmenu\n\n"
	"title other\n"
	"kernel /boot/nope\n"
	"title cirros\n"
	"root (hd0,0)\n"
	"kernel (hd0,0)/boot/vmlinuz LABEL=cirros-rootfs ro console=tty1 console=ttyS0\n"
	"initrd /boot/initrd.img\n";

/* A tree: boot/vmlinuz, boot/initrd.img, and cfg at cfgpath. */
static void
mk_tree(const char *name, const char *cfgpath, const char *cfg)
{
	char p[256];

	assert_int_equal(sh("mkdir -p %s/%s/boot/grub", dir, name), 0);
	snprintf(p, sizeof(p), "%s/%s/boot/vmlinuz", dir, name);
	put_file(p, kernel, sizeof(kernel));
	snprintf(p, sizeof(p), "%s/%s/boot/initrd.img", dir, name);
	put_file(p, initrd, sizeof(initrd));
	snprintf(p, sizeof(p), "%s/%s/%s", dir, name, cfgpath);
	put_file(p, cfg, strlen(cfg));
}

static int
setup(void **state)
{
	(void)state;
	srand(42);
	for (size_t i = 0; i < sizeof(kernel); i++)
		kernel[i] = (uint8_t)rand();
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)rand();
	snprintf(dir, sizeof(dir), "/tmp/bootdisk.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	have_tools = sh("(command -v sgdisk && command -v sfdisk && "
	    "command -v mkfs.ext4 && command -v qemu-img) > /dev/null") == 0;
	if (!have_tools)
		return 0;
	mk_tree("t2", "boot/grub/grub.cfg", grub_cfg);
	mk_tree("t1", "boot/grub/menu.lst", menu_lst);
	/* GPT: p1 8 MiB with no file system, p2 32 MiB ext4 (grub.cfg). */
	if (sh("cd %s && truncate -s 48M gpt.raw && sgdisk -n 1:2048:18431 "
	    "-t 1:ef00 -n 2:18432:83967 -t 2:8300 gpt.raw >/dev/null && "
	    "mkfs.ext4 -q -F -d t2 p2.img 32M && "
	    "dd if=p2.img of=gpt.raw bs=512 seek=18432 conv=notrunc "
	    "status=none && qemu-img convert -q -f raw -O qcow2 -c gpt.raw "
	    "gpt.qcow2", dir) != 0)
		return -1;
	/* MBR: p1 ext4 without a configuration, p2 (active) ext3 menu.lst,
	 * p5 a logical partition in an extended p3. */
	if (sh("cd %s && truncate -s 64M mbr.raw && printf 'label: dos\\n"
	    "start=2048, size=16384, type=83\\n"
	    "start=18432, size=65536, type=83, bootable\\n"
	    "start=83968, size=40960, type=5\\n"
	    "start=86016, size=8192, type=83\\n' | sfdisk -q mbr.raw && "
	    "mkdir -p empty && mkfs.ext4 -q -F -d empty p1.img 8M && "
	    "mkfs.ext3 -q -F -d t1 p2m.img 32M && "
	    "dd if=p1.img of=mbr.raw bs=512 seek=2048 conv=notrunc status=none && "
	    "dd if=p2m.img of=mbr.raw bs=512 seek=18432 conv=notrunc status=none && "
	    "qemu-img convert -q -f raw -O qcow2 -c mbr.raw mbr.qcow2", dir) != 0)
		return -1;
	/* No partition table: a whole-disk ext2 file system. */
	if (sh("cd %s && mkfs.ext2 -q -F -d t2 whole.raw 16M", dir) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sh("rm -rf %s", dir);
	return 0;
}

static struct blk_backend *
open_disk(const char *name)
{
	struct blk_backend *be = NULL;
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (strstr(name, ".qcow2"))
		assert_int_equal(blk_qcow2_ops.open(p, 1, &be), 0);
	else
		assert_int_equal(blk_raw_ops.open(p, 1, &be), 0);
	return be;
}

/* Load name; 0 and bd, or the error. */
static int
load(const char *name, struct bootdisk *bd, struct bootdisk_error *e)
{
	struct blk_backend *be = open_disk(name);
	int err;

	e->msg[0] = '\0';
	err = bootdisk_load(be, bd, e);
	be->ops->close(be);
	return err;
}

static void
check_files(const struct bootdisk *bd)
{
	assert_int_equal(bd->kernel_len, sizeof(kernel));
	assert_memory_equal(bd->kernel, kernel, sizeof(kernel));
	/* The initrd, padded to 4 bytes with zeros. */
	assert_int_equal(bd->initrd_len, (sizeof(initrd) + 3) & ~3UL);
	assert_memory_equal(bd->initrd, initrd, sizeof(initrd));
	for (size_t i = sizeof(initrd); i < bd->initrd_len; i++)
		assert_int_equal(bd->initrd[i], 0);
}

/* Load disk NAME and check what it boots: the partition, the config
 * file, the entry title (NULL: not checked) and the command line. */
static void
expect_disk(const char *name, unsigned part, const char *config,
    const char *title, const char *cmdline)
{
	struct bootdisk bd;
	struct bootdisk_error e;

	if (!have_tools)
		skip();
	assert_int_equal(load(name, &bd, &e), 0);
	check_files(&bd);
	assert_int_equal(bd.part, part);
	assert_string_equal(bd.config, config);
	if (title)
		assert_string_equal(bd.entry.title, title);
	assert_string_equal(bd.cmdline, cmdline);
	bootdisk_free(&bd);
}

static void
gpt_disk(const char *name)
{
	expect_disk(name, 2, "/boot/grub/grub.cfg", "Drover test",
	    "root=/dev/vda2 ro quiet a b console=ttyS0");
}

static void
test_gpt_raw(void **state)
{
	(void)state;
	gpt_disk("gpt.raw");
}

static void
test_gpt_qcow2_compressed(void **state)
{
	(void)state;
	gpt_disk("gpt.qcow2");
}

/* Partition 2 is the active one. */
static void
mbr_disk(const char *name)
{
	expect_disk(name, 2, "/boot/grub/menu.lst", NULL,
	    "LABEL=cirros-rootfs ro console=tty1 console=ttyS0");
}

static void
test_mbr_raw(void **state)
{
	(void)state;
	mbr_disk("mbr.raw");
}

static void
test_mbr_qcow2_compressed(void **state)
{
	(void)state;
	mbr_disk("mbr.qcow2");
}

static int
disk_read(void *arg, void *buf, size_t len, uint64_t off)
{
	struct blk_backend *be = arg;
	struct iovec iov = { buf, len };

	return be->ops->preadv(be, &iov, 1, off) == (ssize_t)len ? 0 : -EIO;
}

static void
test_mbr_table(void **state)
{
	struct blk_backend *be;
	struct part_table t;
	struct part_error e;

	(void)state;
	if (!have_tools)
		skip();
	be = open_disk("mbr.raw");
	assert_int_equal(part_read(disk_read, be, be->size, &t, &e), 0);
	assert_int_equal(t.kind, PART_KIND_MBR);
	assert_int_equal(t.n, 3);	/* 1, 2, logical 5 */
	assert_int_equal(t.e[0].number, 1);
	assert_int_equal(t.e[0].start, 2048ULL * 512);
	assert_int_equal(t.e[1].bootable, 1);
	assert_int_equal(t.e[2].number, 5);
	assert_int_equal(t.e[2].start, 86016ULL * 512);
	assert_int_equal(t.e[2].size, 8192ULL * 512);
	be->ops->close(be);
	be = NULL;
	be = open_disk("gpt.qcow2");
	assert_int_equal(part_read(disk_read, be, be->size, &t, &e), 0);
	assert_int_equal(t.kind, PART_KIND_GPT);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.e[1].start, 18432ULL * 512);
	assert_int_equal(t.e[1].size, (83968ULL - 18432) * 512);
	be->ops->close(be);
}

static void
test_whole_disk(void **state)
{
	struct bootdisk bd;
	struct bootdisk_error e;

	(void)state;
	if (!have_tools)
		skip();
	assert_int_equal(load("whole.raw", &bd, &e), 0);
	check_files(&bd);
	assert_int_equal(bd.part, 0);
	bootdisk_free(&bd);
}

/* Copy src to dst and apply a shell edit; then load dst and expect an
 * error containing want. */
static void
corrupt(const char *src, const char *edit, const char *want)
{
	struct bootdisk bd;
	struct bootdisk_error e;

	assert_int_equal(sh("cd %s && cp %s bad.raw && %s", dir, src, edit), 0);
	assert_true(load("bad.raw", &bd, &e) < 0);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error '%s' does not say '%s'", e.msg, want);
}

static void
test_corrupt(void **state)
{
	(void)state;
	if (!have_tools)
		skip();
	/* Both GPT headers' CRCs broken. */
	corrupt("gpt.raw", "printf 'XX' | dd of=bad.raw bs=1 seek=$((512 + 16)) "
	    "conv=notrunc status=none && printf 'XX' | dd of=bad.raw bs=1 "
	    "seek=$((48 * 1024 * 1024 - 512 + 16)) conv=notrunc status=none",
	    "CRC32");
	/* The entry array broken in both copies. */
	corrupt("gpt.raw", "printf 'X' | dd of=bad.raw bs=1 seek=1100 "
	    "conv=notrunc status=none && printf 'X' | dd of=bad.raw bs=1 "
	    "seek=$((48 * 1024 * 1024 - 33 * 512 + 10)) conv=notrunc "
	    "status=none", "entry array");
	/* MBR partitions 1 and 2 overlapping (p2 starts at sector 2049). */
	corrupt("mbr.raw", "printf '\\001\\010' | dd of=bad.raw bs=1 "
	    "seek=$((446 + 16 + 8)) conv=notrunc status=none", "overlap");
	/* A partition past the end of the disk. */
	corrupt("mbr.raw", "printf '\\377\\377\\377\\000' | dd of=bad.raw bs=1 "
	    "seek=$((446 + 12)) conv=notrunc status=none", "does not fit");
	/* The ext3 superblock's block size garbage: no file system opens. */
	corrupt("mbr.raw", "printf '\\100' | dd of=bad.raw bs=1 "
	    "seek=$((18432 * 512 + 1024 + 24)) conv=notrunc status=none",
	    "ext2/3/4 file system");
	/* An EBR loop: the link points back at itself. */
	corrupt("mbr.raw", "printf '\\005' | dd of=bad.raw bs=1 "
	    "seek=$((83968 * 512 + 446 + 16 + 4)) conv=notrunc status=none && "
	    "printf '\\000\\000\\000\\000\\001' | dd of=bad.raw bs=1 "
	    "seek=$((83968 * 512 + 446 + 16 + 8)) conv=notrunc status=none",
	    "extended boot record");
}

/* A file system whose configuration is bad or names missing files. */
static void
test_bad_config(void **state)
{
	struct bootdisk bd;
	struct bootdisk_error e;

	(void)state;
	if (!have_tools)
		skip();
	assert_int_equal(sh("cd %s && mkdir -p t3/boot/grub && printf "
	    "'menuentry \"x\" {\\n linux \"/boot/vmlinuz\\n}\\n' > "
	    "t3/boot/grub/grub.cfg && mkfs.ext4 -q -F -d t3 bad.raw 8M", dir),
	    0);
	assert_true(load("bad.raw", &bd, &e) < 0);
	assert_non_null(strstr(e.msg, "unterminated \" quote"));
	assert_int_equal(sh("cd %s && printf 'menuentry x {\\n linux /boot/"
	    "vmlinuz\\n}\\n' > t3/boot/grub/grub.cfg && mkfs.ext4 -q -F -d t3 "
	    "bad.raw 8M", dir), 0);
	assert_true(load("bad.raw", &bd, &e) < 0);
	assert_non_null(strstr(e.msg, "kernel /boot/vmlinuz: not found"));
	assert_int_equal(sh("cd %s && mkfs.ext4 -q -F -d empty bad.raw 8M",
	    dir), 0);
	assert_true(load("bad.raw", &bd, &e) < 0);
	assert_non_null(strstr(e.msg, "no GRUB configuration"));
}

/* ---- grubcfg alone ------------------------------------------------------------ */

static void
parse_ok(enum grubcfg_kind k, const char *text, const char *kern,
    const char *cmdline, unsigned ninitrd)
{
	struct grubcfg_entry ent;
	struct grubcfg_error e = { "" };

	if (grubcfg_parse(k, text, strlen(text), &ent, &e) != 0)
		fail_msg("refused: %s", e.msg);
	assert_string_equal(ent.kernel, kern);
	assert_string_equal(ent.cmdline, cmdline);
	assert_int_equal(ent.ninitrd, ninitrd);
	grubcfg_entry_free(&ent);
}

static void
parse_bad(enum grubcfg_kind k, const char *text, const char *want)
{
	struct grubcfg_entry ent;
	struct grubcfg_error e = { "" };

	assert_true(grubcfg_parse(k, text, strlen(text), &ent, &e) < 0);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error '%s' does not say '%s'", e.msg, want);
}

static void
test_grubcfg(void **state)
{
	(void)state;
	parse_ok(GRUBCFG_GRUB_CFG, grub_cfg, "/boot/vmlinuz",
	    "root=/dev/vda2 ro quiet a b", 1);
	parse_ok(GRUBCFG_GRUB_CFG, "set default=drover\nmenuentry a {\nlinux "
	    "/a\n}\nmenuentry b --id drover {\nlinux /b x=1\n}\n", "/b", "x=1",
	    0);
	parse_ok(GRUBCFG_GRUB_CFG, "set default='1>1'\nmenuentry a {\nlinux "
	    "/a\n}\nsubmenu 'Advanced' {\n menuentry s0 {\n  linux /s0\n }\n "
	    "menuentry s1 {\n  linux16 (hd0,gpt2)/s1 q; initrd /i1 /i2\n }\n}\n",
	    "/s1", "q", 2);
	parse_ok(GRUBCFG_GRUB_CFG, "set default=7\nmenuentry a { linux /a\n}\n",
	    "/a", "", 0);
	parse_ok(GRUBCFG_GRUB_CFG, "menuentry 'a' {\nset x=\"p q\"\nlinux /a "
	    "$x ${x}2 \\$x 'l$x' \n}\n", "/a", "p q p q2 $x l$x", 0);
	parse_ok(GRUBCFG_MENU_LST, menu_lst, "/boot/vmlinuz",
	    "LABEL=cirros-rootfs ro console=tty1 console=ttyS0", 1);
	parse_ok(GRUBCFG_MENU_LST, "default 5\ntitle a\nkernel /a b\n", "/a",
	    "b", 0);
	parse_bad(GRUBCFG_GRUB_CFG, "menuentry a {\nlinux /a\n", "no closing }");
	parse_bad(GRUBCFG_GRUB_CFG, "set x=1\n", "no menuentry");
	parse_bad(GRUBCFG_GRUB_CFG, "menuentry a {\ninitrd /i\n}\n",
	    "has no linux command");
	parse_bad(GRUBCFG_GRUB_CFG, "menuentry a {\nlinux vmlinuz\n}\n",
	    "is not absolute");
	parse_bad(GRUBCFG_GRUB_CFG, "menuentry a {\nlinux /a ${x\n}\n",
	    "unterminated ${");
	parse_bad(GRUBCFG_GRUB_CFG, "}\n", "} without a block");
	parse_bad(GRUBCFG_MENU_LST, "timeout 1\n", "no title");
	parse_bad(GRUBCFG_MENU_LST, "title a\nroot (hd0)\n", "no kernel line");
}

static void
test_cmdline(void **state)
{
	char *s;

	(void)state;
	s = bootdisk_cmdline("ro quiet");
	assert_string_equal(s, "ro quiet console=ttyS0");
	free(s);
	s = bootdisk_cmdline("");
	assert_string_equal(s, "console=ttyS0");
	free(s);
	s = bootdisk_cmdline("ro console=tty1");
	assert_string_equal(s, "ro console=tty1");
	free(s);
	s = bootdisk_cmdline("ro xconsole=tty1");
	assert_string_equal(s, "ro xconsole=tty1 console=ttyS0");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grubcfg),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_gpt_raw),
		cmocka_unit_test(test_gpt_qcow2_compressed),
		cmocka_unit_test(test_mbr_raw),
		cmocka_unit_test(test_mbr_qcow2_compressed),
		cmocka_unit_test(test_mbr_table),
		cmocka_unit_test(test_whole_disk),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests_name("bootdisk", tests, setup, teardown);
}
