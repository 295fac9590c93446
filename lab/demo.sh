#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: the demo workload, in the lab guest.  A VMM-style program runs a
# KVM_X86_SW_PROTECTED_VM guest whose private memory lives in a guest_memfd,
# and converts memory the way a confidential guest does: first in place (one
# guest_memfd holds every page, KVM_SET_MEMORY_ATTRIBUTES2 on it), then the
# stock 6.12 way for comparison (two copies, the VM's
# KVM_SET_MEMORY_ATTRIBUTES), and prints the two runs' conversion latencies
# side by side.  DEMO_ROUNDS and DEMO_MEM (MiB) size the runs; both logs are
# kept in $LAB_OUT.

set -eu -o pipefail
. "$(dirname "$0")/lib.sh"

rounds=${DEMO_ROUNDS:-4}
mem=${DEMO_MEM:-16}
out=${LAB_OUT:-/tmp}
vmm=$BUILD/bin/gmem-vmm
log_ip=$out/demo-in-place.log
log_va=$out/demo-vm-attributes.log

echo "=== gmem demo: $(uname -r) on $(nproc) vCPUs, $(ls -d /sys/devices/system/node/node[0-9]* | wc -l) NUMA nodes"
echo "=== A confidential guest accepts its private memory, then each round shares a bounce buffer with the host and takes it back."
echo "=== In place, one guest_memfd holds every page: pages turn shared and private where they are and keep their content, and in"
echo "=== round 2 a page the host pinned (as a device's DMA would) keeps the buffer from turning private until it is unpinned."

echo "=== 1/2: --mode in-place (one copy of each page)"
rc=0
"$vmm" --mode in-place --mem "$mem" --rounds "$rounds" | tee "$log_ip" || rc=$?
case $rc in
0) ;;
4) echo "=== in-place conversion is not supported by this kernel: skipped"
   : > "$log_ip" ;;
*) exit "$rc" ;;
esac

echo "=== 2/2: --mode vm-attributes (the stock 6.12 way, for comparison: two copies, the stale one discarded)"
"$vmm" --mode vm-attributes --mem "$mem" --rounds "$rounds" | tee "$log_va"

# "A/B/C" (min/avg/max us) of summary line $2 in log $1, plus the average
# discard of the stale copy when there is one; "n/a" without the line.
latency()
{
	local l

	l=$(grep -F "gmem-vmm: summary: $2 " "$1" | head -n 1) || true
	sed -n 's|.*min/avg/max \([0-9./]*\) us, discard avg \([0-9.]*\) us.*|\1 +\2|p' <<<"$l" |
		sed -e 's/ +0\.0$//' -e 's/ +\(.*\)/ (+\1 discard)/' | grep . || echo "n/a"
}

refused()
{
	sed -n 's/^gmem-vmm: summary: \([0-9]*\) refused\(: \([0-9]*\) by our gup_test pin\)\{0,1\}.*/\1 \3/p' "$1" |
		awk '{ print $1 ($2 > 0 ? ", our gup_test pin: " $2 : "") }' | grep . || echo "n/a"
}

echo "=== conversion latency, us: min/avg/max of the conversion call (+ average discard of the stale copy)"
printf '    %-12s %-36s %s\n' "" "in-place" "vm-attributes"
for what in "to shared:" "to private:" "total:"; do
	printf '    %-12s %-36s %s\n' "${what%:}" "$(latency "$log_ip" "$what")" \
		"$(latency "$log_va" "$what")"
done
printf '    %-12s %-36s %s\n' "refused" "$(refused "$log_ip")" "$(refused "$log_va")"
