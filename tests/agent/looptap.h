/*
 * looptap.h: the bare-host agent test programs' common parts
 * (tests/agent/rt_test.c, console_bridge.c): TAP lines and running the
 * real loop until a condition holds.
 */
#ifndef DROVER_TESTS_LOOPTAP_H
#define DROVER_TESTS_LOOPTAP_H

struct loop;

/* How many checks failed so far. */
extern int looptap_failures;

/* "ok - PREFIX: NAME" or "not ok - PREFIX: NAME # why" (fmt, when not
 * ok); the prefix is set once with looptap_prefix. */
void looptap_prefix(const char *prefix);
void looptap_check(int ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run the loop until cond(arg) holds (checked every 20 ms): 1, or 0
 * after ms milliseconds. */
int looptap_wait(struct loop *l, int (*cond)(const void *arg),
    const void *arg, unsigned ms);

#endif
