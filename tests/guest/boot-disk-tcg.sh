#!/usr/bin/env bash
# tests/guest/boot-disk-tcg.sh [GUESTDIR]: boot-tcg.sh with GUESTDIR/disk.qcow2
# attached: the initramfs finds the blank cirros-rootfs partition, copies
# itself onto it and runs from the disk (CirrOS's first boot of disk.img).
BOOT_DISK=1 exec "$(dirname "$0")/boot-tcg.sh" "$@"
