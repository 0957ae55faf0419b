/*
 * reaper.h: a child process that frees the VM after the VMM has exited
 * (reaper.c), so that the kernel's slow VM teardown is not on the VMM's
 * exit path.
 */
#ifndef DROVER_VMM_REAPER_H
#define DROVER_VMM_REAPER_H

#include <sys/types.h>

struct reaper_conf {
	int has_user;		/* drop to uid/gid */
	unsigned uid, gid;
	int seccomp;		/* the strict reader filter */
};

/* The VMM's argv (main): the reaper blanks its copy of the strings and
 * calls itself "vmm-reaper" (comm and /proc/PID/cmdline), so that tools
 * looking for drover-vmm (pgrep -f, pidof, ps) do not take it for one. */
void reaper_set_args(int argc, char **argv);

/*
 * Fork the reaper, holding vm_fd. Returns the write end of its pipe
 * (close-on-exec): closing it (or exiting) lets the reaper end and free
 * the VM. *pid is the child's. -errno if it could not be started (logged
 * at debug level; the VMM then frees the VM itself).
 */
int reaper_start(int vm_fd, const struct reaper_conf *rc, pid_t *pid);

#endif
