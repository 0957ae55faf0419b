/*
 * nft.c: rule sets written as nft syntax and run by libnftables in one
 * transaction (nft_run_cmd_from_buffer), so a set is applied whole or
 * not at all.
 */
#include "nft.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <nftables/libnftables.h>

#define POD_IP	"10.0.2.2"
#define GW_IP	"10.0.2.1"

struct buf {
	char *p;
	size_t len, used;
	int over;
};

static void
bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (b->over)
		return;
	va_start(ap, fmt);
	r = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= b->len - b->used)
		b->over = 1;
	else
		b->used += (size_t)r;
}

int
nft_pod_script(const struct nft_port *ports, size_t nports, char *out,
    size_t len)
{
	struct buf b = { out, len, 0, 0 };
	static const char *const base[][2] = {
		{ "prerouting", "type nat hook prerouting priority dstnat" },
		{ "input", "type nat hook input priority 100" },
		{ "output", "type nat hook output priority -100" },
		{ "postrouting", "type nat hook postrouting priority srcnat" },
	};

	bput(&b, "add table ip nat\n");
	for (size_t i = 0; i < 4; i++)
		bput(&b, "add chain ip nat %s { %s; policy accept; }\n",
		    base[i][0], base[i][1]);
	bput(&b, "add chain ip nat KUBEVIRT_PREINBOUND\n");
	bput(&b, "add chain ip nat KUBEVIRT_POSTINBOUND\n");
	bput(&b, "add rule ip nat postrouting ip saddr " POD_IP
	    " counter masquerade\n");
	bput(&b, "add rule ip nat prerouting iifname \"eth0\" counter jump "
	    "KUBEVIRT_PREINBOUND\n");
	bput(&b, "add rule ip nat postrouting oifname \"k6t-eth0\" counter "
	    "jump KUBEVIRT_POSTINBOUND\n");
	if (nports == 0) {
		bput(&b, "add rule ip nat KUBEVIRT_PREINBOUND counter dnat to "
		    POD_IP "\n");
		bput(&b, "add rule ip nat KUBEVIRT_POSTINBOUND ip saddr "
		    "127.0.0.1 counter snat to " GW_IP "\n");
		bput(&b, "add rule ip nat output ip daddr 127.0.0.1 counter "
		    "dnat to " POD_IP "\n");
	}
	for (size_t i = 0; i < nports; i++) {
		const char *pr;

		if (ports[i].proto == IPPROTO_TCP)
			pr = "tcp";
		else if (ports[i].proto == IPPROTO_UDP)
			pr = "udp";
		else
			return -EINVAL;
		if (ports[i].port == 0)
			return -EINVAL;
		bput(&b, "add rule ip nat KUBEVIRT_PREINBOUND %s dport %u "
		    "counter dnat to " POD_IP "\n", pr, ports[i].port);
		bput(&b, "add rule ip nat KUBEVIRT_POSTINBOUND %s dport %u "
		    "ip saddr 127.0.0.1 counter snat to " GW_IP "\n", pr,
		    ports[i].port);
		bput(&b, "add rule ip nat output ip daddr 127.0.0.1 %s dport "
		    "%u counter dnat to " POD_IP "\n", pr, ports[i].port);
	}
	return b.over ? -ENOSPC : 0;
}

/* Run script in one transaction. */
static int
nft_run(const char *script, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int r;

	if (ctx == NULL) {
		snprintf(err, errlen, "nftables: cannot make a context");
		return -ENOMEM;
	}
	nft_ctx_buffer_error(ctx);
	nft_ctx_buffer_output(ctx);
	r = nft_run_cmd_from_buffer(ctx, script);
	if (r != 0 && err != NULL) {
		const char *m = nft_ctx_get_error_buffer(ctx);
		size_t l;

		snprintf(err, errlen, "nftables: %s", m ? m : "failed");
		l = strlen(err);
		while (l > 0 && err[l - 1] == '\n')
			err[--l] = '\0';
	}
	nft_ctx_free(ctx);
	return r != 0 ? -EIO : 0;
}

static int
nft_pod_run(const char *pre, const struct nft_port *ports, size_t nports,
    char *err, size_t errlen)
{
	char script[16384];
	size_t l = strlen(pre);
	int r = l < sizeof(script) ? nft_pod_script(ports, nports, script + l,
	    sizeof(script) - l) : -ENOSPC;

	memcpy(script, pre, l);
	if (r < 0) {
		snprintf(err, errlen, "nftables: bad or too many ports");
		return r;
	}
	return nft_run(script, err, errlen);
}

int
nft_pod_apply(const struct nft_port *ports, size_t nports, char *err,
    size_t errlen)
{
	return nft_pod_run("", ports, nports, err, errlen);
}

int
nft_pod_replace(const struct nft_port *ports, size_t nports, char *err,
    size_t errlen)
{
	return nft_pod_run("delete table ip nat\n", ports, nports, err, errlen);
}

int
nft_node_apply(const char *cidr, const char *bridge, char *err, size_t errlen)
{
	char script[1024];
	int n;

	/* Names and the CIDR come from the agent's validated config (the
	 * bridge: [A-Za-z0-9_], podnet_open() checks it). */
	n = snprintf(script, sizeof(script),
	    "add table ip drover_nat_%s\n"
	    "flush table ip drover_nat_%s\n"
	    "add chain ip drover_nat_%s postrouting { type nat hook postrouting "
	    "priority srcnat; policy accept; }\n"
	    "add rule ip drover_nat_%s postrouting ip saddr %s oifname != \"%s\" "
	    "counter masquerade\n", bridge, bridge, bridge, bridge, cidr, bridge);
	if (n < 0 || (size_t)n >= sizeof(script))
		return -ENAMETOOLONG;
	return nft_run(script, err, errlen);
}

int
nft_node_remove(const char *bridge, char *err, size_t errlen)
{
	char script[128];

	if ((size_t)snprintf(script, sizeof(script),
	    "delete table ip drover_nat_%s\n", bridge) >= sizeof(script))
		return -ENAMETOOLONG;
	return nft_run(script, err, errlen);
}
