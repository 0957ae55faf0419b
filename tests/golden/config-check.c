/*
 * config-check: admit the manifests of a file as the API server would
 * (strict field validation, a create) and print the result: the objects
 * as stored (and, for a VMIRS, the VMI its controller would create), or
 * the Status of the first refusal with its causes. Exit 0 or 1.
 *
 *   config-check [--lax] FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "manifest.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		char *nb = realloc(buf, cap + 65536 + 1);

		if (nb == NULL)
			break;
		buf = nb;
		n = fread(buf + *len, 1, 65536, f);
		*len += n;
		cap += 65536;
		if (n < 65536)
			break;
	}
	fclose(f);
	return buf;
}

static void
print_status(const json_t *st)
{
	const json_t *causes = json_object_get(json_object_get(st, "details"),
	    "causes"), *c;
	size_t i;

	printf("code %d %s\n", manifest_status_code(st),
	    manifest_str(st, "reason") ? manifest_str(st, "reason") : "");
	printf("message: %s\n", manifest_status_message(st));
	json_array_foreach(causes, i, c)
		printf("cause %s %s: %s\n", manifest_str(c, "reason"),
		    manifest_str(c, "field") ? manifest_str(c, "field") : "",
		    manifest_str(c, "message"));
}

static void
print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2));

	printf("%s\n", s ? s : "null");
	free(s);
}

static int
check(json_t *docs, unsigned flags)
{
	json_t *doc, *st = NULL, *vmi;
	size_t i;

	json_array_foreach(docs, i, doc) {
		if (manifest_admit(doc, flags, &st) < 0) {
			print_status(st);
			json_decref(st);
			return 1;
		}
		if (i)
			printf("---\n");
		print_json(doc);
		if (manifest_kind(doc) == MANIFEST_VMIRS &&
		    (vmi = manifest_vmi_from_vmirs(doc)) != NULL) {
			printf("--- the VMI the controller creates\n");
			print_json(vmi);
			json_decref(vmi);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned flags = MANIFEST_STRICT | MANIFEST_CREATE;
	json_t *docs, *st = NULL;
	size_t len;
	char *buf;
	int rc;

	log_init("config-check", LOG_LEVEL_WARN);
	if (argc == 3 && strcmp(argv[1], "--lax") == 0) {
		flags &= ~(unsigned)MANIFEST_STRICT;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: config-check [--lax] FILE\n");
		return 2;
	}
	if ((buf = slurp(argv[1], &len)) == NULL) {
		perror(argv[1]);
		return 2;
	}
	docs = manifest_parse(buf, len, &st);
	free(buf);
	if (docs == NULL) {
		print_status(st);
		json_decref(st);
		return 1;
	}
	rc = check(docs, flags);
	json_decref(docs);
	return rc;
}
