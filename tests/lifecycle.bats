#!/usr/bin/env bats
# The edges of a slot's life: spawns that fail (at start, at a respawn, at
# a reload), reloads that cut nothing, a reload that is slow to parse,
# signals that are not commands.

load helpers

title_is() {
	[ "$(master_title)" = "$1" ]
}

# The slot a worker started in, from the log.
slot_of() {
	sed -n "s/.*worker $1 started: service [a-z]* slot \([0-9]*\).*/\1/p" "$LOG"
}

# Clients that wait in the accept queues, PORT's total at least N.
accept_queue_at_least() {
	[ "$(ss -Htln "( sport = :$1 )" | awk '{ n += $2 } END { print n + 0 }')" -ge "$2" ]
}

@test "fork fails at a respawn: the slot is down, retried, and back by itself; its clients wait" {
	pids_cgroup
	one_service echo echo 'workers = 2; idle_timeout = 0;'
	victim=$(workers | head -n 1)
	slot=$(slot_of "$victim")
	no_more_forks
	kill -KILL "$victim"
	wait_for 10 log_has_n 1 "echo slot $slot is down: cannot start a worker: fork: Resource temporarily unavailable; retrying in 1 s, then with back-off up to 60 s"
	wait_for 5 title_is "tcpd: master -c $CONF [down: echo/$slot]"
	# Clients meanwhile: those the kernel gives the dark slot wait in its
	# queue (the master holds the socket), the others are served.
	for i in $(seq 1 10); do
		(echo "queued $i" | timeout 30 nc -N 127.0.0.1 "$PORT" >"$T/out.$i") &
		BG_PIDS="${BG_PIDS:-} $!"
	done
	wait_for 10 accept_queue_at_least "$PORT" 1
	# The next try fails too: said at debug level, not again as news.
	wait_for 10 log_has_n 1 "echo slot $slot: retrying in 2000 ms"
	[ "$(log_count 'is down')" -eq 1 ]
	alive "$TCPD_PID"
	# Room again: the slot comes back within its back-off, by itself.
	echo max >"$CG/pids.max"
	wait_for 10 log_has_n 1 "worker [0-9]+ started: service echo slot $slot generation 1, [0-9]+ ms after the last one died"
	wait_for 5 log_has_n 1 "echo slot $slot is served again"
	queued_clients_answered 10
	wait_for 5 title_is "tcpd: master -c $CONF"
	[ "$(nworkers)" -eq 2 ]
}

@test "fork fails at a reload: the old worker serves on; the new one starts when it can" {
	pids_cgroup
	one_service echo echo 'workers = 1;'
	old=$(workers)
	no_more_forks
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'reload: generation 2 started'
	wait_for 10 log_has_n 1 'echo slot 0: cannot start a worker: fork: Resource temporarily unavailable; its generation 1 worker serves on meanwhile'
	[ "$(workers)" = "$old" ]
	assert_echo "$PORT" "still served"
	echo max >"$CG/pids.max"
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service echo slot 0 generation 2'
	wait_for 10 dead "$old"
	wait_for 5 log_has_n 1 "worker $old \(echo slot 0 generation 1\) exited with status 0, [0-9.]+ s after it was asked to retire"
	assert_echo "$PORT" "new generation"
}

@test "a worker that cannot be started at start: exit 1 with the reason, no port left accepting" {
	pids_cgroup
	A=$(free_port) B=$(free_port)
	write_conf '' "$(conf_service a echo "\"127.0.0.1:$A\"" 'workers = 1;'
	    conf_service b echo "\"127.0.0.1:$B\"" 'workers = 1;')"
	# tcpd and the first worker fit, not its acceptor thread or a second.
	echo 2 >"$CG/pids.max"
	run -1 timeout 20 bash -c "echo \$\$ >$CG/cgroup.procs && exec \"$TCPD\" -f -c \"$CONF\""
	assert_output --regexp 'cannot start: .*(cannot start a worker: fork: Resource temporarily unavailable|before it was ready)'
	refute_output --partial 'tcpd 0.1.0 started'
	not_listening "$A"
	not_listening "$B"
}

@test "too few fds for the master: start and -t refuse, with the reason" {
	services=
	for i in $(seq 1 40); do
		services+=$(conf_service "s$i" echo "\"127.0.0.1:$(free_port)\"" 'workers = 1;')$'\n'
	done
	write_conf '' "$services"
	run -1 bash -c "ulimit -n 64 && exec \"$TCPD\" -t -c \"$CONF\""
	assert_output "$CONF: tcpd would not start: the configuration needs 98 file descriptors in the master (one per listen address and one per worker, 18 more of its own), and the limit is 64 (ulimit -Hn)"
	# A hard limit that holds them: start raises the soft one to it.
	run -0 bash -c "ulimit -Sn 64 && ulimit -Hn 120 && exec \"$TCPD\" -t -c \"$CONF\""
	assert_line --partial "warning: a reload needs 138 file descriptors"
	assert_line "$CONF: configuration OK"
	run -1 timeout 20 bash -c "ulimit -n 64 && exec \"$TCPD\" -f -c \"$CONF\""
	assert_output --partial "cannot start: the configuration needs 98 file descriptors in the master"
	for p in $(grep -o '127\.0\.0\.1:[0-9]*' "$CONF" | cut -d: -f2); do
		not_listening "$p"
	done
}

@test "a reload cuts no program, past shutdown_timeout; a second reload changes nothing for it" {
	one_service prog exec \
	    'exec = [ "/bin/sh", "-c", "read l; sleep 20; echo done $l" ];' \
	    'shutdown_timeout = 2;'
	old=$(workers)
	(echo hello | timeout 60 nc -N 127.0.0.1 "$PORT" >"$T/session") &
	session=$!
	BG_PIDS=$session
	wait_for 5 log_has_n 1 'prog .*: handed to pid [0-9]+'
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'reload: generation 2 started'
	wait_for 10 log_has_n 1 'prog slot 0: retiring, 1 connection open, no deadline'
	[ "$(ps -o args= -p "$old")" = "tcpd: worker prog slot 0 (retiring)" ]
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'reload: generation 3 started'
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service prog slot 0 generation 3'
	# The session runs its 20 s, well past shutdown_timeout and the 5 s
	# grace after it, and ends as the program ends it.
	wait "$session"
	BG_PIDS=
	[ "$(cat "$T/session")" = "done hello" ]
	wait_for 10 log_has_n 1 "worker $old \(prog slot 0 generation 1\) exited with status 0, [0-9]+\.[0-9]{3} s after it was asked to retire"
	[ "$(log_count 'killing it|retire timeout|shutdown timeout')" -eq 0 ]
}

@test "retire_timeout, when set, ends what a retired worker still holds" {
	one_service echo echo 'idle_timeout = 0;' 'retire_timeout = 1;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	echo before >&5
	read -r -t 5 line <&5
	[ "$line" = before ]
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'echo slot 0: retiring, 1 connection open, 1 s at most'
	wait_for 10 log_has_n 1 'closed service=echo .* reason="retire timeout"'
	# The client reads the end of the connection.
	if read -r -t 5 line <&5; then
		fail "the connection is still open: read '$line'"
	fi
	exec 5>&-
}

@test "a reload that is slow to parse does not hold up a respawn" {
	one_service echo echo 'workers = 1;'
	# A large comment: about a second to parse, under the 1 MiB bound.
	head -c 1000000 /dev/zero | tr '\0' x | sed 's/^/# /' >>"$CONF"
	echo >>"$CONF"
	w=$(workers)
	kill -HUP "$TCPD_PID"
	kill -KILL "$w"
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service echo slot 0 generation 1, [0-9]+ ms after the last one died'
	wait_for 30 log_has_n 1 'reload: generation 2 started'
	respawned=$(grep -nE 'started: service echo slot 0 generation 1, ' "$LOG" | cut -d: -f1)
	reloaded=$(grep -n 'reload: generation 2 started' "$LOG" | cut -d: -f1)
	(( respawned < reloaded )) || fail "the respawn waited for the parse"
	assert_echo "$PORT" after
}

# The state letter of a process in /proc: Z for a zombie.
proc_state_is() {
	[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = "$2" ]
}

@test "the respawn log measures from the death, also when the master was stopped meanwhile" {
	one_service echo echo 'workers = 1;'
	w=$(workers)
	kill -STOP "$TCPD_PID"
	kill -KILL "$w"
	wait_for 5 proc_state_is "$w" Z
	# The master stays stopped for a second past the death: the window
	# whose length the log must not leave out.
	sleep 1
	kill -CONT "$TCPD_PID"
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service echo slot 0 generation 1, at most [0-9]+ ms after the last one died'
	ms=$(sed -n 's/.*generation 1, at most \([0-9]*\) ms after.*/\1/p' "$LOG")
	(( ms >= 1000 )) || fail "said $ms ms; the master was stopped for 1000"
	# Not stopped: measured at once, without "at most".
	w=$(workers)
	kill -KILL "$w"
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service echo slot 0 generation 1, [0-9]+ ms after the last one died'
}

@test "signals that are not commands are logged, not obeyed" {
	one_service echo echo 'workers = 1;'
	w=$(workers)
	kill -USR2 "$TCPD_PID"
	wait_for 5 log_has_n 1 "signal 12 \(User defined signal 2\) ignored: the master takes HUP, QUIT, TERM, INT, TTIN and TTOU"
	kill -HUP "$w"
	wait_for 5 log_has_n 1 "echo slot 0: signal 1 \(Hangup\) ignored: signals are for the master"
	alive "$TCPD_PID"
	[ "$(workers)" = "$w" ]
	assert_echo "$PORT" alive
}

@test "started with stdin and stdout closed: they are /dev/null, and every log line and program still has its place" {
	write_conf '' "$(conf_service prog exec "\"127.0.0.1:$(free_port)\"" \
	    'workers = 1; exec = [ "/bin/sh", "-c", "echo to-stderr >&2; read l; echo \"$l\"" ];')"
	PORT=$(grep -o '127\.0\.0\.1:[0-9]*' "$CONF" | cut -d: -f2)
	"$TCPD" -f -c "$CONF" <&- >&- 2>>"$LOG" &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "tcpd\\[$TCPD_PID\\]: worker [0-9]+ started"
	local w
	w=$(workers)
	[ "$(readlink "/proc/$TCPD_PID/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$TCPD_PID/fd/1")" = /dev/null ]
	[ "$(readlink "/proc/$w/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$w/fd/1")" = /dev/null ]
	run -0 timeout 5 bash -c 'printf "back\n" | nc -N 127.0.0.1 "$1"' _ "$PORT"
	assert_output back
	# The program's stderr, read and logged by its worker.
	wait_for 5 log_has_n 1 "tcpd\\[$w\\]: prog\\[[0-9]+\\]: to-stderr"
}
