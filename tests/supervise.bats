#!/usr/bin/env bats
# Supervision: crash loops, worker counts on signals, fd exhaustion.

load helpers

title_has() {
	master_title | grep -qF -- "$1"
}
title_clean() {		# no slot shown as failing
	case $(master_title) in
	*failing*) return 1 ;;
	esac
	return 0
}

# An exec service whose program we can break and mend: $T/prog.
prog_service() {
	printf '#!/bin/sh\necho ok\n' >"$T/prog"
	chmod 755 "$T/prog"
	one_service prog exec "workers = 1; exec = [ \"$T/prog\" ];" \
	    'respawn_window = 2; respawn_limit = 2;'
}

@test "a crash loop backs off, shows as failing, and recovers by itself" {
	prog_service
	[ "$(master_title)" = "tcpd: master -c $CONF" ]
	# The program becomes unusable: each new worker exits at start.
	chmod 644 "$T/prog"
	kill -KILL "$(workers)"
	wait_for 10 log_has_n 1 'prog slot 0 is failing: its workers died 2 times in a row within 2 s of starting; respawning with back-off from 1 s up to 60 s'
	[ "$(log_count 'is failing')" -eq 1 ]
	wait_for 5 title_has "[failing: prog/0]"
	alive "$TCPD_PID"
	# A client meanwhile waits in the queue, not refused.
	(timeout 30 nc -d 127.0.0.1 "$PORT" >"$T/out") &
	BG_PIDS=$!
	wait_for 5 accept_queue_is "$PORT" 1
	# Mended, the next respawn takes the client, and the slot recovers.
	chmod 755 "$T/prog"
	wait "$BG_PIDS"
	BG_PIDS=
	[ "$(cat "$T/out")" = ok ]
	wait_for 10 log_has_n 1 'prog slot 0 recovered: worker [0-9]+ has run for 2 s'
	wait_for 5 title_clean
}

@test "a reload clears a failing slot at once" {
	prog_service
	chmod 644 "$T/prog"
	kill -KILL "$(workers)"
	wait_for 10 title_has "[failing: prog/0]"
	chmod 755 "$T/prog"
	kill -HUP "$TCPD_PID"
	wait_for 5 log_has_n 1 'reload: generation 2 started'
	wait_for 5 log_has_n 1 'worker [0-9]+ started: service prog slot 0 generation 2'
	wait_for 5 title_clean
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output ok
}

@test "workers show what they serve in ps" {
	one_service echo echo 'workers = 2;'
	run -0 ps -o args= --ppid "$TCPD_PID"
	assert_line "tcpd: worker echo slot 0"
	assert_line "tcpd: worker echo slot 1"
}

@test "SIGTTIN and SIGTTOU add and remove a worker per service, until a reload" {
	A=$(free_port) B=$(free_port)
	write_conf '' "$(
	    conf_service echo echo "\"127.0.0.1:$A\"" 'workers = 2;'
	    conf_service daytime daytime "\"127.0.0.1:$B\"" 'workers = 1;')"
	start_tcpd 3
	kill -TTIN "$TCPD_PID"
	wait_for 10 nworkers_is 5
	wait_for 5 listening "$A" 3
	wait_for 5 listening "$B" 2
	kill -TTOU "$TCPD_PID"
	wait_for 10 nworkers_is 3
	kill -TTOU "$TCPD_PID"
	wait_for 10 nworkers_is 2
	wait_for 5 listening "$A" 1
	wait_for 5 listening "$B" 1
	kill -TTOU "$TCPD_PID"
	wait_for 5 log_has_n 1 'SIGTTOU: no service can have fewer workers'
	assert_echo "$A" one
	kill -HUP "$TCPD_PID"
	wait_for 10 nworkers_is 3
	wait_for 5 listening "$A" 2
}

@test "SIGTTOU loses no connection queued on the slot that goes" {
	one_service echo echo 'workers = 2;'
	ws=$(workers)
	kill -STOP $ws
	# Spread over both slot sockets by the kernel.
	queue_clients "$PORT" 8
	kill -TTOU "$TCPD_PID"
	wait_for 5 log_has_n 1 'SIGTTOU: echo now has 1 worker'
	kill -CONT $ws
	queued_clients_answered 8
	wait_for 10 nworkers_is 1
	wait_for 5 listening "$PORT" 1
}

@test "tcp_migrate_req at 0 is not warned about: a slot that goes resets nothing" {
	one_service echo echo 'workers = 1;'
	[ "$(log_count 'tcp_migrate_req')" -eq 0 ]
}

@test "out of fds: the worker sheds queued connections, keeps serving, recovers" {
	command -v prlimit >/dev/null || skip "prlimit is not installed"
	# No per-connection log lines (debug): with no syslog daemon, each opens
	# a socket for a moment, which would compete for the two fds left.
	one_service echo echo 'workers = 1; idle_timeout = 0;' 'log_level = "info";'
	w=$(workers)
	# RLIMIT_NOFILE bounds fd numbers, and the worker's table has holes:
	# find the limit that leaves exactly two numbers free below it.
	limit=0 free=0
	while (( free < 2 || limit < 3 )); do
		[ -e "/proc/$w/fd/$limit" ] || free=$((free + 1))
		limit=$((limit + 1))
	done
	open=$(fd_count "$w")
	prlimit --pid "$w" --nofile=$limit:$limit
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	exec 6<>"/dev/tcp/127.0.0.1/$PORT"
	echo a >&5; read -r -t 5 line <&5; [ "$line" = a ]
	echo b >&6; read -r -t 5 line <&6; [ "$line" = b ]
	# The third is taken and closed at once: EOF, not a hang.
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output ""
	wait_for 5 log_has_n 1 'accept on 127\.0\.0\.1:[0-9]+: shedding queued connections until fds are free: Too many open files'
	# A client whose data waits with it in the queue gets a FIN too, not
	# an RST: its data is read before the close.  (The worker is stopped
	# while it connects and sends, so the data is there when it is shed.)
	capture_start "$PORT"
	queued_data_client "$PORT" "$T/shed"
	[ ! -s "$T/shed" ]
	wait_for 5 has_server_fin "$PORT"
	[ -z "$(resets)" ] || fail "shed with an RST: $(resets)"
	capture_stop
	# Stuck, the acceptor rests instead of spinning: a one-second
	# measuring window of the worker's CPU time.
	ticks=$(cpu_ticks_over "$w" 1)
	(( ticks <= 5 )) || fail "worker used $ticks ticks in 1 s"
	# Open connections are still served.
	echo c >&5; read -r -t 5 line <&5; [ "$line" = c ]
	# fds come back: the next connection is served, and it says so.
	exec 6>&-
	wait_for 5 fd_count_at_most "$w" $((open + 1))
	assert_echo "$PORT" back
	wait_for 5 log_has_n 1 'accept on 127\.0\.0\.1:[0-9]+: recovered; [1-9][0-9]* connections? shed meanwhile'
	exec 5>&-
}

@test "the watchdog kills a hung worker and respawns its slot, losing nothing queued" {
	one_service echo echo 'workers = 1; idle_timeout = 0;' 'watchdog_timeout = 2;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	echo held >&5; read -r -t 5 line <&5; [ "$line" = held ]
	w=$(workers)
	# A stopped worker's loop is as silent as a hung one.
	start=$(date +%s%N)
	kill -STOP "$w"
	queue_clients "$PORT" 3
	wait_for 10 log_has_n 1 "worker $w \(echo slot 0\) hung: its loop has been silent for [2-9]\.[0-9]{3} s with 1 connection open; sending SIGABRT"
	wait_for 5 log_has_n 1 "worker $w \(echo slot 0 generation 1\) killed by signal 9"
	wait_for 5 log_has_n 2 'worker [0-9]+ started: service echo slot 0 generation 1'
	echo "slot back $(( ($(date +%s%N) - start) / 1000000 )) ms after the stop (watchdog_timeout 2 s)" >&3
	queued_clients_answered 3
	exec 5>&-
	# An idle worker is not hung: it wakes to beat.  Over a measuring
	# window longer than watchdog_timeout, it stays, and nothing is said.
	w2=$(workers)
	sleep 3
	[ "$(workers)" = "$w2" ]
	[ "$(log_count 'hung')" -eq 1 ]
	assert_echo "$PORT" new
}

@test "a hung loop: its acceptor leaves new connections queued for the successor" {
	"$TCPD" -V | grep -q 'test hooks' || skip "needs ./configure --enable-test-hooks"
	one_service echo echo 'workers = 1; idle_timeout = 0;' 'watchdog_timeout = 3;'
	w=$(workers)
	# The hook hangs the loop; the acceptor thread runs on.
	kill -USR1 "$w"
	# A client is accepted and handed to the hung loop.
	(echo first | timeout 20 nc -N 127.0.0.1 "$PORT" >"$T/first") &
	BG_PIDS=$!
	server_side() { [ -n "$(tcp_state "$PORT" sport)" ]; }
	wait_for 5 server_side
	wait_for 5 accept_queue_is "$PORT" 0
	# Past the acceptor's threshold (500 ms) since that hand-off: the
	# next client is the last one it takes, then it pauses.
	sleep 1
	(echo second | timeout 20 nc -N 127.0.0.1 "$PORT" >"$T/second") &
	BG_PIDS="$BG_PIDS $!"
	wait_for 5 log_has_n 1 'accept on 127\.0\.0\.1:[0-9]+: paused, the event loop has not taken connections for 500 ms'
	# From now on clients stay queued, in the socket the master holds.
	queue_clients "$PORT" 4
	wait_for 10 log_has_n 1 "worker $w \(echo slot 0\) hung"
	wait_for 10 log_has_n 1 "worker $w \(echo slot 0 generation 1\) killed by signal 6 \(Aborted\) unexpectedly, holding 2 connections"
	queued_clients_answered 4
	# The two it had taken died with it.
	[ "$(cat "$T/first")$(cat "$T/second")" = "" ]
}
