/*
 * libFuzzer target: manifests come from users (kubectl apply, droverctl,
 * the --manifests directory). Parse YAML or JSON, admit every object
 * (strict and lax), derive the VMI of a VMIRS, print back as YAML.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "log.h"
#include "manifest.h"
#include "yamljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise(json_t *doc, unsigned flags)
{
	struct manifest_vmi_resources res;
	json_t *copy = json_deep_copy(doc), *st = NULL, *vmi;
	char *yaml = NULL;

	if (copy == NULL)
		return;
	if (manifest_admit(copy, flags, &st) == 0) {
		(void)manifest_vmi_resources(json_object_get(copy, "spec"), &res);
		if (manifest_kind(copy) == MANIFEST_VMIRS &&
		    (vmi = manifest_vmi_from_vmirs(copy)) != NULL) {
			(void)manifest_vmi_resources(json_object_get(vmi, "spec"),
			    &res);
			json_decref(vmi);
		}
	}
	(void)manifest_status_message(st);
	if (yamljson_emit(copy, &yaml, NULL) == 0)
		free(yaml);
	json_decref(st);
	json_decref(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *docs, *st = NULL, *doc;
	size_t i;

	if (size > 65536)
		return 0;
	log_init("fuzz", LOG_LEVEL_ERROR);
	docs = manifest_parse((const char *)data, size, &st);
	json_decref(st);
	json_array_foreach(docs, i, doc) {
		exercise(doc, MANIFEST_STRICT | MANIFEST_CREATE);
		exercise(doc, 0);
	}
	json_decref(docs);
	return 0;
}
