/* validate_meta.c: names, labels, annotations, owners and label selectors. */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_LABEL_MSG "a lowercase RFC 1123 label must consist of lower " \
	"case alphanumeric characters or '-', and must start and end with an " \
	"alphanumeric character"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1123_SUBDOMAIN_MSG "a lowercase RFC 1123 subdomain must consist " \
	"of lower case alphanumeric characters, '-' or '.', and must start and " \
	"end with an alphanumeric character"
#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG "must consist of alphanumeric characters, '-', '_' or '.', " \
	"and must start and end with an alphanumeric character"
#define LABEL_VALUE_FMT "(" QNAME_FMT ")?"
#define LABEL_VALUE_MSG "a valid label must be an empty string or consist of " \
	"alphanumeric characters, '-', '_' or '.', and must start and end with " \
	"an alphanumeric character"
#define ANNOTATIONS_MAX (256 * 1024)

static void
msg_add(struct validate_msgs *out, const char *prefix, const char *s)
{
	if (out->n < VALIDATE_MSG_MAX)
		snprintf(out->m[out->n++], sizeof(out->m[0]), "%s%s", prefix, s);
}

/* apimachinery's RegexError(msg, fmt, examples...). */
static void
msg_regex(struct validate_msgs *out, const char *prefix, const char *msg,
    const char *fmt, const char *const *ex)
{
	char buf[400];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s (e.g. ", msg);

	for (int i = 0; ex[i] != NULL && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s'%s', ",
		    i ? " or " : "", ex[i]);
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n,
		    "regex used for validation is '%s')", fmt);
	msg_add(out, prefix, buf);
}

static int
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static int
label_ok(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

void
validate_dns1123_label(const char *s, struct validate_msgs *out)
{
	static const char *const ex[] = { "my-name", "123-abc", NULL };

	out->n = 0;
	if (strlen(s) > 63)
		msg_add(out, "", "must be no more than 63 characters");
	if (!label_ok(s, strlen(s)))
		msg_regex(out, "", DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, ex);
}

static int
subdomain_ok(const char *s)
{
	const char *dot;

	for (;;) {
		dot = strchr(s, '.');
		if (!label_ok(s, dot ? (size_t)(dot - s) : strlen(s)))
			return 0;
		if (dot == NULL)
			return 1;
		s = dot + 1;
	}
}

static void
subdomain_msgs(const char *s, const char *prefix, struct validate_msgs *out)
{
	static const char *const ex[] = { "example.com", NULL };

	if (strlen(s) > 253)
		msg_add(out, prefix, "must be no more than 253 characters");
	if (!subdomain_ok(s))
		msg_regex(out, prefix, DNS1123_SUBDOMAIN_MSG,
		    DNS1123_SUBDOMAIN_FMT, ex);
}

void
validate_dns1123_subdomain(const char *s, struct validate_msgs *out)
{
	out->n = 0;
	subdomain_msgs(s, "", out);
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static int
qname_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

void
validate_qualified_name(const char *s, struct validate_msgs *out)
{
	static const char *const ex[] = { "MyName", "my.name", "123-abc", NULL };
	const char *slash = strchr(s, '/'), *name = s;
	char prefix[256];

	out->n = 0;
	if (slash != NULL && strchr(slash + 1, '/') != NULL) {
		char m[400];

		snprintf(m, sizeof(m), "a qualified name %s", QNAME_MSG);
		msg_regex(out, "", m, QNAME_FMT, ex);
		snprintf(out->m[0] + strlen(out->m[0]), sizeof(out->m[0]) -
		    strlen(out->m[0]), " with an optional DNS subdomain prefix "
		    "and '/' (e.g. 'example.com/MyName')");
		return;
	}
	if (slash != NULL) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - s), s);
		if (prefix[0] == '\0')
			msg_add(out, "prefix part ", "must be non-empty");
		else
			subdomain_msgs(prefix, "prefix part ", out);
		name = slash + 1;
	}
	if (name[0] == '\0')
		msg_add(out, "name part ", "must be non-empty");
	else if (strlen(name) > 63)
		msg_add(out, "name part ", "must be no more than 63 characters");
	if (!qname_ok(name, strlen(name)))
		msg_regex(out, "name part ", QNAME_MSG, QNAME_FMT, ex);
}

void
validate_label_value(const char *s, struct validate_msgs *out)
{
	static const char *const ex[] = { "MyValue", "my_value", "12345", NULL };

	out->n = 0;
	if (strlen(s) > 63)
		msg_add(out, "", "must be no more than 63 characters");
	if (s[0] != '\0' && !qname_ok(s, strlen(s)))
		msg_regex(out, "", LABEL_VALUE_MSG, LABEL_VALUE_FMT, ex);
}

const char *
validate_join(const struct validate_msgs *m, const char *sep, char *buf,
    size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < m->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? sep : "",
		    m->m[i]);
	return buf;
}

/* ---- ObjectMeta ---------------------------------------------------------- */

static const char *
str_member(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static void
invalid_each(struct ferr_list *l, const char *field, const char *value,
    const struct validate_msgs *m)
{
	char q[600];

	ferr_quote(value, q, sizeof(q));
	for (int i = 0; i < m->n; i++)
		ferr_k8s(l, FERR_INVALID, field, q, "%s", m->m[i]);
}

/* NameIsDNSSubdomain(name, prefix): a trailing '-' is allowed in a prefix. */
static void
meta_name(const char *field, const char *name, int prefix, struct ferr_list *l)
{
	struct validate_msgs m;
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", name);
	if (prefix && strlen(name) > 1 && strlen(name) < sizeof(buf) &&
	    buf[strlen(buf) - 1] == '-')
		buf[strlen(buf) - 1] = 'a';
	validate_dns1123_subdomain(strlen(name) < sizeof(buf) ? buf : name, &m);
	invalid_each(l, field, name, &m);
}

void
validate_labels(const json_t *labels, const char *path, struct ferr_list *l)
{
	struct validate_msgs m;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)labels, k, v) {
		validate_qualified_name(k, &m);
		invalid_each(l, path, k, &m);
		if (!json_is_string(v))
			continue;
		validate_label_value(json_string_value(v), &m);
		invalid_each(l, path, json_string_value(v), &m);
	}
}

static void
meta_annotations(const json_t *ann, struct ferr_list *l)
{
	struct validate_msgs m;
	size_t total = 0;
	char lower[320];
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)ann, k, v) {
		size_t i;

		for (i = 0; k[i] != '\0' && i + 1 < sizeof(lower); i++)
			lower[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ?
			    k[i] - 'A' + 'a' : k[i]);
		lower[i] = '\0';
		validate_qualified_name(strlen(k) < sizeof(lower) ? lower : k, &m);
		invalid_each(l, "metadata.annotations", k, &m);
		total += strlen(k) + json_string_length(v);
	}
	if (total > ANNOTATIONS_MAX)
		ferr_k8s(l, FERR_TOO_LONG, "metadata.annotations", NULL,
		    "must have at most %d bytes", ANNOTATIONS_MAX);
}

static void
meta_owner(const json_t *ref, struct ferr_list *l)
{
	static const char *const need[][2] = {
		{ "apiVersion", "version must not be empty" },
		{ "kind", "kind must not be empty" },
		{ "name", "name must not be empty" },
		{ "uid", "uid must not be empty" },
	};
	const char *av = str_member(ref, "apiVersion");
	char f[FERR_PATH_MAX], q[256];

	for (size_t i = 0; i < 4; i++) {
		const char *v = str_member(ref, need[i][0]);

		/* "group/" has an empty version too */
		if (v[0] != '\0' && (i != 0 || av[strlen(av) - 1] != '/'))
			continue;
		ferr_k8s(l, FERR_INVALID, ferr_child(f,
		    "metadata.ownerReferences", need[i][0]),
		    ferr_quote(v, q, sizeof(q)), "%s", need[i][1]);
	}
}

static void
meta_finalizers(const json_t *fin, struct ferr_list *l)
{
	struct validate_msgs m;
	const char *s;
	json_t *v;
	size_t i;

	json_array_foreach(fin, i, v) {
		if ((s = json_string_value(v)) == NULL)
			continue;
		validate_qualified_name(s, &m);
		invalid_each(l, "metadata.finalizers", s, &m);
		if (m.n == 0 && strchr(s, '/') == NULL &&
		    strcmp(s, "kubernetes") && strcmp(s, "orphan") &&
		    strcmp(s, "foregroundDeletion")) {
			m.n = 1;
			snprintf(m.m[0], sizeof(m.m[0]), "name is neither a "
			    "standard finalizer name nor is it fully qualified");
			invalid_each(l, "metadata.finalizers", s, &m);
		}
	}
}

static void
meta_name_and_namespace(const json_t *meta, int namespaced,
    struct ferr_list *l)
{
	const char *name = str_member(meta, "name");
	const char *gen = str_member(meta, "generateName");
	const char *ns = str_member(meta, "namespace");
	struct validate_msgs m;

	if (gen[0] != '\0')
		meta_name("metadata.generateName", gen, 1, l);
	if (name[0] == '\0' && gen[0] == '\0')
		ferr_k8s(l, FERR_REQUIRED, "metadata.name", NULL,
		    "name or generateName is required");
	else if (name[0] != '\0')
		meta_name("metadata.name", name, 0, l);
	if (namespaced && ns[0] != '\0') {
		validate_dns1123_label(ns, &m);
		invalid_each(l, "metadata.namespace", ns, &m);
	} else if (!namespaced && ns[0] != '\0')
		ferr_k8s(l, FERR_FORBIDDEN, "metadata.namespace", NULL,
		    "not allowed on this type");
}

void
validate_object_meta(const json_t *meta, int namespaced, struct ferr_list *l)
{
	const json_t *v;
	size_t i;

	meta_name_and_namespace(meta, namespaced, l);
	v = json_object_get(meta, "generation");
	if (json_is_integer(v) && json_integer_value(v) < 0) {
		char n[32];

		ferr_k8s(l, FERR_INVALID, "metadata.generation",
		    ferr_value(v, n, sizeof(n)),
		    "must be greater than or equal to 0");
	}
	if (json_is_object(v = json_object_get(meta, "labels")))
		validate_labels(v, "metadata.labels", l);
	if (json_is_object(v = json_object_get(meta, "annotations")))
		meta_annotations(v, l);
	if (json_is_array(v = json_object_get(meta, "ownerReferences"))) {
		json_t *ref;

		json_array_foreach(v, i, ref)
			if (json_is_object(ref))
				meta_owner(ref, l);
	}
	if (json_is_array(v = json_object_get(meta, "finalizers")))
		meta_finalizers(v, l);
}
