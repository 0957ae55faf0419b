# The VirtualMachineInstanceReplicaSet controller (agent/vmirs.h): the
# queue, watch, expectations and loop glue (vmirs.c), one sync
# (vmirs_sync.c), VMI predicates and the deletion ranking (vmirs_rank.c).
VMIRS_SRC := agent/vmirs.c agent/vmirs_sync.c agent/vmirs_rank.c

# It needs the store (agent/mk/store.mk, STORE_SRC): linked once
# agent/store.c is in the tree.
ifneq ($(wildcard agent/store.c),)
AGENT_SRC += $(VMIRS_SRC)

# Unit test: the controller against a real store in a temporary
# directory, and once driven by a real loop.
UNIT_TESTS += unit_agent_vmirs
$(TEST_BIN)/unit_agent_vmirs: $(call objs,$(VMIRS_SRC) $(STORE_SRC) agent/loop.c)
endif
