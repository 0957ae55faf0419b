/*
 * ctl_console.c: `droverctl console NAME [-n NS] [--kubeconfig FILE]`,
 * virtctl's console through droverd's mTLS API (issue 6).
 *
 * The kubeconfig ($KUBECONFIG's first existing file, else
 * ~/.kube/config; --kubeconfig overrides) gives the server URL, the CA
 * and the client certificate and key (inline *-data or file names). The
 * connection is mbedTLS (TLS 1.2/1.3, the server verified against the CA
 * and the URL's host, ALPN http/1.1) with a small WebSocket client written
 * here (RFC 6455: masked frames from the client, binary frames, pings
 * answered, close frames): libwebsockets' client wants its own event loop
 * and TLS set-up, which is more code than the protocol itself.
 *
 * virtctl's behaviour: banner "Successfully connected to NAME console.
 * Press Ctrl+] or Ctrl+5 to exit console.", the terminal raw while
 * connected (restored on exit and on SIGINT/SIGTERM/SIGHUP), byte 29
 * (Ctrl+], also sent by Ctrl+5) ends the session with exit status 0. A
 * refusal prints the server's Status as kubectl does and exits 1; the
 * server ending the session (a newer session took over, the VMI stopped)
 * exits 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "certs.h"
#include "ctl.h"
#include "ctl_kubeconfig.h"
#include "tls_fd.h"
#include "yamljson.h"

#define CON_ESCAPE		29		/* Ctrl+] (and Ctrl+5) */
#define CON_PROTOCOL		"plain.kubevirt.io"
#define CON_MAX_FRAME		(1u << 20)
#define CON_IO_TIMEOUT_MS	30000
#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct con {
	int fd;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	unsigned char *rbuf;		/* received, not yet parsed */
	size_t rlen, rcap;
};

/* https://HOST[:PORT][/PREFIX] ([v6] in brackets). */
static int
con_parse_url(const char *url, char *host, size_t hlen, char *port,
    size_t plen, char *prefix, size_t prelen)
{
	const char *p, *end, *colon;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	end = p + strcspn(p, "/");
	snprintf(prefix, prelen, "%s", *end ? end : "");
	/* no trailing slash: paths are appended */
	if (prefix[0] && prefix[strlen(prefix) - 1] == '/')
		prefix[strlen(prefix) - 1] = '\0';
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(rb - p - 1), p + 1);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		snprintf(host, hlen, "%.*s", (int)((colon ? colon : end) - p),
		    p);
	}
	if (colon)
		snprintf(port, plen, "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(port, plen, "443");
	return host[0] && port[0] ? 0 : -1;
}

/* ---- TLS ------------------------------------------------------------- */

static void
con_tls_error(const char *what, int rc)
{
	char buf[160];

	mbedtls_strerror(rc, buf, sizeof(buf));
	fprintf(stderr, "error: %s: %s\n", what, buf);
}

/* Wait for the socket after WANT_READ/WANT_WRITE; -1 on a timeout. */
static int
con_wait(struct con *c, int rc)
{
	struct pollfd p = { .fd = c->fd, .events =
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : POLLIN };
	int n;

	do
		n = poll(&p, 1, CON_IO_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : -1;
}

static int
con_tcp(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "error: %s:%s: %s\n", host, port,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	if (fd < 0)
		fprintf(stderr, "error: cannot connect to %s:%s: %s\n", host,
		    port, strerror(errno));
	freeaddrinfo(res);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int
con_tls_setup(struct con *c, const struct ctl_kubeconfig *kc,
    const char *host)
{
	static const char *alpn[] = { "http/1.1", NULL };
	static const char pers[] = "droverctl-console";
	int rc;

	if (psa_crypto_init() != PSA_SUCCESS) {
		fprintf(stderr, "error: PSA crypto init failed\n");
		return -1;
	}
	rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->ent,
	    (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc)
		goto tls;
	if (!kc->insecure && (rc = mbedtls_x509_crt_parse(&c->ca,
	    (const unsigned char *)kc->ca, kc->ca_len + 1))) {
		con_tls_error("the kubeconfig's certificate-authority", rc);
		return -1;
	}
	if ((rc = mbedtls_x509_crt_parse(&c->crt,
	    (const unsigned char *)kc->crt, kc->crt_len + 1))) {
		con_tls_error("the kubeconfig's client-certificate", rc);
		return -1;
	}
	if ((rc = mbedtls_pk_parse_key(&c->key, (const unsigned char *)kc->key,
	    kc->key_len + 1, NULL, 0, mbedtls_ctr_drbg_random, &c->drbg))) {
		con_tls_error("the kubeconfig's client-key", rc);
		return -1;
	}
	rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc)
		goto tls;
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_authmode(&c->conf, kc->insecure ?
	    MBEDTLS_SSL_VERIFY_NONE : MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	if ((rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->crt, &c->key)) ||
	    (rc = mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn)) ||
	    (rc = mbedtls_ssl_setup(&c->ssl, &c->conf)) ||
	    (rc = mbedtls_ssl_set_hostname(&c->ssl, host)))
		goto tls;
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, tls_fd_send, tls_fd_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if ((rc != MBEDTLS_ERR_SSL_WANT_READ &&
		    rc != MBEDTLS_ERR_SSL_WANT_WRITE) || con_wait(c, rc) < 0) {
			uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);

			if (flags && flags != (uint32_t)-1) {
				char why[512];

				mbedtls_x509_crt_verify_info(why, sizeof(why),
				    "", flags);
				why[strcspn(why, "\n")] = '\0';
				fprintf(stderr, "error: the server's "
				    "certificate for %s: %s\n", host, why);
				return -1;
			}
			if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
			    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				fprintf(stderr, "error: TLS handshake with %s:"
				    " timed out\n", host);
			else
				con_tls_error("TLS handshake", rc);
			return -1;
		}
	}
	return 0;
tls:
	con_tls_error("TLS set-up", rc);
	return -1;
}

static int
con_write_all(struct con *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		int rc = mbedtls_ssl_write(&c->ssl, p, len);

		if (rc > 0) {
			p += rc;
			len -= (size_t)rc;
			continue;
		}
		if ((rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE) && con_wait(c, rc) == 0)
			continue;
		con_tls_error("sending", rc);
		return -1;
	}
	return 0;
}

/* Read what TLS has into rbuf: >0 bytes, 0 nothing now, -1 closed or
 * error (-2: closed cleanly). */
static int
con_read_some(struct con *c)
{
	int rc;

	if (c->rcap - c->rlen < 16384) {
		size_t cap = c->rcap ? c->rcap * 2 : 65536;
		unsigned char *p;

		if (cap > CON_MAX_FRAME + 65536) {
			fprintf(stderr, "error: the server sent a frame over "
			    "%u bytes\n", CON_MAX_FRAME);
			return -1;
		}
		if (!(p = realloc(c->rbuf, cap)))
			return -1;
		c->rbuf = p;
		c->rcap = cap;
	}
	for (;;) {
		rc = mbedtls_ssl_read(&c->ssl, c->rbuf + c->rlen,
		    c->rcap - c->rlen);
		if (rc > 0) {
			c->rlen += (size_t)rc;
			return rc;
		}
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    rc == MBEDTLS_ERR_NET_CONN_RESET)
			return -2;
		con_tls_error("receiving", rc);
		return -1;
	}
}

/* ---- the WebSocket handshake ----------------------------------------- */

static void
con_print_refusal(const char *head, const char *body)
{
	json_t *st = json_loads(body, 0, NULL);
	const char *reason = json_string_value(json_object_get(st, "reason"));
	const char *msg = json_string_value(json_object_get(st, "message"));

	if (msg)
		fprintf(stderr, "Error from server (%s): %s\n",
		    reason ? reason : "Unknown", msg);
	else
		fprintf(stderr, "error: the server answered: %.*s\n",
		    (int)strcspn(head, "\r\n"), head);
	json_decref(st);
}

/* The header's value (case-insensitive name), copied into out. */
static int
con_header(const char *head, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
			return 0;
		}
	}
	return -1;
}

/* Read until the end of the headers (or of the body when not 101). */
static int
con_read_response(struct con *c, char **head_end)
{
	for (;;) {
		unsigned char *e = c->rlen ? memmem(c->rbuf, c->rlen,
		    "\r\n\r\n", 4) : NULL;
		int rc;

		if (e) {
			*head_end = (char *)e + 4;
			return 0;
		}
		rc = con_read_some(c);
		if (rc < 0) {
			fprintf(stderr, "error: the server closed the "
			    "connection before answering\n");
			return -1;
		}
		if (rc == 0 && con_wait(c, MBEDTLS_ERR_SSL_WANT_READ) < 0) {
			fprintf(stderr, "error: no answer from the server\n");
			return -1;
		}
	}
}

/* Decode a chunked body in place; its length, or -1 while incomplete. */
static long
con_dechunk(char *b, size_t len)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *end;
		unsigned long n;
		char *crlf = memmem(b + in, len - in, "\r\n", 2);

		if (!crlf)
			return -1;
		n = strtoul(b + in, &end, 16);
		in = (size_t)(crlf - b) + 2;
		if (n == 0)
			return (long)out;
		if (n > len - in || len - in - n < 2)
			return -1;
		memmove(b + out, b + in, n);
		out += n;
		in += n + 2;
	}
}

/* The refusal's body (Content-Length or chunked), printed. */
static int
con_refused(struct con *c, size_t hlen)
{
	char cl[32] = "", te[32] = "", *head, *text = NULL;
	size_t want = 65536;
	int chunked;

	head = strndup((char *)c->rbuf, hlen);
	if (!head)
		return 1;
	if (con_header(head, "Content-Length", cl, sizeof(cl)) == 0)
		want = strtoul(cl, NULL, 10);
	chunked = con_header(head, "Transfer-Encoding", te, sizeof(te)) == 0 &&
	    strcasecmp(te, "chunked") == 0;
	if (want > 65536)
		want = 65536;
	for (;;) {
		int rc;

		if (chunked && c->rlen > hlen && memmem(c->rbuf + hlen,
		    c->rlen - hlen, "0\r\n\r\n", 5))
			break;
		if (!chunked && c->rlen - hlen >= want)
			break;
		rc = con_read_some(c);
		if (rc < 0 || (rc == 0 && con_wait(c,
		    MBEDTLS_ERR_SSL_WANT_READ) < 0))
			break;
	}
	text = strndup((char *)c->rbuf + hlen, c->rlen - hlen);
	if (text && chunked) {
		long n = con_dechunk(text, strlen(text));

		text[n < 0 ? 0 : n] = '\0';
	}
	if (text)
		con_print_refusal(head, text);
	free(text);
	free(head);
	return 1;
}

/* 0: a WebSocket; 1: refused (printed); -1: an error (printed). */
static int
con_ws_handshake(struct con *c, const char *host, const char *port,
    const char *path)
{
	unsigned char nonce[16], sha[20];
	char key[32], want[64], got[128], req[4096], *end, *text;
	size_t klen = 0, wlen = 0, hlen;
	int n;

	mbedtls_ctr_drbg_random(&c->drbg, nonce, sizeof(nonce));
	mbedtls_base64_encode((unsigned char *)key, sizeof(key), &klen, nonce,
	    sizeof(nonce));
	key[klen] = '\0';
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n"
	    "Host: %s%s%s:%s\r\n"
	    "User-Agent: droverctl\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: " CON_PROTOCOL "\r\n\r\n", path,
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port, key);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "error: the request is too long\n");
		return -1;
	}
	if (con_write_all(c, req, (size_t)n) < 0 ||
	    con_read_response(c, &end) < 0)
		return -1;
	hlen = (size_t)((unsigned char *)end - c->rbuf);
	text = strndup((char *)c->rbuf, hlen);
	if (!text)
		return -1;
	if (strncmp(text, "HTTP/1.1 101", 12) != 0) {
		free(text);
		return con_refused(c, hlen);
	}
	/* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
	snprintf(req, sizeof(req), "%s" WS_GUID, key);
	mbedtls_sha1((const unsigned char *)req, strlen(req), sha);
	mbedtls_base64_encode((unsigned char *)want, sizeof(want), &wlen, sha,
	    sizeof(sha));
	want[wlen] = '\0';
	if (con_header(text, "Sec-WebSocket-Accept", got, sizeof(got)) < 0 ||
	    strcmp(got, want) != 0) {
		fprintf(stderr, "error: the server's WebSocket answer is not "
		    "valid (Sec-WebSocket-Accept)\n");
		free(text);
		return -1;
	}
	if (con_header(text, "Sec-WebSocket-Protocol", got, sizeof(got)) < 0 ||
	    strcmp(got, CON_PROTOCOL) != 0) {
		fprintf(stderr, "error: the server did not accept the "
		    CON_PROTOCOL " subprotocol\n");
		free(text);
		return -1;
	}
	free(text);
	memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
	c->rlen -= hlen;
	return 0;
}

/* ---- frames ---------------------------------------------------------- */

/* One masked frame (clients must mask). */
static int
con_ws_send(struct con *c, int opcode, const void *data, size_t len)
{
	unsigned char hdr[14], mask[4], *buf;
	size_t h = 0;
	int rc;

	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		hdr[h++] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	mbedtls_ctr_drbg_random(&c->drbg, mask, sizeof(mask));
	memcpy(hdr + h, mask, 4);
	h += 4;
	if (!(buf = malloc(h + len)))
		return -1;
	memcpy(buf, hdr, h);
	for (size_t i = 0; i < len; i++)
		buf[h + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
	rc = con_write_all(c, buf, h + len);
	free(buf);
	return rc;
}

static int
con_write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Handle the complete frames in rbuf: data to stdout, pings answered.
 * 0 to go on, 1 when the server closed the session, -1 on an error.
 */
static int
con_ws_frames(struct con *c)
{
	while (c->rlen >= 2) {
		unsigned char *p = c->rbuf;
		int op = p[0] & 0x0f, masked = p[1] & 0x80;
		uint64_t len = p[1] & 0x7f;
		size_t h = 2;

		if (len == 126) {
			if (c->rlen < 4)
				return 0;
			len = (uint64_t)p[2] << 8 | p[3];
			h = 4;
		} else if (len == 127) {
			if (c->rlen < 10)
				return 0;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			h = 10;
		}
		if (masked)
			h += 4;
		if (len > CON_MAX_FRAME) {
			fprintf(stderr, "\r\nerror: the server sent a frame of "
			    "%llu bytes\r\n", (unsigned long long)len);
			return -1;
		}
		if (c->rlen < h + len)
			return 0;
		if (masked)
			for (uint64_t i = 0; i < len; i++)
				p[h + i] ^= p[h - 4 + i % 4];
		switch (op) {
		case 0: case 1: case 2:		/* data */
			if (con_write_fd(STDOUT_FILENO, p + h, len) < 0)
				return -1;
			break;
		case 8:				/* close: answer, end */
			con_ws_send(c, 8, p + h, len >= 2 ? 2 : 0);
			if (len > 2)
				fprintf(stderr, "\r\n%.*s", (int)(len - 2),
				    (char *)p + h + 2);
			return 1;
		case 9:				/* ping */
			if (con_ws_send(c, 10, p + h, len) < 0)
				return -1;
			break;
		default:			/* pong, others */
			break;
		}
		memmove(c->rbuf, c->rbuf + h + len, c->rlen - h - len);
		c->rlen -= h + len;
	}
	return 0;
}

/* ---- the terminal ---------------------------------------------------- */

static struct termios con_saved;
static volatile sig_atomic_t con_raw;

static void
con_restore(void)
{
	if (con_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &con_saved);
		con_raw = 0;
	}
}

static void
con_on_signal(int sig)
{
	con_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
con_make_raw(void)
{
	struct termios t;
	struct sigaction sa = { .sa_handler = con_on_signal };

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &con_saved) < 0)
		return;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	t = con_saved;
	cfmakeraw(&t);
	/* TCSANOW: what was typed already is kept. */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		con_raw = 1;
		atexit(con_restore);
	}
}

/* ---- the session ----------------------------------------------------- */

/* 0: the user pressed Ctrl+]; 1: the server ended it or an error. */
static int
con_session(struct con *c)
{
	int in_open = 1;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		int rc = 0, reads = 0;

		/* TLS may hold decrypted bytes the socket no longer shows. */
		if (poll(p, 2, mbedtls_ssl_get_bytes_avail(&c->ssl) ? 0 : -1)
		    < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			unsigned char buf[4096], *esc;
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n <= 0 && !(n < 0 && errno == EINTR)) {
				in_open = 0;	/* keep showing output */
			} else if (n > 0) {
				esc = memchr(buf, CON_ESCAPE, (size_t)n);
				if (esc && esc > buf)
					con_ws_send(c, 2, buf,
					    (size_t)(esc - buf));
				if (esc) {
					con_ws_send(c, 8, "\x03\xe8", 2);
					mbedtls_ssl_close_notify(&c->ssl);
					return 0;
				}
				if (con_ws_send(c, 2, buf, (size_t)n) < 0)
					return 1;
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    mbedtls_ssl_get_bytes_avail(&c->ssl) == 0)
			continue;
		/* A bounded batch: a flood of output must not starve the
		 * keyboard (Ctrl+]). */
		while (reads++ < 16 && (rc = con_read_some(c)) > 0) {
			int f = con_ws_frames(c);

			if (f)
				return 1;
		}
		if (reads > 16)
			continue;
		if (rc < 0)
			return 1;
	}
}

static void
con_free(struct con *c)
{
	if (c->fd >= 0)
		close(c->fd);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->crt);
	mbedtls_pk_free(&c->key);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->ent);
	free(c->rbuf);
}

static int
con_usage(void)
{
	fputs("usage: droverctl console NAME [-n NS] [--kubeconfig FILE]\n"
	    "  the VMI's serial console through the API server named by the "
	    "kubeconfig\n  ($KUBECONFIG or ~/.kube/config); Ctrl+] exits.\n",
	    stderr);
	return 2;
}

static int
con_args(int argc, char **argv, const char **name, const char **ns,
    const char **kcpath)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0 ||
		    strcmp(a, "--kubeconfig") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "error: flag needs an "
				    "argument: %s\n", a);
				return -1;
			}
			*(a[1] == 'k' || a[2] == 'k' ? kcpath : ns) =
			    argv[++i];
		} else if (strncmp(a, "--namespace=", 12) == 0) {
			*ns = a + 12;
		} else if (strncmp(a, "-n=", 3) == 0) {
			*ns = a + 3;
		} else if (strncmp(a, "--kubeconfig=", 13) == 0) {
			*kcpath = a + 13;
		} else if (a[0] == '-' || *name) {
			fprintf(stderr, "error: unexpected argument: %s\n", a);
			return -1;
		} else {
			*name = a;
		}
	}
	return *name ? 0 : -1;
}

/* Names in a path: as the API server accepts them (no '/', '?', '%'). */
static int
con_check_name(const char *what, const char *v)
{
	if (!*v || strlen(v) > 253 || strpbrk(v, "/?#% \t\r\n")) {
		fprintf(stderr, "error: bad %s '%s'\n", what, v);
		return -1;
	}
	return 0;
}

int
ctl_console_main(int argc, char **argv, const char *socket)
{
	const char *name = NULL, *ns = NULL, *kcflag = NULL, *kcpath;
	char kcbuf[4096], host[256], port[16], prefix[1024], path[2048];
	struct ctl_kubeconfig kc;
	struct con c;
	int rc = 1;

	(void)socket;
	if (con_args(argc, argv, &name, &ns, &kcflag) < 0)
		return con_usage();
	kcpath = ctl_kc_path(kcflag, kcbuf, sizeof(kcbuf));
	if (ctl_kc_load(kcpath, &kc) < 0)
		return 1;
	if (!ns)
		ns = kc.ns ? kc.ns : "default";
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	mbedtls_entropy_init(&c.ent);
	mbedtls_ctr_drbg_init(&c.drbg);
	mbedtls_ssl_config_init(&c.conf);
	mbedtls_ssl_init(&c.ssl);
	mbedtls_x509_crt_init(&c.ca);
	mbedtls_x509_crt_init(&c.crt);
	mbedtls_pk_init(&c.key);
	if (con_check_name("name", name) < 0 ||
	    con_check_name("namespace", ns) < 0)
		goto out;
	if (con_parse_url(kc.server, host, sizeof(host), port, sizeof(port),
	    prefix, sizeof(prefix)) < 0) {
		fprintf(stderr, "error: %s: the server must be an https:// "
		    "URL, not '%s'\n", kcpath, kc.server);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/apis/subresources.kubevirt.io/v1/"
	    "namespaces/%s/virtualmachineinstances/%s/console", prefix, ns,
	    name);
	signal(SIGPIPE, SIG_IGN);
	if ((c.fd = con_tcp(host, port)) < 0 ||
	    con_tls_setup(&c, &kc, host) < 0)
		goto out;
	rc = con_ws_handshake(&c, host, port, path);
	if (rc != 0) {
		rc = 1;
		goto out;
	}
	fprintf(stderr, "Successfully connected to %s console. Press Ctrl+] "
	    "or Ctrl+5 to exit console.\n", name);
	con_make_raw();
	/* Frames that came with the handshake's answer. */
	rc = con_ws_frames(&c) ? 1 : con_session(&c);
	con_restore();
	if (rc)
		fprintf(stderr, "\nThe console connection was closed by the "
		    "server (a newer session took over, or the VMI "
		    "stopped).\n");
	else
		fprintf(stderr, "\n");
out:
	con_free(&c);
	ctl_kc_free(&kc);
	return rc;
}
