# The object store (agent/store.h): objects and their semantics
# (store.c, store_ops.c), the journal and files (store_disk.c), reading
# them back (store_load.c), Events (events.c). Read before the other
# fragments (the Makefile), which link the store.
STORE_SRC := agent/store.c agent/store_ops.c agent/store_disk.c \
	agent/store_load.c agent/events.c
AGENT_SRC += $(STORE_SRC)

UNIT_TESTS += unit_agent_store
$(TEST_BIN)/unit_agent_store: $(call objs,$(STORE_SRC))

# store_tool: the store driven by a script (tests/agent/store-*.sh).
$(TEST_BIN)/store_tool: $(O)/tests/agent/store_tool.o \
	$(call objs,$(STORE_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
TEST_EXTRA += $(TEST_BIN)/store_tool
