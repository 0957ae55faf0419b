#!/usr/bin/env bash
# boot/guest/mkcidata.sh OUT.iso HOSTNAME [USER_DATA_FILE]
# Makes a NoCloud seed ISO (volume label 'cidata') for a CirrOS guest:
# meta-data is JSON (CirrOS's parser rejects YAML) with instance-id and
# local-hostname; user-data is USER_DATA_FILE, or an empty '#cloud-config'.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../mk/common.sh"

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: ${0##*/} OUT.iso HOSTNAME [USER_DATA_FILE]"
out=$1 host=$2 ud=${3:-}
case "$host" in
'' | *[!A-Za-z0-9.-]*) die "bad hostname: '$host' (letters, digits, '-' and '.')" ;;
esac
[ -z "$ud" ] || [ -f "$ud" ] || die "no such user-data file: $ud"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/seed"
printf '{"instance-id": "iid-%s", "local-hostname": "%s"}\n' "$host" "$host" > "$tmp/seed/meta-data"
if [ -n "$ud" ]; then cp "$ud" "$tmp/seed/user-data"; else printf '#cloud-config\n{}\n' > "$tmp/seed/user-data"; fi

if command -v genisoimage >/dev/null; then
	genisoimage -quiet -output "$tmp/out.iso" -volid cidata -joliet -rock "$tmp/seed" ||
		die "genisoimage failed"
elif command -v xorriso >/dev/null; then
	xorriso -as mkisofs -quiet -output "$tmp/out.iso" -volid cidata -joliet -rock "$tmp/seed" ||
		die "xorriso failed"
else
	die "need genisoimage or xorriso (run make deps)"
fi
mv "$tmp/out.iso" "$out"
