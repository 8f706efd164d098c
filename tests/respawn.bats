#!/usr/bin/env bats
# A worker that dies is replaced in its slot, on the same socket.

load helpers

listener_inodes() {
	ss -Htlne "( sport = :$1 )" | grep -o 'ino:[0-9]*' | sort
}

@test "kill -9 of a worker: a new pid in that slot, same sockets, service restored" {
	one_service echo echo 'workers = 2;'
	before=$(listener_inodes "$PORT")
	victim=$(workers | head -n 1)
	slot=$(sed -n "s/.*worker $victim started: service echo slot \([0-9]*\).*/\1/p" "$LOG")
	[ -n "$slot" ]
	kill -KILL "$victim"
	wait_for 10 log_has_n 1 "worker $victim \(echo slot $slot generation 1\) killed by signal 9 \(Killed\) unexpectedly"
	wait_for 10 log_has_n 2 "worker [0-9]+ started: service echo slot $slot generation 1"
	new=$(grep -E "worker [0-9]+ started: service echo slot $slot " "$LOG" | tail -n 1 | sed 's/.*worker \([0-9]*\) started.*/\1/')
	[ "$new" != "$victim" ]
	alive "$new"
	[ "$(nworkers)" -eq 2 ]
	[ "$(listener_inodes "$PORT")" = "$before" ]
	for i in $(seq 1 20); do
		assert_echo "$PORT" "$i"
	done
}

@test "connections queued on a dead worker's socket are served by its successor" {
	one_service echo echo 'workers = 1;'
	victim=$(workers)
	# Stopped, the worker accepts nothing: clients wait in its queue.
	kill -STOP "$victim"
	queue_clients "$PORT" 5
	kill -KILL "$victim"
	queued_clients_answered 5
}
