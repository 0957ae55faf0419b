/* quantity.c: exact parsing of Kubernetes resource quantities. */
#include "quantity.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 quantity_u128;

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
		q->format = QUANTITY_DECIMAL_EXP;
		return 0;
	}
	for (size_t i = 0; i < sizeof(quantity_suffixes) /
	    sizeof(quantity_suffixes[0]); i++) {
		if (strcmp(s, quantity_suffixes[i].name) == 0) {
			q->exp10 += quantity_suffixes[i].exp10;
			q->exp2 = quantity_suffixes[i].exp2;
			q->format = q->exp2 ? QUANTITY_BINARY_SI :
			    QUANTITY_DECIMAL_SI;
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

/* ---- the CRD pattern -------------------------------------------------- */

static const char *
quantity_digits(const char *s)
{
	while (*s >= '0' && *s <= '9')
		s++;
	return s;
}

/* (([0-9]+(\.[0-9]*)?)|(\.[0-9]+)): the end of the match, or NULL. */
static const char *
quantity_pattern_number(const char *s)
{
	const char *p = quantity_digits(s);

	if (p != s) {
		if (*p == '.')
			p = quantity_digits(p + 1);
		return p;
	}
	if (*s != '.')
		return NULL;
	p = quantity_digits(s + 1);
	return p == s + 1 ? NULL : p;
}

int
quantity_pattern_ok(const char *s)
{
	if (s == NULL)
		return 0;
	if (*s == '+' || *s == '-')
		s++;
	s = quantity_pattern_number(s);
	if (s == NULL)
		return 0;
	if (*s == '\0')
		return 1;
	if (strchr("KMGTPE", *s) && s[1] == 'i' && s[2] == '\0')
		return 1;
	if (strchr("numkMGTPE", *s) && s[1] == '\0')
		return 1;
	if (*s != 'e' && *s != 'E')
		return 0;
	s++;
	if (*s == '+' || *s == '-')
		s++;
	s = quantity_pattern_number(s);
	return s != NULL && *s == '\0';
}

/* ---- comparing and printing ----------------------------------------- */

int
quantity_sign(const struct quantity *q)
{
	if (q->mant == 0)
		return 0;
	return q->neg ? -1 : 1;
}

/* mant * 2^exp2, exactly (exp2 <= 60 and mant < 10^18: fits). */
static quantity_u128
quantity_wide(const struct quantity *q)
{
	quantity_u128 v = q->mant;

	if (q->exp2 > 0 && q->exp2 <= 64)
		v <<= q->exp2;
	return v;
}

/* v * 10^n; -ERANGE on overflow of 127 bits. */
static int
quantity_mul10(quantity_u128 *v, int n)
{
	const quantity_u128 lim = ((quantity_u128)1 << 126) / 10;

	for (; n > 0; n--) {
		if (*v > lim)
			return -ERANGE;
		*v *= 10;
	}
	return 0;
}

/* |a| vs |b| for non-zero a and b. */
static int
quantity_cmp_abs(const struct quantity *a, const struct quantity *b)
{
	quantity_u128 va = quantity_wide(a), vb = quantity_wide(b);
	int ea = a->exp10, eb = b->exp10;

	if (ea > eb && quantity_mul10(&va, ea - eb) < 0)
		return 1;
	if (eb > ea && quantity_mul10(&vb, eb - ea) < 0)
		return -1;
	return va < vb ? -1 : va > vb;
}

int
quantity_cmp(const struct quantity *a, const struct quantity *b)
{
	int sa = quantity_sign(a), sb = quantity_sign(b);

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	return sa * quantity_cmp_abs(a, b);
}

static int
quantity_print(char *buf, size_t len, int neg, quantity_u128 v,
    const char *suffix)
{
	char digits[48];
	int n = 0, r;

	do {
		digits[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0 && n < (int)sizeof(digits));
	if (len < (size_t)n + (size_t)neg + strlen(suffix) + 1)
		return -ENOSPC;
	r = 0;
	if (neg)
		buf[r++] = '-';
	while (n > 0)
		buf[r++] = digits[--n];
	strcpy(buf + r, suffix);
	return r + (int)strlen(suffix);
}

/* Integer value, if the quantity is one and fits; else -1. */
static int
quantity_integer(const struct quantity *q, quantity_u128 *out)
{
	quantity_u128 v = quantity_wide(q), p = 1;
	int e = q->exp10;

	if (e >= 0) {
		if (quantity_mul10(&v, e) < 0)
			return -1;
		*out = v;
		return 0;
	}
	if (quantity_mul10(&p, -e) < 0 || v % p != 0)
		return -1;
	*out = v / p;
	return 0;
}

static int
quantity_format_binary(const struct quantity *q, quantity_u128 v, char *buf,
    size_t len)
{
	static const char *const sfx[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi",
	    "Ei" };
	int i = 0;

	while (i < 6 && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	return quantity_print(buf, len, q->neg, v, sfx[i]);
}

static const char *
quantity_si_suffix(int e)
{
	static const char *const sfx[] = { "n", "u", "m", "", "k", "M", "G",
	    "T", "P", "E" };

	if (e < -9 || e > 18 || e % 3 != 0)
		return NULL;
	return sfx[(e + 9) / 3];
}

static int
quantity_format_decimal(const struct quantity *q, char *buf, size_t len)
{
	quantity_u128 v = quantity_wide(q), p = 1;
	int e = q->exp10;
	const char *sfx;
	char exp[16];

	while (v % 10 == 0) {
		v /= 10;
		e++;
	}
	if (e < -9) {	/* Kubernetes keeps nano precision, rounding up */
		if (quantity_mul10(&p, -9 - e) < 0)
			v = 1;
		else
			v = v / p + (v % p != 0);
		e = -9;
	}
	for (; ((e % 3) + 3) % 3 != 0; e--)
		if (quantity_mul10(&v, 1) < 0)
			return -ERANGE;
	sfx = q->format == QUANTITY_DECIMAL_EXP ? NULL : quantity_si_suffix(e);
	if (sfx == NULL) {
		if (e == 0)
			exp[0] = '\0';
		else
			snprintf(exp, sizeof(exp), "e%d", e);
		sfx = exp;
	}
	return quantity_print(buf, len, q->neg, v, sfx);
}

int
quantity_format(const struct quantity *q, char *buf, size_t len)
{
	quantity_u128 v;

	if (q->mant == 0)
		return quantity_print(buf, len, 0, 0, "");
	if (q->format == QUANTITY_BINARY_SI && quantity_integer(q, &v) == 0 &&
	    v >= 1024)
		return quantity_format_binary(q, v, buf, len);
	return quantity_format_decimal(q, buf, len);
}
