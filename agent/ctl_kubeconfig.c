/*
 * ctl_kubeconfig.c: the kubeconfig droverctl reads (console): the current
 * context's server, namespace, CA and client certificate and key, inline
 * (*-data, base64) or as file names relative to the kubeconfig, found as
 * kubectl finds it ($KUBECONFIG's first existing file, ~/.kube/config).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "certs.h"
#include "ctl_kubeconfig.h"
#include "yamljson.h"

void
ctl_kc_free(struct ctl_kubeconfig *kc)
{
	free(kc->server);
	free(kc->ns);
	free(kc->ca);
	free(kc->crt);
	if (kc->key)
		memset(kc->key, 0, kc->key_len);
	free(kc->key);
}

/* The named entry of a kubeconfig list (clusters, users, contexts). */
static json_t *
kc_named(json_t *doc, const char *list, const char *name,
    const char *field)
{
	json_t *arr = json_object_get(doc, list), *it;
	size_t i;

	json_array_foreach(arr, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));

		if (n && name && strcmp(n, name) == 0)
			return json_object_get(it, field);
	}
	return NULL;
}

/* One PEM from "X-data" (base64) or "X" (a file, relative to dir). */
static int
kc_pem(json_t *obj, const char *field, const char *dir, char **out,
    size_t *len, const char *path)
{
	char key[64], file[4096], err[512];
	const char *v;

	snprintf(key, sizeof(key), "%s-data", field);
	v = json_string_value(json_object_get(obj, key));
	if (v) {
		size_t n = strlen(v), olen = 0;
		unsigned char *buf = malloc(n + 1);

		if (!buf || mbedtls_base64_decode(buf, n, &olen,
		    (const unsigned char *)v, n) != 0) {
			free(buf);
			fprintf(stderr, "error: %s: %s is not base64\n", path,
			    key);
			return -1;
		}
		buf[olen] = '\0';
		*out = (char *)buf;
		*len = olen;
		return 0;
	}
	v = json_string_value(json_object_get(obj, field));
	if (!v) {
		fprintf(stderr, "error: %s: no %s or %s\n", path, key, field);
		return -1;
	}
	if (v[0] == '/')
		snprintf(file, sizeof(file), "%s", v);
	else
		snprintf(file, sizeof(file), "%s/%s", dir, v);
	if (certs_read_file(file, out, len, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

const char *
ctl_kc_path(const char *flag, char *buf, size_t len)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

	if (flag)
		return flag;
	if (env && *env) {
		/* A list like kubectl's: the first file that exists. */
		const char *p = env;

		while (*p) {
			size_t n = strcspn(p, ":");

			snprintf(buf, len, "%.*s", (int)n, p);
			if (n && access(buf, R_OK) == 0)
				return buf;
			p += n + (p[n] == ':');
		}
	}
	snprintf(buf, len, "%s/.kube/config", home && *home ? home : "/root");
	return buf;
}

int
ctl_kc_load(const char *path, struct ctl_kubeconfig *kc)
{
	char *text = NULL, err[512], dir[4096];
	struct yamljson_error yerr;
	json_t *docs, *doc, *ctx, *cluster, *user;
	const char *cur, *slash;
	size_t len;
	int rc = -1;

	memset(kc, 0, sizeof(*kc));
	if (certs_read_file(path, &text, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: kubeconfig: %s\n", err);
		return -1;
	}
	docs = yamljson_load(text, len, &yerr);
	free(text);
	if (!docs) {
		fprintf(stderr, "error: %s: %s\n", path,
		    yamljson_strerror(&yerr, err, sizeof(err)));
		return -1;
	}
	doc = json_array_get(docs, 0);
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
	    slash ? path : ".");
	cur = json_string_value(json_object_get(doc, "current-context"));
	ctx = kc_named(doc, "contexts", cur, "context");
	if (!ctx) {
		fprintf(stderr, "error: %s: no current context\n", path);
		goto out;
	}
	cluster = kc_named(doc, "clusters", json_string_value(
	    json_object_get(ctx, "cluster")), "cluster");
	user = kc_named(doc, "users", json_string_value(
	    json_object_get(ctx, "user")), "user");
	if (!cluster || !user) {
		fprintf(stderr, "error: %s: the context's cluster or user is "
		    "missing\n", path);
		goto out;
	}
	if (!json_string_value(json_object_get(cluster, "server"))) {
		fprintf(stderr, "error: %s: the cluster has no server\n", path);
		goto out;
	}
	kc->server = strdup(json_string_value(json_object_get(cluster,
	    "server")));
	if (json_string_value(json_object_get(ctx, "namespace")))
		kc->ns = strdup(json_string_value(json_object_get(ctx,
		    "namespace")));
	kc->insecure = json_is_true(json_object_get(cluster,
	    "insecure-skip-tls-verify"));
	if (!kc->insecure && kc_pem(cluster, "certificate-authority", dir,
	    &kc->ca, &kc->ca_len, path) < 0)
		goto out;
	if (kc_pem(user, "client-certificate", dir, &kc->crt,
	    &kc->crt_len, path) < 0 || kc_pem(user, "client-key", dir,
	    &kc->key, &kc->key_len, path) < 0)
		goto out;
	rc = kc->server ? 0 : -1;
out:
	json_decref(docs);
	if (rc < 0)
		ctl_kc_free(kc);
	return rc;
}
