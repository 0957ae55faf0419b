/*
 * virtio_table.c: the front ends, by enum virtio_kind (virtio.h). Apart
 * from virtio.c so that unit tests link the device core without them.
 */
#include "virtio.h"

const struct virtio_dev_ops *const virtio_frontends[VIRTIO_KIND_COUNT] = {
	[VIRTIO_KIND_BLK] = &virtio_blk_ops,
	[VIRTIO_KIND_NET] = &virtio_net_ops,
	[VIRTIO_KIND_RNG] = &virtio_rng_ops,
};
