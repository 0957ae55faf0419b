# The guest's DHCP server (issue 7): net/dhcp.c (parser, builder; pure),
# net/resolv.c (the node's resolv.conf), net/dhcp_srv.c (the socket in
# the VMI's network namespace, on droverd's loop).
DHCP_SRC := net/dhcp.c net/resolv.c
AGENT_SRC += $(DHCP_SRC)

# Parser and builder byte for byte, malformed packets, resolv.conf.
UNIT_TESTS += unit_net_dhcp
$(TEST_BIN)/unit_net_dhcp: $(call objs,$(DHCP_SRC))

FUZZ_TARGETS += fuzz_dhcp
$(BUILD)/fuzz/fuzz_dhcp: tests/fuzz/fuzz_dhcp.c net/dhcp.c common/log.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^

# droverd serves the guest from the loop (net/dhcp_srv.c).
AGENT_SRC += net/dhcp_srv.c
# tests/agent/net-dhcp.sh: the server on the real loop in a test netns.
$(TEST_BIN)/dhcpd_test: $(call objs,tests/agent/dhcpd_test.c $(DHCP_SRC) net/dhcp_srv.c agent/loop.c) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
TEST_EXTRA += $(TEST_BIN)/dhcpd_test
# The test's own client (plays the guest, prints every option).
$(TEST_BIN)/dhcpclient: $(O)/tests/agent/dhcpclient.o
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^
TEST_EXTRA += $(TEST_BIN)/dhcpclient
