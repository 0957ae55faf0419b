/*
 * schema_kinds.c: the fields of VirtualMachineInstanceReplicaSet and
 * VirtualMachineInstance (kubevirt.io/v1) and HorizontalPodAutoscaler
 * (autoscaling/v1 and v2) that Drover knows. Field names are KubeVirt's and
 * Kubernetes' (api/core/v1 types.go, schema.go); members KubeVirt has but
 * Drover does not implement are SCHEMA_DROVER_NO, with what to use instead.
 */
#include "schema.h"

#include <stddef.h>

#define END { NULL, SCHEMA_ANY, 0, NULL, SCHEMA_ANY, NULL }
#define F(n, t) { n, t, 0, NULL, SCHEMA_ANY, NULL }
#define REQ(n, t) { n, t, SCHEMA_REQUIRED, NULL, SCHEMA_ANY, NULL }
#define OBJ(n, sub) { n, SCHEMA_OBJECT, 0, sub, SCHEMA_ANY, NULL }
#define REQOBJ(n, sub) { n, SCHEMA_OBJECT, SCHEMA_REQUIRED, sub, SCHEMA_ANY, NULL }
#define ARR(n, it, sub) { n, SCHEMA_ARRAY, 0, sub, it, NULL }
#define NO(n, t, hint) { n, t, SCHEMA_DROVER_NO, NULL, SCHEMA_ANY, hint }

static const struct schema_field empty[] = { END };

/* ---- metadata ----------------------------------------------------------- */

static const struct schema_field owner_reference[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	F("name", SCHEMA_STRING), F("uid", SCHEMA_STRING),
	F("controller", SCHEMA_BOOL), F("blockOwnerDeletion", SCHEMA_BOOL),
	END,
};

const struct schema_field schema_object_meta[] = {
	F("name", SCHEMA_STRING), F("generateName", SCHEMA_STRING),
	F("namespace", SCHEMA_STRING), F("selfLink", SCHEMA_STRING),
	F("uid", SCHEMA_STRING), F("resourceVersion", SCHEMA_STRING),
	F("generation", SCHEMA_INT), F("creationTimestamp", SCHEMA_STRING),
	F("deletionTimestamp", SCHEMA_STRING),
	F("deletionGracePeriodSeconds", SCHEMA_INT),
	F("labels", SCHEMA_STRING_MAP), F("annotations", SCHEMA_STRING_MAP),
	ARR("ownerReferences", SCHEMA_OBJECT, owner_reference),
	ARR("finalizers", SCHEMA_STRING, NULL),
	F("managedFields", SCHEMA_ANY),
	END,
};

static const struct schema_field label_requirement[] = {
	F("key", SCHEMA_STRING), F("operator", SCHEMA_STRING),
	ARR("values", SCHEMA_STRING, NULL), END,
};

static const struct schema_field label_selector[] = {
	F("matchLabels", SCHEMA_STRING_MAP),
	ARR("matchExpressions", SCHEMA_OBJECT, label_requirement), END,
};

/* ---- VMI spec: domain --------------------------------------------------- */

static const struct schema_field cpu[] = {
	F("cores", SCHEMA_INT), F("sockets", SCHEMA_INT),
	F("threads", SCHEMA_INT), F("maxSockets", SCHEMA_INT),
	F("model", SCHEMA_STRING), F("dedicatedCpuPlacement", SCHEMA_BOOL),
	F("isolateEmulatorThread", SCHEMA_BOOL),
	NO("features", SCHEMA_ARRAY, NULL), NO("numa", SCHEMA_OBJECT, NULL),
	NO("realtime", SCHEMA_OBJECT, NULL), END,
};

static const struct schema_field memory[] = {
	F("guest", SCHEMA_QUANTITY), F("maxGuest", SCHEMA_QUANTITY),
	NO("hugepages", SCHEMA_OBJECT, NULL), END,
};

static const struct schema_field resources[] = {
	F("requests", SCHEMA_QUANTITY_MAP), F("limits", SCHEMA_QUANTITY_MAP),
	F("overcommitGuestOverhead", SCHEMA_BOOL), END,
};

static const struct schema_field disk_target[] = {
	F("bus", SCHEMA_STRING), F("readonly", SCHEMA_BOOL),
	F("pciAddress", SCHEMA_STRING), END,
};

static const struct schema_field disk[] = {
	REQ("name", SCHEMA_STRING), OBJ("disk", disk_target),
	NO("cdrom", SCHEMA_OBJECT, "use a disk target"),
	NO("lun", SCHEMA_OBJECT, "use a disk target"),
	F("bootOrder", SCHEMA_INT), F("serial", SCHEMA_STRING),
	F("cache", SCHEMA_STRING), F("io", SCHEMA_STRING),
	F("dedicatedIOThread", SCHEMA_BOOL), F("tag", SCHEMA_STRING),
	F("shareable", SCHEMA_BOOL), F("errorPolicy", SCHEMA_STRING),
	NO("blockSize", SCHEMA_OBJECT, NULL), END,
};

static const struct schema_field port[] = {
	F("name", SCHEMA_STRING), F("protocol", SCHEMA_STRING),
	F("port", SCHEMA_INT), END,
};

#define BINDING_HINT "the only interface binding is masquerade"
static const struct schema_field interface[] = {
	REQ("name", SCHEMA_STRING), OBJ("masquerade", empty),
	NO("bridge", SCHEMA_OBJECT, BINDING_HINT),
	NO("sriov", SCHEMA_OBJECT, BINDING_HINT),
	NO("slirp", SCHEMA_OBJECT, BINDING_HINT),
	NO("passt", SCHEMA_OBJECT, BINDING_HINT),
	NO("macvtap", SCHEMA_OBJECT, BINDING_HINT),
	NO("binding", SCHEMA_OBJECT, BINDING_HINT),
	F("model", SCHEMA_STRING), F("macAddress", SCHEMA_STRING),
	ARR("ports", SCHEMA_OBJECT, port), F("pciAddress", SCHEMA_STRING),
	F("bootOrder", SCHEMA_INT), F("dhcpOptions", SCHEMA_ANY),
	F("tag", SCHEMA_STRING), F("state", SCHEMA_STRING),
	F("acpiIndex", SCHEMA_INT), END,
};

#define DEVICE_HINT "drover-vmm has virtio disks, virtio-net, virtio-rng " \
	"and a serial console"
static const struct schema_field devices[] = {
	ARR("disks", SCHEMA_OBJECT, disk),
	ARR("interfaces", SCHEMA_OBJECT, interface),
	OBJ("rng", empty),
	F("autoattachPodInterface", SCHEMA_BOOL),
	F("autoattachGraphicsDevice", SCHEMA_BOOL),
	F("autoattachSerialConsole", SCHEMA_BOOL),
	F("autoattachMemBalloon", SCHEMA_BOOL),
	F("autoattachInputDevice", SCHEMA_BOOL),
	F("autoattachVSOCK", SCHEMA_BOOL), F("logSerialConsole", SCHEMA_BOOL),
	F("blockMultiQueue", SCHEMA_BOOL),
	F("networkInterfaceMultiqueue", SCHEMA_BOOL),
	F("useVirtioTransitional", SCHEMA_BOOL),
	F("disableHotplug", SCHEMA_BOOL),
	NO("inputs", SCHEMA_ARRAY, DEVICE_HINT),
	NO("watchdog", SCHEMA_OBJECT, DEVICE_HINT),
	NO("filesystems", SCHEMA_ARRAY, DEVICE_HINT),
	NO("gpus", SCHEMA_ARRAY, DEVICE_HINT),
	NO("hostDevices", SCHEMA_ARRAY, DEVICE_HINT),
	NO("sound", SCHEMA_OBJECT, DEVICE_HINT),
	NO("tpm", SCHEMA_OBJECT, DEVICE_HINT),
	NO("clientPassthrough", SCHEMA_OBJECT, DEVICE_HINT),
	NO("downwardMetrics", SCHEMA_OBJECT, DEVICE_HINT),
	NO("video", SCHEMA_OBJECT, DEVICE_HINT),
	NO("panicDevices", SCHEMA_ARRAY, DEVICE_HINT),
	END,
};

static const struct schema_field machine[] = {
	F("type", SCHEMA_STRING), END,
};

static const struct schema_field firmware[] = {
	F("uuid", SCHEMA_STRING), F("serial", SCHEMA_STRING),
	NO("bootloader", SCHEMA_OBJECT, "the guest boots from its disk's "
	    "kernel (PVH or bzImage)"),
	NO("kernelBoot", SCHEMA_OBJECT, NULL), NO("acpi", SCHEMA_OBJECT, NULL),
	END,
};

static const struct schema_field domain[] = {
	OBJ("cpu", cpu), OBJ("memory", memory), OBJ("resources", resources),
	OBJ("devices", devices), OBJ("machine", machine),
	OBJ("firmware", firmware), F("clock", SCHEMA_ANY),
	F("features", SCHEMA_ANY), F("ioThreadsPolicy", SCHEMA_STRING),
	F("ioThreads", SCHEMA_ANY), F("chassis", SCHEMA_ANY),
	NO("launchSecurity", SCHEMA_OBJECT, NULL), END,
};

/* ---- VMI spec: networks, volumes, probes -------------------------------- */

static const struct schema_field pod_network[] = {
	F("vmNetworkCIDR", SCHEMA_STRING), F("vmIPv6NetworkCIDR", SCHEMA_STRING),
	END,
};

static const struct schema_field network[] = {
	REQ("name", SCHEMA_STRING), OBJ("pod", pod_network),
	NO("multus", SCHEMA_OBJECT, "the only network is the pod network"),
	END,
};

static const struct schema_field container_disk[] = {
	REQ("image", SCHEMA_STRING), F("imagePullPolicy", SCHEMA_STRING),
	F("imagePullSecret", SCHEMA_STRING), F("path", SCHEMA_STRING), END,
};

static const struct schema_field cloud_init_nocloud[] = {
	F("userData", SCHEMA_STRING), F("userDataBase64", SCHEMA_STRING),
	F("networkData", SCHEMA_STRING), F("networkDataBase64", SCHEMA_STRING),
	NO("secretRef", SCHEMA_OBJECT, "give userData inline"),
	NO("userDataSecretRef", SCHEMA_OBJECT, "give userData inline"),
	NO("networkDataSecretRef", SCHEMA_OBJECT, "give networkData inline"),
	END,
};

static const struct schema_field empty_disk[] = {
	REQ("capacity", SCHEMA_QUANTITY), END,
};

#define VOLUME_HINT "supported volume sources are containerDisk, " \
	"cloudInitNoCloud and emptyDisk"
static const struct schema_field volume[] = {
	REQ("name", SCHEMA_STRING), OBJ("containerDisk", container_disk),
	OBJ("cloudInitNoCloud", cloud_init_nocloud),
	OBJ("emptyDisk", empty_disk),
	NO("ephemeral", SCHEMA_OBJECT, "an ephemeral volume is a copy-on-write "
	    "layer over a PersistentVolumeClaim, and Drover has no "
	    "PersistentVolumeClaims; use a containerDisk (its overlay is "
	    "ephemeral) or an emptyDisk"),
	NO("persistentVolumeClaim", SCHEMA_OBJECT, VOLUME_HINT),
	NO("dataVolume", SCHEMA_OBJECT, VOLUME_HINT),
	NO("hostDisk", SCHEMA_OBJECT, VOLUME_HINT),
	NO("configMap", SCHEMA_OBJECT, VOLUME_HINT),
	NO("secret", SCHEMA_OBJECT, VOLUME_HINT),
	NO("serviceAccount", SCHEMA_OBJECT, VOLUME_HINT),
	NO("downwardAPI", SCHEMA_OBJECT, VOLUME_HINT),
	NO("downwardMetrics", SCHEMA_OBJECT, VOLUME_HINT),
	NO("cloudInitConfigDrive", SCHEMA_OBJECT, VOLUME_HINT),
	NO("memoryDump", SCHEMA_OBJECT, VOLUME_HINT),
	NO("sysprep", SCHEMA_OBJECT, VOLUME_HINT),
	END,
};

static const struct schema_field tcp_socket[] = {
	REQ("port", SCHEMA_INT_OR_STRING), F("host", SCHEMA_STRING), END,
};

static const struct schema_field http_get[] = {
	F("path", SCHEMA_STRING), REQ("port", SCHEMA_INT_OR_STRING),
	F("host", SCHEMA_STRING), F("scheme", SCHEMA_STRING),
	F("httpHeaders", SCHEMA_ANY), END,
};

static const struct schema_field exec_action[] = {
	ARR("command", SCHEMA_STRING, NULL), END,
};

static const struct schema_field probe[] = {
	OBJ("tcpSocket", tcp_socket), OBJ("httpGet", http_get),
	OBJ("exec", exec_action), OBJ("guestAgentPing", empty),
	F("initialDelaySeconds", SCHEMA_INT), F("timeoutSeconds", SCHEMA_INT),
	F("periodSeconds", SCHEMA_INT), F("successThreshold", SCHEMA_INT),
	F("failureThreshold", SCHEMA_INT), END,
};

static const struct schema_field vmi_spec[] = {
	REQOBJ("domain", domain),
	ARR("networks", SCHEMA_OBJECT, network),
	ARR("volumes", SCHEMA_OBJECT, volume),
	F("terminationGracePeriodSeconds", SCHEMA_INT),
	F("hostname", SCHEMA_STRING), F("subdomain", SCHEMA_STRING),
	F("nodeSelector", SCHEMA_STRING_MAP), F("affinity", SCHEMA_ANY),
	F("tolerations", SCHEMA_ANY), F("topologySpreadConstraints", SCHEMA_ANY),
	F("evictionStrategy", SCHEMA_STRING), F("schedulerName", SCHEMA_STRING),
	F("priorityClassName", SCHEMA_STRING), F("dnsPolicy", SCHEMA_STRING),
	F("dnsConfig", SCHEMA_ANY), OBJ("readinessProbe", probe),
	OBJ("livenessProbe", probe), F("architecture", SCHEMA_STRING),
	NO("startStrategy", SCHEMA_STRING, NULL),
	NO("accessCredentials", SCHEMA_ARRAY, "use cloudInitNoCloud userData"),
	END,
};

/* ---- the kinds ------------------------------------------------------------ */

static const struct schema_field vmi_template[] = {
	OBJ("metadata", schema_object_meta), OBJ("spec", vmi_spec), END,
};

static const struct schema_field vmirs_spec[] = {
	F("replicas", SCHEMA_INT), OBJ("selector", label_selector),
	OBJ("template", vmi_template), F("paused", SCHEMA_BOOL), END,
};

const struct schema_field schema_vmirs[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), REQOBJ("spec", vmirs_spec),
	F("status", SCHEMA_ANY), END,
};

const struct schema_field schema_vmi[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), REQOBJ("spec", vmi_spec),
	F("status", SCHEMA_ANY), END,
};

static const struct schema_field scale_target_ref[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	F("name", SCHEMA_STRING), END,
};

static const struct schema_field hpa_v1_spec[] = {
	OBJ("scaleTargetRef", scale_target_ref), F("minReplicas", SCHEMA_INT),
	F("maxReplicas", SCHEMA_INT),
	F("targetCPUUtilizationPercentage", SCHEMA_INT), END,
};

const struct schema_field schema_hpa_v1[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), OBJ("spec", hpa_v1_spec),
	F("status", SCHEMA_ANY), END,
};

static const struct schema_field metric_target[] = {
	F("type", SCHEMA_STRING), F("averageUtilization", SCHEMA_INT),
	F("averageValue", SCHEMA_QUANTITY), F("value", SCHEMA_QUANTITY), END,
};

static const struct schema_field resource_metric[] = {
	F("name", SCHEMA_STRING), OBJ("target", metric_target), END,
};

static const struct schema_field metric[] = {
	F("type", SCHEMA_STRING), OBJ("resource", resource_metric),
	F("pods", SCHEMA_ANY), F("object", SCHEMA_ANY),
	F("external", SCHEMA_ANY), F("containerResource", SCHEMA_ANY), END,
};

static const struct schema_field scaling_policy[] = {
	F("type", SCHEMA_STRING), F("value", SCHEMA_INT),
	F("periodSeconds", SCHEMA_INT), END,
};

static const struct schema_field scaling_rules[] = {
	F("stabilizationWindowSeconds", SCHEMA_INT),
	F("selectPolicy", SCHEMA_STRING),
	ARR("policies", SCHEMA_OBJECT, scaling_policy),
	F("tolerance", SCHEMA_QUANTITY), END,
};

static const struct schema_field behavior[] = {
	OBJ("scaleUp", scaling_rules), OBJ("scaleDown", scaling_rules), END,
};

static const struct schema_field hpa_v2_spec[] = {
	OBJ("scaleTargetRef", scale_target_ref), F("minReplicas", SCHEMA_INT),
	F("maxReplicas", SCHEMA_INT), ARR("metrics", SCHEMA_OBJECT, metric),
	OBJ("behavior", behavior), END,
};

const struct schema_field schema_hpa_v2[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), OBJ("spec", hpa_v2_spec),
	F("status", SCHEMA_ANY), END,
};

/* ---- core v1 kinds ------------------------------------------------------------ */

static const struct schema_field object_reference[] = {
	F("kind", SCHEMA_STRING), F("namespace", SCHEMA_STRING),
	F("name", SCHEMA_STRING), F("uid", SCHEMA_STRING),
	F("apiVersion", SCHEMA_STRING), F("resourceVersion", SCHEMA_STRING),
	F("fieldPath", SCHEMA_STRING), END,
};

static const struct schema_field namespace_spec[] = {
	ARR("finalizers", SCHEMA_STRING, NULL), END,
};

static const struct schema_field namespace_status[] = {
	F("phase", SCHEMA_STRING), ARR("conditions", SCHEMA_ANY, NULL), END,
};

const struct schema_field schema_namespace[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), OBJ("spec", namespace_spec),
	OBJ("status", namespace_status), END,
};

static const struct schema_field event_source[] = {
	F("component", SCHEMA_STRING), F("host", SCHEMA_STRING), END,
};

static const struct schema_field event_series[] = {
	F("count", SCHEMA_INT), F("lastObservedTime", SCHEMA_STRING), END,
};

const struct schema_field schema_event[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta),
	OBJ("involvedObject", object_reference), F("reason", SCHEMA_STRING),
	F("message", SCHEMA_STRING), OBJ("source", event_source),
	F("firstTimestamp", SCHEMA_STRING), F("lastTimestamp", SCHEMA_STRING),
	F("count", SCHEMA_INT), F("type", SCHEMA_STRING),
	F("eventTime", SCHEMA_STRING), OBJ("series", event_series),
	F("action", SCHEMA_STRING), OBJ("related", object_reference),
	F("reportingComponent", SCHEMA_STRING),
	F("reportingInstance", SCHEMA_STRING), END,
};

/* Pods and Nodes are written by the runtime only: their shape, for
 * OpenAPI (kubectl explain), not for admission. */
static const struct schema_field container[] = {
	F("name", SCHEMA_STRING), F("image", SCHEMA_STRING),
	F("resources", SCHEMA_ANY), END,
};

static const struct schema_field pod_spec[] = {
	ARR("containers", SCHEMA_OBJECT, container),
	F("nodeName", SCHEMA_STRING), F("restartPolicy", SCHEMA_STRING), END,
};

static const struct schema_field pod_status[] = {
	F("phase", SCHEMA_STRING), F("podIP", SCHEMA_STRING),
	F("hostIP", SCHEMA_STRING), F("qosClass", SCHEMA_STRING),
	F("startTime", SCHEMA_STRING), ARR("conditions", SCHEMA_ANY, NULL),
	ARR("containerStatuses", SCHEMA_ANY, NULL), END,
};

const struct schema_field schema_pod[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), OBJ("spec", pod_spec),
	OBJ("status", pod_status), END,
};

static const struct schema_field node_spec[] = {
	F("unschedulable", SCHEMA_BOOL), F("podCIDR", SCHEMA_STRING), END,
};

static const struct schema_field node_status[] = {
	F("capacity", SCHEMA_QUANTITY_MAP), F("allocatable", SCHEMA_QUANTITY_MAP),
	ARR("conditions", SCHEMA_ANY, NULL), ARR("addresses", SCHEMA_ANY, NULL),
	F("nodeInfo", SCHEMA_ANY), END,
};

const struct schema_field schema_node[] = {
	F("apiVersion", SCHEMA_STRING), F("kind", SCHEMA_STRING),
	OBJ("metadata", schema_object_meta), OBJ("spec", node_spec),
	OBJ("status", node_status), END,
};
