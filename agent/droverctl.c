/* droverctl.c: the Drover command-line client (commands in ctl_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "libver.h"
#include "localapi.h"
#include "log.h"
#include "version.h"

/* agent/ctl_image.c (the images module) may not be linked in. */
#pragma weak ctl_image_main
/* agent/ctl_certs.c and agent/ctl_console.c (issue 6), likewise. */
#pragma weak ctl_certs_main
#pragma weak ctl_kubeconfig_main
#pragma weak ctl_console_main

static void
ctl_usage(FILE *f)
{
	fputs(
"usage: droverctl [--socket PATH] COMMAND [ARGS]\n"
"\n"
"  get KIND [NAME] [-n NS] [-A] [-o json|yaml|name|wide]\n"
"  apply -f FILE|- [-n NS]       create or update (kubectl apply)\n"
"  delete KIND NAME [-n NS]      delete (also: delete -f FILE)\n"
"  scale vmirs NAME --replicas N [-n NS]\n"
"  console NAME [-n NS]          the VMI's serial console (Ctrl+] exits)\n"
"  image import|list|rm ...      containerDisk images\n"
"  certs init|user ...           the CA, server and client certificates\n"
"  kubeconfig NAME --server URL  a kubeconfig for kubectl\n"
"  version                       the version and linked libraries\n"
"  help                          this text\n"
"\n"
"KIND: vmirs, vmi, hpa, pods, events, ns, nodes (or kubectl's other names).\n"
"--socket: droverd's local socket (default " LOCALAPI_DEFAULT_SOCKET ",\n"
"or $DROVER_SOCKET).\n", f);
}

static const struct {
	const char *name;
	int (*fn)(int, char **, const char *);
} ctl_commands[] = {
	{ "get", ctl_get_main },
	{ "apply", ctl_apply_main },
	{ "delete", ctl_delete_main },
	{ "scale", ctl_scale_main },
};

/* Take --socket PATH / --socket=PATH out of argv; -1 if it has no value. */
static int
ctl_take_socket(int *argc, char **argv, const char **socket)
{
	for (int i = 1; i < *argc; i++) {
		int take = 0;

		if (strcmp(argv[i], "--socket") == 0) {
			if (i + 1 >= *argc)
				return -1;
			*socket = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			*socket = argv[i] + 9;
			take = 1;
		}
		if (take) {
			memmove(&argv[i], &argv[i + take],
			    (size_t)(*argc - i - take + 1) * sizeof(*argv));
			*argc -= take;
			i--;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *socket = getenv("DROVER_SOCKET");

	log_init("droverctl", LOG_LEVEL_INFO);
	if (!socket || !*socket)
		socket = LOCALAPI_DEFAULT_SOCKET;
	if (ctl_take_socket(&argc, argv, &socket) < 0) {
		fprintf(stderr, "error: flag needs an argument: --socket\n");
		return 2;
	}
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
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]);
	    i++)
		if (strcmp(argv[1], ctl_commands[i].name) == 0)
			return ctl_commands[i].fn(argc - 1, argv + 1, socket);
	static const struct {
		const char *name;
		int (*fn)(int, char **, const char *);
	} opt[] = {
		{ "certs", ctl_certs_main },
		{ "kubeconfig", ctl_kubeconfig_main },
		{ "console", ctl_console_main },
	};
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		if (strcmp(argv[1], opt[i].name) != 0)
			continue;
		if (opt[i].fn)
			return opt[i].fn(argc - 1, argv + 1, socket);
		log_error("'%s' is not built into this droverctl", argv[1]);
		return 2;
	}
	if (strcmp(argv[1], "image") == 0) {
		if (ctl_image_main)
			return ctl_image_main(argc - 1, argv + 1, socket);
		log_error("'image' is not built into this droverctl");
		return 2;
	}
	log_error("unknown command '%s'", argv[1]);
	ctl_usage(stderr);
	return 2;
}
