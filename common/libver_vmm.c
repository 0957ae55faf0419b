/* libver_vmm.c: the libraries drover-vmm links (zlib, jansson, libfdt). */
#include "libver.h"

#include <jansson.h>
#include <libfdt.h>
#include <zlib.h>

void
libver_print_vmm(FILE *f)
{
	char fdt[128];

	fprintf(f, "zlib %s\n", zlibVersion());
	fprintf(f, "jansson %s\n", jansson_version_str());
	/* libfdt has no version call: prove it links by building a tree. */
	fprintf(f, "libfdt %s\n",
	    fdt_create_empty_tree(fdt, sizeof(fdt)) == 0 &&
	    fdt_check_header(fdt) == 0 ? "ok" : "broken");
}
