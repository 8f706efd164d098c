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
	assert_output "$CONF:2: unknown handler 'nope' (known: echo, discard, chargen, daytime, time, exec, metrics, agent)"
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

@test "GNU long options: --help, --version, --config, --test, --foreground" {
	run -0 "$TCPD" --help
	assert_line --index 0 --partial 'usage: tcpd'
	assert_output --partial -- '--config=file'
	run -0 "$TCPD" --version
	assert_output --regexp '^tcpd [0-9]+\.[0-9]+\.[0-9]+'
	one_service_conf echo echo
	run -0 "$TCPD" --test --config "$CONF"
	assert_output "$CONF: configuration OK"
	run -0 "$TCPD" --test --config="$CONF"
	"$TCPD" --foreground --config="$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "^$LOG_TS tcpd\\[$TCPD_PID\\]: worker [0-9]+ started"
	run -0 "$TCPD" --config "$CONF" --signal stop --wait
	# --wait returned: the master has let go of its pid file and gone.
	[ ! -e "$PIDFILE" ]
	wait "$TCPD_PID"
	TCPD_PID=
}

@test "-s reload waits for the outcome: the generation serving, or the reason it was refused" {
	one_service echo echo 'workers = 2;'
	run -0 "$TCPD" -c "$CONF" -s reload
	assert_output "ok: generation 2 serving"
	# Every worker of generation 2 already accepts when it says so.
	run -0 "$TCPD" -c "$CONF" -s status --json
	assert_output --partial '"generation":2'
	run -0 "$TCPD" -c "$CONF" -s status
	[ "$(grep -cE '^echo/[01] +ready +[0-9]+ +2 ' <<<"$output")" -eq 2 ]
	# A typo: refused, exit 1, with the master's own reason.
	cp "$CONF" "$T/good.conf"
	sed -i 's/^services = (/services = ( oops/' "$CONF"
	run -1 "$TCPD" -c "$CONF" -s reload
	assert_output --partial "tcpd: warning: $CONF:"
	assert_line --regexp "^error: reload refused: $CONF:[0-9]+: syntax error; still running generation 2$"
	# A port another process holds: refused at bind, said the same way.
	cp "$T/good.conf" "$CONF"
	busy=$(free_port)
	python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$busy" &
	BG_PIDS=$!
	wait_for 5 listening "$busy"
	sed -i "s|\"127.0.0.1:$PORT\"|\"127.0.0.1:$PORT\", \"127.0.0.1:$busy\"|" "$CONF"
	run -1 "$TCPD" -c "$CONF" -s reload
	assert_output --regexp "^error: reload refused: .*127\.0\.0\.1:$busy.*; still running generation 2$"
	cp "$T/good.conf" "$CONF"
	run -0 "$TCPD" -c "$CONF" -s reload
	assert_output "ok: generation 3 serving"
}

@test "-s status, reload and stop work with a broken file, from its pid_file line or -p" {
	one_service prog exec 'exec = [ "/bin/cat" ];'
	cp "$CONF" "$T/good.conf"
	# A typo, and a program gone: the file no longer loads.
	sed -i 's|"/bin/cat"|"/nonexistent/cat"|; s/^services = (/services = ( oops/' "$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	run -0 "$TCPD" -c "$CONF" -s status
	assert_output --partial "tcpd: warning: $CONF:"
	assert_output --partial "finding the master by the file's pid_file line anyway"
	assert_line --regexp '^prog +exec +1/1 '
	# Neither file nor lines: -p names the master.
	run -0 "$TCPD" -c "$T/absent.conf" -p "$PIDFILE" -s status --json
	assert_output --partial "\"pid\":$TCPD_PID"
	run -1 "$TCPD" -c "$T/absent.conf" -s status
	assert_output --partial "cannot find the master; name it with -p PIDFILE or -S SOCKET"
	run -0 "$TCPD" -c "$T/absent.conf" -S "$T/tcpd.sock" -s status
	assert_line --regexp '^prog +exec +1/1 '
	run -0 "$TCPD" -c "$CONF" -s quit --wait
	# --wait returned: the master is gone, its pid file too (it is our
	# child: reaped here, with its exit status 0).
	[ ! -e "$PIDFILE" ]
	wait "$TCPD_PID"
	TCPD_PID=
}

@test "-s without a control socket: by signal, and --wait waits on the pid file" {
	one_service echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	rm "$T/tcpd.sock"
	run -0 "$TCPD" -c "$CONF" -s reload
	assert_output --partial "reload signalled to pid $TCPD_PID; with no control socket, its outcome is in the log only"
	wait_for 5 log_has_n 1 'reload: generation 2 started'
	run -0 "$TCPD" -c "$CONF" -s stop -w
	[ ! -e "$PIDFILE" ]
	wait "$TCPD_PID"
	TCPD_PID=
	run -2 "$TCPD" -c "$CONF" -s status -w
	assert_output --partial -- "--wait goes with -s quit or -s stop"
}

@test "-T prints the configuration in effect, each service with its file and line" {
	mkdir "$T/d"
	P1=$(free_port)
	P2=$(free_port)
	write_conf 'include_dir = "d"; idle_timeout = 60; umask = "027";' \
	    "$(conf_service main echo "\"127.0.0.1:$P1\"")"
	printf '# one service\nservices = (\n  { name = "prog"; handler = "exec"; listen = [ "127.0.0.1:%s" ];\n    exec = [ "/bin/cat" ]; rlimits = { nofile = 64; }; }\n);\n' "$P2" >"$T/d/10-prog.conf"
	run -0 "$TCPD" -T -c "$CONF"
	assert_line "# and the *.conf files of $T/d"
	assert_line "  # $CONF:5"
	assert_line "  # $T/d/10-prog.conf:3"
	# Defaults filled in, from the top level and built in.
	[ "$(grep -c '^    idle_timeout = 60;$' <<<"$output")" -eq 2 ]
	assert_line '    workers = 1;'
	assert_line '    backlog = 4096;'
	assert_line '    umask = "027";'
	assert_line '    rlimits = { nofile = 64L; };'
	assert_line '    exec = [ "/bin/cat" ];'
	# It is a file tcpd reads, and reads as the same.
	printf '%s\n' "$output" >"$T/dump.conf"
	run -0 "$TCPD" -t -c "$T/dump.conf"
	run -0 "$TCPD" -T -c "$T/dump.conf"
	diff <(grep -v '^ *#' "$T/dump.conf") <(grep -v '^ *#' <<<"$output")
	# A broken file: the error, exit 1.
	echo 'oops' >>"$CONF"
	run -1 "$TCPD" -T -c "$CONF"
	assert_output --regexp "^$CONF:[0-9]+: syntax error"
}

@test "-s with an unknown command is a usage error" {
	one_service_conf echo echo 'workers = 1;' 'shutdown_timeout = 2;'
	run -2 "$TCPD" -s restart -c "$CONF"
	assert_output "tcpd: unknown -s command 'restart': use reload, quit, stop, drain, undrain or status"
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
