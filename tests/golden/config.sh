#!/usr/bin/env bash
# tests/golden/config.sh CONFIG_CHECK: golden tests of config/ (manifests).
# - tests/golden/config/NAME.yaml is refused; config-check's output (the
#   Status: code, message, causes) must equal NAME.err;
# - tests/golden/good/NAME.yaml and the lab's manifests (../shared/lab,
#   read in place, never copied; SKIP without it) are admitted; the stored
#   objects and the VMI a VMIRS creates must equal good/NAME.json.
# UPDATE=1 rewrites the expected files (review the diff before committing).
set -uo pipefail
check=${1:-build/asan/tests/config_check}
here=$(cd "$(dirname "$0")" && pwd)
lab=$(cd "$here/../.." && pwd)/../shared/lab
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

compare() { # compare NAME EXPECTED WANT_RC RC
	local name=$1 exp=$2 want=$3 rc=$4
	if [ "${UPDATE:-0}" = 1 ]; then cp "$out" "$exp"; fi
	if [ "$rc" -ne "$want" ]; then
		echo "not ok - $name: exit $rc, expected $want"; sed 's/^/# /' "$out" | head -5; failed=1
	elif ! diff -u "$exp" "$out" > /dev/null 2>&1; then
		echo "not ok - $name: output differs from ${exp#$here/}"
		diff -u "$exp" "$out" | head -20 | sed 's/^/# /'; failed=1
	else
		echo "ok - $name"
	fi
}

for f in "$here"/config/*.yaml; do
	n=$(basename "$f" .yaml)
	"$check" "$f" > "$out" 2>&1; rc=$?
	compare "config refuses $n" "$here/config/$n.err" 1 "$rc"
done
for f in "$here"/good/*.yaml; do
	n=$(basename "$f" .yaml)
	"$check" "$f" > "$out" 2>&1; rc=$?
	compare "config admits $n" "$here/good/$n.json" 0 "$rc"
done
for n in vmirs_lab05-cirros hpa_lab05-cirros; do
	if [ ! -f "$lab/$n.yaml" ]; then
		echo "ok - config admits lab $n # SKIP no ../shared/lab"
		continue
	fi
	"$check" "$lab/$n.yaml" > "$out" 2>&1; rc=$?
	compare "config admits lab $n" "$here/good/lab-$n.json" 0 "$rc"
done
exit $failed
