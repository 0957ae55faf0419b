/*
 * store_disk.c: the store's files (layout and fsync order: store.c's
 * header comment), loading them at open, and name checks (names become
 * paths).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store_priv.h"

#define RV_FILE "resourceVersion"
#define RV_TMP ".resourceVersion.tmp"
#define PATH_LEN 640
#define STORE_FILE_MAX (16 << 20)

/* ---- names ---------------------------------------------------------------- */

static int
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * DNS-1123: a label is [a-z0-9]([-a-z0-9]*[a-z0-9])?; a subdomain is
 * labels joined by dots. Either way never "", ".", "..", nor a '/'.
 */
int
store_name_check(const char *what, const char *v, size_t max, int subdomain,
    char *err, size_t errlen)
{
	size_t len, i;
	char prev = '.';

	if (v == NULL || *v == '\0')
		return store_seterr(err, errlen, -EINVAL, "%s must not be empty",
		    what);
	len = strlen(v);
	if (len > max)
		return store_seterr(err, errlen, -EINVAL,
		    "%s \"%.40s...\" is longer than %zu characters", what, v,
		    max);
	for (i = 0; i < len; i++) {
		char c = v[i];

		if (c == '.' && subdomain) {
			if (!alnum(prev))
				goto bad;
		} else if (c == '-') {
			if (prev == '.')
				goto bad;
		} else if (!alnum(c)) {
			goto bad;
		}
		prev = c;
	}
	if (!alnum(prev))
		goto bad;
	return 0;
bad:
	return store_seterr(err, errlen, -EINVAL, "%s \"%s\" is invalid: a "
	    "lowercase RFC 1123 %s must consist of lower case alphanumeric "
	    "characters, '-'%s, and must start and end with an alphanumeric "
	    "character", what, v, subdomain ? "subdomain" : "label",
	    subdomain ? " or '.'" : "");
}

/* ---- paths ---------------------------------------------------------------- */

/* "Kind/ns" or "Kind" (cluster-scoped): the object's directory. */
static void
dir_of(const struct store_kind *k, const char *ns, char *buf, size_t len)
{
	if (k->namespaced)
		snprintf(buf, len, "%s/%s", k->kind, ns);
	else
		snprintf(buf, len, "%s", k->kind);
}

/* dir/name, or the directory's temp file dir/.tmp. */
static int
file_of(const char *dir, const char *name, int tmp, char *buf, size_t len)
{
	int n = tmp ? snprintf(buf, len, "%s/.tmp", dir) :
	    snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int
fsync_dir(struct store *s, const char *rel)
{
	int fd, rc = 0;

	fd = openat(s->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* mkdir rel; when it is new, fsync its parent (parent: "" = the top). */
static int
mkdir_durable(struct store *s, const char *rel, const char *parent)
{
	if (mkdirat(s->dirfd, rel, 0700) == 0)
		return *parent ? fsync_dir(s, parent) :
		    (fsync(s->dirfd) < 0 ? -errno : 0);
	return errno == EEXIST ? 0 : -errno;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * tmp -> fsync -> rename over path -> fsync of the directory: the file is
 * complete on disk before its name can point at it, and the name is on
 * disk before the caller acknowledges. Not durable (Events): no fsync.
 */
static int
replace_file(struct store *s, const char *dir, const char *tmp,
    const char *path, const char *data, size_t len, int durable)
{
	int fd, rc;

	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, len);
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(s->dirfd, tmp, s->dirfd, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(s->dirfd, tmp, 0);
		return rc;
	}
	if (!durable)
		return 0;
	return *dir ? fsync_dir(s, dir) : (fsync(s->dirfd) < 0 ? -errno : 0);
}

int
store_disk_write(struct store *s, const struct store_kind *k, const char *ns,
    const char *name, const json_t *obj, int durable, char *err,
    size_t errlen)
{
	char dir[PATH_LEN], path[PATH_LEN], tmp[PATH_LEN], *data;
	int rc;

	dir_of(k, ns, dir, sizeof(dir));
	if (file_of(dir, name, 0, path, sizeof(path)) < 0 ||
	    file_of(dir, name, 1, tmp, sizeof(tmp)) < 0)
		return store_seterr(err, errlen, -ENAMETOOLONG, "%s/%s: name "
		    "too long", k->kind, name);
	rc = mkdir_durable(s, k->kind, "");
	if (rc == 0 && k->namespaced)
		rc = mkdir_durable(s, dir, k->kind);
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: mkdir: %s", s->dir,
		    dir, strerror(-rc));
	data = json_dumps(obj, JSON_INDENT(1));
	if (data == NULL)
		return store_seterr(err, errlen, -ENOMEM, "%s/%s: out of memory",
		    s->dir, path);
	rc = replace_file(s, dir, tmp, path, data, strlen(data), durable);
	free(data);
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: %s", s->dir, path,
		    strerror(-rc));
	return 0;
}

int
store_disk_unlink(struct store *s, const struct store_kind *k, const char *ns,
    const char *name, int durable, char *err, size_t errlen)
{
	char dir[PATH_LEN], path[PATH_LEN];
	int rc = 0;

	dir_of(k, ns, dir, sizeof(dir));
	if (file_of(dir, name, 0, path, sizeof(path)) < 0)
		return store_seterr(err, errlen, -ENAMETOOLONG, "%s/%s: name "
		    "too long", k->kind, name);
	if (unlinkat(s->dirfd, path, 0) < 0 && errno != ENOENT)
		rc = -errno;
	if (rc == 0 && durable)
		rc = fsync_dir(s, dir);
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: %s", s->dir, path,
		    strerror(-rc));
	return 0;
}

/* ---- the resourceVersion counter ------------------------------------------ */

int
store_disk_rv(struct store *s, uint64_t rv, char *err, size_t errlen)
{
	char buf[32];
	uint64_t ceiling;
	int rc;

	if (rv <= s->rv_ceiling)
		return 0;
	ceiling = rv + STORE_RV_STEP;
	snprintf(buf, sizeof(buf), "%" PRIu64 "\n", ceiling);
	rc = replace_file(s, "", RV_TMP, RV_FILE, buf, strlen(buf), 1);
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: %s", s->dir,
		    RV_FILE, strerror(-rc));
	s->rv_ceiling = ceiling;
	return 0;
}

static int
parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -1 : 0;
}

static int
read_rv_file(struct store *s, char *err, size_t errlen)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = openat(s->dirfd, RV_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return store_seterr(err, errlen, -errno, "%s/%s: %s", s->dir,
		    RV_FILE, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0)
		buf[n] = '\0';
	if (n <= 0 || parse_u64(buf, &s->rv_ceiling) < 0)
		return store_seterr(err, errlen, -EINVAL, "%s/%s: damaged: not "
		    "a decimal resourceVersion", s->dir, RV_FILE);
	return 0;
}

/* ---- open and load ---------------------------------------------------------- */

/* fsync the directory holding path (a new entry in it is durable). */
static int
fsync_parent(const char *path)
{
	char buf[PATH_LEN], *slash;
	int fd, rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash == buf)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(buf, sizeof(buf), ".");
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* mkdir -p, each new directory made durable in its parent. */
static int
mkdir_p(const char *dir)
{
	char buf[PATH_LEN];
	size_t i, len = strlen(dir);
	int rc = 0;

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) == 0)
			rc = fsync_parent(buf);
		else if (errno != EEXIST)
			rc = -errno;
		if (rc < 0)
			return rc;
		buf[i] = dir[i];
	}
	return 0;
}

int
store_disk_open(struct store *s, const char *dir, char *err, size_t errlen)
{
	int rc;

	rc = mkdir_p(dir);
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s: mkdir: %s", dir,
		    strerror(-rc));
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return store_seterr(err, errlen, -errno, "%s: %s", dir,
		    strerror(errno));
	s->lockfd = openat(s->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC,
	    0600);
	if (s->lockfd < 0)
		return store_seterr(err, errlen, -errno, "%s/.lock: %s", dir,
		    strerror(errno));
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0)
		return store_seterr(err, errlen, errno == EWOULDBLOCK ? -EBUSY :
		    -errno, "%s: in use by another process (%s)", dir,
		    strerror(errno));
	return read_rv_file(s, err, errlen);
}

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
	if (parse_u64(v, &rv) < 0 || rv == 0)
		return damaged(s, path, err, errlen,
		    "no decimal metadata.resourceVersion");
	return 0;
}

/* A whole file (jansson's json_loadfd reads a byte per read(2)). */
static int
read_file(int dirfd, const char *file, char **out, size_t *len)
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
	if (st.st_size > STORE_FILE_MAX) {
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
	char path[PATH_LEN], why[300], *buf;
	const char *name = file;
	json_error_t jerr;
	json_t *obj;
	size_t pos, len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", rel, file);
	if (store_name_check("name", name, STORE_NAME_MAX, 1, NULL, 0) < 0)
		return damaged(s, path, err, errlen, "not a valid object name");
	rc = read_file(dirfd, file, &buf, &len);
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
static int
load_dir(struct store *s, struct store_kind *k, const char *rel,
    const char *ns, int namespaces, char *err, size_t errlen)
{
	char sub[PATH_LEN];
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
			rc = load_dir(s, k, sub, d->d_name, 0, err, errlen);
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

int
store_disk_load(struct store *s, char *err, size_t errlen)
{
	size_t i;
	int rc;

	unlinkat(s->dirfd, RV_TMP, 0);
	for (i = 0; i < STORE_NKINDS; i++) {
		struct store_kind *k = &s->kinds[i];

		rc = load_dir(s, k, k->kind, "", k->namespaced, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (s->rv > s->rv_ceiling && s->rv_ceiling > 0)
		log_warnx("%s/%s: %" PRIu64 " is behind the objects' %" PRIu64,
		    s->dir, RV_FILE, s->rv_ceiling, s->rv);
	if (s->rv_ceiling > s->rv)
		s->rv = s->rv_ceiling;
	return 0;
}
