#!/usr/bin/env bats
# The service manager's notify protocol, without a service manager: a
# unix datagram socket of the test's own stands in for systemd's.

load helpers

# What systemd's end does, and no more: receive each datagram, and
# append it to $LOG as one line "sd_notify: pid=SENDER at=MONOTONIC_US
# MESSAGE", its newlines shown as " | ".  $LOG is where tcpd logs too,
# so the lines fall in the order things happened.
RECEIVER='
import socket, struct, sys, time
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
with open(out, "a", buffering=1) as f:
    f.write("sd_notify: listening\n")
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        f.write("sd_notify: pid=%d at=%d %s\n" % (pid,
            time.monotonic_ns() // 1000,
            msg.decode(errors="replace").replace("\n", " | ")))
'

# notify_listen [ADDR]: the receiver on ADDR (default $T/notify.sock),
# exported as NOTIFY_SOCKET for the tcpd started next.
notify_listen() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	export NOTIFY_SOCKET=${1:-$T/notify.sock}
	python3 -c "$RECEIVER" "$NOTIFY_SOCKET" "$LOG" &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 5 log_has_n 1 '^sd_notify: listening'
}

# The messages received, one a line, without sender and time.
messages() {
	sed -n 's/^sd_notify: pid=[0-9]* at=[0-9]* //p' "$LOG"
}

# The lifecycle messages only (no pings, no STATUS= alone), their first
# word each: "READY=1", "RELOADING=1", ...
states() {
	messages | grep -E '^(MAINPID=[0-9]+ \| )?(READY|RELOADING|STOPPING)=1' |
	    sed -E 's/^MAINPID=[0-9]+ \| //; s/ .*//'
}

states_are() {		# states_are WORD...: exactly these, in order
	[ "$(states | tr '\n' ' ')" = "$* " ]
}

# The senders of every message, one a line, each once.
senders() {
	sed -n 's/^sd_notify: pid=\([0-9]*\) .*/\1/p' "$LOG" | sort -u
}

# The first and last line numbers of $LOG matching a regex.
first_line() {
	grep -nE -- "$1" "$LOG" | head -n 1 | cut -d: -f1
}
last_line() {
	grep -nE -- "$1" "$LOG" | tail -n 1 | cut -d: -f1
}

pings() {		# pings [FROM_LINE]: WATCHDOG=1 lines from there on
	tail -n +"${1:-1}" "$LOG" | grep -c '^sd_notify: .* WATCHDOG=1$' || true
}
pings_at_least() {	# pings_at_least N [FROM_LINE]
	(( $(pings "${2:-1}") >= $1 ))
}

monotonic_us() {
	python3 -c 'import time; print(time.monotonic_ns() // 1000)'
}

@test "READY=1 once every worker accepts, STOPPING=1 at a stop; only the master speaks" {
	notify_listen
	one_service echo echo 'workers = 3;'
	wait_for 5 states_are READY=1
	# Every worker had said it accepts before.
	ready=$(first_line '^sd_notify: .*READY=1')
	[ "$(log_count 'worker [0-9]+ started')" -eq 3 ]
	(( $(last_line 'worker [0-9]+ started') < ready ))
	run -0 messages
	assert_line "READY=1 | STATUS=serving 1 service, 3 workers; generation 1"
	kill -QUIT "$TCPD_PID"
	wait_for 10 dead "$TCPD_PID"
	wait_for 5 states_are READY=1 STOPPING=1
	run -0 messages
	assert_line "STOPPING=1 | STATUS=stopping (graceful)"
	[ "$(senders)" = "$TCPD_PID" ]
	TCPD_PID=
}

@test "a reload: RELOADING=1 with MONOTONIC_USEC, READY=1 once the new generation accepts" {
	notify_listen
	one_service echo echo 'workers = 2;'
	wait_for 5 states_are READY=1
	before=$(monotonic_us)
	kill -HUP "$TCPD_PID"
	wait_for 10 states_are READY=1 RELOADING=1 READY=1
	run -0 messages
	assert_line --regexp "^RELOADING=1 \| MONOTONIC_USEC=[0-9]+ \| STATUS=reloading $CONF\$"
	assert_line "READY=1 | STATUS=serving 1 service, 2 workers; generation 2"
	# systemd takes the reload for the one it asked for only if it began
	# after its signal, on the same clock: CLOCK_MONOTONIC.
	line=$(grep '^sd_notify: .*RELOADING=1' "$LOG")
	usec=$(sed 's/.*MONOTONIC_USEC=\([0-9]*\).*/\1/' <<<"$line")
	got=$(sed 's/.* at=\([0-9]*\) .*/\1/' <<<"$line")
	(( before <= usec && usec <= got )) ||
	    fail "MONOTONIC_USEC=$usec is not between $before and $got"
	# READY=1 comes after both workers of generation 2 accept.
	[ "$(log_count 'started: service echo slot [01] generation 2')" -eq 2 ]
	(( $(last_line 'started: service echo slot [01] generation 2') <
	    $(last_line '^sd_notify: .*READY=1') ))
	assert_echo "$PORT" reloaded
}

@test "a refused reload: RELOADING=1, then READY=1 with STATUS= saying why; the old generation serves" {
	notify_listen
	one_service echo echo 'workers = 1;'
	wait_for 5 states_are READY=1
	cp "$CONF" "$T/good.conf"
	echo 'no_such_key = 1;' >>"$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 states_are READY=1 RELOADING=1 READY=1
	run -0 messages
	assert_line --regexp "^READY=1 \| STATUS=reload refused: $CONF:[0-9]+: .*no_such_key.*; still running generation 1\$"
	assert_echo "$PORT" "still served"
	# Mended, the next reload goes through.
	cp "$T/good.conf" "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 states_are READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1
	run -0 messages
	assert_line "READY=1 | STATUS=serving 1 service, 1 worker; generation 2"
}

@test "daemon mode: the parent names the master with MAINPID= and says READY=1" {
	notify_listen
	one_service_conf echo echo 'workers = 2;'
	run timeout 10 "$TCPD" -c "$CONF"
	TCPD_PID=$(cat "$PIDFILE")
	[ "$status" -eq 0 ]
	wait_for 5 states_are READY=1
	run -0 messages
	assert_line "MAINPID=$TCPD_PID | READY=1 | STATUS=serving 1 service, 2 workers; generation 1"
	# From the process that was started (the one systemd listens to),
	# not from the master, which is not the main process until then.
	sender=$(sed -n 's/^sd_notify: pid=\([0-9]*\) .*MAINPID=.*/\1/p' "$LOG")
	[ -n "$sender" ]
	[ "$sender" != "$TCPD_PID" ]
	# Then the master speaks for itself.
	master=$TCPD_PID
	run -0 "$TCPD" -s quit -c "$CONF"
	wait_for 10 dead "$master"
	TCPD_PID=
	wait_for 5 states_are READY=1 STOPPING=1
	[ "$(sed -n 's/^sd_notify: pid=\([0-9]*\) .*STOPPING=1.*/\1/p' "$LOG")" = "$master" ]
}

@test "an abstract socket: NOTIFY_SOCKET=@name" {
	notify_listen "@tcpd-test.$$.$BATS_TEST_NUMBER"
	one_service echo echo 'workers = 1;'
	wait_for 5 states_are READY=1
}

@test "workers and programs see no NOTIFY_SOCKET or WATCHDOG_USEC" {
	notify_listen
	export WATCHDOG_USEC=10000000
	one_service prog exec 'workers = 2; exec = [ "/usr/bin/env" ];'
	wait_for 5 states_are READY=1
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_line "PROTO=TCP"
	refute_output --partial NOTIFY_SOCKET
	refute_output --partial WATCHDOG_
	# Nor what ps e and /proc show of the master and the workers.
	for p in "$TCPD_PID" $(workers); do
		run -0 bash -c "tr '\\0' '\\n' </proc/$p/environ"
		refute_output --partial NOTIFY_SOCKET
		refute_output --partial WATCHDOG_
	done
}

@test "watchdog: WATCHDOG=1 at half of WATCHDOG_USEC, from the master" {
	notify_listen
	one_service_conf echo echo 'workers = 1;'
	# WATCHDOG_PID names the process started: tcpd, once bash execs it.
	WATCHDOG_USEC=200000 bash -c 'export WATCHDOG_PID=$$; exec "$0" -f -c "$1"' \
	    "$TCPD" "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 5 states_are READY=1
	wait_for 5 pings_at_least 5
	# Only after READY=1.
	(( $(first_line 'WATCHDOG=1') > $(first_line 'READY=1') ))
	[ "$(senders)" = "$TCPD_PID" ]
}

@test "watchdog: no ping when WATCHDOG_PID names another process" {
	notify_listen
	export WATCHDOG_USEC=200000 WATCHDOG_PID=$$
	one_service echo echo 'workers = 1;'
	wait_for 5 states_are READY=1
	# The first ping would follow READY=1 at once: these come later.
	kill -HUP "$TCPD_PID"
	wait_for 10 states_are READY=1 RELOADING=1 READY=1
	kill -QUIT "$TCPD_PID"
	wait_for 5 states_are READY=1 RELOADING=1 READY=1 STOPPING=1
	[ "$(pings)" -eq 0 ]
}

@test "watchdog: no ping while a slot is down; again once it is served" {
	pids_cgroup
	notify_listen
	export WATCHDOG_USEC=200000
	one_service echo echo 'workers = 2; idle_timeout = 0;'
	wait_for 5 pings_at_least 2
	no_more_forks
	kill -KILL "$(workers | head -n 1)"
	wait_for 10 log_has_n 1 'slot [01] is down: cannot start a worker'
	wait_for 5 log_has_n 1 'watchdog: not pinging the service manager while a slot is down'
	# Over the second until the next try fails too (pings would come
	# every 100 ms): none, but for one that was on its way.
	wait_for 10 log_has_n 1 'slot [01]: retrying in 2000 ms'
	down=$(first_line 'slot [01] is down')
	retry=$(first_line 'retrying in 2000 ms')
	n=$(sed -n "${down},${retry}p" "$LOG" | grep -c 'WATCHDOG=1' || true)
	(( n <= 1 )) || fail "$n pings while the slot was down"
	run -0 messages
	assert_line --regexp '^STATUS=serving 1 service, 1 of 2 workers; generation 1 \[down: echo/[01]\]$'
	echo max >"$CG/pids.max"
	wait_for 10 log_has_n 1 'slot [01] is served again'
	from=$(first_line 'is served again')
	wait_for 5 pings_at_least 2 "$from"
	wait_for 5 log_has_n 1 'watchdog: pinging the service manager again'
	run -0 messages
	assert_line "STATUS=serving 1 service, 2 workers; generation 1"
}

@test "watchdog: a failing slot (a crash loop) does not stop the pings" {
	notify_listen
	export WATCHDOG_USEC=200000
	printf '#!/bin/sh\necho ok\n' >"$T/prog"
	chmod 755 "$T/prog"
	one_service prog exec "workers = 1; exec = [ \"$T/prog\" ];" \
	    'respawn_window = 2; respawn_limit = 2;'
	chmod 644 "$T/prog"
	kill -KILL "$(workers)"
	wait_for 10 log_has_n 1 'prog slot 0 is failing'
	from=$(first_line 'prog slot 0 is failing')
	wait_for 5 pings_at_least 3 "$from"
	[ "$(log_count 'not pinging')" -eq 0 ]
}
