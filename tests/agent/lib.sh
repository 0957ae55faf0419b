# tests/agent/lib.sh: the set-up the bare-host droverd tests share. Source
# it after setting NAME (the TAP prefix) and build; it gives ok, nok,
# check, wait_for (lib/tap.sh), and the helpers below. failed=1 once a check fails.
# shellcheck shell=bash
failed=0
# shellcheck source=tests/agent/lib/tap.sh
. "${BASH_SOURCE[0]%/*}/lib/tap.sh" "$NAME"

# agent_tmp PREFIX: T, a temporary dir that droverd-api (an unprivileged
# user after the split) can enter, with copies of the binaries in $T/bin
# (a rebuild during the test must not swap them): bin points there.
agent_tmp() {
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 711 "$T"
	mkdir -p "$T/bin"
	cp "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$T/bin/"
	bin=$T/bin
}

# agent_payload_disk PAYLOAD: $T/disk.raw, an ext2 containerDisk booting
# the PVH test payload through its menu.lst ("boottimer ctrlaltdel":
# reports boot, obeys the graceful stop).
agent_payload_disk() {
	mkdir -p "$T/disk/boot/grub"
	cp "$1" "$T/disk/boot/vmlinuz"
	printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer ctrlaltdel\n' \
		> "$T/disk/boot/grub/menu.lst"
	mke2fs -q -F -t ext2 -d "$T/disk" "$T/disk.raw" 8M > /dev/null
}

# agent_pki URL USER...: droverctl certs init in $T/pki, a client
# certificate and $T/kc-USER kubeconfig for each "NAME [--group G]".
agent_pki() {
	local url=$1 u n; shift
	P=$T/pki
	"$bin/droverctl" certs init --dir "$P" > /dev/null || return 1
	for u in "$@"; do
		# shellcheck disable=SC2086
		"$bin/droverctl" certs user $u --dir "$P" > /dev/null || return 1
		n=${u%% *}
		"$bin/droverctl" kubeconfig "$n" --server "$url" --dir "$P" \
			--out "$T/kc-$n" 2> /dev/null || return 1
	done
}

# agent_kill_vmms: kill -9 this test's VMMs (their config lies under $T).
agent_kill_vmms() {
	local p
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
}
