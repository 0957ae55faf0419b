/*
 * hpa_int.h: what the HPA controller's files share (not for others).
 * hpa.c: the controller, watch, queue, per-HPA memory, clocks, loop glue.
 * hpa_sync.c: one reconciliation (hpa.h). hpa_calc.c: the arithmetic.
 */
#ifndef DROVER_HPA_INT_H
#define DROVER_HPA_INT_H

#include <stdint.h>

#include <jansson.h>

#include "hpa.h"
#include "hpa_calc.h"

/* "ns/name" (DNS labels: 64 + 254 fit). */
#define HPA_KEY_MAX 320

/* One HPA's memory: Kubernetes keeps it in the controller too. */
struct hpa_state {
	struct hpa_state *next;
	char key[HPA_KEY_MAX];
	char uid[64];
	int64_t generation;		/* the spec generation last queued */
	struct hpa_hist hist;		/* recommendations, scale events */
};

struct hpa_ctl {
	struct store *s;
	struct loop *l;
	struct usage *u;
	struct hpa_config cfg;
	int watch_id, defer_id, resync_id, draining;
	json_t *events;			/* array: {ev, ns, name, uid, gen} */
	json_t *queue;			/* object: "ns/name" -> true */
	struct hpa_state *states;
	hpa_metrics_fn metrics;
	void *metrics_arg;
	hpa_clock_fn mono, wall;
	void *clock_arg;
};

const char *hpa_key(const char *ns, const char *name, char *buf, size_t len);
/* The memory of key (created when asked): NULL when out of memory. */
struct hpa_state *hpa_state_get(struct hpa_ctl *c, const char *key,
    int create);
void hpa_state_drop(struct hpa_ctl *c, const char *key);

int64_t hpa_now_mono(struct hpa_ctl *c);
int64_t hpa_now_wall(struct hpa_ctl *c);

#endif
