/* quantity.h: Kubernetes resource quantities ("265Mi", "100m", "1e3"). */
#ifndef DROVER_QUANTITY_H
#define DROVER_QUANTITY_H

#include <stdint.h>

#include <stddef.h>

/* How the quantity was written; Kubernetes prints it back the same way. */
enum quantity_format {
	QUANTITY_DECIMAL_SI = 0,	/* "", m, k, M, G ... */
	QUANTITY_BINARY_SI,		/* Ki, Mi, Gi ... */
	QUANTITY_DECIMAL_EXP,		/* 1e3 */
};

/* value = (neg ? -1 : 1) * mant * 10^exp10 * 2^exp2, exactly. */
struct quantity {
	uint64_t mant;
	int exp10;
	int exp2;
	int neg;
	enum quantity_format format;
};

/* The pattern KubeVirt's CRDs put on every quantity (int-or-string). */
#define QUANTITY_PATTERN "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))" \
	"(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
/* Kubernetes' resource.ErrFormatWrong text. */
#define QUANTITY_ERR_FORMAT "quantities must match the regular expression " \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

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
/* 1 if s matches QUANTITY_PATTERN, else 0. */
int quantity_pattern_ok(const char *s);
/* -1, 0 or 1. */
int quantity_sign(const struct quantity *q);
/* Compare a and b exactly: -1, 0, 1; -ERANGE if too large to compare. */
int quantity_cmp(const struct quantity *a, const struct quantity *b);
/*
 * Kubernetes' canonical form (Quantity.String()): "1Gi" for "1024Mi",
 * "500m" for "0.5", "1k" for "1000", "1e3" for "1e3". Returns the length
 * or -ERANGE/-ENOSPC.
 */
int quantity_format(const struct quantity *q, char *buf, size_t len);

#endif
