# The VMI runtime (agent/runtime.h, issue 5): watch, phases, scheduling
# (runtime.c), control socket, polls and probes (rt_ctl.c), the pure parts (rt_spec.c), launching (rt_launch.c), the
# status/Pod/Node views (rt_pod.c), re-adoption (rt_adopt.c) and the
# privileged operations done in-process (priv_local.c, agent/priv.h).
# The privileged side: the checks (priv_path.c; what the VMM is given:
# priv_vmjson.c), the work (priv_local.c,
# priv_net.c), and droverd's split: the messages (priv_msg.c), droverd-
# priv's server (priv_server.c), droverd-api's client (priv_remote.c).
PRIV_SRC := agent/priv_path.c agent/priv_local.c agent/priv_vmjson.c \
	agent/priv_proc.c \
	agent/priv_net.c \
	agent/priv_msg.c agent/priv_server.c agent/priv_remote.c
# It makes qcow2 overlays with the VMM's own qcow2 code and the
# cloud-init seed with cidata.c.
RT_SRC := agent/runtime.c agent/rt_ctl.c agent/rt_spec.c agent/rt_launch.c agent/rt_pod.c \
	agent/rt_adopt.c agent/rt_pull.c $(PRIV_SRC)
RT_DEPS := agent/cgroup.c agent/cidata.c agent/iso9660.c \
	$(filter-out vmm/blk_raw.c,$(QCOW2_SRC)) vmm/blk_raw.c \
	$(PODNET_SRC) agent/loop.c
# The readiness/liveness probes (agent/probe.h) are another module's,
# which adds them to AGENT_SRC; rt_ctl.c declares them weak, so the
# runtime links without them (a probe then cannot run: an event says so).
AGENT_SRC += $(RT_SRC) $(RT_DEPS)

# Unit test: the pure parts; vm.json is read back by the VMM's parser.
UNIT_TESTS += unit_agent_runtime
$(TEST_BIN)/unit_agent_runtime: $(call objs,agent/rt_spec.c $(PRIV_SRC) \
	$(RT_DEPS) $(VMM_CONFIG_SRC) $(VMM_DEV_SRC))
$(TEST_BIN)/unit_agent_runtime: LIBS += $(PODNET_LIBS)

# Bare-host test program (tests/agent/runtime-vmi.sh runs it): the real
# store, loop and drover-vmm booting the PVH payload from a containerDisk.
# (STORE_SRC: store.mk, read before this file.)
RT_TEST_STORE := $(STORE_SRC)
$(TEST_BIN)/agent_rt_test: $(O)/tests/agent/rt_test.o $(O)/tests/agent/looptap.o \
	$(call objs,$(RT_SRC) \
	$(RT_DEPS) $(RT_TEST_STORE) $(IMAGES_SRC) agent/loop.c $(PROBE_SRC)) \
	$(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PODNET_LIBS) $(LIBS)
TEST_EXTRA += $(TEST_BIN)/agent_rt_test

# The privsep messages and droverd-priv's request handling over a real
# priv_local (tests/unit/agent_privmsg.c).
UNIT_TESTS += unit_agent_privmsg
$(TEST_BIN)/unit_agent_privmsg: $(call objs,$(PRIV_SRC) $(RT_DEPS) $(VMM_CONFIG_SRC) \
	$(VMM_DEV_SRC))
$(TEST_BIN)/unit_agent_privmsg: LIBS += $(PODNET_LIBS)

# droverd-priv decodes what the unprivileged droverd-api sends.
FUZZ_TARGETS += fuzz_privmsg
$(BUILD)/fuzz/fuzz_privmsg: tests/fuzz/fuzz_privmsg.c agent/priv_msg.c \
	agent/priv_path.c agent/cgroup.c common/log.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

# droverd-priv checks the vm.json droverd-api composed.
FUZZ_TARGETS += fuzz_privvmjson
$(BUILD)/fuzz/fuzz_privvmjson: tests/fuzz/fuzz_privvmjson.c \
	agent/priv_vmjson.c agent/priv_path.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -ljansson
