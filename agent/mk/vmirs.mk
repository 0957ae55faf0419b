# The VirtualMachineInstanceReplicaSet controller (agent/vmirs.h): the
# queue, watch, expectations and loop glue (vmirs.c), one sync
# (vmirs_sync.c), VMI predicates and the deletion ranking (vmirs_rank.c).
# It runs on the store (agent/mk/store.mk) and the loop (droverd.mk).
VMIRS_SRC := agent/vmirs.c agent/vmirs_sync.c agent/vmirs_rank.c
AGENT_SRC += $(VMIRS_SRC)

# Unit test: the controller against a real store in a temporary
# directory, and driven by a real loop.
UNIT_TESTS += unit_agent_vmirs
$(TEST_BIN)/unit_agent_vmirs: $(call objs,$(VMIRS_SRC) $(STORE_SRC) agent/loop.c)
