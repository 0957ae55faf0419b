/*
 * rt_ctl.c: the VMI runtime's view of a running VMM: its control socket
 * (one request per connection, "status" every poll_ms, "stop" and "kill"
 * for deletion; never blocking the loop: non-blocking connect, a read
 * watched on the loop, RT_CTL_TIMEOUT_MS to answer), the phase changes
 * the answers imply (Scheduled -> Running on the first answer, Unknown
 * after RT_UNKNOWN_AFTER silent polls, Running again when it answers),
 * the guest's boot report ("booted_ms", or "login:" on its console), and
 * the readiness and liveness probes.
 */
#include "rt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "priv.h"
#include "probe.h"
#include "store.h"

/*
 * The probes (agent/probe.c) are another module's: linked when it is in
 * the tree. Without it, a VMI with a probe gets an event saying so and
 * its Ready condition stays False (never a wrong True).
 */
#pragma weak probe_new
#pragma weak probe_free
#pragma weak probe_ok
#pragma weak probe_last_error

#define RT_CTL_TIMEOUT_MS	500
#define RT_UNKNOWN_AFTER	3	/* polls without an answer */
#define RT_START_UNKNOWN_MS	15000	/* no answer at all after start */
#define RT_POLL_BOOT_MS		200	/* polls until answered and booted */
#define RT_POLL_FAST		30	/* 1 ms polls after a spawn */

/* ---- control socket ---------------------------------------------------- */

static void
rt_ctl_close(struct rt_vmi *v)
{
	if (v->ctl_fd >= 0) {
		loop_del_fd(v->rt->l, v->ctl_fd);
		close(v->ctl_fd);
		v->ctl_fd = -1;
	}
	rt_timer_cancel(v->rt, &v->ctl_timer);
}

void
rt_ctl_abort(struct rt_vmi *v)
{
	rt_ctl_close(v);
	v->ctl_req = RT_CTL_NONE;
}

static void rt_poll_cb(void *arg);

static void
rt_poll_again(struct rt_vmi *v)
{
	unsigned ms = v->rt->poll_ms;

	/* Quicker until the VMM answers and the guest has booted. */
	if ((!v->answered || !v->booted) && ms > RT_POLL_BOOT_MS)
		ms = RT_POLL_BOOT_MS;
	/* Until its first answer: every ms for RT_POLL_FAST tries (a VMM
	 * starts in 5-20 ms; a refused connect costs ~20 us), then 2, 4,
	 * 8 ... ms, so that Running is seen as soon as it answers. */
	if (!v->answered && v->poll_backoff < ms) {
		ms = v->poll_backoff;
		if (++v->poll_tries > RT_POLL_FAST)
			v->poll_backoff *= 2;
	}
	rt_timer_cancel(v->rt, &v->poll_timer);
	if (v->stage == RT_ACTIVE && v->pid > 0)
		v->poll_timer = loop_timer(v->rt->l, ms, rt_poll_cb, v);
}

/*
 * "login:" on the serial console also means booted (guests without the
 * boot timer, CirrOS). The runtime reads the console socket as one of its
 * readers (it never types, so it never takes the writer's place) until
 * then; the VMM sends the last 64 KiB first, so a late reader misses
 * nothing. No console log file: a chatty guest cannot fill the run dir.
 */
void
rt_con_close(struct rt_vmi *v)
{
	if (v->con_fd >= 0) {
		loop_del_fd(v->rt->l, v->con_fd);
		close(v->con_fd);
		v->con_fd = -1;
	}
}

static void
rt_con_readable(void *arg, int fd, short revents)
{
	struct rt_vmi *v = arg;
	char buf[4096 + sizeof(v->console_tail)];
	size_t keep = strlen(v->console_tail);
	ssize_t n;

	(void)revents;
	memcpy(buf, v->console_tail, keep);
	n = read(fd, buf + keep, sizeof(buf) - keep);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		rt_con_close(v);	/* opened again at the next poll */
		return;
	}
	n += (ssize_t)keep;
	if (memmem(buf, (size_t)n, "login:", 6) != NULL) {
		rt_con_close(v);
		v->booted = 1;
		rt_sync_status(v);
		return;
	}
	keep = n > 5 ? 5 : (size_t)n;
	memcpy(v->console_tail, buf + n - keep, keep);
	v->console_tail[keep] = '\0';
	for (size_t i = 0; i < keep; i++)	/* NULs would cut the tail */
		if (v->console_tail[i] == '\0')
			v->console_tail[i] = ' ';
}

static void
rt_con_open(struct rt_vmi *v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (v->con_fd >= 0 || v->booted || snprintf(sa.sun_path,
	    sizeof(sa.sun_path), "%s/console.sock", v->dir) >=
	    (int)sizeof(sa.sun_path))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    loop_add_fd(v->rt->l, fd, POLLIN, rt_con_readable, v) < 0) {
		close(fd);
		return;
	}
	v->con_fd = fd;
	v->console_tail[0] = '\0';
}

static void rt_probes_start(struct rt_vmi *v);

static void
rt_status_answer(struct rt_vmi *v, json_t *ans)
{
	const json_t *booted = json_object_get(ans, "booted_ms");
	int changed = 0;

	if (ans && json_object_get(ans, "state")) {
		v->ctl_fails = 0;
		if (!v->answered || strcmp(v->phase, "Running") != 0) {
			json_t *vmi = rt_get(v);

			if (vmi && !v->answered)
				store_event(v->rt->s, vmi, "Normal", "Started",
				    "VirtualMachineInstance started.");
			else if (vmi)
				store_event(v->rt->s, vmi, "Normal",
				    "Responsive", "drover-vmm answers again");
			json_decref(vmi);
			v->answered = 1;
			v->phase = "Running";
			changed = 1;
			rt_probes_start(v);
		}
		if (!v->booted && json_is_number(booted)) {
			v->booted = 1;
			changed = 1;
			rt_con_close(v);
		} else if (!v->booted)
			rt_con_open(v);
	} else {
		v->ctl_fails++;
		if ((v->answered && v->ctl_fails >= RT_UNKNOWN_AFTER) ||
		    (!v->answered && loop_now_ms() - v->started_ms >
		    RT_START_UNKNOWN_MS)) {
			if (strcmp(v->phase, "Unknown") != 0) {
				log_warnx("%s/%s: drover-vmm pid %d does not "
				    "answer on its control socket", v->ns,
				    v->name, (int)v->pid);
				v->phase = "Unknown";
				changed = 1;
			}
		}
	}
	if (changed)
		rt_sync_status(v);
}

static void
rt_ctl_done(struct rt_vmi *v, json_t *ans)
{
	enum rt_ctl_req req = v->ctl_req;

	rt_ctl_abort(v);
	if (req == RT_CTL_STATUS) {
		struct rt *rt = v->rt;

		rt_batch_begin(rt);	/* the VMI's status and its Pod */
		rt_status_answer(v, ans);
		rt_poll_again(v);
		rt_batch_end(rt);
	}
	json_decref(ans);
}

static void
rt_ctl_readable(void *arg, int fd, short revents)
{
	struct rt_vmi *v = arg;
	ssize_t n;

	(void)revents;
	n = read(fd, v->ctl_buf + v->ctl_len, sizeof(v->ctl_buf) - 1 -
	    v->ctl_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		v->ctl_len += (size_t)n;
	v->ctl_buf[v->ctl_len] = '\0';
	if (n > 0 && !memchr(v->ctl_buf, '\n', v->ctl_len) &&
	    v->ctl_len < sizeof(v->ctl_buf) - 1)
		return;
	rt_ctl_done(v, json_loads(v->ctl_buf, JSON_DISABLE_EOF_CHECK, NULL));
}

static void
rt_ctl_timeout(void *arg)
{
	struct rt_vmi *v = arg;

	v->ctl_timer = 0;
	rt_ctl_done(v, NULL);
}

void
rt_ctl_send(struct rt_vmi *v, enum rt_ctl_req req)
{
	static const char *const text[] = {
		[RT_CTL_STATUS] = "status\n", [RT_CTL_STOP] = "stop\n",
		[RT_CTL_KILL] = "kill\n",
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	rt_ctl_abort(v);
	v->ctl_req = req;
	v->ctl_len = 0;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock",
	    v->dir) >= (int)sizeof(sa.sun_path))
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, text[req], strlen(text[req]), MSG_NOSIGNAL |
	    MSG_DONTWAIT) < 0 ||
	    loop_add_fd(v->rt->l, fd, POLLIN, rt_ctl_readable, v) < 0) {
		close(fd);
		goto fail;
	}
	v->ctl_fd = fd;
	v->ctl_timer = loop_timer(v->rt->l, RT_CTL_TIMEOUT_MS, rt_ctl_timeout,
	    v);
	return;
fail:
	/* Deferred through the timer, never re-entered from here. */
	v->ctl_timer = loop_timer(v->rt->l, 1, rt_ctl_timeout, v);
}

static void
rt_poll_cb(void *arg)
{
	struct rt_vmi *v = arg;

	v->poll_timer = 0;
	if (v->stage != RT_ACTIVE || v->pid <= 0 || v->deleting)
		return;
	if (v->ctl_req == RT_CTL_NONE)
		rt_ctl_send(v, RT_CTL_STATUS);
}

void
rt_start_polling(struct rt_vmi *v)
{
	rt_timer_cancel(v->rt, &v->poll_timer);
	v->poll_backoff = 1;
	v->poll_tries = 0;
	v->poll_timer = loop_timer(v->rt->l, 1, rt_poll_cb, v);
}

/* ---- probes ------------------------------------------------------------ */

static void
rt_readiness_changed(void *arg, int ok)
{
	struct rt_vmi *v = arg;

	v->probe_ready = ok;
	rt_sync_status(v);
}

static void
rt_liveness_changed(void *arg, int ok)
{
	struct rt_vmi *v = arg;
	json_t *vmi;

	if (ok || v->pid <= 0)
		return;
	if ((vmi = rt_get(v)) != NULL) {
		store_event(v->rt->s, vmi, "Warning", "Unhealthy",
		    "Liveness probe failed: %s",
		    probe_last_error(v->liveness));
		json_decref(vmi);
	}
	/* The VMI ends (Failed); the VMIRS replaces it. */
	v->rt->priv->ops->vmm_signal(v->rt->priv, v->pid, v->starttime,
	    SIGKILL);
}

static void
rt_probes_start(struct rt_vmi *v)
{
	json_t *vmi = rt_get(v);
	const json_t *spec = json_object_get(vmi, "spec");
	const json_t *ifaces = json_object_get(json_object_get(json_object_get(
	    spec, "domain"), "devices"), "interfaces");
	const json_t *rp = json_object_get(spec, "readinessProbe");
	const json_t *lp = json_object_get(spec, "livenessProbe");
	char err[256] = "probes are not built into this droverd";

	if (!probe_new) {
		if (json_is_object(rp) || json_is_object(lp))
			store_event(v->rt->s, vmi, "Warning", "Unhealthy",
			    "Probes cannot run: %s", err);
		json_decref(vmi);
		return;
	}
	/* The VMI's IP: its pod IP, DNATed to the guest (masquerade). Without
	 * the pod network a probe reaches only a host it names itself. */
	const char *host = v->net && v->pod_ip[0] ? v->pod_ip : NULL;

	if (json_is_object(rp) && v->readiness == NULL) {
		v->readiness = probe_new(v->rt->l, PROBE_READINESS, rp, ifaces,
		    host, rt_readiness_changed, v, err, sizeof(err));
		if (v->readiness == NULL)
			store_event(v->rt->s, vmi, "Warning", "Unhealthy",
			    "Readiness probe cannot run: %s", err);
	}
	if (json_is_object(lp) && v->liveness == NULL) {
		v->liveness = probe_new(v->rt->l, PROBE_LIVENESS, lp, ifaces,
		    host, rt_liveness_changed, v, err, sizeof(err));
		if (v->liveness == NULL)
			store_event(v->rt->s, vmi, "Warning", "Unhealthy",
			    "Liveness probe cannot run: %s", err);
	}
	json_decref(vmi);
}

