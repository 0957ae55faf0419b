/*
 * loop.h: droverd's single-threaded event loop (poll(2) based).
 *
 * Everything in droverd runs from this loop: the store, the controllers,
 * the VMI runtime, the local API socket and, later, the TLS API (whose
 * library is driven through loop fds). Nothing blocks in a callback for
 * long; slow work (a VMM start) is split into steps driven by fds and
 * timers. Child processes are watched with pidfds (pidfd_open), which
 * also works for VMMs re-adopted after a droverd restart.
 *
 * Callbacks may add and remove fds and timers, including their own.
 * Times are CLOCK_MONOTONIC milliseconds.
 */
#ifndef DROVER_LOOP_H
#define DROVER_LOOP_H

#include <stdint.h>

struct loop;

/* events: POLLIN/POLLOUT/POLLERR/POLLHUP as poll(2) reports them. */
typedef void (*loop_fd_fn)(void *arg, int fd, short revents);
typedef void (*loop_fn)(void *arg);

struct loop *loop_new(void);
/* Frees the loop; does not close the fds registered with it. */
void loop_free(struct loop *l);

/* Watch fd for events (POLLIN, POLLOUT). One registration per fd. */
int loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn fn,
    void *arg);
int loop_mod_fd(struct loop *l, int fd, short events);
void loop_del_fd(struct loop *l, int fd);

/* Call fn once after ms; returns a timer id > 0. */
int loop_timer(struct loop *l, uint64_t ms, loop_fn fn, void *arg);
void loop_cancel(struct loop *l, int id);
/* Call fn on the next iteration, before polling (coalesce work). */
int loop_defer(struct loop *l, loop_fn fn, void *arg);

uint64_t loop_now_ms(void);

/* Run until loop_stop(); 0, or -1 if poll fails for good. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
