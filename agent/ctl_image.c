/*
 * ctl_image.c: droverctl image import|pull|list|rm.
 *
 * Through droverd's local socket by default (image.import, image.list,
 * image.rm). A pull runs in droverctl's own process, so that it can show
 * its progress: droverd's image.store op says where the store is and
 * what its config is (mirrors, credentials, CA), and droverctl, which
 * may connect only as root or as droverd's user, opens the store itself
 * (the store's lock and staging keep the two processes apart).
 * --state-dir DIR [--config FILE] opens the store directly for every
 * command, without droverd (a node being prepared, tests).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "images.h"
#include "log.h"

struct ictl {
	const char *socket;
	const char *state_dir;
	const char *config;
	const char *name;
	const char *output;
	int quiet;
	int npos;
	char *pos[8];
};

static void
ictl_usage(FILE *f)
{
	fputs(
"usage: droverctl image import FILE [--name NAME]\n"
"       droverctl image pull REF [-q]\n"
"       droverctl image list [-o json]\n"
"       droverctl image rm REF...\n"
"\n"
"  --state-dir DIR   use the store under DIR/images directly (no droverd)\n"
"  --config FILE     with --state-dir: the agent config (its \"images\")\n", f);
}

static int
ictl_parse(int argc, char **argv, struct ictl *c)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "n:o:qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': c->name = optarg; break;
		case 's': c->state_dir = optarg; break;
		case 'c': c->config = optarg; break;
		case 'o': c->output = optarg; break;
		case 'q': c->quiet = 1; break;
		case 'h': ictl_usage(stdout); exit(0);
		default: ictl_usage(stderr); return 2;
		}
	}
	for (; optind < argc; optind++) {
		if (c->npos >= 8) {
			ictl_usage(stderr);
			return 2;
		}
		c->pos[c->npos++] = argv[optind];
	}
	if (c->config && !c->state_dir) {
		fprintf(stderr, "error: --config needs --state-dir\n");
		return 2;
	}
	return 0;
}

/* The store, opened directly: --state-dir, or droverd's image.store. */
static struct images *
ictl_open(struct ictl *c, int for_pull)
{
	char dir[PATH_MAX], err[1024] = "";
	json_t *conf = NULL, *file = NULL, *resp = NULL;
	struct images *im = NULL;
	json_error_t je;

	if (c->state_dir) {
		snprintf(dir, sizeof(dir), "%s/images", c->state_dir);
		if (c->config) {
			file = json_load_file(c->config, 0, &je);
			if (file == NULL) {
				fprintf(stderr, "error: %s: %s (line %d)\n",
				    c->config, je.text, je.line);
				return NULL;
			}
			conf = json_incref(json_object_get(file, "images"));
		}
	} else {
		resp = ctl_call1(c->socket, json_pack("{ss}", "op",
		    "image.store"));
		if (resp == NULL || ctl_server_error(resp, ""))
			goto out;
		snprintf(dir, sizeof(dir), "%s", json_string_value(
		    json_object_get(resp, "dir")) ?: "");
		conf = json_incref(json_object_get(resp, "config"));
	}
	/* A pull has nothing to do with the pre-loaded names. */
	if (for_pull && conf) {
		json_t *cp = json_deep_copy(conf);
		json_object_del(cp, "preloaded");
		json_decref(conf);
		conf = cp;
	}
	if (images_open(dir, conf, &im, err, sizeof(err)) < 0)
		fprintf(stderr, "error: image store %s: %s\n", dir, err);
out:
	json_decref(resp);
	json_decref(conf);
	json_decref(file);
	return im;
}

static void
progress(void *arg, const char *what, uint64_t done, uint64_t total)
{
	(void)arg;
	if (total)
		printf("%-19.19s %llu/%llu bytes (%d%%)\n", what,
		    (unsigned long long)done, (unsigned long long)total,
		    (int)(done * 100 / total));
	else
		printf("%-19.19s %llu bytes\n", what, (unsigned long long)done);
	fflush(stdout);
}

static int
ictl_pull(struct ictl *c)
{
	char err[1024] = "", dg[72];
	struct images *im;
	int rc;

	if (c->npos != 1) {
		ictl_usage(stderr);
		return 2;
	}
	if ((im = ictl_open(c, 1)) == NULL)
		return 1;
	rc = images_pull(im, c->pos[0], c->quiet ? NULL : progress, NULL, dg,
	    err, sizeof(err));
	images_close(im);
	if (rc < 0) {
		fprintf(stderr, "error: pull %s: %s\n", c->pos[0], err);
		return 1;
	}
	printf("%s: %s\n", c->pos[0], dg);
	return 0;
}

static int
ictl_import(struct ictl *c)
{
	char err[1024] = "", dg[72], path[PATH_MAX];
	struct images *im;
	json_t *resp;
	int rc;

	if (c->npos != 1) {
		ictl_usage(stderr);
		return 2;
	}
	if (c->state_dir) {
		if ((im = ictl_open(c, 0)) == NULL)
			return 1;
		rc = images_import(im, c->pos[0], c->name, dg, err, sizeof(err));
		images_close(im);
		if (rc < 0) {
			fprintf(stderr, "error: import %s: %s\n", c->pos[0], err);
			return 1;
		}
		printf("imported %s: %s\n", c->pos[0], dg);
		return 0;
	}
	if (realpath(c->pos[0], path) == NULL) {
		fprintf(stderr, "error: %s: %s\n", c->pos[0], strerror(errno));
		return 1;
	}
	resp = ctl_call1(c->socket, c->name ? json_pack("{ss ss ss}", "op",
	    "image.import", "file", path, "name", c->name) :
	    json_pack("{ss ss}", "op", "image.import", "file", path));
	if (resp == NULL)
		return 1;
	rc = ctl_server_error(resp, "");
	if (rc == 0)
		printf("imported %s: %s\n", c->pos[0], json_string_value(
		    json_object_get(resp, "digest")));
	json_decref(resp);
	return rc;
}

static void
print_table(json_t *items)
{
	char vs[32];
	json_t *it;
	size_t i;

	printf("%-50s %-19s %-6s %12s  %s\n", "REF", "DIGEST", "FORMAT",
	    "VIRTUAL", "DISK");
	json_array_foreach(items, i, it) {
		const char *dg = json_string_value(json_object_get(it, "digest"));
		const char *err = json_string_value(json_object_get(it, "error"));
		snprintf(vs, sizeof(vs), "%lld", (long long)json_integer_value(
		    json_object_get(it, "virtual_size")));
		printf("%-50s %-19.19s %-6s %12s  %s%s%s\n",
		    json_string_value(json_object_get(it, "ref")) ?: "",
		    dg && *dg ? dg : "(pre-loaded)",
		    json_string_value(json_object_get(it, "format")) ?: "-",
		    err ? "-" : vs,
		    json_string_value(json_object_get(it, "disk")) ?: "",
		    err ? "error: " : "", err ? err : "");
	}
}

static int
ictl_list(struct ictl *c)
{
	struct images *im;
	json_t *items, *resp = NULL;

	if (c->state_dir) {
		if ((im = ictl_open(c, 0)) == NULL)
			return 1;
		items = images_list(im);
		images_close(im);
	} else {
		resp = ctl_call1(c->socket, json_pack("{ss}", "op",
		    "image.list"));
		if (resp == NULL || ctl_server_error(resp, "")) {
			json_decref(resp);
			return 1;
		}
		items = json_incref(json_object_get(resp, "items"));
	}
	if (c->output && strcmp(c->output, "json") == 0) {
		json_dumpf(items, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (c->output) {
		fprintf(stderr, "error: -o: only json\n");
		json_decref(items);
		json_decref(resp);
		return 2;
	} else {
		print_table(items);
	}
	json_decref(items);
	json_decref(resp);
	return 0;
}

static int
ictl_rm(struct ictl *c)
{
	char err[1024] = "";
	struct images *im = NULL;
	json_t *resp;
	int i, st = 0;

	if (c->npos < 1) {
		ictl_usage(stderr);
		return 2;
	}
	if (c->state_dir && (im = ictl_open(c, 0)) == NULL)
		return 1;
	for (i = 0; i < c->npos; i++) {
		if (im) {
			if (images_rm(im, c->pos[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "error: %s\n", err);
				st = 1;
				continue;
			}
		} else {
			resp = ctl_call1(c->socket, json_pack("{ss ss}", "op",
			    "image.rm", "ref", c->pos[i]));
			if (resp == NULL || ctl_server_error(resp, "")) {
				json_decref(resp);
				st = 1;
				continue;
			}
			json_decref(resp);
		}
		printf("removed %s\n", c->pos[i]);
	}
	images_close(im);
	return st;
}

int
ctl_image_main(int argc, char **argv, const char *socket)
{
	struct ictl c;
	const char *cmd;
	int rc;

	memset(&c, 0, sizeof(c));
	c.socket = socket;
	if (argc < 2) {
		ictl_usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if ((rc = ictl_parse(argc - 1, argv + 1, &c)) != 0)
		return rc;
	if (strcmp(cmd, "pull") == 0)
		return ictl_pull(&c);
	if (strcmp(cmd, "import") == 0)
		return ictl_import(&c);
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "ls") == 0)
		return ictl_list(&c);
	if (strcmp(cmd, "rm") == 0)
		return ictl_rm(&c);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		ictl_usage(stdout);
		return 0;
	}
	fprintf(stderr, "error: unknown image command '%s'\n", cmd);
	ictl_usage(stderr);
	return 2;
}
