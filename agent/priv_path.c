/*
 * priv_path.c: which paths the privileged side accepts (priv.h
 * priv_path_ok(), priv_disk_dir()): pure string checks, shared by
 * priv_local.c and droverd-priv's message checks (priv_msg.c).
 */
#include "priv.h"
#include "priv_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* path's part below root + sub ("/vmi/" or "/"), or NULL. */
const char *
priv_path_below(const char *root, const char *sub, const char *path)
{
	size_t rl = strlen(root), sl = strlen(sub);

	if (rl == 0 || strncmp(path, root, rl) != 0 ||
	    strncmp(path + rl, sub, sl) != 0)
		return NULL;
	return path + rl + sl;
}

/* rel: a/b/c without empty, "." or ".." components, nor a trailing /. */
int
priv_path_rel_ok(const char *s)
{
	if (*s == '\0' || s[strlen(s) - 1] == '/')
		return 0;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += n;
		if (*s == '/')
			s++;
	}
	return 1;
}

int
priv_path_ok(const char *run_dir, const char *ephemeral_dir,
    const char *path, const char *name)
{
	const char *s;

	if (name && (name[0] == '\0' || strchr(name, '/') ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return 0;
	if ((s = priv_path_below(run_dir, "/vmi/", path)) != NULL)
		return priv_path_rel_ok(s) ? PRIV_PATH_RUN : 0;
	if (ephemeral_dir &&
	    (s = priv_path_below(ephemeral_dir, "/", path)) != NULL)
		return priv_path_rel_ok(s) ? PRIV_PATH_DISK : 0;
	return 0;
}

int
priv_disk_dir(const char *run_dir, const char *ephemeral_dir,
    const char *dir, char *out, size_t len)
{
	const char *rel = priv_path_below(run_dir, "/vmi/", dir);
	int n;

	if (rel == NULL || !priv_path_rel_ok(rel) || ephemeral_dir == NULL)
		return -EINVAL;
	n = snprintf(out, len, "%s/%s", ephemeral_dir, rel);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

