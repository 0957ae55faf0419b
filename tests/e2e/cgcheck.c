/*
 * cgcheck: agent/cgroup.c against a real cgroup v2 tree with its
 * controllers, inside the emulated node (tests/e2e/cgroup-v2.sh builds it
 * static and runs it there; the host's unit test covers v1 and a v2
 * mount without controllers). TAP lines "ok - cgroup v2: ..." on stdout.
 *
 *   cgcheck [ROOT]     (default /sys/fs/cgroup)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"

#define PARENT	"drover-cgcheck"
#define MIB	(1LL << 20)

static int failed;
static char dir[512];

static void __attribute__((format(printf, 2, 3)))
check(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - cgroup v2: ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failed = 1;
}

static const char *
get(const char *file)
{
	static char buf[256];
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	buf[0] = '\0';
	if ((f = fopen(p, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static long long
get_key(const char *file, const char *key)
{
	char p[600], line[256];
	long long v = -1;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			v = atoll(line + kl + 1);
	fclose(f);
	return v;
}

/* Children: move into vmi-1 themselves (as the runtime's VMM does). */
static pid_t
child(struct cg *cg, int what)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	alarm(60);
	if (cg_attach(cg, "vmi-1", 0, NULL, 0) < 0)
		_exit(3);
	if (what == 1 || what == 2) {	/* touch 8 MiB, or 128 MiB */
		size_t n = (size_t)(what == 1 ? 8 : 128) * MIB;
		volatile char *m = malloc(n);	/* volatile: no dead stores */

		if (m == NULL)
			_exit(4);
		for (size_t i = 0; i < n; i += 4096)
			m[i] = 1;
		if (what == 2)
			_exit(0);	/* should not get here */
	}
	if (what == 3) {		/* fork until refused */
		for (int i = 0; i < 64; i++) {
			pid_t c = fork();

			if (c == 0) {
				pause();
				_exit(0);
			}
			if (c < 0)
				_exit(errno == EAGAIN ? 10 : 11);
		}
		_exit(12);
	}
	for (;;)
		pause();
}

static int
in_cgroup(pid_t pid)
{
	char p[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if ((f = fopen(p, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "0::/" PARENT "/vmi-1\n"))
			found = 1;
	fclose(f);
	return found;
}

int
main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "/sys/fs/cgroup";
	struct cg_limits lim = { 100, 300, 32 * MIB, 16 };
	uint64_t cpu = 0, mem = 0;
	char err[512] = "", **names;
	struct cg *cg;
	size_t n;
	pid_t a, b;
	int st, rc;

	log_init("cgcheck", LOG_LEVEL_INFO);
	snprintf(dir, sizeof(dir), "%s/%s/vmi-1", root, PARENT);
	rc = cg_open(root, PARENT, &cg, err, sizeof(err));
	check(rc == 0, "cg_open %s: %s", root, rc ? err : "ok");
	if (rc)
		return 1;
	check(cg_version(cg) == 2, "version %d", cg_version(cg));
	check(cg_controllers(cg) == 0xf, "controllers cpu, cpuacct, memory, "
	    "pids (mask 0x%x)", cg_controllers(cg));
	rc = cg_create(cg, "vmi-1", &lim, err, sizeof(err));
	check(rc == 0, "cg_create: %d %s", rc, rc ? err : "");
	check(!strcmp(get("cpu.weight"), "4"), "cpu.weight 4 (100m): %s",
	    get("cpu.weight"));
	check(!strcmp(get("cpu.max"), "30000 100000"), "cpu.max 30000 100000 "
	    "(300m): %s", get("cpu.max"));
	check(!strcmp(get("memory.max"), "33554432"), "memory.max 32Mi: %s",
	    get("memory.max"));
	check(!strcmp(get("pids.max"), "16"), "pids.max 16: %s",
	    get("pids.max"));

	a = child(cg, 1);
	for (int i = 0; i < 300 && (mem < 8 * MIB || !in_cgroup(a)); i++) {
		usleep(10000);
		cg_stats(cg, "vmi-1", &cpu, &mem);
	}
	check(in_cgroup(a), "a child attached itself (pid 0)");
	check(mem >= 8 * MIB && mem < 32 * MIB, "memory.current %llu bytes "
	    "(8 MiB touched)", (unsigned long long)mem);
	check(cpu > 0 && cpu != CG_STAT_UNKNOWN, "cpu usage %llu ns",
	    (unsigned long long)cpu);

	b = child(cg, 2);
	rc = waitpid(b, &st, 0);
	check(rc == b && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "touching 128 MiB under memory.max 32Mi: OOM-killed (status %#x)",
	    st);
	check(get_key("memory.events", "oom_kill") >= 1, "memory.events "
	    "oom_kill %lld", get_key("memory.events", "oom_kill"));

	b = child(cg, 3);
	rc = waitpid(b, &st, 0);
	check(rc == b && WIFEXITED(st) && WEXITSTATUS(st) == 10,
	    "forking past pids.max 16: EAGAIN (status %#x)", st);
	check(get_key("pids.events", "max") >= 1, "pids.events max %lld",
	    get_key("pids.events", "max"));

	rc = cg_list(cg, &names, &n, err, sizeof(err));
	check(rc == 0 && n == 1 && !strcmp(names[0], "vmi-1"), "cg_list: "
	    "vmi-1");
	if (rc == 0)
		cg_list_free(names);

	/* Destroy with the first child and the forker's children alive. */
	rc = cg_destroy(cg, "vmi-1", err, sizeof(err));
	check(rc == 0, "cg_destroy: %s", rc ? err : "ok");
	rc = waitpid(a, &st, 0);
	check(rc == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "the child was killed (status %#x)", st);
	check(access(dir, F_OK) < 0 && errno == ENOENT, "the cgroup is gone");
	check(cg_destroy(cg, "vmi-1", err, sizeof(err)) == 0,
	    "cg_destroy again: 0");
	rc = cg_list(cg, &names, &n, err, sizeof(err));
	check(rc == 0 && n == 0, "cg_list: empty");
	if (rc == 0)
		cg_list_free(names);
	cg_close(cg);
	snprintf(dir, sizeof(dir), "%s/%s", root, PARENT);
	check(rmdir(dir) == 0, "parent removed");
	return failed;
}
