/* manifests.c: the --manifests directory (rules in manifests.h). */
#include "manifests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "store.h"
#include "yamljson.h"

/* The kinds the directory may hold (what apply admits). */
static const char *const manifests_kinds[] = {
	"VirtualMachineInstanceReplicaSet",
	"VirtualMachineInstance",
	"HorizontalPodAutoscaler",
};

struct manifests {
	struct loop *loop;
	struct store *store;
	char *dir;
	int ifd;		/* inotify */
	int wd;
	int timer;		/* debounce timer id, 0: none */
	int rewatch;		/* the rewatch timer id */
	uint64_t first_event;	/* when the pending burst began */
};

/* What one sync saw: files and the keys of the objects they hold. */
struct manifests_seen {
	json_t *good;		/* {file: {"Kind/ns/name": true}} */
	json_t *bad;		/* {file: true} */
};

static int
manifests_wanted(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (name[0] == '.' || !dot)
		return 0;
	return strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
	    strcmp(dot, ".json") == 0;
}

/* Read a file into a malloc'd buffer; -1 with a message. */
static int
manifests_read(const char *path, char **buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *b;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)YAMLJSON_MAX_INPUT) {
		snprintf(err, errlen, S_ISREG(st.st_mode) ? "larger than %u "
		    "bytes" : "not a regular file", YAMLJSON_MAX_INPUT);
		close(fd);
		return -1;
	}
	b = malloc((size_t)st.st_size + 1);
	while (b && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

static void
manifests_key(char *buf, size_t len, const char *kind, const char *ns,
    const char *name)
{
	snprintf(buf, len, "%s/%s/%s", kind ? kind : "", ns ? ns : "",
	    name ? name : "");
}

/* Mark obj as coming from file. */
static void
manifests_annotate(json_t *obj, const char *file)
{
	json_t *meta = json_object_get(obj, "metadata"), *ann;

	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	ann = json_object_get(meta, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(meta, "annotations", ann);
	}
	json_object_set_new(ann, MANIFESTS_ANNOTATION, json_string(file));
}

/* Apply one object of file; 0, or -1 when refused (logged). */
static int
manifests_apply_one(struct manifests *m, const char *file, json_t *obj,
    json_t *keys)
{
	enum apply_result res;
	json_t *out = NULL, *status = NULL;
	char key[768];

	if (!json_is_object(obj)) {
		log_error("%s/%s: a document is not an object", m->dir, file);
		return -1;
	}
	manifests_annotate(obj, file);
	if (apply_object(m->store, obj, NULL, &res, &out, &status) < 0) {
		log_error("%s/%s: %s %s: %s", m->dir, file,
		    manifest_str(obj, "kind") ? manifest_str(obj, "kind") : "?",
		    manifest_str(obj, "metadata.name") ?
		    manifest_str(obj, "metadata.name") : "?",
		    manifest_status_message(status) ?
		    manifest_status_message(status) : "refused");
		json_decref(status);
		return -1;
	}
	manifests_key(key, sizeof(key), manifest_str(out, "kind"),
	    manifest_str(out, "metadata.namespace"),
	    manifest_str(out, "metadata.name"));
	json_object_set_new(keys, key, json_true());
	if (res != APPLY_UNCHANGED)
		log_info("%s/%s: %s %s/%s %s", m->dir, file,
		    manifest_str(out, "kind"),
		    manifest_str(out, "metadata.namespace"),
		    manifest_str(out, "metadata.name"),
		    apply_result_name(res));
	json_decref(out);
	return 0;
}

/* Apply one file; records it as good (with its keys) or bad. */
static void
manifests_apply_file(struct manifests *m, const char *file,
    struct manifests_seen *seen)
{
	char path[4096], err[512];
	json_t *docs, *status = NULL, *keys, *obj;
	size_t len, i;
	char *buf;
	int bad = 0;

	snprintf(path, sizeof(path), "%s/%s", m->dir, file);
	if (manifests_read(path, &buf, &len, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		json_object_set_new(seen->bad, file, json_true());
		return;
	}
	docs = manifest_parse(buf, len, &status);
	free(buf);
	if (!docs) {
		log_error("%s: %s", path, status ?
		    manifest_status_message(status) : "cannot be parsed");
		json_decref(status);
		json_object_set_new(seen->bad, file, json_true());
		return;
	}
	keys = json_object();
	json_array_foreach(docs, i, obj)
		if (manifests_apply_one(m, file, obj, keys) < 0)
			bad = 1;
	json_decref(docs);
	if (bad) {
		json_object_set_new(seen->bad, file, json_true());
		json_decref(keys);
	} else
		json_object_set_new(seen->good, file, keys);
}

/* Delete what came from the directory and is no longer there. */
static void
manifests_prune(struct manifests *m, const struct manifests_seen *seen)
{
	char key[768], err[256];
	int rc;

	for (size_t k = 0; k < sizeof(manifests_kinds) /
	    sizeof(manifests_kinds[0]); k++) {
		json_t *list = store_list(m->store, manifests_kinds[k], NULL);
		json_t *obj, *keys;
		size_t i;

		json_array_foreach(list, i, obj) {
			json_t *ann = json_object_get(json_object_get(
			    obj, "metadata"), "annotations");
			const char *file = json_string_value(
			    json_object_get(ann, MANIFESTS_ANNOTATION));
			const char *ns = manifest_str(obj,
			    "metadata.namespace");
			const char *name = manifest_str(obj, "metadata.name");

			if (!file || json_object_get(seen->bad, file))
				continue;
			keys = json_object_get(seen->good, file);
			manifests_key(key, sizeof(key), manifests_kinds[k], ns,
			    name);
			if (keys && json_object_get(keys, key))
				continue;
			if (json_object_get(obj, "metadata") &&
			    manifest_str(obj, "metadata.deletionTimestamp"))
				continue;	/* already going */
			rc = store_delete(m->store, manifests_kinds[k], ns,
			    name, err, sizeof(err));
			if (rc < 0 && rc != -ENOENT)
				log_error("%s/%s: pruning %s %s/%s: %s", m->dir,
				    file, manifests_kinds[k], ns, name, err);
			else
				log_info("%s/%s: %s %s/%s pruned", m->dir, file,
				    manifests_kinds[k], ns, name);
		}
		json_decref(list);
	}
}

static int
manifests_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
manifests_sync(struct manifests *m)
{
	struct manifests_seen seen = { json_object(), json_object() };
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(m->dir);
	if (!d) {
		log_warn("%s: cannot read the manifests directory (nothing is "
		    "pruned)", m->dir);
		goto out;
	}
	while ((de = readdir(d))) {
		if (!manifests_wanted(de->d_name))
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap ? cap * 2 : 16) *
			    sizeof(*p));

			if (!p)
				break;
			names = p;
			cap = cap ? cap * 2 : 16;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	if (de) {
		log_error("%s: out of memory (nothing is pruned)", m->dir);
		closedir(d);
		goto out;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), manifests_name_cmp);
	for (size_t i = 0; i < n; i++)
		manifests_apply_file(m, names[i], &seen);
	manifests_prune(m, &seen);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_decref(seen.good);
	json_decref(seen.bad);
}

static void
manifests_timer(void *arg)
{
	struct manifests *m = arg;

	m->timer = 0;
	m->first_event = 0;
	manifests_sync(m);
}

static int
manifests_watch(struct manifests *m)
{
	m->wd = inotify_add_watch(m->ifd, m->dir, IN_CREATE | IN_DELETE |
	    IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO |
	    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	return m->wd < 0 ? -errno : 0;
}

static void
manifests_event(void *arg, int fd, short revents)
{
	struct manifests *m = arg;
	char buf[8192] __attribute__((aligned(__alignof__(
	    struct inotify_event))));
	uint64_t now = loop_now_ms();
	int gone = 0;
	ssize_t n;

	(void)revents;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
			    IN_IGNORED))
				gone = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (gone && m->wd >= 0) {
		log_warnx("%s: the manifests directory went away; watching "
		    "for it again on the next sync", m->dir);
		if (m->wd >= 0)
			inotify_rm_watch(m->ifd, m->wd);
		m->wd = -1;
	}
	if (!m->first_event)
		m->first_event = now;
	if (m->timer)
		loop_cancel(m->loop, m->timer);
	m->timer = loop_timer(m->loop, now - m->first_event >=
	    MANIFESTS_MAX_DELAY_MS ? 0 : MANIFESTS_DEBOUNCE_MS,
	    manifests_timer, m);
	if (m->timer < 0)
		m->timer = 0;
}

/* While the directory is missing: look for it every second. */
static void
manifests_rewatch(void *arg)
{
	struct manifests *m = arg;

	if (m->wd < 0 && manifests_watch(m) == 0) {
		log_info("%s: watching the manifests directory again", m->dir);
		manifests_sync(m);
	}
	m->rewatch = loop_timer(m->loop, 1000, manifests_rewatch, m);
}

struct manifests *
manifests_new(struct loop *l, struct store *s, const char *dir, char *err,
    size_t errlen)
{
	struct manifests *m = calloc(1, sizeof(*m));
	int rc;

	if (m)
		m->ifd = -1;
	if (!m || !(m->dir = strdup(dir))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->loop = l;
	m->store = s;
	m->wd = -1;
	m->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ifd < 0) {
		snprintf(err, errlen, "inotify: %s", strerror(errno));
		goto fail;
	}
	rc = manifests_watch(m);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		goto fail;
	}
	if (loop_add_fd(l, m->ifd, POLLIN, manifests_event, m) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->rewatch = loop_timer(l, 1000, manifests_rewatch, m);
	manifests_sync(m);
	log_info("following the manifests in %s", dir);
	return m;
fail:
	if (m && m->ifd >= 0)
		close(m->ifd);
	if (m)
		free(m->dir);
	free(m);
	return NULL;
}

void
manifests_free(struct manifests *m)
{
	if (!m)
		return;
	loop_cancel(m->loop, m->timer);
	loop_cancel(m->loop, m->rewatch);
	loop_del_fd(m->loop, m->ifd);
	close(m->ifd);
	free(m->dir);
	free(m);
}
