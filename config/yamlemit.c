/* yamlemit.c: JSON trees to YAML with libyaml's emitter (kubectl -o yaml). */
#include "yamljson.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct ye_buf {
	char *p;
	size_t len, cap;
};

static int
ye_write(void *data, unsigned char *buffer, size_t size)
{
	struct ye_buf *b = data;
	char *np;

	if (b->len + size + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 1024) + size;

		if ((np = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, buffer, size);
	b->len += size;
	b->p[b->len] = '\0';
	return 1;
}

static int
ye_emit(yaml_emitter_t *em, yaml_event_t *ev)
{
	return yaml_emitter_emit(em, ev) ? 0 : -EINVAL;
}

static int
ye_scalar(yaml_emitter_t *em, const char *s, size_t len,
    yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
	    (yaml_char_t *)(uintptr_t)s, (int)len, 1, 1, style))
		return -ENOMEM;
	return ye_emit(em, &ev);
}

/* Plain when it reads back as the same string, else quoted. */
static int
ye_string(yaml_emitter_t *em, const char *s, size_t len)
{
	json_t *r;
	int plain;

	if (memchr(s, '\n', len) != NULL)
		return ye_scalar(em, s, len, YAML_LITERAL_SCALAR_STYLE);
	r = yamljson_resolve_plain(s, len);
	plain = r != NULL && json_is_string(r) && len > 0 && s[0] != '<';
	json_decref(r);
	return ye_scalar(em, s, len, plain ? YAML_PLAIN_SCALAR_STYLE :
	    YAML_SINGLE_QUOTED_SCALAR_STYLE);
}

/* Shortest text that reads back as the same double. */
static int
ye_real(yaml_emitter_t *em, double v)
{
	char buf[40];

	for (int p = 1; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return ye_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
}

static int ye_node(yaml_emitter_t *em, const json_t *v, int depth);

static int
ye_object(yaml_emitter_t *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	const char *k;
	json_t *e;
	int r;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
	    json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE :
	    YAML_FLOW_MAPPING_STYLE))
		return -ENOMEM;
	if ((r = ye_emit(em, &ev)) < 0)
		return r;
	json_object_foreach((json_t *)v, k, e) {
		if ((r = ye_string(em, k, strlen(k))) < 0 ||
		    (r = ye_node(em, e, depth + 1)) < 0)
			return r;
	}
	if (!yaml_mapping_end_event_initialize(&ev))
		return -ENOMEM;
	return ye_emit(em, &ev);
}

static int
ye_array(yaml_emitter_t *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	json_t *e;
	size_t i;
	int r;

	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
	    json_array_size(v) ? YAML_BLOCK_SEQUENCE_STYLE :
	    YAML_FLOW_SEQUENCE_STYLE))
		return -ENOMEM;
	if ((r = ye_emit(em, &ev)) < 0)
		return r;
	json_array_foreach(v, i, e)
		if ((r = ye_node(em, e, depth + 1)) < 0)
			return r;
	if (!yaml_sequence_end_event_initialize(&ev))
		return -ENOMEM;
	return ye_emit(em, &ev);
}

static int
ye_node(yaml_emitter_t *em, const json_t *v, int depth)
{
	char buf[32];

	if (depth > YAMLJSON_MAX_DEPTH * 4)
		return -EINVAL;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return ye_object(em, v, depth);
	case JSON_ARRAY:
		return ye_array(em, v, depth);
	case JSON_STRING:
		return ye_string(em, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return ye_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		return ye_real(em, json_real_value(v));
	case JSON_TRUE:
		return ye_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return ye_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	default:
		return ye_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
}

static int
ye_document(yaml_emitter_t *em, const json_t *doc)
{
	yaml_event_t ev;
	int r;

	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    (r = ye_emit(em, &ev)) < 0)
		return -ENOMEM;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    (r = ye_emit(em, &ev)) < 0)
		return -ENOMEM;
	if ((r = ye_node(em, doc, 0)) < 0)
		return r;
	if (!yaml_document_end_event_initialize(&ev, 1) ||
	    (r = ye_emit(em, &ev)) < 0)
		return -ENOMEM;
	if (!yaml_stream_end_event_initialize(&ev))
		return -ENOMEM;
	return ye_emit(em, &ev);
}

int
yamljson_emit(const json_t *doc, char **out, size_t *outlen)
{
	yaml_emitter_t em;
	struct ye_buf b = { 0 };
	int r;

	*out = NULL;
	if (doc == NULL)
		return -EINVAL;
	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output(&em, ye_write, &b);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	r = ye_document(&em, doc);
	if (r == 0 && !yaml_emitter_flush(&em))
		r = -ENOMEM;
	yaml_emitter_delete(&em);
	if (r < 0 || b.p == NULL) {
		free(b.p);
		return r < 0 ? r : -ENOMEM;
	}
	*out = b.p;
	if (outlen)
		*outlen = b.len;
	return 0;
}
