/*
 * schema.h: the shape of the kinds Drover stores, and a walker that checks
 * a JSON tree against it, as the API server's decoder and a CRD's
 * structural schema do:
 * - members the schema does not know are "unknown fields" (strict field
 *   validation rejects them: `strict decoding error: unknown field "x"`);
 * - a value of the wrong JSON type, a missing required member, a quantity
 *   not matching QUANTITY_PATTERN are field errors worded as the CRD
 *   validator words them (`spec.replicas in body must be of type integer:
 *   "string"`);
 * - members KubeVirt has but Drover does not implement (SCHEMA_DROVER_NO)
 *   are reported apart, so that they are refused with a clear message
 *   rather than as unknown;
 * - null is taken as absent (Go decodes null into the zero value).
 */
#ifndef DROVER_SCHEMA_H
#define DROVER_SCHEMA_H

#include <jansson.h>

#include "ferr.h"

enum schema_type {
	SCHEMA_ANY = 0,		/* not checked (free-form, kept) */
	SCHEMA_OBJECT,		/* members in .fields; SCHEMA_ANY if NULL */
	SCHEMA_ARRAY,		/* items of .item (objects: .fields) */
	SCHEMA_STRING,
	SCHEMA_INT,
	SCHEMA_BOOL,
	SCHEMA_QUANTITY,	/* int-or-string quantity */
	SCHEMA_INT_OR_STRING,
	SCHEMA_STRING_MAP,	/* map of strings (labels) */
	SCHEMA_QUANTITY_MAP,	/* map of quantities (resource lists) */
};

#define SCHEMA_REQUIRED 0x1	/* "Required value" when absent */
#define SCHEMA_DROVER_NO 0x2	/* KubeVirt's, not supported by Drover */

struct schema_field {
	const char *name;
	enum schema_type type;
	unsigned flags;
	const struct schema_field *fields;	/* object members; NULL-ended */
	enum schema_type item;			/* array items */
	const char *hint;			/* said when not supported */
};

struct schema_result {
	json_t *unknown;		/* sorted array of paths */
	struct ferr_list errors;	/* types, required, patterns */
	struct ferr_list unsupported;	/* SCHEMA_DROVER_NO, as causes */
	int builtin;			/* Go-typed kind: type errors differ */
	int prune;			/* delete unknown members from obj */
};

/* The kinds (top level: apiVersion, kind, metadata, spec, status). */
extern const struct schema_field schema_vmirs[];
extern const struct schema_field schema_vmi[];
extern const struct schema_field schema_hpa_v1[];
extern const struct schema_field schema_hpa_v2[];
/* Core v1: Namespace and Event (admitted), Pod and Node (shape only). */
extern const struct schema_field schema_namespace[];
extern const struct schema_field schema_event[];
extern const struct schema_field schema_pod[];
extern const struct schema_field schema_node[];
/* ObjectMeta, also used under templates. */
extern const struct schema_field schema_object_meta[];

int schema_result_init(struct schema_result *r, int builtin);
void schema_result_free(struct schema_result *r);
/*
 * Walk obj (an object) with fields under path ("" at the top). Returns 0,
 * or -ENOMEM; findings are in r.
 */
int schema_check(const json_t *obj, const struct schema_field *fields,
    const char *path, struct schema_result *r);
/* "strict decoding error: unknown field \"a\", unknown field \"b\"" */
char *schema_unknown_message(const struct schema_result *r);

#endif
