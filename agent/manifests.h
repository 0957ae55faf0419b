/*
 * manifests.h: `droverd --manifests DIR`, a directory of manifests kept
 * applied (like the kubelet's static pods, for any kind droverd serves).
 *
 * At start-up and whenever the directory changes (inotify on DIR; changes
 * are debounced: a sync runs MANIFESTS_DEBOUNCE_MS after the last event,
 * and at most MANIFESTS_MAX_DELAY_MS after the first of a burst) every
 * file of DIR named *.yaml, *.yml or *.json (not starting with '.', a
 * regular file or a symlink to one, at most YAMLJSON_MAX_INPUT bytes) is
 * read and each of its objects applied as `kubectl apply` would (apply.h;
 * objects naming no namespace go to "default"). Each object gets the
 * annotation MANIFESTS_ANNOTATION = the file's name.
 *
 * Pruning. An object in the store carrying the annotation is deleted
 * when its file is gone from DIR, or when its file is good and no longer
 * holds it (same kind, namespace and name). A file is good when it parses
 * and every object in it is admitted. THE RULE for bad files: a file that
 * does not parse, cannot be read, or holds an object that is refused, is
 * logged (its name and the parser's or admission's message) and nothing
 * that came from it is pruned; its objects that are admitted are still
 * applied. A directory that cannot be read prunes nothing. Other files
 * are never affected by a bad one. Objects without the annotation (from
 * droverctl or kubectl) are never pruned.
 */
#ifndef DROVER_MANIFESTS_H
#define DROVER_MANIFESTS_H

#include <stddef.h>

struct loop;
struct store;
struct manifests;

#define MANIFESTS_ANNOTATION "drover.dev/manifest-file"
#define MANIFESTS_DEBOUNCE_MS 200
#define MANIFESTS_MAX_DELAY_MS 2000

/* Watch dir and apply it once now. NULL with a message in err. */
struct manifests *manifests_new(struct loop *l, struct store *s,
    const char *dir, char *err, size_t errlen);
void manifests_free(struct manifests *m);

/* Apply the directory now (what the watcher does after a change). */
void manifests_sync(struct manifests *m);

#endif
