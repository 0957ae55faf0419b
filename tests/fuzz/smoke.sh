#!/usr/bin/env bash
# tests/fuzz/smoke.sh FUZZER SECONDS: run a libFuzzer target for a short
# while from its seed corpus (tests/fuzz/corpus/NAME), so a crash on known
# or nearby inputs fails `make test`. Long runs: build/fuzz/NAME -max_total_time=N.
set -uo pipefail
fuzzer=$1 secs=${2:-20}
name=$(basename "$fuzzer")
here=$(cd "$(dirname "$0")" && pwd)
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
[ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
if "$fuzzer" -max_total_time="$secs" -print_final_stats=1 "$corpus" > "$corpus/.log" 2>&1; then
	runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$corpus/.log")
	echo "ok - $name: no crash in $secs s (${runs:-?} inputs)"
else
	cat "$corpus/.log" | tail -n 30
	echo "not ok - $name: crashed"
	exit 1
fi
