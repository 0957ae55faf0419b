/*
 * config_int.h: what the two files of drover-vmm's config share (not an
 * API: config.h is). config.c holds the VM-wide flags and fields, the JSON
 * file and the command line; config_dev.c the disks (with their pinned
 * backing chains) and the NICs, as --disk/--net specs and JSON objects.
 */
#ifndef DROVER_VMM_CONFIG_INT_H
#define DROVER_VMM_CONFIG_INT_H

#include <jansson.h>

#include "config.h"

/* Print "drover-vmm: FIELD: message" to stderr: -EINVAL. */
int vmm_cfg_error(const char *field, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Replace *dst with a copy of v (not empty). 0 or -EINVAL (printed). */
int vmm_cfg_set_str(char **dst, const char *field, const char *v);

/* ---- config_dev.c ------------------------------------------------------ */

/* One --disk / --net spec ("path=FILE,format=qcow2,..."). 0 or -EINVAL. */
int vmm_cfg_add_disk(struct vmm_config *c, const char *field,
    const char *spec);
int vmm_cfg_add_net(struct vmm_config *c, const char *field,
    const char *spec);
/* JSON "disk" (disk set) or "net": a list of objects or spec strings, or
 * just one. 0 or -EINVAL. */
int vmm_cfg_json_devices(struct vmm_config *c, const char *field, json_t *v,
    int disk);
/* Free what the disks and NICs hold. */
void vmm_cfg_free_devices(struct vmm_config *c);

#endif
