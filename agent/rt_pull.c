/*
 * rt_pull.c: containerDisk images the runtime pulls itself, as the kubelet
 * does for a pod whose image is not on the node (imagePullPolicy
 * IfNotPresent): a VMI whose image does not resolve stays Pending while
 * its image is pulled, then starts.
 *
 * images_pull() blocks (HTTPS, possibly hundreds of MiB), so each pull
 * runs in a forked child process that only calls it and exits; the
 * loop watches the child through a pidfd and reads its error message
 * from a pipe. The image store is safe across processes (droverctl
 * pulls into it the same way): its commit point is taken under a lock
 * file and resolve reads the references from disk.
 *
 * One pull per reference at a time. A failed pull is retried after a
 * back-off (10 s doubling to 5 min, the kubelet's), and until then the
 * VMIs waiting for it show ImagePullBackOff with the error. When a pull
 * ends, every waiting VMI is looked at again at once.
 */
#include "rt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "loop.h"
#include "priv.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define RP_BACKOFF_MS		10000
#define RP_BACKOFF_MAX_MS	300000
#define RP_RESOLVE_GRACE_MS	60000	/* pulled, yet not resolving: error */

struct rt_pull {
	struct rt_pull *next;
	struct rt *rt;
	char ref[1024];
	pid_t pid;			/* 0: none running */
	int pidfd, errfd;
	char err[512];			/* the last failure */
	unsigned failures;
	uint64_t failed_ms, ok_ms;
};

static struct rt_pull *
rp_find(struct rt *rt, const char *ref, int create)
{
	struct rt_pull *p;

	for (p = rt->pulls; p; p = p->next)
		if (strcmp(p->ref, ref) == 0)
			return p;
	if (!create || strlen(ref) >= sizeof(p->ref) ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->rt = rt;
	snprintf(p->ref, sizeof(p->ref), "%s", ref);
	p->pidfd = p->errfd = -1;
	p->next = rt->pulls;
	rt->pulls = p;
	return p;
}

static void
rp_close(struct rt_pull *p)
{
	if (p->pidfd >= 0) {
		loop_del_fd(p->rt->l, p->pidfd);
		close(p->pidfd);
	}
	if (p->errfd >= 0)
		close(p->errfd);
	p->pidfd = p->errfd = -1;
}

/* Every VMI waiting for an image is looked at again now. */
static void
rp_wake(struct rt *rt)
{
	struct rt_vmi *v;

	for (v = rt->vmis; v; v = v->next)
		if (v->stage == RT_PENDING && v->retry_timer) {
			rt_timer_cancel(rt, &v->retry_timer);
			v->dirty = 1;
		}
	rt_kick(rt);
}

static void
rp_child_done(void *arg, int fd, short revents)
{
	struct rt_pull *p = arg;
	int ws = 0;
	ssize_t n;

	(void)fd;
	(void)revents;
	n = read(p->errfd, p->err, sizeof(p->err) - 1);
	p->err[n > 0 ? n : 0] = '\0';
	while (waitpid(p->pid, &ws, 0) < 0 && errno == EINTR)
		;
	rp_close(p);
	p->pid = 0;
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
		log_info("image %s pulled", p->ref);
		p->failures = 0;
		p->ok_ms = loop_now_ms();
	} else {
		if (p->err[0] == '\0')
			snprintf(p->err, sizeof(p->err), "the pull ended with "
			    "status %d", ws);
		p->failures++;
		p->failed_ms = loop_now_ms();
		log_warnx("image %s: pull failed: %s", p->ref, p->err);
	}
	rp_wake(p->rt);
}

/* The child: pull, report an error on fd, exit without clean-up. */
static void
rp_child(struct rt_pull *p, int fd)
{
	char err[512] = "";
	int rc;

	/* Nothing of droverd's (its API sockets above all) stays open here
	 * while the pull runs; the image store holds no fds between calls. */
	priv_close_fds(fd);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	rc = images_pull(p->rt->im, p->ref, NULL, NULL, NULL, err, sizeof(err));
	if (rc < 0 && write(fd, err, strlen(err)) < 0)
		_exit(2);
	_exit(rc < 0 ? 1 : 0);
}

static int
rp_start(struct rt_pull *p)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (p->pid == 0) {
		close(pfd[0]);
		rp_child(p, pfd[1]);
	}
	close(pfd[1]);
	p->errfd = pfd[0];
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0 || loop_add_fd(p->rt->l, p->pidfd, POLLIN,
	    rp_child_done, p) < 0) {
		/* Cannot watch it: wait for it here (rare). */
		rp_child_done(p, -1, 0);
		return 0;
	}
	log_info("image %s: pulling (pid %d)", p->ref, (int)p->pid);
	return 0;
}

int
rt_pull_image(struct rt *rt, const char *ref, char *msg, size_t msglen)
{
	struct rt_pull *p = rp_find(rt, ref, 1);
	uint64_t now = loop_now_ms(), backoff;
	int rc;

	if (p == NULL) {
		snprintf(msg, msglen, "image %s: cannot pull: out of memory",
		    ref);
		return -EAGAIN;
	}
	if (p->pid > 0)
		return 1;
	if (p->ok_ms && now - p->ok_ms < RP_RESOLVE_GRACE_MS)
		return -EIO;		/* the caller's resolve error says why */
	if (p->failures) {
		backoff = (uint64_t)RP_BACKOFF_MS << (p->failures - 1 < 5 ?
		    p->failures - 1 : 5);
		if (backoff > RP_BACKOFF_MAX_MS)
			backoff = RP_BACKOFF_MAX_MS;
		if (now - p->failed_ms < backoff) {
			snprintf(msg, msglen, "Back-off pulling image \"%s\": %s",
			    ref, p->err);
			return -EAGAIN;
		}
	}
	if ((rc = rp_start(p)) < 0) {
		snprintf(msg, msglen, "image %s: cannot start a pull: %s", ref,
		    strerror(-rc));
		return -EAGAIN;
	}
	if (p->pid == 0 && p->failures) {	/* it ran to its end here */
		snprintf(msg, msglen, "Failed to pull image \"%s\": %s", ref,
		    p->err);
		return -EAGAIN;
	}
	return 1;
}

void
rt_pull_free_all(struct rt *rt)
{
	struct rt_pull *p;

	while ((p = rt->pulls) != NULL) {
		rt->pulls = p->next;
		if (p->pid > 0) {
			/* droverd stops: the pull is abandoned (its staging
			 * area is collected by the image store). */
			kill(p->pid, SIGTERM);
			waitpid(p->pid, NULL, 0);
		}
		rp_close(p);
		free(p);
	}
}
