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
