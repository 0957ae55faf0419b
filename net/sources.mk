# net/: KubeVirt's pod network on the node (netlink via libmnl, nftables
# via libnftables). Included by the top-level Makefile.
NET_SRC := net/nl.c net/netns.c net/nft.c net/ipam.c net/podnet.c net/podnet_pool.c
# glibc: Debian's shared libnftables pulls in libnftnl.
#
# musl (make static): no pod network. mk/sysroot.sh builds every static
# library from Debian source packages, and the package mirror serves no
# source tarball of libmnl, libnftnl or nftables: neither bookworm's
# (1.0.4-3, 1.2.4-2, 1.0.6-2+deb12u2) nor trixie's (1.0.5-3, 1.2.9-1,
# 1.1.3-1), nor sid's, bookworm-backports' or bullseye's (apt-get source:
# 404 on every .orig tarball; only some .dsc and .debian.tar files). The
# -dev binary packages ship no usable static archive: libmnl-dev and
# libnftables-dev have only the .so, libnftnl-dev's libnftnl.a is built
# for glibc (fortified: __*_chk symbols musl lacks). Third-party source is
# never vendored, so the static droverd is built without net/
# (agent/priv_net.c refuses a configured network, naming this file), and
# the emulated node carries the glibc droverd with its Debian shared
# libraries instead (boot/node/build.sh, docs/net.md "Static build").
ifeq ($(VARIANT),static)
NET_LIBS :=
PODNET_SRC :=
PODNET_LIBS :=
else
NET_LIBS := -lnftables -lmnl
# droverd's pod network: net/ and the guest's DHCP server (net/dhcp.mk).
PODNET_SRC := $(NET_SRC) net/dhcp.c net/resolv.c net/dhcp_srv.c
PODNET_LIBS := $(NET_LIBS)
$(O)/agent/priv_net.o: CFLAGS += -DDROVER_PODNET
endif
AGENT_SRC += agent/priv_net.c $(PODNET_SRC)
$(BIN)/droverd: LIBS += $(PODNET_LIBS)

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

# The benchmark's copy (tests/bench/net.sh; make bench-bins builds it in the
# dev variant, -O2).
$(BUILD)/bench/net_tool: $(O)/tests/agent/net_tool.o $(call objs,$(NET_SRC)) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD[$(VARIANT)] $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(NET_LIBS) $(LIBS)
