/*
 * libFuzzer target: a GRUB configuration on a disk image is untrusted
 * (vmm/grubcfg.c). The first input byte picks menu.lst or grub.cfg; the
 * rest is the text. An accepted entry must have an absolute kernel path,
 * a bounded command line and at most GRUBCFG_MAX_INITRD absolute initrd
 * paths; a refused one must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grubcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grubcfg_entry ent;
	struct grubcfg_error e = { "" };

	if (size < 1)
		return 0;
	if (grubcfg_parse(data[0] & 1 ? GRUBCFG_GRUB_CFG : GRUBCFG_MENU_LST,
	    (const char *)data + 1, size - 1, &ent, &e) == 0) {
		if (ent.kernel == NULL || ent.kernel[0] != '/' ||
		    ent.cmdline == NULL ||
		    strlen(ent.cmdline) > GRUBCFG_MAX_CMDLINE ||
		    ent.ninitrd > GRUBCFG_MAX_INITRD || ent.title == NULL)
			abort();
		for (unsigned i = 0; i < ent.ninitrd; i++)
			if (ent.initrd[i] == NULL || ent.initrd[i][0] != '/')
				abort();
		grubcfg_entry_free(&ent);
	} else if (e.msg[0] == '\0') {
		abort();
	}
	return 0;
}
