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
