#!/usr/bin/env bats
# A client that does not read cannot make tcpd buffer without bound.

load helpers

@test "echo: a client sending 100 MB without reading stalls; tcpd stays small" {
	one_service echo echo 'workers = 1;'
	w=$(workers)
	before=$(rss_kib "$w")
	# bash never reads fd 3: the echo comes back to nobody.
	timeout 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; head -c 100000000 /dev/zero >&3" &
	BG_PIDS=$!
	# tcpd stops reading once its output queue is full: the data backs
	# up in the server's receive queue and the client's send queue.
	wait_for 20 queues_full "$PORT" server
	after=$(rss_kib "$w")
	echo "worker RSS: $before KiB before, $after KiB stalled" >&3
	(( after - before < 4096 )) || fail "worker grew from $before to $after KiB"
	# The writer is blocked, far short of 100 MB.
	alive "$BG_PIDS"
	# And the worker still serves others meanwhile.
	assert_echo "$PORT" other
}

@test "chargen writes only as fast as the client reads" {
	one_service chargen chargen 'workers = 1;'
	w=$(workers)
	before=$(rss_kib "$w")
	timeout 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; sleep 50" &
	BG_PIDS=$!
	wait_for 20 queues_full "$PORT" client
	after=$(rss_kib "$w")
	echo "worker RSS: $before KiB before, $after KiB with a full socket" >&3
	(( after - before < 4096 )) || fail "worker grew from $before to $after KiB"
	# Once the socket is full, chargen waits for room instead of spinning:
	# over a one-second measuring window (not a wait for anything) the
	# worker uses at most a few clock ticks of CPU.
	ticks=$(cpu_ticks_over "$w" 1)
	(( ticks <= 5 )) || fail "worker used $ticks ticks in 1 s"
}
