#!/usr/bin/env bats
# keepalive, user_timeout, defer_accept and nodelay: what the accepted
# socket has, what they do on the wire, and what a reload does to them.

load helpers

# A program that prints the TCP options of its own socket (fd 0), that
# is, of the connection tcpd accepted.
PROBE="import socket as s; k = s.socket(fileno=0); T = s.IPPROTO_TCP; g = k.getsockopt; print('nodelay=%d keepalive=%d idle=%d interval=%d count=%d user_timeout=%d' % (g(T, s.TCP_NODELAY) != 0, g(s.SOL_SOCKET, s.SO_KEEPALIVE), g(T, s.TCP_KEEPIDLE), g(T, s.TCP_KEEPINTVL), g(T, s.TCP_KEEPCNT), g(T, s.TCP_USER_TIMEOUT)))"

# probe_conf PORT SERVICE_EXTRA [TOP]: $CONF with the probe as an exec
# service on 127.0.0.1:PORT.
probe_conf() {
	[ -x /usr/bin/python3 ] || skip "the probe needs /usr/bin/python3"
	write_conf "${3:-}" "$(conf_service probe exec "\"127.0.0.1:$1\"" \
	    "workers = 1; exec = [ \"/usr/bin/python3\", \"-c\", \"$PROBE\" ]; $2")"
}

# probe_is WANT: a new connection's options, as its program sees them.
probe_is() {
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output "$1"
}

# The kernel's keepalive timings, as the sysctls say.
kernel_timings() {
	printf 'idle=%s interval=%s count=%s' \
	    "$(cat /proc/sys/net/ipv4/tcp_keepalive_time)" \
	    "$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)" \
	    "$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)"
}

@test "the accepted socket has the options; a reload changes and removes them" {
	PORT=$(free_port)
	probe_conf "$PORT" 'nodelay = true; keepalive = { idle = 20; interval = 7; count = 4; };' \
	    'user_timeout = 9;'
	start_tcpd 1
	probe_is "nodelay=1 keepalive=1 idle=20 interval=7 count=4 user_timeout=9000"
	# Removed timings are the sysctls' again, not the old values.
	probe_conf "$PORT" 'keepalive = true;'
	reload 2
	probe_is "nodelay=0 keepalive=1 $(kernel_timings) user_timeout=0"
	probe_conf "$PORT" 'keepalive = { interval = 3; };' 'nodelay = true;'
	reload 3
	probe_is "nodelay=1 keepalive=1 $(kernel_timings | sed 's/interval=[0-9]*/interval=3/') user_timeout=0"
	probe_conf "$PORT" ''
	reload 4
	probe_is "nodelay=0 keepalive=0 $(kernel_timings) user_timeout=0"
}

@test "an option the kernel refuses fails the start, and refuses a reload" {
	hooks || skip "needs ./configure --enable-test-hooks"
	PORT=$(free_port)
	probe_conf "$PORT" 'nodelay = true;'
	run -1 timeout 10 env TCPD_TEST_TCPOPT_FAIL=TCP_NODELAY "$TCPD" -f -c "$CONF"
	assert_output --partial "cannot set TCP options on 127.0.0.1:$PORT: TCP_NODELAY: Protocol not available"
	not_listening "$PORT"

	probe_conf "$PORT" ''
	TCPD_TEST_TCPOPT_FAIL=TCP_USER_TIMEOUT start_tcpd 1
	# nodelay is set before user_timeout fails: it must be undone.
	probe_conf "$PORT" 'nodelay = true; user_timeout = 3;'
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: cannot set TCP options on 127.0.0.1:$PORT: TCP_USER_TIMEOUT: Protocol not available; still running generation 1"
	probe_is "nodelay=0 keepalive=0 $(kernel_timings) user_timeout=0"
}

@test "bad TCP option values are FILE:LINE errors at -t" {
	local svc='services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7" ]; } );'
	check "1: 'idle' must be between 1 and 32767, not 0" \
	    'keepalive = { idle = 0; interval = 1; };' "$svc"
	check "2: 'count' must be between 1 and 127, not 200" \
	    '' 'keepalive = { count = 200; };' "$svc"
	check "1: 'keepalive' must be true, false, or a group like { idle = 60; interval = 10; count = 5; }" \
	    'keepalive = "yes";' "$svc"
	check "1: unknown key 'probes' in 'keepalive'" \
	    'keepalive = { probes = 3; };' "$svc"
	check "1: 'user_timeout' must be between 0 and 2147483, not -1" \
	    'user_timeout = -1;' "$svc"
	check "1: 'defer_accept' must be between 0 and 3600, not 3601" \
	    'defer_accept = 3601;' "$svc"
	check "1: 'nodelay' must be true or false" 'nodelay = 1;' "$svc"
}

# ------------------------------------------------- silent clients, loopback

# A client of PORT that connects and sends nothing, for up to 30 s.
silent_client() {
	timeout 30 nc -d 127.0.0.1 "$1" >/dev/null &
	BG_PIDS="${BG_PIDS:-} $!"
}

syn_recv() {	# syn_recv PORT: a connection in SYN-RECV, server side
	[ -n "$(ss -Htn state syn-recv "( sport = :$1 )")" ]
}

@test "defer_accept: a silent client waits unaccepted; one that talks is served at once" {
	one_service echo echo 'defer_accept = 5;'
	silent_client "$PORT"
	# Linux keeps it as a handshake: the client is ESTABLISHED, the
	# server side still SYN-RECV, nothing in the accept queue.
	wait_for 5 syn_recv "$PORT"
	wait_for 5 tcp_state_is "$PORT" dport ESTAB
	accept_queue_is "$PORT" 0
	assert_echo "$PORT" talker
	syn_recv "$PORT"
	[ "$(log_count ': connected')" -eq 1 ]
	# Once the time is up (rounded up to SYN-ACK retransmissions: 7 s
	# for 5), the next ACK from the client makes it a connection.
	wait_for 15 log_has_n 2 ': connected'
	wait_for 5 established "$PORT"
}

@test "without defer_accept, a silent client is accepted at once" {
	one_service echo echo
	silent_client "$PORT"
	wait_for 5 log_has_n 1 ': connected'
	wait_for 5 established "$PORT"
}

# ------------------------------------------ a dead peer, in namespaces

# Two network namespaces joined by a veth pair: tcpd runs in $NS_S on
# 10.77.0.1, the client in $NS_C on 10.77.0.2.  TCPD becomes a wrapper
# that runs tcpd in $NS_S, so start_tcpd and stop_tcpd work as usual.
net_setup() {
	[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
	command -v tcpdump >/dev/null || skip "tcpdump is not installed"
	NS_S=tcpd-s-$$-$BATS_TEST_NUMBER NS_C=tcpd-c-$$-$BATS_TEST_NUMBER
	ip netns add "$NS_S"
	ip netns add "$NS_C"
	ip link add s0 netns "$NS_S" type veth peer name c0 netns "$NS_C"
	ip -n "$NS_S" addr add 10.77.0.1/24 dev s0
	ip -n "$NS_C" addr add 10.77.0.2/24 dev c0
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_C" link set c0 up
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS_S" "$TCPD" \
	    >"$T/tcpd-in-ns"
	chmod +x "$T/tcpd-in-ns"
	TCPD=$T/tcpd-in-ns
}

# bats keeps one teardown: run the library's, then remove our namespaces.
eval "helpers_$(declare -f teardown)"
teardown() {
	exec 4>&-
	helpers_teardown
	[ -z "${NS_S:-}" ] || ip netns del "$NS_S" 2>/dev/null || true
	[ -z "${NS_C:-}" ] || ip netns del "$NS_C" 2>/dev/null || true
}

# ns_service HANDLER EXTRA: one service on 10.77.0.1:$PORT in $NS_S.
ns_service() {
	PORT=$(free_port)
	write_conf '' "$(conf_service svc "$1" "\"10.77.0.1:$PORT\"" "workers = 1; idle_timeout = 0; $2")"
	start_tcpd 1
}

# ns_state STATE: the server's side of the connection is in STATE.
ns_state() {
	[ -n "$(ip netns exec "$NS_S" ss -Htn state "$1" "( sport = :$PORT )")" ]
}
ns_closed() {
	[ -z "$(ip netns exec "$NS_S" ss -Htn state connected "( sport = :$PORT )")" ]
}

# The client's side of the link goes dead: it loses its address, so what
# reaches it is dropped without an answer, and it cannot send a FIN or
# an RST.  The server's side stays up.
cut() {
	ip -n "$NS_C" addr del 10.77.0.2/24 dev c0
}

ns_capture_start() {
	ip netns exec "$NS_S" tcpdump -i s0 -n -U -w "$T/cap.pcap" \
	    "tcp port $PORT" 2>"$T/tcpdump.err" &
	CAP_PID=$!
	BG_PIDS="${BG_PIDS:-} $CAP_PID"
	wait_for 10 grep -q 'listening on' "$T/tcpdump.err"
}

# Segments from the server with no payload and no SYN, FIN or RST:
# keepalive probes, once nothing else is to be acknowledged.
server_bare_acks() {
	tcpdump -r "$T/cap.pcap" -n 2>/dev/null |
	    grep -E "IP 10\.77\.0\.1\.$PORT > .*Flags \[\.\],.* length 0$" || true
}

@test "keepalive finds a dead peer after idle + interval x count" {
	net_setup
	ns_service echo 'keepalive = { idle = 2; interval = 1; count = 3; };'
	mkfifo "$T/in"
	ip netns exec "$NS_C" timeout 30 nc 10.77.0.1 "$PORT" <"$T/in" >"$T/out" &
	BG_PIDS="${BG_PIDS:-} $!"
	exec 4>"$T/in"
	echo hello >&4
	wait_for 5 grep -qx hello "$T/out"
	ns_capture_start
	cut
	# Well before idle: still there.
	ns_state established
	wait_for 30 ns_closed
	wait_for 5 log_has_n 1 "Connection timed out"
	capture_stop
	exec 4>&-
	run server_bare_acks
	echo "$output"
	[ "${#lines[@]}" -ge 1 ]
}

@test "user_timeout ends a connection whose data goes unacknowledged" {
	net_setup
	ns_service chargen 'user_timeout = 3;'
	ip netns exec "$NS_C" timeout 30 nc -d 10.77.0.1 "$PORT" >/dev/null &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 5 ns_state established
	cut
	ns_state established
	# Without it, the kernel retransmits for about 15 minutes.
	wait_for 20 ns_closed
	wait_for 5 log_has_n 1 "Connection timed out"
}
