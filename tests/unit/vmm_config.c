/*
 * Unit tests: drover-vmm's command line and JSON config (vmm/config.c):
 * good values, every refusal (bad values, unknown fields, options not
 * built yet), disks' pinned backing chains (config_dev.c) with the
 * messages that name the field, and the rule that --config stands alone.
 */
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

#include "config.h"

static int
parse(struct vmm_config *c, enum vmm_config_action *act, ...)
{
	char *argv[32] = { "drover-vmm" };
	int argc = 1;
	va_list ap;

	va_start(ap, act);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	vmm_config_init(c);
	return vmm_config_parse_args(c, argc, argv, act);
}

static void
test_args_good(void **state)
{
	struct vmm_config c;
	enum vmm_config_action act;

	(void)state;
	assert_int_equal(parse(&c, &act, "--kernel", "vmlinuz", "--initrd",
	    "initrd.img", "--cmdline", "console=ttyS0", "--mem", "512Mi",
	    "--cpus", "2", "--console", "stdio", NULL), 0);
	assert_int_equal(act, VMM_CONFIG_RUN);
	assert_string_equal(c.kernel, "vmlinuz");
	assert_string_equal(c.initrd, "initrd.img");
	assert_string_equal(c.cmdline, "console=ttyS0");
	assert_int_equal(c.mem, 512ULL << 20);
	assert_int_equal(c.cpus, 2);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--mem", "1Gi",
	    "--console", "none", NULL), 0);
	assert_int_equal(c.mem, 1ULL << 30);
	assert_int_equal(c.console, VMM_CONSOLE_NONE);
	assert_int_equal(c.cpus, 1);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--console",
	    "tcp:4444", NULL), 0);
	assert_int_equal(c.console, VMM_CONSOLE_TCP);
	assert_string_equal(c.console_path, "4444");
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--console",
	    "tcp:0.0.0.0:4444", NULL), 0);
	assert_int_equal(c.stop_timeout, VMM_DEFAULT_STOP_TIMEOUT);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--stop-timeout",
	    "0", NULL), 0);
	assert_int_equal(c.stop_timeout, 0);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--user",
	    "1000:100", "--seccomp", "off", NULL), 0);
	assert_true(c.has_user);
	assert_int_equal(c.uid, 1000);
	assert_int_equal(c.gid, 100);
	assert_int_equal(c.seccomp, 0);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--help", NULL), 0);
	assert_int_equal(act, VMM_CONFIG_HELP);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--version", NULL), 0);
	assert_int_equal(act, VMM_CONFIG_VERSION);
	vmm_config_free(&c);
}

static void
test_args_bad(void **state)
{
	struct vmm_config c;
	enum vmm_config_action act;
	static const char *bad[][3] = {
		{ "--mem", "12Q" }, { "--mem", "1Mi" }, { "--mem", "2Ti" },
		{ "--mem", "4097Ki" }, { "--mem", "-8Mi" }, { "--cpus", "0" },
		{ "--cpus", "65" }, { "--cpus", "1x" }, { "--cpus", "" },
		{ "--disk", "ro" }, { "--disk", "path=a,rw" },
		{ "--disk", "path=a,serial=has space" },
		{ "--disk", "path=a,serial=123456789012345678901" },
		{ "--disk", "path=" }, { "--net", "mac=52:54:00:12:34:56" },
		{ "--net", "tap=t0,fd=4" }, { "--net", "tap=t0,mac=01:00:00:00:00:01" },
		{ "--net", "tap=t0,mac=52:54:00:12:34" }, { "--net", "fd=1" },
		{ "--net", "fd=x" }, { "--net", "tap=0123456789abcdef" },
		{ "--net", "tap=a/b" }, { "--net", "tap=t0,mac=52:54:00:12:34:5g" },
		{ "--rng", "yes" },
		{ "--console", "tcp:127.0.0.1:0" }, { "--console", "serial" },
		{ "--console", "tcp:localhost:5555" }, { "--console", "tcp:" },
		{ "--console", "tcp:1.2.3.4:70000" }, { "--console", "unix:" },
		{ "--log-level", "loud" }, { "--kernel", "" },
		{ "--stop-timeout", "-1" }, { "--stop-timeout", "3601" },
		{ "--stop-timeout", "5s" }, { "--user", "abc" },
		{ "--user", "1000:" }, { "--user", "-1:0" }, { "--user", "1000" },
		{ "--user", "1:2:3" }, { "--seccomp", "maybe" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, &act, "--kernel", "k",
		    (char *)bad[i][0], (char *)bad[i][1], NULL), -EINVAL);
		vmm_config_free(&c);
	}
	assert_int_equal(parse(&c, &act, "--cpus", "1", NULL), -EINVAL);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "extra", NULL),
	    -EINVAL);
	vmm_config_free(&c);
}

static int
json(struct vmm_config *c, const char *text)
{
	vmm_config_init(c);
	return vmm_config_parse_json(c, text, strlen(text), "vm.json");
}

static void
test_json(void **state)
{
	struct vmm_config c;

	(void)state;
	assert_int_equal(json(&c, "{\"kernel\": \"k\", \"mem\": \"64Mi\", "
	    "\"cpus\": 2, \"cmdline\": \"\", \"console\": \"stdio\", "
	    "\"log-level\": \"debug\", \"exit-file\": \"/run/x/exit\"}"), 0);
	assert_string_equal(c.kernel, "k");
	assert_string_equal(c.exit_file, "/run/x/exit");
	assert_int_equal(c.mem, 64ULL << 20);
	assert_int_equal(c.cpus, 2);
	assert_string_equal(c.cmdline, "");
	assert_int_equal(c.log_level, 3);
	assert_int_equal(vmm_config_validate(&c), 0);
	vmm_config_free(&c);
	assert_int_equal(json(&c, "{\"kernel\": \"k\", \"mem\": 67108864}"), 0);
	assert_int_equal(c.mem, 64ULL << 20);
	vmm_config_free(&c);
}

static void
test_devices(void **state)
{
	struct vmm_config c;
	enum vmm_config_action act;

	(void)state;
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--disk",
	    "path=a.raw", "--disk", "path=b.raw,ro,serial=SN-1", "--net",
	    "tap=tap0,mac=52:54:00:ab:cd:ef", "--net", "fd=7", "--rng", "off",
	    NULL), 0);
	assert_int_equal(c.ndisks, 2);
	assert_string_equal(c.disk[0].path, "a.raw");
	assert_int_equal(c.disk[0].ro, 0);
	assert_null(c.disk[0].serial);
	assert_int_equal(c.disk[1].ro, 1);
	assert_string_equal(c.disk[1].serial, "SN-1");
	assert_int_equal(c.nnets, 2);
	assert_string_equal(c.net[0].tap, "tap0");
	assert_int_equal(c.net[0].has_mac, 1);
	assert_int_equal(c.net[0].mac[5], 0xef);
	assert_int_equal(c.net[1].fd, 7);
	assert_int_equal(c.net[1].has_mac, 0);
	assert_int_equal(c.rng, 0);
	vmm_config_free(&c);
	assert_int_equal(json(&c, "{\"kernel\": \"k\", \"disk\": [{\"path\": "
	    "\"a\", \"ro\": true, \"serial\": \"X\"}, \"path=b\"], \"net\": "
	    "{\"fd\": 5, \"mac\": \"02:00:00:00:00:01\"}, \"rng\": false}"), 0);
	assert_int_equal(c.ndisks, 2);
	assert_int_equal(c.disk[0].ro, 1);
	assert_string_equal(c.disk[1].path, "b");
	assert_int_equal(c.nnets, 1);
	assert_int_equal(c.net[0].fd, 5);
	assert_int_equal(c.net[0].mac[0], 2);
	assert_int_equal(c.rng, 0);
	vmm_config_free(&c);
	vmm_config_init(&c);
	assert_int_equal(c.rng, 1);	/* default */
	/* One disk more than the limit is refused. */
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--disk", "path=1",
	    "--disk", "path=2", "--disk", "path=3", "--disk", "path=4",
	    "--disk", "path=5", "--disk", "path=6", "--disk", "path=7",
	    "--disk", "path=8", NULL), 0);
	assert_int_equal(c.ndisks, VMM_MAX_DISKS);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--kernel", "k", "--disk", "path=1",
	    "--disk", "path=2", "--disk", "path=3", "--disk", "path=4",
	    "--disk", "path=5", "--disk", "path=6", "--disk", "path=7",
	    "--disk", "path=8", "--disk", "path=9", NULL), -EINVAL);
	vmm_config_free(&c);
}

static void
test_json_bad(void **state)
{
	static const char *bad[] = {
		"", "[]", "{", "{\"kernel\": 1}", "{\"cpus\": \"2\"}",
		"{\"cpus\": 1.5}", "{\"mem\": true}", "{\"mem\": -1}",
		"{\"mem\": 1e300}", "{\"colour\": \"blue\"}",
		"{\"disk\": [{\"ro\": true}]}", "{\"disk\": [{\"path\": 1}]}",
		"{\"disk\": [{\"path\": \"a\", \"ro\": \"yes\"}]}", "{\"disk\": [3]}",
		"{\"net\": [{\"tap\": \"t\", \"fd\": 4}]}", "{\"net\": [{\"fd\": \"4\"}]}",
		"{\"net\": [{\"tap\": \"t\", \"colour\": \"red\"}]}", "{\"rng\": 1}",
"{\"user\": 1000}",
		"{\"kernel\": \"a\", \"kernel\": \"b\"}",
		"{\"console\": \"tcp:1.2.3.4:x\"}", "{\"console\": \"unix:\"}", "{\"log-level\": \"loud\"}",
		"{\"stop-timeout\": \"10\"}", "{\"stop-timeout\": -5}",
		"{\"exit-file\": 1}", "{\"exit-file\": \"\"}",
	};
	struct vmm_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (json(&c, bad[i]) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		vmm_config_free(&c);
	}
	assert_int_equal(json(&c, "{\"mem\": \"64Mi\"}"), 0);
	assert_int_equal(vmm_config_validate(&c), -EINVAL);	/* no kernel */
	vmm_config_free(&c);
}

/* ---- disks' backing chains (config_dev.c) ------------------------------- */

static char errbuf[4096];

/* Run fn's parse with stderr captured in errbuf. */
static int
captured(int (*fn)(struct vmm_config *, const void *), struct vmm_config *c,
    const void *arg)
{
	FILE *f = tmpfile();
	int saved = dup(2), err;
	size_t n;

	assert_non_null(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	err = fn(c, arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(errbuf, 1, sizeof(errbuf) - 1, f);
	errbuf[n] = '\0';
	fclose(f);
	return err;
}

static int
disk_spec(struct vmm_config *c, const void *spec)
{
	enum vmm_config_action act;

	return parse(c, &act, "--kernel", "k", "--disk", (char *)spec, NULL);
}

static int
disk_json(struct vmm_config *c, const void *text)
{
	return json(c, text);
}

static void
assert_chain(const struct vmm_config *c, unsigned n, const char *const *paths,
    const enum vmm_disk_format *fmts)
{
	assert_int_equal(c->ndisks, 1);
	assert_int_equal(c->disk[0].format, VMM_DISK_QCOW2);
	assert_int_equal(c->disk[0].nbacking, n);
	for (unsigned i = 0; i < n; i++) {
		assert_string_equal(c->disk[0].backing[i].path, paths[i]);
		assert_int_equal(c->disk[0].backing[i].format, fmts[i]);
	}
}

static void
test_disk_chain(void **state)
{
	static const char *const p3[] = { "mid.qcow2", "low.qcow2", "base.raw" };
	static const enum vmm_disk_format f3[] = { VMM_DISK_QCOW2,
	    VMM_DISK_QCOW2, VMM_DISK_RAW };
	char spec[2048], text[4096];
	struct vmm_config c;
	size_t n;

	(void)state;
	/* One level, as before: the formats may come before the files. */
	assert_int_equal(disk_spec(&c, "path=t.qcow2,format=qcow2,"
	    "backing-format=raw,backing=base.raw"), 0);
	assert_chain(&c, 1, p3 + 2, f3 + 2);
	vmm_config_free(&c);
	/* Pairs, one per level; and grouped (the i-th with the i-th). */
	assert_int_equal(disk_spec(&c, "path=t.qcow2,format=qcow2,"
	    "backing=mid.qcow2,backing-format=qcow2,backing=low.qcow2,"
	    "backing-format=qcow2,backing=base.raw,backing-format=raw"), 0);
	assert_chain(&c, 3, p3, f3);
	vmm_config_free(&c);
	assert_int_equal(disk_spec(&c, "path=t.qcow2,format=qcow2,"
	    "backing=mid.qcow2,backing=low.qcow2,backing=base.raw,"
	    "backing-format=qcow2,backing-format=qcow2,backing-format=raw"), 0);
	assert_chain(&c, 3, p3, f3);
	vmm_config_free(&c);
	/* JSON: the one-file form, a list, one object, a spec string. */
	assert_int_equal(json(&c, "{\"disk\": [{\"path\": \"t.qcow2\", "
	    "\"format\": \"qcow2\", \"backing\": \"base.raw\", "
	    "\"backing-format\": \"raw\"}]}"), 0);
	assert_chain(&c, 1, p3 + 2, f3 + 2);
	vmm_config_free(&c);
	assert_int_equal(json(&c, "{\"disk\": {\"path\": \"t.qcow2\", "
	    "\"format\": \"qcow2\", \"backing\": [{\"path\": \"mid.qcow2\", "
	    "\"format\": \"qcow2\"}, {\"format\": \"qcow2\", \"path\": "
	    "\"low.qcow2\"}, {\"path\": \"base.raw\", \"format\": \"raw\"}]}}"),
	    0);
	assert_chain(&c, 3, p3, f3);
	vmm_config_free(&c);
	assert_int_equal(json(&c, "{\"disk\": {\"path\": \"t.qcow2\", "
	    "\"format\": \"qcow2\", \"backing\": {\"path\": \"base.raw\", "
	    "\"format\": \"raw\"}}}"), 0);
	assert_chain(&c, 1, p3 + 2, f3 + 2);
	vmm_config_free(&c);
	assert_int_equal(json(&c, "{\"disk\": \"path=t.qcow2,format=qcow2,"
	    "backing=mid.qcow2,backing-format=qcow2,backing=low.qcow2,"
	    "backing-format=qcow2,backing=base.raw,backing-format=raw\"}"), 0);
	assert_chain(&c, 3, p3, f3);
	vmm_config_free(&c);
	/* 16 levels are the limit, on the command line and in JSON. */
	n = (size_t)snprintf(spec, sizeof(spec), "path=t,format=qcow2");
	for (int i = 0; i < VMM_DISK_MAX_BACKING; i++)
		n += (size_t)snprintf(spec + n, sizeof(spec) - n,
		    ",backing=l%d,backing-format=qcow2", i);
	assert_int_equal(disk_spec(&c, spec), 0);
	assert_int_equal(c.disk[0].nbacking, VMM_DISK_MAX_BACKING);
	assert_string_equal(c.disk[0].backing[15].path, "l15");
	vmm_config_free(&c);
	snprintf(spec + n, sizeof(spec) - n, ",backing=l16,backing-format=raw");
	assert_int_equal(captured(disk_spec, &c, spec), -EINVAL);
	assert_non_null(strstr(errbuf, "drover-vmm: --disk: backing file 17: "
	    "at most 16 backing files under a disk"));
	vmm_config_free(&c);
	n = (size_t)snprintf(text, sizeof(text), "{\"disk\": {\"path\": \"t\", "
	    "\"format\": \"qcow2\", \"backing\": [");
	for (int i = 0; i <= VMM_DISK_MAX_BACKING; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"path\": "
		    "\"l%d\", \"format\": \"qcow2\"}", i ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "]}}");
	assert_int_equal(captured(disk_json, &c, text), -EINVAL);
	assert_non_null(strstr(errbuf, "vm.json: disk[0]: backing: 17 backing "
	    "files (at most 16 under a disk)"));
	vmm_config_free(&c);
}

static void
test_disk_chain_bad(void **state)
{
	static const struct { int is_json; const char *in, *err; } bad[] = {
		{ 0, "path=t,format=qcow2,backing=m,backing-format=qcow2,"
		    "backing=b", "--disk: backing file 2 (b) has no "
		    "backing-format=raw|qcow2" },
		{ 0, "path=t,format=qcow2,backing=b,backing-format=raw,"
		    "backing-format=raw", "--disk: 2 backing-format= for 1 "
		    "backing=" },
		{ 0, "path=t,format=qcow2,backing=b", "--disk: backing=FILE "
		    "needs backing-format=raw|qcow2 (the format is never "
		    "guessed)" },
		{ 0, "path=t,format=qcow2,backing=b,backing-format=raw,"
		    "backing=c,backing-format=raw", "--disk: backing file 1 (b) "
		    "is raw, but backing file 2 follows it: only the last one "
		    "(the base) may be raw" },
		{ 0, "path=t,format=qcow2,backing=m,backing-format=qcow2,"
		    "backing=t,backing-format=qcow2", "--disk: backing file 2 "
		    "(t) is the disk itself: a backing chain cannot loop" },
		{ 0, "path=t,format=qcow2,backing=m,backing-format=qcow2,"
		    "backing=b,backing-format=qcow2,backing=m,backing-format=raw",
		    "--disk: backing file 3 (m) is also backing file 1: a "
		    "backing chain cannot loop" },
		{ 0, "path=t,backing=b,backing-format=raw", "--disk: "
		    "backing=FILE needs format=qcow2" },
		{ 0, "path=t,format=qcow2,backing=m,backing-format=vmdk",
		    "--disk: backing-format 'vmdk' is not raw or qcow2" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": [{\"path\": \"m\", \"format\": \"qcow2\"}, "
		    "{\"path\": \"b\"}]}}", "vm.json: disk[0]: backing[1]: "
		    "format is required (raw or qcow2; it is never guessed)" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": [{\"format\": \"raw\"}]}}",
		    "vm.json: disk[0]: backing[0]: path is required" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": [{\"path\": \"b\", \"format\": \"raw\", "
		    "\"size\": \"1\"}]}}", "vm.json: disk[0]: backing[0]: unknown "
		    "field 'size' (path, format)" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": [\"b\"]}}", "vm.json: disk[0]: backing[0]: must "
		    "be an object" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": [{\"path\": \"b\", \"format\": 1}]}}",
		    "vm.json: disk[0]: backing[0]: format must be a string" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": []}}", "vm.json: disk[0]: backing: an empty "
		    "list" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": 7}}", "vm.json: disk[0]: backing must be a "
		    "string or a list" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing-format\": \"raw\", \"backing\": [{\"path\": "
		    "\"b\", \"format\": \"raw\"}]}}", "vm.json: disk[0]: "
		    "backing-format: not with a list of backing files" },
		{ 1, "{\"disk\": {\"path\": \"t\", \"format\": \"qcow2\", "
		    "\"backing\": [{\"path\": \"b\", \"format\": \"raw\"}, "
		    "{\"path\": \"b2\", \"format\": \"raw\"}]}}", "vm.json: "
		    "disk[0]: backing file 1 (b) is raw, but backing file 2 "
		    "follows it" },
		{ 1, "{\"disk\": [\"path=t,format=qcow2,backing=t,"
		    "backing-format=qcow2\"]}", "vm.json: disk[0]: backing file 1 "
		    "(t) is the disk itself" },
	};
	struct vmm_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (captured(bad[i].is_json ? disk_json : disk_spec, &c,
		    bad[i].in) != -EINVAL)
			fail_msg("accepted: %s", bad[i].in);
		if (strstr(errbuf, bad[i].err) == NULL)
			fail_msg("%s: no '%s' in '%s'", bad[i].in, bad[i].err,
			    errbuf);
		vmm_config_free(&c);
	}
}

static void
test_config_alone(void **state)
{
	struct vmm_config c;
	enum vmm_config_action act;
	char path[] = "/tmp/vmm_config_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	fputs("{\"kernel\": \"from-file\", \"cpus\": 3}", f);
	fclose(f);
	assert_int_equal(parse(&c, &act, "--config", path, NULL), 0);
	assert_string_equal(c.kernel, "from-file");
	assert_int_equal(c.cpus, 3);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--config", path, "--log-level",
	    "debug", NULL), 0);
	vmm_config_free(&c);
	assert_int_equal(parse(&c, &act, "--config", path, "--cpus", "1",
	    NULL), -EINVAL);
	vmm_config_free(&c);
	remove(path);
	assert_int_equal(parse(&c, &act, "--config", path, NULL), -EINVAL);
	vmm_config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_good),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_disk_chain),
		cmocka_unit_test(test_disk_chain_bad),
		cmocka_unit_test(test_config_alone),
	};

	return cmocka_run_group_tests_name("vmm_config", tests, NULL, NULL);
}
