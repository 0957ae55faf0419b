/* kinds.c: the kinds droverd stores and their names (kinds.h). */
#include "kinds.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct kinds_info kinds_table[] = {
	{ "VirtualMachineInstanceReplicaSet", "kubevirt.io/v1", "kubevirt.io",
	    "virtualmachineinstancereplicasets",
	    "virtualmachineinstancereplicaset", { "vmirs", "vmirss" }, 1 },
	{ "VirtualMachineInstance", "kubevirt.io/v1", "kubevirt.io",
	    "virtualmachineinstances", "virtualmachineinstance",
	    { "vmi", "vmis" }, 1 },
	{ "HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling",
	    "horizontalpodautoscalers", "horizontalpodautoscaler",
	    { "hpa" }, 1 },
	{ "Pod", "v1", "", "pods", "pod", { "po" }, 1 },
	{ "Event", "v1", "", "events", "event", { "ev" }, 1 },
	{ "Namespace", "v1", "", "namespaces", "namespace", { "ns" }, 0 },
	{ "Node", "v1", "", "nodes", "node", { "no" }, 0 },
};

#define KINDS_N (sizeof(kinds_table) / sizeof(kinds_table[0]))

static int
kinds_match(const struct kinds_info *k, const char *name, size_t len)
{
	const char *names[] = { k->kind, k->resource, k->singular };

	for (size_t i = 0; i < 3; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(names[i], name, len) == 0)
			return 1;
	for (size_t i = 0; i < 3 && k->shorts[i]; i++)
		if (strlen(k->shorts[i]) == len &&
		    strncasecmp(k->shorts[i], name, len) == 0)
			return 1;
	return 0;
}

const struct kinds_info *
kinds_lookup(const char *name)
{
	const char *dot;
	size_t len;

	if (!name || !*name)
		return NULL;
	dot = strchr(name, '.');
	len = dot ? (size_t)(dot - name) : strlen(name);
	for (size_t i = 0; i < KINDS_N; i++) {
		const struct kinds_info *k = &kinds_table[i];

		if (!kinds_match(k, name, len))
			continue;
		/* "pods.metrics.k8s.io" is not our pods. */
		if (dot && strcasecmp(dot + 1, k->group) != 0)
			continue;
		return k;
	}
	return NULL;
}

const struct kinds_info *
kinds_by_kind(const char *kind)
{
	for (size_t i = 0; kind && i < KINDS_N; i++)
		if (strcmp(kinds_table[i].kind, kind) == 0)
			return &kinds_table[i];
	return NULL;
}

const char *
kinds_qualified_singular(const struct kinds_info *k, char *buf, unsigned len)
{
	snprintf(buf, len, "%s%s%s", k->singular, *k->group ? "." : "",
	    k->group);
	return buf;
}

const char *
kinds_qualified_resource(const struct kinds_info *k, char *buf, unsigned len)
{
	snprintf(buf, len, "%s%s%s", k->resource, *k->group ? "." : "",
	    k->group);
	return buf;
}
