/* boottimer.c: the boot-time marker (see boottimer.h). */
#include "boottimer.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct boottimer {
	struct timespec start;
	uint8_t last;
	unsigned writes;
	double booted_ms;	/* first BOOTTIMER_MAGIC; -1: not yet */
};

double
boottimer_booted_ms(const void *dev)
{
	const struct boottimer *bt = dev;

	return bt ? bt->booted_ms : -1;
}

double
boottimer_since_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void
bt_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct boottimer *bt = dev;

	memset(data, 0, len);
	if (off == 0 && len > 0)
		data[0] = bt->last;
}

static void
bt_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct boottimer *bt = dev;

	if (off != 0 || len == 0)
		return;
	bt->last = data[0];
	if (data[0] == BOOTTIMER_MAGIC && bt->booted_ms < 0)
		bt->booted_ms = boottimer_since_ms(&bt->start);
	/* Only the first few: a looping guest must not flood the log. */
	if (bt->writes++ < 16)
		log_info("guest boot-timer mark %u%s: %.3f ms since VMM start",
		    data[0], data[0] == BOOTTIMER_MAGIC ? " (boot complete)" :
		    "", boottimer_since_ms(&bt->start));
}

static void *
bt_create(const struct vmm_dev_host *host)
{
	struct boottimer *bt = calloc(1, sizeof(*bt));

	if (bt) {
		bt->start = host->start;
		bt->booted_ms = -1;
	}
	return bt;
}

static void
bt_destroy(void *dev)
{
	free(dev);
}

const struct vmm_dev_ops boottimer_ops = {
	.name = "boottimer",
	.create = bt_create,
	.destroy = bt_destroy,
	.read = bt_read,
	.write = bt_write,
};
