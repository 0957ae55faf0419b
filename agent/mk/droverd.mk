# droverd's skeleton: the event loop, the local API socket, kubectl-style
# apply, the --manifests directory, the agent's config file; droverctl's
# commands. agent/ctl_image.c (droverctl image ..., the images module) is
# linked when it exists (droverctl.c declares ctl_image_main weak).
AGENT_SRC += agent/loop.c
AGENT_SRC += agent/kinds.c
AGENT_SRC += agent/apply.c agent/objops.c
AGENT_SRC += agent/localapi.c
AGENT_SRC += agent/manifests.c
AGENT_SRC += agent/agentconf.c
# The split into droverd-priv and droverd-api (droverd_priv.h).
AGENT_SRC += agent/droverd_priv.c

CTL_SRC += agent/kinds.c
CTL_SRC += agent/ctl_client.c
CTL_SRC += agent/ctl_get.c agent/columns.c
CTL_SRC += agent/ctl_apply.c
CTL_SRC += $(wildcard agent/ctl_image.c)

UNIT_TESTS += unit_agent_loop
$(TEST_BIN)/unit_agent_loop: $(call objs,agent/loop.c)

# apply.c and localapi.c against a real store (its sources: agent/mk/store.mk,
# listed here because that fragment is read after this one).
UNIT_TESTS += unit_agent_localapi
$(TEST_BIN)/unit_agent_localapi: $(call objs,agent/loop.c agent/kinds.c \
	agent/apply.c agent/objops.c agent/localapi.c $(STORE_SRC))
