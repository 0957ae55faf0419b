/*
 * store_tool DIR: drive the object store (agent/store.h) from a script on
 * stdin, one command a line, for tests/agent/store-*.sh and by hand:
 *   create JSON | update JSON | status KIND NS NAME JSON
 *   delete KIND NS NAME | event KIND NS NAME TYPE REASON MESSAGE...
 *   get KIND NS NAME | list KIND [NS] | rv
 * NS "-" is none. Each write, once acknowledged, prints "ack OP NAME RV"
 * with one write(2) on stdout (strace sees exactly when), or
 * "err OP: message". Exit status 1 if store_open fails or a command is
 * malformed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "store.h"

static void
say(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (write(1, buf, (size_t)n) != n)
		exit(2);
}

static const char *
nsarg(const char *ns)
{
	return ns && strcmp(ns, "-") ? ns : NULL;
}

static void
acked(struct store *s, const char *op, const char *name, int rc,
    const char *err)
{
	if (rc == 0)
		say("ack %s %s %" PRIu64 "\n", op, name, store_rv(s));
	else
		say("err %s: %s\n", op, err);
}

static void
print(json_t *o)
{
	char *t = json_dumps(o, JSON_COMPACT);
	size_t len = t ? strlen(t) : 0;

	if (t == NULL || write(1, t, len) != (ssize_t)len)
		say("null");
	say("\n");
	free(t);
	json_decref(o);
}

/* One command; -1 if malformed. */
static int
command(struct store *s, char *line)
{
	char *op = strtok(line, " "), *rest = strtok(NULL, "");
	char *a[4] = { NULL }, err[1024] = "";
	json_error_t jerr;
	json_t *o;
	int i, rc;

	if (op == NULL)
		return 0;
	if (!strcmp(op, "create") || !strcmp(op, "update")) {
		o = rest ? json_loads(rest, 0, &jerr) : NULL;
		if (o == NULL)
			return -1;
		rc = op[0] == 'c' ? store_create(s, o, NULL, err, sizeof(err)) :
		    store_update(s, o, NULL, err, sizeof(err));
		acked(s, op, json_string_value(json_object_get(
		    json_object_get(o, "metadata"), "name")), rc, err);
		json_decref(o);
		return 0;
	}
	for (i = 0; i < 4 && rest; i++) {
		a[i] = strtok_r(rest, " ", &rest);
		if (rest && *rest == '\0')
			rest = NULL;
	}
	if (!strcmp(op, "rv")) {
		say("%" PRIu64 "\n", store_rv(s));
	} else if (!strcmp(op, "list") && a[0]) {
		print(store_list(s, a[0], nsarg(a[1])));
	} else if (!strcmp(op, "get") && a[2]) {
		print(store_get(s, a[0], nsarg(a[1]), a[2]));
	} else if (!strcmp(op, "delete") && a[2]) {
		rc = store_delete(s, a[0], nsarg(a[1]), a[2], err, sizeof(err));
		acked(s, op, a[2], rc, err);
	} else if (!strcmp(op, "status") && a[2] && a[3]) {
		char *js = rest ? a[3] + strlen(a[3]) : NULL;

		if (js)		/* the JSON may hold spaces: rejoin */
			*js = ' ';
		o = json_loads(a[3], 0, &jerr);
		if (o == NULL)
			return -1;
		rc = store_update_status(s, a[0], nsarg(a[1]), a[2], o, NULL,
		    err, sizeof(err));
		json_decref(o);
		acked(s, op, a[2], rc, err);
	} else if (!strcmp(op, "event") && a[3] && rest) {
		o = store_get(s, a[0], nsarg(a[1]), a[2]);
		if (o == NULL)
			return -1;
		/* a[3]: type; rest: "REASON MESSAGE..." */
		a[0] = strtok_r(rest, " ", &rest);
		store_event(s, o, a[3], a[0], "%s", rest ? rest : "");
		json_decref(o);
		say("ack event %s %" PRIu64 "\n", a[2], store_rv(s));
	} else {
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct store *s;
	char err[1024], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: store_tool DIR < script\n");
		return 1;
	}
	log_init("store_tool", LOG_LEVEL_WARN);
	if (store_open(argv[1], &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_tool: %s\n", err);
		return 1;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (command(s, line) < 0) {
			fprintf(stderr, "store_tool: bad command: %s\n", line);
			rc = 1;
			break;
		}
	}
	free(line);
	store_close(s);
	return rc;
}
