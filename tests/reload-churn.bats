#!/usr/bin/env bats
# Reloads that change the slots (workers 2 and 3, one listen address and
# two) under short connections lose none, with net.ipv4.tcp_migrate_req
# at 0: the short form of tests/bench/reload-churn.

load helpers

@test "40 reloads changing the slots under load, tcp_migrate_req at 0: no connection fails" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a network namespace of its own, where tcp_migrate_req is set"
	command -v unshare >/dev/null || skip "unshare is not installed"
	command -v cc >/dev/null || skip "no C compiler for the load generator"
	run timeout 120 "$BATS_TEST_DIRNAME/bench/reload-churn" --reloads 40 --migrate 0
	echo "# $output" >&3
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^migrate=0\ reloads=40\ applied=40\ conns=[1-9][0-9]*\ failed=0\  ]]
}
