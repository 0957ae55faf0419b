#!/usr/bin/env bash
# tests/qcow2/interop.sh (installed as build/asan/tests/unit_qcow2_interop):
# vmm/blk_qcow2.c against qemu-img, through tests/qcow2/qcow2tool.
#  - qemu-img's images read back byte for byte: v2 (compat=0.10) and v3,
#    compressed (qemu-img convert -c) with 512 B, 64 KiB and 2 MiB
#    clusters, zero clusters, a three-level backing chain, a backing file
#    shorter than the overlay;
#  - a pinned chain raw <- qcow2 <- qcow2 opened with blk_qcow2_open_chain
#    (as drover-vmm opens a disk): read as `qemu-img convert` reads it,
#    written through the top (check clean, compare/convert agree), the
#    middle and the base unchanged; 16 backing files read, 17 refused;
#    each level checked against the pinned one below, loops refused;
#  - images written by qcow2tool's workload (random writes of 1 B to
#    1 MiB, partial clusters, overwrites, discards) pass `qemu-img check`
#    with no error and no leak, and `qemu-img compare` / `convert` read
#    back what was written (a raw mirror of the same writes): our overlays
#    and qemu-img's own images (v2, 512 B clusters with 1- and 64-bit
#    refcounts, where the refcount table must grow, 2 MiB clusters,
#    compressed);
#  - kill -9 in the middle of writing: `qemu-img check` exits 0 or 3
#    (leaks), never 2 (corruption), and data flushed before reads back;
#  - refusals with a clear message: a qcow2 with a backing file where
#    none is pinned, a pinned backing format the image contradicts, zstd,
#    extended L2 entries.
# TAP lines; SKIP when qemu-img is missing. QCOW2TOOL overrides the tool.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tool=${QCOW2TOOL:-$here/qcow2tool}
# tmpfs when there is one (kill -9 needs no real fsync), else $TMPDIR.
tmp=$(mktemp -d -p /dev/shm 2> /dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failed=0

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1${2:+: $2}"; failed=1; }
check() { # check NAME COMMAND...: COMMAND's output in $tmp/log
	local name=$1; shift
	if "$@" > log 2>&1; then ok "$name"; else notok "$name" "$(tail -n 4 log | tr '\n' '|')"; fi
}
# same IMAGE RAW [OPTS...]: our reading of IMAGE equals RAW.
same() { local img=$1 raw=$2; shift 2; "$tool" "$@" dump "$img" out.raw && cmp out.raw "$raw"; }
# clean IMAGE: qemu-img check finds neither corruption nor leaks.
clean() { qemu-img check "$1" && qemu-img check "$1" | grep -q 'No errors were found'; }
# agrees IMAGE RAW: qemu-img reads IMAGE as RAW, by compare and by convert.
agrees() {
	qemu-img compare -q -f qcow2 -F raw "$1" "$2" &&
		qemu-img convert -O raw "$1" conv.raw && cmp conv.raw "$2"
}
# refused NAME TEXT CMD...: CMD fails and says TEXT.
refused() {
	local name=$1 text=$2; shift 2
	if "$@" > log 2>&1; then notok "$name" "succeeded"
	elif grep -q -- "$text" log; then ok "$name"
	else notok "$name" "no '$text' in: $(tail -n 2 log | tr '\n' '|')"; fi
}

if ! command -v qemu-img > /dev/null || ! command -v qemu-io > /dev/null; then
	echo "ok - qcow2 interop # SKIP qemu-img or qemu-io not installed"
	exit 0
fi
[ -x "$tool" ] || { notok "qcow2tool present" "$tool"; exit 1; }

# Test data: 16 MiB of random bytes, and 16 MiB that compresses.
head -c 16M /dev/urandom > rand.raw
awk 'BEGIN { srand(7); for (i = 0; i < 262144; i++)
	printf "line %08d of text that compresses %06d\n", i, int(rand() * 1e6) }' |
	head -c 16M > text.raw

# ---- qemu-img writes, we read ----------------------------------------------------
qemu-img convert -f raw -O qcow2 rand.raw v3.qcow2
check "read qemu-img's v3 image" same v3.qcow2 rand.raw
qemu-img convert -f raw -O qcow2 -o compat=0.10 rand.raw v2.qcow2
check "read qemu-img's v2 (compat=0.10) image" same v2.qcow2 rand.raw
for cs in 512 64k 2M; do
	qemu-img convert -c -f raw -O qcow2 -o cluster_size=$cs text.raw c$cs.qcow2
	check "read qemu-img convert -c, $cs clusters (zlib)" same c$cs.qcow2 text.raw
done

# A chain: base.raw <- mid.qcow2 <- top.qcow2, written by qemu-io,
# with zero clusters (write -z) and discards over data below.
cp rand.raw base.raw
qemu-img create -q -f qcow2 -b "$tmp/base.raw" -F raw mid.qcow2
qemu-io -c 'write -P 0xa1 1M 256k' -c 'write -P 0xa2 5000k 3k' \
	-c 'write -z 8M 128k' mid.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b "$tmp/mid.qcow2" -F qcow2 top.qcow2
qemu-io -c 'write -P 0xb1 1100k 64k' -c 'write -z 2M 64k' -c 'discard 1M 64k' \
	-c 'write -P 0xb2 12345678 1000' top.qcow2 > /dev/null
qemu-img convert -O raw top.qcow2 top.raw
check "read a backing chain raw <- qcow2 <- qcow2 (zero clusters, discards)" \
	same top.qcow2 top.raw -b "$tmp/mid.qcow2" -F qcow2 -b "$tmp/base.raw" -F raw

# A backing file shorter than the overlay: zeros past its end.
head -c 3M rand.raw > short.raw
qemu-img create -q -f qcow2 -b "$tmp/short.raw" -F raw long.qcow2 8M
qemu-io -c 'write -P 0xc1 2M 2M' long.qcow2 > /dev/null
qemu-img convert -O raw long.qcow2 long.raw
check "read past the end of a short backing file as zeros" \
	same long.qcow2 long.raw -b "$tmp/short.raw" -F raw

# ---- we write, qemu-img reads ---------------------------------------------------
# workload NAME IMAGE SEED [OPTS...]: random requests through qcow2tool,
# mirrored to mirror.raw; then qemu-img must agree and find it clean.
workload() {
	local name=$1 img=$2 seed=$3; shift 3
	check "$name: workload" "$tool" "$@" -d workload "$img" mirror.raw "$seed" 300
	check "$name: qemu-img check: no errors, no leaks" clean "$img"
	check "$name: qemu-img compare and convert read what was written" agrees "$img" mirror.raw
}

check "create an overlay over a raw base" "$tool" create ov.qcow2 "$tmp/base.raw" raw
check "qemu-img check on a new overlay" clean ov.qcow2
check "qemu-img info shows the pinned backing file and format" \
	bash -c 'qemu-img info ov.qcow2 | grep -q "backing file format: raw" &&
		qemu-img info ov.qcow2 | grep -q "backing file: $0/base.raw"' "$tmp"
check "a new overlay reads as its base" same ov.qcow2 base.raw -b "$tmp/base.raw" -F raw
cp base.raw mirror.raw
workload "overlay over raw" ov.qcow2 1 -b "$tmp/base.raw" -F raw
check "overlay over raw: we read it back after reopening" \
	same ov.qcow2 mirror.raw -b "$tmp/base.raw" -F raw

check "create an overlay over a compressed qcow2 base" \
	"$tool" create ovc.qcow2 "$tmp/c64k.qcow2" qcow2
cp text.raw mirror.raw
workload "overlay over compressed qcow2" ovc.qcow2 2 -b "$tmp/c64k.qcow2" -F qcow2

# qemu-img's own images, written in place (allocation, refcount growth).
rw_image() { # rw_image NAME SEED CREATE-OPTIONS [SOURCE]
	local name=$1 seed=$2 opts=$3 src=${4:-}
	rm -f rw.qcow2
	if [ -n "$src" ]; then
		qemu-img convert -f raw -O qcow2 -o "$opts" "$src" rw.qcow2
		cp "$src" mirror.raw
	else
		qemu-img create -q -f qcow2 -o "$opts" rw.qcow2 16M
		rm -f mirror.raw; truncate -s 16M mirror.raw
	fi
	workload "$name" rw.qcow2 "$seed"
}
rw_image "qemu-img v2 image, 4 KiB clusters" 3 compat=0.10,cluster_size=4096 rand.raw
rw_image "qemu-img image, 512 B clusters, 1-bit refcounts" 4 cluster_size=512,refcount_bits=1
rw_image "qemu-img image, 512 B clusters, 64-bit refcounts" 5 cluster_size=512,refcount_bits=64
rw_image "qemu-img image, 2 MiB clusters" 6 cluster_size=2M text.raw
rm -f rw.qcow2; cp c64k.qcow2 rw.qcow2; cp text.raw mirror.raw
workload "qemu-img compressed image (copy-on-write of compressed clusters)" rw.qcow2 7

# The refcount table of a 512 B-cluster image covers 8 MiB of file: 40 MiB
# of writes make it move (the header names the new one).
rm -f grow.qcow2 mirror.raw; qemu-img create -q -f qcow2 -o cluster_size=512 grow.qcow2 64M
truncate -s 64M mirror.raw
rt_before=$(od -An -tx1 -j48 -N12 grow.qcow2)
check "refcount table growth: 1 MiB writes into 512 B clusters" \
	"$tool" -m 1048576 workload grow.qcow2 mirror.raw 8 150
check "refcount table growth: the header names a new table" \
	test "$rt_before" != "$(od -An -tx1 -j48 -N12 grow.qcow2)"
check "refcount table growth: qemu-img check clean" clean grow.qcow2
check "refcount table growth: qemu-img agrees" agrees grow.qcow2 mirror.raw

# ---- a pinned three-level chain, written through the top ------------------------
# cbase.raw <- cmid.qcow2 (clusters over the base, a zero cluster, a write
# that straddles clusters) <- ctop.qcow2, all made by qemu-img/qemu-io; the
# chain is opened as drover-vmm opens a disk (blk_qcow2_open_chain).
cp rand.raw cbase.raw
qemu-img create -q -f qcow2 -b "$tmp/cbase.raw" -F raw cmid.qcow2
qemu-io -c 'write -P 0x5a 0 64k' -c 'write -P 0x5b 3M 1M' -c 'write -z 6M 64k' \
	-c 'write -P 0x5c 9000k 200k' cmid.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b "$tmp/cmid.qcow2" -F qcow2 ctop.qcow2
qemu-io -c 'write -P 0x6a 3200k 64k' ctop.qcow2 > /dev/null
chain=(-b "$tmp/cmid.qcow2" -F qcow2 -b "$tmp/cbase.raw" -F raw)
qemu-img convert -O raw ctop.qcow2 ctop.raw
check "3-level chain: the middle level overrides the base (test set-up)" \
	bash -c '! cmp -s <(head -c 64k cbase.raw) <(head -c 64k ctop.raw)'
check "3-level chain: read through our block layer = qemu-img convert -O raw" \
	same ctop.qcow2 ctop.raw "${chain[@]}"
sums_before=$(sha256sum cmid.qcow2 cbase.raw)
cp ctop.raw mirror.raw
workload "3-level chain, written through the top" ctop.qcow2 31 "${chain[@]}"
check "3-level chain: we read back what was written after reopening" \
	same ctop.qcow2 mirror.raw "${chain[@]}"
check "3-level chain: the middle and the base are unchanged (sha256)" \
	test "$sums_before" = "$(sha256sum cmid.qcow2 cbase.raw)"
check "3-level chain: the middle is still clean" clean cmid.qcow2
# Sixteen backing files is the limit; seventeen are refused.
cp "$tmp/cbase.raw" l0.raw
deep=(-b "$tmp/l0.raw" -F raw)
prev="$tmp/l0.raw" pfmt=raw
for i in $(seq 1 16); do
	qemu-img create -q -f qcow2 -b "$prev" -F $pfmt l$i.qcow2
	prev="$tmp/l$i.qcow2" pfmt=qcow2
	[ "$i" -lt 16 ] && deep=(-b "$prev" -F qcow2 "${deep[@]}")
done
qemu-io -c 'write -P 0x71 5M 4k' l7.qcow2 > /dev/null
qemu-img convert -O raw l16.qcow2 l16.raw
check "a chain of 16 backing files reads as qemu-img reads it" \
	same l16.qcow2 l16.raw "${deep[@]}"
qemu-img create -q -f qcow2 -b "$tmp/l16.qcow2" -F qcow2 l17.qcow2
refused "a chain of 17 backing files is refused" "at most 16" \
	"$tool" -b "$tmp/l16.qcow2" -F qcow2 "${deep[@]}" info l17.qcow2
# Each level is checked against the pinned one below it.
refused "3-level chain: the middle's backing file left out" \
	"qcow2 with a backing file" "$tool" -b "$tmp/cmid.qcow2" -F qcow2 info ctop.qcow2
refused "3-level chain: the middle's recorded format contradicted" \
	"cmid.qcow2: the image records backing format 'raw', the config says 'qcow2'" \
	"$tool" -b "$tmp/cmid.qcow2" -F qcow2 -b "$tmp/v3.qcow2" -F qcow2 info ctop.qcow2
qemu-img create -q -f qcow2 -b "$tmp/v3.qcow2" -F qcow2 onv3.qcow2
refused "a chain with a level too many under a stand-alone qcow2" \
	"v3.qcow2: has no backing file, but one is configured" \
	"$tool" -b "$tmp/v3.qcow2" -F qcow2 -b "$tmp/base.raw" -F raw info onv3.qcow2
refused "3-level chain: raw above the base" "only the last one (the base) may be raw" \
	"$tool" -b "$tmp/cbase.raw" -F raw -b "$tmp/cmid.qcow2" -F qcow2 info ctop.qcow2
ln -s ctop.qcow2 loop.qcow2
refused "a chain that loops back to the image (through a symlink)" "is the image itself" \
	"$tool" -b "$tmp/loop.qcow2" -F qcow2 "${chain[@]}" -r info ctop.qcow2
refused "a chain with one file twice" "is the same file as backing file 1" \
	"$tool" -b "$tmp/cmid.qcow2" -F qcow2 -b "$tmp/cmid.qcow2" -F qcow2 -r info ctop.qcow2

# ---- kill -9 while writing --------------------------------------------------------
rm -f kill.qcow2
"$tool" create kill.qcow2 "$tmp/base.raw" raw
cp base.raw mirror.raw
# Flushed data in the first half must survive the kills in the second half.
check "crash: first half written and flushed" \
	"$tool" -b "$tmp/base.raw" -F raw workload kill.qcow2 mirror.raw 9 200 0 8388608
head -c 8M mirror.raw > firsthalf.raw
statuses=
for i in 1 2 3 4 5; do
	"$tool" -b "$tmp/base.raw" -F raw -d workload kill.qcow2 mirror.raw \
		"$((10 + i))" 0 8388608 16777216 > kill.out 2> kill.err &
	pid=$!
	sleep "0.$((2 * i))"
	kill -9 "$pid"
	wait "$pid" 2> /dev/null
	qemu-img check kill.qcow2 > kill.chk 2>&1
	statuses="$statuses $?"
	# The lost unflushed writes are the mirror's no longer: start over.
	qemu-img convert -O raw kill.qcow2 mirror.raw
done
check "crash: qemu-img check exits 0 or 3 after each of 5 kill -9s ($statuses)" \
	bash -c '! grep -qv "^[03]$" <<< "$(tr " " "\n" <<< "$0" | sed "/^$/d")"' "$statuses"
check "crash: data flushed before the kills reads back" \
	bash -c '"$0" -b "$1/base.raw" -F raw dump kill.qcow2 out.raw &&
		head -c 8M out.raw | cmp - firsthalf.raw' "$tool" "$tmp"
check "crash: writing goes on after the kills" \
	"$tool" -b "$tmp/base.raw" -F raw -d workload kill.qcow2 mirror.raw 20 100
check "crash: qemu-img check -r leaks, then clean" \
	bash -c 'qemu-img check -q -r leaks kill.qcow2; qemu-img check kill.qcow2 | grep -q "No errors"'
check "crash: qemu-img agrees after the kills" agrees kill.qcow2 mirror.raw

# ---- refusals -----------------------------------------------------------------------
refused "a qcow2 with a backing file, none pinned (containerDisk)" \
	"qcow2 with a backing file" "$tool" info mid.qcow2
refused "a pinned backing format the image contradicts" \
	"records backing format 'raw'" "$tool" -b "$tmp/v3.qcow2" -F qcow2 info ov.qcow2
refused "an image with no backing file, one pinned" \
	"has no backing file" "$tool" -b "$tmp/base.raw" -F raw info v3.qcow2
if qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 1M 2> /dev/null; then
	refused "zstd compression" "compression type 1 (zstd)" "$tool" info zstd.qcow2
else
	ok "zstd compression # SKIP qemu-img has no zstd"
fi
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=64k el2.qcow2 1M
refused "extended L2 entries" "extended L2 entries" "$tool" info el2.qcow2
refused "overlay creation over a missing backing file" "open" \
	"$tool" create new.qcow2 "$tmp/missing.raw" raw
refused "overlay creation never overwrites" "create" \
	"$tool" create ov.qcow2 "$tmp/base.raw" raw 1048576
exit $failed
