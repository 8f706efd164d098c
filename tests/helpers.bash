# Shared by every tests/*.bats: each test gets a directory of its own
# ($T) with tcpd's config, log and pid file; tests/lib.sh has the
# functions to write a config, start and stop tcpd, and wait for
# conditions.  Here: what needs bats (setup, teardown, assertions, skips).

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup() {
	T=$(mktemp -d "${BATS_RUN_TMPDIR:-/tmp}/tcpd.XXXXXX")
	CONF=$T/tcpd.conf
	LOG=$T/tcpd.log
	PIDFILE=$T/tcpd.pid
	PORTS_FILE=$T/ports
	TCPD_PID=
	: >"$LOG"
}

teardown() {
	stop_tcpd
	[ -n "${BG_PIDS:-}" ] && kill $BG_PIDS 2>/dev/null
	[ -z "${PUB:-}" ] || rm -rf "$PUB"
	# A tracefs instance a test made (its events off with it).
	[ -z "${TRACE:-}" ] || [ ! -d "$TRACE" ] || rmdir "$TRACE"
	if [ -n "${CG:-}" ] && [ -d "$CG" ]; then
		echo max >"$CG/pids.max" 2>/dev/null
		wait_for 10 cgroup_empty && rmdir "$CG"
	fi
	release_ports "$T/bulk-ports"
	if [ -n "${BATS_TEST_COMPLETED:-}" ]; then
		rm -rf "$T"
	else
		echo "# tcpd log ($LOG):" >&3
		sed 's/^/#   /' "$LOG" >&3
	fi
}

need_root() {	# need_root WHAT: skip, saying WHAT needs root, unless root
	[ "$(id -u)" -eq 0 ] || skip "$1 needs root"
}

# public_dir: a directory every user can read, in $PUB, for programs
# run as nobody ($T is root's alone); the teardown removes it.
public_dir() {
	PUB=$(mktemp -d /tmp/tcpd-public.XXXXXX)
	chmod 755 "$PUB"
}

# A pids cgroup of this test's own, in $CG (v1 or v2), or skip; the
# teardown removes it once it is empty.
pids_cgroup() {
	local base
	[ "$(id -u)" -eq 0 ] || skip "a pids cgroup needs root"
	if [ -w /sys/fs/cgroup/pids/cgroup.procs ]; then
		base=/sys/fs/cgroup/pids
	elif grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
		base=/sys/fs/cgroup
	else
		skip "no writable pids cgroup controller"
	fi
	CG=$base/tcpd-test.$$.$BATS_TEST_NUMBER
	mkdir "$CG" || skip "cannot make a cgroup in $base"
}

cgroup_empty() {
	[ -z "$(cat "$CG/cgroup.procs")" ]
}

# The master alone in the cgroup, with no room for one more task.
no_more_forks() {
	echo "$TCPD_PID" >"$CG/cgroup.procs"
	echo 1 >"$CG/pids.max"
}

# queue_clients PORT N: N echo clients in the background, each sending
# "queued I" and saving the answer in $T/out.I; wait until all N wait in
# PORT's accept queue (the worker must not be accepting).
queue_clients() {
	local port=$1 n=$2 i
	for i in $(seq 1 "$n"); do
		(echo "queued $i" | timeout 20 nc -N 127.0.0.1 "$port" >"$T/out.$i") &
		BG_PIDS="${BG_PIDS:-} $!"
	done
	wait_for 10 accept_queue_is "$port" "$n"
}

# queued_clients_answered N: every client of queue_clients got its echo.
queued_clients_answered() {
	local i
	wait $BG_PIDS
	BG_PIDS=
	for i in $(seq 1 "$1"); do
		[ "$(cat "$T/out.$i")" = "queued $i" ] ||
		    fail "client $i got '$(cat "$T/out.$i")'"
	done
}

# check EXPECTED_MESSAGE LINE...: write the lines as the file, run -t.
check() {
	local want=$1
	shift
	printf '%s\n' "$@" >"$CONF"
	run -1 "$TCPD" -t -c "$CONF"
	assert_output "$CONF:$want"
}

# client_sent_all PORT: the client's end of its connection to PORT has
# nothing left to send (its data is with the server's kernel).
client_sent_all() {
	[ "$(ss -Htn "( dport = :$1 )" | awk '$2 != 0' | grep -c .)" -eq 0 ]
}

# queued_data_client PORT OUT [SOURCE]: a client (from SOURCE, default
# 127.0.0.1) that sends "data" and half-closes while PORT's only worker
# is stopped, so that its data waits with it in the accept queue; then
# the worker goes on and the client's answer lands in OUT.
queued_data_client() {
	local w client
	w=$(workers)
	kill -STOP "$w"
	(echo data | timeout 10 nc -N -s "${3:-127.0.0.1}" 127.0.0.1 "$1" >"$2") &
	client=$!
	BG_PIDS="${BG_PIDS:-} $client"
	wait_for 5 accept_queue_is "$1" 1
	wait_for 5 client_sent_all "$1"
	kill -CONT "$w"
	wait "$client"
}

# assert_echo PORT TEXT [HOST]: a client of HOST:PORT (default 127.0.0.1)
# sends TEXT and a newline, half-closes, and gets exactly TEXT back,
# within 5 s.  Leaves the reply in $output, as run does.
assert_echo() {
	run -0 timeout 5 bash -c 'printf "%s\n" "$1" | nc -N "$2" "$3"' \
	    assert_echo "$2" "${3:-127.0.0.1}" "$1"
	assert_output "$2"
}

# Packet capture on loopback, for one port: capture_start PORT, then
# packets (tcpdump's text of what was captured so far), capture_stop
# (before a test captures anew).
capture_start() {
	[ "$(id -u)" -eq 0 ] || skip "capturing packets needs root"
	command -v tcpdump >/dev/null || skip "tcpdump is not installed"
	CAP=$T/cap.pcap
	tcpdump -i lo -n -U -w "$CAP" "tcp port $1" 2>"$T/tcpdump.err" &
	CAP_PID=$!
	BG_PIDS="${BG_PIDS:-} $CAP_PID"
	wait_for 10 grep -q 'listening on' "$T/tcpdump.err"
}

capture_stop() {
	local p rest=
	[ -n "${CAP_PID:-}" ] || return 0
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	for p in ${BG_PIDS:-}; do
		[ "$p" = "$CAP_PID" ] || rest="$rest $p"
	done
	BG_PIDS=$rest CAP_PID=
}

packets() {
	tcpdump -r "$CAP" -n 2>/dev/null
}

# Packets from the server side of PORT carrying FIN, or any RST.
server_fins() {
	packets | grep -E "IP 127\.0\.0\.1\.$1 > .*Flags \[[^]]*F" || true
}
resets() {
	packets | grep -E 'Flags \[[^]]*R' || true
}
has_server_fin() {
	[ -n "$(server_fins "$1")" ]
}

# tcpd_over_file FILE TARGET: from now on $TCPD runs in a mount namespace
# of its own in which TARGET (/etc/group, /etc/services) reads as FILE;
# the machine's own TARGET is left as it is.  Needs root.
tcpd_over_file() {
	printf '%s\n' '#!/bin/sh' \
	    "exec unshare -m sh -c 'mount --bind \"\$0\" \"\$1\" && shift && exec \"\$@\"' \"$1\" \"$2\" \"$TCPD\" \"\$@\"" \
	    >"$T/tcpd-over"
	chmod 755 "$T/tcpd-over"
	TCPD=$T/tcpd-over
}
