/*
 * Unit tests: the privsep messages between droverd-api and droverd-priv
 * (agent/priv_msg.c) and droverd-priv's request handling
 * (agent/priv_server.c, priv_server_handle()) over a real priv_local in a
 * temporary run dir: good requests are done; bad lengths, unknown ops,
 * unterminated or oversize strings are protocol violations (nothing
 * done); paths outside the run and disk dirs, bad names, pids and signals
 * are refused with -EINVAL, and the server goes on serving. A
 * containerDisk's backing file is opened by droverd-priv in the image
 * store only (outside it, ../, a symlink to a file outside or on the way,
 * a directory, a FIFO, a file of another owner: refused), and vm.json
 * passes to the VMM only with the VMI's own paths (test_vmjson).
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
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "priv.h"
#include "priv_int.h"
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

/* A DISK_OVERLAY of <eph>/ns/vm/name on backing through the server. */
static int
overlay(struct priv_server *s, const char *ddir, const char *name,
    const char *backing, char *err, size_t errlen)
{
	struct privmsg_rep rep;
	uint8_t *m;
	size_t len;

	m = enc(PRIVMSG_DISK_OVERLAY, (const char *[]){ ddir, name, backing,
	    "raw" }, 4, NULL, 0, &len);
	assert_int_equal(serve(s, m, len, &rep), 0);
	free(m);
	snprintf(err, errlen, "%s", rep.err);
	return rep.rc;
}

struct bk {
	char tmp[32], run[64], eph[96], img[96], dir[128], ddir[160];
	struct priv *p;
	struct priv_server *s;
};

static void
bk_setup(struct bk *b, const char *vmm)
{
	char path[256], err[256] = "";
	struct priv_config pc = { .run_dir = b->run, .ephemeral_dir = b->eph,
		.vmm_path = vmm, .images_dir = b->img };
	struct privmsg_rep rep;
	uint8_t *m;
	size_t len;
	int fd;

	snprintf(b->tmp, sizeof(b->tmp), "/tmp/drover-privbk-XXXXXX");
	assert_non_null(mkdtemp(b->tmp));
	snprintf(b->run, sizeof(b->run), "%s/run", b->tmp);
	snprintf(b->eph, sizeof(b->eph), "%s/eph", b->tmp);
	snprintf(b->img, sizeof(b->img), "%s/images", b->tmp);
	snprintf(b->dir, sizeof(b->dir), "%s/vmi/ns/vm", b->run);
	snprintf(b->ddir, sizeof(b->ddir), "%s/ns/vm", b->eph);
	assert_int_equal(mkdir(b->img, 0700), 0);
	snprintf(path, sizeof(path), "%s/blob", b->img);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/blob/disk.img", b->img);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	b->p = priv_local_new(&pc, err, sizeof(err));
	assert_non_null(b->p);
	b->s = priv_server_new(NULL, b->p, b->run, b->eph, -1, NULL, NULL);
	assert_non_null(b->s);
	m = enc(PRIVMSG_VMI_PREPARE, (const char *[]){ b->dir }, 1, NULL, 0,
	    &len);
	assert_int_equal(serve(b->s, m, len, &rep), 0);
	assert_int_equal(rep.rc, 0);
	free(m);
}

static void
bk_teardown(struct bk *b)
{
	char cmd[128];

	priv_server_free(b->s);
	priv_local_free(b->p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->tmp);
	assert_int_equal(system(cmd), 0);
}

/* disk_overlay: the backing file opened in the image store, safely. */
static void
test_backing(void **state)
{
	char path[256], target[256], err[512];
	struct stat st;
	struct bk b;

	(void)state;
	bk_setup(&b, "/bin/false");
	/* Good: in the store, a regular file: the overlay is made. */
	snprintf(path, sizeof(path), "%s/blob/disk.img", b.img);
	assert_int_equal(overlay(b.s, b.ddir, "disk0.qcow2", path, err,
	    sizeof(err)), 0);
	snprintf(target, sizeof(target), "%s/disk0.qcow2", b.ddir);
	assert_int_equal(stat(target, &st), 0);

	/* Outside the store. */
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", "/etc/passwd", err,
	    sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "/etc/passwd"));
	assert_non_null(strstr(err, "not a file in the image store"));
	/* ../ out of it. */
	snprintf(path, sizeof(path), "%s/blob/../../run/x", b.img);
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
	    sizeof(err)), -EPERM);
	assert_non_null(strstr(err, path));
	/* A symlink in it pointing out, and a symlinked dir on the way. */
	snprintf(path, sizeof(path), "%s/blob/passwd", b.img);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
	    sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "symbolic link"));
	snprintf(path, sizeof(path), "%s/etc", b.img);
	assert_int_equal(symlink("/etc", path), 0);
	snprintf(path, sizeof(path), "%s/etc/passwd", b.img);
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
	    sizeof(err)), -EPERM);
	/* A symlink to a good file in the store: refused all the same. */
	snprintf(path, sizeof(path), "%s/good", b.img);
	assert_int_equal(symlink("blob/disk.img", path), 0);
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
	    sizeof(err)), -EPERM);
	/* A directory; a FIFO (opened without blocking, then refused). */
	snprintf(path, sizeof(path), "%s/blob", b.img);
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/blob/fifo", b.img);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	/* A file the store's owner does not own (a hard link to one). */
	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/blob/other.img", b.img);
		assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0600)),
		    0);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(overlay(b.s, b.ddir, "d1.qcow2", path, err,
		    sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "owner"));
	}
	snprintf(target, sizeof(target), "%s/d1.qcow2", b.ddir);
	assert_int_not_equal(stat(target, &st), 0);	/* none made */
	bk_teardown(&b);
}

/* vm.json as the VMM may see it (the checked text). */
static int
vmj(const struct priv_vmjson_in *in, const char *text,
    struct priv_vmjson_out *out, char *err, size_t errlen)
{
	return priv_vmjson_check(in, text, strlen(text), out, err, errlen);
}

#define VMJ_HEAD	"{\"mem\": 67108864, \"cpus\": 1, \"user\": \"65534:65534\", "

static void
test_vmjson(void **state)
{
	char text[2048], err[512], want[64];
	struct priv_vmjson_out out;
	struct bk b;

	(void)state;
	bk_setup(&b, "/bin/false");
	struct priv_vmjson_in in = { .dir = b.dir, .ddir = b.ddir,
		.images_dir = b.img, .vmm_user = "65534:65534",
		.gids = { 990, 0 } };

	/* Good: what the runtime writes; the backing becomes an fd. */
	snprintf(text, sizeof(text), VMJ_HEAD "\"console\": \"unix:%s/"
	    "console.sock\", \"control\": \"%s/control.sock\", \"exit-file\": "
	    "\"%s/exit\", \"access-group\": \"990\", \"stop-timeout\": 30, "
	    "\"disk\": [{\"path\": \"%s/disk0.qcow2\", \"format\": \"qcow2\", "
	    "\"backing\": \"%s/blob/disk.img\", \"backing-format\": \"raw\"}, "
	    "{\"path\": \"%s/cidata1.iso\", \"format\": \"raw\", \"ro\": "
	    "true}]}", b.dir, b.dir, b.dir, b.ddir, b.img, b.ddir);
	assert_int_equal(vmj(&in, text, &out, err, sizeof(err)), 0);
	assert_int_equal(out.nfds, 1);
	snprintf(want, sizeof(want), "\"/proc/self/fd/%d\"", PRIV_BACKING_FD);
	assert_non_null(strstr(out.text, want));
	assert_null(strstr(out.text, "disk.img"));
	assert_true(fcntl(out.fds[0], F_GETFD) >= 0);
	priv_vmjson_out_free(&out);

	/* What a compromised droverd-api could ask for: each refused. */
	static const char *const bad[] = {
		"\"kernel\": \"/etc/shadow\"}",
		"\"initrd\": \"/etc/shadow\"}",
		"\"log\": \"/etc/cron.d/x\"}",
		"\"console-log\": \"/etc/x\"}",
		"\"seccomp\": \"off\"}",
		"\"exit-file\": \"/etc/x\"}",
		"\"control\": \"/tmp/c.sock\"}",
		"\"console\": \"tcp:0.0.0.0:23\"}",
		"\"access-group\": \"0\"}",
		"\"net\": [{\"tap\": \"eth0\"}]}",
		"\"net\": [{\"fd\": 3}]}",		/* no pod network */
		"\"disk\": [{\"path\": \"/etc/shadow\", \"format\": \"raw\"}]}",
		"\"disk\": [{\"path\": \"%s/../../../x\", \"format\": \"raw\"}]}",
		"\"disk\": [{\"path\": \"%s/d\", \"format\": \"qcow2\", "
		    "\"backing\": \"/etc/shadow\", \"backing-format\": \"raw\"}]}",
		"\"disk\": [{\"path\": \"%s/d\", \"format\": \"qcow2\", "
		    "\"backing\": [{\"path\": \"/etc/shadow\", \"format\": "
		    "\"raw\"}]}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char tail[512];

		snprintf(tail, sizeof(tail), bad[i], b.ddir);
		snprintf(text, sizeof(text), VMJ_HEAD "%s", tail);
		assert_int_not_equal(vmj(&in, text, &out, err, sizeof(err)), 0);
		assert_true(err[0] != '\0');
		assert_int_equal(out.nfds, 0);
	}
	/* Another user (root), or none when one is configured. */
	assert_int_equal(vmj(&in, "{\"user\": \"0:0\"}", &out, err,
	    sizeof(err)), -EPERM);
	assert_int_equal(vmj(&in, "{\"mem\": 67108864}", &out, err,
	    sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "65534:65534"));
	assert_int_equal(vmj(&in, "[1]", &out, err, sizeof(err)), -EINVAL);
	bk_teardown(&b);
}

/* vmm_spawn refuses a hostile vm.json: nothing started. */
static void
test_spawn_vmjson(void **state)
{
	char text[512];
	struct privmsg_args a;
	struct privmsg_rep rep;
	uint8_t *m;
	size_t len;
	struct bk b;
	int ws;

	(void)state;
	bk_setup(&b, "/bin/true");
	for (int good = 0; good < 2; good++) {
		if (good)
			snprintf(text, sizeof(text), "{\"mem\": 1}");
		else
			snprintf(text, sizeof(text), "{\"kernel\": "
			    "\"/etc/shadow\"}");
		m = enc(PRIVMSG_FILE_WRITE, (const char *[]){ b.dir,
		    "vm.json" }, 2, text, strlen(text), &len);
		assert_int_equal(serve(b.s, m, len, &rep), 0);
		assert_int_equal(rep.rc, 0);
		free(m);
		memset(&a, 0, sizeof(a));
		assert_int_equal(privmsg_encode(PRIVMSG_VMM_SPAWN, 11, &a,
		    (const char *[]){ b.dir, NULL }, 2, NULL, 0, &m, &len), 0);
		assert_int_equal(serve(b.s, m, len, &rep), 0);
		free(m);
		if (!good) {
			assert_int_equal(rep.rc, -EPERM);
			assert_non_null(strstr(rep.err, "kernel"));
			assert_int_equal(rep.pid, 0);
			continue;
		}
		assert_int_equal(rep.rc, 0);
		assert_true(rep.pid > 0);
		assert_int_equal(waitpid(rep.pid, &ws, 0), rep.pid);
		assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	bk_teardown(&b);
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
		cmocka_unit_test(test_backing),
		cmocka_unit_test(test_vmjson),
		cmocka_unit_test(test_spawn_vmjson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
