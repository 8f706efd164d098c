#!/usr/bin/env bats
# tcpd-convert: xinetd's and inetd's configurations as tcpd services.
# Debian's own files, converted and checked with tcpd -t; then services
# converted from xinetd and inetd files written here on free loopback
# ports, started with tcpd and used with their real clients.

load helpers

: "${TCPD_CONVERT:=$(dirname "$TCPD")/tcpd-convert}"
DATA=$(dirname "$BATS_TEST_FILENAME")/convert

# Debian's xinetd files, copied into $T/xinetd: skip without them.
debian_xinetd() {
	dpkg -s xinetd >/dev/null 2>&1 && [ -f /etc/xinetd.conf ] ||
	    skip "xinetd is not installed: apt-get install xinetd"
	mkdir "$T/xinetd"
	cp /etc/xinetd.conf "$T/xinetd/"
	cp -r /etc/xinetd.d "$T/xinetd/"
	sed -i "s|^includedir /etc/xinetd.d|includedir $T/xinetd/xinetd.d|" \
	    "$T/xinetd/xinetd.conf"
}

# convert FILE: tcpd-convert FILE into $T/converted.conf, which must
# pass tcpd -t as it is; $CONF includes it with a pid_file and the log.
convert() {
	run -0 "$TCPD_CONVERT" "$1"
	printf '%s\n' "$output" >"$T/converted.conf"
	run -0 "$TCPD" -t -c "$T/converted.conf"
	include_converted
	run -0 cat "$T/converted.conf"
}

# $CONF: a pid_file, the log, and $T/converted.conf included.
include_converted() {
	printf 'pid_file = "%s";\nlog_level = "debug";\n@include "%s"\n' \
	    "$PIDFILE" converted.conf >"$CONF"
}

# start_converted N: start tcpd on $CONF, with N services' workers (one
# each: the converter sets no workers, and one is the default).
start_converted() {
	start_tcpd "$1"
}

# xinetd_service NAME ATTRIBUTES...: an xinetd.d file in $T/xd.
xinetd_service() {
	local name=$1
	shift
	mkdir -p "$T/xd"
	{
		printf 'service %s\n{\n' "$name"
		printf '\t%s\n' "$@"
		printf '}\n'
	} >"$T/xd/$name"
}

# echo_from SOURCE PORT TEXT: what an echo client bound to SOURCE gets.
echo_from() {
	printf '%s\n' "$3" | timeout 5 nc -N -s "$1" 127.0.0.1 "$2" || true
}

@test "Debian's xinetd files as shipped: each service named, none served" {
	debian_xinetd
	run -0 --separate-stderr "$TCPD_CONVERT" "$T/xinetd/xinetd.conf"
	printf '%s\n' "$output" >"$T/converted.conf"
	# Every entry of every file is there, as a comment saying why.
	[ "$(grep -c '^  # service ' "$T/converted.conf")" -eq \
	    "$(cat "$T"/xinetd/xinetd.d/* | grep -c '^service ')" ]
	local s
	for s in chargen daytime discard echo time; do
		assert_line --regexp "^  # service $s \\(id $s-stream\\), $T/xinetd/xinetd.d/$s:[0-9]+\$"
		assert_line "  { name = \"$s-stream\"; handler = \"$s\";"
		assert_line "  # service $s (id $s-dgram), $T/xinetd/xinetd.d/$s-udp:4"
	done
	[ "$(grep -c 'disabled in xinetd (disable = yes)' "$T/converted.conf")" -eq 5 ]
	[ "$(grep -c 'NOT CARRIED OVER: socket_type = dgram' "$T/converted.conf")" -eq 10 ]
	assert_line --partial "NOT CARRIED OVER: xinetd's internal service 'servers' has no tcpd"
	assert_line --partial "NOT CARRIED OVER: xinetd's internal service 'services' has no tcpd"
	assert_equal "$stderr" "tcpd-convert: $T/xinetd/xinetd.conf: no service carried over that is not disabled; tcpd needs at least one to start"
	# The five are there, disabled; nothing is served, and tcpd -t says so.
	[ "$(grep -c '^    disable = true;$' "$T/converted.conf")" -eq 5 ]
	run -1 "$TCPD" -t -c "$T/converted.conf"
	assert_output --regexp "^$T/converted.conf:[0-9]+: every service is disabled\$"
}

@test "Debian's xinetd files enabled on loopback: tcpd serves all five" {
	debian_xinetd
	local s p
	declare -A port
	for s in chargen daytime discard echo time; do
		p=$(free_port)
		port[$s]=$p
		sed -i -e 's/disable\t\t= yes/disable\t\t= no/' \
		    -e "s/^\(\tid\t\t= $s-stream\)\$/\1\n\tbind\t\t= 127.0.0.1\n\tport\t\t= $p/" \
		    "$T/xinetd/xinetd.d/$s"
	done
	convert "$T/xinetd/xinetd.conf"
	assert_line "    listen = [ \"127.0.0.1:${port[echo]}\" ];"
	start_converted 5
	assert_echo "${port[echo]}" "hello through xinetd's echo"
	run -0 timeout 5 nc -d 127.0.0.1 "${port[daytime]}"
	assert_output --regexp '^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [0-9]{4}'
	run -0 bash -c "timeout 5 nc -d 127.0.0.1 ${port[time]} | wc -c"
	assert_output 4
	run -0 bash -c "timeout 5 nc -d 127.0.0.1 ${port[chargen]} | head -c 72"
	assert_output ' !"#$%&'"'"'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefg'
	run -0 bash -c "echo dropped | timeout 5 nc -N 127.0.0.1 ${port[discard]}"
	assert_output ''
	wait_for 5 log_has_n 1 "closed service=discard-stream .* in=8 out=0"
}

@test "Debian's inetd.conf, as update-inetd writes it, passes tcpd -t" {
	convert "$DATA/inetd.conf"
	assert_line '  { name = "echo"; handler = "echo";'
	assert_line '    listen = [ "0.0.0.0:echo", "[::]:echo" ];'
	assert_line '  { name = "rsync"; handler = "exec";'
	assert_line '    exec = [ "/usr/bin/rsync", "--daemon", "--config=/etc/rsyncd.conf" ];'
	assert_line '    user = "nobody"; group = "nogroup";'
	assert_line '    per_source = { rate = 2; burst = 120; };'
	assert_line --partial "argv[0] 'rsyncd' is not carried"
	assert_line --partial '/usr/sbin/tcpd (TCP wrappers) is left out: tcpd runs /usr/bin/git'
	assert_line '      "/usr/bin/git",'
	assert_line --partial "NOT CARRIED OVER: socket type dgram: tcpd serves TCP streams only"
	assert_line --partial "NOT CARRIED OVER: wait: the program would accept"
	assert_line --regexp "NOT CARRIED OVER: (user 'telnetd' does not exist here|/usr/sbin/in.telnetd is not installed)"
	assert_line '  { name = "chargen"; handler = "chargen";'
	assert_line --partial "disabled in inetd.conf (#<off>#): kept with disable = true"
	# Every service line of the file is there.
	[ "$(grep -c '^  # inetd ' "$T/converted.conf")" -eq \
	    "$(grep -cE '^(#<off>#)? *[a-z]+[[:space:]]+(stream|dgram)' "$DATA/inetd.conf")" ]
}

@test "inetd.conf: rsync --daemon and git daemon, wrapped, serve their clients" {
	need_root "running programs as nobody"
	public_dir
	local rport gport
	rport=$(free_port)
	gport=$(free_port)
	mkdir -p "$PUB/data" "$PUB/git"
	echo "from rsync" >"$PUB/data/file.txt"
	printf '[data]\n  path = %s/data\n  use chroot = no\n  read only = yes\n' \
	    "$PUB" >"$PUB/rsyncd.conf"
	git init -q --bare "$PUB/git/repo.git"
	git -C "$PUB" clone -q "$PUB/git/repo.git" work 2>/dev/null
	echo "from git" >"$PUB/work/README"
	git -C "$PUB/work" add README
	git -C "$PUB/work" -c user.name=t -c user.email=t@t commit -qm one
	git -C "$PUB/work" push -q origin HEAD:master 2>/dev/null
	git -C "$PUB/git/repo.git" symbolic-ref HEAD refs/heads/master
	chmod -R a+rX "$PUB"
	# git daemon serves only repositories its user owns.
	chown -R nobody "$PUB/git"
	sed -e "s|^rsync\t|127.0.0.1:$rport\t|" -e "s|^git\t|127.0.0.1:$gport\t|" \
	    -e "s|/etc/rsyncd.conf|$PUB/rsyncd.conf|" -e "s|/srv/git|$PUB/git|g" \
	    -e 's/^echo\t/#echo\t/' "$DATA/inetd.conf" >"$T/inetd.conf"
	convert "$T/inetd.conf"
	start_converted 2
	run -0 timeout 20 rsync "rsync://127.0.0.1:$rport/data/"
	assert_line --regexp ' file.txt$'
	run -0 timeout 20 rsync "rsync://127.0.0.1:$rport/data/file.txt" "$T/got.txt"
	assert_equal "$(cat "$T/got.txt")" "from rsync"
	run -0 timeout 20 git clone -q "git://127.0.0.1:$gport/repo.git" "$T/clone"
	assert_equal "$(cat "$T/clone/README")" "from git"
}

@test "xinetd: rsync and git daemon with server_args serve their clients" {
	need_root "running programs as nobody"
	public_dir
	local rport gport
	rport=$(free_port)
	gport=$(free_port)
	mkdir -p "$PUB/data" "$PUB/git"
	echo "from rsync" >"$PUB/data/file.txt"
	printf '[data]\n  path = %s/data\n  use chroot = no\n' "$PUB" >"$PUB/rsyncd.conf"
	git init -q "$PUB/git/repo"
	echo "from git" >"$PUB/git/repo/README"
	git -C "$PUB/git/repo" add README
	git -C "$PUB/git/repo" -c user.name=t -c user.email=t@t commit -qm one
	chmod -R a+rX "$PUB"
	chown -R nobody "$PUB/git"
	xinetd_service rsync "socket_type = stream" "wait = no" "user = nobody" \
	    "server = /usr/bin/rsync" "bind = 127.0.0.1" "port = $rport" \
	    "server_args = --daemon --config=$PUB/rsyncd.conf"
	xinetd_service git "socket_type = stream" "wait = no" "user = nobody" \
	    "server = /usr/bin/git" "bind = 127.0.0.1" "port = $gport" \
	    "server_args = daemon --inetd --export-all --base-path=$PUB/git $PUB/git" \
	    "only_from = 127.0.0.1"
	printf 'defaults\n{\n}\nincludedir xd\n' >"$T/xinetd.conf"
	convert "$T/xinetd.conf"
	assert_line '      "/usr/bin/rsync",'
	assert_line "      \"--config=$PUB/rsyncd.conf\""
	assert_line "      \"--base-path=$PUB/git\","
	assert_line '    access = [ "allow 127.0.0.1", "deny all" ];'
	start_converted 2
	run -0 timeout 20 rsync "rsync://127.0.0.1:$rport/data/"
	assert_line --regexp ' file.txt$'
	run -0 timeout 20 git clone -q "git://127.0.0.1:$gport/repo" "$T/clone"
	assert_equal "$(cat "$T/clone/README")" "from git"
}

@test "xinetd: only_from and no_access refuse 127.0.0.2 and serve 127.0.0.1" {
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	xinetd_service echo "type = INTERNAL" "socket_type = stream" \
	    "wait = no" "bind = 127.0.0.1" "port = $p1" \
	    "only_from = 127.0.0.0/8" "no_access = 127.0.0.2"
	xinetd_service daytime "type = INTERNAL" "id = echo-open" \
	    "socket_type = stream" "wait = no" "bind = 127.0.0.1" "port = $p2" \
	    "no_access = 127.0.0.2"
	sed -i 's/^service daytime/service echo/' "$T/xd/daytime"
	convert "$T/xd/echo"
	assert_line '    access = [ "deny 127.0.0.2", "allow 127.0.0.0/8", "deny all" ];'
	cat "$T/xd/echo" "$T/xd/daytime" >"$T/both"
	convert "$T/both"
	assert_line '    access = [ "deny 127.0.0.2", "allow all" ];'
	start_converted 2
	run -0 echo_from 127.0.0.1 "$p1" allowed
	assert_output allowed
	run -0 echo_from 127.0.0.2 "$p1" refused
	assert_output ''
	wait_for 5 log_has_n 1 "refused service=echo client=127.0.0.2:[0-9]+ .*reason=\"access rule 1 'deny 127.0.0.2'\""
	# With no_access alone, everyone else is served.
	run -0 echo_from 127.0.0.1 "$p2" "allowed too"
	assert_output "allowed too"
	run -0 echo_from 127.0.0.2 "$p2" refused
	assert_output ''
	wait_for 5 log_has_n 1 "refused service=echo-open client=127.0.0.2:"
}

@test "xinetd: user, group, env, passenv, umask, nice and rlimits reach the program" {
	need_root "changing user"
	public_dir
	local p
	p=$(free_port)
	printf '%s\n' '#!/bin/sh' 'id; umask' \
	    'echo "nice $(cut -d" " -f19 /proc/self/stat)"' \
	    'echo "nofile $(ulimit -n) as $(ulimit -v) cpu $(ulimit -t)"' \
	    'echo "FOO=$FOO PASSED=$TCPD_CONVERT_PASSED"' >"$PUB/show"
	chmod 755 "$PUB/show"
	xinetd_service show "socket_type = stream" "wait = no" "type = UNLISTED" \
	    "user = nobody" "group = nogroup" "server = $PUB/show" \
	    "bind = 127.0.0.1" "port = $p" "env = FOO=bar" \
	    "passenv = TCPD_CONVERT_PASSED" "umask = 027" "nice = 5" \
	    "rlimit_files = 256" "rlimit_as = 512M" "rlimit_cpu = 60"
	convert "$T/xd/show"
	export TCPD_CONVERT_PASSED=yes
	start_converted 1
	run -0 timeout 5 nc -d 127.0.0.1 "$p"
	assert_line 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)'
	assert_line 0027
	assert_line 'nice 5'
	assert_line 'nofile 256 as 524288 cpu 60'
	assert_line 'FOO=bar PASSED=yes'
}

@test "xinetd: per_source, instances and cps limit as tcpd can" {
	public_dir
	local p1 p2 p3
	p1=$(free_port)
	p2=$(free_port)
	p3=$(free_port)
	printf '%s\n' '#!/bin/sh' 'echo started' 'exec cat >/dev/null' >"$PUB/hold"
	chmod 755 "$PUB/hold"
	xinetd_service per-source "socket_type = stream" "wait = no" \
	    "type = UNLISTED" "user = $(id -un)" "server = $PUB/hold" \
	    "bind = 127.0.0.1" "port = $p1" "per_source = 1"
	xinetd_service instances "socket_type = stream" "wait = no" \
	    "type = UNLISTED" "user = $(id -un)" "server = $PUB/hold" \
	    "bind = 127.0.0.1" "port = $p2" "instances = 1"
	xinetd_service cps "type = INTERNAL" "socket_type = stream" \
	    "wait = no" "bind = 127.0.0.1" "port = $p3" "cps = 1 10"
	sed -i 's/^service cps/service echo/' "$T/xd/cps"
	printf 'includedir xd\n' >"$T/xinetd.conf"
	convert "$T/xinetd.conf"
	assert_line '    per_source = { max_connections = 1; };'
	assert_line '    max_connections = 1;'
	assert_line '    per_source = { rate = 1; burst = 1; };'
	start_converted 3
	# per_source = 1: a second connection from the same source is refused.
	exec 5<>"/dev/tcp/127.0.0.1/$p1"
	read -r -t 5 line <&5
	assert_equal "$line" started
	run -0 timeout 5 nc -d 127.0.0.1 "$p1"
	assert_output ''
	wait_for 5 log_has_n 1 'refused service=per-source .*reason="per_source max_connections 1"'
	exec 5>&-
	# instances = 1: a second client waits in the queue until the first ends.
	exec 6<>"/dev/tcp/127.0.0.1/$p2"
	read -r -t 5 line <&6
	assert_equal "$line" started
	exec 7<>"/dev/tcp/127.0.0.1/$p2"
	wait_for 5 accept_queue_is "$p2" 1
	exec 6>&-
	read -r -t 10 line <&7
	assert_equal "$line" started
	exec 7>&-
	# cps = 1 10: one connection a second from a source, the next refused.
	run -0 echo_from 127.0.0.1 "$p3" first
	assert_output first
	run -0 echo_from 127.0.0.1 "$p3" second
	assert_output ''
	wait_for 5 log_has_n 1 'refused service=echo .*reason="per_source rate 1/s burst 1"'
}

@test "xinetd: disable = yes comes out as disable = true; without it, it serves" {
	local p
	p=$(free_port)
	xinetd_service echo "type = INTERNAL" "socket_type = stream" \
	    "wait = no" "bind = 127.0.0.1" "port = $p" "disable = yes"
	run -0 --separate-stderr "$TCPD_CONVERT" "$T/xd/echo"
	assert_line "  # disabled in xinetd (disable = yes): kept with disable = true; remove"
	assert_line '  { name = "echo"; handler = "echo";'
	assert_line '    disable = true;'
	printf '%s\n' "$output" >"$T/converted.conf"
	run -1 "$TCPD" -t -c "$T/converted.conf"
	# Remove that line, as the note says.
	sed -i '/^    disable = true;$/d' "$T/converted.conf"
	run -0 "$TCPD" -t -c "$T/converted.conf"
	include_converted
	start_converted 1
	assert_echo "$p" "enabled by hand"
}

@test "what cannot be carried is a comment with the reason, never dropped" {
	xinetd_service udp "socket_type = dgram" "protocol = udp" "wait = yes" \
	    "user = root" "server = /bin/true"
	xinetd_service waits "socket_type = stream" "wait = yes" \
	    "user = root" "server = /bin/true" "port = 9999" "type = UNLISTED"
	xinetd_service redir "socket_type = stream" "wait = no" "port = 9998" \
	    "type = UNLISTED" "redirect = 192.0.2.1 80"
	xinetd_service rpc "type = RPC" "socket_type = stream" "wait = no" \
	    "user = root" "server = /bin/true" "rpc_version = 2"
	xinetd_service named "socket_type = stream" "wait = no" "user = root" \
	    "server = /bin/cat" "port = 9997" "type = UNLISTED" "bind = eth0"
	xinetd_service host "socket_type = stream" "wait = no" "user = root" \
	    "server = /bin/cat" "port = 9996" "type = UNLISTED" \
	    "no_access = bad.example.com" "log_type = FILE /var/log/x" \
	    "banner = /etc/issue" "access_times = 2:00-9:00" "max_load = 2"
	xinetd_service ok "socket_type = stream" "wait = no" "user = root" \
	    "server = /bin/cat" "port = 9995" "type = UNLISTED" \
	    "only_from = good.example.com 127.0.0.1" "flags = IDONLY NODELAY"
	printf 'includedir xd\n' >"$T/xinetd.conf"
	convert "$T/xinetd.conf"
	assert_line '  # NOT CARRIED OVER: socket_type = dgram: tcpd serves TCP streams only'
	assert_line --partial '  # NOT CARRIED OVER: wait = yes: the program would accept'
	assert_line --partial '  # NOT CARRIED OVER: redirect: tcpd forwards no connections'
	assert_line --partial '  # NOT CARRIED OVER: an RPC service (type = RPC)'
	assert_line --partial "  # NOT CARRIED OVER: bind = eth0 is not an address"
	assert_line --partial "  # NOT CARRIED OVER: no_access 'bad.example.com' is not an address"
	assert_line --partial '  # log_type FILE is not carried: tcpd logs to syslog'
	assert_line --partial '  # banner, banner_success and banner_fail are not carried'
	assert_line --partial '  # access_times is not carried'
	assert_line --partial '  # max_load is not carried'
	assert_line --partial "  # only_from 'good.example.com' is not an address"
	assert_line --partial '  # flags = IDONLY is not carried'
	assert_line '    access = [ "allow 127.0.0.1", "deny all" ];'
	assert_line '    nodelay = true;'
	[ "$(grep -c '^  # service ' "$T/converted.conf")" -eq 7 ]
	[ "$(grep -c '^  { name' "$T/converted.conf")" -eq 1 ]
}

@test "malformed input: FILE:LINE and exit 1; usage: exit 2" {
	run -2 "$TCPD_CONVERT"
	assert_output 'usage: tcpd-convert [-f xinetd|inetd] PATH'
	run -2 "$TCPD_CONVERT" -f nonsense "$T/x"
	run -2 "$TCPD_CONVERT" a b
	run -1 "$TCPD_CONVERT" "$T/missing"
	assert_output "tcpd-convert: $T/missing: No such file or directory"
	run -1 "$TCPD_CONVERT" "$T"
	assert_output "tcpd-convert: $T: not a regular file"
	printf 'service echo\n{\n\tsocket_type = stream\n\tbogus = 1\n}\n' >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:4: unknown attribute 'bogus'"
	printf 'service echo\n{\n\twait = no\n\twait = no\n}\n' >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:4: 'wait' is set twice (first at line 3)"
	printf 'service echo\n{\n\tsocket_type = stream\n' >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:1: 'echo' has no closing '}'"
	printf 'service echo\n\tsocket_type = stream\n}\n' >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:2: expected '{' on a line of its own after 'echo'"
	printf 'echo stream tcp nowait\n' >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:1: expected 'service socket_type protocol wait user server [args...]' or 'host:'"
	printf 'echo stream tcp sometimes root internal\n' >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:1: expected wait or nowait, not 'sometimes'"
	printf 'includedir %s/nowhere\n' "$T" >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:1: includedir $T/nowhere: No such file or directory"
	printf 'include %s/bad\n' "$T" >"$T/bad"
	run -1 "$TCPD_CONVERT" "$T/bad"
	assert_output "tcpd-convert: $T/bad:1: includes nest more than 8 deep"
	head -c 4096 "$TCPD" >"$T/garbage"
	run -1 "$TCPD_CONVERT" "$T/garbage"
	assert_output --regexp "^tcpd-convert: $T/garbage(:1)?: (holds a NUL byte|control character)"
}

@test "no input makes it crash or leak (valgrind)" {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	local f n=0
	mkdir "$T/in"
	cp "$DATA/inetd.conf" "$T/in/"
	[ ! -d /etc/xinetd.d ] || cp /etc/xinetd.conf /etc/xinetd.d/* "$T/in/"
	# Every file cut short at a few places, and a binary.
	for f in "$T"/in/*; do
		head -c 100 "$f" >"$f.cut100"
		head -c 333 "$f" >"$f.cut333"
		head -n 5 "$f" >"$f.cut5"
	done
	head -c 2000 "$TCPD" >"$T/in/binary"
	printf 'defaults\n{\n\tonly_from = 10.{1,2,300} 1.2.3.4/40 ::/0\n\tcps = 1\n}\n' >"$T/in/odd"
	for f in "$T"/in/*; do
		run valgrind -q --error-exitcode=99 --leak-check=full \
		    "$TCPD_CONVERT" "$f"
		[ "$status" -eq 0 ] || [ "$status" -eq 1 ] ||
		    fail "$f: status $status: $output"
		n=$((n + 1))
	done
	[ "$n" -gt 10 ]
}
