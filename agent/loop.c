/*
 * loop.c: droverd's event loop (loop.h), built on poll(2).
 *
 * - fds: an array of registrations. A callback may add or remove any
 *   registration, its own included: removal only marks the entry (fd -1)
 *   and the array is compacted between iterations; each registration has
 *   a serial number, so events polled for an fd that was removed and
 *   re-added during the same iteration are not delivered to the new one.
 * - timers: a list sorted by deadline (FIFO among equal deadlines). A pass
 *   fires only the timers that were armed before it began, so a callback
 *   re-arming itself with 0 ms cannot starve the fds.
 * - deferred calls: a FIFO run before polling; calls deferred while the
 *   queue runs wait for the next iteration (and make that poll not block).
 *   Timer and deferred-call ids share one counter; loop_cancel() takes
 *   either.
 * - SIGINT and SIGTERM: while loop_run() runs, a handler writes the signal
 *   number to a self-pipe (not signalfd: a blocked signal mask would be
 *   inherited by the VMMs the runtime spawns); the loop reads it and stops.
 *   The previous handlers are restored when loop_run() returns.
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct loop_fdreg {
	int fd;			/* -1: removed, compacted later */
	short events;
	uint64_t serial;
	loop_fd_fn fn;
	void *arg;
};

struct loop_call {
	struct loop_call *next;
	int id;
	uint64_t due;		/* timers: CLOCK_MONOTONIC ms */
	uint64_t seq;		/* arming order */
	loop_fn fn;
	void *arg;
};

struct loop {
	struct loop_fdreg *fds;
	size_t nfds, capfds;
	int dirty;		/* removed entries to compact */
	uint64_t serial;
	struct loop_call *timers;	/* sorted by due, then seq */
	struct loop_call *defer_head, *defer_tail;
	uint64_t seq;
	int next_id;
	int stop;
	struct pollfd *pfds;	/* the set being polled */
	uint64_t *pserial;	/* the serial of each pfds[] entry */
	size_t npfds, cappfds;
};

/* The self-pipe of the loop_run() that handles SIGINT/SIGTERM. */
static int loop_sig_pipe[2] = { -1, -1 };
static struct loop *loop_sig_owner;
static struct sigaction loop_sig_old[2];
static const int loop_sig_nums[2] = { SIGINT, SIGTERM };

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *
loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l)
		l->next_id = 1;
	return l;
}

static void
loop_free_calls(struct loop_call *c)
{
	while (c) {
		struct loop_call *n = c->next;
		free(c);
		c = n;
	}
}

void
loop_free(struct loop *l)
{
	if (!l)
		return;
	loop_free_calls(l->timers);
	loop_free_calls(l->defer_head);
	free(l->fds);
	free(l->pfds);
	free(l->pserial);
	free(l);
}

static struct loop_fdreg *
loop_find_fd(struct loop *l, int fd)
{
	for (size_t i = 0; i < l->nfds; i++)
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	return NULL;
}

int
loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn fn, void *arg)
{
	struct loop_fdreg *r;

	if (fd < 0 || !fn)
		return -EINVAL;
	if (loop_find_fd(l, fd))
		return -EEXIST;
	if (l->nfds == l->capfds) {
		size_t cap = l->capfds ? l->capfds * 2 : 16;
		r = realloc(l->fds, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		l->fds = r;
		l->capfds = cap;
	}
	r = &l->fds[l->nfds++];
	r->fd = fd;
	r->events = events;
	r->serial = ++l->serial;
	r->fn = fn;
	r->arg = arg;
	return 0;
}

int
loop_mod_fd(struct loop *l, int fd, short events)
{
	struct loop_fdreg *r = loop_find_fd(l, fd);

	if (!r)
		return -ENOENT;
	r->events = events;
	return 0;
}

void
loop_del_fd(struct loop *l, int fd)
{
	struct loop_fdreg *r = fd >= 0 ? loop_find_fd(l, fd) : NULL;

	if (r) {
		r->fd = -1;
		l->dirty = 1;
	}
}

static void
loop_compact(struct loop *l)
{
	size_t j = 0;

	if (!l->dirty)
		return;
	for (size_t i = 0; i < l->nfds; i++)
		if (l->fds[i].fd >= 0)
			l->fds[j++] = l->fds[i];
	l->nfds = j;
	l->dirty = 0;
}

static struct loop_call *
loop_call_new(struct loop *l, loop_fn fn, void *arg)
{
	struct loop_call *c;

	if (!fn || l->next_id == INT32_MAX)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = l->next_id++;
	c->seq = ++l->seq;
	c->fn = fn;
	c->arg = arg;
	return c;
}

int
loop_timer(struct loop *l, uint64_t ms, loop_fn fn, void *arg)
{
	struct loop_call *c = loop_call_new(l, fn, arg), **pp;

	if (!c)
		return -ENOMEM;
	c->due = loop_now_ms();
	c->due = ms > UINT64_MAX - c->due ? UINT64_MAX : c->due + ms;
	for (pp = &l->timers; *pp && (*pp)->due <= c->due; pp = &(*pp)->next)
		;
	c->next = *pp;
	*pp = c;
	return c->id;
}

int
loop_defer(struct loop *l, loop_fn fn, void *arg)
{
	struct loop_call *c = loop_call_new(l, fn, arg);

	if (!c)
		return -ENOMEM;
	if (l->defer_tail)
		l->defer_tail->next = c;
	else
		l->defer_head = c;
	l->defer_tail = c;
	return c->id;
}

static int
loop_unlink(struct loop_call **head, struct loop_call **tail, int id)
{
	struct loop_call *prev = NULL;

	for (struct loop_call *c = *head; c; prev = c, c = c->next) {
		if (c->id != id)
			continue;
		if (prev)
			prev->next = c->next;
		else
			*head = c->next;
		if (tail && *tail == c)
			*tail = prev;
		free(c);
		return 1;
	}
	return 0;
}

void
loop_cancel(struct loop *l, int id)
{
	if (id <= 0)
		return;
	if (!loop_unlink(&l->timers, NULL, id))
		loop_unlink(&l->defer_head, &l->defer_tail, id);
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

/* Run the calls deferred before this point; later ones wait. */
static void
loop_run_deferred(struct loop *l)
{
	uint64_t last = l->seq;

	while (!l->stop && l->defer_head && l->defer_head->seq <= last) {
		struct loop_call *c = l->defer_head;
		loop_fn fn = c->fn;
		void *arg = c->arg;

		l->defer_head = c->next;
		if (!l->defer_head)
			l->defer_tail = NULL;
		free(c);
		fn(arg);
	}
}

static void
loop_run_timers(struct loop *l)
{
	uint64_t now = loop_now_ms(), last = l->seq;

	while (!l->stop && l->timers && l->timers->due <= now) {
		struct loop_call *c = l->timers, **pp;
		loop_fn fn;
		void *arg;

		/* Skip timers armed during this pass (they wait a pass). */
		for (pp = &l->timers; *pp && (*pp)->due <= now &&
		    (*pp)->seq > last; pp = &(*pp)->next)
			;
		c = *pp;
		if (!c || c->due > now)
			break;
		*pp = c->next;
		fn = c->fn;
		arg = c->arg;
		free(c);
		fn(arg);
	}
}

static int
loop_timeout(struct loop *l)
{
	uint64_t now, wait;

	if (l->defer_head || l->stop)
		return 0;
	if (!l->timers)
		return -1;
	now = loop_now_ms();
	if (l->timers->due <= now)
		return 0;
	wait = l->timers->due - now;
	return wait > 60000 ? 60000 : (int)wait;
}

static int
loop_prepare_poll(struct loop *l)
{
	loop_compact(l);
	if (l->cappfds < l->nfds) {
		struct pollfd *p = realloc(l->pfds, l->nfds * sizeof(*p));
		uint64_t *s;

		if (!p)
			return -ENOMEM;
		l->pfds = p;
		s = realloc(l->pserial, l->nfds * sizeof(*s));
		if (!s)
			return -ENOMEM;
		l->pserial = s;
		l->cappfds = l->nfds;
	}
	for (size_t i = 0; i < l->nfds; i++) {
		l->pfds[i].fd = l->fds[i].fd;
		l->pfds[i].events = l->fds[i].events;
		l->pfds[i].revents = 0;
		l->pserial[i] = l->fds[i].serial;
	}
	l->npfds = l->nfds;
	return (int)l->nfds;
}

static void
loop_dispatch(struct loop *l)
{
	for (size_t i = 0; i < l->npfds && !l->stop; i++) {
		struct loop_fdreg *r;

		if (!l->pfds[i].revents)
			continue;
		r = loop_find_fd(l, l->pfds[i].fd);
		if (!r || r->serial != l->pserial[i])
			continue;	/* removed (or replaced) meanwhile */
		r->fn(r->arg, r->fd, l->pfds[i].revents);
	}
}

static void
loop_sig_handler(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (loop_sig_pipe[1] >= 0 && write(loop_sig_pipe[1], &b, 1) < 0) {
		/* Pipe full: a stop is already pending. */
	}
	errno = saved;
}

static void
loop_sig_read(void *arg, int fd, short revents)
{
	struct loop *l = arg;
	unsigned char b;

	(void)revents;
	while (read(fd, &b, 1) == 1) {
		log_info("%s: stopping", b == SIGINT ? "SIGINT" : "SIGTERM");
		loop_stop(l);
	}
}

static int
loop_sig_install(struct loop *l)
{
	struct sigaction sa;

	if (loop_sig_owner)
		return 0;	/* another loop handles the signals */
	if (pipe2(loop_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (loop_add_fd(l, loop_sig_pipe[0], POLLIN, loop_sig_read, l) < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = loop_sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (int i = 0; i < 2; i++)
		sigaction(loop_sig_nums[i], &sa, &loop_sig_old[i]);
	loop_sig_owner = l;
	return 0;
fail:
	close(loop_sig_pipe[0]);
	close(loop_sig_pipe[1]);
	loop_sig_pipe[0] = loop_sig_pipe[1] = -1;
	return -ENOMEM;
}

static void
loop_sig_remove(struct loop *l)
{
	if (loop_sig_owner != l)
		return;
	for (int i = 0; i < 2; i++)
		sigaction(loop_sig_nums[i], &loop_sig_old[i], NULL);
	loop_del_fd(l, loop_sig_pipe[0]);
	loop_compact(l);
	close(loop_sig_pipe[0]);
	close(loop_sig_pipe[1]);
	loop_sig_pipe[0] = loop_sig_pipe[1] = -1;
	loop_sig_owner = NULL;
}

int
loop_run(struct loop *l)
{
	int rc = 0, n;

	l->stop = 0;
	if (loop_sig_install(l) < 0)
		log_warn("no SIGINT/SIGTERM handling");
	while (!l->stop) {
		loop_run_deferred(l);
		loop_run_timers(l);
		if (l->stop)
			break;
		n = loop_prepare_poll(l);
		if (n < 0) {
			log_error("poll set: out of memory");
			rc = -1;
			break;
		}
		n = poll(l->pfds, (nfds_t)n, loop_timeout(l));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("poll");
			rc = -1;
			break;
		}
		if (n > 0)
			loop_dispatch(l);
	}
	loop_sig_remove(l);
	return rc;
}
