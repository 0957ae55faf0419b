/*
 * columns.h: the printer columns of the kinds droverd serves, as the API
 * server renders them in a Table (meta.k8s.io/v1) and kubectl prints them:
 * KubeVirt's additionalPrinterColumns for its CRDs (VMIRS: Desired,
 * Current, Ready, Age; VMI: Age, Phase, IP, NodeName, Ready, and at
 * priority 1 Live-Migratable, Paused), Kubernetes' printers
 * (pkg/printers/internalversion) for the HPA, Pod, Event, Namespace and
 * Node. Shared by the API's Tables (kapi_table.c) and `droverctl get`.
 *
 * Cells are JSON values, one per column: strings, integers, or null for a
 * value the object does not have (kubectl prints null as blank). Ages are
 * Kubernetes' HumanDuration ("5m", "7m44s", "3d4h") computed against now.
 */
#ifndef DROVER_COLUMNS_H
#define DROVER_COLUMNS_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

struct columns_def {
	const char *name;		/* "Name", "Desired", "Last Seen" */
	const char *type;		/* "string", "integer", "date" */
	const char *format;		/* "name" or "" */
	const char *description;
	int priority;			/* 1: shown with -o wide only */
};

/* The columns of kind (never NULL: unknown kinds get Name and Age). */
const struct columns_def *columns_of(const char *kind, size_t *n);
/* A new array of the cells of obj (a stored object of kind). */
json_t *columns_cells(const char *kind, const json_t *obj, time_t now);

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
const char *columns_human_duration(long long seconds, char *buf, size_t len);
/* Age of an RFC 3339 timestamp at now; "<unknown>" when absent or bad. */
const char *columns_age(const char *rfc3339, time_t now, char *buf,
    size_t len);

#endif
