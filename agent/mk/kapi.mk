# The Kubernetes API (issue 6): the handlers (agent/kapi*.c: routing,
# discovery, CRUD, watches, ...; kapi.h's handler side) and the mTLS
# transport that calls them (agent/apiserver*.c: lws over mbedTLS on
# droverd's loop; kapi.h's transport side). kapi_console.c is certs.mk's.
# columns.c and objops.c are shared with droverctl and the local API
# (droverd.mk).
KAPI_SRC := agent/kapi.c agent/kapi_disc.c agent/kapi_path.c \
	agent/kapi_patch.c agent/kapi_crud.c agent/kapi_write.c \
	agent/kapi_watch.c agent/kapi_metrics.c agent/kapi_openapi.c
KAPI_DEPS := agent/columns.c agent/objops.c agent/apply.c agent/kinds.c \
	agent/usage.c
APISERVER_SRC := agent/apiserver.c agent/apiserver_http.c agent/apiserver_util.c
AGENT_SRC += $(KAPI_SRC) agent/columns.c agent/usage.c $(APISERVER_SRC)

# The handlers called directly with the test transport, on a real store,
# loop and (for metrics) cgroup tree.
KAPI_TEST_OBJS := $(call objs,$(KAPI_SRC) $(KAPI_DEPS) agent/kapi_console.c \
	tests/agent/kapi_fake.c agent/cgroup.c \
	agent/loop.c vmm/console.c $(STORE_SRC))
UNIT_TESTS += unit_agent_kapi unit_agent_kapi_rw
$(TEST_BIN)/unit_agent_kapi: $(KAPI_TEST_OBJS) $(O)/tests/unit/agent_kapi_lib.o
$(TEST_BIN)/unit_agent_kapi_rw: $(KAPI_TEST_OBJS) $(O)/tests/unit/agent_kapi_lib.o

# libFuzzer: what clients send besides bodies (paths, query strings,
# label and field selectors, routed GETs) and patches.
FUZZ_TARGETS += fuzz_kapi
KAPI_FUZZ_SRC := tests/fuzz/fuzz_kapi.c $(KAPI_SRC) $(KAPI_DEPS) \
	agent/kapi_console.c tests/agent/kapi_fake.c agent/cgroup.c \
	agent/loop.c vmm/console.c $(STORE_SRC) $(filter config/%.c,$(LIB_SRC)) \
	common/log.c
$(BUILD)/fuzz/fuzz_kapi: $(KAPI_FUZZ_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -Itests -o $@ $^ -lyaml -ljansson -lz -lm

# The transport's pure helpers: identity from certificates made with
# certs.c, query encoding, lengths, listen addresses.
UNIT_TESTS += unit_agent_apiserver
$(TEST_BIN)/unit_agent_apiserver: $(call objs,agent/apiserver_util.c agent/certs.c)

# The identity reader and the query encoder take client-controlled bytes.
FUZZ_TARGETS += fuzz_apiserver
$(BUILD)/fuzz/fuzz_apiserver: tests/fuzz/fuzz_apiserver.c agent/apiserver_util.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -I$(SYSROOT)/include -o $@ $^ -L$(SYSROOT)/lib \
		-lmbedx509 -lmbedcrypto
