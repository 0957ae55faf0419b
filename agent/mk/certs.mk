# Certificates, kubeconfig and the serial console over the API (issue 6):
# the PKI with mbedTLS (certs.c), `droverctl certs|kubeconfig`
# (ctl_certs.c), the console subresource (kapi_console.c, called by the
# kapi router) and `droverctl console` (ctl_console.c, reading the
# kubeconfig with ctl_kubeconfig.c).
CERTS_SRC := agent/certs.c
CTL_SRC += $(CERTS_SRC) agent/ctl_certs.c agent/ctl_console.c \
	agent/ctl_kubeconfig.c agent/tls_fd.c
# kapi_console.c: the console subresource, called by the kapi router.
AGENT_SRC += agent/kapi_console.c

# Keys and certificates read back by mbedTLS and the openssl CLI.
UNIT_TESTS += unit_agent_certs
$(TEST_BIN)/unit_agent_certs: $(call objs,$(CERTS_SRC))

# The console bridge on the real loop, store and VMM console server.
# (store.mk is read after this file: the store's sources are named here.)
UNIT_TESTS += unit_agent_kapi_console
$(TEST_BIN)/unit_agent_kapi_console: $(call objs,agent/kapi_console.c \
	tests/agent/kapi_fake.c \
	agent/loop.c vmm/console.c $(STORE_SRC))
