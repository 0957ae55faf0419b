/*
 * images_store.c: the image store's files (images_int.h has the layout
 * and the commit order): hashed writes, atomic JSON files, the store lock,
 * refs.json and index files, garbage collection, staging directories, the
 * disk format probe and the commit of a staged image.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "images_int.h"
#include "imgtar.h"
#include "log.h"

/* ---------------------------------------------------------------- files */

void
img_sha256_hex(const unsigned char sum[32], char *out)
{
	static const char hx[] = "0123456789abcdef";
	int i;

	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hx[sum[i] >> 4];
		out[8 + 2 * i] = hx[sum[i] & 15];
	}
	out[IMG_DIGEST_LEN] = 0;
}

int
img_wfile_open(struct img_wfile *w, const char *path, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return images_fail(err, errlen, -errno, "%s: %s", path,
		    strerror(errno));
	mbedtls_sha256_init(&w->sha);
	mbedtls_sha256_starts(&w->sha, 0);
	return 0;
}

int
img_wfile_write(struct img_wfile *w, const void *buf, size_t n, char *err,
    size_t errlen)
{
	const char *p = buf;
	ssize_t k;

	mbedtls_sha256_update(&w->sha, buf, n);
	w->size += n;
	while (n > 0) {
		k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return images_fail(err, errlen, -errno, "%s: write: %s",
			    w->path, strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void
img_wfile_abort(struct img_wfile *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->path);
		mbedtls_sha256_free(&w->sha);
	}
	w->fd = -1;
}

int
img_wfile_finish(struct img_wfile *w, char *out, char *err, size_t errlen)
{
	unsigned char sum[32];
	int rc = 0;

	if (fsync(w->fd) < 0)
		rc = images_fail(err, errlen, -errno, "%s: fsync: %s", w->path,
		    strerror(errno));
	if (close(w->fd) < 0 && rc == 0)
		rc = images_fail(err, errlen, -errno, "%s: close: %s", w->path,
		    strerror(errno));
	w->fd = -1;
	mbedtls_sha256_finish(&w->sha, sum);
	mbedtls_sha256_free(&w->sha);
	if (rc < 0) {
		unlink(w->path);
		return rc;
	}
	img_sha256_hex(sum, out);
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Write a JSON value to path atomically (tmp in the same directory). */
int
img_write_json_atomic(const json_t *v, const char *path, char *err, size_t errlen)
{
	char tmp[IMG_PATH_MAX + 16], dir[IMG_PATH_MAX], *s, *slash;
	struct img_wfile w;
	char dg[IMG_DIGEST_LEN + 1];
	int rc;

	s = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (s == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	unlink(tmp);
	if ((rc = img_wfile_open(&w, tmp, err, errlen)) < 0)
		goto out;
	if ((rc = img_wfile_write(&w, s, strlen(s), err, errlen)) < 0 ||
	    (rc = img_wfile_write(&w, "\n", 1, err, errlen)) < 0) {
		img_wfile_abort(&w);
		goto out;
	}
	if ((rc = img_wfile_finish(&w, dg, err, errlen)) < 0)
		goto out;
	chmod(tmp, 0644);
	if (rename(tmp, path) < 0) {
		rc = images_fail(err, errlen, -errno, "rename %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = 0;
	fsync_dir(dir);
out:
	free(s);
	return rc;
}

/* Remove a directory's files (one level) and the directory. */
static void
rm_flat_dir(const char *dir)
{
	char p[IMG_PATH_MAX + 300];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

int
img_mkdir_p(const char *path)
{
	char buf[IMG_PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---------------------------------------------------------------- store lock, refs, index */

int
img_store_lock(struct images *im, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX + 16];
	int fd;

	snprintf(p, sizeof(p), "%s/lock", im->dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return images_fail(err, errlen, -errno, "%s: %s", p,
		    strerror(errno));
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		close(fd);
		return images_fail(err, errlen, -e, "%s: flock: %s", p,
		    strerror(e));
	}
	return fd;
}

json_t *
img_refs_load(struct images *im, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX + 16];
	json_error_t je;
	json_t *root, *refs;

	snprintf(p, sizeof(p), "%s/refs.json", im->dir);
	if (access(p, F_OK) < 0 && errno == ENOENT)
		return json_object();
	root = json_load_file(p, 0, &je);
	refs = root ? json_object_get(root, "refs") : NULL;
	if (!json_is_object(refs)) {
		images_fail(err, errlen, -EIO, "%s: damaged (%s)", p,
		    root ? "no refs object" : je.text);
		json_decref(root);
		return NULL;
	}
	json_incref(refs);
	json_decref(root);
	return refs;
}

int
img_refs_save(struct images *im, json_t *refs, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX + 16];
	json_t *root = json_pack("{sO}", "refs", refs);
	int rc;

	if (root == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	snprintf(p, sizeof(p), "%s/refs.json", im->dir);
	rc = img_write_json_atomic(root, p, err, errlen);
	json_decref(root);
	return rc;
}

void
img_index_path(struct images *im, const char *digest, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/index/%s.json", im->dir, digest + 7);
}

/* im->dir is shorter than IMG_PATH_MAX - 64 (images_open). */
int
img_blob_path(struct images *im, const char *digest, char *out, size_t outlen)
{
	return snprintf(out, outlen, "%s/blobs/sha256/%s", im->dir, digest + 7);
}

json_t *
img_index_load(struct images *im, const char *digest)
{
	char p[IMG_PATH_MAX + 100];

	if (!images_digest_valid(digest))
		return NULL;
	img_index_path(im, digest, p, sizeof(p));
	return json_load_file(p, 0, NULL);
}

/* Mark every blob an index file names. */
static void
gc_mark(json_t *live, json_t *idx)
{
	json_t *v, *e;
	const char *k;
	size_t i;

	json_object_set_new(live, json_string_value(json_object_get(idx,
	    "manifest")) ?: "", json_true());
	json_object_set_new(live, json_string_value(json_object_get(idx,
	    "config")) ?: "", json_true());
	json_array_foreach(json_object_get(idx, "layers"), i, v)
		if (json_is_string(v))
			json_object_set_new(live, json_string_value(v),
			    json_true());
	v = json_object_get(json_object_get(idx, "disk"), "blob");
	if (json_is_string(v))
		json_object_set_new(live, json_string_value(v), json_true());
	json_object_foreach(json_object_get(idx, "extra"), k, e) {
		v = json_object_get(e, "blob");
		if (json_is_string(v))
			json_object_set_new(live, json_string_value(v),
			    json_true());
	}
}

/* Remove abandoned staging directories (their lock is free). */
static void
gc_tmp(struct images *im)
{
	char p[IMG_PATH_MAX + 300], lk[IMG_PATH_MAX + 320];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd;

	snprintf(p, sizeof(p), "%s/tmp", im->dir);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/tmp/%s", im->dir, de->d_name);
		snprintf(lk, sizeof(lk), "%s/lock", p);
		fd = open(lk, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			/* No lock file yet: only if it is old. */
			if (stat(p, &sb) == 0 && time(NULL) - sb.st_mtime > 60)
				rm_flat_dir(p);
			continue;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			log_info("removing an abandoned import: %s", p);
			rm_flat_dir(p);
		}
		close(fd);
	}
	closedir(d);
}

/* Drop everything not reachable from refs.json. Called with the lock. */
int
img_gc_locked(struct images *im, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX + 300], dg[IMG_DIGEST_LEN + 8];
	json_t *refs, *live, *idx, *v;
	struct dirent *de;
	const char *k;
	DIR *d;
	size_t len;

	if ((refs = img_refs_load(im, err, errlen)) == NULL)
		return -EIO;	/* never collect against a damaged refs file */
	live = json_object();
	json_object_foreach(refs, k, v) {
		if (!json_is_string(v) || !images_digest_valid(json_string_value(v)))
			continue;
		idx = img_index_load(im, json_string_value(v));
		if (idx != NULL)
			gc_mark(live, idx);
		json_decref(idx);
	}
	snprintf(p, sizeof(p), "%s/index", im->dir);
	if ((d = opendir(p)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			len = strlen(de->d_name);
			if (de->d_name[0] == '.')
				continue;
			snprintf(dg, sizeof(dg), "sha256:%.*s", (int)(len > 5 ?
			    len - 5 : 0), de->d_name);
			if (len == 69 && strcmp(de->d_name + 64, ".json") == 0 &&
			    json_object_get(live, dg))
				continue;
			snprintf(p, sizeof(p), "%s/index/%s", im->dir,
			    de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	snprintf(p, sizeof(p), "%s/blobs/sha256", im->dir);
	if ((d = opendir(p)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (snprintf(dg, sizeof(dg), "sha256:%s", de->d_name) <
			    (int)sizeof(dg) && json_object_get(live, dg))
				continue;
			snprintf(p, sizeof(p), "%s/blobs/sha256/%s", im->dir,
			    de->d_name);
			log_debug("image store: removing unused blob %s", dg);
			unlink(p);
		}
		closedir(d);
	}
	json_decref(live);
	json_decref(refs);
	gc_tmp(im);
	return 0;
}

/* ---------------------------------------------------------------- staging */

int
img_stage_begin(struct images *im, struct img_stage *st, char *err,
    size_t errlen)
{
	char lk[IMG_PATH_MAX + 16];

	memset(st, 0, sizeof(*st));
	st->im = im;
	st->lockfd = -1;
	if (snprintf(st->dir, sizeof(st->dir), "%s/tmp/XXXXXX", im->dir) >=
	    (int)sizeof(st->dir) || mkdtemp(st->dir) == NULL)
		return images_fail(err, errlen, -errno, "%s: %s", st->dir,
		    strerror(errno));
	snprintf(lk, sizeof(lk), "%s/lock", st->dir);
	st->lockfd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lockfd < 0 || flock(st->lockfd, LOCK_EX) < 0) {
		int e = errno;
		img_stage_end(st);
		return images_fail(err, errlen, -e, "%s: %s", lk, strerror(e));
	}
	st->blobs = json_object();
	return 0;
}

void
img_stage_end(struct img_stage *st)
{
	if (st->dir[0])
		rm_flat_dir(st->dir);
	if (st->lockfd >= 0)
		close(st->lockfd);
	st->lockfd = -1;
	json_decref(st->blobs);
	st->blobs = NULL;
	st->dir[0] = 0;
}

void
img_stage_name(struct img_stage *st, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/f%u", st->dir, st->nfiles++);

	if (n < 0 || (size_t)n >= outlen)
		out[0] = '\0';	/* too long: opening "" fails cleanly */
}

int
img_stage_add_blob(struct img_stage *st, const char *digest, const char *path)
{
	const char *old = json_string_value(json_object_get(st->blobs, digest));

	if (old != NULL && strcmp(old, path) != 0)
		unlink(path);	/* the same bytes twice */
	else if (json_object_set_new(st->blobs, digest, json_string(path)) < 0)
		return -ENOMEM;
	return 0;
}

const char *
img_stage_blob(struct img_stage *st, const char *digest, char *buf,
    size_t buflen)
{
	const char *p = json_string_value(json_object_get(st->blobs, digest));
	char sp[IMG_PATH_MAX];

	if (p != NULL)
		return p;
	if (!images_digest_valid(digest))
		return NULL;
	img_blob_path(st->im, digest, buf, buflen);
	/* Already stored: a hard link in the staging directory keeps it
	 * for this import even if an rm collects it meanwhile (the commit
	 * then puts it back). */
	img_stage_name(st, sp, sizeof(sp));
	if (link(buf, sp) < 0 || img_stage_add_blob(st, digest, sp) < 0) {
		unlink(sp);
		return NULL;
	}
	p = json_string_value(json_object_get(st->blobs, digest));
	snprintf(buf, buflen, "%s", p);
	return buf;
}

/* ---------------------------------------------------------------- disks */

static uint64_t
be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * The format and virtual size of a disk file, from its own bytes: a
 * qcow2 (v2 or v3, no backing file, no external data file) or raw.
 * what names the file in messages.
 */
int
img_disk_probe(const char *path, const char *what, char *format, size_t flen,
    uint64_t *vsize, uint64_t *fsize, char *err, size_t errlen)
{
	unsigned char h[104];
	struct stat sb;
	ssize_t n;
	uint32_t ver, cbits;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return images_fail(err, errlen, -errno, "%s: %s", what,
		    strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return images_fail(err, errlen, -EINVAL, "%s: not a regular "
		    "file", what);
	}
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	*fsize = (uint64_t)sb.st_size;
	if (n >= 4 && memcmp(h, "QFI\xfb", 4) == 0) {
		if (n < 72)
			return images_fail(err, errlen, -EINVAL, "%s: truncated "
			    "qcow2 header", what);
		ver = be32(h + 4);
		cbits = be32(h + 20);
		if (ver != 2 && ver != 3)
			return images_fail(err, errlen, -EINVAL, "%s: qcow2 "
			    "version %u is not supported", what, ver);
		if (cbits < 9 || cbits > 21)
			return images_fail(err, errlen, -EINVAL, "%s: qcow2 "
			    "cluster_bits %u out of range", what, cbits);
		if (be64(h + 8) != 0 || be32(h + 16) != 0)
			return images_fail(err, errlen, -EINVAL, "%s: a qcow2 "
			    "with a backing file; a containerDisk must be "
			    "stand-alone (qemu-img convert it first)", what);
		if (ver == 3 && n >= 80 && (be64(h + 72) & 0x6))
			return images_fail(err, errlen, -EINVAL, "%s: qcow2 is "
			    "marked corrupt or uses an external data file",
			    what);
		*vsize = be64(h + 24);
		if (*vsize == 0 || *vsize > (uint64_t)INT64_MAX)
			return images_fail(err, errlen, -EINVAL, "%s: qcow2 "
			    "virtual size %llu is not usable", what,
			    (unsigned long long)*vsize);
		snprintf(format, flen, "qcow2");
		return 0;
	}
	if (sb.st_size == 0)
		return images_fail(err, errlen, -EINVAL, "%s: empty disk file",
		    what);
	*vsize = (uint64_t)sb.st_size;
	snprintf(format, flen, "raw");
	return 0;
}

/* ---------------------------------------------------------------- commit */

static json_t *
index_new(const char *manifest, const char *config,
    const struct img_layer *layers, size_t nlayers, const char *dpath,
    const char *ddigest, const char *format, uint64_t vsize, uint64_t fsize)
{
	json_t *idx, *arr = json_array();
	size_t i;

	for (i = 0; i < nlayers; i++)
		json_array_append_new(arr, json_string(layers[i].digest));
	idx = json_pack("{ss ss so s{ss ss ss sI sI} sI}",
	    "manifest", manifest, "config", config, "layers", arr,
	    "disk", "path", dpath, "blob", ddigest, "format", format,
	    "virtual_size", (json_int_t)vsize, "size", (json_int_t)fsize,
	    "imported", (json_int_t)time(NULL));
	return idx;
}

/* Move the staged blobs into blobs/sha256 (0444). Called with the lock. */
int
img_commit_blobs(struct img_stage *st, char *err, size_t errlen)
{
	char dst[IMG_PATH_MAX + 100];
	const char *dg;
	json_t *v;
	struct stat sb;

	json_object_foreach(st->blobs, dg, v) {
		img_blob_path(st->im, dg, dst, sizeof(dst));
		if (stat(dst, &sb) == 0)
			continue;
		if (chmod(json_string_value(v), 0444) < 0 ||
		    rename(json_string_value(v), dst) < 0)
			return images_fail(err, errlen, -errno, "store blob "
			    "%s: %s", dg, strerror(errno));
	}
	snprintf(dst, sizeof(dst), "%s/blobs/sha256", st->im->dir);
	fsync_dir(dst);
	return 0;
}

int
img_stage_commit(struct img_stage *st, const char *manifest_digest,
    const char *config_digest, const struct img_layer *layers, size_t nlayers,
    const char **refs, size_t nrefs, char *digest_out, char *err,
    size_t errlen)
{
	char disk[IMG_PATH_MAX], dpath[IMGTAR_NAME_MAX], ddigest[IMG_DIGEST_LEN + 1];
	char what[IMGTAR_NAME_MAX + 8], format[8], ip[IMG_PATH_MAX + 100];
	uint64_t vsize, fsize;
	json_t *idx = NULL, *rj = NULL;
	int rc, lk = -1;
	size_t i;

	if (nrefs == 0)
		return images_fail(err, errlen, -EINVAL, "the image has no "
		    "name: give one (--name)");
	rc = oci_extract_disk(layers, nlayers, NULL, st, disk, sizeof(disk),
	    dpath, sizeof(dpath), ddigest, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "/%s", dpath);
	if ((rc = img_disk_probe(disk, what, format, sizeof(format), &vsize,
	    &fsize, err, errlen)) < 0)
		return rc;
	if ((rc = img_stage_add_blob(st, ddigest, disk)) < 0)
		return images_fail(err, errlen, rc, "out of memory");
	idx = index_new(manifest_digest, config_digest, layers, nlayers, dpath,
	    ddigest, format, vsize, fsize);
	if (idx == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	if ((lk = img_store_lock(st->im, err, errlen)) < 0) {
		rc = lk;
		goto out;
	}
	if ((rc = img_commit_blobs(st, err, errlen)) < 0)
		goto out;
	img_index_path(st->im, manifest_digest, ip, sizeof(ip));
	if ((rc = img_write_json_atomic(idx, ip, err, errlen)) < 0)
		goto out;
	if ((rj = img_refs_load(st->im, err, errlen)) == NULL) {
		rc = -EIO;
		goto out;
	}
	for (i = 0; i < nrefs; i++)
		json_object_set_new(rj, refs[i], json_string(manifest_digest));
	if ((rc = img_refs_save(st->im, rj, err, errlen)) < 0)
		goto out;
	img_gc_locked(st->im, NULL, 0);
	snprintf(digest_out, IMG_DIGEST_LEN + 1, "%s", manifest_digest);
	log_info("image %s: %s (%s, %llu bytes virtual) from /%s", refs[0],
	    manifest_digest, format, (unsigned long long)vsize, dpath);
out:
	if (rc < 0 && lk >= 0)
		img_gc_locked(st->im, NULL, 0);	/* a failed commit's blobs */
	if (lk >= 0)
		close(lk);
	json_decref(rj);
	json_decref(idx);
	return rc;
}

