/*
 * droverd.c: the Drover node agent: its command line, and the start and
 * clean stop of its modules around one event loop (loop.h).
 *
 * Start order: configuration (agentconf.h: --config FILE, then flags);
 * as root, the split (droverd_priv.h): droverd-priv, the parent, keeps
 * root and serves the privileged ops; droverd-api, the child, binds the
 * local API socket and reads the TLS files, drops to the "user" and goes
 * on with everything below (not root: one process, as it is); then
 * the object store (a damaged store file stops droverd, named), the loop,
 * the Namespace "default", the store's checkpoint timer, the local API
 * socket (localapi.h), the image
 * store (images.h), the VMIRS controller (vmirs.h), the VMI runtime
 * (runtime.h), the VMIs' usage (usage.h) and the HorizontalPodAutoscaler
 * controller reading it (hpa.h), the Kubernetes API over mutual TLS
 * (kapi_server.h: the handlers; apiserver.h: the transport; only when
 * its certificate files exist), then the --manifests directory (manifests.h), applied last so
 * that every controller sees its objects arrive. SIGINT/SIGTERM stop
 * the loop; the modules are freed in reverse order. Running VMMs are left
 * running: a restarted droverd re-adopts them (the runtime's job).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentconf.h"
#include "apiserver.h"
#include "apply.h"
#include "cgroup.h"
#include "droverd_priv.h"
#include "hpa.h"
#include "images.h"
#include "kapi_server.h"
#include "libver.h"
#include "localapi.h"
#include "log.h"
#include "loop.h"
#include "manifests.h"
#include "priv.h"
#include "runtime.h"
#include "store.h"
#include "usage.h"
#include "version.h"
#include "vmirs.h"

#define DROVERD_STORE_MS	100	/* store checkpoint work, when idle */

static void
droverd_usage(FILE *f)
{
	fputs(
"usage: droverd [--config FILE] [--state-dir DIR] [--run-dir DIR]\n"
"               [--socket PATH] [--manifests DIR] [--listen ADDR:PORT]\n"
"               [--vmm PATH] [--node-name NAME] [--cgroup-root DIR]\n"
"               [--no-runtime] [--log-level error|warn|info|debug]\n"
"               [--log-file PATH]\n"
"       droverd --help | --version\n"
"\n"
"The Drover node agent: keeps VirtualMachineInstanceReplicaSets running on\n"
"this node and serves a Kubernetes-compatible API over mutual TLS.\n"
"\n"
"  --config FILE     JSON configuration (keys below); flags override it\n"
"  --state-dir DIR   durable object store and images (default /var/lib/drover)\n"
"  --run-dir DIR     run-time files of the VMIs (default /run/drover)\n"
"  --socket PATH     the local API socket (default RUN-DIR/droverd.sock)\n"
"  --manifests DIR   apply every YAML/JSON file in DIR, and prune removed ones\n"
"  --listen ADDR     mTLS API address (default 0.0.0.0:6443)\n"
"  --vmm PATH        drover-vmm (default: next to droverd, else from PATH)\n"
"  --node-name NAME  the Node's name (default: the host name)\n"
"  --cgroup-root DIR cgroup file system (default /sys/fs/cgroup; \"\": none)\n"
"  --no-runtime      no VMI runtime: API, store and controllers only (tests)\n"
"  --log-level L     error, warn, info (default) or debug\n"
"  --log-file PATH   also append the log to PATH\n"
"  --version         print the version and linked libraries\n"
"\n"
"Configuration file keys (JSON object; all optional; see agent/agentconf.h):\n"
"  \"state-dir\", \"run-dir\", \"socket\", \"manifests\", \"vmm\", \"node-name\",\n"
"  \"cgroup-root\", \"cgroup-parent\" (default \"drover\"), \"vmm-user\"\n"
"  (\"UID:GID\" the VMMs drop to), \"user\" (NAME or \"UID:GID\" of droverd-api,\n"
"  the unprivileged process: default \"drover\", else \"nobody\"), \"log-level\", \"log-file\", \"listen\":\n"
"  strings as the flags; \"tls\": {\"cert\",\"key\",\"client-ca\"} files of the\n"
"  mTLS API (default /etc/drover/pki/server.crt, server.key, ca.crt: no API\n"
"  without them); \"api\": {\"max-conns\",\"max-body\",\"max-header\",\n"
"  \"header-timeout\",\"idle-timeout\",\"body-timeout\",\"send-timeout\",\n"
"  \"max-out\"} its limits; \"runtime\": true|false; \"grace-period\": seconds\n"
"  (default terminationGracePeriodSeconds, 30); \"reserve\": {\"cpu\":\"500m\",\n"
"  \"memory\":\"512Mi\"} kept back from the VMIs; \"images\": {\"preloaded\":\n"
"  {REF: FILE}, \"mirrors\": {REGISTRY: URL}, \"ca\": FILE, \"auth\": {...}}\n"
"  for the image store; \"network\": {\"bridge\": \"drover0\", \"cidr\":\n"
"  \"10.244.0.0/24\", \"resolv-conf\": FILE} (or true) for KubeVirt's pod network\n"
"  (masquerade; default off: VMIs without a NIC); \"hpa\": {\"sync-period\",\n"
"  \"downscale-stabilization\", \"cpu-initialization-period\",\n"
"  \"initial-readiness-delay\" (seconds), \"tolerance\"} the HPA controller's\n"
"  settings (default 15, 300, 300, 30, 0.1); tests: \"poll-ms\",\n"
"  \"capacity\": {\"cpu\",\"memory\"}, \"vmm-overhead\": \"32Mi\".\n", f);
}

enum {
	OPT_CONFIG = 256, OPT_STATE, OPT_RUN, OPT_SOCKET, OPT_MANIFESTS,
	OPT_LISTEN, OPT_VMM, OPT_NODE, OPT_CGROUP, OPT_NO_RUNTIME, OPT_LEVEL,
	OPT_LOGFILE,
};

static const struct option droverd_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "state-dir", required_argument, NULL, OPT_STATE },
	{ "run-dir", required_argument, NULL, OPT_RUN },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "manifests", required_argument, NULL, OPT_MANIFESTS },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "vmm", required_argument, NULL, OPT_VMM },
	{ "node-name", required_argument, NULL, OPT_NODE },
	{ "cgroup-root", required_argument, NULL, OPT_CGROUP },
	{ "no-runtime", no_argument, NULL, OPT_NO_RUNTIME },
	{ "log-level", required_argument, NULL, OPT_LEVEL },
	{ "log-file", required_argument, NULL, OPT_LOGFILE },
	{ NULL, 0, NULL, 0 },
};

/* The string flag's field in the configuration, or NULL. */
static char **
droverd_flag_field(struct agentconf *c, int ch)
{
	switch (ch) {
	case OPT_STATE: return &c->state_dir;
	case OPT_RUN: return &c->run_dir;
	case OPT_SOCKET: return &c->socket;
	case OPT_MANIFESTS: return &c->manifests;
	case OPT_LISTEN: return &c->listen;
	case OPT_VMM: return &c->vmm_path;
	case OPT_NODE: return &c->node_name;
	case OPT_CGROUP: return &c->cgroup_root;
	case OPT_LOGFILE: return &c->log_file;
	default: return NULL;
	}
}

/*
 * Flags into c, over what --config FILE says. 0: go on; 1: done (help,
 * version), exit 0; 2: usage error.
 */
static int
droverd_args(int argc, char **argv, struct agentconf *c)
{
	const char *config = NULL;
	char err[1024];
	int ch, level;

	/* First pass: --config, --help, --version; bad flags. */
	while ((ch = getopt_long(argc, argv, "hV", droverd_opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			droverd_usage(stdout);
			return 1;
		case 'V':
			printf("droverd %s\n", DROVER_VERSION);
			libver_print_agent(stdout);
			return 1;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_LEVEL:
			if (log_level_parse(optarg) < 0) {
				log_error("--log-level: unknown level '%s'",
				    optarg);
				return 2;
			}
			break;
		case '?':
			droverd_usage(stderr);
			return 2;
		default:
			break;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		droverd_usage(stderr);
		return 2;
	}
	if (config && agentconf_load(c, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 2;
	}
	/* Second pass: the flags override the file. */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "hV", droverd_opts, NULL)) != -1) {
		char **field = droverd_flag_field(c, ch);

		if (field && agentconf_set_str(field, optarg) < 0)
			fatalx("out of memory");
		if (ch == OPT_NO_RUNTIME)
			c->runtime = 0;
		level = ch == OPT_LEVEL ? log_level_parse(optarg) : -1;
		if (level >= 0)
			c->log_level = level;
	}
	if (agentconf_finish(c) < 0)
		fatalx("out of memory");
	return 0;
}

struct droverd {
	struct agentconf conf;
	struct store *store;
	struct loop *loop;
	struct localapi *api;
	struct images *images;
	struct vmirs_ctl *vmirs;
	struct rt *rt;
	struct cg *cg;			/* read-only: the VMIs' usage */
	struct usage *usage;		/* metrics.k8s.io and the HPA */
	struct hpa_ctl *hpa;
	struct kapi *kapi;
	struct apiserver *apisrv;
	struct manifests *manifests;
	int store_timer;
	/* Privilege separation (droverd_priv.h): set in droverd-api. */
	int split;
	struct dpriv dp;
	struct priv *priv;		/* requests to droverd-priv */
	int priv_gone;
	int lapi_fd;			/* bound while root; -1: none */
	int api_wanted;
	char tls_cert[32], tls_key[32], tls_ca[32];	/* memfds */
};

/* The store's checkpoints, a few ms at a time (store_maintain()). */
static void
droverd_store_cb(void *arg)
{
	struct droverd *d = arg;

	d->store_timer = loop_timer(d->loop, store_maintain(d->store) ? 1 :
	    DROVERD_STORE_MS, droverd_store_cb, d);
}

static int
droverd_mkdir(const char *path, mode_t mode)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
droverd_open_store(struct droverd *d)
{
	char dir[4096], err[1024] = "";
	json_t *status = NULL;
	int rc;

	rc = droverd_mkdir(d->conf.state_dir, 0700);
	if (rc < 0) {
		log_error("%s: %s", d->conf.state_dir, strerror(-rc));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/objects", d->conf.state_dir);
	rc = store_open(dir, &d->store, err, sizeof(err));
	if (rc < 0) {
		log_error("cannot open the object store: %s",
		    *err ? err : strerror(-rc));
		return -1;
	}
	if (apply_ensure_namespace(d->store, "default", &status) < 0) {
		log_error("namespace default: %s",
		    json_string_value(json_object_get(status, "message")));
		json_decref(status);
		return -1;
	}
	return 0;
}

static int
droverd_open_images(struct droverd *d)
{
	char dir[4096], err[1024] = "";
	int rc;

	snprintf(dir, sizeof(dir), "%s/images", d->conf.state_dir);
	rc = images_open(dir, d->conf.images, &d->images, err, sizeof(err));
	if (rc < 0) {
		log_error("cannot open the image store: %s",
		    *err ? err : strerror(-rc));
		return -1;
	}
	return 0;
}

/* The runtime's configuration (droverd-priv makes its privileged side
 * from the same one). */
static void
droverd_rt_config(const struct agentconf *c, struct rt_config *rc)
{
	*rc = (struct rt_config){
		.run_dir = c->run_dir,
		.state_dir = c->state_dir,
		.ephemeral_dir = c->ephemeral_dir,
		.vmm_path = c->vmm_path,
		.node_name = c->node_name,
		.reserve_cpu_milli = c->reserve_cpu_milli,
		.reserve_memory = c->reserve_memory,
		.cgroup_root = c->cgroup_root && *c->cgroup_root ?
		    c->cgroup_root : NULL,
		.cgroup_parent = c->cgroup_parent,
		.vmm_user = c->vmm_user,
		.images = c->images,
		.default_grace = c->grace_period,
		.poll_ms = (unsigned)c->poll_ms,
		.capacity_cpu_milli = c->capacity_cpu_milli,
		.capacity_memory = c->capacity_memory,
		.vmm_overhead = c->vmm_overhead,
		.network = c->network,
		.net_bridge = c->net_bridge,
		.net_cidr = c->net_cidr,
		.net_resolv = c->net_resolv,
		.net_pool = c->net_pool,
	};
}

static int
droverd_start_runtime(struct droverd *d)
{
	const struct agentconf *c = &d->conf;
	struct rt_config rc;
	char err[1024] = "";

	droverd_rt_config(c, &rc);
	rc.priv = d->priv;
	rc.access_gid = d->split ? (int)d->dp.gid : 0;
	if (!c->runtime) {
		log_info("no VMI runtime (--no-runtime): VMIs are not run");
		return 0;
	}
	d->rt = rt_new(d->loop, d->store, d->images, &rc, err, sizeof(err));
	if (!d->rt) {
		log_error("cannot start the VMI runtime: %s", err);
		return -1;
	}
	return 0;
}

/* The API's files: configured ("tls") or the defaults when all exist. */
static int
droverd_api_wanted(const struct agentconf *c)
{
	if (c->tls_configured)
		return 1;
	if (access(c->tls_cert, F_OK) == 0 && access(c->tls_key, F_OK) == 0 &&
	    access(c->tls_ca, F_OK) == 0)
		return 1;
	log_info("no mTLS API: %s, %s or %s missing (droverctl certs init "
	    "writes them; or set \"tls\" in the configuration)", c->tls_cert,
	    c->tls_key, c->tls_ca);
	return 0;
}

/* The VMIs' usage (usage.h: cgroups, read only) for metrics.k8s.io and
 * the HPA. */
static int
droverd_start_usage(struct droverd *d)
{
	const struct agentconf *c = &d->conf;
	char err[1024] = "";

	if (d->rt && c->cgroup_root && *c->cgroup_root &&
	    cg_open(c->cgroup_root, c->cgroup_parent ? c->cgroup_parent :
	    "drover", &d->cg, err, sizeof(err)) < 0) {
		log_warnx("metrics: cgroups at %s: %s (no VMI usage)",
		    c->cgroup_root, err);
		d->cg = NULL;
	}
	d->usage = usage_new(d->loop, d->store, d->cg);
	if (!d->usage) {
		log_error("out of memory");
		return -1;
	}
	return 0;
}

/* The agent config's "hpa" over kube-controller-manager's defaults. */
static void
droverd_hpa_config(const struct agentconf *c, struct hpa_config *hc)
{
	hpa_config_init(hc);
	if (c->hpa_sync_s > 0)
		hc->sync_ms = (unsigned)c->hpa_sync_s * 1000u;
	if (c->hpa_downscale_s >= 0)
		hc->downscale_ms = (int64_t)c->hpa_downscale_s * 1000;
	if (c->hpa_cpu_init_s >= 0)
		hc->cpu_init_ms = (int64_t)c->hpa_cpu_init_s * 1000;
	if (c->hpa_readiness_s >= 0)
		hc->readiness_delay_ms = (int64_t)c->hpa_readiness_s * 1000;
	if (c->hpa_tolerance >= 0)
		hc->tolerance = c->hpa_tolerance;
}

static int
droverd_start_api(struct droverd *d)
{
	const struct agentconf *c = &d->conf;
	struct apiserver_conf ac = {
		.listen = c->listen,
		.cert_file = c->tls_cert,
		.key_file = c->tls_key,
		.client_ca_file = c->tls_ca,
		.max_body = c->api_max_body,
		.max_header = c->api_max_header,
		.max_conns = c->api_max_conns,
		.header_timeout_s = c->api_header_timeout,
		.idle_timeout_s = c->api_idle_timeout,
		.body_timeout_s = c->api_body_timeout,
		.send_timeout_s = c->api_send_timeout,
		.max_out = c->api_max_out,
	};
	char err[1024] = "";

	if (!(d->split ? d->api_wanted : droverd_api_wanted(c)))
		return 0;
	if (d->split) {			/* read while root (memfds) */
		ac.cert_file = d->tls_cert;
		ac.key_file = d->tls_key;
		ac.client_ca_file = d->tls_ca;
	}
	d->kapi = kapi_new(d->store, d->loop, d->rt, d->usage, err,
	    sizeof(err));
	if (!d->kapi) {
		log_error("the Kubernetes API: %s", err);
		return -1;
	}
	d->apisrv = apiserver_new(&ac, d->loop, d->kapi);
	return d->apisrv ? 0 : -1;
}

/* ---- droverd-api's side of the split (droverd_priv.h) ------------------ */

static void
droverd_priv_dead(void *arg)
{
	struct droverd *d = arg;

	d->priv_gone = 1;
	loop_stop(d->loop);
}

/* The socketpair readable between requests: droverd-priv has gone (or,
 * never expected, says something unasked): stop. */
static void
droverd_priv_hup(void *arg, int fd, short revents)
{
	struct droverd *d = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	(void)revents;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	log_error("droverd-priv %s: stopping", n == 0 ? "is gone" :
	    n > 0 ? "sent something unasked" : strerror(errno));
	loop_del_fd(d->loop, fd);
	droverd_priv_dead(d);
}

static int
droverd_watch_priv(struct droverd *d)
{
	d->priv = priv_remote_new(d->dp.fd, droverd_priv_dead, d);
	if (d->priv == NULL || loop_add_fd(d->loop, d->dp.fd, POLLIN,
	    droverd_priv_hup, d) < 0) {
		log_error("out of memory");
		return -1;
	}
	return 0;
}

/* While still root: the local API socket, the TLS files. */
static int
droverd_api_presetup(struct droverd *d)
{
	const struct agentconf *c = &d->conf;
	char err[1024] = "";

	d->lapi_fd = localapi_listen(c->socket, err, sizeof(err));
	if (d->lapi_fd < 0) {
		log_error("local API: %s", err);
		return -1;
	}
	d->api_wanted = droverd_api_wanted(c);
	if (d->api_wanted && (dpriv_memfd(c->tls_cert, d->tls_cert,
	    sizeof(d->tls_cert)) < 0 || dpriv_memfd(c->tls_key, d->tls_key,
	    sizeof(d->tls_key)) < 0 || dpriv_memfd(c->tls_ca, d->tls_ca,
	    sizeof(d->tls_ca)) < 0))
		return -1;
	return 0;
}

/* droverd as root: split (droverd-priv never returns from it), set up
 * droverd-api's root-only parts, drop. 0 in droverd-api, or -1. */
static int
droverd_split(struct droverd *d)
{
	struct rt_config rc;

	droverd_rt_config(&d->conf, &rc);
	if (dpriv_split(&d->conf, d->conf.runtime ? &rc : NULL, &d->dp) < 0)
		return -1;
	d->split = 1;
	if (droverd_api_presetup(d) < 0 || dpriv_drop(&d->dp) < 0)
		return -1;
	if (access(d->conf.state_dir, X_OK) < 0) {
		log_error("state dir %s: droverd-api (user %s) cannot enter it: "
		    "%s (each parent directory must be searchable by it)",
		    d->conf.state_dir, d->dp.user, strerror(errno));
		return -1;
	}
	return 0;
}

static int
droverd_start(struct droverd *d)
{
	struct hpa_config hc;
	char err[1024] = "";

	if (droverd_open_store(d) < 0)
		return -1;
	d->loop = loop_new();
	if (!d->loop) {
		log_error("out of memory");
		return -1;
	}
	d->store_timer = loop_timer(d->loop, DROVERD_STORE_MS,
	    droverd_store_cb, d);
	if (d->split && droverd_watch_priv(d) < 0)
		return -1;
	d->api = localapi_new_fd(d->loop, d->store, d->conf.socket,
	    d->lapi_fd, err, sizeof(err));
	d->lapi_fd = -1;
	if (!d->api) {
		log_error("local API: %s", err);
		return -1;
	}
	if (droverd_open_images(d) < 0)
		return -1;
	if (images_register_api(d->images, d->api) < 0) {
		log_error("cannot register the image ops on the local API");
		return -1;
	}
	d->vmirs = vmirs_new(d->store, d->loop);
	if (!d->vmirs) {
		log_error("cannot start the replica set controller");
		return -1;
	}
	if (droverd_start_runtime(d) < 0 || droverd_start_usage(d) < 0)
		return -1;
	droverd_hpa_config(&d->conf, &hc);
	d->hpa = hpa_new(d->store, d->loop, d->usage, &hc);
	if (!d->hpa) {
		log_error("cannot start the HorizontalPodAutoscaler controller");
		return -1;
	}
	if (droverd_start_api(d) < 0)
		return -1;
	if (d->conf.manifests) {
		d->manifests = manifests_new(d->loop, d->store,
		    d->conf.manifests, err, sizeof(err));
		if (!d->manifests) {
			log_error("--manifests: %s", err);
			return -1;
		}
	}
	return 0;
}

static void
droverd_stop(struct droverd *d)
{
	manifests_free(d->manifests);
	/* The transport first: its streams' and WebSockets' on_close reach
	 * the handlers, which end what is left. */
	apiserver_free(d->apisrv);
	kapi_free(d->kapi);
	hpa_free(d->hpa);
	usage_free(d->usage);
	if (d->cg)
		cg_close(d->cg);
	if (d->rt)
		rt_free(d->rt);
	if (d->vmirs)
		vmirs_free(d->vmirs);
	if (d->images)
		images_close(d->images);
	localapi_free(d->api);
	if (d->lapi_fd >= 0)
		close(d->lapi_fd);
	if (d->priv) {
		loop_del_fd(d->loop, d->dp.fd);
		priv_remote_free(d->priv);
	}
	if (d->store_timer > 0)
		loop_cancel(d->loop, d->store_timer);
	if (d->store)
		store_close(d->store);
	loop_free(d->loop);
	agentconf_free(&d->conf);
}

int
main(int argc, char **argv)
{
	struct droverd d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.lapi_fd = -1;
	log_init("droverd", LOG_LEVEL_INFO);
	agentconf_init(&d.conf);
	rc = droverd_args(argc, argv, &d.conf);
	if (rc != 0) {
		agentconf_free(&d.conf);
		return rc == 1 ? 0 : 2;
	}
	if (d.conf.log_level >= 0)
		log_set_level((enum log_level)d.conf.log_level);
	if (d.conf.log_file && (rc = log_set_file(d.conf.log_file)) < 0)
		log_error("--log-file %s: %s", d.conf.log_file, strerror(-rc));
	signal(SIGPIPE, SIG_IGN);
	/* As root: droverd-priv (root) and droverd-api (unprivileged); the
	 * split is not optional (no single-process mode as root). */
	if (geteuid() == 0 && droverd_split(&d) < 0) {
		droverd_stop(&d);
		return 1;
	}
	rc = droverd_start(&d);
	if (rc == 0) {
		log_info("droverd %s running (state %s, socket %s)",
		    DROVER_VERSION, d.conf.state_dir, d.conf.socket);
		rc = loop_run(d.loop);
		log_info("droverd stopping");
	}
	droverd_stop(&d);
	return rc == 0 && !d.priv_gone ? 0 : 1;
}
