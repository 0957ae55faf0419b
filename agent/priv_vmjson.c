/*
 * priv_vmjson.c: what droverd-priv lets drover-vmm open as root.
 *
 * drover-vmm opens its disks, backing files, sockets and exit file as
 * root, before it drops to --user; vm.json is composed by droverd-api,
 * which is not trusted with root's files. So droverd-priv:
 * - opens every backing file itself (priv_backing_open()): the path must
 *   lie under the image store it knows from its own config, and is opened
 *   relative to the store's directory with openat2(RESOLVE_BENEATH |
 *   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) (or, without openat2, a
 *   component by component O_NOFOLLOW walk), O_RDONLY; it must be a
 *   regular file owned by the store's owner (a hard link to a root file
 *   is not one); then only the fd is used, never the path again. The
 *   operator's pre-loaded disk files (agent config "images" ->
 *   "preloaded") are accepted as the config names them (O_NOFOLLOW, a
 *   regular file);
 * - checks vm.json at vmm_spawn (priv_vmjson_check()) against an
 *   allow-list: every key, every path (the VMI's own sockets, exit file
 *   and disk dir), the user the node's config names, no kernel, initrd,
 *   log file, tap name nor seccomp switch; the backing files become
 *   /proc/self/fd/N of the fds opened here (PRIV_BACKING_FD + k), and the
 *   checked text is what the VMM reads: <run dir>/vmm.json, written by
 *   droverd-priv right before the fork (file_write refuses that name).
 *   vm.json stays as droverd-api wrote it (for the humans and the tests;
 *   the VMM never reads it).
 */
#include "errfmt.h"
#include "priv.h"
#include "priv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
/* linux/openat2.h, which not every libc's headers have. */
struct pv_open_how {
	uint64_t flags, mode, resolve;
};
#define PV_RESOLVE_NO_MAGICLINKS	0x02
#define PV_RESOLVE_NO_SYMLINKS		0x04
#define PV_RESOLVE_BENEATH		0x08

static int
pv_is(const json_t *v, const char *want)
{
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* Without openat2 (Linux < 5.6): each component with O_NOFOLLOW. */
static int
pv_walk(int dfd, const char *rel, int flags)
{
	char comp[256];
	int fd = dfd, next;

	while (*rel) {
		size_t n = strcspn(rel, "/");
		int last = rel[n] == '\0';

		if (n >= sizeof(comp)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		next = openat(fd, comp, last ? flags | O_NOFOLLOW :
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != dfd)
			close(fd);
		if (next < 0)
			return -1;
		fd = next;
		rel += n + !last;
	}
	return fd;
fail:
	if (fd != dfd)
		close(fd);
	return -1;
}

/* One of the operator's pre-loaded disk files (agent config), named
 * exactly: opened as it is (no symlink at the end), not in the store. */
static int
pv_preloaded(const json_t *pre, const char *path)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)pre, k, v)
		if (pv_is(v, path))
			return open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
			    O_NOFOLLOW | O_CLOEXEC);
	errno = ENOENT;
	return -2;
}

/* fd: a regular file; blocking reads from now on. fd or -errno. */
static int
pv_regular(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errfmt(err, errlen, -EINVAL, "backing file %s: not a "
		    "regular file", path);
	}
	if (fcntl(fd, F_SETFL, O_RDONLY) < 0) {
		e = errno;
		close(fd);
		return errfmt(err, errlen, -e, "backing file %s: %s", path,
		    strerror(e));
	}
	return fd;
}

int
priv_backing_open(const char *images_dir, const json_t *preloaded,
    const char *path, char *err, size_t errlen)
{
	struct pv_open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = PV_RESOLVE_BENEATH | PV_RESOLVE_NO_SYMLINKS |
		    PV_RESOLVE_NO_MAGICLINKS,
	};
	struct stat dst, st;
	const char *rel;
	int dfd, fd, e;

	if (preloaded && (fd = pv_preloaded(preloaded, path)) != -2) {
		if (fd < 0)
			return errfmt(err, errlen, -errno, "pre-loaded backing "
			    "file %s: %s", path, strerror(errno));
		return pv_regular(fd, path, err, errlen);
	}
	if (images_dir == NULL || images_dir[0] != '/')
		return errfmt(err, errlen, -EPERM, "backing file %s: no image "
		    "store here", path);
	rel = priv_path_below(images_dir, "/", path);
	if (rel == NULL || !priv_path_rel_ok(rel))
		return errfmt(err, errlen, -EPERM, "backing file %s: not a file "
		    "in the image store %s", path, images_dir);
	dfd = open(images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &dst) < 0) {
		e = errno;
		if (dfd >= 0)
			close(dfd);
		return errfmt(err, errlen, -e, "the image store %s: %s",
		    images_dir, strerror(e));
	}
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = pv_walk(dfd, rel, (int)how.flags);
	e = errno;
	close(dfd);
	if (fd < 0)
		return errfmt(err, errlen, e == ELOOP || e == EXDEV ? -EPERM :
		    -e, "backing file %s: %s", path, e == ELOOP || e == EXDEV ?
		    "a symbolic link on the way (refused)" : strerror(e));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid != dst.st_uid) {
		close(fd);
		return errfmt(err, errlen, -EPERM, "backing file %s: owned by "
		    "uid %u, not by the image store's owner (uid %u)", path,
		    (unsigned)st.st_uid, (unsigned)dst.st_uid);
	}
	return pv_regular(fd, path, err, errlen);
}

/* ---- vm.json -------------------------------------------------------------- */

static int
pv_fmt_ok(const json_t *v)
{
	return pv_is(v, "raw") || pv_is(v, "qcow2");
}

/* <pfx><dir>/<name> exactly. */
static int
pv_is_in(const json_t *v, const char *pfx, const char *dir, const char *name)
{
	char buf[PATH_MAX + 8];

	return (size_t)snprintf(buf, sizeof(buf), "%s%s/%s", pfx, dir, name) <
	    sizeof(buf) && pv_is(v, buf);
}

/* A file directly in the disk dir. */
static int
pv_disk_path_ok(const json_t *v, const char *ddir)
{
	const char *rel;

	if (!json_is_string(v))
		return 0;
	rel = priv_path_below(ddir, "/", json_string_value(v));
	return rel && priv_path_rel_ok(rel) && strchr(rel, '/') == NULL;
}

/* One disk: its file in the disk dir; its backing file opened here. */
static int
pv_disk(const struct priv_vmjson_in *in, json_t *d, unsigned i,
    struct priv_vmjson_out *out, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char fdp[32];
	int fd;

	if (!json_is_object(d))
		return errfmt(err, errlen, -EINVAL, "vm.json: disk %u: not an "
		    "object", i);
	json_object_foreach(d, k, v) {
		if ((strcmp(k, "path") == 0 && pv_disk_path_ok(v, in->ddir)) ||
		    ((strcmp(k, "format") == 0 ||
		    strcmp(k, "backing-format") == 0) && pv_fmt_ok(v)) ||
		    (strcmp(k, "ro") == 0 && json_is_boolean(v)) ||
		    (strcmp(k, "serial") == 0 && json_is_string(v)) ||
		    (strcmp(k, "backing") == 0 && json_is_string(v)))
			continue;
		return errfmt(err, errlen, -EPERM, "vm.json: disk %u: \"%s\" "
		    "refused (only a file in %s, its format, ro, serial and "
		    "one backing file in the image store)", i, k, in->ddir);
	}
	if (json_object_get(d, "path") == NULL)
		return errfmt(err, errlen, -EINVAL, "vm.json: disk %u: no path",
		    i);
	if ((v = json_object_get(d, "backing")) == NULL)
		return 0;
	if (out->nfds >= PRIV_BACKING_MAX)
		return errfmt(err, errlen, -EINVAL, "vm.json: more than %d "
		    "backing files", PRIV_BACKING_MAX);
	fd = priv_backing_open(in->images_dir, in->preloaded,
	    json_string_value(v), err, errlen);
	if (fd < 0)
		return fd;
	out->fds[out->nfds] = fd;
	snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d",
	    PRIV_BACKING_FD + (int)out->nfds);
	out->nfds++;
	return json_object_set_new(d, "backing", json_string(fdp)) < 0 ?
	    errfmt(err, errlen, -ENOMEM, "out of memory") : 0;
}

static int
pv_disks(const struct priv_vmjson_in *in, json_t *a,
    struct priv_vmjson_out *out, char *err, size_t errlen)
{
	json_t *d;
	size_t i;
	int rc;

	if (!json_is_array(a))
		return errfmt(err, errlen, -EINVAL, "vm.json: \"disk\" is not a "
		    "list");
	json_array_foreach(a, i, d)
		if ((rc = pv_disk(in, d, (unsigned)i, out, err, errlen)) < 0)
			return rc;
	return 0;
}

/* At most the one NIC on the tap droverd-priv hands over. */
static int
pv_net(const struct priv_vmjson_in *in, const json_t *a, char *err,
    size_t errlen)
{
	const json_t *n = json_array_get(a, 0);
	const char *k;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > (in->net ? 1u : 0u))
		return errfmt(err, errlen, -EPERM, "vm.json: \"net\": %s",
		    in->net ? "one NIC at most" : "no pod network was set up");
	if (n == NULL)
		return 0;
	if (!json_is_object(n))
		return errfmt(err, errlen, -EINVAL, "vm.json: NIC: not an "
		    "object");
	json_object_foreach((json_t *)n, k, v) {
		if ((strcmp(k, "fd") == 0 && json_is_integer(v) &&
		    json_integer_value(v) == PRIV_NET_FD) ||
		    (strcmp(k, "mac") == 0 && json_is_string(v)))
			continue;
		return errfmt(err, errlen, -EPERM, "vm.json: NIC: \"%s\" "
		    "refused (only fd %d, the tap, and mac)", k, PRIV_NET_FD);
	}
	return 0;
}

static int
pv_gid_ok(const struct priv_vmjson_in *in, const json_t *v)
{
	char g[16];

	for (int i = 0; i < 2; i++) {
		if (in->gids[i] <= 0)
			continue;
		snprintf(g, sizeof(g), "%d", in->gids[i]);
		if (pv_is(v, g))
			return 1;
	}
	return 0;
}

/* One top-level key. */
static int
pv_key(const struct priv_vmjson_in *in, const char *k, json_t *v,
    struct priv_vmjson_out *out, char *err, size_t errlen)
{
	if (strcmp(k, "disk") == 0)
		return pv_disks(in, v, out, err, errlen);
	if (strcmp(k, "net") == 0)
		return pv_net(in, v, err, errlen);
	if (((strcmp(k, "mem") == 0 || strcmp(k, "cpus") == 0 ||
	    strcmp(k, "stop-timeout") == 0) && json_is_integer(v)) ||
	    (strcmp(k, "rng") == 0 && json_is_boolean(v)) ||
	    (strcmp(k, "console") == 0 && pv_is_in(v, "unix:", in->dir,
	    "console.sock")) ||
	    (strcmp(k, "control") == 0 && pv_is_in(v, "", in->dir,
	    "control.sock")) ||
	    (strcmp(k, "exit-file") == 0 && pv_is_in(v, "", in->dir, "exit")) ||
	    (strcmp(k, "user") == 0 && in->vmm_user && pv_is(v,
	    in->vmm_user)) ||
	    (strcmp(k, "access-group") == 0 && pv_gid_ok(in, v)))
		return 0;
	return errfmt(err, errlen, -EPERM, "vm.json: \"%s\" refused: not one "
	    "droverd-priv passes to drover-vmm with this value (the VMI's own "
	    "sockets and exit file in %s, its disks in %s, the configured "
	    "user and group)", k, in->dir, in->ddir);
}

void
priv_vmjson_out_free(struct priv_vmjson_out *out)
{
	for (unsigned i = 0; i < out->nfds; i++)
		close(out->fds[i]);
	out->nfds = 0;
	free(out->text);
	out->text = NULL;
}

int
priv_vmjson_check(const struct priv_vmjson_in *in, const char *text,
    size_t len, struct priv_vmjson_out *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j, *v;
	const char *k;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return errfmt(err, errlen, -EINVAL, "vm.json: not a JSON object "
		    "(%s)", je.text);
	}
	json_object_foreach(j, k, v)
		if ((rc = pv_key(in, k, v, out, err, errlen)) < 0)
			break;
	if (rc == 0 && in->vmm_user && json_object_get(j, "user") == NULL)
		rc = errfmt(err, errlen, -EPERM, "vm.json: no \"user\" (the "
		    "node's VMMs run as %s)", in->vmm_user);
	if (rc == 0 && (out->text = json_dumps(j, JSON_COMPACT)) == NULL)
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
	json_decref(j);
	if (rc < 0)
		priv_vmjson_out_free(out);
	return rc;
}

/* <dir>/vm.json, droverd-priv's own file (written by file_write). */
static int
pv_read(const char *dir, char **text, size_t *len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t cap = 1 << 20, n = 0;
	char *buf;
	ssize_t r;
	int fd, e;

	if ((size_t)snprintf(path, sizeof(path), "%s/vm.json", dir) >=
	    sizeof(path))
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: too long", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errfmt(err, errlen, -errno, "%s: %s", path,
		    strerror(errno));
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	while ((r = read(fd, buf + n, cap - n)) > 0 && (n += (size_t)r) < cap)
		;
	e = r < 0 ? errno : n == cap ? EFBIG : 0;
	close(fd);
	if (e) {
		free(buf);
		return errfmt(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	*text = buf;
	*len = n;
	return 0;
}

int
priv_vmjson_load(const struct priv_vmjson_in *in, struct priv_vmjson_out *out,
    char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pv_read(in->dir, &text, &len, err, errlen)) < 0)
		return rc;
	rc = priv_vmjson_check(in, text, len, out, err, errlen);
	free(text);
	return rc;
}
