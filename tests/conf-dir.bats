#!/usr/bin/env bats
# Many services, the Debian way: include_dir reads NAME.conf files in
# C-locale order, each with a services list; disable = true keeps a
# service out of service; every per-service setting has a top-level
# default; and a service has one worker unless it asks for more.

load helpers

# services_in_status: the services of the running master, in order.
services_in_status() {
	"$TCPD" -c "$CONF" -s status | awk '/^SERVICE/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'
}

@test "include_dir: NAME.conf files in C-locale order; hidden files and leftovers skipped" {
	P=()
	for i in 0 1 2 3 4 5; do P+=("$(free_port)"); done
	mkdir "$T/tcpd.d"
	write_conf 'include_dir = "tcpd.d";' "$(conf_service main echo "\"127.0.0.1:${P[0]}\"")"
	svc() { printf 'services = (\n  { name = "%s"; handler = "echo"; listen = [ "127.0.0.1:%s" ]; }\n);\n' "$1" "$2"; }
	svc b-second "${P[2]}" >"$T/tcpd.d/20-b.conf"
	svc a-first "${P[1]}" >"$T/tcpd.d/10-a.conf"
	svc lower "${P[5]}" >"$T/tcpd.d/z.conf"
	svc upper "${P[3]}" >"$T/tcpd.d/Z.conf"		# 'Z' sorts before 'z' in C
	# None of these is read: each would clash on port P[1].
	for f in .hidden.conf 10-a.conf~ 10-a.conf.dpkg-old 10-a.conf.dpkg-dist \
	    10-a.conf.dpkg-new 10-a.conf.ucf-old README 10-a.conf.bak; do
		svc "x$RANDOM" "${P[1]}" >"$T/tcpd.d/$f"
	done
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
	start_tcpd 5
	run -0 services_in_status
	assert_output "$(printf '%s\n' main a-first b-second upper lower)"
	assert_echo "${P[2]}" second

	# A new file is read at the next reload.
	svc c-third "${P[4]}" >"$T/tcpd.d/30-c.conf"
	run -0 "$TCPD" -c "$CONF" -s reload
	assert_output "ok: generation 2 serving"
	assert_echo "${P[4]}" third
}

@test "include_dir: a name twice names both files and lines; a file holds services only" {
	mkdir "$T/d"
	PORT=$(free_port)
	write_conf 'include_dir = "d";' "$(conf_service echo echo "\"127.0.0.1:$PORT\"")"
	printf '# a comment\nservices = (\n  { name = "echo"; handler = "discard"; listen = [ "127.0.0.1:1" ]; }\n);\n' >"$T/d/50-echo.conf"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$T/d/50-echo.conf:3: duplicate service name 'echo' (first at $CONF:5)"
	printf 'pid_file = "/tmp/x.pid";\nservices = ( );\n' >"$T/d/50-echo.conf"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$T/d/50-echo.conf:1: unknown key 'pid_file': a file of include_dir holds services = ( ... ); only"
	printf 'services = ( { name = "x"; handler = "echo"; listen = [ "127.0.0.1:1" ]; workers = 0; } );\n' >"$T/d/50-echo.conf"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --regexp "^$T/d/50-echo.conf:1: 'workers' must be between 1 and 256"
	rm "$T/d/50-echo.conf"
	rmdir "$T/d"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:3: include_dir $T/d: No such file or directory"
}

@test "disable = true: kept in the file, out of service" {
	P1=$(free_port)
	P2=$(free_port)
	write_conf '' "$(conf_service on echo "\"127.0.0.1:$P1\"")
$(conf_service off echo "\"127.0.0.1:$P2\"" 'disable = true;')"
	start_tcpd 1
	assert_echo "$P1" on
	listening "$P1"
	not_listening "$P2"
	run -0 services_in_status
	assert_output on
	stop_tcpd
	sed -i 's/disable = true;/disable = "yes";/' "$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --regexp "^$CONF:[0-9]+: 'disable' must be true or false"
	# Every service disabled: nothing to serve is an error.
	write_conf '' "$(conf_service off echo "\"127.0.0.1:$P2\"" 'disable = true;')"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output --regexp "^$CONF:[0-9]+: every service is disabled$"
}

@test "top-level defaults: every service takes them, a handler's own only its services" {
	P1=$(free_port)
	P2=$(free_port)
	write_conf 'max_connections = 1; umask = "027"; idle_timeout = 1;' \
	    "$(conf_service prog exec "\"127.0.0.1:$P1\"" 'exec = [ "/bin/sh", "-c", "umask; exec cat" ];')
$(conf_service plain echo "\"127.0.0.1:$P2\"" 'max_connections = 2;')"
	start_tcpd 2
	# The program has the default umask; a second client waits for the cap.
	exec 5<>"/dev/tcp/127.0.0.1/$P1"
	read -r -t 5 mask <&5
	[ "$mask" = "0027" ]
	exec 6<>"/dev/tcp/127.0.0.1/$P1"
	wait_for 5 accept_queue_is "$P1" 1
	run -0 "$TCPD" -c "$CONF" -s status --json
	assert_output --partial '"name":"prog","handler":"exec"'
	assert_output --regexp '"name":"prog".*"max_connections":1,'
	assert_output --regexp '"name":"plain".*"max_connections":2,'
	# idle_timeout = 1 from the top: an idle echo client reads EOF.
	exec 7<>"/dev/tcp/127.0.0.1/$P2"
	rc=0
	read -r -t 5 line <&7 || rc=$?
	[ "$rc" -eq 1 ]
	exec 5>&- 6>&- 7>&-
	wait_for 5 log_has_n 1 'closed service=plain .*reason="idle timeout"'

}

@test "workers: one by default, \"auto\" for one per CPU" {
	P1=$(free_port)
	P2=$(free_port)
	write_conf '' "$(conf_service one echo "\"127.0.0.1:$P1\"")
$(conf_service many echo "\"127.0.0.1:$P2\"" 'workers = "auto";')"
	start_tcpd $((1 + $(nproc)))
	run -0 "$TCPD" -c "$CONF" -s status --json
	assert_output --regexp '"name":"one","handler":"echo","listen":\[[^]]*\],"workers":1,'
	assert_output --regexp "\"name\":\"many\",\"handler\":\"echo\",\"listen\":\\[[^]]*\\],\"workers\":$(nproc),"
	nworkers_is $((1 + $(nproc)))
	# The same as a top-level default.
	write_conf 'workers = "auto";' "$(conf_service one echo "\"127.0.0.1:$P1\"")"
	run -0 "$TCPD" -c "$CONF" -s reload
	run -0 "$TCPD" -c "$CONF" -s status --json
	assert_output --regexp "\"name\":\"one\",\"handler\":\"echo\",\"listen\":\\[[^]]*\\],\"workers\":$(nproc),"
}
