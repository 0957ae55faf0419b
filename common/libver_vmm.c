/* libver_vmm.c: the libraries drover-vmm links (zlib, jansson, libfdt,
 * libext2fs). */
#include "libver.h"

#include <sys/types.h>	/* before ext2fs.h: dev_t, mode_t (musl) */
#include <ext2fs/ext2fs.h>
#include <jansson.h>
#include <libfdt.h>
#include <zlib.h>

void
libver_print_vmm(FILE *f)
{
	const char *e2ver = NULL, *e2date = NULL;
	char fdt[128];

	fprintf(f, "zlib %s\n", zlibVersion());
	fprintf(f, "jansson %s\n", jansson_version_str());
	/* libfdt has no version call: prove it links by building a tree. */
	fprintf(f, "libfdt %s\n",
	    fdt_create_empty_tree(fdt, sizeof(fdt)) == 0 &&
	    fdt_check_header(fdt) == 0 ? "ok" : "broken");
	ext2fs_get_library_version(&e2ver, &e2date);
	fprintf(f, "libext2fs %s\n", e2ver ? e2ver : "?");
}
