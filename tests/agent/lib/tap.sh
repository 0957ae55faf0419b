# tests/agent/lib/tap.sh NAME: TAP helpers for the bare-host agent tests,
# sourced after `failed=0`:
#   ok NAME / nok NAME       "ok - NAME: ..." / "not ok - ...", nok sets failed=1
#   check NAME CMD...        ok or nok by CMD's status
#   wait_for SECONDS CMD...  run CMD every 0.1 s until it succeeds (0) or
#                            SECONDS passed (1)
tap_name=$1
ok() { echo "ok - $tap_name: $1"; }
nok() { echo "not ok - $tap_name: $1"; failed=1; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
wait_for() {
	local n=$(( $1 * 10 )); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
