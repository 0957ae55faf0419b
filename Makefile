# Drover's build. One line per object; -MMD dependency files; -Werror.
#
#   make          glibc development binaries: build/drover-vmm, build/droverd,
#                 build/droverctl
#   make static   musl static binaries in build/static/ (node image)
#   make guest    the CirrOS guest in build/guest/ [CIRROS_ROOTFS=tarball]
#   make node     the emulated edge node image in build/node/
#   make test     sanitizer build + unit, KVM, fuzz-smoke, guest and node tests
#   make demo     the users' lab end to end in the emulated node (kubectl)
#   make fuzz     libFuzzer targets in build/fuzz/
#   make bench    benchmarks against QEMU and pread/pwrite (tests/bench/run)
#   make deps     install build and test dependencies (apt-get)
#
# Third-party libraries: Debian -dev packages for the glibc build, except
# mbedTLS 3.6 and libwebsockets, which mk/sysroot.sh builds from Debian
# source packages (as it builds every library for the musl build). Results
# are cached in $XDG_CACHE_HOME/drover (~/.cache/drover) by version.

.DEFAULT_GOAL := all
SHELL := /bin/bash
VARIANT ?= dev
BUILD := build
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

# ---- sources ---------------------------------------------------------------
LIB_SRC :=
LIB_SRC += common/log.c
LIB_SRC += config/quantity.c
LIB_SRC += config/yamljson.c config/yamlemit.c config/ferr.c config/schema.c
LIB_SRC += config/schema_kinds.c config/validate_meta.c config/validate_selector.c
LIB_SRC += config/validate_vmi.c config/validate_vmi2.c config/validate_hpa.c
LIB_SRC += config/defaults.c config/manifest.c

# drover-vmm's sources, its tests and payloads: vmm/sources.mk.
VMM_SRC :=
TEST_EXTRA :=

AGENT_SRC :=
AGENT_SRC += agent/droverd.c
AGENT_SRC += common/libver_agent.c

CTL_SRC :=
CTL_SRC += agent/droverctl.c
CTL_SRC += common/libver_agent.c

UNIT_TESTS := unit_quantity unit_log
UNIT_TESTS += unit_config_yamljson unit_config_manifest
KVM_TESTS := kvm_smoke
FUZZ_TARGETS := fuzz_quantity

# ---- variants ----------------------------------------------------------------
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -MMD -MP \
	-Icommon -Iconfig -Ivmm -Iagent -Iboot -Inet
ifeq ($(VARIANT),dev)
CC := gcc
O := $(BUILD)/obj/dev
BIN := $(BUILD)
SYSFLAVOUR := glibc
CFLAGS_V := -O2
SYS_EXTRA_LIBS := -lyaml -ljansson -lfdt -lz
else ifeq ($(VARIANT),asan)
CC := gcc
O := $(BUILD)/obj/asan
BIN := $(BUILD)/asan/bin
SYSFLAVOUR := glibc
CFLAGS_V := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
LDFLAGS_V := -fsanitize=address,undefined
SYS_EXTRA_LIBS := -lyaml -ljansson -lfdt -lz
else ifeq ($(VARIANT),static)
CC := musl-gcc
O := $(BUILD)/obj/static
BIN := $(BUILD)/static
SYSFLAVOUR := musl
# musl-gcc hides /usr/include; the sysroot links the kernel's UAPI headers.
CFLAGS_V := -Os -ffunction-sections -fdata-sections \
	-idirafter $(BUILD)/sysroot/kernel-include
LDFLAGS_V := -static -Wl,--gc-sections -s
SYS_EXTRA_LIBS :=
else
$(error VARIANT must be dev, asan or static)
endif
SYSROOT := $(BUILD)/sysroot$(if $(filter glibc,$(SYSFLAVOUR)),-glibc)
CFLAGS := $(CFLAGS_BASE) $(CFLAGS_V) -I$(SYSROOT)/include $(EXTRA_CFLAGS)
LDFLAGS := $(LDFLAGS_V) -L$(SYSROOT)/lib $(EXTRA_LDFLAGS)

# The sysroot's link line (SYSROOT_LIBS); remade when missing.
ifneq ($(filter-out deps guest node demo clean distclean help,$(or $(MAKECMDGOALS),all)),)
include $(SYSROOT)/drover-libs.mk
endif
LIBS := $(SYSROOT_LIBS) $(SYS_EXTRA_LIBS) -lpthread -lm

objs = $(patsubst %.c,$(O)/%.o,$(1))
LIB_OBJ := $(call objs,$(LIB_SRC))
TEST_BIN := $(BUILD)/asan/tests
include vmm/sources.mk
include net/sources.mk
include net/dhcp.mk

# The agent's tests: the cloudInitNoCloud seed disk and its ISO 9660 writer.
UNIT_TESTS += unit_agent_cidata
$(TEST_BIN)/unit_agent_cidata: $(call objs,agent/iso9660.c agent/cidata.c)

# The agent's modules: one fragment per module (agent/mk/NAME.mk) adds its
# sources (AGENT_SRC, CTL_SRC), its tests (UNIT_TESTS, TEST_EXTRA) and their
# link lines, so that modules are added without touching this file.
# store.mk first: the others link the store (STORE_SRC).
include agent/mk/store.mk
include $(sort $(filter-out agent/mk/store.mk,$(wildcard agent/mk/*.mk)))

# ---- top-level targets -------------------------------------------------------
.PHONY: all static guest node test demo fuzz deps clean distclean tests bins help \
	bench bench-bins

all: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=dev bins

static: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=static bins
	$(Q)file $(BUILD)/static/* | sed 's/, BuildID[^,]*//'

bins: $(BIN)/drover-vmm $(BIN)/droverd $(BIN)/droverctl

deps:
	$(Q)mk/deps.sh

$(SYSROOT)/drover-libs.mk: mk/sysroot.sh $(wildcard mk/sysroot/patches/*/*.patch) | deps-if-needed
	$(Q)mk/sysroot.sh $(SYSFLAVOUR) $(SYSROOT)

.PHONY: deps-if-needed
deps-if-needed:
	$(Q)mk/deps.sh

$(O)/%.o: %.c $(SYSROOT)/drover-libs.mk
	@mkdir -p $(dir $@)
	@echo "  CC[$(VARIANT)] $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/drover-vmm: $(call objs,$(VMM_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/droverd: $(call objs,$(AGENT_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/droverctl: $(call objs,$(CTL_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Drover's mbedTLS GCM patch against OpenSSL's libcrypto as the oracle
# (mk/sysroot/tests/gcm_oracle.c, TAP lines; the unit stage runs it).
$(TEST_BIN)/unit_gcm_oracle: mk/sysroot/tests/gcm_oracle.c $(SYSROOT)/drover-libs.mk
	@mkdir -p $(dir $@)
	@echo "  CC+LD[$(VARIANT)] $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lmbedcrypto -lcrypto
UNIT_TESTS += unit_gcm_oracle

# ---- tests (VARIANT=asan) --------------------------------------------------------
tests: bins $(addprefix $(TEST_BIN)/,$(UNIT_TESTS) $(KVM_TESTS)) $(TEST_EXTRA)

$(TEST_BIN)/unit_%: $(O)/tests/unit/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(TEST_BIN)/kvm_%: $(O)/tests/kvm/%.o $(O)/tests/kvm/kvmtest.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The config golden tests' driver (tests/golden/config.sh runs it).
$(TEST_BIN)/config_check: $(O)/tests/golden/config-check.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
TEST_EXTRA += $(TEST_BIN)/config_check

test: deps
	$(Q)tests/run

# ---- benchmarks (tests/bench): figures, not tests; not part of make test -------
# The node (static binaries, guest; CirrOS from ../shared as for make demo)
# for cirros-node.sh, then the helpers (dev variant), then every
# tests/bench/*.sh and a summary table.
BENCH := $(BUILD)/bench
bench: CIRROS_ROOTFS ?= $(abspath $(wildcard ../shared/cirros/cirros-0.5.3-rootfs-x86_64.tar.xz))
bench: node
	$(Q)$(MAKE) --no-print-directory VARIANT=dev bench-bins
	$(Q)tests/bench/run

bench-bins: $(BENCH)/pvh.elf $(BENCH)/runstat $(BENCH)/blkbench $(BENCH)/kvmfloor $(BENCH)/net_tool \
	$(BENCH)/agentbench $(BENCH)/apiload $(BENCH)/tcpsink

# The KVM tests' PVH payload (plain gcc -O2 whatever the variant; its
# rule is in vmm/sources.mk), copied out of the test tree.
$(BENCH)/pvh.elf: $(TEST_BIN)/payloads/pvh.elf
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

# The API benchmark's HTTPS load generator (mbedTLS, client certificates).
$(BENCH)/apiload: $(O)/tests/bench/apiload.o
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# virtio-blk through a simulated driver: the device core, the front end
# and the raw back end, nothing of KVM or PCI.
BLKBENCH_SRC := tests/bench/blkbench.c vmm/virtio.c vmm/virtq.c vmm/virtio_blk.c vmm/blk_raw.c
$(BENCH)/blkbench: $(call objs,$(BLKBENCH_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Static (musl): wait4's ru_maxrss counts the child's size before exec.
$(BENCH)/runstat: tests/bench/runstat.c
	@mkdir -p $(dir $@)
	@echo "  CC[musl] $@"
	$(Q)musl-gcc -static -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Os -o $@ $<

# The TCP sink net-tcp.sh runs inside the emulated node (static: musl).
$(BENCH)/tcpsink: tests/bench/tcpsink.c
	@mkdir -p $(dir $@)
	@echo "  CC[musl] $@"
	$(Q)musl-gcc -static -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Os -o $@ $<

# The host kernel's cost of a VM's life, with and without an irqchip.
$(BENCH)/kvmfloor: tests/bench/kvmfloor.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -O2 -o $@ $<

# droverd's benchmark client (tests/bench/agent.sh): the local API socket.
$(BENCH)/agentbench: $(O)/tests/bench/agentbench.o
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# libFuzzer targets: clang, ASan+UBSan, one per parser of untrusted input.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -Icommon -Iconfig -Ivmm -Iagent -Iboot -Inet

$(BUILD)/fuzz/fuzz_quantity: tests/fuzz/fuzz_quantity.c config/quantity.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

FUZZ_TARGETS += fuzz_manifest
CONFIG_SRC := $(filter config/%.c,$(LIB_SRC)) common/log.c
$(BUILD)/fuzz/fuzz_manifest: tests/fuzz/fuzz_manifest.c $(CONFIG_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -lyaml -ljansson -lm

# After every FUZZ_TARGETS += (prerequisites are expanded when read).
fuzz: deps $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))

# ---- images ------------------------------------------------------------------
guest: deps
	$(Q)boot/guest/build.sh $(BUILD)/guest $(CIRROS_ROOTFS)

# The node's droverd is the glibc one (the pod network: net/sources.mk).
node: all static guest
	$(Q)boot/node/build.sh $(BUILD)/node $(BUILD)/static $(BUILD)/guest $(BUILD)/droverd

# The demo (the users' lab with kubectl in the emulated node) uses the
# official CirrOS tarball from ../shared when there is one.
demo: CIRROS_ROOTFS ?= $(abspath $(wildcard ../shared/cirros/cirros-0.5.3-rootfs-x86_64.tar.xz))
demo: node
	$(Q)tests/node/demo

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/static $(BUILD)/fuzz \
		$(BUILD)/drover-vmm $(BUILD)/droverd $(BUILD)/droverctl

distclean:
	rm -rf $(BUILD)

help:
	@sed -n '3,14p' Makefile | sed 's/^# \{0,1\}//'

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
