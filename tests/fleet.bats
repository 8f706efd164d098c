#!/usr/bin/env bats
# A fleet, tested for real: four hosts of the test's own, each a network
# namespace: a client, a balancer running Debian's HAProxy (TCP mode,
# send-proxy-v2, agent-check), and two tcpd hosts.  Under a steady load
# of short connections and a few long sessions from the client host,
# through HAProxy: a reload, a rolling restart drained host by host, a
# worker killed on each host, per_source limits; and, as the control,
# a host stopped without draining, which the client does see.
#
#   client  10.77.1.2 --- 10.77.1.1  balancer  10.77.2.1 --- 10.77.2.2  h1
#                                              10.77.3.1 --- 10.77.3.2  h2
#
# Each tcpd host: e (echo), x (exec: a program answering each line until
# the client closes), p (the same program, per_source max_connections =
# 2), all behind PROXY v2 trusting the balancer's address; a (agent) and
# m (metrics) without.  No address leaves these namespaces; no forwarding.

load helpers

CLIENT_BIN="$BATS_TEST_DIRNAME/fleet_client"
CLI_ADDR=10.77.1.2
BAL_ADDR=10.77.1.1
E_PORT=7007 X_PORT=7070 P_PORT=7071 A_PORT=7099 M_PORT=7107

bal_addr() {	# bal_addr N: the balancer's address on host N's link
	echo "10.77.$(( $1 + 1 )).1"
}

host_addr() {	# host_addr N: tcpd host N's address
	echo "10.77.$(( $1 + 1 )).2"
}

# ------------------------------------------------------------ the network

# make_fleet: the four namespaces and their links; names unique to this
# run ($$) and test, deleted by the teardown.
make_fleet() {
	local n
	[ "$(id -u)" -eq 0 ] || skip "needs root: network namespaces"
	command -v haproxy >/dev/null || skip "no haproxy (apt-get install haproxy)"
	command -v socat >/dev/null || skip "no socat (apt-get install socat)"
	command -v python3 >/dev/null || skip "no python3"
	NS_ID=$$-$BATS_TEST_NUMBER
	CLI=fleet-cli-$NS_ID BAL=fleet-bal-$NS_ID
	H1=fleet-h1-$NS_ID H2=fleet-h2-$NS_ID
	FLEET_NS=
	for n in "$CLI" "$BAL" "$H1" "$H2"; do
		ip netns add "$n"
		FLEET_NS="$FLEET_NS $n"
		ip -n "$n" link set lo up
	done
	link "$CLI" to-bal "$CLI_ADDR" "$BAL" to-cli "$BAL_ADDR"
	link "$H1" to-bal "$(host_addr 1)" "$BAL" to-h1 "$(bal_addr 1)"
	link "$H2" to-bal "$(host_addr 2)" "$BAL" to-h2 "$(bal_addr 2)"
}

# link NS_A DEV_A ADDR_A NS_B DEV_B ADDR_B: a veth pair between two
# namespaces, a /24 on each side.
link() {
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$4" addr add "$6/24" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# ------------------------------------------------------------ tcpd hosts

# host_conf N: host N's config, $T/hN.conf.
host_conf() {
	local n=$1 h
	h=$(host_addr "$n")
	cat >"$T/h$n.conf" <<EOF
pid_file = "$T/h$n.pid";
log_level = "info";
drain_delay = 1;
shutdown_timeout = 30;
proxy_protocol = "v2";
trusted_proxies = [ "$(bal_addr "$n")" ];
services = (
  { name = "e"; handler = "echo"; listen = [ "$h:$E_PORT" ]; workers = 2; },
  { name = "x"; handler = "exec"; listen = [ "$h:$X_PORT" ]; workers = 2;
    exec = [ "$T/answer", "h$n" ]; },
  { name = "p"; handler = "exec"; listen = [ "$h:$P_PORT" ]; workers = 1;
    exec = [ "$T/answer", "h$n" ];
    per_source = { max_connections = 2; }; refuse_message = "busy\r\n"; },
  { name = "a"; handler = "agent"; listen = [ "$h:$A_PORT" ]; workers = 1;
    proxy_protocol = "off"; log_connections = false;
    access = [ "allow $(bal_addr "$n")", "deny all" ]; },
  { name = "m"; handler = "metrics"; listen = [ "$h:$M_PORT" ]; workers = 1;
    proxy_protocol = "off"; }
);
EOF
}

# The workers of host_conf: 2 + 2 + 1 + 1 + 1.
HOST_WORKERS=7

# start_host N: tcpd in host N's namespace, in the foreground, its log
# in $T/hN.log; its master's pid in HN_PID; waits for every worker.
start_host() {
	local n=$1 pid
	ip netns exec "$(host_ns "$n")" "$TCPD" -f -c "$T/h$n.conf" \
	    >>"$T/h$n.log" 2>&1 &
	pid=$!
	eval "H${n}_PID=$pid"
	FLEET_PIDS="${FLEET_PIDS:-} $pid"
	wait_for 10 host_log_has "$n" "$HOST_WORKERS" \
	    "^$LOG_TS tcpd\\[$pid\\]: worker [0-9]+ started"
}

host_ns() {	# host_ns N: host N's namespace
	if [ "$1" = 1 ]; then echo "$H1"; else echo "$H2"; fi
}

host_pid() {	# host_pid N: host N's tcpd master
	eval "echo \"\$H${1}_PID\""
}

host_log_count() {	# host_log_count N PATTERN: matching lines of hN's log
	grep -cE -- "$2" "$T/h$1.log" || true
}

host_log_has() {	# host_log_has N COUNT PATTERN: at least COUNT lines
	(( $(host_log_count "$1" "$3") >= $2 ))
}

tcpd_s() {	# tcpd_s N ARGS...: tcpd -s ARGS for host N
	local n=$1
	shift
	"$TCPD" -c "$T/h$n.conf" -s "$@"
}

# host_json N EXPR: a Python expression over host N's status --json (j).
host_json() {
	tcpd_s "$1" status --json |
	    python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

# agent_of N: host N's agent line, asked from the balancer's namespace.
agent_of() {
	ip netns exec "$BAL" timeout 5 nc "$(host_addr "$1")" "$A_PORT" </dev/null
}

# ---------------------------------------------------------------- HAProxy

# start_haproxy: HAProxy in the balancer's namespace: e and x round
# robin, p by source address (so that one client host's connections meet
# one host's per_source limit); the stats socket on $T/haproxy.sock.
# HAP_RETRIES replaces the usual "retries 3" and "option redispatch",
# with which HAProxy tries a refused connection again, on another host:
# "retries 0" shows what it would otherwise hide.
start_haproxy() {
	cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 2000
    stats socket $T/haproxy.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s
${HAP_RETRIES:-    retries 3
    option redispatch}
    default-server send-proxy-v2 check inter 200ms agent-check agent-port $A_PORT agent-inter 200ms
frontend fe_e
    bind $BAL_ADDR:$E_PORT
    default_backend be_e
frontend fe_x
    bind $BAL_ADDR:$X_PORT
    default_backend be_x
frontend fe_p
    bind $BAL_ADDR:$P_PORT
    default_backend be_p
backend be_e
    balance roundrobin
    server h1 $(host_addr 1):$E_PORT
    server h2 $(host_addr 2):$E_PORT
backend be_x
    balance roundrobin
    server h1 $(host_addr 1):$X_PORT
    server h2 $(host_addr 2):$X_PORT
backend be_p
    balance source
    server h1 $(host_addr 1):$P_PORT
    server h2 $(host_addr 2):$P_PORT
EOF
	ip netns exec "$BAL" haproxy -db -f "$T/haproxy.cfg" \
	    >"$T/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	FLEET_PIDS="${FLEET_PIDS:-} $HAPROXY_PID"
	wait_for 10 host_is 1 UP
	wait_for 10 host_is 2 UP
}

# host_status N: HAProxy's status of host N in each backend, as
# "be_e=UP be_p=UP be_x=UP".
host_status() {
	echo "show stat" |
	    socat -t 2 stdio "unix-connect:$T/haproxy.sock" 2>/dev/null |
	    awk -F, -v s="h$1" '$2 == s { print $1 "=" $18 }' | sort | tr '\n' ' '
}

# host_is N STATUS: host N has STATUS in all three backends.
host_is() {
	[ "$(host_status "$1")" = "be_e=$2 be_p=$2 be_x=$2 " ]
}

# fleet: the network, the answering program, both tcpd hosts, HAProxy
# with both hosts UP.
fleet() {
	make_fleet
	# Each line answered as "HOST PID LINE" until the client closes.
	cat >"$T/answer" <<'EOF'
#!/bin/sh
while IFS= read -r l; do
	printf '%s %s %s\n' "$1" "$$" "$l"
done
EOF
	chmod 755 "$T/answer"
	host_conf 1
	host_conf 2
	start_host 1
	start_host 2
	start_haproxy
}

# ----------------------------------------------------------------- clients

# load_start: the steady load from the client host.
load_start() {
	: >"$T/load.fail"
	echo 0 >"$T/load.ok"
	ip netns exec "$CLI" python3 "$CLIENT_BIN" load "$BAL_ADDR" \
	    "$E_PORT" "$X_PORT" "$T" --max 20000 --secs 120 &
	LOAD_PID=$!
	FLEET_PIDS="${FLEET_PIDS:-} $LOAD_PID"
	load_past 20
}

load_ok() {	# load_ok: connections the load got through so far
	cat "$T/load.ok"
}

load_past() {	# load_past N: wait until N more got through than now
	local want=$(( $(load_ok) + $1 ))
	wait_for 20 load_at_least "$want"
}

load_at_least() {
	(( $(load_ok) >= $1 ))
}

# load_stop: end the load, after N more connections have gone through
# since the last operation; its failures are then in $T/load.fail.
load_stop() {
	load_past 20
	touch "$T/load.stop"
	wait_for 20 test -e "$T/load.done"
	wait "$LOAD_PID" 2>/dev/null || true
	echo "# load: $(cat "$T/load.done")" >&3
}

load_failures() {	# load_failures: how many failed
	grep -c '^fail ' "$T/load.fail" || true
}

# sessions_start PORT NAME...: one long session per NAME, to PORT through
# the balancer; wait until each has its first answer.
sessions_start() {
	local port=$1 name
	shift
	for name in "$@"; do
		ip netns exec "$CLI" python3 "$CLIENT_BIN" session \
		    "$BAL_ADDR" "$port" "$T" "$name" --secs 120 &
		FLEET_PIDS="${FLEET_PIDS:-} $!"
	done
	for name in "$@"; do
		wait_for 10 session_up "$name"
	done
}

session_up() {	# session_up NAME: answered once, or over already
	[ -s "$T/$1.info" ] || [ -s "$T/$1.result" ]
}

session_host() {	# session_host NAME: the tcpd host serving it (h1, h2)
	awk '{ print $1 }' "$T/$1.info"
}

session_prog() {	# session_prog NAME: the pid of the program serving it
	awk '{ print $2 }' "$T/$1.info"
}

# sessions_on HOST NAME...: those of NAME... served by HOST.
sessions_on() {
	local host=$1 name
	shift
	for name in "$@"; do
		[ "$(session_host "$name")" = "$host" ] && echo "$name"
	done
	return 0
}

# sessions_end NAME...: the client ends each session; wait for their
# results.
sessions_end() {
	local name
	for name in "$@"; do
		touch "$T/$name.end"
	done
	for name in "$@"; do
		wait_for 10 test -s "$T/$name.result"
	done
}

session_result() {	# session_result NAME
	cat "$T/$1.result"
}

# ------------------------------------------------------------------ tests

@test "fleet: a reload of each host in turn under load fails no connection" {
	fleet
	sessions_start "$X_PORT" s1 s2 s3 s4
	load_start
	for n in 1 2; do
		[ -n "$(sessions_on "h$n" s1 s2 s3 s4)" ] ||
		    fail "no long session on h$n"
		run -0 tcpd_s "$n" reload
		assert_output "ok: generation 2 serving"
		# The long sessions stay with the retiring workers.
		host_log_has "$n" 1 "^$LOG_TS tcpd\\[[0-9]+\\]: x slot [0-9]: retiring, [0-9]+ connections? open, no deadline$"
		load_past 20
	done
	load_stop
	sessions_end s1 s2 s3 s4
	for s in s1 s2 s3 s4; do
		run session_result "$s"
		assert_output --regexp '^ok lines='
	done
	[ "$(load_failures)" -eq 0 ] || fail "$(cat "$T/load.fail")"
	sees_the_client 1
	sees_the_client 2
}

# sees_the_client N [MIN]: host N's connection log names the client
# host as the client and the balancer as the proxy, in at least MIN
# (default 10) closed lines of e and of x; the balancer is a client only
# of its own health checks (a v2 LOCAL header: client and proxy are the
# same connection's peer).
sees_the_client() {
	local n=$1 min=${2:-10} bal
	bal=$(bal_addr "$n")
	host_log_has "$1" "$min" "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=e client=${CLI_ADDR//./\\.}:[0-9]+ local=$(host_addr "$n"):$E_PORT proxy=${bal//./\\.}:[0-9]+ .* in=[0-9]+ out=[0-9]+ "
	host_log_has "$1" "$min" "^$LOG_TS tcpd\\[[0-9]+\\]: closed service=x client=${CLI_ADDR//./\\.}:[0-9]+ local=$(host_addr "$n"):$X_PORT proxy=${bal//./\\.}:[0-9]+ .* end=program "
	run awk -v cli="$CLI_ADDR" -v bal="$bal" '
	    / (closed|refused) service=[exp] / {
		c = p = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^client=/) c = substr($i, 8)
			if ($i ~ /^proxy=/) p = substr($i, 7)
		}
		split(c, ca, ":"); split(p, pa, ":")
		if (ca[1] == cli && pa[1] == bal) next
		if (c == p && ca[1] == bal) next
		print
	    }' "$T/h$n.log"
	assert_output ""
}

# roll_host N SESSION...: host N's turn in a rolling restart: drained,
# taken out by HAProxy, stopped gracefully while its long sessions end,
# started again and put back.  Its sessions among SESSION... end during
# the stop, and must end cleanly.
roll_host() {
	local n=$1 pid quit mine s
	shift
	pid=$(host_pid "$n")
	mine=$(sessions_on "h$n" "$@")
	[ -n "$mine" ] || fail "no long session on h$n"
	run -0 tcpd_s "$n" drain
	assert_output "ok: draining"
	wait_for 10 host_is "$n" "DRAIN (agent)"
	# The graceful stop begins after drain_delay, counted from the drain,
	# and waits for the long sessions.
	tcpd_s "$n" quit --wait >"$T/quit$n.out" 2>&1 &
	quit=$!
	wait_for 10 host_log_has "$n" 1 "^$LOG_TS tcpd\\[$pid\\]: stopping \\(graceful\\)$"
	alive "$pid"
	# shellcheck disable=SC2086
	sessions_end $mine
	for s in $mine; do
		run session_result "$s"
		assert_output --regexp '^ok lines=[0-9]+$'
	done
	wait_for 10 dead "$pid"
	run -0 wait "$quit"
	# Their programs exited when the client closed, none was killed.
	(( $(host_log_count "$n" "closed service=x client=$CLI_ADDR:[0-9]+ .* end=program program=[0-9]+ exit=0 ") >= $(wc -w <<<"$mine") ))
	[ "$(host_log_count "$n" "closed service=x .* exit=SIG")" -eq 0 ]
	start_host "$n"
	# A fresh start is serving: nothing to undrain.
	[ "$(agent_of "$n")" = "ready up 100%" ]
	wait_for 10 host_is "$n" UP
	load_past 20
}

# rolling_restart: h1's turn, then h2's, under the load, with two long
# sessions on each host; no connection fails.
rolling_restart() {
	fleet
	sessions_start "$X_PORT" s1 s2 s3 s4
	load_start
	roll_host 1 s1 s2 s3 s4
	roll_host 2 s1 s2 s3 s4
	load_stop
	[ "$(load_failures)" -eq 0 ] || fail "$(cat "$T/load.fail")"
	sees_the_client 1
	sees_the_client 2
	grep -q 'Server be_e/h1 enters drain state' "$T/haproxy.log"
	grep -q 'Server be_e/h2 enters drain state' "$T/haproxy.log"
}

@test "fleet: a rolling restart, each host drained first, fails no connection" {
	rolling_restart
}

@test "fleet: the same with HAProxy's retries 0 and no redispatch" {
	HAP_RETRIES="    retries 0" rolling_restart
}

# The control, to show that the load above can fail: host 1 stopped
# gracefully but with no warning (no -s drain, drain_delay = 0), in
# front of an HAProxy that does not try again.  HAProxy keeps sending it
# new connections until its checks fail (fall 3, inter 200ms): those are
# refused and the client sees each of them fail.
@test "fleet control: a host stopped without draining, no retries: the client sees failures" {
	HAP_RETRIES="    retries 0"
	fleet
	sed -i 's/^drain_delay = 1;$/drain_delay = 0;/' "$T/h1.conf"
	run -0 tcpd_s 1 reload
	load_start
	run -0 tcpd_s 1 quit --wait
	wait_for 10 host_is 1 DOWN
	load_stop
	echo "# failed: $(load_failures), $(cut -d' ' -f4 "$T/load.fail" | sort | uniq -c | tr '\n' ' ')" >&3
	(( $(load_failures) > 0 ))
	# Connections HAProxy had made before the stop were all served: the
	# failures are the ones refused after it.
	[ "$(host_log_count 1 ' end=RST | exit=SIG')" -eq 0 ]
}

# The control that HAProxy's retries cannot hide: a fast stop (SIGTERM,
# tcpd -s stop) ends the long sessions of the host at once.
@test "fleet control: a host stopped fast: its long sessions are cut, and seen so" {
	fleet
	sessions_start "$X_PORT" s1 s2 s3 s4
	load_start
	run -0 tcpd_s 1 stop --wait
	wait_for 10 host_is 1 DOWN
	load_past 20
	sessions_end s1 s2 s3 s4
	for s in s1 s2 s3 s4; do
		run session_result "$s"
		if [ "$(session_host "$s")" = h1 ]; then
			assert_output --regexp '^fail closed lines=[0-9]+ host=h1$'
		else
			assert_output --regexp '^ok lines=[0-9]+$'
		fi
	done
	load_stop
	echo "# load failures (in flight at the stop): $(load_failures)" >&3
}

# x_busiest N: the pid of host N's x worker with the most open
# connections, as status --json says.
x_busiest() {
	host_json "$1" 'max((sl for s in j["services"] if s["name"] == "x" for sl in s["slots"]), key=lambda sl: sl["open"])["pid"]'
}

# x_open N PID: the connections status --json counts open on that worker.
x_open() {
	host_json "$1" "[sl['open'] for s in j['services'] if s['name'] == 'x' for sl in s['slots'] if sl['pid'] == $2][0]"
}

# held_by N PID...: connections to x in host N's namespace, in any
# state (a short one the client has half-closed is in CLOSE-WAIT while
# its answer goes out), whose socket one of PID... holds (the worker,
# its programs).
held_by() {
	local n=$1 pat
	shift
	pat="pid=($(tr ' ' '|' <<<"$*")),"
	ip netns exec "$(host_ns "$n")" ss -Htnp state connected \
	    "( sport = :$X_PORT )" | grep -cE "$pat" || true
}

x_running_is() {	# x_running_is N COUNT: x workers serving on host N
	[ "$(host_json "$1" '[s["running"] for s in j["services"] if s["name"] == "x"][0]')" = "$2" ]
}

@test "fleet: a worker killed on each host: only what it held fails" {
	fleet
	sessions_start "$X_PORT" s1 s2 s3 s4 s5 s6
	load_start
	held=0 doomed=
	for n in 1 2; do
		w=$(x_busiest "$n")
		# Stopped, it takes no more connections: new ones wait in its
		# slot's queue, which the master holds.  What it holds now is
		# what dies with it: its connections and its programs'.
		kill -STOP "$w"
		kids=$(ps -o pid= --ppid "$w" | tr -s ' \n' ' ')
		h=$(held_by "$n" "$w" $kids)
		echo "# h$n: worker $w holds $h (status --json: $(x_open "$n" "$w"))" >&3
		held=$(( held + h ))
		for s in s1 s2 s3 s4 s5 s6; do
			[[ " $kids " == *" $(session_prog "$s") "* ]] &&
			    doomed="$doomed $s"
		done
		kill -KILL "$w"
		wait_for 10 host_log_has "$n" 1 "worker $w \\(x slot [0-9] generation [0-9]+\\) killed by signal 9"
	done
	[ -n "$doomed" ] || fail "no long session on the workers killed"
	for n in 1 2; do
		wait_for 10 x_running_is "$n" 2
	done
	load_past 40
	sessions_end s1 s2 s3 s4 s5 s6
	load_stop
	failed=0
	for s in s1 s2 s3 s4 s5 s6; do
		run session_result "$s"
		if [[ " $doomed " == *" $s "* ]]; then
			assert_output --regexp '^fail (closed|reset) '
			failed=$(( failed + 1 ))
		else
			assert_output --regexp '^ok lines=[0-9]+$'
		fi
	done
	echo "# held $held; failed: $failed long sessions, $(load_failures) short: $(cat "$T/load.fail" | tr '\n' ' ')" >&3
	(( failed + $(load_failures) <= held ))
}

# p_refused N: host N's per_source refusals of p, as status --json says.
p_refused() {
	host_json "$1" '[s["refused"]["per_source"] for s in j["services"] if s["name"] == "p"][0]'
}

@test "fleet: per_source behind the balancer counts the client host, on the host it lands on" {
	fleet
	# p is balanced by source: the client host's sessions all land on
	# one tcpd host, whose limit is 2 per source.
	sessions_start "$P_PORT" p1 p2
	n=$(session_host p1)
	n=${n#h}
	[ "$(session_host p2)" = "h$n" ]
	other=$(( 3 - n ))
	sessions_start "$P_PORT" p3
	wait_for 10 test -s "$T/p3.result"
	run session_result p3
	assert_output --regexp "^fail wrong_bytes:'busy\\\\r' lines=0 "
	bal=$(bal_addr "$n")
	wait_for 5 host_log_has "$n" 1 "^$LOG_TS tcpd\\[[0-9]+\\]: refused service=p client=${CLI_ADDR//./\\.}:[0-9]+ local=$(host_addr "$n"):$P_PORT proxy=${bal//./\\.}:[0-9]+ reason=\"per_source max_connections 2\"$"
	[ "$(p_refused "$n")" = 1 ]
	[ "$(p_refused "$other")" = 0 ]
	[ "$(host_log_count "$other" 'refused service=p ')" -eq 0 ]
	# The first two are served as usual; once they end, the source has
	# room again.
	sessions_end p1 p2
	for s in p1 p2; do
		run session_result "$s"
		assert_output --regexp '^ok lines=[0-9]+$'
	done
	sessions_start "$P_PORT" p4
	[ "$(session_host p4)" = "h$n" ]
	sessions_end p4
	run session_result p4
	assert_output --regexp '^ok lines=[0-9]+$'
	sees_the_client "$n" 0
}

# bats keeps one teardown: the library's, then what the fleet started,
# by pid, and its namespaces.
eval "helpers_$(declare -f teardown)"
teardown() {
	local p n
	for p in ${FLEET_PIDS:-}; do
		stop_pid "$p" 10
	done
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${T:-}" ]; then
		for f in h1.log h2.log haproxy.log load.fail load.done; do
			[ -f "$T/$f" ] || continue
			echo "# $f:" >&3
			grep -v 'reset by peer\|gone before its program' "$T/$f" | tail -n 40 | sed 's/^/#   /' >&3
		done
	fi
	for n in ${FLEET_NS:-}; do
		ip netns del "$n" 2>/dev/null || true
	done
	helpers_teardown
}
