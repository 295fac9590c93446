# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The lab's test library: what the shell tests of lab/tests.list share
# (and lab/demo.sh, for the demo VMM).  Sourced, not run.  A test, as
# those of tools/testing/selftests/net use their lib.sh:
#
#	. "$(dirname "$0")/lib.sh"
#	need_exec "$VMM"		# missing: "Bail out!", exit 1
#	scratch gmem-foo		# $tmp, removed at exit
#	vmm_start_or_skip "$tmp/vmm.out" --pause ...	# no capable KVM: exit 4
#	... ok WHAT, bad WHAT, check WHAT COMMAND... ...
#	vmm_resume || bad "gmem-vmm exited $?"
#	finish gmem_foo
#
# One reporter, TAP as the KVM selftests print it (lab/guest-tests.sh
# shows each test's output as diagnostics of its own test line): ok and
# bad print a numbered test line, "ok N WHAT" or "not ok N WHAT", and bad
# sets fail=1; finish prints the plan ("1..N"), a line NAME: all checks
# passed (or some checks FAILED), and exits with $fail.  skip_test exits 4
# (kselftest's KSFT_SKIP), or 1 after the plan if a check already failed;
# bail_out 1.  A test that exits otherwise (exit 1 on a failed step) gets
# its plan printed at exit.
#
# At exit, the VMM that vmm_start started is killed, the test's own
# cleanup() runs (when it defines one), and the scratch directory and the
# iterator's pin (iter_files) go.

# The lab's shared library: its TAP reporter (tap_ok, tap_not_ok).
# shellcheck source=lab/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# The tools' build directory (lab/guest-tests.sh exports it), the demo VMM.
BIN=${BIN:-build/bin}
VMM=$BIN/gmem-vmm

fail=0
tmp=
vmm_pid=
vmm_gmem_fd=
vmm_ino=
vmm_rc=0
vmm_last_pid=
lab_rm=()

tap_planned=

# shellcheck disable=SC2317	# called by the trap
lab_exit()
{
	# A test that exits early (exit 1 on a failed step) still ends with
	# its plan, as finish and skip_test print it.
	# (Not a script that reports nothing, such as lab/demo.sh.)
	[ -n "$tap_planned" ] || [ "$tap_n" = 0 ] || echo "1..$tap_n"
	[ -z "${vmm_pid:-}" ] || kill -KILL "$vmm_pid" 2>/dev/null || true
	if declare -F cleanup > /dev/null; then
		cleanup || true
	fi
	[ "${#lab_rm[@]}" = 0 ] || rm -rf "${lab_rm[@]}" || true
}
trap lab_exit EXIT

# ---- the reporter ----------------------------------------------------------

# ok WHAT: a check passed
ok()
{
	tap_ok "$@"
	return 0
}

# bad WHAT: a check failed; the test will exit 1
bad()
{
	tap_not_ok "$@"
	# shellcheck disable=SC2034	# read by the test that sources this
	fail=1
	return 0
}

# check WHAT COMMAND...: ok if COMMAND succeeds (its output is dropped)
check()
{
	local what=$1

	shift
	if "$@" > /dev/null 2>&1; then
		ok "$what"
	else
		bad "$what"
	fi
}

# skip_test WHY: the rest of the test is skipped; exit 4, or 1 (after
# the plan) when a check already failed: a failure is not hidden by a skip
skip_test()
{
	tap_planned=1
	if [ "$tap_n" = 0 ]; then
		echo "1..0 # SKIP $*"
		exit 4
	fi
	tap_n=$((tap_n + 1)) tap_skipped=$((tap_skipped + 1))
	echo "ok $tap_n # SKIP $*"
	echo "1..$tap_n"
	[ "$fail" = 0 ] || exit 1
	exit 4
}

# bail_out WHY: the test cannot run (it is not built, say); exit 1
bail_out()
{
	tap_planned=1
	echo "Bail out! $*"
	exit 1
}

# finish NAME: the plan and the verdict; exit 0, or 1 if a check failed
finish()
{
	tap_planned=1
	echo
	echo "1..$tap_n"
	if [ "$fail" = 0 ]; then
		echo "$1: all checks passed"
	else
		echo "$1: some checks FAILED"
	fi
	exit "$fail"
}

# ---- files and processes ------------------------------------------------------

# need_exec FILE...: each is executable, or bail out: "make tools" builds it
need_exec()
{
	local f

	for f; do
		[ -x "$f" ] || bail_out "$f missing (make tools)"
	done
}

# scratch NAME: a scratch directory, $tmp (/tmp/NAME.XXXXXX), removed at exit
scratch()
{
	tmp=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	lab_rm+=("$tmp")
}

# iter_files NAME: $OBJ, the "guest_memfd" BPF iterator (tools/bpf/gmem),
# or bail out; $PIN, where to pin it, /sys/fs/bpf/NAME_PID (bpffs refuses
# names with a dot), removed at exit
iter_files()
{
	OBJ=$BIN/gmem_iter.bpf.o
	PIN=/sys/fs/bpf/$1_$$
	lab_rm+=("$PIN")
	[ -r "$OBJ" ] || bail_out "$OBJ missing (make tools)"
}

# indent [FILE...]: the lines, indented
indent()
{
	sed 's/^/    /' "$@"
}

# show FILE [MAX]: the first MAX (default 30) lines of FILE, indented, and
# how many there are when that is not all of them
show()
{
	local n

	sed -n "1,${2:-30}s/^/    /p" "$1"
	n=$(wc -l < "$1")
	[ "$n" -le "${2:-30}" ] || echo "    ... ($n lines)"
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

# wait_rc PID WHAT: wait for PID; ok "WHAT: exit 0", or bad "WHAT: exit N";
# sets rc to N
wait_rc()
{
	wait "$1"
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "$2: exit 0"
	else
		bad "$2: exit $rc"
	fi
}

# wait_exit PID SECONDS: until PID has exited, at most SECONDS
wait_exit()
{
	local i

	for ((i = 0; i < $2 * 4; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.25
	done
	return 0
}

# ---- the demo VMM (lab/vmm, $VMM) --------------------------------------------

# vmm_start OUT ARG...: start the demo VMM ($VMM) with ARGs, which include
# --pause, its output in OUT; once it says "ready pid=PID gmem_fd=FD", set
# vmm_pid, vmm_gmem_fd (its guest_memfd's descriptor) and vmm_ino (that
# file's st_ino), and return 0.  If it exits first, print its output,
# clear vmm_pid, set vmm_rc to its exit status and return 4 when it
# skipped (no capable KVM), 1 otherwise.
vmm_start()
{
	local out=$1 rc

	shift
	vmm_gmem_fd=
	vmm_ino=
	vmm_rc=0
	"$VMM" "$@" > "$out" 2>&1 < /dev/null &
	vmm_pid=$!
	if ! wait_for "$out" '^ready pid=' 600 "$vmm_pid"; then
		kill -KILL "$vmm_pid" 2>/dev/null
		wait "$vmm_pid"
		rc=$?
		vmm_pid=
		vmm_rc=$rc
		indent "$out"
		[ "$rc" = 4 ] && return 4
		return 1
	fi
	# shellcheck disable=SC2034	# read by the test that sources this
	vmm_gmem_fd=$(sed -n 's/^ready pid=[0-9]* gmem_fd=\([0-9]*\).*/\1/p' "$out")
	# shellcheck disable=SC2034
	vmm_ino=$(stat -L -c %i "/proc/$vmm_pid/fd/$vmm_gmem_fd" 2>/dev/null)
	return 0
}

# vmm_start_or_skip OUT ARG...: vmm_start, and its output; the test is
# skipped (exit 4) if the VMM was, and fails (exit 1) if it did not get
# ready otherwise.
vmm_start_or_skip()
{
	vmm_start "$@"
	case $? in
	0) indent "$1" ;;
	4) skip_test "gmem-vmm skipped (no capable KVM)" ;;
	*) bad "gmem-vmm did not get ready (exit $vmm_rc)"; exit 1 ;;
	esac
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

# vmm_run OUT ARG...: one whole run of the VMM, with ARGs that include
# --pause: vmm_start, then vmm_resume at once (vmm_last_pid keeps its
# pid); returns its exit status.
vmm_run()
{
	vmm_last_pid=
	vmm_start "$@" || return "$vmm_rc"
	# shellcheck disable=SC2034	# read by the test that sources this
	vmm_last_pid=$vmm_pid
	vmm_resume
}
