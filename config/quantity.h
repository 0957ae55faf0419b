/* quantity.h: Kubernetes resource quantities ("265Mi", "100m", "1e3"). */
#ifndef DROVER_QUANTITY_H
#define DROVER_QUANTITY_H

#include <stdint.h>

/* value = (neg ? -1 : 1) * mant * 10^exp10 * 2^exp2, exactly. */
struct quantity {
	uint64_t mant;
	int exp10;
	int exp2;
	int neg;
};

/* The longest mantissa we keep exactly (digits, without leading zeros). */
#define QUANTITY_MAX_DIGITS 18

/*
 * Parse a quantity as Kubernetes does: <signedNumber><suffix>, suffix one of
 * Ki Mi Gi Ti Pi Ei, n u m "" k M G T P E, or e<int>/E<int>.
 * Returns 0, or -EINVAL (malformed; *why says what) or -ERANGE.
 */
int quantity_parse(const char *s, struct quantity *q, const char **why);
/* Value in units of 10^scale (scale -3: milli), rounded up (away from 0). */
int quantity_scaled(const struct quantity *q, int scale, int64_t *out);
/* Kubernetes' Value() and MilliValue(): rounded up. -ERANGE on overflow. */
int quantity_value(const struct quantity *q, int64_t *out);
int quantity_milli(const struct quantity *q, int64_t *out);

#endif
