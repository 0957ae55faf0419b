/*
 * Unit tests: the containerDisk image store (agent/images.c, oci.c,
 * imgtar.c). Test images are real OCI and Docker archives built by
 * tests/agent/mkimage (qemu-img for the disks, tar + gzip for the layer,
 * skopeo writing the archives). Every failure must give its message and
 * leave the store as it was: no blob, index file or staging directory.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "https.h"
#include "images.h"
#include "images_int.h"
#include "imgtar.h"

static char tmpdir[64];
static char store[128];

static int __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

/* tests/agent/mkimage, from the repository root or a build directory. */
static const char *
mkimage(void)
{
	static const char *c[] = { "tests/agent/mkimage",
	    "../../tests/agent/mkimage", "../../../tests/agent/mkimage" };
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (access(c[i], X_OK) == 0)
			return c[i];
	fail_msg("tests/agent/mkimage not found (run from the repository)");
	return NULL;
}

static int
group_setup(void **state)
{
	const char *mk;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/drover-images-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	mk = mkimage();
	if (sh("%s %s/oci.tar --name example.com/test/disk:v1 "
	    "--docker %s/docker.tar", mk, tmpdir, tmpdir) != 0 ||
	    sh("%s %s/raw.tar --file disk/disk.img:raw", mk, tmpdir) != 0 ||
	    sh("%s %s/zero.tar --file other/x.qcow2", mk, tmpdir) != 0 ||
	    sh("%s %s/two.tar --file disk/a.qcow2 --file disk/b.img:raw", mk,
	    tmpdir) != 0 ||
	    sh("%s %s/backing.tar --file disk/d.qcow2:backing", mk, tmpdir) != 0 ||
	    sh("%s %s/link.tar --file disk/x.img:link", mk, tmpdir) != 0 ||
	    sh("%s %s/noname.tar", mk, tmpdir) != 0 ||
	    sh("%s %s/sparse.tar --file disk/s.img:sparse", mk, tmpdir) != 0 ||
	    sh("%s %s/wh.tar --file disk/a.qcow2 --file disk/b.img:raw --layer "
	    "--file disk/b.img:whiteout", mk, tmpdir) != 0 ||
	    sh("%s %s/opq.tar --file disk/old.img:raw --layer --file disk:opaque "
	    "--file disk/new.qcow2", mk, tmpdir) != 0 ||
	    sh("%s %s/over.tar --file disk/d.img:raw --layer --file disk/d.img",
	    mk, tmpdir) != 0 ||
	    sh("%s %s/whdir.tar --file disk/a.qcow2 --layer --file disk:whiteout",
	    mk, tmpdir) != 0 ||
	    sh("%s %s/extra.tar --file disk/disk.qcow2 --file data/alt.img:raw "
	    "--file data/link.img:link --file data/bk.qcow2:backing", mk,
	    tmpdir) != 0) {
		fprintf(stderr, "mkimage failed (qemu-img, skopeo?)\n");
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return sh("chmod -R u+w %s; rm -rf %s", tmpdir, tmpdir) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(store, sizeof(store), "%s/state/images", tmpdir);
	return sh("chmod -R u+w %s/state 2>/dev/null; rm -rf %s/state", tmpdir,
	    tmpdir) == 0 ? 0 : -1;
}

static int
count_dir(const char *sub)
{
	char p[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", store, sub);
	if ((d = opendir(p)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Nothing but the empty skeleton. */
static void
assert_store_empty(struct images *im)
{
	json_t *l = images_list(im);

	assert_int_equal(count_dir("blobs/sha256"), 0);
	assert_int_equal(count_dir("index"), 0);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
}

static struct images *
open_store(const json_t *conf)
{
	struct images *im = NULL;
	char err[512] = "";
	int rc = images_open(store, conf, &im, err, sizeof(err));

	if (rc != 0)
		fail_msg("images_open: %d %s", rc, err);
	return im;
}

static void
expect_import_error(const char *archive, const char *name, int want,
    const char *msg)
{
	char file[256], err[512] = "", dg[72];
	struct images *im = open_store(NULL);
	int rc;

	snprintf(file, sizeof(file), "%s/%s", tmpdir, archive);
	rc = images_import(im, file, name, dg, err, sizeof(err));
	if (rc != want || strstr(err, msg) == NULL)
		fail_msg("%s: rc %d (want %d), err '%s' (want '%s')", archive,
		    rc, want, err, msg);
	print_message("# %s: %s\n", archive, err);
	assert_store_empty(im);
	images_close(im);
}

/* The manifest digest of an OCI archive, from its index.json. */
static void
archive_digest(const char *archive, char *out)
{
	char cmd[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tar -xOf %s/%s index.json | "
	    "grep -o 'sha256:[0-9a-f]*' | head -n1", tmpdir, archive);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 72, f));
	out[71] = 0;
	pclose(f);
}

static void
test_import_oci(void **state)
{
	char file[256], err[512] = "", dg[72], want[80];
	struct images_disk d;
	struct images *im;
	struct stat sb;
	json_t *l;

	(void)state;
	im = open_store(NULL);
	snprintf(file, sizeof(file), "%s/oci.tar", tmpdir);
	assert_int_equal(images_import(im, file, NULL, dg, err, sizeof(err)), 0);
	archive_digest("oci.tar", want);
	assert_string_equal(dg, want);
	assert_int_equal(images_resolve(im, "example.com/test/disk:v1", NULL,
	    &d, err, sizeof(err)), 0);
	assert_string_equal(d.format, "qcow2");
	assert_int_equal(d.virtual_size, 1 << 20);
	assert_string_equal(d.digest, want);
	assert_int_equal(stat(d.path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0444);
	/* qemu-img agrees, and the disk is stand-alone. */
	assert_int_equal(sh("qemu-img info --output=json %s | "
	    "grep -q '\"virtual-size\": 1048576'", d.path), 0);
	/* By digest, and with containerDisk.path naming the file. */
	snprintf(file, sizeof(file), "example.com/test/disk@%s", want);
	assert_int_equal(images_resolve(im, file, "/disk/disk.qcow2", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(images_resolve(im, file, "/disk/other.img", &d, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has no file /disk/other.img "
	    "(containerDisk.path)"));
	/* Unknown names. */
	assert_int_equal(images_resolve(im, "example.com/test/disk:v2", NULL,
	    &d, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not in the store"));
	/* A second name for the same image shares its blobs. */
	snprintf(file, sizeof(file), "%s/oci.tar", tmpdir);
	assert_int_equal(images_import(im, file, "local/disk", dg, err,
	    sizeof(err)), 0);
	assert_int_equal(count_dir("blobs/sha256"), 4);	/* manifest, config, layer, disk */
	l = images_list(im);
	assert_int_equal(json_array_size(l), 2);
	json_decref(l);
	/* rm one name: the blobs stay; rm the other: the store is empty. */
	assert_int_equal(images_rm(im, "example.com/test/disk:v1", err,
	    sizeof(err)), 0);
	assert_int_equal(count_dir("blobs/sha256"), 4);
	assert_int_equal(images_rm(im, "example.com/test/disk:v1", err,
	    sizeof(err)), -ENOENT);
	assert_int_equal(images_rm(im, "docker.io/local/disk:latest", err,
	    sizeof(err)), 0);
	assert_store_empty(im);
	images_close(im);
}

static void
test_import_docker(void **state)
{
	char file[256], err[512] = "", dg[72];
	struct images_disk d;
	struct images *im;

	(void)state;
	im = open_store(NULL);
	snprintf(file, sizeof(file), "%s/docker.tar", tmpdir);
	assert_int_equal(images_import(im, file, NULL, dg, err, sizeof(err)), 0);
	assert_int_equal(images_resolve(im, "example.com/test/disk:v1", NULL,
	    &d, err, sizeof(err)), 0);
	assert_string_equal(d.format, "qcow2");
	assert_int_equal(d.virtual_size, 1 << 20);
	/* A raw disk, named on import; rm by digest. */
	snprintf(file, sizeof(file), "%s/raw.tar", tmpdir);
	assert_int_equal(images_import(im, file, "rawdisk:1", dg, err,
	    sizeof(err)), 0);
	assert_int_equal(images_resolve(im, "rawdisk:1", NULL, &d, err,
	    sizeof(err)), 0);
	assert_string_equal(d.format, "raw");
	assert_int_equal(d.virtual_size, 65536);
	assert_int_equal(sh("yes drover-raw-disk | head -c 65536 | cmp -s - %s", d.path), 0);
	snprintf(file, sizeof(file), "rawdisk@%s", dg);
	assert_int_equal(images_rm(im, file, err, sizeof(err)), 0);
	assert_int_equal(images_rm(im, "example.com/test/disk:v1", err,
	    sizeof(err)), 0);
	assert_store_empty(im);
	images_close(im);
}

/* containerDisk.path naming another file: extracted once, checked. */
static void
test_other_path(void **state)
{
	char file[256], err[512] = "", dg[72];
	struct images_disk d;
	struct images *im;

	(void)state;
	im = open_store(NULL);
	snprintf(file, sizeof(file), "%s/extra.tar", tmpdir);
	assert_int_equal(images_import(im, file, "x/extra", dg, err,
	    sizeof(err)), 0);
	assert_int_equal(count_dir("blobs/sha256"), 4);
	assert_int_equal(images_resolve(im, "x/extra", "/data/alt.img", &d,
	    err, sizeof(err)), 0);
	assert_string_equal(d.format, "raw");
	assert_int_equal(d.virtual_size, 65536);
	assert_string_equal(d.digest, dg);
	assert_int_equal(count_dir("blobs/sha256"), 5);
	assert_int_equal(count_dir("tmp"), 0);
	/* Again: from the index, nothing extracted. */
	assert_int_equal(images_resolve(im, "x/extra", "data/./alt.img", &d,
	    err, sizeof(err)), 0);
	assert_int_equal(count_dir("blobs/sha256"), 5);
	assert_int_equal(images_resolve(im, "x/extra", "/data/link.img", &d,
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(images_resolve(im, "x/extra", "/data/bk.qcow2", &d,
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "backing file"));
	assert_int_equal(images_resolve(im, "x/extra", "/data/../etc/passwd",
	    &d, err, sizeof(err)), -EINVAL);
	assert_int_equal(count_dir("blobs/sha256"), 5);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(images_rm(im, "x/extra", err, sizeof(err)), 0);
	assert_store_empty(im);
	images_close(im);
}

/* Several layers: whiteouts, opaque directories, a file replaced. */
static void
test_layers(void **state)
{
	static const struct {
		const char *tar, *format;
		uint64_t vsize;
	} ok[] = {
		{ "wh.tar", "qcow2", 1 << 20 },		/* disk/b.img deleted */
		{ "opq.tar", "qcow2", 1 << 20 },	/* disk/ emptied, new one */
		{ "over.tar", "qcow2", 1 << 20 },	/* raw replaced by qcow2 */
	};
	char file[256], err[512] = "", dg[72];
	struct images_disk d;
	struct images *im;
	size_t i;

	(void)state;
	im = open_store(NULL);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s", tmpdir, ok[i].tar);
		if (images_import(im, file, "x/layers", dg, err,
		    sizeof(err)) < 0)
			fail_msg("%s: %s", ok[i].tar, err);
		assert_int_equal(images_resolve(im, "x/layers", NULL, &d, err,
		    sizeof(err)), 0);
		assert_string_equal(d.format, ok[i].format);
		assert_int_equal(d.virtual_size, ok[i].vsize);
	}
	assert_int_equal(images_resolve(im, "x/layers", "/disk/d.img", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(images_rm(im, "x/layers", err, sizeof(err)), 0);
	assert_store_empty(im);
	images_close(im);
	expect_import_error("whdir.tar", "x/y", -EINVAL,
	    "no file under /disk/");
}

static void
test_bad_images(void **state)
{
	(void)state;
	expect_import_error("zero.tar", "x/y", -EINVAL,
	    "no file under /disk/");
	expect_import_error("two.tar", "x/y", -EINVAL,
	    "2 files under /disk/ (/disk/a.qcow2, /disk/b.img)");
	expect_import_error("backing.tar", "x/y", -EINVAL,
	    "a qcow2 with a backing file");
	expect_import_error("link.tar", "x/y", -EINVAL,
	    "/disk/x.img in the image is a symbolic link");
	expect_import_error("sparse.tar", "x/y", -EINVAL,
	    "/disk/s.img in the image is a sparse tar entry");
	expect_import_error("noname.tar", NULL, -EINVAL,
	    "the image has no name");
	expect_import_error("nonexistent.tar", "x/y", -ENOENT,
	    "No such file");
	expect_import_error("oci.tar", "Bad/Name", -EINVAL,
	    "not an image reference");
}

static void
test_digest_mismatch(void **state)
{
	(void)state;
	/* Tamper the layer blob (same name, other bytes), re-pack. */
	assert_int_equal(sh("set -e; cd %s; rm -rf tam; mkdir tam; "
	    "tar -C tam -xf oci.tar; "
	    "l=$(ls -S tam/blobs/sha256 | head -n1); "
	    "chmod u+w tam/blobs/sha256/$l; echo x >>tam/blobs/sha256/$l; "
	    "tar -C tam -cf tampered.tar .", tmpdir), 0);
	expect_import_error("tampered.tar", NULL, -EBADMSG,
	    "digest mismatch");
	/* A Docker archive's layer against the config's diff_ids. */
	assert_int_equal(sh("set -e; cd %s; rm -rf tamd; mkdir tamd; "
	    "tar -C tamd -xf docker.tar; "
	    "l=$(ls tamd/*.tar | head -n1); chmod u+w $l; "
	    "printf 'x' | dd of=$l bs=1 seek=600 conv=notrunc status=none; "
	    "tar -C tamd -cf tampered-d.tar .", tmpdir), 0);
	expect_import_error("tampered-d.tar", NULL, -EBADMSG,
	    "digest mismatch");
}

static void
test_truncated(void **state)
{
	(void)state;
	assert_int_equal(sh("cd %s && head -c $(( $(stat -c %%s oci.tar) / 2 ))"
	    " oci.tar >trunc.tar && gzip -c oci.tar >full.tar.gz && "
	    "head -c $(( $(stat -c %%s full.tar.gz) - 10 )) full.tar.gz "
	    ">trunc.tar.gz", tmpdir), 0);
	expect_import_error("trunc.tar", NULL, -EPIPE, "truncated");
	expect_import_error("trunc.tar.gz", NULL, -EPIPE, "truncated");
}

static void
test_gzip_archive(void **state)
{
	char file[256], err[512] = "", dg[72];
	struct images *im;

	(void)state;
	assert_int_equal(sh("cd %s && gzip -c oci.tar >oci.tar.gz", tmpdir), 0);
	im = open_store(NULL);
	snprintf(file, sizeof(file), "%s/oci.tar.gz", tmpdir);
	assert_int_equal(images_import(im, file, NULL, dg, err, sizeof(err)), 0);
	images_close(im);
}

static void
test_preloaded(void **state)
{
	char err[512] = "", disk[256], bad[256], arc[256];
	struct images_disk d;
	struct images *im = NULL;
	json_t *conf;

	(void)state;
	snprintf(disk, sizeof(disk), "%s/cirros.qcow2", tmpdir);
	snprintf(bad, sizeof(bad), "%s/overlay.qcow2", tmpdir);
	snprintf(arc, sizeof(arc), "%s/oci.tar", tmpdir);
	assert_int_equal(sh("cd %s && qemu-img create -q -f qcow2 cirros.qcow2 "
	    "2M && qemu-img create -q -f qcow2 -b cirros.qcow2 -F qcow2 "
	    "overlay.qcow2", tmpdir), 0);
	conf = json_pack("{s{ss ss ss}}", "preloaded",
	    "quay.io/kubevirt/cirros-container-disk-demo", disk,
	    "example.com/bad:1", bad, "example.com/arc:2", arc);
	im = open_store(conf);
	assert_int_equal(images_resolve(im,
	    "quay.io/kubevirt/cirros-container-disk-demo:latest", NULL, &d, err,
	    sizeof(err)), 0);
	assert_string_equal(d.path, disk);
	assert_string_equal(d.format, "qcow2");
	assert_int_equal(d.virtual_size, 2 << 20);
	assert_int_equal(images_resolve(im, "example.com/bad:1", NULL, &d, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "backing file"));
	/* The archive was imported at open, under the configured name. */
	assert_int_equal(images_resolve(im, "example.com/arc:2", NULL, &d, err,
	    sizeof(err)), 0);
	assert_string_equal(d.format, "qcow2");
	images_close(im);
	/* A second open does not import it again (and keeps it). */
	im = open_store(conf);
	assert_int_equal(images_resolve(im, "example.com/arc:2", NULL, &d, err,
	    sizeof(err)), 0);
	images_close(im);
	json_decref(conf);
}

/* Imports in several processes at once, each with its own store handle
 * (droverd and droverctl): every one lands, the blobs are shared. */
static void
test_concurrent(void **state)
{
	char file[256], name[32], err[512], dg[72];
	struct images *im;
	pid_t pids[4];
	int i, st;
	json_t *l;

	(void)state;
	im = open_store(NULL);
	images_close(im);
	snprintf(file, sizeof(file), "%s/oci.tar", tmpdir);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct images *c = NULL;
			snprintf(name, sizeof(name), "c/n%d", i);
			if (images_open(store, NULL, &c, err, sizeof(err)) < 0 ||
			    images_import(c, file, name, dg, err,
			    sizeof(err)) < 0)
				_exit(1);
			images_close(c);
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	im = open_store(NULL);
	l = images_list(im);
	assert_int_equal(json_array_size(l), 4);
	json_decref(l);
	assert_int_equal(count_dir("blobs/sha256"), 4);
	assert_int_equal(count_dir("index"), 1);
	assert_int_equal(count_dir("tmp"), 0);
	images_close(im);
}

static void
test_abandoned_tmp(void **state)
{
	char p[256];
	struct images *im;
	int fd;

	(void)state;
	im = open_store(NULL);
	images_close(im);
	/* An import that died: its lock is free. One in progress: held. */
	snprintf(p, sizeof(p), "%s/tmp/deadXX", store);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(sh("touch %s/lock %s/f0 %s/f1", p, p, p), 0);
	snprintf(p, sizeof(p), "%s/tmp/liveXX", store);
	assert_int_equal(mkdir(p, 0700), 0);
	strcat(p, "/lock");
	fd = open(p, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	/* A blob nothing refers to (a commit that died before refs.json). */
	assert_int_equal(sh("echo x >%s/blobs/sha256/%064d", store, 0), 0);
	im = open_store(NULL);
	assert_int_equal(count_dir("tmp"), 1);
	assert_int_equal(count_dir("blobs/sha256"), 0);
	close(fd);
	images_close(im);
	im = open_store(NULL);
	assert_store_empty(im);
	images_close(im);
}

static void
test_refs(void **state)
{
	static const char *cases[][2] = {
		{ "quay.io/kubevirt/cirros-container-disk-demo",
		  "quay.io/kubevirt/cirros-container-disk-demo:latest" },
		{ "busybox", "docker.io/library/busybox:latest" },
		{ "user/img:1.0", "docker.io/user/img:1.0" },
		{ "127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t" },
		{ "localhost/x", "localhost/x:latest" },
		{ "127.0.0.1:5000/a", "127.0.0.1:5000/a:latest" },
	};
	static const char *bad[] = { "", "UPPER/case", "a//b", "a/b:",
	    "a@sha256:123", "a/b:t@t", "a/", "/a" };
	char out[1100], host[256], repo[512], tag[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(images_ref_normalize(cases[i][0], out,
		    sizeof(out)), 0);
		assert_string_equal(out, cases[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (images_ref_normalize(bad[i], out, sizeof(out)) == 0)
			fail_msg("'%s' accepted as %s", bad[i], out);
	assert_int_equal(images_ref_split("127.0.0.1:5000/a/b:t", host,
	    sizeof(host), repo, sizeof(repo), tag, sizeof(tag)), 0);
	assert_string_equal(host, "127.0.0.1:5000");
	assert_string_equal(repo, "a/b");
	assert_string_equal(tag, "t");
}

static void
test_url_split(void **state)
{
	static const char *bad[] = { "ftp://x/", "https://", "https://:80/",
	    "https://h:/", "https://h:8x/", "h/x" };
	char host[64], port[8];
	const char *path;
	size_t i;
	int tls;

	(void)state;
	assert_int_equal(https_url_split("https://127.0.0.1:5000/v2/a?b=c",
	    &tls, host, sizeof(host), port, sizeof(port), &path), 0);
	assert_int_equal(tls, 1);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "5000");
	assert_string_equal(path, "/v2/a?b=c");
	assert_int_equal(https_url_split("http://quay.io", &tls, host,
	    sizeof(host), port, sizeof(port), &path), 0);
	assert_int_equal(tls, 0);
	assert_string_equal(port, "80");
	assert_string_equal(path, "/");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (https_url_split(bad[i], &tls, host, sizeof(host), port,
		    sizeof(port), &path) == 0)
			fail_msg("'%s' accepted", bad[i]);
}

static void
test_clean_path(void **state)
{
	static const char *cases[][2] = {
		{ "./disk/x.img", "disk/x.img" }, { "/disk//x", "disk/x" },
		{ "disk/./x/", "disk/x" }, { "a", "a" },
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i][0]);
		assert_int_equal(imgtar_clean_path(buf), 0);
		assert_string_equal(buf, cases[i][1]);
	}
	strcpy(buf, "disk/../etc");
	assert_int_equal(imgtar_clean_path(buf), -EINVAL);
	strcpy(buf, "./");
	assert_int_equal(imgtar_clean_path(buf), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_url_split),
		cmocka_unit_test_setup(test_import_oci, setup),
		cmocka_unit_test_setup(test_import_docker, setup),
		cmocka_unit_test_setup(test_other_path, setup),
		cmocka_unit_test_setup(test_layers, setup),
		cmocka_unit_test_setup(test_bad_images, setup),
		cmocka_unit_test_setup(test_digest_mismatch, setup),
		cmocka_unit_test_setup(test_truncated, setup),
		cmocka_unit_test_setup(test_gzip_archive, setup),
		cmocka_unit_test_setup(test_preloaded, setup),
		cmocka_unit_test_setup(test_concurrent, setup),
		cmocka_unit_test_setup(test_abandoned_tmp, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
