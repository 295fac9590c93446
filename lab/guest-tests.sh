#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/guest-tests.sh [PATTERN...]: run the lab's tests inside the lab guest.
#
# Runs every test of lab/tests.list (or those whose name matches one of the
# shell PATTERNs), prints TAP (version 13) with each test's own output as
# diagnostics, and a final line "N passed, N failed, N skipped".
# LAB_TESTS_LIST names another list file of the same format (absolute, or
# relative to the repository's top directory), such as
# lab/tests-movable.list, whose tests need their own kernel command line.
#
# A test fails when it exits non-zero (4 is kselftest's "skip"), exceeds its
# time limit, or leaves a kernel splat in dmesg: WARNING, BUG, KASAN, a
# lockdep report or a call trace.  The kernel log of the boot is checked the
# same way, as test "boot".

set -u
. "$(dirname "$0")/lib.sh"

export KSFT=$BUILD/selftests/kvm
export BIN=$BUILD/bin
export LAB=$TOP/lab
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
out=${LAB_OUT:-/tmp}
list=${LAB_TESTS_LIST:-$LAB/tests.list}
[[ $list == /* ]] || list=$TOP/$list
[ -r "$list" ] || die "no test list $list"

# What fails a test when it appears in the kernel log.
splat='WARNING:|BUG:|KASAN|possible circular locking|inconsistent lock state|possible recursive locking|suspicious RCU usage|Call Trace:|general protection fault|Oops|UBSAN|kernel BUG|list_add corruption|list_del corruption'

mapfile -t tests < <(select_tests "$list" "$@")

echo "TAP version 13"
echo "1..$((${#tests[@]} + 1))"

report()	# report NAME STATUS(ok|fail|skip) DETAIL: lab/lib.sh's TAP
{
	case "$2" in
	ok)   tap_ok "$1" ;;
	skip) tap_skip "$1" "$3" ;;
	*)    tap_not_ok "$1 # $3" ;;
	esac
}

scan()		# scan FIRST-LINE: splats in dmesg from that line on
{
	dmesg | tail -n +"$1" | grep -E "$splat"
}

hits=$(scan 1)
if [ -n "$hits" ]; then
	echo "$hits" | head -20 | sed 's/^/# dmesg: /'
	report boot fail "kernel splat during boot"
else
	report boot ok
fi

for t in "${tests[@]}"; do
	tname=${t%% *}
	tcmd=${t#* }
	first=$(($(dmesg | wc -l) + 1))
	start=$(date +%s%N)
	log=$out/test-$tname.log
	timeout -k 10 "$TEST_TIMEOUT" bash -c "$tcmd" > "$log" 2>&1 < /dev/null
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	sed 's/^/# /' "$log"
	hits=$(scan "$first")
	if [ -n "$hits" ]; then
		dmesg | tail -n +"$first" | sed 's/^/# dmesg: /' | head -80
		report "$tname" fail "kernel splat in dmesg (exit $rc, ${ms} ms)"
	elif [ $rc = 0 ]; then
		report "$tname" ok
	elif [ $rc = 4 ]; then
		report "$tname" skip "exit 4"
	elif [ $rc = 124 ] || [ $rc = 137 ]; then
		report "$tname" fail "timed out after ${TEST_TIMEOUT}s"
	else
		report "$tname" fail "exit $rc (${ms} ms)"
	fi
	echo "# $tname: ${ms} ms"
done

summary=$(tap_summary)
echo "$summary" > "$out/summary"
echo "$summary"
[ "$tap_failed" = 0 ]
