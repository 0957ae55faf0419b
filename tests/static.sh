#!/usr/bin/env bash
# tests/static.sh BINDIR: the musl build's binaries are statically linked,
# run, and report their linked libraries; prints their sizes.
set -uo pipefail
bin=${1:-build/static}
failed=0
for b in drover-vmm droverd droverctl; do
	f=$bin/$b
	if [ -x "$f" ] && file -L "$f" | grep -q 'statically linked'; then
		echo "ok - $b is statically linked"
	else
		echo "not ok - $b is statically linked: $(file -L "$f" 2>&1)"; failed=1
	fi
	if "$f" --version > /dev/null 2>&1; then
		echo "ok - static $b --version runs"
	else
		echo "not ok - static $b --version runs"; failed=1
	fi
	echo "# $b static size: $(stat -c %s "$f" 2>/dev/null) bytes"
done
exit $failed
