# tests/bench/lib.sh: helpers for the benchmarks (source it, bash).
#
# A benchmark measures, it does not judge: it prints its figures, the
# anchor's figure from the same run, the ratio and the target, and exits
# 0 whether or not the target is met. It exits non-zero only when it could
# not measure (missing binary, a run that did not reach its end, ...).
#
# Every figure is also printed as one machine-readable line, which
# tests/bench/run collects into its summary table:
#   bench-result<TAB>FIGURE<TAB>DROVER<TAB>ANCHOR<TAB>RATIO<TAB>TARGET<TAB>MET
# (MET: yes, no, or "-" when there is no target.)
#
# Environment: BENCH_ROOT (the repository), BENCH_OUT (build/bench: built
# helpers, scratch files).

BENCH_ROOT=${BENCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BENCH_OUT=${BENCH_OUT:-$BENCH_ROOT/build/bench}

bench_msg() { printf '%s\n' "$*"; }

# bench_cannot WHY: could not measure; exits 1.
bench_cannot() {
	printf 'bench: cannot measure: %s\n' "$*" >&2
	exit 1
}

# bench_result FIGURE DROVER ANCHOR RATIO TARGET MET
bench_result() {
	printf 'bench-result\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
}

# bench_calc EXPR: floating-point arithmetic (awk), printed with %.Nf
# where N is $2 (default 2).
bench_calc() {
	awk -v p="${2:-2}" "BEGIN { printf \"%.*f\\n\", p, ($1) }"
}

# bench_ge A B: true if A >= B (floating point).
bench_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# bench_yesno A OP B: "yes" if A OP B (OP: >=, <=, <, >), else "no".
bench_yesno() {
	if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then echo yes; else echo no; fi
}

# bench_need FILE WHAT: FILE must exist (else cannot measure: WHAT).
bench_need() {
	[ -e "$1" ] || bench_cannot "${1#$BENCH_ROOT/} missing ($2)"
}

# bench_blk PREFIX MIN CMD...: run CMD (blkbench, or a function running
# several), show its comment lines, then its "result" lines as a table
# (workload, block, depth, device MB/s and IOPS, pread/pwrite MB/s and IOPS,
# ratio) and one bench-result line each, "PREFIX WORKLOAD BSK qdDEPTH",
# against the target ratio >= MIN (MIN "-": no target). Cannot measure
# when CMD fails or prints no result.
bench_blk() {
	local prefix=$1 min=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	grep -v '^result ' <<< "$out" | sed 's/^# //'
	[ "$rc" = 0 ] || bench_cannot "blkbench failed (exit $rc)"
	grep -q '^result ' <<< "$out" || bench_cannot "blkbench printed no result"
	printf '%-10s %7s %5s | %10s %9s | %10s %9s | %s\n' workload block depth "virtio MB/s" IOPS "pread MB/s" IOPS ratio
	grep '^result ' <<< "$out" | while read -r _ w bs qd ops vm vi pm pi r; do
		kb=$((bs / 1024))
		printf '%-10s %6sK %5s | %10s %9s | %10s %9s | %s\n' "$w" "$kb" "$qd" "$vm" "$vi" "$pm" "$pi" "$r"
		if [ "$min" = - ]; then
			set -- - -
		else
			set -- ">= $min" "$(bench_yesno "$r" '>=' "$min")"
		fi
		bench_result "$prefix $w ${kb}K qd$qd" "$vm MB/s, $vi IOPS" "pread/pwrite $pm MB/s, $pi IOPS" \
			"$r" "$1" "$2"
	done
}
