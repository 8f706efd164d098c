#!/usr/bin/env bats
# Every class of configuration error: rejected by -t with FILE:LINE.

load helpers

svc='{ name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; }'

@test "libconfig syntax error" {
	check '3: syntax error' 'services = (' "  $svc" '  oops' ');'
}

@test "unknown key, at the top and in a service" {
	check "1: unknown key 'usr'" 'usr = "nobody";' "services = ( $svc );"
	check "3: unknown key 'worker' in service 'e'" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ];' \
	    '    worker = 2; }' ');'
}

@test "wrong type" {
	check "2: 'workers' must be an integer or \"auto\"" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; workers = "2"; }' ');'
	check "1: 'shutdown_timeout' must be an integer" 'shutdown_timeout = 1.5;' "services = ( $svc );"
	check "1: 'pid_file' must be a string" 'pid_file = 3;' "services = ( $svc );"
	check "1: 'services' must be a list ( { ... }, ... )" "services = $svc;"
	check "2: 'listen' must be a list of addresses, like [ \"127.0.0.1:7007\" ]" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = "127.0.0.1:7007"; }' ');'
}

@test "numbers out of range" {
	check "2: 'workers' must be between 1 and 256, not 0" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; workers = 0; }' ');'
	check "2: 'backlog' must be between 1 and 65535, not 70000" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; backlog = 70000; }' ');'
	check "2: 'idle_timeout' must be between 0 and 2000000, not -1" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; idle_timeout = -1; }' ');'
	check "1: 'shutdown_timeout' must be between 0 and 86400, not 99999" \
	    'shutdown_timeout = 99999;' "services = ( $svc );"
	check "1: 'respawn_limit' must be between 1 and 1000, not 0" \
	    'respawn_limit = 0;' "services = ( $svc );"
	check "1: 'respawn_window' must be between 1 and 3600, not 0" \
	    'respawn_window = 0;' "services = ( $svc );"
	check "1: 'watchdog_timeout' must be between 0 and 3600, not 4000" \
	    'watchdog_timeout = 4000;' "services = ( $svc );"
	check "2: 'max_connections' must be between 0 and 1000000, not -1" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; max_connections = -1; }' ');'
}

@test "numbers libconfig would truncate into range are out of range as written" {
	# libconfig reads an int literal modulo 2^32 unless it ends in L.
	check "2: 'workers' must be between 1 and 256, not 4294967298" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; workers = 4294967298; }' ');'
	check "2: 'workers' must be between 1 and 256, not 0x100000002" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; workers = 0x100000002; }' ');'
	check "2: 'workers' must be between 1 and 256, not 4294967298" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; workers = 4294967298L; }' ');'
	check "2: 'max_connections' must be between 0 and 1000000, not 4294967296" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; max_connections = 4294967296; }' ');'
	check "1: 'shutdown_timeout' must be between 0 and 86400, not -4294967295" \
	    'shutdown_timeout = -4294967295;' "services = ( $svc );"
	check "1: 'watchdog_timeout' must be between 0 and 3600, not 99999999999999999999" \
	    'watchdog_timeout = 99999999999999999999;' "services = ( $svc );"
	check "3: 'workers' must be between 1 and 256, not 0xFFFFFFFF" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ];' \
	    '    workers : 0xFFFFFFFF; }' ');'
	# The value on the line below its name.
	check "3: 'backlog' must be between 1 and 65535, not 4294967298" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ];' \
	    '    backlog =' '      4294967298; }' ');'
	# What only looks like the setting, in a comment or a string, is not it.
	check "2: 'workers' must be between 1 and 256, not 4294967298" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; /* workers = 2; */ workers = 4294967298; }' ');'
	check "3: 'workers' must be between 1 and 256, not 4294967298" 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; /* a comment' \
	    '    workers = 2; */ workers = 4294967298; }' ');'
	check "2: 'workers' must be between 1 and 256, not 4294967298" 'services = (' \
	    '  { name = "e"; handler = "exec"; exec = [ "/bin/cat" ]; env = [ "A=\" workers = 2" ]; workers = 4294967298;' \
	    '    listen = [ "127.0.0.1:7007" ]; }' ');'
	# Numbers libconfig reads as written are left alone.
	printf '%s\n' 'services = (' \
	    '  { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007" ];' \
	    '    workers = 2; # workers = 4294967298' \
	    '    backlog = 010; idle_timeout = +7; max_connections = 0x10; } );' >"$CONF"
	run -0 "$TCPD" -t -c "$CONF"
}

@test "unknown handler, log level, facility, user, group" {
	check "1: unknown handler 'ekko' (known: echo, discard, chargen, daytime, time, exec, metrics, agent)" \
	    'services = ( { name = "e"; handler = "ekko"; listen = [ "127.0.0.1:7007" ]; } );'
	check "1: unknown log_level 'loud' (err, warning, notice, info, debug)" \
	    'log_level = "loud";' "services = ( $svc );"
	check "1: unknown log_facility 'local9'" 'log_facility = "local9";' "services = ( $svc );"
	check "1: unknown user 'no-such-user-here'" 'user = "no-such-user-here";' "services = ( $svc );"
	check "2: unknown group 'no-such-group-here'" 'user = "root";' \
	    'group = "no-such-group-here";' "services = ( $svc );"
}

@test "malformed listen addresses" {
	for a in '127.0.0.1' '127.0.0.1:' '127.0.0.1:0' '127.0.0.1:65536' \
	    '127.0.0.1:80x' '256.0.0.1:80' 'localhost:80' '::1:80' '[::1]80' \
	    '[::g]:80' ':80'; do
		check "1: bad listen address '$a': expected a.b.c.d:port or [ipv6]:port, port 1-65535 or a name from /etc/services" \
		    "services = ( { name = \"e\"; handler = \"echo\"; listen = [ \"$a\" ]; } );"
	done
}

@test "duplicate and overlapping addresses" {
	check "3: listen address 127.0.0.1:7007 clashes with 127.0.0.1:7007 of service 'a' (line 2)" \
	    'services = (' \
	    '  { name = "a"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; },' \
	    '  { name = "b"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; }' ');'
	check "2: listen address [::1]:7 clashes with [::]:7 of service 'a' (line 2)" \
	    'services = (' \
	    '  { name = "a"; handler = "echo"; listen = [ "[::]:7", "[::1]:7" ]; }' ');'
	# Different families or ports do not clash.
	printf '%s\n' 'services = ( { name = "a"; handler = "echo";' \
	    '  listen = [ "0.0.0.0:7", "[::]:7", "127.0.0.1:8" ]; } );' >"$CONF"
	run -0 "$TCPD" -t -c "$CONF"
}

@test "duplicate service names" {
	check "3: duplicate service name 'a' (first at line 2)" 'services = (' \
	    '  { name = "a"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; },' \
	    '  { name = "a"; handler = "echo"; listen = [ "127.0.0.1:7008" ]; }' ');'
}

@test "missing pieces" {
	printf 'log_level = "info";\n' >"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: no 'services' defined"
	check "1: 'services' is empty" 'services = ( );'
	check "1: service has no 'name'" 'services = ( { handler = "echo"; listen = [ "127.0.0.1:7" ]; } );'
	check "1: service 'e' has no 'handler'" 'services = ( { name = "e"; listen = [ "127.0.0.1:7" ]; } );'
	check "1: service 'e' has no 'listen'" 'services = ( { name = "e"; handler = "echo"; } );'
	check "1: 'listen' of service 'e' is empty" 'services = ( { name = "e"; handler = "echo"; listen = [ ]; } );'
	check "1: 'name' must not be empty" 'services = ( { name = ""; handler = "echo"; listen = [ "127.0.0.1:7" ]; } );'
}

@test "service names: 1 to 64 letters, digits, '_', '-' or '.'" {
	local rule="'name' must be 1 to 64 letters, digits, '_', '-' or '.'"
	# A newline, written as an escape or as itself, would forge a log line.
	check "2: 'name' must not contain control characters" 'services = (' \
	    '  { name = "e\ntcpd[1]: forged"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; }' ');'
	check "2: 'name' must not contain control characters" 'services = (' \
	    '  { name = "e' 'tcpd[1]: forged"; handler = "echo"; listen = [ "127.0.0.1:7007" ]; }' ');'
	for n in 'a\tb' 'a\rb' 'a\x1bb' 'a\x7fb'; do
		check "2: 'name' must not contain control characters" 'services = (' \
		    "  { name = \"$n\"; handler = \"echo\"; listen = [ \"127.0.0.1:7007\" ]; }" ');'
	done
	for n in 'a b' 'a/b' 'a:b' "a'b" 'é' "$(printf 'x%.0s' {1..65})"; do
		check "2: $rule, not '$n'" 'services = (' \
		    "  { name = \"$n\"; handler = \"echo\"; listen = [ \"127.0.0.1:7007\" ]; }" ');'
	done
	printf '%s\n' 'services = (' \
	    "  { name = \"$(printf 'x%.0s' {1..64})\"; handler = \"echo\"; listen = [ \"127.0.0.1:7007\" ]; }," \
	    '  { name = "Echo-2_v1.0"; handler = "echo"; listen = [ "127.0.0.1:7008" ]; }' ');' >"$CONF"
	run -0 "$TCPD" -t -c "$CONF"
}

@test "no control characters in any string that may reach a log line" {
	local exec='name = "e"; handler = "exec"; listen = [ "127.0.0.1:7007" ];'
	check "1: 'user' must not contain control characters" 'user = "root\n";' "services = ( $svc );"
	check "2: 'group' must not contain control characters" 'user = "root";' \
	    'group = "root\x01";' "services = ( $svc );"
	check "1: 'pid_file' must not contain control characters" 'pid_file = "/run/x\n.pid";' \
	    "services = ( $svc );"
	check "1: 'log_level' must not contain control characters" 'log_level = "info\r";' \
	    "services = ( $svc );"
	check "1: 'handler' must not contain control characters" \
	    'services = ( { name = "e"; handler = "echo\n"; listen = [ "127.0.0.1:7007" ]; } );'
	check "1: 'listen' entry 2 must not contain control characters" \
	    'services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7007", "127.0.0.1:7008\n" ]; } );'
	check "2: 'exec' entry 1 must not contain control characters" "services = ( { $exec" \
	    '  exec = [ "/bin/cat\n" ]; } );'
	check "2: 'env' entry 2 must not contain control characters" "services = ( { $exec" \
	    '  exec = [ "/bin/cat" ]; env = [ "A=x", "B=x\x7f" ]; } );'
	# The program's arguments go to it alone, never to a log: a script
	# may hold newlines and tabs.
	printf '%s\n' "services = ( { $exec" \
	    '  exec = [ "/bin/sh", "-c", "echo a\n\techo b" ]; } );' >"$CONF"
	run -0 "$TCPD" -t -c "$CONF"
}

@test "the shipped configuration is valid" {
	run -0 "$TCPD" -t -c "$BATS_TEST_DIRNAME/../conf/tcpd.conf"
}

@test "only a regular file is read: a FIFO or a directory is refused at once" {
	mkfifo "$T/fifo.conf"
	run -1 timeout 5 "$TCPD" -t -c "$T/fifo.conf"
	assert_output "$T/fifo.conf: not a regular file: refusing to read it"
	run -1 timeout 5 "$TCPD" -t -c "$T"
	assert_output "$T: not a regular file: refusing to read it"
	run -1 timeout 5 "$TCPD" -t -c /dev/null
	assert_output "/dev/null: not a regular file: refusing to read it"
}

# pad_to BYTES FILE: append spaces to FILE until it holds BYTES bytes.
pad_to() {
	head -c $(($1 - $(stat -c %s "$2"))) /dev/zero | tr '\0' ' ' >>"$2"
}

@test "a file over 1 MiB is refused; 1 MiB exactly is read" {
	printf '%s\n' "services = ( $svc );" >"$CONF"
	pad_to 1048576 "$CONF"
	run -0 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: configuration OK"
	printf ' ' >>"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF: larger than 1048576 bytes: refusing to read it"
}

@test "@include: from the file's directory, bounded like the file" {
	mkdir "$T/conf.d"
	printf '%s\n' "services = ( $svc );" >"$T/conf.d/svc.conf"
	printf '%s\n' 'log_level = "info";' '@include "conf.d/svc.conf"' >"$CONF"
	run -0 "$TCPD" -t -c "$CONF"
	# An error in an included file names that file, as the include does.
	printf '%s\n' 'services = ( { name = "e"; handler = "echo";' \
	    '  listen = [ "127.0.0.1:7007" ]; workers = 0; } );' >"$T/conf.d/svc.conf"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "conf.d/svc.conf:2: 'workers' must be between 1 and 256, not 0"
	# A FIFO included is refused before anything opens it.
	rm "$T/conf.d/svc.conf"
	mkfifo "$T/conf.d/svc.conf"
	run -1 timeout 5 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:2: conf.d/svc.conf: not a regular file: refusing to read it"
	# The bound counts the included files, each time they are included.
	rm "$T/conf.d/svc.conf"
	printf '%s\n' "services = ( $svc );" >"$T/conf.d/svc.conf"
	pad_to 600000 "$T/conf.d/svc.conf"
	pad_to 600000 "$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:2: conf.d/svc.conf: the configuration would be larger than 1048576 bytes: refusing to read it"
	# So is a file that includes itself over and over.
	for i in 1 2 3 4 5 6 7 8; do echo '@include "tcpd.conf"'; done >"$CONF"
	run -1 timeout 5 "$TCPD" -t -c "$CONF"
	assert_output --regexp "^tcpd.conf:[0-9]+: tcpd.conf: the configuration would be larger than 1048576 bytes: refusing to read it$"
}

@test "a reload from a FIFO is refused and leaves the master serving" {
	PORT=$(free_port)
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 1;')"
	start_tcpd 1
	mv "$CONF" "$T/saved.conf"
	mkfifo "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF: not a regular file: refusing to read it"
	run -0 timeout 5 bash -c "echo still | nc -N 127.0.0.1 $PORT"
	assert_output still
}
