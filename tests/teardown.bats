#!/usr/bin/env bats
# When close() sends a FIN, when it sends nothing, and when an RST: seen
# on the wire with tcpdump, and in the socket states ss shows.

load helpers

# service NAME HANDLER [EXTRA]: one service on $PORT, capture started.
service() {
	one_service "$1" "$2" "workers = 1; ${3:-}" 'shutdown_timeout = 2;'
	capture_start "$PORT"
}

@test "exec: no FIN after the worker's close(); the FIN leaves when the program exits" {
	service prog exec 'exec = [ "/bin/sh", "-c", "echo $$; exec sleep 2" ];'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	wait_for 5 log_has_n 1 "handed to pid $pid; the worker closed its copy before the program started, and that close sent nothing: pid $pid holds the only copy"
	# The worker's copy is closed, the program's still open: no FIN.
	alive "$pid"
	[ -z "$(server_fins "$PORT")" ] || fail "FIN while pid $pid runs: $(server_fins "$PORT")"
	wait_for 10 dead "$pid"
	wait_for 5 has_server_fin "$PORT"
	run -0 timeout 5 cat <&5
	exec 5>&-
}

# fin_senders: of the server sockets on $PORT that sent the first FIN
# (ESTABLISHED to FIN_WAIT1), the name of the process that sent each,
# as the kernel traced it ($TRACE, a tracefs instance), one a line.
fin_senders() {
	grep 'newstate=TCP_FIN_WAIT1' "$TRACE/trace" |
	    awk -v p="sport=$PORT" '$0 ~ p { sub(/-[0-9]+$/, "", $1); print $1 }'
}

@test "exec: a program that ends at once sends the FIN itself, never the worker's close (kernel trace, one CPU)" {
	need_root "a tracefs instance"
	[ -d /sys/kernel/tracing/events/sock/inet_sock_set_state ] ||
	    skip "no tracefs with sock:inet_sock_set_state"
	TRACE=$(mktemp -d -u /sys/kernel/tracing/instances/tcpd-test.XXXXXX)
	mkdir "$TRACE" || skip "cannot make a tracefs instance"
	service prog exec 'exec = [ "/bin/true" ];'
	echo "sport == $PORT" >"$TRACE/events/sock/inet_sock_set_state/filter"
	echo 1 >"$TRACE/events/sock/inet_sock_set_state/enable"
	# One CPU for the worker and what it starts: a program as short as
	# true then often ends before the worker runs again.
	local w n
	w=$(workers)
	[ -n "$w" ]
	taskset -a -p -c 0 "$w" >/dev/null
	for n in $(seq 1 40); do
		run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	done
	echo 0 >"$TRACE/events/sock/inet_sock_set_state/enable"
	run fin_senders
	[ "${#lines[@]}" -eq 40 ] || fail "$(printf '%s\n' "${lines[@]}" | sort | uniq -c)"
	# Each FIN left from the program's exit: none from a tcpd worker.
	[ "$(printf '%s\n' "${lines[@]}" | grep -vc '^true$')" -eq 0 ] ||
	    fail "FINs by: $(printf '%s\n' "${lines[@]}" | sort | uniq -c | tr '\n' ' ')"
}

@test "exec: a background child with the socket: no FIN at the program's exit, one at the child's" {
	service prog exec 'exec = [ "/bin/sh", "-c", "sleep 2 & echo $$ $!" ];'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid child <&5
	# The program has exited; its child still holds the socket: no FIN.
	wait_for 5 log_has_n 1 "pid $pid exited with status 0 after [0-9.]+ s; what it started in its process group still runs"
	alive "$child"
	[ -z "$(server_fins "$PORT")" ] || fail "FIN while pid $child holds the socket: $(server_fins "$PORT")"
	wait_for 10 dead "$child"
	wait_for 5 has_server_fin "$PORT"
	wait_for 5 log_has_n 1 "the last process of pid $pid's group ended"
	run -0 timeout 5 cat <&5
	exec 5>&-
}

@test "exec: closing stdout alone sends no FIN (stdin holds the socket); shutdown() does" {
	service prog exec 'exec = [ "/bin/sh", "-c", "echo $$; exec 1>&-; exec sleep 2" ];'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	wait_for 5 log_has_n 1 "handed to pid $pid"
	# It closed fd 1 at once; fd 0 is still a copy of the socket.
	wait_for 5 test ! -e "/proc/$pid/fd/1"
	alive "$pid"
	[ -z "$(server_fins "$PORT")" ] || fail "FIN with fd 0 still open"
	wait_for 10 dead "$pid"
	wait_for 5 has_server_fin "$PORT"
	exec 5>&-
	stop_tcpd
	capture_stop

	# shutdown(1, SHUT_WR) sends the FIN whoever else holds the socket.
	service prog exec 'exec = [ "/usr/bin/perl", "-e", "$| = 1; print qq($$\n); shutdown(STDOUT, 1) or die qq(shutdown: $!); sleep 5" ];'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	wait_for 5 has_server_fin "$PORT"
	alive "$pid"
	# The client sees EOF while the program still runs.
	run -0 timeout 3 cat <&5
	alive "$pid"
	exec 5>&-
}

@test "daytime: unread client input still ends in a FIN, not an RST" {
	service daytime daytime
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	# Input that daytime never reads.
	head -c 2000 /dev/zero | tr '\0' x >&5
	read -r -t 5 line <&5
	[[ "$line" =~ [0-9]{4}$'\r'$ ]]
	run -0 timeout 5 cat <&5		# EOF: the server's FIN
	exec 5>&-
	wait_for 5 log_has_n 1 "closed service=daytime .* in=2000 out=26 first=server end=shutdown-FIN reason=\"answer sent\""
	wait_for 5 has_server_fin "$PORT"
	[ -z "$(resets)" ] || fail "RST on the wire: $(resets)"
}

@test "TIME_WAIT lands on the side that closed first" {
	service echo echo
	assert_echo "$PORT" hi
	# echo: the client sent the first FIN, so its end waits.
	wait_for 5 tcp_state_is "$PORT" dport TIME-WAIT
	[ -z "$(tcp_state "$PORT" sport)" ]
	stop_tcpd
	capture_stop

	service daytime daytime
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	# daytime: the server sent the first FIN, so the server's end waits.
	wait_for 5 tcp_state_is "$PORT" sport TIME-WAIT
	[ -z "$(tcp_state "$PORT" dport)" ]
}

@test "CLOSE_WAIT: the client half-closes; the server end waits until the program exits" {
	service prog exec 'exec = [ "/bin/sh", "-c", "echo $$; exec sleep 2" ];'
	# A client that reads the pid, then shuts down its sending side only.
	perl -MIO::Socket::INET -e '
		$| = 1;
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:'"$PORT"'") or die "$!";
		my $pid = <$s>;
		print $pid;
		shutdown($s, 1) or die "shutdown: $!";
		sleep 10;' >"$T/pid" &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 5 test -s "$T/pid"
	pid=$(cat "$T/pid")
	# The program ignores its stdin, so nobody reads the client's FIN.
	wait_for 5 tcp_state_is "$PORT" sport CLOSE-WAIT
	alive "$pid"
	[ "$(tcp_state "$PORT" dport)" = "FIN-WAIT-2 " ]
	# When it exits, the last copy closes: FIN, and CLOSE_WAIT is over.
	wait_for 10 dead "$pid"
	wait_for 5 has_server_fin "$PORT"
	wait_for 5 tcp_state_is "$PORT" sport ""
}
