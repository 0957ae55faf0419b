/* Unit tests: Kubernetes quantity parsing (config/quantity.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "quantity.h"

static int64_t
milli(const char *s)
{
	struct quantity q;
	const char *why = NULL;
	int64_t v = INT64_MIN;

	assert_int_equal(quantity_parse(s, &q, &why), 0);
	assert_int_equal(quantity_milli(&q, &v), 0);
	return v;
}

static int64_t
value(const char *s)
{
	struct quantity q;
	int64_t v = INT64_MIN;

	assert_int_equal(quantity_parse(s, &q, NULL), 0);
	assert_int_equal(quantity_value(&q, &v), 0);
	return v;
}

static void
bad(const char *s, int err)
{
	struct quantity q;
	const char *why = NULL;

	assert_int_equal(quantity_parse(s, &q, &why), err);
	assert_non_null(why);
}

static void
test_binary_si(void **state)
{
	(void)state;
	assert_int_equal(value("265Mi"), 265LL * 1024 * 1024);
	assert_int_equal(value("1Ki"), 1024);
	assert_int_equal(value("2Gi"), 2LL << 30);
	assert_int_equal(value("1Ei"), 1LL << 60);
	assert_int_equal(value("1.5Gi"), 3LL << 29);
}

static void
test_decimal_si(void **state)
{
	(void)state;
	assert_int_equal(milli("100m"), 100);
	assert_int_equal(milli("300m"), 300);
	assert_int_equal(milli("1"), 1000);
	assert_int_equal(milli("0.5"), 500);
	assert_int_equal(milli(".5"), 500);
	assert_int_equal(value("1G"), 1000000000LL);
	assert_int_equal(value("1k"), 1000);
	assert_int_equal(value("3M"), 3000000);
	assert_int_equal(milli("+2"), 2000);
	assert_int_equal(milli("-2"), -2000);
}

static void
test_exponent(void **state)
{
	(void)state;
	assert_int_equal(value("1e3"), 1000);
	assert_int_equal(value("1E3"), 1000);
	assert_int_equal(value("12e-1"), 2); /* 1.2 rounds up */
	assert_int_equal(value("1E"), 1000000000000000000LL); /* exa */
}

static void
test_rounding(void **state)
{
	(void)state;
	/* Kubernetes rounds MilliValue() and Value() up. */
	assert_int_equal(milli("0.0001"), 1);
	assert_int_equal(value("100m"), 1);
	assert_int_equal(milli("1n"), 1);
	assert_int_equal(milli("0"), 0);
	assert_int_equal(value("0.000Ki"), 0);
}

static void
test_errors(void **state)
{
	(void)state;
	bad("", -EINVAL);
	bad("Mi", -EINVAL);
	bad("1Qi", -EINVAL);
	bad("1 Mi", -EINVAL);
	bad("1.2.3", -EINVAL);
	bad("1e", -EINVAL);
	bad("1e3x", -EINVAL);
	bad("--1", -EINVAL);
	bad("1mi", -EINVAL);
	bad("1234567890123456789", -ERANGE);
	bad("1e99999", -ERANGE);
}

static void
test_overflow(void **state)
{
	struct quantity q;
	int64_t v;

	(void)state;
	assert_int_equal(quantity_parse("16Ei", &q, NULL), 0);
	assert_int_equal(quantity_value(&q, &v), -ERANGE);
	assert_int_equal(quantity_parse("10E", &q, NULL), 0);
	assert_int_equal(quantity_milli(&q, &v), -ERANGE);
	assert_int_equal(quantity_parse("1e-400", &q, NULL), 0);
	assert_int_equal(quantity_milli(&q, &v), 0);
	assert_int_equal(v, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binary_si),
		cmocka_unit_test(test_decimal_si),
		cmocka_unit_test(test_exponent),
		cmocka_unit_test(test_rounding),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests_name("quantity", tests, NULL, NULL);
}
