#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: the demo workload, in the lab guest.  A VMM-style program runs a
# KVM_X86_SW_PROTECTED_VM guest whose private memory lives in a guest_memfd,
# and converts memory the way a confidential guest does.

set -eu
. "$(dirname "$0")/lib.sh"

echo "=== gmem demo: $(uname -r) on $(nproc) vCPUs, $(ls -d /sys/devices/system/node/node[0-9]* | wc -l) NUMA nodes"
echo "=== a confidential guest accepts its memory, shares bounce buffers, takes them back"
"$BUILD/bin/gmem-vmm" --rounds "${DEMO_ROUNDS:-4}"
