#!/usr/bin/env bats
# The fault tests of tests/fault/run in their short form: reload storm,
# kill storm, stalled worker, all workers down, watchdog, fd exhaustion,
# crash loop, each in a private network namespace.

load helpers

@test "fault tests under load, short form" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a network namespace, sysctls, prlimit"
	command -v unshare >/dev/null || skip "unshare is not installed"
	command -v cc >/dev/null || skip "no C compiler for the load generator"
	run "$BATS_TEST_DIRNAME/fault/run" --short
	printf '# %s\n' "${lines[@]}" >&3
	[ "$status" -eq 0 ]
	assert_line --regexp '^fault tests: 7 passed, 0 failed$'
}
