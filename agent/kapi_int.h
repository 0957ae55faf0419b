/*
 * kapi_int.h: what the Kubernetes API handlers (kapi*.c) share. Not for
 * other modules: the transport uses kapi.h, droverd kapi_server.h.
 *
 * A request goes: kapi.c (kapi_handle: parse path and query, authorize,
 * route) -> kapi_disc.c (version, discovery) | kapi_openapi.c (OpenAPI v3)
 * | kapi_crud.c (reads, lists, Tables, Scale) | kapi_write.c (create, update,
 * patch, delete, status, scale) | kapi_watch.c (watch streams) |
 * kapi_metrics.c (metrics.k8s.io) | kapi_console.c (the console
 * WebSocket). kapi_path.c parses what the client sends (paths, query
 * strings, label and field selectors), kapi_patch.c parses bodies and
 * applies patches.
 */
#ifndef DROVER_KAPI_INT_H
#define DROVER_KAPI_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kapi.h"

struct store;
struct loop;
struct rt;
struct usage;
struct kinds_info;
struct kapi_watch;

/* ---- served resources (kapi_disc.c) ---------------------------------------- */

#define KAPI_V_GET	0x01
#define KAPI_V_LIST	0x02
#define KAPI_V_WATCH	0x04
#define KAPI_V_CREATE	0x08
#define KAPI_V_UPDATE	0x10
#define KAPI_V_PATCH	0x20
#define KAPI_V_DELETE	0x40
#define KAPI_V_READ	(KAPI_V_GET | KAPI_V_LIST | KAPI_V_WATCH)
#define KAPI_V_ALL	(KAPI_V_READ | KAPI_V_CREATE | KAPI_V_UPDATE | \
			 KAPI_V_PATCH | KAPI_V_DELETE)

#define KAPI_SUB_STATUS	0x1
#define KAPI_SUB_SCALE	0x2
#define KAPI_SUB_CONSOLE 0x4

enum kapi_special {
	KAPI_STORED = 0,	/* objects of the store */
	KAPI_PODMETRICS,	/* metrics.k8s.io PodMetrics */
	KAPI_NODEMETRICS,	/* metrics.k8s.io NodeMetrics */
	KAPI_CONSOLE,		/* subresources.kubevirt.io console only */
};

struct kapi_res {
	const char *group;		/* "" for the core group */
	const char *version;
	const char *resource;		/* "virtualmachineinstancereplicasets" */
	const char *singular;
	const char *kind;		/* the kind served at this version */
	const char *shorts[3];
	int namespaced;
	unsigned verbs;			/* KAPI_V_* */
	unsigned subres;		/* KAPI_SUB_* */
	int all;			/* in category "all" */
	enum kapi_special special;
};

/* Look up a resource by group, version and resource name; NULL if none. */
const struct kapi_res *kapi_res_find(const char *group, const char *version,
    const char *resource);
/* Every served resource, NULL-terminated. */
const struct kapi_res *const *kapi_res_all(void);
/* "group/version" or "v1" for the core group. */
const char *kapi_res_api_version(const struct kapi_res *r, char *buf,
    size_t len);
/* "virtualmachineinstancereplicasets.kubevirt.io" or "pods". */
const char *kapi_res_qualified(const struct kapi_res *r, char *buf,
    size_t len);

/* ---- requests (kapi_path.c) ------------------------------------------------- */

enum kapi_path_kind {
	KAPI_P_NONE = 0,	/* unknown: 404 */
	KAPI_P_VERSION,		/* /version */
	KAPI_P_API,		/* /api */
	KAPI_P_APIS,		/* /apis */
	KAPI_P_GROUP,		/* /apis/G */
	KAPI_P_GV,		/* /api/v1, /apis/G/V */
	KAPI_P_OPENAPI,		/* /openapi/v3 */
	KAPI_P_OPENAPI_GV,	/* /openapi/v3/api/v1, /openapi/v3/apis/G/V */
	KAPI_P_RESOURCE,	/* a collection, an item or a subresource */
};

#define KAPI_NAME_MAX 253
#define KAPI_NS_MAX 63

struct kapi_path {
	enum kapi_path_kind kind;
	char group[64], version[16];
	const struct kapi_res *res;
	int has_ns;
	char ns[KAPI_NS_MAX + 1];
	char name[KAPI_NAME_MAX + 1];	/* "" for a collection */
	char sub[16];			/* "", "status", "scale", "console" */
};

/*
 * Parse a decoded request path. Unknown paths, unknown resources, bad
 * namespace or name segments: kind KAPI_P_NONE (the caller's 404).
 */
void kapi_parse_path(const char *path, struct kapi_path *p);

struct kapi_query {
	char *label_selector;		/* NULL when absent */
	char *field_selector;
	char *resource_version;
	char *field_validation;		/* "Strict", "Warn", "Ignore" */
	char *field_manager;
	char *propagation_policy;
	char *include_object;
	int watch;
	int dry_run;
	long timeout_s;			/* -1 when absent */
};

/*
 * Parse a raw query string ("a=b&c=d", percent-decoding, '+' as space).
 * Unknown parameters are ignored. 0, or -1 with a message in err (a bad
 * escape, a bad number): the caller's 400.
 */
int kapi_parse_query(const char *qs, struct kapi_query *q, char *err,
    size_t errlen);
void kapi_query_free(struct kapi_query *q);

/*
 * A label selector string ("a=b,c!=d,e in (f,g),!h") as a LabelSelector
 * object ({matchExpressions: [...]}) for validate_selector_matches();
 * "" gives {} (everything). NULL with a message in err when malformed.
 */
json_t *kapi_label_selector(const char *s, char *err, size_t errlen);

/* A field selector: terms "field=value", "field==value", "field!=value". */
struct kapi_fsel_term {
	char *field;
	char *value;
	int neg;
};
struct kapi_fsel {
	struct kapi_fsel_term *t;
	size_t n;
};
/*
 * Parse s for objects of kind (the fields a kind supports: metadata.name,
 * metadata.namespace, and per kind: Event involvedObject.*, reason, type,
 * source; Pod spec.nodeName, status.phase). -1 with err ("field label
 * not supported: x") when malformed or unsupported.
 */
int kapi_fsel_parse(const char *s, const char *kind, struct kapi_fsel *out,
    char *err, size_t errlen);
int kapi_fsel_match(const struct kapi_fsel *f, const json_t *obj);
/* The name that metadata.name=NAME pins, or NULL. */
const char *kapi_fsel_name(const struct kapi_fsel *f);
void kapi_fsel_free(struct kapi_fsel *f);

/* A media type without parameters matches want (case-insensitive)? */
int kapi_media_is(const char *header, const char *want);
/* Does an Accept header ask for a Table (as=Table)? */
int kapi_accept_table(const char *accept);

/* ---- bodies and patches (kapi_patch.c) ---------------------------------------- */

/*
 * A request body: one JSON (or, yaml, YAML) document, integral numbers as
 * integers (yamljson.h). NULL with *status a 400 Status otherwise.
 */
json_t *kapi_parse_body(const char *body, size_t len, int yaml,
    json_t **status);

enum kapi_patch_type {
	KAPI_PATCH_MERGE,	/* application/merge-patch+json (RFC 7386) */
	KAPI_PATCH_STRATEGIC,	/* ...strategic-merge-patch+json: as merge */
	KAPI_PATCH_JSON,	/* application/json-patch+json (RFC 6902) */
};

/*
 * Apply a patch (body text) to a copy of target; a new object in *out.
 * 0; -1 with *status (400 for a patch that does not parse, 422 for one
 * that does not apply: a failed test, a missing path).
 */
int kapi_patch(enum kapi_patch_type type, const json_t *target,
    const char *body, size_t len, json_t **out, json_t **status);

/* ---- the handler state (kapi.c) --------------------------------------------- */

struct kapi {
	struct store *store;
	struct loop *loop;
	struct rt *rt;
	struct usage *usage;		/* usage.h: metrics.k8s.io */
	struct usage *own_usage;	/* kapi_new()'s, when given none */
	struct kapi_watch *watch;	/* kapi_watch.c */
};

/* One request being handled. */
struct kapi_ctx {
	struct kapi *k;
	struct kapi_conn *c;
	const struct kapi_req *r;
	struct kapi_path p;
	struct kapi_query q;
	int table;		/* the client accepts a Table */
	int yaml;		/* the client wants YAML (Accept) */
	int answered;
	char obj_name[KAPI_NAME_MAX + 1];	/* a body's name, for details */
};

/* Answer with j (reference stolen): JSON, or YAML when asked for. */
void kapi_reply(struct kapi_ctx *x, int code, json_t *j);
/* Answer with JSON text (copied; the client asked for JSON). */
void kapi_reply_text(struct kapi_ctx *x, int code, const char *json,
    size_t len);
/* The same with the text in n pieces (kapi_respondv()). */
void kapi_reply_textv(struct kapi_ctx *x, int code, const struct kapi_iov *v,
    size_t n);
/* Answer with a Status object (reference stolen); its code. */
void kapi_reply_status(struct kapi_ctx *x, json_t *status);
/* A Status error. */
void kapi_fail(struct kapi_ctx *x, int code, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* NotFound for the request's resource and name (with details). */
void kapi_not_found(struct kapi_ctx *x, const char *name);
/* A Status about object name of the request's resource (reason, details). */
json_t *kapi_status_about(const struct kapi_path *p, int code,
    const char *reason, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A store error (negative errno) as the API server words it. */
json_t *kapi_store_status(const struct kapi_path *p, int err,
    const char *name, const char *msg);
/* "N" of the store's resourceVersion. */
json_t *kapi_rv_json(struct kapi *k);

/* ---- versions of stored objects ----------------------------------------------- */

/* The stored object as the resource's version shows it (new reference). */
json_t *kapi_to_api(const struct kapi_res *r, const json_t *stored);

/* ---- discovery, OpenAPI (kapi_disc.c, kapi_openapi.c) ---------------------- */

void kapi_disc_handle(struct kapi_ctx *x);
void kapi_openapi_handle(struct kapi_ctx *x);

/* ---- reads (kapi_crud.c), writes (kapi_write.c) ----------------------------- */

/* Does obj match the request's namespace, label and field selectors? */
struct kapi_filter {
	const char *ns;			/* NULL: all */
	json_t *labels;			/* LabelSelector; NULL: all */
	struct kapi_fsel fields;
};
/* 0, or -1 after answering 400. */
int kapi_filter_init(struct kapi_ctx *x, struct kapi_filter *f);
void kapi_filter_free(struct kapi_filter *f);
int kapi_filter_match(const struct kapi_filter *f, const json_t *obj);

void kapi_get(struct kapi_ctx *x);
void kapi_list(struct kapi_ctx *x);
void kapi_create(struct kapi_ctx *x);
void kapi_update(struct kapi_ctx *x);
void kapi_patch_item(struct kapi_ctx *x);
void kapi_delete(struct kapi_ctx *x);

/* ---- Tables, Scale (kapi_crud.c) -------------------------------------------- */

/*
 * A Table (meta.k8s.io/v1) of objs (stored objects, shown through r) with
 * the kind's columns; headers: with columnDefinitions. includeObject: the
 * query's ("Object": full objects in rows, else PartialObjectMetadata).
 */
json_t *kapi_table(const struct kapi_res *r, const json_t *objs,
    const char *rv, int headers, const char *include_object);
/* The autoscaling/v1 Scale of a stored VMIRS (new object). */
json_t *kapi_scale_of(const json_t *vmirs);

/* ---- watches (kapi_watch.c) ------------------------------------------------- */

int kapi_watch_init(struct kapi *k);
void kapi_watch_shutdown(struct kapi *k);
/* A watch request: stream events (the request's filter) from ?resourceVersion. */
void kapi_watch_start(struct kapi_ctx *x);

/* ---- metrics (kapi_metrics.c) ---------------------------------------------- */

void kapi_metrics_handle(struct kapi_ctx *x);

#endif
