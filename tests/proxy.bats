#!/usr/bin/env bats
# The PROXY protocol: a trusted balancer's header names the client, who
# is then served, checked and logged as that client; a header missing,
# bad, cut or late is refused, and so is a peer that is not trusted.

load helpers

SEND="$BATS_TEST_DIRNAME/proxy_send"

# proxy_service NAME HANDLER [EXTRA] [VERSIONS]: one service taking
# VERSIONS (default "any") from 127.0.0.1, started.
proxy_service() {
	one_service "$1" "$2" "proxy_protocol = \"${4:-any}\"; trusted_proxies = [ \"127.0.0.1\" ]; ${3:-}"
}

# send ARGS...: proxy_send to $PORT; what came back in $output.
send() {
	run -0 timeout 20 "$SEND" "$PORT" "$@"
}

@test "v1 TCP4, TCP6 and UNKNOWN: served as the header's client" {
	proxy_service e echo
	send --v1 "TCP4 192.0.2.1 198.51.100.7 56324 443" --data hello
	assert_output hello
	send --v1 "TCP6 2001:db8::1 2001:db8::2 40000 443" --data six
	assert_output six
	send --v1 UNKNOWN --data unknown
	assert_output unknown
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=e client=192\\.0\\.2\\.1:56324 local=127\\.0\\.0\\.1:$PORT proxy=127\\.0\\.0\\.1:[0-9]+ duration=\\S+ in=5 out=5 "
	wait_for 5 log_has_n 1 "closed service=e client=\\[2001:db8::1\\]:40000 local=127\\.0\\.0\\.1:$PORT proxy=127\\.0\\.0\\.1:[0-9]+ .* in=3 out=3 "
	# UNKNOWN: the real peer stands, and is the proxy too.
	wait_for 5 log_has_n 1 "closed service=e client=127\\.0\\.0\\.1:([0-9]+) local=127\\.0\\.0\\.1:$PORT proxy=127\\.0\\.0\\.1:[0-9]+ .* in=7 out=7 "
}

@test "v2 PROXY (IPv4, IPv6) and LOCAL: served" {
	proxy_service e echo
	send --v2 192.0.2.5:1111 198.51.100.7:443 --data v2
	assert_output v2
	send --v2 "[2001:db8::5]:2222" "[2001:db8::7]:443" --data v2six
	assert_output v2six
	send --v2-local --data local
	assert_output local
	wait_for 5 log_has_n 1 "closed service=e client=192\\.0\\.2\\.5:1111 local=\\S+ proxy=127\\.0\\.0\\.1:[0-9]+ .* in=2 out=2 "
	wait_for 5 log_has_n 1 "closed service=e client=\\[2001:db8::5\\]:2222 local=\\S+ proxy=127\\.0\\.0\\.1:[0-9]+ .* in=5 out=5 "
	wait_for 5 log_has_n 1 "closed service=e client=127\\.0\\.0\\.1:[0-9]+ local=\\S+ proxy=127\\.0\\.0\\.1:[0-9]+ .* in=5 out=5 "
	[ "$(log_count 'refused service=e ')" -eq 0 ]
}

@test "a program's socket blocks, though its header was read on the loop" {
	proxy_service x exec 'exec = [ "/bin/sh", "-c", "grep ^flags: /proc/$$/fdinfo/0" ];'
	send --v1 "TCP4 192.0.2.1 198.51.100.7 56324 443"
	flags=$(awk '$1 == "flags:" { print $2 }' <<<"$output")
	[ -n "$flags" ]
	assert_equal "$(( (8#$flags >> 11) & 1 ))" 0
}

@test "a program behind a balancer leaves a process holding the socket: what the client sends after goes nowhere freed" {
	# The program's record goes once its process group is empty, while a
	# process that left the group (setsid) still holds the socket; the
	# socket, whose header was read on the loop, must be off epoll by then.
	# It ends once its child has left the group (at most 5 s).
	cat >"$T/prog" <<'EOF'
setsid sleep 4 &
i=0
while [ "$(ps -o pgid= -p $! | tr -d ' ')" = "$$" ] && [ $i -lt 500 ]; do
	sleep 0.01
	i=$((i + 1))
done
echo started
EOF
	proxy_service x exec "exec = [ \"/bin/sh\", \"$T/prog\" ];"
	local w
	w=$(workers)
	[ -n "$w" ]
	run -0 timeout 20 python3 -c '
import re, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")
print(s.recv(100).decode().strip())
deadline = time.time() + 10
while time.time() < deadline and not re.search(r"closed service=x .*end=program", open(sys.argv[2]).read()):
    time.sleep(0.05)
for _ in range(5):
    s.sendall(b"after\n")
    time.sleep(0.1)
s.close()' "$PORT" "$LOG"
	assert_output started
	log_has_n 1 'closed service=x .*end=program'
	# The worker served on: it did not die on an event for freed memory.
	run ! grep -E 'unexpectedly|killed by signal' "$LOG"
	assert_equal "$(workers)" "$w"
}

@test "a program sees the header's client, its destination and the proxy" {
	proxy_service x exec 'exec = [ "/usr/bin/env" ];'
	send --v2 192.0.2.9:1234 198.51.100.8:443 --authority example.org \
	    --unique-id 0001ff7a
	assert_line TCPREMOTEIP=192.0.2.9
	assert_line TCPREMOTEPORT=1234
	assert_line TCPLOCALIP=198.51.100.8
	assert_line TCPLOCALPORT=443
	assert_line TCPPROXYIP=127.0.0.1
	assert_line --regexp '^TCPPROXYPORT=[0-9]+$'
	assert_line PROXY_AUTHORITY=example.org
	assert_line PROXY_UNIQUE_ID=0001ff7a
	# v1, and LOCAL: no TLVs; LOCAL keeps the real addresses.
	send --v1 "TCP4 192.0.2.10 198.51.100.9 5 6"
	assert_line TCPREMOTEIP=192.0.2.10
	assert_line TCPLOCALPORT=6
	refute_line --partial PROXY_AUTHORITY
	send --v2-local
	assert_line TCPREMOTEIP=127.0.0.1
	assert_line TCPLOCALPORT="$PORT"
	assert_line TCPPROXYIP=127.0.0.1
	wait_for 5 log_has_n 1 "closed service=x client=192\\.0\\.2\\.9:1234 local=\\S+ proxy=127\\.0\\.0\\.1:[0-9]+ .* end=program "
}

@test "header and data in one segment, or a byte at a time: exactly the data" {
	proxy_service e echo
	send --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data "after the header"
	assert_output "after the header"
	send --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data "one by one" --split
	assert_output "one by one"
	send --v2 192.0.2.1:1 198.51.100.7:2 --authority a.example --data "v2 split" --split
	assert_output "v2 split"
	# A program gets the bytes after the header too, and nothing else.
	stop_tcpd
	proxy_service c exec 'exec = [ "/bin/cat" ];'
	send --v2 192.0.2.1:1 198.51.100.7:2 --data "to cat" --split
	assert_output "to cat"
	send --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data "to cat, whole"
	assert_output "to cat, whole"
}

@test "no header, garbage, a version not taken: refused with the reason" {
	proxy_service e echo 'refuse_message = "no\r\n";' v2
	send --data "plain data, no header"
	assert_output $'no\r'
	send --raw 0d0a0d0a000d0a515549540a3f11000c
	assert_output $'no\r'
	send --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data x
	assert_output $'no\r'
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.1:([0-9]+) local=127\\.0\\.0\\.1:$PORT proxy=127\\.0\\.0\\.1:[0-9]+ reason=\"no PROXY header\""
	wait_for 5 log_has_n 1 "refused service=e .* reason=\"PROXY v2 header: unknown version\""
	wait_for 5 log_has_n 1 "refused service=e .* reason=\"PROXY v1 header where only v2 is taken\""
	[ "$(log_count 'closed service=e ')" -eq 0 ]
}

@test "a header cut short: refused at the client's FIN, or after proxy_timeout" {
	proxy_service e echo 'proxy_timeout = 1;'
	send --raw "$(printf 'PROXY TCP4 192.0.2.1' | od -An -tx1 | tr -d ' \n')"
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=e .* reason=\"PROXY header cut short by the client's FIN\""
	# Silent after part of it: refused once the second has passed.
	run -0 timeout 20 "$SEND" "$PORT" --raw 0d0a0d0a000d0a51 --silent --time
	assert_output --regexp '^[1-3]\.[0-9]+$'
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.1:[0-9]+ local=\\S+ proxy=\\S+ reason=\"no whole PROXY header within 1 s\""
	[ "$(log_count 'closed service=e ')" -eq 0 ]
}

@test "a peer outside trusted_proxies is refused before a byte is read" {
	proxy_service e echo 'refuse_message = "go away\r\n";'
	send --from 127.0.0.2 --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data x
	assert_output $'go away\r'
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.2:[0-9]+ local=127\\.0\\.0\\.1:$PORT reason=\"not a trusted proxy\"$"
	send --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data trusted
	assert_output trusted
}

@test "access rules apply to the header's client, not to the proxy" {
	proxy_service e echo 'access = [ "deny 192.0.2.7", "deny 127.0.0.1", "allow all" ];'
	send --v1 "TCP4 192.0.2.7 198.51.100.7 1 2" --data denied
	assert_output ""
	send --v1 "TCP4 192.0.2.8 198.51.100.7 1 2" --data allowed
	assert_output allowed
	wait_for 5 log_has_n 1 "refused service=e client=192\\.0\\.2\\.7:1 local=\\S+ proxy=127\\.0\\.0\\.1:[0-9]+ reason=\"access rule 1 'deny 192\\.0\\.2\\.7'\""
	# LOCAL: the proxy itself is the client, and 127.0.0.1 is denied.
	send --v2-local --data local
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.1:[0-9]+ .* reason=\"access rule 2 'deny 127\\.0\\.0\\.1'\""
}

# Both held connections are up.
both_up() {
	[ -s "$T/up1" ] && [ -s "$T/up2" ]
}

@test "per_source counts the header's client: one each, through one proxy" {
	proxy_service e echo 'per_source = { max_connections = 1; };'
	# Two clients, one connection each, held open through the proxy.
	"$SEND" "$PORT" --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --hold "$T/up1" &
	BG_PIDS="$!"
	"$SEND" "$PORT" --v1 "TCP4 192.0.2.2 198.51.100.7 1 2" --hold "$T/up2" &
	BG_PIDS="$BG_PIDS $!"
	wait_for 5 both_up
	wait_for 5 log_has_n 2 "e 192\\.0\\.2\\.[12]:1: connected"
	send --v1 "TCP4 192.0.2.1 198.51.100.7 3 2" --data second
	assert_output ""
	wait_for 5 log_has_n 1 "refused service=e client=192\\.0\\.2\\.1:3 local=\\S+ proxy=127\\.0\\.0\\.1:[0-9]+ reason=\"per_source max_connections 1\""
	send --v1 "TCP4 192.0.2.3 198.51.100.7 1 2" --data third
	assert_output third
}

@test "connections waiting for their header are bounded per worker" {
	# A bound of 2 (a test hook), so that three silent ones show it.
	one_service_conf e echo 'proxy_protocol = "v1"; trusted_proxies = [ "127.0.0.1" ]; proxy_timeout = 10;'
	TCPD_TEST_PROXY_WAITING=2 start_tcpd
	"$SEND" "$PORT" --raw 50 --hold "$T/up1" &
	BG_PIDS="$!"
	"$SEND" "$PORT" --raw 50 --hold "$T/up2" &
	BG_PIDS="$BG_PIDS $!"
	wait_for 5 both_up
	wait_for 5 established_n "$PORT" 2
	# The third is refused at once, not after proxy_timeout.
	run -0 timeout 20 "$SEND" "$PORT" --raw 50 --silent --time
	assert_output --regexp '^0\.[0-9]+$'
	wait_for 5 log_has_n 1 "refused service=e client=127\\.0\\.0\\.1:[0-9]+ local=\\S+ proxy=\\S+ reason=\"too many connections waiting for their PROXY header\""
	[ "$(log_count 'reason="too many connections waiting')" -eq 1 ]
}

# established_n PORT N: N connections to PORT established, server side.
established_n() {
	[ "$(ss -Htn state established "( sport = :$1 )" | grep -c .)" -eq "$2" ]
}

@test "a connection waiting for its header holds its max_connections unit" {
	proxy_service e echo 'max_connections = 1; proxy_timeout = 1;'
	"$SEND" "$PORT" --raw 50 --hold "$T/up1" &
	BG_PIDS="$!"
	wait_for 5 test -s "$T/up1"
	# Queued behind the silent one until its header times out.
	send --v1 "TCP4 192.0.2.1 198.51.100.7 1 2" --data queued
	assert_output queued
	wait_for 5 log_has_n 1 "closed service=e client=192\\.0\\.2\\.1:1 "
	refused=$(grep -n 'reason="no whole PROXY header within 1 s"' "$LOG" | cut -d: -f1)
	served=$(grep -n 'closed service=e client=192\.0\.2\.1:1 ' "$LOG" | cut -d: -f1)
	[ -n "$refused" ]
	[ "$served" -gt "$refused" ]
}

# haproxy_conf FILE TCPD_PORT V1_PORT V2_PORT: haproxy in TCP mode in
# front of tcpd, one frontend sending v1, one v2, from 127.0.0.1.
haproxy_conf() {
	cat >"$1" <<-HAP
	global
	    maxconn 100
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 10s
	    timeout server 10s
	frontend v1
	    bind 127.0.0.1:$3
	    default_backend tcpd_v1
	frontend v2
	    bind 127.0.0.1:$4
	    default_backend tcpd_v2
	backend tcpd_v1
	    server t 127.0.0.1:$2 send-proxy source 127.0.0.1
	backend tcpd_v2
	    server t 127.0.0.1:$2 send-proxy-v2 source 127.0.0.1
	HAP
}

@test "behind the real HAProxy, send-proxy and send-proxy-v2" {
	command -v haproxy >/dev/null || skip "no haproxy (apt-get install haproxy)"
	proxy_service e echo
	P1=$(free_port)
	P2=$(free_port)
	haproxy_conf "$T/haproxy.cfg" "$PORT" "$P1" "$P2"
	haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	BG_PIDS="$!"
	wait_for 10 listening "$P1"
	wait_for 10 listening "$P2"
	for p in "$P1" "$P2"; do
		run -0 timeout 10 python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.3", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"through haproxy %s" % sys.argv[1].encode())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
' "$p"
		assert_output "through haproxy $p"
	done
	wait_for 5 log_has_n 2 "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=e client=127\\.0\\.0\\.3:[0-9]+ local=127\\.0\\.0\\.1:$PORT proxy=127\\.0\\.0\\.1:[0-9]+ .* in=2[0-9] out=2[0-9] "
	[ "$(log_count 'refused service=e ')" -eq 0 ]
}
