/*
 * config_dev.c: drover-vmm's disks and NICs, from --disk/--net specs
 * ("path=FILE,format=qcow2,...": KEY=VALUE items split at commas) and from
 * JSON objects in vm.json's "disk" and "net" (the same keys). Errors name
 * the flag or field ("--disk", "vm.json: disk[0]").
 *
 * A disk's backing chain is pinned here, level by level, and never found
 * in an image: backing[0] is the disk's backing file, backing[1] that
 * one's, ..., down to the base, each with its format. On the command line
 * the i-th backing= and the i-th backing-format= make one level (given as
 * pairs, one pair per level); in JSON "backing" is one file name (with
 * "backing-format") or a list of {"path": FILE, "format": "raw"|"qcow2"}.
 * Only the base may be raw, a file may not appear twice (the chain cannot
 * loop; blk_qcow2_open_chain also compares devices and inodes) and there
 * are at most VMM_DISK_MAX_BACKING levels.
 */
#include "config_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
vmm_config_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (s[i * 3] == '+' || s[i * 3] == '-' || s[i * 3] == ' ' ||
		    s[i * 3 + 1] == ' ')
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	/* A multicast address cannot be a NIC's own. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

/* A tap fd number: a small non-negative integer, not stdio. */
static int
cfg_parse_fd(const char *v, int *fd)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || v[0] == '-' || n < 3 ||
	    n > 65535)
		return -EINVAL;
	*fd = (int)n;
	return 0;
}

static int
cfg_serial_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > VMM_SERIAL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return 0;
	return 1;
}

static struct vmm_disk_config *
cfg_new_disk(struct vmm_config *c, const char *field)
{
	struct vmm_disk_config *d;

	if (c->ndisks >= VMM_MAX_DISKS) {
		vmm_cfg_error(field, "at most %d disks", VMM_MAX_DISKS);
		return NULL;
	}
	d = &c->disk[c->ndisks++];
	memset(d, 0, sizeof(*d));
	return d;
}

static struct vmm_net_config *
cfg_new_net(struct vmm_config *c, const char *field)
{
	struct vmm_net_config *n;

	if (c->nnets >= VMM_MAX_NETS) {
		vmm_cfg_error(field, "at most %d network devices", VMM_MAX_NETS);
		return NULL;
	}
	n = &c->net[c->nnets++];
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	return n;
}

static const char *const cfg_disk_formats[VMM_DISK_FORMATS] = {
	[VMM_DISK_RAW] = "raw",
	[VMM_DISK_QCOW2] = "qcow2",
};

const char *
vmm_disk_format_name(enum vmm_disk_format f)
{
	return (unsigned)f < VMM_DISK_FORMATS ? cfg_disk_formats[f] : "?";
}

static int
cfg_disk_format(const char *field, const char *key, const char *val,
    enum vmm_disk_format *out)
{
	for (unsigned i = 0; i < VMM_DISK_FORMATS; i++)
		if (strcmp(val, cfg_disk_formats[i]) == 0) {
			*out = (enum vmm_disk_format)i;
			return 0;
		}
	return vmm_cfg_error(field, "%s '%s' is not raw or qcow2", key, val);
}

/* backing=FILE: the next level of the chain. */
static int
cfg_disk_backing(struct vmm_disk_config *d, const char *field,
    const char *val)
{
	int err;

	if (d->nbacking >= VMM_DISK_MAX_BACKING)
		return vmm_cfg_error(field, "backing file %u: at most %d backing "
		    "files under a disk", d->nbacking + 1, VMM_DISK_MAX_BACKING);
	err = vmm_cfg_set_str(&d->backing[d->nbacking].path, field, val);
	if (err == 0)
		d->nbacking++;
	return err;
}

/* backing-format=FMT: the format of the next level without one. */
static int
cfg_disk_backing_format(struct vmm_disk_config *d, const char *field,
    const char *val)
{
	int err;

	if (d->nbacking_format >= VMM_DISK_MAX_BACKING)
		return vmm_cfg_error(field, "backing-format %u: at most %d "
		    "backing files under a disk", d->nbacking_format + 1,
		    VMM_DISK_MAX_BACKING);
	err = cfg_disk_format(field, "backing-format", val,
	    &d->backing[d->nbacking_format].format);
	if (err == 0)
		d->nbacking_format++;
	return err;
}

/* One KEY=VALUE (or flag) of a disk spec or JSON disk object. */
static int
cfg_disk_key(struct vmm_disk_config *d, const char *field, const char *key,
    const char *val)
{
	if (strcmp(key, "path") == 0 && val)
		return vmm_cfg_set_str(&d->path, field, val);
	if (strcmp(key, "format") == 0 && val)
		return cfg_disk_format(field, key, val, &d->format);
	if (strcmp(key, "backing") == 0 && val)
		return cfg_disk_backing(d, field, val);
	if (strcmp(key, "backing-format") == 0 && val)
		return cfg_disk_backing_format(d, field, val);
	if (strcmp(key, "ro") == 0 && val == NULL) {
		d->ro = 1;
		return 0;
	}
	if (strcmp(key, "serial") == 0 && val) {
		if (!cfg_serial_ok(val))
			return vmm_cfg_error(field, "serial '%s' must be 1 to %d "
			    "printable characters without spaces", val,
			    VMM_SERIAL_MAX);
		return vmm_cfg_set_str(&d->serial, field, val);
	}
	return vmm_cfg_error(field, "unknown disk option '%s' (path=FILE, "
	    "format=raw|qcow2, ro, serial=ID, backing=FILE, "
	    "backing-format=raw|qcow2, a pair per backing file)", key);
}

static int
cfg_net_key(struct vmm_net_config *n, const char *field, const char *key,
    const char *val)
{
	if (strcmp(key, "tap") == 0 && val) {
		if (strlen(val) == 0 || strlen(val) >= 16 || strchr(val, '/'))
			return vmm_cfg_error(field, "tap name '%s' must be 1 to 15 "
			    "bytes without '/'", val);
		return vmm_cfg_set_str(&n->tap, field, val);
	}
	if (strcmp(key, "fd") == 0 && val) {
		if (cfg_parse_fd(val, &n->fd) < 0)
			return vmm_cfg_error(field, "fd '%s' is not an open file "
			    "descriptor number (3 to 65535)", val);
		return 0;
	}
	if (strcmp(key, "mac") == 0 && val) {
		if (vmm_config_parse_mac(val, n->mac) < 0)
			return vmm_cfg_error(field, "mac '%s' is not a unicast "
			    "address like 52:54:00:12:34:56", val);
		n->has_mac = 1;
		return 0;
	}
	return vmm_cfg_error(field, "unknown network option '%s' (tap=NAME, fd=N, "
	    "mac=MAC)", key);
}

/* Split "a=1,b,c=3" and feed each item to one of the key functions. */
static int
cfg_spec(const char *field, const char *spec, void *obj,
    int (*key)(void *, const char *, const char *, const char *))
{
	char *copy, *item, *save = NULL, *eq;
	int err = 0;

	if ((copy = strdup(spec)) == NULL)
		return vmm_cfg_error(field, "out of memory");
	for (item = strtok_r(copy, ",", &save); item && err == 0;
	    item = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(item, '=')) != NULL)
			*eq++ = '\0';
		err = key(obj, field, item, eq);
	}
	free(copy);
	return err;
}

static int
cfg_disk_key_v(void *o, const char *f, const char *k, const char *v)
{
	return cfg_disk_key(o, f, k, v);
}

static int
cfg_net_key_v(void *o, const char *f, const char *k, const char *v)
{
	return cfg_net_key(o, f, k, v);
}

/* The chain: a format for every level, only the base raw, no loop. */
static int
cfg_check_chain(const struct vmm_disk_config *d, const char *field)
{
	const struct vmm_disk_backing *b = d->backing;
	unsigned n = d->nbacking;

	if (d->nbacking_format > n && n == 0)
		return vmm_cfg_error(field, "backing-format needs backing=FILE");
	if (d->nbacking_format > n)
		return vmm_cfg_error(field, "%u backing-format= for %u "
		    "backing=: one format for each backing file",
		    d->nbacking_format, n);
	if (d->nbacking_format < n && n == 1)
		return vmm_cfg_error(field, "backing=FILE needs backing-format="
		    "raw|qcow2 (the format is never guessed)");
	if (d->nbacking_format < n)
		return vmm_cfg_error(field, "backing file %u (%s) has no "
		    "backing-format=raw|qcow2 (the i-th backing-format= is the "
		    "i-th backing='s; formats are never guessed)",
		    d->nbacking_format + 1, b[d->nbacking_format].path);
	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n && b[i].format != VMM_DISK_QCOW2)
			return vmm_cfg_error(field, "backing file %u (%s) is "
			    "%s, but backing file %u follows it: only the last "
			    "one (the base) may be raw", i + 1, b[i].path,
			    vmm_disk_format_name(b[i].format), i + 2);
		if (strcmp(b[i].path, d->path) == 0)
			return vmm_cfg_error(field, "backing file %u (%s) is the "
			    "disk itself: a backing chain cannot loop", i + 1,
			    b[i].path);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(b[i].path, b[j].path) == 0)
				return vmm_cfg_error(field, "backing file %u "
				    "(%s) is also backing file %u: a backing "
				    "chain cannot loop", i + 1, b[i].path,
				    j + 1);
	}
	return 0;
}

static int
cfg_check_disk(const struct vmm_disk_config *d, const char *field)
{
	if (d->path == NULL)
		return vmm_cfg_error(field, "path=FILE is required");
	if (d->nbacking && d->format != VMM_DISK_QCOW2)
		return vmm_cfg_error(field, "backing=FILE needs format=qcow2");
	return cfg_check_chain(d, field);
}

static int
cfg_check_net(const struct vmm_net_config *n, const char *field)
{
	if ((n->tap == NULL) == (n->fd < 0))
		return vmm_cfg_error(field, "give exactly one of tap=NAME and fd=N");
	return 0;
}

int
vmm_cfg_add_disk(struct vmm_config *c, const char *field, const char *spec)
{
	struct vmm_disk_config *d = cfg_new_disk(c, field);
	int err;

	if (d == NULL)
		return -EINVAL;
	if ((err = cfg_spec(field, spec, d, cfg_disk_key_v)) < 0)
		return err;
	return cfg_check_disk(d, field);
}

int
vmm_cfg_add_net(struct vmm_config *c, const char *field, const char *spec)
{
	struct vmm_net_config *n = cfg_new_net(c, field);
	int err;

	if (n == NULL)
		return -EINVAL;
	if ((err = cfg_spec(field, spec, n, cfg_net_key_v)) < 0)
		return err;
	return cfg_check_net(n, field);
}

/* ---- JSON ---------------------------------------------------------------- */

/* One entry of a JSON backing list: {"path": FILE, "format": FMT}. */
static int
json_backing_entry(struct vmm_disk_config *d, const char *item, json_t *e)
{
	json_t *path, *fmt, *v;
	const char *key;
	int err;

	if (!json_is_object(e))
		return vmm_cfg_error(item, "must be an object {\"path\": FILE, "
		    "\"format\": \"raw\"|\"qcow2\"}");
	json_object_foreach(e, key, v) {
		if (strcmp(key, "path") && strcmp(key, "format"))
			return vmm_cfg_error(item, "unknown field '%s' (path, "
			    "format)", key);
		if (!json_is_string(v))
			return vmm_cfg_error(item, "%s must be a string", key);
	}
	path = json_object_get(e, "path");
	fmt = json_object_get(e, "format");
	if (path == NULL)
		return vmm_cfg_error(item, "path is required");
	if (fmt == NULL)
		return vmm_cfg_error(item, "format is required (raw or qcow2; "
		    "it is never guessed)");
	if ((err = cfg_disk_backing(d, item, json_string_value(path))) < 0)
		return err;
	return cfg_disk_backing_format(d, item, json_string_value(fmt));
}

/* "backing": [{"path": ..., "format": ...}, ...] (or one such object):
 * the disk's backing file first, the base last. */
static int
json_backing_list(struct vmm_disk_config *d, const char *field, json_t *v)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	char item[200];
	int err;

	if (n == 0)
		return vmm_cfg_error(field, "backing: an empty list (leave it "
		    "out for a disk without a backing file)");
	if (n > VMM_DISK_MAX_BACKING)
		return vmm_cfg_error(field, "backing: %zu backing files (at most "
		    "%d under a disk)", n, VMM_DISK_MAX_BACKING);
	for (size_t i = 0; i < n; i++) {
		snprintf(item, sizeof(item), "%s: backing[%zu]", field, i);
		err = json_backing_entry(d, item, json_is_array(v) ?
		    json_array_get(v, i) : v);
		if (err < 0)
			return err;
	}
	return 0;
}

/* A JSON disk: {"path": "d.qcow2", "format": "qcow2", "ro": true,
 * "serial": "ID", "backing": "base.raw", "backing-format": "raw"}, or
 * "backing": [{"path": "mid.qcow2", "format": "qcow2"}, {"path":
 * "base.raw", "format": "raw"}] for a chain. */
static int
json_disk_obj(struct vmm_disk_config *d, const char *field, json_t *o)
{
	int listed = 0, fmt_given = 0, err;
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		if (strcmp(key, "ro") == 0) {
			if (!json_is_boolean(v))
				return vmm_cfg_error(field, "ro must be true or "
				    "false");
			d->ro = json_is_true(v);
			continue;
		}
		if (strcmp(key, "backing") == 0 && (json_is_array(v) ||
		    json_is_object(v))) {
			if ((err = json_backing_list(d, field, v)) < 0)
				return err;
			listed = 1;
			continue;
		}
		fmt_given |= strcmp(key, "backing-format") == 0;
		if (!json_is_string(v))
			return vmm_cfg_error(field, "%s must be a string%s", key,
			    strcmp(key, "backing") == 0 ? " or a list of "
			    "{\"path\": FILE, \"format\": FMT}" : "");
		if ((err = cfg_disk_key(d, field, key,
		    json_string_value(v))) < 0)
			return err;
	}
	if (listed && fmt_given)
		return vmm_cfg_error(field, "backing-format: not with a list of "
		    "backing files (each entry has its own \"format\")");
	return cfg_check_disk(d, field);
}

/* A JSON NIC: {"tap": "tap0", "mac": "52:54:00:12:34:56"} or "fd": 3. */
static int
json_net_obj(struct vmm_net_config *n, const char *field, json_t *o)
{
	const char *key;
	char num[24];
	json_t *v;

	json_object_foreach(o, key, v) {
		if (strcmp(key, "fd") == 0 && json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(v));
			if (cfg_net_key(n, field, key, num) < 0)
				return -EINVAL;
			continue;
		}
		if (strcmp(key, "fd") == 0)
			return vmm_cfg_error(field, "fd must be a number");
		if (!json_is_string(v))
			return vmm_cfg_error(field, "%s must be a string", key);
		if (cfg_net_key(n, field, key, json_string_value(v)) < 0)
			return -EINVAL;
	}
	return cfg_check_net(n, field);
}

/* "disk"/"net": a list of objects or spec strings (or just one). */
int
vmm_cfg_json_devices(struct vmm_config *c, const char *field, json_t *v, int disk)
{
	char item[160];
	size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
	json_t *e;
	int err;

	for (i = 0; i < n; i++) {
		e = json_is_array(v) ? json_array_get(v, i) : v;
		snprintf(item, sizeof(item), "%s[%zu]", field, i);
		if (json_is_string(e))
			err = disk ? vmm_cfg_add_disk(c, item, json_string_value(e)) :
			    vmm_cfg_add_net(c, item, json_string_value(e));
		else if (!json_is_object(e))
			err = vmm_cfg_error(item, "must be an object or a spec "
			    "string");
		else if (disk) {
			struct vmm_disk_config *d = cfg_new_disk(c, item);

			err = d ? json_disk_obj(d, item, e) : -EINVAL;
		} else {
			struct vmm_net_config *nc = cfg_new_net(c, item);

			err = nc ? json_net_obj(nc, item, e) : -EINVAL;
		}
		if (err < 0)
			return err;
	}
	return 0;
}


void
vmm_cfg_free_devices(struct vmm_config *c)
{
	for (unsigned i = 0; i < c->ndisks; i++) {
		free(c->disk[i].path);
		free(c->disk[i].serial);
		for (unsigned j = 0; j < VMM_DISK_MAX_BACKING; j++)
			free(c->disk[i].backing[j].path);
	}
	for (unsigned i = 0; i < c->nnets; i++)
		free(c->net[i].tap);
}
