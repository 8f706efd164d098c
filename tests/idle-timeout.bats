#!/usr/bin/env bats
# idle_timeout: a connection with no bytes either way is closed.

load helpers

@test "an idle connection is closed after idle_timeout; 0 means never" {
	P1=$(free_port) P0=$(free_port)
	write_conf '' "$(
	    conf_service short echo "\"127.0.0.1:$P1\"" 'workers = 1; idle_timeout = 1;'
	    conf_service never echo "\"127.0.0.1:$P0\"" 'workers = 1; idle_timeout = 0;')"
	start_tcpd 2
	timeout 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P0; sleep 25" &
	BG_PIDS=$!
	wait_for 5 established "$P0"
	# nc -d sends nothing and exits when tcpd closes.
	start=$(date +%s%N)
	run -0 timeout 10 nc -d 127.0.0.1 "$P1"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	(( ms >= 900 )) || fail "closed after $ms ms, before the timeout"
	wait_for 5 log_has_n 1 "closed service=short .* first=server end=shutdown-FIN reason=\"idle timeout\""
	# The other service, idle just as long, keeps its connection.
	established "$P0"
	[ "$(log_count 'closed service=never ')" -eq 0 ]
}

@test "traffic keeps a connection alive past idle_timeout" {
	one_service echo echo 'workers = 1; idle_timeout = 2;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	start=$(date +%s)
	# Talk every ~0.5 s for 4 s: twice the timeout.
	while (( $(date +%s) - start < 4 )); do
		echo ping >&5
		read -r -t 5 line <&5
		[ "$line" = ping ]
		read -r -t 0.5 _ <&5 || true
	done
	exec 5<&-
	[ "$(log_count 'idle timeout')" -eq 0 ]
}
