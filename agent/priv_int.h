/*
 * priv_int.h: between priv_local.c (the checks, the ops table) and
 * priv_net.c (the pod network's records: tap fds, DHCP servers). ids are
 * netns names made by priv_local.c from a checked run dir.
 */
#ifndef DROVER_PRIV_INT_H
#define DROVER_PRIV_INT_H

#include <limits.h>
#include <stddef.h>

#include "priv.h"

#define PLN_ID_MAX	201	/* podnet_id_ok(): at most 200 bytes */

struct pl_nets;

/* priv_path.c: path's part below root + sub ("/vmi/" or "/"), or NULL;
 * is s a/b/c without empty, "." or ".." components nor a trailing /? */
const char *priv_path_below(const char *root, const char *sub,
    const char *path);
int priv_path_rel_ok(const char *s);

/*
 * priv_vmjson.c. priv_backing_open(): the image store's file path (under
 * images_dir, no symlink on the way, a regular file of the store's
 * owner) opened read-only: the fd, or -errno (-EPERM: refused) with a
 * message naming path.
 */
int priv_backing_open(const char *images_dir, const struct json_t *preloaded,
    const char *path, char *err, size_t errlen);

/* What a VMI's drover-vmm may be given (vmm_spawn). */
struct priv_vmjson_in {
	const char *dir;		/* its run dir: sockets, exit file */
	const char *ddir;		/* its disk dir: the disks */
	const char *images_dir;		/* the backing files (NULL: none) */
	const struct json_t *preloaded;	/* and these ({REF: FILE}) */
	const char *vmm_user;		/* the only "user" (NULL: none) */
	int gids[2];			/* the "access-group"s allowed (> 0) */
	int net;			/* 1: one NIC on fd PRIV_NET_FD */
};
struct priv_vmjson_out {
	char *text;			/* the checked config */
	int fds[PRIV_BACKING_MAX];	/* backing k: PRIV_BACKING_FD + k */
	unsigned nfds;
};
/* Check vm.json's text[0..len) (priv_vmjson.c says what passes); 0 and
 * *out (the backing files opened, named /proc/self/fd/N in out->text),
 * or -errno (-EPERM: refused) with a message. */
int priv_vmjson_check(const struct priv_vmjson_in *in, const char *text,
    size_t len, struct priv_vmjson_out *out, char *err, size_t errlen);
void priv_vmjson_out_free(struct priv_vmjson_out *out);
/* <in->dir>/vm.json read (O_NOFOLLOW) and checked: priv_vmjson_check().
 * 0 or -errno. */
int priv_vmjson_load(const struct priv_vmjson_in *in,
    struct priv_vmjson_out *out, char *err, size_t errlen);

/* priv_proc.c: in a forked child, close every fd above lo but keep. */
void priv_close_fds_above(int lo, int keep);

/* The node side (bridge, forwarding, masquerade). 0 and *out, or -errno
 * with a message. */
int pln_open(struct pl_nets **out, const struct priv_net_config *cfg,
    struct loop *loop, char *err, size_t errlen);
/* Forget the records (the networks stay, for the next droverd). */
void pln_close(struct pl_nets *n);
int pln_setup(struct pl_nets *n, const char *id, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen);
int pln_adopt(struct pl_nets *n, const char *id, const struct priv_net_req *req,
    struct priv_net_info *out, char *err, size_t errlen);
/* The tap fd for vmm_spawn (kept by the record; opened again after an
 * adoption), or -errno. */
int pln_tap(struct pl_nets *n, const char *id);
/* Idempotent. */
int pln_teardown(struct pl_nets *n, const char *id, char *err, size_t errlen);
int pln_prune(struct pl_nets *n, const char *const *keep, size_t nkeep);

#endif
