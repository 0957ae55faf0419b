/*
 * grubcfg.h: the default entry of a GRUB configuration read from a disk
 * image: GRUB legacy's menu.lst or GRUB 2's grub.cfg. The text is
 * untrusted (the image, maybe written by a guest): bounded sizes, no
 * evaluation beyond "set" and variable expansion, clear errors.
 */
#ifndef DROVER_VMM_GRUBCFG_H
#define DROVER_VMM_GRUBCFG_H

#include <stddef.h>

#define GRUBCFG_MAX_TEXT	(1U << 20)	/* bytes of configuration */
#define GRUBCFG_MAX_INITRD	4		/* initrd files of one entry */
#define GRUBCFG_MAX_CMDLINE	4096		/* bytes, without the NUL */

enum grubcfg_kind {
	GRUBCFG_MENU_LST,	/* GRUB legacy: title/kernel/initrd */
	GRUBCFG_GRUB_CFG,	/* GRUB 2: menuentry { linux; initrd } */
};

/* The entry to boot; paths are absolute within the file system holding the
 * configuration (a "(hd0,1)" device prefix is dropped). */
struct grubcfg_entry {
	char *title;
	char *kernel;
	char *initrd[GRUBCFG_MAX_INITRD];
	unsigned ninitrd;
	char *cmdline;		/* the kernel's arguments ("" if none) */
};

struct grubcfg_error {
	char msg[200];
};

/*
 * Parse text (len bytes, need not be NUL-terminated) and fill *out with
 * its default entry (GRUB legacy "default N"; GRUB 2 "set default=" as a
 * number, "N>M" into a submenu, or a title or --id; otherwise entry 0).
 * 0, or -EINVAL / -ENOMEM with e->msg set; *out is then empty.
 */
int grubcfg_parse(enum grubcfg_kind kind, const char *text, size_t len,
    struct grubcfg_entry *out, struct grubcfg_error *e);
void grubcfg_entry_free(struct grubcfg_entry *ent);

#endif
