/* quantity.c: exact parsing of Kubernetes resource quantities. */
#include "quantity.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

struct quantity_suffix {
	const char *name;
	int exp10;
	int exp2;
};

/* Longest names first where one is a prefix of another ("Mi" before "M"). */
static const struct quantity_suffix quantity_suffixes[] = {
	{ "Ki", 0, 10 }, { "Mi", 0, 20 }, { "Gi", 0, 30 },
	{ "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
	{ "n", -9, 0 }, { "u", -6, 0 }, { "m", -3, 0 }, { "k", 3, 0 },
	{ "M", 6, 0 }, { "G", 9, 0 }, { "T", 12, 0 }, { "P", 15, 0 },
	{ "E", 18, 0 }, { "", 0, 0 },
};

static int
quantity_fail(const char **why, const char *msg, int err)
{
	if (why)
		*why = msg;
	return err;
}

/* Digits of [+-]?(d+(.d*)?|.d+) into q; returns chars consumed or -errno. */
static int
quantity_number(const char *s, struct quantity *q, const char **why)
{
	const char *p = s;
	int digits = 0, sig = 0, frac = 0, seen_dot = 0;

	if (*p == '+' || *p == '-')
		q->neg = *p++ == '-';
	for (;; p++) {
		if (*p == '.' && !seen_dot) {
			seen_dot = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		digits++;
		if (seen_dot)
			frac++;
		if (sig == 0 && *p == '0') {
			continue;
		}
		if (++sig > QUANTITY_MAX_DIGITS)
			return quantity_fail(why, "too many significant digits",
			    -ERANGE);
		q->mant = q->mant * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0)
		return quantity_fail(why, "a number is required", -EINVAL);
	q->exp10 = -frac;
	return (int)(p - s);
}

/* The e<int> suffix: a signed integer exponent, bounded. */
static int
quantity_exponent(const char *s, int *exp, const char **why)
{
	int neg = 0, n = 0, v = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		v = v * 10 + (*s - '0');
		if (v > 1000)
			return quantity_fail(why, "exponent out of range",
			    -ERANGE);
	}
	if (n == 0 || *s != '\0')
		return quantity_fail(why, "malformed exponent", -EINVAL);
	*exp = neg ? -v : v;
	return 0;
}

int
quantity_parse(const char *s, struct quantity *q, const char **why)
{
	int n, e, r;

	memset(q, 0, sizeof(*q));
	if (s == NULL || *s == '\0')
		return quantity_fail(why, "empty quantity", -EINVAL);
	n = quantity_number(s, q, why);
	if (n < 0)
		return n;
	s += n;
	/* "E" and "Ei" are suffixes; "E" followed by a number is exponent. */
	if ((*s == 'e' || *s == 'E') && s[1] != '\0' && s[1] != 'i') {
		r = quantity_exponent(s + 1, &e, why);
		if (r < 0)
			return r;
		q->exp10 += e;
		return 0;
	}
	for (size_t i = 0; i < sizeof(quantity_suffixes) /
	    sizeof(quantity_suffixes[0]); i++) {
		if (strcmp(s, quantity_suffixes[i].name) == 0) {
			q->exp10 += quantity_suffixes[i].exp10;
			q->exp2 = quantity_suffixes[i].exp2;
			return 0;
		}
	}
	return quantity_fail(why, "unknown suffix", -EINVAL);
}

static int
quantity_mul(uint64_t *v, uint64_t by)
{
	if (*v != 0 && by > UINT64_MAX / *v)
		return -ERANGE;
	*v *= by;
	return 0;
}

int
quantity_scaled(const struct quantity *q, int scale, int64_t *out)
{
	uint64_t v = q->mant, div = 1;
	int e = q->exp10 - scale, inexact = 0;

	if (q->exp2 > 0 && q->exp2 < 64 && quantity_mul(&v, 1ULL << q->exp2))
		return -ERANGE;
	for (; e > 0; e--)
		if (quantity_mul(&v, 10))
			return -ERANGE;
	for (; e < 0 && v != 0; e++) {
		if (div > UINT64_MAX / 10) {
			/* Divisor beyond any value: the rest rounds to 1. */
			v = 0;
			inexact = 1;
			break;
		}
		div *= 10;
	}
	if (div > 1) {
		inexact |= v % div != 0;
		v /= div;
	}
	if (inexact)
		v++;
	if (v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*out = q->neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int
quantity_value(const struct quantity *q, int64_t *out)
{
	return quantity_scaled(q, 0, out);
}

int
quantity_milli(const struct quantity *q, int64_t *out)
{
	return quantity_scaled(q, -3, out);
}
