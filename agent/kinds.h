/*
 * kinds.h: the kinds droverd stores and the names clients call them by
 * (kubectl's resource names, singular names and short names), for the
 * local API and droverctl.
 */
#ifndef DROVER_KINDS_H
#define DROVER_KINDS_H

struct kinds_info {
	const char *kind;	/* "VirtualMachineInstanceReplicaSet" */
	const char *api_version;	/* the version objects are stored in */
	const char *group;	/* "kubevirt.io", "" for the core group */
	const char *resource;	/* "virtualmachineinstancereplicasets" */
	const char *singular;	/* "virtualmachineinstancereplicaset" */
	const char *shorts[3];	/* "vmirs", "vmirss" */
	int namespaced;
};

/*
 * A kind by Kind, resource, singular or short name, case-insensitive, with
 * an optional ".group" suffix ("vmirs", "VMI", "pods", "hpa",
 * "virtualmachineinstancereplicasets.kubevirt.io"). NULL if unknown.
 */
const struct kinds_info *kinds_lookup(const char *name);
/* By exact Kind. NULL if unknown. */
const struct kinds_info *kinds_by_kind(const char *kind);

/* "virtualmachineinstancereplicaset.kubevirt.io" (kubectl's prefix). */
const char *kinds_qualified_singular(const struct kinds_info *k, char *buf,
    unsigned len);
/* "virtualmachineinstancereplicasets.kubevirt.io" (NotFound messages). */
const char *kinds_qualified_resource(const struct kinds_info *k, char *buf,
    unsigned len);

#endif
