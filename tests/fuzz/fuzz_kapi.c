/*
 * libFuzzer target: what Kubernetes API clients send besides object
 * bodies (agent/kapi_path.c, agent/kapi_patch.c). The input is split at
 * '\n' into: a request path, a query string, a label selector, a field
 * selector, and (first byte m/s/j: merge, strategic, JSON patch) a patch
 * applied to a VMIRS. Each is parsed and used (selectors matched, the
 * path routed by a GET through kapi_handle() on a store holding a few
 * objects, as every authenticated user may send).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../agent/kapi_fake.h"
#include "kapi_int.h"
#include "kapi_server.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The console needs the runtime; there is none here. */
int
rt_console_path(struct rt *rt, const char *ns, const char *name, char *out,
    size_t outlen)
{
	(void)rt; (void)ns; (void)name; (void)out; (void)outlen;
	return -ENOENT;
}

static struct store *store;
static struct loop *loop;
static struct kapi *kapi;
static json_t *vmirs, *labels;

static void
setup(void)
{
	char dir[] = "/tmp/fuzz_kapi.XXXXXX", err[256];
	json_t *o;

	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(dir) || store_open(dir, &store, err, sizeof(err)) < 0)
		abort();
	loop = loop_new();
	kapi = kapi_new(store, loop, NULL, NULL, err, sizeof(err));
	vmirs = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i, s:{s:{s:s}},"
	    " s:{s:{s:{s:s}}, s:{s:{}}}}}", "apiVersion", "kubevirt.io/v1",
	    "kind", "VirtualMachineInstanceReplicaSet", "metadata", "name", "rs",
	    "namespace", "ns", "labels", "app", "x", "spec", "replicas", 1,
	    "selector", "matchLabels", "app", "x", "template", "metadata",
	    "labels", "app", "x", "spec", "domain");
	labels = json_pack("{s:s, s:s}", "app", "x", "tier", "gold");
	if (!kapi || !vmirs || store_create(store, vmirs, NULL, err,
	    sizeof(err)) < 0)
		abort();
	o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:s}", "apiVersion",
	    "v1", "kind", "Event", "metadata", "name", "rs.1", "namespace", "ns",
	    "involvedObject", "name", "rs", "reason", "Created");
	if (store_create(store, o, NULL, err, sizeof(err)) < 0)
		abort();
	json_decref(o);
}

/* Field i of the input (copied, NUL-terminated), "" when absent. */
static char *
field(const uint8_t *data, size_t size, int i)
{
	size_t start = 0, end;

	for (; i > 0 && start < size; i--) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);

		start = nl ? (size_t)(nl - data) + 1 : size;
	}
	end = start;
	while (end < size && data[end] != '\n')
		end++;
	return strndup((const char *)data + start, end - start);
}

static void
selectors(const char *ls, const char *fs)
{
	static const char *const kinds[] = { "Event", "Pod",
	    "VirtualMachineInstanceReplicaSet" };
	struct kapi_fsel f;
	char err[256];
	json_t *sel = kapi_label_selector(ls, err, sizeof(err));

	if (sel) {
		(void)validate_selector_matches(sel, labels, err, sizeof(err));
		json_decref(sel);
	}
	for (size_t i = 0; i < 3; i++)
		if (kapi_fsel_parse(fs, kinds[i], &f, err, sizeof(err)) == 0) {
			(void)kapi_fsel_match(&f, vmirs);
			(void)kapi_fsel_name(&f);
			kapi_fsel_free(&f);
		}
}

static void
get(const char *path, const char *query, const char *accept)
{
	struct kapi_user admin = { .name = "admin", .ngroups = 1,
	    .groups = { "system:masters" } };
	struct kapi_req r = { .method = "GET", .path = path, .query = query,
	    .content_type = "", .accept = accept, .upgrade = "",
	    .ws_protocols = "", .body = "", .body_len = 0, .user = &admin,
	    .host = "h:1" };

	struct kapi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	kapi_handle(kapi, c, &r);
	if (c->streaming && !c->ended)
		kapi_fake_hangup(c);
	if (c->misuse || !c->status)
		abort();
	free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = field(data, size, 0), *query = field(data, size, 1);
	char *ls = field(data, size, 2), *fs = field(data, size, 3);
	char *patch = field(data, size, 4), err[256];
	struct kapi_path p;
	struct kapi_query q;
	json_t *out = NULL, *st = NULL;

	if (!store)
		setup();
	kapi_parse_path(path, &p);
	if (kapi_parse_query(query, &q, err, sizeof(err)) == 0)
		kapi_query_free(&q);
	selectors(ls, fs);
	if (*path == '/') {
		get(path, query, "");
		get(path, query, "application/json;as=Table;v=v1;g=meta.k8s.io");
	}
	if (*patch) {
		enum kapi_patch_type t = patch[0] == 's' ? KAPI_PATCH_STRATEGIC :
		    patch[0] == 'j' ? KAPI_PATCH_JSON : KAPI_PATCH_MERGE;

		if (kapi_patch(t, vmirs, patch + 1, strlen(patch + 1), &out,
		    &st) == 0)
			json_decref(out);
		else
			json_decref(st);
	}
	free(path);
	free(query);
	free(ls);
	free(fs);
	free(patch);
	return 0;
}
