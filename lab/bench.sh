#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the benchmarks, in the lab guest booted with the kernel
# without debug options (build/obj-bench).  Every number is measured in
# this boot, stock path and ours side by side, and printed with ratios:
# the lab's CPU is emulated, so absolute numbers mean little.

set -eu
. "$(dirname "$0")/lib.sh"

echo "=== gmem bench: $(uname -r), $(nproc) vCPUs"
echo "=== conversion latency: in place (KVM_SET_MEMORY_ATTRIBUTES2) vs stock (VM KVM_SET_MEMORY_ATTRIBUTES)"
"$BUILD/bin/gmem-bench" --reps "${BENCH_REPS:-9}" | tee "${LAB_OUT:-/tmp}/bench-conversion.txt"
