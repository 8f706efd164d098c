#!/usr/bin/env bats
# tcpd -s status: the master, each service, each slot and its accept
# queue, over the control socket; plain and JSON.

load helpers

# json EXPR: evaluate a Python expression on the JSON status as j; asks
# with $ASK (default $CONF).
json() {
	"$TCPD" -c "${ASK:-$CONF}" -s status --json >"$T/status.json" || return 1
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	    "$T/status.json" "$1"
}

json_is() {	# json_is EXPR VALUE: a condition for wait_for
	[ "$(json "$1")" = "$2" ]
}

@test "status shows the master, the services and each slot's worker" {
	one_service e echo 'workers = 2; max_connections = 5;'
	assert_echo "$PORT" hello
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line --regexp "^tcpd [0-9.]+, pid $TCPD_PID, up [0-9]+s, config $CONF, generation 1\$"
	assert_line "last reload: none"
	assert_line --regexp "^e +echo +2/2 +0 +1 +0 +0/5 +127\\.0\\.0\\.1:$PORT\$"
	for pid in $(workers); do
		assert_line --regexp "^e/[01] +ready +$pid +1 "
	done
	# The socket is its owner's alone.
	[ "$(stat -c %a "$T/tcpd.sock")" = 600 ]
}

@test "status --json is one object with the documented fields" {
	one_service e echo 'workers = 2;' 'access = [ "deny 127.0.0.9", "allow all" ];'
	assert_echo "$PORT" one
	run -0 timeout 5 bash -c 'printf "x\n" | nc -N -s 127.0.0.9 127.0.0.1 "$1"' _ "$PORT"
	wait_for 5 json_is 'j["services"][0]["refused"]["access"]' 1
	[ "$(json 'j["pid"]')" = "$TCPD_PID" ]
	[ "$(json 'j["generation"]')" = 1 ]
	[ "$(json 'j["last_reload"]')" = None ]
	[ "$(json 'j["services"][0]["name"]')" = e ]
	[ "$(json 'j["services"][0]["running"]')" = 2 ]
	[ "$(json 'j["services"][0]["accepted"]')" = 2 ]
	[ "$(json 'sorted(s["pid"] for s in j["services"][0]["slots"]) == sorted(int(p) for p in sys.argv[3:])' $(workers))" ]
	[ "$(json 'j["services"][0]["slots"][0]["sockets"][0]["backlog"]')" = 4096 ]
}

@test "the accept queue behind a slot whose worker is stopped" {
	one_service e echo 'backlog = 64;'
	kill -STOP "$(workers)"
	BG_PIDS="$(workers)"	# teardown continues it
	queue_clients "$PORT" 3
	# The master answers while its worker is stopped.
	wait_for 5 json_is 'j["services"][0]["slots"][0]["sockets"][0]["queue"]' 3
	[ "$(json 'j["services"][0]["slots"][0]["sockets"][0]["backlog"]')" = 64 ]
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line --regexp "^e/0 +ready .* 3/64\$"
	kill -CONT "$(workers)"
	queued_clients_answered 3
}

@test "a reload's result: done, then refused with why" {
	one_service e echo
	kill -HUP "$TCPD_PID"
	wait_for 10 json_is 'j["generation"]' 2
	[ "$(json 'j["last_reload"]["ok"]')" = True ]
	# -s reads the file for the socket's path: ask with a good copy.
	ASK=$T/good.conf
	cp "$CONF" "$ASK"
	echo 'services = ( { name = "e"; } );' >>"$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 json_is 'j["last_reload"]["ok"]' False
	[[ "$(json 'j["last_reload"]["result"]')" == *"$CONF:"* ]]
	run -0 "$TCPD" -c "$ASK" -s status
	assert_line --regexp "^last reload: [0-9T:-]+Z, .*$CONF:[0-9]+: "
}

@test "a client that says nothing holds no one up" {
	one_service e echo
	# More silent clients than the master keeps room for, each connected
	# (a unix socket's connect waits for room in the listen backlog):
	# each new one makes the oldest go, so the last to come is answered.
	python3 -c '
import socket, sys, time
s = [socket.socket(socket.AF_UNIX) for _ in range(20)]
for c in s:
    c.connect(sys.argv[1])
print("connected", flush=True)
time.sleep(30)' "$T/tcpd.sock" >"$T/silent" 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 10 grep -q connected "$T/silent"
	run -0 timeout 5 "$TCPD" -c "$CONF" -s status
	assert_line --regexp "^e/0 +ready"
	assert_echo "$PORT" still
}

# ctl BYTES: send BYTES (Python bytes syntax) on the control socket and
# print the answer, keeping the sending end open: only the master's
# close ends it; a socket time-out under the master's 2 s shows as one.
ctl() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(1.5)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())' "$T/tcpd.sock" "$1"
}

@test "the control socket: a NUL byte or too long a line is a bad request, at once" {
	one_service e echo
	run -0 ctl 'b"sta\0tus\n"'
	assert_output "error: bad request (status, status json, reload, quit, stop)"
	# Without its newline yet: the NUL says enough.
	run -0 ctl 'b"status\0"'
	assert_output "error: bad request (status, status json, reload, quit, stop)"
	run -0 ctl 'b"s" * 63'
	assert_output "error: bad request (status, status json, reload, quit, stop)"
	# More than it reads: the rest is thrown away, so that the client
	# reads the answer, not a reset.
	run -0 ctl 'b"s" * 300'
	assert_output "error: bad request (status, status json, reload, quit, stop)"
	run -0 ctl 'b"stat\n"'
	assert_output "error: unknown request (status, status json, reload, quit, stop)"
	run -0 ctl 'b"status\n\0"'
	assert_line --regexp "^e/0 +ready"
}

@test "a worker killed shows as a restart, and its counts stay with the service" {
	one_service e echo
	assert_echo "$PORT" one
	assert_echo "$PORT" two
	old=$(workers)
	kill -9 "$old"
	wait_for 10 json_is 'j["services"][0]["slots"][0]["state"] == "ready" and j["services"][0]["slots"][0]["pid"] != '"$old" True
	[ "$(json 'j["services"][0]["slots"][0]["restarts"]')" = 1 ]
	[ "$(json 'j["services"][0]["accepted"]')" = 2 ]
}

@test "a service taken out by a reload and put back keeps its gone workers' counts" {
	A=$(free_port) B=$(free_port)
	e=$(conf_service e echo "\"127.0.0.1:$A\"" 'workers = 1;')
	d=$(conf_service d daytime "\"127.0.0.1:$B\"" 'workers = 1;')
	write_conf '' "$e$d"
	start_tcpd 2
	assert_echo "$A" one
	assert_echo "$A" two
	write_conf '' "$d"
	reload 2
	wait_for 10 nworkers_is 1
	write_conf '' "$e$d"
	reload 3
	wait_for 10 json_is 'j["services"][0]["slots"][0]["state"]' ready
	[ "$(json '[s["name"] for s in j["services"]]')" = "['e', 'd']" ]
	[ "$(json 'j["services"][0]["accepted"]')" = 2 ]
	[ "$(json 'j["services"][0]["slots"][0]["restarts"]')" = 0 ]
	assert_echo "$A" three
	wait_for 10 json_is 'j["services"][0]["accepted"]' 3
}

@test "the control socket: errors, a stale file, another master's" {
	one_service_conf e echo
	run -1 "$TCPD" -c "$CONF" -s status
	assert_output --partial "cannot reach the master on $T/tcpd.sock"
	# A file left by a master killed outright is replaced.
	start_tcpd
	kill -9 "$TCPD_PID"
	for pid in $(workers "$TCPD_PID"); do kill -9 "$pid"; done
	wait_for 5 dead "$TCPD_PID"
	[ -S "$T/tcpd.sock" ]
	rm -f "$PIDFILE"
	start_tcpd
	run -0 "$TCPD" -c "$CONF" -s status
	# Another master on other ports but the same socket is refused.
	cp "$CONF" "$T/other.conf"
	sed -i "s/127.0.0.1:$PORT/127.0.0.1:$(free_port)/; s|$PIDFILE|$T/other.pid|" "$T/other.conf"
	echo "control_socket = \"$T/tcpd.sock\";" >>"$T/other.conf"
	run -1 timeout 10 "$TCPD" -f -c "$T/other.conf"
	assert_output --partial "control socket $T/tcpd.sock: in use by another tcpd"
	run -0 "$TCPD" -c "$CONF" -s status
	# --json goes with status only.
	run -2 "$TCPD" -c "$CONF" -s reload --json
	assert_output --partial -- "--json goes with -s status"
	# At stop the file goes.
	stop_tcpd
	[ ! -e "$T/tcpd.sock" ]
}

@test "control_socket: relative to the file, too long is an error" {
	one_service_conf e echo '' 'control_socket = "ctl.sock";'
	start_tcpd
	[ -S "$T/ctl.sock" ]
	run -0 "$TCPD" -c "$CONF" -s status
	stop_tcpd
	long=$(printf '/tmp/%0120d.sock' 0)
	one_service_conf e echo '' "control_socket = \"$long\";"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --regexp "$CONF:[0-9]+: control socket .* path too long"
}
