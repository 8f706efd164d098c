#!/usr/bin/env bats
# Thousands of services: tcpd starts them all, each worker judged from
# its own fork, however long forking them all takes.

load helpers

# answers PORT HANDLER: the service on PORT answers as HANDLER does
# (echo: the line back; daytime: a line), within 5 s.  No fork per try.
answers() {
	local reply='' rc
	exec 7<>"/dev/tcp/127.0.0.1/$1" || return 1
	case $2 in
	echo)
		printf 'x\n' >&7
		IFS= read -r -t 5 reply <&7
		[ "$reply" = x ]
		;;
	daytime)
		IFS= read -r -t 5 reply <&7
		[ -n "$reply" ]
		;;
	esac
	rc=$?
	exec 7<&- 7>&-
	return "$rc"
} 2>/dev/null

# every_service_answers: each echo and daytime service of many_services_conf
# answers (discard says nothing: status shows its worker ready).
every_service_answers() {
	local i=0 port
	while read -r port; do
		i=$(( i + 1 ))
		case $(( i % 3 )) in
		1) answers "$port" echo || fail "s$i (echo, port $port) did not answer" ;;
		0) answers "$port" daytime || fail "s$i (daytime, port $port) did not answer" ;;
		esac
	done <"$BULK_PORTS"
}

# ready_slots: how many slots status shows ready.
ready_slots() {
	"$TCPD" -c "$CONF" -s status | grep -cE '^s[0-9]+/0 +ready ' || true
}

# started_or_gone: the master said it started, or that it cannot.
started_or_gone() {
	log_has_n 1 "^$LOG_TS tcpd\\[$TCPD_PID\\]: (tcpd .* started: |cannot start)" ||
	    dead "$TCPD_PID"
}

# start_many N [TOP_SETTINGS]: tcpd with N services, and wait (up to
# 120 s) until it has started or failed.  Thousands of ports are more
# than another program on this machine can be relied on never to take
# between our pick and our bind: then, with new ones, up to 3 times.
start_many() {
	local try
	BULK_PORTS=$T/bulk-ports
	for try in 1 2 3; do
		free_ports "$1" "$BULK_PORTS"
		many_services_conf "$BULK_PORTS" "log_level = \"info\"; ${2:-}"
		run -0 "$TCPD" -t -c "$CONF"
		: >"$LOG"
		start_tcpd 0
		wait_for 120 started_or_gone
		grep -q 'cannot listen on .*address already in use' "$LOG" ||
			return 0
		stop_tcpd
		release_ports "$BULK_PORTS"
	done
}

# assert_all_served N: started, every slot ready, every service answers,
# and no worker was taken for hung.
assert_all_served() {
	run -0 grep -E "^$LOG_TS tcpd\\[$TCPD_PID\\]: tcpd .* started: $1 services, $1 workers" "$LOG"
	refute grep -q 'cannot start' "$LOG"
	[ "$(ready_slots)" -eq "$1" ]
	every_service_answers
	refute grep -qE 'silent for|SIGABRT|signal 6' "$LOG"
	alive "$TCPD_PID"
	[ "$(nworkers)" -eq "$1" ]
}

@test "2,000 services: all start, each answers, none is taken for hung" {
	start_many 2000
	assert_all_served 2000
}

# forked_kb PID: kB of PID's memory whose page table entries each fork
# copies: its anonymous pages outside mappings made MADV_DONTFORK ("dc").
forked_kb() {
	awk '/^Anonymous:/ { a = $2 } /^VmFlags:/ { if ($0 !~ / dc/) s += a }
	    END { print s + 0 }' "/proc/$1/smaps"
}

@test "what each fork copies of the master, and the mappings it walks, do not grow with the services" {
	# Each service counts per_source: a table for it, a ledger for
	# its worker, shared memory the master maps.
	local limits='per_source = { max_connections = 5; };'
	# Right after the start, before any status is asked of it.
	start_many 10 "$limits"
	run -0 grep -E "tcpd .* started: 10 services" "$LOG"
	few=$(forked_kb "$TCPD_PID")
	stop_tcpd
	release_ports "$BULK_PORTS"
	start_many 1000 "$limits"
	run -0 grep -E "tcpd .* started: 1000 services" "$LOG"
	many=$(forked_kb "$TCPD_PID")
	# Its records and its configuration are where no fork copies
	# them: 2,000 kB more for 1,000 services when they were not.
	[ $(( many - few )) -lt 400 ] ||
	    fail "$few kB at 10 services, $many kB at 1,000"
	# A fork walks every mapping, copied or not: the shared memory is
	# carved from a few (2,000 and more when each had its own).
	maps=$(grep -c . "/proc/$TCPD_PID/maps")
	[ "$maps" -lt 150 ] || fail "the master has $maps mappings"
}

@test "forks slowed down: each worker's deadline and first heartbeat count from its own fork" {
	hooks || skip "needs a tcpd built with --enable-test-hooks"
	# 1,000 forks 11 ms apart take over 11 s: longer than a worker may
	# take to start (10 s) and than watchdog_timeout.
	export TCPD_TEST_SPAWN_DELAY_MS=11
	start_many 1000 'watchdog_timeout = 2;'
	unset TCPD_TEST_SPAWN_DELAY_MS
	assert_all_served 1000
}

@test "too few processes for this user: -t and start refuse, with the reason" {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to run tcpd as nobody"
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	# A file the user nobody can read, and no pid file to write.
	D=$(mktemp -d /tmp/tcpd-nproc.XXXXXX)
	chmod 755 "$D"
	{
		echo 'services = ('
		for i in $(seq 1 30); do
			printf '  { name = "s%d"; handler = "echo"; listen = [ "127.0.0.1:%d" ]; workers = 1; }%s\n' \
			    "$i" "$(free_port)" "$([ "$i" -lt 30 ] && echo ,)"
		done
		echo ');'
	} >"$D/tcpd.conf"
	chmod 644 "$D/tcpd.conf"
	as_nobody="ulimit -u 50 && exec setpriv --reuid=nobody --regid=nogroup --clear-groups \"$TCPD\""
	run -1 bash -c "$as_nobody -t -c $D/tcpd.conf"
	assert_output "$D/tcpd.conf: tcpd would not start: the configuration runs 62 processes and threads (per worker one, and one per listen address), and this user may run 50 (ulimit -u)"
	run -1 timeout 20 bash -c "$as_nobody -f -c $D/tcpd.conf"
	assert_output --partial "cannot start: the configuration runs 62 processes and threads"
	rm -rf "$D"
}
