/*
 * main.c: drover-vmm's entry point. One process runs one VM: parse the
 * command line (or --config vm.json), set up logging, run the VM, and exit
 * with a status that says why the VM ended (exitcode.h, and --help).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootdisk.h"
#include "config.h"
#include "exitcode.h"
#include "libver.h"
#include "log.h"
#include "reaper.h"
#include "version.h"
#include "vmm.h"

/*
 * --exit-file: opened at start (before the sandbox forbids open), written
 * with pwrite (allowed by the seccomp list) when the VMM ends, so that a
 * supervisor which is not the parent (droverd after a restart) learns the
 * status. A VMM killed by a signal leaves the file empty.
 */
static int
exit_file_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);

	if (fd < 0)
		fprintf(stderr, "drover-vmm: --exit-file: %s: %s\n", path,
		    strerror(errno));
	return fd;
}

static void
exit_file_write(int fd, int rc)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d\n", rc);

	if (fd >= 0 && pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("--exit-file");
}

int
main(int argc, char **argv)
{
	enum vmm_config_action action;
	struct vmm_config cfg;
	int rc, err, exit_fd = -1;

	log_init("drover-vmm", LOG_LEVEL_INFO);
	reaper_set_args(argc, argv);
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
	if (cfg.exit_file && (exit_fd = exit_file_open(cfg.exit_file)) < 0) {
		rc = VMM_EXIT_USAGE;
		goto out;
	}
	/* The supervisor's group reads it (--access-group). */
	if (exit_fd >= 0 && cfg.access_gid >= 0 && (fchown(exit_fd, (uid_t)-1,
	    (gid_t)cfg.access_gid) < 0 || fchmod(exit_fd, 0640) < 0)) {
		fprintf(stderr, "drover-vmm: --access-group: %s: %s\n",
		    cfg.exit_file, strerror(errno));
		rc = VMM_EXIT_USAGE;
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
	/* Without --kernel the boot disk is read in a child confined as the
	 * VMM will be (bootdisk_sandbox.c). */
	bootdisk_set_sandbox(&(struct bootdisk_sandbox){
	    .has_user = cfg.has_user, .uid = cfg.uid, .gid = cfg.gid,
	    .seccomp = cfg.seccomp });
	rc = vmm_run(&cfg);
out:
	exit_file_write(exit_fd, rc);
	if (exit_fd >= 0)
		close(exit_fd);
	vmm_config_free(&cfg);
	return rc;
}
