#!/usr/bin/env bats
# user, group and groups: globally and per service, for workers and the
# programs they start.

load helpers

# A directory user nobody can read, removed after each test.
eval "helpers_$(declare -f teardown)"
teardown() {
	[ -z "${NB:-}" ] || rm -rf "$NB"
	helpers_teardown
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "changing user needs root"
}

# worker_pid SERVICE: the pid of SERVICE's worker (slot 0) under $TCPD_PID.
worker_pid() {
	ps -o pid=,args= --ppid "$TCPD_PID" |
	    awk -v t="tcpd: worker $1 slot 0" 'index($0, t) { print $1; exit }'
}

# ident PID: "user group supplementary-groups" of a process.
ident() {
	ps -o user=,group=,supgrp= -p "$1" | awk '{ print $1, $2, $3 }'
}

# services_conf TOP: four services on free ports P1..P4: two echo, two
# running /usr/bin/id, one of each with a user of its own.
services_conf() {
	P1=$(free_port) P2=$(free_port) P3=$(free_port) P4=$(free_port)
	write_conf "$1" "$(conf_service own echo "\"127.0.0.1:$P1\"" \
	    'workers = 1; user = "daemon"; groups = [ "nogroup", "sys" ];')
$(conf_service global echo "\"127.0.0.1:$P2\"" 'workers = 1;')
$(conf_service rootprog exec "\"127.0.0.1:$P3\"" \
    'workers = 1; user = "root"; exec = [ "/usr/bin/id" ];')
$(conf_service prog exec "\"127.0.0.1:$P4\"" \
    'workers = 1; exec = [ "/usr/bin/id" ];')"
}

@test "each service's workers and programs run as its own user, group and groups" {
	services_conf 'user = "nobody"; group = "nogroup";'
	start_tcpd 4
	assert_equal "$(ident "$(worker_pid own)")" "daemon daemon daemon,sys,nogroup"
	assert_equal "$(ident "$(worker_pid global)")" "nobody nogroup nogroup"
	assert_equal "$(ident "$(worker_pid rootprog)")" "root root root"
	run -0 timeout 5 nc -d 127.0.0.1 "$P3"
	assert_output --regexp '^uid=0\(root\) gid=0\(root\) groups=0\(root\)'
	run -0 timeout 5 nc -d 127.0.0.1 "$P4"
	assert_output 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)'
	# Every worker is still up: the master binds, the workers never do.
	assert_echo "$P1" own
	assert_echo "$P2" global
}

# with_group_file: $TCPD sees an /etc/group in which daemon is also in
# group tcpdtest (4242).
with_group_file() {
	{ cat /etc/group; echo 'tcpdtest:x:4242:daemon'; } >"$T/group"
	tcpd_over_file "$T/group" /etc/group
}

# id_says SETTINGS EXPECTED: /usr/bin/id, the program of a service with
# SETTINGS, tells its client EXPECTED.
id_says() {
	one_service prog exec "$1 exec = [ \"/usr/bin/id\" ];"
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output "$2"
	stop_tcpd
}

@test "without 'groups', a user gets its own supplementary groups; 'groups' replaces them" {
	with_group_file
	id_says 'user = "daemon";' \
	    'uid=1(daemon) gid=1(daemon) groups=1(daemon),4242(tcpdtest)'
	# A service's group replaces the primary group only.
	id_says 'user = "daemon"; group = "adm";' \
	    'uid=1(daemon) gid=4(adm) groups=4(adm),4242(tcpdtest)'
	id_says 'user = "daemon"; groups = [ "sys" ];' \
	    'uid=1(daemon) gid=1(daemon) groups=1(daemon),3(sys)'
	id_says 'user = "daemon"; groups = [ ];' \
	    'uid=1(daemon) gid=1(daemon) groups=1(daemon)'
}

@test "a reload gives a service's new workers its new user" {
	one_service prog exec 'user = "daemon"; exec = [ "/usr/bin/id", "-un" ];'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output daemon
	sed -i 's/user = "daemon"/user = "nobody"/' "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'reload: generation 2 started'
	wait_for 10 log_has_n 2 'worker [0-9]+ started'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output nobody
}

@test "unknown users and groups are FILE:LINE errors at -t and at reload" {
	local s='services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7" ];'
	check '2: unknown user '\''no-such-user'\''' "$s" ' user = "no-such-user"; } );'
	check '2: unknown group '\''no-such-group'\''' "$s" \
	    ' user = "nobody"; group = "no-such-group"; } );'
	check '2: unknown group '\''no-such-group'\'' in '\''groups'\''' "$s" \
	    ' user = "nobody"; groups = [ "sys", "no-such-group" ]; } );'
	check '2: '\''groups'\'' must be a list of strings, like [ "a", "b" ]' "$s" \
	    ' user = "nobody"; groups = "sys"; } );'
	check '1: unknown user '\''no-such-user'\''' 'user = "no-such-user";' "$s } );"
	check '1: '\''groups'\'' needs '\''user'\''' 'groups = [ "sys" ];' "$s } );"
	check '2: '\''group'\'' needs '\''user'\'' in the same service (a service without '\''user'\'' runs as the global user, group and groups)' \
	    'user = "nobody";' "$s group = \"sys\"; } );"

	one_service echo echo 'user = "nobody";'
	sed -i 's/user = "nobody"/user = "no-such-user"/' "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF:[0-9]+: unknown user 'no-such-user'"
	assert_echo "$PORT" still
}

@test "not root: a service's other user stops the start, and -t warns" {
	NB=$(mktemp -d /tmp/tcpd-identity.XXXXXX)
	chmod 755 "$NB"
	PORT=$(free_port)
	printf '%s\n' 'user = "daemon";' 'services = (' \
	    "  { name = \"e\"; handler = \"echo\"; listen = [ \"127.0.0.1:$PORT\" ];" \
	    '    user = "daemon"; } );' >"$NB/tcpd.conf"
	chmod 644 "$NB/tcpd.conf"
	local as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	run -0 "${as_nobody[@]}" "$TCPD" -t -c "$NB/tcpd.conf"
	assert_line "$NB/tcpd.conf:4: warning: service 'e' runs as user 'daemon' (uid 1), which needs tcpd started as root, not as uid 65534: tcpd would not start"
	assert_line "$NB/tcpd.conf: configuration OK"
	run -1 timeout 10 "${as_nobody[@]}" "$TCPD" -f -c "$NB/tcpd.conf"
	assert_output --partial "$NB/tcpd.conf:4: service 'e' runs as user 'daemon' (uid 1), which needs tcpd started as root, not as uid 65534"
	not_listening "$PORT"
	# The global user alone is a default for starts as root: ignored.
	sed -i '4s/user = "daemon";//' "$NB/tcpd.conf"
	run -0 "${as_nobody[@]}" "$TCPD" -t -c "$NB/tcpd.conf"
	assert_output "$NB/tcpd.conf: configuration OK"
	# Its own user is any user's to ask for.
	sed -i '4s/^ *}/    user = "nobody"; }/' "$NB/tcpd.conf"
	run -0 "${as_nobody[@]}" "$TCPD" -t -c "$NB/tcpd.conf"
	assert_output "$NB/tcpd.conf: configuration OK"
}

@test "not root: a reload asking for another user is refused, and tcpd serves on" {
	NB=$(mktemp -d /tmp/tcpd-identity.XXXXXX)
	chown nobody "$NB"
	chmod 755 "$NB"
	printf '%s\n' '#!/bin/sh' \
	    "exec setpriv --reuid=nobody --regid=nogroup --clear-groups \"$TCPD\" \"\$@\"" \
	    >"$NB/tcpd"
	chmod 755 "$NB/tcpd"
	TCPD=$NB/tcpd CONF=$NB/tcpd.conf PIDFILE=$NB/tcpd.pid
	# Its own user, asked for by name, is one tcpd can be.
	one_service echo echo 'user = "nobody";'
	chmod 644 "$CONF"
	assert_equal "$(ps -o user= -p "$(workers)")" nobody
	sed -i 's/user = "nobody"/user = "daemon"/' "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: $CONF:[0-9]+: service 'echo' runs as user 'daemon' \(uid 1\), which needs tcpd started as root, not as uid 65534"
	assert_echo "$PORT" still
}
