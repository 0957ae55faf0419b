/*
 * images.c: the containerDisk image store (images.h; layout and commit
 * order in images_int.h, its files in images_store.c): references,
 * pre-loaded names, open, resolve (and containerDisk.path extraction),
 * list, rm, import and pull.
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
	json_t *refs = img_refs_load(im, NULL, 0);
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
	rc = img_disk_probe(path, path, fmt, sizeof(fmt), &vs, &fs, err,
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
		if ((rc = img_mkdir_p(p)) < 0) {
			images_fail(err, errlen, rc, "%s: %s", p, strerror(-rc));
			goto fail;
		}
	}
	if ((lk = img_store_lock(im, err, errlen)) < 0) {
		rc = lk;
		goto fail;
	}
	rc = img_gc_locked(im, err, errlen);
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
	if ((refs = img_refs_load(im, err, errlen)) == NULL)
		return NULL;
	dg = json_string_value(json_object_get(refs, nref));
	idx = dg ? img_index_load(im, dg) : NULL;
	json_decref(refs);
	if (idx == NULL && at != NULL)
		idx = img_index_load(im, at + 1);
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

	img_blob_path(im, blob, bp, sizeof(bp));
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
		img_blob_path(im, d, layers[i].path, sizeof(layers[i].path));
	}
	if ((rc = img_stage_begin(im, &st, err, errlen)) < 0) {
		free(layers);
		return rc;
	}
	rc = oci_extract_disk(layers, n, want, &st, disk, sizeof(disk), found,
	    sizeof(found), dd, err, errlen);
	snprintf(what, sizeof(what), "/%s", want);
	if (rc == 0)
		rc = img_disk_probe(disk, what, fmt, sizeof(fmt), &vs, &fs, err,
		    errlen);
	if (rc == 0 && (rc = img_stage_add_blob(&st, dd, disk)) < 0)
		images_fail(err, errlen, rc, "out of memory");
	if (rc == 0 && (lk = rc = img_store_lock(im, err, errlen)) >= 0)
		rc = img_commit_blobs(&st, err, errlen);
	if (rc == 0) {
		img_index_path(im, mdg, ip, sizeof(ip));
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
		rc = img_write_json_atomic(fresh, ip, err, errlen);
	}
	if (lk >= 0) {
		img_gc_locked(im, NULL, 0);
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
	img_blob_path(im, blob, bp, sizeof(bp));
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
	refs = img_refs_load(im, NULL, 0);
	json_object_foreach(refs, k, v) {
		idx = img_index_load(im, json_string_value(v) ?: "");
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
	if ((lk = img_store_lock(im, err, errlen)) < 0)
		return lk;
	if ((refs = img_refs_load(im, err, errlen)) == NULL) {
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
	if ((rc = img_refs_save(im, refs, err, errlen)) < 0)
		goto out;
	img_gc_locked(im, NULL, 0);
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
