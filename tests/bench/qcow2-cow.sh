#!/usr/bin/env bash
# tests/bench/qcow2-cow.sh: a qcow2 copy-on-write overlay (issue 4) through
# drover-vmm's device code, against pread/pwrite of a raw file (the limit).
# build/bench/blkbench (tests/bench/blkbench.c, as virtio-blk.sh) drives
# the virtio-blk front end over the qcow2 back end (vmm/blk_qcow2*.c)
# opened with -o OVERLAY -b BASE -f qcow2: an overlay made by qemu-img
# create over a base made by qemu-img convert from the raw file (-c: zlib
# compressed), so both sides see the same stamped bytes. The anchor is
# pread/pwrite on the raw file with the same block sizes, offsets and
# depth. Buffered I/O on both sides, files in the page cache: by default on
# /dev/shm (tmpfs). On ext4 (build/bench) the page cache decides the
# ratios, not qcow2: the raw file, written in order, is cached in large
# folios and the overlay, written in 4 KiB random order, in small ones
# (measured there: random pwrite on the raw file 33k IOPS against 400k on
# tmpfs, random reads of the allocated overlay 0.60 against 0.83).
#
# Figures (queue depth 32; 128 KiB sequential, 4 KiB random):
#   qcow2-cow base ...        reads through an empty overlay from the
#                             uncompressed base                (>= 0.8)
#   qcow2-cow first-write ... writes allocating overlay clusters (copy-up
#                             of the rest of each 64 KiB cluster from the
#                             base), one run on a fresh overlay; blkbench's
#                             untimed warm-up pass (1024 requests) comes
#                             first, so part of the file is allocated then
#                                                               (no target)
#   qcow2-cow overwrite ...   writes to allocated overlay clusters
#                             (in place)                        (>= 0.8)
#   qcow2-cow allocated ...   reads of allocated overlay clusters (>= 0.8)
#   qcow2-cow zbase ...       reads through an empty overlay from the
#                             compressed base (each 4 KiB read inflates
#                             its 64 KiB cluster)               (no target)
#   qcow2-cow zfirst-write .. allocating 4 KiB writes over the compressed
#                             base (copy-up inflates)           (no target)
# Environment: BENCH_QCOW2_MIB (file size, default 256), BENCH_QCOW2_REPS
# (default 9; the compressed reads 3), BENCH_QCOW2_DIR (default /dev/shm
# if it exists, else build/bench; about 3 x the file size is used there).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bb=$BENCH_OUT/blkbench
mib=${BENCH_QCOW2_MIB:-256}
reps=${BENCH_QCOW2_REPS:-9}
zreps=$(( reps < 3 ? reps : 3 ))
shm=$BENCH_OUT
[ -d /dev/shm ] && [ -w /dev/shm ] && shm=/dev/shm
dir=${BENCH_QCOW2_DIR:-$shm}/qcow2-cow-$$
bench_need "$bb" "make bench builds it"
command -v qemu-img > /dev/null || bench_cannot "qemu-img missing (qemu-utils)"
mkdir -p "$dir" || bench_cannot "cannot create $dir"
trap 'rm -rf "$dir"' EXIT
raw=$dir/raw.img ov=$dir/overlay.qcow2
"$bb" -p "$raw" "$mib" || bench_cannot "could not write $raw"
qemu-img convert -f raw -O qcow2 "$raw" "$dir/base.qcow2" &&
	qemu-img convert -c -f raw -O qcow2 "$raw" "$dir/zbase.qcow2" ||
	bench_cannot "qemu-img convert failed"
sync "$raw" "$dir/base.qcow2" "$dir/zbase.qcow2"
echo "qcow2 copy-on-write: simulated driver -> virtio_blk -> qcow2 overlay -> qcow2 base; anchor: pread/pwrite on the raw file"
echo "base: $(du -k "$dir/base.qcow2" | cut -f1) KiB, compressed base: $(du -k "$dir/zbase.qcow2" | cut -f1) KiB ($mib MiB raw)"

# fresh BASE: a new, empty overlay over BASE (qemu-img's own creation).
fresh() {
	rm -f "$ov"
	qemu-img create -q -f qcow2 -b "$1" -F qcow2 "$ov" || bench_cannot "qemu-img create failed"
}
# cow BASE REPS WORKLOAD...: blkbench through the overlay over BASE.
cow() {
	local base=$1 r=$2
	shift 2
	"$bb" -q 32 -r "$r" -o "$ov" -b "$dir/$base" -f qcow2 "$raw" "$@"
}
first_writes() {
	fresh base.qcow2 && cow base.qcow2 1 randwrite:4096 &&
		fresh base.qcow2 && cow base.qcow2 1 seqwrite:131072
}

fresh base.qcow2
bench_blk "qcow2-cow base" 0.8 cow base.qcow2 "$reps" seqread:131072 randread:4096
bench_blk "qcow2-cow first-write" - first_writes
# The overlay is now fully allocated (the sequential pass wrote it all).
bench_blk "qcow2-cow overwrite" 0.8 cow base.qcow2 "$reps" seqwrite:131072 randwrite:4096
bench_blk "qcow2-cow allocated" 0.8 cow base.qcow2 "$reps" seqread:131072 randread:4096
qemu-img check -q "$ov" || bench_cannot "qemu-img check: the overlay is not clean after the writes"
fresh zbase.qcow2
bench_blk "qcow2-cow zbase" - cow zbase.qcow2 "$zreps" seqread:131072 randread:4096
fresh zbase.qcow2
bench_blk "qcow2-cow zfirst-write" - cow zbase.qcow2 1 randwrite:4096
qemu-img check -q "$ov" || bench_cannot "qemu-img check: the overlay over the compressed base is not clean"
