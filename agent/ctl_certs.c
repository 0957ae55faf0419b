/*
 * ctl_certs.c: `droverctl certs init|user` and `droverctl kubeconfig`
 * (issue 6), through certs.c (mbedTLS; no openssl at run time).
 *
 * Files in DIR (default /etc/drover/pki), keys and certificates mode
 * 0600, each written atomically:
 *   ca.crt ca.key              the CA (kept when it exists already)
 *   server.crt server.key      droverd's API certificate
 *   users/NAME.crt NAME.key    client certificates
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>

#include "certs.h"
#include "ctl.h"

#define CTL_CERTS_PATH	4096

struct ctl_certs_args {
	const char *dir;
	const char *names[CERTS_MAX_NAMES];	/* --san or --group */
	int nnames;
	char *split[CERTS_MAX_NAMES];		/* copies of comma lists */
	int nsplit;
	int days;
	const char *server, *out, *cn;
	const char *pos[4];
	int npos;
};

static int
ctl_certs_usage(void)
{
	fputs("usage: droverctl certs init [--dir DIR] [--san NAME|IP ...] "
	    "[--days N] [--cn NAME]\n"
	    "       droverctl certs user NAME [--group G ...] [--dir DIR] "
	    "[--days N]\n"
	    "       droverctl kubeconfig NAME --server URL [--out FILE] "
	    "[--dir DIR]\n", stderr);
	return 2;
}

static void
ctl_certs_free_args(struct ctl_certs_args *a)
{
	for (int i = 0; i < a->nsplit; i++)
		free(a->split[i]);
}

/* --san a,b --san c: every comma-separated item. */
static int
ctl_certs_add_names(struct ctl_certs_args *a, const char *v)
{
	char *copy, *save = NULL;

	if (a->nsplit >= CERTS_MAX_NAMES || !(copy = strdup(v)))
		return -1;
	a->split[a->nsplit++] = copy;
	for (char *t = strtok_r(copy, ",", &save); t;
	    t = strtok_r(NULL, ",", &save)) {
		if (a->nnames >= CERTS_MAX_NAMES) {
			fprintf(stderr, "error: at most %d names\n",
			    CERTS_MAX_NAMES);
			return -1;
		}
		a->names[a->nnames++] = t;
	}
	return 0;
}

/* Flags: --dir, --san/--group (list), --days, --server, --out, --cn. */
static int
ctl_certs_parse(int argc, char **argv, const char *list_flag,
    struct ctl_certs_args *a)
{
	static const char *const flags[] = { "--dir", "--days", "--server",
	    "--out", "--cn", NULL };

	memset(a, 0, sizeof(*a));
	a->dir = CERTS_DEFAULT_DIR;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		char flag[32];
		int known = 0;

		if (strncmp(arg, "--", 2) != 0 || strlen(arg) == 2) {
			if (a->npos >= 4)
				goto usage;
			a->pos[a->npos++] = arg;
			continue;
		}
		eq = strchr(arg, '=');
		snprintf(flag, sizeof(flag), "%.*s",
		    (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
		for (int f = 0; flags[f]; f++)
			known |= strcmp(flag, flags[f]) == 0;
		if (list_flag && strcmp(flag, list_flag) == 0)
			known = 1;
		if (!known) {
			fprintf(stderr, "error: unknown flag: %s\n", flag);
			goto usage;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			fprintf(stderr, "error: flag needs an argument: %s\n",
			    flag);
			goto usage;
		}
		if (strcmp(flag, "--dir") == 0)
			a->dir = val;
		else if (strcmp(flag, "--server") == 0)
			a->server = val;
		else if (strcmp(flag, "--out") == 0)
			a->out = val;
		else if (strcmp(flag, "--cn") == 0)
			a->cn = val;
		else if (strcmp(flag, "--days") == 0) {
			char *end;
			long d = strtol(val, &end, 10);

			if (*val == '\0' || *end || d <= 0 || d > 36500) {
				fprintf(stderr, "error: --days: 1 to 36500, "
				    "not '%s'\n", val);
				goto usage;
			}
			a->days = (int)d;
		} else if (ctl_certs_add_names(a, val) < 0)
			goto usage;
	}
	return 0;
usage:
	ctl_certs_free_args(a);
	return ctl_certs_usage();
}

static int
ctl_certs_mkdir(const char *dir)
{
	char path[CTL_CERTS_PATH];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		fprintf(stderr, "error: bad directory '%s'\n", dir);
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0700) < 0 && errno != EEXIST) {
				fprintf(stderr, "error: %s: %s\n", path,
				    strerror(errno));
				return -1;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

static int
ctl_certs_path(char *out, const char *dir, const char *sub, const char *name,
    const char *ext)
{
	int n = snprintf(out, CTL_CERTS_PATH, "%s/%s%s%s", dir, sub, name,
	    ext);

	if (n < 0 || n >= CTL_CERTS_PATH) {
		fprintf(stderr, "error: path too long under %s\n", dir);
		return -1;
	}
	return 0;
}

/* Write a certificate and its key (key first: a cert never lacks it). */
static int
ctl_certs_save(const char *dir, const char *sub, const char *name,
    const char *cert, const char *key)
{
	char path[CTL_CERTS_PATH], err[512];

	if (ctl_certs_path(path, dir, sub, name, ".key") < 0)
		return -1;
	if (certs_write_file(path, key, strlen(key), 0600, err,
	    sizeof(err)) < 0)
		goto fail;
	if (ctl_certs_path(path, dir, sub, name, ".crt") < 0)
		return -1;
	if (certs_write_file(path, cert, strlen(cert), 0600, err,
	    sizeof(err)) < 0)
		goto fail;
	printf("wrote %s/%s%s.crt and .key\n", dir, sub, name);
	return 0;
fail:
	fprintf(stderr, "error: %s\n", err);
	return -1;
}

static void
ctl_certs_free_pem(char *cert, char *key)
{
	free(cert);
	if (key)
		mbedtls_platform_zeroize(key, strlen(key));
	free(key);
}

/* Load DIR/ca.crt and DIR/ca.key; 0, 1 (no CA there) or -1. */
static int
ctl_certs_load_ca(const char *dir, char **cert, char **key)
{
	char path[CTL_CERTS_PATH], err[512];

	*cert = *key = NULL;
	if (ctl_certs_path(path, dir, "", "ca", ".crt") < 0)
		return -1;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 1;
	if (certs_read_file(path, cert, NULL, err, sizeof(err)) < 0)
		goto fail;
	if (ctl_certs_path(path, dir, "", "ca", ".key") < 0)
		goto fail_quiet;
	if (certs_read_file(path, key, NULL, err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "error: %s\n", err);
fail_quiet:
	ctl_certs_free_pem(*cert, *key);
	*cert = *key = NULL;
	return -1;
}

static int
ctl_certs_init(struct ctl_certs_args *a)
{
	char *ca_cert = NULL, *ca_key = NULL, *cert = NULL, *key = NULL;
	char *node[CERTS_MAX_NAMES];
	const char *sans[CERTS_MAX_NAMES];
	char err[512];
	int nnode, nsans = 0, rc = 1, have;
	struct certs_req r = { 0 };

	if (a->npos != 0)
		return ctl_certs_usage();
	if (ctl_certs_mkdir(a->dir) < 0)
		return 1;
	have = ctl_certs_load_ca(a->dir, &ca_cert, &ca_key);
	if (have < 0)
		return 1;
	if (have == 1) {
		r.kind = CERTS_CA;
		r.cn = "drover-ca";
		r.days = a->days ? a->days : CERTS_DEFAULT_DAYS;
		if (certs_issue(&r, &ca_cert, &ca_key, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: the CA: %s\n", err);
			return 1;
		}
		if (ctl_certs_save(a->dir, "", "ca", ca_cert, ca_key) < 0)
			goto out;
	} else {
		printf("using the CA in %s\n", a->dir);
	}
	nnode = certs_node_names(node, CERTS_MAX_NAMES);
	for (int i = 0; i < nnode && nsans < CERTS_MAX_NAMES; i++)
		sans[nsans++] = node[i];
	for (int i = 0; i < a->nnames; i++) {
		int dup = 0;

		for (int j = 0; j < nsans; j++)
			dup |= strcmp(sans[j], a->names[i]) == 0;
		if (dup)
			continue;
		if (nsans >= CERTS_MAX_NAMES) {
			fprintf(stderr, "error: more than %d names\n",
			    CERTS_MAX_NAMES);
			goto out_names;
		}
		sans[nsans++] = a->names[i];
	}
	memset(&r, 0, sizeof(r));
	r.kind = CERTS_SERVER;
	r.cn = a->cn ? a->cn : nnode > 1 ? node[1] : "drover";
	r.sans = sans;
	r.nsans = nsans;
	r.days = a->days ? a->days : CERTS_DEFAULT_DAYS;
	r.ca_cert_pem = ca_cert;
	r.ca_key_pem = ca_key;
	if (certs_issue(&r, &cert, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: the server certificate: %s\n", err);
		goto out_names;
	}
	if (ctl_certs_save(a->dir, "", "server", cert, key) < 0)
		goto out_names;
	printf("server certificate names:");
	for (int i = 0; i < nsans; i++)
		printf(" %s", sans[i]);
	printf("\n");
	rc = 0;
out_names:
	certs_free_names(node, nnode);
out:
	ctl_certs_free_pem(ca_cert, ca_key);
	ctl_certs_free_pem(cert, key);
	return rc;
}

/* A user name is also a file name: no '/', no leading '.'. */
static int
ctl_certs_check_user(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.:@", c)))
			goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "error: bad user name '%s': 1 to 64 letters, digits, "
	    "'-', '_', '.', ':' or '@', not starting with '.' or '-'\n", name);
	return -1;
}

static int
ctl_certs_user(struct ctl_certs_args *a)
{
	char *ca_cert = NULL, *ca_key = NULL, *cert = NULL, *key = NULL;
	char path[CTL_CERTS_PATH], err[512];
	struct certs_req r = { 0 };
	int rc = 1, have;

	if (a->npos != 1)
		return ctl_certs_usage();
	if (ctl_certs_check_user(a->pos[0]) < 0)
		return 2;
	have = ctl_certs_load_ca(a->dir, &ca_cert, &ca_key);
	if (have == 1)
		fprintf(stderr, "error: no CA in %s: run 'droverctl certs "
		    "init' first\n", a->dir);
	if (have != 0)
		return 1;
	if (ctl_certs_path(path, a->dir, "", "users", "") < 0 ||
	    ctl_certs_mkdir(path) < 0)
		goto out;
	r.kind = CERTS_CLIENT;
	r.cn = a->pos[0];
	r.orgs = a->names;
	r.norgs = a->nnames;
	r.days = a->days ? a->days : CERTS_DEFAULT_USER_DAYS;
	r.ca_cert_pem = ca_cert;
	r.ca_key_pem = ca_key;
	if (certs_issue(&r, &cert, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: the certificate of %s: %s\n",
		    a->pos[0], err);
		goto out;
	}
	if (ctl_certs_save(a->dir, "users/", a->pos[0], cert, key) == 0)
		rc = 0;
out:
	ctl_certs_free_pem(ca_cert, ca_key);
	ctl_certs_free_pem(cert, key);
	return rc;
}

int
ctl_certs_main(int argc, char **argv, const char *socket)
{
	struct ctl_certs_args a;
	int rc;

	(void)socket;
	if (argc < 2)
		return ctl_certs_usage();
	if (strcmp(argv[1], "init") == 0) {
		if ((rc = ctl_certs_parse(argc - 2, argv + 2, "--san", &a)))
			return rc;
		rc = ctl_certs_init(&a);
	} else if (strcmp(argv[1], "user") == 0) {
		if ((rc = ctl_certs_parse(argc - 2, argv + 2, "--group", &a)))
			return rc;
		rc = ctl_certs_user(&a);
	} else {
		fprintf(stderr, "error: unknown certs command '%s'\n",
		    argv[1]);
		return ctl_certs_usage();
	}
	ctl_certs_free_args(&a);
	return rc;
}

/* base64 of a whole PEM file, malloc'ed. */
static char *
ctl_certs_b64_file(const char *path)
{
	char *data, err[512];
	unsigned char *out;
	size_t len, olen = 0;

	if (certs_read_file(path, &data, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return NULL;
	}
	out = malloc(len / 3 * 4 + 8);
	if (!out || mbedtls_base64_encode(out, len / 3 * 4 + 8, &olen,
	    (const unsigned char *)data, len) != 0) {
		fprintf(stderr, "error: %s: cannot encode\n", path);
		free(out);
		out = NULL;
	}
	mbedtls_platform_zeroize(data, len);
	free(data);
	return (char *)out;
}

/* The kubeconfig (YAML; names double-quoted, JSON-style escapes). */
static char *
ctl_kubeconfig_text(const char *user, const char *server, const char *ca,
    const char *crt, const char *key)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	json_t *ju = json_string(user), *js = json_string(server);
	char *u = ju ? json_dumps(ju, JSON_ENCODE_ANY) : NULL;
	char *s = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;

	if (f && u && s) {
		fprintf(f, "apiVersion: v1\nkind: Config\n"
		    "clusters:\n- name: drover\n  cluster:\n"
		    "    server: %s\n"
		    "    certificate-authority-data: %s\n"
		    "users:\n- name: %s\n  user:\n"
		    "    client-certificate-data: %s\n"
		    "    client-key-data: %s\n"
		    "contexts:\n- name: drover\n  context:\n"
		    "    cluster: drover\n    user: %s\n"
		    "current-context: drover\npreferences: {}\n",
		    s, ca, u, crt, key, u);
	}
	if (f && fclose(f) != 0) {
		free(out);
		out = NULL;
	}
	if (!f || !u || !s) {
		free(out);
		out = NULL;
	}
	free(u);
	free(s);
	json_decref(ju);
	json_decref(js);
	return out;
}

int
ctl_kubeconfig_main(int argc, char **argv, const char *socket)
{
	struct ctl_certs_args a;
	char path[CTL_CERTS_PATH], err[512];
	char *ca = NULL, *crt = NULL, *key = NULL, *text = NULL;
	int rc;

	(void)socket;
	if ((rc = ctl_certs_parse(argc - 1, argv + 1, NULL, &a)))
		return rc;
	rc = 2;
	if (a.npos != 1 || !a.server) {
		fprintf(stderr, "error: kubeconfig needs NAME and --server "
		    "URL\n");
		ctl_certs_usage();
		goto out;
	}
	if (strncmp(a.server, "https://", 8) != 0) {
		fprintf(stderr, "error: --server must be an https:// URL "
		    "(e.g. https://192.0.2.10:6443)\n");
		goto out;
	}
	if (ctl_certs_check_user(a.pos[0]) < 0)
		goto out;
	rc = 1;
	if (ctl_certs_path(path, a.dir, "", "ca", ".crt") < 0 ||
	    !(ca = ctl_certs_b64_file(path)))
		goto out;
	if (ctl_certs_path(path, a.dir, "users/", a.pos[0], ".crt") < 0 ||
	    !(crt = ctl_certs_b64_file(path)))
		goto out;
	if (ctl_certs_path(path, a.dir, "users/", a.pos[0], ".key") < 0 ||
	    !(key = ctl_certs_b64_file(path)))
		goto out;
	text = ctl_kubeconfig_text(a.pos[0], a.server, ca, crt, key);
	if (!text) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	if (!a.out) {
		fputs(text, stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
	} else if (certs_write_file(a.out, text, strlen(text), 0600, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
	} else {
		fprintf(stderr, "wrote %s\n", a.out);
		rc = 0;
	}
out:
	if (key)
		mbedtls_platform_zeroize(key, strlen(key));
	if (text)
		mbedtls_platform_zeroize(text, strlen(text));
	free(ca);
	free(crt);
	free(key);
	free(text);
	ctl_certs_free_args(&a);
	return rc;
}
