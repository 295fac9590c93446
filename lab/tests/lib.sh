# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# What the lab's shell tests share.  Sourced, not run; the test sets
# fail=0 first, and exits non-zero if bad() set it.

ok()
{
	echo "ok: $*"
}

bad()
{
	echo "FAILED: $*"
	# shellcheck disable=SC2034	# read by the test that sources this
	fail=1
}

# wait_for FILE REGEX SECONDS [PID]: until a line of FILE matches REGEX;
# fails early if PID (when given) exits.
wait_for()
{
	local i

	for ((i = 0; i < $3 * 4; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || break
		sleep 0.25
	done
	grep -Eq "$2" "$1" 2>/dev/null
}

# indent [FILE...]: the lines, indented
indent()
{
	sed 's/^/    /' "$@"
}
