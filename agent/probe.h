/*
 * probe.h: a VMI's readinessProbe or livenessProbe (tcpSocket, httpGet),
 * run from droverd's loop without blocking.
 *
 * Semantics (Kubernetes' prober, pkg/kubelet/prober/worker.go):
 * - readiness starts not ready, liveness starts alive;
 * - the first probe runs initialDelaySeconds after probe_new(), then one
 *   every periodSeconds (measured start to start; a probe that runs past
 *   the period delays the next, never overlaps it);
 * - each probe has timeoutSeconds to succeed (connect, and for httpGet
 *   the status line);
 * - the state flips only after successThreshold consecutive successes or
 *   failureThreshold consecutive failures; then changed(arg, ok) is
 *   called (only on a flip);
 * - after a liveness failure the probe stops (the VMI is ended; kubelet
 *   likewise holds the worker until a new container exists).
 * Defaults as KubeVirt's: timeout 1, period 10, successThreshold 1,
 * failureThreshold 3, initialDelay 0 (absent or below the minimum).
 * Times may be JSON reals (fractions of a second; admission only lets
 * integers through, tests use fractions).
 *
 * Handlers:
 * - tcpSocket {port, host}: success = the TCP connection is established;
 * - httpGet {path, port, host, scheme, httpHeaders}: "GET path HTTP/1.1"
 *   with Host, User-Agent kube-probe/1.30, Accept: * / *, Connection:
 *   close and the given headers; success = status 200..399. Redirects
 *   (301, 302, 303, 307, 308) to the same host are followed, at most 10,
 *   within the timeout; a redirect to another host counts as success (as
 *   kubelet's RedirectChecker). scheme HTTPS: TLS without certificate
 *   verification, as kubelet.
 * - exec and guestAgentPing are refused at probe_new(): they need a guest
 *   agent, which Drover does not provide (admission refuses them too).
 * host: the handler's host, else the host argument (the VMI's IP); a
 * numeric IPv4 or IPv6 address. port: a number 1..65535, or the name of
 * a port in ifaces (spec.domain.devices.interfaces[*].ports[*].name).
 */
#ifndef DROVER_PROBE_H
#define DROVER_PROBE_H

#include <stddef.h>

#include <jansson.h>

#include "loop.h"

struct probe;

enum probe_kind {
	PROBE_READINESS,
	PROBE_LIVENESS,
};

/* ok: 1 ready/alive, 0 not. The callback may call probe_free(). */
typedef void (*probe_fn)(void *arg, int ok);

/*
 * Start probing. spec is the probe object (readinessProbe), ifaces the
 * VMI's interfaces array (may be NULL) for named ports, host the VMI's IP
 * (may be NULL when the probe names its own host). NULL and a message in
 * err if the spec cannot be run.
 */
struct probe *probe_new(struct loop *l, enum probe_kind kind,
    const json_t *spec, const json_t *ifaces, const char *host,
    probe_fn changed, void *arg, char *err, size_t errlen);
/* Stop probing (cancels a probe in flight) and free. NULL is fine. */
void probe_free(struct probe *p);

/* The current state: 1 ready/alive, 0 not. */
int probe_ok(const struct probe *p);
/* Why the last probe failed ("" after a success), for events and logs. */
const char *probe_last_error(const struct probe *p);
/* Probes run so far (tests, status). */
unsigned long probe_count(const struct probe *p);

#endif
