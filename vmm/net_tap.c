/*
 * net_tap.c: the tap network back end (netbe.h), see the Linux
 * Documentation/networking/tuntap.rst and include/uapi/linux/if_tun.h.
 *
 * By name: open /dev/net/tun (O_RDWR | O_NONBLOCK | O_CLOEXEC) and attach
 * with TUNSETIFF IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, then TUNSETVNETHDRSZ
 * 12: the kernel reads and writes the 12-byte struct virtio_net_hdr_v1
 * (virtio 1.2, 5.1.6) in front of every frame itself and skips
 * num_buffers, the two bytes past its 10-byte header.
 *
 * By fd (a tap an agent opened and passed in): TUNGETIFF says what it is.
 * It must be a tap (IFF_TAP); IFF_VNET_HDR gets TUNSETVNETHDRSZ 12, and
 * without it we strip the header on send and put a zero one in front on
 * receive; without IFF_NO_PI we add and strip the 4-byte struct tun_pi
 * too. TUNGETIFF cannot say which: it reports IFF_NOFILTER, the same bit
 * as IFF_NO_PI (0x1000), whenever no filter is attached; so IFF_NO_PI
 * comes from /sys/class/net/NAME/tun_flags, and if sysfs is missing we
 * assume it (agents should set it). The fd is made non-blocking and
 * close-on-exec (the file status flags are shared with whoever else holds
 * the file).
 *
 * Either way TUNSETOFFLOAD 0: no checksum or segmentation offloads towards
 * us, so the kernel hands us only whole, checksummed frames of at most the
 * tap's MTU (the front end negotiates no receive offloads with the guest
 * either). With IFF_VNET_HDR the header we send is honoured (nb.vnet_hdr):
 * the front end's transmit offloads (partial checksums, TSO) are done by
 * the kernel. The vnet header is little-endian, as on every host this runs
 * on (x86).
 *
 * Receive: a frame that does not fit the caller's buffer is dropped and
 * reported as -EMSGSIZE. tun reads the whole frame length even when it
 * copies less (older kernels return the copied length), so we read into
 * the buffer plus a one-byte sentinel: a result past the buffer means
 * truncation either way.
 */
#include "netbe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"

#define NET_TAP_PI_LEN		4	/* struct tun_pi */
/* Caller segments per frame; room is left for the pi and sentinel. */
#define NET_TAP_MAX_IOV		(IOV_MAX - 2)

struct net_tap {
	struct net_backend nb;		/* first: the ops see a net_backend */
	int fd;
	int vnet;			/* the kernel handles the 12-byte header */
	int pi;				/* frames carry a struct tun_pi */
	char name[IFNAMSIZ];
	uint8_t pi_buf[NET_TAP_PI_LEN];
	uint8_t hdr_buf[NETBE_HDR_LEN];
	uint8_t sentinel;
	struct iovec iov[IOV_MAX];	/* scratch for one frame */
};

static struct net_tap *
net_tap_of(struct net_backend *nb)
{
	return (struct net_tap *)nb;
}

/*
 * Append src[0..n) without its first skip bytes to t->iov at *k.
 */
static void
net_tap_append(struct net_tap *t, int *k, const struct iovec *src, int n,
    size_t skip)
{
	for (int i = 0; i < n; i++) {
		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		t->iov[*k].iov_base = (uint8_t *)src[i].iov_base + skip;
		t->iov[*k].iov_len = src[i].iov_len - skip;
		(*k)++;
		skip = 0;
	}
}

/* The kernel's view of a frame: [pi] [header unless we strip it] data. */
static int
net_tap_frame_iov(struct net_tap *t, const struct iovec *iov, int n)
{
	int k = 0;

	if (t->pi) {
		t->iov[k].iov_base = t->pi_buf;
		t->iov[k++].iov_len = sizeof(t->pi_buf);
	}
	net_tap_append(t, &k, iov, n, t->vnet ? 0 : NETBE_HDR_LEN);
	return k;
}

static ssize_t
net_tap_send(struct net_backend *nb, const struct iovec *iov, int n)
{
	struct net_tap *t = net_tap_of(nb);
	ssize_t total = iov_total(iov, n, NET_TAP_MAX_IOV);
	ssize_t r;
	int k;

	if (total < 0)
		return total;
	if (total < NETBE_HDR_LEN || total > NETBE_MAX_FRAME)
		return -EINVAL;
	memset(t->pi_buf, 0, sizeof(t->pi_buf));	/* flags 0, proto 0 */
	k = net_tap_frame_iov(t, iov, n);
	do {
		r = writev(t->fd, t->iov, k);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return total;
}

/* A received frame as the caller sees it: header (ours if we add it). */
static ssize_t
net_tap_recv_fixup(struct net_tap *t, const struct iovec *iov, int n,
    ssize_t r, size_t cap)
{
	size_t want;

	if (t->pi) {
		if (r < NET_TAP_PI_LEN)
			return -EIO;
		r -= NET_TAP_PI_LEN;
	}
	if (!t->vnet)
		r += NETBE_HDR_LEN;
	want = (size_t)r;
	if (want > cap)
		return -EMSGSIZE;
	if (!t->vnet) {
		/* A plain header: no offloads, nothing to report. */
		size_t left = NETBE_HDR_LEN;

		for (int i = 0; i < n && left; i++) {
			size_t m = iov[i].iov_len < left ? iov[i].iov_len :
			    left;

			memset(iov[i].iov_base, 0, m);
			left -= m;
		}
	}
	return r;
}

static ssize_t
net_tap_recv(struct net_backend *nb, const struct iovec *iov, int n)
{
	struct net_tap *t = net_tap_of(nb);
	ssize_t cap = iov_total(iov, n, NET_TAP_MAX_IOV);
	ssize_t r;
	int k;

	if (cap < 0)
		return cap;
	if (cap < NETBE_HDR_LEN)
		return -EINVAL;
	k = net_tap_frame_iov(t, iov, n);
	t->iov[k].iov_base = &t->sentinel;
	t->iov[k++].iov_len = 1;
	do {
		r = readv(t->fd, t->iov, k);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return net_tap_recv_fixup(t, iov, n, r, (size_t)cap);
}

static int
net_tap_fd(struct net_backend *nb)
{
	return net_tap_of(nb)->fd;
}

static void
net_tap_close(struct net_backend *nb)
{
	struct net_tap *t;

	if (nb == NULL)
		return;
	t = net_tap_of(nb);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static const struct net_backend_ops net_tap_ops = {
	.name = "tap",
	.send = net_tap_send,
	.recv = net_tap_recv,
	.fd = net_tap_fd,
	.close = net_tap_close,
};

/* The tap's real TUNSETIFF flags from sysfs: 0 and *flags, or -errno. */
static int
net_tap_sysfs_flags(const char *name, unsigned *flags)
{
	char path[64 + IFNAMSIZ];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	n = fscanf(f, "%x", flags);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

/* Whether frames on tap name carry a struct tun_pi (see the top). */
static int
net_tap_has_pi(const char *name)
{
	unsigned flags;
	int err = net_tap_sysfs_flags(name, &flags);

	if (err < 0) {
		log_debug("tap %s: no sysfs tun_flags (%s): assuming IFF_NO_PI",
		    name, strerror(-err));
		return 0;
	}
	return (flags & IFF_NO_PI) == 0;
}

/* O_NONBLOCK and FD_CLOEXEC on fd. 0 or -errno. */
static int
net_tap_fd_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* The 12-byte header if the kernel handles one, and no offloads. */
static int
net_tap_setup(struct net_tap *t)
{
	int hdrsz = NETBE_HDR_LEN;

	if (t->vnet && ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		log_warn("tap %s: TUNSETVNETHDRSZ", t->name);
		return -errno;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, 0UL) < 0) {
		log_warn("tap %s: TUNSETOFFLOAD", t->name);
		return -errno;
	}
	return 0;
}

static struct net_tap *
net_tap_alloc(void)
{
	struct net_tap *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->nb.ops = &net_tap_ops;
	t->fd = -1;
	return t;
}

int
net_tap_open_name(const char *name, struct net_backend **out)
{
	struct net_tap *t;
	struct ifreq ifr;
	int err;

	/* "" lets the kernel pick tapN. */
	if (name == NULL || strlen(name) >= IFNAMSIZ) {
		log_warnx("tap name \"%s\": longer than %d bytes",
		    name ? name : "(null)", IFNAMSIZ - 1);
		return -EINVAL;
	}
	t = net_tap_alloc();
	if (t == NULL)
		return -ENOMEM;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		err = -errno;
		log_warn("/dev/net/tun");
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		log_warn("tap %s: TUNSETIFF", name);
		goto fail;
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	t->vnet = 1;
	t->nb.vnet_hdr = 1;
	err = net_tap_setup(t);
	if (err < 0)
		goto fail;
	log_debug("tap %s: open", t->name);
	*out = &t->nb;
	return 0;
fail:
	net_tap_close(&t->nb);
	return err;
}

int
net_tap_open_fd(int fd, struct net_backend **out)
{
	struct net_tap *t;
	struct ifreq ifr;
	int err;

	memset(&ifr, 0, sizeof(ifr));
	if (fd < 0 || ioctl(fd, TUNGETIFF, &ifr) < 0) {
		log_warn("fd %d: not an attached tun/tap (TUNGETIFF)", fd);
		return -EINVAL;
	}
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) != IFF_TAP) {
		log_warnx("fd %d: %.*s is a tun, not a tap", fd, IFNAMSIZ,
		    ifr.ifr_name);
		return -EINVAL;
	}
	t = net_tap_alloc();
	if (t == NULL)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%.*s", IFNAMSIZ - 1,
	    ifr.ifr_name);
	t->vnet = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
	t->nb.vnet_hdr = t->vnet;
	t->pi = net_tap_has_pi(t->name);
	err = net_tap_fd_flags(fd);
	if (err < 0) {
		log_warnx("tap %s: fcntl: %s", t->name, strerror(-err));
		free(t);
		return err;
	}
	t->fd = fd;
	err = net_tap_setup(t);
	if (err < 0) {
		t->fd = -1;		/* not ours to close on failure */
		net_tap_close(&t->nb);
		return err;
	}
	log_debug("tap %s: fd %d%s%s", t->name, fd,
	    t->vnet ? "" : ", header added here", t->pi ? ", with pi" : "");
	*out = &t->nb;
	return 0;
}
