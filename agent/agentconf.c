/* agentconf.c: droverd's configuration file (keys in agentconf.h). */
#include "agentconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "quantity.h"

void
agentconf_init(struct agentconf *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = -1;
	c->runtime = 1;
	c->net_pool = 2;
	c->hpa_sync_s = c->hpa_downscale_s = c->hpa_cpu_init_s = -1;
	c->hpa_readiness_s = -1;
	c->hpa_tolerance = -1;
}

int
agentconf_set_str(char **field, const char *value)
{
	char *n = NULL;

	if (value && !(n = strdup(value)))
		return -ENOMEM;
	free(*field);
	*field = n;
	return 0;
}

static int
agentconf_dup_default(char **field, const char *def)
{
	return *field ? 0 : agentconf_set_str(field, def);
}

int
agentconf_finish(struct agentconf *c)
{
	char buf[4096];

	if (agentconf_dup_default(&c->state_dir, AGENTCONF_STATE_DIR) < 0 ||
	    agentconf_dup_default(&c->run_dir, AGENTCONF_RUN_DIR) < 0 ||
	    agentconf_dup_default(&c->cgroup_root, AGENTCONF_CGROUP_ROOT) < 0 ||
	    agentconf_dup_default(&c->listen, AGENTCONF_LISTEN) < 0)
		return -ENOMEM;
	if (!c->socket) {
		snprintf(buf, sizeof(buf), "%s/droverd.sock", c->run_dir);
		if (agentconf_set_str(&c->socket, buf) < 0)
			return -ENOMEM;
	}
	if (agentconf_dup_default(&c->tls_cert, AGENTCONF_PKI_DIR
	    "/server.crt") < 0 ||
	    agentconf_dup_default(&c->tls_key, AGENTCONF_PKI_DIR
	    "/server.key") < 0 ||
	    agentconf_dup_default(&c->tls_ca, AGENTCONF_PKI_DIR "/ca.crt") < 0)
		return -ENOMEM;
	return 0;
}

void
agentconf_free(struct agentconf *c)
{
	char **strs[] = { &c->state_dir, &c->run_dir, &c->socket,
		&c->manifests, &c->vmm_path, &c->node_name, &c->cgroup_root,
		&c->cgroup_parent, &c->vmm_user, &c->log_file, &c->listen,
		&c->ephemeral_dir, &c->net_bridge, &c->net_cidr,
		&c->net_resolv, &c->tls_cert, &c->tls_key, &c->tls_ca,
		&c->user };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	json_decref(c->images);
	c->images = NULL;
}

/* A quantity (string or number) in units of 10^scale (0 or -3). */
static int
agentconf_quantity(const json_t *v, int scale, int64_t *out)
{
	struct quantity q;
	const char *why = NULL;
	char buf[64];
	const char *s = buf;

	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
	else
		return -EINVAL;
	if (quantity_parse(s, &q, &why) < 0 || quantity_sign(&q) < 0)
		return -EINVAL;
	return quantity_scaled(&q, scale, out) < 0 ? -ERANGE : 0;
}

/* {"cpu": Q, "memory": Q} */
static int
agentconf_resources(const json_t *v, int64_t *cpu_milli, int64_t *mem,
    char *which, size_t wlen)
{
	const char *key;
	json_t *q;

	if (!json_is_object(v))
		return snprintf(which, wlen, "an object"), -1;
	json_object_foreach((json_t *)v, key, q) {
		if (strcmp(key, "cpu") == 0) {
			if (agentconf_quantity(q, -3, cpu_milli) < 0)
				return snprintf(which, wlen, "cpu: a quantity "
				    "such as \"500m\""), -1;
		} else if (strcmp(key, "memory") == 0) {
			if (agentconf_quantity(q, 0, mem) < 0)
				return snprintf(which, wlen, "memory: a "
				    "quantity such as \"512Mi\""), -1;
		} else
			return snprintf(which, wlen, "\"cpu\" and \"memory\" "
			    "only, not \"%s\"", key), -1;
	}
	return 0;
}

/* "network": true | false | {"bridge": NAME, "cidr": CIDR, "resolv-conf":
 * FILE, "pool": N}; the values are checked by podnet_open() at start. */
static int
agentconf_network(struct agentconf *c, const json_t *v, char *want,
    size_t wlen)
{
	const char *key;
	json_t *e;

	if (json_is_boolean(v)) {
		c->network = json_is_true(v);
		return 0;
	}
	if (!json_is_object(v))
		return snprintf(want, wlen, "true, false or {\"bridge\", "
		    "\"cidr\", \"resolv-conf\"}"), -1;
	json_object_foreach((json_t *)v, key, e) {
		char **f;

		if (strcmp(key, "pool") == 0) {
			if (!json_is_integer(e) || json_integer_value(e) < 0 ||
			    json_integer_value(e) > 8)
				return snprintf(want, wlen, "pool: 0 to 8"), -1;
			c->net_pool = (int)json_integer_value(e);
			continue;
		}
		f = strcmp(key, "bridge") == 0 ? &c->net_bridge :
		    strcmp(key, "cidr") == 0 ? &c->net_cidr :
		    strcmp(key, "resolv-conf") == 0 ? &c->net_resolv : NULL;

		if (f == NULL)
			return snprintf(want, wlen, "\"bridge\", \"cidr\", "
			    "\"resolv-conf\" and \"pool\" only, not \"%s\"",
			    key), -1;
		if (!json_is_string(e))
			return snprintf(want, wlen, "%s: a string", key), -1;
		if (agentconf_set_str(f, json_string_value(e)) < 0)
			return snprintf(want, wlen, "memory"), -1;
	}
	c->network = 1;
	return 0;
}

/* "tls": {"cert": FILE, "key": FILE, "client-ca": FILE} */
static int
agentconf_tls(struct agentconf *c, const json_t *v, char *want, size_t wlen)
{
	const char *key;
	json_t *f;

	if (!json_is_object(v))
		return snprintf(want, wlen, "an object"), -1;
	json_object_foreach((json_t *)v, key, f) {
		char **field = strcmp(key, "cert") == 0 ? &c->tls_cert :
		    strcmp(key, "key") == 0 ? &c->tls_key :
		    strcmp(key, "client-ca") == 0 ? &c->tls_ca : NULL;

		if (!field)
			return snprintf(want, wlen, "\"cert\", \"key\" and "
			    "\"client-ca\" only, not \"%s\"", key), -1;
		if (!json_is_string(f) || !*json_string_value(f))
			return snprintf(want, wlen, "%s: a file name", key), -1;
		if (agentconf_set_str(field, json_string_value(f)) < 0)
			return snprintf(want, wlen, "memory"), -1;
	}
	c->tls_configured = 1;
	return 0;
}

/* "api": the transport's limits (numbers, 0 for the default). */
static int
agentconf_api(struct agentconf *c, const json_t *v, char *want, size_t wlen)
{
	static const struct { const char *key; size_t off; json_int_t max; }
	    keys[] = {
		{ "max-conns", offsetof(struct agentconf, api_max_conns), 65536 },
		{ "max-body", offsetof(struct agentconf, api_max_body),
		    1 << 30 },
		{ "max-header", offsetof(struct agentconf, api_max_header),
		    1 << 20 },
		{ "max-out", offsetof(struct agentconf, api_max_out), 1 << 30 },
		{ "header-timeout", offsetof(struct agentconf,
		    api_header_timeout), 86400 },
		{ "idle-timeout", offsetof(struct agentconf, api_idle_timeout),
		    86400 },
		{ "body-timeout", offsetof(struct agentconf, api_body_timeout),
		    86400 },
		{ "send-timeout", offsetof(struct agentconf, api_send_timeout),
		    86400 },
	};
	const char *key;
	json_t *n;

	if (!json_is_object(v))
		return snprintf(want, wlen, "an object"), -1;
	json_object_foreach((json_t *)v, key, n) {
		size_t i;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i].key, key) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return snprintf(want, wlen, "no key \"%s\" (see "
			    "agentconf.h)", key), -1;
		if (!json_is_integer(n) || json_integer_value(n) < 0 ||
		    json_integer_value(n) > keys[i].max)
			return snprintf(want, wlen, "%s: an integer from 0 to "
			    "%lld", key, (long long)keys[i].max), -1;
		*(unsigned *)((char *)c + keys[i].off) =
		    (unsigned)json_integer_value(n);
	}
	return 0;
}

enum agentconf_type { AC_STR, AC_INT, AC_BOOL, AC_LEVEL, AC_RES, AC_QTY,
	AC_OBJ, AC_NET, AC_TLS, AC_API, AC_HPA };

struct agentconf_key {
	const char *key;
	enum agentconf_type type;
	size_t off;		/* AC_STR: char *; AC_INT: int/unsigned */
	size_t off2;		/* AC_RES: the memory field */
};

#define OFF(f) offsetof(struct agentconf, f)

static const struct agentconf_key agentconf_keys[] = {
	{ "state-dir", AC_STR, OFF(state_dir), 0 },
	{ "run-dir", AC_STR, OFF(run_dir), 0 },
	{ "ephemeral-dir", AC_STR, OFF(ephemeral_dir), 0 },
	{ "socket", AC_STR, OFF(socket), 0 },
	{ "manifests", AC_STR, OFF(manifests), 0 },
	{ "vmm", AC_STR, OFF(vmm_path), 0 },
	{ "node-name", AC_STR, OFF(node_name), 0 },
	{ "reserve", AC_RES, OFF(reserve_cpu_milli), OFF(reserve_memory) },
	{ "cgroup-root", AC_STR, OFF(cgroup_root), 0 },
	{ "cgroup-parent", AC_STR, OFF(cgroup_parent), 0 },
	{ "vmm-user", AC_STR, OFF(vmm_user), 0 },
	{ "user", AC_STR, OFF(user), 0 },
	{ "grace-period", AC_INT, OFF(grace_period), 0 },
	{ "images", AC_OBJ, OFF(images), 0 },
	{ "log-level", AC_LEVEL, OFF(log_level), 0 },
	{ "log-file", AC_STR, OFF(log_file), 0 },
	{ "runtime", AC_BOOL, OFF(runtime), 0 },
	{ "listen", AC_STR, OFF(listen), 0 },
	{ "tls", AC_TLS, 0, 0 },
	{ "api", AC_API, 0, 0 },
	{ "hpa", AC_HPA, 0, 0 },
	{ "poll-ms", AC_INT, OFF(poll_ms), 0 },
	{ "capacity", AC_RES, OFF(capacity_cpu_milli), OFF(capacity_memory) },
	{ "vmm-overhead", AC_QTY, OFF(vmm_overhead), 0 },
	{ "network", AC_NET, OFF(network), 0 },
};

#define AGENTCONF_NKEYS (sizeof(agentconf_keys) / sizeof(agentconf_keys[0]))

/* "hpa": the HPA controller's settings (seconds; tolerance a number). */
static int
agentconf_hpa(struct agentconf *c, const json_t *v, char *want, size_t wlen)
{
	static const struct { const char *key; size_t off; int min; }
	    keys[] = {
		{ "sync-period", offsetof(struct agentconf, hpa_sync_s), 1 },
		{ "downscale-stabilization", offsetof(struct agentconf,
		    hpa_downscale_s), 0 },
		{ "cpu-initialization-period", offsetof(struct agentconf,
		    hpa_cpu_init_s), 0 },
		{ "initial-readiness-delay", offsetof(struct agentconf,
		    hpa_readiness_s), 0 },
	};
	const char *key;
	json_t *n;

	if (!json_is_object(v))
		return snprintf(want, wlen, "an object"), -1;
	json_object_foreach((json_t *)v, key, n) {
		size_t i;

		if (!strcmp(key, "tolerance")) {
			if (!json_is_number(n) || !(json_number_value(n) >= 0) ||
			    json_number_value(n) > 1)
				return snprintf(want, wlen, "tolerance: a number "
				    "from 0 to 1"), -1;
			c->hpa_tolerance = json_number_value(n);
			continue;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].key, key))
				break;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return snprintf(want, wlen, "no key \"%s\" (see "
			    "agentconf.h)", key), -1;
		if (!json_is_integer(n) || json_integer_value(n) < keys[i].min ||
		    json_integer_value(n) > 3600)
			return snprintf(want, wlen, "%s: an integer from %d to "
			    "3600", key, keys[i].min), -1;
		*(int *)((char *)c + keys[i].off) = (int)json_integer_value(n);
	}
	return 0;
}

/* One key; -1 with want filled with what was expected. */
static int
agentconf_one(struct agentconf *c, const struct agentconf_key *k,
    const json_t *v, char *want, size_t wlen)
{
	char *base = (char *)c;
	json_int_t i;
	int level;

	switch (k->type) {
	case AC_STR:
		if (!json_is_string(v))
			return snprintf(want, wlen, "a string"), -1;
		return agentconf_set_str((char **)(base + k->off),
		    json_string_value(v)) < 0 ? (snprintf(want, wlen,
		    "memory"), -1) : 0;
	case AC_INT:
		i = json_integer_value(v);
		if (!json_is_integer(v) || i < 0 || i > 86400000)
			return snprintf(want, wlen, "an integer from 0 to "
			    "86400000"), -1;
		*(int *)(base + k->off) = (int)i;
		return 0;
	case AC_BOOL:
		if (!json_is_boolean(v))
			return snprintf(want, wlen, "true or false"), -1;
		*(int *)(base + k->off) = json_is_true(v);
		return 0;
	case AC_LEVEL:
		level = json_is_string(v) ?
		    log_level_parse(json_string_value(v)) : -1;
		if (level < 0)
			return snprintf(want, wlen, "error, warn, info or "
			    "debug"), -1;
		c->log_level = level;
		return 0;
	case AC_RES:
		return agentconf_resources(v, (int64_t *)(base + k->off),
		    (int64_t *)(base + k->off2), want, wlen);
	case AC_QTY:
		if (agentconf_quantity(v, 0, (int64_t *)(base + k->off)) < 0)
			return snprintf(want, wlen, "a quantity such as "
			    "\"32Mi\""), -1;
		return 0;
	case AC_NET:
		return agentconf_network(c, v, want, wlen);
	case AC_OBJ:
		if (!json_is_object(v))
			return snprintf(want, wlen, "an object"), -1;
		json_decref(c->images);
		c->images = json_incref((json_t *)v);
		return 0;
	case AC_TLS:
		return agentconf_tls(c, v, want, wlen);
	case AC_API:
		return agentconf_api(c, v, want, wlen);
	case AC_HPA:
		return agentconf_hpa(c, v, want, wlen);
	}
	return -1;
}

int
agentconf_load(struct agentconf *c, const char *path, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	char want[160];
	int rc = 0;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s: line %d: %s", path, jerr.line,
		    jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: not a JSON object", path);
		json_decref(root);
		return -1;
	}
	json_object_foreach(root, key, v) {
		const struct agentconf_key *k = NULL;

		for (size_t i = 0; i < AGENTCONF_NKEYS && !k; i++)
			if (strcmp(agentconf_keys[i].key, key) == 0)
				k = &agentconf_keys[i];
		if (!k) {
			snprintf(err, errlen, "%s: unknown key \"%s\" (see "
			    "droverd --help)", path, key);
			rc = -1;
			break;
		}
		if (agentconf_one(c, k, v, want, sizeof(want)) < 0) {
			snprintf(err, errlen, "%s: \"%s\": want %s", path, key,
			    want);
			rc = -1;
			break;
		}
	}
	json_decref(root);
	return rc;
}
