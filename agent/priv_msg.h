/*
 * priv_msg.h: the messages between droverd-api and droverd-priv, one
 * priv.h op each, over a SOCK_STREAM socketpair.
 *
 * A request is a header, one fixed-layout argument block (the same for
 * every op: numbers only) and a tail of NUL-terminated strings (nstr of
 * them, each at most its op's limit), then datalen raw bytes (file_write
 * only). hdr.len is the whole message; it must be exactly header + block
 * + the strings + datalen, at most PRIVMSG_MAX. A string whose bit is set
 * in nullmask stands for NULL (sent as ""; only where the op allows it).
 * The reply is one fixed struct privmsg_rep. Both ends are the same
 * binary (fork, no exec): native byte order and layout.
 *
 * One request is in flight at a time; seq tags it and its reply echoes
 * it. privmsg_decode() is the whole structural check (fuzz_privmsg):
 * anything it refuses is a protocol violation (droverd-priv drops the
 * connection and stops droverd-api, as OpenBSD vmd does: an API process
 * that sends garbage is not to be trusted further). privmsg_check() is
 * the semantic one (paths under the run or disk dirs, names, pids,
 * signals): a request it refuses is answered -EINVAL and serving goes on.
 */
#ifndef DROVER_PRIV_MSG_H
#define DROVER_PRIV_MSG_H

#include <stddef.h>
#include <stdint.h>

#define PRIVMSG_MAGIC		0x56505244u	/* "DRPV" */
#define PRIVMSG_MAX		(20u << 20)	/* cidata: 4 MiB fields */
#define PRIVMSG_PATH_MAX	4096		/* a path or name, with NUL */
#define PRIVMSG_LIST_MAX	4096		/* prune lists' entries */
#define PRIVMSG_NSTR_MAX	8		/* strings of a fixed op */
#define PRIVMSG_ERR_MAX		512

enum privmsg_op {
	PRIVMSG_VMI_PREPARE = 1,
	PRIVMSG_FILE_WRITE,
	PRIVMSG_DISK_OVERLAY,
	PRIVMSG_DISK_EMPTY,
	PRIVMSG_DISK_CIDATA,
	PRIVMSG_CGROUP_CREATE,
	PRIVMSG_VMM_SPAWN,
	PRIVMSG_VMM_SIGNAL,
	PRIVMSG_VMM_REAP,
	PRIVMSG_VMI_CLEANUP,
	PRIVMSG_CGROUP_PRUNE,
	PRIVMSG_NET_SETUP,
	PRIVMSG_NET_ADOPT,
	PRIVMSG_NET_PRUNE,
	PRIVMSG_OP_END
};

struct privmsg_hdr {
	uint32_t magic;
	uint32_t op;
	uint32_t len;		/* the whole message, header included */
	uint32_t seq;
};

struct privmsg_port {
	int32_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	uint16_t pad;
};

/* The argument block: what each op uses is in priv_msg.c's table. */
struct privmsg_args {
	uint64_t u64;		/* disk size, VMM start time, cidata mtime */
	int64_t lim[4];		/* cgroup_create: cpu request, cpu limit
				 * (milli), memory max, pids max */
	int32_t i0;		/* vmm_signal/reap: pid; vmm_spawn: net */
	int32_t i1;		/* vmm_signal: the signal */
	uint32_t nstr;		/* strings in the tail */
	uint32_t nullmask;	/* bit i: string i is NULL */
	uint32_t datalen;	/* raw bytes after the strings */
	uint32_t nports;	/* net_setup/adopt */
	char hostname[64];	/* net_setup/adopt, NUL-terminated */
	struct privmsg_port ports[32];
};

struct privmsg_rep {
	struct privmsg_hdr h;	/* op and seq of the request */
	int32_t rc;		/* 0 or -errno */
	int32_t pid;		/* vmm_spawn */
	int32_t wstatus;	/* vmm_reap */
	int32_t mtu;		/* net_setup/adopt */
	uint64_t starttime;	/* vmm_spawn */
	char ip[16];		/* net_setup/adopt */
	uint8_t mac[6];
	uint8_t pad[2];
	char err[PRIVMSG_ERR_MAX];	/* NUL-terminated */
};

/* A decoded request: pointers into the message buffer. */
struct privmsg_req {
	uint32_t op, seq;
	struct privmsg_args a;
	const char *s[PRIVMSG_NSTR_MAX];	/* fixed ops' strings */
	const char **list;			/* prune ops' (malloc'd) */
	size_t nlist;
	const uint8_t *data;
	size_t datalen;
};

/* The op's name ("vmi_prepare"), or "?" */
const char *privmsg_op_name(uint32_t op);

/*
 * The header's checks alone (magic, a known op, a length in bounds), for
 * a reader that has only the first sizeof(struct privmsg_hdr) bytes. 0 or
 * -EPROTO with the reason in why.
 */
int privmsg_check_hdr(const struct privmsg_hdr *h, char *why, size_t whylen);

/*
 * Decode the whole message buf[0..len). 0 with *r filled (free it with
 * privmsg_req_free()), or -EPROTO with the reason: a protocol violation.
 */
int privmsg_decode(const uint8_t *buf, size_t len, struct privmsg_req *r,
    char *why, size_t whylen);
void privmsg_req_free(struct privmsg_req *r);

/*
 * The semantic checks of a decoded request: every run dir under
 * <run_dir>/vmi/, every disk dir under <ephemeral_dir>/ (priv_path_ok),
 * names one plain component, cgroup names valid, pids above 1, signals
 * SIGTERM, SIGINT or SIGKILL, a disk format raw or qcow2, ports in range.
 * 0, or -EINVAL with the reason.
 */
int privmsg_check(const struct privmsg_req *r, const char *run_dir,
    const char *ephemeral_dir, char *why, size_t whylen);

/*
 * Build a request: the header, *a (nstr, nullmask and datalen are set
 * here), the strings (NULL ones sent as "" with their nullmask bit), then
 * data. A malloc'd message in *out, its length in *outlen; 0 or -errno
 * (-E2BIG: over PRIVMSG_MAX).
 */
int privmsg_encode(uint32_t op, uint32_t seq, const struct privmsg_args *a,
    const char *const *strs, unsigned nstr, const void *data,
    size_t datalen, uint8_t **out, size_t *outlen);

#endif
