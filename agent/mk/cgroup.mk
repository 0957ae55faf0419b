# The VMI's cgroup (agent/cgroup.h, v1 and v2) and its readiness and
# liveness probes (agent/probe.h), both used by the VMI runtime.
AGENT_SRC += agent/cgroup.c

# cgroup: conversions, fake v1/v2 trees in a temp dir, and (as root) a
# real v1 cgroup under /sys/fs/cgroup/{cpu,cpuacct,pids} and a real
# cgroup2 mount.
UNIT_TESTS += unit_agent_cgroup
$(TEST_BIN)/unit_agent_cgroup: $(call objs,agent/cgroup.c)
