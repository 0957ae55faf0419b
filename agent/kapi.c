/*
 * kapi.c: the Kubernetes API handlers' state, router, authorization and
 * replies (kapi.h, kapi_int.h).
 *
 * AUTHORIZATION (issue 6), from the client certificate (kapi_user: CN and
 * O values), before anything is read or written:
 * - group system:masters: everything;
 * - group drover:viewers: get, list and watch of everything, no writes;
 * - any other user: every verb on namespaced resources in the namespace
 *   named after the user (the lab's --namespace=$USER), and get of that
 *   Namespace object; nothing cluster-wide (no -A, no Nodes);
 * - discovery, /version and OpenAPI: every authenticated user.
 * The console subresource is a write (it types into the VM, as KubeVirt's
 * RBAC gives it to edit, not view). Refusals are 403 Forbidden Status
 * objects worded as Kubernetes' RBAC words them (`User "bob" cannot list
 * resource "pods" in API group "" in the namespace "alice"`); a request
 * without a user is 401.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferr.h"
#include "kapi_console.h"
#include "kapi_int.h"
#include "kapi_server.h"
#include "log.h"
#include "objops.h"
#include "store.h"
#include "usage.h"
#include "yamljson.h"

#define KAPI_GROUP_MASTERS "system:masters"
#define KAPI_GROUP_VIEWERS "drover:viewers"

struct kapi *
kapi_new(struct store *s, struct loop *l, struct rt *rt, struct usage *u,
    char *err, size_t errlen)
{
	struct kapi *k;

	if (!s || !l) {
		snprintf(err, errlen, "kapi: no store or loop");
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "kapi: out of memory");
		return NULL;
	}
	k->store = s;
	k->loop = l;
	k->rt = rt;
	/* Without one given: the node's usage only (no cgroups). */
	k->usage = u ? u : (k->own_usage = usage_new(l, s, NULL));
	if (kapi_watch_init(k) < 0 || !k->usage) {
		snprintf(err, errlen, "kapi: out of memory");
		kapi_free(k);
		return NULL;
	}
	return k;
}

void
kapi_free(struct kapi *k)
{
	if (!k)
		return;
	kapi_console_shutdown(k);
	kapi_watch_shutdown(k);
	usage_free(k->own_usage);
	free(k);
}

struct store *kapi_store(struct kapi *k) { return k->store; }
struct rt *kapi_rt(struct kapi *k) { return k->rt; }
struct loop *kapi_loop(struct kapi *k) { return k->loop; }

/* ---- replies ------------------------------------------------------------------ */

static const char kapi_oom[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"out of memory\","
    "\"reason\":\"InternalError\",\"code\":500}";

void
kapi_reply(struct kapi_ctx *x, int code, json_t *j)
{
	char *s = NULL;
	size_t len = 0;

	if (x->answered++) {
		log_error("kapi: %s %s answered twice", x->r->method,
		    x->r->path);
		json_decref(j);
		return;
	}
	if (j && x->yaml && yamljson_emit(j, &s, &len) == 0) {
		kapi_respond(x->c, code, "application/yaml", s, len);
	} else if (j && (s = json_dumps(j, JSON_COMPACT)) != NULL) {
		kapi_respond(x->c, code, "application/json", s, strlen(s));
	} else
		kapi_respond(x->c, 500, "application/json", kapi_oom,
		    sizeof(kapi_oom) - 1);
	free(s);
	json_decref(j);
}

void
kapi_reply_text(struct kapi_ctx *x, int code, const char *json, size_t len)
{
	struct kapi_iov v = { json ? json : "", json ? len : 0 };

	kapi_reply_textv(x, code, &v, 1);
}

void
kapi_reply_textv(struct kapi_ctx *x, int code, const struct kapi_iov *v,
    size_t n)
{
	if (x->answered++) {
		log_error("kapi: %s %s answered twice", x->r->method,
		    x->r->path);
		return;
	}
	kapi_respondv(x->c, code, "application/json", v, n);
}

/* details {name, group, kind} for errors about the request's resource. */
static void
kapi_add_details(struct kapi_ctx *x, json_t *st)
{
	const char *reason = json_string_value(json_object_get(st, "reason"));
	const char *name = x->obj_name[0] ? x->obj_name : x->p.name;
	json_t *d;

	if (x->p.kind != KAPI_P_RESOURCE || !x->p.res || !reason ||
	    json_object_get(st, "details") || (strcmp(reason, "NotFound") &&
	    strcmp(reason, "AlreadyExists") && strcmp(reason, "Conflict")))
		return;
	d = json_pack("{s:s}", "kind", x->p.res->resource);
	if (*name)
		json_object_set_new(d, "name", json_string(name));
	if (*x->p.res->group)
		json_object_set_new(d, "group", json_string(x->p.res->group));
	json_object_set_new(st, "details", d);
}

void
kapi_reply_status(struct kapi_ctx *x, json_t *status)
{
	int code = (int)json_integer_value(json_object_get(status, "code"));

	if (!status) {
		kapi_reply(x, 500, NULL);
		return;
	}
	kapi_add_details(x, status);
	kapi_reply(x, code >= 400 && code < 600 ? code : 500, status);
}

void
kapi_fail(struct kapi_ctx *x, int code, const char *reason, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kapi_reply_status(x, ferr_status(code, reason, msg));
}

void
kapi_not_found(struct kapi_ctx *x, const char *name)
{
	char q[256];

	kapi_reply_status(x, kapi_status_about(&x->p, 404, "NotFound", name,
	    "%s \"%s\" not found", kapi_res_qualified(x->p.res, q, sizeof(q)),
	    name));
}

json_t *
kapi_status_about(const struct kapi_path *p, int code, const char *reason,
    const char *name, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *st, *d;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st = ferr_status(code, reason, msg);
	if (!st || !p->res)
		return st;
	d = json_pack("{s:s}", "kind", p->res->resource);
	if (name && *name)
		json_object_set_new(d, "name", json_string(name));
	if (*p->res->group)
		json_object_set_new(d, "group", json_string(p->res->group));
	json_object_set_new(st, "details", d);
	return st;
}

json_t *
kapi_rv_json(struct kapi *k)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu",
	    (unsigned long long)store_rv(k->store));
	return json_string(buf);
}

json_t *
kapi_to_api(const struct kapi_res *r, const json_t *stored)
{
	char av[96];

	return objops_version_form(stored, kapi_res_api_version(r, av,
	    sizeof(av)));
}

/* ---- authorization ---------------------------------------------------------------- */

static const char *const kapi_verb_names[] = {
	"get", "list", "watch", "create", "update", "patch", "delete",
};

static const char *
kapi_verb_name(unsigned verb)
{
	for (unsigned i = 0; i < 7; i++)
		if (verb == 1u << i)
			return kapi_verb_names[i];
	return "get";
}

static int
kapi_in_group(const struct kapi_user *u, const char *g)
{
	for (int i = 0; i < u->ngroups && i < KAPI_MAX_GROUPS; i++)
		if (!strcmp(u->groups[i], g))
			return 1;
	return 0;
}

static int
kapi_allowed(const struct kapi_user *u, const struct kapi_path *p,
    unsigned verb)
{
	if (kapi_in_group(u, KAPI_GROUP_MASTERS))
		return 1;
	if (kapi_in_group(u, KAPI_GROUP_VIEWERS))
		return (verb & KAPI_V_READ) != 0;
	if (p->res->namespaced)
		return p->has_ns && !strcmp(p->ns, u->name);
	/* a user's own Namespace object: get */
	return !strcmp(p->res->resource, "namespaces") && !*p->res->group &&
	    verb == KAPI_V_GET && !strcmp(p->name, u->name) && !*p->sub;
}

static void
kapi_forbid(struct kapi_ctx *x, unsigned verb)
{
	const struct kapi_path *p = &x->p;
	char q[160], res[160], scope[128];

	kapi_res_qualified(p->res, q, sizeof(q));
	snprintf(res, sizeof(res), "%s%s%s", p->res->resource, *p->sub ? "/" :
	    "", p->sub);
	if (p->res->namespaced && p->has_ns)
		snprintf(scope, sizeof(scope), "in the namespace \"%s\"", p->ns);
	else
		snprintf(scope, sizeof(scope), "at the cluster scope");
	log_info("forbidden: user %s %s %s %s", x->r->user->name,
	    kapi_verb_name(verb), res, scope);
	if (*p->name)
		kapi_reply_status(x, kapi_status_about(p, 403, "Forbidden",
		    p->name, "%s \"%s\" is forbidden: User \"%s\" cannot %s "
		    "resource \"%s\" in API group \"%s\" %s", q, p->name,
		    x->r->user->name, kapi_verb_name(verb), res, p->res->group,
		    scope));
	else
		kapi_reply_status(x, kapi_status_about(p, 403, "Forbidden", NULL,
		    "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in "
		    "API group \"%s\" %s", q, x->r->user->name,
		    kapi_verb_name(verb), res, p->res->group, scope));
}

/* ---- routing ----------------------------------------------------------------------- */

/* The verb of a resource request; 0 for a method the path cannot take. */
static unsigned
kapi_verb(const struct kapi_ctx *x)
{
	const char *m = x->r->method;
	int item = x->p.name[0] != '\0';

	if (!strcmp(m, "GET"))
		return item ? KAPI_V_GET : x->q.watch ? KAPI_V_WATCH :
		    KAPI_V_LIST;
	if (!strcmp(m, "POST"))
		return item ? 0 : KAPI_V_CREATE;
	if (!strcmp(m, "PUT"))
		return item ? KAPI_V_UPDATE : 0;
	if (!strcmp(m, "PATCH"))
		return item ? KAPI_V_PATCH : 0;
	if (!strcmp(m, "DELETE"))
		return item ? KAPI_V_DELETE : 0;
	return 0;
}

static void
kapi_method_not_allowed(struct kapi_ctx *x)
{
	kapi_fail(x, 405, "MethodNotAllowed", "the server does not allow this "
	    "method on the requested resource");
}

static void
kapi_resource(struct kapi_ctx *x)
{
	const struct kapi_res *r = x->p.res;
	unsigned verb = kapi_verb(x), allowed = r->verbs;

	if (*x->p.sub && strcmp(x->p.sub, "console"))
		allowed = KAPI_V_GET | KAPI_V_UPDATE | KAPI_V_PATCH;
	if (r->special == KAPI_CONSOLE) {
		/* typing into the VM: authorized as a write */
		if (strcmp(x->r->method, "GET")) {
			kapi_method_not_allowed(x);
			return;
		}
		if (!kapi_allowed(x->r->user, &x->p, KAPI_V_UPDATE)) {
			kapi_forbid(x, KAPI_V_GET);
			return;
		}
		x->answered = 1;	/* kapi_console.c answers */
		kapi_console_handle(x->k, x->c, x->r, x->p.ns, x->p.name);
		return;
	}
	if (!verb || !(allowed & verb)) {
		kapi_method_not_allowed(x);
		return;
	}
	if (!kapi_allowed(x->r->user, &x->p, verb)) {
		kapi_forbid(x, verb);
		return;
	}
	if (r->special == KAPI_PODMETRICS || r->special == KAPI_NODEMETRICS) {
		kapi_metrics_handle(x);
		return;
	}
	switch (verb) {
	case KAPI_V_GET:
		kapi_get(x);
		break;
	case KAPI_V_LIST:
		kapi_list(x);
		break;
	case KAPI_V_WATCH:
		kapi_watch_start(x);
		break;
	case KAPI_V_CREATE:
		kapi_create(x);
		break;
	case KAPI_V_UPDATE:
		kapi_update(x);
		break;
	case KAPI_V_PATCH:
		kapi_patch_item(x);
		break;
	default:
		kapi_delete(x);
		break;
	}
}

void
kapi_handle(struct kapi *k, struct kapi_conn *c, const struct kapi_req *r)
{
	struct kapi_ctx x;
	char err[256];

	memset(&x, 0, sizeof(x));
	x.k = k;
	x.c = c;
	x.r = r;
	kapi_parse_path(r->path, &x.p);
	x.table = kapi_accept_table(r->accept);
	x.yaml = kapi_media_is(r->accept, "application/yaml");
	if (!r->user || !r->user->name[0]) {
		kapi_fail(&x, 401, "Unauthorized", "Unauthorized");
		return;
	}
	if (kapi_parse_query(r->query, &x.q, err, sizeof(err)) < 0) {
		kapi_fail(&x, 400, "BadRequest", "%s", err);
		return;
	}
	switch (x.p.kind) {
	case KAPI_P_RESOURCE:
		kapi_resource(&x);
		break;
	case KAPI_P_NONE:
		kapi_fail(&x, 404, "NotFound", "the server could not find the "
		    "requested resource");
		break;
	default:
		if (strcmp(r->method, "GET"))
			kapi_method_not_allowed(&x);
		else if (x.p.kind == KAPI_P_OPENAPI ||
		    x.p.kind == KAPI_P_OPENAPI_GV)
			kapi_openapi_handle(&x);
		else
			kapi_disc_handle(&x);
		break;
	}
	kapi_query_free(&x.q);
}
