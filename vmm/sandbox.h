/*
 * sandbox.h: what drover-vmm gives up once the VM is set up and before
 * any vCPU enters the guest: its user and group (--user UID:GID), and all
 * system calls but an allow-list (seccomp; a forbidden call kills the
 * process with SIGSYS, exit status 159 in a shell).
 */
#ifndef DROVER_VMM_SANDBOX_H
#define DROVER_VMM_SANDBOX_H

#include <sys/types.h>

/* Drop to uid/gid (no supplementary groups). 0 or -errno (logged). */
int sandbox_drop_user(uid_t uid, gid_t gid);
/* Install the allow-list on every thread of the process. 0 or -errno. */
int sandbox_seccomp(void);

/* The boot disk reader's strict filter (this thread only): reads, memory,
 * exit; write/writev only on the nwfd (at most 4) fds in wfds. */
int sandbox_seccomp_reader(const int *wfds, unsigned nwfd);

#endif
