#!/usr/bin/env bash
# mk/sysroot.sh FLAVOUR PREFIX: build third-party libraries from Debian source
# packages into a prefix that Drover links statically.
#
#   musl   musl-gcc, static .a + headers: mbedTLS 3.6, libwebsockets 4.3,
#          libyaml, jansson, libfdt, zlib, libext2fs + libcom_err (e2fsprogs)
#   glibc  system gcc, static .a with -fPIC: mbedTLS 3.6 and libwebsockets 4.3
#          (everything else comes from Debian's -dev packages)
#
# Result: PREFIX/include, PREFIX/lib/*.a, PREFIX/drover-libs.mk (SYSROOT_LIBS in
# static link order) and, for musl, PREFIX/kernel-include (symlinks to the
# system's Linux UAPI headers; use it with -idirafter).
#
# The build lives in $DROVER_CACHE/sysroot/FLAVOUR-HASH, HASH covering this
# script, the source package versions and the compiler version; PREFIX becomes
# a symlink to it. An entry is complete iff it exists: it is built in
# FLAVOUR-HASH.tmp and renamed into place at the end. Source packages are kept
# in $DROVER_CACHE/src/PKG_VERSION. Debian's patches are applied (dpkg-source
# -x), then Drover's own from mk/sysroot/patches/PKG/ (also in the hash).
. "$(dirname "$0")/common.sh"
shopt -s inherit_errexit # set -e inside $(...) too

SELF=$(cd "$(dirname "$0")" && pwd)/${0##*/}
SYSROOT_CACHE=$DROVER_CACHE/sysroot
SRC_CACHE=$DROVER_CACHE/src
PATCH_DIR=$(dirname "$SELF")/sysroot/patches
JOBS=${JOBS:-2}

# Source package, then a shell glob for the version to use (newest match wins).
# bookworm: libyaml, zlib, jansson. trixie: mbedtls 3.6 (bookworm has 2.28),
# libwebsockets 4.3, and device-tree-compiler (only libfdt is built): the
# mirror serves neither of bookworm's 1.6.1 tarballs, and of trixie's 1.7.2 only
# the upstream tarball, so libfdt is built without Debian's patches (VERSIONS
# in the prefix says so). libwebsockets' .dsc is not served either; its Debian
# tarball (security fixes) comes from the security pool, see fetch_src.
PACKAGES=(
	"mbedtls 3.6.*"
	"libwebsockets 4.3.*"
	"libyaml 0.2.5-1"
	"zlib 1:1.2.13.*"
	"jansson 2.14-*"
	"device-tree-compiler 1.7.2-*"
	"e2fsprogs 1.47.0-*"
)

usage() { die "usage: mk/sysroot.sh musl|glibc PREFIX"; }

# ---------------------------------------------------------------- versions

# resolve_versions: print "PKG VERSION" for every package in PACKAGES.
# apt-cache showsrc is slow (~0.5 s), so the answer is cached, keyed by the
# apt source lists' names, sizes and mtimes and by this script.
resolve_versions() {
	local key f tmp line pkg glob ver
	key=$({ stat -c '%n %s %Y' /var/lib/apt/lists/*_Sources* 2>/dev/null || true; cat "$SELF"; } |
		sha256sum | cut -c1-16)
	f=$SYSROOT_CACHE/versions-$key
	if [ ! -s "$f" ]; then
		mkdir -p "$SYSROOT_CACHE"
		tmp=$(mktemp "$f.XXXXXX")
		for line in "${PACKAGES[@]}"; do
			read -r pkg glob <<<"$line"
			ver=$(apt-cache showsrc --only-source "$pkg" 2>/dev/null |
				awk '/^Version:/ {print $2}' |
				while read -r v; do if [[ $v == $glob ]]; then echo "$v"; fi; done |
				sort -V | tail -n1)
			[ -n "$ver" ] || { rm -f "$tmp"; die "no source version $glob of $pkg (run mk/deps.sh)"; }
			echo "$pkg $ver" >>"$tmp"
		done
		chmod 644 "$tmp"
		mv "$tmp" "$f"
	fi
	cat "$f"
}

# version_of PKG: the resolved version of PKG.
version_of() { awk -v p="$1" '$1 == p {print $2}' <<<"$VERSIONS"; }

# ---------------------------------------------------------------- sources

# src_stanza PKG VERSION: PKG's Sources index stanza for VERSION.
src_stanza() {
	apt-cache showsrc --only-source "$1" |
		awk -v v="$2" 'BEGIN {RS = ""; ORS = "\n\n"} index($0 "\n", "\nVersion: " v "\n") && !done {print; done = 1}'
}

# fetch_src PKG VERSION: download PKG's source files into the cache once
# (apt-get source --download-only; files the primary pool does not serve are
# fetched with apt-helper from the security pool, checked against the Sources
# index). Print the directory.
fetch_src() {
	local pkg=$1 ver=$2 dir stanza base dirpath sum size name url got
	dir=$SRC_CACHE/${pkg}_${ver#*:}
	if [ -e "$dir/.complete" ]; then
		printf '%s\n' "$dir"
		return
	fi
	mkdir -p "$SRC_CACHE"
	(
		flock 8
		[ -e "$dir/.complete" ] && exit 0
		stanza=$(src_stanza "$pkg" "$ver")
		[ -n "$stanza" ] || die "$pkg $ver is not in the apt source lists"
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		cd "$dir.tmp"
		apt-get source --download-only -qq -o APT::Sandbox::User=root "$pkg=$ver" ||
			echo "apt-get source $pkg=$ver: incomplete, trying the security pool"
		base=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/drover-src.sources 2>/dev/null)
		base=${base:-http://deb.debian.org/debian}
		dirpath=$(awk '/^Directory:/ {print $2}' <<<"$stanza")
		checksums "$stanza" | while read -r sum size name; do
			[ -e "$name" ] && continue
			for url in "$base/$dirpath/$name" \
				"$base-security/${dirpath/#pool\//pool/updates/}/$name"; do
				/usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file \
					"$url" "$name" "SHA256:$sum" >/dev/null 2>&1 && break
				rm -f "$name"
			done
			[ -e "$name" ] || echo "not served anywhere: $name"
		done
		checksums "$stanza" | while read -r sum size name; do
			[ -e "$name" ] || continue
			got=$(sha256sum "$name" | cut -d' ' -f1)
			[ "$got" = "$sum" ] || die "$name: sha256 mismatch"
		done
		# No .dsc but a Debian tarball: write the .dsc from the Sources stanza.
		if ! ls ./*.dsc >/dev/null 2>&1 && ls ./*.debian.tar.* >/dev/null 2>&1; then
			make_dsc "$stanza" >"${pkg}_${ver#*:}.dsc"
		fi
		compgen -G './*.orig.tar.*' >/dev/null || die "$pkg $ver: no source tarball could be fetched"
		touch .complete
		cd /
		rm -rf "$dir"
		mv -T "$dir.tmp" "$dir"
	) 8>"$SRC_CACHE/.lock" >&2
	printf '%s\n' "$dir"
}

# checksums STANZA: "sha256 size name" per file of a Sources stanza.
checksums() {
	awk '/^[^ ]/ {f = ($1 == "Checksums-Sha256:")} f && /^ / {print $1, $2, $3}' <<<"$1"
}

# make_dsc STANZA: an (unsigned) .dsc equivalent to a Sources stanza.
make_dsc() {
	awk '/^[^ ]/ {keep = $1 ~ /^(Format|Package|Binary|Architecture|Version|Maintainer|Checksums-Sha256|Files):$/}
		keep && /^ / && $3 ~ /\.dsc$/ {next}
		keep {sub(/^Package:/, "Source:"); print}' <<<"$1"
}

# unpack PKG DEST: unpack PKG's source (with Debian's patches, when Debian's
# tarball could be had) into DEST.
unpack() {
	local pkg=$1 dest=$2 ver dir dsc
	ver=$(version_of "$pkg")
	dir=$(fetch_src "$pkg" "$ver")
	dsc=$(ls "$dir"/*.dsc 2>/dev/null | head -n1 || true)
	rm -rf "$dest"
	if [ -n "$dsc" ] && ls "$dir"/*.debian.tar.* >/dev/null 2>&1; then
		dpkg-source -x "$dsc" "$dest"
		echo "$pkg $ver debian-patches" >>"$OUT/VERSIONS"
	else
		mkdir -p "$dest"
		tar -xf "$(ls "$dir"/*.orig.tar.* | head -n1)" -C "$dest" --strip-components=1
		echo "$pkg $ver upstream-only (Debian tarball not served)" >>"$OUT/VERSIONS"
	fi
}

# apply_patches NAME DIR: apply Drover's own patches, mk/sysroot/patches/NAME/*.patch.
apply_patches() {
	local p
	for p in "$PATCH_DIR/$1"/*.patch; do
		[ -e "$p" ] || continue
		patch -d "$2" -p1 --forward <"$p"
		echo "$1 +${p#"$PATCH_DIR/"}" >>"$OUT/VERSIONS"
	done
}

# ---------------------------------------------------------------- libraries

# cmake_build NAME SRCDIR CMAKE-ARGS...: configure, build and install.
cmake_build() {
	local name=$1 src=$2
	shift 2
	cmake -S "$src" -B "$B/build/$name" -G "Unix Makefiles" \
		-DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_COMPILER="$CC" \
		-DCMAKE_C_FLAGS="$CFLAGS" \
		-DCMAKE_INSTALL_PREFIX="$OUT" \
		-DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_POSITION_INDEPENDENT_CODE="$PIC" \
		-DBUILD_SHARED_LIBS=OFF \
		-DBUILD_TESTING=OFF \
		"$@"
	cmake --build "$B/build/$name" -j "$JOBS"
	cmake --install "$B/build/$name"
}

# mbedtls_cfg NAME...: enable options in the mbedtls_config.h that gets installed.
mbedtls_cfg() {
	local h=$S/include/mbedtls/mbedtls_config.h o
	for o in "$@"; do
		sed -i -E "s|^//[[:space:]]*#define $o\b|#define $o|" "$h"
		grep -q "^#define $o\b" "$h" || die "mbedtls option $o not found"
	done
}

build_mbedtls() {
	S=$B/src/mbedtls
	unpack mbedtls "$S"
	# Drover's patches (mk/sysroot/patches/mbedtls, applied in name
	# order): the AES-NI GCM multiply byte-reverses in registers; with
	# AES-NI and PCLMULQDQ, GCM goes 4 blocks at a time with one GHASH
	# reduction per 64 bytes (checked by mk/sysroot/tests/gcm_oracle.c
	# against OpenSSL, timed by gcm_bench.c).
	apply_patches mbedtls "$S"
	# TLS 1.3 + 1.2, X.509, P-256, ALPN, SNI, net sockets are upstream
	# defaults (asserted here); threading and CMAC as Debian enables them.
	mbedtls_cfg MBEDTLS_SSL_PROTO_TLS1_3 MBEDTLS_SSL_PROTO_TLS1_2 \
		MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED \
		MBEDTLS_X509_CRT_PARSE_C MBEDTLS_ECP_DP_SECP256R1_ENABLED \
		MBEDTLS_SSL_ALPN MBEDTLS_SSL_SERVER_NAME_INDICATION \
		MBEDTLS_NET_C MBEDTLS_FS_IO MBEDTLS_SSL_SESSION_TICKETS \
		MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD MBEDTLS_CMAC_C
	cmake_build mbedtls "$S" \
		-DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DGEN_FILES=OFF \
		-DMBEDTLS_FATAL_WARNINGS=OFF \
		-DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON
}

# libwebsockets: H1 and WS roles over mbedTLS, no h2, IPv6 (the API may
# listen on "[ADDR6]:PORT"). droverd's API runs it on
# droverd's own poll loop through lws's custom event-library interface
# (agent/apiserver.c), which needs no LWS_WITH_EXTERNAL_POLL. Drover's patches
# (mk/sysroot/patches/libwebsockets): TLS 1.3 with mbedTLS 3.6, client
# certificates really required (the wrapper made them optional), 413 for
# headers over the limit, TLS records of 16 KiB and all of a write's
# records from one SSL_write(), requests pipelined behind a large answer
# kept until it is out (and its writeable callbacks while rx is paused).
build_libwebsockets() {
	local s=$B/src/libwebsockets kflags=
	unpack libwebsockets "$s"
	apply_patches libwebsockets "$s"
	# Its mbedTLS feature probes (CHECK_FUNCTION_EXISTS) link against
	# MBEDTLS_LIBRARY etc., which are only set by its own find_library.
	[ "$FLAVOUR" = musl ] && kflags="-idirafter $OUT/kernel-include"
	cmake_build libwebsockets "$s" \
		-DCMAKE_C_FLAGS="$CFLAGS $kflags" \
		-DDISABLE_WERROR=ON \
		-DLWS_WITH_SSL=ON -DLWS_WITH_MBEDTLS=ON \
		-DLWS_MBEDTLS_INCLUDE_DIRS="$OUT/include" \
		-DLWS_MBEDTLS_LIBRARIES="$OUT/lib/libmbedtls.a;$OUT/lib/libmbedx509.a;$OUT/lib/libmbedcrypto.a" \
		-DMBEDTLS_LIBRARY="$OUT/lib/libmbedtls.a" \
		-DMBEDX509_LIBRARY="$OUT/lib/libmbedx509.a" \
		-DMBEDCRYPTO_LIBRARY="$OUT/lib/libmbedcrypto.a" \
		-DLWS_WITH_STATIC=ON -DLWS_WITH_SHARED=OFF -DLWS_STATIC_PIC="$PIC" \
		-DLWS_ROLE_H1=ON -DLWS_ROLE_WS=ON -DLWS_WITH_HTTP2=OFF -DLWS_IPV6=ON \
		-DLWS_WITHOUT_CLIENT=OFF -DLWS_WITHOUT_SERVER=OFF \
		-DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITHOUT_TEST_SERVER=ON \
		-DLWS_WITHOUT_TEST_SERVER_EXTPOLL=ON -DLWS_WITHOUT_TEST_PING=ON \
		-DLWS_WITHOUT_TEST_CLIENT=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF \
		-DLWS_WITH_LIBUV=OFF -DLWS_WITH_LIBEV=OFF -DLWS_WITH_LIBEVENT=OFF \
		-DLWS_WITH_GLIB=OFF -DLWS_WITH_SDEVENT=OFF -DLWS_WITH_ULOOP=OFF \
		-DLWS_WITH_EVLIB_PLUGINS=OFF -DLWS_WITH_PLUGINS=OFF \
		-DLWS_WITH_ZLIB=OFF -DLWS_WITH_SQLITE3=OFF -DLWS_HAVE_LIBCAP=OFF \
		-DLWS_WITH_EXPORT_LWSTARGETS=OFF
}

build_zlib() {
	local s=$B/src/zlib
	unpack zlib "$s"
	(cd "$s" && CC=$CC CFLAGS="$CFLAGS" ./configure --static --prefix="$OUT" &&
		make -j"$JOBS" libz.a)
	install -m644 "$s/libz.a" "$OUT/lib/"
	install -m644 "$s/zlib.h" "$s/zconf.h" "$OUT/include/"
}

build_libyaml() {
	local s=$B/src/libyaml
	unpack libyaml "$s"
	cmake_build libyaml "$s" -DINSTALL_CMAKE_DIR=lib/cmake/yaml
}

build_jansson() {
	local s=$B/src/jansson
	unpack jansson "$s"
	cmake_build jansson "$s" \
		-DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
		-DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_COVERAGE=OFF
}

build_libfdt() {
	local s=$B/src/dtc
	unpack device-tree-compiler "$s"
	make -C "$s" -j"$JOBS" CC="$CC" CFLAGS="$CFLAGS" \
		NO_PYTHON=1 NO_YAML=1 NO_VALGRIND=1 libfdt/libfdt.a
	install -m644 "$s/libfdt/libfdt.a" "$OUT/lib/"
	install -m644 "$s/libfdt/fdt.h" "$s/libfdt/libfdt.h" "$s/libfdt/libfdt_env.h" "$OUT/include/"
}

# e2fsprogs: only lib/et (libcom_err) and lib/ext2fs, static, for
# drover-vmm's boot-from-disk (vmm/bootdisk.c). configure wants the private
# blkid and uuid libraries' makefiles, which are generated, not built.
build_e2fsprogs() {
	local s=$B/src/e2fsprogs b=$B/build/e2fsprogs
	unpack e2fsprogs "$s"
	mkdir -p "$b"
	(cd "$b" && CC=$CC CFLAGS="$CFLAGS" "$s/configure" --prefix="$OUT" \
		--disable-nls --disable-elf-shlibs --disable-bsd-shlibs \
		--disable-fuse2fs --disable-uuidd --disable-debugfs --disable-imager \
		--disable-resizer --disable-defrag --disable-fsck \
		--disable-e2initrd-helper)
	# ext2_err.h is generated first: the library's objects need it.
	make -C "$b/lib/et" libcom_err.a compile_et
	make -C "$b/lib/ext2fs" ext2_err.h
	make -C "$b/lib/ext2fs" -j"$JOBS" libext2fs.a
	install -m644 "$b/lib/libcom_err.a" "$b/lib/libext2fs.a" "$OUT/lib/"
	mkdir -p "$OUT/include/ext2fs" "$OUT/include/et"
	install -m644 "$s/lib/et/com_err.h" "$OUT/include/et/"
	install -m644 "$s/lib/ext2fs/ext2fs.h" "$s/lib/ext2fs/ext2_fs.h" \
		"$s/lib/ext2fs/ext2_io.h" "$s/lib/ext2fs/ext3_extents.h" \
		"$s/lib/ext2fs/bitops.h" "$s/lib/ext2fs/ext2_ext_attr.h" \
		"$s/lib/ext2fs/hashmap.h" "$b/lib/ext2fs/ext2_err.h" \
		"$b/lib/ext2fs/ext2_types.h" "$OUT/include/ext2fs/"
}

# kernel_headers: a private include dir with the Linux UAPI headers, for
# musl-gcc, which only sees musl's own headers.
kernel_headers() {
	local k=$OUT/kernel-include d
	mkdir -p "$k"
	for d in /usr/include/linux /usr/include/asm-generic /usr/include/video \
		/usr/include/x86_64-linux-gnu/asm; do
		[ -d "$d" ] || die "$d missing (linux-libc-dev)"
		ln -s "$d" "$k/${d##*/}"
	done
}

# ---------------------------------------------------------------- driver

# step NAME FUNCTION: run one build step quietly, output to the log.
step() {
	CURRENT=$1
	msg "$FLAVOUR: $1 $(version_of "$1" 2>/dev/null || true)"
	echo "=== $1" >>"$LOG"
	"$2" >>"$LOG" 2>&1
	CURRENT=
}

on_exit() {
	local rc=$?
	if [ "$rc" != 0 ] && [ -n "${LOG:-}" ] && [ -e "$LOG" ]; then
		printf '[%s] error: %s build failed for %s; last lines of %s:\n' \
			"${0##*/}" "$FLAVOUR" "${CURRENT:-setup}" "$LOG" >&2
		tail -n 30 "$LOG" >&2
	fi
}

write_libs_mk() {
	local libs
	case $FLAVOUR in
	musl) libs="-lwebsockets -lmbedtls -lmbedx509 -lmbedcrypto -lyaml -ljansson -lfdt -lz"
		# drover-vmm's alone (vmm/sources.mk links them): checked here
		for l in ext2fs com_err; do
			[ -e "$OUT/lib/lib$l.a" ] || die "missing $OUT/lib/lib$l.a"
		done ;;
	glibc) libs="-lwebsockets -lmbedtls -lmbedx509 -lmbedcrypto" ;;
	esac
	for l in $libs; do
		[ -e "$OUT/lib/lib${l#-l}.a" ] || die "missing $OUT/lib/lib${l#-l}.a"
	done
	printf 'SYSROOT_LIBS := %s\n' "$libs" >"$OUT/drover-libs.mk"
}

build_all() {
	local step_list
	case $FLAVOUR in
	musl)
		CC=musl-gcc PIC=OFF
		CFLAGS="-O2 -ffunction-sections -fdata-sections"
		step_list="mbedtls libwebsockets libyaml zlib jansson device-tree-compiler e2fsprogs"
		;;
	glibc)
		CC=gcc PIC=ON
		CFLAGS="-O2 -fPIC -ffunction-sections -fdata-sections"
		step_list="mbedtls libwebsockets"
		;;
	esac
	command -v "$CC" >/dev/null || die "$CC not found (run mk/deps.sh)"
	for t in cmake make dpkg-source flock patch; do
		command -v $t >/dev/null || die "$t not found (run mk/deps.sh)"
	done
	mkdir -p "$OUT/include" "$OUT/lib"
	: >"$OUT/VERSIONS"
	[ "$FLAVOUR" = musl ] && kernel_headers
	for p in $step_list; do
		case $p in
		device-tree-compiler) step "$p" build_libfdt ;;
		*) step "$p" "build_$p" ;;
		esac
	done
	# Only .a files and headers: drop pkg-config/CMake files (they name the
	# temporary build prefix) and anything else installed.
	rm -rf "$OUT/lib/pkgconfig" "$OUT/lib/cmake" "$OUT/share" "$OUT/bin"
	find "$OUT/lib" -name '*.so*' -delete
	write_libs_mk
	cp "$LOG" "$OUT/build.log"
}

# link_prefix: make PREFIX a symlink to the cache entry.
link_prefix() {
	mkdir -p "$(dirname "$PREFIX")"
	if [ -d "$PREFIX" ] && [ ! -L "$PREFIX" ]; then
		rmdir "$PREFIX" 2>/dev/null || die "$PREFIX is a directory, not a symlink; remove it"
	fi
	ln -sfn "$ENTRY" "$PREFIX"
}

main() {
	[ $# = 2 ] || usage
	FLAVOUR=$1 PREFIX=$2
	case $FLAVOUR in musl | glibc) ;; *) usage ;; esac
	VERSIONS=$(resolve_versions)
	local key
	key=$({
		echo "$FLAVOUR"
		echo "$VERSIONS"
		gcc -dumpfullversion
		cat "$SELF" "$PATCH_DIR"/*/*.patch 2>/dev/null || true
	} | sha256sum | cut -c1-16)
	ENTRY=$SYSROOT_CACHE/$FLAVOUR-$key
	if [ -e "$ENTRY/drover-libs.mk" ]; then
		link_prefix
		return
	fi
	mkdir -p "$SYSROOT_CACHE"
	exec 9>"$ENTRY.lock"
	flock 9
	if [ ! -e "$ENTRY/drover-libs.mk" ]; then
		msg "building $FLAVOUR sysroot in $ENTRY (log: $ENTRY.tmp/build.log)"
		B=$ENTRY.tmp
		rm -rf "$B"
		mkdir -p "$B/src" "$B/build"
		OUT=$B/out LOG=$B/build.log
		: >"$LOG"
		trap on_exit EXIT
		build_all
		# Paths inside OUT are relative or absolute system paths, so the
		# rename keeps it valid.
		mv -T "$OUT" "$ENTRY"
		rm -rf "$B"
		LOG=
		msg "$FLAVOUR sysroot done"
	fi
	link_prefix
}

main "$@"
exit
