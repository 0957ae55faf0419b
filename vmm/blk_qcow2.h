/*
 * blk_qcow2.h: the qcow2 back end's API beyond its ops table (blk.h).
 *
 * blk_qcow2_ops.open opens an image that has NO backing file (a KubeVirt
 * containerDisk, or any stand-alone qcow2); an image that names a backing
 * file is refused there, because backing files are pinned by the VM
 * config, never taken from the image (see blk_qcow2.c); a pinned chain of
 * backing files opens with blk_qcow2_open_chain.
 */
#ifndef DROVER_VMM_BLK_QCOW2_H
#define DROVER_VMM_BLK_QCOW2_H

#include <stdint.h>

#include "blk.h"

/* Longest backing file name qcow2 allows (docs/interop/qcow2.txt). */
#define BLK_QCOW2_BACKING_NAME_MAX	1023

/*
 * Open the qcow2 image at path over an already open back end (NULL: no
 * backing file): unallocated clusters read from backing, or zeros past its
 * size. The image must name a backing file exactly when backing is given,
 * and a backing format recorded in the image must equal backing->ops->name;
 * the recorded name is never opened. backing is the caller's to have
 * opened (read-only) and becomes this back end's: it is closed with it,
 * and also when this call fails. 0 and *out, or -errno (logged).
 */
int blk_qcow2_open_over(const char *path, int ro, struct blk_backend *backing,
    struct blk_backend **out);

/* The longest backing chain under an image (backing files, the base
 * included; the VM config's VMM_DISK_MAX_BACKING). */
#define BLK_QCOW2_CHAIN_MAX	16

/* One level of a pinned backing chain: a file and its format, "raw" or
 * "qcow2" (from the VM config, never from an image). */
struct blk_qcow2_level {
	const char *path;
	const char *format;
};

/*
 * Open the qcow2 image at path over the backing chain the caller pins:
 * chain[0] is path's backing file, chain[1] chain[0]'s, ..., chain[n - 1]
 * the base, the only level that may be raw; n 0 is blk_qcow2_ops.open.
 * At most BLK_QCOW2_CHAIN_MAX levels, and no file twice (the same device
 * and inode, whatever the names): a chain cannot loop. The levels are
 * opened read-only, bottom-up, with blk_qcow2_open_over, so every qcow2
 * level's recorded backing file and format are checked against the level
 * below it exactly as for one backing file. Reads fall through the levels;
 * writes only ever go to path. 0 and *out, or -errno (logged, naming the
 * level: "backing file 2 (mid.qcow2)", 1 being path's own).
 */
int blk_qcow2_open_chain(const char *path, int ro,
    const struct blk_qcow2_level *chain, unsigned n, struct blk_backend **out);

/*
 * Open path with one backing file pinned by the caller: backing_fmt is
 * "raw" or "qcow2" (a qcow2 backing file must itself be stand-alone): the
 * one-level blk_qcow2_open_chain. backing NULL is blk_qcow2_ops.open.
 * 0 and *out, or -errno (logged).
 */
int blk_qcow2_open_pinned(const char *path, int ro, const char *backing,
    const char *backing_fmt, struct blk_backend **out);

/*
 * Create a new qcow2 v3 file at path (it must not exist; mode 0600), 64 KiB
 * clusters, 16-bit refcounts, whose backing file is backing in format
 * backing_fmt ("raw" or "qcow2"), recorded in the header for qemu-img.
 * size 0: the backing file's size (opened read-only to learn it). The file
 * is fsync'd (and its directory) before this returns. 0 or -errno (logged;
 * a half-written file is removed).
 */
int blk_qcow2_create_overlay(const char *path, const char *backing,
    const char *backing_fmt, uint64_t size);

/* The virtual size of the image backing in format fmt ("raw" or "qcow2",
 * opened read-only): 0 and *size, or -errno (logged). */
int blk_qcow2_backing_size(const char *backing, const char *fmt,
    uint64_t *size);

#endif
