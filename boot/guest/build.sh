#!/usr/bin/env bash
# boot/guest/build.sh OUTDIR [CIRROS_ROOTFS]
#
# Builds the CirrOS-style guest (make guest) into OUTDIR:
#   vmlinuz                          Debian's linux-image-amd64 kernel
#   initramfs                        gzip newc cpio: whole root fs + modules
#   disk.qcow2                       GPT disk, p1 ext3 'cirros-rootfs', p15 EFI
#   cirros-container-disk-demo.tar   OCI archive, layer = disk/disk.qcow2
# With CIRROS_ROOTFS (the official CirrOS lxc rootfs tarball) the root file
# system is CirrOS's own; without it, a busybox guest from Debian's
# busybox-static plus the overlay in boot/guest/rootfs/.
#
# Rebuilds only when an input changes: OUTDIR/.inputs holds the input hash.
# Finished builds are also kept in $DROVER_CACHE/guest/<hash>/, so a fresh
# clone on the same machine only copies them.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../mk/common.sh"
root=$(cd "$here/../.." && pwd)

ARTIFACTS=(vmlinuz initramfs disk.qcow2 cirros-container-disk-demo.tar)
DISK_MIB=112          # virtual size of disk.qcow2, as CirrOS's disk.img
EFI_START=2048        # partition 15: 8 MiB vfat, sectors 2048..18431
EFI_SECTORS=16384
SUDO_GID=27           # group allowed to use the busybox guest's sudo helper

usage() { die "usage: ${0##*/} OUTDIR [CIRROS_ROOTFS]"; }

# ---- input hashing -----------------------------------------------------------

# Hash of everything in this directory but docs (contents, names, x bits) and of
# the shared scripts the build uses.
source_fingerprint() {
	local f x
	(cd "$root" && find boot/guest mk/common.sh boot/kernel.sh -type f ! -name '*.md' \
		! -name '*~' ! -name '*.swp' | LC_ALL=C sort) |
		while read -r f; do
			x=-; [ ! -x "$root/$f" ] || x=x   # git keeps only the x bit
			printf '%s %s %s\n' "$f" "$x" "$(sha256sum < "$root/$f" | cut -c1-64)"
		done
}

cirros_fingerprint() {
	[ -n "$CIRROS_ROOTFS" ] || { echo "cirros: none"; return; }
	echo "cirros: $(sha256sum < "$CIRROS_ROOTFS" | cut -c1-64)"
}

# Cheap stand-in for the Debian package versions: the apt lists they come
# from. Used only to skip the (slow) apt look-ups when nothing changed.
apt_fingerprint() {
	stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null || true
}

hash_of() { sha256sum | cut -c1-32; }

quick_key() {
	{ echo "drover-guest quick v1"; source_fingerprint; cirros_fingerprint; apt_fingerprint; } | hash_of
}

full_key() {
	{
		echo "drover-guest full v1"
		source_fingerprint
		cirros_fingerprint
		echo "kernel: $(basename "$KDIR")"
		echo "busybox: $BB_DEB"
		[ -n "$CIRROS_ROOTFS" ] || echo "cc: $(sudo_cc) $($(sudo_cc) --version 2>/dev/null | head -n1)"
	} | hash_of
}

up_to_date() {
	local a
	[ -f "$OUTDIR/.inputs" ] && [ "$(head -n1 "$OUTDIR/.inputs")" = "quick $QKEY" ] || return 1
	for a in "${ARTIFACTS[@]}"; do [ -s "$OUTDIR/$a" ] || return 1; done
}

# ---- Debian packages -----------------------------------------------------------

sudo_cc() {
	if command -v musl-gcc >/dev/null; then echo musl-gcc; else echo gcc; fi
}

# ---- root file systems ---------------------------------------------------------

cirros_rootfs() {
	local dst=$1
	msg "root file system: $CIRROS_ROOTFS"
	tar --numeric-owner -xJf "$CIRROS_ROOTFS" -C "$dst" || die "cannot unpack $CIRROS_ROOTFS"
	[ -x "$dst/bin/busybox" ] && [ -f "$dst/etc/issue" ] || die "$CIRROS_ROOTFS is not a CirrOS root file system"
	if [ ! -x "$dst/init" ]; then
		msg "tarball has no initramfs /init: using boot/guest/rootfs/init"
		install -m 0755 "$here/rootfs/init" "$dst/init"
	fi
	# Debian builds ext4 as a module (Ubuntu's kernel has it built in): the
	# initramfs must load it before it looks for LABEL=cirros-rootfs.
	grep -qx 'ext4' "$dst/etc/modules" ||
		printf '\n## Drover: Debian kernel, the cirros-rootfs partition needs ext4\next4\n' >> "$dst/etc/modules"
	install_boot_timer "$dst"
}

# The busybox guest: Debian's static busybox, its applet links, the overlay
# under boot/guest/rootfs/, the cirros user and the sudo helper.
busybox_rootfs() {
	local dst=$1 bb applet hash salt
	bb="$BB_DIR/bin/busybox"
	[ -x "$bb" ] || die "no busybox in $BB_DIR"
	msg "root file system: busybox $(basename "$BB_DIR")"
	mkdir -p "$dst"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,run,var/log,mnt,media,newroot,home/cirros,root,lib/modules}
	chmod 1777 "$dst/tmp"
	chmod 0700 "$dst/root"
	ln -s ../run "$dst/var/run"
	install -m 0755 "$bb" "$dst/bin/busybox"
	"$bb" --list-full | while read -r applet; do
		[ "$applet" != bin/busybox ] || continue
		[ -e "$dst/$applet" ] || ln -s /bin/busybox "$dst/$applet"
	done
	cp -a "$here/rootfs/." "$dst/"
	# The cirros user's password, hashed by the guest's own busybox; the
	# salt comes from the input hash so the build is reproducible.
	salt=$(printf '%s' "$FKEY" | cut -c1-16)
	hash=$("$bb" mkpasswd -m sha512 -S "$salt" gocubsgo) || die "busybox mkpasswd failed"
	case "$hash" in '$6$'*) ;; *) die "busybox mkpasswd gave no sha512 hash: $hash" ;; esac
	cat > "$dst/etc/shadow" <<EOF
root:!:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
cirros:$hash:19000:0:99999:7:::
EOF
	chmod 0600 "$dst/etc/shadow"
	build_sudo "$dst/usr/bin/sudo"
	install_boot_timer "$dst"
	chown -R 0:0 "$dst"
	chown -R 1000:1000 "$dst/home/cirros"
	chmod 4755 "$dst/usr/bin/sudo"   # after chown, which clears set-uid
}

# sudo for the busybox guest: a small static setuid helper built from
# boot/guest/sudo.c; it lets root and members of group SUDO_GID (cirros)
# run a command as root without a password, as CirrOS's sudoers does.
build_sudo() {
	local out=$1 cc
	cc=$(sudo_cc)
	rm -f "$out"
	"$cc" -static -Os -Wall -Wextra -Werror -DSUDO_GID="$SUDO_GID" -o "$out" "$here/sudo.c" ||
		die "cannot build the sudo helper with $cc"
	strip "$out"
}

# The boot-timer hook: a place to record boot milestones later. It does
# nothing yet and must stay harmless.
install_boot_timer() {
	local dst=$1
	mkdir -p "$dst/etc/init.d" "$dst/etc/rc3.d"
	install -m 0755 "$here/boot-timer" "$dst/etc/init.d/boot-timer"
	ln -sf ../init.d/boot-timer "$dst/etc/rc3.d/S97-boot-timer"
}

# ---- kernel modules ------------------------------------------------------------

# modules_closure MODDIR: names from modules.list plus their dependencies,
# one module file (relative to MODDIR) per line.
modules_closure() {
	local moddir=$1 name key dep
	declare -A path=() seen=()
	local queue=()
	while read -r f; do
		key=$(basename "$f" .ko); key=${key//-/_}
		path[$key]=$f
	done < <(cd "$moddir" && find kernel -name '*.ko')
	while read -r name; do
		queue+=("${name//-/_}")
	done < <(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$here/modules.list")
	while [ ${#queue[@]} -gt 0 ]; do
		name=${queue[0]}; queue=("${queue[@]:1}")
		[ -z "${seen[$name]:-}" ] || continue
		seen[$name]=1
		if [ -z "${path[$name]:-}" ]; then
			grep -q "/${name}.ko\$" "$moddir/modules.builtin" 2>/dev/null ||
				grep -q "/${name//_/-}.ko\$" "$moddir/modules.builtin" 2>/dev/null ||
				die "module $name is neither in $moddir nor built in"
			continue
		fi
		echo "${path[$name]}"
		for dep in $(modinfo -F depends "$moddir/${path[$name]}" | tr ',' ' '); do
			queue+=("${dep//-/_}")
		done
	done
}

install_modules() {
	local dst=$1 moddir="$KDIR/lib/modules/$KVER" f n=0
	local out="$dst/lib/modules/$KVER"
	[ -d "$moddir/kernel" ] || die "no modules in $moddir"
	mkdir -p "$out"
	while read -r f; do
		mkdir -p "$out/$(dirname "$f")"
		cp "$moddir/$f" "$out/$f"
		n=$((n + 1))
	done < <(modules_closure "$moddir")
	cp "$moddir"/modules.builtin "$moddir"/modules.builtin.modinfo "$moddir"/modules.order "$out/" 2>/dev/null || true
	depmod -b "$dst" "$KVER" || die "depmod -b failed"
	[ -s "$out/modules.dep" ] || die "depmod made no modules.dep"
	msg "modules: $n ($(cd "$out" && sed 's,:.*,,; s,.*/,,; s,\.ko$,,' modules.dep | sort | tr '\n' ' '))"
}

# ---- artifacts -----------------------------------------------------------------

make_initramfs() {
	local tree=$1 out=$2
	(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc --reproducible) | gzip -9n > "$out" || die "cpio failed"
}

# make_disk INITRAMFS VMLINUZ OUT.qcow2: GPT, p15 vfat EFI, p1 ext3 labelled
# cirros-rootfs with the kernel, initrd and grub menu.lst, as CirrOS's disk.img.
make_disk() {
	local initrd=$1 kernel=$2 out=$3 w raw start size
	w=$(dirname "$out")/disk.work
	raw=$w/disk.raw
	mkdir -p "$w/p1/boot/grub"
	cp "$kernel" "$w/p1/vmlinuz"
	cp "$initrd" "$w/p1/initrd.img"
	cat > "$w/p1/boot/grub/menu.lst" <<'EOF'
default=0
timeout=0
hiddenmenu

title cirros
root (hd0,0)
kernel /vmlinuz LABEL=cirros-rootfs ro console=tty1 console=ttyS0
initrd /initrd.img
EOF
	truncate -s "${DISK_MIB}M" "$raw"
	sgdisk -n "15:$EFI_START:$((EFI_START + EFI_SECTORS - 1))" -t 15:ef00 -c 15:EFI \
		-n "1:$((EFI_START + EFI_SECTORS)):0" -t 1:8300 -c 1:cirros-rootfs "$raw" >/dev/null ||
		die "sgdisk failed"
	read -r start size < <(sfdisk -d "$raw" | awk -F'[=,]' '$1 ~ /raw1 *:/ {gsub(/ /,""); print $2, $4}')
	[ -n "$size" ] || die "cannot read partition 1 of $raw"
	# (mkfs.vfat warns that the image is larger than the partition: expected)
	mkfs.vfat -n EFI --offset "$EFI_START" "$raw" $((EFI_SECTORS / 2)) 2>&1 >/dev/null |
		{ grep -v 'block count mismatch' >&2 || true; }
	[ "${PIPESTATUS[0]}" = 0 ] || die "mkfs.vfat failed"
	mke2fs -q -F -t ext3 -L cirros-rootfs -d "$w/p1" -E "offset=$((start * 512))" \
		"$raw" "$((size / 2))k" || die "mke2fs failed"
	qemu-img convert -q -f raw -O qcow2 -c "$raw" "$out" || die "qemu-img convert failed"
	rm -rf "$w"
}

make_oci() {
	python3 "$here/mkoci.py" "$1" "$2" || die "mkoci.py failed"
}

build_all() {
	local w=$1 tree="$1/rootfs"
	mkdir -p "$tree"
	if [ -n "$CIRROS_ROOTFS" ]; then cirros_rootfs "$tree"; else busybox_rootfs "$tree"; fi
	install_modules "$tree"
	cp "$KDIR/boot/vmlinuz-$KVER" "$w/vmlinuz"
	make_initramfs "$tree" "$w/initramfs"
	rm -rf "$tree"
	make_disk "$w/initramfs" "$w/vmlinuz" "$w/disk.qcow2"
	make_oci "$w/disk.qcow2" "$w/cirros-container-disk-demo.tar"
}

# Keep the newest few builds in the cache.
prune_cache() {
	local dir=$1
	ls -1dt "$dir"/*/ 2>/dev/null | tail -n +5 | xargs -r rm -rf
}

# install_outputs CACHEDIR: copy the artifacts into OUTDIR; .inputs last, so
# an interrupted install never looks complete.
install_outputs() {
	local src=$1 a
	mkdir -p "$OUTDIR"
	rm -f "$OUTDIR/.inputs"
	for a in "${ARTIFACTS[@]}"; do
		cp --reflink=auto "$src/$a" "$OUTDIR/.$a.tmp"
		mv -f "$OUTDIR/.$a.tmp" "$OUTDIR/$a"
	done
	local variant="busybox $BB_DEB"
	[ -z "$CIRROS_ROOTFS" ] || variant="cirros $CIRROS_ROOTFS"
	printf 'quick %s\nfull %s\nvariant %s\nkernel %s\n' "$QKEY" "$FKEY" "$variant" "$KVER" \
		> "$OUTDIR/.inputs.tmp"
	mv -f "$OUTDIR/.inputs.tmp" "$OUTDIR/.inputs"
}

main() {
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	mkdir -p "$1"
	OUTDIR=$(cd "$1" && pwd)
	CIRROS_ROOTFS=${2:-}
	if [ -n "$CIRROS_ROOTFS" ]; then
		[ -f "$CIRROS_ROOTFS" ] || die "CIRROS_ROOTFS: no such file: $CIRROS_ROOTFS"
		CIRROS_ROOTFS=$(realpath "$CIRROS_ROOTFS")
	fi
	QKEY=$(quick_key)
	if up_to_date; then
		msg "up to date: $OUTDIR"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "building the guest needs root (file ownership in the initramfs)"
	KDIR=$("$root/boot/kernel.sh") || die "boot/kernel.sh failed"
	KVER=$(cd "$KDIR/boot" && ls vmlinuz-* | head -n1); KVER=${KVER#vmlinuz-}
	[ -n "$KVER" ] || die "no vmlinuz in $KDIR/boot"
	BB_DIR=""; BB_DEB=""
	if [ -z "$CIRROS_ROOTFS" ]; then
		BB_DIR=$(deb_extract busybox-static)
		BB_DEB=$(basename "$BB_DIR")
	fi
	FKEY=$(full_key)
	local cache="$DROVER_CACHE/guest/$FKEY"
	if [ -f "$cache/.done" ]; then
		msg "reusing cached build $FKEY"
	else
		msg "building guest ($FKEY) for kernel $KVER"
		WORK="$DROVER_CACHE/guest/.tmp.$FKEY.$$"
		rm -rf "$WORK"
		mkdir -p "$WORK"
		trap 'rm -rf "$WORK"' EXIT
		build_all "$WORK"
		touch "$WORK/.done"
		rm -rf "$cache"
		mv "$WORK" "$cache"
		trap - EXIT
		prune_cache "$DROVER_CACHE/guest"
	fi
	install_outputs "$cache"
	msg "guest ready in $OUTDIR: $(cd "$OUTDIR" && du -h "${ARTIFACTS[@]}" | awk '{printf "%s=%s ", $2, $1}')"
}

main "$@"
