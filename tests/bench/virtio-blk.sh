#!/usr/bin/env bash
# tests/bench/virtio-blk.sh: virtio-blk throughput through drover-vmm's
# device code (virtq.c, virtio.c, virtio_blk.c, blk_raw.c), driven by a
# simulated driver without KVM or PCI (build/bench/blkbench, from
# tests/bench/blkbench.c: see its header), against pread/pwrite on the same
# file with the same block sizes, offsets and queue depth (issue 3: >= 0.8
# of pread/pwrite). Buffered I/O on both sides, on a file in build/bench
# that stays in the page cache: the figures are the cost of the virtio
# path itself, not of a disk.
#
# Workloads: sequential read and write in 128 KiB blocks, 4 KiB random
# read and write, at queue depth 32; 4 KiB random read and write again at
# depth 1 (one request per notification).
# Random writes are the noisiest figures (ext4 dirtying and writing back
# the file's pages behind both sides: +-10% from run to run here); each
# figure is the median of BENCH_BLK_REPS alternating runs per side.
# Environment: BENCH_BLK_MIB (file size, default 256), BENCH_BLK_REPS
# (default 9), BENCH_BLK_DEPTH (default 32), BENCH_BLK_DIR (where the file
# goes, default build/bench; /dev/shm takes the file system's writeback out).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bb=$BENCH_OUT/blkbench
mib=${BENCH_BLK_MIB:-256}
reps=${BENCH_BLK_REPS:-9}
depth=${BENCH_BLK_DEPTH:-32}
bench_need "$bb" "make bench builds it"
img=${BENCH_BLK_DIR:-$BENCH_OUT}/blk-$mib.img
trap 'rm -f "$img"' EXIT
"$bb" -p "$img" "$mib" || bench_cannot "could not write $img"
sync "$img"
echo "virtio-blk: simulated driver -> virtio_blk front end -> blk_raw back end; anchor: pread/pwrite"
workloads() {
	"$bb" -q "$depth" -r "$reps" "$img" seqread:131072 seqwrite:131072 randread:4096 randwrite:4096 &&
		"$bb" -q 1 -r "$reps" "$img" randread:4096 randwrite:4096
}
bench_blk virtio-blk 0.8 workloads
