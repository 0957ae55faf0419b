/*
 * Unit tests: the privsep messages between droverd-api and droverd-priv
 * (agent/priv_msg.c) and droverd-priv's request handling
 * (agent/priv_server.c, priv_server_handle()) over a real priv_local in a
 * temporary run dir: good requests are done; bad lengths, unknown ops,
 * unterminated or oversize strings are protocol violations (nothing
 * done); paths outside the run and disk dirs, bad names, pids and signals
 * are refused with -EINVAL, and the server goes on serving.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "priv.h"
#include "priv_msg.h"

#define RUN	"/run/drover"
#define EPH	"/var/lib/drover/ephemeral"
#define FIXED	(sizeof(struct privmsg_hdr) + sizeof(struct privmsg_args))

static uint8_t *
enc(uint32_t op, const char *const *s, unsigned n, const void *data,
    size_t dlen, size_t *len)
{
	struct privmsg_args a;
	uint8_t *m;

	memset(&a, 0, sizeof(a));
	assert_int_equal(privmsg_encode(op, 7, &a, s, n, data, dlen, &m, len),
	    0);
	return m;
}

static int
dec(const uint8_t *m, size_t len, struct privmsg_req *r)
{
	char why[256];
	int rc = privmsg_decode(m, len, r, why, sizeof(why));

	if (rc == 0)
		return 0;
	assert_true(why[0] != '\0');	/* a reason is always given */
	return rc;
}

static void
test_roundtrip(void **state)
{
	const char *s[] = { RUN "/vmi/ns/a", "vm.json" };
	const char *cl[] = { RUN "/vmi/ns/a", NULL };
	const char *keep[] = { "x", "y", "z" };
	struct privmsg_req r;
	uint8_t *m;
	size_t len;

	(void)state;
	m = enc(PRIVMSG_FILE_WRITE, s, 2, "{}", 2, &len);
	assert_int_equal(len, FIXED + strlen(s[0]) + 1 + 8 + 2);
	assert_int_equal(dec(m, len, &r), 0);
	assert_int_equal(r.op, PRIVMSG_FILE_WRITE);
	assert_int_equal(r.seq, 7);
	assert_string_equal(r.s[0], s[0]);
	assert_string_equal(r.s[1], "vm.json");
	assert_int_equal(r.datalen, 2);
	assert_memory_equal(r.data, "{}", 2);
	assert_int_equal(privmsg_check(&r, RUN, EPH, NULL, 0), 0);
	privmsg_req_free(&r);
	free(m);
	/* NULL strings where the op allows them. */
	m = enc(PRIVMSG_VMI_CLEANUP, cl, 2, NULL, 0, &len);
	assert_int_equal(dec(m, len, &r), 0);
	assert_non_null(r.s[0]);
	assert_null(r.s[1]);
	assert_int_equal(privmsg_check(&r, RUN, EPH, NULL, 0), 0);
	free(m);
	/* A list. */
	m = enc(PRIVMSG_CGROUP_PRUNE, keep, 3, NULL, 0, &len);
	assert_int_equal(dec(m, len, &r), 0);
	assert_int_equal(r.nlist, 3);
	assert_string_equal(r.list[2], "z");
	privmsg_req_free(&r);
	free(m);
	m = enc(PRIVMSG_NET_PRUNE, NULL, 0, NULL, 0, &len);
	assert_int_equal(dec(m, len, &r), 0);
	assert_int_equal(r.nlist, 0);
	free(m);
}

/* A copy of m with hdr and args patched by the callback. */
static void
patch_hdr(uint8_t *m, uint32_t magic, uint32_t op, uint32_t len)
{
	struct privmsg_hdr h;

	memcpy(&h, m, sizeof(h));
	h.magic = magic;
	h.op = op;
	h.len = len;
	memcpy(m, &h, sizeof(h));
}

static void
test_violations(void **state)
{
	const char *s[] = { RUN "/vmi/ns/a" };
	const char *two[] = { RUN "/vmi/ns/a", "n" };
	struct privmsg_args a;
	struct privmsg_req r;
	uint8_t *m, *big;
	size_t len;
	char *huge;

	(void)state;
	m = enc(PRIVMSG_VMI_PREPARE, s, 1, NULL, 0, &len);
	assert_int_equal(dec(m, len, &r), 0);
	/* Short, or cut anywhere: the lengths do not match. */
	assert_int_equal(dec(m, 10, &r), -EPROTO);
	assert_int_equal(dec(m, FIXED - 1, &r), -EPROTO);
	assert_int_equal(dec(m, len - 1, &r), -EPROTO);
	/* Bad magic, unknown ops. */
	patch_hdr(m, 0x12345678, PRIVMSG_VMI_PREPARE, (uint32_t)len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	patch_hdr(m, PRIVMSG_MAGIC, 0, (uint32_t)len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	patch_hdr(m, PRIVMSG_MAGIC, PRIVMSG_OP_END, (uint32_t)len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	patch_hdr(m, PRIVMSG_MAGIC, 9999, (uint32_t)len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	/* A header claiming more than the limit, or than there is. */
	patch_hdr(m, PRIVMSG_MAGIC, PRIVMSG_VMI_PREPARE, PRIVMSG_MAX + 1);
	assert_int_equal(privmsg_check_hdr((struct privmsg_hdr *)(void *)m,
	    NULL, 0), -EPROTO);
	patch_hdr(m, PRIVMSG_MAGIC, PRIVMSG_VMI_PREPARE, (uint32_t)len + 1);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	/* Another op's string count. */
	patch_hdr(m, PRIVMSG_MAGIC, PRIVMSG_FILE_WRITE, (uint32_t)len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	patch_hdr(m, PRIVMSG_MAGIC, PRIVMSG_VMI_PREPARE, (uint32_t)len);
	/* The string's NUL gone: unterminated. */
	m[len - 1] = 'x';
	assert_int_equal(dec(m, len, &r), -EPROTO);
	free(m);
	/* Trailing bytes after the strings (datalen 0). */
	m = enc(PRIVMSG_FILE_WRITE, two, 2, "abc", 3, &len);
	memcpy(&a, m + sizeof(struct privmsg_hdr), sizeof(a));
	a.datalen = 1;
	memcpy(m + sizeof(struct privmsg_hdr), &a, sizeof(a));
	assert_int_equal(dec(m, len, &r), -EPROTO);
	/* More data than the message holds. */
	a.datalen = 1u << 30;
	memcpy(m + sizeof(struct privmsg_hdr), &a, sizeof(a));
	assert_int_equal(dec(m, len, &r), -EPROTO);
	free(m);
	/* Data on an op that carries none. */
	m = enc(PRIVMSG_VMI_PREPARE, s, 1, "x", 1, &len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	free(m);
	/* A NULL string where none is allowed. */
	m = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ NULL }, 1, NULL, 0,
	    &len);
	assert_int_equal(dec(m, len, &r), -EPROTO);
	free(m);
	/* Network block: too many ports, host name unterminated. */
	m = enc(PRIVMSG_NET_SETUP, s, 1, NULL, 0, &len);
	memcpy(&a, m + sizeof(struct privmsg_hdr), sizeof(a));
	a.nports = PRIV_NET_MAX_PORTS + 1;
	memcpy(m + sizeof(struct privmsg_hdr), &a, sizeof(a));
	assert_int_equal(dec(m, len, &r), -EPROTO);
	a.nports = 0;
	memset(a.hostname, 'h', sizeof(a.hostname));
	memcpy(m + sizeof(struct privmsg_hdr), &a, sizeof(a));
	assert_int_equal(dec(m, len, &r), -EPROTO);
	free(m);
	/* A path string over PRIVMSG_PATH_MAX. */
	huge = malloc(PRIVMSG_PATH_MAX + 10);
	memset(huge, 'a', PRIVMSG_PATH_MAX + 9);
	huge[PRIVMSG_PATH_MAX + 9] = '\0';
	big = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ huge }, 1, NULL, 0,
	    &len);
	assert_int_equal(dec(big, len, &r), -EPROTO);
	free(big);
	free(huge);
}

static int
check1(uint32_t op, const char *const *s, unsigned n, int32_t i0, int32_t i1)
{
	struct privmsg_args a;
	struct privmsg_req r;
	uint8_t *m;
	size_t len;
	char why[256] = "";
	int rc;

	memset(&a, 0, sizeof(a));
	a.i0 = i0;
	a.i1 = i1;
	assert_int_equal(privmsg_encode(op, 1, &a, s, n, NULL, 0, &m, &len), 0);
	assert_int_equal(dec(m, len, &r), 0);
	rc = privmsg_check(&r, RUN, EPH, why, sizeof(why));
	if (rc < 0)
		assert_non_null(strstr(why, "refused"));
	privmsg_req_free(&r);
	free(m);
	return rc;
}

static void
test_checks(void **state)
{
	(void)state;
	/* Run dirs under RUN/vmi only. */
	assert_int_equal(check1(PRIVMSG_VMI_PREPARE, (const char *[]){
	    RUN "/vmi/ns/a" }, 1, 0, 0), 0);
	assert_int_equal(check1(PRIVMSG_VMI_PREPARE, (const char *[]){
	    "/etc" }, 1, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMI_PREPARE, (const char *[]){
	    RUN "/vmi/../../etc" }, 1, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMI_PREPARE, (const char *[]){
	    RUN "/vmi/ns//a" }, 1, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMI_PREPARE, (const char *[]){
	    EPH "/ns/a" }, 1, 0, 0), -EINVAL);
	/* Names: one plain component. */
	assert_int_equal(check1(PRIVMSG_FILE_WRITE, (const char *[]){
	    RUN "/vmi/ns/a", "../x" }, 2, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_FILE_WRITE, (const char *[]){
	    RUN "/vmi/ns/a", ".." }, 2, 0, 0), -EINVAL);
	/* Disk ops in disk dirs only, formats raw or qcow2. */
	assert_int_equal(check1(PRIVMSG_DISK_EMPTY, (const char *[]){
	    EPH "/ns/a", "d0.img" }, 2, 0, 0), 0);
	assert_int_equal(check1(PRIVMSG_DISK_EMPTY, (const char *[]){
	    RUN "/vmi/ns/a", "d0.img" }, 2, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_DISK_OVERLAY, (const char *[]){
	    EPH "/ns/a", "d0", "/img", "vmdk" }, 4, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_DISK_OVERLAY, (const char *[]){
	    EPH "/ns/a", "d0", "img", "raw" }, 4, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_DISK_OVERLAY, (const char *[]){
	    EPH "/ns/a", "d0", "/img", "raw" }, 4, 0, 0), 0);
	/* cgroup names. */
	assert_int_equal(check1(PRIVMSG_CGROUP_CREATE, (const char *[]){
	    "../../x" }, 1, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_CGROUP_PRUNE, (const char *[]){
	    "ok", "a/b" }, 2, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_NET_PRUNE, (const char *[]){
	    RUN "/vmi/ns/a", "/tmp" }, 2, 0, 0), -EINVAL);
	/* pids and signals. */
	assert_int_equal(check1(PRIVMSG_VMM_SIGNAL, NULL, 0, 1, SIGKILL),
	    -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMM_SIGNAL, NULL, 0, -1, SIGKILL),
	    -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMM_SIGNAL, NULL, 0, 1234, SIGSTOP),
	    -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMM_SIGNAL, NULL, 0, 1234, SIGTERM), 0);
	assert_int_equal(check1(PRIVMSG_VMM_REAP, NULL, 0, 0, 0), -EINVAL);
	assert_int_equal(check1(PRIVMSG_VMM_SPAWN, (const char *[]){
	    RUN "/vmi/ns/a", NULL }, 2, 2, 0), -EINVAL);
}

/* ---- priv_server_handle() over a real priv_local ------------------------ */

static int
serve(struct priv_server *s, const uint8_t *m, size_t len,
    struct privmsg_rep *rep)
{
	char why[256] = "";
	int rc = priv_server_handle(s, m, len, rep, why, sizeof(why));

	if (rc < 0)
		assert_true(why[0] != '\0');
	return rc;
}

static void
test_server(void **state)
{
	char tmp[] = "/tmp/drover-privmsg-XXXXXX", run[64], eph[96];
	char dir[128], other[160], path[192], err[256] = "";
	struct priv_config pc = { .run_dir = run, .ephemeral_dir = eph,
		.vmm_path = "/bin/false" };
	struct privmsg_args a;
	struct privmsg_rep rep;
	struct priv_server *s;
	struct priv *p;
	struct stat st;
	uint8_t *m;
	size_t len;
	FILE *f;
	char buf[16] = "";

	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(run, sizeof(run), "%s/run", tmp);
	snprintf(eph, sizeof(eph), "%s/eph", tmp);
	snprintf(dir, sizeof(dir), "%s/vmi/ns/vm", run);
	p = priv_local_new(&pc, err, sizeof(err));
	assert_non_null(p);
	s = priv_server_new(NULL, p, run, eph, -1, NULL, NULL);
	assert_non_null(s);

	/* Good: the run dir is made, a file written in it. */
	m = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ dir }, 1, NULL, 0, &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, 0);
	assert_int_equal(rep.h.seq, 7);
	assert_int_equal(rep.h.op, PRIVMSG_VMI_PREPARE);
	assert_int_equal(rep.h.len, sizeof(rep));
	assert_int_equal(stat(dir, &st), 0);
	free(m);
	m = enc(PRIVMSG_FILE_WRITE, (const char *[]){ dir, "state.json" }, 2,
	    "{\"pid\":1}", 9, &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, 0);
	free(m);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "{\"pid\":1}");

	/* A path outside: refused, nothing made, the server goes on. */
	snprintf(other, sizeof(other), "%s/elsewhere", tmp);
	m = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ other }, 1, NULL, 0,
	    &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, -EINVAL);
	assert_non_null(strstr(rep.err, "refused"));
	assert_int_not_equal(stat(other, &st), 0);
	free(m);
	snprintf(other, sizeof(other), "%s/vmi/ns/../../../x", run);
	m = enc(PRIVMSG_FILE_WRITE, (const char *[]){ other, "f" }, 2, "x", 1,
	    &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, -EINVAL);
	free(m);

	/* Garbage: a protocol violation, no reply, nothing done. */
	m = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ dir }, 1, NULL, 0, &len);
	assert_int_equal(serve(s, m, len - 3, &rep), -EPROTO);
	patch_hdr(m, PRIVMSG_MAGIC, 77, (uint32_t)len);
	assert_int_equal(serve(s, m, len, &rep), -EPROTO);
	assert_int_equal(serve(s, (const uint8_t *)"hello", 5, &rep), -EPROTO);
	free(m);

	/* Still serving: a good request after all of that. */
	m = enc(PRIVMSG_DISK_EMPTY, (const char *[]){ NULL, "d" }, 2, NULL, 0,
	    &len);
	assert_int_equal(serve(s, m, len, &rep), -EPROTO);	/* NULL dir */
	free(m);
	snprintf(other, sizeof(other), "%s/ns/vm", eph);
	memset(&a, 0, sizeof(a));
	a.u64 = 4096;
	assert_int_equal(privmsg_encode(PRIVMSG_DISK_EMPTY, 8, &a,
	    (const char *[]){ other, "d0.img" }, 2, NULL, 0, &m, &len), 0);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, 0);
	assert_int_equal(rep.h.seq, 8);
	free(m);
	snprintf(path, sizeof(path), "%s/d0.img", other);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4096);

	/* Only VMMs it spawned are reaped; only drover-vmms signalled. */
	memset(&a, 0, sizeof(a));
	a.i0 = getpid();
	assert_int_equal(privmsg_encode(PRIVMSG_VMM_REAP, 9, &a, NULL, 0, NULL,
	    0, &m, &len), 0);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, -ECHILD);
	free(m);
	a.i1 = SIGTERM;
	assert_int_equal(privmsg_encode(PRIVMSG_VMM_SIGNAL, 10, &a, NULL, 0,
	    NULL, 0, &m, &len), 0);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, -ESRCH);	/* we are no drover-vmm */
	free(m);

	/* Clean-up through the server too. */
	m = enc(PRIVMSG_VMI_CLEANUP, (const char *[]){ dir, NULL }, 2, NULL, 0,
	    &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, 0);
	assert_int_not_equal(stat(dir, &st), 0);
	free(m);

	priv_server_free(s);
	priv_local_free(p);
	snprintf(path, sizeof(path), "rm -rf %s", tmp);
	assert_int_equal(system(path), 0);
}

/* With no runtime (droverd --no-runtime): every request refused. */
static void
test_server_none(void **state)
{
	struct privmsg_rep rep;
	struct priv_server *s;
	uint8_t *m;
	size_t len;

	(void)state;
	s = priv_server_new(NULL, NULL, "", "", -1, NULL, NULL);
	assert_non_null(s);
	m = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ RUN "/vmi/ns/a" }, 1,
	    NULL, 0, &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	assert_int_equal(rep.rc, -EOPNOTSUPP);
	free(m);
	priv_server_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_violations),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_server_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
