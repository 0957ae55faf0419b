# The Kubernetes API handlers (issue 6): kapi*.c, called by the mTLS
# transport (agent/apiserver.c). Linked into droverd only once the
# transport exists (it defines kapi_respond() and friends); until then
# kapi_console.c (added by certs.mk) is held back too.
KAPI_SRC := agent/kapi.c
ifneq ($(wildcard agent/apiserver.c),)
AGENT_SRC += $(KAPI_SRC)
else
AGENT_SRC := $(filter-out agent/kapi_console.c,$(AGENT_SRC))
endif

# The router called directly with the test transport, on a real store/loop.
UNIT_TESTS += unit_agent_kapi
$(TEST_BIN)/unit_agent_kapi: $(call objs,$(KAPI_SRC) agent/kapi_console.c \
	tests/agent/kapi_fake.c \
	agent/loop.c vmm/console.c agent/store.c agent/store_ops.c \
	agent/store_disk.c agent/events.c)
