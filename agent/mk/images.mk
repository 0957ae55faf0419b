# The containerDisk image store (issue 4): agent/images.h.
IMAGES_SRC := agent/images.c agent/imgtar.c agent/oci.c agent/registry.c
AGENT_SRC += $(IMAGES_SRC)
CTL_SRC += $(IMAGES_SRC)
UNIT_TESTS += unit_agent_images
$(TEST_BIN)/unit_agent_images: $(call objs,$(IMAGES_SRC))
