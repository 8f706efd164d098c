#!/usr/bin/env bats
# per_source: what one source may take, across all workers of a service.

load helpers

# hold SRC [HOST]: a client from SRC that connects and stays (its stdin
# open for 60 s), what it reads in $T/hold.N, its pid in HOLD_PID[N]; N
# is the number of holds so far.
hold() {
	HOLDS=$(( ${HOLDS:-0} + 1 ))
	sleep 60 | nc -s "$1" "${2:-127.0.0.1}" "$PORT" >"$T/hold.$HOLDS" 2>&1 &
	HOLD_PID[HOLDS]=$!
	BG_PIDS="${BG_PIDS:-} $!"
}

# served_from SRC: the server's ESTABLISHED connections to SRC.
served_from() {
	ss -Htn state established "( sport = :$PORT and dst = $1 )" | grep -c . || true
}

served_from_is() {	# served_from_is SRC N: a condition for wait_for
	[ "$(served_from "$1")" -eq "$2" ]
}

# refused_holds: how many holds were told "busy".
refused_holds() {
	cat "$T"/hold.* 2>/dev/null | grep -c busy || true
}

refused_holds_is() {	# refused_holds_is N: a condition for wait_for
	[ "$(refused_holds)" -eq "$1" ]
}

# answer SRC TEXT: one echo exchange from SRC; the reply in $output.
answer() {
	run -0 timeout 5 bash -c 'printf "%s\n" "$1" | nc -N -s "$2" 127.0.0.1 "$3"' \
	    answer "$2" "$1" "$PORT"
}

PS_BUSY='refuse_message = "busy\n";'

@test "max_connections per source: the next one refused, other sources served, a freed slot lets it in" {
	one_service e echo "workers = 2; idle_timeout = 0; per_source = { max_connections = 3; }; $PS_BUSY"
	for i in 1 2 3; do
		hold 127.0.0.2
		wait_for 5 served_from_is 127.0.0.2 "$i"
	done
	hold 127.0.0.2
	wait_for 5 refused_holds_is 1
	wait_for 5 log_has_n 1 "refused.*127\\.0\\.0\\.2.*per_source max_connections 3"
	[ "$(served_from 127.0.0.2)" -eq 3 ]
	# Another source is not touched by the first one's cap.
	answer 127.0.0.3 other
	assert_output other
	# One of the three ends: the source gets in again, and only once.
	kill "${HOLD_PID[1]}"
	wait_for 5 served_from_is 127.0.0.2 2
	answer 127.0.0.2 again
	assert_output again
	hold 127.0.0.2
	wait_for 5 served_from_is 127.0.0.2 3
	hold 127.0.0.2
	wait_for 5 refused_holds_is 2
	[ "$(served_from 127.0.0.2)" -eq 3 ]
}

# holders: how many workers hold ESTABLISHED connections of $PORT.
holders() {
	ss -Htnp state established "( sport = :$PORT )" |
	    grep -o 'pid=[0-9]*' | sort -u | grep -c . || true
}

@test "the count is one across workers" {
	one_service e echo "workers = 2; idle_timeout = 0; per_source = { max_connections = 8; }; $PS_BUSY"
	for i in $(seq 1 8); do
		hold 127.0.0.2
		wait_for 5 served_from_is 127.0.0.2 "$i"
	done
	# SO_REUSEPORT spreads them by a hash: both workers hold some, bar a
	# 1 in 128 chance.
	[ "$(holders)" -eq 2 ] || skip "all 8 connections landed on one worker"
	hold 127.0.0.2
	wait_for 5 refused_holds_is 1
	[ "$(served_from 127.0.0.2)" -eq 8 ]
}

@test "a killed worker's connections are given back: no leak, never below zero" {
	one_service e echo "workers = 2; idle_timeout = 0; per_source = { max_connections = 2; }; $PS_BUSY"
	hold 127.0.0.2
	hold 127.0.0.2
	wait_for 5 served_from_is 127.0.0.2 2
	# Kill every worker: the master respawns them, and gives back what
	# their connections held.
	for pid in $(workers); do kill -9 "$pid"; done
	wait_for 5 served_from_is 127.0.0.2 0
	wait_for 10 log_has_n 4 "worker [0-9]+ started"
	# Exactly two again: not zero (a leak), not three (a negative count).
	for i in 1 2 3; do hold 127.0.0.2; done
	wait_for 5 served_from_is 127.0.0.2 2
	wait_for 5 refused_holds_is 1
	[ "$(served_from 127.0.0.2)" -eq 2 ]
}

# shared_rss_kb PID: kB of PID's shared memory (the counts and tables
# it shares with its workers) that has pages.
shared_rss_kb() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { z = ($6 == "/dev/zero") }
	    z && /^Rss:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps"
}

@test "a worker gone gives its service's table no memory the table did not use" {
	# A table of 16,384 sources is 200 pages; one client uses one.
	one_service e echo "workers = 2; per_source = { max_connections = 5; };"
	run -0 bash -c "printf 'hi\\n' | nc -q1 127.0.0.1 $PORT"
	before=$(shared_rss_kb "$TCPD_PID")
	for pid in $(workers); do kill -9 "$pid"; done
	wait_for 10 log_has_n 4 "worker [0-9]+ started"
	after=$(shared_rss_kb "$TCPD_PID")
	# The master reads the dead workers' ledgers (16 pages each) and
	# gives them back; of the table, only entries a ledger holds.
	[ $(( after - before )) -lt 256 ] ||
	    fail "the master's shared memory grew from $before kB to $after kB"
}

@test "counts carry across a reload" {
	one_service e echo "workers = 2; idle_timeout = 0; per_source = { max_connections = 2; }; $PS_BUSY"
	hold 127.0.0.2
	hold 127.0.0.2
	wait_for 5 served_from_is 127.0.0.2 2
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "generation 2"
	wait_for 10 log_has_n 4 "worker [0-9]+ started"
	hold 127.0.0.2
	wait_for 5 refused_holds_is 1
	[ "$(served_from 127.0.0.2)" -eq 2 ]
	answer 127.0.0.3 other
	assert_output other
}

# burst_from SRC N [PAUSE]: N connections from SRC, PAUSE seconds apart
# (default none); how many were answered (the rest were told "busy")
# in $T/burst.SRC.
burst_from() {
	local i ok=0
	for i in $(seq 1 "$2"); do
		if [ "$(printf 'x\n' | timeout 5 nc -N -s "$1" 127.0.0.1 "$PORT")" = x ]; then
			ok=$((ok + 1))
		fi
		[ -z "${3:-}" ] || sleep "$3"
	done
	echo "$ok" >"$T/burst.$1"
}

@test "rate and burst: the source over its rate is refused, one beside it is served throughout" {
	one_service e echo "workers = 2; per_source = { rate = 5; burst = 5; }; $PS_BUSY"
	# A flood from one source, and meanwhile a neighbour at 3 a second,
	# under its rate: the flood gets its burst and what refills (5 a
	# second), the neighbour every connection.
	burst_from 127.0.0.2 150 &
	flood=$!
	burst_from 127.0.0.3 10 0.3
	wait "$flood"
	n=$(cat "$T/burst.127.0.0.2")
	echo "# flood: $n of 150 answered" >&3
	[ "$n" -ge 5 ]
	[ "$n" -lt 150 ]
	[ "$(cat "$T/burst.127.0.0.3")" -eq 10 ]
	wait_for 5 log_has_n 1 "refused.*127\\.0\\.0\\.2.*per_source rate 5/s burst 5"
	[ "$(log_count 'refused.*127\.0\.0\.3')" -eq 0 ]
	# The flood stopped: its bucket refills, and it is served again.
	wait_for 5 answers_from 127.0.0.2
}

answers_from() {	# answers_from SRC: one echo exchange works
	[ "$(printf 'y\n' | timeout 5 nc -N -s "$1" 127.0.0.1 "$PORT")" = y ]
}

@test "a prefix makes one source of many addresses" {
	one_service e echo "idle_timeout = 0; per_source = { max_connections = 2; ipv4_prefix = 24; }; $PS_BUSY"
	hold 127.0.0.2
	hold 127.0.0.3
	wait_for 5 served_from_is 127.0.0.2 1
	wait_for 5 served_from_is 127.0.0.3 1
	hold 127.0.0.4
	wait_for 5 refused_holds_is 1
	# Another /24 is another source.
	answer 127.0.1.2 other
	assert_output other
}

@test "a full table refuses only sources it cannot hold; a freed entry takes a new one" {
	one_service e echo "idle_timeout = 0; per_source = { max_connections = 1; sources = 16; }; $PS_BUSY"
	for i in $(seq 1 16); do hold "127.0.2.$i"; done
	wait_for 10 served_is_total 16
	hold 127.0.2.100
	wait_for 5 refused_holds_is 1
	wait_for 5 log_has_n 1 "refused.*127\\.0\\.2\\.100.*per_source table full \\(16 sources\\)"
	# The sources it holds are served as before: each at its cap of one,
	# so a second from one of them is refused for the cap, not the table.
	hold 127.0.2.1
	wait_for 5 refused_holds_is 2
	wait_for 5 log_has_n 1 "refused.*127\\.0\\.2\\.1:.*per_source max_connections 1"
	# One source leaves: its entry is free for the newcomer.
	kill "${HOLD_PID[1]}"
	wait_for 5 served_from_is 127.0.2.1 0
	answer 127.0.2.100 newcomer
	assert_output newcomer
}

served_is_total() {	# served_is_total N: ESTABLISHED on $PORT, server side
	[ "$(ss -Htn state established "( sport = :$PORT )" | grep -c .)" -eq "$1" ]
}

# hold_settled N: hold N is served (an ESTABLISHED server socket more
# than before it) or was refused.
hold_settled() {
	local served
	served=$(ip netns exec "$NS" ss -Htn state established '( sport = :7007 )' | grep -c .)
	[ $((served + $(refused_holds))) -ge "$1" ]
}

@test "IPv6: addresses in one /64 are one source, in two /64s two" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
	command -v ip >/dev/null || skip "needs ip (iproute2)"
	NS=tcpd-ps-$$
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	for a in 2001:db8:1::1 2001:db8:1::2 2001:db8:1::3 2001:db8:2::1; do
		ip -n "$NS" addr add "$a/128" dev lo nodad
	done
	PORT=7007
	write_conf "" "$(conf_service e echo '"[::1]:7007"' "workers = 2; idle_timeout = 0; per_source = { max_connections = 2; }; $PS_BUSY")"
	ip netns exec "$NS" "$TCPD" -f -c "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	wait_for 10 log_has_n 2 "worker [0-9]+ started"
	for a in 2001:db8:1::1 2001:db8:1::2 2001:db8:1::3 2001:db8:2::1; do
		HOLDS=$((${HOLDS:-0} + 1))
		sleep 60 | ip netns exec "$NS" nc -s "$a" ::1 7007 >"$T/hold.$HOLDS" 2>&1 &
		BG_PIDS="${BG_PIDS:-} $!"
		wait_for 5 hold_settled "$HOLDS"
	done
	# Three from 2001:db8:1::/64 share a cap of two; 2001:db8:2::1 is
	# a source of its own.
	wait_for 5 refused_holds_is 1
	wait_for 5 log_has_n 1 "refused.*\\[2001:db8:1::[123]\\].*per_source max_connections 2"
	run -1 grep -q busy "$T/hold.4"
	[ "$(log_count 'refused.*2001:db8:2::1')" -eq 0 ]
}

# bats keeps one teardown: run the library's, then remove our namespace.
eval "helpers_$(declare -f teardown)"
teardown() {
	helpers_teardown
	[ -z "${NS:-}" ] || ip netns del "$NS" 2>/dev/null || true
}
