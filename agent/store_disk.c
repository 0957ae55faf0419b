/*
 * store_disk.c: the store's files (layout and fsync order: store.c's
 * header comment): the write-ahead journal (records, fdatasync, rotation,
 * checkpoints into the object files, replay), the object files, the
 * resourceVersion ceiling, and loading them at open.
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
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "log.h"
#include "store_priv.h"

#define RV_FILE "resourceVersion"
#define RV_TMP ".resourceVersion.tmp"
#define JOURNAL "journal"
#define JOURNAL_OLD "journal.old"

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

/* The object's file, from obj (a checkpoint); durable: fsync'd. */
static int
file_write(struct store *s, const struct store_kind *k, const char *ns,
    const char *name, const json_t *obj, int durable, char *err,
    size_t errlen)
{
	char dir[STORE_PATH_LEN], path[STORE_PATH_LEN], tmp[STORE_PATH_LEN], *data;
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

static int
file_unlink(struct store *s, const struct store_kind *k, const char *ns,
    const char *name, int durable, char *err, size_t errlen)
{
	char dir[STORE_PATH_LEN], path[STORE_PATH_LEN];
	int rc = 0;

	dir_of(k, ns, dir, sizeof(dir));
	if (file_of(dir, name, 0, path, sizeof(path)) < 0)
		return store_seterr(err, errlen, -ENAMETOOLONG, "%s/%s: name "
		    "too long", k->kind, name);
	if (unlinkat(s->dirfd, path, 0) < 0)
		rc = errno == ENOENT ? 1 : -errno;	/* never checkpointed */
	if (rc == 0 && durable)
		rc = fsync_dir(s, dir);
	if (rc == 1)
		rc = 0;
	if (rc < 0)
		return store_seterr(err, errlen, rc, "%s/%s: %s", s->dir, path,
		    strerror(-rc));
	return 0;
}

/* ---- the journal: writes ------------------------------------------------- */

/*
 * A record (store.c's header comment has the format) is appended with one
 * writev(2). A failed or short write is cut off again, so that the
 * journal never holds half a record followed by whole ones; if even that
 * fails, the store stops taking writes.
 */
static int
journal_broken(struct store *s, int rc, char *err, size_t errlen)
{
	return store_seterr(err, errlen, rc < 0 ? rc : -EIO, "%s", s->j.why);
}

static void
journal_break(struct store *s, int rc, const char *what)
{
	snprintf(s->j.why, sizeof(s->j.why), "%s/%s: %s: %s; the store takes "
	    "no more writes (restart droverd)", s->dir, JOURNAL, what,
	    strerror(-rc));
	s->j.broken = rc;
	log_error("%s", s->j.why);
}

/*
 * Keep STORE_RESERVE bytes preallocated past the journal's end
 * (fallocate, size unchanged), so that on a full disk the journal still
 * takes the deletes that free space. Best effort: without room (or
 * support for it) there is no reserve.
 */
static void
journal_reserve(struct store *s)
{
	if (s->j.fd < 0 || (s->j.reserved > s->j.size &&
	    s->j.reserved - s->j.size >= STORE_RESERVE / 4))
		return;
	if (fallocate(s->j.fd, FALLOC_FL_KEEP_SIZE, (off_t)s->j.size,
	    STORE_RESERVE) == 0)
		s->j.reserved = s->j.size + STORE_RESERVE;
}

int
store_disk_room(struct store *s, char *err, size_t errlen)
{
	struct statvfs sv;
	uint64_t left;

	/* No size to go by (ramfs reports 0 blocks): room. */
	if (fstatvfs(s->dirfd, &sv) < 0 || sv.f_blocks == 0)
		return 0;
	left = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (left >= STORE_MIN_FREE)
		return 0;
	return store_seterr(err, errlen, -ENOSPC, "%s: No space left on "
	    "device (%" PRIu64 " KiB free): nothing new is stored until space "
	    "is freed (deletes still work)", s->dir, left >> 10);
}

static int
journal_append(struct store *s, char op, const char *path, const char *json,
    char *err, size_t errlen)
{
	char hdr[48];
	size_t plen = strlen(path) + 1 + (json ? strlen(json) : 0), total;
	uLong crc = crc32(0L, Z_NULL, 0);
	struct iovec iov[5];
	ssize_t n;
	int rc;

	if (s->j.broken)
		return journal_broken(s, s->j.broken, err, errlen);
	crc = crc32(crc, (const Bytef *)path, (uInt)strlen(path));
	crc = crc32(crc, (const Bytef *)"\n", 1);
	if (json)
		crc = crc32(crc, (const Bytef *)json, (uInt)strlen(json));
	snprintf(hdr, sizeof(hdr), "%c %zu %08lx\n", op, plen,
	    (unsigned long)crc);
	iov[0] = (struct iovec){ hdr, strlen(hdr) };
	iov[1] = (struct iovec){ (void *)path, strlen(path) };
	iov[2] = (struct iovec){ "\n", 1 };
	iov[3] = (struct iovec){ (void *)(json ? json : ""), json ?
	    strlen(json) : 0 };
	iov[4] = (struct iovec){ "\n", 1 };
	total = iov[0].iov_len + plen + 1;
	do
		n = writev(s->j.fd, iov, 5);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)total) {
		s->j.size += total;
		s->j.unsynced = 1;
		journal_reserve(s);
		return 0;
	}
	rc = n < 0 ? -errno : -ENOSPC;
	if (ftruncate(s->j.fd, (off_t)s->j.size) < 0)
		journal_break(s, -errno, "cutting off a failed write");
	return store_seterr(err, errlen, rc, "%s/%s: writing %s: %s", s->dir,
	    JOURNAL, path, strerror(-rc));
}

int
store_disk_sync(struct store *s, char *err, size_t errlen)
{
	if (s->j.broken)
		return journal_broken(s, s->j.broken, err, errlen);
	if (!s->j.unsynced || s->j.fd < 0)
		return 0;
	if (fdatasync(s->j.fd) < 0) {
		journal_break(s, -errno, "fdatasync");
		return journal_broken(s, s->j.broken, err, errlen);
	}
	s->j.unsynced = 0;
	return 0;
}

/* "Kind/ns/name" or "Kind/name". */
static int
path_of(const struct store_kind *k, const char *ns, const char *name,
    char *buf, size_t len)
{
	char dir[STORE_PATH_LEN];

	dir_of(k, ns, dir, sizeof(dir));
	return file_of(dir, name, 0, buf, len);
}

/* The kind, namespace and name a path names; -EINVAL if it names none. */
int
store_disk_path_split(struct store *s, const char *path, struct store_kind **k,
    char *ns, char *name)
{
	const char *a = strchr(path, '/'), *b;
	char kind[64];

	if (a == NULL || (size_t)(a - path) >= sizeof(kind))
		return -EINVAL;
	memcpy(kind, path, (size_t)(a - path));
	kind[a - path] = '\0';
	if ((*k = store_kind_get(s, kind)) == NULL)
		return -EINVAL;
	ns[0] = '\0';
	if ((*k)->namespaced) {
		b = strchr(a + 1, '/');
		if (b == NULL || b - a - 1 > STORE_NS_MAX)
			return -EINVAL;
		memcpy(ns, a + 1, (size_t)(b - a - 1));
		ns[b - a - 1] = '\0';
		a = b;
		if (store_name_check("namespace", ns, STORE_NS_MAX, 0, NULL,
		    0) < 0)
			return -EINVAL;
	}
	if (strlen(a + 1) > STORE_NAME_MAX)
		return -EINVAL;
	snprintf(name, STORE_NAME_MAX + 1, "%s", a + 1);
	return store_name_check("name", name, STORE_NAME_MAX, 1, NULL, 0);
}

static int
journal_record(struct store *s, const struct store_kind *k, char op,
    const char *ns, const char *name, const json_t *obj, int durable,
    char *err, size_t errlen)
{
	char path[STORE_PATH_LEN], *json = NULL;
	int rc;

	if (path_of(k, ns, name, path, sizeof(path)) < 0)
		return store_seterr(err, errlen, -ENAMETOOLONG, "%s/%s: name "
		    "too long", k->kind, name);
	if (s->failpoint && (rc = s->failpoint(s->failpoint_arg, op, path)) < 0)
		return store_seterr(err, errlen, rc, "%s/%s: writing %s: %s",
		    s->dir, JOURNAL, path, strerror(-rc));
	if (obj && (json = json_dumps(obj, JSON_COMPACT)) == NULL)
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	rc = journal_append(s, op, path, json, err, errlen);
	free(json);
	if (rc == 0 && json_object_set_new(s->j.dirty, path, json_true()) < 0)
		rc = store_seterr(err, errlen, -ENOMEM, "out of memory");
	if (rc == 0 && durable && s->batch == 0)
		rc = store_disk_sync(s, err, errlen);
	if (rc == 0 && s->j.size > s->j.max &&
	    store_disk_checkpoint(s, err, errlen) < 0)
		log_warnx("checkpoint: %s", err);	/* the write is done */
	return rc;
}

int
store_disk_write(struct store *s, const struct store_kind *k, const char *ns,
    const char *name, const json_t *obj, int durable, char *err,
    size_t errlen)
{
	return journal_record(s, k, 'P', ns, name, obj, durable, err, errlen);
}

int
store_disk_unlink(struct store *s, const struct store_kind *k, const char *ns,
    const char *name, int durable, char *err, size_t errlen)
{
	return journal_record(s, k, 'D', ns, name, NULL, durable, err, errlen);
}

/* ---- the journal: checkpoints -------------------------------------------- */

/* Bring path's file to the object's state in memory (absent: unlinked). */
static int
ckpt_one(struct store *s, const char *path, char *err, size_t errlen)
{
	char ns[STORE_NS_MAX + 1], name[STORE_NAME_MAX + 1];
	struct store_kind *k;
	struct store_obj *o;
	json_t *obj;
	int rc;

	if (store_disk_path_split(s, path, &k, ns, name) < 0)
		return 0;		/* never journaled: nothing to do */
	if ((o = store_find(k, ns, name, NULL)) == NULL)
		return file_unlink(s, k, ns, name, !k->cold, err, errlen);
	if ((obj = store_obj_json(o)) == NULL)
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	rc = file_write(s, k, ns, name, obj, !k->cold, err, errlen);
	json_decref(obj);
	return rc;
}

/* Write every path of set (emptied as it goes). */
static int
ckpt_set(struct store *s, json_t *set, uint64_t deadline_ms, char *err,
    size_t errlen)
{
	struct timespec ts;
	void *it;
	int rc;

	while ((it = json_object_iter(set)) != NULL) {
		char path[STORE_PATH_LEN];

		snprintf(path, sizeof(path), "%s", json_object_iter_key(it));
		if ((rc = ckpt_one(s, path, err, errlen)) < 0)
			return rc;
		json_object_del(set, path);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (deadline_ms && (uint64_t)ts.tv_sec * 1000 +
		    (uint64_t)ts.tv_nsec / 1000000 >= deadline_ms)
			return json_object_size(set) > 0;
	}
	return 0;
}

static int
fsync_top(struct store *s)
{
	return fsync(s->dirfd) < 0 ? -errno : 0;
}

/*
 * The journal becomes journal.old (its paths: what the checkpoint must
 * write), and a new journal starts. On a failure after the rename the
 * old name is put back: the open fd still writes that file.
 */
static int
journal_rotate(struct store *s, char *err, size_t errlen)
{
	int rc, fd;

	if ((rc = store_disk_sync(s, err, errlen)) < 0)
		return rc;
	if (renameat(s->dirfd, JOURNAL, s->dirfd, JOURNAL_OLD) < 0)
		return store_seterr(err, errlen, -errno, "%s/%s: rename: %s",
		    s->dir, JOURNAL, strerror(errno));
	fd = openat(s->dirfd, JOURNAL, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	rc = fd < 0 ? -errno : fsync_top(s);
	if (rc < 0) {
		if (fd >= 0) {
			close(fd);
			unlinkat(s->dirfd, JOURNAL, 0);
		}
		if (renameat(s->dirfd, JOURNAL_OLD, s->dirfd, JOURNAL) < 0)
			journal_break(s, -errno, "rotation undone");
		return store_seterr(err, errlen, rc, "%s/%s: new journal: %s",
		    s->dir, JOURNAL, strerror(-rc));
	}
	close(s->j.fd);
	s->j.fd = fd;
	s->j.size = s->j.reserved = 0;
	journal_reserve(s);
	s->j.ckpt = s->j.dirty;
	s->j.dirty = json_object();
	if (s->j.dirty == NULL) {
		journal_break(s, -ENOMEM, "rotation");
		return journal_broken(s, -ENOMEM, err, errlen);
	}
	return 0;
}

/* journal.old is folded into the files: remove it. */
static int
ckpt_done(struct store *s, char *err, size_t errlen)
{
	int rc;

	if (unlinkat(s->dirfd, JOURNAL_OLD, 0) < 0 && errno != ENOENT)
		return store_seterr(err, errlen, -errno, "%s/%s: unlink: %s",
		    s->dir, JOURNAL_OLD, strerror(errno));
	if ((rc = fsync_top(s)) < 0)
		return store_seterr(err, errlen, rc, "%s: fsync: %s", s->dir,
		    strerror(-rc));
	json_decref(s->j.ckpt);
	s->j.ckpt = NULL;
	return 0;
}

int
store_disk_maintain(struct store *s, unsigned budget_ms, char *err,
    size_t errlen)
{
	struct timespec ts;
	int rc;

	if (s->j.broken || s->j.fd < 0)
		return 0;
	if (s->j.ckpt == NULL) {
		if (s->j.size < s->j.rotate)
			return 0;
		if ((rc = journal_rotate(s, err, errlen)) < 0)
			return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rc = ckpt_set(s, s->j.ckpt, (uint64_t)ts.tv_sec * 1000 +
	    (uint64_t)ts.tv_nsec / 1000000 + (budget_ms ? budget_ms : 1),
	    err, errlen);
	if (rc != 0)
		return rc;
	return ckpt_done(s, err, errlen);
}

int
store_disk_checkpoint(struct store *s, char *err, size_t errlen)
{
	int rc;

	if (s->j.broken || s->j.fd < 0)
		return s->j.broken ? journal_broken(s, s->j.broken, err,
		    errlen) : 0;
	if ((rc = store_disk_sync(s, err, errlen)) < 0)
		return rc;
	if (s->j.ckpt && (rc = ckpt_set(s, s->j.ckpt, 0, err, errlen)) < 0)
		return rc;
	if ((rc = ckpt_set(s, s->j.dirty, 0, err, errlen)) < 0)
		return rc;
	/* Every record is in the files now, durably: drop them. */
	if (s->j.ckpt && (rc = ckpt_done(s, err, errlen)) < 0)
		return rc;
	if (s->j.size == 0)
		return 0;
	if (ftruncate(s->j.fd, 0) < 0 || fdatasync(s->j.fd) < 0)
		return store_seterr(err, errlen, -errno, "%s/%s: truncate: %s",
		    s->dir, JOURNAL, strerror(errno));
	s->j.size = s->j.reserved = 0;
	journal_reserve(s);
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

int
store_parse_u64(const char *v, uint64_t *out)
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
	if (n <= 0 || store_parse_u64(buf, &s->rv_ceiling) < 0)
		return store_seterr(err, errlen, -EINVAL, "%s/%s: damaged: not "
		    "a decimal resourceVersion", s->dir, RV_FILE);
	return 0;
}

/* ---- open and load ---------------------------------------------------------- */

/* fsync the directory holding path (a new entry in it is durable). */
static int
fsync_parent(const char *path)
{
	char buf[STORE_PATH_LEN], *slash;
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
	char buf[STORE_PATH_LEN];
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
/*
 * Replay journal.old (a checkpoint was under way) and the journal, open
 * the journal for appending, and fold whatever was replayed into the
 * files, so that droverd starts with an empty journal.
 */
static int
journal_open(struct store *s, char *err, size_t errlen)
{
	struct stat st;
	int old, cur, rc;

	if (s->j.rotate == 0)
		s->j.rotate = STORE_JOURNAL_ROTATE;
	if (s->j.max == 0)
		s->j.max = STORE_JOURNAL_MAX;
	if ((s->j.dirty = json_object()) == NULL)
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	if ((rc = store_load_journal(s, JOURNAL_OLD, &old, err, errlen)) < 0 ||
	    (rc = store_load_journal(s, JOURNAL, &cur, err, errlen)) < 0)
		return rc;
	if (old && (s->j.ckpt = json_object()) == NULL)
		return store_seterr(err, errlen, -ENOMEM, "out of memory");
	s->j.fd = openat(s->dirfd, JOURNAL, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->j.fd < 0 || fstat(s->j.fd, &st) < 0)
		return store_seterr(err, errlen, -errno, "%s/%s: %s", s->dir,
		    JOURNAL, strerror(errno));
	if (!cur && (rc = fsync_top(s)) < 0)
		return store_seterr(err, errlen, rc, "%s: fsync: %s", s->dir,
		    strerror(-rc));
	s->j.size = (uint64_t)st.st_size;
	if (old || s->j.size)
		return store_disk_checkpoint(s, err, errlen);
	journal_reserve(s);
	return 0;
}

void
store_disk_close(struct store *s, int opened)
{
	char err[512];

	if (opened && s->j.fd >= 0 && !s->j.broken &&
	    store_disk_checkpoint(s, err, sizeof(err)) < 0)
		log_warnx("closing the store: %s (the journal keeps it)", err);
	if (s->j.fd >= 0)
		close(s->j.fd);
	s->j.fd = -1;
	json_decref(s->j.dirty);
	json_decref(s->j.ckpt);
	s->j.dirty = s->j.ckpt = NULL;
}

int
store_disk_load(struct store *s, char *err, size_t errlen)
{
	size_t i;
	int rc;

	unlinkat(s->dirfd, RV_TMP, 0);
	for (i = 0; i < STORE_NKINDS; i++) {
		struct store_kind *k = &s->kinds[i];

		rc = store_load_dir(s, k, k->kind, "", k->namespaced, err, errlen);
		if (rc < 0)
			return rc;
	}
	if ((rc = journal_open(s, err, errlen)) < 0)
		return rc;
	if (s->rv > s->rv_ceiling && s->rv_ceiling > 0)
		log_warnx("%s/%s: %" PRIu64 " is behind the objects' %" PRIu64,
		    s->dir, RV_FILE, s->rv_ceiling, s->rv);
	if (s->rv_ceiling > s->rv)
		s->rv = s->rv_ceiling;
	return 0;
}
