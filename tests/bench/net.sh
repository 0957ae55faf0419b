#!/usr/bin/env bash
# tests/bench/net.sh [NET_TOOL]: per-VMI pod network set-up and tear-down,
# net/podnet.c (libmnl + libnftables, in process) against the same steps
# as ip and nft commands. Root. N VMIs set up one after the other, then
# torn down (batch: the kernel's asynchronous netns clean-up does not
# overlap the set-ups), and N set-up/tear-down cycles.
set -eu
TOOL=${1:-build/asan/tests/net_tool}
N=${N:-20}
T=$(mktemp -d); BR=drvbench0; CIDR=10.253.0.0/24
trap 'ip link del $BR 2>/dev/null; rm -rf "$T"' EXIT
ms() { date +%s%N; }
"$TOOL" "$T/ipam" $CIDR $BR "$T/ns" adopt none >/dev/null 2>&1 || true
echo "podnet batch  ($N): $("$TOOL" "$T/ipam" $CIDR $BR "$T/ns" batch $N -)"
echo "podnet cycle  ($N): $("$TOOL" "$T/ipam" $CIDR $BR "$T/ns" cycle $N -)"

cmd_setup() { # NAME IP
	local ns=drvb-$1 v=dv$1
	ip netns add $ns
	ip link add $v type veth peer name eth0 netns $ns
	ip link set $v master $BR up
	ip -n $ns link set lo up
	ip -n $ns addr add $2/24 dev eth0
	ip -n $ns link set eth0 up
	ip -n $ns route add default via 10.253.0.1
	ip -n $ns link add k6t-eth0 type bridge
	ip -n $ns addr add 10.0.2.1/24 dev k6t-eth0
	ip -n $ns link set k6t-eth0 up
	ip -n $ns tuntap add dev tap0 mode tap vnet_hdr
	ip -n $ns link set tap0 master k6t-eth0 up
	ip netns exec $ns sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.route_localnet=1
	ip netns exec $ns nft -f "$T/rules"
}
cmd_teardown() { ip link del dv$1; ip netns del drvb-$1; }
cat >"$T/rules" <<'R'
add table ip nat
add chain ip nat prerouting { type nat hook prerouting priority dstnat; policy accept; }
add chain ip nat input { type nat hook input priority 100; policy accept; }
add chain ip nat output { type nat hook output priority -100; policy accept; }
add chain ip nat postrouting { type nat hook postrouting priority srcnat; policy accept; }
add chain ip nat KUBEVIRT_PREINBOUND
add chain ip nat KUBEVIRT_POSTINBOUND
add rule ip nat postrouting ip saddr 10.0.2.2 counter masquerade
add rule ip nat prerouting iifname "eth0" counter jump KUBEVIRT_PREINBOUND
add rule ip nat postrouting oifname "k6t-eth0" counter jump KUBEVIRT_POSTINBOUND
add rule ip nat KUBEVIRT_PREINBOUND counter dnat to 10.0.2.2
add rule ip nat KUBEVIRT_POSTINBOUND ip saddr 127.0.0.1 counter snat to 10.0.2.1
add rule ip nat output ip daddr 127.0.0.1 counter dnat to 10.0.2.2
R
su=0; tu=0
for i in $(seq 1 $N); do t0=$(ms); cmd_setup $i 10.253.0.$((i+100)); su=$((su + $(ms) - t0)); done
for i in $(seq 1 $N); do t0=$(ms); cmd_teardown $i; tu=$((tu + $(ms) - t0)); done
echo "commands batch ($N): setup_us $((su / N / 1000)) teardown_us $((tu / N / 1000))"
su=0; tu=0
for i in $(seq 1 $N); do
	t0=$(ms); cmd_setup $i 10.253.0.$((i+100)); su=$((su + $(ms) - t0))
	t0=$(ms); cmd_teardown $i; tu=$((tu + $(ms) - t0))
done
echo "commands cycle ($N): setup_us $((su / N / 1000)) teardown_us $((tu / N / 1000))"
