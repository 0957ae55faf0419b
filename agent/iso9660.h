/*
 * iso9660.h: a small ISO 9660 image writer (ECMA-119) for seed disks such
 * as cloud-init's NoCloud "cidata" volume.
 *
 * The image holds one flat root directory of regular files (mode 0444),
 * with three views of the same file data:
 * - plain ISO 9660 level 1: 8.3 upper-case names ("USER_DAT.;1");
 * - Rock Ridge (SUSP 1.12, RRIP 1.10 "RRIP_1991A"): the real names (NM),
 *   POSIX modes (PX) and times (TF), as Linux and isoinfo -R show them;
 * - Joliet (UCS-2 level 3, escape sequence "%/E"): the real names again,
 *   for readers that ignore Rock Ridge.
 * Layout (2048-byte blocks): 0-15 system area, 16 primary volume
 * descriptor, 17 Joliet supplementary descriptor, 18 terminator, 19-22
 * path tables (ISO L and M, Joliet L and M), 23 the Rock Ridge
 * continuation area (the ER entry), then the ISO root directory, the
 * Joliet root directory and the files, each starting on a block.
 */
#ifndef DROVER_ISO9660_H
#define DROVER_ISO9660_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ISO9660_BLOCK		2048
/* Bounds on what one image may hold. */
#define ISO9660_MAX_FILES	32
#define ISO9660_MAX_NAME	60	/* bytes of a real name */
#define ISO9660_MAX_VOLID	16	/* Joliet keeps 16 UCS-2 characters */
#define ISO9660_MAX_IMAGE	(64u << 20)	/* bytes of the whole image */

struct iso9660_file {
	/* The real name: 1..ISO9660_MAX_NAME of [A-Za-z0-9._-], not "." or
	 * "..". Names must differ; the ISO 9660 name is derived from it. */
	const char *name;
	const void *data;
	size_t len;
};

struct iso9660_image {
	/* 1..ISO9660_MAX_VOLID of [A-Za-z0-9_]; kept as given (lower case
	 * too: blkid reports it as the label, "cidata"). */
	const char *volume_id;
	const struct iso9660_file *files;
	size_t nfiles;
	/* Every date in the image (UTC); 0 means now. */
	time_t mtime;
};

/*
 * Check img and return the image's size in bytes in *size. 0, or -EINVAL
 * (bad name or volume id), -EEXIST (duplicate name), -EFBIG (too large),
 * with a message in err.
 */
int iso9660_size(const struct iso9660_image *img, uint64_t *size, char *err,
    size_t errlen);
/*
 * Write the image to fd, from its current position, sequentially (a pipe
 * will do). 0 or -errno, with a message in err.
 */
int iso9660_write_fd(int fd, const struct iso9660_image *img, char *err,
    size_t errlen);
/*
 * Write the image to path, mode 0644: into a temporary file in the same
 * directory, fsync, rename over path, fsync the directory. On failure no
 * new file is left and an existing path is untouched, except when only
 * the last step (the directory's fsync) fails. 0 or -errno.
 */
int iso9660_write(const char *path, const struct iso9660_image *img,
    char *err, size_t errlen);

#endif
