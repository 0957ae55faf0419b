/*
 * config.c: drover-vmm's command line and its JSON config file. Both set
 * the same fields through the same setters, so a value is checked the same
 * way wherever it comes from; errors name the flag ("--mem") or the JSON
 * field ("vm.json: mem"). Unknown options and fields are refused, never
 * ignored. The disks and NICs (--disk, --net, "disk", "net") are parsed in
 * config_dev.c.
 */
#include "config_int.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "console.h"
#include "log.h"
#include "quantity.h"

int
vmm_cfg_error(const char *field, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "drover-vmm: %s: ", field);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

void
vmm_config_init(struct vmm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem = VMM_DEFAULT_MEM;
	c->cpus = 1;
	c->console = VMM_CONSOLE_STDIO;
	c->log_level = -1;
	c->stop_timeout = VMM_DEFAULT_STOP_TIMEOUT;
	c->seccomp = 1;
	c->rng = 1;
	c->access_gid = -1;
}

void
vmm_config_free(struct vmm_config *c)
{
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->log_file);
	free(c->exit_file);
	free(c->control);
	free(c->console_path);
	free(c->console_log);
	vmm_cfg_free_devices(c);
	vmm_config_init(c);
}

int
vmm_cfg_set_str(char **dst, const char *field, const char *v)
{
	char *s;

	if (v[0] == '\0')
		return vmm_cfg_error(field, "must not be empty");
	s = strdup(v);
	if (s == NULL)
		return vmm_cfg_error(field, "out of memory");
	free(*dst);
	*dst = s;
	return 0;
}

static int
cfg_set_mem_bytes(struct vmm_config *c, const char *field, int64_t v,
    const char *text)
{
	if (v < (int64_t)BOOT_MEM_MIN || (uint64_t)v > VMM_MAX_MEM)
		return vmm_cfg_error(field, "'%s' is out of range (%llu MiB to "
		    "%llu GiB)", text, BOOT_MEM_MIN >> 20, VMM_MAX_MEM >> 30);
	if (v % 4096)
		return vmm_cfg_error(field, "'%s' is not a multiple of 4 KiB", text);
	c->mem = (uint64_t)v;
	return 0;
}

/* A Kubernetes quantity ("256Mi", "1Gi", "268435456"). */
static int
cfg_set_mem(struct vmm_config *c, const char *field, const char *v)
{
	const char *why = "malformed";
	struct quantity q;
	int64_t bytes;

	if (quantity_parse(v, &q, &why) < 0)
		return vmm_cfg_error(field, "'%s' is not a quantity: %s", v, why);
	if (quantity_value(&q, &bytes) < 0)
		return vmm_cfg_error(field, "'%s' is out of range", v);
	return cfg_set_mem_bytes(c, field, bytes, v);
}

static int
cfg_set_cpus_num(struct vmm_config *c, const char *field, long long n,
    const char *text)
{
	if (n < 1 || n > VMM_MAX_CPUS)
		return vmm_cfg_error(field, "'%s' is out of range (1 to %d)", text,
		    VMM_MAX_CPUS);
	c->cpus = (unsigned)n;
	return 0;
}

static int
cfg_set_cpus(struct vmm_config *c, const char *field, const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0')
		return vmm_cfg_error(field, "'%s' is not a whole number", v);
	return cfg_set_cpus_num(c, field, n, v);
}

static int
cfg_set_stop_timeout_num(struct vmm_config *c, const char *field,
    long long n, const char *text)
{
	if (n < 0 || n > VMM_MAX_STOP_TIMEOUT)
		return vmm_cfg_error(field, "'%s' is out of range (0 to %d seconds)",
		    text, VMM_MAX_STOP_TIMEOUT);
	c->stop_timeout = (unsigned)n;
	return 0;
}

static int
cfg_set_stop_timeout(struct vmm_config *c, const char *field, const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0')
		return vmm_cfg_error(field, "'%s' is not a whole number of seconds",
		    v);
	return cfg_set_stop_timeout_num(c, field, n, v);
}

/* UID:GID, numbers only (no name lookups in the VMM). */
static int
cfg_set_user(struct vmm_config *c, const char *field, const char *v)
{
	unsigned long u, g;
	char *end;

	errno = 0;
	u = strtoul(v, &end, 10);
	if (errno || end == v || *end != ':' || v[0] == '-')
		return vmm_cfg_error(field, "'%s' is not UID:GID", v);
	v = end + 1;
	g = strtoul(v, &end, 10);
	if (errno || end == v || *end != '\0' || v[0] == '-' ||
	    u >= 0xffffffffUL || g >= 0xffffffffUL)
		return vmm_cfg_error(field, "'%s' is not UID:GID", v);
	c->has_user = 1;
	c->uid = (unsigned)u;
	c->gid = (unsigned)g;
	return 0;
}

/* A numeric gid (no name lookups in the VMM). */
static int
cfg_set_access_group(struct vmm_config *c, const char *field, const char *v)
{
	unsigned long g;
	char *end;

	errno = 0;
	g = strtoul(v, &end, 10);
	if (errno || end == v || *end != '\0' || v[0] == '-' || g > 0x7fffffffUL)
		return vmm_cfg_error(field, "'%s' is not a numeric group id", v);
	c->access_gid = (int)g;
	return 0;
}

static int
cfg_set_console(struct vmm_config *c, const char *field, const char *v)
{
	struct sockaddr_in sa;

	if (strcmp(v, "stdio") == 0)
		c->console = VMM_CONSOLE_STDIO;
	else if (strcmp(v, "none") == 0)
		c->console = VMM_CONSOLE_NONE;
	else if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] == '\0' || strlen(v + 5) >= 108)
			return vmm_cfg_error(field, "'%s': the socket path must be "
			    "1 to 107 bytes", v);
		if (vmm_cfg_set_str(&c->console_path, field, v + 5) < 0)
			return -EINVAL;
		c->console = VMM_CONSOLE_UNIX;
	} else if (strncmp(v, "tcp:", 4) == 0) {
		if (console_parse_tcp(v + 4, &sa) < 0)
			return vmm_cfg_error(field, "'%s' is not tcp:PORT or "
			    "tcp:IPV4:PORT", v);
		if (vmm_cfg_set_str(&c->console_path, field, v + 4) < 0)
			return -EINVAL;
		c->console = VMM_CONSOLE_TCP;
	}
	else
		return vmm_cfg_error(field, "'%s' is not stdio, none, unix:PATH "
		    "or tcp:ADDR:PORT", v);
	return 0;
}

static int
cfg_set_log_level(struct vmm_config *c, const char *field, const char *v)
{
	int l = log_level_parse(v);

	if (l < 0)
		return vmm_cfg_error(field, "unknown level '%s' (error, warn, "
		    "info, debug)", v);
	c->log_level = l;
	return 0;
}

static int
cfg_set_onoff(int *dst, const char *field, const char *v)
{
	if (strcmp(v, "on") == 0)
		*dst = 1;
	else if (strcmp(v, "off") == 0)
		*dst = 0;
	else
		return vmm_cfg_error(field, "'%s' is not on or off", v);
	return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static int
json_str(json_t *v, char *field, const char **out)
{
	if (!json_is_string(v))
		return vmm_cfg_error(field, "must be a string");
	*out = json_string_value(v);
	return 0;
}

static int
json_mem(struct vmm_config *c, char *field, json_t *v)
{
	char text[32];

	if (json_is_integer(v)) {
		snprintf(text, sizeof(text), "%lld",
		    (long long)json_integer_value(v));
		return cfg_set_mem_bytes(c, field, json_integer_value(v), text);
	}
	if (json_is_string(v))
		return cfg_set_mem(c, field, json_string_value(v));
	return vmm_cfg_error(field, "must be a quantity string (\"256Mi\") or "
	    "a number of bytes");
}

static int
json_cpus(struct vmm_config *c, char *field, json_t *v)
{
	char text[32];

	if (!json_is_integer(v))
		return vmm_cfg_error(field, "must be an integer");
	snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
	return cfg_set_cpus_num(c, field, json_integer_value(v), text);
}

static int
json_field(struct vmm_config *c, const char *key, json_t *v, char *field)
{
	const char *s = NULL;
	int err;

	if (strcmp(key, "mem") == 0)
		return json_mem(c, field, v);
	if (strcmp(key, "cpus") == 0)
		return json_cpus(c, field, v);
	if (strcmp(key, "stop-timeout") == 0) {
		if (!json_is_integer(v))
			return vmm_cfg_error(field, "must be an integer (seconds)");
		return cfg_set_stop_timeout_num(c, field, json_integer_value(v),
		    "value");
	}
	if (strcmp(key, "disk") == 0 || strcmp(key, "net") == 0)
		return vmm_cfg_json_devices(c, field, v, key[0] == 'd');
	if (strcmp(key, "rng") == 0 && json_is_boolean(v)) {
		c->rng = json_is_true(v);
		return 0;
	}
	if (strcmp(key, "kernel") && strcmp(key, "initrd") &&
	    strcmp(key, "rng") &&
	    strcmp(key, "cmdline") && strcmp(key, "console") &&
	    strcmp(key, "log") && strcmp(key, "log-level") &&
	    strcmp(key, "control") && strcmp(key, "user") &&
	    strcmp(key, "seccomp") && strcmp(key, "console-log") &&
	    strcmp(key, "exit-file") && strcmp(key, "access-group"))
		return vmm_cfg_error(field, "unknown field");
	if ((err = json_str(v, field, &s)) < 0)
		return err;
	if (strcmp(key, "kernel") == 0)
		return vmm_cfg_set_str(&c->kernel, field, s);
	if (strcmp(key, "initrd") == 0)
		return vmm_cfg_set_str(&c->initrd, field, s);
	if (strcmp(key, "cmdline") == 0) {
		free(c->cmdline);
		c->cmdline = strdup(s);	/* may be empty */
		return c->cmdline ? 0 : vmm_cfg_error(field, "out of memory");
	}
	if (strcmp(key, "console") == 0)
		return cfg_set_console(c, field, s);
	if (strcmp(key, "log") == 0)
		return vmm_cfg_set_str(&c->log_file, field, s);
	if (strcmp(key, "control") == 0)
		return vmm_cfg_set_str(&c->control, field, s);
	if (strcmp(key, "user") == 0)
		return cfg_set_user(c, field, s);
	if (strcmp(key, "console-log") == 0)
		return vmm_cfg_set_str(&c->console_log, field, s);
	if (strcmp(key, "exit-file") == 0)
		return vmm_cfg_set_str(&c->exit_file, field, s);
	if (strcmp(key, "access-group") == 0)
		return cfg_set_access_group(c, field, s);
	if (strcmp(key, "seccomp") == 0)
		return cfg_set_onoff(&c->seccomp, field, s);
	if (strcmp(key, "rng") == 0)
		return cfg_set_onoff(&c->rng, field, s);
	return cfg_set_log_level(c, field, s);
}

int
vmm_config_parse_json(struct vmm_config *c, const char *text, size_t len,
    const char *origin)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	char field[128];
	int err = 0;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return vmm_cfg_error(origin, "line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return vmm_cfg_error(origin, "must be a JSON object");
	}
	json_object_foreach(root, key, v) {
		snprintf(field, sizeof(field), "%s: %s", origin, key);
		if ((err = json_field(c, key, v, field)) < 0)
			break;
	}
	json_decref(root);
	return err;
}

int
vmm_config_load_json(struct vmm_config *c, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	f = fopen(path, "re");
	if (f == NULL)
		return vmm_cfg_error("--config", "%s: %s", path, strerror(errno));
	/* getdelim with NUL reads the whole (text) file. */
	if (getdelim(&buf, &len, '\0', f) < 0 && !feof(f)) {
		err = vmm_cfg_error("--config", "%s: %s", path, strerror(errno));
		goto out;
	}
	err = vmm_config_parse_json(c, buf ? buf : "", buf ? strlen(buf) : 0,
	    path);
out:
	free(buf);
	fclose(f);
	return err;
}

int
vmm_config_validate(const struct vmm_config *c)
{
	if (c->kernel == NULL && c->ndisks == 0)
		return vmm_cfg_error("--kernel", "is required (or a --disk to boot "
		    "from, or --config)");
	if (c->kernel == NULL && c->initrd)
		return vmm_cfg_error("--initrd", "needs --kernel (without it, the "
		    "initrd comes from the boot disk)");
	return 0;
}

/* ---- command line -------------------------------------------------------- */

enum {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_DISK,
	OPT_NET,
	OPT_CONSOLE,
	OPT_CONTROL,
	OPT_LOG,
	OPT_LOG_LEVEL,
	OPT_CONFIG,
	OPT_STOP_TIMEOUT,
	OPT_USER,
	OPT_SECCOMP,
	OPT_CONSOLE_LOG,
	OPT_RNG,
	OPT_EXIT_FILE,
	OPT_ACCESS_GROUP,
};

static const struct option cfg_opts[] = {
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "rng", required_argument, NULL, OPT_RNG },
	{ "exit-file", required_argument, NULL, OPT_EXIT_FILE },
	{ "access-group", required_argument, NULL, OPT_ACCESS_GROUP },
	{ NULL, 0, NULL, 0 },
};

static int
cfg_apply_opt(struct vmm_config *c, int ch, const char *arg)
{
	switch (ch) {
	case OPT_KERNEL:
		return vmm_cfg_set_str(&c->kernel, "--kernel", arg);
	case OPT_INITRD:
		return vmm_cfg_set_str(&c->initrd, "--initrd", arg);
	case OPT_CMDLINE:
		free(c->cmdline);
		c->cmdline = strdup(arg);
		return c->cmdline ? 0 : vmm_cfg_error("--cmdline", "out of memory");
	case OPT_MEM:
		return cfg_set_mem(c, "--mem", arg);
	case OPT_CPUS:
		return cfg_set_cpus(c, "--cpus", arg);
	case OPT_DISK:
		return vmm_cfg_add_disk(c, "--disk", arg);
	case OPT_NET:
		return vmm_cfg_add_net(c, "--net", arg);
	case OPT_RNG:
		return cfg_set_onoff(&c->rng, "--rng", arg);
	case OPT_CONTROL:
		return vmm_cfg_set_str(&c->control, "--control", arg);
	case OPT_CONSOLE:
		return cfg_set_console(c, "--console", arg);
	case OPT_LOG:
		return vmm_cfg_set_str(&c->log_file, "--log", arg);
	case OPT_LOG_LEVEL:
		return cfg_set_log_level(c, "--log-level", arg);
	case OPT_STOP_TIMEOUT:
		return cfg_set_stop_timeout(c, "--stop-timeout", arg);
	case OPT_USER:
		return cfg_set_user(c, "--user", arg);
	case OPT_SECCOMP:
		return cfg_set_onoff(&c->seccomp, "--seccomp", arg);
	case OPT_CONSOLE_LOG:
		return vmm_cfg_set_str(&c->console_log, "--console-log", arg);
	case OPT_EXIT_FILE:
		return vmm_cfg_set_str(&c->exit_file, "--exit-file", arg);
	case OPT_ACCESS_GROUP:
		return cfg_set_access_group(c, "--access-group", arg);
	default:
		return -EINVAL;
	}
}

int
vmm_config_parse_args(struct vmm_config *c, int argc, char **argv,
    enum vmm_config_action *action)
{
	const char *config = NULL, *vm_flag = NULL;
	int ch, err, li;

	*action = VMM_CONFIG_RUN;
	optind = 0;	/* glibc and musl: start over (tests parse twice) */
	while ((li = -1, ch = getopt_long(argc, argv, "hV", cfg_opts, &li)) !=
	    -1) {
		if (ch == OPT_HELP || ch == OPT_VERSION) {
			*action = ch == OPT_HELP ? VMM_CONFIG_HELP :
			    VMM_CONFIG_VERSION;
			return 0;
		}
		if (ch == '?' || ch == ':')
			return -EINVAL;	/* getopt named the flag */
		if (ch == OPT_CONFIG) {
			config = optarg;
			continue;
		}
		if (ch != OPT_LOG && ch != OPT_LOG_LEVEL &&
		    ch != OPT_STOP_TIMEOUT && ch != OPT_EXIT_FILE && li >= 0)
			vm_flag = cfg_opts[li].name;
		if ((err = cfg_apply_opt(c, ch, optarg)) < 0)
			return err;
	}
	if (optind < argc)
		return vmm_cfg_error(argv[optind], "unexpected argument");
	if (config && vm_flag)
		return vmm_cfg_error("--config", "cannot be combined with --%s; put "
		    "everything in the file", vm_flag);
	if (config && (err = vmm_config_load_json(c, config)) < 0)
		return err;
	return vmm_config_validate(c);
}

void
vmm_usage(FILE *f)
{
	fputs(
"usage: drover-vmm [--kernel PATH [--initrd PATH]] [--cmdline STR] [--mem SIZE]\n"
"                  [--cpus N] [--disk path=FILE[,format=raw|qcow2][,ro]...]\n"
"                  [--net tap=NAME|fd=N[,mac=MAC]]\n"
"                  [--console stdio|none|unix:PATH|tcp:ADDR:PORT] [--control PATH]\n"
"                  [--log FILE] [--log-level LEVEL] [--stop-timeout SECS]\n"
"                  [--user UID:GID] [--seccomp on|off] [--console-log FILE]\n"
"                  [--rng on|off] [--exit-file FILE] [--access-group GID]\n"
"       drover-vmm --config vm.json [--log FILE] [--log-level LEVEL]\n"
"       drover-vmm --help | --version\n"
"\n"
"Runs one virtual machine on /dev/kvm.\n"
"\n"
"  --kernel PATH     bzImage or PVH ELF kernel. Without it the VM boots from\n"
"                    the first --disk: its GPT or MBR partition table, the\n"
"                    first ext2/3/4 partition (MBR: active ones first) with\n"
"                    boot/grub/grub.cfg, boot/grub/menu.lst, grub/grub.cfg or\n"
"                    grub/menu.lst, whose default entry names the kernel,\n"
"                    initrd and command line (console=ttyS0 is added when it\n"
"                    has no console=); all read before the guest runs\n"
"  --initrd PATH     initramfs (only with --kernel)\n"
"  --cmdline STR     kernel command line (without --kernel: replaces the one\n"
"                    from the boot disk)\n"
"  --mem SIZE        guest RAM as a quantity, e.g. 256Mi (default 256Mi;\n"
"                    at least 4Mi, a multiple of 4 KiB)\n"
"  --cpus N          vCPUs, 1 to 64 (default 1)\n"
"  --disk SPEC       a virtio-blk disk (repeat for more, up to 8):\n"
"                    path=FILE[,format=raw|qcow2][,ro][,serial=ID]\n"
"                    [,backing=FILE,backing-format=raw|qcow2]... format is\n"
"                    raw unless given (never guessed from the file); ro\n"
"                    offers VIRTIO_BLK_F_RO and opens FILE read-only; ID is\n"
"                    up to 20 printable bytes. A qcow2 image that records a\n"
"                    backing file needs backing= and backing-format= naming\n"
"                    it (opened read-only; the name in the image is only\n"
"                    compared, never opened); without them such an image is\n"
"                    refused. A backing chain pins every level, one pair\n"
"                    each, from the image's own backing file down to the\n"
"                    base (the i-th backing-format= goes with the i-th\n"
"                    backing=), e.g.\n"
"                      backing=mid.qcow2,backing-format=qcow2,\n"
"                      backing=base.raw,backing-format=raw\n"
"                    At most 16 backing files; only the base may be raw; no\n"
"                    file twice. Guest writes only ever go to FILE\n"
"  --net SPEC        a virtio-net NIC (up to 4): tap=NAME (an existing or new\n"
"                    tap; creating one needs CAP_NET_ADMIN) or fd=N (an open\n"
"                    tap fd inherited from the caller), [,mac=MAC] (default:\n"
"                    a random locally administered address)\n"
"  --rng on|off      a virtio-rng device fed by getrandom() (default on)\n"
"  --console SPEC    serial console (COM1): stdio (default), none,\n"
"                    unix:PATH (mode 0600) or tcp:[IPV4:]PORT (127.0.0.1\n"
"                    unless an address is given; no authentication). On a\n"
"                    socket up to 8 clients read, each first gets the last\n"
"                    64 KiB; the first to type is the one writer\n"
"  --console-log F   also append the console output to file F\n"
"  --control PATH    control socket (unix, mode 0600): a client writes one\n"
"                    line, \"status\", \"stop\" (as SIGTERM) or \"kill\", and\n"
"                    reads one line of JSON\n"
"  --log FILE        also write the VMM log to FILE\n"
"  --exit-file FILE  when the VMM ends, write its exit status (a decimal\n"
"                    number and a newline) to FILE, created or truncated at\n"
"                    start (mode 0600); left empty when the VMM is killed by\n"
"                    a signal (for a supervisor that is not the parent)\n"
"  --access-group GID  the supervisor's group (droverd-api): the console\n"
"                    and control sockets become mode 0660 and the exit file\n"
"                    0640, owned by group GID (numeric), at set-up\n"
"  --log-level L     error, warn, info (default) or debug\n"
"  --stop-timeout S  seconds the guest gets to shut down after SIGTERM or\n"
"                    SIGINT (default 10); then the VM is stopped (status 5)\n"
"  --user UID:GID    after set-up, before the guest runs, drop to this user\n"
"                    and group (numeric; no supplementary groups)\n"
"  --seccomp on|off  before the guest runs, allow only the system calls a\n"
"                    running VM needs; any other kills the VMM with SIGSYS\n"
"                    (default on; off is for debugging)\n"
"  --config FILE     the whole VM as a JSON object with the flags' names as\n"
"                    keys: {\"kernel\": \"vmlinuz\", \"mem\": \"256Mi\", \"cpus\": 2,\n"
"                    \"cmdline\": \"console=ttyS0\", \"initrd\": ..., \"console\":\n"
"                    \"stdio\", \"log\": ..., \"log-level\": ..., \"stop-timeout\": 10,\n"
"                    \"disk\": [{\"path\": \"d.qcow2\", \"format\": \"qcow2\", \"ro\":\n"
"                    true, \"serial\": \"ID\", \"backing\": \"base.raw\",\n"
"                    \"backing-format\": \"raw\"}] (a chain: \"backing\":\n"
"                    [{\"path\": \"mid.qcow2\", \"format\": \"qcow2\"}, {\"path\":\n"
"                    \"base.raw\", \"format\": \"raw\"}], the base last),\n"
"                    \"net\": [{\"tap\": \"tap0\", \"mac\": \"52:54:00:12:34:56\"}],\n"
"                    \"rng\": true} (a disk or NIC may also be a spec string)\n"
"  --version         print the version and linked libraries\n"
"\n"
"Guest devices: 8250 UART on COM1 (0x3f8, IRQ 4), i8042 at 0x60/0x64 (its\n"
"reset command ends the VM), boot-timer port 0x440 and MMIO 0xd0000000\n"
"(a byte written there logs the time since the VMM started); on PCI bus 0\n"
"(configuration mechanism #1 at 0xcf8), virtio-pci modern devices with\n"
"MSI-X: first the disks, then the NICs, then the rng.\n"
"\n"
"Stopping: SIGTERM or SIGINT presses Ctrl+Alt+Del on the i8042 keyboard; a\n"
"Linux guest's init then shuts down and resets the machine. A second signal,\n"
"or --stop-timeout seconds without a shutdown, stops the VM at once.\n"
"\n"
"Exit status:\n"
"  0  the guest powered off, or shut down (reset) after SIGTERM/SIGINT or\n"
"     a control \"stop\"\n"
"  1  VMM error\n"
"  2  usage error (bad flag or config; nothing was started)\n"
"  3  the guest asked for a reboot: i8042 reset, or a triple fault (on\n"
"     PVM hosts a triple fault can surface as an emulation failure: 4)\n"
"  4  the guest crashed: KVM internal error or failed entry\n"
"  5  stopped by the host: the guest did not shut down in time after\n"
"     SIGTERM/SIGINT, or a second signal came, or a control \"kill\"\n"
"  killed by SIGSYS (159 in a shell): the seccomp filter stopped a system\n"
"     call the VMM should never make\n",
	    f);
}
