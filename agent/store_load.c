/*
 * store_load.c: reading the store back at open (store_disk.c opens it):
 * the object files, checked against their directory and metadata, and
 * the write-ahead journal's records replayed over them. Damage is
 * reported by file name (and byte, in the journal), never dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "log.h"
#include "store_priv.h"

static int
is_tmp(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '.' && len >= 4 && !strcmp(name + len - 4, ".tmp");
}

/* Is rel/name a directory (d_type, else fstatat)? */
static int
is_dir(int dirfd, const struct dirent *d)
{
	struct stat st;

	if (d->d_type != DT_UNKNOWN)
		return d->d_type == DT_DIR;
	return fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

static int
damaged(struct store *s, const char *path, char *err, size_t errlen,
    const char *why)
{
	return store_seterr(err, errlen, -EINVAL, "%s/%s: damaged store "
	    "file: %s (repair or remove it)", s->dir, path, why);
}

static int
check_meta(struct store *s, const struct store_kind *k, const char *path,
    const char *ns, const char *name, json_t *obj, char *err, size_t errlen)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *v;
	char why[400];
	uint64_t rv;

	if (!json_is_object(obj))
		return damaged(s, path, err, errlen, "not a JSON object");
	v = json_string_value(json_object_get(obj, "kind"));
	if (v == NULL || strcmp(v, k->kind)) {
		snprintf(why, sizeof(why), "kind \"%.40s\", its directory says "
		    "\"%s\"", v ? v : "", k->kind);
		return damaged(s, path, err, errlen, why);
	}
	if (!json_is_object(md))
		return damaged(s, path, err, errlen, "no metadata");
	v = json_string_value(json_object_get(md, "name"));
	if (v == NULL || strcmp(v, name)) {
		snprintf(why, sizeof(why), "metadata.name \"%.253s\" does not "
		    "match the file name", v ? v : "");
		return damaged(s, path, err, errlen, why);
	}
	v = json_string_value(json_object_get(md, "namespace"));
	if (k->namespaced ? v == NULL || strcmp(v, ns) : v && *v) {
		snprintf(why, sizeof(why), "metadata.namespace \"%.63s\" does "
		    "not match its directory", v ? v : "");
		return damaged(s, path, err, errlen, why);
	}
	v = json_string_value(json_object_get(md, "uid"));
	if (v == NULL || *v == '\0')
		return damaged(s, path, err, errlen, "no metadata.uid");
	if (!json_is_string(json_object_get(md, "creationTimestamp")))
		return damaged(s, path, err, errlen,
		    "no metadata.creationTimestamp");
	if (json_integer_value(json_object_get(md, "generation")) < 1)
		return damaged(s, path, err, errlen, "no metadata.generation");
	v = json_string_value(json_object_get(md, "resourceVersion"));
	if (store_parse_u64(v, &rv) < 0 || rv == 0)
		return damaged(s, path, err, errlen,
		    "no decimal metadata.resourceVersion");
	return 0;
}

/* A whole file (jansson's json_loadfd reads a byte per read(2)). */
static int
read_file(int dirfd, const char *file, size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	char *buf;
	int fd, rc = 0;

	*out = NULL;
	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			free(buf);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
out:
	close(fd);
	return rc;
}

static int
load_file(struct store *s, struct store_kind *k, int dirfd, const char *rel,
    const char *ns, const char *file, char *err, size_t errlen)
{
	char path[STORE_PATH_LEN], why[300], *buf;
	const char *name = file;
	json_error_t jerr;
	json_t *obj;
	size_t pos, len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", rel, file);
	if (store_name_check("name", name, STORE_NAME_MAX, 1, NULL, 0) < 0)
		return damaged(s, path, err, errlen, "not a valid object name");
	rc = read_file(dirfd, file, STORE_FILE_MAX, &buf, &len);
	if (rc == -EFBIG)
		return damaged(s, path, err, errlen, "larger than 16 MiB");
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: %s", s->dir,
		    path, strerror(-rc));
	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (obj == NULL) {
		snprintf(why, sizeof(why), "line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return damaged(s, path, err, errlen, why);
	}
	rc = check_meta(s, k, path, ns, name, obj, err, errlen);
	if (rc == 0 && store_find(k, ns, name, &pos) != NULL)
		rc = damaged(s, path, err, errlen, "loaded twice");
	if (rc == 0)
		rc = store_insert(k, obj, pos);
	if (rc < 0) {
		json_decref(obj);
		return rc == -ENOMEM ? store_seterr(err, errlen, rc,
		    "out of memory") : rc;
	}
	if (k->v[pos].rv > s->rv)
		s->rv = k->v[pos].rv;
	return 0;
}

/*
 * Every entry of rel: in a namespaced kind's directory (namespaces), the
 * namespaces' directories; else (a namespace's directory, a cluster-scoped
 * kind's), objects, where any file not starting with '.' must be one.
 * Temp files a crash left are removed; other entries starting with '.'
 * (never an object's name) and, in a kind's directory, entries that are
 * not namespaces, are left alone with a warning.
 */
int
store_load_dir(struct store *s, struct store_kind *k, const char *rel,
    const char *ns, int namespaces, char *err, size_t errlen)
{
	char sub[STORE_PATH_LEN];
	struct dirent *d;
	DIR *dir;
	int fd, rc = 0;

	fd = openat(s->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : store_seterr(err, errlen, -errno,
		    "%s/%s: %s", s->dir, rel, strerror(errno));
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return store_seterr(err, errlen, -errno, "%s/%s: %s", s->dir,
		    rel, strerror(errno));
	}
	while (rc == 0 && (d = readdir(dir)) != NULL) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (is_tmp(d->d_name)) {
			log_info("%s/%s/%s: removing an unfinished write",
			    s->dir, rel, d->d_name);
			unlinkat(fd, d->d_name, 0);
		} else if (namespaces && is_dir(fd, d) && store_name_check(
		    "namespace", d->d_name, STORE_NS_MAX, 0, NULL, 0) == 0) {
			snprintf(sub, sizeof(sub), "%s/%s", rel, d->d_name);
			rc = store_load_dir(s, k, sub, d->d_name, 0, err, errlen);
		} else if (!namespaces && d->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", rel, d->d_name);
			rc = is_dir(fd, d) ? damaged(s, sub, err, errlen,
			    "a directory where an object should be") :
			    load_file(s, k, fd, rel, ns, d->d_name, err, errlen);
			if (rc == -EINVAL && !strcmp(k->kind, "Event")) {
				/* Written without fsync: a crash may tear
				 * one; it is only a record. */
				log_warnx("%s; an Event: removed", err);
				unlinkat(fd, d->d_name, 0);
				rc = 0;
			}
		} else {
			log_warnx("%s/%s/%s: not a store file; ignored", s->dir,
			    rel, d->d_name);
		}
	}
	closedir(dir);
	return rc;
}

/* ---- the journal: replay at open ------------------------------------------ */

/* "<op> <len> <crc>\n" at p: the header's length, or 0 if it is none. */
static size_t
rec_header(const char *p, size_t n, char *op, size_t *plen,
    unsigned long *crc)
{
	const char *nl = memchr(p, '\n', n < 40 ? n : 40);
	char buf[48], *end;
	unsigned long long l;
	size_t i;

	if (nl == NULL || (p[0] != 'P' && p[0] != 'D') || p[1] != ' ')
		return 0;
	memcpy(buf, p, (size_t)(nl - p));
	buf[nl - p] = '\0';
	if (buf[2] < '0' || buf[2] > '9')
		return 0;
	errno = 0;
	l = strtoull(buf + 2, &end, 10);
	if (errno || *end != ' ' || l > STORE_JOURNAL_READ_MAX || strlen(end + 1) != 8)
		return 0;
	for (i = 1; i <= 8; i++)
		if (!strchr("0123456789abcdef", end[i]))
			return 0;
	*crc = strtoul(end + 1, NULL, 16);
	*op = p[0];
	*plen = (size_t)l;
	return (size_t)(nl - p) + 1;
}

static int
all_zero(const char *p, size_t n)
{
	while (n > 0 && *p == '\0')
		p++, n--;
	return n == 0;
}

/* One record's payload (path "\n" [JSON]) applied to memory. */
static int
rec_apply(struct store *s, char op, const char *pl, size_t plen,
    const char *where, char *err, size_t errlen)
{
	const char *nl = memchr(pl, '\n', plen);
	char path[STORE_PATH_LEN], ns[STORE_NS_MAX + 1], name[STORE_NAME_MAX + 1];
	char desc[STORE_PATH_LEN + 64], why[300];
	struct store_kind *k;
	json_error_t jerr;
	json_t *obj;
	int rc;

	if (nl == NULL || nl - pl >= STORE_PATH_LEN)
		return damaged(s, where, err, errlen, "no object path");
	memcpy(path, pl, (size_t)(nl - pl));
	path[nl - pl] = '\0';
	snprintf(desc, sizeof(desc), "%s (%s)", where, path);
	if (store_disk_path_split(s, path, &k, ns, name) < 0)
		return damaged(s, desc, err, errlen, "not an object's path");
	if (op == 'D') {
		if ((size_t)(nl - pl) + 1 != plen)
			return damaged(s, desc, err, errlen,
			    "a delete with data");
		store_load_del(k, ns, name);
	} else {
		obj = json_loadb(nl + 1, plen - (size_t)(nl + 1 - pl),
		    JSON_REJECT_DUPLICATES, &jerr);
		if (obj == NULL) {
			snprintf(why, sizeof(why), "column %d: %s", jerr.column,
			    jerr.text);
			return damaged(s, desc, err, errlen, why);
		}
		rc = check_meta(s, k, desc, ns, name, obj, err, errlen);
		if (rc == 0 && store_obj_rv(obj) > s->rv)
			s->rv = store_obj_rv(obj);
		if (rc == 0 && (rc = store_load_put(k, obj)) < 0)
			rc = store_seterr(err, errlen, rc, "out of memory");
		if (rc < 0) {
			json_decref(obj);
			return rc;
		}
	}
	if (json_object_set_new(s->j.dirty, path, json_true()) < 0)
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

/*
 * Replay file over what the object files hold. A record cut short or
 * with a bad checksum at the very end is a write a crash interrupted
 * before it was acknowledged (the fdatasync had not returned): dropped,
 * with a warning. A bad record followed by more is damage: open fails,
 * naming the file and the byte.
 */
int
store_load_journal(struct store *s, const char *file, int *found, char *err,
    size_t errlen)
{
	char *buf, where[64], op;
	size_t len = 0, off = 0, hl, plen;
	unsigned long crc;
	int rc;

	*found = 0;
	rc = read_file(s->dirfd, file, STORE_JOURNAL_READ_MAX, &buf, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EFBIG)
		return damaged(s, file, err, errlen, "larger than 1 GiB");
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: %s", s->dir, file,
		    strerror(-rc));
	*found = 1;
	while (off < len) {
		const char *p = buf + off;

		snprintf(where, sizeof(where), "%s, byte %zu", file, off);
		hl = rec_header(p, len - off, &op, &plen, &crc);
		if (hl == 0 && !all_zero(p, len - off) &&
		    memchr(p, '\n', len - off)) {
			rc = damaged(s, where, err, errlen, "not a record");
			goto out;
		}
		if (hl == 0 || hl + plen + 1 > len - off)
			break;				/* cut short */
		if (crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p + hl,
		    (uInt)plen) != crc || p[hl + plen] != '\n') {
			if (off + hl + plen + 1 == len)
				break;			/* the last one */
			rc = damaged(s, where, err, errlen, "checksum mismatch");
			goto out;
		}
		if ((rc = rec_apply(s, op, p + hl, plen, where, err,
		    errlen)) < 0)
			goto out;
		off += hl + plen + 1;
	}
	if (off < len)
		log_warnx("%s/%s: byte %zu: an unfinished write (%zu bytes, "
		    "never acknowledged) dropped", s->dir, file, off,
		    len - off);
	rc = 0;
out:
	free(buf);
	return rc;
}

