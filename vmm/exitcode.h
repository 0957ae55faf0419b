/*
 * exitcode.h: drover-vmm's exit status. The agent relies on these; keep
 * them in sync with `drover-vmm --help` (main.c) and docs.
 *
 *   0  VMM_EXIT_POWEROFF  the guest powered off: a KVM system event of
 *                         type SHUTDOWN, or a vCPU HLT exit (only without
 *                         the in-kernel irqchip); or, after the host asked
 *                         for a shutdown (SIGTERM, SIGINT), the guest
 *                         reset or powered off before --stop-timeout
 *   1  VMM_EXIT_ERROR     the VMM failed (set-up, KVM, I/O); the guest may
 *                         have been running
 *   2  VMM_EXIT_USAGE     bad command line or config; nothing was started
 *   3  VMM_EXIT_REBOOT    the guest asked for a reset: i8042 reset (command
 *                         0xFE or the output-port reset bit), a KVM system
 *                         event of type RESET, or a triple fault (KVM
 *                         reports it as KVM_EXIT_SHUTDOWN and cannot tell
 *                         it from a deliberate reset, which Linux does
 *                         with "reboot=t"). On PVM hosts (no hardware
 *                         virtualisation) a triple fault may come back
 *                         as an emulation failure instead: status 4
 *   4  VMM_EXIT_CRASH     the guest crashed: KVM internal error (e.g. an
 *                         emulation failure), failed VM entry, a KVM crash
 *                         system event, or an exit KVM should never give
 *   5  VMM_EXIT_STOPPED   the host stopped the VM: the guest had not shut
 *                         down --stop-timeout seconds after SIGTERM or
 *                         SIGINT, or a second signal came
 *
 * Killed by SIGSYS (a shell shows 159): the seccomp allow-list
 * (sandbox.c) stopped a system call the running VMM should never make:
 * a VMM bug or a compromise. Never a guest action by itself.
 *
 * Without ACPI an x86 Linux guest cannot power itself off ("poweroff" only
 * halts it); a guest that should end its VM runs "reboot" (reboot=k, the
 * default, resets through the i8042), which the agent sees as status 3,
 * or as 0 when the host had asked for the shutdown.
 */
#ifndef DROVER_EXITCODE_H
#define DROVER_EXITCODE_H

enum vmm_exit_code {
	VMM_EXIT_POWEROFF = 0,
	VMM_EXIT_ERROR = 1,
	VMM_EXIT_USAGE = 2,
	VMM_EXIT_REBOOT = 3,
	VMM_EXIT_CRASH = 4,
	VMM_EXIT_STOPPED = 5,
};

#endif
