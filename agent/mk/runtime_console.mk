# The console subresource (agent/kapi_console.c, see certs.mk) against the
# real VMI runtime and drover-vmm: tests/agent/console-bridge.sh runs it.
# A fragment of its own because it links the runtime's, probes', images'
# and store's sources, whose variables are set by fragments read before
# this one (runtime.mk) but after certs.mk.
$(TEST_BIN)/agent_console_bridge: $(O)/tests/agent/console_bridge.o \
	$(O)/tests/agent/looptap.o \
	$(call objs,tests/agent/kapi_fake.c agent/kapi_console.c $(RT_SRC) \
	$(RT_DEPS) $(RT_TEST_STORE) $(IMAGES_SRC) agent/loop.c $(PROBE_SRC)) \
	$(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PODNET_LIBS) $(LIBS)
TEST_EXTRA += $(TEST_BIN)/agent_console_bridge
