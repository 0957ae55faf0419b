/*
 * config.h: a VM's configuration, from the command line or from a JSON
 * file (--config vm.json; the agent's way). Both go through the same
 * validation, and an error names the flag or JSON field.
 */
#ifndef DROVER_VMM_CONFIG_H
#define DROVER_VMM_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VMM_DEFAULT_MEM		(256ULL << 20)
#define VMM_MAX_MEM		(1ULL << 40)	/* 1 TiB */
#define VMM_MAX_CPUS		64		/* the MP table's limit here */
#define VMM_DEFAULT_STOP_TIMEOUT 10		/* seconds */
#define VMM_MAX_STOP_TIMEOUT	3600

#define VMM_MAX_DISKS		8
#define VMM_MAX_NETS		4
#define VMM_SERIAL_MAX		20	/* VIRTIO_BLK_ID_BYTES */

/* Disk image formats; pinned by the config, never probed from the file. */
enum vmm_disk_format {
	VMM_DISK_RAW,
	VMM_DISK_QCOW2,
	VMM_DISK_FORMATS,
};

/* Backing files under one disk, the base included (blk_qcow2.h's
 * BLK_QCOW2_CHAIN_MAX). */
#define VMM_DISK_MAX_BACKING	16

/* One pinned level of a disk's backing chain. */
struct vmm_disk_backing {
	char *path;
	enum vmm_disk_format format;
};

/*
 * One virtio-blk disk: --disk path=FILE[,format=raw|qcow2][,ro][,serial=ID]
 * [,backing=FILE,backing-format=raw|qcow2]... (backing: qcow2 only). The
 * backing chain is pinned level by level: backing[0] is path's backing
 * file, backing[1] backing[0]'s, ..., the last one the base (the only one
 * that may be raw). On the command line the i-th backing= and the i-th
 * backing-format= make backing[i]; in JSON "backing" is one file name
 * (with "backing-format") or a list of {"path": ..., "format": ...}.
 */
struct vmm_disk_config {
	char *path;
	int ro;
	char *serial;			/* NULL: none */
	enum vmm_disk_format format;
	struct vmm_disk_backing backing[VMM_DISK_MAX_BACKING];
	unsigned nbacking;		/* backing files (0: the image has none) */
	unsigned nbacking_format;	/* backing formats given (parsing) */
};

/* "raw" or "qcow2". */
const char *vmm_disk_format_name(enum vmm_disk_format f);

/* One virtio-net NIC: --net tap=NAME|fd=N[,mac=MAC]. */
struct vmm_net_config {
	char *tap;			/* tap name, or NULL with fd */
	int fd;				/* inherited tap fd, or -1 */
	uint8_t mac[6];
	int has_mac;			/* else a random local MAC */
};

enum vmm_console_kind {
	VMM_CONSOLE_STDIO,
	VMM_CONSOLE_NONE,
	VMM_CONSOLE_UNIX,
	VMM_CONSOLE_TCP,
};

struct vmm_config {
	char *kernel;			/* NULL: boot from disk 0 */
	char *initrd;
	char *cmdline;
	uint64_t mem;
	unsigned cpus;
	enum vmm_console_kind console;
	char *console_path;		/* unix: path; tcp: [ADDR:]PORT */
	char *console_log;		/* also append output here */
	char *log_file;
	char *exit_file;		/* exit status written here at exit */
	char *control;			/* control socket path, or NULL */
	int log_level;			/* -1: default */
	unsigned stop_timeout;		/* s from SIGTERM to forced stop */
	int has_user;			/* drop to uid/gid after set-up */
	unsigned uid, gid;
	int access_gid;			/* -1; else the supervisor's group:
					 * console and control sockets 0660,
					 * exit file 0640, group this gid */
	int seccomp;			/* install the allow-list (default) */
	struct vmm_disk_config disk[VMM_MAX_DISKS];
	unsigned ndisks;
	struct vmm_net_config net[VMM_MAX_NETS];
	unsigned nnets;
	int rng;			/* a virtio-rng device (default on) */
};

/* What vmm_config_parse_args found. */
enum vmm_config_action {
	VMM_CONFIG_RUN,
	VMM_CONFIG_HELP,
	VMM_CONFIG_VERSION,
};

void vmm_config_init(struct vmm_config *c);
void vmm_config_free(struct vmm_config *c);
/*
 * Parse argv (and the --config file it names). 0 with *action set, or
 * -EINVAL after printing an error naming the flag or field to stderr.
 */
int vmm_config_parse_args(struct vmm_config *c, int argc, char **argv,
    enum vmm_config_action *action);
/* Load a JSON config file. 0 or -EINVAL (error printed). */
int vmm_config_load_json(struct vmm_config *c, const char *path);
/* Parse JSON text (the file's contents); for tests and fuzzing. */
int vmm_config_parse_json(struct vmm_config *c, const char *text,
    size_t len, const char *origin);
/* Final checks once every source has been read. 0 or -EINVAL. */
int vmm_config_validate(const struct vmm_config *c);
void vmm_usage(FILE *f);
/* Parse "52:54:00:12:34:56" into mac. 0 or -EINVAL. */
int vmm_config_parse_mac(const char *s, uint8_t mac[6]);

#endif
