#!/usr/bin/env bats
# Programs per connection under control: each as its service's user, in
# its directory, with its umask, nice value, limits, environment and
# lifetime; and the programs administrators run from inetd, end to end:
# git daemon, rsync --daemon, sshd -i, and rdate against tcpd's time.

load helpers

# The Debian packages of the real programs, installed when missing and
# root; a test whose program is still missing says so and is skipped.
PACKAGES="git rsync openssh-server openssh-client rdate"

setup_file() {
	local missing=() p
	for p in $PACKAGES; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" -eq 0 ] || return 0
	command -v apt-get >/dev/null || return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${missing[@]}" \
	    >/dev/null 2>&1 ||
	    { apt-get update -qq && apt-get install -y -qq \
	    --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 || true
}

# need COMMAND PACKAGE: skip the test unless COMMAND is installed.
need() {
	command -v "$1" >/dev/null 2>&1 ||
	    skip "$1 is missing: install the Debian package $2 (as root, the tests do)"
}

# need_root WHY: skip the test unless run as root.

# program_pid N: once the log says N programs were started, the pid of
# the last one.
program_pid() {
	wait_for 5 log_has_n "$1" ': handed to pid [0-9]+;' >&2 || return 1
	sed -n 's/.*: handed to pid \([0-9]*\);.*/\1/p' "$LOG" | tail -n 1
}

# limit PID NAME: the soft and hard limit /proc/PID/limits shows for
# "Max NAME", as "soft hard".
limit() {
	awk -v n="Max $2" 'index($0, n) == 1 {
		sub(n, ""); print $1, $2 }' "/proc/$1/limits"
}

@test "a program runs as its user, in cwd, with umask, nice and rlimits" {
	[ "$(id -u)" -eq 0 ] || skip "changing user needs root"
	exec_service '"/bin/sh", "-c", "echo $$; exec /bin/sleep 30"' \
	    'user = "daemon"; cwd = "/usr/share"; umask = "027"; nice = 5;
	     rlimits = { cpu = 60; as = "512M"; nofile = 256; nproc = 64;
	         fsize = "1G"; core = 0; stack = "unlimited"; rttime = 1000000L; };'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	wait_for 5 grep -q '^Name:[[:space:]]*sleep$' "/proc/$pid/status"
	assert_equal "$(ps -o user= -p "$pid")" daemon
	assert_equal "$(readlink "/proc/$pid/cwd")" /usr/share
	assert_equal "$(awk '/^Umask:/ { print $2 }' "/proc/$pid/status")" 0027
	assert_equal "$(ps -o ni= -p "$pid" | tr -d ' ')" 5
	assert_equal "$(limit "$pid" 'cpu time')" "60 60"
	assert_equal "$(limit "$pid" 'address space')" "536870912 536870912"
	assert_equal "$(limit "$pid" 'open files')" "256 256"
	assert_equal "$(limit "$pid" 'processes')" "64 64"
	assert_equal "$(limit "$pid" 'file size')" "1073741824 1073741824"
	assert_equal "$(limit "$pid" 'core file size')" "0 0"
	assert_equal "$(limit "$pid" 'stack size')" "unlimited unlimited"
	assert_equal "$(limit "$pid" 'realtime timeout')" "1000000 1000000"
	# The worker keeps its own: the settings are the program's alone.
	local w
	w=$(workers)
	assert_equal "$(readlink "/proc/$w/cwd")" "$(readlink /proc/$TCPD_PID/cwd)"
	assert_equal "$(ps -o ni= -p "$w")" "$(ps -o ni= -p "$TCPD_PID")"
	[ "$(limit "$w" 'open files')" != "256 256" ]
	exec 5>&-
}

@test "without cwd a program runs in /, with tcpd's umask and nice" {
	exec_service '"/bin/sh", "-c", "pwd; umask"'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output "/
$(umask)"
}

@test "passenv copies tcpd's variables, env sets, and neither overrides TCP*" {
	export TCPD_TEST_A=from-tcpd TCPD_TEST_B=from-tcpd TCPD_TEST_C=not-passed
	exec_service '"/usr/bin/env"' \
	    'passenv = [ "TCPD_TEST_A", "TCPD_TEST_B", "TCPD_TEST_UNSET", "PATH" ];
	     env = [ "TCPD_TEST_B=from-env" ];'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_line "TCPD_TEST_A=from-tcpd"
	assert_line "TCPD_TEST_B=from-env"
	refute_line --partial "TCPD_TEST_C"
	refute_line --partial "TCPD_TEST_UNSET"
	# tcpd's own PATH, in place of the default.
	assert_line "PATH=$PATH"
	[ "$(grep -c '^PATH=' <<<"$output")" -eq 1 ]
	assert_line "TCPREMOTEIP=127.0.0.1"
	assert_line "TCPLOCALPORT=$PORT"
}

@test "a step that fails in the program's process is logged, and the client let go" {
	# Above fs.nr_open even root cannot raise the open files limit.
	exec_service '"/bin/cat"' 'rlimits = { nofile = 2000000000; };'
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output ""
	wait_for 5 log_has_n 1 'prog: cannot run /bin/cat: setrlimit nofile: Operation not permitted'
	# The socket came back to the worker, which ended it itself.
	wait_for 5 log_has_n 1 'closed service=prog .* first=server end=FIN reason="the program did not start"'
	# The worker serves on: the next client meets the same end.
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output ""
	wait_for 5 log_has_n 2 'prog: cannot run /bin/cat: setrlimit nofile'
	[ "$(nworkers)" -eq 1 ]
}

@test "a cwd gone since the file was read: the program is not started" {
	mkdir "$T/dir"
	exec_service '"/bin/pwd"' "cwd = \"$T/dir\";"
	rmdir "$T/dir"
	run -0 timeout 5 nc -d 127.0.0.1 "$PORT"
	assert_output ""
	wait_for 5 log_has_n 1 "prog: cannot run /bin/pwd: chdir $T/dir: No such file or directory"
}

@test "a worker that cannot give its program what the file asks for does not start" {
	[ "$(id -u)" -eq 0 ] || skip "changing user needs root"
	mkdir -m 700 "$T/closed"
	one_service_conf prog exec \
	    "user = \"daemon\"; exec = [ \"/bin/pwd\" ]; cwd = \"$T/closed\";"
	run -1 timeout 10 "$TCPD" -f -c "$CONF"
	assert_output --partial "prog: cannot enter cwd $T/closed: Permission denied"
	# Only root raises a hard limit.
	one_service_conf prog exec \
	    'user = "daemon"; exec = [ "/bin/pwd" ]; rlimits = { nofile = "unlimited"; };'
	run -1 timeout 10 "$TCPD" -f -c "$CONF"
	assert_output --partial "prog: rlimits: nofile above the hard limit here needs user root"
}

# killed_after_at_least PID SECONDS: the log says PID was killed by
# SIGKILL, no sooner than SECONDS after it started.
killed_after_at_least() {
	local t
	t=$(sed -n "s/.*: pid $1 killed by signal 9 (Killed) after \([0-9]*\)\.[0-9]* s\(;.*\)\{0,1\}$/\1/p" "$LOG")
	[ -n "$t" ] && [ "$t" -ge "$2" ]
}

@test "timeout: SIGTERM, then SIGKILL to the group; the client sees EOF, the next one gets in" {
	# It ignores SIGTERM, and so does the child it leaves in the background.
	exec_service '"/bin/sh", "-c", "trap \"\" TERM; /bin/sleep 1000 & echo $$ $!; exec /bin/sleep 1000"' \
	    'timeout = 1; max_connections = 1;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid child <&5
	# The second waits in the accept queue: max_connections is 1.
	exec 6<>"/dev/tcp/127.0.0.1/$PORT"
	wait_for 5 accept_queue_is "$PORT" 1
	# EOF, not the end of the wait: the program and its child are gone.
	local rc=0
	read -r -t 20 line <&5 || rc=$?
	[ "$rc" -eq 1 ]
	wait_for 5 dead "$pid"
	wait_for 5 dead "$child"
	grep -qE "prog 127\.0\.0\.1:[0-9]+: pid $pid still running after its timeout of 1 s: SIGTERM to its process group$" "$LOG"
	grep -qE "prog 127\.0\.0\.1:[0-9]+: pid $pid still running 2 s after SIGTERM: SIGKILL to its process group$" "$LOG"
	killed_after_at_least "$pid" 3
	# Its unit is free: the second client's program runs.
	read -r -t 10 pid2 child2 <&6
	[ -n "$pid2" ]
	[ "$pid2" != "$pid" ]
	exec 5>&- 6>&-
}

@test "timeout: a program that obeys SIGTERM gets no SIGKILL; without timeout none ends" {
	exec_service '"/bin/sh", "-c", "echo $$; exec /bin/sleep 1000"' 'timeout = 1;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	local rc=0
	read -r -t 20 line <&5 || rc=$?
	[ "$rc" -eq 1 ]
	wait_for 5 log_has_n 1 "pid $pid killed by signal 15 \(Terminated\) after [1-9]"
	[ "$(log_count "pid $pid still running 2 s after SIGTERM")" -eq 0 ]
	exec 5>&-
	stop_tcpd
	# timeout = 0, as without it: no deadline (over a measuring window
	# of 2 s, longer than the 1 s above).
	exec_service '"/bin/sh", "-c", "echo $$; exec /bin/sleep 1000"' 'timeout = 0;'
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 pid <&5
	rc=0
	read -r -t 2 line <&5 || rc=$?
	[ "$rc" -gt 128 ]
	alive "$pid"
	exec 5>&-
}

@test "cwd, umask, nice, rlimits, env, passenv, timeout: bad values are FILE:LINE errors" {
	local s='services = ( { name = "e"; handler = "exec"; listen = [ "127.0.0.1:7" ]; exec = [ "/bin/cat" ];'
	check "2: 'cwd' must be an absolute path, not 'tmp'" "$s" ' cwd = "tmp"; } );'
	check "2: cwd /nonexistent: No such file or directory" "$s" ' cwd = "/nonexistent"; } );'
	check "2: cwd /bin/sh is not a directory" "$s" ' cwd = "/bin/sh"; } );'
	for u in 27 '"0999"' '"1000"' '""' '"u+r"'; do
		check "2: 'umask' must be a string of octal digits, up to 0777, like \"027\"" \
		    "$s" " umask = $u; } );"
	done
	check "2: 'nice' must be between -20 and 19, not 20" "$s" ' nice = 20; } );'
	check "2: 'nice' must be between -20 and 19, not -21" "$s" ' nice = -21; } );'
	check "2: unknown limit 'files' in 'rlimits' (known: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)" \
	    "$s" ' rlimits = { files = 10; }; } );'
	check "2: 'nofile' in 'rlimits' must be a number, or \"unlimited\"" "$s" ' rlimits = { nofile = "1K"; }; } );'
	check "2: 'cpu' in 'rlimits' must be a number, or \"unlimited\"" "$s" ' rlimits = { cpu = -1; }; } );'
	check "2: 'as' in 'rlimits' must be a number of bytes, or a string such as \"512K\", \"64M\", \"1G\" or \"unlimited\"" \
	    "$s" ' rlimits = { as = "12X"; }; } );'
	check "2: 'as' in 'rlimits' must be a number of bytes, or a string such as \"512K\", \"64M\", \"1G\" or \"unlimited\"" \
	    "$s" ' rlimits = { as = 1.5; }; } );'
	check "2: 'as' in 'rlimits' is 4294967296: write numbers that large with L after them, or as strings such as \"4G\"" \
	    "$s" ' rlimits = { as = 4294967296; }; } );'
	check "2: 'rlimits' must be a group, like { nofile = 256; as = \"512M\"; }" "$s" ' rlimits = [ 1 ]; } );'
	check "2: 'env' cannot set TCPREMOTEIP: tcpd sets it for each connection" "$s" ' env = [ "TCPREMOTEIP=1.2.3.4" ]; } );'
	check "2: 'passenv' cannot pass PROTO: tcpd sets it for each connection" "$s" ' passenv = [ "PROTO" ]; } );'
	check "2: bad 'passenv' entry 'A=b': expected a NAME" "$s" ' passenv = [ "A=b" ]; } );'
	check "2: 'timeout' must be between 0 and 2000000, not -1" "$s" ' timeout = -1; } );'
	s='services = ( { name = "e"; handler = "echo"; listen = [ "127.0.0.1:7" ];'
	for k in 'cwd = "/"' 'umask = "022"' 'nice = 1' 'rlimits = { cpu = 1; }' \
	    'passenv = [ "TZ" ]' 'timeout = 5'; do
		check "2: '${k%% *}' needs handler = \"exec\"" "$s" " $k; } );"
	done
}

@test "git daemon --inetd: clone, ls-remote and fsck; as its user, in its cwd, umask, nice and limits" {
	need git git
	need_root "running git as user nobody"
	public_dir
	git init -q -b main "$T/src"
	local i
	for i in 1 2 3; do
		echo "line $i" >"$T/src/file$i"
		git -C "$T/src" add .
		git -C "$T/src" -c user.name=t -c user.email=t@example.org \
		    commit -q -m "commit $i"
	done
	mkdir "$PUB/srv"
	git clone -q --bare "$T/src" "$PUB/srv/repo.git"
	chown -R nobody "$PUB/srv"
	exec_service "\"/usr/bin/git\", \"daemon\", \"--inetd\", \"--export-all\",
	    \"--base-path=$PUB/srv\", \"$PUB/srv\"" \
	    "user = \"nobody\"; cwd = \"$PUB/srv\"; umask = \"027\"; nice = 5;
	     rlimits = { nofile = 256; as = \"4G\"; core = 0; };
	     max_connections = 4;"
	# A client that says nothing yet: git daemon waits for its request.
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	local pid
	pid=$(program_pid 1)
	assert_equal "$(ps -o user= -p "$pid")" nobody
	assert_equal "$(ps -o ni= -p "$pid" | tr -d ' ')" 5
	assert_equal "$(readlink "/proc/$pid/cwd")" "$PUB/srv"
	assert_equal "$(awk '/^Umask:/ { print $2 }' "/proc/$pid/status")" 0027
	assert_equal "$(limit "$pid" 'open files')" "256 256"
	assert_equal "$(limit "$pid" 'address space')" "4294967296 4294967296"
	assert_equal "$(limit "$pid" 'core file size')" "0 0"
	exec 5>&-

	run -0 timeout 30 git clone -q "git://127.0.0.1:$PORT/repo.git" "$T/clone"
	run -0 git -C "$T/clone" fsck --strict
	assert_equal "$(git -C "$T/clone" rev-parse HEAD)" "$(git -C "$T/src" rev-parse HEAD)"
	assert_equal "$(cat "$T/clone/file3")" "line 3"
	run -0 timeout 30 git ls-remote "git://127.0.0.1:$PORT/repo.git"
	assert_line "$(git -C "$T/src" rev-parse HEAD)	refs/heads/main"
	# The clone and ls-remote; the silent client's git daemon gave up.
	wait_for 5 log_has_n 2 'prog 127\.0\.0\.1:[0-9]+: pid [0-9]+ exited with status 0'
}

@test "rsync --daemon in inetd mode: a 50 MB tree copied, checksums equal" {
	need rsync rsync
	need_root "running rsync as user nobody"
	public_dir
	mkdir -p "$PUB/data/a/b" "$PUB/data/c"
	head -c 20M /dev/urandom >"$PUB/data/one"
	head -c 15M /dev/urandom >"$PUB/data/a/two"
	head -c 10M /dev/urandom >"$PUB/data/a/b/three"
	head -c 5M /dev/urandom >"$PUB/data/c/four"
	echo small >"$PUB/data/c/five"
	printf '%s\n' 'use chroot = no' '[mod]' "path = $PUB/data" \
	    'read only = yes' >"$PUB/rsyncd.conf"
	chmod -R a+rX "$PUB"
	exec_service "\"/usr/bin/rsync\", \"--daemon\", \"--config=$PUB/rsyncd.conf\"" \
	    'user = "nobody";'
	# rsync greets first, then waits for the client's greeting.
	exec 5<>"/dev/tcp/127.0.0.1/$PORT"
	read -r -t 5 greeting <&5
	[[ $greeting == @RSYNCD:* ]]
	assert_equal "$(ps -o user= -p "$(program_pid 1)")" nobody
	exec 5>&-

	run -0 timeout 60 rsync -a "rsync://127.0.0.1:$PORT/mod/" "$T/copy/"
	local want got
	want=$(cd "$PUB/data" && find . -type f | sort | xargs sha256sum)
	got=$(cd "$T/copy" && find . -type f | sort | xargs sha256sum)
	[ "$(grep -c . <<<"$want")" -eq 5 ]
	assert_equal "$got" "$want"
	[ "$(du -sm "$T/copy" | cut -f1)" -ge 50 ]
}

@test "sshd -i as user root: a command's output and exit status come back" {
	need sshd openssh-server
	need ssh openssh-client
	need_root "sshd -i"
	# sshd wants its privilege separation directory.
	mkdir -p /run/sshd
	chmod 755 /run/sshd
	mkdir -m 700 "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/user_key"
	cp "$T/ssh/user_key.pub" "$T/ssh/authorized_keys"
	# StrictModes would refuse a key file below /tmp, which all may write.
	printf '%s\n' "HostKey $T/ssh/host_key" \
	    "AuthorizedKeysFile $T/ssh/authorized_keys" \
	    'PermitRootLogin prohibit-password' 'PasswordAuthentication no' \
	    'KbdInteractiveAuthentication no' 'UsePAM no' 'StrictModes no' \
	    'PidFile none' 'LogLevel ERROR' >"$T/ssh/sshd_config"
	# Every other service runs as nobody; this one as root, as sshd -i
	# must, to become the user who logs in.
	TOP='user = "nobody";'
	exec_service "\"/usr/sbin/sshd\", \"-i\", \"-e\", \"-f\", \"$T/ssh/sshd_config\"" \
	    'user = "root";'
	assert_equal "$(ps -o user= -p "$(workers)")" root
	run -3 timeout 30 ssh -p "$PORT" -i "$T/ssh/user_key" -o BatchMode=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile="$T/ssh/known_hosts" \
	    root@127.0.0.1 'echo hi; exit 3'
	assert_line hi
	wait_for 5 log_has_n 1 'prog 127\.0\.0\.1:[0-9]+: pid [0-9]+ exited with status'
}

@test "rdate reads tcpd's built-in time service" {
	need rdate rdate
	one_service time time
	run -0 timeout 10 rdate -p -o "$PORT" 127.0.0.1
	# It prints the time the service sent; this machine's clock is the
	# same one, read a moment later.
	local served now
	served=$(date -d "${output#*]}" +%s)
	now=$(date +%s)
	(( served <= now && now - served <= 60 ))
}
