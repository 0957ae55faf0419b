# The HorizontalPodAutoscaler controller (agent/hpa.h): the watch, queue
# and per-HPA memory (hpa.c), one sync (hpa_sync.c), the arithmetic
# (hpa_calc.c, pure). Its metrics are usage.c's (agent/mk/kapi.mk links
# it into droverd), the numbers `kubectl top pod` shows.
HPA_SRC := agent/hpa.c agent/hpa_sync.c agent/hpa_calc.c
AGENT_SRC += $(HPA_SRC)

# Unit test: the calculator with fixed inputs, and the controller on a
# real store with a fake clock and fake metrics.
UNIT_TESTS += unit_agent_hpa
$(TEST_BIN)/unit_agent_hpa: $(call objs,$(HPA_SRC) agent/usage.c \
	agent/cgroup.c agent/objops.c agent/apply.c agent/kinds.c \
	agent/loop.c $(STORE_SRC))
