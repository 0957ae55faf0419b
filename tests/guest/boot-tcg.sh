#!/usr/bin/env bash
# tests/guest/boot-tcg.sh [GUESTDIR]   (default build/guest)
#
# Boots GUESTDIR's vmlinuz + initramfs under QEMU TCG (this host's /dev/kvm
# is PVM and cannot boot a stock kernel) with a virtio NIC on QEMU user
# networking and a NoCloud ISO from boot/guest/mkcidata.sh; waits for
# '<hostname> login:', checks the console markers, the meta-data hostname
# and the '#!' user-data, then logs in as cirros/gocubsgo and checks sudo
# and the virtio_net module. TAP-style output ("ok - NAME"); exits 0 iff
# every check passed. Measurement: "# boot-to-login: N s".
#
# Environment: BOOT_TIMEOUT (s, default 300), KEEP_LOG=1 keeps the work dir,
# BOOT_DISK=1 also attaches GUESTDIR/disk.qcow2 (snapshot, as vda): the
# initramfs must find LABEL=cirros-rootfs, copy itself there and switch_root.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/mk/common.sh"

guest=${1:-$root/build/guest}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
HOST=tcgguest
FQDN=$HOST.drover.test
MARKER="drover-userdata-ran-$$"

work=$(mktemp -d /tmp/drover-boot-tcg.XXXXXX)
cleanup() { [ "${KEEP_LOG:-0}" = 1 ] && echo "# work dir kept: $work" || rm -rf "$work"; }
trap cleanup EXIT

BOOT_DISK=${BOOT_DISK:-0}
files="vmlinuz initramfs"
[ "$BOOT_DISK" = 0 ] || files="$files disk.qcow2"
for f in $files; do
	if [ ! -s "$guest/$f" ]; then
		echo "not ok - guest artifacts: $guest/$f missing (make guest)"
		exit 1
	fi
done
echo "ok - guest artifacts present in $guest"

cat > "$work/user-data" <<EOF
#!/bin/sh
echo "$MARKER host=\$(hostname)" > /dev/console
EOF
if "$root/boot/guest/mkcidata.sh" "$work/cidata.iso" "$FQDN" "$work/user-data" 2> "$work/mkcidata.err"; then
	echo "ok - NoCloud ISO made by boot/guest/mkcidata.sh"
else
	echo "not ok - NoCloud ISO made by boot/guest/mkcidata.sh: $(tail -n1 "$work/mkcidata.err")"
	exit 1
fi

# The expect-like driver: QEMU's serial console on stdio, read by a thread
# into a buffer and the serial log; checks are printed as they complete.
# exec: a test runner's SIGTERM reaches python, which stops QEMU and removes
# the work dir itself.
trap - EXIT
exec python3 - "$guest" "$work" "$HOST" "$MARKER" "$BOOT_TIMEOUT" "$BOOT_DISK" <<'PY'
import os, re, shutil, signal, subprocess, sys, threading, time

guest, work, host, marker, boot_timeout, boot_disk = sys.argv[1:7]
boot_disk = boot_disk != "0"
boot_timeout = float(boot_timeout)
log_path = os.path.join(work, "serial.log")
results = []


def check(name, ok, why=""):
    results.append(ok)
    print(("ok - " if ok else "not ok - ") + name + ("" if ok or not why else ": " + why), flush=True)
    return ok


cmd = ["qemu-system-x86_64", "-accel", "tcg", "-M", "q35", "-m", "256",
       "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio", "-monitor", "none",
       "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"]
if boot_disk:
    cmd += ["-drive", "file=%s/disk.qcow2,if=virtio,format=qcow2,snapshot=on" % guest]
cmd += ["-drive", "file=%s/cidata.iso,if=virtio,format=raw,readonly=on" % work,
       "-kernel", os.path.join(guest, "vmlinuz"), "-initrd", os.path.join(guest, "initramfs"),
       "-append", "console=ttyS0 panic=-1"]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below
t0 = time.monotonic()


def die_with_parent():
    # QEMU must not outlive this driver, however it ends (PR_SET_PDEATHSIG).
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        preexec_fn=die_with_parent)
buf = bytearray()
lock = threading.Condition()
log = open(log_path, "wb")


def reader():
    while True:
        data = os.read(proc.stdout.fileno(), 4096)
        with lock:
            if not data:
                lock.notify_all()
                return
            buf.extend(data)
            log.write(data)
            log.flush()
            lock.notify_all()


threading.Thread(target=reader, daemon=True).start()
pos = 0  # expect() searches from here on


def expect(pattern, timeout):
    """Wait for regex pattern (bytes) after pos; return the match or None."""
    global pos
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    with lock:
        while True:
            m = rx.search(buf, pos)
            if m:
                pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                return None
            lock.wait(min(left, 1.0))


def seen(pattern):
    with lock:
        return re.search(pattern, buf) is not None


def send(text):
    proc.stdin.write(text.encode())
    proc.stdin.flush()


def tail(n=60):
    with lock:
        lines = bytes(buf).decode("utf-8", "replace").splitlines()
    print("# --- last %d lines of the serial log ---" % n)
    for line in lines[-n:]:
        print("# | " + line)


try:
    m = expect(rb"[\r\n]([A-Za-z0-9.-]+) login: ", boot_timeout)
    elapsed = time.monotonic() - t0
    if check("login prompt within %d s" % boot_timeout, m is not None):
        print("# boot-to-login: %.0f s" % elapsed, flush=True)
        got = m.group(1).decode(errors="replace")
        check("hostname from meta-data in the login prompt", got == host,
              "prompt says %r, expected %r" % (got, host))
    check("initramfs banner 'info: initramfs: up at'", seen(rb"info: initramfs: up at [0-9.]+"))
    if boot_disk:
        check("initramfs found LABEL=cirros-rootfs and switched to it",
              seen(rb"info: initramfs loading root from /dev/vda1"))
    else:
        check("no root disk: 'initramfs did not find root, running as ramdisk'",
              seen(rb"info: initramfs did not find root, running as ramdisk"))
    check("console shows /etc/issue",
          seen(rb"login as 'cirros' user\. default password: 'gocubsgo'\. use 'sudo' for root\."))
    check("=== system information ===", seen(rb"=== system information ==="))
    check("=== network info ===", seen(rb"=== network info ==="))
    check("DHCP lease on eth0", seen(rb"if-info: eth0,up,10\.0\.2\.15,"))
    check("=== datasource: nocloud local ===", seen(rb"=== datasource: nocloud local ==="))
    check("=== cirros: current=... uptime=... ===", seen(rb"=== cirros: current=\S+ uptime=[0-9.]+ ==="))
    check("#! user-data ran (hostname already set)",
          seen(re.escape(("%s host=%s" % (marker, host)).encode())))
    if m is None:
        raise SystemExit(1)

    # Log in the way KubeVirt's CirrOS login does.
    send("cirros\n")
    ok = expect(rb"Password: ?", 60) is not None
    if ok:
        time.sleep(1)  # login flushes pending input after the prompt
        send("gocubsgo\n")
        ok = expect(rb"[\r\n]\$ ", 60) is not None
    check("login as cirros/gocubsgo gives the '$ ' prompt", ok)
    if ok:
        send('echo "R-UID=$(id -u)"\n')
        r = expect(rb"R-UID=(\d+)\r?\n", 60)
        check("shell runs as uid 1000", r is not None and r.group(1) == b"1000",
              "got %r" % (r and r.group(1)))
        send('echo "R-SUDO=$(sudo id -u)"\n')
        r = expect(rb"R-SUDO=(\d*)\r?\n", 60)
        check("passwordless 'sudo id -u' prints 0", r is not None and r.group(1) == b"0",
              "got %r" % (r and r.group(1)))
        send('echo "R-MOD=$(grep -c "^virtio_net " /proc/modules)"\n')
        r = expect(rb"R-MOD=(\d+)\r?\n", 60)
        check("virtio_net is a loaded module", r is not None and r.group(1) == b"1",
              "got %r" % (r and r.group(1)))
        send('echo "R-HOST=$(hostname)"\n')
        r = expect(rb"R-HOST=([A-Za-z0-9.-]+)\r?\n", 60)
        check("hostname is %s" % host, r is not None and r.group(1) == host.encode(),
              "got %r" % (r and r.group(1)))
finally:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    log.close()
    if not all(results):
        tail(60)
    print("# %d passed, %d failed" % (results.count(True), results.count(False)))
    if os.environ.get("KEEP_LOG", "0") == "1":
        print("# work dir kept: " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
sys.exit(0 if all(results) else 1)
PY
