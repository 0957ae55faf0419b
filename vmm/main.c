/*
 * main.c: drover-vmm's entry point. One process runs one VM: parse the
 * command line (or --config vm.json), set up logging, run the VM, and exit
 * with a status that says why the VM ended (exitcode.h, and --help).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "exitcode.h"
#include "libver.h"
#include "log.h"
#include "version.h"
#include "vmm.h"

int
main(int argc, char **argv)
{
	enum vmm_config_action action;
	struct vmm_config cfg;
	int rc, err;

	log_init("drover-vmm", LOG_LEVEL_INFO);
	vmm_config_init(&cfg);
	if (vmm_config_parse_args(&cfg, argc, argv, &action) < 0) {
		fprintf(stderr, "Try 'drover-vmm --help'.\n");
		vmm_config_free(&cfg);
		return VMM_EXIT_USAGE;
	}
	if (action == VMM_CONFIG_HELP) {
		vmm_usage(stdout);
		rc = 0;
		goto out;
	}
	if (action == VMM_CONFIG_VERSION) {
		printf("drover-vmm %s\n", DROVER_VERSION);
		libver_print_vmm(stdout);
		rc = 0;
		goto out;
	}
	if (cfg.log_level >= 0)
		log_set_level((enum log_level)cfg.log_level);
	if (cfg.log_file && (err = log_set_file(cfg.log_file)) < 0) {
		fprintf(stderr, "drover-vmm: --log: %s: %s\n", cfg.log_file,
		    strerror(-err));
		rc = VMM_EXIT_USAGE;
		goto out;
	}
	rc = vmm_run(&cfg);
out:
	vmm_config_free(&cfg);
	return rc;
}
