/* Unit tests: YAML/JSON to jansson trees and back (config/yamljson.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "yamljson.h"

static json_t *
load(const char *s)
{
	struct yamljson_error err;
	json_t *d = yamljson_load(s, strlen(s), &err);

	if (d == NULL)
		fail_msg("%s: line %d col %d: %s", s, err.line, err.column,
		    err.text);
	return d;
}

/* The one document of s, compared with the JSON text want. */
static void
same(const char *s, const char *want)
{
	json_t *d = load(s), *w = json_loads(want, JSON_DECODE_ANY, NULL);

	assert_non_null(w);
	assert_int_equal(json_array_size(d), 1);
	if (!json_equal(json_array_get(d, 0), w)) {
		char *got = json_dumps(json_array_get(d, 0), JSON_COMPACT);

		fail_msg("%s: got %s, want %s", s, got, want);
	}
	json_decref(d);
	json_decref(w);
}

static void
bad(const char *s, int line, int column, const char *text)
{
	struct yamljson_error err;
	json_t *d = yamljson_load(s, strlen(s), &err);

	assert_null(d);
	if (line)
		assert_int_equal(err.line, line);
	if (column)
		assert_int_equal(err.column, column);
	if (strstr(err.text, text) == NULL)
		fail_msg("'%s' does not say '%s'", err.text, text);
}

static void
test_typing(void **state)
{
	(void)state;
	same("a: true\nb: yes\nc: On\nd: n\ne: off\nf: FALSE",
	    "{\"a\":true,\"b\":true,\"c\":true,\"d\":false,\"e\":false,\"f\":false}");
	same("a: ~\nb: null\nc:\nd: ''\ne: 'yes'", "{\"a\":null,\"b\":null,"
	    "\"c\":null,\"d\":\"\",\"e\":\"yes\"}");
	same("[1, -2, +3, 0x1F, 017, 0o17, 0b101, 1_000, 08]",
	    "[1,-2,3,31,15,15,5,1000,8]");
	same("[1e3, 1.0, 0.5, .5, -1.5e-1, 1e999, 1e20]",
	    "[1000,1,0.5,0.5,-0.15,\"1e999\",1e20]");
	same("[265Mi, 100m, 1G, 2001-12-14, 1.2.3, -, 0x]",
	    "[\"265Mi\",\"100m\",\"1G\",\"2001-12-14\",\"1.2.3\",\"-\",\"0x\"]");
	same("a: |\n  x\n  y\nb: >\n  p\n  q\n", "{\"a\":\"x\\ny\\n\",\"b\":\"p q\\n\"}");
}

static void
test_tags_and_keys(void **state)
{
	(void)state;
	same("[!!str 12, !!int \"7\", !!float 2, !!binary aGk=, !foo 3]",
	    "[\"12\",7,2,\"hi\",\"3\"]");
	same("k: {yes: 1, 1: 2, 1.5: 3, ~x: 4, y: 5}", "{\"k\":{\"true\":5,"
	    "\"1\":2,\"1.5\":3,\"~x\":4}}");
	bad("k: {~: 1}", 1, 0, "unsupported map key");
	/* kubectl reads input starting with '{' as JSON */
	bad("{yes: 1}", 1, 0, "expected");
	bad("? [a]\n: 1\n", 0, 0, "invalid map key");
	bad("!!int abc", 1, 1, "cannot decode !!str `abc` as a !!int");
	same("a: 1\na: 2", "{\"a\":2}");	/* kubectl: the last wins */
}

static void
test_anchors(void **state)
{
	(void)state;
	same("a: &x {b: 1}\nc: *x\nd: [*x, *x]", "{\"a\":{\"b\":1},\"c\":{\"b\":1},"
	    "\"d\":[{\"b\":1},{\"b\":1}]}");
	same("base: &b {x: 1, z: 2}\nm:\n  x: 9\n  <<: *b\n",
	    "{\"base\":{\"x\":1,\"z\":2},\"m\":{\"x\":9,\"z\":2}}");
	same("a: &a {p: 1}\nb: &b {p: 2, q: 2}\nm: {<<: [*a, *b]}\n",
	    "{\"a\":{\"p\":1},\"b\":{\"p\":2,\"q\":2},\"m\":{\"p\":1,\"q\":2}}");
	bad("a: *nope", 1, 4, "unknown anchor 'nope'");
	bad("a: &a [*a]", 1, 8, "unknown anchor 'a'");
	bad("m: {<<: 1}", 0, 0, "map merge requires map");
}

static void
test_alias_bomb(void **state)
{
	const char *bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";

	(void)state;
	bad(bomb, 0, 0, "excessive aliasing");
}

static void
test_depth(void **state)
{
	char deep[YAMLJSON_MAX_DEPTH * 2 + 8];
	int n = YAMLJSON_MAX_DEPTH + 1;

	(void)state;
	memset(deep, '[', (size_t)n);
	memset(deep + n, ']', (size_t)n);
	deep[2 * n] = '\0';
	bad(deep, 1, 0, "exceeded max depth");
	deep[0] = ' ';	/* one less: fine */
	deep[2 * n - 1] = '\0';
	json_decref(load(deep));
}

static void
test_documents(void **state)
{
	json_t *d;

	(void)state;
	d = load("---\na: 1\n---\n---\n# nothing\n---\nb: 2\n...\n");
	assert_int_equal(json_array_size(d), 2);
	json_decref(d);
	d = load("");
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
}

static void
test_json(void **state)
{
	struct yamljson_error err;
	json_t *d;

	(void)state;
	d = load(" {\"a\": 1.0, \"b\": [1e3, 0.5]}\n{\"c\": \"\\u00e9\"}");
	assert_int_equal(json_array_size(d), 2);
	assert_true(json_is_integer(json_object_get(json_array_get(d, 0), "a")));
	json_decref(d);
	assert_null(yamljson_load("{\"a\": 1,\n \"b\": x}", 17, &err));
	assert_true(err.json);
	assert_int_equal(err.line, 2);
	assert_null(yamljson_load("{\"a\": \"\\u0000\"}", 15, &err));
}

static void
test_errors(void **state)
{
	char msg[300];
	struct yamljson_error err;

	(void)state;
	bad("a: b: c\n", 1, 5, "mapping values are not allowed");
	bad("a:\n  - x\n y: 1\n", 3, 0, "");
	bad("a: \"x\\u0000\"", 1, 0, "NUL");
	bad("a: .inf", 1, 4, "json: unsupported value: +Inf");
	bad("a: -.Inf", 1, 4, "json: unsupported value: -Inf");
	bad("a: \t\x01", 0, 0, "");
	assert_null(yamljson_load("k: [1,\n", 7, &err));
	yamljson_strerror(&err, msg, sizeof(msg));
	assert_non_null(strstr(msg, "error converting YAML to JSON: yaml: line"));
}

static void
test_emit(void **state)
{
	json_t *v = json_loads("{\"a\":\"yes\",\"b\":\"1.5\",\"c\":\"x\",\"d\":[],"
	    "\"e\":{},\"f\":\"l1\\nl2\\n\",\"g\":3,\"h\":0.25,\"i\":null,"
	    "\"j\":[{\"k\":true}]}", 0, NULL);
	struct yamljson_error err;
	char *out = NULL;
	json_t *back;

	(void)state;
	assert_int_equal(yamljson_emit(v, &out, NULL), 0);
	assert_non_null(strstr(out, "a: 'yes'\n"));
	assert_non_null(strstr(out, "b: '1.5'\n"));
	assert_non_null(strstr(out, "c: x\n"));
	assert_non_null(strstr(out, "d: []\n"));
	back = yamljson_load(out, strlen(out), &err);
	assert_non_null(back);
	assert_true(json_equal(json_array_get(back, 0), v));
	free(out);
	json_decref(back);
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typing),
		cmocka_unit_test(test_tags_and_keys),
		cmocka_unit_test(test_anchors),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_emit),
	};

	return cmocka_run_group_tests_name("config_yamljson", tests, NULL, NULL);
}
