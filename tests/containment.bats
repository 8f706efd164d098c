#!/usr/bin/env bats
# Nothing a program starts escapes tcpd: what it leaves in the background
# holds its connection and its max_connections unit until it ends, is
# ended by timeout and by stop, and is ended when its worker dies.

load helpers

# in_cgroup: tcpd, started from now on, runs in a pids cgroup of this
# test's own ($CG), so that every process it and its programs start is
# seen there, whatever session or process group it moved to.
in_cgroup() {
	pids_cgroup
	printf '#!/bin/sh\necho $$ >"%s/cgroup.procs" && exec "%s" "$@"\n' \
	    "$CG" "$TCPD" >"$T/in-cgroup"
	chmod +x "$T/in-cgroup"
	TCPD=$T/in-cgroup
}

# cgroup_has N: N processes in $CG.
cgroup_has() {
	[ "$(grep -c . "$CG/cgroup.procs")" -eq "$1" ]
}

# eof_on FD: the next read on FD sees end of file within 10 s.
eof_on() {
	local line rc=0
	read -r -t 10 line <&"$1" || rc=$?
	[ "$rc" -eq 1 ] || fail "fd $1: read returned $rc ('${line:-}'), not end of file"
}

# quiet_on FD: for a second, neither data nor end of file on FD.
quiet_on() {
	local line rc=0
	read -r -t 1 line <&"$1" || rc=$?
	[ "$rc" -gt 128 ] || fail "fd $1: read returned $rc ('${line:-}'), expected nothing"
}

# conns_established: server-side ESTABLISHED connections on $PORT.
conns_established() {
	ss -Htn state established "( sport = :$PORT )" | grep -c . || true
}

@test "a background child holds the connection and its max_connections unit until it ends" {
	# The program prints its background child's pid and exits; the child
	# has the socket as its stdout.
	shell_service 'sleep 60 & echo $!' 'workers = 2; max_connections = 2;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 bg1 <&5
	exec 6<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 bg2 <&6
	wait_for 5 log_has_n 2 ': pid [0-9]+ exited with status 0 after [0-9.]+ s; what it started in its process group still runs, and the connection counts until the last of them ends$'
	# Both programs are gone, their children hold the sockets open.
	quiet_on 5
	alive "$bg1"
	# The cap still counts them: a third waits in the accept queue.
	exec 7<>"/dev/tcp/127.0.0.1/$PORT"
	wait_for 5 accept_queue_is "$PORT" 1
	quiet_on 7
	# The first child ends: its client reads EOF, the third gets in.
	kill "$bg1"
	eof_on 5
	read -r -t 5 bg3 <&7
	[ -n "$bg3" ]
	wait_for 5 log_has_n 1 "prog 127\\.0\\.0\\.1:[0-9]+: the last process of pid [0-9]+'s group ended after [0-9.]+ s$"
	wait_for 5 log_has_n 1 'closed service=prog .* end=program program=[0-9]+ exit=0 reason="program exited with status 0; the rest of its process group ended later"'
	kill "$bg2" "$bg3"
	exec 5>&- 6>&- 7>&-
}

@test "timeout ends what a program left behind, even if it ignores SIGTERM" {
	shell_service "trap '' TERM; sleep 60 & echo \$!" 'timeout = 1;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 bg <&5
	eof_on 5
	# Its socket closed as it died; it is gone once the worker reaps it.
	wait_for 5 dead "$bg"
	grep -qE "prog 127\\.0\\.0\\.1:[0-9]+: process group [0-9]+ still running after its timeout of 1 s: SIGTERM to its process group$" "$LOG"
	grep -qE "prog 127\\.0\\.0\\.1:[0-9]+: process group [0-9]+ still running 2 s after SIGTERM: SIGKILL to its process group$" "$LOG"
	exec 5>&-
}

@test "kill -9 of a worker with three programs: all they started ends, the cap held until then" {
	# Each program and its background child ignore SIGTERM: only the
	# master's SIGKILL, 2 s after its SIGTERM, ends them.
	shell_service "trap '' TERM; sleep 60 & echo \$\$ \$!; exec sleep 60" \
	    'max_connections = 3;'
	local pids=() fd a b
	for fd in 5 6 7; do
		eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
		read -r -t 5 a b <&"$fd"
		pids+=("$a" "$b")
	done
	exec 8<>"/dev/tcp/127.0.0.1/$PORT"
	wait_for 5 accept_queue_is "$PORT" 1
	worker=$(workers)
	kill -KILL "$worker"
	# While the master ends them (they ignore its SIGTERM for 2 s),
	# status shows them and their units stay counted.
	wait_for 5 log_has_n 1 "prog: worker $worker left 3 programs running"
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line "prog: 3 programs of dead workers being ended"
	assert_line --regexp "^prog +exec +[01]/1 +[0-9]+ +[0-9]+ +[0-9]+ +3/3 "
	run -0 "$TCPD" -c "$CONF" -s status --json
	assert_output --partial '"max_connections":3,"max_connections_used":3,"orphaned_programs":3,'
	# The fourth is served only once every process of the three is gone.
	read -r -t 10 a b <&8
	for p in "${pids[@]}"; do
		dead "$p" || fail "pid $p of a dead worker's program still runs while its unit went to another client"
	done
	for fd in 5 6 7; do
		eof_on "$fd"
	done
	[ "$(conns_established)" -eq 1 ]
	run -0 "$TCPD" -c "$CONF" -s status --json
	assert_output --partial '"max_connections":3,"max_connections_used":1,"orphaned_programs":0,'
	grep -qE "prog: worker $worker left 3 programs running: SIGTERM to their process groups, SIGKILL in 2 s; 3 max_connections units held until they end$" "$LOG"
	[ "$(log_count 'prog: process group [0-9]+ of a dead worker still running 2 s after SIGTERM: SIGKILL$')" -eq 3 ]
	[ "$(log_count 'prog: process group [0-9]+ of a dead worker ended after [0-9.]+ s$')" -eq 3 ]
	exec 5>&- 6>&- 7>&- 8>&-
}

@test "graceful and fast stop: no process a program started is left, in its group or out" {
	in_cgroup
	local sig
	for sig in QUIT TERM; do
		: >"$LOG"
		# A background child in the group holding the socket, and one
		# that left it (setsid, as a daemon does) holding nothing.
		TOP='shutdown_timeout = 1;'
		shell_service 'setsid -f sleep 61 </dev/null >/dev/null 2>&1; sleep 60 & echo started'
		exec 5<>"/dev/tcp/127.0.0.1/$PORT"
		read -r -t 5 line <&5
		[ "$line" = started ]
		wait_for 5 log_has_n 1 'what it started in its process group still runs'
		kill "-$sig" "$TCPD_PID"
		eof_on 5
		wait_for 10 dead "$TCPD_PID"
		wait_for 5 cgroup_empty
		[ "$(conns_established)" -eq 0 ]
		grep -qE 'prog: 1 process started by programs but out of their process groups still running: SIGTERM$' "$LOG"
		exec 5>&-
		TCPD_PID=
	done
}

@test "what a dead worker's program moved out of its group ends with the master" {
	in_cgroup
	shell_service 'setsid -f sleep 61 </dev/null >/dev/null 2>&1; echo started'
	assert_echo_started() {
		exec 5<>"/dev/tcp/127.0.0.1/$PORT"
		read -r -t 5 line <&5
		[ "$line" = started ]
		exec 5>&-
	}
	assert_echo_started
	kill -KILL "$(workers)"
	wait_for 10 log_has_n 2 'worker [0-9]+ started: service prog slot 0'
	# The worker is gone, its stray still runs, adopted by the master.
	wait_for 5 cgroup_has 3
	kill -TERM "$TCPD_PID"
	wait_for 10 dead "$TCPD_PID"
	wait_for 5 cgroup_empty
	grep -qE "^$LOG_TS tcpd\\[[0-9]+\\]: 1 process that programs of dead workers started, out of their process groups, still running: SIGTERM\$" "$LOG"
	TCPD_PID=
}
