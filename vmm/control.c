/*
 * control.c: the control socket (see control.h). The main thread serves
 * it between waits, so a request is bounded in size (CONTROL_REQUEST_MAX)
 * and in time (CONTROL_TIMEOUT_MS to send it): a slow or silent client
 * cannot hold up the VMM's stop path for long.
 */
#include "control.h"

#include <errno.h>
#include <stdatomic.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "boottimer.h"
#include "console.h"
#include "log.h"
#include "vmm.h"

#define CONTROL_TIMEOUT_MS	200

struct control {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int
control_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_warnx("--control %s: path too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Replace a socket left by a VMM that died, nothing else. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		log_warn("--control %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct control *
control_open(const char *path)
{
	struct control *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	/* jansson seeds its hash tables from /dev/urandom on first use:
	 * do it now, before the sandbox forbids open(). */
	json_object_seed(0);
	c->fd = control_listen(path);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	return c;
}

int
control_fd(const struct control *c)
{
	return c ? c->fd : -1;
}

void
control_close(struct control *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	unlink(c->path);
	free(c);
}

/* Read one request line (without the newline); -1 on timeout or junk. */
static int
control_read_request(int fd, char *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	while (len < size - 1) {
		if (poll(&p, 1, CONTROL_TIMEOUT_MS) <= 0)
			return -1;
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return len ? 0 : -1;
}

static json_t *
control_vcpu_stats(const struct vmm_vcpu *v)
{
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I}", "vcpu", (int)v->id,
	    "runs", (json_int_t)v->stats.runs, "io", (json_int_t)v->stats.io,
	    "mmio", (json_int_t)v->stats.mmio,
	    "unhandled", (json_int_t)v->stats.unhandled,
	    "other", (json_int_t)v->stats.other);
}

static json_t *
control_status(struct vmm *vm)
{
	struct vmm_dev *bt = &vm->dev[VMM_DEV_BOOTTIMER];
	json_t *exits = json_array(), *st;
	const char *state;
	double booted = -1;

	pthread_mutex_lock(&vm->lock);
	state = vm->stopping ? "stopping" : vm->shutdown_asked ?
	    "shutting-down" : "running";
	pthread_mutex_unlock(&vm->lock);
	if (bt->state) {
		pthread_mutex_lock(&bt->lock);
		booted = boottimer_booted_ms(bt->state);
		pthread_mutex_unlock(&bt->lock);
	}
	for (unsigned i = 0; exits && i < vm->ncpus; i++)
		json_array_append_new(exits, control_vcpu_stats(&vm->vcpus[i]));
	st = json_pack("{s:s, s:i, s:I, s:f, s:I, s:o}", "state", state,
	    "vcpus", (int)vm->ncpus, "memory", (json_int_t)vm->ram_size,
	    "uptime_ms", boottimer_since_ms(&vm->start),
	    "console_dropped", (json_int_t)(vm->console ?
	    console_dropped(vm->console) : 0), "exits", exits);
	/* Port writes replayed from KVM's ring, not exits (coalesced.c). */
	if (st)
		json_object_set_new(st, "coalesced_writes", json_integer(
		    (json_int_t)atomic_load(&vm->coalesced)));
	/* The guest's boot-complete mark (boottimer.h); null until then. */
	if (st)
		json_object_set_new(st, "booted_ms", booted < 0 ? json_null() :
		    json_real(booted));
	return st;
}

static json_t *
control_dispatch(struct vmm *vm, const char *req)
{
	if (strcmp(req, "status") == 0)
		return control_status(vm);
	if (strcmp(req, "stop") == 0) {
		vmm_request_shutdown(vm, "control: stop");
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(req, "kill") == 0) {
		vmm_request_exit(vm, VMM_EXIT_STOPPED, "control: kill");
		return json_pack("{s:b}", "ok", 1);
	}
	return json_pack("{s:s}", "error", "unknown request (status, stop, "
	    "kill)");
}

void
control_serve(struct control *c, struct vmm *vm)
{
	char req[CONTROL_REQUEST_MAX];
	json_t *answer;
	char *text;
	int fd;

	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (control_read_request(fd, req, sizeof(req)) < 0)
		answer = json_pack("{s:s}", "error", "no request line");
	else
		answer = control_dispatch(vm, req);
	text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
	if (text) {
		/* One line; a client that does not read loses its answer. */
		if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ||
		    send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("control: answer not sent: %s", strerror(errno));
		free(text);
	}
	json_decref(answer);
	close(fd);
}
