/*
 * netns.h: named network namespaces, kept alive by a bind mount of
 * their nsfs file on <dir>/<name> (dir: e.g. /run/drover/netns).
 */
#ifndef DROVER_NET_NETNS_H
#define DROVER_NET_NETNS_H

#include <stddef.h>

/* Create <dir>/<name> (a new netns): its fd (O_CLOEXEC) or -errno. */
int netns_create(const char *dir, const char *name);
/* Open an existing one: fd or -errno. */
int netns_open(const char *dir, const char *name);
/* Unmount and remove <dir>/<name>; absent is fine. */
int netns_delete(const char *dir, const char *name);
/* The netns at <dir>/<from> is at <dir>/<to> (which must not exist)
 * instead: bind mount, then from unmounted. 0 or -errno (nothing
 * changed). */
int netns_rename(const char *dir, const char *from, const char *to);
/* Enter nsfd with the calling thread; *saved gets the old netns fd. */
int netns_enter(int nsfd, int *saved);
/* Return to saved (and close it). */
int netns_leave(int saved);

#endif
