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
