#!/usr/bin/env bats
# One SO_REUSEPORT listener per worker; the kernel spreads connections.

load helpers

@test "ss shows one listener per worker, all held by the master too" {
	one_service echo echo 'workers = 3;'
	run -0 ss -Htlnp "( sport = :$PORT )"
	[ "${#lines[@]}" -eq 3 ]
	for w in $(workers); do
		[ "$(grep -c "pid=$w," <<<"$output")" -eq 1 ]
	done
	[ "$(grep -c "pid=$TCPD_PID," <<<"$output")" -eq 3 ]
}

@test "connections spread over every worker of a service" {
	one_service echo echo 'workers = 3;'
	for i in $(seq 1 60); do
		assert_echo "$PORT" "$i"
	done
	wait_for 5 log_has_n 60 'closed service=echo '
	# The pid in each connection line is the worker that served it.
	served=$(grep -E 'echo .*: connected' "$LOG" | sed -E "s/^$LOG_TS tcpd\\[([0-9]*)\\].*/\\1/" | sort -u)
	echo "served by: $(echo $served)" >&3
	[ "$(wc -l <<<"$served")" -eq 3 ]
	[ "$(sort <<<"$served")" = "$(workers | sort)" ]
}

# forks_from_thread: this build forks workers from the master's forking
# thread (an AddressSanitizer build forks them from its main thread).
forks_from_thread() {
	if ldd "$TCPD" | grep -q libasan; then
		return 1
	fi
}

# holders PORT: the pid=...,fd=... pairs ss shows for the listener on PORT.
holders() {
	ss -Htlnp "( sport = :$1 )" | grep -o 'pid=[0-9]*,fd=[0-9]*' | sort -u
}

@test "each worker holds its own slot's socket and no other's: at a low number reserved in the master, or at the master's own" {
	local mode ports=$T/ports port h workers_seen mfd wfd
	for mode in thread master; do
		if [ "$mode" = thread ] && ! forks_from_thread; then
			continue
		fi
		if [ "$mode" = master ]; then
			# The fallback, as where the forking thread cannot be made.
			hooks || skip "needs ./configure --enable-test-hooks"
			export TCPD_TEST_NO_FORKER=1
		fi
		free_ports 4 "$ports"
		many_services_conf "$ports"
		start_tcpd 4
		workers_seen=
		while read -r port; do
			h=$(holders "$port")
			echo "# $mode: $port: $(echo $h)" >&3
			# The master and one worker.
			[ "$(wc -l <<<"$h")" -eq 2 ]
			grep -q "^pid=$TCPD_PID," <<<"$h"
			mfd=$(grep "^pid=$TCPD_PID," <<<"$h" | sed 's/.*fd=//')
			wfd=$(grep -v "^pid=$TCPD_PID," <<<"$h" | sed 's/.*fd=//')
			if [ "$mode" = master ]; then
				# At the master's own number.
				[ "$wfd" -eq "$mfd" ]
			else
				# Below the master's sockets, at a number
				# that holds a placeholder in the master.
				[ "$wfd" -lt "$mfd" ]
				[ "$(readlink "/proc/$TCPD_PID/fd/$wfd")" = "anon_inode:[eventfd]" ]
			fi
			workers_seen="$workers_seen $(grep -v "^pid=$TCPD_PID," <<<"$h" | sed 's/pid=\([0-9]*\),.*/\1/')"
		done <"$ports"
		# Each worker on one port only: four ports, four workers.
		[ "$(tr ' ' '\n' <<<"$workers_seen" | grep -c .)" -eq 4 ]
		[ "$(tr ' ' '\n' <<<"$workers_seen" | grep . | sort -u | wc -l)" -eq 4 ]
		stop_tcpd
		release_ports "$ports"
		unset TCPD_TEST_NO_FORKER
	done
}

@test "a reload adding a service with more addresses than any before: its workers get them at numbers the master reserves then" {
	local A B C D h wfd n=0
	forks_from_thread || skip "this build forks workers from the master's main thread"
	A=$(free_port) B=$(free_port) C=$(free_port) D=$(free_port)
	write_conf '' "$(conf_service one echo "\"127.0.0.1:$A\"" 'workers = 1;')"
	start_tcpd 1
	write_conf '' "$(conf_service one echo "\"127.0.0.1:$A\"" 'workers = 1;'
	    conf_service three echo "\"127.0.0.1:$B\", \"127.0.0.1:$C\", \"127.0.0.1:$D\"" 'workers = 2;')"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'reload: generation 2 started'
	wait_for 10 log_has_n 2 'worker [0-9]+ started: service three'
	for p in $A $B $C $D; do
		assert_echo "$p" "to $p"
		h=$(holders "$p")
		echo "# $p: $(echo $h)" >&3
		for wfd in $(grep -v "^pid=$TCPD_PID," <<<"$h" | sed 's/.*fd=//'); do
			[ "$(readlink "/proc/$TCPD_PID/fd/$wfd")" = "anon_inode:[eventfd]" ]
			n=$((n + 1))
		done
	done
	# Every worker's socket was looked at: 1 for one, 2 x 3 for three.
	[ "$n" -eq 7 ]
}
