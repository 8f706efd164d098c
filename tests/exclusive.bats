#!/usr/bin/env bats
# An address another process listens on, a second tcpd included, is
# refused at start and at reload, even when both start at the same moment.

load helpers

# reuseport_listener HOST PORT: a listener of another process, with
# SO_REUSEPORT (so that it could join tcpd's sockets) and, on [::],
# taking IPv4 too; in the background until the test ends.
reuseport_listener() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	python3 -c '
import signal, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((host, port))
s.listen(16)
signal.pause()' "$1" "$2" &
	LISTENER_PID=$!
	BG_PIDS="${BG_PIDS:-} $LISTENER_PID"
	wait_for 10 listening "$2"
}

# Only the other process listens on PORT: tcpd left nothing there.
only_listener() {
	run -0 ss -Htlnp "( sport = :$1 )"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *"pid=$LISTENER_PID,"* ]]
}

# pick_port: into PICKED_PORT, a port nobody uses, below the ephemeral
# range (so that no client elsewhere on the machine takes it, and leaves
# it in TIME-WAIT, while a trial runs), and not picked before by this
# test.  Not to be run in $(...): the ports picked must be remembered.
pick_port() {
	local low p i
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	(( low > 21000 )) || low=60000
	for i in $(seq 1 500); do
		p=$((20000 + RANDOM % (low - 20000)))
		case " ${PICKED:-} " in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
			PICKED="${PICKED:-} $p"
			PICKED_PORT=$p
			return 0
		fi
	done
	return 1
}

# settled DIR PID1 PID2: each master has exited or has both workers up.
settled() {
	local d=$1 i=1 pid
	shift
	for pid in "$@"; do
		dead "$pid" || (( $(grep -cE "^$LOG_TS tcpd\\[$pid\\]: worker [0-9]+ started" "$d/$i.log") >= 2 )) || return 1
		i=$((i + 1))
	done
}

# trial N PORT MODE: two masters with the same address, their own pid
# files and logs, released at the same moment.  With test hooks, MODE 1
# (2) makes master 1 (2) pause 30 ms between its probe and its binds, as
# a master preempted there would: the other binds meanwhile.  MODE 3
# makes both pause there, again before their check, and for 100 ms when
# they find the other before they let go: each finds the other, and both
# try again.  MODE 0 leaves timing alone.  Writes "ok", or what went
# wrong, to $T/trial.N/result; stops every master it started.
trial() {
	local d=$T/trial.$1 port=$2 mode=$3 i delay pids=() up=() down=()
	local loser winner status out w listeners others p
	set +e
	mkdir "$d"
	mkfifo "$d/go"
	exec 9<>"$d/go"
	for i in 1 2; do
		printf 'pid_file = "%s/%s.pid";\nlog_level = "debug";\nservices = (\n  { name = "echo"; handler = "echo"; listen = [ "127.0.0.1:%s" ]; workers = 2; }\n);\n' \
		    "$d" "$i" "$port" >"$d/$i.conf"
		delay=0
		(( mode & i )) && delay=30
		(( mode == 3 )) && delay=30,30,100
		(
			export TCPD_TEST_CLAIM_DELAY_MS=$delay
			: >"$d/ready.$i"
			read -r -u 9 _
			exec "$TCPD" -f -c "$d/$i.conf" 2>"$d/$i.log" 9<&-
		) &
		pids+=("$!")
	done
	trap 'kill -KILL "${pids[@]}" 2>/dev/null' EXIT
	wait_for 10 test -e "$d/ready.1" -a -e "$d/ready.2"
	# One line each: both blocked readers wake at once.
	printf '\n\n' >&9
	exec 9>&-
	wait_for 20 settled "$d" "${pids[@]}"
	for i in 1 2; do
		if alive "${pids[i - 1]}"; then up+=("$i"); else down+=("$i"); fi
	done
	if [ "${#up[@]}" -ne 1 ]; then
		echo "${#up[@]} masters running" >"$d/result"
	else
		winner=${up[0]} loser=${down[0]}
		wait "${pids[loser - 1]}"
		status=$?
		out=$(echo "trial $1" | timeout 5 nc -N 127.0.0.1 "$port")
		# Only the winner's sockets: one per worker, held by it and
		# by one of its workers.
		w=$(ps -o pid= --ppid "${pids[winner - 1]}" | tr -d ' ' | sort | tr '\n' ' ')
		listeners=$(ss -Htlnp "( sport = :$port )")
		others=
		for p in $(grep -o 'pid=[0-9]*' <<<"$listeners" | cut -d= -f2 | sort -u); do
			case " ${pids[winner - 1]} $w " in
			*" $p "*) ;;
			*) others="$others $p" ;;
			esac
		done
		if [ "$status" -eq 0 ]; then
			echo "the master that did not start exited 0" >"$d/result"
		elif ! grep -q "cannot listen on 127.0.0.1:$port: address already in use" "$d/$loser.log"; then
			echo "master $loser exited $status without saying the address is in use" >"$d/result"
		elif [ "$out" != "trial $1" ]; then
			echo "echo answered '$out'" >"$d/result"
		elif [ "$(grep -c . <<<"$listeners")" -ne 2 ] || [ -n "$others" ]; then
			echo "listeners: $listeners (master ${pids[winner - 1]}, workers $w)" >"$d/result"
		else
			echo ok >"$d/result"
		fi
	fi
	for i in "${up[@]}"; do
		kill -TERM "${pids[i - 1]}"
		wait_for 10 dead "${pids[i - 1]}"
	done
	wait
	trap - EXIT
}

@test "two masters on one address started together 200 times: never both listening" {
	command -v nc >/dev/null || skip "nc is not installed"
	local n=200 batch=10 i j d mode=0 failed=0 racy=0 both=0
	hooks && mode=1
	for i in $(seq 1 "$batch" "$n"); do
		for j in $(seq "$i" $((i + batch - 1))); do
			pick_port
			# Without test hooks, every trial leaves timing alone.
			trial "$j" "$PICKED_PORT" $(( mode * (j % 4) )) &
		done
		wait
	done
	for i in $(seq 1 "$n"); do
		d=$T/trial.$i
		if [ "$(cat "$d/result" 2>/dev/null)" != ok ]; then
			failed=$((failed + 1))
			echo "# trial $i (mode $(( mode * (i % 4) ))): $(cat "$d/result" 2>/dev/null)" >&3
			sed 's/^/#   /' "$d"/[12].log >&3
		fi
		case $(grep -l 'letting go, trying again' "$d"/[12].log | grep -c .) in
		1) racy=$((racy + 1)) ;;
		2) racy=$((racy + 1)) both=$((both + 1)) ;;
		esac
	done
	echo "# $n trials; in $racy a master found the other after binding" \
	    "(in $both both did, and tried again); $failed failed" >&3
	[ "$failed" -eq 0 ]
}

@test "an address a SO_REUSEPORT listener of another process holds: tcpd refuses to start" {
	PORT=$(free_port)
	reuseport_listener 127.0.0.1 "$PORT"
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 2;')"
	run -1 "$TCPD" -f -c "$CONF"
	assert_output --partial "cannot listen on 127.0.0.1:$PORT: address already in use by another process (uid $(id -u))"
	only_listener "$PORT"
}

@test "an IPv6 wildcard listener that takes IPv4 holds the IPv4 addresses of its port" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	PORT=$(free_port)
	reuseport_listener :: "$PORT"
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 1;')"
	run -1 "$TCPD" -f -c "$CONF"
	assert_output --partial "cannot listen on 127.0.0.1:$PORT: address already in use by another process (uid $(id -u), listening on [::]:$PORT)"
	only_listener "$PORT"
}

@test "a listener that appears between the probe and the binds is found after them" {
	hooks || skip "needs ./configure --enable-test-hooks"
	PORT=$(free_port)
	write_conf '' "$(conf_service echo echo "\"0.0.0.0:$PORT\"" 'workers = 2;')"
	TCPD_TEST_CLAIM_DELAY_MS=3000 "$TCPD" -f -c "$CONF" 2>>"$LOG" &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "test hook: 3000 ms before binding 0.0.0.0:$PORT"
	# The probe passed; this one binds before tcpd does, and would
	# share its SO_REUSEPORT group.
	reuseport_listener 127.0.0.1 "$PORT"
	wait_for 10 dead "$TCPD_PID"
	run wait "$TCPD_PID"
	TCPD_PID=
	[ "$status" -eq 1 ]
	grep -q "0.0.0.0:$PORT: another process listens there too" "$LOG"
	grep -q "cannot listen on 0.0.0.0:$PORT: address already in use by another process (uid $(id -u), listening on 127.0.0.1:$PORT)" "$LOG"
	only_listener "$PORT"
}

@test "among many new addresses, one taken between the binds and their check is found" {
	hooks || skip "needs ./configure --enable-test-hooks"
	local ports=$T/ports taken p
	free_ports 40 "$ports"
	many_services_conf "$ports"
	taken=$(sed -n 20p "$ports")
	# 40 new addresses are bound, then checked with one question to the
	# kernel; this listener joins one of them in between.
	TCPD_TEST_CLAIM_DELAY_MS=0,0,0,3000 "$TCPD" -f -c "$CONF" 2>>"$LOG" &
	TCPD_PID=$!
	wait_for 10 log_has_n 1 "test hook: 3000 ms before checking all from"
	listening "$taken"
	reuseport_listener 127.0.0.1 "$taken"
	wait_for 10 dead "$TCPD_PID"
	run wait "$TCPD_PID"
	TCPD_PID=
	[ "$status" -eq 1 ]
	grep -q "cannot listen on 127.0.0.1:$taken: address already in use by another process (uid $(id -u))" "$LOG"
	only_listener "$taken"
	while read -r p; do
		if [ "$p" != "$taken" ]; then
			not_listening "$p"
		fi
	done <"$ports"
}

@test "a reload adding an address another process holds is refused and changes nothing" {
	PORT=$(free_port) OTHER=$(free_port)
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 2;')"
	start_tcpd 2
	pids=$(workers | sort)
	reuseport_listener 127.0.0.1 "$OTHER"
	sed -i "s/\"127.0.0.1:$PORT\"/\"127.0.0.1:$PORT\", \"127.0.0.1:$OTHER\"/" "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "reload refused: cannot listen on 127.0.0.1:$OTHER: address already in use by another process \\(uid $(id -u)\\); still running generation 1"
	[ "$(workers | sort)" = "$pids" ]
	only_listener "$OTHER"
	listening "$PORT" 2
	run -0 bash -c "echo same | nc -N 127.0.0.1 $PORT"
	assert_output same
}

@test "a reload whose new address is taken between the probe and the binds is refused" {
	hooks || skip "needs ./configure --enable-test-hooks"
	PORT=$(free_port) OTHER=$(free_port)
	write_conf '' "$(conf_service echo echo "\"127.0.0.1:$PORT\"" 'workers = 2;')"
	export TCPD_TEST_CLAIM_DELAY_MS=2000
	start_tcpd 2
	unset TCPD_TEST_CLAIM_DELAY_MS
	pids=$(workers | sort)
	sed -i "s/\"127.0.0.1:$PORT\"/\"127.0.0.1:$PORT\", \"127.0.0.1:$OTHER\"/" "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 "test hook: 2000 ms before binding 127.0.0.1:$OTHER"
	reuseport_listener 127.0.0.1 "$OTHER"
	wait_for 10 log_has_n 1 "reload refused: cannot listen on 127.0.0.1:$OTHER: address already in use by another process \\(uid $(id -u)\\); still running generation 1"
	grep -q "127.0.0.1:$OTHER: another process listens there too" "$LOG"
	[ "$(workers | sort)" = "$pids" ]
	only_listener "$OTHER"
	listening "$PORT" 2
	run -0 bash -c "echo same | nc -N 127.0.0.1 $PORT"
	assert_output same
}
