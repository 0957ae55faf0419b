/*
 * priv_msg.c: the privsep messages (priv_msg.h): the encoder droverd-api
 * uses, the decoder and the checks droverd-priv applies to whatever
 * arrives. Nothing here trusts the sender: every length is checked
 * against the bytes there are before anything is read.
 */
#include "priv_msg.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "priv.h"

/* What each op's request carries. */
struct pm_spec {
	const char *name;
	unsigned nmin, nmax;	/* strings */
	uint32_t nullable;	/* strings that may be NULL */
	uint32_t big;		/* strings that may be up to PRIVMSG_MAX */
	int data;		/* raw bytes after the strings */
	int list;		/* the strings are a list (prune ops) */
};

static const struct pm_spec pm_specs[PRIVMSG_OP_END] = {
	[PRIVMSG_VMI_PREPARE] = { "vmi_prepare", 1, 1, 0, 0, 0, 0 },
	[PRIVMSG_FILE_WRITE] = { "file_write", 2, 2, 0, 0, 1, 0 },
	[PRIVMSG_DISK_OVERLAY] = { "disk_overlay", 4, 4, 0, 0, 0, 0 },
	[PRIVMSG_DISK_EMPTY] = { "disk_empty", 2, 2, 0, 0, 0, 0 },
	/* dir, name, hostname, firmware uuid, user data (plain, base64),
	 * network data (plain, base64) */
	[PRIVMSG_DISK_CIDATA] = { "disk_cidata", 8, 8, 0xfc, 0xf0, 0, 0 },
	[PRIVMSG_CGROUP_CREATE] = { "cgroup_create", 1, 1, 0, 0, 0, 0 },
	/* dir, cgroup */
	[PRIVMSG_VMM_SPAWN] = { "vmm_spawn", 2, 2, 0x2, 0, 0, 0 },
	[PRIVMSG_VMM_SIGNAL] = { "vmm_signal", 0, 0, 0, 0, 0, 0 },
	[PRIVMSG_VMM_REAP] = { "vmm_reap", 0, 0, 0, 0, 0, 0 },
	/* dir, cgroup */
	[PRIVMSG_VMI_CLEANUP] = { "vmi_cleanup", 2, 2, 0x3, 0, 0, 0 },
	[PRIVMSG_CGROUP_PRUNE] = { "cgroup_prune", 0, PRIVMSG_LIST_MAX, 0, 0,
	    0, 1 },
	[PRIVMSG_NET_SETUP] = { "net_setup", 1, 1, 0, 0, 0, 0 },
	[PRIVMSG_NET_ADOPT] = { "net_adopt", 1, 1, 0, 0, 0, 0 },
	[PRIVMSG_NET_PRUNE] = { "net_prune", 0, PRIVMSG_LIST_MAX, 0, 0, 0, 1 },
};

#define PM_FIXED	(sizeof(struct privmsg_hdr) + sizeof(struct privmsg_args))

static int
pm_why(char *why, size_t whylen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
pm_why(char *why, size_t whylen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *
privmsg_op_name(uint32_t op)
{
	return op > 0 && op < PRIVMSG_OP_END ? pm_specs[op].name : "?";
}

int
privmsg_check_hdr(const struct privmsg_hdr *h, char *why, size_t whylen)
{
	if (h->magic != PRIVMSG_MAGIC)
		return pm_why(why, whylen, -EPROTO, "bad magic 0x%08x",
		    h->magic);
	if (h->op == 0 || h->op >= PRIVMSG_OP_END)
		return pm_why(why, whylen, -EPROTO, "unknown op %u", h->op);
	if (h->len < PM_FIXED || h->len > PRIVMSG_MAX)
		return pm_why(why, whylen, -EPROTO, "%s: length %u out of "
		    "bounds (%zu..%u)", pm_specs[h->op].name, h->len, PM_FIXED,
		    PRIVMSG_MAX);
	return 0;
}

/* The strings of the tail [p, end): exactly a->nstr of them. */
static int
pm_strings(const struct pm_spec *sp, const struct privmsg_args *a,
    const char *p, const char *end, struct privmsg_req *r, char *why,
    size_t whylen)
{
	for (uint32_t i = 0; i < a->nstr; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t max = i < 32 && (sp->big & (1u << i)) ? PRIVMSG_MAX :
		    PRIVMSG_PATH_MAX;

		if (nul == NULL)
			return pm_why(why, whylen, -EPROTO, "%s: string %u not "
			    "terminated", sp->name, i);
		if ((size_t)(nul - p) + 1 > max)
			return pm_why(why, whylen, -EPROTO, "%s: string %u of "
			    "%zu bytes (at most %zu)", sp->name, i,
			    (size_t)(nul - p), max - 1);
		if (i < 32 && (a->nullmask & (1u << i)) && nul != p)
			return pm_why(why, whylen, -EPROTO, "%s: NULL string %u "
			    "not empty", sp->name, i);
		if (sp->list)
			r->list[i] = p;
		else
			r->s[i] = i < 32 && (a->nullmask & (1u << i)) ? NULL : p;
		p = nul + 1;
	}
	if (p != end)
		return pm_why(why, whylen, -EPROTO, "%s: %zu bytes after the "
		    "strings", sp->name, (size_t)(end - p));
	return 0;
}

int
privmsg_decode(const uint8_t *buf, size_t len, struct privmsg_req *r,
    char *why, size_t whylen)
{
	const struct pm_spec *sp;
	struct privmsg_hdr h;
	const char *tail, *send;
	int rc;

	memset(r, 0, sizeof(*r));
	if (len < PM_FIXED)
		return pm_why(why, whylen, -EPROTO, "short message (%zu bytes)",
		    len);
	memcpy(&h, buf, sizeof(h));
	if ((rc = privmsg_check_hdr(&h, why, whylen)) < 0)
		return rc;
	if (h.len != len)
		return pm_why(why, whylen, -EPROTO, "length %u, message of %zu "
		    "bytes", h.len, len);
	sp = &pm_specs[h.op];
	memcpy(&r->a, buf + sizeof(h), sizeof(r->a));
	r->op = h.op;
	r->seq = h.seq;
	if (r->a.nstr < sp->nmin || r->a.nstr > sp->nmax)
		return pm_why(why, whylen, -EPROTO, "%s: %u strings (want "
		    "%u..%u)", sp->name, r->a.nstr, sp->nmin, sp->nmax);
	if (r->a.nullmask & ~sp->nullable)
		return pm_why(why, whylen, -EPROTO, "%s: NULL mask 0x%x not "
		    "allowed", sp->name, r->a.nullmask);
	if (r->a.datalen && !sp->data)
		return pm_why(why, whylen, -EPROTO, "%s: carries no data",
		    sp->name);
	if (r->a.datalen > len - PM_FIXED)
		return pm_why(why, whylen, -EPROTO, "%s: %u data bytes, %zu "
		    "there", sp->name, r->a.datalen, len - PM_FIXED);
	if (r->a.nports > PRIV_NET_MAX_PORTS ||
	    memchr(r->a.hostname, '\0', sizeof(r->a.hostname)) == NULL)
		return pm_why(why, whylen, -EPROTO, "%s: bad network block",
		    sp->name);
	if (sp->list && r->a.nstr &&
	    (r->list = calloc(r->a.nstr, sizeof(*r->list))) == NULL)
		return pm_why(why, whylen, -ENOMEM, "out of memory");
	r->nlist = sp->list ? r->a.nstr : 0;
	tail = (const char *)buf + PM_FIXED;
	send = (const char *)buf + len - r->a.datalen;
	if ((rc = pm_strings(sp, &r->a, tail, send, r, why, whylen)) < 0) {
		privmsg_req_free(r);
		return rc;
	}
	r->data = (const uint8_t *)send;
	r->datalen = r->a.datalen;
	return 0;
}

void
privmsg_req_free(struct privmsg_req *r)
{
	free(r->list);
	r->list = NULL;
	r->nlist = 0;
}

/* ---- the semantic checks --------------------------------------------- */

static int
pm_path(const char *run, const char *eph, const char *dir, const char *name,
    int want)
{
	return dir && priv_path_ok(run, eph, dir, name) == want;
}

static int
pm_check_net(const struct privmsg_args *a)
{
	for (uint32_t i = 0; i < a->nports; i++)
		if ((a->ports[i].proto != IPPROTO_TCP &&
		    a->ports[i].proto != IPPROTO_UDP) || a->ports[i].port == 0)
			return 0;
	return 1;
}

static int
pm_check_list(const struct privmsg_req *r, const char *run, const char *eph)
{
	for (size_t i = 0; i < r->nlist; i++)
		if (r->op == PRIVMSG_CGROUP_PRUNE ? !cg_name_valid(r->list[i]) :
		    !pm_path(run, eph, r->list[i], NULL, PRIV_PATH_RUN))
			return 0;
	return 1;
}

/* 1: r's arguments are acceptable. */
static int
pm_ok(const struct privmsg_req *r, const char *run, const char *eph)
{
	const char *const *s = r->s;

	switch (r->op) {
	case PRIVMSG_VMI_PREPARE:
		return pm_path(run, eph, s[0], NULL, PRIV_PATH_RUN);
	case PRIVMSG_FILE_WRITE:
		return pm_path(run, eph, s[0], s[1], PRIV_PATH_RUN);
	case PRIVMSG_DISK_OVERLAY:
		return pm_path(run, eph, s[0], s[1], PRIV_PATH_DISK) &&
		    s[2][0] == '/' && (strcmp(s[3], "raw") == 0 ||
		    strcmp(s[3], "qcow2") == 0);
	case PRIVMSG_DISK_EMPTY:
		return pm_path(run, eph, s[0], s[1], PRIV_PATH_DISK) &&
		    r->a.u64 <= INT64_MAX;
	case PRIVMSG_DISK_CIDATA:
		return pm_path(run, eph, s[0], s[1], PRIV_PATH_DISK);
	case PRIVMSG_CGROUP_CREATE:
		return cg_name_valid(s[0]);
	case PRIVMSG_VMM_SPAWN:
		return pm_path(run, eph, s[0], NULL, PRIV_PATH_RUN) &&
		    (s[1] == NULL || cg_name_valid(s[1])) &&
		    (r->a.i0 == 0 || r->a.i0 == 1);
	case PRIVMSG_VMM_SIGNAL:
		return r->a.i0 > 1 && (r->a.i1 == SIGTERM ||
		    r->a.i1 == SIGINT || r->a.i1 == SIGKILL);
	case PRIVMSG_VMM_REAP:
		return r->a.i0 > 1;
	case PRIVMSG_VMI_CLEANUP:
		return (s[0] == NULL || pm_path(run, eph, s[0], NULL,
		    PRIV_PATH_RUN)) && (s[1] == NULL || cg_name_valid(s[1]));
	case PRIVMSG_NET_SETUP:
	case PRIVMSG_NET_ADOPT:
		return pm_path(run, eph, s[0], NULL, PRIV_PATH_RUN) &&
		    pm_check_net(&r->a);
	case PRIVMSG_CGROUP_PRUNE:
	case PRIVMSG_NET_PRUNE:
		return pm_check_list(r, run, eph);
	default:
		return 0;
	}
}

int
privmsg_check(const struct privmsg_req *r, const char *run_dir,
    const char *ephemeral_dir, char *why, size_t whylen)
{
	if (!pm_ok(r, run_dir, ephemeral_dir))
		return pm_why(why, whylen, -EINVAL, "%s: refused: an argument "
		    "outside what droverd-priv serves (a path not under %s/vmi "
		    "or %s, a bad name, pid or signal)", privmsg_op_name(r->op),
		    run_dir, ephemeral_dir ? ephemeral_dir : "(none)");
	return 0;
}

/* ---- the encoder -------------------------------------------------------- */

int
privmsg_encode(uint32_t op, uint32_t seq, const struct privmsg_args *a,
    const char *const *strs, unsigned nstr, const void *data,
    size_t datalen, uint8_t **out, size_t *outlen)
{
	struct privmsg_hdr h = { PRIVMSG_MAGIC, op, 0, seq };
	struct privmsg_args args = *a;
	size_t len = PM_FIXED + datalen;
	uint8_t *buf, *p;

	*out = NULL;
	if (nstr > PRIVMSG_LIST_MAX || datalen > PRIVMSG_MAX)
		return -E2BIG;
	args.nullmask = 0;
	for (unsigned i = 0; i < nstr; i++) {
		if (strs[i] == NULL && i < 32)
			args.nullmask |= 1u << i;
		len += (strs[i] ? strlen(strs[i]) : 0) + 1;
		if (len > PRIVMSG_MAX)
			return -E2BIG;
	}
	args.nstr = nstr;
	args.datalen = (uint32_t)datalen;
	h.len = (uint32_t)len;
	if ((buf = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &args, sizeof(args));
	p = buf + PM_FIXED;
	for (unsigned i = 0; i < nstr; i++) {
		size_t n = strs[i] ? strlen(strs[i]) : 0;

		memcpy(p, strs[i] ? strs[i] : "", n + 1);
		p += n + 1;
	}
	if (datalen)
		memcpy(p, data, datalen);
	*out = buf;
	*outlen = len;
	return 0;
}
