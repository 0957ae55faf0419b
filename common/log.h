/* log.h: Drover's one logging module. Levels, a per-process tag, __func__. */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Set the process tag ("droverd", "vmm[vmi-name]") and the threshold. */
void log_init(const char *tag, enum log_level level);
/* Also append every message to this file (NULL: stop). 0 or -errno. */
int log_set_file(const char *path);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
/* Send the formatted lines to a callback instead of stderr (tests). */
void log_set_sink(void (*sink)(enum log_level, const char *line, void *arg),
    void *arg);

void log_msg(enum log_level level, const char *func, int with_errno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_fatal(const char *func, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* log_warn adds strerror(errno); log_warnx does not (as in OpenBSD). */
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __func__, 1, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LEVEL_WARN, __func__, 0, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __func__, 0, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __func__, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __func__, 0, __VA_ARGS__)
/* Only during set-up: print and exit(1). */
#define fatal(...)     log_fatal(__func__, 1, __VA_ARGS__)
#define fatalx(...)    log_fatal(__func__, 0, __VA_ARGS__)

#endif
