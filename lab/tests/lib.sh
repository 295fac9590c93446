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

# vmm_start OUT ARG...: start the demo VMM ($VMM) with ARGs, which include
# --pause, its output in OUT; once it says "ready", set vmm_pid and
# vmm_gmem_fd (its guest_memfd's descriptor) and return 0.  If it exits
# first, print its output, clear vmm_pid and return 4 when it skipped (no
# capable KVM), 1 otherwise.
vmm_start()
{
	local out=$1 rc

	shift
	"$VMM" "$@" > "$out" 2>&1 < /dev/null &
	vmm_pid=$!
	if ! wait_for "$out" '^ready pid=' 600 "$vmm_pid"; then
		kill -KILL "$vmm_pid" 2>/dev/null
		wait "$vmm_pid"
		rc=$?
		vmm_pid=
		indent "$out"
		[ "$rc" = 4 ] && return 4
		return 1
	fi
	# shellcheck disable=SC2034	# read by the test that sources this
	vmm_gmem_fd=$(sed -n 's/^ready pid=[0-9]* gmem_fd=\([0-9]*\).*/\1/p' "$out")
}

# vmm_resume: let the paused VMM finish (SIGUSR1), clear vmm_pid; returns
# the VMM's exit status
vmm_resume()
{
	local rc

	kill -USR1 "$vmm_pid"
	wait "$vmm_pid"
	rc=$?
	vmm_pid=
	return "$rc"
}
