#!/usr/bin/env bats
# handler = "exec": a program per connection, inetd style.

load helpers

@test "the socket is the program's stdin and stdout; half-close reaches it" {
	exec_service '"/usr/bin/tr", "a-z", "A-Z"'
	run -0 timeout 5 bash -c "printf 'abc\n' | nc -N 127.0.0.1 $PORT"
	assert_output "ABC"
	wait_for 5 log_has_n 1 "prog .*: pid [0-9]+ exited with status 0"
}

@test "the program gets the tcpserver variables and env" {
	exec_service '"/usr/bin/env"' 'env = [ "GREETING=hello world", "PATH=/bin" ];'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_line "PROTO=TCP"
	assert_line "TCPREMOTEIP=127.0.0.1"
	assert_line --regexp '^TCPREMOTEPORT=[0-9]+$'
	assert_line "TCPLOCALIP=127.0.0.1"
	assert_line "TCPLOCALPORT=$PORT"
	assert_line "GREETING=hello world"
	assert_line "PATH=/bin"
	[ "$(grep -c '^PATH=' <<<"$output")" -eq 1 ]
	# Nothing of tcpd's own environment.
	refute_line --regexp '^TCPD='
}

@test "TCPLOCALIP is the address the client reached, behind a wildcard too" {
	PORT=$(free_port)
	write_conf '' "$(conf_service prog exec "\"0.0.0.0:$PORT\"" 'exec = [ "/usr/bin/env" ];')"
	start_tcpd
	run -0 timeout 5 nc -d 127.0.0.2 "$PORT"
	assert_line "TCPLOCALIP=127.0.0.2"
	assert_line "TCPLOCALPORT=$PORT"
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_line "TCPLOCALIP=127.0.0.1"
}

@test "the program has fds 0, 1, 2 only, a clean signal mask, its own process group in its worker's session" {
	# The last command replaces the shell, so it reads the program's own
	# signal state (a shell blocks signals for a moment while it forks).
	exec_service '"/bin/sh", "-c", "ls /proc/$$/fd; ps -o pgid=,sid=,ppid= -p $$; echo $$; exec grep -E \"^Sig(Blk|Ign)\" /proc/self/status"'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_equal "$(sed -n 1,3p <<<"$output" | tr '\n' ' ')" "0 1 2 "
	read -r pgid sid ppid <<<"$(sed -n 4p <<<"$output")"
	pid=$(sed -n 5p <<<"$output")
	# It leads its group; the session is its worker's, which leads it.
	assert_equal "$pgid" "$pid"
	assert_equal "$sid" "$ppid"
	assert_equal "$(ps -o ppid= -p "$ppid" | tr -d ' ')" "$TCPD_PID"
	assert_line --regexp '^SigBlk:[[:space:]]+0+$'
	assert_line --regexp '^SigIgn:[[:space:]]+0+$'
}

# nonblock_bit: the O_NONBLOCK bit (0 or 1) of a "flags:" line of
# /proc/PID/fdinfo in $output.
nonblock_bit() {
	local flags
	flags=$(awk '$1 == "flags:" { print $2 }' <<<"$output")
	[ -n "$flags" ] || return 1
	echo $(( (8#$flags >> 11) & 1 ))
}

@test "the program's socket blocks, as inetd's programs expect" {
	exec_service '"/bin/sh", "-c", "grep ^flags: /proc/$$/fdinfo/0"'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_line --regexp '^flags:'
	assert_equal "$(nonblock_bit)" 0
}

@test "the program's stderr goes to the log, line by line, not to the client" {
	exec_service '"/bin/sh", "-c", "echo out; echo first >&2; echo second >&2"'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output "out"
	wait_for 5 log_has_n 1 'prog\[[0-9]+\]: first$'
	wait_for 5 log_has_n 1 'prog\[[0-9]+\]: second$'
}

# stderr_accounted N: the program's stderr lines logged plus those said
# not logged make N.
stderr_accounted() {
	local logged dropped
	logged=$(log_count 'prog\[[0-9]+\]: [0-9]+$')
	dropped=$(grep -oE 'prog\[[0-9]+\]: [0-9]+ lines? of programs. stderr not logged' "$LOG" |
	    awk '{ n += $2 } END { print n + 0 }')
	[ $((logged + dropped)) -eq "$1" ]
}

@test "a program that floods its stderr: at most 100 lines a second, the rest counted" {
	exec_service '"/bin/sh", "-c", "seq 1 200000 >&2; echo done"'
	run -0 timeout 20 nc -d 127.0.0.1 "$PORT"
	assert_output "done"
	wait_for 20 stderr_accounted 200000
	logged=$(log_count 'prog\[[0-9]+\]: [0-9]+$')
	echo "# $logged of 200000 lines logged" >&3
	[ "$logged" -ge 100 ]
	[ "$logged" -le 2000 ]
	assert_equal "$(grep -m1 'prog\[[0-9]*\]: 1$' "$LOG" | grep -c .)" 1
}

@test "the stderr bound is the service's: its workers share the 100 lines a second" {
	WORKERS=2
	exec_service '"/bin/sh", "-c", "seq 1 100000 >&2; echo done"'
	run -0 timeout 20 nc -d 127.0.0.1 "$PORT"
	assert_output "done"
	wait_for 20 stderr_accounted 100000
	grep -qE 'prog\[[0-9]+\]: [0-9]+ lines of programs. stderr not logged \(over 50 a second: the service.s 100, shared by its 2 workers\)$' "$LOG"
}

@test "a missing or unusable program is rejected by -t and by reload" {
	PORT=$(free_port)
	for prog in /nonexistent/prog "$T" "$T/plain" relative/prog; do
		: >"$T/plain"
		chmod 644 "$T/plain"
		write_conf '' "$(conf_service prog exec "\"127.0.0.1:$PORT\"" "exec = [ \"$prog\" ];")"
		run -1 "$TCPD" -t -c "$CONF"
		assert_output --regexp "^$CONF:[0-9]+: program "
	done
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --partial "program 'relative/prog' must be an absolute path"
	write_conf '' "$(conf_service prog exec "\"127.0.0.1:$PORT\"" 'exec = [ "/bin/cat" ];')"
	start_tcpd 1
	write_conf '' "$(conf_service prog exec "\"127.0.0.1:$PORT\"" 'exec = [ "/nonexistent/prog" ];')"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF:[0-9]+: program /nonexistent/prog: No such file or directory"
	assert_echo "$PORT" still
}

@test "exec and env belong to the exec handler" {
	printf '%s\n' 'services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7" ];' \
	    '  exec = [ "/bin/cat" ]; } );' >"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:2: 'exec' needs handler = \"exec\""
	printf '%s\n' 'services = ( { name = "e"; handler = "exec"; listen = [ "127.0.0.1:7" ]; } );' >"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:1: service 'e' has handler exec but no 'exec'"
	printf '%s\n' 'services = ( { name = "e"; handler = "exec"; listen = [ "127.0.0.1:7" ];' \
	    '  exec = [ "/bin/cat" ]; env = [ "1X=y" ]; } );' >"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:2: bad 'env' entry '1X=y': expected NAME=value"
}

@test "max_connections holds the next connection in the accept queue, across workers" {
	WORKERS=2
	exec_service '"/bin/cat"' 'max_connections = 2;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	exec 6<>"/dev/tcp/127.0.0.1/$PORT"
	echo one >&5; read -r -t 5 line <&5; [ "$line" = one ]
	echo two >&6; read -r -t 5 line <&6; [ "$line" = two ]
	# The third connects (the kernel completes the handshake) but waits,
	# unaccepted, whichever worker's socket it landed on.
	exec 7<>"/dev/tcp/127.0.0.1/$PORT"
	echo three >&7
	wait_for 5 accept_queue_is "$PORT" 1
	# Over a one-second measuring window, no answer.
	if read -r -t 1 line <&7; then
		fail "the third connection was served past max_connections: '$line'"
	fi
	# One ends: the third is accepted and served.
	exec 5>&-
	read -r -t 5 line <&7
	[ "$line" = three ]
	accept_queue_is "$PORT" 0
	exec 6>&- 7>&-
}

@test "clients that reset while they waited at max_connections get no program" {
	: >"$T/ran"
	one_service prog exec "workers = 1; max_connections = 2;
	    exec = [ \"/bin/sh\", \"-c\", \"echo ran >>$T/ran; exec cat\" ];"
	exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT"
	echo one >&5; read -r -t 5 line <&5; [ "$line" = one ]
	echo two >&6; read -r -t 5 line <&6; [ "$line" = two ]
	# Three more wait in the accept queue, then give up with an RST.
	python3 -c '
import socket, struct, sys, time
for i in range(3):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()' "$PORT"
	wait_for 5 accept_queue_is "$PORT" 3
	# Both units come free together: each queued one is asked, not only
	# the first taken after the wait.
	exec 5>&- 6>&-
	wait_for 5 log_has_n 3 'closed service=prog .* end=peer-RST reason="the client was gone before its program started"'
	[ "$(grep -c ran "$T/ran")" -eq 2 ]
	# The next one is served as usual.
	run -0 timeout 5 bash -c 'printf "three\n" | nc -N 127.0.0.1 "$1"' _ "$PORT"
	assert_output three
	[ "$(grep -c ran "$T/ran")" -eq 3 ]
}

@test "max_connections applies to built-in handlers too" {
	one_service echo echo 'workers = 1; max_connections = 1;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	echo one >&5; read -r -t 5 line <&5; [ "$line" = one ]
	exec 6<>"/dev/tcp/127.0.0.1/$PORT"
	wait_for 5 accept_queue_is "$PORT" 1
	wait_for 5 log_has_n 1 "echo: at max_connections \\(1\\): new connections on 127\\.0\\.0\\.1:$PORT wait in its accept queue"
	exec 5>&-
	wait_for 5 accept_queue_is "$PORT" 0
	echo two >&6; read -r -t 5 line <&6; [ "$line" = two ]
	exec 6>&-
}

@test "a worker killed at max_connections gives its share back" {
	one_service prog exec 'workers = 1; max_connections = 1; exec = [ "/bin/cat" ];'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	echo one >&5; read -r -t 5 line <&5; [ "$line" = one ]
	kill -KILL "$(workers)"
	wait_for 10 log_has_n 2 'worker [0-9]+ started: service prog slot 0'
	# Its program dies with it, and the client reads end of file.
	local rc=0
	read -r -t 5 line <&5 || rc=$?
	[ "$rc" -eq 1 ] || fail "read returned $rc ('${line:-}'), not end of file"
	assert_echo "$PORT" two
	exec 5>&-
}

@test "graceful stop lets programs finish; past shutdown_timeout they get SIGTERM" {
	TOP='shutdown_timeout = 30;'
	exec_service '"/bin/sh", "-c", "echo $$; sleep 1; echo done"'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	kill -QUIT "$TCPD_PID"
	read -r -t 10 line <&5
	[ "$line" = done ]
	wait_for 10 dead "$TCPD_PID"
	grep -qE "pid $pid exited with status 0" "$LOG"
	exec 5>&-
	stop_tcpd

	TOP='shutdown_timeout = 1;'
	: >"$LOG"
	exec_service '"/bin/sh", "-c", "echo $$; exec sleep 60"'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	kill -QUIT "$TCPD_PID"
	wait_for 10 dead "$pid"
	wait_for 10 dead "$TCPD_PID"
	grep -qE "pid $pid killed by signal 15" "$LOG"
	exec 5>&-
}

@test "stopping reaches what a program left running, and its stderr" {
	TOP='shutdown_timeout = 30;'
	# A silent background child (no pipe to die on), and one that writes
	# to stderr without end.
	exec_service '"/bin/sh", "-c", "sleep 60 & echo $!; (while :; do echo spam >&2; done) & exec sleep 60"'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 bg <&5
	wait_for 5 log_has_n 1 'prog\[[0-9]+\]: spam$'
	kill -TERM "$TCPD_PID"
	wait_for 10 dead "$TCPD_PID"
	wait_for 5 dead "$bg"
	exec 5>&-
}

@test "fast stop sends SIGTERM to programs at once" {
	TOP='shutdown_timeout = 30;'
	exec_service '"/bin/sh", "-c", "echo $$; exec sleep 60"'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	kill -TERM "$TCPD_PID"
	wait_for 5 dead "$pid"
	wait_for 5 dead "$TCPD_PID"
	grep -qE "pid $pid killed by signal 15" "$LOG"
	exec 5>&-
}
