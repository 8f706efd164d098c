#!/usr/bin/env bats
# A reload that moves a service's port away and back again, while the
# previous generation still finishes its programs and still listens on
# the old port, is applied every time, and every client sent after each
# reload is served; so is one from an address to the wildcard of its
# port, which tcpd's own old sockets are in the way of.

load helpers

# client PORT NAME: connect, say so in $T/up.NAME, send NAME, and put
# the answer in $T/out.NAME (within 30 s).
client() {
	local fd line=
	exec {fd}<>"/dev/tcp/127.0.0.1/$1" || { : >"$T/up.$2"; return 1; }
	: >"$T/up.$2"
	echo "$2" >&"$fd"
	read -r -t 30 line <&"$fd"
	echo "$line" >"$T/out.$2"
	exec {fd}>&-
}

# all_there PREFIX N: files PREFIX1 to PREFIXN exist.
all_there() {
	local i
	for i in $(seq 1 "$2"); do
		[ -e "$1$i" ] || return 1
	done
}

# reload_done GEN N: generation GEN started, or more than N reloads
# were refused.
reload_done() {
	log_has_n 1 "reload: generation $1 started" ||
	    log_has_n $(($2 + 1)) "reload refused: "
}

# listening_only_on ADDR:PORT: every listener on PORT is bound to ADDR.
listening_only_on() {
	[ "$(ss -Htln "( sport = :${1##*:} )" | awk '{ print $4 }' | sort -u)" = "$1" ]
}

@test "a port moved away and back at every reload: every reload applied, every client served" {
	local rounds=30 clients=3 r i f name port refused=0 failed=0 pids=
	A=$(free_port) B=$(free_port)
	# Each program answers, then holds its connection a little: the
	# service's max_connections is taken by the old generation's
	# programs when the next reload comes, so its workers cannot take
	# what is queued on their sockets at once, and still listen on the
	# port the reload brings back.
	prog='"/bin/sh", "-c", "read l; echo \"$l\"; sleep 0.2"'
	write_conf '' "$(conf_service prog exec "\"127.0.0.1:$A\"" \
	    "workers = 2; max_connections = $clients; exec = [ $prog ];")"
	start_tcpd 2
	for r in $(seq 1 "$rounds"); do
		if (( r % 2 )); then port=$B; else port=$A; fi
		sed -i "s/127\\.0\\.0\\.1:[0-9]*/127.0.0.1:$port/" "$CONF"
		kill -HUP "$TCPD_PID"
		wait_for 10 reload_done $((r + 1 - refused)) "$refused"
		if log_has_n $((refused + 1)) "reload refused: "; then
			refused=$((refused + 1))
			continue
		fi
		for i in $(seq 1 "$clients"); do
			client "$port" "r$r.c$i" &
			pids="$pids $!"
		done
		# The next reload comes as soon as they are connected: their
		# programs, or the old generation's, hold max_connections.
		wait_for 10 all_there "$T/up.r$r.c" "$clients"
	done
	wait $pids
	for f in "$T"/up.*; do
		name=${f#"$T/up."}
		if [ "$(cat "$T/out.$name" 2>/dev/null)" != "$name" ]; then
			failed=$((failed + 1))
			echo "# client $name got '$(cat "$T/out.$name" 2>/dev/null)'" >&3
		fi
	done
	grep 'reload refused' "$LOG" | sed 's/^/# /' >&3 || true
	echo "# $r of $rounds reloads, $refused refused; $failed of" \
	    "$(ls "$T"/up.* | wc -l) clients not served" >&3
	[ "$refused" -eq 0 ]
	[ "$failed" -eq 0 ]
	# The port the last reload left answers.
	assert_echo "$port" last
}

@test "a reload from one address of a port to the wildcard of that port is applied" {
	one_service echo echo 'workers = 2;'
	assert_echo "$PORT" before
	sed -i "s/\"127.0.0.1:$PORT\"/\"0.0.0.0:$PORT\"/" "$CONF"
	kill -HUP "$TCPD_PID"
	wait_for 10 log_has_n 1 'reload: generation 2 started'
	[ "$(log_count 'reload refused')" -eq 0 ]
	# The old sockets close once their workers have let them go.
	wait_for 10 log_has_n 2 "closing 127.0.0.1:$PORT slot [01]"
	wait_for 10 listening_only_on "0.0.0.0:$PORT"
	assert_echo "$PORT" after
	assert_echo "$PORT" again 127.0.0.2
}
