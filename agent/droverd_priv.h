/*
 * droverd_priv.h: droverd's privilege separation (docs/ARCHITECTURE.md,
 * "Processes"), as OpenBSD vmd does it. droverd started as root sets up
 * what needs root, then forks:
 * - the parent, droverd-priv, keeps root and serves the privileged ops
 *   (priv.h: run and disk dirs, cgroups, the pod network with its tap fds
 *   and DHCP servers, spawning, signalling and reaping the VMMs, which
 *   are its children) to its child over a socketpair (priv_server.c);
 * - the child, droverd-api, binds the root-only local API socket and
 *   reads the TLS files while still root, then drops to the "user" of
 *   the agent config (no supplementary groups, no capabilities, no new
 *   privileges; checked) and runs everything else: the store, the
 *   controllers, the VMI runtime (its privileged ops are requests:
 *   priv_remote.c), the mTLS API, the console bridge, probes, metrics.
 * Either one ending ends the other: droverd-priv sees the socketpair
 * close and exits (non-zero unless it asked the child to stop);
 * droverd-api sees it close and stops, or is killed with droverd-priv
 * (PR_SET_PDEATHSIG SIGKILL: droverd-priv dies without stopping it only
 * by a kill -9 or a crash, and droverd dies whole then, as before).
 * Running VMMs are left running either way; the next droverd adopts them.
 */
#ifndef DROVER_DROVERD_PRIV_H
#define DROVER_DROVERD_PRIV_H

#include <stddef.h>
#include <sys/types.h>

struct agentconf;
struct rt_config;

/* What droverd-api keeps from the split. */
struct dpriv {
	int fd;			/* its end of the socketpair */
	uid_t uid;
	gid_t gid;
	char user[64];		/* the name, for the log */
};

/*
 * Only as root. Resolve the user, make the grants (the state dir for its
 * group to enter, objects/ and images/ its own; the run dirs through
 * priv_config.api_gid), make droverd-priv's privileged side (rtc: the
 * runtime's config; NULL: no runtime), and fork. Returns 0 in the child,
 * droverd-api, still root, with *p filled; in the parent it serves until
 * the child ends and exits. -1 (logged) when the set-up fails, before any
 * fork.
 */
int dpriv_split(const struct agentconf *c, const struct rt_config *rtc,
    struct dpriv *p);

/*
 * In droverd-api, once its root-only set-up is done: drop to p's uid and
 * gid for good and check that no capability and no way back is left
 * (CapEff 0, setuid(0) fails, NoNewPrivs 1). 0, or -1 (logged).
 */
int dpriv_drop(const struct dpriv *p);

/*
 * A root-only file (the TLS key) for after the drop: its bytes in a
 * memfd, named "/proc/self/fd/N" in out. 0, or -1 (logged).
 */
int dpriv_memfd(const char *path, char *out, size_t outlen);

#endif
