#!/usr/bin/env bats
# access: allow/deny rules by client address, checked right after accept.

load helpers

# echo_from SOURCE PORT TEXT [HOST]: a client bound to SOURCE sends TEXT to
# HOST:PORT (default 127.0.0.1) and half-closes; the reply in $output.
echo_from() {
	run -0 timeout 5 bash -c 'printf "%s\n" "$1" | nc -N -s "$2" "$4" "$3"' \
	    echo_from "$3" "$1" "$2" "${4:-127.0.0.1}"
}

@test "rules apply in order, the first match wins" {
	one_service e echo '' \
	    'access = [ "deny 127.0.0.2", "allow 127.0.0.0/8", "deny all" ];'
	echo_from 127.0.0.1 "$PORT" one
	assert_output one
	echo_from 127.0.0.2 "$PORT" two
	assert_output ""
	echo_from 127.0.0.3 "$PORT" three
	assert_output three
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.2:[0-9]+ local=127\\.0\\.0\\.1:$PORT reason=\"access rule 1 'deny 127\\.0\\.0\\.2'\"$"
	[ "$(log_count 'refused service=e ')" -eq 1 ]
}

@test "a service's own list replaces the global one; no match is refused" {
	one_service e echo 'access = [ "allow 127.0.0.3" ];' \
	    'access = [ "allow all" ];'
	echo_from 127.0.0.3 "$PORT" three
	assert_output three
	echo_from 127.0.0.1 "$PORT" one
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.1:[0-9]+ local=\\S+ reason=\"no access rule matches\""
}

@test "deny all refuses everyone" {
	one_service e echo '' 'access = [ "deny all" ];'
	echo_from 127.0.0.1 "$PORT" x
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.1:[0-9]+ local=\\S+ reason=\"access rule 1 'deny all'\""
}

@test "a refusal gives its max_connections unit back" {
	one_service e echo 'max_connections = 1;' \
	    'access = [ "deny 127.0.0.2", "allow all" ];'
	for i in 1 2 3; do
		echo_from 127.0.0.2 "$PORT" "x$i"
		assert_output ""
	done
	wait_for 5 log_has_n 3 "refused service=e client=127\\.0\\.0\\.2:[0-9]+ .*reason=\"access rule 1 "
	# Units kept would leave this one waiting in the queue.
	echo_from 127.0.0.1 "$PORT" served
	assert_output served
}

@test "a refused client gets EOF: its data read, a FIN, no RST" {
	one_service e echo '' 'access = [ "deny 127.0.0.2", "allow all" ];'
	capture_start "$PORT"
	# The data waits with the connection in the queue (the worker is
	# stopped), so it is there when the connection is refused.
	queued_data_client "$PORT" "$T/out" 127.0.0.2
	[ ! -s "$T/out" ]
	wait_for 5 has_server_fin "$PORT"
	[ -z "$(resets)" ] || fail "refused with an RST: $(resets)"
	capture_stop
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.2:[0-9]+ .*reason=\"access rule 1 "
}

@test "refuse_message, then EOF: no RST, even for a client that goes on sending" {
	one_service e echo 'refuse_message = "busy, try later\r\n";' \
	    'access = [ "deny 127.0.0.2", "allow all" ];'
	capture_start "$PORT"
	# 200 KB after the refusal: tcpd reads it all until the client's FIN.
	run -0 timeout 20 python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
for _ in range(50):
    s.sendall(b"x" * 4096)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
sys.stdout.write(repr(got))' "$PORT"
	assert_output "b'busy, try later\\r\\n'"
	wait_for 5 has_server_fin "$PORT"
	[ -z "$(resets)" ] || fail "refused with an RST: $(resets)"
	capture_stop
}

@test "an exec service spawns no program for a refused client" {
	: >"$T/ran"
	one_service prog exec "exec = [ \"/bin/sh\", \"-c\", \"echo ran >>$T/ran; cat\" ];
	    access = [ \"allow 127.0.0.1\" ];"
	echo_from 127.0.0.2 "$PORT" refused
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=prog client=127\\.0\\.0\\.2:[0-9]+ .*reason=\"no access rule matches\""
	[ ! -s "$T/ran" ]
	# The program does run for an allowed client.
	echo_from 127.0.0.1 "$PORT" allowed
	assert_output allowed
	[ "$(cat "$T/ran")" = ran ]
}

@test "IPv6: ::1 allowed on one [::1] listener, denied on another" {
	grep -qE '^0{31}1 ' /proc/net/if_inet6 || skip "::1 is not configured"
	P1=$(free_port)
	P2=$(free_port)
	write_conf '' "$(conf_service ok echo "\"[::1]:$P1\"" 'workers = 1; access = [ "deny 127.0.0.1", "allow ::1", "deny all" ];')
$(conf_service no echo "\"[::1]:$P2\"" 'workers = 1; access = [ "allow 2001:db8::/32", "deny ::1/128" ];')"
	start_tcpd 2
	assert_echo "$P1" six ::1
	run -0 timeout 5 bash -c "printf 'x\n' | nc -N ::1 $P2"
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=no client=\\[::1\\]:[0-9]+ local=\\[::1\\]:$P2 reason=\"access rule 2 'deny ::1/128'\""
}

@test "bad rules are FILE:LINE errors at -t" {
	svc='{ name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; }'
	check "2: bad access rule 'permit 10.0.0.1': expected 'allow' or 'deny', then an address, a CIDR, or 'all'" \
	    'access = [ "deny 192.0.2.7",' '  "permit 10.0.0.1" ];' "services = ( $svc );"
	check "1: bad access rule 'allow nowhere': expected an IPv4 or IPv6 address, a CIDR, or 'all' after 'allow'" \
	    'access = [ "allow nowhere" ];' "services = ( $svc );"
	check "1: bad access rule 'allow 10.0.0.0/33': prefix /33 out of range (0-32)" \
	    'access = [ "allow 10.0.0.0/33" ];' "services = ( $svc );"
	check "1: bad access rule 'deny 2001:db8::/129': prefix /129 out of range (0-128)" \
	    'access = [ "deny 2001:db8::/129" ];' "services = ( $svc );"
	check "3: bad access rule 'allow 10.0.0.1/8': host bits set under /8" \
	    'services = (' '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ];' \
	    '    access = [ "allow 10.0.0.1/8" ]; }' ');'
	check "1: 'access' is empty: to refuse every client, say [ \"deny all\" ]" \
	    'access = [ ];' "services = ( $svc );"
}

@test "a reload with a bad rule is refused and keeps the old rules" {
	one_service e echo '' 'access = [ "allow all" ];'
	sed -i 's|"allow all"|"allow 10.0.0.1/8"|' "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF:[0-9]+: bad access rule 'allow 10\\.0\\.0\\.1/8': host bits set under /8"
	assert_echo "$PORT" still
}
