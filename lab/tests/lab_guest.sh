#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The lab guest is what every other test assumes: KVM with nested paging,
# two NUMA nodes with memory, the debug options of the kernel flavour
# booted, and the file systems and debugfs files the tests use.

. "$(dirname "$0")/lib.sh"

node_mem_kb()
{
	awk '/MemTotal/ { print $4 }' "/sys/devices/system/node/node$1/meminfo"
}

flavour=$(sed -n 's/.*lab\.flavour=\([a-z]*\).*/\1/p' /proc/cmdline)

check "/dev/kvm is a character device" test -c /dev/kvm
check "kvm_amd runs with nested paging" grep -q "Nested Paging enabled" <(dmesg)
check "two NUMA nodes" test "$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)" -eq 2
check "node 0 has memory" test "$(node_mem_kb 0)" -gt 262144
check "node 1 has memory" test "$(node_mem_kb 1)" -gt 262144
check "one CPU on each node" test "$(cat /sys/devices/system/node/node1/cpulist)" = 1
check "tracefs is mounted" test -r /sys/kernel/tracing/available_events
check "BTF is available" test -r /sys/kernel/btf/vmlinux
check "bpffs is mounted" grep -q " /sys/fs/bpf bpf " /proc/mounts
check "gup_test is available" test -e /sys/kernel/debug/gup_test
check "THP is available" test -r /sys/kernel/mm/transparent_hugepage/enabled
check "/tmp is writable" touch /tmp/.lab-probe
if [ "$flavour" = debug ]; then
	check "lockdep is on" test -r /proc/lockdep
	check "KASAN is on" grep -q "KernelAddressSanitizer initialized" <(dmesg)
fi
finish lab_guest
