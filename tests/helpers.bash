# Shared by every tests/*.bats: start tcpd on free loopback ports with a
# config, log and pid file of its own, wait for conditions, stop it.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${TCPD:=$BATS_TEST_DIRNAME/../src/tcpd}"

setup() {
	T=$(mktemp -d "${BATS_RUN_TMPDIR:-/tmp}/tcpd.XXXXXX")
	CONF=$T/tcpd.conf
	LOG=$T/tcpd.log
	PIDFILE=$T/tcpd.pid
	TCPD_PID=
	: >"$LOG"
}

teardown() {
	stop_tcpd
	[ -n "${BG_PIDS:-}" ] && kill $BG_PIDS 2>/dev/null
	if [ -n "${BATS_TEST_COMPLETED:-}" ]; then
		rm -rf "$T"
	else
		echo "# tcpd log ($LOG):" >&3
		sed 's/^/#   /' "$LOG" >&3
	fi
}

# A TCP port nobody on this machine uses (nor any port we handed out).
free_port() {
	local p i
	for i in $(seq 1 500); do
		p=$((20000 + RANDOM % 40000))
		case " ${PORTS_TAKEN:-} " in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
			PORTS_TAKEN="${PORTS_TAKEN:-} $p"
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds, or fail.
wait_for() {
	local limit=$1 start
	shift
	start=$(date +%s%N)
	until "$@"; do
		if (( ($(date +%s%N) - start) / 1000000 >= limit * 1000 )); then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# log_count PATTERN: lines of the log that match an extended regex.
log_count() {
	grep -cE -- "$1" "$LOG" || true
}

# log_has_n N PATTERN: at least N matching lines.
log_has_n() {
	(( $(log_count "$2") >= $1 ))
}

alive() {
	kill -0 "$1" 2>/dev/null
}

dead() {
	! kill -0 "$1" 2>/dev/null
}

# The worker pids of the running master.
workers() {
	ps -o pid= --ppid "$TCPD_PID" | tr -d ' '
}

nworkers() {
	workers | grep -c . || true
}

# Conditions for wait_for, evaluated afresh at each poll.
nworkers_is() {
	[ "$(nworkers)" -eq "$1" ]
}
listening() {		# listening PORT [COUNT]
	[ "$(ss -Htln "( sport = :$1 )" | grep -c .)" -eq "${2:-1}" ]
}
not_listening() {
	[ -z "$(ss -Htln "( sport = :$1 )")" ]
}
established() {		# a connection to PORT, seen from the server side
	[ -n "$(ss -Htn state established "( sport = :$1 )")" ]
}

# Start tcpd -f on $CONF, logging to $LOG; wait until N workers say
# they are accepting (N defaults to 1).
start_tcpd() {
	local n=${1:-1}
	"$TCPD" -f -c "$CONF" 2>>"$LOG" &
	TCPD_PID=$!
	# Lines from this master only: the log may hold an earlier one's.
	wait_for 10 log_has_n "$n" "^tcpd\\[$TCPD_PID\\]: worker [0-9]+ started" || {
		cat "$LOG" >&2
		return 1
	}
}

# Stop the tcpd this test started, by its pid, and wait for it to go.
stop_tcpd() {
	[ -n "$TCPD_PID" ] || return 0
	if alive "$TCPD_PID"; then
		kill -TERM "$TCPD_PID" 2>/dev/null
		wait_for 10 dead "$TCPD_PID" || kill -KILL "$TCPD_PID"
	fi
	wait "$TCPD_PID" 2>/dev/null || true
	TCPD_PID=
}

# conf_service NAME HANDLER ADDRS [EXTRA]: one entry of services = (...).
conf_service() {
	printf '  { name = "%s"; handler = "%s"; listen = [ %s ]; %s },\n' \
	    "$1" "$2" "$3" "${4:-}"
}

# write_conf TOP_SETTINGS SERVICE_LINES: a whole config file.
write_conf() {
	{
		printf 'pid_file = "%s";\n' "$PIDFILE"
		# Debug, unless the test says otherwise.
		[[ "$1" == *log_level* ]] || printf 'log_level = "debug";\n'
		printf '%s\n' "$1"
		printf 'services = (\n%s\n);\n' "${2%,}"
	} >"$CONF"
	# libconfig wants no comma after the last list element.
	sed -i -z 's/},\n\n);/}\n);/' "$CONF"
}

# The pid of the worker holding the server side of a connection to PORT.
conn_worker() {
	ss -Htnp state established "( sport = :$1 )" |
	    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
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

accept_queue_is() {	# accept_queue_is PORT N: ss's Recv-Q of a listener
	[ "$(ss -Htln "( sport = :$1 )" | awk '{ n += $2 } END { print n + 0 }')" -eq "$2" ]
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

# queues_full PORT SIDE: both ends of the connection to PORT hold data
# the other has not taken: SIDE "server" is the one not reading
# (client's Send-Q and server's Recv-Q), "client" the other way round.
queues_full() {
	local in out
	if [ "$2" = server ]; then
		in=$(ss -Htn state established "( sport = :$1 )" | awk '{ print $1; exit }')
		out=$(ss -Htn state established "( dport = :$1 )" | awk '{ print $2; exit }')
	else
		in=$(ss -Htn state established "( dport = :$1 )" | awk '{ print $1; exit }')
		out=$(ss -Htn state established "( sport = :$1 )" | awk '{ print $2; exit }')
	fi
	[ -n "$in" ] && [ -n "$out" ] && [ "$in" -gt 0 ] && [ "$out" -gt 0 ]
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Packet capture on loopback, for one port: capture_start PORT, then
# packets (tcpdump's text of what was captured so far), capture_stop.
capture_start() {
	[ "$(id -u)" -eq 0 ] || skip "capturing packets needs root"
	command -v tcpdump >/dev/null || skip "tcpdump is not installed"
	CAP=$T/cap.pcap
	tcpdump -i lo -n -U -w "$CAP" "tcp port $1" 2>"$T/tcpdump.err" &
	CAP_PID=$!
	BG_PIDS="${BG_PIDS:-} $CAP_PID"
	wait_for 10 grep -q 'listening on' "$T/tcpdump.err"
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

# tcp_state PORT SIDE: the TCP states of connections whose SIDE port
# (sport: the server's end; dport: the client's end) is PORT.
tcp_state() {
	ss -Htan state connected "( $2 = :$1 )" | awk '{ print $1 }' | sort -u | tr '\n' ' '
}
