# The object store (agent/store.h): objects and their semantics
# (store.c, store_ops.c), files and load (store_disk.c), Events (events.c).
STORE_SRC := agent/store.c agent/store_ops.c agent/store_disk.c agent/events.c
AGENT_SRC += $(STORE_SRC)

UNIT_TESTS += unit_agent_store
$(TEST_BIN)/unit_agent_store: $(call objs,$(STORE_SRC))
