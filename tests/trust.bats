#!/usr/bin/env bats
# The master trusts nothing a worker can write: a worker that writes what
# a compromised one would (foreign process groups, the master's own,
# huge counts, a full ledger, messages of every wrong size) and dies
# makes the master signal no process outside tcpd, and leaves it running
# with its limits and figures true.  And no worker maps another's shared
# memory, nor that of a service it does not serve.

load helpers

# A program that says its pid (its process group: programs lead their
# own) and stays, with a child in its group.  A worker's death kills the
# program itself (PR_SET_PDEATHSIG), and the master may reap it before
# it learns of the death; the child keeps the group for the master to
# find and end.
PROG='exec = [ "/bin/sh", "-c", "echo $$; sleep 60 & exec sleep 60" ];'

# greet FD SRC: connect from address SRC to $PORT on fd FD, through nc.
greet() {
	eval "exec $1< <(exec nc -s $2 127.0.0.1 $PORT </dev/null)"
	BG_PIDS="${BG_PIDS:-} $!"
}

# pgid_is PID G: the process group of PID is G.
pgid_is() {
	[ "$(ps -o pgid= -p "$1" | tr -d ' ')" = "$2" ]
}

# json EXPR: a Python expression on the JSON status as j.
json() {
	"$TCPD" -c "$CONF" -s status --json >"$T/status.json" || return 1
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	    "$T/status.json" "$1"
}

@test "a worker writing what a compromised one would: no process outside tcpd is signalled, limits stay true" {
	[ "$(id -u)" -eq 0 ] || skip "the foreign process group must be root's, as the master"
	grep -q 'test hooks' < <("$TCPD" -V) || skip "built without --enable-test-hooks"
	# A root process group of nobody's in tcpd: a victim to aim at.
	setsid sleep 300 &
	foreign=$!
	BG_PIDS="$foreign"
	wait_for 5 pgid_is "$foreign" "$foreign"

	PORT=$(free_port)
	OPORT=$(free_port)
	write_conf '' "$(conf_service hostile exec "\"127.0.0.1:$PORT\"" \
	    "workers = 1; max_connections = 3; per_source = { max_connections = 2; }; $PROG")
$(conf_service other exec "\"127.0.0.1:$OPORT\"" "workers = 1; $PROG")"
	TCPD_TEST_HOSTILE=$T/groups start_tcpd 2

	# A program of the worker to be compromised, and one of another.
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 mine <&5
	exec 6<>"/dev/tcp/127.0.0.1/$OPORT"
	read -r -t 5 theirs <&6
	# Their workers are their parents.
	hostile=$(ps -o ppid= -p "$mine" | tr -d ' ')
	other=$(ps -o ppid= -p "$theirs" | tr -d ' ')
	[ -n "$hostile" ]
	[ -n "$other" ]

	# It names, besides its real program, the foreign group, the other
	# worker, the other worker's program, the master and this test's
	# own group (the hook adds 1, -1, INT_MAX and the master's group);
	# writes its counts, cell and ledger at their largest; writes over
	# its configuration (every service's name and limits, 1,000 workers
	# each); and dies.
	echo "$foreign $other $theirs $TCPD_PID $(ps -o pgid= -p $$)" >"$T/groups"
	kill -WINCH "$hostile"
	wait_for 5 log_has_n 1 "test hook: wrote a compromised worker's heartbeat, configuration, counts"
	# Nor could it reach past its 4 regions (heartbeat, ledger, count,
	# table) to others': each of its mappings is a window on a file
	# that holds many.
	run -0 grep -E "4 regions: remap_file_pages refused \(Operation not permitted\), mremap refused \(Operation not permitted\); dying" "$LOG"
	wait_for 5 log_has_n 1 "hostile: worker $hostile named [0-9]+ process groups? that no program of it leads \\([-0-9]+(, \\.\\.\\.)?\\): not signalled$"
	wait_for 5 log_has_n 1 "hostile: worker $hostile left 1 program running"
	wait_for 5 log_has_n 1 "hostile: process group $mine of a dead worker ended after"
	# Past the 2 s from SIGTERM to SIGKILL: nothing foreign was touched.
	wait_for 5 log_has_n 2 "worker [0-9]+ started: service hostile"
	alive "$foreign"
	alive "$other"
	alive "$theirs"
	alive "$TCPD_PID"
	dead "$mine"

	# Limits are true: two clients from 127.0.0.1 (per_source 2), a
	# third from it refused, one from 127.0.0.2 takes the third unit of
	# max_connections, and one from 127.0.0.3 waits in the queue.
	wait_for 5 test_json 'j["services"][0]["max_connections_used"] == 0'
	exec 5>&-
	greet 4 127.0.0.1
	read -r -t 5 a <&4
	greet 5 127.0.0.1
	read -r -t 5 b <&5
	[ -n "$a" ]
	[ -n "$b" ]
	greet 7 127.0.0.1
	run -1 read -r -t 5 c <&7
	wait_for 5 log_has_n 1 'refused service=hostile .* reason="per_source max_connections 2"'
	greet 8 127.0.0.2
	read -r -t 5 d <&8
	[ -n "$d" ]
	greet 9 127.0.0.3
	wait_for 5 accept_queue_is "$PORT" 1
	run -0 json 'j["services"][0]["max_connections_used"]'
	assert_output 3

	# Its figures stay sane: what no worker could have done in its life
	# is not counted; the rest is what the clients did.
	run -0 json '[(s["accepted"], s["open"], sum(s["refused"].values())) for s in j["services"]]'
	assert_output '[(4, 3, 1), (1, 1, 0)]'
	run -0 "$TCPD" -c "$CONF" -s status
	assert_line --regexp '^hostile +exec +1/1 '
	assert_line --regexp '^other +exec +1/1 '
	exec 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
}

# test_json EXPR: EXPR on the JSON status is true.
test_json() {
	[ "$(json "$1")" = True ]
}

# shared_maps PID: the shared memory PID maps, as inode:offset, one a
# line (heartbeats are cells of one mapping: each at its own offset).
shared_maps() {
	awk '$6 == "/dev/zero" || $6 ~ /^\/SYSV/ { print $5 ":" $3 }' "/proc/$1/maps" | sort -u
}

@test "a worker maps its own shared memory and its service's, no other worker's" {
	local ports=() i svcs=''
	for i in 1 2 3 4; do
		ports+=("$(free_port)")
		svcs+=$(conf_service "s$i" echo "\"127.0.0.1:${ports[-1]}\"" \
		    "workers = 2; max_connections = 10; per_source = { max_connections = 5; };")
		svcs+=$'\n'
	done
	write_conf '' "$svcs"
	start_tcpd 8
	# The master maps them all, the heartbeats (cells of one mapping),
	# 8 ledgers, 4 counts and 4 tables (regions of one pool), in two
	# mappings: those it splits for a fork are merged again after it.
	[ "$(shared_maps "$TCPD_PID" | grep -c .)" -eq 2 ]
	local w n seen=()
	for w in $(workers); do
		# Its heartbeat and ledger, its service's count and table.
		n=$(shared_maps "$w" | grep -c .)
		[ "$n" -eq 4 ] || fail "worker $w maps $n shared regions, not 4: $(cat /proc/$w/maps)"
		seen+=("$(shared_maps "$w")")
	done
	# Any two workers share at most their service's two.
	local j common
	for ((i = 0; i < ${#seen[@]}; i++)); do
		for ((j = i + 1; j < ${#seen[@]}; j++)); do
			common=$(comm -12 <(echo "${seen[i]}") <(echo "${seen[j]}") | grep -c . || true)
			[ "$common" -le 2 ] || fail "two workers share $common regions"
		done
	done
}

# seccomp_filters PID: how many seccomp filters PID runs under.
seccomp_filters() {
	awk '/^Seccomp_filters:/ { print $2 }' "/proc/$1/status"
}

# as_root_without_sys_admin [SETPRIV_FLAGS]: from now on $TCPD runs as
# root without CAP_SYS_ADMIN (setpriv), with SETPRIV_FLAGS too.
as_root_without_sys_admin() {
	printf '#!/bin/sh\nexec setpriv %s --bounding-set -sys_admin "%s" "$@"\n' \
	    "${1:-}" "$REAL_TCPD" >"$T/tcpd-nosysadmin"
	chmod 755 "$T/tcpd-nosysadmin"
	TCPD=$T/tcpd-nosysadmin
}

@test "root without CAP_SYS_ADMIN: workers guard their shared memory under NoNewPrivileges, and the master says when they cannot" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	REAL_TCPD=$TCPD
	one_service_conf e echo
	# As root with every capability: a filter in each worker, none in
	# the master.
	start_tcpd 1
	[ "$(seccomp_filters "$(workers | head -1)")" -eq 1 ]
	[ "$(seccomp_filters "$TCPD_PID")" -eq 0 ]
	stop_tcpd
	# Without CAP_SYS_ADMIN or NoNewPrivileges: none, and it says so.
	: >"$LOG"
	as_root_without_sys_admin
	start_tcpd 1
	run -0 grep -E "tcpd\\[$TCPD_PID\\]: workers cannot keep to their own shared memory" "$LOG"
	[ "$(seccomp_filters "$(workers | head -1)")" -eq 0 ]
	stop_tcpd
	# Under NoNewPrivileges, as the shipped unit runs it: a filter.
	: >"$LOG"
	as_root_without_sys_admin --no-new-privs
	start_tcpd 1
	run -1 grep -E "workers cannot keep to their own shared memory" "$LOG"
	[ "$(seccomp_filters "$(workers | head -1)")" -eq 1 ]
	run -0 bash -c "printf 'hi\\n' | nc -q1 127.0.0.1 $PORT"
	assert_output hi
	TCPD=$REAL_TCPD
}
