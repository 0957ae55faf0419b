/*
 * imgtar.h: a streaming reader of tar archives (ustar, pax extended
 * headers, GNU long names and base-256 sizes) over a byte source that
 * inflates gzip when the data starts with gzip's magic. Used for OCI and
 * Docker archives and for image layers; nothing is written to disk here.
 *
 * Every malformed or truncated input is an error with a message; names
 * are returned as stored (imgtar_clean_path normalizes them).
 */
#ifndef DROVER_IMGTAR_H
#define DROVER_IMGTAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <zlib.h>

#define IMGTAR_NAME_MAX	4096

/* A file read as is, or inflated when it starts with 1f 8b. */
struct imgtar_src {
	int fd;
	int gz;			/* 1: inflating */
	int zend;		/* inflate reached a stream end, no more input */
	int eof;		/* the file is at its end */
	z_stream z;
	unsigned char *ibuf;	/* compressed input */
	size_t ilen;		/* bytes left at ibuf + ipos */
	size_t ipos;
	char what[256];		/* for messages: the file's name */
};

/* Open path; detects gzip (and refuses zstd with a clear error). */
int imgtar_src_open(struct imgtar_src *s, const char *path, char *err,
    size_t errlen);
void imgtar_src_close(struct imgtar_src *s);
/* Read up to n bytes: count, 0 at the end, or -errno with err set. */
ssize_t imgtar_src_read(struct imgtar_src *s, void *buf, size_t n, char *err,
    size_t errlen);

struct imgtar_entry {
	char name[IMGTAR_NAME_MAX];
	char linkname[IMGTAR_NAME_MAX];
	char type;		/* '0' file, '5' dir, '2' symlink, '1' hard link,
				 * 'S' sparse (GNU, or pax GNU.sparse.*) ... */
	uint64_t size;		/* data bytes following the header */
	unsigned mode;
};

struct imgtar {
	struct imgtar_src *src;
	uint64_t left;		/* data bytes of the current entry not yet read */
	uint64_t pad;		/* padding after them */
	int done;
};

void imgtar_init(struct imgtar *t, struct imgtar_src *src);
/* The next entry: 1, 0 at the end of the archive, or -errno (err set).
 * Skips whatever data of the previous entry was not read. */
int imgtar_next(struct imgtar *t, struct imgtar_entry *e, char *err,
    size_t errlen);
/* The current entry's data: count, 0 at its end, -errno. */
ssize_t imgtar_read(struct imgtar *t, void *buf, size_t n, char *err,
    size_t errlen);

/* After the last entry: read the source to its end, so that a truncated
 * or corrupt gzip stream (its CRC, its length) is an error too. */
int imgtar_finish(struct imgtar *t, char *err, size_t errlen);

/* Normalize an entry name in place: drop leading "/" and "./", empty and
 * "." components, and a trailing "/". -EINVAL for ".." components or an
 * empty result. */
int imgtar_clean_path(char *name);

#endif
