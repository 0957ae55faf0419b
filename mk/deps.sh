#!/usr/bin/env bash
# make deps: install Drover's build and test dependencies with apt-get.
# Idempotent: the package lists are hashed into a stamp in the cache, and a
# second run with unchanged lists and every package present does nothing.
# Package lists: mk/deps.list and every */deps.list or */*/deps.list in the tree.
. "$(dirname "$0")/common.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
lists=$(cd "$root" && shopt -s nullglob && printf '%s\n' mk/deps.list */deps.list */*/deps.list | sort -u)
pkgs=$(cd "$root" && cat $lists | sed 's/#.*//' | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u)
srcfile=/etc/apt/sources.list.d/drover-src.sources
stamp="$DROVER_CACHE/deps.$(printf '%s\n' "$pkgs" | cat - "$0" | sha256sum | cut -c1-16)"

missing() {
	dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null |
		awk '$NF == "installed" {print $1}' | sort -u > "$DROVER_CACHE/.have"
	printf '%s\n' $pkgs | sed 's/:.*//' | sort -u | comm -23 - "$DROVER_CACHE/.have"
}

if [ -e "$stamp" ] && [ -e "$srcfile" ] && [ -z "$(missing)" ]; then
	exit 0
fi
[ "$(id -u)" = 0 ] || die "make deps needs root (apt-get)"

# Source packages: bookworm for most libraries, trixie for mbedTLS 3.6 and
# libwebsockets 4.3 (bookworm only has mbedTLS 2.28).
if [ ! -e "$srcfile" ]; then
	cat > "$srcfile" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	rm -f "$DROVER_CACHE/.apt-updated"
fi
if [ ! -e "$DROVER_CACHE/.apt-updated" ] || [ -n "$(find "$DROVER_CACHE/.apt-updated" -mmin +1440)" ] ||
	! apt-cache showsrc mbedtls 2>/dev/null | grep -q '^Version: 3\.6'; then
	msg "apt-get update"
	apt-get update -q >&2 || die "apt-get update failed"
	touch "$DROVER_CACHE/.apt-updated"
fi
need=$(missing)
if [ -n "$need" ]; then
	msg "installing: $(echo $need)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2 ||
		die "apt-get install failed"
fi
touch "$stamp"
msg "dependencies present"
