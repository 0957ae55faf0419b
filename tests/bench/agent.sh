#!/usr/bin/env bash
# tests/bench/agent.sh: droverd on the bare host with tiny idle PVH
# payloads (issue 5's targets):
#   - create -> Running latency of one VMI, p50 and p99 (target p50 <= 20 ms);
#   - 0 -> 50 replicas, all Running (target <= 2 s);
#   - replacement: drover-vmm killed -> its replacement Running
#     (target <= 100 ms);
#   - droverd's RSS with 50 VMIs, summed over its processes (droverd-priv,
#     droverd-api, ...; target <= 8 MiB).
# Anchor: Firecracker's published creation rate, 5 microVMs per core per
# second (its SPECIFICATION.md), i.e. 50 microVMs in 50 / (5 x CPUs) s on
# this host; a published figure, not measured here (Firecracker is not
# installed). The ratio printed for 0 -> 50 is anchor / drover.
#
# The whole droverd (local API, durable store in a temp dir on the disk,
# VMIRS controller, VMI runtime, cgroups v1/v2 under a unique parent,
# image store with the payload pre-loaded as a containerDisk) and the
# real drover-vmm; build/bench/agentbench (tests/bench/agentbench.c)
# drives and times it through the local API socket, as a user would
# (its header says how it observes). The payload is the KVM tests' PVH
# guest on an ext2 containerDisk whose GRUB menu.lst boots it with
# "boottimer spin" (reports its boot, then halts: idle). Each VMI: 1 vCPU,
# 32Mi, cpu request 10m, no network, grace period 0.
#
# Environment: DROVER_BIN (directory with droverd, drover-vmm; default
# build/static if built, else build), BENCH_LAT_RUNS (default 50),
# BENCH_REPLICAS (default 50), BENCH_REPLACE_RUNS (default 20), POLL_MS
# (droverd's poll-ms, default its own), BENCH_ISOLATE (see below; the
# host's load is printed either way). Diagnostics: BENCH_LOG_LEVEL
# (droverd's, default warn), BENCH_KEEP=FILE (keep droverd's log),
# BENCH_STRACE=FILE (strace -ttt of droverd), BENCH_PERF=FILE (perf record
# -g of droverd and its VMMs), BENCH_SAMPLES=1 (print every latency).
# Root, /dev/kvm, mke2fs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin=${DROVER_BIN:-}
if [ -z "$bin" ]; then
	bin=$BENCH_ROOT/build/static
	[ -x "$bin/droverd" ] || bin=$BENCH_ROOT/build
fi
client=$BENCH_OUT/agentbench
payload=$BENCH_OUT/pvh.elf
lat_runs=${BENCH_LAT_RUNS:-50}
replicas=${BENCH_REPLICAS:-50}
rep_runs=${BENCH_REPLACE_RUNS:-20}
ncpu=$(getconf _NPROCESSORS_ONLN)

bench_need "$bin/droverd" "make static, or make"
bench_need "$bin/drover-vmm" "make static, or make"
bench_need "$client" "make bench builds it"
bench_need "$payload" "make bench builds it"
[ "$(id -u)" = 0 ] || bench_cannot "needs root (cgroups, the VMMs' run dirs)"
[ -c /dev/kvm ] && [ -w /dev/kvm ] || bench_cannot "/dev/kvm is not usable"
command -v mke2fs > /dev/null || bench_cannot "mke2fs missing (make deps)"

# The state dir (store, VMI disks) on the disk, the run dir on tmpfs:
# where droverd keeps them on a node (/var/lib/drover, /run/drover; /run
# is not a tmpfs on this host, /dev/shm is).
T=$(mktemp -d /var/tmp/bench-agent.XXXXXX)
R=$(mktemp -d /dev/shm/bench-agent.XXXXXX)
chmod 711 "$T" "$R"	# droverd-api (unprivileged) reaches its state and run dirs
cgp=drover-bench-$$
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2> /dev/null
	for p in $(pgrep -f "drover-vmm --config $R/"); do kill -9 "$p"; done
	sleep 0.2
	rmdir /sys/fs/cgroup/*/"$cgp"/* /sys/fs/cgroup/*/"$cgp" /sys/fs/cgroup/"$cgp"/* \
		/sys/fs/cgroup/"$cgp" 2> /dev/null
	[ -n "${BENCH_KEEP:-}" ] && cp "$T/droverd.log" "$BENCH_KEEP"; rm -rf "$T" "$R"
}
trap cleanup EXIT

mkdir -p "$T/disk/boot/grub" "$T/bin"
cp "$bin/droverd" "$bin/drover-vmm" "$T/bin/"
cp "$payload" "$T/disk/boot/vmlinuz"
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer spin\n' \
	> "$T/disk/boot/grub/menu.lst"
mke2fs -q -F -t ext2 -d "$T/disk" "$T/disk.raw" 8M > /dev/null || bench_cannot "mke2fs failed"
image=bench.local/pvh:idle
poll=${POLL_MS:+, \"poll-ms\": $POLL_MS}
cat > "$T/droverd.json" << EOF
{"state-dir": "$T/state", "run-dir": "$R", "node-name": "bench",
 "vmm": "$T/bin/drover-vmm", "cgroup-root": "/sys/fs/cgroup",
 "cgroup-parent": "$cgp", "log-level": "${BENCH_LOG_LEVEL:-warn}"$poll,
 "images": {"preloaded": {"$image": "$T/disk.raw"}}}
EOF
# BENCH_ISOLATE=1: the figures of an otherwise idle host on a shared
# one: droverd (its VMMs inherit it) and the client at nice -10, and the
# VMIs' parent cgroup at the highest CPU weight (v1 cpu.shares 262144,
# v2 cpu.weight 10000; by default it competes as one process would).
nice=0
[ -n "${BENCH_ISOLATE:-}" ] && nice=-10
nice -n "$nice" "$T/bin/droverd" --config "$T/droverd.json" > "$T/droverd.log" 2>&1 &
pid=$!
[ -n "${BENCH_STRACE:-}" ] && { strace -ttt -p $pid -o "$BENCH_STRACE" -e trace=all 2>/dev/null & sleep 0.5; }
[ -n "${BENCH_PERF:-}" ] && { perf record -g -p $pid -o "$BENCH_PERF" 2>/dev/null & sleep 0.5; }
sock=$R/droverd.sock
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || bench_cannot "droverd did not start: $(tail -3 "$T/droverd.log")"
ab() { nice -n "$nice" "$client" "$sock" bench "$image" "$@"; }
if [ -n "${BENCH_ISOLATE:-}" ]; then
	for _ in $(seq 50); do
		[ -d /sys/fs/cgroup/cpu/"$cgp" ] || [ -d /sys/fs/cgroup/"$cgp" ] && break
		sleep 0.05
	done
	echo 262144 > /sys/fs/cgroup/cpu/"$cgp"/cpu.shares 2> /dev/null ||
		echo 10000 > /sys/fs/cgroup/"$cgp"/cpu.weight 2> /dev/null ||
		bench_cannot "BENCH_ISOLATE: cannot raise the CPU weight of $cgp"
fi

# pct P FILE: the P-th percentile (nearest rank) of the numbers in FILE.
pct() { sort -g "$2" | awk -v p="$1" '{ a[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i] }'; }

echo "agent: droverd ${bin#$BENCH_ROOT/}/droverd ($(stat -c %s "$bin/droverd") bytes${BENCH_ISOLATE:+, isolated: nice -10, parent cgroup at full CPU weight}), $ncpu CPUs," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), state dir on $(df --output=fstype "$T" | tail -1), run dir on $(df --output=fstype "$R" | tail -1)"

ab latency "$lat_runs" > "$T/lat.out" || bench_cannot "latency: $(tail -3 "$T/droverd.log")"
awk '{ print $3 }' "$T/lat.out" > "$T/lat"
[ -n "${BENCH_SAMPLES:-}" ] && echo "  samples (ms): $(xargs < "$T/lat")"
p50=$(pct 50 "$T/lat") p99=$(pct 99 "$T/lat")
echo "  create -> Running, $lat_runs VMIs one at a time: p50 $p50 ms, p99 $p99 ms" \
	"(min $(pct 0 "$T/lat"), max $(pct 100 "$T/lat"))"

# cpu_ms PID: user + system CPU time so far, in ms.
# droverd is droverd-priv ($pid) and its droverd children (droverd-api,
# the pod network pool's filler when there is one): all of them count.
droverds() { echo "$pid" $(pgrep -P "$pid" -x "droverd|droverd-api|droverd-pool"); }
# cpu_ms: their user + system CPU time so far, in ms.
cpu_ms() {
	local p t=0
	for p in $(droverds); do
		t=$((t + $(awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$p/stat")))
	done
	echo "$t"
}
# mem_kib FIELD FILE: the sum of FIELD (kB) over them (FILE status or smaps_rollup).
mem_kib() {
	local p t=0
	for p in $(droverds); do
		t=$((t + $(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/$2")))
	done
	echo "$t"
}
c0=$(cpu_ms)
out=$(ab scale "$replicas") || bench_cannot "scale: $(tail -3 "$T/droverd.log")"
run_ms=$(sed -n 's/^running //p' <<< "$out")
ready_ms=$(sed -n 's/^ready //p' <<< "$out")
c1=$(cpu_ms)
nd=$(droverds | wc -w)
rss=$(mem_kib VmRSS status)	# shared pages counted in each: an upper bound
pss=$(mem_kib Pss smaps_rollup)
hwm=$(mem_kib VmHWM status)
nvmm=$(pgrep -fc "drover-vmm --config $R/")
echo "  0 -> $replicas replicas: all Running after $run_ms ms, readyReplicas $replicas after $ready_ms ms"
echo "  droverd's CPU time (all its processes) for 0 -> $replicas: $((c1 - c0)) ms ($(bench_calc "($c1 - $c0) / $replicas" 1) ms per VMI)"
echo "  droverd ($nd processes: droverd-priv, droverd-api...) with $nvmm VMMs: VmRSS $rss KiB summed (peak $hwm KiB), Pss $pss KiB"

ab replace "$rep_runs" "$R" > "$T/rep.out" || bench_cannot "replace: $(tail -3 "$T/droverd.log")"
awk '{ print $3 }' "$T/rep.out" > "$T/rep"
r50=$(pct 50 "$T/rep") r99=$(pct 99 "$T/rep")
echo "  replacement, kill -9 of a VMM -> new VMI Running ($rep_runs kills, $replicas replicas):" \
	"p50 $r50 ms, p99 $r99 ms (max $(pct 100 "$T/rep"))"
ab down > /dev/null || bench_cannot "scale down: $(tail -3 "$T/droverd.log")"

fc_ms=$(bench_calc "$replicas / (5 * $ncpu) * 1000" 0)
fc_lat=$(bench_calc "1000 / 5" 0)
echo "  anchor: Firecracker's published rate, 5 microVMs per core per second:" \
	"$replicas on $ncpu CPUs in $fc_ms ms, one per $fc_lat ms per core"
rate=$(bench_calc "$replicas / ($run_ms / 1000) / $ncpu" 1)
echo "  drover: $rate VMIs per core per second (0 -> $replicas)"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || echo "  (droverd exited $rc)"
if grep -q 'error\|ERROR' "$T/droverd.log"; then
	echo "  droverd's errors:"; grep 'error' "$T/droverd.log" | head -5 | sed 's/^/    /'
fi

bench_result "create->Running p50" "$p50 ms (p99 $p99 ms)" "Firecracker (published) $fc_lat ms/VM/core" \
	"$(bench_calc "$fc_lat / $p50" 1)x" "p50 <= 20 ms" "$(bench_yesno "$p50" '<=' 20)"
bench_result "0->$replicas all Running" "$run_ms ms" "Firecracker (published) $fc_ms ms" \
	"$(bench_calc "$fc_ms / $run_ms" 1)x" "<= 2000 ms" "$(bench_yesno "$run_ms" '<=' 2000)"
bench_result "replacement p50" "$r50 ms (p99 $r99 ms)" "-" "-" "<= 100 ms" \
	"$(bench_yesno "$r50" '<=' 100)"
bench_result "droverd RSS, $replicas VMIs" "$((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MiB" "-" "-" \
	"<= 8 MiB" "$(bench_yesno "$rss" '<=' 8192)"
