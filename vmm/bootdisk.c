/*
 * bootdisk.c: the kernel, initrd and command line from a disk (bootdisk.h).
 *
 * libext2fs reads through an io_manager: bootdisk_io_manager below turns
 * its block reads into preadv calls on the block back end, offset by the
 * partition's start and bounded by its size (a read past the partition's
 * end fails with EXT2_ET_SHORT_READ; nothing is ever written). The
 * channel's name carries the address of its struct bd_src, which lives
 * on bootdisk_fs's stack for as long as the file system is open.
 *
 * This file runs in the sandboxed child of bootdisk_sandbox.c (never in the
 * VMM itself): the partition table, libext2fs and the GRUB parser all
 * read the untrusted image there.
 *
 * Files are looked up from the file system's root (absolute symlinks
 * resolve inside it, at most libext2fs' nesting limit), must be regular
 * files of bounded size, and are read whole.
 */
#include "errfmt.h"
#include "bootdisk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>	/* before ext2fs.h: dev_t, mode_t (musl) */

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "part.h"

#define BD_CHUNK	(1U << 20)	/* bytes per ext2fs_file_read */
#define BD_NAME		"drover-blk:%p"

static const char *const bd_configs[] = {
	"/boot/grub/grub.cfg",
	"/boot/grub/menu.lst",
	"/grub/grub.cfg",
	"/grub/menu.lst",
};

#define BD_CACHE_CHUNK	(64U << 10)	/* a qcow2 cluster, usually */
#define BD_CACHE_SLOTS	32

/*
 * What a channel reads: [base, base + len) of be, through a small LRU
 * cache of 64 KiB chunks. libext2fs reads a block at a time and rereads
 * indirect blocks and extent nodes for each; without the cache a
 * compressed qcow2 cluster would be inflated again for every block.
 */
struct bd_src {
	struct blk_backend *be;
	uint64_t base, len;
	uint8_t *chunk[BD_CACHE_SLOTS];
	uint64_t chunk_off[BD_CACHE_SLOTS];
	uint64_t chunk_used[BD_CACHE_SLOTS];	/* LRU clock; 0: empty */
	uint64_t clock;
};

#define bd_fail(e, err, ...) ERRFMT(e, err, __VA_ARGS__)

/* Read len bytes at off (relative to src) straight from the back end. */
static int
bd_pread_raw(const struct bd_src *src, void *buf, size_t len, uint64_t off)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	ssize_t n;

	n = src->be->ops->preadv(src->be, &iov, 1, src->base + off);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

/* The cache slot holding the chunk at coff (loaded if need be). */
static int
bd_chunk(struct bd_src *src, uint64_t coff)
{
	unsigned victim = 0;
	size_t n;
	int err;

	for (unsigned i = 0; i < BD_CACHE_SLOTS; i++) {
		if (src->chunk_used[i] && src->chunk_off[i] == coff) {
			src->chunk_used[i] = ++src->clock;
			return (int)i;
		}
		if (src->chunk_used[i] < src->chunk_used[victim])
			victim = i;
	}
	if (src->chunk[victim] == NULL &&
	    (src->chunk[victim] = malloc(BD_CACHE_CHUNK)) == NULL)
		return -ENOMEM;
	src->chunk_used[victim] = 0;
	n = src->len - coff < BD_CACHE_CHUNK ? (size_t)(src->len - coff) :
	    BD_CACHE_CHUNK;
	if ((err = bd_pread_raw(src, src->chunk[victim], n, coff)) < 0)
		return err;
	src->chunk_off[victim] = coff;
	src->chunk_used[victim] = ++src->clock;
	return (int)victim;
}

/* Read len bytes at off (relative to src), inside [0, src->len). */
static int
bd_pread(struct bd_src *src, void *buf, size_t len, uint64_t off)
{
	uint8_t *dst = buf;
	uint64_t coff;
	size_t n;
	int slot;

	if (off > src->len || len > src->len - off)
		return -ERANGE;
	if (len >= 4 * BD_CACHE_CHUNK)
		return bd_pread_raw(src, buf, len, off);
	while (len) {
		coff = off - off % BD_CACHE_CHUNK;
		if ((slot = bd_chunk(src, coff)) < 0)
			return slot;
		n = BD_CACHE_CHUNK - (size_t)(off - coff);
		if (n > len)
			n = len;
		memcpy(dst, src->chunk[slot] + (off - coff), n);
		dst += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void
bd_src_free(struct bd_src *src)
{
	for (unsigned i = 0; i < BD_CACHE_SLOTS; i++)
		free(src->chunk[i]);
	memset(src->chunk, 0, sizeof(src->chunk));
}

/* part.c's read callback: the whole disk. */
static int
bd_part_read(void *arg, void *buf, size_t len, uint64_t off)
{
	return bd_pread(arg, buf, len, off);
}

/* ---- the io_manager ------------------------------------------------------- */

static struct struct_io_manager bd_manager;

static errcode_t
bd_open(const char *name, int flags, io_channel *chan)
{
	struct bd_src *src = NULL;
	io_channel io = NULL;
	errcode_t err;

	if (name == NULL || sscanf(name, BD_NAME, (void **)&src) != 1 ||
	    src == NULL)
		return EXT2_ET_BAD_DEVICE_NAME;
	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	if ((err = ext2fs_get_memzero(sizeof(*io), &io)) != 0)
		return err;
	if ((err = ext2fs_get_mem(strlen(name) + 1, &io->name)) != 0) {
		ext2fs_free_mem(&io);
		return err;
	}
	strcpy(io->name, name);
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = &bd_manager;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = src;
	*chan = io;
	return 0;
}

static errcode_t
bd_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	ext2fs_free_mem(&io->name);
	ext2fs_free_mem(&io);
	return 0;
}

static errcode_t
bd_set_blksize(io_channel io, int blksize)
{
	if (blksize < 512 || blksize > (1 << 16))
		return EXT2_ET_INVALID_ARGUMENT;
	io->block_size = blksize;
	return 0;
}

/* count > 0: blocks; count < 0: -count bytes (the io_manager contract). */
static errcode_t
bd_read_blk64(io_channel io, unsigned long long block, int count, void *data)
{
	struct bd_src *src = io->private_data;
	uint64_t bytes, off;

	if (count < 0)
		bytes = (uint64_t)-(int64_t)count;
	else
		bytes = (uint64_t)count * (uint64_t)io->block_size;
	if (block > src->len / (uint64_t)io->block_size)
		return EXT2_ET_SHORT_READ;
	off = block * (uint64_t)io->block_size;
	if (bytes > src->len - off || bytes > SIZE_MAX)
		return EXT2_ET_SHORT_READ;
	if (bytes == 0)
		return 0;
	return bd_pread(src, data, (size_t)bytes, off) < 0 ?
	    EXT2_ET_SHORT_READ : 0;
}

static errcode_t
bd_read_blk(io_channel io, unsigned long block, int count, void *data)
{
	return bd_read_blk64(io, block, count, data);
}

static errcode_t
bd_write_blk64(io_channel io, unsigned long long block, int count,
    const void *data)
{
	(void)io; (void)block; (void)count; (void)data;
	return EXT2_ET_RO_FILSYS;
}

static errcode_t
bd_write_blk(io_channel io, unsigned long block, int count, const void *data)
{
	return bd_write_blk64(io, block, count, data);
}

static errcode_t
bd_flush(io_channel io)
{
	(void)io;
	return 0;
}

static errcode_t
bd_set_option(io_channel io, const char *option, const char *arg)
{
	(void)io; (void)option; (void)arg;
	return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager bd_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "drover block back end",
	.open = bd_open,
	.close = bd_close,
	.set_blksize = bd_set_blksize,
	.read_blk = bd_read_blk,
	.write_blk = bd_write_blk,
	.flush = bd_flush,
	.set_option = bd_set_option,
	.read_blk64 = bd_read_blk64,
	.write_blk64 = bd_write_blk64,
};

/* ---- files ------------------------------------------------------------------ */

/* Read the regular file at path whole: 0, -ENOENT, or -errno (e set). */
static int
bd_read_file(ext2_filsys fs, const char *path, uint64_t max, uint8_t **buf,
    size_t *len, struct bootdisk_error *e)
{
	struct ext2_inode inode;
	ext2_file_t f = NULL;
	unsigned int n;
	ext2_ino_t ino;
	uint64_t size, got = 0;
	errcode_t err;
	int rc = 0;

	*buf = NULL;
	*len = 0;
	err = ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino);
	if (err == EXT2_ET_FILE_NOT_FOUND)
		return bd_fail(e, -ENOENT, "%s: not found", path);
	if (err == 0)
		err = ext2fs_read_inode(fs, ino, &inode);
	if (err)
		return bd_fail(e, -EIO, "%s: %s", path, error_message(err));
	if (!LINUX_S_ISREG(inode.i_mode))
		return bd_fail(e, -EINVAL, "%s: not a regular file", path);
	size = EXT2_I_SIZE(&inode);
	if (size == 0 || size > max)
		return bd_fail(e, -EFBIG, "%s: %llu bytes (1 to %llu allowed)",
		    path, (unsigned long long)size, (unsigned long long)max);
	if ((*buf = malloc((size_t)size)) == NULL)
		return bd_fail(e, -ENOMEM, "%s: out of memory", path);
	if ((err = ext2fs_file_open(fs, ino, 0, &f)) != 0)
		goto fail;
	while (got < size) {
		err = ext2fs_file_read(f, *buf + got, size - got > BD_CHUNK ?
		    BD_CHUNK : (unsigned int)(size - got), &n);
		if (err)
			goto fail;
		if (n == 0)
			break;
		got += n;
	}
	if (got != size) {
		rc = bd_fail(e, -EIO, "%s: read %llu of %llu bytes", path,
		    (unsigned long long)got, (unsigned long long)size);
		goto out;
	}
	*len = (size_t)size;
	goto out;
fail:
	rc = bd_fail(e, -EIO, "%s: %s", path, error_message(err));
out:
	if (f)
		ext2fs_file_close(f);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* The entry's initrds, each padded to 4 bytes, into one buffer. */
static int
bd_read_initrds(ext2_filsys fs, struct bootdisk *bd, struct bootdisk_error *e)
{
	uint8_t *part, *all;
	size_t len, total = 0;
	int err;

	for (unsigned i = 0; i < bd->entry.ninitrd; i++) {
		err = bd_read_file(fs, bd->entry.initrd[i],
		    BOOTDISK_INITRD_MAX - total, &part, &len, e);
		if (err < 0)
			return err == -ENOENT ? bd_fail(e, err, "initrd %s: not "
			    "found", bd->entry.initrd[i]) : err;
		all = realloc(bd->initrd, total + ((len + 3) & ~(size_t)3));
		if (all == NULL) {
			free(part);
			return bd_fail(e, -ENOMEM, "initrd: out of memory");
		}
		memcpy(all + total, part, len);
		memset(all + total + len, 0, ((len + 3) & ~(size_t)3) - len);
		free(part);
		bd->initrd = all;
		total += (len + 3) & ~(size_t)3;
		if (total > BOOTDISK_INITRD_MAX)
			return bd_fail(e, -EFBIG, "initrds larger than %llu "
			    "bytes", BOOTDISK_INITRD_MAX);
	}
	bd->initrd_len = total;
	return 0;
}

char *
bootdisk_cmdline(const char *cmdline)
{
	const char *p = cmdline;
	size_t n = strlen(cmdline);
	char *out;

	while ((p = strstr(p, "console=")) != NULL) {
		if (p == cmdline || p[-1] == ' ' || p[-1] == '\t')
			return strdup(cmdline);
		p++;
	}
	if ((out = malloc(n + sizeof(" console=ttyS0"))) == NULL)
		return NULL;
	snprintf(out, n + sizeof(" console=ttyS0"), "%s%sconsole=ttyS0",
	    cmdline, n ? " " : "");
	return out;
}

/* Look for a GRUB configuration in fs; -ENOENT if it has none. */
static int
bd_from_fs(ext2_filsys fs, struct bootdisk *bd, struct bootdisk_error *e)
{
	struct grubcfg_error ge;
	uint8_t *text = NULL;
	size_t len;
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(bd_configs) / sizeof(bd_configs[0]);
	    i++) {
		err = bd_read_file(fs, bd_configs[i], GRUBCFG_MAX_TEXT, &text,
		    &len, e);
		if (err == -ENOENT)
			continue;
		if (err < 0)
			return err;
		bd->config = bd_configs[i];
		break;
	}
	if (err < 0)
		return bd_fail(e, -ENOENT, "no GRUB configuration (%s, ...)",
		    bd_configs[0]);
	err = grubcfg_parse(strstr(bd->config, "menu.lst") ?
	    GRUBCFG_MENU_LST : GRUBCFG_GRUB_CFG, (const char *)text, len,
	    &bd->entry, &ge);
	free(text);
	if (err < 0)
		return bd_fail(e, err, "%s: %s", bd->config, ge.msg);
	err = bd_read_file(fs, bd->entry.kernel, BOOTDISK_KERNEL_MAX,
	    &bd->kernel, &bd->kernel_len, e);
	if (err < 0)
		return err == -ENOENT ? bd_fail(e, -ENOENT, "%s: kernel %s: not "
		    "found", bd->config, bd->entry.kernel) : err;
	if ((err = bd_read_initrds(fs, bd, e)) < 0)
		return err;
	if ((bd->cmdline = bootdisk_cmdline(bd->entry.cmdline)) == NULL)
		return bd_fail(e, -ENOMEM, "out of memory");
	return 0;
}

/* Try the file system at [start, start + size): -ENODEV if it is not
 * ext2/3/4, -ENOENT if libext2fs cannot open it or it has no GRUB
 * configuration (the search goes on), other -errno for a configuration
 * that is bad or names missing files (the search stops). */
static int
bd_try(struct blk_backend *be, uint64_t start, uint64_t size,
    struct bootdisk *bd, struct bootdisk_error *e)
{
	struct bd_src src = { .be = be, .base = start, .len = size };
	ext2_filsys fs = NULL;
	uint8_t magic[2];
	char name[64];
	errcode_t err;
	int rc;

	/* The superblock's s_magic: 1024 + 56, little-endian 0xef53. */
	if (size < 4096 || bd_pread(&src, magic, 2, 1024 + 56) < 0 ||
	    magic[0] != 0x53 || magic[1] != 0xef) {
		rc = bd_fail(e, -ENODEV, "no ext2/3/4 file system");
		goto out;
	}
	snprintf(name, sizeof(name), BD_NAME, (void *)&src);
	err = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS, 0, 0, &bd_manager,
	    &fs);
	if (err) {
		rc = bd_fail(e, -ENOENT, "ext2/3/4 file system: %s",
		    error_message(err));
		goto out;
	}
	rc = bd_from_fs(fs, bd, e);
	ext2fs_close_free(&fs);
out:
	bd_src_free(&src);
	return rc;
}

void
bootdisk_free(struct bootdisk *bd)
{
	free(bd->kernel);
	free(bd->initrd);
	free(bd->cmdline);
	grubcfg_entry_free(&bd->entry);
	memset(bd, 0, sizeof(*bd));
}

const char *
bootdisk_config_name(unsigned i)
{
	return i < sizeof(bd_configs) / sizeof(bd_configs[0]) ?
	    bd_configs[i] : NULL;
}

int
bootdisk_read(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e)
{
	struct bd_src disk = { .be = be, .base = 0, .len = be->size };
	struct bootdisk_error first = { "" }, pe;
	struct part_error perr;
	struct part_table *t;
	const struct part_entry *p;
	int err, first_fs = 0;

	memset(out, 0, sizeof(*out));
	initialize_ext2_error_table();
	if ((t = malloc(sizeof(*t))) == NULL)
		return bd_fail(e, -ENOMEM, "out of memory");
	if ((err = part_read(bd_part_read, &disk, be->size, t, &perr)) < 0) {
		bd_fail(e, err, "partition table: %s", perr.msg);
		goto out;
	}
	if (t->n == 0) {
		err = bd_try(be, 0, be->size, out, &pe);
		if (err == -ENODEV)
			err = -ENOENT;
		if (err < 0)
			bd_fail(e, err, "no partitions; the whole disk: %s",
			    pe.msg);
		goto out;
	}
	err = -ENOENT;
	/* Bootable partitions first (pass 0), then the others. */
	for (int pass = 0; pass < 2 && err == -ENOENT; pass++)
		for (unsigned i = 0; i < t->n && err == -ENOENT; i++) {
			p = &t->e[i];
			if (p->bootable != (pass == 0))
				continue;
			bootdisk_free(out);
			err = bd_try(be, p->start, p->size, out, &pe);
			if (err == 0) {
				out->part = p->number;
				break;
			}
			/* Keep the first message, preferring one about a
			 * file system over "not ext2/3/4". */
			if (first.msg[0] == '\0' || (err != -ENODEV &&
			    !first_fs)) {
				snprintf(first.msg, sizeof(first.msg),
				    "partition %u: %.250s", p->number, pe.msg);
				first_fs = err != -ENODEV;
			}
			if (err == -ENODEV)
				err = -ENOENT;
		}
	if (err == -ENOENT)
		bd_fail(e, err, "no bootable ext2/3/4 partition in the %s "
		    "table (%s)", part_kind_name(t->kind), first.msg);
	else if (err < 0)
		bd_fail(e, err, "%s", first.msg);
out:
	if (err < 0)
		bootdisk_free(out);
	bd_src_free(&disk);
	free(t);
	return err;
}
