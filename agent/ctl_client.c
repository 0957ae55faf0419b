/* ctl_client.c: droverctl's local socket client and common helpers. */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Responses can be large (lists); a bound against a broken server. */
#define CTL_MAX_RESPONSE (512u << 20)

int
ctl_connect(struct ctl_conn *c, const char *socket_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "error: %s: socket path too long\n",
		    socket_path);
		return -1;
	}
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0) {
		fprintf(stderr, "error: cannot connect to droverd at %s: %s "
		    "(is droverd running? --socket PATH)\n", socket_path,
		    strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

void
ctl_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
ctl_send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until a newline; returns the line length, -1 on error/EOF. */
static ssize_t
ctl_read_line(struct ctl_conn *c)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n',
		    c->len - scanned) : NULL;
		ssize_t n;

		if (nl)
			return nl - c->buf;
		scanned = c->len;
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			char *p;

			if (cap > CTL_MAX_RESPONSE)
				return -1;
			p = realloc(c->buf, cap);
			if (!p)
				return -1;
			c->buf = p;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

json_t *
ctl_call(struct ctl_conn *c, json_t *req)
{
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_error_t jerr;
	json_t *resp;
	ssize_t line;
	int rc, send_errno;

	json_decref(req);
	if (!text) {
		fprintf(stderr, "error: out of memory\n");
		return NULL;
	}
	rc = ctl_send_all(c->fd, text, strlen(text));
	free(text);
	if (rc == 0)
		rc = ctl_send_all(c->fd, "\n", 1);
	send_errno = errno;
	/* Even when sending failed: droverd may have answered (a refusal)
	 * and closed before reading the request. */
	line = ctl_read_line(c);
	if (line < 0) {
		if (rc < 0)
			fprintf(stderr, "error: sending to droverd: %s\n",
			    strerror(send_errno));
		else
			fprintf(stderr, "error: droverd closed the "
			    "connection\n");
		return NULL;
	}
	resp = json_loadb(c->buf, (size_t)line, 0, &jerr);
	memmove(c->buf, c->buf + line + 1, c->len - (size_t)line - 1);
	c->len -= (size_t)line + 1;
	if (!json_is_object(resp)) {
		fprintf(stderr, "error: droverd sent a bad response: %s\n",
		    resp ? "not an object" : jerr.text);
		json_decref(resp);
		return NULL;
	}
	return resp;
}

json_t *
ctl_call1(const char *socket_path, json_t *req)
{
	struct ctl_conn c;
	json_t *resp;

	if (ctl_connect(&c, socket_path) < 0) {
		json_decref(req);
		return NULL;
	}
	resp = ctl_call(&c, req);
	ctl_close(&c);
	return resp;
}

int
ctl_server_error(const json_t *resp, const char *prefix)
{
	const json_t *st = json_object_get(resp, "error");
	const char *reason, *msg;

	if (!st)
		return 0;
	reason = json_string_value(json_object_get(st, "reason"));
	msg = json_string_value(json_object_get(st, "message"));
	fprintf(stderr, "Error from server (%s): %s%s\n",
	    reason ? reason : "InternalError", prefix ? prefix : "",
	    msg ? msg : "unknown error");
	return 1;
}

/* "--flag=value" or "--flag value"; NULL when it is not flag. */
static const char *
ctl_flag(int argc, char **argv, int *i, const char *s, const char *l,
    int *bad)
{
	const char *a = argv[*i];
	size_t ll = l ? strlen(l) : 0;

	if ((s && strcmp(a, s) == 0) || (l && strcmp(a, l) == 0)) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "error: flag needs an argument: %s\n",
			    a);
			*bad = 1;
			return NULL;
		}
		return argv[++*i];
	}
	if (l && strncmp(a, l, ll) == 0 && a[ll] == '=')
		return a + ll + 1;
	if (s && strncmp(a, s, 2) == 0 && a[2] != '\0' && a[1] != '-')
		return a + 2 + (a[2] == '=');
	return NULL;
}

int
ctl_parse(int argc, char **argv, struct ctl_args *a)
{
	int bad = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc && !bad; i++) {
		const char *v;
		char *end;

		if ((v = ctl_flag(argc, argv, &i, "-n", "--namespace", &bad)))
			a->ns = v;
		else if ((v = ctl_flag(argc, argv, &i, "-o", "--output",
		    &bad)))
			a->output = v;
		else if ((v = ctl_flag(argc, argv, &i, "-f", "--filename",
		    &bad))) {
			if (a->nfiles == 16) {
				fprintf(stderr, "error: too many -f\n");
				return 2;
			}
			a->files[a->nfiles++] = v;
		} else if ((v = ctl_flag(argc, argv, &i, NULL, "--replicas",
		    &bad))) {
			errno = 0;
			a->replicas = strtoll(v, &end, 10);
			if (errno || *end || end == v) {
				fprintf(stderr, "error: invalid argument "
				    "\"%s\" for \"--replicas\" flag\n", v);
				return 2;
			}
			a->have_replicas = 1;
		} else if (bad)
			break;
		else if (strcmp(argv[i], "-A") == 0 ||
		    strcmp(argv[i], "--all-namespaces") == 0)
			a->all_ns = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "error: unknown flag: %s\n", argv[i]);
			return 2;
		} else if (a->npos < 8)
			a->pos[a->npos++] = argv[i];
		else {
			fprintf(stderr, "error: too many arguments\n");
			return 2;
		}
	}
	return bad ? 2 : 0;
}
