#!/usr/bin/env bash
# tests/agent/net-droverd.sh BUILD (e.g. build/asan): KubeVirt's pod network
# (issue 7) through the whole droverd on the bare host: agent config
# "network" with a bridge and CIDR of this test's own, VMIs booting the
# PVH test payload (no guest network stack: what is checked is the node
# side, the VMM's tap and droverd's DHCP socket; tests/agent/net-pod.sh
# and net-dhcp.sh drive packets, tests/e2e/agent-lab.sh a real guest).
#
# Checks: two VMIs get different pod IPs in the CIDR, in
# status.interfaces[0] (ipAddress, mac) and the Pod's podIP; vm.json's NIC
# is fd 3 with that MAC; the VMM's fd 3 is the tap tap0 of the VMI's netns,
# the VMM has no capabilities and stays in the node's netns; the netns
# holds eth0 = pod IP, k6t-eth0 10.0.2.1/24, tap0 in it, KubeVirt's nat
# table (listed ports only); droverd serves DHCP on :67 there; kill -9 of
# droverd: re-adopted (same IPs, DHCP served again), a VMM that died
# meanwhile loses its network; a failure half way (the node side's veth
# name taken) rolls back (nothing held) and shows as FailedCreate; delete
# leaves nothing; 100 create/delete cycles leak nothing (netns, links,
# node nft tables, held IPs, nsfs mounts, droverd's fds), counted.
# Root, /dev/kvm, netns. About 60-90 s.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=
n=0
ok() { n=$((n+1)); echo "ok - net-droverd: $1"; }
nok() { n=$((n+1)); echo "not ok - net-droverd: $1"; failed=1; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
wait_for() { # wait_for SECONDS COMMAND...
	local k=$(( $1 * 10 )); shift
	for _ in $(seq "$k"); do "$@" && return 0; sleep 0.1; done
	return 1
}

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { echo "not ok - net-droverd: $f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ] || ! command -v mke2fs > /dev/null ||
	! command -v nft > /dev/null || ! ip netns add drnd-probe$$ 2> /dev/null; then
	echo "ok - net-droverd # SKIP needs root, /dev/kvm, mke2fs, nft and network namespaces"
	exit 0
fi
ip netns del drnd-probe$$
if ! "$bin/droverd" --version > /dev/null 2>&1; then
	echo "not ok - net-droverd: droverd --version"; exit 1
fi

T=$(mktemp -d /tmp/rnd.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
mkdir -p "$T/bin"
cp "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$T/bin/"
bin=$T/bin
sock=$T/run/droverd.sock
ns=netd
BR=drnd$$; BR=${BR:0:12}
CIDR=10.252.0.0/24
NETNS=$T/run/netns
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2> /dev/null
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
	sleep 0.2
	for f in "$NETNS"/*; do [ -e "$f" ] && umount "$f" 2> /dev/null; done
	for l in $(ip -o link show master "$BR" 2> /dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip link del "$l" 2> /dev/null
	done
	ip link del "$BR" 2> /dev/null
	ip link del "$taken" 2> /dev/null
	nft delete table ip "drover_nat_$BR" 2> /dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 40 lines):"
		tail -n 40 "$T/droverd.log" | sed 's/^/# /'
	fi
	rm -rf "$T"
}
taken=
trap cleanup EXIT

mkdir -p "$T/disk/boot/grub"
cp "$payload" "$T/disk/boot/vmlinuz"
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer ctrlaltdel\n' \
	> "$T/disk/boot/grub/menu.lst"
mke2fs -q -F -t ext2 -d "$T/disk" "$T/disk.raw" 8M > /dev/null
printf 'nameserver 192.0.2.53\nsearch example.test\n' > "$T/resolv.conf"
cat > "$T/droverd.json" <<EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm", "cgroup-root": "",
 "vmm-user": "65534:65534", "poll-ms": 200,
 "capacity": {"cpu": "64", "memory": "64Gi"},
 "network": {"bridge": "$BR", "cidr": "$CIDR", "resolv-conf": "$T/resolv.conf"},
 "images": {"preloaded": {"quay.io/kubevirt/cirros-container-disk-demo": "$T/disk.raw"}}}
EOF
start() {
	"$bin/droverd" --config "$T/droverd.json" --log-level info \
		>> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 10 ctl get ns > /dev/null 2>&1
}
vmi() { # vmi NAME [PORT]: a VMI (with PORT: listed on the default interface)
	cat <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $1
spec:
  terminationGracePeriodSeconds: 1
  domain:
    devices:
      disks:
      - name: containerdisk
        disk:
          bus: virtio
YAML
	if [ -n "${2:-}" ]; then cat <<YAML
      interfaces:
      - name: default
        masquerade: {}
        ports:
        - name: http
          port: $2
YAML
	fi
	cat <<YAML
    resources:
      requests:
        memory: 64Mi
YAML
	if [ -n "${2:-}" ]; then printf '  networks:\n  - name: default\n    pod: {}\n'; fi
	cat <<YAML
  volumes:
  - name: containerdisk
    containerDisk:
      image: quay.io/kubevirt/cirros-container-disk-demo
YAML
}
apply() { vmi "$@" > "$T/$1.yaml"; ctl apply -f "$T/$1.yaml" -n $ns > /dev/null; }
get() { ctl get vmi "$1" -n $ns -o json 2> /dev/null; }
phase() { get "$1" | jq -r .status.phase; }
running() { [ "$(phase "$1")" = Running ]; }
ipof() { get "$1" | jq -r '.status.interfaces[0].ipAddress // empty'; }
macof() { get "$1" | jq -r '.status.interfaces[0].mac // empty'; }
podip() {
	ctl get pods -n $ns -o json | jq -r --arg v "$1" '.items[] |
		select(.metadata.labels["vm.kubevirt.io/name"] == $v) | .status.podIP // empty'
}
vmm_pid() { pgrep -f "drover-vmm --config $T/run/vmi/$ns/$1/" | head -n 1; }
in_ns() { local id=$1; shift; nsenter --net="$NETNS/$id" "$@"; }
# Addresses held: the IPAM log's last line per address says.
held() { awk '{ s[$1] = $2 } END { n = 0; for (a in s) n += s[a] == "held"; print n }' "$1" 2> /dev/null || echo 0; }
counts() { # links, netns files, node nft tables, held IPs, nsfs mounts
	echo "$(ip -o link | wc -l) $(ls "$NETNS" 2> /dev/null | wc -l)" \
		"$(nft list tables | wc -l) $(held "$T/state/net/ipam")" \
		"$(grep -c nsfs /proc/mounts)"
}
gone() { [ -z "$(get "$1")" ]; }
pool_count() { ls -a "$NETNS" 2> /dev/null | grep -c '^\.pool-'; }
# The kernel destroys a torn-down netns (and its links) asynchronously.
settled() { for _ in $(seq 50); do [ "$(counts)" = "$base" ] && return 0; sleep 0.1; done; return 1; }
dhcp_served() { in_ns "$1" ss -uanp 2> /dev/null | grep -q "0.0.0.0%k6t-eth0:67 .*pid=$pid,"; }

check "droverd starts with the pod network (bridge $BR, $CIDR)" start
check "the node bridge $BR holds ${CIDR%.0/*}.1/24" \
	bash -c "ip -o addr show $BR | grep -q ' ${CIDR%.0/*}.1/24'"
check "ip_forward is on" [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
check "table ip drover_nat_$BR masquerades $CIDR" \
	bash -c "nft list table ip drover_nat_$BR | grep -q 'ip saddr $CIDR oifname != \"$BR\" counter packets [0-9]* bytes [0-9]* masquerade'"
check "the warm pool: 2 pod netns made ahead ($(pool_count))" [ "$(pool_count)" = 2 ]
base=$(counts)
fds0=$(ls /proc/$pid/fd | wc -l)

apply net-a 8080 && apply net-b
both_running() { running net-a && running net-b; }
check "two VMIs Running" wait_for 30 both_running
ipa=$(ipof net-a) ipb=$(ipof net-b)
check "each has a pod IP in $CIDR, different ($ipa, $ipb)" \
	bash -c "[[ $ipa == ${CIDR%.0/*}.* && $ipb == ${CIDR%.0/*}.* && $ipa != $ipb ]]"
check "the Pod views carry the same podIP" [ "$(podip net-a) $(podip net-b)" = "$ipa $ipb" ]
mac=$(macof net-a)
vmj=$(jq -c '.net' "$T/run/vmi/$ns/net-a/vm.json")
check "vm.json's NIC: the tap at fd 3 with status.interfaces[0].mac ($vmj)" \
	[ "$vmj" = "[{\"fd\":3,\"mac\":\"$mac\"}]" ]
iface_ok() { [ "$(get net-a | jq -r '.status.interfaces[0].name')" = default ] && [[ $mac == 52:54:00:* ]]; }
check "status.interfaces[0]: name default, mac $mac" iface_ok
vp=$(vmm_pid net-a)
check "the VMM's fd 3 is /dev/net/tun, tap tap0" \
	bash -c "[ \"\$(readlink /proc/$vp/fd/3)\" = /dev/net/tun ] && grep -q '^iff:[[:space:]]*tap0' /proc/$vp/fdinfo/3"
check "the VMM has no capabilities (CapEff 0) and runs in the node's netns" \
	bash -c "grep -q '^CapEff:[[:space:]]*0*$' /proc/$vp/status && [ \"\$(readlink /proc/$vp/ns/net)\" = \"\$(readlink /proc/self/ns/net)\" ]"
ida=$ns.net-a idb=$ns.net-b
a_eth0=$(in_ns $ida ip -o addr show eth0 2>&1; in_ns $ida ip route 2>&1)
a_k6t=$(in_ns $ida ip -o addr show k6t-eth0 2>&1; in_ns $ida ip -o link show tap0 2>&1)
check "netns $ida: eth0 holds $ipa, default route via the bridge" \
	bash -c '[[ $1 == *" inet $2/24 "* && $1 == *"default via $3 dev eth0"* ]] || { echo "$1" | sed "s/^/# /"; exit 1; }' _ "$a_eth0" "$ipa" "${CIDR%.0/*}.1"
check "netns $ida: k6t-eth0 10.0.2.1/24, tap0 in it" \
	bash -c '[[ $1 == *" inet 10.0.2.1/24 "* && $1 == *"tap0:"*"master k6t-eth0"* ]] || { echo "$1" | sed "s/^/# /"; exit 1; }' _ "$a_k6t"
nat_a=$(in_ns $ida nft list table ip nat 2>&1)
nat_b=$(in_ns $idb nft list table ip nat 2>&1)
check "net-a's nat table: KUBEVIRT_PREINBOUND DNATs port 8080 only" \
	bash -c '[[ $1 == *KUBEVIRT_PREINBOUND* && $1 == *"tcp dport 8080"*"dnat to 10.0.2.2"* && $1 == *"ip saddr 10.0.2.2"*masquerade* ]]' _ "$nat_a"
check "net-b's nat table (no ports): everything DNATed" \
	bash -c '[[ $1 == *KUBEVIRT_PREINBOUND* && $1 == *"dnat to 10.0.2.2"* && $1 != *dport* ]]' _ "$nat_b"
warm=$(grep -c 'pod network netd.net-[ab]: .* (a warm netns)' "$T/droverd.log")
check "both set-ups were served from the warm pool ($warm)" [ "$warm" = 2 ]
both_dhcp() { dhcp_served $ida && dhcp_served $idb; }
check "droverd serves DHCP on 0.0.0.0:67 of k6t-eth0 in both netns" both_dhcp

# ---- restart: adopted; a VMM that died meanwhile loses its network ------------
kill -9 "$pid"; wait "$pid" 2> /dev/null; pid=
kill -9 "$(vmm_pid net-b)"
sleep 0.3
check "droverd restarts" start
adopted_a() { [ "$(phase net-a) $(ipof net-a)" = "Running $ipa" ]; }
lost_b() { [ "$(phase net-b)" = Failed ] && [ ! -e "$NETNS/$idb" ]; }
check "net-a adopted: Running, the same pod IP" wait_for 10 adopted_a
check "net-a: DHCP served again by the new droverd" wait_for 5 dhcp_served $ida
check "net-b (its VMM died while droverd was down): Failed, its netns gone" wait_for 10 lost_b
check "net-b's status has no interface left (its IP was released)" [ -z "$(ipof net-b)" ]

# ---- a failure half way rolls back --------------------------------------------
# With the warm pool the VMI's netns is a made one handed over (its address
# renamed to the VMI, its netns file bound at the VMI's path): a file in
# the way fails that half way; without a pool (net-pod.sh) a link in the
# way of the veth fails netns_create's successor.
ctl delete vmi net-b -n $ns > /dev/null
wait_for 10 gone net-b
held0=$(held "$T/state/net/ipam")
pools0=$(pool_count)
: > "$NETNS/$ns.net-c"
apply net-c
failedc() { [ "$(phase net-c)" = Failed ]; }
check "net-c, whose netns file is taken: Failed" wait_for 10 failedc
msg=$(get net-c | jq -r '[.status.conditions[] | select(.type == "Ready")][0] | .reason + ": " + .message')
check "... reason FailedCreate, the pod network's error ($msg)" \
	bash -c '[[ $1 == "FailedCreate: pod network: podnet: netns $2.net-c: File exists"* ]]' _ "$msg" "$ns"
ev=$(ctl get events -n $ns -o json 2> /dev/null | jq -r '.items[] | select(.involvedObject.name == "net-c") | .reason' | xargs)
check "... a Warning event FailedCreate ($ev)" bash -c '[[ " $1 " == *" FailedCreate "* ]]' _ "$ev"
rolled_back() { ! grep -q " $NETNS/$ns.net-c " /proc/mounts && [ "$(held "$T/state/net/ipam")" = "$held0" ] &&
	[ "$(pool_count)" = "$pools0" ]; }
check "... rolled back: no netns mounted, no address held, the pool refilled ($pools0)" wait_for 5 rolled_back
rm -f "$NETNS/$ns.net-c"
ctl delete vmi net-c -n $ns > /dev/null
wait_for 10 gone net-c

# ---- delete: nothing left; 100 cycles -----------------------------------------
ctl delete vmi net-a -n $ns > /dev/null
check "net-a deleted" wait_for 15 gone net-a
settled
echo "# links netns node-tables held-IPs nsfs: before $base after $(counts)"
check "nothing left: netns, veth, address (counts as before the VMIs)" [ "$(counts)" = "$base" ]
t0=$(date +%s.%N)
ips=()
for round in $(seq 20); do
	for k in 1 2 3 4 5; do apply "cyc-$k"; done
	for k in 1 2 3 4 5; do wait_for 20 running "cyc-$k" || break 2; done
	[ "$round" = 1 ] && for k in 1 2 3 4 5; do ips+=("$(ipof "cyc-$k")"); done
	for k in 1 2 3 4 5; do ctl delete vmi "cyc-$k" -n $ns > /dev/null; done
	for k in 1 2 3 4 5; do wait_for 20 gone "cyc-$k" || break 2; done
done
settled
cyc=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "# 100 cycles (20 rounds of 5 VMIs) in $cyc s: before $base after $(counts)," \
	"droverd fds $fds0 -> $(ls /proc/$pid/fd | wc -l)"
check "100 create/delete cycles through droverd ($round rounds done)" [ "$round" = 20 ]
five_ips() { [ "$(printf '%s\n' "${ips[@]}" | grep -c "^${CIDR%.0/*}\.")" = 5 ] &&
	[ "$(printf '%s\n' "${ips[@]}" | sort -u | wc -l)" = 5 ]; }
check "5 VMIs at once got 5 different pod IPs (${ips[*]})" five_ips
check "... nothing leaked: netns, links, node nft tables, held IPs, nsfs mounts" [ "$(counts)" = "$base" ]
warm=$(grep -c 'pod network netd.cyc-.* (a warm netns)' "$T/droverd.log")
echo "# of the 100 cycles' set-ups, $warm were served from the warm pool"
check "... droverd holds no more fds (taps, DHCP sockets) than before" [ "$(ls /proc/$pid/fd | wc -l)" -le "$fds0" ]
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "droverd stops cleanly (status 0, no leaks)" test "$rc" = 0
pool_gone() { [ "$(pool_count)" = 0 ] && ! grep -q " $NETNS/\.pool-" /proc/mounts; }
check "... and removes its warm pool (no .pool- netns file or mount left)" pool_gone
echo "1..$n"
exit $failed
