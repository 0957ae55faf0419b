/*
 * validate.h: Kubernetes' and KubeVirt's validation rules, with their words.
 *
 * validate_meta.c: apimachinery's name, label and selector rules
 * (util/validation, api/validation, apis/meta/v1/validation, labels).
 * validate_vmi.c: KubeVirt's VMI spec admitter (vmi-create-admitter.go,
 * network/admitter) for the fields Drover knows, then Drover's own limits.
 * validate_hpa.c: autoscaling validation (pkg/apis/autoscaling/validation).
 */
#ifndef DROVER_VALIDATE_H
#define DROVER_VALIDATE_H

#include <jansson.h>

#include "ferr.h"
#include "quantity.h"

#define VALIDATE_MSG_MAX 4

/* The messages of one check ("must be no more than 63 characters", ...). */
struct validate_msgs {
	int n;
	char m[VALIDATE_MSG_MAX][400];
};

void validate_dns1123_label(const char *s, struct validate_msgs *out);
void validate_dns1123_subdomain(const char *s, struct validate_msgs *out);
void validate_qualified_name(const char *s, struct validate_msgs *out);
void validate_label_value(const char *s, struct validate_msgs *out);
/* The messages joined with sep into buf; returns buf. */
const char *validate_join(const struct validate_msgs *m, const char *sep,
    char *buf, size_t len);

/* ObjectMeta (name or generateName, namespace, labels, annotations, ...). */
void validate_object_meta(const json_t *meta, int namespaced,
    struct ferr_list *l);
/* Labels alone, under path (e.g. "spec.template.metadata.labels"). */
void validate_labels(const json_t *labels, const char *path,
    struct ferr_list *l);

/*
 * A LabelSelector as metav1.LabelSelectorAsSelector reads it: 1 if it
 * matches labels, 0 if not (a missing selector matches nothing, an empty
 * one everything), -1 if it is invalid (the error text in err).
 */
int validate_selector_matches(const json_t *selector, const json_t *labels,
    char *err, size_t errlen);
/* The selector as a string ("a=b,c in (d,e)"); malloc'd, NULL if invalid. */
char *validate_selector_string(const json_t *selector);

/* A quantity member (string or number): 1 found, 0 absent, -1 malformed. */
int validate_quantity(const json_t *v, struct quantity *q);
/* Quantity.String() of a member, or "0" when absent. */
const char *validate_quantity_string(const json_t *v, char *buf, size_t len);

/*
 * KubeVirt's ValidateVirtualMachineInstanceSpec for spec (at path, e.g.
 * "spec.template.spec"), then Drover's limits; causes appended to l.
 * mandatory: also require memory (after defaults), as for a VMI.
 */
void validate_vmi_spec(const json_t *spec, const char *path, int mandatory,
    struct ferr_list *l);

/* HorizontalPodAutoscaler spec (v1 or v2 form; Kubernetes' rules). */
void validate_hpa_spec(const json_t *spec, int v1, struct ferr_list *l);

#endif
