/*
 * control.h: the VM's control socket (--control PATH), a unix stream
 * socket served by the main thread. One request per connection: the
 * client writes one line, the VMM answers with one line of JSON and
 * closes. Requests:
 *   status  {"state": "running"|"shutting-down"|"stopping", "vcpus": N,
 *           "memory": bytes, "uptime_ms": ms, "console_dropped": bytes,
 *           "booted_ms": ms from VMM start to the guest's boot-complete
 *           mark (boottimer.h), or null before it,
 *           "exits": [{"vcpu": 0, "runs": .., "io": .., "mmio": ..,
 *           "unhandled": .., "other": ..}, ...]}
 *   stop    graceful: as SIGTERM (Ctrl+Alt+Del, then --stop-timeout)
 *   kill    stop the VM now (exit status 5)
 * Answers to stop and kill: {"ok": true}; to anything else:
 * {"error": "..."}. The socket is created mode 0600.
 */
#ifndef DROVER_VMM_CONTROL_H
#define DROVER_VMM_CONTROL_H

struct vmm;
struct control;

#define CONTROL_REQUEST_MAX	64

/* Listen on path (a stale socket there is replaced). NULL on failure. */
struct control *control_open(const char *path);
int control_fd(const struct control *c);
/* Accept one client and answer its request (the listening fd polled in). */
void control_serve(struct control *c, struct vmm *vm);
/* Close and remove the socket. */
void control_close(struct control *c);

#endif
