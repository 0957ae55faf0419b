/* droverd.c: the Drover node agent's command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "libver.h"
#include "log.h"
#include "version.h"

static void
droverd_usage(FILE *f)
{
	fputs(
"usage: droverd [--state-dir DIR] [--manifests DIR] [--listen ADDR:PORT]\n"
"               [--log-level error|warn|info|debug]\n"
"       droverd --help | --version\n"
"\n"
"The Drover node agent: keeps VirtualMachineInstanceReplicaSets running on\n"
"this node and serves a Kubernetes-compatible API over mutual TLS.\n"
"\n"
"  --state-dir DIR   durable object store (default /var/lib/drover)\n"
"  --manifests DIR   apply every YAML file in DIR, and prune removed ones\n"
"  --listen ADDR     mTLS API address (default 0.0.0.0:6443)\n"
"  --log-level L     error, warn, info (default) or debug\n"
"  --version         print the version and linked libraries\n", f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "manifests", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "log-level", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, level;

	log_init("droverd", LOG_LEVEL_INFO);
	while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			droverd_usage(stdout);
			return 0;
		case 'V':
			printf("droverd %s\n", DROVER_VERSION);
			libver_print_agent(stdout);
			return 0;
		case 'L':
			level = log_level_parse(optarg);
			if (level < 0) {
				log_error("--log-level: unknown level '%s'",
				    optarg);
				return 2;
			}
			log_set_level((enum log_level)level);
			break;
		case '?':
			droverd_usage(stderr);
			return 2;
		default:
			break;
		}
	}
	droverd_usage(stderr);
	log_error("the agent is not built yet");
	return 2;
}
