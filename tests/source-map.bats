#!/usr/bin/env bats
# doc/source-map.md is made from each source file's first comment: it
# must be what doc/source-map makes of the tree as it is, so that it
# never says where something was.

load helpers

@test "doc/source-map.md is current: every source file, as its comment says" {
	top=$BATS_TEST_DIRNAME/..
	run -0 "$top/doc/source-map" "$top"
	diff -u "$top/doc/source-map.md" <(printf '%s\n' "$output") ||
	    fail "doc/source-map.md is stale: run make source-map"
	# Every source file is in it, once.
	local f n
	for f in $(cd "$top" && ls src/*.[ch] src/*/*.[ch] src/*/*/*.[ch] | grep -v '/paths\.h$'); do
		n=$(grep -c "^| \`$f\` | " "$top/doc/source-map.md" || true)
		[ "$n" -eq 1 ] || fail "$f is listed $n times"
	done
}

@test "no dependency cycle between source files" {
	command -v nm >/dev/null || skip "nm is not installed"
	command -v python3 >/dev/null || skip "python3 is not installed"
	top=$BATS_TEST_DIRNAME/..
	build=$(cd "$(dirname "$TCPD")/.." && pwd)
	ls "$build"/src/master/tcpd-*.o >/dev/null 2>&1 ||
	    skip "no objects beside $TCPD"
	# A file that calls another must not be called back by it, nor by
	# any file it leads to: doc/deps says which functions close a cycle.
	run -0 "$top/doc/deps" "$build"
	assert_output --partial "no cycle"
}
