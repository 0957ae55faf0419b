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
