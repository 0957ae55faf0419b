/*
 * localapi.h: droverd's local API, a unix stream socket for root on the
 * node (droverctl's default transport).
 *
 * The socket (default /run/drover/droverd.sock) is created mode 0600,
 * owned by droverd's user; its directory is created 0755 if missing. A
 * peer whose SO_PEERCRED uid is neither 0 nor droverd's own uid is
 * answered one error line and closed. A live socket at the path (another
 * droverd) is an error; a stale one is replaced.
 *
 * PROTOCOL. One JSON object per line ("\n"-terminated) each way; every
 * request gets exactly one response line, in order. Requests:
 *   {"op":"get","kind":K,"name":N,"namespace":NS}
 *       -> {"object":{...}}
 *   {"op":"list","kind":K,"namespace":NS}        (namespace optional: all)
 *       -> {"items":[...],"resourceVersion":"RV"}
 *   {"op":"apply","object":{...},"namespace":NS} (namespace optional: the
 *       namespace of an object that names none; default "default")
 *       -> {"object":{...},"result":"created"|"configured"|"unchanged"}
 *       kubectl's client-side apply (apply.h): admission with
 *       manifest_admit(MANIFEST_STRICT | MANIFEST_CREATE on a create);
 *       refused -> error (with "action":"creating"|"patching", for
 *       kubectl's wording), nothing stored; a new namespace gets a
 *       Namespace object.
 *   {"op":"delete","kind":K,"name":N,"namespace":NS}
 *       -> {"object":{...}}    (the object as it was; its dependents go
 *       too, store.h; a Namespace first loses every object in it, and
 *       default, kube-system and kube-public are 403 Forbidden)
 *   {"op":"scale","kind":K,"name":N,"namespace":NS,"replicas":R}
 *       -> {"object":{...}}    (spec.replicas set, admitted, stored)
 *   {"op":"ping"} -> {"ok":true,"resourceVersion":"RV"}
 * K: a Kind or kubectl's resource, singular or short name (kinds.h:
 * vmirs, vmirss, virtualmachineinstancereplicaset(s), vmi, vmis, hpa,
 * pods, events, ns, nodes ...). NS: default "default" (ignored for
 * Namespace and Node).
 * Errors: {"error":{"code":C,"reason":R,"message":M,...}}, a Kubernetes
 * Status (kubectl prints "Error from server (R): M"); 400 for a bad
 * request, 404 for an unknown op or kind.
 * Limits: a request line of LOCALAPI_MAX_LINE bytes or more gets a 413
 * error and the connection is closed; at most LOCALAPI_MAX_CLIENTS
 * connections; a client that does not read its responses stops being
 * read (nothing else waits for it) and is dropped when
 * LOCALAPI_MAX_PENDING bytes of responses are queued.
 */
#ifndef DROVER_LOCALAPI_H
#define DROVER_LOCALAPI_H

#include <stddef.h>

#include <jansson.h>

struct loop;
struct store;
struct localapi;

#define LOCALAPI_DEFAULT_SOCKET "/run/drover/droverd.sock"
#define LOCALAPI_MAX_LINE (4u << 20)
#define LOCALAPI_MAX_CLIENTS 64
#define LOCALAPI_MAX_PENDING (64u << 20)

/*
 * A handler for an extra op: req is the request object; return the
 * response object (new reference: {"...":...} or {"error":Status}); NULL
 * means a 500 error. Called synchronously from the loop.
 */
typedef json_t *(*localapi_fn)(void *arg, const json_t *req);

struct localapi *localapi_new(struct loop *l, struct store *s,
    const char *path, char *err, size_t errlen);
/*
 * The same in two steps, for droverd-api: localapi_listen() binds the
 * root-only socket (mode 0600, in the root-owned run dir) while droverd
 * is still root and returns the listening fd (-1, message in err);
 * localapi_new_fd() serves it (fd < 0: bind now, as localapi_new()).
 * Root stays the only client: connect(2) needs write permission on the
 * socket file, and SO_PEERCRED admits uid 0 (and droverd-api's own uid).
 */
int localapi_listen(const char *path, char *err, size_t errlen);
struct localapi *localapi_new_fd(struct loop *l, struct store *s,
    const char *path, int fd, char *err, size_t errlen);
/* Closes every connection and removes the socket file. */
void localapi_free(struct localapi *api);

/* Add op (not a built-in one, not already registered). 0 or -errno. */
int localapi_register(struct localapi *api, const char *op, localapi_fn fn,
    void *arg);

/* {"error": Status} for code/reason/message (helpers for handlers). */
json_t *localapi_error(int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
