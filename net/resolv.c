/* resolv.c: the node's resolv.conf for the guest's DHCP lease (resolv.h). */
#include "resolv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define RESOLV_MAX (64 * 1024)

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Next word of line[*i..n) into w (skipped if too long); its length, 0 at end. */
static size_t word(const char *line, size_t n, size_t *i, char *w, size_t cap,
    int *toolong)
{
	while (*i < n && is_space(line[*i]))
		(*i)++;
	size_t s = *i;
	while (*i < n && !is_space(line[*i]))
		(*i)++;
	size_t len = *i - s;
	*toolong = len >= cap;
	if (!*toolong) {
		memcpy(w, line + s, len);
		w[len] = '\0';
	}
	return len;
}

/* name without a trailing dot into out[DHCP_NAME_MAX + 1]; -1 if too long. */
static int copy_name(char *out, const char *name)
{
	size_t n = strlen(name);

	if (n > 1 && name[n - 1] == '.')
		n--;
	if (n > DHCP_NAME_MAX)
		return -1;
	memcpy(out, name, n);
	out[n] = '\0';
	return 0;
}

static void parse_line(const char *line, size_t n, struct resolv_conf *rc)
{
	char key[16], w[DHCP_NAME_MAX + 2];
	size_t i = 0;
	int toolong;
	struct in_addr a;

	if (!word(line, n, &i, key, sizeof(key), &toolong) || toolong)
		return;
	if (!strcmp(key, "nameserver")) {
		if (!word(line, n, &i, w, sizeof(w), &toolong) || toolong ||
		    inet_pton(AF_INET, w, &a) != 1) {
			log_debug("resolv: nameserver skipped (not IPv4)");
			return;
		}
		if (rc->ndns >= DHCP_MAX_DNS) {
			log_debug("resolv: more than %d nameservers",
			    DHCP_MAX_DNS);
			return;
		}
		rc->dns[rc->ndns++] = a.s_addr;
	} else if (!strcmp(key, "domain")) {
		if (!word(line, n, &i, w, sizeof(w), &toolong) || toolong)
			return;
		if (copy_name(rc->domain, w) < 0)
			log_debug("resolv: domain too long");
	} else if (!strcmp(key, "search")) {
		rc->nsearch = 0;	/* the last search line wins */
		while (word(line, n, &i, w, sizeof(w), &toolong)) {
			if (toolong || rc->nsearch >= DHCP_MAX_SEARCH ||
			    copy_name(rc->search[rc->nsearch], w) < 0) {
				log_debug("resolv: search domain skipped");
				continue;
			}
			rc->nsearch++;
		}
	}
}

void resolv_parse(const char *text, size_t len, struct resolv_conf *rc)
{
	size_t s = 0;

	memset(rc, 0, sizeof(*rc));
	while (s < len) {
		size_t e = s;
		while (e < len && text[e] != '\n')
			e++;
		size_t n = e - s;
		for (size_t k = 0; k < n; k++)
			if (text[s + k] == '#' || text[s + k] == ';') {
				n = k;
				break;
			}
		parse_line(text + s, n, rc);
		s = e + 1;
	}
}

int resolv_read(const char *path, struct resolv_conf *rc)
{
	static char buf[RESOLV_MAX];
	size_t len = 0;
	int fd, err = 0;

	memset(rc, 0, sizeof(*rc));
	path = path ? path : "/etc/resolv.conf";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_warn("resolv: %s", path);
		return err;
	}
	while (len < sizeof(buf)) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			log_warn("resolv: reading %s", path);
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (err)
		return err;
	if (len == sizeof(buf))
		log_warnx("resolv: %s cut at %d bytes", path, RESOLV_MAX);
	resolv_parse(buf, len, rc);
	return 0;
}

void resolv_to_lease(const struct resolv_conf *rc, struct dhcp_lease *l)
{
	memcpy(l->dns, rc->dns, sizeof(l->dns));
	l->ndns = rc->ndns;
	memcpy(l->search, rc->search, sizeof(l->search));
	l->nsearch = rc->nsearch;
	memcpy(l->domain, rc->domain, sizeof(l->domain));
}
