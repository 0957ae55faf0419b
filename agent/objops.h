/*
 * objops.h: the writes droverd's two APIs share: the local socket
 * (localapi.c, and kubectl-style apply in apply.c) and the Kubernetes API
 * (kapi_write.c). Each runs the API server's pipeline on the store:
 * admission (config/manifest.h: strict or pruning decoding, defaults,
 * validation, KubeVirt's admitters), the stored version (an
 * autoscaling/v1 HPA is kept as autoscaling/v2, config/defaults.h), the
 * store's preconditions, and errors as Kubernetes Status objects
 * (apply_store_status()). Nothing is stored when a call fails.
 *
 * Every call returns 0 with *out (a new reference: the object as stored,
 * out may be NULL), or -1 with *status (a new Status object). Objects
 * passed in are not changed.
 */
#ifndef DROVER_OBJOPS_H
#define DROVER_OBJOPS_H

#include <jansson.h>

struct store;

#define OBJOPS_STRICT	0x1	/* fieldValidation=Strict (MANIFEST_STRICT) */
#define OBJOPS_DRY_RUN	0x100	/* everything but the store write */

/* The object in the version the store keeps it in (new reference). */
json_t *objops_storage_form(const json_t *obj);
/* A stored object in apiVersion api_version (new reference). */
json_t *objops_version_form(const json_t *stored, const char *api_version);

/*
 * Create obj: admission as a create (its .status dropped), its namespace
 * made when missing (apply_ensure_namespace), store_create(). A Namespace
 * gets status.phase Active.
 */
int objops_create(struct store *s, const json_t *obj, unsigned flags,
    json_t **out, json_t **status);

/*
 * Replace an existing object (kind, namespace, name from obj):
 * admission, store_update() (a metadata.resourceVersion in obj must be
 * the stored one: 409 Conflict; .status is kept from the store).
 */
int objops_replace(struct store *s, const json_t *obj, unsigned flags,
    json_t **out, json_t **status);

/*
 * Replace .status only (the status subresource), with obj's
 * metadata.resourceVersion, when given, as a precondition.
 */
int objops_replace_status(struct store *s, const json_t *obj,
    unsigned flags, json_t **out, json_t **status);

/*
 * Delete, as DELETE with DeleteOptions opts (may be NULL):
 * preconditions.uid and .resourceVersion (409 when they differ),
 * propagationPolicy Background and Foreground (dependents deleted after
 * the object, store.h's cascade) or Orphan (their ownerReferences to it
 * removed first). A Namespace first loses what it holds; default,
 * kube-system and kube-public are 403 Forbidden. *out: the object as it
 * is after the call (marked with deletionTimestamp while finalizers
 * remain) or as it was when it is gone.
 */
int objops_delete(struct store *s, const char *kind, const char *ns,
    const char *name, const json_t *opts, unsigned flags, json_t **out,
    json_t **status);

/*
 * The scale subresource of a VirtualMachineInstanceReplicaSet: set
 * spec.replicas, admitted and stored; rv (NULL: none) must be the stored
 * resourceVersion. Kinds without a scale subresource: 404.
 */
int objops_scale(struct store *s, const char *kind, const char *ns,
    const char *name, json_int_t replicas, const char *rv, unsigned flags,
    json_t **out, json_t **status);

#endif
