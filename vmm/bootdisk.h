/*
 * bootdisk.h: booting from a disk alone (a KubeVirt containerDisk has no
 * separate kernel): find the kernel, initrd and command line on the disk
 * the way GRUB would, and hand them to the loader (boot/boot.c) as if
 * --kernel, --initrd and --cmdline had been given.
 *
 * The disk is read through its block back end (blk.h: raw or qcow2), so a
 * compressed qcow2 works; the partition table with part.c, the ext2/3/4
 * file system with libext2fs (e2fsprogs) through an io_manager of ours,
 * the GRUB configuration with grubcfg.c. The image is untrusted (an
 * overlay is guest-writable): all of that parsing runs in a child process
 * (bootdisk_sandbox.c) that drops to --user's uid, keeps only the disk's
 * read-only files, its answer pipe and stderr, and runs under a strict
 * seccomp filter; it sends the kernel, initrds and command line back over
 * the pipe and the VMM checks every length. A malformed file system can at
 * worst kill the child: bootdisk_load then fails with a message. Inside
 * the child sizes are bounded too and every failure is a message.
 */
#ifndef DROVER_VMM_BOOTDISK_H
#define DROVER_VMM_BOOTDISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "blk.h"
#include "grubcfg.h"

#define BOOTDISK_KERNEL_MAX	(64ULL << 20)
#define BOOTDISK_INITRD_MAX	(512ULL << 20)	/* all initrds together */
#define BOOTDISK_STR_MAX	(64U << 10)	/* a name or command line */
#define BOOTDISK_TIMEOUT_S	300		/* the child's time to answer */

struct bootdisk {
	uint8_t *kernel;
	size_t kernel_len;
	uint8_t *initrd;	/* the initrds, concatenated; NULL: none */
	size_t initrd_len;
	char *cmdline;		/* the entry's, plus console=ttyS0 if it has
				 * no console= */
	unsigned part;		/* partition number; 0: the whole disk */
	const char *config;	/* the configuration file used */
	struct grubcfg_entry entry;	/* its default entry, as written */
};

struct bootdisk_error {
	char msg[300];
};

/* How the child is confined (bootdisk_set_sandbox; the default: no uid
 * change, seccomp on, BOOTDISK_TIMEOUT_S). */
struct bootdisk_sandbox {
	int has_user;		/* drop to uid/gid (--user) */
	uid_t uid;
	gid_t gid;
	int seccomp;		/* the child's allow-list (--no-seccomp: 0) */
	unsigned timeout_s;	/* kill the child after this long */
};

/* Set before bootdisk_load (main.c, from the VM config). */
void bootdisk_set_sandbox(const struct bootdisk_sandbox *sb);

/*
 * Find and read the boot files on the disk behind be, in a sandboxed child
 * (bootdisk_read there): the first ext2/3/4 file system (bootable
 * partitions first, then in table order; the whole disk when it has no
 * partition table) holding boot/grub/grub.cfg, boot/grub/menu.lst,
 * grub/grub.cfg or grub/menu.lst; its default entry's kernel and initrds.
 * 0, or -errno with e->msg set (a child that crashes, is killed by its
 * filter, times out or answers garbage is -EIO with "boot disk reader ...").
 */
int bootdisk_load(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e);

/* What the child runs: bootdisk_read, or a test's stand-in. */
typedef int (*bootdisk_reader_fn)(struct blk_backend *be,
    struct bootdisk *out, struct bootdisk_error *e);

/* bootdisk_load with another reader in the child (for tests). */
int bootdisk_load_with(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e, bootdisk_reader_fn reader);

/* The same search in this process (the child's side; no sandbox). */
int bootdisk_read(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e);
void bootdisk_free(struct bootdisk *bd);

/* The i-th configuration file name bootdisk_read looks for, or NULL;
 * bootdisk.config is always one of them. */
const char *bootdisk_config_name(unsigned i);

/* cmdline plus " console=ttyS0" when it has no console= argument; NULL
 * when out of memory. */
char *bootdisk_cmdline(const char *cmdline);

#endif
