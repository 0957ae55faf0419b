/* validate_vmi.h: what validate_vmi.c and validate_vmi2.c share (internal). */
#ifndef DROVER_VALIDATE_VMI_H
#define DROVER_VALIDATE_VMI_H

#include <jansson.h>

#include "ferr.h"

struct vctx {
	const json_t *spec;
	const char *path;	/* "spec" or "spec.template.spec" */
	struct ferr_list *l;
};

/* A member by dotted path ("domain.resources"); NULL if absent or null. */
const json_t *vmi_get(const json_t *o, const char *dotted);
/* A string member, "" if absent. */
const char *vmi_str(const json_t *o, const char *dotted);
/* c->path + "." + rel; and c->path.rel[i].child (child may be NULL). */
const char *vmi_path(const struct vctx *c, char out[FERR_PATH_MAX],
    const char *rel);
const char *vmi_path_i(const struct vctx *c, char out[FERR_PATH_MAX],
    const char *rel, size_t i, const char *child);
/* Hostname, memory, cpu, networks, boot order, probes (KubeVirt's order). */
void vmi_validate_first(const struct vctx *c);

#endif
