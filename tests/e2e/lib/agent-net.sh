# shellcheck shell=bash
# tests/e2e/lib/agent-net.sh: the pod network's checks (issue 7) inside the
# lab's e2e (tests/e2e/agent-lab.sh sources it after agent-node.sh and
# calls these at its marked places; they share the node boot and the
# CirrOS guests, so they cost no boot of their own: about 2-3 min of
# console sessions under TCG).
#
#   net_e2e_prepare            the node's HTTP server's page under $tmp/root
#   net_e2e_before V1 V2       both VMIs' pod IPs (status, different, in the
#                              CIDR, the Pod's podIP); busybox httpd on the
#                              node; V2's console: eth0 10.0.2.2/24 (DHCP
#                              during boot), a server (nc -l) on 8080
#   NET_STEPS_V1               vmmcon steps for V1's login session (set by
#                              net_e2e_before): udhcpc gets 10.0.2.2, ping
#                              10.0.2.1, wget from the node through the NAT,
#                              V2 reached at its pod IP, a server on 8080
#   net_e2e_after V1 V2 FILE   checks on V1's session text FILE; the node
#                              reaches both guests' servers at their pod IPs
#   net_e2e_probes VMI         its readinessProbe (httpGet) and livenessProbe
#                              (tcpSocket) reached the guest through the pod
#                              IP (the guest's server logs each request)
#   net_e2e_gone               after the deletes: no netns, no held address
NET_CIDR_PREFIX=10.244.0.
NET_NODE_PORT=8000

net_e2e_prepare() {
	mkdir -p "$tmp/root/opt/e2e/www"
	echo DROVER-NODE-HTTP > "$tmp/root/opt/e2e/www/node.txt"
	# Addresses held by VMIs (not by droverd's warm pool, ".pool-"
	# owners): the IPAM log's last line per address says.
	cat > "$tmp/root/opt/e2e/ipam-held" << 'EOF'
#!/bin/sh
awk '{ s[$1] = $2; o[$1] = $3 } END { n = 0; for (a in s) n += s[a] == "held" && o[a] !~ /^\.pool-/; print n }' "$1"
EOF
	chmod 0755 "$tmp/root/opt/e2e/ipam-held"
}

net_ip() { ctl_json get vmi "$1" -n $NS | jq -r '.status.interfaces[0].ipAddress // empty'; }
net_podip() {
	ctl_json get pods -n $NS | jq -r --arg v "$1" '.items[] |
		select(.metadata.labels["vm.kubevirt.io/name"] == $v) | .status.podIP // empty'
}

net_e2e_before() {
	local v1=$1 v2=$2 rc out
	net_ip1=$(net_ip "$v1") net_ip2=$(net_ip "$v2")
	check "pod network: $v1 and $v2 have different pod IPs in 10.244.0.0/24 ($net_ip1, $net_ip2)" \
		bash -c '[[ $1 == '"$NET_CIDR_PREFIX"'* && $2 == '"$NET_CIDR_PREFIX"'* && $1 != "$2" ]]' _ "$net_ip1" "$net_ip2"
	check "pod network: the Pods' podIP are the same ($(net_podip "$v1") $(net_podip "$v2"))" \
		[ "$(net_podip "$v1") $(net_podip "$v2")" = "$net_ip1 $net_ip2" ]
	out=$(ctl get vmi -n $NS 2>&1 | grep -c -e " $net_ip1 " -e " $net_ip2 ")
	check "pod network: droverctl get vmi shows both IPs ($out lines)" [ "$out" = 2 ]
	out=$(nx "httpd -p $NET_NODE_PORT -h /opt/e2e/www && echo started" 2>&1)
	check "pod network: busybox httpd on the node, port $NET_NODE_PORT ($out)" [ "$out" = started ]
	local steps=(
		"timeout:300" "expect:$v2 login:"
		'sendslow:cirros\n' 'expect:assword:' 'sendslow:gocubsgo\n' 'expect:$ '
		'sendslow:ip -4 -o addr show eth0 | grep -o "inet [0-9./]*" | sed s/^/NETIP:/\n' 'expect:\nNETIP:' 'expect:$ '
		'sendslow:nohup sh -c "while :; do echo DROVER-GUEST-$(hostname) | nc -l -p 8080; done" > /dev/null 2>&1 &\n'
		'expect:$ ' 'sendslow:exit\n' 'drain:1000'
	)
	node_exec "$name" --timeout 360 -- "vmmcon -t 30 -o $D/net-v2.log unix:$RUNV/$NS/$v2/console.sock $(printf "'%s' " "${steps[@]}")" \
		> /dev/null 2> "$tmp/net-v2.err"
	rc=$?
	node_get "$name" "$D/net-v2.log" "$tmp/net-v2.raw" 2> /dev/null
	tr -d '\r' < "$tmp/net-v2.raw" > "$tmp/net-v2.txt" 2> /dev/null
	check "pod network: $v2: logged in, eth0 is '$(grep -o '^NETIP:.*' "$tmp/net-v2.txt" | head -n 1 | cut -d: -f2-)', a server on 8080 (vmmcon $rc)" \
		bash -c '[ "$1" = 0 ] && grep -q "^NETIP:inet 10.0.2.2/24" "$2"' _ "$rc" "$tmp/net-v2.txt"
	NET_STEPS_V1=(
		"timeout:240"
		'sendslow:ip -4 -o addr show eth0 | grep -o "inet [0-9./]*" | sed s/^/NETIP:/\n' 'expect:\nNETIP:' 'expect:$ '
		'sendslow:sudo udhcpc -i eth0 -n -q -t 5 2>&1 | grep -io "lease of [0-9.]* obtained" | sed s/^/NETDHCP:/; echo D-$((2*3))-DONE\n'
		'expect:D-6-DONE' 'expect:$ '
		'sendslow:ping -c 1 -W 5 10.0.2.1 | grep -c "bytes from" | sed s/^/NETPING:/\n' 'expect:\nNETPING:' 'expect:$ '
		'sendslow:sed s/^/NETMAC:/ /sys/class/net/eth0/address\n' 'expect:\nNETMAC:' 'expect:$ '
		"sendslow:wget -q -O - http://${NET_CIDR_PREFIX}1:$NET_NODE_PORT/node.txt | sed s/^/NETNODE:/; echo W-\$((2*4))-DONE\\n"
		'expect:W-8-DONE' 'expect:$ '
		"sendslow:nc -w 3 $net_ip2 8080 < /dev/null | sed s/^/NETPEER:/; echo P-\$((3*3))-DONE\\n"
		'expect:P-9-DONE' 'expect:$ '
		'sendslow:nohup sh -c "while :; do echo DROVER-GUEST-$(hostname) | nc -l -p 8080; done" > /dev/null 2>&1 &\n'
		'expect:$ '
	)
}

net_e2e_after() {
	local v1=$1 v2=$2 f=$3 out
	nval() { grep -o "^$1:.*" "$f" | head -n 1 | cut -d: -f2-; }
	check "pod network: $v1: eth0 got 10.0.2.2/24 by DHCP at boot ('$(nval NETIP)')" \
		[ "$(nval NETIP)" = "inet 10.0.2.2/24" ]
	check "pod network: $v1: udhcpc gets 10.0.2.2 again ('$(nval NETDHCP)')" \
		[ "$(nval NETDHCP | tr A-Z a-z)" = "lease of 10.0.2.2 obtained" ]
	check "pod network: $v1: ping -c1 10.0.2.1 ('$(nval NETPING)' replies)" [ "$(nval NETPING)" = 1 ]
	out=$(ctl_json get vmi "$v1" -n $NS | jq -r '.status.interfaces[0].mac')
	check "pod network: $v1: the guest's eth0 MAC is status.interfaces[0].mac ('$(nval NETMAC)', '$out')" \
		[ "$(nval NETMAC)" = "$out" ]
	check "pod network: $v1: wget from the node's httpd through the NAT ('$(nval NETNODE)')" \
		[ "$(nval NETNODE)" = DROVER-NODE-HTTP ]
	check "pod network: $v1 reaches $v2 at its pod IP $net_ip2 through the node ('$(nval NETPEER)')" \
		[ "$(nval NETPEER)" = "DROVER-GUEST-$v2" ]
	# V1's server was started at the end of its session: on a loaded
	# node the guest may take a few seconds to listen.
	net_reach() { out=$(nx "nc -w 3 $1 8080 < /dev/null" 2> /dev/null | tr -d '\r'); [ "$out" = "$2" ]; }
	wait_until 60 3 net_reach "$net_ip1" "DROVER-GUEST-$v1"
	check "pod network: the node reaches $v1's server at its pod IP $net_ip1 ('$out')" \
		[ "$out" = "DROVER-GUEST-$v1" ]
	wait_until 60 3 net_reach "$net_ip2" "DROVER-GUEST-$v2"
	check "pod network: the node reaches $v2's server at its pod IP $net_ip2 ('$out')" \
		[ "$out" = "DROVER-GUEST-$v2" ]
}

net_e2e_probes() {
	local v=$1 n_http=0 n_tcp=0
	# The probes run every 5 s (readiness) and 10 s (liveness) once the
	# guest's server listens: the console is fetched again until both have
	# been logged (the guest's console may interleave other output on the
	# line, hence no anchor at the start).
	probes_seen() {
		con "$v"
		n_http=$(grep -c 'DROVER-HTTP-REQ:GET /healthz HTTP/1.1' "$tmp/$v.con")
		n_tcp=$(grep -c 'DROVER-HTTP-REQ:none$' "$tmp/$v.con")
		[ "$n_http" -ge 1 ] && [ "$n_tcp" -ge 1 ]
	}
	wait_until 90 5 probes_seen
	check "pod network: $v: its readinessProbe httpGet reached the guest at its pod IP ($n_http requests logged)" \
		[ "$n_http" -ge 1 ]
	check "pod network: $v: its livenessProbe tcpSocket reached the guest too ($n_tcp connections logged)" \
		[ "$n_tcp" -ge 1 ]
}

net_e2e_gone() {
	local left
	# (droverd's warm pool, .pool- netns with their addresses, stays)
	left=$(nx "ls -A /run/drover/netns | grep -v '^\.pool-'; echo '|'; /opt/e2e/ipam-held /var/lib/drover/net/ipam" 2>&1 | tr '\n' ' ')
	check "pod network: deleted: no VMI netns, no address held by a VMI ($left)" \
		bash -c '[ "$(tr -d " " <<< "$1")" = "|0" ]' _ "$left"
}
