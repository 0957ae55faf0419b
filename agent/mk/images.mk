# The containerDisk image store (issue 4): agent/images.h. droverctl's
# `image` command (agent/ctl_image.c) is linked by agent/mk/droverd.mk.
IMAGES_SRC := agent/images.c agent/images_store.c agent/imgtar.c agent/oci.c agent/registry.c agent/https.c
AGENT_SRC += $(IMAGES_SRC) agent/images_api.c
CTL_SRC += $(IMAGES_SRC)
UNIT_TESTS += unit_agent_images
$(TEST_BIN)/unit_agent_images: $(call objs,$(IMAGES_SRC))

# The tar and gzip reader parses archives and layers from anywhere.
FUZZ_TARGETS += fuzz_imgtar
$(BUILD)/fuzz/fuzz_imgtar: tests/fuzz/fuzz_imgtar.c agent/imgtar.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -lz

# images_apid: the local API with the image ops (tests/agent/images-api.sh).
$(TEST_BIN)/images_apid: $(O)/tests/agent/images_apid.o $(call objs,$(IMAGES_SRC) \
	agent/images_api.c agent/loop.c agent/kinds.c agent/apply.c agent/objops.c agent/localapi.c \
	$(STORE_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
TEST_EXTRA += $(TEST_BIN)/images_apid
