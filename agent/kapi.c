/*
 * kapi.c: the Kubernetes API handlers' state and router (issue 6).
 * First cut: /version, the console subresource, Status errors for
 * everything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kapi.h"
#include "kapi_console.h"
#include "kapi_server.h"

struct kapi {
	struct store *store;
	struct loop *loop;
	struct rt *rt;
	struct cg *cg;
};

struct kapi *kapi_new(struct store *s, struct loop *l, struct rt *rt,
    struct cg *cg, char *err, size_t errlen)
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
	k->cg = cg;
	return k;
}

void kapi_free(struct kapi *k)
{
	if (!k)
		return;
	kapi_console_shutdown(k);
	free(k);
}

struct store *kapi_store(struct kapi *k) { return k->store; }
struct rt *kapi_rt(struct kapi *k) { return k->rt; }
struct loop *kapi_loop(struct kapi *k) { return k->loop; }

static void kapi_send_json(struct kapi_conn *c, int code, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (!s) {
		kapi_respond(c, 500, "text/plain", "out of memory\n", 14);
	} else {
		kapi_respond(c, code, "application/json", s, strlen(s));
		free(s);
	}
	json_decref(j);
}

/* A Kubernetes Status error. */
static void kapi_status(struct kapi_conn *c, int code, const char *reason,
    const char *msg)
{
	kapi_send_json(c, code, json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}",
	    "kind", "Status", "apiVersion", "v1", "metadata",
	    "status", "Failure", "message", msg, "reason", reason,
	    "code", code));
}

static int kapi_console_path(const char *path, char *ns, size_t nslen,
    char *name, size_t namelen)
{
	static const char pre[] =
	    "/apis/subresources.kubevirt.io/v1/namespaces/";
	const char *p, *slash, *n, *end;

	if (strncmp(path, pre, sizeof(pre) - 1))
		return 0;
	p = path + sizeof(pre) - 1;
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= nslen)
		return 0;
	if (strncmp(slash, "/virtualmachineinstances/", 25))
		return 0;
	n = slash + 25;
	end = strchr(n, '/');
	if (!end || end == n || strcmp(end, "/console") ||
	    (size_t)(end - n) >= namelen)
		return 0;
	memcpy(ns, p, slash - p);
	ns[slash - p] = 0;
	memcpy(name, n, end - n);
	name[end - n] = 0;
	return 1;
}

void kapi_handle(struct kapi *k, struct kapi_conn *c,
    const struct kapi_req *r)
{
	char ns[256], name[256];

	if (!strcmp(r->path, "/version")) {
		if (strcmp(r->method, "GET")) {
			kapi_status(c, 405, "MethodNotAllowed",
			    "the server does not allow this method");
			return;
		}
		kapi_send_json(c, 200, json_pack(
		    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		    "major", "1", "minor", "32", "gitVersion", "v1.32.0",
		    "gitCommit", "drover", "gitTreeState", "clean",
		    "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.23",
		    "compiler", "gc", "platform", "linux/amd64"));
		return;
	}
	if (kapi_console_path(r->path, ns, sizeof(ns), name, sizeof(name))) {
		kapi_console_handle(k, c, r, ns, name);
		return;
	}
	kapi_status(c, 404, "NotFound", "the server could not find the "
	    "requested resource");
}
