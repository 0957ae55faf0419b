/*
 * vmirs.h: the VirtualMachineInstanceReplicaSet controller (KubeVirt's
 * pkg/virt-controller/watch/replicaset, with Kubernetes' ReplicaSet
 * deletion ranking and slow-start creation).
 *
 * Usage (droverd):
 *
 *	struct vmirs_ctl *rsc = vmirs_new(store, loop);
 *	if (rsc == NULL)
 *		fatalx("cannot start the replica set controller");
 *	... loop_run(loop) ...
 *	vmirs_free(rsc);		(before store_close and loop_free)
 *
 * vmirs_new() watches the store and queues every existing replica set.
 * From then on it is level-triggered: each VMIRS or VMI change queues the
 * VMIRS concerned (its owner, or the replica sets whose selector matches
 * an orphan), the queue is drained from a loop_defer() call, and every
 * VMIRS is queued again every VMIRS_RESYNC_MS. A failed sync is retried
 * with a per-key back-off (1 s doubling up to 60 s).
 *
 * vmirs_sync() is one reconciliation of one VMIRS, callable directly:
 * tests pass loop == NULL, inject the clock and the name source, and call
 * vmirs_sync() and vmirs_drain() themselves.
 *
 * What one sync does (KubeVirt's execute(); choices where KubeVirt says
 * nothing are written down in vmirs_sync.c):
 * 1. the VMIRS is gone: forget its expectations. Its spec is unusable (no
 *    template or selector, no template labels, an invalid selector, a
 *    selector that does not match the template labels, replicas out of
 *    range; only possible when admission was bypassed): log an error,
 *    one Warning event per generation, nothing else.
 * 2. the VMIs of its namespace are claimed as ControllerRefManager does:
 *    owned and matching are kept, owned but no longer matching are
 *    released (ownerReference removed), orphans matching are adopted
 *    (ownerReference added) unless they or the VMIRS are being deleted;
 *    VMIs controlled by something else are never touched.
 * 3. unless paused, being deleted or waiting for expectations (creates
 *    and deletes not yet observed through the watch, 5 min timeout): up
 *    to VMIRS_BURST creates (slow start: batches of 1, 2, 4, ...; the
 *    first failing batch ends it) or deletes (the lowest ranked first);
 *    after a successful scale, finished VMIs are deleted.
 * 4. status: replicas, readyReplicas, labelSelector, conditions
 *    ReplicaFailure and ReplicaPaused, written only when they change;
 *    events SuccessfulCreate, FailedCreate, SuccessfulDelete,
 *    FailedDelete, SuccessfulPaused, SuccessfulResumed.
 */
#ifndef DROVER_VMIRS_H
#define DROVER_VMIRS_H

#include <stdint.h>

#include <jansson.h>

struct store;
struct loop;
struct vmirs_ctl;

#define VMIRS_KIND		"VirtualMachineInstanceReplicaSet"
#define VMIRS_VMI_KIND		"VirtualMachineInstance"
#define VMIRS_BURST		250	/* creates or deletes per sync */
#define VMIRS_EXPECT_TIMEOUT_MS	(5 * 60 * 1000)
#define VMIRS_RESYNC_MS		30000
#define VMIRS_NAME_ALPHABET	"bcdfghjklmnpqrstvwxz2456789"

/* Monotonic milliseconds (expectations) and wall seconds (conditions). */
typedef uint64_t (*vmirs_mono_fn)(void *arg);
typedef int64_t (*vmirs_wall_fn)(void *arg);
/* A random 32-bit value (VMI name suffixes). */
typedef uint32_t (*vmirs_rand_fn)(void *arg);

/*
 * Start the controller on store s. l may be NULL (tests): nothing is then
 * scheduled, the caller calls vmirs_drain() or vmirs_sync(). NULL on
 * allocation failure.
 */
struct vmirs_ctl *vmirs_new(struct store *s, struct loop *l);
/* Stop watching, cancel the loop calls, free. */
void vmirs_free(struct vmirs_ctl *c);

/*
 * Reconcile the VMIRS ns/name once. 0: done (also when it does not exist
 * or is not acted on); negative errno when a create, delete or claim
 * failed (the caller retries; the status says why).
 */
int vmirs_sync(struct vmirs_ctl *c, const char *ns, const char *name);

/*
 * Handle the watch events received so far (expectations, queueing), then
 * sync the queued keys, until nothing is left (bounded). Returns the
 * number of syncs done. The loop calls it by itself; tests call it.
 */
int vmirs_drain(struct vmirs_ctl *c);

/* Queue ns/name (as a watch event would). */
void vmirs_enqueue(struct vmirs_ctl *c, const char *ns, const char *name);

/*
 * Creates and deletes ns/name still waits for (0 and 0 when satisfied or
 * expired). Either pointer may be NULL.
 */
void vmirs_expectations(struct vmirs_ctl *c, const char *ns,
    const char *name, int *creates, int *deletes);

/* Tests: replace the clocks and the random source (NULL: the defaults). */
void vmirs_set_clock(struct vmirs_ctl *c, vmirs_mono_fn mono,
    vmirs_wall_fn wall, void *arg);
void vmirs_set_rand(struct vmirs_ctl *c, vmirs_rand_fn fn, void *arg);
/* Tests: the resync period (0: VMIRS_RESYNC_MS). */
void vmirs_set_resync(struct vmirs_ctl *c, unsigned ms);

/*
 * The deletion order (Kubernetes' ActivePodsWithRanks.Less, for VMIs):
 * sorts the VMIs of array vmis in place, first to delete first.
 */
void vmirs_rank_sort(json_t *vmis);

#endif
