/*
 * agentconf.h: droverd's configuration: `droverd --config FILE` (JSON,
 * optional), then the command-line flags, which override the file.
 *
 * Keys (all optional; an unknown key or a wrong type is an error naming it):
 *   "state-dir":   DIR   durable state: objects/ (the store), images/
 *                        (default /var/lib/drover)
 *   "run-dir":     DIR   run-time files: vmi/<ns>/<name>/ (default
 *                        /run/drover)
 *   "ephemeral-dir": DIR the VMIs' disk files (overlays, cloud-init seeds,
 *                        empty disks): <ns>/<name>/ on the node's disk, not
 *                        a tmpfs (default STATE-DIR/ephemeral)
 *   "socket":      PATH  the local API socket (default RUN-DIR/droverd.sock)
 *   "manifests":   DIR   apply every .yaml, .yml and .json file in DIR and keep
 *                        following it (default: none)
 *   "vmm":         PATH  drover-vmm (default: next to droverd, else PATH)
 *   "node-name":   NAME  the Node's name (default: the host name)
 *   "reserve":     {"cpu": "500m", "memory": "512Mi"}  kept back from the
 *                        VMIs (Kubernetes quantities; default none)
 *   "cgroup-root": DIR   the cgroup file system (default /sys/fs/cgroup;
 *                        "" : no cgroups, for tests)
 *   "cgroup-parent": NAME the VMIs' parent cgroup (default "drover")
 *   "vmm-user":    "UID:GID" the VMMs drop to (default: droverd's user)
 *   "user":        NAME or "UID:GID" droverd-api drops to when droverd
 *                        starts as root (privilege separation; default
 *                        "drover", the node image's user; when that user
 *                        does not exist, "nobody", with a warning)
 *   "grace-period": S    default terminationGracePeriodSeconds (30)
 *   "images":      {...} the image store's configuration, passed as is to
 *                        images_open() (images.h: "preloaded", "mirrors",
 *                        "ca", "auth")
 *   "log-level":   "error"|"warn"|"info"|"debug" (default info)
 *   "log-file":    PATH  also append the log to PATH
 *   "runtime":     bool  run the VMI runtime (default true; false: API,
 *                        store and controllers only, for tests)
 *   "listen":      "ADDR:PORT" the mTLS API (default 0.0.0.0:6443;
 *                        "[ADDR6]:PORT" for IPv6)
 *   "tls":         {"cert": FILE, "key": FILE, "client-ca": FILE} the API's
 *                        server certificate, its key and the CA that signs
 *                        client certificates (default AGENTCONF_PKI_DIR/
 *                        server.crt, server.key, ca.crt, as `droverctl
 *                        certs init` writes them). Configured files must
 *                        exist; without the key and the defaults missing
 *                        there is no mTLS API (logged).
 *   "api":         {"max-conns": N, "max-body": BYTES, "max-header": BYTES,
 *                        "header-timeout": S, "idle-timeout": S,
 *                        "body-timeout": S, "send-timeout": S,
 *                        "max-out": BYTES} the API's limits (apiserver.h;
 *                        0 or absent: its defaults)
 *   "network":     true | false | {"bridge": "drover0", "cidr": "10.244.0.0/24",
 *                        "resolv-conf": "/etc/resolv.conf", "pool": 2}  KubeVirt's pod
 *                        network (masquerade; docs/net.md): the node bridge
 *                        (holds the CIDR's first address), the pod CIDR, the
 *                        DNS the guests get, how many pod netns are kept
 *                        made ahead (0-8; 0: each is made at its VMI's
 *                        set-up); an object enables it (default:
 *                        off, VMIs run without a NIC)
 *   "hpa":         {"sync-period": S, "downscale-stabilization": S,
 *                        "cpu-initialization-period": S,
 *                        "initial-readiness-delay": S, "tolerance": 0.1}
 *                        the HorizontalPodAutoscaler controller's settings,
 *                        kube-controller-manager's
 *                        --horizontal-pod-autoscaler-* flags (hpa.h;
 *                        defaults 15, 300, 300, 30, 0.1; seconds up to
 *                        3600, sync-period at least 1, tolerance 0 to 1)
 * For tests and special set-ups:
 *   "poll-ms":     N     VMM status polls (default 1000)
 *   "capacity":    {"cpu": "4", "memory": "8Gi"}  instead of the host's
 *   "vmm-overhead": "32Mi" memory added per VMM
 */
#ifndef DROVER_AGENTCONF_H
#define DROVER_AGENTCONF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AGENTCONF_STATE_DIR	"/var/lib/drover"
#define AGENTCONF_RUN_DIR	"/run/drover"
#define AGENTCONF_CGROUP_ROOT	"/sys/fs/cgroup"
#define AGENTCONF_LISTEN	"0.0.0.0:6443"
#define AGENTCONF_PKI_DIR	"/etc/drover/pki"

struct agentconf {
	char *state_dir, *run_dir, *socket, *manifests;
	char *vmm_path, *node_name, *cgroup_root, *cgroup_parent, *vmm_user;
	char *log_file, *listen, *ephemeral_dir;
	char *user;		/* droverd-api's user; NULL: the default */
	int network;		/* 1: the pod network */
	char *net_bridge, *net_cidr, *net_resolv;	/* NULL: defaults */
	int net_pool;		/* warm pod netns kept ready (default 2) */
	int64_t reserve_cpu_milli, reserve_memory;
	int64_t capacity_cpu_milli, capacity_memory, vmm_overhead;
	int grace_period;	/* 0: the runtime's default */
	int poll_ms;		/* 0: the runtime's default */
	int log_level;		/* -1: not set */
	int runtime;		/* 1: run the VMI runtime */
	json_t *images;		/* NULL or the "images" object */
	/* The mTLS API: "tls" (NULL: the AGENTCONF_PKI_DIR defaults) ... */
	char *tls_cert, *tls_key, *tls_ca;
	int tls_configured;	/* "tls" given: its files must exist */
	/* ... and "api": limits, 0 for apiserver.h's defaults. */
	unsigned api_max_conns, api_max_body, api_max_header, api_max_out;
	unsigned api_header_timeout, api_idle_timeout, api_body_timeout;
	unsigned api_send_timeout;
	/* "hpa": seconds, -1 (and tolerance < 0) for hpa.h's defaults */
	int hpa_sync_s, hpa_downscale_s, hpa_cpu_init_s, hpa_readiness_s;
	double hpa_tolerance;
};

/* Defaults (strings NULL: filled by agentconf_finish()). */
void agentconf_init(struct agentconf *c);
/* Read FILE into c. 0, or -1 with a message naming the file and key. */
int agentconf_load(struct agentconf *c, const char *path, char *err,
    size_t errlen);
/* Replace a string setting (flags); value copied. */
int agentconf_set_str(char **field, const char *value);
/* Fill what is still unset (socket from run-dir...). 0 or -ENOMEM. */
int agentconf_finish(struct agentconf *c);
void agentconf_free(struct agentconf *c);

#endif
