/*
 * ferr.h: field errors and the Status objects the API server answers with.
 *
 * Two kinds of causes, as in Kubernetes and KubeVirt:
 * - ferr_k8s(): apimachinery's field.Error; its message (ErrorBody) is
 *   "Invalid value: \"x\": detail", "Required value", "Unsupported value:
 *   \"x\": supported values: \"a\", \"b\"", ...; the Status message is
 *   `Kind.group "name" is invalid: field: body` (several: "[a, b]").
 * - ferr_cause(): a KubeVirt admitter's StatusCause, a free message; the
 *   Status message is `admission webhook "NAME" denied the request: m1, m2`.
 * Paths are strings ("spec.template.spec.volumes[0].name"), at most
 * FERR_PATH_MAX bytes (longer ones are cut).
 */
#ifndef DROVER_FERR_H
#define DROVER_FERR_H

#include <stddef.h>

#include <jansson.h>

#define FERR_PATH_MAX 512

enum ferr_type {
	FERR_REQUIRED,		/* FieldValueRequired, "Required value" */
	FERR_INVALID,		/* FieldValueInvalid, "Invalid value" */
	FERR_NOT_SUPPORTED,	/* FieldValueNotSupported, "Unsupported value" */
	FERR_FORBIDDEN,		/* FieldValueForbidden, "Forbidden" */
	FERR_DUPLICATE,		/* FieldValueDuplicate, "Duplicate value" */
	FERR_NOT_FOUND,		/* FieldValueNotFound, "Not found" */
	FERR_TOO_LONG,		/* FieldValueTooLong, "Too long" */
};

struct ferr {
	enum ferr_type type;
	char *field;
	char *message;
};

struct ferr_list {
	struct ferr *v;
	size_t n, cap;
	int oom;
};

void ferr_init(struct ferr_list *l);
void ferr_free(struct ferr_list *l);
/*
 * A Kubernetes field.Error. value: the bad value as Go prints it (see
 * ferr_quote/ferr_value), or NULL for none; detail may be NULL.
 */
void ferr_k8s(struct ferr_list *l, enum ferr_type t, const char *field,
    const char *value, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A KubeVirt StatusCause with a free message. */
void ferr_cause(struct ferr_list *l, enum ferr_type t, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Append all of src (moved; src is emptied). */
void ferr_move(struct ferr_list *dst, struct ferr_list *src);

/* "FieldValueInvalid" ... */
const char *ferr_cause_type(enum ferr_type t);
/* Go's %q of s into buf (cut to len); returns buf. */
const char *ferr_quote(const char *s, char *buf, size_t len);
/* A JSON value as field.Error prints it: strings %q, numbers, true/false. */
const char *ferr_value(const json_t *v, char *buf, size_t len);

/* Paths: out = parent.name / parent[i]; return out. */
const char *ferr_child(char out[FERR_PATH_MAX], const char *parent,
    const char *name);
const char *ferr_index(char out[FERR_PATH_MAX], const char *parent, size_t i);

/* Status objects (new references; NULL on ENOMEM). */
json_t *ferr_status(int code, const char *reason, const char *message);
json_t *ferr_status_invalid(const char *kind, const char *group,
    const char *name, const struct ferr_list *l);
json_t *ferr_status_webhook(const char *webhook, const struct ferr_list *l);

#endif
