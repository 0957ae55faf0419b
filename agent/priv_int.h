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
