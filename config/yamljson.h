/*
 * yamljson.h: YAML and JSON manifests to jansson trees, as kubectl reads
 * them, and JSON trees back to YAML.
 *
 * kubectl turns YAML into JSON with sigs.k8s.io/yaml, which uses go-yaml v2
 * (YAML 1.1 typing) and then encoding/json. yamljson_load() does the same:
 * - plain (unquoted, untagged) scalars resolve as go-yaml v2 resolves them:
 *   null: "", ~, null, Null, NULL; booleans: y Y yes Yes YES true True TRUE
 *   on On ON and n N no No NO false False FALSE off Off OFF; integers in Go's
 *   base-0 syntax after removing '_' (0x1F, 0o17, 017 octal, 0b101, +5);
 *   floats matching ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
 *   (a float with an integral value that fits int64 becomes a JSON integer,
 *   as Go prints 1e3 as 1000 and the API server reads it back as int64);
 *   .inf/.nan are errors (JSON cannot hold them); anything else is a string,
 *   timestamps included;
 * - quoted and block (| >) scalars are strings; !!str forces a string,
 *   !!int !!float !!bool !!null check the resolved type, !!binary is
 *   base64-decoded, other tags are ignored;
 * - map keys become strings (yes: -> "true", 1: -> "1"); null, map and
 *   sequence keys are errors; duplicate keys: the last wins (as kubectl);
 * - anchors and aliases are expanded by copying, within YAMLJSON_MAX_NODES
 *   values per load ("excessive aliasing" past that); an alias to an anchor
 *   that is not complete (recursion) is an error; merge keys (<<: *a,
 *   <<: [*a, *b]) add the keys the mapping does not have (earlier wins);
 * - "---" separates documents; empty documents are skipped.
 * Input whose first non-blank byte is '{' is JSON (one or more values in a
 * row, as kubectl's YAMLOrJSONDecoder), parsed by jansson; integral reals
 * become integers there too. Strings must be UTF-8 without NUL. Nesting is
 * bounded by YAMLJSON_MAX_DEPTH, input by YAMLJSON_MAX_INPUT.
 */
#ifndef DROVER_YAMLJSON_H
#define DROVER_YAMLJSON_H

#include <stddef.h>

#include <jansson.h>

#define YAMLJSON_MAX_INPUT (3u << 20)	/* the API server's request limit */
#define YAMLJSON_MAX_NODES 200000	/* values per load, aliases expanded */
#define YAMLJSON_MAX_DEPTH 100		/* nested maps and sequences */
#define YAMLJSON_MAX_DOCS 1000

struct yamljson_error {
	int json;	/* the input was JSON */
	int line;	/* 1-based; 0 when unknown */
	int column;	/* 1-based; 0 when unknown */
	char text[200];	/* e.g. "mapping values are not allowed in this context" */
};

/*
 * Parse YAML or JSON into a new JSON array of documents (possibly empty).
 * NULL on error, with *err filled; format it with yamljson_strerror().
 */
json_t *yamljson_load(const char *buf, size_t len, struct yamljson_error *err);
/* Force one syntax. */
json_t *yamljson_load_yaml(const char *buf, size_t len,
    struct yamljson_error *err);
json_t *yamljson_load_json(const char *buf, size_t len,
    struct yamljson_error *err);

/*
 * "error converting YAML to JSON: yaml: line 5, column 3: TEXT" (or
 * "... JSON: line ...") into buf; returns buf.
 */
const char *yamljson_strerror(const struct yamljson_error *err, char *buf,
    size_t len);

/*
 * What a plain scalar means (new reference): json string, integer, real,
 * true, false or null. NULL for .inf/.nan (not representable) or ENOMEM.
 */
json_t *yamljson_resolve_plain(const char *s, size_t len);

/*
 * JSON to YAML as kubectl prints it (block style, two-space indent, strings
 * quoted when they would read back as something else). *out is malloc'd,
 * NUL-terminated. Returns 0 or -EINVAL/-ENOMEM.
 */
int yamljson_emit(const json_t *doc, char **out, size_t *outlen);

#endif
