/*
 * errfmt.h: "return xx_fail(e, -EINVAL, "bad %s", what)" for modules that
 * report errors in a caller's struct with a char msg[] (e may be NULL).
 * Header-only, so each parser (and its fuzz target) links nothing more.
 */
#ifndef DROVER_ERRFMT_H
#define DROVER_ERRFMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline int __attribute__((format(printf, 4, 5)))
errfmt(char *msg, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* E: a pointer to a struct with a char msg[] member, or NULL. */
#define ERRFMT(E, ERR, ...) \
	errfmt((E) ? (E)->msg : NULL, sizeof((E)->msg), (ERR), __VA_ARGS__)

#endif
