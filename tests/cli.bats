#!/usr/bin/env bats
# Each command-line flag: what it prints and how it exits.

load helpers

@test "-V prints the version" {
	run -0 "$TCPD" -V
	assert_output --regexp '^tcpd [0-9]+\.[0-9]+\.[0-9]+( \(with test hooks\))?$'
}

@test "-h prints the usage, with the default config path" {
	run -0 "$TCPD" -h
	assert_line --index 0 --partial 'usage: tcpd'
	assert_output --regexp 'default /.*/tcpd\.conf'
}

@test "an unknown flag or a stray argument is a usage error" {
	run -2 "$TCPD" -x
	assert_output --partial 'usage: tcpd'
	run -2 "$TCPD" -t extra
	assert_output --partial "unexpected argument 'extra'"
}

@test "-t accepts a good file" {
	one_service_conf echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
}

@test "-t rejects a bad file with FILE:LINE and exit 1" {
	printf 'services = (\n  { name = "x"; handler = "nope"; listen = [ "127.0.0.1:1" ]; }\n);\n' >"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:2: unknown handler 'nope' (known: echo, discard, chargen, daytime, time, exec, metrics)"
}

@test "-t: the pid_file's directory must exist and be a directory" {
	PIDFILE=$T/none/tcpd.pid one_service_conf echo echo
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:1: pid_file $T/none/tcpd.pid: directory $T/none: No such file or directory"
	: >"$T/file"
	PIDFILE=$T/file/tcpd.pid one_service_conf echo echo
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:1: pid_file $T/file/tcpd.pid: directory $T/file: Not a directory"
	# A relative pid_file is under the configuration's directory.
	write_conf '' "$(conf_service echo echo '"127.0.0.1:7007"')"
	sed -i '1s|.*|# the pid file\npid_file = "run/tcpd.pid";|' "$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:2: pid_file $T/run/tcpd.pid: directory $T/run: No such file or directory"
	mkdir "$T/run"
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
}

@test "-t: the pid_file's directory must be writable by the user tcpd runs as" {
	mkdir "$T/ro"
	PIDFILE=$T/ro/tcpd.pid one_service_conf echo echo
	if [ "$(id -u)" -eq 0 ]; then
		# Root writes anywhere: check as nobody, who must reach the file.
		chmod o+x "$BATS_RUN_TMPDIR" "$T"
		chmod o+r "$CONF"
		as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
		"${as[@]}" test -r "$CONF" || skip "nobody cannot read $CONF"
	else
		chmod 555 "$T/ro"
		as=()
	fi
	run -1 "${as[@]}" "$TCPD" -t -c "$CONF"
	assert_output "$CONF:1: pid_file $T/ro/tcpd.pid: directory $T/ro: Permission denied"
	chmod 777 "$T/ro"
	run -0 "${as[@]}" "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
}

@test "-t on a missing file says so" {
	run -1 "$TCPD" -t -c "$T/absent.conf"
	assert_output "$T/absent.conf: No such file or directory"
}

@test "-s reload, quit and stop reach the running master" {
	one_service echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	[ "$(cat "$PIDFILE")" = "$TCPD_PID" ]
	run -0 "$TCPD" -s reload -c "$CONF"
	wait_for 5 log_has_n 1 'reload: generation 2 started'
	run -0 "$TCPD" -s quit -c "$CONF"
	wait_for 10 dead "$TCPD_PID"
	wait "$TCPD_PID"	# exit status 0
	grep -q 'stopping (graceful)' "$LOG"
	[ ! -e "$PIDFILE" ]
	TCPD_PID=

	start_tcpd 1
	run -0 "$TCPD" -s stop -c "$CONF"
	wait_for 10 dead "$TCPD_PID"
	wait "$TCPD_PID"
	grep -q 'stopping (fast)' "$LOG"
	[ ! -e "$PIDFILE" ]
	TCPD_PID=
}

@test "-s with an unknown command is a usage error" {
	one_service_conf echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	run -2 "$TCPD" -s restart -c "$CONF"
	assert_output "tcpd: unknown -s command 'restart': use reload, quit, stop or status"
}

@test "-s with no master running says so" {
	one_service_conf echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	run -1 "$TCPD" -s reload -c "$CONF"
	assert_output --partial "tcpd: not running ($PIDFILE: No such file or directory)"
	# A pid file nobody holds is stale, whatever pid it names.
	echo $$ >"$PIDFILE"
	run -1 "$TCPD" -s reload -c "$CONF"
	assert_output "tcpd: not running (stale pid file $PIDFILE)"
}

@test "a second master on the same pid file refuses to start" {
	one_service echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	run -1 "$TCPD" -f -c "$CONF"
	assert_output --partial "already running as pid $TCPD_PID (pid file $PIDFILE)"
}

@test "a second master on a port in use refuses to start" {
	one_service echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	sed -i "s|$PIDFILE|$T/other.pid|" "$CONF"
	run -1 "$TCPD" -f -c "$CONF"
	assert_output --partial "cannot listen on 127.0.0.1:$PORT: address already in use"
	# The first one still serves.
	assert_echo "$PORT" still
}
