#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/check.sh [PATTERN...]: make check's runner.  The host tests (the lab's
# machinery, checkpatch) and then, in the booted debug kernel, the guest
# tests of lab/tests.list; the last line adds both up:
# "N passed, N failed, N skipped".

set -uo pipefail
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
echo "=== host tests"
"$TOP/lab/host-tests.sh"
host_rc=$?

kernel=${KERNEL:-debug}
echo "=== guest tests ($kernel kernel)"
rm -f "$BUILD/runs/check/out/summary"
"$TOP/lab/run-guest.sh" -k "$kernel" -n check -t "${TIMEOUT:-2400}" -- \
	lab/guest-tests.sh "$@"
guest_rc=$?

read -r hp _ hf _ < "$BUILD/host-tests.summary" || { hp=0; hf=1; }
if ! read -r gp _ gf _ gs _ < "$BUILD/runs/check/out/summary" 2>/dev/null; then
	echo "check: the guest produced no results (exit $guest_rc)" >&2
	gp=0 gf=1 gs=0
fi
[ "$host_rc" = 0 ] || [ "$hf" != 0 ] || hf=1
[ "$guest_rc" = 0 ] || [ "$gf" != 0 ] || gf=1
echo "=== make check: $(($(date +%s) - start)) s"
echo "$((hp + gp)) passed, $((hf + gf)) failed, $gs skipped"
[ $((hf + gf)) = 0 ]
