#!/usr/bin/env bats
# The connection log: one line per connection's end and per refusal,
# refusals rate-limited per source, and the fail2ban filter run on lines
# tcpd wrote.

load helpers

# fail2ban-regex checks the filter; installed here if missing, as root.
setup_file() {
	command -v fail2ban-regex >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] || return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends fail2ban >/dev/null 2>&1 ||
	    { apt-get update -qq >/dev/null 2>&1 &&
	    apt-get install -y -qq --no-install-recommends fail2ban >/dev/null 2>&1; } ||
	    true
}

# connects PORT ADDR*N...: N connections to PORT from each ADDR in turn
# (to ::1 from an IPv6 ADDR, else to 127.0.0.1), one after another, each
# closed once the server has ended it (its FIN), or after 5 s: for
# clients that are refused.
connects() {
	python3 - "$@" <<'EOF'
import socket, sys
port = int(sys.argv[1])
for spec in sys.argv[2:]:
    addr, n = spec.rsplit("*", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    dst = "::1" if fam == socket.AF_INET6 else "127.0.0.1"
    for _ in range(int(n)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        s.bind((addr, 0))
        s.connect((dst, port))
        while s.recv(4096):
            pass
        s.close()
EOF
}

have_ipv6() {
	grep -qE '^0{31}1 ' /proc/net/if_inet6
}

server_resets() {	# server_resets PORT: an RST from the server's side
	packets | grep -qE "IP 127\\.0\\.0\\.1\\.$1 > .*Flags \\[[^]]*R"
}

# The parts of a closed line every test checks the same way.
D='duration=[0-9]+\.[0-9]{3}'
TI='rtt_ms=[0-9]+\.[0-9]{3} rttvar_ms=[0-9]+\.[0-9]{3} retrans=[0-9]+ lost=[0-9]+ cwnd=[0-9]+ delivery_Bps=[0-9]+ tcp_state=[A-Z-]+'

@test "one closed line per connection: bytes, who closed first, what close() sent" {
	one_service echo echo
	assert_echo "$PORT" hello
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=echo client=127\\.0\\.0\\.1:[0-9]+ local=127\\.0\\.0\\.1:$PORT $D in=6 out=6 first=client end=FIN reason=\"client EOF\" $TI\$"
	[ "$(log_count 'closed service=')" -eq 1 ]
	stop_tcpd

	# daytime: the server closes first, its FIN sent by shutdown().
	one_service daytime daytime
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=daytime client=127\\.0\\.0\\.1:[0-9]+ local=127\\.0\\.0\\.1:$PORT $D in=0 out=26 first=server end=shutdown-FIN reason=\"answer sent\" $TI\$"
}

@test "IPv6 addresses are bracketed" {
	have_ipv6 || skip "::1 is not configured"
	PORT=$(free_port)
	write_conf '' "$(conf_service echo6 echo "\"[::1]:$PORT\"" 'workers = 1;')"
	start_tcpd 1
	assert_echo "$PORT" six ::1
	wait_for 5 log_has_n 1 "closed service=echo6 client=\\[::1\\]:[0-9]+ local=\\[::1\\]:$PORT $D in=4 out=4 first=client end=FIN "
}

@test "end=RST: tcpd closes with input unread, and the wire shows an RST" {
	one_service echo echo
	capture_start "$PORT"
	# bash never reads fd 3: echo stops reading once its output is stuck.
	timeout 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; head -c 100000000 /dev/zero >&3" &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 20 queues_full "$PORT" server
	kill -TERM "$TCPD_PID"		# a fast stop closes it as it is
	wait_for 10 log_has_n 1 "closed service=echo client=127\\.0\\.0\\.1:[0-9]+ local=127\\.0\\.0\\.1:$PORT $D in=[0-9]+ out=[0-9]+ first=server end=RST reason=\"fast stop\" $TI\$"
	wait_for 5 server_resets "$PORT"
}

@test "end=peer-RST: the client reset the connection" {
	one_service echo echo
	python3 -c '
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"hi\n")
got = b""
while len(got) < 3:
    got += s.recv(3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()' "$PORT"
	wait_for 5 log_has_n 1 "closed service=echo client=127\\.0\\.0\\.1:[0-9]+ local=127\\.0\\.0\\.1:$PORT $D in=3 out=3 first=client end=peer-RST reason=\"reset by peer\" $TI\$"
}

@test "exec: the line comes at the program's exit, with its pid and status" {
	one_service prog exec 'exec = [ "/bin/sh", "-c", "echo $$; cat >/dev/null; exit 3" ];'
	run -0 timeout 5 bash -c "printf x | nc -N 127.0.0.1 $PORT"
	pid=$output
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=prog client=127\\.0\\.0\\.1:[0-9]+ local=127\\.0\\.0\\.1:$PORT $D in=- out=- first=- end=program program=$pid exit=3 reason=\"program exited with status 3\"\$"
	stop_tcpd

	one_service prog exec 'exec = [ "/bin/sh", "-c", "echo $$; kill -KILL $$" ];'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	pid=$output
	wait_for 5 log_has_n 1 "closed service=prog .* end=program program=$pid exit=SIGKILL reason=\"program killed by signal 9 \\(Killed\\)\"\$"
}

@test "a refusal has its line, with the rule, and no closed line" {
	one_service e echo '' 'access = [ "deny 127.0.0.2", "allow all" ];'
	connects "$PORT" '127.0.0.2*1'
	assert_echo "$PORT" ok
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: refused service=e client=127\\.0\\.0\\.2:[0-9]+ local=127\\.0\\.0\\.1:$PORT reason=\"access rule 1 'deny 127\\.0\\.0\\.2'\"\$"
	wait_for 5 log_has_n 1 'closed service=e client=127\.0\.0\.1:'
	stop_tcpd			# every connection has ended
	[ "$(log_count 'closed service=e client=127\.0\.0\.2:')" -eq 0 ]
	[ "$(log_count 'refused service=')" -eq 1 ]
}

@test "a source refused over and over: 5 lines, then one summary; another source keeps its line" {
	# No watchdog and no idle timer: the summary's own deadline must wake
	# the worker.
	one_service e echo 'idle_timeout = 0;' 'watchdog_timeout = 0;
	    access = [ "deny 127.0.0.2", "deny 127.0.0.3", "allow all" ];'
	connects "$PORT" '127.0.0.2*50' '127.0.0.3*1'
	[ "$(log_count 'refused service=e client=127\.0\.0\.2:[0-9]+ local=')" -eq 5 ]
	[ "$(log_count "refused service=e client=127\\.0\\.0\\.3:[0-9]+ local=127\\.0\\.0\\.1:$PORT reason=")" -eq 1 ]
	# The other 45 in one line, at the end of the source's 10 s.
	wait_for 15 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: refused service=e client=127\\.0\\.0\\.2 count=45 seconds=[0-9]+\\.[0-9]{3} reason=\"access rule 1 'deny 127\\.0\\.0\\.2'\" note=\"not logged one by one\"\$"
	stop_tcpd
	[ "$(log_count 'refused service=e client=127\.0\.0\.2 count=')" -eq 1 ]
	[ "$(log_count 'refused service=e client=127\.0\.0\.3 ')" -eq 0 ]
}

@test "many sources: 100 lines one by one per worker, 256 sources counted, the rest together" {
	one_service e echo '' 'access = [ "deny all" ];'
	# 20 sources take the worker's 100 lines of the interval ...
	specs=()
	for i in $(seq 1 20); do specs+=("127.1.0.$i*5"); done
	# ... then 300 more, once each: 256 fit in the table, 44 do not.
	for i in $(seq 1 300); do specs+=("127.2.$((i / 256)).$((i % 256))*1"); done
	connects "$PORT" "${specs[@]}"
	[ "$(log_count 'refused service=e client=127\.1\.0\.[0-9]+:[0-9]+ local=')" -eq 100 ]
	[ "$(log_count 'refused service=e client=127\.2\.')" -eq 0 ]
	stop_tcpd			# a worker's exit logs what is owed
	[ "$(log_count 'refused service=e client=127\.2\.[0-9.]+ count=1 ')" -eq 256 ]
	[ "$(log_count 'refused service=e client=- count=44 seconds=[0-9.]+ reason="access rule 1 .deny all." note=')" -eq 1 ]
	[ "$(log_count 'refused service=')" -eq $(( 100 + 256 + 1 )) ]
}

@test "log_connections = false: no line per connection; refusals in summaries" {
	one_service e echo 'log_connections = false;' \
	    'access = [ "deny 127.0.0.2", "allow all" ];'
	assert_echo "$PORT" hi
	connects "$PORT" '127.0.0.2*3'
	wait_for 5 log_has_n 1 'e 127\.0\.0\.1:[0-9]+: connected'	# debug
	stop_tcpd
	[ "$(log_count 'closed service=')" -eq 0 ]
	[ "$(log_count 'refused service=e client=127\.0\.0\.2:')" -eq 0 ]
	[ "$(log_count 'refused service=e client=127\.0\.0\.2 count=3 ')" -eq 1 ]
}

# Refusals for fail2ban: tcpd refuses 127.0.0.2 3 times, ::1 twice and
# 127.0.0.3 8 times (5 lines and a summary), an exec program writes a
# refusal-like line to its stderr, and the lines tcpd wrote go to
# $T/syslog and $T/syslog.iso as syslog files hold them.  Sets
# refusals (the count of refusal lines) and want (the addresses a
# filter must find, sorted).
refusal_logs() {
	PORT=$(free_port)
	P2=$(free_port)
	# A program that writes a refusal-like line to its stderr, which
	# tcpd logs as "forge[PID]: ...": it must not count.
	printf '%s\n' 'echo "refused service=e client=192.0.2.99:1 local=127.0.0.1:1 reason=\"forged\"" >&2' >"$T/forge.sh"
	write_conf 'access = [ "deny 127.0.0.2", "deny 127.0.0.3", "deny ::1", "allow all" ];' \
	    "$(conf_service e echo "\"127.0.0.1:$PORT\", \"[::1]:$PORT\"" 'workers = 1;')
$(conf_service forge exec "\"127.0.0.1:$P2\"" "workers = 1; exec = [ \"/bin/sh\", \"$T/forge.sh\" ];")"
	start_tcpd 2
	assert_echo "$PORT" allowed
	connects "$PORT" '127.0.0.2*3' '::1*2' '127.0.0.3*8'
	run -0 timeout 5 nc -d 127.0.0.1 "$P2"
	wait_for 5 log_has_n 1 'forge\[[0-9]+\]: refused service=e client=192\.0\.2\.99'
	wait_for 5 log_has_n 2 'closed service='
	stop_tcpd			# the summary of 127.0.0.3's last 3
	refusals=$(log_count "^$LOG_TS tcpd\\[[0-9]+\\]: refused service=")
	[ "$refusals" -eq 11 ]		# 3 + 2 + 5 lines, 1 summary

	# The lines as syslog files hold them: classic, and RFC 3339 stamps.
	sed -nE "s/^$LOG_TS (tcpd\\[)/\\1/p" "$LOG" |
	    sed "s/^/$(date '+%b %e %H:%M:%S') testhost /" >"$T/syslog"
	sed -nE "s/^$LOG_TS (tcpd\\[)/\\1/p" "$LOG" |
	    sed "s/^/$(date '+%Y-%m-%dT%H:%M:%S.%6N%:z') testhost /" >"$T/syslog.iso"
	want=$(printf '%s\n' 127.0.0.2 127.0.0.2 127.0.0.2 ::1 ::1 \
	    127.0.0.3 127.0.0.3 127.0.0.3 127.0.0.3 127.0.0.3 127.0.0.3 | sort)
}

@test "the fail2ban filter matches every refusal line tcpd wrote, and no other" {
	command -v fail2ban-regex >/dev/null ||
	    skip "fail2ban-regex is missing (apt-get install fail2ban)"
	have_ipv6 || skip "::1 is not configured"
	refusal_logs
	# The filter as installed, in a copy of fail2ban's configuration.
	mkdir "$T/f2b"
	cp -r /etc/fail2ban/filter.d "$T/f2b/"
	cp "$BATS_TEST_DIRNAME/../conf/fail2ban/filter.d/tcpd.conf" "$T/f2b/filter.d/"
	# The journal's lines (backend = systemd) have the classic form.
	for each in "$T/syslog tcpd" "$T/syslog.iso tcpd" \
	    "$T/syslog tcpd[logtype=journal]"; do
		read -r f filter <<<"$each"
		run -0 fail2ban-regex -c "$T/f2b" -o ip "$f" "$filter"
		[ "${#lines[@]}" -eq "$refusals" ] ||
		    fail "$each: ${#lines[@]} matches for $refusals refusals: $output"
		[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$want" ] ||
		    fail "$each: matched $output"
	done
}

@test "fail2ban-regex takes the filter by its path, as shipped" {
	command -v fail2ban-regex >/dev/null ||
	    skip "fail2ban-regex is missing (apt-get install fail2ban)"
	have_ipv6 || skip "::1 is not configured"
	refusal_logs
	filter=$BATS_TEST_DIRNAME/../conf/fail2ban/filter.d/tcpd.conf
	for f in "$T/syslog" "$T/syslog.iso"; do
		run -0 fail2ban-regex -o ip "$f" "$filter"
		[ "${#lines[@]}" -eq "$refusals" ] ||
		    fail "$f: ${#lines[@]} matches for $refusals refusals: $output"
		[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$want" ] ||
		    fail "$f: matched $output"
	done
	# The summary, as an administrator reads it.
	run -0 fail2ban-regex "$T/syslog" "$filter"
	assert_line "Lines: $(wc -l <"$T/syslog") lines, 0 ignored, $refusals matched, $(( $(wc -l <"$T/syslog") - refusals )) missed"
}

@test "the fail2ban jail works unedited: its ban covers every TCP port" {
	command -v fail2ban-client >/dev/null ||
	    skip "fail2ban-client is missing (apt-get install fail2ban)"
	# fail2ban's configuration with the filter and the jail as installed.
	cp -r /etc/fail2ban "$T/f2b"
	cp "$BATS_TEST_DIRNAME/../conf/fail2ban/filter.d/tcpd.conf" "$T/f2b/filter.d/"
	cp "$BATS_TEST_DIRNAME/../conf/fail2ban/jail.d/tcpd.conf" "$T/f2b/jail.d/"
	run -0 timeout 20 fail2ban-client -c "$T/f2b" -d
	assert_line "['add', 'tcpd', 'systemd']"
	assert_line --partial "['set', 'tcpd', 'addfailregex', "
	run -0 grep -F "['multi-set', 'tcpd', 'action', " <<<"$output"
	assert_output --partial "['port', '0:65535'], ['protocol', 'tcp']"
}
