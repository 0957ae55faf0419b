/*
 * dhcpd_test: net/dhcp_srv.c on the real loop, for tests/agent/net-dhcp.sh.
 *   dhcpd_test NETNS-PATH|- IFNAME RESOLV-CONF VMI-NAME MTU
 * Serves KubeVirt's lease (10.0.2.2/24, router and server 10.0.2.1, 999
 * days) until SIGTERM, then prints its counters:
 * "received N dropped N replied N".
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dhcp_srv.h"
#include "log.h"
#include "loop.h"
#include "resolv.h"

static struct loop *loop;

static void stop(int sig)
{
	(void)sig;
	loop_stop(loop);
}

int main(int argc, char **argv)
{
	struct dhcp_lease l;
	struct resolv_conf rc;
	struct dhcp_srv_stats st;
	int nsfd = -1;

	if (argc != 6) {
		fprintf(stderr, "usage: dhcpd_test NETNS|- IF RESOLV NAME MTU\n");
		return 2;
	}
	log_init("dhcpd_test", LOG_LEVEL_DEBUG);
	memset(&l, 0, sizeof(l));
	inet_pton(AF_INET, "10.0.2.2", &l.yiaddr);
	inet_pton(AF_INET, "255.255.255.0", &l.mask);
	inet_pton(AF_INET, "10.0.2.1", &l.router);
	l.server = l.router;
	l.lease_secs = DHCP_LEASE_KUBEVIRT;
	l.mtu = (uint16_t)atoi(argv[5]);
	if (resolv_read(argv[3], &rc) < 0)
		return 1;
	resolv_to_lease(&rc, &l);
	dhcp_hostname_from_name(argv[4], l.hostname);
	if (strcmp(argv[1], "-") && (nsfd = open(argv[1], O_RDONLY)) < 0) {
		perror(argv[1]);
		return 1;
	}
	loop = loop_new();
	struct dhcp_srv *s = dhcp_srv_new(loop, nsfd, argv[2], &l);
	if (!s)
		return 1;
	signal(SIGTERM, stop);
	signal(SIGINT, stop);
	printf("ready\n");
	fflush(stdout);
	loop_run(loop);
	dhcp_srv_stats(s, &st);
	printf("received %lu dropped %lu replied %lu\n", st.received,
	    st.dropped, st.replied);
	dhcp_srv_free(s);
	loop_free(loop);
	if (nsfd >= 0)
		close(nsfd);
	return 0;
}
