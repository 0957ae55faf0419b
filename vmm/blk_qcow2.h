/*
 * blk_qcow2.h: the qcow2 back end's API beyond its ops table (blk.h).
 *
 * blk_qcow2_ops.open opens an image that has NO backing file (a KubeVirt
 * containerDisk, or any stand-alone qcow2); an image that names a backing
 * file is refused there, because backing files are pinned by the VM
 * config, never taken from the image (see blk_qcow2.c).
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

/*
 * Open path with its backing file pinned by the caller: backing_fmt is
 * "raw" or "qcow2" (a qcow2 backing file must itself be stand-alone).
 * backing NULL is blk_qcow2_ops.open. 0 and *out, or -errno (logged).
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

#endif
