/*
 * bootdisk.h: booting from a disk alone (a KubeVirt containerDisk has no
 * separate kernel): find the kernel, initrd and command line on the disk
 * the way GRUB would, and hand them to the loader (boot/boot.c) as if
 * --kernel, --initrd and --cmdline had been given.
 *
 * The disk is read through its block back end (blk.h: raw or qcow2), so a
 * compressed qcow2 works; the partition table with part.c, the ext2/3/4
 * file system with libext2fs (e2fsprogs) through an io_manager of ours,
 * the GRUB configuration with grubcfg.c. Everything is read before the
 * sandbox is installed. The image is untrusted: sizes are bounded and
 * every failure is an error message, never a crash.
 */
#ifndef DROVER_VMM_BOOTDISK_H
#define DROVER_VMM_BOOTDISK_H

#include <stddef.h>
#include <stdint.h>

#include "blk.h"
#include "grubcfg.h"

#define BOOTDISK_KERNEL_MAX	(512ULL << 20)
#define BOOTDISK_INITRD_MAX	(1ULL << 30)	/* all initrds together */

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

/*
 * Find and read the boot files on the disk behind be: the first ext2/3/4
 * file system (bootable partitions first, then in table order; the whole
 * disk when it has no partition table) holding boot/grub/grub.cfg,
 * boot/grub/menu.lst, grub/grub.cfg or grub/menu.lst; its default entry's
 * kernel and initrds. 0, or -errno with e->msg set.
 */
int bootdisk_load(struct blk_backend *be, struct bootdisk *out,
    struct bootdisk_error *e);
void bootdisk_free(struct bootdisk *bd);

/* cmdline plus " console=ttyS0" when it has no console= argument; NULL
 * when out of memory. */
char *bootdisk_cmdline(const char *cmdline);

#endif
