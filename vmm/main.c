/* main.c: drover-vmm's command line. One process runs one VM. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libver.h"
#include "log.h"
#include "version.h"

/* Exit codes: the agent relies on them (docs/ARCHITECTURE.md). */
enum {
	VMM_EXIT_POWEROFF = 0,
	VMM_EXIT_ERROR = 1,
	VMM_EXIT_USAGE = 2,
};

static void
vmm_usage(FILE *f)
{
	fputs(
"usage: drover-vmm --kernel PATH [--initrd PATH] [--cmdline STR] [--mem SIZE]\n"
"                  [--cpus N] [--disk path=FILE[,ro]] [--net tap=NAME|fd=N[,mac=MAC]]\n"
"                  [--console stdio|unix:PATH|tcp:ADDR:PORT] [--control PATH]\n"
"                  [--log FILE]\n"
"       drover-vmm --config vm.json\n"
"       drover-vmm --help | --version\n"
"\n"
"Runs one virtual machine on /dev/kvm.\n"
"\n"
"  --kernel PATH     bzImage or PVH ELF kernel\n"
"  --initrd PATH     initramfs\n"
"  --cmdline STR     kernel command line\n"
"  --mem SIZE        guest RAM, e.g. 256Mi (default 256Mi)\n"
"  --cpus N          vCPUs (default 1)\n"
"  --disk SPEC       virtio-blk disk: path=FILE[,ro] (repeatable)\n"
"  --net SPEC        virtio-net on a tap: tap=NAME or fd=N, [,mac=MAC]\n"
"  --console SPEC    serial console: stdio, unix:PATH or tcp:ADDR:PORT\n"
"  --control PATH    control socket (status, stop, kill)\n"
"  --log FILE        also write the VMM log to FILE\n"
"  --config FILE     the whole VM as JSON (the agent uses this)\n"
"  --version         print the version and linked libraries\n"
"\n"
"Exit status: 0 guest powered off, 1 VMM error, 2 usage error.\n", f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'n' },
		{ "disk", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 'N' },
		{ "console", required_argument, NULL, 's' },
		{ "control", required_argument, NULL, 'C' },
		{ "log", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	log_init("drover-vmm", LOG_LEVEL_INFO);
	while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			vmm_usage(stdout);
			return 0;
		case 'V':
			printf("drover-vmm %s\n", DROVER_VERSION);
			libver_print_vmm(stdout);
			return 0;
		case '?':
			vmm_usage(stderr);
			return VMM_EXIT_USAGE;
		default:
			break;
		}
	}
	vmm_usage(stderr);
	log_error("the VM runtime is not built yet");
	return VMM_EXIT_USAGE;
}
