/* ctl_apply.c: `droverctl apply`, `delete` and `scale`. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "kinds.h"
#include "manifest.h"
#include "yamljson.h"

/* Read FILE ("-": stdin) and parse it into an array of objects. */
static json_t *
ctl_load(const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_t *docs, *status = NULL;

	if (!f) {
		fprintf(stderr, "error: the path \"%s\" does not exist\n",
		    file);
		return NULL;
	}
	for (;;) {
		size_t n;

		if (cap - len < 65536) {
			char *p;

			cap = cap ? cap * 2 : 65536;
			if (cap > 2 * YAMLJSON_MAX_INPUT ||
			    !(p = realloc(buf, cap))) {
				fprintf(stderr, "error: %s: too large\n", file);
				goto fail;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "error: reading %s: %s\n", file,
		    strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	docs = manifest_parse(buf, len, &status);
	free(buf);
	if (!docs) {
		fprintf(stderr, "error: error parsing %s: %s\n",
		    strcmp(file, "-") == 0 ? "STDIN" : file,
		    status ? manifest_status_message(status) : "bad input");
		json_decref(status);
	}
	return docs;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

/* kubectl's check of -n against the object's own namespace. */
static int
ctl_ns_conflict(const json_t *obj, const char *ns)
{
	const char *own = manifest_str(obj, "metadata.namespace");

	if (!ns || !own || !*own || strcmp(own, ns) == 0)
		return 0;
	fprintf(stderr, "error: the namespace from the provided object \"%s\" "
	    "does not match the namespace \"%s\". You must pass "
	    "'--namespace=%s' to perform this operation.\n", own, ns, own);
	return 1;
}

static const char *
ctl_qname(const json_t *obj, char *buf, size_t len)
{
	const struct kinds_info *k = kinds_by_kind(manifest_str(obj, "kind"));

	if (k)
		return kinds_qualified_singular(k, buf, (unsigned)len);
	snprintf(buf, len, "%s", manifest_str(obj, "kind") ?
	    manifest_str(obj, "kind") : "object");
	for (char *p = buf; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return buf;
}

static int
ctl_apply_file(struct ctl_conn *c, const char *file, const char *ns)
{
	json_t *docs = ctl_load(file), *obj;
	char prefix[4200], q[128];
	size_t i;
	int rc = 0;

	if (!docs)
		return 1;
	json_array_foreach(docs, i, obj) {
		json_t *req, *resp;
		const char *action;

		if (ctl_ns_conflict(obj, ns)) {
			rc = 1;
			continue;
		}
		req = json_pack("{s:s, s:O}", "op", "apply", "object", obj);
		if (req && ns)
			json_object_set_new(req, "namespace", json_string(ns));
		resp = ctl_call(c, req);
		if (!resp) {
			json_decref(docs);
			return 1;
		}
		action = json_string_value(json_object_get(resp, "action"));
		snprintf(prefix, sizeof(prefix), "error when %s \"%s\": ",
		    action ? action : "applying", strcmp(file, "-") == 0 ?
		    "STDIN" : file);
		if (ctl_server_error(resp, prefix))
			rc = 1;
		else
			printf("%s/%s %s\n", ctl_qname(obj, q, sizeof(q)),
			    manifest_str(json_object_get(resp, "object"),
			    "metadata.name"), json_string_value(
			    json_object_get(resp, "result")));
		json_decref(resp);
	}
	json_decref(docs);
	return rc;
}

typedef int (*ctl_file_fn)(struct ctl_conn *, const char *, const char *);

static int
ctl_manifest_name(const struct dirent *de)
{
	const char *dot = strrchr(de->d_name, '.');

	return de->d_name[0] != '.' && dot && (strcmp(dot, ".yaml") == 0 ||
	    strcmp(dot, ".yml") == 0 || strcmp(dot, ".json") == 0);
}

/* -f FILE, or -f DIR: its .yaml, .yml and .json files (as kubectl). */
static int
ctl_each_file(struct ctl_conn *c, const char *path, const char *ns,
    ctl_file_fn fn)
{
	struct dirent **list;
	struct stat st;
	char sub[4096];
	int n, rc = 0;

	if (strcmp(path, "-") == 0 || stat(path, &st) < 0 ||
	    !S_ISDIR(st.st_mode))
		return fn(c, path, ns);
	n = scandir(path, &list, ctl_manifest_name, alphasort);
	if (n < 0) {
		fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, list[i]->d_name);
		rc |= fn(c, sub, ns);
		free(list[i]);
	}
	free(list);
	return rc;
}

int
ctl_apply_main(int argc, char **argv, const char *socket)
{
	struct ctl_conn c;
	struct ctl_args a;
	int rc;

	if ((rc = ctl_parse(argc, argv, &a)) != 0)
		return rc;
	if (a.nfiles == 0 || a.npos > 0) {
		fprintf(stderr, "usage: droverctl apply -f FILE|DIR|- [-n NS]\n");
		return 2;
	}
	if (ctl_connect(&c, socket) < 0)
		return 1;
	for (int i = 0; i < a.nfiles; i++)
		rc |= ctl_each_file(&c, a.files[i], a.ns, ctl_apply_file);
	ctl_close(&c);
	return rc;
}

/* Delete one object; prints kubectl's line. */
static int
ctl_delete_one(struct ctl_conn *c, const struct kinds_info *k,
    const char *ns, const char *name, const char *prefix)
{
	json_t *resp;
	char q[128];
	int rc = 0;

	resp = ctl_call(c, json_pack("{s:s, s:s, s:s, s:s}", "op", "delete",
	    "kind", k->kind, "namespace", ns ? ns : "default", "name", name));
	if (!resp)
		return 1;
	if (ctl_server_error(resp, prefix))
		rc = 1;
	else
		printf("%s \"%s\" deleted\n", kinds_qualified_singular(k, q,
		    sizeof(q)), name);
	json_decref(resp);
	return rc;
}

static int
ctl_delete_file(struct ctl_conn *c, const char *file, const char *ns)
{
	json_t *docs = ctl_load(file), *obj;
	char prefix[4200];
	size_t i;
	int rc = 0;

	if (!docs)
		return 1;
	snprintf(prefix, sizeof(prefix), "error when deleting \"%s\": ",
	    strcmp(file, "-") == 0 ? "STDIN" : file);
	json_array_foreach(docs, i, obj) {
		const struct kinds_info *k = kinds_by_kind(
		    manifest_str(obj, "kind"));
		const char *name = manifest_str(obj, "metadata.name");
		const char *ons = manifest_str(obj, "metadata.namespace");

		if (!k || !name) {
			fprintf(stderr, "error: %s: document %zu: no kind "
			    "droverd serves, or no name\n", file, i + 1);
			rc = 1;
			continue;
		}
		if (ctl_ns_conflict(obj, ns)) {
			rc = 1;
			continue;
		}
		rc |= ctl_delete_one(c, k, ons && *ons ? ons : ns, name,
		    prefix);
	}
	json_decref(docs);
	return rc;
}

int
ctl_delete_main(int argc, char **argv, const char *socket)
{
	const struct kinds_info *k = NULL;
	struct ctl_conn c;
	struct ctl_args a;
	int rc;

	if ((rc = ctl_parse(argc, argv, &a)) != 0)
		return rc;
	if ((a.nfiles == 0 && a.npos < 2) || (a.nfiles > 0 && a.npos > 0)) {
		fprintf(stderr, "usage: droverctl delete KIND NAME... [-n NS] "
		    "| delete -f FILE\n");
		return 2;
	}
	if (a.npos > 0 && !(k = kinds_lookup(a.pos[0]))) {
		fprintf(stderr, "error: the server doesn't have a resource type "
		    "\"%s\"\n", a.pos[0]);
		return 1;
	}
	if (ctl_connect(&c, socket) < 0)
		return 1;
	for (int i = 0; i < a.nfiles; i++)
		rc |= ctl_each_file(&c, a.files[i], a.ns, ctl_delete_file);
	for (int i = 1; i < a.npos; i++)
		rc |= ctl_delete_one(&c, k, a.ns, a.pos[i], NULL);
	ctl_close(&c);
	return rc;
}

int
ctl_scale_main(int argc, char **argv, const char *socket)
{
	const struct kinds_info *k;
	struct ctl_args a;
	json_t *resp;
	char q[128];
	int rc;

	if ((rc = ctl_parse(argc, argv, &a)) != 0)
		return rc;
	if (a.npos != 2 || !a.have_replicas) {
		fprintf(stderr, "usage: droverctl scale vmirs NAME --replicas N "
		    "[-n NS]\n");
		return 2;
	}
	if (a.replicas < 0) {
		fprintf(stderr, "error: The --replicas=COUNT flag is required, "
		    "and COUNT must be greater than or equal to 0\n");
		return 1;
	}
	k = kinds_lookup(a.pos[0]);
	if (!k) {
		fprintf(stderr, "error: the server doesn't have a resource type "
		    "\"%s\"\n", a.pos[0]);
		return 1;
	}
	resp = ctl_call1(socket, json_pack("{s:s, s:s, s:s, s:s, s:I}", "op",
	    "scale", "kind", k->kind, "namespace", a.ns ? a.ns : "default",
	    "name", a.pos[1], "replicas", (json_int_t)a.replicas));
	if (!resp)
		return 1;
	rc = ctl_server_error(resp, NULL);
	if (!rc)
		printf("%s/%s scaled\n", kinds_qualified_singular(k, q,
		    sizeof(q)), a.pos[1]);
	json_decref(resp);
	return rc;
}
