#!/usr/bin/env bash
# tests/cli.sh BINDIR: the three binaries' command lines: --help, --version
# (which proves every third-party library is linked and answers), and a bad
# flag, which must fail with exit code 2 and say what was wrong.
set -uo pipefail
bin=${1:-build}
failed=0
check() { # check NAME CONDITION-COMMAND...
	local name=$1; shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name"; failed=1; fi
}
out() { "$@" 2>&1; echo "rc=$?"; }

for b in drover-vmm droverd droverctl; do
	h=$(out "$bin/$b" --help)
	check "$b --help prints usage and exits 0" \
		grep -q "usage: $b" <<< "$h"
	grep -q '^rc=0$' <<< "$h" || { echo "not ok - $b --help exit status"; failed=1; }
	v=$(out "$bin/$b" --version)
	check "$b --version exits 0" grep -q '^rc=0$' <<< "$v"
	echo "# $(head -n1 <<< "$v"): $(sed -n '2,$p' <<< "$v" | grep -v '^rc=' | paste -sd, -)"
	bad=$(out "$bin/$b" --no-such-flag)
	check "$b rejects an unknown flag with exit 2" grep -q '^rc=2$' <<< "$bad"
done
v=$(out "$bin/droverd" --version)
check "droverd links mbedTLS 3.6" grep -q '^mbedtls 3\.6\.' <<< "$v"
check "droverd links libwebsockets 4.3" grep -q '^libwebsockets 4\.3' <<< "$v"
check "droverd links libyaml, jansson and zlib" \
	bash -c 'grep -q "^libyaml 0\." <<< "$0" && grep -q "^jansson 2\." <<< "$0" && grep -q "^zlib 1\." <<< "$0"' "$v"
v=$(out "$bin/drover-vmm" --version)
check "drover-vmm links libfdt" grep -q '^libfdt ok' <<< "$v"
check "drover-vmm links libext2fs" grep -q '^libext2fs 1\.' <<< "$v"
bad=$(out "$bin/droverd" --log-level loud)
check "droverd names the bad --log-level value" grep -q "unknown level 'loud'" <<< "$bad"
bad=$(out "$bin/drover-vmm" --kernel /dev/null --disk path=d.img,format=vmdk)
check "drover-vmm names the bad --disk format= value (exit 2)" \
	bash -c 'grep -q "^drover-vmm: --disk: format '"'"'vmdk'"'"' is not raw or qcow2" <<< "$0" && grep -q "^rc=2$" <<< "$0"' "$bad"
bad=$(out "$bin/drover-vmm" --kernel /dev/null --disk path=d.img,format=qcow2,backing=b.img)
check "drover-vmm wants backing-format= with backing= (exit 2)" \
	bash -c 'grep -q "^drover-vmm: --disk: backing=FILE needs backing-format=raw|qcow2" <<< "$0" && grep -q "^rc=2$" <<< "$0"' "$bad"
h=$(out "$bin/drover-vmm" --help)
check "drover-vmm --help documents format=, backing= and backing-format=" \
	bash -c 'grep -q "format=raw|qcow2" <<< "$0" && grep -q "backing-format=raw|qcow2" <<< "$0"' "$h"
check "drover-vmm --help documents pinned backing chains (--disk pairs, vm.json list)" \
	bash -c 'grep -q "At most 16 backing files" <<< "$0" && grep -q "a chain: \"backing\":" <<< "$0"' "$h"
exit $failed
