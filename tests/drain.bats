#!/usr/bin/env bats
# Draining for a balancer: -s drain and -s undrain, drain_delay before a
# graceful stop, and what a balancer polls: the agent handler (HAProxy's
# agent-check) and GET /ready on the metrics handler.

load helpers

# balanced [TOP] [E_EXTRA]: an echo service e on $PORT (2 workers,
# max_connections = 4), an agent a on $APORT and a metrics service m on
# $MPORT; TOP goes at the top of the file.
balanced() {
	PORT=$(free_port)
	APORT=$(free_port)
	MPORT=$(free_port)
	write_conf "${1:-}" "$(conf_service e echo "\"127.0.0.1:$PORT\"" "${2:-workers = 2; max_connections = 4;}")
$(conf_service a agent "\"127.0.0.1:$APORT\"" 'workers = 1;')
$(conf_service m metrics "\"127.0.0.1:$MPORT\"" 'workers = 1;')"
	start_tcpd "$(( $(_lib_workers_in "${2:-workers = 2;}") + 2 ))"
}

agent() {	# agent: the agent's line
	timeout 5 nc 127.0.0.1 "$APORT" </dev/null
}

agent_is() {	# agent_is LINE: a condition for wait_for
	[ "$(agent)" = "$1" ]
}

# ready [METHOD]: the whole answer to METHOD /ready (default GET), CRs
# taken out.
ready() {
	printf '%s /ready HTTP/1.0\r\n\r\n' "${1:-GET}" |
	    timeout 5 nc -N 127.0.0.1 "$MPORT" | tr -d '\r'
}

ready_is() {	# ready_is CODE: /ready answers with that status code
	[ "$(ready | awk 'NR == 1 { print $2 }')" = "$1" ]
}

# metric LINE_START: the value of the first sample that starts so.
metric() {
	printf 'GET /metrics HTTP/1.0\r\n\r\n' |
	    timeout 5 nc -N 127.0.0.1 "$MPORT" | tr -d '\r' |
	    awk -v k="$1" 'index($0, k " ") == 1 { print $2; exit }'
}

state_json() {	# state_json: the state in tcpd -s status --json
	"$TCPD" -c "$CONF" -s status --json |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])'
}

# open_conn FD: an echo connection on fd FD, checked once.
open_conn() {
	eval "exec $1<>/dev/tcp/127.0.0.1/$PORT"
	echo "hello $1" >&"$1"
	read -r -t 5 line <&"$1"
	[ "$line" = "hello $1" ]
}

echo_on() {	# echo_on FD TEXT: a round trip on an open connection
	echo "$2" >&"$1"
	read -r -t 5 line <&"$1"
	[ "$line" = "$2" ]
}

@test "-s drain: agent says drain, /ready 503, connections still served; -s undrain flips back" {
	balanced
	[ "$(agent)" = "ready up 100%" ]
	run -0 ready
	assert_line "HTTP/1.0 200 OK"
	assert_line "ready"
	open_conn 5

	run -0 "$TCPD" -c "$CONF" -s drain
	assert_output "ok: draining"
	grep -qE "^$LOG_TS tcpd\\[$TCPD_PID\\]: draining: told so \\(-s drain\\)" "$LOG"
	[ "$(agent)" = drain ]
	run -0 ready
	assert_line "HTTP/1.0 503 Service Unavailable"
	assert_line "draining"
	run -0 ready HEAD
	assert_line "HTTP/1.0 503 Service Unavailable"
	refute_line "draining"
	# Served as usual: the open connection, and new ones.
	echo_on 5 "still here"
	assert_echo "$PORT" "a new one"

	run -0 "$TCPD" -c "$CONF" -s undrain
	assert_output "ok: serving"
	# The connection on fd 5 holds one of e's 4.
	[ "$(agent)" = "ready up 75%" ]
	ready_is 200
	echo_on 5 "and still"
	exec 5>&-
}

@test "status, JSON and the metrics show serving, draining and stopping" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	balanced 'shutdown_timeout = 30;'
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line "state: serving"
	[ "$(state_json)" = serving ]
	[ "$(metric tcpd_draining)" = 0 ]
	[ "$(metric 'tcpd_state{state="serving"}')" = 1 ]
	"$TCPD" -c "$CONF" -s drain
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line "state: draining"
	[ "$(state_json)" = draining ]
	[ "$(metric tcpd_draining)" = 1 ]
	[ "$(metric 'tcpd_state{state="draining"}')" = 1 ]
	[ "$(metric 'tcpd_state{state="serving"}')" = 0 ]
	# Stopping: an open connection keeps the master there.
	open_conn 5
	kill -QUIT "$TCPD_PID"
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[$TCPD_PID\\]: stopping \\(graceful\\)"
	[ "$(state_json)" = stopping ]
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line "state: stopping"
	run -1 "$TCPD" -c "$CONF" -s undrain
	assert_output "error: stopping already"
	exec 5>&-
	wait_for 10 dead "$TCPD_PID"
}

@test "the agent's weight is the capacity free; 100% with no max_connections" {
	balanced
	open_conn 5
	open_conn 6
	wait_for 5 agent_is "ready up 50%"
	open_conn 7
	wait_for 5 agent_is "ready up 25%"
	open_conn 8
	# Full: 1%, not 0%, which is what draining means to HAProxy.
	wait_for 5 agent_is "ready up 1%"
	exec 5>&- 6>&- 7>&- 8>&-
	wait_for 5 agent_is "ready up 100%"
	stop_tcpd
	balanced '' 'workers = 1;'
	open_conn 5
	[ "$(agent)" = "ready up 100%" ]
	exec 5>&-
}

@test "graceful stop with drain_delay = 2: drains, accepting and answering, then stops" {
	balanced 'drain_delay = 2;'
	_lib_now_us
	start=$_LIB_NOW
	kill -QUIT "$TCPD_PID"
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[$TCPD_PID\\]: draining for [0-9]+ ms, then stopping \\(graceful\\)"
	[ "$(agent)" = drain ]
	ready_is 503
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line --regexp '^state: draining, stopping \(graceful\) in [0-9]\.[0-9]{3} s$'
	# New clients are taken and answered all through the drain.
	served=0
	for (( i = 0; i < 200; i++ )); do
		_lib_now_us
		(( _LIB_NOW - start < 1500000 )) || break
		assert_echo "$PORT" "during the drain $i"
		served=$(( served + 1 ))
	done
	(( served > 0 ))
	alive "$TCPD_PID"
	[ "$(log_count "tcpd\\[$TCPD_PID\\]: stopping \\(graceful\\)$")" -eq 0 ]
	wait_for 10 dead "$TCPD_PID"
	_lib_now_us
	(( _LIB_NOW - start >= 2000000 )) ||
	    fail "stopped $(( (_LIB_NOW - start) / 1000 )) ms after SIGQUIT"
	grep -qE "^$LOG_TS tcpd\\[$TCPD_PID\\]: stopping \\(graceful\\)$" "$LOG"
	TCPD_PID=
}

@test "a fast stop does not wait for drain_delay, nor does one during the drain" {
	balanced 'drain_delay = 60;'
	kill -TERM "$TCPD_PID"
	wait_for 5 dead "$TCPD_PID"
	[ "$(log_count 'draining for')" -eq 0 ]
	TCPD_PID=
	balanced 'drain_delay = 60;'
	run -0 "$TCPD" -c "$CONF" -s quit
	wait_for 5 agent_is drain
	kill -TERM "$TCPD_PID"
	wait_for 5 dead "$TCPD_PID"
	grep -qE "^$LOG_TS tcpd\\[$TCPD_PID\\]: stopping \\(fast\\)$" "$LOG"
	TCPD_PID=
}

@test "a slot down: /ready 503 and the agent says down, until it serves again" {
	printf '#!/bin/sh\necho ok\n' >"$T/prog"
	chmod 755 "$T/prog"
	PORT=$(free_port)
	APORT=$(free_port)
	MPORT=$(free_port)
	write_conf 'respawn_window = 2; respawn_limit = 2;' \
	    "$(conf_service prog exec "\"127.0.0.1:$PORT\"" "workers = 1; exec = [ \"$T/prog\" ];")
$(conf_service a agent "\"127.0.0.1:$APORT\"" 'workers = 1;')
$(conf_service m metrics "\"127.0.0.1:$MPORT\"" 'workers = 1;')"
	start_tcpd 3
	ready_is 200
	# The program becomes unusable: each new worker exits at start.
	chmod 644 "$T/prog"
	kill -KILL "$(ps -o pid= --ppid "$TCPD_PID" -o args= | awk '/prog slot 0/ { print $1 }')"
	wait_for 10 log_has_n 1 'prog slot 0 is failing'
	wait_for 5 ready_is 503
	run -0 ready
	assert_line "1 slot down"
	[ "$(agent)" = down ]
	chmod 755 "$T/prog"
	wait_for 15 ready_is 200
	[ "$(agent)" = "ready up 100%" ]
}

# HAProxy's view of the server: its status in show stat ("UP",
# "DRAIN (agent)", ...).
haproxy_status() {
	echo "show stat" |
	    socat -t 2 stdio "unix-connect:$T/haproxy.sock" 2>/dev/null |
	    awk -F, '$1 == "be" && $2 == "tcpd" { print $18 }'
}

haproxy_status_is() {	# haproxy_status_is STATUS: a condition for wait_for
	[ "$(haproxy_status)" = "$1" ]
}

@test "HAProxy's agent-check marks the server DRAIN after -s drain, UP after -s undrain" {
	command -v haproxy >/dev/null || skip "haproxy is not installed"
	command -v socat >/dev/null || skip "socat is not installed"
	balanced
	HPORT=$(free_port)
	cat >"$T/haproxy.cfg" <<EOF
global
	stats socket $T/haproxy.sock mode 600 level admin
defaults
	mode tcp
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 127.0.0.1:$HPORT
	default_backend be
backend be
	server tcpd 127.0.0.1:$PORT check inter 200ms agent-check agent-port $APORT agent-inter 200ms
EOF
	haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	BG_PIDS="${BG_PIDS:-} $HAPROXY_PID"
	wait_for 10 haproxy_status_is UP || { cat "$T/haproxy.log" >&2; false; }
	assert_echo "$HPORT" "through haproxy"
	"$TCPD" -c "$CONF" -s drain
	wait_for 10 haproxy_status_is "DRAIN (agent)"
	grep -q 'Server be/tcpd enters drain state' "$T/haproxy.log"
	# Draining, not down: what HAProxy already sends is still served.
	"$TCPD" -c "$CONF" -s undrain
	wait_for 10 haproxy_status_is UP
	assert_echo "$HPORT" "through haproxy again"
	stop_pid "$HAPROXY_PID" || true
	dead "$HAPROXY_PID"
}
