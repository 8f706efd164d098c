#!/usr/bin/env bats
# The benchmark's smoke form: tcpd alone, a second per case, every byte
# checked.  Timing is reported, never asserted.

load helpers

@test "benchmark smoke: every case runs with no error, mismatch or stall" {
	command -v cc >/dev/null || skip "no C compiler for the load generator"
	run "$BATS_TEST_DIRNAME/bench/run" --smoke
	printf '# %s\n' "${lines[@]}" >&3
	[ "$status" -eq 0 ]
	refute_output --regexp 'errors=[1-9]|mismatches=[1-9]|stalls=[1-9]'
}
