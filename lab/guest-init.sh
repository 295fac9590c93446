#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the lab guest (init= on the kernel command line).  The root file
# system is the host's, read-only over 9p; everything writable is tmpfs.
# Runs the command that lab/run-guest.sh left in the "labout" 9p share,
# stores its exit status and the kernel log there, and powers off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=${TERM:-linux} LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpffs /sys/fs/bpf
mount -t 9p -o trans=virtio,version=9p2000.L labout /mnt
# A checkout under /tmp, /run or /var/tmp is hidden by the tmpfs mounts
# above: mount its own share (read-only, as the root) back in place.
top=$(sed -n 's/.*lab\.top=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$top" ] && [ ! -d "$top/lab" ]; then
	mkdir -p "$top"
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose labtop "$top"
fi
hostname gmem-lab 2>/dev/null

# KVM, kvm-amd and kvm-intel are modules, as in distribution kernels: load
# the one for this CPU (kvm.ko and what it needs come with it) from the
# kernel's own modules_install.  The root may have no /lib/modules to mount
# it on: modprobe (and every later modprobe of the tests) takes it as its
# root directory.
mods=$(sed -n 's/.*lab\.mods=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$mods" ] && [ -d "$mods/lib/modules/$(uname -r)" ]; then
	export MODPROBE_OPTIONS="-d $mods"
	if grep -qw svm /proc/cpuinfo; then
		vendor=kvm_amd
	else
		vendor=kvm_intel
	fi
	modprobe "$vendor" || echo "gmem lab: modprobe $vendor failed"
fi
ulimit -l unlimited
ulimit -c 0

export LAB_OUT=/mnt
echo "gmem lab: $(uname -r), $(nproc) CPUs, $(ls -d /sys/devices/system/node/node* | wc -l) NUMA nodes"

bash /mnt/cmd < /dev/console
rc=$?

dmesg > /mnt/dmesg 2>/dev/null
echo "$rc" > /mnt/rc
sync
umount /mnt
echo o > /proc/sysrq-trigger
sleep 10
