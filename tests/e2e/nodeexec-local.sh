#!/usr/bin/env bash
# tests/e2e/nodeexec-local.sh: the node's exec service (tests/node/nodeexec.c)
# on the host, without a node, built with ASan+UBSan: run (status, stdout,
# stderr, stdin, timeout, background children), put/get of a large file,
# and hostile peers (oversized frame, wrong hello, truncated frame).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
failed=0 srv=
ok() { echo "ok - nodeexec: $*"; }
not_ok() { echo "not ok - nodeexec: $*"; failed=1; }
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
finish() {
	[ -z "$srv" ] || kill "$srv" 2> /dev/null
	if [ "$failed" != 0 ] && [ -f "$tmp/server.log" ]; then
		echo "--- server log ---"; tail -n 20 "$tmp/server.log"
	fi
	rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

ne=$tmp/nodeexec
if ! gcc -std=c11 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -o "$ne" "$root/tests/node/nodeexec.c" 2> "$tmp/cc.log"; then
	not_ok "builds with ASan+UBSan: $(head -n 5 "$tmp/cc.log")"
	exit 1
fi
ok "builds with ASan+UBSan"
if ! musl-gcc -static -std=c11 -O2 -Wall -Wextra -Werror -o "$tmp/static" "$root/tests/node/nodeexec.c" 2> "$tmp/cc.log"; then
	not_ok "builds static with musl: $(head -n 5 "$tmp/cc.log")"
else
	ok "builds static with musl"
fi

port=$((20000 + RANDOM % 40000))
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
"$ne" serve "$port" 2> "$tmp/server.log" &
srv=$!
a=127.0.0.1:$port
check "wait finds the server" "$ne" wait "$a" 10

out=$("$ne" run "$a" -- 'echo out; echo err >&2; exit 7' 2> "$tmp/err")
rc=$?
check "run: exit status 7" [ "$rc" = 7 ]
check "run: stdout" [ "$out" = out ]
check "run: stderr" grep -qx err "$tmp/err"
"$ne" run "$a" -- 'kill -9 $$'
check "run: killed by a signal → 137" [ $? = 137 ]
head -c 2000000 /dev/urandom > "$tmp/in"
out=$("$ne" run "$a" --stdin -- 'sha256sum' < "$tmp/in" | cut -d' ' -f1)
check "run: 2 MB stdin arrives intact" [ "$out" = "$(sha256sum < "$tmp/in" | cut -d' ' -f1)" ]
out=$("$ne" run "$a" -- 'head -c 3000000 /dev/zero' | wc -c)
check "run: 3 MB stdout arrives intact" [ "$out" = 3000000 ]
s=$(date +%s)
"$ne" run "$a" --timeout 1 -- 'sleep 30' 2> /dev/null
rc=$?
check "run: timeout → 124, promptly" [ "$rc" = 124 -a $(($(date +%s) - s)) -lt 10 ]
s=$(date +%s)
"$ne" run "$a" -- 'sleep 30 > /dev/null 2>&1 & echo started' > /dev/null
check "run: a background child does not hold the reply" [ $(($(date +%s) - s)) -lt 10 ]

chmod 0640 "$tmp/in"
"$ne" put "$a" "$tmp/in" "$tmp/remote/deep/file" && "$ne" get "$a" "$tmp/remote/deep/file" "$tmp/back"
check "put/get: round trip" cmp -s "$tmp/in" "$tmp/back"
check "put/get: mode 0640" [ "$(stat -c %a "$tmp/back")" = 640 ]
: > "$tmp/empty"
"$ne" put "$a" "$tmp/empty" "$tmp/remote/empty" && "$ne" get "$a" "$tmp/remote/empty" "$tmp/empty2"
check "put/get: empty file" [ -f "$tmp/empty2" -a ! -s "$tmp/empty2" ]
"$ne" put "$a" "$tmp/in" /proc/nope/file 2> "$tmp/err"
rc=$?
check "put: unwritable path fails with a message" bash -c '[ "$1" != 0 ] && grep -q "remote error" "$2"' _ "$rc" "$tmp/err"
"$ne" get "$a" "$tmp/remote" "$tmp/x" 2> "$tmp/err"
check "get: a directory is refused" grep -q "remote error" "$tmp/err"

# Hostile peers: the server must drop them and keep serving.
exec 3<> "/dev/tcp/127.0.0.1/$port"
printf 'H\xff\xff\xff\xff' >&3
exec 3>&-
exec 3<> "/dev/tcp/127.0.0.1/$port"
printf 'X\x00\x00\x00\x03abc' >&3
exec 3>&-
exec 3<> "/dev/tcp/127.0.0.1/$port"
printf 'H\x00\x00\x00\x09node' >&3
exec 3>&-
sleep 0.5
check "server survives oversized, wrong and truncated frames" "$ne" run "$a" -- true
NODEEXEC_CONNECT_TIMEOUT=1 "$ne" run 127.0.0.1:1 -- true 2> /dev/null
check "run: no server → 255" [ $? = 255 ]
check "no sanitizer report in the server" bash -c '! grep -q "ERROR: \|runtime error" "$1"' _ "$tmp/server.log"
exit $failed
