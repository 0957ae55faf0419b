/* looptap.c: see looptap.h. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "loop.h"
#include "looptap.h"

int looptap_failures;
static const char *looptap_pfx = "test";

void
looptap_prefix(const char *prefix)
{
	looptap_pfx = prefix;
}

void
looptap_check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s - %s: %s", ok ? "ok" : "not ok", looptap_pfx, name);
	if (!ok && fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
	looptap_failures += !ok;
}

struct looptap_waiter {
	struct loop *l;
	int (*cond)(const void *arg);
	const void *arg;
	uint64_t deadline;
	int ok, timer;
};

static void
looptap_tick(void *arg)
{
	struct looptap_waiter *w = arg;

	w->timer = 0;
	if (w->cond(w->arg)) {
		w->ok = 1;
		loop_stop(w->l);
	} else if (loop_now_ms() > w->deadline)
		loop_stop(w->l);
	else
		w->timer = loop_timer(w->l, 20, looptap_tick, w);
}

int
looptap_wait(struct loop *l, int (*cond)(const void *arg), const void *arg,
    unsigned ms)
{
	struct looptap_waiter w = { l, cond, arg, loop_now_ms() + ms, 0, 0 };

	w.timer = loop_timer(l, 0, looptap_tick, &w);
	loop_run(l);
	if (w.timer)
		loop_cancel(l, w.timer);
	return w.ok;
}
