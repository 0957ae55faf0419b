/* log.c: levelled logging with a per-process tag, to stderr or a sink. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

static char log_tag[64] = "drover";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_fd = -1;
static void (*log_sink)(enum log_level, const char *, void *);
static void *log_sink_arg;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(const char *tag, enum log_level level)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "drover");
	log_threshold = level;
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level
log_get_level(void)
{
	return log_threshold;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (name && strcmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

int
log_set_file(const char *path)
{
	int fd = -1;

	if (path) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			return -errno;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
log_set_sink(void (*sink)(enum log_level, const char *, void *), void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

static void
log_emit(enum log_level level, const char *line)
{
	size_t len = strlen(line);

	if (log_sink) {
		log_sink(level, line, log_sink_arg);
		return;
	}
	/* One write per line keeps lines whole when processes share stderr. */
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nothing sensible to do: logging must never fail the caller. */
	}
	if (log_fd >= 0 && write(log_fd, line, len) < 0) {
		/* Same. */
	}
}

static void
log_vformat(enum log_level level, const char *func, int err, const char *fmt,
    va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%03ld %s %s: %s: ",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000000, log_tag,
	    log_names[level], func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n = (size_t)(n + m) >= sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m;
	if (err) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, ": %s",
		    strerror(err));
		if (m > 0)
			n = (size_t)(n + m) >= sizeof(line) - 2 ?
			    (int)sizeof(line) - 2 : n + m;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	log_emit(level, line);
}

void
log_msg(enum log_level level, const char *func, int with_errno,
    const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	log_vformat(level, func, with_errno ? saved : 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(const char *func, int with_errno, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vformat(LOG_LEVEL_ERROR, func, with_errno ? saved : 0, fmt, ap);
	va_end(ap);
	exit(1);
}
