/*
 * registry.c: pull an image from an OCI registry (the distribution API,
 * /v2/) into the store: manifest (an index resolves to its linux/amd64
 * manifest), config and layers, each verified against its digest as it
 * is written to the staging directory, then img_stage_commit().
 *
 * Auth: anonymous first; a 401 with WWW-Authenticate "Basic" is retried
 * with the configured credentials, "Bearer realm=,service=,scope=" gets a
 * token from the realm (with the credentials, if any, as Basic auth) and
 * is retried with it. Config (the agent's "images" object): "mirrors"
 * maps a registry host to a base URL, "auth" a host (the ref's or the
 * mirror's) to {"username","password"}, "ca" names the PEM bundle used
 * instead of the system's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "https.h"
#include "images_int.h"
#include "log.h"

#define ACCEPT_MANIFEST "Accept: application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.oci.image.index.v1+json, " \
	"application/vnd.docker.distribution.manifest.v2+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define PROGRESS_STEP	(1u << 20)

struct pull {
	struct images *im;
	struct img_stage st;
	struct https_conf hc;
	const struct images_progress *prog;
	char base[512];		/* https://host[:port], no trailing slash */
	char host[256], repo[512], tag[128];
	char auth[4096];	/* "Authorization: ..." or "" */
	const char *user, *pass;
};

/* ---------------------------------------------------------------- bodies */

struct membuf {
	char *buf;
	size_t len, max;
};

static int
mem_put(void *arg, const void *p, size_t n)
{
	struct membuf *m = arg;
	char *nb;

	if (m->len + n > m->max)
		return -EFBIG;
	nb = realloc(m->buf, m->len + n + 1);
	if (nb == NULL)
		return -ENOMEM;
	memcpy(nb + m->len, p, n);
	m->buf = nb;
	m->len += n;
	m->buf[m->len] = 0;
	return 0;
}

struct filebody {
	struct img_wfile *w;
	struct pull *p;
	const char *what;
	uint64_t total, last;
	char err[256];
};

static int
file_put(void *arg, const void *buf, size_t n)
{
	struct filebody *f = arg;

	if (img_wfile_write(f->w, buf, n, f->err, sizeof(f->err)) < 0)
		return -EIO;
	if (f->total && f->w->size > f->total)
		return -EFBIG;
	if (f->p->prog && f->w->size - f->last >= PROGRESS_STEP) {
		f->last = f->w->size;
		f->p->prog->fn(f->p->prog->arg, f->what, f->w->size, f->total);
	}
	return 0;
}

/* The message of a registry error body ({"errors":[{code,message}]}). */
static void
reg_errmsg(const struct https_resp *r, char *out, size_t len)
{
	json_t *j = json_loads(r->errbody, 0, NULL), *e;

	e = json_array_get(json_object_get(j, "errors"), 0);
	if (json_string_value(json_object_get(e, "code")))
		snprintf(out, len, "HTTP %d, %s: %s", r->status,
		    json_string_value(json_object_get(e, "code")),
		    json_string_value(json_object_get(e, "message")) ?: "");
	else
		snprintf(out, len, "HTTP %d", r->status);
	json_decref(j);
}

/* ---------------------------------------------------------------- auth */

/* The value of key in a WWW-Authenticate parameter list. */
static int
auth_param(const char *h, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key), i;
	const char *p = h;

	while ((p = strcasestr(p, key)) != NULL) {
		if ((p == h || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=') {
			p += kl + 1;
			i = 0;
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					if (i + 1 < len)
						out[i++] = *p;
				}
			} else {
				for (; *p && *p != ',' && *p != ' '; p++)
					if (i + 1 < len)
						out[i++] = *p;
			}
			out[i] = 0;
			return 0;
		}
		p += kl;
	}
	return -ENOENT;
}

static void
url_encode(const char *s, char *out, size_t len)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i = 0;

	for (; *s && i + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c))
			out[i++] = (char)c;
		else {
			out[i++] = '%';
			out[i++] = hx[c >> 4];
			out[i++] = hx[c & 15];
		}
	}
	out[i] = 0;
}

static int
basic_header(struct pull *p, char *out, size_t len)
{
	char raw[1024];
	unsigned char b64[1400];
	size_t olen;
	int n;

	n = snprintf(raw, sizeof(raw), "%s:%s", p->user, p->pass);
	if (n < 0 || (size_t)n >= sizeof(raw) ||
	    mbedtls_base64_encode(b64, sizeof(b64), &olen,
	    (const unsigned char *)raw, (size_t)n) != 0)
		return -EINVAL;
	n = snprintf(out, len, "Authorization: Basic %.*s", (int)olen, b64);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static int
bearer_token(struct pull *p, const char *chal, char *err, size_t errlen)
{
	char realm[1024], service[256], scope[640], es[800], esc[2000];
	char url[4096], basic[2048], msg[300];
	const char *hdrs[2] = { NULL, NULL };
	struct membuf m = { NULL, 0, 1u << 20 };
	struct https_resp r;
	const char *tok;
	json_t *j;
	int rc;

	if (auth_param(chal, "realm", realm, sizeof(realm)) < 0)
		return images_fail(err, errlen, -EPROTO, "%s: Bearer challenge "
		    "without a realm", p->host);
	if (auth_param(chal, "service", service, sizeof(service)) < 0)
		service[0] = 0;
	if (auth_param(chal, "scope", scope, sizeof(scope)) < 0)
		snprintf(scope, sizeof(scope), "repository:%s:pull", p->repo);
	url_encode(service, es, sizeof(es));
	url_encode(scope, esc, sizeof(esc));
	snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", realm,
	    strchr(realm, '?') ? "&" : "?", es, esc);
	if (p->user && basic_header(p, basic, sizeof(basic)) == 0)
		hdrs[0] = basic;
	rc = https_get(&p->hc, url, hdrs, &r, mem_put, &m, err, errlen);
	if (rc < 0)
		goto out;
	if (r.status != 200) {
		reg_errmsg(&r, msg, sizeof(msg));
		rc = images_fail(err, errlen, r.status == 401 ? -EACCES : -EIO,
		    "token service %s refused %s (%s)%s", realm, scope, msg,
		    r.status == 401 && !p->user ? ": configure credentials in "
		    "the agent's images.auth" : "");
		goto out;
	}
	j = json_loads(m.buf ? m.buf : "", 0, NULL);
	tok = json_string_value(json_object_get(j, "token"));
	if (tok == NULL)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (tok == NULL || strlen(tok) + 32 > sizeof(p->auth))
		rc = images_fail(err, errlen, -EPROTO, "token service %s: no "
		    "token in its answer", realm);
	else
		snprintf(p->auth, sizeof(p->auth), "Authorization: Bearer %s",
		    tok);
	json_decref(j);
out:
	free(m.buf);
	return rc;
}

/* React to a 401: set p->auth, or fail. */
static int
reg_authenticate(struct pull *p, const struct https_resp *r, char *err,
    size_t errlen)
{
	const char *c = r->www_authenticate;

	if (strncasecmp(c, "Bearer ", 7) == 0)
		return bearer_token(p, c + 7, err, errlen);
	if (strncasecmp(c, "Basic", 5) == 0) {
		if (p->user == NULL)
			return images_fail(err, errlen, -EACCES, "registry %s "
			    "requires a username and password (images.auth in "
			    "the agent's config)", p->host);
		if (basic_header(p, p->auth, sizeof(p->auth)) < 0)
			return images_fail(err, errlen, -EINVAL, "credentials "
			    "for %s too long", p->host);
		return 0;
	}
	return images_fail(err, errlen, -EACCES, "registry %s: HTTP 401 "
	    "with unsupported authentication '%.40s'", p->host, c);
}

/* GET base+path, authenticating once on a 401. */
static int
reg_get(struct pull *p, const char *path, const char *accept,
    struct https_resp *r, https_body_fn fn, void *arg,
    void (*reset)(void *), char *err, size_t errlen)
{
	char url[2048];
	const char *hdrs[3];
	int rc, n = 0, tries;

	snprintf(url, sizeof(url), "%s%s", p->base, path);
	for (tries = 0; tries < 2; tries++) {
		n = 0;
		if (accept)
			hdrs[n++] = accept;
		if (p->auth[0])
			hdrs[n++] = p->auth;
		hdrs[n] = NULL;
		rc = https_get(&p->hc, url, hdrs, r, fn, arg, err, errlen);
		if (rc < 0 || r->status != 401 || tries > 0)
			return rc;
		if (p->auth[0] && strncmp(p->auth, "Authorization: Basic", 20) == 0)
			return 0;	/* the credentials were refused */
		if ((rc = reg_authenticate(p, r, err, errlen)) < 0)
			return rc;
		if (reset)
			reset(arg);
	}
	return 0;
}

/* ---------------------------------------------------------------- pull */

static void
mem_reset(void *arg)
{
	struct membuf *m = arg;

	m->len = 0;
}

/* A manifest by tag or digest into memory, digest checked. */
static int
get_manifest(struct pull *p, const char *tag, struct membuf *m, char *digest,
    char *err, size_t errlen)
{
	char path[800], msg[300];
	unsigned char sum[32];
	struct https_resp r;
	int rc;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", p->repo, tag);
	m->max = IMG_JSON_MAX;
	rc = reg_get(p, path, ACCEPT_MANIFEST, &r, mem_put, m, mem_reset, err,
	    errlen);
	if (rc == -EFBIG)
		return images_fail(err, errlen, rc, "%s:%s: manifest larger "
		    "than %u bytes", p->repo, tag, IMG_JSON_MAX);
	if (rc < 0)
		return rc;
	if (r.status != 200) {
		reg_errmsg(&r, msg, sizeof(msg));
		return images_fail(err, errlen, r.status == 404 ? -ENOENT :
		    r.status == 401 || r.status == 403 ? -EACCES : -EIO,
		    "%s/%s:%s: %s%s", p->host, p->repo, tag, r.status == 404 ?
		    "not found in the registry: " : r.status == 401 &&
		    p->auth[0] ? "the registry refused the credentials: " :
		    "", msg);
	}
	mbedtls_sha256((const unsigned char *)(m->buf ? m->buf : ""), m->len,
	    sum, 0);
	img_sha256_hex(sum, digest);
	if (strncmp(tag, "sha256:", 7) == 0 && strcmp(tag, digest) != 0)
		return images_fail(err, errlen, -EBADMSG, "manifest %s: digest "
		    "mismatch (the registry sent bytes that hash to %s)", tag,
		    digest);
	if (strncmp(r.docker_digest, "sha256:", 7) == 0 &&
	    strcmp(r.docker_digest, digest) != 0)
		return images_fail(err, errlen, -EBADMSG, "manifest %s:%s: "
		    "digest mismatch (Docker-Content-Digest %s, bytes hash to "
		    "%s)", p->repo, tag, r.docker_digest, digest);
	return 0;
}

/* A blob by digest into the staging directory (or already stored). */
static int
get_blob(struct pull *p, const char *digest, uint64_t size, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char path[800], sp[IMG_PATH_MAX], dg[IMG_DIGEST_LEN + 1], msg[300];
	struct img_wfile w;
	struct filebody fb;
	struct https_resp r;
	const char *have;
	int rc;

	if ((have = img_stage_blob(&p->st, digest, sp, sizeof(sp))) != NULL) {
		snprintf(out, outlen, "%s", have);
		if (p->prog)
			p->prog->fn(p->prog->arg, digest, size, size);
		return 0;
	}
	img_stage_name(&p->st, sp, sizeof(sp));
	if ((rc = img_wfile_open(&w, sp, err, errlen)) < 0)
		return rc;
	memset(&fb, 0, sizeof(fb));
	fb.w = &w;
	fb.p = p;
	fb.what = digest;
	fb.total = size;
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->repo, digest);
	rc = reg_get(p, path, NULL, &r, file_put, &fb, NULL, err, errlen);
	if (rc == 0 && r.status != 200) {
		reg_errmsg(&r, msg, sizeof(msg));
		rc = images_fail(err, errlen, r.status == 404 ? -ENOENT : -EIO,
		    "blob %s: %s", digest, msg);
	} else if (rc == -EIO && fb.err[0]) {
		rc = images_fail(err, errlen, rc, "%s", fb.err);
	} else if (rc == -EFBIG) {
		rc = images_fail(err, errlen, -EBADMSG, "blob %s: the registry "
		    "sent more than the manifest's %llu bytes", digest,
		    (unsigned long long)size);
	} else if (rc == -EPIPE) {
		snprintf(msg, sizeof(msg), "%s", err);
		rc = images_fail(err, errlen, rc, "blob %s: %s", digest, msg);
	}
	if (rc < 0) {
		img_wfile_abort(&w);
		return rc;
	}
	if (size && w.size != size) {
		img_wfile_abort(&w);
		return images_fail(err, errlen, -EPIPE, "blob %s: truncated "
		    "download (%llu of %llu bytes)", digest,
		    (unsigned long long)w.size, (unsigned long long)size);
	}
	if (p->prog)
		p->prog->fn(p->prog->arg, digest, w.size, size);
	if ((rc = img_wfile_finish(&w, dg, err, errlen)) < 0)
		return rc;
	if (strcmp(dg, digest) != 0) {
		unlink(sp);
		return images_fail(err, errlen, -EBADMSG, "blob %s: digest "
		    "mismatch (the registry sent bytes that hash to %s)",
		    digest, dg);
	}
	if ((rc = img_stage_add_blob(&p->st, digest, sp)) < 0)
		return images_fail(err, errlen, rc, "out of memory");
	snprintf(out, outlen, "%s", sp);
	return 0;
}

/* Stage manifest bytes as a blob of their own. */
static int
stage_bytes(struct pull *p, const struct membuf *m, char *err, size_t errlen)
{
	char sp[IMG_PATH_MAX], dg[IMG_DIGEST_LEN + 1];
	struct img_wfile w;
	int rc;

	img_stage_name(&p->st, sp, sizeof(sp));
	if ((rc = img_wfile_open(&w, sp, err, errlen)) < 0)
		return rc;
	if ((rc = img_wfile_write(&w, m->buf, m->len, err, errlen)) < 0) {
		img_wfile_abort(&w);
		return rc;
	}
	if ((rc = img_wfile_finish(&w, dg, err, errlen)) < 0)
		return rc;
	return img_stage_add_blob(&p->st, dg, sp);
}

/* An index: the digest of its linux/amd64 manifest. */
static int
pick_platform(const json_t *idx, char *out, char *err, size_t errlen)
{
	const json_t *m, *pl;
	const char *dg;
	size_t i;

	json_array_foreach(json_object_get(idx, "manifests"), i, m) {
		pl = json_object_get(m, "platform");
		dg = json_string_value(json_object_get(m, "digest"));
		if (dg && images_digest_valid(dg) && strcmp(json_string_value(
		    json_object_get(pl, "os")) ?: "", "linux") == 0 &&
		    strcmp(json_string_value(json_object_get(pl,
		    "architecture")) ?: "", "amd64") == 0) {
			strcpy(out, dg);
			return 0;
		}
	}
	return images_fail(err, errlen, -ENOENT, "the image index has no "
	    "linux/amd64 manifest");
}

static int
pull_parts(struct pull *p, const json_t *man, const char *mdg,
    const char **refs, char *digest_out, char *err, size_t errlen)
{
	struct img_layer *layers;
	char cfg[IMG_DIGEST_LEN + 1], cpath[IMG_PATH_MAX];
	const json_t *ls;
	size_t n = 0, i;
	int rc;

	layers = calloc(IMG_LAYERS_MAX, sizeof(*layers));
	if (layers == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	if ((rc = oci_manifest_parse(man, cfg, layers, &n, err, errlen)) < 0)
		goto out;
	rc = get_blob(p, cfg, (uint64_t)json_integer_value(json_object_get(
	    json_object_get(man, "config"), "size")), cpath, sizeof(cpath),
	    err, errlen);
	if (rc < 0)
		goto out;
	ls = json_object_get(man, "layers");
	for (i = 0; i < n; i++) {
		rc = get_blob(p, layers[i].digest, (uint64_t)json_integer_value(
		    json_object_get(json_array_get(ls, i), "size")),
		    layers[i].path, sizeof(layers[i].path), err, errlen);
		if (rc < 0)
			goto out;
	}
	rc = img_stage_commit(&p->st, mdg, cfg, layers, n, refs, 1,
	    digest_out, err, errlen);
out:
	free(layers);
	return rc;
}

/* Base URL, credentials and CA for the ref's registry. */
static int
pull_config(struct pull *p, char *err, size_t errlen)
{
	const json_t *conf = p->im->conf, *mir, *cred;
	char mh[256], port[16];
	const char *path;
	int tls;

	mir = json_object_get(json_object_get(conf, "mirrors"), p->host);
	if (json_is_string(mir)) {
		snprintf(p->base, sizeof(p->base), "%s", json_string_value(mir));
		if (https_url_split(p->base, &tls, mh, sizeof(mh), port,
		    sizeof(port), &path) < 0)
			return images_fail(err, errlen, -EINVAL, "images.mirrors"
			    ".%s: not an http(s) URL", p->host);
		p->base[strcspn(p->base + 8, "/") + 8] = 0;
		if (strcmp(port, tls ? "443" : "80") != 0)
			snprintf(mh + strlen(mh), sizeof(mh) - strlen(mh),
			    ":%s", port);
	} else {
		snprintf(p->base, sizeof(p->base), "https://%s",
		    strcmp(p->host, "docker.io") == 0 ? "registry-1.docker.io" :
		    p->host);
		snprintf(mh, sizeof(mh), "%s", p->host);
	}
	cred = json_object_get(json_object_get(conf, "auth"), p->host);
	if (cred == NULL)
		cred = json_object_get(json_object_get(conf, "auth"), mh);
	p->user = json_string_value(json_object_get(cred, "username"));
	p->pass = json_string_value(json_object_get(cred, "password"));
	if (p->user && !p->pass)
		p->pass = "";
	p->hc.ca_file = json_string_value(json_object_get(conf, "ca"));
	return 0;
}

int
registry_pull(struct images *im, const char *ref,
    const struct images_progress *prog, char *digest_out, char *err,
    size_t errlen)
{
	struct membuf m = { NULL, 0, IMG_JSON_MAX };
	char mdg[IMG_DIGEST_LEN + 1], sub[IMG_DIGEST_LEN + 1];
	const char *refs[1] = { ref };
	struct pull *p;
	json_t *man = NULL;
	json_error_t je;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return images_fail(err, errlen, -ENOMEM, "out of memory");
	p->im = im;
	p->prog = prog;
	if (images_ref_split(ref, p->host, sizeof(p->host), p->repo,
	    sizeof(p->repo), p->tag, sizeof(p->tag)) < 0) {
		free(p);
		return images_fail(err, errlen, -EINVAL, "'%s': bad reference",
		    ref);
	}
	if ((rc = pull_config(p, err, errlen)) < 0 ||
	    (rc = img_stage_begin(im, &p->st, err, errlen)) < 0) {
		free(p);
		return rc;
	}
	log_info("pulling %s from %s", ref, p->base);
	if ((rc = get_manifest(p, p->tag, &m, mdg, err, errlen)) < 0)
		goto out;
	if (prog)
		prog->fn(prog->arg, "manifest", m.len, m.len);
	man = json_loadb(m.buf, m.len, JSON_REJECT_DUPLICATES, &je);
	if (json_is_array(json_object_get(man, "manifests"))) {
		if ((rc = pick_platform(man, sub, err, errlen)) < 0)
			goto out;
		json_decref(man);
		m.len = 0;
		if ((rc = get_manifest(p, sub, &m, mdg, err, errlen)) < 0)
			goto out;
		man = json_loadb(m.buf, m.len, JSON_REJECT_DUPLICATES, &je);
	}
	if (man == NULL) {
		rc = images_fail(err, errlen, -EINVAL, "%s: the manifest is not "
		    "JSON (%s)", ref, je.text);
		goto out;
	}
	if ((rc = stage_bytes(p, &m, err, errlen)) < 0)
		goto out;
	rc = pull_parts(p, man, mdg, refs, digest_out, err, errlen);
out:
	if (rc < 0)
		log_debug("pull %s: %s", ref, err);
	json_decref(man);
	free(m.buf);
	img_stage_end(&p->st);
	free(p);
	return rc;
}
