# The Kubernetes API handlers (issue 6): kapi*.c, called by the mTLS
# transport (agent/apiserver.c). Linked into droverd only once the
# transport exists (it defines kapi_respond() and friends); until then
# kapi_console.c (added by certs.mk) is held back too. columns.c and
# objops.c are shared with droverctl and the local API (droverd.mk).
KAPI_SRC := agent/kapi.c agent/kapi_disc.c agent/kapi_path.c \
	agent/kapi_patch.c agent/kapi_crud.c agent/kapi_write.c \
	agent/kapi_watch.c agent/kapi_metrics.c agent/kapi_openapi.c
KAPI_DEPS := agent/columns.c agent/objops.c agent/apply.c agent/kinds.c
ifneq ($(wildcard agent/apiserver.c),)
AGENT_SRC += $(KAPI_SRC) agent/columns.c
else
AGENT_SRC := $(filter-out agent/kapi_console.c,$(AGENT_SRC))
endif

# The handlers called directly with the test transport, on a real store,
# loop and (for metrics) cgroup tree.
KAPI_TEST_OBJS := $(call objs,$(KAPI_SRC) $(KAPI_DEPS) agent/kapi_console.c \
	tests/agent/kapi_fake.c agent/cgroup.c \
	agent/loop.c vmm/console.c agent/store.c agent/store_ops.c \
	agent/store_disk.c agent/events.c)
UNIT_TESTS += unit_agent_kapi unit_agent_kapi_rw
$(TEST_BIN)/unit_agent_kapi: $(KAPI_TEST_OBJS) $(O)/tests/unit/agent_kapi_lib.o
$(TEST_BIN)/unit_agent_kapi_rw: $(KAPI_TEST_OBJS) $(O)/tests/unit/agent_kapi_lib.o

# libFuzzer: what clients send besides bodies (paths, query strings,
# label and field selectors, routed GETs) and patches.
FUZZ_TARGETS += fuzz_kapi
KAPI_FUZZ_SRC := tests/fuzz/fuzz_kapi.c $(KAPI_SRC) $(KAPI_DEPS) \
	agent/kapi_console.c tests/agent/kapi_fake.c agent/cgroup.c \
	agent/loop.c vmm/console.c agent/store.c agent/store_ops.c \
	agent/store_disk.c agent/events.c $(filter config/%.c,$(LIB_SRC)) \
	common/log.c
$(BUILD)/fuzz/fuzz_kapi: $(KAPI_FUZZ_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -Itests -o $@ $^ -lyaml -ljansson -lm
