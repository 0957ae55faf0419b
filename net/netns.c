/*
 * netns.c: a new netns is made by unshare(CLONE_NEWNET) in the calling
 * thread, bind-mounted from /proc/thread-self/ns/net, then the thread
 * returns to its old namespace (setns).
 */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int
netns_path(const char *dir, const char *name, char *out, size_t len)
{
	int r = snprintf(out, len, "%s/%s", dir, name);

	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || r < 0 || (size_t)r >= len)
		return -EINVAL;
	for (const char *c = name; *c; c++)
		if (*c == '/')
			return -EINVAL;
	return 0;
}

int
netns_enter(int nsfd, int *saved)
{
	int old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (old < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		int e = errno;
		close(old);
		return -e;
	}
	*saved = old;
	return 0;
}

int
netns_leave(int saved)
{
	int r = setns(saved, CLONE_NEWNET) < 0 ? -errno : 0;

	close(saved);
	return r;
}

int
netns_open(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int r, fd;

	if ((r = netns_path(dir, name, path, sizeof(path))) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
netns_create(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int r, fd, old;

	if ((r = netns_path(dir, name, path, sizeof(path))) < 0)
		return r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (old < 0) {
		r = -errno;
		goto fail;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		r = -errno;
		close(old);
		goto fail;
	}
	r = mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0 ?
	    -errno : 0;
	if (netns_leave(old) < 0 && r == 0)
		r = -EIO;	/* cannot happen: the old ns is still open */
	if (r < 0)
		goto fail;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		netns_delete(dir, name);
		return r;
	}
	return fd;
fail:
	unlink(path);
	return r;
}

int
netns_delete(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int r;

	if ((r = netns_path(dir, name, path, sizeof(path))) < 0)
		return r;
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
netns_rename(const char *dir, const char *from, const char *to)
{
	char src[PATH_MAX], dst[PATH_MAX];
	int r, fd;

	if ((r = netns_path(dir, from, src, sizeof(src))) < 0 ||
	    (r = netns_path(dir, to, dst, sizeof(dst))) < 0)
		return r;
	fd = open(dst, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	if (mount(src, dst, "none", MS_BIND, NULL) < 0) {
		r = -errno;
		unlink(dst);
		return r;
	}
	if ((r = netns_delete(dir, from)) < 0) {
		netns_delete(dir, to);
		return r;
	}
	return 0;
}
