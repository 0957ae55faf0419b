/*
 * ipam.c: one slot per host address. The file is a log of lines "ADDR
 * held OWNER" and "ADDR free SEQ" (SEQ: release order); a later line for
 * an address overrides an earlier one. Every change appends one line (one
 * write(2): a set-up does not rewrite and rename the file, which cost
 * milliseconds on the node's disk); at open, and when the log has grown
 * to four times the live lines, it is rewritten compact (temp file,
 * rename). A last line without its newline (the agent died in the write)
 * is ignored.
 */
#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct slot {
	char *owner;		/* NULL: free */
	uint64_t released;	/* 0: never used */
};

struct ipam {
	char *path;
	uint32_t net;
	int plen;
	uint32_t n;		/* slots: host addresses net+2 .. bcast-1 */
	struct slot *s;
	uint64_t seq;
	int fd;			/* the log, O_APPEND; -1: not open */
	unsigned logged;	/* lines in the log */
};

static int ipam_save(struct ipam *ip);

int
ipam_parse_cidr(const char *cidr, uint32_t *net, int *plen)
{
	char a[INET_ADDRSTRLEN], *end;
	const char *sl = strchr(cidr, '/');
	struct in_addr in;
	long p;

	if (sl == NULL || (size_t)(sl - cidr) >= sizeof(a))
		return -EINVAL;
	memcpy(a, cidr, (size_t)(sl - cidr));
	a[sl - cidr] = '\0';
	errno = 0;
	p = strtol(sl + 1, &end, 10);
	if (inet_pton(AF_INET, a, &in) != 1 || *end || end == sl + 1 ||
	    p < 16 || p > 30)
		return -EINVAL;
	*net = ntohl(in.s_addr) & ~((1u << (32 - p)) - 1);
	*plen = (int)p;
	return 0;
}

static int
ipam_save(struct ipam *ip)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", ip->path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	for (uint32_t i = 0; i < ip->n; i++) {
		struct in_addr in = { htonl(ip->net + 2 + i) };
		if (ip->s[i].owner != NULL)
			fprintf(f, "%s held %s\n", inet_ntoa(in), ip->s[i].owner);
		else if (ip->s[i].released != 0)
			fprintf(f, "%s free %llu\n", inet_ntoa(in),
			    (unsigned long long)ip->s[i].released);
	}
	/* No fsync: the rename is atomic against the agent dying, which is
	 * what the file must survive; a power loss also takes the netns
	 * (on /run) whose addresses it records. */
	if (fflush(f) != 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, ip->path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		log_error("ipam: cannot save %s: %s", ip->path, strerror(-r));
		return r;
	}
	if (ip->fd >= 0)
		close(ip->fd);
	ip->fd = open(ip->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (ip->fd < 0)
		return -errno;
	ip->logged = 0;
	for (uint32_t i = 0; i < ip->n; i++)
		ip->logged += ip->s[i].owner != NULL || ip->s[i].released != 0;
	return 0;
}

/* Append slot i's state to the log (compacting it when it grew). */
static int
ipam_record(struct ipam *ip, uint32_t i)
{
	struct in_addr in = { htonl(ip->net + 2 + i) };
	char line[400], a[INET_ADDRSTRLEN];
	int n;
	ssize_t w;

	if (ip->logged >= 256 && ip->logged >= 4 * (uint32_t)ipam_used(ip) + 64)
		return ipam_save(ip);
	inet_ntop(AF_INET, &in, a, sizeof(a));
	if (ip->s[i].owner != NULL)
		n = snprintf(line, sizeof(line), "%s held %s\n", a,
		    ip->s[i].owner);
	else
		n = snprintf(line, sizeof(line), "%s free %llu\n", a,
		    (unsigned long long)ip->s[i].released);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	if (ip->fd < 0)
		return ipam_save(ip);
	do
		w = write(ip->fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w != n) {
		log_error("ipam: cannot append to %s: %s", ip->path,
		    w < 0 ? strerror(errno) : "short write");
		return ipam_save(ip);	/* the whole state, or an error */
	}
	ip->logged++;
	return 0;
}

static int
ipam_load(struct ipam *ip, char *err, size_t errlen)
{
	FILE *f = fopen(ip->path, "re");
	char line[512], a[64], kind[16], rest[400];
	unsigned lineno = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct in_addr in;
		uint32_t h;

		lineno++;
		if (strchr(line, '\n') == NULL && feof(f)) {
			log_warnx("ipam: %s line %u: cut short (the agent died "
			    "writing it): ignored", ip->path, lineno);
			break;
		}
		if (sscanf(line, "%63s %15s %399s", a, kind, rest) != 3 ||
		    inet_pton(AF_INET, a, &in) != 1)
			goto bad;
		h = ntohl(in.s_addr);
		if (h < ip->net + 2 || h - ip->net - 2 >= ip->n) {
			log_warnx("ipam: %s line %u: %s is outside the pod "
			    "CIDR: dropped", ip->path, lineno, a);
			continue;
		}
		h -= ip->net + 2;
		if (strcmp(kind, "held") == 0) {
			free(ip->s[h].owner);
			if ((ip->s[h].owner = strdup(rest)) == NULL)
				goto bad;
		} else if (strcmp(kind, "free") == 0) {
			free(ip->s[h].owner);
			ip->s[h].owner = NULL;
			ip->s[h].released = strtoull(rest, NULL, 10);
			if (ip->s[h].released > ip->seq)
				ip->seq = ip->s[h].released;
		} else
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	snprintf(err, errlen, "ipam: %s line %u: malformed", ip->path, lineno);
	return -EINVAL;
}

struct ipam *
ipam_open(const char *path, const char *cidr, char *err, size_t errlen)
{
	struct ipam *ip = calloc(1, sizeof(*ip));

	if (ip == NULL || (ip->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "ipam: out of memory");
		goto fail;
	}
	ip->fd = -1;
	if (ipam_parse_cidr(cidr, &ip->net, &ip->plen) < 0) {
		snprintf(err, errlen, "ipam: bad pod CIDR '%s' (A.B.C.D/16..30)",
		    cidr);
		goto fail;
	}
	ip->n = (1u << (32 - ip->plen)) - 3;
	if ((ip->s = calloc(ip->n, sizeof(*ip->s))) == NULL) {
		snprintf(err, errlen, "ipam: out of memory");
		goto fail;
	}
	if (ipam_load(ip, err, errlen) < 0)
		goto fail;
	/* Compact, and open the log for appending. */
	if (ipam_save(ip) < 0) {
		snprintf(err, errlen, "ipam: cannot write %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	return ip;
fail:
	ipam_close(ip);
	return NULL;
}

void
ipam_close(struct ipam *ip)
{
	if (ip == NULL)
		return;
	if (ip->fd >= 0)
		close(ip->fd);
	for (uint32_t i = 0; ip->s != NULL && i < ip->n; i++)
		free(ip->s[i].owner);
	free(ip->s);
	free(ip->path);
	free(ip);
}

static long
ipam_find(const struct ipam *ip, const char *owner)
{
	for (uint32_t i = 0; i < ip->n; i++)
		if (ip->s[i].owner != NULL && strcmp(ip->s[i].owner, owner) == 0)
			return i;
	return -1;
}

uint32_t
ipam_lookup(const struct ipam *ip, const char *owner)
{
	long i = ipam_find(ip, owner);

	return i < 0 ? 0 : ip->net + 2 + (uint32_t)i;
}

uint32_t
ipam_alloc(struct ipam *ip, const char *owner)
{
	long i = ipam_find(ip, owner), best = -1;

	if (i >= 0)
		return ip->net + 2 + (uint32_t)i;
	if (owner[0] == '\0' || strlen(owner) > 300 || strpbrk(owner, " \t\n")) {
		errno = EINVAL;
		return 0;
	}
	for (uint32_t k = 0; k < ip->n; k++)
		if (ip->s[k].owner == NULL &&
		    (best < 0 || ip->s[k].released < ip->s[best].released))
			best = k;
	if (best < 0) {
		errno = ENOSPC;
		return 0;
	}
	if ((ip->s[best].owner = strdup(owner)) == NULL)
		return 0;
	if (ipam_record(ip, (uint32_t)best) < 0) {
		free(ip->s[best].owner);
		ip->s[best].owner = NULL;
		errno = EIO;
		return 0;
	}
	return ip->net + 2 + (uint32_t)best;
}

int
ipam_rename(struct ipam *ip, const char *owner, const char *to)
{
	long i = ipam_find(ip, owner);
	char *old, *n;

	if (i < 0)
		return -ENOENT;
	if (to[0] == '\0' || strlen(to) > 300 || strpbrk(to, " \t\n"))
		return -EINVAL;
	if (ipam_find(ip, to) >= 0)
		return -EEXIST;
	if ((n = strdup(to)) == NULL)
		return -ENOMEM;
	old = ip->s[i].owner;
	ip->s[i].owner = n;
	if (ipam_record(ip, (uint32_t)i) < 0) {
		ip->s[i].owner = old;
		free(n);
		return -EIO;
	}
	free(old);
	return 0;
}

int
ipam_release(struct ipam *ip, const char *owner)
{
	long i = ipam_find(ip, owner);

	if (i < 0)
		return -ENOENT;
	free(ip->s[i].owner);
	ip->s[i].owner = NULL;
	ip->s[i].released = ++ip->seq;
	return ipam_record(ip, (uint32_t)i);
}

size_t
ipam_used(const struct ipam *ip)
{
	size_t n = 0;

	for (uint32_t i = 0; i < ip->n; i++)
		n += ip->s[i].owner != NULL;
	return n;
}

uint32_t
ipam_gateway(const struct ipam *ip, int *plen)
{
	*plen = ip->plen;
	return ip->net + 1;
}

const char *
ipam_next_owner(const struct ipam *ip, uint32_t *pos)
{
	for (; *pos < ip->n; (*pos)++)
		if (ip->s[*pos].owner != NULL)
			return ip->s[(*pos)++].owner;
	return NULL;
}
