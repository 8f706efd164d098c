#!/usr/bin/env bats
# What TCP measured, in each connection's closed line: over a link the
# test makes slow and lossy between two network namespaces of its own.

load helpers

setup_file() {
	command -v nft >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] || return 0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends nftables >/dev/null 2>&1 || true
}

# Two namespaces joined by a veth pair: tcpd in $SRV on 10.77.0.1, the
# client in $CLI on 10.77.0.2.
make_link() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	SRV=tcpd-srv-$$ CLI=tcpd-cli-$$
	ip netns add "$SRV"
	ip netns add "$CLI"
	ip -n "$SRV" link add vs type veth peer name vc netns "$CLI"
	ip -n "$SRV" addr add 10.77.0.1/24 dev vs
	ip -n "$CLI" addr add 10.77.0.2/24 dev vc
	for ns in "$SRV" "$CLI"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$SRV" link set vs up
	ip -n "$CLI" link set vc up
}

start_in_srv() {
	PORT=$(free_port)
	write_conf '' "$(conf_service e echo "\"10.77.0.1:$PORT\"" 'workers = 1;')"
	ip netns exec "$SRV" "$TCPD" -f -c "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "worker [0-9]+ started"
}

# Send N bytes to the echo service from $CLI and read them all back.
echo_bytes() {
	ip netns exec "$CLI" timeout 120 python3 -c '
import socket, sys
n = int(sys.argv[2])
s = socket.create_connection(("10.77.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"x" * n)
s.shutdown(socket.SHUT_WR)
got = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    got += len(b)
assert got == n, (got, n)
' "$PORT" "$1"
}

# field NAME: its value in the closed line.
closed_field() {
	grep 'closed service=e ' "$LOG" | tail -n 1 | tr ' ' '\n' |
	    sed -n "s/^$1=//p"
}

@test "netem 50 ms each way and 5% loss: RTT near 100 ms, retransmits" {
	make_link
	tc -n "$SRV" qdisc add dev vs root netem delay 50ms loss 5% 2>/dev/null ||
	    skip "this kernel has no netem (CONFIG_NET_SCH_NETEM)"
	tc -n "$CLI" qdisc add dev vc root netem delay 50ms
	start_in_srv
	echo_bytes 300000
	wait_for 10 log_has_n 1 "closed service=e client=10\\.77\\.0\\.2:"
	rtt=$(closed_field rtt_ms)
	echo "# rtt_ms=$rtt retrans=$(closed_field retrans)" >&3
	[ "${rtt%.*}" -ge 90 ]
	[ "${rtt%.*}" -le 400 ]
	[ "$(closed_field retrans)" -gt 0 ]
}

@test "a slow link and dropped segments: the RTT grows, the retransmits show" {
	make_link
	command -v nft >/dev/null || skip "nft is not installed (Debian: nftables)"
	# 2 Mbit/s with a deep queue: a bulk transfer waits in it.
	tc -n "$SRV" qdisc add dev vs root tbf rate 2mbit burst 16kb latency 2s
	# One in 10 packets with data from tcpd is lost: dropped as it comes
	# in on the client's side (a drop on tcpd's own way out would only
	# make TCP send it again later, not count it lost).
	ip netns exec "$CLI" nft -f - <<'EOF'
table inet lossy {
	chain in {
		type filter hook input priority 0;
		ip saddr 10.77.0.1 meta length > 100 numgen random mod 10 == 0 drop
	}
}
EOF
	start_in_srv
	echo_bytes 1000000
	wait_for 10 log_has_n 1 "closed service=e client=10\\.77\\.0\\.2:"
	rtt=$(closed_field rtt_ms)
	echo "# rtt_ms=$rtt retrans=$(closed_field retrans) cwnd=$(closed_field cwnd)" >&3
	# Over a bare veth the RTT is some 50 us; the queue makes it tens
	# of milliseconds at least.
	[ "${rtt%.*}" -ge 20 ]
	[ "$(closed_field retrans)" -gt 0 ]
	[ "$(closed_field tcp_state)" = CLOSE-WAIT ]
}

@test "over loopback: sub-millisecond RTT, no retransmit" {
	one_service e echo
	assert_echo "$PORT" quick
	wait_for 5 log_has_n 1 "closed service=e "
	[ "$(closed_field retrans)" = 0 ]
	rtt=$(closed_field rtt_ms)
	[ "${rtt%.*}" -lt 5 ]
}

# bats keeps one teardown: run the library's, then remove our namespaces.
eval "helpers_$(declare -f teardown)"
teardown() {
	helpers_teardown
	[ -z "${SRV:-}" ] || ip netns del "$SRV" 2>/dev/null || true
	[ -z "${CLI:-}" ] || ip netns del "$CLI" 2>/dev/null || true
}
