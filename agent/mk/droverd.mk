# droverd's skeleton: the event loop, the local API socket, the --manifests
# directory, the agent's config file; droverctl's commands.
AGENT_SRC += agent/loop.c

UNIT_TESTS += unit_agent_loop
$(TEST_BIN)/unit_agent_loop: $(call objs,agent/loop.c)
