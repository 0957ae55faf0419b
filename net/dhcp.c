/*
 * dhcp.c: DHCPv4 request parser and reply builder (see dhcp.h).
 *
 * The BOOTP header (RFC 951/2131): op htype hlen hops (4), xid (4),
 * secs flags (4), ciaddr yiaddr siaddr giaddr (16), chaddr (16),
 * sname (64), file (128) = 236 bytes, then the magic cookie 99.130.83.99
 * and the options.
 */
#include "dhcp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define BOOTP_HDR 236
#define OFF_SNAME 44
#define OFF_FILE 108
#define OFF_OPTS (BOOTP_HDR + 4)
#define BOOTP_MIN 300

static const uint8_t magic[4] = { 99, 130, 83, 99 };

const char *dhcp_type_name(int type)
{
	static const char *const names[] = { "?", "DISCOVER", "OFFER",
		"REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM" };
	return type >= 1 && type <= 8 ? names[type] : "?";
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* One option of interest; -1 (with why) if its length is wrong. */
static int take_opt(struct dhcp_msg *m, uint8_t code, const uint8_t *v,
    uint8_t len, int *overload, const char **why)
{
	switch (code) {
	case 53:
		if (len != 1 || m->type) {
			*why = len != 1 ? "message type length" :
			    "message type twice";
			return -1;
		}
		m->type = v[0];
		return 0;
	case 50:
	case 54:
		if (len != 4) {
			*why = code == 50 ? "requested address length" :
			    "server id length";
			return -1;
		}
		if (code == 50) {
			m->has_reqip = 1;
			m->reqip = get32(v);
		} else {
			m->has_server_id = 1;
			m->server_id = get32(v);
		}
		return 0;
	case 52:
		if (len != 1 || v[0] < 1 || v[0] > 3) {
			*why = "bad option overload";
			return -1;
		}
		if (overload) {
			if (*overload) {
				*why = "option overload twice";
				return -1;
			}
			*overload = v[0];
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * Walk options in buf[0..len): pad 0, end 255, else code len value.
 * need_end: the area must hold an end option (the options field must).
 */
static int walk(struct dhcp_msg *m, const uint8_t *buf, size_t len,
    int *overload, int need_end, const char **why)
{
	size_t i = 0;

	while (i < len) {
		uint8_t code = buf[i];
		if (code == 0) {
			i++;
			continue;
		}
		if (code == 255)
			return 0;
		if (i + 2 > len) {
			*why = "option length past the field";
			return -1;
		}
		uint8_t olen = buf[i + 1];
		if (i + 2 + olen > len) {
			*why = "option value past the field";
			return -1;
		}
		if (take_opt(m, code, buf + i + 2, olen, overload, why) < 0)
			return -1;
		i += 2 + (size_t)olen;
	}
	if (need_end) {
		*why = "no end option";
		return -1;
	}
	return 0;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
	const char *why = NULL;
	int overload = 0;

	memset(m, 0, sizeof(*m));
	if (!buf || len < OFF_OPTS) {
		why = "shorter than the BOOTP header and cookie";
		goto bad;
	}
	m->op = buf[0];
	m->htype = buf[1];
	m->hlen = buf[2];
	if (m->op != 1) {
		why = "not a BOOTREQUEST";
		goto bad;
	}
	if (m->htype != 1 || m->hlen != 6) {
		why = "not an Ethernet client (htype/hlen)";
		goto bad;
	}
	if (memcmp(buf + BOOTP_HDR, magic, 4) != 0) {
		why = "no DHCP magic cookie";
		goto bad;
	}
	m->xid = get32(buf + 4);
	m->flags = (uint16_t)(buf[10] << 8 | buf[11]);
	m->ciaddr = get32(buf + 12);
	m->giaddr = get32(buf + 24);
	memcpy(m->chaddr, buf + 28, 16);
	if (walk(m, buf + OFF_OPTS, len - OFF_OPTS, &overload, 1, &why) < 0)
		goto bad;
	/* RFC 2131 4.1: file first, then sname; no overload inside them. */
	if ((overload & 1) &&
	    walk(m, buf + OFF_FILE, 128, NULL, 0, &why) < 0)
		goto bad;
	if ((overload & 2) &&
	    walk(m, buf + OFF_SNAME, 64, NULL, 0, &why) < 0)
		goto bad;
	if (m->type < DHCP_DISCOVER || m->type > DHCP_INFORM) {
		why = m->type ? "unknown message type" : "no message type";
		goto bad;
	}
	return 0;
bad:
	log_debug("dhcp: dropped a %zu-byte packet: %s", len, why);
	return -1;
}

int dhcp_decide(const struct dhcp_msg *req, const struct dhcp_lease *l)
{
	switch (req->type) {
	case DHCP_DISCOVER:
		return DHCP_OFFER;
	case DHCP_REQUEST:
		if (req->has_server_id && req->server_id != l->server)
			return 0;	/* the client chose another server */
		if (req->has_reqip)
			return req->reqip == l->yiaddr ? DHCP_ACK : DHCP_NAK;
		/* RENEWING/REBINDING: the address is in ciaddr. */
		return req->ciaddr == l->yiaddr ? DHCP_ACK : DHCP_NAK;
	default:
		return 0;
	}
}

/* A text domain name as RFC 1035 labels + root; its length or -1. */
static int encode_name(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0, n = strlen(name);

	if (n == 0 || n > DHCP_NAME_MAX)
		return -1;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t ll = dot ? (size_t)(dot - name) : strlen(name);
		if (ll == 0 || ll > 63 || o + 1 + ll >= cap)
			return -1;
		for (size_t i = 0; i < ll; i++) {
			unsigned char c = (unsigned char)name[i];
			if (c <= ' ' || c >= 0x7f)
				return -1;
		}
		out[o++] = (uint8_t)ll;
		memcpy(out + o, name, ll);
		o += ll;
		name += ll;
		if (*name == '.')
			name++;
	}
	out[o++] = 0;
	return (int)o;
}

struct obuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

/* Option code with value v[0..n), split into 255-byte pieces (RFC 3396). */
static void opt(struct obuf *b, uint8_t code, const void *v, size_t n)
{
	const uint8_t *s = v;

	do {
		size_t piece = n > 255 ? 255 : n;
		if (b->len + 2 + piece > b->cap) {
			b->err = 1;
			return;
		}
		b->p[b->len++] = code;
		b->p[b->len++] = (uint8_t)piece;
		memcpy(b->p + b->len, s, piece);
		b->len += piece;
		s += piece;
		n -= piece;
	} while (n > 0);
}

static void opt_name(struct obuf *b, uint8_t code, const char *name,
    const char *what)
{
	size_t n = strlen(name);
	int ok = n > 0 && n <= DHCP_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)name[i] > ' ' &&
		    (unsigned char)name[i] < 0x7f;
	if (!ok) {
		log_warnx("dhcp: %s '%.64s' is not a valid name; left out",
		    what, name);
		return;
	}
	opt(b, code, name, n);
}

static void opt_search(struct obuf *b, const struct dhcp_lease *l)
{
	uint8_t enc[DHCP_MAX_SEARCH * (DHCP_NAME_MAX + 2)];
	size_t n = 0;

	for (int i = 0; i < l->nsearch && i < DHCP_MAX_SEARCH; i++) {
		int r = encode_name(l->search[i], enc + n, sizeof(enc) - n);
		if (r < 0) {
			log_warnx("dhcp: search domain '%.64s' is not a "
			    "valid name; left out", l->search[i]);
			continue;
		}
		n += (size_t)r;
	}
	if (n)
		opt(b, 119, enc, n);
}

static void lease_opts(struct obuf *b, const struct dhcp_lease *l)
{
	uint8_t v[4 * DHCP_MAX_DNS];
	uint32_t secs = htonl(l->lease_secs);

	opt(b, 51, &secs, 4);
	opt(b, 1, &l->mask, 4);
	if (l->router)
		opt(b, 3, &l->router, 4);
	int ndns = l->ndns < 0 ? 0 :
	    l->ndns > DHCP_MAX_DNS ? DHCP_MAX_DNS : l->ndns;
	for (int i = 0; i < ndns; i++)
		put32(v + 4 * i, l->dns[i]);
	if (ndns)
		opt(b, 6, v, 4 * (size_t)ndns);
	if (l->domain[0])
		opt_name(b, 15, l->domain, "domain name");
	if (l->hostname[0])
		opt_name(b, 12, l->hostname, "hostname");
	if (l->mtu) {
		uint16_t mtu = htons(l->mtu);
		opt(b, 26, &mtu, 2);
	}
	opt_search(b, l);
}

ssize_t dhcp_build(const struct dhcp_msg *req, int type,
    const struct dhcp_lease *l, uint8_t *out, size_t cap)
{
	struct obuf b = { out, OFF_OPTS, cap, 0 };
	uint8_t t = (uint8_t)type;

	if (cap < BOOTP_MIN || (type != DHCP_OFFER && type != DHCP_ACK &&
	    type != DHCP_NAK))
		return -1;
	memset(out, 0, BOOTP_MIN);
	out[0] = 2;		/* BOOTREPLY */
	out[1] = 1;
	out[2] = 6;
	put32(out + 4, req->xid);
	out[10] = (uint8_t)(req->flags >> 8);	/* keep the broadcast bit */
	out[11] = (uint8_t)req->flags;
	if (type != DHCP_NAK)
		put32(out + 16, l->yiaddr);
	put32(out + 24, req->giaddr);
	memcpy(out + 28, req->chaddr, 16);
	memcpy(out + BOOTP_HDR, magic, 4);
	opt(&b, 53, &t, 1);
	opt(&b, 54, &l->server, 4);
	if (type != DHCP_NAK)
		lease_opts(&b, l);
	if (b.err || b.len + 1 > cap)
		return -1;
	out[b.len++] = 255;
	if (b.len < BOOTP_MIN) {
		memset(out + b.len, 0, BOOTP_MIN - b.len);
		b.len = BOOTP_MIN;
	}
	return (ssize_t)b.len;
}

void dhcp_hostname_from_name(const char *name, char out[DHCP_HOSTNAME_MAX + 1])
{
	size_t n = strcspn(name, ".");

	if (n > DHCP_HOSTNAME_MAX)
		n = DHCP_HOSTNAME_MAX;
	memcpy(out, name, n);
	out[n] = '\0';
}
