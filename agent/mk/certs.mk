# Certificates, kubeconfig and the serial console over the API (issue 6):
# the PKI with mbedTLS (certs.c), `droverctl certs|kubeconfig`
# (ctl_certs.c), the console subresource (kapi_console.c, called by the
# kapi router) and `droverctl console` (ctl_console.c).
CERTS_SRC := agent/certs.c
CTL_SRC += $(CERTS_SRC) agent/ctl_certs.c $(wildcard agent/ctl_console.c)
AGENT_SRC += $(wildcard agent/kapi_console.c)

# Keys and certificates read back by mbedTLS and the openssl CLI.
UNIT_TESTS += unit_agent_certs
$(TEST_BIN)/unit_agent_certs: $(call objs,$(CERTS_SRC))
