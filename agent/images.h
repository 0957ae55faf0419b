/*
 * images.h: the agent's containerDisk image store.
 *
 * Content-addressed under <state-dir>/images/ (blobs by sha256, digests
 * verified on the way in; nothing half-written is ever visible). An image
 * is known by its references ("quay.io/kubevirt/cirros-container-disk-demo",
 * "...:v1", "...@sha256:..."); an untagged reference means ":latest".
 *
 * The agent's configuration adds:
 * - pre-loaded names: a reference mapped to a local disk file (qcow2 or
 *   raw) or to a local OCI/Docker archive, so that a seed's image resolves
 *   on an air-gapped node;
 * - registry mirrors: "quay.io" pulled from another registry URL.
 *
 * What a VMI's runtime needs is images_resolve(): the one disk file of an
 * image (its single file under /disk/, or containerDisk.path), its format
 * (pinned here, from the image's own bytes at import, never from anything
 * a guest can write), as a read-only path the overlay can use as backing.
 */
#ifndef DROVER_IMAGES_H
#define DROVER_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct images;

/*
 * Open the store under dir. conf (may be NULL) is the agent config's
 * "images" object:
 *   { "preloaded": { "REF": "/path/disk.qcow2" | "/path/image.tar", ... },
 *     "mirrors":   { "quay.io": "https://127.0.0.1:5000", ... },
 *     "ca": "/path/ca.pem", "auth": { "REGISTRY": {"username":..,"password":..} } }
 */
int images_open(const char *dir, const json_t *conf, struct images **out,
    char *err, size_t errlen);
void images_close(struct images *im);

struct images_disk {
	char path[4096];	/* read-only file to back an overlay */
	char format[8];		/* "qcow2" or "raw" */
	uint64_t virtual_size;	/* the disk's size as the guest sees it */
	char digest[72];	/* "sha256:..." of the image manifest */
};

/*
 * The disk of image ref, at path inside the image (NULL: the single file
 * under /disk/). The image must already be in the store or pre-loaded;
 * pulling is a separate, asynchronous step (droverctl image pull, or the
 * runtime's pull for imagePullPolicy). 0, -ENOENT (not present: err says
 * so), -EINVAL (zero or several files under /disk/, a qcow2 with a backing
 * file, a bad path) with a message in err.
 */
int images_resolve(struct images *im, const char *ref, const char *path,
    struct images_disk *out, char *err, size_t errlen);

/*
 * Store management (droverctl image ..., the local API). digest_out, when
 * not NULL, gets the image's manifest digest (72 bytes).
 * images_import: an OCI or Docker archive (tar, or gzipped tar), named
 * name (NULL: the names the archive gives).
 * images_pull: from its registry (or the configured mirror) over HTTPS;
 * progress (may be NULL) is called with a layer digest or "manifest", the
 * bytes so far and the total (0 if unknown).
 * images_list: a new JSON array of {"ref","digest","format",
 * "virtual_size","size","disk"} (pre-loaded disk files too).
 * images_rm: drop a reference (or, for NAME@sha256:..., every reference
 * to that image); blobs nothing else uses are deleted.
 * All return 0 or -errno with a message in err; nothing half-written is
 * ever left in the store.
 */
int images_import(struct images *im, const char *file, const char *name,
    char *digest_out, char *err, size_t errlen);
int images_pull(struct images *im, const char *ref,
    void (*progress)(void *arg, const char *what, uint64_t done,
    uint64_t total), void *arg, char *digest_out, char *err, size_t errlen);
json_t *images_list(struct images *im);
int images_rm(struct images *im, const char *ref, char *err, size_t errlen);

/*
 * droverd's local API ops (localapi.h), one response per request:
 *   {"op":"image.import","file":PATH,"name":NAME?} -> {"digest":D}
 *   {"op":"image.list"} -> {"items":[images_list() entries]}
 *   {"op":"image.rm","ref":REF} -> {"removed":REF}
 *   {"op":"image.pull","ref":REF} -> {"digest":D} (blocks droverd's loop
 *       for the whole download: droverctl pulls in its own process)
 *   {"op":"image.store"} -> {"dir":DIR,"config":{...}} (the store and its
 *       config, for droverctl's own pull with progress)
 */
struct localapi;
int images_register_api(struct images *im, struct localapi *api);

#endif
