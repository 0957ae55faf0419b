# Shared shell helpers for Drover's build scripts. Source it; do not run it.
# Every script that downloads or builds something outside the clone keeps it
# under $DROVER_CACHE, keyed by the Debian package version that produced it.
set -euo pipefail
DROVER_CACHE=${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}
export DROVER_CACHE
mkdir -p "$DROVER_CACHE"

msg() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# deb_version PKG: candidate version of a binary package (apt-get update done by deps).
deb_version() {
	# awk reads to the end: an early exit would SIGPIPE apt-cache (pipefail).
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && v == "" {v = $2} END {print v}'
}

# deb_fetch PKG: download PKG's .deb into the cache once; print its path.
deb_fetch() {
	local pkg=$1 ver dir f
	ver=$(deb_version "$pkg")
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate version for $pkg (run make deps)"
	dir="$DROVER_CACHE/debs"
	mkdir -p "$dir"
	# apt-get download spells an epoch "1%3a"; match either spelling.
	f=$(ls "$dir/${pkg}_${ver/:/%3a}_"*.deb "$dir/${pkg}_${ver#*:}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		(cd "$dir" && apt-get download "$pkg=$ver" >&2) || die "apt-get download $pkg=$ver failed"
		f=$(ls "$dir/${pkg}_${ver/:/%3a}_"*.deb "$dir/${pkg}_${ver#*:}_"*.deb 2>/dev/null | head -n1 || true)
	fi
	[ -n "$f" ] && [ -f "$f" ] || die "downloaded $pkg=$ver but cannot find its .deb in $dir"
	printf '%s\n' "$f"
}

# deb_extract PKG: extract PKG's .deb once into the cache; print the directory.
deb_extract() {
	local deb out
	deb=$(deb_fetch "$1") || exit 1
	[ -n "$deb" ] || die "no .deb for $1"
	out="$DROVER_CACHE/x/$(basename "$deb" .deb)"
	if [ ! -e "$out/.done" ]; then
		rm -rf "$out.tmp"
		mkdir -p "$out.tmp"
		dpkg-deb -x "$deb" "$out.tmp"
		touch "$out.tmp/.done"
		rm -rf "$out"
		mv "$out.tmp" "$out"
	fi
	printf '%s\n' "$out"
}
