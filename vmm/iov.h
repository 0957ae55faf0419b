/*
 * iov.h: helpers over struct iovec arrays shared by the back ends
 * (blk_raw.c, blk_qcow2.c, net_tap.c).
 */
#ifndef DROVER_VMM_IOV_H
#define DROVER_VMM_IOV_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Bytes in iov[0..n), or -EINVAL if n is outside [0, max] or the sum
 * overflows ssize_t. */
static inline ssize_t
iov_total(const struct iovec *iov, int n, int max)
{
	size_t total = 0;

	if (n < 0 || n > max)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

#endif
