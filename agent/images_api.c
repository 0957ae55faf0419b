/*
 * images_api.c: the image store's ops on droverd's local API (images.h
 * lists them). Errors are Kubernetes Statuses: 404 for an image not in
 * the store, 400 for a bad request or a refused image, 403 for a registry
 * that refused the credentials, 500 otherwise.
 */
#include <errno.h>
#include <string.h>

#include "images.h"
#include "images_int.h"
#include "localapi.h"

static json_t *
api_error(int rc, const char *err)
{
	if (rc == -ENOENT)
		return localapi_error(404, "NotFound", "%s", err);
	if (rc == -EACCES)
		return localapi_error(403, "Forbidden", "%s", err);
	if (rc == -EINVAL || rc == -EBADMSG || rc == -EPIPE || rc == -ENOTSUP)
		return localapi_error(400, "BadRequest", "%s", err);
	return localapi_error(500, "InternalError", "%s", err);
}

static const char *
req_str(const json_t *req, const char *k)
{
	return json_string_value(json_object_get(req, k));
}

static json_t *
op_import(void *arg, const json_t *req)
{
	char err[1024] = "", dg[IMG_DIGEST_LEN + 1];
	const char *file = req_str(req, "file");
	int rc;

	if (file == NULL || file[0] != '/')
		return localapi_error(400, "BadRequest", "image.import: \"file\""
		    " must be an absolute path");
	rc = images_import(arg, file, req_str(req, "name"), dg, err,
	    sizeof(err));
	return rc < 0 ? api_error(rc, err) : json_pack("{ss}", "digest", dg);
}

static json_t *
op_list(void *arg, const json_t *req)
{
	(void)req;
	return json_pack("{so}", "items", images_list(arg));
}

static json_t *
op_rm(void *arg, const json_t *req)
{
	const char *ref = req_str(req, "ref");
	char err[1024] = "";
	int rc;

	if (ref == NULL)
		return localapi_error(400, "BadRequest", "image.rm: \"ref\" "
		    "missing");
	rc = images_rm(arg, ref, err, sizeof(err));
	return rc < 0 ? api_error(rc, err) : json_pack("{ss}", "removed", ref);
}

static json_t *
op_pull(void *arg, const json_t *req)
{
	char err[1024] = "", dg[IMG_DIGEST_LEN + 1];
	const char *ref = req_str(req, "ref");
	int rc;

	if (ref == NULL)
		return localapi_error(400, "BadRequest", "image.pull: \"ref\" "
		    "missing");
	rc = images_pull(arg, ref, NULL, NULL, dg, err, sizeof(err));
	return rc < 0 ? api_error(rc, err) : json_pack("{ss}", "digest", dg);
}

static json_t *
op_store(void *arg, const json_t *req)
{
	struct images *im = arg;

	(void)req;
	return json_pack("{ss sO}", "dir", im->dir, "config", im->conf);
}

int
images_register_api(struct images *im, struct localapi *api)
{
	static const struct {
		const char *op;
		localapi_fn fn;
	} ops[] = {
		{ "image.import", op_import }, { "image.list", op_list },
		{ "image.rm", op_rm }, { "image.pull", op_pull },
		{ "image.store", op_store },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if ((rc = localapi_register(api, ops[i].op, ops[i].fn, im)) < 0)
			return rc;
	return 0;
}
