/*
 * nodeexec: the test exec service of the emulated edge node, server and
 * client in one static binary.
 *
 *   nodeexec serve PORT                               (inside the node)
 *   nodeexec run HOST:PORT [--timeout S] [--stdin] -- CMD...
 *   nodeexec put HOST:PORT LOCAL REMOTE
 *   nodeexec get HOST:PORT REMOTE LOCAL
 *   nodeexec wait HOST:PORT TIMEOUT
 *
 * Protocol (TCP): every message is a frame: 1 byte type, 4 bytes
 * big-endian payload length (at most NX_MAX_FRAME), payload. A session
 * starts with HELLO ('H', payload "nodeexec1") answered by OK ('K'); QEMU's
 * user-mode hostfwd accepts connections before the guest listens and then
 * drops them, so the client only trusts a connection once OK arrived, and
 * retries the whole connect + HELLO until its connect deadline.
 *
 *   run:  C->S 'R' {u32 timeout_s, CMD bytes}; C->S 'I' stdin chunks, 'i'
 *         end of stdin; S->C 'O' stdout chunk, 'E' stderr chunk, then 'X'
 *         {i32 status (exit code, or 128+signal), u8 timed_out}.
 *   put:  C->S 'P' {u32 mode, PATH}; 'D' data chunks; 'Z' end.
 *         S->C 'K' (written: to PATH.tmp, then renamed) or 'F' {message}.
 *   get:  C->S 'G' {PATH}; S->C 'M' {u32 mode}, 'D' chunks, 'Z' end,
 *         or 'F' {message} instead of any of them.
 * Errors are reported as 'F' frames with a message, and the peer's lengths
 * are never trusted beyond NX_MAX_FRAME.
 *
 * Exit status of the client: run → the command's status (124 on timeout);
 * 255 on protocol or connection errors; put/get/wait → 0 or 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NX_MAX_FRAME (1u << 20)
#define NX_CHUNK (64u * 1024u)
#define NX_MAX_PENDING (8u << 20) /* stdin buffered for a command, at most */
#define NX_HELLO "nodeexec1"
#define NX_EXIT_PROTO 255

struct frame {
	uint8_t type;
	uint32_t len;
	uint8_t *data; /* NX_MAX_FRAME bytes, owned by the caller */
};

static const char *prog = "nodeexec";

static void
errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- byte I/O --------------------------------------------------------- */

/* Reads exactly n bytes; 0 on success, -1 on error or early EOF. */
static int
read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
set_rcv_timeout(int fd, double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- frames ------------------------------------------------------------ */

static int
send_frame2(int fd, uint8_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t hdr[5];

	if (alen + blen > NX_MAX_FRAME)
		return -1;
	hdr[0] = type;
	put_u32(hdr + 1, (uint32_t)(alen + blen));
	if (write_full(fd, hdr, sizeof(hdr)) < 0)
		return -1;
	if (alen && write_full(fd, a, alen) < 0)
		return -1;
	if (blen && write_full(fd, b, blen) < 0)
		return -1;
	return 0;
}

static int
send_frame(int fd, uint8_t type, const void *data, size_t len)
{
	return send_frame2(fd, type, data, len, NULL, 0);
}

static int
send_fail(int fd, const char *what, int err)
{
	char msg[512];
	int n;

	n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	return send_frame(fd, 'F', msg, (size_t)n);
}

/* Receives one frame into f (f->data holds NX_MAX_FRAME bytes + 1, and is
 * NUL-terminated after the payload). -1 on EOF, error or oversize. */
static int
recv_frame(int fd, struct frame *f)
{
	uint8_t hdr[5];

	if (read_full(fd, hdr, sizeof(hdr)) < 0)
		return -1;
	f->type = hdr[0];
	f->len = get_u32(hdr + 1);
	if (f->len > NX_MAX_FRAME) {
		errmsg("peer sent an oversized frame (%u bytes)", f->len);
		return -1;
	}
	if (read_full(fd, f->data, f->len) < 0)
		return -1;
	f->data[f->len] = 0;
	return 0;
}

static uint8_t *
frame_buf(void)
{
	uint8_t *p = malloc(NX_MAX_FRAME + 1);

	if (!p)
		errmsg("out of memory");
	return p;
}

/* ---- server: run ------------------------------------------------------- */

struct runstate {
	int sock;
	int in_fd, out_fd, err_fd; /* our ends of the pipes, -1 when closed */
	pid_t pid;
	int status;
	int reaped;
	int timed_out;
	uint8_t *pending; /* stdin bytes not yet written */
	size_t pending_len, pending_off;
	int stdin_eof;
};

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static pid_t
spawn_shell(const char *cmd, int *in_fd, int *out_fd, int *err_fd)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	pid_t pid = -1;

	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0)
		goto cleanup;
	pid = fork();
	if (pid < 0)
		goto cleanup;
	if (pid == 0) {
		setsid();
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	*in_fd = pin[1];
	*out_fd = pout[0];
	*err_fd = perr[0];
	pin[1] = pout[0] = perr[0] = -1;
cleanup:
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	close_fd(&perr[0]);
	close_fd(&perr[1]);
	return pid;
}

/* Forwards what one output pipe has; closes it at EOF. -1 if the client is gone. */
static int
pump_output(struct runstate *rs, int *fd, uint8_t type, uint8_t *buf)
{
	ssize_t r = read(*fd, buf, NX_CHUNK);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0) {
		close_fd(fd);
		return 0;
	}
	return send_frame(rs->sock, type, buf, (size_t)r);
}

/* Handles a frame from the client during a run (stdin data or its end). */
static int
pump_client(struct runstate *rs, struct frame *f)
{
	uint8_t *p;

	if (recv_frame(rs->sock, f) < 0)
		return -1;
	if (f->type == 'i') {
		rs->stdin_eof = 1;
		return 0;
	}
	if (f->type != 'I')
		return -1;
	if (rs->in_fd < 0 || f->len == 0)
		return 0; /* the command closed its stdin: drop */
	p = realloc(rs->pending, rs->pending_len + f->len);
	if (!p)
		return -1;
	rs->pending = p;
	memcpy(rs->pending + rs->pending_len, f->data, f->len);
	rs->pending_len += f->len;
	return 0;
}

static void
pump_stdin(struct runstate *rs)
{
	ssize_t r;

	r = write(rs->in_fd, rs->pending + rs->pending_off, rs->pending_len - rs->pending_off);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r < 0) {
		close_fd(&rs->in_fd); /* EPIPE: the command does not read stdin */
		return;
	}
	rs->pending_off += (size_t)r;
	if (rs->pending_off == rs->pending_len)
		rs->pending_off = rs->pending_len = 0;
}

static void
try_reap(struct runstate *rs)
{
	if (!rs->reaped && waitpid(rs->pid, &rs->status, WNOHANG) == rs->pid)
		rs->reaped = 1;
}

/* The poll loop of a run. The command's pipes are drained until EOF; when
 * the command exited but a background child still holds them, 300 ms of
 * silence ends the run. */
static int
run_loop(struct runstate *rs, double deadline, struct frame *f, uint8_t *buf)
{
	double quiet_since = 0;

	for (;;) {
		struct pollfd p[4];
		int n = 0, io = -1, ie = -1, ic = -1, ii = -1, rc;

		try_reap(rs);
		if (rs->stdin_eof && rs->pending_len == 0)
			close_fd(&rs->in_fd);
		if (rs->out_fd < 0 && rs->err_fd < 0 && rs->reaped)
			return 0;
		if (!rs->timed_out && deadline > 0 && now_s() > deadline) {
			rs->timed_out = 1;
			kill(-rs->pid, SIGKILL);
			kill(rs->pid, SIGKILL);
		}
		if (rs->out_fd >= 0)
			p[io = n++] = (struct pollfd){ .fd = rs->out_fd, .events = POLLIN };
		if (rs->err_fd >= 0)
			p[ie = n++] = (struct pollfd){ .fd = rs->err_fd, .events = POLLIN };
		/* Stdin beyond NX_MAX_PENDING waits in the socket (backpressure). */
		if (!rs->stdin_eof && rs->pending_len < NX_MAX_PENDING)
			p[ic = n++] = (struct pollfd){ .fd = rs->sock, .events = POLLIN };
		if (rs->in_fd >= 0 && rs->pending_len > 0)
			p[ii = n++] = (struct pollfd){ .fd = rs->in_fd, .events = POLLOUT };
		rc = poll(p, (nfds_t)n, 100);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc <= 0) {
			if (rs->reaped && quiet_since == 0)
				quiet_since = now_s();
			if (rs->reaped && now_s() - quiet_since > 0.3)
				return 0;
			continue;
		}
		quiet_since = 0;
		if (io >= 0 && (p[io].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    pump_output(rs, &rs->out_fd, 'O', buf) < 0)
			return -1;
		if (ie >= 0 && (p[ie].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    pump_output(rs, &rs->err_fd, 'E', buf) < 0)
			return -1;
		if (ic >= 0 && (p[ic].revents & (POLLIN | POLLHUP | POLLERR)) && pump_client(rs, f) < 0)
			return -1;
		if (ii >= 0 && (p[ii].revents & (POLLOUT | POLLERR | POLLHUP)))
			pump_stdin(rs);
	}
}

static int
serve_run(int sock, struct frame *f)
{
	struct runstate rs = { .sock = sock, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	uint8_t *buf = NULL, st[5];
	uint32_t timeout;
	int32_t code;
	int ret = -1;

	if (f->len < 5)
		return send_frame(sock, 'F', "run: empty command", 18);
	timeout = get_u32(f->data);
	buf = malloc(NX_CHUNK);
	if (!buf)
		goto cleanup;
	rs.pid = spawn_shell((const char *)f->data + 4, &rs.in_fd, &rs.out_fd, &rs.err_fd);
	if (rs.pid < 0) {
		ret = send_fail(sock, "run: fork", errno);
		goto cleanup;
	}
	fcntl(rs.in_fd, F_SETFL, O_NONBLOCK);
	if (run_loop(&rs, timeout ? now_s() + timeout : 0, f, buf) < 0) {
		kill(-rs.pid, SIGKILL);
		goto cleanup;
	}
	if (!rs.reaped && waitpid(rs.pid, &rs.status, 0) == rs.pid)
		rs.reaped = 1;
	code = WIFEXITED(rs.status) ? WEXITSTATUS(rs.status) : 128 + WTERMSIG(rs.status);
	put_u32(st, (uint32_t)code);
	st[4] = (uint8_t)rs.timed_out;
	ret = send_frame(sock, 'X', st, sizeof(st));
cleanup:
	if (rs.pid > 0 && !rs.reaped) {
		kill(-rs.pid, SIGKILL);
		waitpid(rs.pid, NULL, 0);
	}
	close_fd(&rs.in_fd);
	close_fd(&rs.out_fd);
	close_fd(&rs.err_fd);
	free(rs.pending);
	free(buf);
	return ret;
}

/* ---- server: put / get --------------------------------------------------- */

/* mkdir -p of the directory part of path. */
static void
make_parents(const char *path)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(tmp))
		return;
	memcpy(tmp, path, n + 1);
	for (i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = 0;
		mkdir(tmp, 0755);
		tmp[i] = '/';
	}
}

static int
serve_put(int sock, struct frame *f)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	uint32_t mode;
	int fd = -1, err = 0, ret = -1;

	if (f->len < 5 || f->len - 4 >= sizeof(path) || memchr(f->data + 4, 0, f->len - 4))
		return send_frame(sock, 'F', "put: bad path", 13);
	mode = get_u32(f->data) & 07777;
	memcpy(path, f->data + 4, f->len - 4 + 1);
	snprintf(tmp, sizeof(tmp), "%s.nodeexec-%ld", path, (long)getpid());
	make_parents(path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		err = errno;
	for (;;) {
		if (recv_frame(sock, f) < 0)
			goto cleanup;
		if (f->type == 'Z')
			break;
		if (f->type != 'D')
			goto cleanup;
		if (!err && write_full(fd, f->data, f->len) < 0)
			err = errno;
	}
	if (!err && (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0))
		err = errno;
	if (fd >= 0 && close(fd) < 0 && !err)
		err = errno;
	fd = -1;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		ret = send_fail(sock, path, err);
		goto cleanup;
	}
	ret = send_frame(sock, 'K', NULL, 0);
cleanup:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	return ret;
}

static int
serve_get(int sock, struct frame *f)
{
	struct stat stt;
	uint8_t m[4];
	ssize_t r;
	int fd, ret = -1;

	if (f->len == 0 || memchr(f->data, 0, f->len))
		return send_frame(sock, 'F', "get: bad path", 13);
	fd = open((const char *)f->data, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return send_fail(sock, (const char *)f->data, errno);
	if (fstat(fd, &stt) < 0) {
		ret = send_fail(sock, (const char *)f->data, errno);
		goto cleanup;
	}
	if (!S_ISREG(stt.st_mode)) {
		ret = send_fail(sock, (const char *)f->data, EINVAL);
		goto cleanup;
	}
	put_u32(m, (uint32_t)(stt.st_mode & 07777));
	if (send_frame(sock, 'M', m, sizeof(m)) < 0)
		goto cleanup;
	for (;;) {
		r = read(fd, f->data, NX_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = send_fail(sock, "read", errno);
			goto cleanup;
		}
		if (r == 0)
			break;
		if (send_frame(sock, 'D', f->data, (size_t)r) < 0)
			goto cleanup;
	}
	ret = send_frame(sock, 'Z', NULL, 0);
cleanup:
	close(fd);
	return ret;
}

/* ---- server: sessions ---------------------------------------------------- */

static void
serve_session(int sock)
{
	struct frame f = { 0 };
	int rc = 0;

	f.data = frame_buf();
	if (!f.data)
		goto cleanup;
	set_rcv_timeout(sock, 30.0); /* a silent peer does not hold a process */
	if (recv_frame(sock, &f) < 0 || f.type != 'H' || strcmp((char *)f.data, NX_HELLO) != 0)
		goto cleanup;
	set_rcv_timeout(sock, 0);
	if (send_frame(sock, 'K', NULL, 0) < 0)
		goto cleanup;
	while (rc == 0 && recv_frame(sock, &f) == 0) {
		switch (f.type) {
		case 'R': rc = serve_run(sock, &f); break;
		case 'P': rc = serve_put(sock, &f); break;
		case 'G': rc = serve_get(sock, &f); break;
		case 'H': rc = send_frame(sock, 'K', NULL, 0); break;
		default: rc = send_frame(sock, 'F', "unknown request", 15); break;
		}
	}
cleanup:
	free(f.data);
}

static int
listen_on(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	char *end;
	long p = strtol(port, &end, 10);
	int fd, one = 1;

	if (*port == 0 || *end || p <= 0 || p > 65535) {
		errmsg("bad port '%s'", port);
		return -1;
	}
	sa.sin_port = htons((uint16_t)p);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		errmsg("bind/listen on port %ld: %s", p, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
cmd_serve(int argc, char **argv)
{
	int lfd, c, one = 1;
	pid_t pid;

	if (argc != 1) {
		errmsg("usage: nodeexec serve PORT");
		return 2;
	}
	lfd = listen_on(argv[0]);
	if (lfd < 0)
		return 1;
	signal(SIGCHLD, SIG_IGN); /* session processes are reaped automatically */
	fprintf(stderr, "nodeexec: serving on port %s\n", argv[0]);
	for (;;) {
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EINTR)
				sleep_ms(100);
			continue;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pid = fork();
		if (pid == 0) {
			close(lfd);
			signal(SIGCHLD, SIG_DFL);
			serve_session(c);
			_exit(0);
		}
		close(c);
	}
}

/* ---- client ------------------------------------------------------------- */

static int
parse_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz)
{
	const char *colon = strrchr(s, ':');

	if (!colon || colon == s || !colon[1] || (size_t)(colon - s) >= hostsz ||
	    strlen(colon + 1) >= portsz) {
		errmsg("bad address '%s' (want HOST:PORT)", s);
		return -1;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	strcpy(port, colon + 1);
	return 0;
}

static int
connect_once(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int fd = -1, one = 1;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One attempt: connect and exchange HELLO/OK within a few seconds. */
static int
handshake(const char *host, const char *port, struct frame *f)
{
	int fd = connect_once(host, port);

	if (fd < 0)
		return -1;
	set_rcv_timeout(fd, 3.0);
	if (send_frame(fd, 'H', NX_HELLO, strlen(NX_HELLO)) < 0 || recv_frame(fd, f) < 0 ||
	    f->type != 'K') {
		close(fd);
		return -1;
	}
	set_rcv_timeout(fd, 0);
	return fd;
}

/* Connects and says HELLO, retrying until `budget` seconds have passed. */
static int
client_connect(const char *addr, double budget, struct frame *f)
{
	char host[256], port[16];
	double end = now_s() + budget;
	int fd;

	if (parse_hostport(addr, host, sizeof(host), port, sizeof(port)) < 0)
		return -1;
	for (;;) {
		fd = handshake(host, port, f);
		if (fd >= 0 || now_s() >= end)
			break;
		sleep_ms(250);
	}
	if (fd < 0)
		errmsg("no nodeexec server answers at %s (tried for %.0f s)", addr, budget);
	return fd;
}

static double
connect_budget(void)
{
	const char *s = getenv("NODEEXEC_CONNECT_TIMEOUT");
	double v = s ? atof(s) : 30.0;

	return v > 0 ? v : 30.0;
}

static int
print_fail(const struct frame *f, const char *what)
{
	if (f->type == 'F')
		errmsg("%s: remote error: %.*s", what, (int)f->len, (const char *)f->data);
	else
		errmsg("%s: unexpected reply '%c'", what, f->type);
	return -1;
}

static int
send_stdin_chunk(int sock, int *stdin_open, uint8_t *buf)
{
	ssize_t r = read(0, buf, NX_CHUNK);

	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0) {
		*stdin_open = 0;
		return send_frame(sock, 'i', NULL, 0);
	}
	return send_frame(sock, 'I', buf, (size_t)r);
}

/* Handles one frame of a run's reply; 1 when the status arrived. */
static int
handle_run_frame(struct frame *f, int *status)
{
	switch (f->type) {
	case 'O':
		return write_full(1, f->data, f->len) < 0 ? -1 : 0;
	case 'E':
		return write_full(2, f->data, f->len) < 0 ? -1 : 0;
	case 'X':
		if (f->len != 5)
			return print_fail(f, "run");
		*status = (int)get_u32(f->data);
		if (f->data[4]) {
			errmsg("run: command timed out");
			*status = 124;
		}
		return 1;
	default:
		return print_fail(f, "run");
	}
}

static int
build_cmd(int argc, char **argv, char *out, size_t outsz)
{
	size_t n = 0, l;
	int i;

	for (i = 0; i < argc; i++) {
		l = strlen(argv[i]);
		if (n + l + 2 > outsz) {
			errmsg("command too long");
			return -1;
		}
		if (i)
			out[n++] = ' ';
		memcpy(out + n, argv[i], l);
		n += l;
	}
	out[n] = 0;
	return (int)n;
}

static int
cmd_run(int argc, char **argv)
{
	struct frame f = { 0 };
	uint32_t timeout = 0;
	int sock = -1, i, use_stdin = 0, stdin_open, status = NX_EXIT_PROTO, rc, cmdlen;
	char *cmd = NULL;
	uint8_t t[4], *buf = NULL;

	if (argc < 1) {
		errmsg("usage: nodeexec run HOST:PORT [--timeout S] [--stdin] -- CMD...");
		return 2;
	}
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = (uint32_t)strtoul(argv[++i], NULL, 10);
			if (timeout > 86400)
				timeout = 86400;
		}
		else if (!strcmp(argv[i], "--stdin"))
			use_stdin = 1;
		else {
			errmsg("run: unknown option '%s'", argv[i]);
			return 2;
		}
	}
	if (i + 1 >= argc) {
		errmsg("run: no command (put it after --)");
		return 2;
	}
	f.data = frame_buf();
	cmd = malloc(NX_MAX_FRAME - 4);
	buf = malloc(NX_CHUNK);
	if (!f.data || !cmd || !buf)
		goto cleanup;
	cmdlen = build_cmd(argc - i - 1, argv + i + 1, cmd, NX_MAX_FRAME - 4);
	if (cmdlen < 0)
		goto cleanup;
	sock = client_connect(argv[0], connect_budget(), &f);
	if (sock < 0)
		goto cleanup;
	put_u32(t, timeout);
	if (send_frame2(sock, 'R', t, 4, cmd, (size_t)cmdlen) < 0)
		goto io_error;
	stdin_open = use_stdin;
	if (!use_stdin && send_frame(sock, 'i', NULL, 0) < 0)
		goto io_error;
	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = 0, .events = POLLIN } };

		rc = poll(p, stdin_open ? 2 : 1, timeout ? (int)(timeout + 30) * 1000 : -1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			goto io_error;
		if (rc == 0) {
			errmsg("run: no answer %u s after the command's timeout", 30u);
			status = NX_EXIT_PROTO;
			goto cleanup;
		}
		if (stdin_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    send_stdin_chunk(sock, &stdin_open, buf) < 0)
			goto io_error;
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (recv_frame(sock, &f) < 0)
			goto io_error;
		rc = handle_run_frame(&f, &status);
		if (rc < 0) {
			status = NX_EXIT_PROTO;
			goto cleanup;
		}
		if (rc == 1)
			break;
	}
	goto cleanup;
io_error:
	errmsg("run: connection lost");
	status = NX_EXIT_PROTO;
cleanup:
	if (sock >= 0)
		close(sock);
	free(f.data);
	free(cmd);
	free(buf);
	return status;
}

static int
send_file(int sock, int fd, uint8_t *buf)
{
	ssize_t r;

	for (;;) {
		r = read(fd, buf, NX_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return send_frame(sock, 'Z', NULL, 0);
		if (send_frame(sock, 'D', buf, (size_t)r) < 0)
			return -1;
	}
}

static int
cmd_put(int argc, char **argv)
{
	struct frame f = { 0 };
	struct stat st;
	uint8_t m[4];
	int fd = -1, sock = -1, ret = 1;

	if (argc != 3) {
		errmsg("usage: nodeexec put HOST:PORT LOCAL REMOTE");
		return 2;
	}
	if (strlen(argv[2]) >= PATH_MAX) {
		errmsg("put: remote path too long");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		errmsg("put: %s: %s", argv[1], strerror(errno));
		goto cleanup;
	}
	f.data = frame_buf();
	if (!f.data)
		goto cleanup;
	sock = client_connect(argv[0], connect_budget(), &f);
	if (sock < 0)
		goto cleanup;
	put_u32(m, (uint32_t)(st.st_mode & 07777));
	if (send_frame2(sock, 'P', m, 4, argv[2], strlen(argv[2])) < 0 ||
	    send_file(sock, fd, f.data) < 0 || recv_frame(sock, &f) < 0) {
		errmsg("put: transfer failed: %s", strerror(errno));
		goto cleanup;
	}
	if (f.type != 'K') {
		print_fail(&f, "put");
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (sock >= 0)
		close(sock);
	free(f.data);
	return ret;
}

/* Receives a file's 'D' frames up to 'Z' into fd. */
static int
recv_file(int sock, int fd, struct frame *f)
{
	for (;;) {
		if (recv_frame(sock, f) < 0) {
			errmsg("get: connection lost");
			return -1;
		}
		if (f->type == 'Z')
			return 0;
		if (f->type != 'D')
			return print_fail(f, "get");
		if (write_full(fd, f->data, f->len) < 0) {
			errmsg("get: write: %s", strerror(errno));
			return -1;
		}
	}
}

static int
cmd_get(int argc, char **argv)
{
	struct frame f = { 0 };
	char tmp[PATH_MAX + 32];
	int fd = -1, sock = -1, ret = 1;
	uint32_t mode;

	if (argc != 3) {
		errmsg("usage: nodeexec get HOST:PORT REMOTE LOCAL");
		return 2;
	}
	if (strlen(argv[1]) >= PATH_MAX || strlen(argv[2]) >= PATH_MAX) {
		errmsg("get: path too long");
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s.nodeexec-%ld", argv[2], (long)getpid());
	f.data = frame_buf();
	if (!f.data)
		goto cleanup;
	sock = client_connect(argv[0], connect_budget(), &f);
	if (sock < 0)
		goto cleanup;
	if (send_frame(sock, 'G', argv[1], strlen(argv[1])) < 0 || recv_frame(sock, &f) < 0) {
		errmsg("get: connection lost");
		goto cleanup;
	}
	if (f.type != 'M' || f.len != 4) {
		print_fail(&f, "get");
		goto cleanup;
	}
	mode = get_u32(f.data) & 07777;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		errmsg("get: %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (recv_file(sock, fd, &f) < 0)
		goto cleanup;
	if (fchmod(fd, (mode_t)mode) < 0 || close(fd) < 0 || rename(tmp, argv[2]) < 0) {
		fd = -1;
		errmsg("get: %s: %s", argv[2], strerror(errno));
		goto cleanup;
	}
	fd = -1;
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	if (sock >= 0)
		close(sock);
	free(f.data);
	return ret;
}

static int
cmd_wait(int argc, char **argv)
{
	struct frame f = { 0 };
	double budget;
	int sock;

	if (argc != 2 || (budget = atof(argv[1])) <= 0) {
		errmsg("usage: nodeexec wait HOST:PORT TIMEOUT_SECONDS");
		return 2;
	}
	f.data = frame_buf();
	if (!f.data)
		return 1;
	sock = client_connect(argv[0], budget, &f);
	free(f.data);
	if (sock < 0)
		return 1;
	close(sock);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: nodeexec serve PORT\n"
		"       nodeexec run HOST:PORT [--timeout S] [--stdin] -- CMD...\n"
		"       nodeexec put HOST:PORT LOCAL REMOTE\n"
		"       nodeexec get HOST:PORT REMOTE LOCAL\n"
		"       nodeexec wait HOST:PORT TIMEOUT\n"
		"env: NODEEXEC_CONNECT_TIMEOUT (seconds, default 30) for run/put/get\n");
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "put"))
		return cmd_put(argc - 2, argv + 2);
	if (!strcmp(argv[1], "get"))
		return cmd_get(argc - 2, argv + 2);
	if (!strcmp(argv[1], "wait"))
		return cmd_wait(argc - 2, argv + 2);
	usage();
	return 2;
}
