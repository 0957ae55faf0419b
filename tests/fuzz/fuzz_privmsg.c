/*
 * libFuzzer target: droverd-priv's request decoder and checks
 * (agent/priv_msg.c). Its input comes from droverd-api, the unprivileged
 * process, which droverd-priv must not trust: any bytes at all are
 * decoded and checked against a fixed run dir and ephemeral dir; what is
 * accepted is encoded again and must decode to the same request.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "priv_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_roundtrip(const struct privmsg_req *r)
{
	const char *const *strs = r->list ? r->list : r->s;
	struct privmsg_req r2;
	uint8_t *msg;
	size_t len;
	char why[256];

	if (privmsg_encode(r->op, r->seq, &r->a, strs, r->a.nstr, r->data,
	    r->datalen, &msg, &len) < 0)
		abort();
	if (privmsg_decode(msg, len, &r2, why, sizeof(why)) < 0 ||
	    r2.op != r->op || r2.a.nstr != r->a.nstr ||
	    r2.datalen != r->datalen ||
	    (r->datalen && memcmp(r2.data, r->data, r->datalen) != 0))
		abort();
	for (uint32_t i = 0; i < r->a.nstr && !r->list; i++)
		if ((r->s[i] == NULL) != (r2.s[i] == NULL) ||
		    (r->s[i] && strcmp(r->s[i], r2.s[i]) != 0))
			abort();
	for (size_t i = 0; i < r->nlist; i++)
		if (strcmp(r->list[i], r2.list[i]) != 0)
			abort();
	privmsg_req_free(&r2);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct privmsg_req r;
	char why[256];

	if (size > (1u << 20))
		return 0;
	if (privmsg_decode(data, size, &r, why, sizeof(why)) < 0)
		return 0;
	(void)privmsg_check(&r, "/run/drover", "/var/lib/drover/ephemeral",
	    why, sizeof(why));
	fz_roundtrip(&r);
	privmsg_req_free(&r);
	return 0;
}
