#!/usr/bin/env bats
# SIGHUP: a valid file replaces the running one without dropping anything;
# an invalid one changes nothing.

load helpers

@test "reload adds and removes services" {
	A=$(free_port) B=$(free_port)
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$A\"" 'workers = 1;')"
	start_tcpd 1
	assert_echo "$A" a
	write_conf '' "$(conf_service daytime daytime "\"127.0.0.1:$B\"" 'workers = 1;')"
	reload 2
	grep -q 'reload: service daytime added' "$LOG"
	grep -q 'reload: service echo removed' "$LOG"
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service daytime slot 0 generation 2'
	run -0 timeout 5 nc -d 127.0.0.1 "$B"
	assert_output --regexp '[0-9]{4}'$'\r''$'
	# The removed service's socket is closed: connections are refused.
	wait_for 10 not_listening "$A"
	run -1 nc -z 127.0.0.1 "$A"
	wait_for 10 nworkers_is 1
}

@test "reload changes the number of workers" {
	one_service echo echo 'workers = 2;'
	listening "$PORT" 2
	sed -i 's/workers = 2/workers = 4/' "$CONF"
	reload 2
	wait_for 10 nworkers_is 4
	listening "$PORT" 4
	sed -i 's/workers = 4/workers = 1/' "$CONF"
	reload 3
	wait_for 10 nworkers_is 1
	wait_for 10 listening "$PORT" 1
	assert_echo "$PORT" one
}

@test "a bad reload keeps the old configuration running" {
	one_service echo echo 'workers = 2;'
	pids=$(workers | sort)
	cp "$CONF" "$T/good.conf"
	printf 'services = (\n  { name = "x"; handler = "nope"; listen = [ "127.0.0.1:1" ]; }\n);\n' >>"$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF:[0-9]+: .*; still running generation 1"
	# A file that parses but cannot bind is refused too.
	OTHER=$(free_port)
	nc -l 127.0.0.1 "$OTHER" </dev/null >/dev/null &
	BG_PIDS=$!
	wait_for 5 listening "$OTHER"
	cp "$T/good.conf" "$CONF"
	sed -i "s/\"127.0.0.1:$PORT\"/\"127.0.0.1:$PORT\", \"127.0.0.1:$OTHER\"/" "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: cannot listen on 127.0.0.1:$OTHER: address already in use"
	# Same workers, same service.
	[ "$(workers | sort)" = "$pids" ]
	assert_echo "$PORT" same
}

@test "a connection open during a reload is not cut" {
	one_service echo echo 'workers = 1;' 'shutdown_timeout = 30;'
	old=$(workers)
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	echo before >&5
	read -r -t 5 line <&5
	[ "$line" = before ]
	reload 2
	wait_for 10 log_has_n 1 'worker [0-9]+ started: service echo slot 0 generation 2'
	wait_for 10 log_has_n 1 'echo slot 0: retiring, 1 connection open, no deadline'
	# The old worker keeps serving it, and shows what it is doing.
	alive "$old"
	[ "$(ps -o args= -p "$old")" = "tcpd: worker echo slot 0 (retiring)" ]
	echo after >&5
	read -r -t 5 line <&5
	[ "$line" = after ]
	# New connections go to the new worker.
	assert_echo "$PORT" new
	exec 5>&-
	wait_for 10 log_has_n 1 "worker $old \(echo slot 0 generation 1\) exited with status 0, [0-9]+\.[0-9]{3} s after it was asked to retire"
}
