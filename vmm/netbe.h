/*
 * netbe.h: network back ends, apart from the virtio-net front end. A back
 * end is a const struct net_backend_ops (net_tap.c: a tap device by name
 * or by an fd the agent passed).
 *
 * Frames cross this interface with a 12-byte struct virtio_net_hdr_v1 in
 * front (virtio 1.2, 5.1.6), which is what a tap with IFF_VNET_HDR and
 * TUNSETVNETHDRSZ 12 reads and writes; a back end whose fd lacks
 * IFF_VNET_HDR adds or strips it itself.
 */
#ifndef DROVER_VMM_NETBE_H
#define DROVER_VMM_NETBE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NETBE_HDR_LEN	12	/* struct virtio_net_hdr_v1 */
#define NETBE_MAX_FRAME	(NETBE_HDR_LEN + 65550)

struct net_backend;

struct net_backend_ops {
	const char *name;
	/* Send one frame (header + Ethernet frame): bytes, or -errno. */
	ssize_t (*send)(struct net_backend *nb, const struct iovec *iov, int n);
	/* Receive one frame into iov: bytes, -EAGAIN if none is waiting,
	 * or -errno. A frame longer than iov is dropped (-EMSGSIZE). */
	ssize_t (*recv)(struct net_backend *nb, const struct iovec *iov, int n);
	/* The fd to poll for readable frames. */
	int (*fd)(struct net_backend *nb);
	void (*close)(struct net_backend *nb);
};

struct net_backend {
	const struct net_backend_ops *ops;
	/* The back end hands a frame's virtio_net_hdr to something that
	 * honours it (a tap with IFF_VNET_HDR: the kernel checksums and
	 * segments): the front end may offer transmit offloads. */
	int vnet_hdr;
};

/* Open tap NAME (needs CAP_NET_ADMIN unless it is persistent and ours), or
 * adopt fd (a tap fd passed in: the back end closes it from then on; on
 * failure it stays the caller's). 0 and *out set, or -errno (logged). */
int net_tap_open_name(const char *name, struct net_backend **out);
int net_tap_open_fd(int fd, struct net_backend **out);

#endif
