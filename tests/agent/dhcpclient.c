/*
 * dhcpclient IFNAME MTU: plays the guest for tests/agent/net-dhcp.sh with
 * a UDP socket on port 68 bound to IFNAME (no address yet: the replies
 * are broadcast). DISCOVER -> OFFER, REQUEST -> ACK, REQUEST of another
 * address -> NAK; every option of the OFFER/ACK printed as "opt N HEX"
 * lines after the header fields, for the script to compare. Exit 0 if
 * each exchange got its reply within 3 s.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

static size_t mkreq(uint8_t *p, uint32_t xid, int type, const char *reqip,
    const uint8_t *sid)
{
	size_t k = 240;
	memset(p, 0, 300);
	p[0] = 1; p[1] = 1; p[2] = 6;
	memcpy(p + 4, &xid, 4);
	p[10] = 0x80;
	memcpy(p + 28, mac, 6);
	p[236] = 99; p[237] = 130; p[238] = 83; p[239] = 99;
	p[k++] = 53; p[k++] = 1; p[k++] = (uint8_t)type;
	if (reqip) {
		struct in_addr a;
		inet_pton(AF_INET, reqip, &a);
		p[k++] = 50; p[k++] = 4;
		memcpy(p + k, &a.s_addr, 4);
		k += 4;
	}
	if (sid) {
		p[k++] = 54; p[k++] = 4;
		memcpy(p + k, sid, 4);
		k += 4;
	}
	p[k++] = 255;
	return 300;
}

/* Wait for a reply with xid; its message type, or -1. */
static int wait_reply(int fd, uint32_t xid, uint8_t *buf, ssize_t *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	for (int i = 0; i < 30; i++) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, buf, 1500, 0);
		if (n < 241 || buf[0] != 2 || memcmp(buf + 4, &xid, 4))
			continue;
		*len = n;
		for (ssize_t k = 240; k + 2 <= n && buf[k] != 255;) {
			if (buf[k] == 0) { k++; continue; }
			if (buf[k] == 53)
				return buf[k + 2];
			k += 2 + buf[k + 1];
		}
	}
	return -1;
}

static void dump(const char *what, const uint8_t *b, ssize_t n)
{
	char a[INET_ADDRSTRLEN];
	printf("%s yiaddr %s", what, inet_ntop(AF_INET, b + 16, a, sizeof(a)));
	printf(" flags %02x%02x chaddr %02x:%02x:%02x:%02x:%02x:%02x\n",
	    b[10], b[11], b[28], b[29], b[30], b[31], b[32], b[33]);
	for (ssize_t k = 240; k + 2 <= n && b[k] != 255;) {
		if (b[k] == 0) { k++; continue; }
		printf("%s opt %d ", what, b[k]);
		for (int i = 0; i < b[k + 1] && k + 2 + i < n; i++)
			printf("%02x", b[k + 2 + i]);
		printf("\n");
		k += 2 + b[k + 1];
	}
}

static int exchange(int fd, int type, const char *reqip, const uint8_t *sid,
    int want, const char *what, uint8_t *buf, ssize_t *n)
{
	uint8_t p[300];
	uint32_t xid = (uint32_t)rand();
	struct sockaddr_in to = { .sin_family = AF_INET,
		.sin_port = htons(67), .sin_addr.s_addr = INADDR_BROADCAST };
	mkreq(p, xid, type, reqip, sid);
	if (sendto(fd, p, sizeof(p), 0, (struct sockaddr *)&to,
	    sizeof(to)) < 0) {
		perror("sendto");
		return -1;
	}
	int got = wait_reply(fd, xid, buf, n);
	if (got != want) {
		printf("%s: got type %d, want %d\n", what, got, want);
		return -1;
	}
	dump(what, buf, *n);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[1500], sid[4] = { 10, 0, 2, 1 };
	ssize_t n;
	int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons(68) };

	if (argc != 2) {
		fprintf(stderr, "usage: dhcpclient IFNAME\n");
		return 2;
	}
	srand((unsigned)getpid());
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[1],
	    (socklen_t)strlen(argv[1]) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("socket");
		return 1;
	}
	if (exchange(fd, 1, NULL, NULL, 2, "offer", buf, &n) < 0 ||
	    exchange(fd, 3, "10.0.2.2", sid, 5, "ack", buf, &n) < 0 ||
	    exchange(fd, 3, "10.0.2.77", NULL, 6, "nak", buf, &n) < 0)
		return 1;
	return 0;
}
