#!/usr/bin/env bats
# A client that shuts down its sending side still gets every byte back.

load helpers

@test "printf 'hi\\n' | nc -N prints hi and exits" {
	one_service echo echo 'workers = 1;'
	assert_echo "$PORT" hi
	wait_for 5 log_has_n 1 "closed service=echo .* in=3 out=3 first=client end=FIN reason=\"client EOF\""
}

@test "after the client's FIN, queued output still drains, then FIN" {
	one_service echo echo 'workers = 1;'
	# 8 MB: more than the socket buffers hold, so tcpd queues some when
	# the FIN arrives and must send it all before closing.
	head -c 8000000 /dev/urandom >"$T/in"
	timeout 30 nc -N 127.0.0.1 "$PORT" <"$T/in" >"$T/out"
	cmp "$T/in" "$T/out"
	wait_for 5 log_has_n 1 "closed service=\\S+ .* in=8000000 out=8000000 first=client end=FIN reason=\"client EOF\""
}
