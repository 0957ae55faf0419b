/*
 * runstat.c: run a command N times and report, per run, its wall time
 * (CLOCK_MONOTONIC from just before fork to wait4's return) and its peak
 * RSS (wait4's ru_maxrss, KiB), then the median, minimum and maximum of
 * each. A benchmark helper (tests/bench/pvh-start.sh), not a test.
 *
 *   runstat [-n RUNS] [-w WARMUP] [-o DIR] -- CMD [ARG]...
 *
 * stdin is /dev/null; stdout and stderr go to DIR/run-I.out (warm-up
 * runs: DIR/warmup-I.out) or to /dev/null without -o. Output, one line
 * each:
 *   run I WALL_US RSS_KIB STATUS     (STATUS: exit code, or 128 + signal)
 *   wall_us MEDIAN MIN MAX
 *   rss_kib MEDIAN MIN MAX
 * Exit status 0 when every run could be started and waited for, else 1
 * (the command's own exit status is only reported).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median (mean of the middle two for an even count), min, max. */
static void
summary(const char *what, uint64_t *v, int n)
{
	uint64_t med;

	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("%s %llu %llu %llu\n", what, (unsigned long long)med,
	    (unsigned long long)v[0], (unsigned long long)v[n - 1]);
}

/* One run: 0 and the figures, or -1 (reported). */
static int
run_once(char **argv, const char *out, uint64_t *wall, uint64_t *rss,
    int *status)
{
	struct rusage ru;
	uint64_t t0;
	pid_t pid;
	int st;

	t0 = now_us();
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int fd = open(out ? out : "/dev/null",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (in < 0 || fd < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		dprintf(2, "runstat: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("runstat: wait4");
			return -1;
		}
	}
	*wall = now_us() - t0;
	*rss = (uint64_t)ru.ru_maxrss;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int
main(int argc, char **argv)
{
	int runs = 10, warmup = 1, opt, status;
	const char *dir = NULL;
	char path[4096];
	uint64_t *wall, *rss, w, r;

	while ((opt = getopt(argc, argv, "+n:w:o:")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 'o':
			dir = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || runs < 1 || runs > 100000 || warmup < 0)
		goto usage;
	argv += optind;
	wall = calloc((size_t)runs, sizeof(*wall));
	rss = calloc((size_t)runs, sizeof(*rss));
	if (!wall || !rss)
		return 1;
	for (int i = 0; i < warmup; i++) {
		if (dir)
			snprintf(path, sizeof(path), "%s/warmup-%d.out", dir, i + 1);
		if (run_once(argv, dir ? path : NULL, &w, &r, &status) < 0)
			return 1;
	}
	for (int i = 0; i < runs; i++) {
		if (dir)
			snprintf(path, sizeof(path), "%s/run-%d.out", dir, i + 1);
		if (run_once(argv, dir ? path : NULL, &wall[i], &rss[i],
		    &status) < 0)
			return 1;
		printf("run %d %llu %llu %d\n", i + 1,
		    (unsigned long long)wall[i], (unsigned long long)rss[i],
		    status);
		fflush(stdout);
	}
	summary("wall_us", wall, runs);
	summary("rss_kib", rss, runs);
	free(wall);
	free(rss);
	return 0;
usage:
	fprintf(stderr,
	    "usage: runstat [-n RUNS] [-w WARMUP] [-o DIR] -- CMD [ARG]...\n");
	return 2;
}
