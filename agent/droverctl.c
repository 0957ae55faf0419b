/* droverctl.c: the Drover command-line client. */
#include <stdio.h>
#include <string.h>

#include "libver.h"
#include "log.h"
#include "version.h"

static void
ctl_usage(FILE *f)
{
	fputs(
"usage: droverctl COMMAND [ARGS]\n"
"\n"
"  get|apply|delete ...          objects, through the agent's local socket\n"
"  console NAME [-n NS]          the VMI's serial console (Ctrl+] exits)\n"
"  image import|list|rm ...      containerDisk images\n"
"  certs init|user ...           the CA, server and client certificates\n"
"  kubeconfig NAME --server URL  a kubeconfig for kubectl\n"
"  version                       the version and linked libraries\n"
"  help                          this text\n", f);
}

int
main(int argc, char **argv)
{
	log_init("droverctl", LOG_LEVEL_INFO);
	if (argc < 2) {
		ctl_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		ctl_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("droverctl %s\n", DROVER_VERSION);
		libver_print_agent(stdout);
		return 0;
	}
	log_error("unknown command '%s'", argv[1]);
	ctl_usage(stderr);
	return 2;
}
