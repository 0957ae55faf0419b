/*
 * console.c: the console's ring buffer, and its two host sides: stdio
 * (a writer thread and a reader thread on fds) and a unix socket server
 * (one thread; every client reads the output from its own place in the
 * ring, one client at a time types into the guest).
 */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct console_client {
	int fd;			/* -1: free slot */
	uint64_t sent;		/* its place in the output */
};

struct console {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* new output, or stop */
	pthread_cond_t drained;		/* the writer caught up or quit */
	uint8_t ring[CONSOLE_RING];
	uint64_t total;			/* bytes ever written by the guest */
	uint64_t sent;			/* bytes handed to out_fd (or dropped) */
	uint64_t dropped;
	int out_fd, in_fd;
	int stop, writer_done, out_broken, reader_done;
	pthread_t writer, reader;
	int have_writer, have_reader;
	/* the optional log file: its own thread and place in the output */
	int log_fd, log_done, log_broken, have_logger;
	uint64_t log_sent;
	pthread_t logger;
	console_input_fn input;
	void *input_arg;
	/* unix socket server */
	int listen_fd, wake_fd;
	int server_idle;		/* waiting in poll: wake it */
	int typist;			/* client slot that may type, or -1 */
	struct console_client clients[CONSOLE_MAX_CLIENTS];
	char path[108];
};

void
console_write(struct console *c, const uint8_t *buf, size_t n)
{
	size_t at, chunk;

	pthread_mutex_lock(&c->lock);
	if (n > CONSOLE_RING) {		/* only the newest ring's worth fits */
		buf += n - CONSOLE_RING;
		c->total += n - CONSOLE_RING;
		n = CONSOLE_RING;
	}
	while (n) {
		at = (size_t)(c->total % CONSOLE_RING);
		chunk = CONSOLE_RING - at < n ? CONSOLE_RING - at : n;
		memcpy(c->ring + at, buf, chunk);
		c->total += chunk;
		buf += chunk;
		n -= chunk;
	}
	pthread_cond_broadcast(&c->cond);	/* writer and logger */
	if (c->server_idle) {
		uint64_t one = 1;

		c->server_idle = 0;	/* one wake-up per batch, not per byte */
		if (write(c->wake_fd, &one, sizeof(one)) < 0) {
			/* The counter is full: the server is awake anyway. */
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* With the lock held: skip what the ring no longer holds for a reader
 * at *sent. */
static void
console_catch_up(struct console *c, uint64_t *sent)
{
	if (c->total - *sent > CONSOLE_RING) {
		c->dropped += c->total - *sent - CONSOLE_RING;
		*sent = c->total - CONSOLE_RING;
	}
}

static ssize_t
console_write_fd(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	do
		w = write(fd, p, n);
	while (w < 0 && errno == EINTR);
	return w;
}

/*
 * Copy the output to fd from *sent on, until stopped and caught up. A
 * chunk is copied out under the lock and written without it: the guest
 * may overwrite the ring meanwhile, never the chunk. With the lock held
 * on entry and on return.
 */
static void
console_drain(struct console *c, int fd, uint64_t *sent, int *broken)
{
	uint8_t chunk[4096];
	size_t at, n;
	ssize_t w;

	for (;;) {
		while (*sent == c->total && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (*sent == c->total)
			break;		/* stopping, and all sent */
		console_catch_up(c, sent);
		at = (size_t)(*sent % CONSOLE_RING);
		n = (size_t)(c->total - *sent);
		if (n > CONSOLE_RING - at)
			n = CONSOLE_RING - at;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		memcpy(chunk, c->ring + at, n);
		pthread_mutex_unlock(&c->lock);
		w = *broken ? (ssize_t)n : console_write_fd(fd, chunk, n);
		pthread_mutex_lock(&c->lock);
		if (w < 0) {
			/* The reader or disk went away: keep the guest going. */
			log_warn("console output");
			*broken = 1;
			w = (ssize_t)n;
		}
		*sent += (uint64_t)w;
		pthread_cond_broadcast(&c->drained);
	}
}

/* A drain thread's body: drain to fd, then say it is done. */
static void *
console_drain_thread(struct console *c, int fd, uint64_t *sent, int *broken,
    int *done)
{
	pthread_mutex_lock(&c->lock);
	console_drain(c, fd, sent, broken);
	*done = 1;
	pthread_cond_broadcast(&c->drained);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void *
console_writer(void *arg)
{
	struct console *c = arg;

	return console_drain_thread(c, c->out_fd, &c->sent, &c->out_broken,
	    &c->writer_done);
}

static void *
console_logger(void *arg)
{
	struct console *c = arg;

	return console_drain_thread(c, c->log_fd, &c->log_sent, &c->log_broken,
	    &c->log_done);
}

int
console_set_log(struct console *c, int fd)
{
	int err;

	pthread_mutex_lock(&c->lock);
	c->log_fd = fd;
	c->log_sent = c->total > CONSOLE_RING ? c->total - CONSOLE_RING : 0;
	err = pthread_create(&c->logger, NULL, console_logger, c);
	c->have_logger = err == 0;
	pthread_mutex_unlock(&c->lock);
	return -err;
}

static void *
console_reader(void *arg)
{
	struct console *c = arg;
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	uint8_t buf[256];
	ssize_t n;
	size_t off;

	for (;;) {
		n = read(c->in_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* EOF or error: no more input */
		for (off = 0; off < (size_t)n;) {
			off += c->input(c->input_arg, buf + off,
			    (size_t)n - off);
			if (off < (size_t)n)
				nanosleep(&pause, NULL);	/* UART full */
		}
	}
	pthread_mutex_lock(&c->lock);
	c->reader_done = 1;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static struct console *
console_alloc(void)
{
	struct console *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->listen_fd = c->wake_fd = c->log_fd = -1;
	c->typist = -1;
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	return c;
}

struct console *
console_open(int out_fd, int in_fd, console_input_fn in, void *arg)
{
	struct console *c = console_alloc();

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->drained, NULL);
	c->out_fd = out_fd;
	c->in_fd = in_fd;
	c->input = in;
	c->input_arg = arg;
	if (out_fd < 0) {
		c->writer_done = 1;	/* no output: ring (and log) only */
	} else if (pthread_create(&c->writer, NULL, console_writer, c) != 0) {
		free(c);
		return NULL;
	} else {
		c->have_writer = 1;
	}
	if (in_fd >= 0 && in != NULL &&
	    pthread_create(&c->reader, NULL, console_reader, c) == 0) {
		c->have_reader = 1;
		pthread_detach(c->reader);	/* blocked in read(): never joined */
	}
	return c;
}

size_t
console_history(struct console *c, uint8_t *buf, size_t n)
{
	uint64_t have, from;
	size_t i;

	pthread_mutex_lock(&c->lock);
	have = c->total < CONSOLE_RING ? c->total : CONSOLE_RING;
	if (n > have)
		n = (size_t)have;
	from = c->total - n;
	for (i = 0; i < n; i++)
		buf[i] = c->ring[(from + i) % CONSOLE_RING];
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t
console_dropped(struct console *c)
{
	uint64_t d;

	pthread_mutex_lock(&c->lock);
	d = c->dropped;
	pthread_mutex_unlock(&c->lock);
	return d;
}

int
console_close(struct console *c, int timeout_ms)
{
	struct timespec until;
	int done, reader_live;

	if (c == NULL)
		return 1;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->cond);
	if (c->wake_fd >= 0 && write(c->wake_fd, &(uint64_t){ 1 },
	    sizeof(uint64_t)) < 0) {
		/* The counter is full: the server is awake anyway. */
	}
	while ((!c->writer_done || (c->have_logger && !c->log_done)) &&
	    pthread_cond_timedwait(&c->drained, &c->lock, &until) == 0)
		;
	done = c->writer_done && (!c->have_logger || c->log_done);
	reader_live = c->have_reader && !c->reader_done;
	pthread_mutex_unlock(&c->lock);
	if (!done) {
		/* A stuck reader: leave the writer; the process is ending. */
		log_warnx("console output not drained after %d ms", timeout_ms);
		return 0;
	}
	if (c->have_writer)
		pthread_join(c->writer, NULL);
	if (c->have_logger) {
		pthread_join(c->logger, NULL);
		close(c->log_fd);
	}
	if (c->dropped)
		log_info("console: %llu bytes dropped (slow reader)",
		    (unsigned long long)c->dropped);
	/* A reader thread still blocked in read() keeps c (and its input
	 * callback's argument) alive: the caller must not free those. */
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (c->path[0])
			unlink(c->path);
	}
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->listen_fd = c->wake_fd = -1;
	if (reader_live)
		return 0;
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->drained);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return 1;
}

/* ---- unix socket server --------------------------------------------------- */

static int
console_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);	/* left by a VMM that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, CONSOLE_MAX_CLIENTS) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
console_client_close(struct console *c, int i)
{
	close(c->clients[i].fd);
	c->clients[i].fd = -1;
	if (c->typist == i)
		c->typist = -1;
}

/* A new client first gets what the ring still holds (the history). */
static void
console_accept(struct console *c)
{
	int fd, i;

	fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < CONSOLE_MAX_CLIENTS && c->clients[i].fd >= 0; i++)
		;
	if (i == CONSOLE_MAX_CLIENTS) {
		log_warnx("console: more than %d clients; refused",
		    CONSOLE_MAX_CLIENTS);
		close(fd);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->clients[i].fd = fd;
	c->clients[i].sent = c->total > CONSOLE_RING ?
	    c->total - CONSOLE_RING : 0;
	pthread_mutex_unlock(&c->lock);
}

/* Input from client i; only the client that typed first (and is still
 * connected) reaches the guest: one writer at a time. */
static void
console_client_input(struct console *c, int i)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	uint8_t buf[256];
	ssize_t n = read(c->clients[i].fd, buf, sizeof(buf));
	size_t off = 0;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		console_client_close(c, i);
		return;
	}
	if (n < 0 || c->input == NULL)
		return;
	if (c->typist < 0)
		c->typist = i;
	if (c->typist != i)
		return;
	/* The UART buffer may be full: wait a little, at most 1 s. */
	for (int tries = 0; off < (size_t)n && tries < 100; tries++) {
		off += c->input(c->input_arg, buf + off, (size_t)n - off);
		if (off < (size_t)n)
			nanosleep(&pause, NULL);
	}
}

static void
console_client_output(struct console *c, int i)
{
	struct console_client *cl = &c->clients[i];
	uint8_t chunk[4096];
	size_t at, n;
	ssize_t w;

	pthread_mutex_lock(&c->lock);
	if (c->total - cl->sent > CONSOLE_RING) {	/* it fell behind */
		c->dropped += c->total - cl->sent - CONSOLE_RING;
		cl->sent = c->total - CONSOLE_RING;
	}
	at = (size_t)(cl->sent % CONSOLE_RING);
	n = (size_t)(c->total - cl->sent);
	if (n > CONSOLE_RING - at)
		n = CONSOLE_RING - at;
	if (n > sizeof(chunk))
		n = sizeof(chunk);
	memcpy(chunk, c->ring + at, n);
	pthread_mutex_unlock(&c->lock);
	if (n == 0)
		return;
	w = send(cl->fd, chunk, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		console_client_close(c, i);
		return;
	}
	if (w > 0) {
		pthread_mutex_lock(&c->lock);
		cl->sent += (uint64_t)w;
		pthread_mutex_unlock(&c->lock);
	}
}

/* Fill the poll set; returns its size. With the lock held. */
static nfds_t
console_pollset(struct console *c, struct pollfd *p, int *slot)
{
	nfds_t n = 2;

	p[0] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
		if (c->clients[i].fd < 0)
			continue;
		slot[n] = i;
		p[n] = (struct pollfd){ .fd = c->clients[i].fd, .events =
		    (short)(POLLIN | (c->clients[i].sent < c->total ?
		    POLLOUT : 0)) };
		n++;
	}
	c->server_idle = 1;
	return n;
}

static void
console_server_flush(struct console *c)
{
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0) {
			console_client_output(c, i);
			if (c->clients[i].fd >= 0)
				console_client_close(c, i);
		}
}

static void *
console_server(void *arg)
{
	struct console *c = arg;
	struct pollfd p[2 + CONSOLE_MAX_CLIENTS];
	int slot[2 + CONSOLE_MAX_CLIENTS];
	uint64_t v;
	nfds_t n;
	int stop;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		stop = c->stop;
		n = console_pollset(c, p, slot);
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		if (poll(p, n, -1) < 0)
			continue;
		if ((p[1].revents & POLLIN) &&
		    read(c->wake_fd, &v, sizeof(v)) < 0) {
			/* Spurious: poll again. */
		}
		if (p[0].revents & POLLIN)
			console_accept(c);
		for (nfds_t k = 2; k < n; k++) {
			if (p[k].revents & (POLLIN | POLLHUP | POLLERR))
				console_client_input(c, slot[k]);
			if ((p[k].revents & POLLOUT) &&
			    c->clients[slot[k]].fd >= 0)
				console_client_output(c, slot[k]);
		}
	}
	console_server_flush(c);
	pthread_mutex_lock(&c->lock);
	c->writer_done = 1;
	pthread_cond_broadcast(&c->drained);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Start the server on a listening socket (closed on failure). */
static struct console *
console_open_server(int listen_fd, const char *unix_path, const char *what,
    console_input_fn in, void *arg)
{
	struct console *c = console_alloc();

	if (c == NULL || listen_fd < 0) {
		log_warn("console %s", what);
		if (listen_fd >= 0)
			close(listen_fd);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->drained, NULL);
	c->input = in;
	c->input_arg = arg;
	c->out_fd = c->in_fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", unix_path ? unix_path : "");
	c->listen_fd = listen_fd;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0 ||
	    pthread_create(&c->writer, NULL, console_server, c) != 0) {
		log_warn("console %s", what);
		close(c->listen_fd);
		if (c->path[0])
			unlink(c->path);
		if (c->wake_fd >= 0)
			close(c->wake_fd);
		free(c);
		return NULL;
	}
	c->have_writer = 1;
	return c;
}

struct console *
console_open_unix(const char *path, console_input_fn in, void *arg)
{
	return console_open_server(console_listen(path), path, path, in, arg);
}

/* "PORT" (on 127.0.0.1) or "ADDR:PORT", IPv4. */
int
console_parse_tcp(const char *spec, struct sockaddr_in *sa)
{
	const char *colon = strrchr(spec, ':'), *port_s = colon ? colon + 1 :
	    spec;
	char addr[INET_ADDRSTRLEN];
	unsigned long port;
	char *end;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || end == port_s || *end || port == 0 || port > 65535 ||
	    *port_s == '-' || *port_s == '+')
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	if (colon == NULL)
		return 0;
	if ((size_t)(colon - spec) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, spec, (size_t)(colon - spec));
	addr[colon - spec] = '\0';
	return inet_pton(AF_INET, addr, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

struct console *
console_open_tcp(const char *spec, console_input_fn in, void *arg)
{
	struct sockaddr_in sa;
	int fd = -1, one = 1;

	if (console_parse_tcp(spec, &sa) == 0)
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) < 0 || bind(fd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0 || listen(fd, CONSOLE_MAX_CLIENTS) < 0)) {
		close(fd);
		fd = -1;
	}
	return console_open_server(fd, NULL, spec, in, arg);
}
