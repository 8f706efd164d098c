#!/usr/bin/env bats
# The bytes each built-in service puts on the wire.

load helpers

start_all() {
	ECHO=$(free_port) DISCARD=$(free_port) CHARGEN=$(free_port)
	DAYTIME=$(free_port) TIME=$(free_port)
	write_conf 'idle_timeout = 0;' "$(
	    conf_service echo echo "\"127.0.0.1:$ECHO\", \"[::1]:$ECHO\"" 'workers = 1;'
	    conf_service discard discard "\"127.0.0.1:$DISCARD\"" 'workers = 1;'
	    conf_service chargen chargen "\"127.0.0.1:$CHARGEN\"" 'workers = 1;'
	    conf_service daytime daytime "\"127.0.0.1:$DAYTIME\"" 'workers = 1;'
	    conf_service time time "\"127.0.0.1:$TIME\"" 'workers = 1;')"
	sed -i '/^idle_timeout/d' "$CONF"
	start_tcpd 5
}

@test "echo sends back exactly the bytes it got" {
	start_all
	assert_echo "$ECHO" hello
	head -c 1048576 /dev/urandom >"$T/in"
	nc -N 127.0.0.1 "$ECHO" <"$T/in" >"$T/out"
	cmp "$T/in" "$T/out"
}

@test "echo answers on IPv6 too" {
	ip -6 addr show dev lo | grep -q '::1' || skip "no IPv6 loopback"
	start_all
	assert_echo "$ECHO" six ::1
}

@test "discard reads everything and answers nothing" {
	start_all
	head -c 1000000 /dev/zero >"$T/in"
	run -0 nc -N 127.0.0.1 "$DISCARD" <"$T/in"
	assert_output ""
	wait_for 5 log_has_n 1 "closed service=discard .* in=1000000 out=0 first=client end=FIN reason=\"client EOF\""
}

@test "chargen sends the RFC 864 rotating pattern" {
	start_all
	# 200 lines: past one full turn of the 95 printable characters.
	nc -d 127.0.0.1 "$CHARGEN" | head -c $((200 * 74)) >"$T/out" || true
	awk 'BEGIN {
		for (i = 0; i < 95; i++) ring = ring sprintf("%c", 32 + i)
		ring = ring ring
		for (l = 0; l < 200; l++)
			printf "%s\r\n", substr(ring, (l % 95) + 1, 72)
	}' >"$T/want"
	cmp "$T/want" "$T/out"
}

@test "daytime sends one ctime-style line ending in CRLF, then FIN" {
	start_all
	run -0 timeout 5 nc -d 127.0.0.1 "$DAYTIME"
	assert_output --regexp '^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}'$'\r''$'
	# The day and year are today's.
	assert_output --partial "$(date '+%b %e')"
	assert_output --partial "$(date '+%Y')"
	wait_for 5 log_has_n 1 "closed service=daytime .* first=server end=shutdown-FIN reason=\"answer sent\""
}

@test "time sends 4 bytes: seconds since 1900, big-endian" {
	start_all
	timeout 5 nc -d 127.0.0.1 "$TIME" >"$T/out"
	[ "$(stat -c %s "$T/out")" -eq 4 ]
	read -r b0 b1 b2 b3 < <(od -An -tu1 "$T/out")
	got=$(( (b0 << 24) | (b1 << 16) | (b2 << 8) | b3 ))
	want=$(( ($(date +%s) + 2208988800) % 4294967296 ))
	diff=$(( got - want ))
	[ "${diff#-}" -le 5 ] || fail "time said $got, clock says $want"
}
