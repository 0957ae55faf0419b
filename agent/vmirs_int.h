/*
 * vmirs_int.h: what the VMIRS controller's files share (not for others).
 * vmirs.c: the controller, watch, queue, expectations, loop glue.
 * vmirs_sync.c: one reconciliation. vmirs_rank.c: VMI predicates, the
 * deletion ranking, times.
 */
#ifndef DROVER_VMIRS_INT_H
#define DROVER_VMIRS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vmirs.h"

struct vmirs_retry;

struct vmirs_ctl {
	struct store *s;
	struct loop *l;
	int watch_id;
	json_t *events;		/* array: watch events not handled yet */
	json_t *queue;		/* object: "ns/name" -> true */
	json_t *exps;		/* object: key -> {"c": {name}, "d": {uid}, "t"} */
	json_t *owners;		/* object: VMI uid -> owner key */
	json_t *retries;	/* object: key -> failures so far */
	json_t *warned;		/* object: key -> "uid/generation" warned */
	int defer_id, resync_id;
	unsigned resync_ms;	/* VMIRS_RESYNC_MS (tests: vmirs_set_resync) */
	int draining;		/* in vmirs_drain(): no new loop_defer() */
	struct vmirs_retry *retry_list;	/* back-off timers (vmirs.c) */
	vmirs_mono_fn mono;
	vmirs_wall_fn wall;
	void *clock_arg;
	vmirs_rand_fn rnd;
	void *rand_arg;
};

/* "ns/name" into buf (ns and names are DNS labels: 64 + 254 fit). */
#define VMIRS_KEY_MAX 320
const char *vmirs_key(const char *ns, const char *name, char *buf,
    size_t len);

/* Expectations (vmirs.c). */
void vmirs_expect_create(struct vmirs_ctl *c, const char *key,
    const char *name);
void vmirs_expect_delete(struct vmirs_ctl *c, const char *key,
    const char *uid);
void vmirs_observe_create(struct vmirs_ctl *c, const char *key,
    const char *name);
void vmirs_observe_delete(struct vmirs_ctl *c, const char *key,
    const char *uid);
int vmirs_expect_satisfied(struct vmirs_ctl *c, const char *key);
void vmirs_expect_forget(struct vmirs_ctl *c, const char *key);

/* VMI predicates (vmirs_rank.c). */
int vmirs_vmi_final(const json_t *vmi);		/* Succeeded or Failed */
int vmirs_vmi_deleting(const json_t *vmi);	/* deletionTimestamp */
/* Ready condition "True"/"False"/...: the condition, or NULL. */
const json_t *vmirs_vmi_cond(const json_t *vmi, const char *type);
int vmirs_vmi_ready(const json_t *vmi);
int vmirs_vmi_terminating(const json_t *vmi);	/* Ready=False PodTerminating */
int vmirs_vmi_active(const json_t *vmi);
int vmirs_vmi_finished(const json_t *vmi);
/* The controller ownerReference of obj, or NULL. */
const json_t *vmirs_controller_ref(const json_t *obj);

/* RFC 3339 to Unix seconds; -1 if absent or malformed. */
int64_t vmirs_time_parse(const char *s);
/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ". */
const char *vmirs_time_format(int64_t t, char *buf, size_t len);

#endif
