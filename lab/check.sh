#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/check.sh [PATTERN...]: make check's runner.  The pinned base, and a
# warning if the archive has a newer one (lab/drift.sh); the host tests (the lab's
# machinery, checkpatch) and then, in the booted debug kernel, the guest
# tests of lab/tests.list; then, one boot each, the tests of every
# lab/tests-NAME.list (tests that need their own kernel command line, given
# by the list's "# cmdline: ..." line), in build/runs/check-NAME.  A boot
# whose list has no test that a PATTERN selects is left out, except the
# first.  The last line adds everything up: "N passed, N failed, N skipped".

set -uo pipefail
. "$(dirname "$0")/lib.sh"

kernel=${KERNEL:-debug}
limit=${TIMEOUT:-2400}
gp=0 gf=0 gs=0

# add_results RUN EXIT: adds the summary that the guest tests of boot RUN
# left to the totals; a boot without one, or that failed without a failed
# test, counts as one failure.
add_results()
{
	local p f s

	if ! read -r p _ f _ s _ 2>/dev/null < "$BUILD/runs/$1/out/summary"; then
		echo "check: the guest of $1 produced no results (exit $2)" >&2
		p=0 f=1 s=0
	fi
	[ "$2" = 0 ] || [ "$f" != 0 ] || f=1
	gp=$((gp + p)) gf=$((gf + f)) gs=$((gs + s))
}

start=$(date +%s)
echo "=== base"
"$TOP/lab/drift.sh" || true

echo "=== host tests"
"$TOP/lab/host-tests.sh"
host_rc=$?

echo "=== guest tests ($kernel kernel)"
rm -f "$BUILD/runs/check/out/summary"
"$TOP/lab/run-guest.sh" -k "$kernel" -n check -t "$limit" -- \
	lab/guest-tests.sh "$@"
add_results check $?

for list in "$TOP"/lab/tests-*.list; do
	[ -r "$list" ] || continue
	[ -n "$(select_tests "$list" "$@")" ] || continue
	run=${list##*/tests-}
	run=check-${run%.list}
	cmdline=$(sed -n 's/^# cmdline: //p' "$list")
	echo "=== guest tests of lab/${list##*/} ($kernel kernel, $cmdline)"
	rm -f "$BUILD/runs/$run/out/summary"
	LAB_CMDLINE=$cmdline "$TOP/lab/run-guest.sh" -k "$kernel" -n "$run" \
		-t "$limit" -- env LAB_TESTS_LIST="lab/${list##*/}" \
		lab/guest-tests.sh "$@"
	add_results "$run" $?
done

read -r hp _ hf _ hs _ < "$BUILD/host-tests.summary" || { hp=0; hf=1; }
hs=${hs:-0}
[ "$host_rc" = 0 ] || [ "$hf" != 0 ] || hf=1
echo "=== make check: $(($(date +%s) - start)) s on $(cat "$BUILD/BASE-VERSION" 2>/dev/null || echo "an unknown base")"
echo "$((hp + gp)) passed, $((hf + gf)) failed, $((hs + gs)) skipped"
[ $((hf + gf)) = 0 ]
