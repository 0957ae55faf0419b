/*
 * libFuzzer target: droverd-priv's check of vm.json before a VMM is
 * spawned (agent/priv_vmjson.c, priv_vmjson_check()). vm.json is composed
 * by droverd-api, which droverd-priv must not trust: any bytes are parsed
 * and checked against a fixed run dir, disk dir and user; with no image
 * store no backing file may ever be opened, and what passes must parse
 * again as a JSON object.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "priv_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct priv_vmjson_in in = {
		.dir = "/run/drover/vmi/ns/vm",
		.ddir = "/var/lib/drover/ephemeral/ns/vm",
		.images_dir = NULL, .vmm_user = "65534:65534",
		.gids = { 990, 0 }, .net = (int)(size & 1),
	};
	struct priv_vmjson_out out;
	char err[512];
	json_t *j;

	if (priv_vmjson_check(&in, (const char *)data, size, &out, err,
	    sizeof(err)) < 0) {
		if (out.nfds != 0 || out.text != NULL)
			abort();
		return 0;
	}
	if (out.nfds != 0)	/* no image store: nothing to open */
		abort();
	j = json_loads(out.text, 0, NULL);
	if (!json_is_object(j))
		abort();
	json_decref(j);
	priv_vmjson_out_free(&out);
	return 0;
}
