#!/usr/bin/env bash
# Prints the directory holding Debian's linux-image-amd64 kernel, unpacked
# once into the cache: DIR/boot/vmlinuz-KVER and DIR/lib/modules/KVER/.
# With --kver, prints KVER instead.
. "$(dirname "$0")/../mk/common.sh"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && p == "" {p = $2} END {print p}')
[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (run make deps)"
dir=$(deb_extract "$pkg")
kver=${pkg#linux-image-}
[ -f "$dir/boot/vmlinuz-$kver" ] || die "$pkg has no boot/vmlinuz-$kver"
case "${1:-}" in
--kver) printf '%s\n' "$kver" ;;
*) printf '%s\n' "$dir" ;;
esac
