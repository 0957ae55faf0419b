/*
 * kapi_console.h: KubeVirt's serial console subresource (issue 6):
 *   GET /apis/subresources.kubevirt.io/v1/namespaces/{ns}/
 *       virtualmachineinstances/{name}/console
 * upgraded to a WebSocket with subprotocol "plain.kubevirt.io", binary
 * frames both ways, bridged to the VMI's console socket (drover-vmm's
 * unix socket, rt_console_path()). A newer session takes the console from
 * an older one (the older WebSocket is closed). Refusals as KubeVirt's
 * virt-api: no such VMI 404, VMI not running 400, Failed 409.
 */
#ifndef DROVER_KAPI_CONSOLE_H
#define DROVER_KAPI_CONSOLE_H

#include "kapi.h"

struct store;
struct rt;
struct loop;

#define KAPI_CONSOLE_PROTOCOL	"plain.kubevirt.io"

/*
 * Called by kapi's router for the console path (method already checked to
 * be GET by the router, or checked here: anything else gets 405). Answers
 * at once (kapi_respond) on a refusal, else accepts the WebSocket and
 * keeps the bridge going from the loop. Always returns 0 (the connection
 * has been answered or taken over).
 */
int kapi_console_handle(struct kapi *k, struct kapi_conn *c,
    const struct kapi_req *r, const char *ns, const char *name);

/*
 * Free every console session of k (droverd's shut-down; their WebSockets
 * are closed). Safe when there are none.
 */
void kapi_console_shutdown(struct kapi *k);

/*
 * Provided by kapi.c (the handler side), used here: the store holding the
 * VMIs, the VMI runtime (NULL when droverd runs without it: every console
 * request then gets 400) and droverd's loop.
 */
struct store *kapi_store(struct kapi *k);
struct rt *kapi_rt(struct kapi *k);
struct loop *kapi_loop(struct kapi *k);

#endif
