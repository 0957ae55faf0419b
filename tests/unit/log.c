/* Unit tests: the logging module (common/log.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

static char last[2048];
static int count;

static void
sink(enum log_level level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(last, sizeof(last), "%s", line);
	count++;
}

static int
setup(void **state)
{
	(void)state;
	log_init("unit", LOG_LEVEL_INFO);
	log_set_sink(sink, NULL);
	last[0] = '\0';
	count = 0;
	return 0;
}

static void
test_format(void **state)
{
	(void)state;
	log_info("hello %d", 42);
	assert_int_equal(count, 1);
	assert_non_null(strstr(last, " unit info: test_format: hello 42\n"));
}

static void
test_threshold(void **state)
{
	(void)state;
	log_debug("hidden");
	assert_int_equal(count, 0);
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown");
	assert_int_equal(count, 1);
	log_set_level(LOG_LEVEL_ERROR);
	log_warnx("hidden too");
	assert_int_equal(count, 1);
}

static void
test_errno(void **state)
{
	(void)state;
	errno = ENOENT;
	log_warn("open %s", "x");
	assert_non_null(strstr(last, "open x: No such file or directory\n"));
	assert_int_equal(errno, ENOENT);
}

static void
test_long_line(void **state)
{
	char big[4096];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errno = EIO;
	log_warn("%s", big);
	assert_true(strlen(last) < 1024);
	assert_int_equal(last[strlen(last) - 1], '\n');
}

static void
test_level_parse(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

static void
test_file(void **state)
{
	char path[] = "/tmp/drover-log-XXXXXX", buf[256] = "";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	log_set_sink(NULL, NULL);
	assert_int_equal(log_set_file(path), 0);
	log_error("to the file");
	assert_int_equal(log_set_file(NULL), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	unlink(path);
	assert_non_null(strstr(buf, "unit error: test_file: to the file"));
	assert_int_equal(log_set_file("/nonexistent/dir/log"), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test_setup(test_threshold, setup),
		cmocka_unit_test_setup(test_errno, setup),
		cmocka_unit_test_setup(test_long_line, setup),
		cmocka_unit_test_setup(test_level_parse, setup),
		cmocka_unit_test_setup(test_file, setup),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
