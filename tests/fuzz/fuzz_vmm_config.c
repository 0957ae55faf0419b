/*
 * libFuzzer target: vm.json comes from the agent, built from users'
 * manifests. Parse it as drover-vmm would; errors go to stderr, which
 * libFuzzer's -close_fd_mask can silence.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_config c;

	vmm_config_init(&c);
	if (vmm_config_parse_json(&c, (const char *)data, size, "fuzz") == 0)
		(void)vmm_config_validate(&c);
	vmm_config_free(&c);
	return 0;
}
