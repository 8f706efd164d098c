#!/usr/bin/env bats
# Where log lines go: in the foreground to stderr alone, each line once,
# stamped with the time (with the priority instead, when stderr is
# systemd's journal); as a daemon to syslog, with a word on stderr at
# start when syslog cannot be reached; log_target to choose.

load helpers

# dev_log PATH: tcpd started as "${NS[@]}" "$TCPD" ... finds PATH at
# /dev/log (PATH "": nothing there), in a mount namespace whose /dev is
# a fresh one with the pseudo devices: nothing changes for the rest of
# the machine, whatever its own /dev/log.  Needs root.
dev_log() {
	[ "$(id -u)" -eq 0 ] || skip "a /dev/log of the test's own needs root"
	command -v unshare >/dev/null || skip "unshare is missing"
	mkdir -p "$T/olddev"
	NS=(unshare --mount --propagation private sh -c '
		set -e
		mount --bind /dev "$1"
		mount -t tmpfs -o mode=755,size=64k none /dev
		for n in null zero full random urandom tty; do
			[ -e "$1/$n" ] || continue
			: >"/dev/$n"
			mount --bind "$1/$n" "/dev/$n"
		done
		[ -z "$0" ] || ln -s "$0" /dev/log
		shift 2
		exec "$@"' "$1" "$T/olddev" --)
}

# syslog_here: a syslog daemon of this test's own, writing what it
# receives to $T/syslog, at /dev/log for "${NS[@]}".
syslog_here() {
	dev_log "$T/log.sock"
	: >"$T/syslog"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", 0)
while True:
    out.write(s.recv(65536) + b"\n")' "$T/log.sock" "$T/syslog" &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_for 5 test -S "$T/log.sock"
}

stop_daemon() {	# stop_daemon: the daemon this test started, by its pid file
	"$TCPD" -c "$CONF" -s stop --wait
	TCPD_PID=
}

syslog_has() {	# syslog_has PATTERN: a line the test's syslog got
	grep -qE -- "$1" "$T/syslog"
}

@test "in the foreground: stderr only, each line once, stamped to the millisecond" {
	syslog_here
	one_service_conf echo echo
	"${NS[@]}" "$TCPD" -f -c "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: worker [0-9]+ started: service echo slot 0"
	assert_echo "$PORT" hello
	wait_for 5 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=echo "
	# The namespace does reach the test's syslog: logger's line gets there.
	"${NS[@]}" logger -t tcpd-test "the test's own line"
	wait_for 5 syslog_has "tcpd-test.*the test's own line"
	stop_tcpd
	# Every line stamped, none twice, none in syslog.
	[ "$(grep -cvE "^$LOG_TS tcpd\\[[0-9]+\\]: " "$LOG" || true)" -eq 0 ]
	[ "$(sed -E "s/^$LOG_TS //" "$LOG" | sort | uniq -d | grep -c . || true)" -eq 0 ]
	[ "$(grep -c 'tcpd\[' "$T/syslog" || true)" -eq 0 ]
}

@test "log_target = \"both\": stderr and syslog; a daemon: syslog, and a quiet caller" {
	syslog_here
	one_service_conf echo echo '' 'log_target = "both";'
	"${NS[@]}" "$TCPD" -f -c "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "^$LOG_TS tcpd\\[[0-9]+\\]: worker [0-9]+ started: service echo slot 0"
	wait_for 5 syslog_has "tcpd\\[$TCPD_PID\\]: worker [0-9]+ started: service echo slot 0"
	stop_tcpd

	: >"$T/syslog"
	one_service_conf echo echo
	run -0 "${NS[@]}" "$TCPD" -c "$CONF"
	assert_output ''
	TCPD_PID=$(cat "$PIDFILE")
	wait_for 5 syslog_has "tcpd\\[$TCPD_PID\\]: tcpd [0-9.]+ started: 1 service, 1 worker"
	stop_daemon
}

@test "a daemon whose syslog cannot be reached says so on stderr at start" {
	# A socket nobody reads: connect() is refused.
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])' "$T/dead.sock"
	dev_log "$T/dead.sock"
	one_service_conf echo echo
	run -0 "${NS[@]}" "$TCPD" -c "$CONF"
	assert_output --partial "syslog cannot be reached (/dev/log): every log line is lost until a syslog daemon listens there; or run tcpd -f, which logs to stderr"
	TCPD_PID=$(cat "$PIDFILE")
	stop_daemon
	# And none at all.
	dev_log ""
	run -0 "${NS[@]}" "$TCPD" -c "$CONF"
	assert_output --partial "syslog cannot be reached (/dev/log)"
	TCPD_PID=$(cat "$PIDFILE")
	stop_daemon
}

@test "with stderr the journal: no stamp, the priority for it to read" {
	one_service_conf echo echo
	: >"$LOG"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$LOG") "$TCPD" -f -c "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "^<6>tcpd\\[$TCPD_PID\\]: worker [0-9]+ started"
	stop_tcpd
	# Another stream named: stamped as ever.
	: >"$LOG"
	JOURNAL_STREAM=1:2 start_tcpd
	[ "$(grep -c '^<' "$LOG" || true)" -eq 0 ]
}

@test "log_target: an unknown one is refused at -t" {
	one_service_conf echo echo '' 'log_target = "file";'
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --regexp "^$CONF:[0-9]+: unknown log_target 'file' \\(auto, stderr, syslog, both\\)$"
}
