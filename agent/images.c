/*
 * images.c: the containerDisk image store (images.h; layout and commit
 * order in images_int.h): staging, commit, garbage collection, references,
 * pre-loaded names, resolve, list and rm.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

int
images_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int
images_digest_valid(const char *d)
{
	size_t i;

	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != IMG_DIGEST_LEN)
		return 0;
	for (i = 7; i < IMG_DIGEST_LEN; i++)
		if (!isdigit((unsigned char)d[i]) &&
		    !(d[i] >= 'a' && d[i] <= 'f'))
			return 0;
	return 1;
}

/* ---------------------------------------------------------------- refs */

static int
ref_chars_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

int
images_ref_normalize(const char *ref, char *out, size_t outlen)
{
	char buf[1024], *digest = NULL, *tag = NULL, *slash, *first;
	char host[256], repo[768];
	int n;

	if (ref == NULL || strlen(ref) == 0 || strlen(ref) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, ref);
	if ((digest = strchr(buf, '@')) != NULL) {
		*digest++ = 0;
		if (!images_digest_valid(digest))
			return -EINVAL;
	}
	slash = strrchr(buf, '/');
	tag = strrchr(slash ? slash : buf, ':');
	if (tag != NULL) {
		*tag++ = 0;
		if (*tag == 0 || strlen(tag) > 128)
			return -EINVAL;
		for (const char *p = tag; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
				return -EINVAL;
	}
	first = strchr(buf, '/');
	if (first != NULL && (memchr(buf, '.', (size_t)(first - buf)) ||
	    memchr(buf, ':', (size_t)(first - buf)) ||
	    ((size_t)(first - buf) == 9 && strncmp(buf, "localhost", 9) == 0))) {
		if ((size_t)(first - buf) >= sizeof(host))
			return -EINVAL;
		memcpy(host, buf, (size_t)(first - buf));
		host[first - buf] = 0;
		if (snprintf(repo, sizeof(repo), "%s", first + 1) >=
		    (int)sizeof(repo))
			return -EINVAL;
	} else {
		strcpy(host, "docker.io");
		if (snprintf(repo, sizeof(repo), "%s%s", first ? "" :
		    "library/", buf) >= (int)sizeof(repo))
			return -EINVAL;
	}
	if (!ref_chars_ok(repo, "._-/") || repo[0] == '/' ||
	    strstr(repo, "//") || repo[strlen(repo) - 1] == '/' ||
	    !*host || strchr(host, '@'))
		return -EINVAL;
	if (digest)
		n = snprintf(out, outlen, "%s/%s@%s", host, repo, digest);
	else
		n = snprintf(out, outlen, "%s/%s:%s", host, repo,
		    tag ? tag : "latest");
	return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
}

int
images_ref_split(const char *ref, char *host, size_t hostlen, char *repo,
    size_t repolen, char *tag, size_t taglen)
{
	const char *slash = strchr(ref, '/'), *at, *sep;

	if (slash == NULL)
		return -EINVAL;
	at = strchr(slash, '@');
	sep = at ? at : strrchr(slash, ':');
	if (sep == NULL || (size_t)(slash - ref) >= hostlen ||
	    (size_t)(sep - slash - 1) >= repolen || strlen(sep + 1) >= taglen)
		return -EINVAL;
	memcpy(host, ref, (size_t)(slash - ref));
	host[slash - ref] = 0;
	memcpy(repo, slash + 1, (size_t)(sep - slash - 1));
	repo[sep - slash - 1] = 0;
	strcpy(tag, sep + 1);
	return 0;
}

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
static int
write_json_atomic(const json_t *v, const char *path, char *err, size_t errlen)
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

static int
mkdir_p(const char *path)
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

static int
store_lock(struct images *im, char *err, size_t errlen)
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

static json_t *
refs_load(struct images *im, char *err, size_t errlen)
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

static int
refs_save(struct images *im, json_t *refs, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX + 16];
	json_t *root = json_pack("{sO}", "refs", refs);
	int rc;

	if (root == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	snprintf(p, sizeof(p), "%s/refs.json", im->dir);
	rc = write_json_atomic(root, p, err, errlen);
	json_decref(root);
	return rc;
}

static void
index_path(struct images *im, const char *digest, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/index/%s.json", im->dir, digest + 7);
}

/* im->dir is shorter than IMG_PATH_MAX - 64 (images_open). */
static int
blob_path(struct images *im, const char *digest, char *out, size_t outlen)
{
	return snprintf(out, outlen, "%s/blobs/sha256/%s", im->dir, digest + 7);
}

static json_t *
index_load(struct images *im, const char *digest)
{
	char p[IMG_PATH_MAX + 100];

	if (!images_digest_valid(digest))
		return NULL;
	index_path(im, digest, p, sizeof(p));
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
static int
gc_locked(struct images *im, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX + 300], dg[IMG_DIGEST_LEN + 8];
	json_t *refs, *live, *idx, *v;
	struct dirent *de;
	const char *k;
	DIR *d;
	size_t len;

	if ((refs = refs_load(im, err, errlen)) == NULL)
		return -EIO;	/* never collect against a damaged refs file */
	live = json_object();
	json_object_foreach(refs, k, v) {
		if (!json_is_string(v) || !images_digest_valid(json_string_value(v)))
			continue;
		idx = index_load(im, json_string_value(v));
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
	snprintf(out, outlen, "%s/f%u", st->dir, st->nfiles++);
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
	blob_path(st->im, digest, buf, buflen);
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
static int
disk_probe(const char *path, const char *what, char *format, size_t flen,
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
static int
commit_blobs(struct img_stage *st, char *err, size_t errlen)
{
	char dst[IMG_PATH_MAX + 100];
	const char *dg;
	json_t *v;
	struct stat sb;

	json_object_foreach(st->blobs, dg, v) {
		blob_path(st->im, dg, dst, sizeof(dst));
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
	if ((rc = disk_probe(disk, what, format, sizeof(format), &vsize,
	    &fsize, err, errlen)) < 0)
		return rc;
	if ((rc = img_stage_add_blob(st, ddigest, disk)) < 0)
		return images_fail(err, errlen, rc, "out of memory");
	idx = index_new(manifest_digest, config_digest, layers, nlayers, dpath,
	    ddigest, format, vsize, fsize);
	if (idx == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	if ((lk = store_lock(st->im, err, errlen)) < 0) {
		rc = lk;
		goto out;
	}
	if ((rc = commit_blobs(st, err, errlen)) < 0)
		goto out;
	index_path(st->im, manifest_digest, ip, sizeof(ip));
	if ((rc = write_json_atomic(idx, ip, err, errlen)) < 0)
		goto out;
	if ((rj = refs_load(st->im, err, errlen)) == NULL) {
		rc = -EIO;
		goto out;
	}
	for (i = 0; i < nrefs; i++)
		json_object_set_new(rj, refs[i], json_string(manifest_digest));
	if ((rc = refs_save(st->im, rj, err, errlen)) < 0)
		goto out;
	gc_locked(st->im, NULL, 0);
	snprintf(digest_out, IMG_DIGEST_LEN + 1, "%s", manifest_digest);
	log_info("image %s: %s (%s, %llu bytes virtual) from /%s", refs[0],
	    manifest_digest, format, (unsigned long long)vsize, dpath);
out:
	if (rc < 0 && lk >= 0)
		gc_locked(st->im, NULL, 0);	/* a failed commit's blobs */
	if (lk >= 0)
		close(lk);
	json_decref(rj);
	json_decref(idx);
	return rc;
}

/* ---------------------------------------------------------------- open */

/* A tar or gzip file (an archive to import) rather than a disk. */
static int
is_archive(const char *path)
{
	unsigned char h[512];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return 1;
	return n == 512 && memcmp(h + 257, "ustar", 5) == 0;
}

static int
ref_present(struct images *im, const char *ref)
{
	json_t *refs = refs_load(im, NULL, 0);
	int r = refs && json_is_string(json_object_get(refs, ref));

	json_decref(refs);
	return r;
}

/* One pre-loaded name: a disk file probed once, or an archive imported. */
static json_t *
preload_one(struct images *im, const char *ref, const char *path)
{
	char err[512], fmt[8], dg[IMG_DIGEST_LEN + 1];
	uint64_t vs, fs;
	int rc;

	if (path[0] != '/')
		return json_pack("{ss}", "error", "pre-loaded image path must "
		    "be absolute");
	if (is_archive(path)) {
		if (ref_present(im, ref))
			return NULL;
		rc = images_import(im, path, ref, dg, err, sizeof(err));
		if (rc < 0) {
			log_error("pre-loaded image %s: %s", ref, err);
			return json_pack("{ss}", "error", err);
		}
		return NULL;
	}
	rc = disk_probe(path, path, fmt, sizeof(fmt), &vs, &fs, err,
	    sizeof(err));
	if (rc < 0) {
		log_error("pre-loaded image %s: %s", ref, err);
		return json_pack("{ss}", "error", err);
	}
	return json_pack("{ss ss sI sI}", "path", path, "format", fmt,
	    "virtual_size", (json_int_t)vs, "size", (json_int_t)fs);
}

static int
preload_all(struct images *im, char *err, size_t errlen)
{
	json_t *pre = json_object_get(im->conf, "preloaded"), *v, *e;
	char nref[1100];
	const char *k;

	im->preload = json_object();
	if (pre == NULL)
		return 0;
	if (!json_is_object(pre))
		return images_fail(err, errlen, -EINVAL, "images.preloaded: "
		    "must be an object of REF: PATH");
	json_object_foreach(pre, k, v) {
		if (!json_is_string(v))
			return images_fail(err, errlen, -EINVAL, "images."
			    "preloaded.%s: must be a file path", k);
		if (images_ref_normalize(k, nref, sizeof(nref)) < 0)
			return images_fail(err, errlen, -EINVAL, "images."
			    "preloaded: '%s' is not an image reference", k);
		e = preload_one(im, nref, json_string_value(v));
		if (e != NULL)
			json_object_set_new(im->preload, nref, e);
	}
	return 0;
}

int
images_open(const char *dir, const json_t *conf, struct images **out,
    char *err, size_t errlen)
{
	static const char *subs[] = { "blobs/sha256", "index", "tmp" };
	char p[IMG_PATH_MAX + 32];
	struct images *im;
	int rc, lk;
	size_t i;

	if (conf != NULL && !json_is_object(conf))
		return images_fail(err, errlen, -EINVAL, "images: the config "
		    "must be an object");
	im = calloc(1, sizeof(*im));
	if (im == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	if (snprintf(im->dir, sizeof(im->dir), "%s", dir) >= (int)sizeof(im->dir) - 64) {
		free(im);
		return images_fail(err, errlen, -ENAMETOOLONG, "%s: too long",
		    dir);
	}
	im->conf = conf ? json_deep_copy(conf) : json_object();
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		if ((rc = mkdir_p(p)) < 0) {
			images_fail(err, errlen, rc, "%s: %s", p, strerror(-rc));
			goto fail;
		}
	}
	if ((lk = store_lock(im, err, errlen)) < 0) {
		rc = lk;
		goto fail;
	}
	rc = gc_locked(im, err, errlen);
	close(lk);
	if (rc < 0)
		goto fail;
	if ((rc = preload_all(im, err, errlen)) < 0)
		goto fail;
	*out = im;
	return 0;
fail:
	images_close(im);
	return rc;
}

void
images_close(struct images *im)
{
	if (im == NULL)
		return;
	json_decref(im->conf);
	json_decref(im->preload);
	free(im);
}

/* ---------------------------------------------------------------- resolve */

/* The index of a normalized ref: by digest, or through refs.json. */
static json_t *
index_of_ref(struct images *im, const char *nref, char *err, size_t errlen)
{
	const char *at = strchr(nref, '@'), *dg;
	json_t *refs, *idx;

	/* A name (or a pulled NAME@DIGEST, whose digest may be an index's
	 * while the image is its linux/amd64 manifest), then a digest. */
	if ((refs = refs_load(im, err, errlen)) == NULL)
		return NULL;
	dg = json_string_value(json_object_get(refs, nref));
	idx = dg ? index_load(im, dg) : NULL;
	json_decref(refs);
	if (idx == NULL && at != NULL)
		idx = index_load(im, at + 1);
	if (idx == NULL)
		images_fail(err, errlen, -ENOENT, "image %s is not in the "
		    "store (pull it with 'droverctl image pull', import it, or "
		    "pre-load it in the agent config)", nref);
	return idx;
}

static int
disk_out(struct images *im, const char *blob, const char *fmt,
    uint64_t vsize, const char *manifest, struct images_disk *out, char *err,
    size_t errlen)
{
	char bp[IMG_PATH_MAX + 100];

	blob_path(im, blob, bp, sizeof(bp));
	if (access(bp, R_OK) < 0)
		return images_fail(err, errlen, -EIO, "disk blob %s: %s", blob,
		    strerror(errno));
	if (snprintf(out->path, sizeof(out->path), "%s", bp) >=
	    (int)sizeof(out->path))
		return images_fail(err, errlen, -ENAMETOOLONG, "%s: path too "
		    "long", bp);
	snprintf(out->format, sizeof(out->format), "%s", fmt);
	out->virtual_size = vsize;
	snprintf(out->digest, sizeof(out->digest), "%s", manifest ?: "");
	return 0;
}

/*
 * containerDisk.path naming a file other than the image's /disk/ one:
 * extracted from the stored layers once, checked like the disk (format
 * pinned, no backing file), kept as a blob listed under the index's
 * "extra".
 */
static int
resolve_other(struct images *im, const char *nref, const json_t *idx,
    const char *want, struct images_disk *out, char *err, size_t errlen)
{
	const char *mdg = json_string_value(json_object_get(idx, "manifest"));
	char disk[IMG_PATH_MAX], found[IMGTAR_NAME_MAX], dd[IMG_DIGEST_LEN + 1];
	char fmt[8], what[IMGTAR_NAME_MAX + 8], ip[IMG_PATH_MAX + 100];
	const json_t *e, *ls = json_object_get(idx, "layers");
	struct img_layer *layers = NULL;
	struct img_stage st;
	json_t *fresh = NULL, *extra;
	uint64_t vs, fs;
	size_t i, n = json_array_size(ls);
	int rc, lk = -1;

	e = json_object_get(json_object_get(idx, "extra"), want);
	if (e != NULL)
		return disk_out(im, json_string_value(json_object_get(e,
		    "blob")) ?: "", json_string_value(json_object_get(e,
		    "format")) ?: "", (uint64_t)json_integer_value(
		    json_object_get(e, "virtual_size")), mdg, out, err, errlen);
	if (n == 0 || n > IMG_LAYERS_MAX || mdg == NULL)
		return images_fail(err, errlen, -EIO, "image %s: damaged index "
		    "file", nref);
	if ((layers = calloc(n, sizeof(*layers))) == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const char *d = json_string_value(json_array_get(ls, i));
		if (d == NULL || !images_digest_valid(d)) {
			free(layers);
			return images_fail(err, errlen, -EIO, "image %s: "
			    "damaged index file", nref);
		}
		strcpy(layers[i].digest, d);
		blob_path(im, d, layers[i].path, sizeof(layers[i].path));
	}
	if ((rc = img_stage_begin(im, &st, err, errlen)) < 0) {
		free(layers);
		return rc;
	}
	rc = oci_extract_disk(layers, n, want, &st, disk, sizeof(disk), found,
	    sizeof(found), dd, err, errlen);
	snprintf(what, sizeof(what), "/%s", want);
	if (rc == 0)
		rc = disk_probe(disk, what, fmt, sizeof(fmt), &vs, &fs, err,
		    errlen);
	if (rc == 0 && (rc = img_stage_add_blob(&st, dd, disk)) < 0)
		images_fail(err, errlen, rc, "out of memory");
	if (rc == 0 && (lk = rc = store_lock(im, err, errlen)) >= 0)
		rc = commit_blobs(&st, err, errlen);
	if (rc == 0) {
		index_path(im, mdg, ip, sizeof(ip));
		fresh = json_load_file(ip, 0, NULL);
		if (fresh == NULL)
			rc = images_fail(err, errlen, -ENOENT, "image %s was "
			    "removed meanwhile", nref);
	}
	if (rc == 0) {
		extra = json_object_get(fresh, "extra");
		if (!json_is_object(extra)) {
			extra = json_object();
			json_object_set_new(fresh, "extra", extra);
		}
		json_object_set_new(extra, want, json_pack("{ss ss sI sI}",
		    "blob", dd, "format", fmt, "virtual_size", (json_int_t)vs,
		    "size", (json_int_t)fs));
		rc = write_json_atomic(fresh, ip, err, errlen);
	}
	if (lk >= 0) {
		gc_locked(im, NULL, 0);
		close(lk);
	}
	if (rc == 0) {
		log_info("image %s: /%s extracted (%s)", nref, want, fmt);
		rc = disk_out(im, dd, fmt, vs, mdg, out, err, errlen);
	} else if (rc == -EINVAL && strstr(err, "has no file")) {
		images_fail(err, errlen, -EINVAL, "image %s has no file /%s "
		    "(containerDisk.path)", nref, want);
	}
	json_decref(fresh);
	img_stage_end(&st);
	free(layers);
	return rc;
}

int
images_resolve(struct images *im, const char *ref, const char *path,
    struct images_disk *out, char *err, size_t errlen)
{
	char nref[1100], want[IMGTAR_NAME_MAX], bp[IMG_PATH_MAX + 100];
	json_t *pre, *idx, *disk;
	const char *dpath, *blob, *fmt;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (images_ref_normalize(ref, nref, sizeof(nref)) < 0)
		return images_fail(err, errlen, -EINVAL, "'%s' is not an "
		    "image reference", ref);
	want[0] = 0;
	if (path != NULL && *path) {
		snprintf(want, sizeof(want), "%s", path);
		if (strlen(path) >= sizeof(want) - 1 ||
		    imgtar_clean_path(want) < 0)
			return images_fail(err, errlen, -EINVAL, "containerDisk"
			    " path '%s' is not a valid path", path);
	}
	pre = json_object_get(im->preload, nref);
	if (pre != NULL) {
		if (json_object_get(pre, "error"))
			return images_fail(err, errlen, -EINVAL, "pre-loaded "
			    "image %s: %s", nref, json_string_value(
			    json_object_get(pre, "error")));
		snprintf(out->path, sizeof(out->path), "%s",
		    json_string_value(json_object_get(pre, "path")));
		snprintf(out->format, sizeof(out->format), "%s",
		    json_string_value(json_object_get(pre, "format")));
		out->virtual_size = (uint64_t)json_integer_value(
		    json_object_get(pre, "virtual_size"));
		return 0;
	}
	if ((idx = index_of_ref(im, nref, err, errlen)) == NULL)
		return -ENOENT;
	disk = json_object_get(idx, "disk");
	dpath = json_string_value(json_object_get(disk, "path"));
	blob = json_string_value(json_object_get(disk, "blob"));
	fmt = json_string_value(json_object_get(disk, "format"));
	if (!dpath || !blob || !fmt || !images_digest_valid(blob) ||
	    (strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0)) {
		rc = images_fail(err, errlen, -EIO, "image %s: damaged index "
		    "file", nref);
		goto out;
	}
	if (want[0] && strcmp(want, dpath) != 0) {
		rc = resolve_other(im, nref, idx, want, out, err, errlen);
		goto out;
	}
	blob_path(im, blob, bp, sizeof(bp));
	if (access(bp, R_OK) < 0) {
		rc = images_fail(err, errlen, -EIO, "image %s: disk blob %s: "
		    "%s", nref, blob, strerror(errno));
		goto out;
	}
	if (snprintf(out->path, sizeof(out->path), "%s", bp) >=
	    (int)sizeof(out->path)) {
		rc = images_fail(err, errlen, -ENAMETOOLONG, "%s: path too "
		    "long", bp);
		goto out;
	}
	snprintf(out->format, sizeof(out->format), "%s", fmt);
	out->virtual_size = (uint64_t)json_integer_value(json_object_get(disk,
	    "virtual_size"));
	snprintf(out->digest, sizeof(out->digest), "%s",
	    json_string_value(json_object_get(idx, "manifest")));
out:
	json_decref(idx);
	return rc;
}

/* ---------------------------------------------------------------- list, rm */

json_t *
images_list(struct images *im)
{
	json_t *arr = json_array(), *refs, *v, *idx, *disk;
	const char *k;

	json_object_foreach(im->preload, k, v) {
		json_array_append_new(arr, json_pack("{ss ss sO* sO* sO* sO* sb}",
		    "ref", k, "digest", "", "format", json_object_get(v, "format"),
		    "virtual_size", json_object_get(v, "virtual_size"),
		    "disk", json_object_get(v, "path"),
		    "error", json_object_get(v, "error"), "preloaded", 1));
	}
	refs = refs_load(im, NULL, 0);
	json_object_foreach(refs, k, v) {
		idx = index_load(im, json_string_value(v) ?: "");
		disk = json_object_get(idx, "disk");
		json_array_append_new(arr, json_pack("{ss sO sO* sO* sO* sO* sb}",
		    "ref", k, "digest", v, "format", json_object_get(disk, "format"),
		    "virtual_size", json_object_get(disk, "virtual_size"),
		    "size", json_object_get(disk, "size"),
		    "disk", json_object_get(disk, "path"), "preloaded", 0));
		json_decref(idx);
	}
	json_decref(refs);
	return arr;
}

int
images_rm(struct images *im, const char *ref, char *err, size_t errlen)
{
	char nref[1100];
	const char *k, *at;
	json_t *refs = NULL, *v;
	void *tmp;
	int lk, rc = 0, n = 0;

	if (images_ref_normalize(ref, nref, sizeof(nref)) < 0)
		return images_fail(err, errlen, -EINVAL, "'%s' is not an "
		    "image reference", ref);
	if ((lk = store_lock(im, err, errlen)) < 0)
		return lk;
	if ((refs = refs_load(im, err, errlen)) == NULL) {
		rc = -EIO;
		goto out;
	}
	at = strchr(nref, '@');
	json_object_foreach_safe(refs, tmp, k, v) {
		if (at ? strcmp(json_string_value(v) ?: "", at + 1) == 0 :
		    strcmp(k, nref) == 0) {
			json_object_del(refs, k);
			n++;
		}
	}
	if (n == 0) {
		rc = images_fail(err, errlen, -ENOENT, "image %s is not in the "
		    "store%s", nref, json_object_get(im->preload, nref) ?
		    " (it is pre-loaded in the agent config)" : "");
		goto out;
	}
	if ((rc = refs_save(im, refs, err, errlen)) < 0)
		goto out;
	gc_locked(im, NULL, 0);
	log_info("image %s removed", nref);
out:
	json_decref(refs);
	close(lk);
	return rc;
}

/* ---------------------------------------------------------------- import, pull */

int
images_import(struct images *im, const char *file, const char *name,
    char *digest_out, char *err, size_t errlen)
{
	char nref[1100], dg[IMG_DIGEST_LEN + 1];
	const char *refs[1] = { nref };

	if (name != NULL && images_ref_normalize(name, nref, sizeof(nref)) < 0)
		return images_fail(err, errlen, -EINVAL, "'%s' is not an "
		    "image reference", name);
	if (name != NULL && strchr(nref, '@'))
		return images_fail(err, errlen, -EINVAL, "--name takes a name "
		    "and tag, not a digest");
	return oci_import_archive(im, file, refs, name ? 1 : 0,
	    digest_out ? digest_out : dg, err, errlen);
}

int
images_pull(struct images *im, const char *ref,
    void (*progress)(void *arg, const char *what, uint64_t done,
    uint64_t total), void *arg, char *digest_out, char *err, size_t errlen)
{
	struct images_progress p = { progress, arg };
	char nref[1100], dg[IMG_DIGEST_LEN + 1];

	if (images_ref_normalize(ref, nref, sizeof(nref)) < 0)
		return images_fail(err, errlen, -EINVAL, "'%s' is not an "
		    "image reference", ref);
	return registry_pull(im, nref, progress ? &p : NULL,
	    digest_out ? digest_out : dg, err, errlen);
}
