/*
 * net_tool: drives net/podnet.c for tests/agent/net-*.sh and the
 * benchmark.
 *   net_tool STATE CIDR BRIDGE NSDIR setup ID GUESTNS [tcp:P ...]
 *   net_tool STATE CIDR BRIDGE NSDIR teardown ID
 *   net_tool STATE CIDR BRIDGE NSDIR adopt ID
 *   net_tool STATE CIDR BRIDGE NSDIR prune [KEEP...]
 *   net_tool STATE CIDR BRIDGE NSDIR cycle N -  (set up and tear down N
 *       times, one after the other, printing the mean times in us)
 *   net_tool STATE CIDR BRIDGE NSDIR batch N -  (set up N, then tear the N
 *       down: the kernel's netns clean-up does not run during set-ups)
 * GUESTNS: a netns file (tap0 becomes a veth into it) or "-" (a real tap).
 * Environment: NET_POOL=P, a warm pool of P netns (podnet_open);
 * NET_LIFE_MS=L (cycle): each VMI lives L ms between its set-up and its
 * tear-down (not timed). With a pool, batch and cycle also print how many
 * set-ups the pool served and the filler's mean time per entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "podnet.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
parse_ports(int argc, char **argv, struct nft_port *p, size_t *n)
{
	*n = 0;
	for (int i = 0; i < argc && *n < 32; i++) {
		unsigned v;
		char pr[4];
		if (sscanf(argv[i], "%3[a-z]:%u", pr, &v) != 2 || v == 0 || v > 65535)
			return -1;
		p[*n].proto = strcmp(pr, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
		p[(*n)++].port = (uint16_t)v;
	}
	return 0;
}

/* " pooled K/N fill_us F" with a pool, then the newline. */
static void
pool_print(const struct podnet *pn, int n)
{
	struct podnet_pool_stats st;

	podnet_pool_stats(pn, &st);
	if (st.made > 0 || st.taken > 0 || st.missed > 0)
		printf(" pooled %lu/%d fill_us %.0f", st.taken, n,
		    st.made ? st.made_us / (double)st.made : 0.0);
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct podnet_config cfg;
	struct podnet_result res;
	struct nft_port ports[32];
	size_t nports;
	struct podnet *pn;
	char err[512] = "";
	int r = 0, gfd = -1;

	log_init("net_tool", LOG_LEVEL_WARN);
	if (argc < 6) {
		fprintf(stderr, "usage: see net_tool.c\n");
		return 2;
	}
	cfg = (struct podnet_config){ argv[3], argv[2], argv[4], argv[1],
	    getenv("NET_POOL") ? atoi(getenv("NET_POOL")) : 0 };
	if ((pn = podnet_open(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (strcmp(argv[5], "setup") == 0 && argc >= 8) {
		if (strcmp(argv[7], "-") != 0 &&
		    (gfd = open(argv[7], O_RDONLY | O_CLOEXEC)) < 0) {
			perror(argv[7]);
			return 1;
		}
		if (parse_ports(argc - 8, argv + 8, ports, &nports) < 0) {
			fprintf(stderr, "bad port\n");
			return 2;
		}
		r = podnet_setup(pn, argv[6], ports, nports, gfd, &res, err,
		    sizeof(err));
		if (r == 0)
			printf("%s %02x:%02x:%02x:%02x:%02x:%02x tapfd=%d\n",
			    res.ip_str, res.mac[0], res.mac[1], res.mac[2],
			    res.mac[3], res.mac[4], res.mac[5], res.tap_fd);
	} else if (argc < 7 && strcmp(argv[5], "prune") != 0) {
		fprintf(stderr, "usage: see net_tool.c\n");
		r = -EINVAL;
	} else if (strcmp(argv[5], "teardown") == 0) {
		r = podnet_teardown(pn, argv[6], err, sizeof(err));
	} else if (strcmp(argv[5], "adopt") == 0) {
		r = podnet_adopt(pn, argv[6], &res);
		if (r == 0)
			printf("%s %02x:%02x:%02x:%02x:%02x:%02x\n", res.ip_str,
			    res.mac[0], res.mac[1], res.mac[2], res.mac[3],
			    res.mac[4], res.mac[5]);
		else
			snprintf(err, sizeof(err), "not adopted");
	} else if (strcmp(argv[5], "prune") == 0) {
		r = podnet_prune(pn, (const char *const *)argv + 6,
		    (size_t)(argc - 6));
		if (r >= 0)
			printf("%d\n", r), r = 0;
	} else if (strcmp(argv[5], "batch") == 0) {
		int n = atoi(argv[6]);
		double su = 0, tu = 0, t0;
		char id[32];
		for (int i = 0; i < n && r == 0; i++) {
			snprintf(id, sizeof(id), "batch-%d", i);
			t0 = now_us();
			r = podnet_setup(pn, id, NULL, 0, -1, &res, err,
			    sizeof(err));
			su += now_us() - t0;
			if (r == 0)
				close(res.tap_fd);
		}
		for (int i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "batch-%d", i);
			t0 = now_us();
			if (podnet_teardown(pn, id, err, sizeof(err)) < 0)
				r = -EIO;
			tu += now_us() - t0;
		}
		if (r == 0 && n > 0)
			printf("setup_us %.0f teardown_us %.0f", su / n, tu / n),
			    pool_print(pn, n);
	} else if (strcmp(argv[5], "cycle") == 0) {
		int n = atoi(argv[6]);
		double su = 0, tu = 0, t0;
		int life = getenv("NET_LIFE_MS") ? atoi(getenv("NET_LIFE_MS")) : 0;
		for (int i = 0; i < n && r == 0; i++) {
			char id[32];
			snprintf(id, sizeof(id), "cycle-%d", i);
			t0 = now_us();
			r = podnet_setup(pn, id, NULL, 0, -1, &res, err,
			    sizeof(err));
			su += now_us() - t0;
			if (r < 0)
				break;
			close(res.tap_fd);
			if (life > 0)
				usleep((useconds_t)life * 1000);
			t0 = now_us();
			r = podnet_teardown(pn, id, err, sizeof(err));
			tu += now_us() - t0;
		}
		if (r == 0 && n > 0)
			printf("setup_us %.0f teardown_us %.0f", su / n, tu / n),
			    pool_print(pn, n);
	} else {
		fprintf(stderr, "unknown command\n");
		r = -EINVAL;
	}
	if (r < 0)
		fprintf(stderr, "%s\n", err);
	podnet_close(pn);
	return r < 0 ? 1 : 0;
}
