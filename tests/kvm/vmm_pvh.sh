#!/usr/bin/env bash
# tests/kvm/vmm_pvh.sh (installed as build/asan/tests/kvm_vmm_pvh): the
# real drover-vmm binary boots tiny PVH payloads (tests/kvm/payloads) on
# this host's /dev/kvm, and a tiny bzImage through the Linux boot
# protocol's 64-bit and 32-bit entries: serial output, PIO and MMIO round
# trips, the e820
# map, SMP through INIT/SIPI, the boot timer, exit codes for reset, triple
# fault and SIGTERM, a console reader that never reads, virtio-blk on raw,
# a qcow2 overlay and a pinned 3-level backing chain (--disk and vm.json),
# and command-line and config errors. TAP lines; SKIPs the KVM part when /dev/kvm is not
# usable. DROVER_VMM overrides the binary.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vmm=${DROVER_VMM:-$here/../bin/drover-vmm}
payload=$here/payloads/pvh.elf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1${2:+: $2}"; failed=1; }
check() { # check NAME COND-COMMAND...
	local name=$1; shift
	if "$@"; then ok "$name"; else notok "$name" "$(tail -n 5 "$tmp/err" | tr '\n' '|')"; fi
}
# boot ARGS...: run the VMM; stdout in $tmp/out, stderr in $tmp/err, $rc.
boot() {
	timeout 60 "$vmm" --kernel "$payload" --mem 16Mi "$@" \
		< /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
has() { grep -q -- "$1" "$tmp/out"; }
log_has() { grep -q -- "$1" "$tmp/err"; }

# ---- usage errors: need no KVM ----------------------------------------------
usage() { # usage NAME EXPECTED-TEXT ARGS...
	local name=$1 want=$2; shift 2
	"$vmm" "$@" < /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
	check "usage: $name exits 2 naming the problem" \
		bash -c '[ "$0" = 2 ] && grep -q -- "$1" "$2"' "$rc" "$want" "$tmp/err"
}
usage "--disk needs a path" "--disk: path=FILE is required" --kernel "$payload" --disk ro
usage "--net needs tap or fd" "--net: give exactly one of tap=NAME and fd=N" --kernel "$payload" --net mac=52:54:00:12:34:56
usage "--net bad MAC" "is not a unicast address" --kernel "$payload" --net tap=t0,mac=01:02:03:04:05:06
usage "bad tcp console" "is not tcp:PORT" --kernel "$payload" --console tcp:host:99999
usage "bad --mem" "--mem: '12Q' is not a quantity" --kernel "$payload" --mem 12Q
usage "tiny --mem" "--mem: '1Mi' is out of range" --kernel "$payload" --mem 1Mi
usage "bad --cpus" "--cpus: 'two' is not a whole number" --kernel "$payload" --cpus two
usage "no --kernel" "--kernel: is required" --cpus 1
usage "unknown flag" "unrecognized option" --kernel "$payload" --bogus
printf '{"kernel": "%s", "mem": "16Mi", "cpus": "2"}' "$payload" > "$tmp/bad.json"
usage "config field type" "cpus: must be an integer" --config "$tmp/bad.json"
printf '{"kernel": "%s", "colour": "blue"}' "$payload" > "$tmp/bad2.json"
usage "config unknown field" "colour: unknown field" --config "$tmp/bad2.json"
usage "config with flags" "cannot be combined with --cpus" --config "$tmp/bad.json" --cpus 1
usage "--disk bad format" "--disk: format 'vmdk' is not raw or qcow2" --kernel "$payload" --disk path=x,format=vmdk
usage "--disk backing needs qcow2" "--disk: backing=FILE needs format=qcow2" --kernel "$payload" --disk path=x,backing=y,backing-format=raw
usage "--disk backing needs its format" "needs backing-format=raw|qcow2" --kernel "$payload" --disk path=x,format=qcow2,backing=y
usage "--disk bad backing-format" "--disk: backing-format 'vmdk' is not raw or qcow2" --kernel "$payload" --disk path=x,format=qcow2,backing=y,backing-format=vmdk
usage "--disk chain: a format per backing file" "--disk: backing file 2 (z) has no backing-format=raw|qcow2" --kernel "$payload" --disk path=x,format=qcow2,backing=y,backing-format=qcow2,backing=z
usage "--disk chain: only the base raw" "--disk: backing file 1 (y) is raw, but backing file 2 follows it" --kernel "$payload" --disk path=x,format=qcow2,backing=y,backing-format=raw,backing=z,backing-format=raw
usage "--disk chain: no loop" "--disk: backing file 2 (x) is the disk itself: a backing chain cannot loop" --kernel "$payload" --disk path=x,format=qcow2,backing=y,backing-format=qcow2,backing=x,backing-format=raw
printf '{"kernel": "%s", "disk": [{"path": "x", "format": "qcow2", "backing": [{"path": "y", "format": "qcow2"}, {"path": "z"}]}]}' "$payload" > "$tmp/bad4.json"
usage "config disk chain entry without a format" "disk\[0\]: backing\[1\]: format is required" --config "$tmp/bad4.json"
printf '{"kernel": "%s", "disk": [{"path": "x", "format": "qcow3"}]}' "$payload" > "$tmp/bad3.json"
usage "config disk format" "disk\[0\]: format 'qcow3' is not raw or qcow2" --config "$tmp/bad3.json"
usage "--initrd without --kernel" "--initrd: needs --kernel" --initrd x --disk path=x
head -c 4096 /dev/urandom > "$tmp/junk"
usage "junk kernel" "neither a bzImage nor an ELF" --kernel "$tmp/junk"

# ---- KVM ------------------------------------------------------------------------
if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "ok - kvm: PVH payloads # SKIP /dev/kvm is not usable here"
	exit $failed
fi
if [ ! -f "$payload" ]; then
	notok "kvm: payload built" "$payload missing"
	exit 1
fi

boot --cmdline "roundtrip e820 boottimer"
check "kvm: serial output from the guest" has "hello from pvh"
check "kvm: command line reaches the guest" has "cmdline: roundtrip e820 boottimer"
check "kvm: PIO round trip (UART scratch register)" has "pio roundtrip ok"
check "kvm: MMIO round trip (boot-timer device)" has "mmio roundtrip ok"
check "kvm: e820 map in hvm_start_info" \
	bash -c 'grep -q "^e820 0x0 0x9f000 0x1" "$0" && grep -q "^e820 0x100000 0xf00000 0x1" "$0"' "$tmp/out"
check "kvm: boot timer logs the time since start" log_has "boot-timer mark 123 (boot complete): .* ms since VMM start"
check "kvm: i8042 reset exits with status 3" test "$rc" = 3
boot --cmdline "boottimer" --exit-file "$tmp/exit"
check "kvm: --exit-file holds the exit status (3)" \
	bash -c '[ "$0" = 3 ] && [ "$(cat "$1")" = 3 ]' "$rc" "$tmp/exit"

rm -f "$tmp/console.log"
boot --cmdline logged --console-log "$tmp/console.log"
check "kvm: --console-log keeps a copy of the output" \
	bash -c 'grep -q "cmdline: logged" "$0" && grep -q "cmdline: logged" "$1"' "$tmp/out" "$tmp/console.log"
boot --cmdline quiet --console none --console-log "$tmp/console.log"
check "kvm: --console none with --console-log: the log only" \
	bash -c '! grep -q . "$0" && grep -q "cmdline: quiet" "$1"' "$tmp/out" "$tmp/console.log"

boot --cmdline pci --rng off
check "kvm: PCI configuration mechanism #1 answers" has "pci conf1 ok"
check "kvm: PCI 00:00.0 is the host bridge; 00:01.0 is absent (--rng off)" \
	bash -c 'grep -q "pci 00:00.0 0x12378086" "$0" && grep -q "pci 00:01.0 0xffffffff" "$0"' "$tmp/out"
boot --cmdline pci
check "kvm: virtio-rng is at 00:01.0 by default (1af4:1044)" has "pci 00:01.0 0x10441af4"

# ---- virtio-blk through PCI, a virtqueue, ioeventfd and an MSI-X irqfd ------
printf 'sector0-says-hello' > "$tmp/disk.raw"
truncate -s 1M "$tmp/disk.raw"
virtio_checks() { # virtio_checks WHO
	check "kvm: virtio-blk $1: found on PCI with its BAR in the MMIO window" \
		has "virtio-blk at slot 0x1 bar 0xe0000000"
	check "kvm: virtio-blk $1: the guest's write lands in the raw file" \
		bash -c 'dd if="$0" bs=512 skip=1 count=1 2>/dev/null | grep -q written-by-the-guest' "$tmp/disk.raw"
	check "kvm: virtio-blk $1: the guest reads sector 0 of the file" \
		has "virtio read status 0x0 data sector0-says-hello"
	check "kvm: virtio-blk $1: GET_ID returns the serial" \
		has "virtio id status 0x0 id drover-disk-1"
	check "kvm: virtio-blk $1: every request raised its MSI-X vector (3)" \
		has "virtio interrupts 0x3"
	check "kvm: virtio-blk $1: the guest then resets (status 3)" test "$rc" = 3
}
boot --cmdline virtio --disk path="$tmp/disk.raw",serial=drover-disk-1
virtio_checks "under seccomp"
if [ "$(id -u)" = 0 ]; then
	printf 'sector0-says-hello' | dd of="$tmp/disk.raw" conv=notrunc status=none
	dd if=/dev/zero of="$tmp/disk.raw" bs=512 seek=1 count=1 conv=notrunc status=none
	chmod 0666 "$tmp/disk.raw"
	boot --user 65534:65534 --cmdline virtio --disk path="$tmp/disk.raw",serial=drover-disk-1
	virtio_checks "after --user 65534:65534"
fi
boot --cmdline virtio --disk path="$tmp/disk.raw",ro,serial=drover-disk-1
check "kvm: virtio-blk read-only: the write is refused (VIRTIO_BLK_S_IOERR)" \
	has "virtio write status 0x1"
check "kvm: virtio-blk read-only: reads still work" \
	has "virtio read status 0x0 data sector0-says-hello"

# The same payload on a qcow2 overlay over the raw file (backing pinned):
# the write goes to the overlay, qemu-img finds it clean, the base is as
# it was; an overlay without its backing in the config is refused.
if command -v qemu-img > /dev/null; then
	printf 'sector0-says-hello' > "$tmp/base.raw"
	truncate -s 1M "$tmp/base.raw"
	cp "$tmp/base.raw" "$tmp/base.orig"
	qemu-img create -q -f qcow2 -F raw -b "$tmp/base.raw" "$tmp/ov.qcow2"
	boot --cmdline virtio --disk path="$tmp/ov.qcow2",format=qcow2,backing="$tmp/base.raw",backing-format=raw,serial=drover-disk-1
	check "kvm: virtio-blk qcow2 overlay: the guest reads the base through it" \
		has "virtio read status 0x0 data sector0-says-hello"
	check "kvm: virtio-blk qcow2 overlay: the write succeeds, the guest resets (status 3)" \
		bash -c 'grep -q "virtio write status 0x0" "$0" && [ "$1" = 3 ]' "$tmp/out" "$rc"
	qemu-img convert -f qcow2 -O raw "$tmp/ov.qcow2" "$tmp/ov.raw"
	check "kvm: virtio-blk qcow2 overlay: the guest's write is in the overlay" \
		bash -c 'dd if="$0" bs=512 skip=1 count=1 2>/dev/null | grep -q written-by-the-guest' "$tmp/ov.raw"
	check "kvm: virtio-blk qcow2 overlay: qemu-img check is clean" \
		qemu-img check -q "$tmp/ov.qcow2"
	check "kvm: virtio-blk qcow2 overlay: the base file is unchanged" \
		cmp -s "$tmp/base.raw" "$tmp/base.orig"
	boot --cmdline virtio --disk path="$tmp/ov.qcow2",format=qcow2
	check "kvm: a qcow2 overlay without backing= in the config is refused (status 1)" \
		bash -c '[ "$0" = 1 ] && grep -q "backing files must be given in the VM config" "$1"' "$rc" "$tmp/err"
	boot --cmdline virtio --disk path="$tmp/ov.qcow2",format=raw,ro
	check "kvm: format=raw on a qcow2 file is served as raw bytes (never probed)" \
		bash -c 'grep -q "virtio read status 0x0 data QFI" "$0"' "$tmp/out"

	# A pinned chain base.raw <- mid.qcow2 (its own sector 0) <- top.qcow2,
	# from the command line and from vm.json: the guest reads the middle's
	# sector 0 through the top, its write lands in the top only.
	printf 'sector0-from-the-mid' > "$tmp/sec0"
	truncate -s 512 "$tmp/sec0"
	qemu-img create -q -f qcow2 -F raw -b "$tmp/base.raw" "$tmp/mid.qcow2"
	qemu-io -c "write -s $tmp/sec0 0 512" "$tmp/mid.qcow2" > /dev/null
	qemu-img convert -O raw "$tmp/mid.qcow2" "$tmp/mid.raw"
	sums=$(sha256sum "$tmp/mid.qcow2" "$tmp/base.raw")
	chain_checks() { # chain_checks HOW TOP
		qemu-img convert -O raw "$2" "$tmp/top.raw"
		cp "$tmp/mid.raw" "$tmp/want.raw"
		dd if="$tmp/top.raw" of="$tmp/want.raw" bs=512 skip=1 seek=1 count=1 conv=notrunc status=none
		check "kvm: 3-level chain ($1): the guest reads the middle's sector 0 through the top" \
			has "virtio read status 0x0 data sector0-from-the-mid"
		check "kvm: 3-level chain ($1): the write succeeds, the guest resets (status 3)" \
			bash -c 'grep -q "virtio write status 0x0" "$0" && [ "$1" = 3 ]' "$tmp/out" "$rc"
		check "kvm: 3-level chain ($1): the guest's write is in the top" \
			bash -c 'dd if="$0" bs=512 skip=1 count=1 2>/dev/null | grep -q written-by-the-guest' "$tmp/top.raw"
		check "kvm: 3-level chain ($1): qemu-img check is clean" qemu-img check -q "$2"
		check "kvm: 3-level chain ($1): qemu-img compare: the middle plus the guest's sector" \
			qemu-img compare -q -f qcow2 -F raw "$2" "$tmp/want.raw"
		check "kvm: 3-level chain ($1): the middle and the base are unchanged (sha256)" \
			test "$sums" = "$(sha256sum "$tmp/mid.qcow2" "$tmp/base.raw")"
	}
	qemu-img create -q -f qcow2 -F qcow2 -b "$tmp/mid.qcow2" "$tmp/top.qcow2"
	boot --cmdline virtio --disk path="$tmp/top.qcow2",format=qcow2,serial=drover-disk-1,backing="$tmp/mid.qcow2",backing-format=qcow2,backing="$tmp/base.raw",backing-format=raw
	chain_checks "--disk" "$tmp/top.qcow2"
	check "kvm: 3-level chain: the log names each backing file" \
		bash -c 'grep -q "backing file 1: $0/mid.qcow2 (qcow2)" "$1" && grep -q "backing file 2: $0/base.raw (raw)" "$1"' "$tmp" "$tmp/err"
	qemu-img create -q -f qcow2 -F qcow2 -b "$tmp/mid.qcow2" "$tmp/top2.qcow2"
	printf '{"kernel": "%s", "mem": "16Mi", "cmdline": "virtio", "disk": [{"path": "%s", "format": "qcow2", "serial": "drover-disk-1", "backing": [{"path": "%s", "format": "qcow2"}, {"path": "%s", "format": "raw"}]}]}' \
		"$payload" "$tmp/top2.qcow2" "$tmp/mid.qcow2" "$tmp/base.raw" > "$tmp/chain.json"
	timeout 60 "$vmm" --config "$tmp/chain.json" < /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
	chain_checks "vm.json" "$tmp/top2.qcow2"
	boot --cmdline virtio --disk path="$tmp/top.qcow2",format=qcow2,backing="$tmp/mid.qcow2",backing-format=qcow2
	check "kvm: 3-level chain pinned one level short: refused (status 1)" \
		bash -c '[ "$0" = 1 ] && grep -q "mid.qcow2: qcow2 with a backing file" "$1"' "$rc" "$tmp/err"
	ln -s "$tmp/top.qcow2" "$tmp/top-link.qcow2"
	boot --cmdline virtio --disk path="$tmp/top.qcow2",format=qcow2,backing="$tmp/top-link.qcow2",backing-format=qcow2,backing="$tmp/mid.qcow2",backing-format=qcow2,backing="$tmp/base.raw",backing-format=raw
	check "kvm: a chain looping back to the disk through a symlink: refused (status 1)" \
		bash -c '[ "$0" = 1 ] && grep -q "is the image itself: a backing chain cannot loop" "$1"' "$rc" "$tmp/err"
else
	echo "ok - kvm: virtio-blk qcow2 overlay # SKIP no qemu-img"
fi

# No --kernel: the payload as the kernel a compressed qcow2 disk's
# grub.cfg names, its command line with console=ttyS0 added.
if command -v mkfs.ext4 > /dev/null && command -v qemu-img > /dev/null; then
	mkdir -p "$tmp/bt/boot/grub"
	cp "$payload" "$tmp/bt/boot/vmlinuz"
	printf 'set default=0\nmenuentry "payload" {\n\tsearch --set=root x\n\tlinux ($root)/boot/vmlinuz roundtrip from-disk\n}\n' \
		> "$tmp/bt/boot/grub/grub.cfg"
	mkfs.ext4 -q -F -d "$tmp/bt" "$tmp/boot.raw" 8M
	qemu-img convert -q -f raw -O qcow2 -c "$tmp/boot.raw" "$tmp/boot.qcow2"
	timeout 60 "$vmm" --mem 16Mi --disk path="$tmp/boot.qcow2",format=qcow2,ro \
		< /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
	check "kvm: no --kernel: the kernel and command line from the disk's grub.cfg (console=ttyS0 added)" \
		bash -c 'grep -q "cmdline: roundtrip from-disk console=ttyS0" "$0" && [ "$1" = 3 ]' "$tmp/out" "$rc"
	check "kvm: no --kernel: the log names the boot files" \
		log_has "boot disk .*boot.qcow2: partition 0, /boot/grub/grub.cfg: kernel /boot/vmlinuz"
	# Through a pinned chain boot.qcow2 <- bmid.qcow2 (another file system
	# written over all of it) <- btop.qcow2: the boot files are the middle's.
	sed -i 's/from-disk/from-the-mid/' "$tmp/bt/boot/grub/grub.cfg"
	mkfs.ext4 -q -F -d "$tmp/bt" "$tmp/boot2.raw" 8M
	qemu-img create -q -f qcow2 -F qcow2 -b "$tmp/boot.qcow2" "$tmp/bmid.qcow2"
	qemu-io -c "write -s $tmp/boot2.raw 0 8M" "$tmp/bmid.qcow2" > /dev/null
	qemu-img create -q -f qcow2 -F qcow2 -b "$tmp/bmid.qcow2" "$tmp/btop.qcow2"
	timeout 60 "$vmm" --mem 16Mi --disk path="$tmp/btop.qcow2",format=qcow2,backing="$tmp/bmid.qcow2",backing-format=qcow2,backing="$tmp/boot.qcow2",backing-format=qcow2 \
		< /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
	check "kvm: no --kernel: boots from a 3-level chain, the middle's files read through the top" \
		bash -c 'grep -q "cmdline: roundtrip from-the-mid console=ttyS0" "$0" && [ "$1" = 3 ]' "$tmp/out" "$rc"
	timeout 60 "$vmm" --mem 16Mi --disk path="$tmp/disk.raw" < /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
	check "kvm: no --kernel and no bootable disk: exit 2 naming the disk" \
		bash -c '[ "$0" = 2 ] && grep -q "booting from disk .*disk.raw: " "$1"' "$rc" "$tmp/err"
else
	echo "ok - kvm: no --kernel, boot from a disk # SKIP no mkfs.ext4 or qemu-img"
fi

ncpu=2
max=$(getconf _NPROCESSORS_ONLN)
boot --cpus $ncpu --cmdline smp
check "kvm: MP table lists $ncpu CPUs" has "mptable cpus 0x2"
check "kvm: SMP: every vCPU runs (INIT/SIPI, APIC IDs 0-1)" has "smp apic mask 0x3 all cpus ran"
check "kvm: SMP guest resets with status 3" test "$rc" = 3
echo "# host CPUs: $max"

for bits in 64 32; do
	img=$here/payloads/bzImage; [ $bits = 32 ] && img=$here/payloads/bzImage32
	timeout 60 "$vmm" --kernel "$img" --mem 32Mi --cmdline "console=ttyS0 bz$bits" \
		< /dev/null > "$tmp/out" 2> "$tmp/err"
	rc=$?
	check "kvm: bzImage boots through the $bits-bit entry with its command line" \
		bash -c 'grep -q "bzimage $0-bit entry, cmdline: console=ttyS0 bz$0" "$1" && [ "$2" = 3 ]' \
		"$bits" "$tmp/out" "$rc"
done

printf '{"kernel": "%s", "mem": "16Mi", "cpus": 1, "cmdline": "from-json", "console": "stdio"}' \
	"$payload" > "$tmp/vm.json"
timeout 60 "$vmm" --config "$tmp/vm.json" < /dev/null > "$tmp/out" 2> "$tmp/err"
rc=$?
check "kvm: --config vm.json boots" bash -c 'grep -q "cmdline: from-json" "$0" && [ "$1" = 3 ]' "$tmp/out" "$rc"

boot --cmdline triple
# Under PVM a triple fault can come back as an emulation failure (4);
# with hardware KVM it is KVM_EXIT_SHUTDOWN, reported as a reset (3).
check "kvm: triple fault ends the VM (status 3 or 4, got $rc)" \
	bash -c '[ "$0" = 3 ] || [ "$0" = 4 ]' "$rc"

# bg ARGS...: start the VMM in the background; wait for WAIT_FOR in its output.
bg() {
	local want=$1; shift
	# Not under timeout(1): it would pass our SIGTERM on twice (to the
	# child and to its process group), and two signals mean "stop now".
	"$vmm" --kernel "$payload" --mem 16Mi "$@" \
		< /dev/null > "$tmp/out" 2> "$tmp/err" &
	pid=$!
	# Up to 30 s: an ASan VMM on a loaded 2-CPU host has taken over 10 s.
	for _ in $(seq 600); do grep -q "$want" "$tmp/out" 2>/dev/null && break; sleep 0.05; done
}
bg "waiting for ctrl-alt-del" --cmdline ctrlaltdel
kill -TERM $pid
wait $pid
rc=$?
check "kvm: SIGTERM presses Ctrl+Alt+Del; the guest sees it" has "ctrl-alt-del received"
check "kvm: a guest that resets after SIGTERM exits with status 0 (got $rc)" test "$rc" = 0

# The HPA tests' CPU load (payloads/load.c): idle (hlt) until 'l' on the
# console, busy until 'k', 'q' ends; woken by COM1's and the keyboard's
# IRQs through the PIC. SIGTERM's Ctrl+Alt+Del ends it too (the runtime's
# graceful stop of tests/agent/hpa-kubectl.sh's VMIs).
{ sleep 1; printf l; sleep 1; printf k; sleep 0.5; printf q; sleep 3; } |
	timeout 60 "$vmm" --kernel "$payload" --mem 16Mi --cmdline load \
	--console stdio > "$tmp/out" 2> "$tmp/err"
rc=$?
check "kvm: load test: busy after 'l', idle after 'k', ends after 'q' (status 3, got $rc)" \
	bash -c '[ "$(grep "^load:" "$0" | tr "\n" " ")" = "load: idle load: busy load: idle load: done " ] &&
	[ "$1" = 3 ]' "$tmp/out" "$rc"
bg "load: idle" --cmdline load
kill -TERM $pid
wait $pid
rc=$?
check "kvm: load test: SIGTERM's Ctrl+Alt+Del ends it (status 0, got $rc)" \
	bash -c 'grep -q "^load: done" "$0" && [ "$1" = 0 ]' "$tmp/out" "$rc"

bg bye --cmdline spin --stop-timeout 1
t0=$(date +%s%N)
kill -TERM $pid
wait $pid
rc=$?
t1=$(date +%s%N)
check "kvm: a guest ignoring SIGTERM is stopped after --stop-timeout with status 5 ($(( (t1 - t0) / 1000000 )) ms)" \
	bash -c '[ "$0" = 5 ] && [ "$1" -ge 900 ]' "$rc" "$(( (t1 - t0) / 1000000 ))"

bg bye --cmdline spin
kill -TERM $pid; sleep 0.2; kill -TERM $pid
wait $pid
rc=$?
check "kvm: a second SIGTERM stops the VM at once with status 5" test "$rc" = 5

# Bytes the guest writes to THR without any exit after them (KVM's
# coalesced ring, vmm/coalesced.c) reach the console while it halts.
bg "quiet: queued" --cmdline quiet
check "kvm: UART bytes with no exit after them still reach the console (guest halted)" \
	bash -c 'grep -q "quiet: queued" "$0" && kill -0 "$1"' "$tmp/out" "$pid"
kill -TERM $pid; sleep 0.2; kill -TERM $pid
wait $pid

# A console reader that never reads: the FIFO fills, the guest goes on.
mkfifo "$tmp/fifo"
exec 3<> "$tmp/fifo"		# held open, never read
t0=$(date +%s%N)
timeout 60 "$vmm" --kernel "$payload" --mem 16Mi --cmdline flood \
	< /dev/null > "$tmp/fifo" 2> "$tmp/err"
rc=$?
t1=$(date +%s%N)
exec 3>&-
check "kvm: a console reader that never reads does not stall the guest ($(( (t1 - t0) / 1000000 )) ms)" \
	bash -c '[ "$0" = 3 ] && grep -q "VM stopping: i8042 reset" "$1"' "$rc" "$tmp/err"

# The sandbox: a forbidden system call kills the VMM (SIGSYS), not us.
DROVER_VMM_TEST_SECCOMP=1 "$vmm" --kernel "$payload" --mem 16Mi \
	< /dev/null > "$tmp/out" 2> "$tmp/err"
rc=$?
check "kvm: seccomp: a forbidden system call kills the VMM with SIGSYS (status $rc)" \
	test "$rc" = $((128 + 31))
DROVER_VMM_TEST_SECCOMP=1 "$vmm" --kernel "$payload" --mem 16Mi --seccomp off \
	< /dev/null > "$tmp/out" 2> "$tmp/err"
rc=$?
check "kvm: --seccomp off: the same call is harmless (status $rc)" test "$rc" = 3
DROVER_VMM_TEST_SECCOMP=exec "$vmm" --kernel "$payload" --mem 16Mi \
	< /dev/null > "$tmp/out" 2> "$tmp/err"
rc=$?
check "kvm: seccomp: mprotect(PROT_EXEC) kills the VMM with SIGSYS (status $rc)" \
	test "$rc" = $((128 + 31))
if [ "$(id -u)" = 0 ]; then
	boot --user 65534:65534 --cmdline roundtrip
	check "kvm: --user 65534:65534: the guest runs after the uid drop" \
		bash -c 'grep -q "pio roundtrip ok" "$0" && [ "$1" = 3 ]' "$tmp/out" "$rc"
else
	echo "ok - kvm: --user # SKIP not root"
fi

# The reaper (vmm/reaper.c): a child holding only the VM's file (and its
# pipe), named vmm-reaper, confined like the VMM; it ends after the VMM.
reaper_user=()
[ "$(id -u)" = 0 ] && reaper_user=(--user 65534:65534)
bg bye --cmdline spin "${reaper_user[@]}"
# The VMM's only child; bg may return before it forked on a loaded host.
for _ in $(seq 200); do rp=$(pgrep -P "$pid" | head -n 1); [ -n "$rp" ] && break; sleep 0.05; done
rfds=$(ls -l "/proc/$rp/fd" 2> /dev/null | awk 'NR > 1 { print $NF }' | sort | tr '\n' ' ')
check "kvm: reaper: a child named vmm-reaper holds only the VM and its pipe ($rfds)" \
	bash -c '[ "$(cat /proc/$0/comm)" = vmm-reaper ] &&
		[ "$(tr "\0" " " < /proc/$0/cmdline | tr -s " ")" = "vmm-reaper " ] &&
		[[ $1 == "anon_inode:kvm-vm pipe:"* ]] && [ "$(wc -w <<< "$1")" = 2 ]' "$rp" "$rfds"
check "kvm: reaper: seccomp filter on${reaper_user:+, uid 65534}" \
	bash -c 'grep -qE "^Seccomp:\s+2" /proc/$0/status &&
		{ [ -z "$1" ] || grep -qE "^Uid:\s+65534\s+65534" /proc/$0/status; }' "$rp" "${reaper_user[*]}"
check "kvm: reaper: pgrep -f finds the VMM only" \
	bash -c '[ "$(pgrep -f "^$0 --kernel $1 --mem 16Mi --cmdline spin")" = "$2" ]' "$vmm" "$payload" "$pid"
kill -TERM "$pid"; kill -TERM "$pid"
wait "$pid"
rc=$?
for _ in $(seq 100); do [ -d "/proc/$rp" ] && [ "$(awk '/^State/ { print $2 }' "/proc/$rp/status" 2> /dev/null)" != Z ] || break; sleep 0.02; done
check "kvm: reaper: gone (or a zombie) within 2 s of the VMM's exit (status $rc)" \
	bash -c '! [ -d /proc/$0 ] || [ "$(awk "/^State/ { print \$2 }" /proc/$0/status)" = Z ]' "$rp"
bg bye --cmdline spin
rp=$(pgrep -P "$pid" | head -n 1)
kill -KILL "$pid"
wait "$pid" 2> /dev/null
for _ in $(seq 100); do [ -d "/proc/$rp" ] && [ "$(awk '/^State/ { print $2 }' "/proc/$rp/status" 2> /dev/null)" != Z ] || break; sleep 0.02; done
check "kvm: reaper: gone within 2 s of a SIGKILL of the VMM" \
	bash -c '! [ -d /proc/$0 ] || [ "$(awk "/^State/ { print \$2 }" /proc/$0/status)" = Z ]' "$rp"

# Start-to-exit wall time of the trivial payload, median of 20 runs.
times=()
for _ in $(seq 20); do
	a=$(date +%s%N)
	"$vmm" --kernel "$payload" --mem 16Mi < /dev/null > /dev/null 2>&1
	b=$(date +%s%N)
	times+=($(( (b - a) / 1000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 10p)
echo "# trivial PVH payload start-to-exit: median ${median} us of 20 runs ($vmm)"
if [ -x /usr/bin/time ]; then
	rss=$(/usr/bin/time -f %M "$vmm" --kernel "$payload" --mem 16Mi \
		< /dev/null 2>&1 > /dev/null | tail -n 1)
	echo "# trivial PVH payload peak RSS: ${rss} KiB ($vmm)"
fi
exit $failed
