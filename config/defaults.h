/*
 * defaults.h: the defaults KubeVirt's mutating webhook and Kubernetes'
 * defaulting apply, in place on JSON trees.
 *
 * VMI spec (pkg/defaults/defaults.go, in its order):
 * - architecture "amd64"; domain.machine.type "q35";
 * - a cpu limit without a cpu request: requests.cpu = limits.cpu;
 * - domain.memory.guest = requests.memory, else limits.memory;
 * - no cpu topology: sockets = limits.cpu (rounded up), else requests.cpu,
 *   else 1, with cores 1 and threads 1; a partial topology gets 1 for the
 *   missing members (what KubeVirt's converter assumes);
 * - containerDisk.imagePullPolicy: Always for ":latest" or untagged
 *   images, else IfNotPresent;
 * - no networks and no interfaces (and autoattachPodInterface not false):
 *   interface "default" and pod network "default";
 * - a disk for each volume that has none; a disk with no target gets
 *   disk: {}; domain.cpu.model "host-model"; probe timeouts (1, 10, 1, 3).
 * Drover's choices where KubeVirt's default is something Drover lacks:
 * the default binding is masquerade (KubeVirt: bridge), an interface with
 * no binding gets masquerade, and the default disk bus is virtio (KubeVirt
 * on amd64: sata). firmware.uuid is left to whoever creates the VMI.
 *
 * VMIRS: spec.replicas 1 (KubeVirt's controller reads a missing one as 1;
 * Drover writes it down so that kubectl shows it).
 * HPA: minReplicas 1; autoscaling/v2: the cpu 80% Utilization metric when
 * there are none, and with a behavior, the missing rules filled with the
 * defaults (scaleUp: 0 s, Max, 4 Pods and 100 Percent per 15 s; scaleDown:
 * Max, 100 Percent per 15 s).
 */
#ifndef DROVER_DEFAULTS_H
#define DROVER_DEFAULTS_H

#include <jansson.h>

/* All return 0 or -ENOMEM. */
int defaults_vmi_spec(json_t *spec);
int defaults_vmirs(json_t *obj);
int defaults_hpa(json_t *obj, int v1);
/*
 * HPA autoscaling/v1 <-> autoscaling/v2, as Kubernetes converts them (new
 * objects; NULL on ENOMEM; an object already at the target version is
 * copied). v2 -> v1: the cpu Utilization metric becomes
 * targetCPUUtilizationPercentage (its current value
 * currentCPUUtilizationPercentage); what v1 cannot say (other metrics,
 * behavior, other current metrics, conditions) goes into the annotations
 * below as JSON, and v1 -> v2 takes it back from them, so that an object
 * read and written through v1 loses nothing. v1 -> v2 without a target
 * gets the 80% cpu default.
 */
#define DEFAULTS_HPA_ANN_METRICS "autoscaling.alpha.kubernetes.io/metrics"
#define DEFAULTS_HPA_ANN_BEHAVIOR "autoscaling.alpha.kubernetes.io/behavior"
#define DEFAULTS_HPA_ANN_CURRENT "autoscaling.alpha.kubernetes.io/current-metrics"
#define DEFAULTS_HPA_ANN_CONDITIONS "autoscaling.alpha.kubernetes.io/conditions"
json_t *defaults_hpa_v1_to_v2(const json_t *v1);
json_t *defaults_hpa_v2_to_v1(const json_t *v2);

#endif
