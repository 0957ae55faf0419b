/* Unit tests: droverd's event loop (agent/loop.c). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "loop.h"

struct rec {
	struct loop *l;
	char trace[256];
	int count;
	int fds[2];
	int other[2];
	int id;
};

static void
rec_add(struct rec *r, const char *s)
{
	strncat(r->trace, s, sizeof(r->trace) - strlen(r->trace) - 1);
}

static void
stop_cb(void *arg)
{
	loop_stop(((struct rec *)arg)->l);
}

static void t_a(void *arg) { rec_add(arg, "a"); }
static void t_b(void *arg) { rec_add(arg, "b"); }
static void t_c(void *arg) { rec_add(arg, "c"); }

static void
test_timers_order_and_cancel(void **state)
{
	struct rec r = { 0 };
	uint64_t t0 = loop_now_ms();
	int id;

	(void)state;
	r.l = loop_new();
	assert_non_null(r.l);
	assert_true(loop_timer(r.l, 30, t_c, &r) > 0);
	assert_true(loop_timer(r.l, 0, t_a, &r) > 0);
	id = loop_timer(r.l, 10, t_b, &r);
	assert_true(id > 0);
	assert_true(loop_timer(r.l, 10, t_b, &r) > 0);
	loop_cancel(r.l, id);
	loop_cancel(r.l, 9999);		/* unknown ids are ignored */
	assert_true(loop_timer(r.l, 50, stop_cb, &r) > 0);
	assert_true(loop_timer(r.l, UINT64_MAX, t_a, &r) > 0);	/* never */
	assert_int_equal(loop_run(r.l), 0);
	assert_string_equal(r.trace, "abc");
	assert_true(loop_now_ms() - t0 >= 50);
	loop_free(r.l);
}

static void
defer_inner(void *arg)
{
	rec_add(arg, "i");
}

static void
defer_outer(void *arg)
{
	struct rec *r = arg;

	rec_add(r, "o");
	/* Deferred from a deferred call: runs on the next iteration. */
	assert_true(loop_defer(r->l, defer_inner, r) > 0);
	assert_true(loop_timer(r->l, 0, t_b, r) > 0);
}

static void
test_defer(void **state)
{
	struct rec r = { 0 };
	int id;

	(void)state;
	r.l = loop_new();
	assert_true(loop_defer(r.l, defer_outer, &r) > 0);
	id = loop_defer(r.l, t_c, &r);
	assert_true(id > 0);
	assert_true(loop_defer(r.l, t_a, &r) > 0);
	loop_cancel(r.l, id);
	assert_true(loop_timer(r.l, 20, stop_cb, &r) > 0);
	assert_int_equal(loop_run(r.l), 0);
	/*
	 * o and a before the first poll (c was cancelled); the 0 ms timer
	 * armed in o fires right after the deferred queue; i, deferred from
	 * a deferred call, on the next iteration.
	 */
	assert_string_equal(r.trace, "oabi");
	loop_free(r.l);
}

static void
fd_read_cb(void *arg, int fd, short revents)
{
	struct rec *r = arg;
	char buf[16];
	ssize_t n;

	assert_true(revents & POLLIN);
	n = read(fd, buf, sizeof(buf));
	assert_true(n > 0);
	r->count++;
	if (r->count == 2) {
		/* Remove our own registration from inside the callback. */
		loop_del_fd(r->l, fd);
		loop_stop(r->l);
	}
}

static void
write_byte(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

static void
t_write(void *arg)
{
	write_byte(((struct rec *)arg)->fds[1]);
}

static void
test_fd_self_remove(void **state)
{
	struct rec r = { 0 };

	(void)state;
	r.l = loop_new();
	assert_int_equal(pipe(r.fds), 0);
	assert_int_equal(loop_add_fd(r.l, r.fds[0], POLLIN, fd_read_cb, &r),
	    0);
	assert_int_equal(loop_add_fd(r.l, r.fds[0], POLLIN, fd_read_cb, &r),
	    -EEXIST);
	assert_int_equal(loop_mod_fd(r.l, 12345, POLLIN), -ENOENT);
	write_byte(r.fds[1]);
	assert_true(loop_timer(r.l, 5, t_write, &r) > 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_int_equal(r.count, 2);
	/* Removed: a third byte is not read by a new run. */
	write_byte(r.fds[1]);
	assert_true(loop_timer(r.l, 20, stop_cb, &r) > 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_int_equal(r.count, 2);
	close(r.fds[0]);
	close(r.fds[1]);
	loop_free(r.l);
}

static void
other_cb(void *arg, int fd, short revents)
{
	struct rec *r = arg;

	(void)fd;
	(void)revents;
	rec_add(r, "X");	/* must never run */
}

static void
new_cb(void *arg, int fd, short revents)
{
	struct rec *r = arg;
	char c;

	(void)revents;
	assert_int_equal(read(fd, &c, 1), 1);
	rec_add(r, "n");
	loop_stop(r->l);
}

static void
first_cb(void *arg, int fd, short revents)
{
	struct rec *r = arg;
	char c;

	(void)revents;
	assert_int_equal(read(fd, &c, 1), 1);
	rec_add(r, "f");
	/*
	 * Remove the other fd (which is readable in this same poll) and
	 * register it again with another callback: the event polled for the
	 * old registration must not reach the new one.
	 */
	loop_del_fd(r->l, r->other[0]);
	assert_int_equal(loop_add_fd(r->l, r->other[0], POLLIN, new_cb, r),
	    0);
}

static void
test_fd_replaced_in_callback(void **state)
{
	struct rec r = { 0 };

	(void)state;
	r.l = loop_new();
	assert_int_equal(pipe(r.fds), 0);
	assert_int_equal(pipe(r.other), 0);
	assert_int_equal(loop_add_fd(r.l, r.fds[0], POLLIN, first_cb, &r), 0);
	assert_int_equal(loop_add_fd(r.l, r.other[0], POLLIN, other_cb, &r),
	    0);
	write_byte(r.fds[1]);
	write_byte(r.other[1]);
	assert_int_equal(loop_run(r.l), 0);
	/* The new registration sees the byte on the next poll. */
	assert_string_equal(r.trace, "fn");
	for (int i = 0; i < 2; i++) {
		close(r.fds[i]);
		close(r.other[i]);
	}
	loop_free(r.l);
}

static void
rearm_cb(void *arg)
{
	struct rec *r = arg;

	r->id++;
	assert_true(loop_timer(r->l, 0, rearm_cb, r) > 0);
}

static void
count_read_cb(void *arg, int fd, short revents)
{
	struct rec *r = arg;
	char c;

	(void)revents;
	assert_int_equal(read(fd, &c, 1), 1);
	loop_stop(r->l);
}

static void
test_zero_timer_does_not_starve(void **state)
{
	struct rec r = { 0 };

	(void)state;
	r.l = loop_new();
	assert_int_equal(pipe(r.fds), 0);
	assert_int_equal(loop_add_fd(r.l, r.fds[0], POLLIN, count_read_cb, &r),
	    0);
	assert_true(loop_timer(r.l, 0, rearm_cb, &r) > 0);
	write_byte(r.fds[1]);
	assert_int_equal(loop_run(r.l), 0);
	assert_true(r.id >= 1 && r.id < 10);
	close(r.fds[0]);
	close(r.fds[1]);
	loop_free(r.l);
}

static void
t_kill(void *arg)
{
	(void)arg;
	assert_int_equal(kill(getpid(), SIGTERM), 0);
}

static volatile sig_atomic_t usr_handler_ran;

static void
usr_handler(int sig)
{
	(void)sig;
	usr_handler_ran = 1;
}

static void
test_sigterm_stops(void **state)
{
	struct rec r = { 0 };
	struct sigaction sa, cur;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usr_handler;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGTERM, &sa, NULL), 0);
	r.l = loop_new();
	assert_true(loop_timer(r.l, 10, t_kill, &r) > 0);
	assert_true(loop_timer(r.l, 2000, t_a, &r) > 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_string_equal(r.trace, "");	/* stopped before 2 s */
	assert_int_equal(usr_handler_ran, 0);
	/* The previous handler is back. */
	assert_int_equal(sigaction(SIGTERM, NULL, &cur), 0);
	assert_ptr_equal(cur.sa_handler, usr_handler);
	/* A second run works (the loop re-installs its handler). */
	assert_true(loop_timer(r.l, 10, t_kill, &r) > 0);
	assert_int_equal(loop_run(r.l), 0);
	assert_string_equal(r.trace, "");
	loop_free(r.l);
	signal(SIGTERM, SIG_DFL);
}

static void
test_bad_args(void **state)
{
	struct loop *l = loop_new();

	(void)state;
	assert_int_equal(loop_add_fd(l, -1, POLLIN, fd_read_cb, NULL),
	    -EINVAL);
	assert_int_equal(loop_add_fd(l, 0, POLLIN, NULL, NULL), -EINVAL);
	assert_true(loop_timer(l, 0, NULL, NULL) < 0);
	loop_del_fd(l, 77);	/* unknown: ignored */
	loop_free(l);
	loop_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_order_and_cancel),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_fd_self_remove),
		cmocka_unit_test(test_fd_replaced_in_callback),
		cmocka_unit_test(test_zero_timer_does_not_starve),
		cmocka_unit_test(test_sigterm_stops),
		cmocka_unit_test(test_bad_args),
	};

	log_init("unit", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests_name("agent_loop", tests, NULL, NULL);
}
