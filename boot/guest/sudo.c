/*
 * sudo for Drover's busybox guest (busybox has no sudo).
 *
 * Installed setuid root as /usr/bin/sudo. It does what CirrOS's sudoers
 * line "cirros ALL=(ALL) NOPASSWD:ALL" allows: root and members of group
 * SUDO_GID (the guest's "sudo" group, which holds cirros) run a command as
 * root without a password; everyone else is refused. No other user can be
 * the target: -u accepts root (or 0) only.
 *
 *   sudo [-u root] [--] COMMAND [ARG...]
 *   sudo -i | -s          root login shell / root shell
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SUDO_GID
#define SUDO_GID 27
#endif

static int allowed(void)
{
	gid_t groups[256];
	int i, n;

	if (getuid() == 0 || getgid() == SUDO_GID)
		return 1;
	n = getgroups(sizeof(groups) / sizeof(groups[0]), groups);
	for (i = 0; i < n; i++)
		if (groups[i] == SUDO_GID)
			return 1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: sudo [-u root] [--] COMMAND [ARG...]\n       sudo -i | -s\n");
	exit(1);
}

int main(int argc, char **argv)
{
	char uidbuf[16];
	char *shell_argv[3] = { "/bin/sh", NULL, NULL };
	char **cmd;
	int i = 1, login = 0, shell = 0;
	uid_t caller = getuid();

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "-i")) {
			login = 1;
		} else if (!strcmp(argv[i], "-s")) {
			shell = 1;
		} else if (!strcmp(argv[i], "-u") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "root") && strcmp(argv[i], "0") && strcmp(argv[i], "#0")) {
				fprintf(stderr, "sudo: only root can be the target user\n");
				return 1;
			}
		} else {
			usage();
		}
	}
	if (i >= argc && !login && !shell)
		usage();
	if (!allowed()) {
		fprintf(stderr, "sudo: user %u is not allowed to run sudo\n", (unsigned)caller);
		return 1;
	}
	if (setgroups(0, NULL) || setgid(0) || setuid(0)) {
		fprintf(stderr, "sudo: cannot become root: %s (is sudo setuid root?)\n", strerror(errno));
		return 1;
	}
	snprintf(uidbuf, sizeof(uidbuf), "%u", (unsigned)caller);
	setenv("SUDO_UID", uidbuf, 1);
	setenv("HOME", "/root", 1);
	setenv("USER", "root", 1);
	setenv("LOGNAME", "root", 1);
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	if (i >= argc) {
		if (login) {
			shell_argv[0] = "-sh";
			if (chdir("/root"))
				(void)chdir("/");
		}
		execv("/bin/sh", shell_argv);
		fprintf(stderr, "sudo: /bin/sh: %s\n", strerror(errno));
		return 127;
	}
	cmd = argv + i;
	execvp(cmd[0], cmd);
	fprintf(stderr, "sudo: %s: %s\n", cmd[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
