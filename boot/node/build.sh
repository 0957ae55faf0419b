#!/usr/bin/env bash
# boot/node/build.sh OUTDIR BINDIR GUESTDIR [DROVERD]: builds the emulated
# edge node.
#
# OUTDIR gets:
#   vmlinuz          Debian's kernel (boot/kernel.sh)
#   initramfs        gzip newc cpio: busybox (Debian's busybox-static), /init
#                    (boot/node/init), the kernel modules the node needs
#                    (dependencies resolved with modinfo, depmod -b), the
#                    static Drover binaries from BINDIR in /usr/bin, the guest
#                    artifacts from GUESTDIR in /var/lib/drover/guest/, and the
#                    test tools nodeexec, kvmcheck and vmmcon (tests/node/) in
#                    /usr/bin. DROVERD (the glibc build/droverd): the node's
#                    droverd instead of BINDIR's, with the shared libraries
#                    it needs (ldd), each from the host's Debian package
#                    (dpkg -S; listed with versions in
#                    /usr/share/drover/droverd-libs): the pod network needs
#                    libnftables and libmnl, which the musl build cannot link
#                    (net/sources.mk, docs/net.md).
#   tools/nodeexec   the exec client for the host (same static binary)
#   tools/kvmcheck   the KVM check program (static)
#   .inputs          hash of every input; unchanged inputs → nothing is done
#
# Missing BINDIR binaries or GUESTDIR files are left out with a warning (the
# e2e tests report them). Everything is built in a temporary directory and
# moved into place; .inputs is written last, so an interrupted build is
# rebuilt next time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/mk/common.sh"

[ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: $0 OUTDIR BINDIR GUESTDIR [DROVERD]"
out=$1 bindir=$2 guestdir=$3 droverd=${4:-}
BINS=(drover-vmm droverd droverctl)
GUEST_FILES=(vmlinuz initramfs disk.qcow2)
# Modules the node needs (names as modinfo spells them); their dependencies
# are added automatically. /init skips (and logs) the KVM vendor module that
# does not match the CPU (kvm_intel on the emulated EPYC).
NODE_MODULES=(
	crc32c_generic libcrc32c
	irqbypass kvm ccp kvm_amd kvm_intel
	tun bridge stp llc veth
	nf_tables nft_chain_nat nft_masq nft_nat nft_ct nf_nat nf_conntrack
	virtio virtio_ring virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_net net_failover failover virtio_blk virtio_console
	ext4 jbd2 mbcache crc16 overlay
)
tmp=
CFLAGS_NODE=(-static -std=c11 -O2 -Wall -Wextra -Werror)

# Hash of the inputs, cheap enough for the "nothing to do" path (< 1 s): the
# scripts and sources, the contents of the binaries and guest files, and the
# apt lists (which decide the kernel and busybox versions).
inputs_hash() {
	local f
	{
		for f in "$here/build.sh" "$here/init" "$here/udhcpc.script" "$root/mk/common.sh" \
			"$root/boot/kernel.sh" "$root/tests/node/nodeexec.c" "$root/tests/node/kvmcheck.c" \
			"$root/tests/node/vmmcon.c"; do
			printf '%s %s\n' "${f#$root/}" "$(sha256sum < "$f")"
		done
		for f in "${BINS[@]}"; do
			printf 'bin/%s %s\n' "$f" "$( [ -f "$bindir/$f" ] && sha256sum < "$bindir/$f" || echo missing)"
		done
		if [ -n "$droverd" ]; then
			printf 'glibc droverd %s\n' "$(sha256sum < "$droverd")"
			ldd "$droverd" | awk '$1 ~ /^\// {print $1} $3 ~ /^\// {print $3}' |
				xargs -r readlink -f | xargs -r sha256sum
		fi
		for f in "${GUEST_FILES[@]}"; do
			printf 'guest/%s %s\n' "$f" "$( [ -f "$guestdir/$f" ] && sha256sum < "$guestdir/$f" || echo missing)"
		done
		ls -l --time-style=+%s /var/lib/apt/lists/*_Packages* 2>/dev/null || true
		printf '%s\n' "$DROVER_CACHE" "${NODE_MODULES[*]}"
	} | sha256sum | cut -c1-32
}

up_to_date() {
	[ -f "$out/.inputs" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs" ] &&
		[ -x "$out/tools/nodeexec" ] && [ -x "$out/tools/kvmcheck" ] &&
		[ "$(cat "$out/.inputs")" = "$1" ]
}

# ---- kernel modules ------------------------------------------------------------
declare -A MODPATH=() SEEN=()
LOAD_ORDER=()

index_modules() {
	local mdir=$1 f n
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%.ko}
		MODPATH[${n//-/_}]=$f
	done < <(cd "$mdir" && find kernel -name '*.ko')
}

# add_module NAME: depth-first, dependencies before the module.
add_module() {
	local mdir=$1 name=${2//-/_} dep deps
	[ -z "${SEEN[$name]:-}" ] || return 0
	SEEN[$name]=1
	if [ -z "${MODPATH[$name]:-}" ]; then
		grep -qE "/${name//_/[-_]}\.ko$" "$mdir/modules.builtin" ||
			die "kernel module $name: neither a module nor built in"
		return 0
	fi
	deps=$(modinfo -F depends "$mdir/${MODPATH[$name]}")
	for dep in ${deps//,/ }; do
		add_module "$mdir" "$dep"
	done
	LOAD_ORDER+=("${MODPATH[$name]}")
}

install_modules() {
	local kdir=$1 kver=$2 stage=$3 mdir m
	mdir=$kdir/lib/modules/$kver
	index_modules "$mdir"
	for m in "${NODE_MODULES[@]}"; do
		add_module "$mdir" "$m"
	done
	mkdir -p "$stage/lib/modules/$kver"
	for m in "${LOAD_ORDER[@]}"; do
		install -D -m 0644 "$mdir/$m" "$stage/lib/modules/$kver/$m"
	done
	cp "$mdir/modules.builtin" "$mdir/modules.order" "$stage/lib/modules/$kver/"
	[ ! -f "$mdir/modules.builtin.modinfo" ] ||
		cp "$mdir/modules.builtin.modinfo" "$stage/lib/modules/$kver/"
	printf '%s\n' "${LOAD_ORDER[@]}" > "$stage/lib/modules/$kver/node.load"
	depmod -b "$stage" "$kver"
	msg "modules: ${#LOAD_ORDER[@]} ($(echo "${LOAD_ORDER[@]##*/}" | sed 's/\.ko//g'))"
}

# ---- userland -------------------------------------------------------------------
install_busybox() {
	local stage=$1 bb a
	bb=$(deb_extract busybox-static)/bin/busybox
	[ -x "$bb" ] || die "busybox-static has no bin/busybox"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var/log,var/lib/drover/guest}
	install -m 0755 "$bb" "$stage/bin/busybox"
	for a in $("$bb" --list-full); do
		[ -e "$stage/$a" ] || ln -s /bin/busybox "$stage/$a"
	done
}

install_etc() {
	local stage=$1
	install -m 0755 "$here/init" "$stage/init"
	install -m 0755 "$here/udhcpc.script" "$stage/etc/udhcpc.script"
	echo drover-node > "$stage/etc/hostname"
	# drover: droverd-api's user (droverd's privilege separation: agent
	# config "user", default "drover"); no login, no home of its own.
	printf 'root:x:0:0:root:/root:/bin/sh\ndrover:x:990:990:droverd-api:/nonexistent:/bin/false\n' \
		> "$stage/etc/passwd"
	printf 'root:x:0:\nkvm:x:36:\ndrover:x:990:\n' > "$stage/etc/group"
	printf '127.0.0.1 localhost\n127.0.1.1 drover-node\n' > "$stage/etc/hosts"
	# busybox init only reaps orphans and handles poweroff; /init did the rest.
	printf '::ctrlaltdel:/bin/poweroff -f\n::shutdown:/bin/sync\n' > "$stage/etc/inittab"
	mkdir -p "$stage/etc/drover/rc.d"
}

build_tools() {
	local tools=$1 kh=$1/.kheaders d
	mkdir -p "$kh"
	# musl-gcc hides /usr/include: give it only the kernel's UAPI headers.
	for d in linux asm-generic; do ln -sfn "/usr/include/$d" "$kh/$d"; done
	ln -sfn /usr/include/x86_64-linux-gnu/asm "$kh/asm"
	musl-gcc "${CFLAGS_NODE[@]}" -o "$tools/nodeexec" "$root/tests/node/nodeexec.c"
	musl-gcc "${CFLAGS_NODE[@]}" -I"$kh" -o "$tools/kvmcheck" "$root/tests/node/kvmcheck.c"
	musl-gcc "${CFLAGS_NODE[@]}" -o "$tools/vmmcon" "$root/tests/node/vmmcon.c"
	strip "$tools/nodeexec" "$tools/kvmcheck" "$tools/vmmcon"
	rm -rf "$kh"
}

install_payload() {
	local stage=$1 tools=$2 f
	install -m 0755 "$tools/nodeexec" "$tools/kvmcheck" "$tools/vmmcon" "$stage/usr/bin/"
	for f in "${BINS[@]}"; do
		if [ -f "$bindir/$f" ]; then
			case $(file -L "$bindir/$f") in
			*"statically linked"* | *"static-pie linked"*) ;;
			*) msg "warning: $bindir/$f is not statically linked: it will not run in the node" ;;
			esac
			install -m 0755 "$bindir/$f" "$stage/usr/bin/$f"
		else
			msg "warning: $bindir/$f missing: not in the node"
		fi
	done
	for f in "${GUEST_FILES[@]}"; do
		if [ -f "$guestdir/$f" ]; then
			install -m 0644 "$guestdir/$f" "$stage/var/lib/drover/guest/$f"
		else
			msg "warning: $guestdir/$f missing: not in the node"
		fi
	done
}

# install_glibc_droverd STAGE: $droverd in /usr/bin, its shared libraries at
# the paths ldd resolves them to, each checked to come from a Debian package.
install_glibc_droverd() {
	local stage=$1 lib real pkg list=$1/usr/share/drover/droverd-libs
	file -L "$droverd" | grep -q 'dynamically linked' || die "$droverd: not a dynamic glibc binary"
	install -m 0755 "$droverd" "$stage/usr/bin/droverd"
	mkdir -p "${list%/*}"
	: > "$list"
	for lib in $(ldd "$droverd" | awk '$1 ~ /^\// {print $1} $3 ~ /^\// {print $3}'); do
		real=$(readlink -f "$lib")
		pkg=$({ dpkg -S "$lib" 2> /dev/null || dpkg -S "$real" 2> /dev/null; } | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || die "$lib ($real): not from a Debian package"
		install -D -m 0755 "$real" "$stage$lib"
		printf '%s %s %s\n' "$lib" "$pkg" "$(dpkg-query -W -f '${Version}' "$pkg")" >> "$list"
	done
	msg "droverd: glibc, $(wc -l < "$list") shared libraries ($(cut -d' ' -f2 "$list" | sort -u | xargs))"
}

main() {
	local hash kdir kver t0
	t0=$(date +%s.%N)
	mkdir -p "$out"
	hash=$(inputs_hash)
	if up_to_date "$hash"; then
		msg "$out is up to date"
		return 0
	fi
	rm -f "$out/.inputs"
	kdir=$("$root/boot/kernel.sh")
	kver=$(ls "$kdir/lib/modules")
	[ -f "$kdir/boot/vmlinuz-$kver" ] || die "no single kernel in $kdir (found: $kver)"
	tmp=$(mktemp -d "$out/.build.XXXXXX")
	trap 'rm -rf "${tmp:-}"' EXIT
	mkdir -p "$tmp/root" "$tmp/tools"
	install_busybox "$tmp/root"
	install_etc "$tmp/root"
	install_modules "$kdir" "$kver" "$tmp/root"
	build_tools "$tmp/tools"
	install_payload "$tmp/root" "$tmp/tools"
	[ -z "$droverd" ] || install_glibc_droverd "$tmp/root"
	(cd "$tmp/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -6 > "$tmp/initramfs"
	cp "$kdir/boot/vmlinuz-$kver" "$tmp/vmlinuz"
	mkdir -p "$out/tools"
	mv -f "$tmp/tools/nodeexec" "$tmp/tools/kvmcheck" "$out/tools/"
	mv -f "$tmp/vmlinuz" "$out/vmlinuz"
	mv -f "$tmp/initramfs" "$out/initramfs"
	echo "$hash" > "$out/.inputs.tmp"
	mv -f "$out/.inputs.tmp" "$out/.inputs"
	msg "built $out: initramfs $(stat -c %s "$out/initramfs") bytes, kernel $kver" \
		"($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
}

main
