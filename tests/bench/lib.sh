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
