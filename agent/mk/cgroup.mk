# The VMI's cgroup (agent/cgroup.h, v1 and v2) and its readiness and
# liveness probes (agent/probe.h; httpGet in probe_http.c, HTTPS in
# probe_tls.c), both used by the VMI runtime.
PROBE_SRC := agent/probe.c agent/probe_http.c agent/probe_tls.c agent/tls_fd.c
AGENT_SRC += agent/cgroup.c $(PROBE_SRC)

# cgroup: conversions, fake v1/v2 trees in a temp dir, and (as root) a
# real v1 cgroup under /sys/fs/cgroup/{cpu,cpuacct,pids} and a real
# cgroup2 mount.
UNIT_TESTS += unit_agent_cgroup
$(TEST_BIN)/unit_agent_cgroup: $(call objs,agent/cgroup.c)

# probes against real TCP, HTTP and HTTPS (openssl s_server) servers on
# 127.0.0.1, on the real loop.
UNIT_TESTS += unit_agent_probe
$(TEST_BIN)/unit_agent_probe: $(call objs,$(PROBE_SRC) agent/loop.c)
