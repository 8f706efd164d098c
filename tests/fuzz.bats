#!/usr/bin/env bats
# The PROXY protocol parser under libFuzzer (with ASan and UBSan), for a
# short run on the seed corpus: no crash, no read past the input.  A long
# run is `tests/fuzz/run 3600` (see doc/proxy.md).

load helpers

@test "libFuzzer: the PROXY protocol parser, 15 s from the seed corpus" {
	command -v clang >/dev/null || skip "clang is missing (apt-get install clang libclang-rt-14-dev)"
	run tests_fuzz_run 15
	[ "$status" -ne 77 ] || skip "$output"
	assert_success
	assert_output --regexp 'Done [0-9]+ runs in [0-9]+ second'
}

tests_fuzz_run() {
	FUZZ_BUILD=$(dirname "$TCPD")/.. "$BATS_TEST_DIRNAME/fuzz/run" "$@"
}
