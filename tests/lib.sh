# Shell functions shared by the tests: tests/helpers.bash (every .bats
# file), tests/fault/run and tests/bench/run source this file.  Plain
# bash: nothing here needs bats (helpers.bash adds what does: setup and
# teardown, assertions, packet captures, queued clients).
#
# The tcpd under test is described by a few variables, which the
# sourcing script sets (helpers.bash does so in setup):
#
#   TCPD      the binary (default: src/tcpd next to this directory)
#   CONF      its config file, written by write_conf / one_service_conf
#   LOG       its stderr and stdout, appended to
#   PIDFILE   the pid_file that write_conf puts in CONF
#   TCPD_PID  the master's pid, set by start_tcpd, cleared by stop_tcpd
#   PORT      the port of one_service / one_service_conf
#   PORTS_FILE  optional: where free_port remembers the ports it gave out
#
# Conditions for wait_for
# -----------------------
# wait_for SECONDS COMMAND [ARG...] runs COMMAND ARG... again on every
# try, but the shell expands the arguments once, before the first try.
# So this polls a constant, since tcp_state runs once:
#
#	wait_for 5 \
#	    test "$(tcp_state "$PORT" sport)" = "TIME-WAIT "	# WRONG
#
# Anything computed belongs in a function that wait_for calls, which
# computes it afresh each time:
#
#	wait_for 5 tcp_state_is "$PORT" sport TIME-WAIT		# right
#
# Most conditions a test needs are below (nworkers_is, listening,
# accept_queue_is, log_has_n, dead, tcp_state_is, fd_count_at_most ...);
# for another, define a small named function next to the test.

TESTS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${TCPD:=$TESTS_LIB_DIR/../src/tcpd}"
TCPD_PID=${TCPD_PID:-}

# Seconds between two tries of wait_for.
WAIT_POLL=${WAIT_POLL:-0.05}

# _lib_now_us: the time in microseconds, into _LIB_NOW (no subshell).
_lib_now_us() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		_LIB_NOW=${EPOCHREALTIME//[!0-9]/}
	else
		_LIB_NOW=$(date +%s%6N)
	fi
}

# wait_for SECONDS COMMAND [ARG...]: run COMMAND until it succeeds, at
# most SECONDS (an integer, or a decimal like 0.5); on time-out say what
# was awaited on stderr and return 1.  See "Conditions for wait_for".
wait_for() {
	local secs=$1 whole frac limit start
	shift
	whole=${secs%%.*} frac=
	[[ $secs == *.* ]] && frac=${secs#*.}
	frac=${frac}000000
	limit=$(( 10#${whole:-0} * 1000000 + 10#${frac:0:6} ))
	_lib_now_us
	start=$_LIB_NOW
	until "$@"; do
		_lib_now_us
		if (( _LIB_NOW - start >= limit )); then
			echo "timed out after ${secs}s waiting for: $*" >&2
			return 1
		fi
		sleep "$WAIT_POLL"
	done
}

# free_port: a TCP port nobody on this machine uses, below the kernel's
# ephemeral range (so that no client socket takes it before the server
# binds it), and not one free_port gave out before.  PORT=$(free_port)
# runs it in a subshell: set PORTS_FILE for that memory to last.
#
# Test files run in parallel (make -j), each its own shell: two could
# pick the same free port before either binds it, and tcpd's
# SO_REUSEPORT sockets would then share it, each getting some of the
# other's connections.  So a port is also claimed machine-wide, with a
# directory made atomically; claims an hour old are given back.
PORT_CLAIMS=${TMPDIR:-/tmp}/tcpd-test-ports.$(id -u)
free_port() {
	local lo=20000 hi eph p i
	mkdir -p "$PORT_CLAIMS" &&
	    find "$PORT_CLAIMS" -mindepth 1 -maxdepth 1 -mmin +60 \
	    -exec rmdir {} + 2>/dev/null
	read -r eph _ 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range ||
	    eph=32768
	hi=$(( eph - 1 ))
	(( hi - lo >= 1000 )) || hi=60999
	for (( i = 0; i < 500; i++ )); do
		p=$(( lo + ((RANDOM << 15) | RANDOM) % (hi - lo + 1) ))
		case " ${PORTS_TAKEN:-} " in *" $p "*) continue ;; esac
		if [ -n "${PORTS_FILE:-}" ] && [ -f "$PORTS_FILE" ] &&
		    grep -qx "$p" "$PORTS_FILE"; then
			continue
		fi
		if command -v ss >/dev/null 2>&1; then
			# Any socket on it: listening, connected or closing.
			[ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ] || continue
		else
			# Without ss, at least nothing listens on loopback.
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		fi
		mkdir "$PORT_CLAIMS/$p" 2>/dev/null || continue
		PORTS_TAKEN="${PORTS_TAKEN:-} $p"
		[ -z "${PORTS_FILE:-}" ] || echo "$p" >>"$PORTS_FILE"
		echo "$p"
		return 0
	done
	echo "free_port: no free port found in $lo-$hi" >&2
	return 1
}

# free_ports N FILE: N ports as free_port picks them, one a line in FILE,
# for configurations of thousands of services: one look at the machine's
# sockets and one mkdir claim them all.  release_ports FILE gives the
# claims back (free_port's are given back an hour later).
free_ports() {
	local n=$1 file=$2 lo=20000 hi eph start span p i cand=()
	local -A used=()
	mkdir -p "$PORT_CLAIMS" || return 1
	read -r eph _ 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range ||
	    eph=32768
	hi=$(( eph - 1 ))
	(( hi - lo >= 1000 )) || hi=60999
	# Not TIME-WAIT: tcpd binds over those (SO_REUSEADDR), and a start
	# of thousands of services leaves thousands.
	for p in $(ss -Htan exclude time-wait |
	    awk '{ sub(/.*:/, "", $4); print $4 }') ${PORTS_TAKEN:-}; do
		used[$p]=1
	done
	span=$(( hi - lo + 1 ))
	start=$(( ((RANDOM << 15) | RANDOM) % span ))
	for (( i = 0; i < span && ${#cand[@]} < n + n / 4 + 16; i++ )); do
		p=$(( lo + (start + i) % span ))
		[ -z "${used[$p]:-}" ] && [ ! -e "$PORT_CLAIMS/$p" ] &&
		    cand+=("$PORT_CLAIMS/$p")
	done
	# The ones mkdir made are ours; another claimer may have beaten us
	# to a few.
	printf '%s\0' "${cand[@]}" | xargs -0 mkdir -v 2>/dev/null |
	    sed -n "s|.*'$PORT_CLAIMS/\([0-9]*\)'.*|\1|p" >"$file.all"
	head -n "$n" "$file.all" >"$file"
	tail -n +"$(( n + 1 ))" "$file.all" | sed "s|^|$PORT_CLAIMS/|" |
	    xargs -r rmdir 2>/dev/null
	rm -f "$file.all"
	[ "$(grep -c . "$file")" -eq "$n" ] || {
		echo "free_ports: fewer than $n free ports in $lo-$hi" >&2
		release_ports "$file"
		return 1
	}
}

release_ports() {	# release_ports FILE: what free_ports FILE claimed
	[ -f "$1" ] || return 0
	sed "s|^|$PORT_CLAIMS/|" "$1" | xargs -r rmdir 2>/dev/null
	rm -f "$1"
}

# ------------------------------------------------------------- processes

alive() {	# alive PID: the process exists
	kill -0 "$1" 2>/dev/null
}

dead() {	# dead PID: the process is gone
	if alive "$1"; then
		return 1
	fi
	return 0
}

# stop_pid PID [SECONDS]: stop one process we started, by its pid:
# SIGTERM, then SIGKILL if it still runs after SECONDS (default 10);
# reap it if it is our child.
stop_pid() {
	local pid=$1 secs=${2:-10}
	[ -n "$pid" ] || return 0
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		wait_for "$secs" dead "$pid" || kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	local stat f
	stat=$(<"/proc/$1/stat") || return 1
	# After "pid (comm) ", whatever comm holds, utime and stime are the
	# 12th and 13th fields (f[11] and f[12]).
	read -ra f <<<"${stat##*) }"
	echo $(( f[11] + f[12] ))
}

# cpu_ticks_over PID SECONDS: the CPU ticks PID uses over a measuring
# window of SECONDS.  A measurement over a set time, not a wait for
# something to happen: for that, use wait_for.
cpu_ticks_over() {
	local c0 c1
	c0=$(cpu_ticks "$1") || return 1
	sleep "$2"
	c1=$(cpu_ticks "$1") || return 1
	echo $(( c1 - c0 ))
}

rss_kib() {	# rss_kib PID: resident memory, KiB
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

fd_count() {	# fd_count PID: open file descriptors
	ls "/proc/$1/fd" | wc -l
}

fd_count_at_most() {	# fd_count_at_most PID N: a condition for wait_for
	[ "$(fd_count "$1")" -le "$2" ]
}

# ------------------------------------------------------------------ tcpd

# conf_service NAME HANDLER ADDRS [EXTRA]: one entry of services = (...).
conf_service() {
	printf '  { name = "%s"; handler = "%s"; listen = [ %s ]; %s },\n' \
	    "$1" "$2" "$3" "${4:-}"
}

# write_conf TOP_SETTINGS SERVICE_LINES: a whole config file, $CONF,
# with pid_file = $PIDFILE and log_level = "debug" unless TOP_SETTINGS
# sets a log_level.
write_conf() {
	{
		printf 'pid_file = "%s";\n' "$PIDFILE"
		[[ "$1" == *log_level* ]] || printf 'log_level = "debug";\n'
		printf '%s\n' "$1"
		printf 'services = (\n%s\n);\n' "${2%,}"
	} >"$CONF"
	# libconfig wants no comma after the last list element.
	sed -i -z 's/},\n\n);/}\n);/' "$CONF"
}

# many_services_conf PORTS_FILE [TOP_SETTINGS]: $CONF with one service
# per port in PORTS_FILE (from free_ports), s1 to sN, echo, discard and
# daytime in turn, one worker each, on 127.0.0.1.
many_services_conf() {
	write_conf "${2:-}" "$(awk '{
		h = NR % 3 == 1 ? "echo" : NR % 3 == 2 ? "discard" : "daytime"
		printf "  { name = \"s%d\"; handler = \"%s\"; listen = [ \"127.0.0.1:%d\" ]; workers = 1; },\n", NR, h, $1
	}' "$1")"
}

# _lib_workers_in SERVICE_EXTRA: the N of "workers = N" (default 1).
_lib_workers_in() {
	if [[ $1 =~ workers[[:space:]]*=[[:space:]]*([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	else
		echo 1
	fi
}

# one_service_conf NAME HANDLER [SERVICE_EXTRA] [TOP_SETTINGS]: $CONF
# with one service NAME of HANDLER on 127.0.0.1:$PORT, PORT a free port
# chosen here.  SERVICE_EXTRA is added to the service's entry, like
# 'workers = 2; idle_timeout = 0;' (workers = 1 unless it says
# otherwise); TOP_SETTINGS goes at the top of the file.
one_service_conf() {
	local extra=${3:-}
	[[ $extra =~ workers[[:space:]]*= ]] || extra="workers = 1; $extra"
	PORT=$(free_port) || return 1
	write_conf "${4:-}" "$(conf_service "$1" "$2" "\"127.0.0.1:$PORT\"" "$extra")"
}

# one_service NAME HANDLER [SERVICE_EXTRA] [TOP_SETTINGS]: the same, and
# start tcpd on it, waiting for all its workers.
one_service() {
	one_service_conf "$@" || return 1
	start_tcpd "$(_lib_workers_in "${3:-}")"
}

# How each line tcpd writes to stderr begins: the time, to the
# millisecond, with the zone's offset.
LOG_TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[-+][0-9]{4}'

# start_tcpd [N]: start "$TCPD" -f -c "$CONF" in the background, output
# appended to $LOG, its pid in TCPD_PID; wait until N of its workers
# (default 1) have logged that they started, which takes a log_level of
# info or debug.  N = 0: do not wait.
start_tcpd() {
	local n=${1:-1}
	"$TCPD" -f -c "$CONF" >>"$LOG" 2>&1 &
	TCPD_PID=$!
	[ "$n" -gt 0 ] || return 0
	# Lines from this master only: the log may hold an earlier one's.
	wait_for 10 log_has_n "$n" "^$LOG_TS tcpd\\[$TCPD_PID\\]: worker [0-9]+ started" || {
		cat "$LOG" >&2
		return 1
	}
}

# stop_tcpd: stop the tcpd start_tcpd started, by its pid (SIGTERM, and
# SIGKILL after 10 s), and wait for it to go.
stop_tcpd() {
	[ -n "${TCPD_PID:-}" ] || return 0
	stop_pid "$TCPD_PID" 10
	TCPD_PID=
}

# workers [MASTER]: the worker pids of a master (default $TCPD_PID),
# one a line: its children that run its program (a dead worker's
# programs, which the master adopts until they end, do not).
workers() {
	local m=${1:-$TCPD_PID} comm
	comm=$(ps -o comm= -p "$m") || return 0
	{ ps -o pid=,comm= --ppid "$m" || true; } |
	    awk -v c="$comm" '$2 == c { print $1 }'
}

nworkers() {	# nworkers [MASTER]: how many
	workers "$@" | grep -c . || true
}

nworkers_is() {	# nworkers_is N [MASTER]: a condition for wait_for
	[ "$(nworkers "${2:-$TCPD_PID}")" -eq "$1" ]
}

# log_count PATTERN: lines of $LOG that match an extended regex.
log_count() {
	grep -cE -- "$1" "$LOG" || true
}

# log_has_n N PATTERN: at least N matching lines.
log_has_n() {
	(( $(log_count "$2") >= $1 ))
}

# --------------------------------------------------------------- sockets

listening() {		# listening PORT [COUNT]: COUNT listeners (default 1)
	[ "$(ss -Htln "( sport = :$1 )" | grep -c .)" -eq "${2:-1}" ]
}
not_listening() {	# not_listening PORT
	[ -z "$(ss -Htln "( sport = :$1 )")" ]
}
established() {		# established PORT: a connection, server side
	[ -n "$(ss -Htn state established "( sport = :$1 )")" ]
}

accept_queue_is() {	# accept_queue_is PORT N: ss's Recv-Q of a listener
	[ "$(ss -Htln "( sport = :$1 )" | awk '{ n += $2 } END { print n + 0 }')" -eq "$2" ]
}

# conn_worker PORT: the pid of the worker holding the server side of a
# connection to PORT.
conn_worker() {
	ss -Htnp state established "( sport = :$1 )" |
	    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
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

# tcp_state PORT SIDE: the TCP states of connections whose SIDE port
# (sport: the server's end; dport: the client's end) is PORT, sorted,
# each followed by a space: "TIME-WAIT ".
tcp_state() {
	ss -Htan state connected "( $2 = :$1 )" | awk '{ print $1 }' | sort -u | tr '\n' ' '
}

# tcp_state_is PORT SIDE STATES: tcp_state is exactly STATES, without the
# trailing space ("TIME-WAIT", "CLOSE-WAIT", "" for no connection); a
# condition for wait_for.
tcp_state_is() {
	local s
	s=$(tcp_state "$1" "$2")
	[ "${s% }" = "$3" ]
}

# ------------------------------------------------------------- load tools

# field KEY LINE: the value of KEY=VALUE among the words of LINE (the
# result lines of tests/fault/faultload and tests/bench/loadgen); no
# output and status 1 if there is none.
field() {
	local kv words
	read -ra words <<<"$2"
	for kv in "${words[@]}"; do
		if [ "${kv%%=*}" = "$1" ]; then
			printf '%s\n' "${kv#*=}"
			return 0
		fi
	done
	return 1
}

# --------------------------------------------------------- tcpd, shared

hooks() {	# hooks: this tcpd was built with --enable-test-hooks
	"$TCPD" -V | grep -q 'test hooks'
}

master_title() {	# master_title: what ps shows of the master
	ps -o args= -p "$TCPD_PID"
}

# reload GEN: SIGHUP to the master, and wait until generation GEN started.
reload() {
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload: generation $1 started"
}

# exec_service 'ARGV' [SERVICE_EXTRA]: start tcpd with one exec service
# "prog" on $PORT running ARGV (quoted strings, as in exec = [ ... ]),
# with $WORKERS workers (or as SERVICE_EXTRA says, or 1) and $TOP at
# the top of the file.
exec_service() {
	one_service prog exec "exec = [ $1 ]; ${WORKERS:+workers = $WORKERS; }${2:-}" "${TOP:-}"
}

# shell_service 'COMMAND' [SERVICE_EXTRA]: the same, running /bin/sh -c
# COMMAND.
shell_service() {
	exec_service "\"/bin/sh\", \"-c\", \"$1\"" "${2:-}"
}

