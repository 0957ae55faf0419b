/*
 * kapi_server.h: droverd's side of the Kubernetes API handlers (issue 6):
 * make the handler state that apiserver.c passes to kapi_handle().
 */
#ifndef DROVER_KAPI_SERVER_H
#define DROVER_KAPI_SERVER_H

#include <stddef.h>

struct kapi;
struct store;
struct loop;
struct rt;
struct usage;

/* rt and u (usage.h, the metrics) may be NULL (no runtime: console 400;
 * no usage: only the node's). NULL with a message in err on failure. */
struct kapi *kapi_new(struct store *s, struct loop *l, struct rt *rt,
    struct usage *u, char *err, size_t errlen);
/* Ends every watch and console session; NULL is fine. */
void kapi_free(struct kapi *k);

#endif
