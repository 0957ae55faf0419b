# drover-vmm: one line per object. Included by the top-level Makefile,
# which defines $(O), $(BIN), $(TEST_BIN), $(LIB_OBJ), objs(), CC/CFLAGS.
VMM_SRC += vmm/main.c
VMM_SRC += vmm/config.c
VMM_SRC += vmm/config_dev.c
VMM_SRC += vmm/vmm.c
VMM_SRC += vmm/kvm.c
VMM_SRC += vmm/reaper.c
VMM_SRC += vmm/cpuid.c
VMM_SRC += vmm/vcpu.c
VMM_SRC += vmm/bus.c
VMM_SRC += vmm/coalesced.c
VMM_SRC += vmm/console.c
VMM_SRC += vmm/control.c
VMM_SRC += vmm/sandbox.c
VMM_SRC += vmm/uart8250.c
VMM_SRC += vmm/i8042.c
VMM_SRC += vmm/rtc.c
VMM_SRC += vmm/boottimer.c
VMM_SRC += vmm/pci.c
VMM_SRC += vmm/virtq.c
VMM_SRC += vmm/virtio.c
VMM_SRC += vmm/virtio_pci.c
VMM_SRC += vmm/virtio_table.c
VMM_SRC += vmm/virtio_blk.c
VMM_SRC += vmm/virtio_net.c
VMM_SRC += vmm/virtio_rng.c
VMM_SRC += vmm/blk_raw.c
VMM_SRC += vmm/net_tap.c
VMM_SRC += vmm/devices.c
VMM_SRC += vmm/part.c
VMM_SRC += vmm/grubcfg.c
VMM_SRC += vmm/bootdisk.c
VMM_SRC += vmm/bootdisk_sandbox.c
VMM_SRC += boot/boot.c
VMM_SRC += boot/e820.c
VMM_SRC += boot/mptable.c
VMM_SRC += boot/pvh.c
VMM_SRC += boot/bzimage.c
VMM_SRC += common/libver_vmm.c

# Booting from a disk alone reads ext2/3/4 with libext2fs (e2fsprogs):
# Debian's libext2fs-dev for glibc, mk/sysroot.sh's static build for musl.
VMM_EXT2FS_LIBS := -lext2fs -lcom_err
$(BIN)/drover-vmm: LIBS := $(VMM_EXT2FS_LIBS) $(LIBS)

# Tests owned by the VMM: names of programs built from tests/kvm/NAME.c
# (KVM_TESTS += kvm_NAME) or tests/unit/NAME.c (UNIT_TESTS += unit_NAME),
# libFuzzer targets (FUZZ_TARGETS += fuzz_NAME, with a rule building
# $(BUILD)/fuzz/fuzz_NAME), and other files the tests need (TEST_EXTRA).

# The config parser (the agent's unit test reads its vm.json back with it).
VMM_CONFIG_SRC := vmm/config.c vmm/config_dev.c
# The boot loaders and device models the unit tests and fuzzers link.
VMM_BOOT_SRC := boot/boot.c boot/e820.c boot/mptable.c boot/pvh.c boot/bzimage.c
VMM_DEV_SRC := vmm/uart8250.c vmm/i8042.c vmm/rtc.c vmm/boottimer.c vmm/console.c vmm/pci.c

# ---- unit tests (cmocka, no KVM) ---------------------------------------------
UNIT_TESTS += unit_vmm_boot unit_vmm_devices unit_vmm_config
$(TEST_BIN)/unit_vmm_boot: $(call objs,$(VMM_BOOT_SRC))
$(TEST_BIN)/unit_vmm_devices: $(call objs,$(VMM_DEV_SRC))
$(TEST_BIN)/unit_vmm_config: $(call objs,$(VMM_CONFIG_SRC) $(VMM_DEV_SRC))
UNIT_TESTS += unit_vmm_virtq
$(TEST_BIN)/unit_vmm_virtq: $(call objs,vmm/virtq.c)
UNIT_TESTS += unit_vmm_virtio
$(TEST_BIN)/unit_vmm_virtio: $(call objs,vmm/virtio.c vmm/virtq.c)
UNIT_TESTS += unit_vmm_virtio_pci
$(TEST_BIN)/unit_vmm_virtio_pci: $(call objs,vmm/virtio_pci.c vmm/virtio.c vmm/virtq.c vmm/pci.c)
# The front ends, driven by a simulated driver (tests/unit/vdrv.c).
VMM_VIRTIO_SIM := vmm/virtio.c vmm/virtq.c tests/unit/vdrv.c
UNIT_TESTS += unit_vmm_virtio_blk unit_vmm_virtio_net unit_vmm_virtio_rng
$(TEST_BIN)/unit_vmm_virtio_blk: $(call objs,$(VMM_VIRTIO_SIM) vmm/virtio_blk.c vmm/blk_raw.c)
$(TEST_BIN)/unit_vmm_virtio_net: $(call objs,$(VMM_VIRTIO_SIM) vmm/virtio_net.c vmm/net_tap.c)
$(TEST_BIN)/unit_vmm_virtio_rng: $(call objs,$(VMM_VIRTIO_SIM) vmm/virtio_rng.c)

# ---- KVM tests: tiny PVH payloads booted by the real drover-vmm ---------------
# The payload: freestanding 32-bit code with the PVH ELF note, linked at
# 1 MiB. Built with the host gcc (-m32 needs no 32-bit libc: -nostdlib).
PAYLOAD_DIR := tests/kvm/payloads
PAYLOAD_FLAGS := -m32 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -nostdlib -static -no-pie \
	-Wall -Wextra -Werror -Wl,-T,$(PAYLOAD_DIR)/payload.ld \
	-Wl,--build-id=none -Wl,--no-warn-rwx-segments
$(TEST_BIN)/payloads/pvh.elf: $(PAYLOAD_DIR)/entry.S $(PAYLOAD_DIR)/payload.c \
		$(PAYLOAD_DIR)/virtio.c $(PAYLOAD_DIR)/load.c $(PAYLOAD_DIR)/io.h \
		$(PAYLOAD_DIR)/payload.ld
	@mkdir -p $(dir $@)
	@echo "  PAYLOAD $@"
	$(Q)gcc $(PAYLOAD_FLAGS) -o $@ $(PAYLOAD_DIR)/entry.S \
		$(PAYLOAD_DIR)/payload.c $(PAYLOAD_DIR)/virtio.c $(PAYLOAD_DIR)/load.c

# A tiny bzImage (setup header + 32-bit and 64-bit entries), linked flat;
# bzImage32 is the same with xloadflags cleared, for the 32-bit entry.
$(TEST_BIN)/payloads/bzImage: $(PAYLOAD_DIR)/bzimage.S
	@mkdir -p $(dir $@)
	@echo "  PAYLOAD $@"
	$(Q)gcc -c -o $@.o $<
	$(Q)objcopy -O binary -j .text $@.o $@
	$(Q)rm -f $@.o

$(TEST_BIN)/payloads/bzImage32: $(TEST_BIN)/payloads/bzImage
	$(Q)cp $< $@
	$(Q)printf '\000' | dd of=$@ bs=1 seek=566 conv=notrunc status=none

# A shell-driven TAP test: runs $(BIN)/drover-vmm on the payloads.
$(TEST_BIN)/kvm_vmm_pvh: tests/kvm/vmm_pvh.sh
	@mkdir -p $(dir $@)
	$(Q)install -m 0755 $< $@
TEST_EXTRA += $(TEST_BIN)/payloads/pvh.elf $(TEST_BIN)/kvm_vmm_pvh
TEST_EXTRA += $(TEST_BIN)/payloads/bzImage $(TEST_BIN)/payloads/bzImage32

# ---- libFuzzer targets ------------------------------------------------------------
FUZZ_TARGETS += fuzz_boot_pvh fuzz_boot_bzimage fuzz_vmm_config fuzz_vmm_pci
$(BUILD)/fuzz/fuzz_boot_pvh: tests/fuzz/fuzz_boot_pvh.c $(VMM_BOOT_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

$(BUILD)/fuzz/fuzz_boot_bzimage: tests/fuzz/fuzz_boot_bzimage.c $(VMM_BOOT_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

$(BUILD)/fuzz/fuzz_vmm_pci: tests/fuzz/fuzz_vmm_pci.c vmm/pci.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

FUZZ_TARGETS += fuzz_virtq fuzz_virtio_pci
$(BUILD)/fuzz/fuzz_virtq: tests/fuzz/fuzz_virtq.c vmm/virtq.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

$(BUILD)/fuzz/fuzz_virtio_pci: tests/fuzz/fuzz_virtio_pci.c vmm/virtio_pci.c \
		vmm/virtio.c vmm/virtq.c vmm/pci.c common/log.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

$(BUILD)/fuzz/fuzz_vmm_config: tests/fuzz/fuzz_vmm_config.c $(VMM_CONFIG_SRC) \
		vmm/console.c common/log.c config/quantity.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -ljansson

# The control socket, driven by a C client against the real binary.
KVM_TESTS += kvm_vmm_control
KVM_TESTS += kvm_vmm_console

# ---- qcow2 back end (vmm/blk_qcow2*.c) ------------------------------------------
# Unit test (its own image checker and crash replay: the wraps record the
# back end's writes), qemu-img interop (tests/qcow2: qcow2tool and a TAP
# script run in the unit stage), and a fuzz target for headers and tables.
QCOW2_SRC := vmm/blk_qcow2.c vmm/blk_qcow2_read.c vmm/blk_qcow2_write.c \
	vmm/blk_qcow2_create.c vmm/blk_raw.c
VMM_SRC += $(filter-out vmm/blk_raw.c,$(QCOW2_SRC))
UNIT_TESTS += unit_vmm_qcow2
$(TEST_BIN)/unit_vmm_qcow2: $(call objs,$(QCOW2_SRC))
$(TEST_BIN)/unit_vmm_qcow2: LDFLAGS += -Wl,--wrap=pwritev,--wrap=fdatasync,--wrap=fallocate
# Pinned backing chains (blk_qcow2_open_chain) on our own overlays.
UNIT_TESTS += unit_vmm_qcow2_chain
$(TEST_BIN)/unit_vmm_qcow2_chain: $(call objs,$(QCOW2_SRC))
$(TEST_BIN)/qcow2tool: $(O)/tests/qcow2/qcow2tool.o $(call objs,$(QCOW2_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(TEST_BIN)/unit_qcow2_interop: tests/qcow2/interop.sh
	@mkdir -p $(dir $@)
	$(Q)install -m 0755 $< $@
TEST_EXTRA += $(TEST_BIN)/qcow2tool $(TEST_BIN)/unit_qcow2_interop
# tests/bench/blkbench (rule in the Makefile) also drives a qcow2 overlay
# (-o, for tests/bench/qcow2-cow.sh).
$(BUILD)/bench/blkbench: $(call objs,$(filter-out vmm/blk_raw.c,$(QCOW2_SRC)))
FUZZ_TARGETS += fuzz_qcow2
$(BUILD)/fuzz/fuzz_qcow2: tests/fuzz/fuzz_qcow2.c $(QCOW2_SRC) common/log.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -lz -Wl,--wrap=preadv

# ---- booting from a disk alone (vmm/part.c, grubcfg.c, bootdisk.c) ------------
# Unit test: test disks built at test time with sfdisk/sgdisk, mkfs.ext4 -d
# and qemu-img (skipped without them); fuzz targets for the two parsers of
# image-controlled input (the partition table, the GRUB configuration).
BOOTDISK_SRC := vmm/part.c vmm/grubcfg.c vmm/bootdisk.c vmm/bootdisk_sandbox.c \
	vmm/sandbox.c $(QCOW2_SRC)
UNIT_TESTS += unit_vmm_bootdisk unit_vmm_bootdisk_sandbox
$(TEST_BIN)/unit_vmm_bootdisk: $(call objs,$(BOOTDISK_SRC))
$(TEST_BIN)/unit_vmm_bootdisk: LIBS := $(VMM_EXT2FS_LIBS) $(LIBS)
# The reader child's confinement: crashes, its filter, garbage, time-outs.
$(TEST_BIN)/unit_vmm_bootdisk_sandbox: $(call objs,$(BOOTDISK_SRC))
$(TEST_BIN)/unit_vmm_bootdisk_sandbox: LIBS := $(VMM_EXT2FS_LIBS) $(LIBS)
FUZZ_TARGETS += fuzz_part fuzz_grubcfg
$(BUILD)/fuzz/fuzz_part: tests/fuzz/fuzz_part.c vmm/part.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -lz

$(BUILD)/fuzz/fuzz_grubcfg: tests/fuzz/fuzz_grubcfg.c vmm/grubcfg.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^
