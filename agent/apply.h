/*
 * apply.h: `kubectl apply` semantics on the store, shared by the local API
 * (localapi.c) and the --manifests directory (manifests.c).
 *
 * An applied object gets the annotation
 * kubectl.kubernetes.io/last-applied-configuration (the object as given,
 * without that annotation: compact JSON, keys sorted, "\n"), as kubectl's
 * client-side apply writes it. Then:
 * - not stored yet: manifest_admit(STRICT|CREATE), the namespace gets a
 *   Namespace object if it has none, store_create() -> APPLY_CREATED;
 * - stored: a three-way JSON merge patch as kubectl computes it for
 *   custom resources (jsonmergepatch.CreateThreeWayJSONMergePatch): keys
 *   of the new object whose value differs from the live one, and null for
 *   keys of the last applied configuration the new object no longer has;
 *   fields set by others (the controller's status, `scale` of a field the
 *   manifest does not set) stay. An empty patch is APPLY_UNCHANGED and
 *   writes nothing; otherwise the patched live object goes through
 *   manifest_admit(STRICT) and store_update() -> APPLY_CONFIGURED.
 * Refused (admission, store error): -1 and *status, a Status object
 * (code, reason, message) as the API server answers; nothing is stored.
 */
#ifndef DROVER_APPLY_H
#define DROVER_APPLY_H

#include <jansson.h>

struct store;
struct kinds_info;

#define APPLY_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

enum apply_result {
	APPLY_CREATED,
	APPLY_CONFIGURED,
	APPLY_UNCHANGED,
};

/* "created", "configured", "unchanged". */
const char *apply_result_name(enum apply_result r);

/*
 * Apply obj (not changed: copied). ns: the namespace for an object that
 * names none (NULL: "default"). 0 with *res and *out (the stored object,
 * new reference; out may be NULL), or -1 with *status (new reference).
 */
int apply_object(struct store *s, const json_t *obj, const char *ns,
    enum apply_result *res, json_t **out, json_t **status);

/* Create the Namespace object ns if missing. 0, or -1 with *status. */
int apply_ensure_namespace(struct store *s, const char *ns, json_t **status);

/*
 * A Status for a store error (negative errno from store.h) about object
 * name of kind k (may be NULL); msg: the store's message (may be empty).
 * -ENOENT is NotFound ("virtualmachineinstancereplicasets.kubevirt.io
 * \"x\" not found"), -EEXIST AlreadyExists, -ESTALE Conflict, -EINVAL
 * BadRequest, others InternalError.
 */
json_t *apply_store_status(int err, const struct kinds_info *k,
    const char *name, const char *msg);

/* RFC 7386: apply merge patch to target in place. */
void apply_merge_patch(json_t *target, const json_t *patch);

/*
 * kubectl's three-way merge patch (see above); a new object, {} when
 * nothing changes. last may be NULL (no last-applied configuration).
 */
json_t *apply_three_way(const json_t *last, const json_t *mod,
    const json_t *live);

#endif
