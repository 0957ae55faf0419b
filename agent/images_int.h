/*
 * images_int.h: what the image store's files share (images.c: the store,
 * references, resolve; imgtar.c: tar and gzip readers; oci.c: OCI and
 * Docker archives and layer extraction; registry.c: pull over HTTPS).
 *
 * Store layout under <state-dir>/images/:
 *   blobs/sha256/HEX     manifests, configs, layers and extracted disks,
 *                        mode 0444, named by the sha256 of their bytes
 *   index/HEX.json       one per image (HEX: its manifest's digest): the
 *                        layers and the disk file, its format and size
 *   refs.json            {"refs": {"NAME:TAG": "sha256:HEX", ...}}
 *   tmp/XXXXXX/          an import or pull in progress (its own lock file)
 *   lock                 flock: commits and garbage collection
 * An import stages every file in its tmp/ directory, verifying digests as
 * the bytes arrive; the commit renames blobs into place, writes the index
 * file, then refs.json (temp file, fsync, rename: the commit point).
 * Anything not reachable from refs.json is garbage: collected after every
 * commit and rm, and at open (with abandoned tmp/ directories).
 */
#ifndef DROVER_IMAGES_INT_H
#define DROVER_IMAGES_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <mbedtls/sha256.h>

#include "images.h"

#define IMG_PATH_MAX	4096
#define IMG_DIGEST_LEN	71	/* "sha256:" + 64 hex */
/* Manifests, configs and index.json read into memory: at most this. */
#define IMG_JSON_MAX	(4u << 20)
/* Layers per image, files staged per import. */
#define IMG_LAYERS_MAX	128

struct images {
	char dir[IMG_PATH_MAX];		/* <state-dir>/images */
	json_t *conf;			/* the "images" config (own copy) */
	json_t *preload;		/* normalized ref -> disk info, built at open */
};

/* An import in progress: its staging directory and what it holds. */
struct img_stage {
	struct images *im;
	char dir[IMG_PATH_MAX];		/* <images>/tmp/XXXXXX */
	int lockfd;
	unsigned nfiles;		/* staged file names: f0, f1, ... */
	json_t *blobs;			/* "sha256:HEX" -> staged file path */
};

/* The parts of an image, as its manifest lists them. */
struct img_layer {
	char digest[IMG_DIGEST_LEN + 1];	/* of the bytes as stored */
	char path[IMG_PATH_MAX];		/* the verified file */
};

/* ---- images.c ---- */
int images_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "sha256:" + 64 lowercase hex digits. */
int images_digest_valid(const char *d);
/* Normalize a reference: "docker.io/library/" for bare names, ":latest" if
 * no tag or digest. 0 or -EINVAL. */
int images_ref_normalize(const char *ref, char *out, size_t outlen);
/* Split a normalized ref: registry host, repository, tag or digest. */
int images_ref_split(const char *ref, char *host, size_t hostlen,
    char *repo, size_t repolen, char *tag, size_t taglen);

int img_stage_begin(struct images *im, struct img_stage *st, char *err,
    size_t errlen);
void img_stage_end(struct img_stage *st);
/* A new staging file name (not created). */
void img_stage_name(struct img_stage *st, char *out, size_t outlen);
/* Record a verified blob staged at path. 0 or -ENOMEM. */
int img_stage_add_blob(struct img_stage *st, const char *digest,
    const char *path);
/* The staged (or already stored) file of a blob, or NULL. */
const char *img_stage_blob(struct img_stage *st, const char *digest,
    char *buf, size_t buflen);
/*
 * Turn a staged image into a stored one: manifest bytes (their digest is
 * the image's), the config digest, the layers, then extract and check the
 * disk, commit and point refs (array of normalized refs, may be empty) at
 * it. On success the image's manifest digest is written to digest_out.
 */
int img_stage_commit(struct img_stage *st, const char *manifest_digest,
    const char *config_digest, const struct img_layer *layers, size_t nlayers,
    const char **refs, size_t nrefs, char *digest_out, char *err,
    size_t errlen);

/* ---- images_store.c ---- */
int img_mkdir_p(const char *path);
/* Temp file in the same directory, fsync, rename, fsync the directory. */
int img_write_json_atomic(const json_t *v, const char *path, char *err,
    size_t errlen);
/* The store's exclusive lock (commits, GC): an fd to close, or -errno. */
int img_store_lock(struct images *im, char *err, size_t errlen);
/* refs.json's "refs" object (new reference; {} if absent), NULL if damaged. */
json_t *img_refs_load(struct images *im, char *err, size_t errlen);
int img_refs_save(struct images *im, json_t *refs, char *err, size_t errlen);
int img_blob_path(struct images *im, const char *digest, char *out,
    size_t outlen);
void img_index_path(struct images *im, const char *digest, char *out,
    size_t outlen);
json_t *img_index_load(struct images *im, const char *digest);
/* Drop what refs.json does not reach, and abandoned imports. With the lock. */
int img_gc_locked(struct images *im, char *err, size_t errlen);
/* qcow2 (no backing file) or raw, from the file's own bytes. */
int img_disk_probe(const char *path, const char *what, char *format,
    size_t flen, uint64_t *vsize, uint64_t *fsize, char *err, size_t errlen);
/* Move the staged blobs into blobs/sha256 (0444). With the lock. */
int img_commit_blobs(struct img_stage *st, char *err, size_t errlen);

/* A file written while hashed (sha256), then fsync'd. */
struct img_wfile {
	int fd;
	uint64_t size;
	mbedtls_sha256_context sha;
	char path[IMG_PATH_MAX];
};
int img_wfile_open(struct img_wfile *w, const char *path, char *err,
    size_t errlen);
int img_wfile_write(struct img_wfile *w, const void *buf, size_t n, char *err,
    size_t errlen);
/* fsync, close, digest into out ("sha256:HEX"). Unlinks on error. */
int img_wfile_finish(struct img_wfile *w, char *out, char *err, size_t errlen);
void img_wfile_abort(struct img_wfile *w);
void img_sha256_hex(const unsigned char sum[32], char *out);

/* ---- oci.c ---- */
/* Import an OCI or Docker archive (tar, maybe gzipped) and name it with
 * refs (the archive's own names when nrefs is 0). */
int oci_import_archive(struct images *im, const char *file, const char **refs,
    size_t nrefs, char *digest_out, char *err, size_t errlen);
/* Parse a manifest blob's layers and config (OCI or Docker schema 2).
 * manifest is a JSON object; is_index set for an image index. */
int oci_manifest_parse(const json_t *manifest, char *config_digest,
    struct img_layer *layers, size_t *nlayers, char *err, size_t errlen);
/* Walk the layers in order and extract the one disk file (path NULL: the
 * single file under disk/; else that path) into the staging file out.
 * found_path gets the file's path inside the image. */
int oci_extract_disk(const struct img_layer *layers, size_t nlayers,
    const char *path, struct img_stage *st, char *out, size_t outlen,
    char *found_path, size_t fplen, char *digest, char *err, size_t errlen);
/* Read a whole (small) file into a JSON value. */
json_t *oci_load_json(const char *path, char *err, size_t errlen);

/* ---- registry.c ---- */
struct images_progress {
	void (*fn)(void *arg, const char *what, uint64_t done, uint64_t total);
	void *arg;
};
int registry_pull(struct images *im, const char *ref,
    const struct images_progress *prog, char *digest_out, char *err,
    size_t errlen);

#endif
