/*
 * oci.c: OCI image layouts and Docker archives (docker save, skopeo's
 * docker-archive:) into the image store, manifests, and the disk file out
 * of an image's layers.
 *
 * An archive is walked once: every regular file is staged (never under
 * its own name: the store picks file names) with its sha256; files named
 * blobs/sha256/HEX must hash to HEX. Then index.json (OCI) or
 * manifest.json (Docker) says which files are the manifest, the config and
 * the layers. A Docker archive has no manifest blob: a Docker schema 2
 * manifest is written for it (its digest is the image's), and its layers
 * are checked against the config's rootfs.diff_ids.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images_int.h"
#include "imgtar.h"
#include "log.h"

#define ARCHIVE_FILES_MAX	100000

json_t *
oci_load_json(const char *path, char *err, size_t errlen)
{
	const char *base = strrchr(path, '/');
	struct stat sb;
	json_error_t je;
	json_t *v;

	if (stat(path, &sb) < 0) {
		images_fail(err, errlen, -errno, "%s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if ((uint64_t)sb.st_size > IMG_JSON_MAX) {
		images_fail(err, errlen, -EFBIG, "%s: %lld bytes, too large "
		    "for a manifest or config", base ? base + 1 : path,
		    (long long)sb.st_size);
		return NULL;
	}
	v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (v == NULL)
		images_fail(err, errlen, -EINVAL, "bad JSON (%s, line %d)",
		    je.text, je.line);
	return v;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
is_index_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
	    strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

int
oci_manifest_parse(const json_t *m, char *config_digest,
    struct img_layer *layers, size_t *nlayers, char *err, size_t errlen)
{
	const json_t *arr, *l;
	const char *mt, *dg;
	size_t i;

	if (!json_is_object(m) ||
	    json_integer_value(json_object_get(m, "schemaVersion")) != 2)
		return images_fail(err, errlen, -EINVAL, "not an image manifest "
		    "(schemaVersion 2 expected)");
	mt = jstr(m, "mediaType");
	if (is_index_type(mt))
		return images_fail(err, errlen, -EINVAL, "an image index where "
		    "a manifest was expected");
	dg = jstr(json_object_get(m, "config"), "digest");
	if (dg == NULL || !images_digest_valid(dg))
		return images_fail(err, errlen, -EINVAL, "manifest: missing or "
		    "bad config digest (only sha256 is supported)");
	strcpy(config_digest, dg);
	arr = json_object_get(m, "layers");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return images_fail(err, errlen, -EINVAL, "manifest: no layers");
	if (json_array_size(arr) > IMG_LAYERS_MAX)
		return images_fail(err, errlen, -EINVAL, "manifest: %zu layers "
		    "(at most %d)", json_array_size(arr), IMG_LAYERS_MAX);
	for (i = 0; i < json_array_size(arr); i++) {
		l = json_array_get(arr, i);
		dg = jstr(l, "digest");
		mt = jstr(l, "mediaType");
		if (dg == NULL || !images_digest_valid(dg))
			return images_fail(err, errlen, -EINVAL, "manifest: "
			    "layer %zu: missing or bad digest", i);
		if (mt && strstr(mt, "zstd"))
			return images_fail(err, errlen, -ENOTSUP, "layer %s: "
			    "zstd layers are not supported", dg);
		memset(&layers[i], 0, sizeof(layers[i]));
		strcpy(layers[i].digest, dg);
	}
	*nlayers = i;
	return 0;
}

/* ---------------------------------------------------------------- layers */

/*
 * Drop the staged files of map entries for name and everything under it
 * (dir_only: only under it; name "" is the root). below >= 0: only the
 * entries of layers before that one (a whiteout hides lower layers, not
 * its own); -1: any (a file replaced by a later entry).
 */
static void
disk_whiteout(json_t *map, const char *name, int dir_only, int below)
{
	size_t len = strlen(name);
	const char *k, *p;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(map, tmp, k, v) {
		if (below >= 0 && json_integer_value(json_object_get(v,
		    "layer")) >= below)
			continue;
		if ((!dir_only && strcmp(k, name) == 0) || len == 0 ||
		    (strncmp(k, name, len) == 0 && k[len] == '/')) {
			if ((p = jstr(v, "path")) != NULL)
				unlink(p);
			json_object_del(map, k);
		}
	}
}

static int
wanted(const char *name, const char *path)
{
	return path ? strcmp(name, path) == 0 : strncmp(name, "disk/", 5) == 0;
}

/* Stage the current entry's data; record it in map. */
static int
stage_entry(struct imgtar *t, const char *name, int layer,
    struct img_stage *st, json_t *map, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX], dg[IMG_DIGEST_LEN + 1];
	const size_t bufsz = 1u << 16;
	struct img_wfile w;
	char *buf;
	ssize_t n;
	int rc;

	if ((buf = malloc(bufsz)) == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	img_stage_name(st, p, sizeof(p));
	if ((rc = img_wfile_open(&w, p, err, errlen)) < 0) {
		free(buf);
		return rc;
	}
	while ((n = imgtar_read(t, buf, bufsz, err, errlen)) > 0)
		if ((rc = img_wfile_write(&w, buf, (size_t)n, err, errlen)) < 0)
			break;
	free(buf);
	if (n < 0 || rc < 0) {
		img_wfile_abort(&w);
		return n < 0 ? (int)n : rc;
	}
	if ((rc = img_wfile_finish(&w, dg, err, errlen)) < 0)
		return rc;
	disk_whiteout(map, name, 0, -1);
	json_object_set_new(map, name, json_pack("{ss ss si}", "path", p,
	    "digest", dg, "layer", layer));
	return 0;
}

static int
layer_walk(const struct img_layer *l, int li, const char *path,
    struct img_stage *st, json_t *map, char *err, size_t errlen)
{
	char name[IMGTAR_NAME_MAX], dir[IMGTAR_NAME_MAX], *base;
	struct imgtar_entry e;
	struct imgtar_src src;
	struct imgtar t;
	int rc;

	if ((rc = imgtar_src_open(&src, l->path, err, errlen)) < 0)
		return rc;
	snprintf(src.what, sizeof(src.what), "layer %.*s", 19, l->digest);
	imgtar_init(&t, &src);
	while ((rc = imgtar_next(&t, &e, err, errlen)) > 0) {
		snprintf(name, sizeof(name), "%s", e.name);
		if (imgtar_clean_path(name) < 0) {
			if (strstr(e.name, ".."))
				log_warnx("layer %s: entry '%s' ignored",
				    l->digest, e.name);
			continue;
		}
		base = strrchr(name, '/');
		if (strncmp(base ? base + 1 : name, ".wh.", 4) == 0) {
			snprintf(dir, sizeof(dir), "%.*s", base ?
			    (int)(base - name) : 0, name);
			if (strcmp(base ? base + 1 : name, ".wh..wh..opq") == 0)
				disk_whiteout(map, dir, 1, li);
			else {
				snprintf(dir + strlen(dir), sizeof(dir) -
				    strlen(dir), "%s%s", base ? "/" : "",
				    (base ? base + 1 : name) + 4);
				disk_whiteout(map, dir, 0, li);
			}
			continue;
		}
		if (!wanted(name, path) || e.type == '5')
			continue;
		if (e.type == '0' || e.type == '7') {
			if ((rc = stage_entry(&t, name, li, st, map, err,
			    errlen)) < 0)
				break;
		} else {
			disk_whiteout(map, name, 0, -1);
			json_object_set_new(map, name, json_pack("{si ss}",
			    "layer", li, "bad",
			    e.type == '2' ? "a symbolic link" : e.type == '1' ?
			    "a hard link" : e.type == 'S' ? "a sparse tar entry "
			    "(not supported: rebuild the image without --sparse)" :
			    "not a regular file"));
		}
	}
	if (rc == 0)
		rc = imgtar_finish(&t, err, errlen);
	imgtar_src_close(&src);
	return rc;
}

int
oci_extract_disk(const struct img_layer *layers, size_t nlayers,
    const char *path, struct img_stage *st, char *out, size_t outlen,
    char *found_path, size_t fplen, char *digest, char *err, size_t errlen)
{
	json_t *map = json_object(), *v;
	char list[512];
	const char *k;
	size_t i, n;
	int rc = 0;

	for (i = 0; i < nlayers; i++)
		if ((rc = layer_walk(&layers[i], (int)i, path, st, map, err,
		    errlen)) < 0)
			goto out;
	n = json_object_size(map);
	if (n == 0) {
		rc = path ? images_fail(err, errlen, -EINVAL, "the image has no "
		    "file /%s", path) : images_fail(err, errlen, -EINVAL,
		    "the image has no file under /disk/ (a containerDisk holds "
		    "exactly one disk file there)");
		goto out;
	}
	if (n > 1) {
		list[0] = 0;
		json_object_foreach(map, k, v)
			if (strlen(list) + strlen(k) + 4 < sizeof(list))
				snprintf(list + strlen(list), sizeof(list) -
				    strlen(list), "%s/%s", list[0] ? ", " : "", k);
		rc = images_fail(err, errlen, -EINVAL, "the image has %zu files "
		    "under /disk/ (%s); a containerDisk holds exactly one", n,
		    list);
		goto out;
	}
	json_object_foreach(map, k, v) {
		if (jstr(v, "bad")) {
			rc = images_fail(err, errlen, -EINVAL, "/%s in the image "
			    "is %s; the disk must be a regular file", k,
			    jstr(v, "bad"));
			goto out;
		}
		snprintf(out, outlen, "%s", jstr(v, "path"));
		snprintf(found_path, fplen, "%s", k);
		snprintf(digest, IMG_DIGEST_LEN + 1, "%s", jstr(v, "digest"));
		json_object_del(map, k);
		break;
	}
out:
	json_object_foreach(map, k, v)
		if (jstr(v, "path"))
			unlink(jstr(v, "path"));
	json_decref(map);
	return rc;
}

/* ---------------------------------------------------------------- archives */

struct arc {
	struct img_stage *st;
	json_t *files;		/* name -> {"path","digest"} */
	json_t *links;		/* name -> target name */
};

/* Resolve a symlink target relative to the link's directory. */
static void
link_target(const char *name, const char *target, char *out, size_t outlen)
{
	const char *slash = strrchr(name, '/');

	int n;

	if (target[0] == '/')
		n = snprintf(out, outlen, "%s", target);
	else
		n = snprintf(out, outlen, "%.*s%s%s", slash ?
		    (int)(slash - name) : 0, name, slash ? "/" : "", target);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = 0;
		return;
	}
	if (imgtar_clean_path(out) < 0) {
		/* "a/../b": resolve ".." against the parent once */
		char tmp[IMGTAR_NAME_MAX], *p;
		snprintf(tmp, sizeof(tmp), "%s", out);
		while ((p = strstr(tmp, "/../")) != NULL) {
			char *q = p;
			while (q > tmp && q[-1] != '/')
				q--;
			memmove(q, p + 4, strlen(p + 4) + 1);
		}
		if (strncmp(tmp, "../", 3) == 0 || imgtar_clean_path(tmp) < 0)
			out[0] = 0;
		else
			snprintf(out, outlen, "%s", tmp);
	}
}

static int
arc_walk(struct arc *a, const char *file, char *err, size_t errlen)
{
	char name[IMGTAR_NAME_MAX], tgt[IMGTAR_NAME_MAX];
	struct imgtar_entry e;
	struct imgtar_src src;
	struct imgtar t;
	const char *dg;
	json_t *v;
	int rc;

	if ((rc = imgtar_src_open(&src, file, err, errlen)) < 0)
		return rc;
	imgtar_init(&t, &src);
	while ((rc = imgtar_next(&t, &e, err, errlen)) > 0) {
		snprintf(name, sizeof(name), "%s", e.name);
		if (imgtar_clean_path(name) < 0)
			continue;
		if (e.type == '2' || e.type == '1') {
			if (e.type == '2')
				link_target(name, e.linkname, tgt, sizeof(tgt));
			else {
				snprintf(tgt, sizeof(tgt), "%s", e.linkname);
				if (imgtar_clean_path(tgt) < 0)
					tgt[0] = 0;
			}
			if (tgt[0])
				json_object_set_new(a->links, name,
				    json_string(tgt));
			continue;
		}
		if (e.type != '0' && e.type != '7')
			continue;
		if (json_object_size(a->files) >= ARCHIVE_FILES_MAX) {
			rc = images_fail(err, errlen, -E2BIG, "%s: too many "
			    "files", src.what);
			break;
		}
		if ((rc = stage_entry(&t, name, 0, a->st, a->files, err,
		    errlen)) < 0)
			break;
		v = json_object_get(a->files, name);
		dg = jstr(v, "digest");
		if (strncmp(name, "blobs/sha256/", 13) == 0) {
			if (strcmp(name + 13, dg + 7) != 0) {
				rc = images_fail(err, errlen, -EBADMSG,
				    "blob sha256:%.64s: digest mismatch (its "
				    "bytes hash to %s): the archive is damaged "
				    "or was tampered with", name + 13, dg);
				break;
			}
		}
	}
	if (rc == 0)
		rc = imgtar_finish(&t, err, errlen);
	imgtar_src_close(&src);
	return rc;
}

/* A file of the archive by name (following links): its entry or NULL. */
static json_t *
arc_file(struct arc *a, const char *name)
{
	char n[IMGTAR_NAME_MAX];
	const char *l;
	int hops;

	snprintf(n, sizeof(n), "%s", name);
	if (imgtar_clean_path(n) < 0)
		return NULL;
	for (hops = 0; hops < 8; hops++) {
		if (json_object_get(a->files, n))
			return json_object_get(a->files, n);
		if ((l = jstr(a->links, n)) == NULL)
			return NULL;
		snprintf(n, sizeof(n), "%s", l);
	}
	return NULL;
}

/* The staged file of a blob named by digest in an OCI layout. */
static const char *
arc_blob(struct arc *a, const char *digest, char *err, size_t errlen)
{
	char n[IMGTAR_NAME_MAX];
	json_t *f;

	snprintf(n, sizeof(n), "blobs/sha256/%s", digest + 7);
	f = arc_file(a, n);
	if (f == NULL || strcmp(jstr(f, "digest"), digest) != 0) {
		images_fail(err, errlen, -EINVAL, "the archive lacks blob %s",
		    digest);
		return NULL;
	}
	img_stage_add_blob(a->st, digest, jstr(f, "path"));
	return jstr(f, "path");
}

static int
name_ok(const char *name, char *out, size_t outlen)
{
	return name && strchr(name, '/') &&
	    images_ref_normalize(name, out, outlen) == 0 && !strchr(out, '@');
}

/* Choose the linux/amd64 manifest of an index (or its only one). */
static const json_t *
pick_manifest(const json_t *mans)
{
	const json_t *m, *pl, *only = NULL;
	size_t i, n = 0;

	json_array_foreach(mans, i, m) {
		pl = json_object_get(m, "platform");
		if (pl == NULL) {
			only = m;
			n++;
			continue;
		}
		if (strcmp(jstr(pl, "os") ?: "", "linux") == 0 &&
		    strcmp(jstr(pl, "architecture") ?: "", "amd64") == 0)
			return m;
	}
	return n == 1 || json_array_size(mans) == 1 ? (only ? only :
	    json_array_get(mans, 0)) : NULL;
}

/* Load a staged blob as JSON and parse it as a manifest. */
static int
arc_manifest(struct arc *a, const char *digest, char *cfg,
    struct img_layer *layers, size_t *n, char *err, size_t errlen)
{
	const char *p = arc_blob(a, digest, err, errlen), *sub;
	json_t *m;
	int rc, depth;

	for (depth = 0; p != NULL && depth < 3; depth++) {
		if ((m = oci_load_json(p, err, errlen)) == NULL)
			return -EINVAL;
		if (is_index_type(jstr(m, "mediaType")) ||
		    json_is_array(json_object_get(m, "manifests"))) {
			sub = jstr(pick_manifest(json_object_get(m,
			    "manifests")), "digest");
			if (sub == NULL || !images_digest_valid(sub)) {
				json_decref(m);
				return images_fail(err, errlen, -EINVAL, "image "
				    "index %s has no linux/amd64 manifest",
				    digest);
			}
			digest = sub;
			p = arc_blob(a, digest, err, errlen);
			strcpy(cfg, digest);	/* keep the digest alive */
			digest = cfg;
			json_decref(m);
			continue;
		}
		rc = oci_manifest_parse(m, cfg, layers, n, err, errlen);
		json_decref(m);
		return rc;
	}
	return p ? images_fail(err, errlen, -EINVAL, "image indexes nested "
	    "too deep") : -EINVAL;
}

static int
arc_import_oci(struct arc *a, const char **refs, size_t nrefs, char *digest,
    char *err, size_t errlen)
{
	struct img_layer *layers = NULL;
	char cfg[IMG_DIGEST_LEN + 1], mdg[IMG_DIGEST_LEN + 1], nm[1100];
	const json_t *mans, *m, *ann;
	const char *names[1], *dg;
	json_t *idx;
	size_t n = 0, i;
	int rc;

	idx = oci_load_json(jstr(arc_file(a, "index.json"), "path"), err,
	    errlen);
	if (idx == NULL)
		return -EINVAL;
	mans = json_object_get(idx, "manifests");
	if (!json_is_array(mans) || json_array_size(mans) == 0) {
		rc = images_fail(err, errlen, -EINVAL, "index.json lists no "
		    "manifests");
		goto out;
	}
	if ((m = pick_manifest(mans)) == NULL) {
		rc = images_fail(err, errlen, -EINVAL, "index.json lists %zu "
		    "images; import one at a time", json_array_size(mans));
		goto out;
	}
	dg = jstr(m, "digest");
	if (dg == NULL || !images_digest_valid(dg)) {
		rc = images_fail(err, errlen, -EINVAL, "index.json: bad "
		    "manifest digest");
		goto out;
	}
	snprintf(mdg, sizeof(mdg), "%s", dg);
	ann = json_object_get(m, "annotations");
	if (nrefs == 0) {
		if (name_ok(jstr(ann, "io.containerd.image.name"), nm,
		    sizeof(nm)) || name_ok(jstr(ann,
		    "org.opencontainers.image.ref.name"), nm, sizeof(nm))) {
			names[0] = nm;
			refs = names;
			nrefs = 1;
		}
	}
	layers = calloc(IMG_LAYERS_MAX, sizeof(*layers));
	if (layers == NULL) {
		rc = images_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = arc_manifest(a, mdg, cfg, layers, &n, err, errlen)) < 0)
		goto out;
	/* An index resolved to one of its manifests: that one is the image. */
	if (arc_blob(a, cfg, err, errlen) == NULL) {
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		dg = arc_blob(a, layers[i].digest, err, errlen);
		if (dg == NULL) {
			rc = -EINVAL;
			goto out;
		}
		snprintf(layers[i].path, sizeof(layers[i].path), "%s", dg);
	}
	rc = img_stage_commit(a->st, mdg, cfg, layers, n, refs, nrefs, digest,
	    err, errlen);
out:
	free(layers);
	json_decref(idx);
	return rc;
}

/* Write the Docker schema 2 manifest of a Docker archive's image. */
static int
docker_manifest(struct arc *a, json_t *cfgf, struct img_layer *layers,
    size_t n, char *digest, char *err, size_t errlen)
{
	char p[IMG_PATH_MAX];
	struct img_wfile w;
	struct stat sb;
	json_t *m, *ls = json_array();
	size_t i;
	char *s;
	int rc;

	for (i = 0; i < n; i++) {
		if (stat(layers[i].path, &sb) < 0)
			return images_fail(err, errlen, -errno, "%s",
			    strerror(errno));
		json_array_append_new(ls, json_pack("{ss sI ss}", "mediaType",
		    "application/vnd.docker.image.rootfs.diff.tar",
		    "size", (json_int_t)sb.st_size, "digest", layers[i].digest));
	}
	if (stat(jstr(cfgf, "path"), &sb) < 0)
		return images_fail(err, errlen, -errno, "%s", strerror(errno));
	m = json_pack("{si ss s{ss sI ss} so}", "schemaVersion", 2,
	    "mediaType", "application/vnd.docker.distribution.manifest.v2+json",
	    "config", "mediaType", "application/vnd.docker.container.image.v1+json",
	    "size", (json_int_t)sb.st_size, "digest", jstr(cfgf, "digest"),
	    "layers", ls);
	s = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(m);
	if (s == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	img_stage_name(a->st, p, sizeof(p));
	if ((rc = img_wfile_open(&w, p, err, errlen)) == 0) {
		if ((rc = img_wfile_write(&w, s, strlen(s), err, errlen)) < 0)
			img_wfile_abort(&w);
		else
			rc = img_wfile_finish(&w, digest, err, errlen);
	}
	free(s);
	if (rc == 0)
		rc = img_stage_add_blob(a->st, digest, p);
	return rc;
}

static int
arc_import_docker(struct arc *a, const char **refs, size_t nrefs,
    char *digest, char *err, size_t errlen)
{
	struct img_layer *layers = NULL;
	char mdg[IMG_DIGEST_LEN + 1], nm[1100], hex[80];
	const json_t *img, *ls, *diffs, *tags;
	json_t *man, *cfg = NULL, *cfgf, *lf;
	const char *names[1], *cn, *base;
	size_t i, n;
	int rc;

	man = oci_load_json(jstr(arc_file(a, "manifest.json"), "path"), err,
	    errlen);
	if (man == NULL)
		return -EINVAL;
	if (!json_is_array(man) || json_array_size(man) != 1) {
		rc = images_fail(err, errlen, -EINVAL, "manifest.json: %zu "
		    "images; import one at a time", json_array_size(man));
		goto out;
	}
	img = json_array_get(man, 0);
	cn = jstr(img, "Config");
	ls = json_object_get(img, "Layers");
	if (cn == NULL || (cfgf = arc_file(a, cn)) == NULL) {
		rc = images_fail(err, errlen, -EINVAL, "manifest.json: config "
		    "file %s missing", cn ? cn : "(none)");
		goto out;
	}
	/* "HEX.json" or "blobs/sha256/HEX" names the config's digest. */
	base = strrchr(cn, '/') ? strrchr(cn, '/') + 1 : cn;
	snprintf(hex, sizeof(hex), "%.64s", base);
	if (strlen(base) >= 64 && strspn(hex, "0123456789abcdef") == 64 &&
	    strncmp(jstr(cfgf, "digest") + 7, hex, 64) != 0) {
		rc = images_fail(err, errlen, -EBADMSG, "config %s: digest "
		    "mismatch (its bytes hash to %s): the archive is damaged "
		    "or was tampered with", cn, jstr(cfgf, "digest"));
		goto out;
	}
	if ((cfg = oci_load_json(jstr(cfgf, "path"), err, errlen)) == NULL) {
		rc = -EINVAL;
		goto out;
	}
	diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	n = json_array_size(ls);
	if (!json_is_array(ls) || n == 0 || n > IMG_LAYERS_MAX ||
	    json_array_size(diffs) != n) {
		rc = images_fail(err, errlen, -EINVAL, "manifest.json: %zu "
		    "layers, config lists %zu", n, json_array_size(diffs));
		goto out;
	}
	layers = calloc(n, sizeof(*layers));
	if (layers == NULL) {
		rc = images_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		cn = json_string_value(json_array_get(ls, i));
		lf = cn ? arc_file(a, cn) : NULL;
		if (lf == NULL) {
			rc = images_fail(err, errlen, -EINVAL, "layer file %s "
			    "missing", cn ? cn : "(none)");
			goto out;
		}
		/* Uncompressed layers hash to their diff_id; compressed
		 * ones were checked against their blobs/sha256 name. */
		if (strcmp(jstr(lf, "digest"), json_string_value(
		    json_array_get(diffs, i)) ?: "") != 0 &&
		    strncmp(cn, "blobs/sha256/", 13) != 0) {
			rc = images_fail(err, errlen, -EBADMSG, "layer %s: "
			    "digest mismatch (its bytes hash to %s, the config "
			    "says %s): the archive is damaged or was tampered "
			    "with", cn, jstr(lf, "digest"),
			    json_string_value(json_array_get(diffs, i)) ?: "?");
			goto out;
		}
		strcpy(layers[i].digest, jstr(lf, "digest"));
		snprintf(layers[i].path, sizeof(layers[i].path), "%s",
		    jstr(lf, "path"));
		img_stage_add_blob(a->st, layers[i].digest, layers[i].path);
	}
	img_stage_add_blob(a->st, jstr(cfgf, "digest"), jstr(cfgf, "path"));
	if ((rc = docker_manifest(a, cfgf, layers, n, mdg, err, errlen)) < 0)
		goto out;
	tags = json_object_get(img, "RepoTags");
	if (nrefs == 0 && name_ok(json_string_value(json_array_get(tags, 0)),
	    nm, sizeof(nm))) {
		names[0] = nm;
		refs = names;
		nrefs = 1;
	}
	rc = img_stage_commit(a->st, mdg, jstr(cfgf, "digest"), layers, n,
	    refs, nrefs, digest, err, errlen);
out:
	free(layers);
	json_decref(cfg);
	json_decref(man);
	return rc;
}

int
oci_import_archive(struct images *im, const char *file, const char **refs,
    size_t nrefs, char *digest_out, char *err, size_t errlen)
{
	struct img_stage st;
	struct arc a;
	char e2[512];
	int rc;

	if ((rc = img_stage_begin(im, &st, err, errlen)) < 0)
		return rc;
	a.st = &st;
	a.files = json_object();
	a.links = json_object();
	rc = arc_walk(&a, file, e2, sizeof(e2));
	if (rc < 0)
		images_fail(err, errlen, rc, "%s", e2);
	else if (arc_file(&a, "index.json"))
		rc = arc_import_oci(&a, refs, nrefs, digest_out, err, errlen);
	else if (arc_file(&a, "manifest.json"))
		rc = arc_import_docker(&a, refs, nrefs, digest_out, err, errlen);
	else
		rc = images_fail(err, errlen, -EINVAL, "%s: neither an OCI "
		    "archive (index.json) nor a Docker archive (manifest.json)",
		    file);
	json_decref(a.files);
	json_decref(a.links);
	img_stage_end(&st);
	return rc;
}
