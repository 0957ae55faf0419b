/* console.c: the console's ring buffer and its writer/reader threads. */
#include "console.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

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
	console_input_fn input;
	void *input_arg;
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
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* With the lock held: skip what the ring no longer holds. */
static void
console_catch_up(struct console *c)
{
	if (c->total - c->sent > CONSOLE_RING) {
		c->dropped += c->total - c->sent - CONSOLE_RING;
		c->sent = c->total - CONSOLE_RING;
	}
}

static ssize_t
console_write_out(struct console *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	do
		w = write(c->out_fd, p, n);
	while (w < 0 && errno == EINTR);
	return w;
}

/*
 * The writer copies a chunk out under the lock, then writes it without the
 * lock: the guest may overwrite the ring meanwhile, never the chunk.
 */
static void *
console_writer(void *arg)
{
	struct console *c = arg;
	uint8_t chunk[4096];
	size_t at, n;
	ssize_t w;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->sent == c->total && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->sent == c->total)
			break;		/* stopping, and all sent */
		console_catch_up(c);
		at = (size_t)(c->sent % CONSOLE_RING);
		n = (size_t)(c->total - c->sent);
		if (n > CONSOLE_RING - at)
			n = CONSOLE_RING - at;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		memcpy(chunk, c->ring + at, n);
		pthread_mutex_unlock(&c->lock);
		w = c->out_broken ? (ssize_t)n : console_write_out(c, chunk, n);
		pthread_mutex_lock(&c->lock);
		if (w < 0) {
			/* The reader went away: keep the guest going. */
			log_warn("console output");
			c->out_broken = 1;
			w = (ssize_t)n;
		}
		c->sent += (uint64_t)w;
		pthread_cond_broadcast(&c->drained);
	}
	c->writer_done = 1;
	pthread_cond_broadcast(&c->drained);
	pthread_mutex_unlock(&c->lock);
	return NULL;
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

struct console *
console_open(int out_fd, int in_fd, console_input_fn in, void *arg)
{
	struct console *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->drained, NULL);
	c->out_fd = out_fd;
	c->in_fd = in_fd;
	c->input = in;
	c->input_arg = arg;
	if (pthread_create(&c->writer, NULL, console_writer, c) != 0) {
		free(c);
		return NULL;
	}
	c->have_writer = 1;
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
	pthread_cond_signal(&c->cond);
	while (!c->writer_done &&
	    pthread_cond_timedwait(&c->drained, &c->lock, &until) == 0)
		;
	done = c->writer_done;
	reader_live = c->have_reader && !c->reader_done;
	pthread_mutex_unlock(&c->lock);
	if (!done) {
		/* A stuck reader: leave the writer; the process is ending. */
		log_warnx("console output not drained after %d ms", timeout_ms);
		return 0;
	}
	pthread_join(c->writer, NULL);
	if (c->dropped)
		log_info("console: %llu bytes dropped (slow reader)",
		    (unsigned long long)c->dropped);
	/* A reader thread still blocked in read() keeps c (and its input
	 * callback's argument) alive: the caller must not free those. */
	if (reader_live)
		return 0;
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->drained);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return 1;
}
