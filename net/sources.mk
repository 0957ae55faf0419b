# net/: KubeVirt's pod network on the node (netlink via libmnl, nftables
# via libnftables). Included by the top-level Makefile.
NET_SRC := net/nl.c net/netns.c net/nft.c net/ipam.c net/podnet.c
# glibc: Debian's shared libnftables pulls in libnftnl; musl: static
# libraries in link order. Not yet in the musl sysroot: this mirror serves
# no source tarball of libmnl, libnftnl or nftables (bookworm or trixie),
# so net/ is linked only into the glibc test programs for now.
ifeq ($(VARIANT),static)
NET_LIBS := -lnftables -lnftnl -lmnl
else
NET_LIBS := -lnftables -lmnl
endif

UNIT_TESTS += unit_net_ipam
$(TEST_BIN)/unit_net_ipam: $(call objs,net/ipam.c)

$(TEST_BIN)/net_tool: $(O)/tests/agent/net_tool.o $(call objs,$(NET_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(NET_LIBS) $(LIBS)
TEST_EXTRA += $(TEST_BIN)/net_tool

UNIT_TESTS += unit_net_nft
$(TEST_BIN)/unit_net_nft: $(call objs,net/nft.c)
$(TEST_BIN)/unit_net_nft: LIBS += $(NET_LIBS)
