#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# KVM as distributions build it: kvm.ko and a vendor module, with the
# "guest_memfd" BPF iterator, whose target is built into the kernel, fed by
# kvm.ko while a vendor module is loaded:
#
#  a) kvm and the vendor module are loaded modules, the iterator target is
#     the kernel's and the region kfuncs are kvm.ko's;
#  b) a pinned iterator lists the demo VMM's guest_memfd, and nothing once
#     the VMM has exited;
#  c) with the vendor module unloaded (and KVM's operations unregistered),
#     reading the pinned iterator still works, and kvm.ko cannot be
#     unloaded while the pinned program uses its kfuncs;
#  d) with the vendor module loaded again, the iterator lists a new VMM's
#     file (KVM registered its operations again);
#  e) with the iterator unpinned, kvm.ko unloads and loads again.
#
# Exit 0 when every check passes, 1 when one fails, 4 (skip) when KVM is
# built in.

# "A && ok || bad" is safe here: ok() cannot fail.
# shellcheck disable=SC2015
set -u
. "$(dirname "$0")/lib.sh"

VMM_ARGS=(--mode in-place --mem 4 --rounds 1 --pause)

# shellcheck disable=SC2317	# called at exit (lib.sh)
cleanup()
{
	# Leave KVM loaded for the tests that follow.
	[ -z "${vendor:-}" ] || modprobe "$vendor" 2>/dev/null
}

if [ ! -e /sys/module/kvm/initstate ]; then
	skip_test "KVM is built into this kernel"
fi
if grep -qw svm /proc/cpuinfo; then vendor=kvm_amd; else vendor=kvm_intel; fi
iter_files gmem_kvm_modules
need_exec "$VMM"
scratch gmem-kvm-modules

# run_vmm: start the demo VMM, paused once its guest accepted its memory;
# sets vmm_pid and ino (its guest_memfd's inode)
run_vmm()
{
	ino=
	vmm_start "$tmp/vmm.out" "${VMM_ARGS[@]}" ||
		{ bad "gmem-vmm did not get ready"; return 1; }
	ino=$vmm_ino
}

# stop_vmm: let the VMM finish
stop_vmm()
{
	vmm_resume || bad "gmem-vmm exited $?"
}

# listed FILE: whether the pinned iterator lists the VMM's file now
listed()
{
	cat "$PIN" > "$1" 2>&1 || { bad "cat $PIN failed"; indent "$1"; }
	grep -q "^guest_memfd id=[0-9]* ino=$ino " "$1"
}

# ---- a) ----------------------------------------------------------------------

echo "== a) modules"
for m in kvm "$vendor"; do
	state=$(cat "/sys/module/$m/initstate" 2>/dev/null)
	[ "$state" = live ] && ok "$m is a loaded module (initstate live)" ||
		bad "$m: initstate '${state:-absent}'"
done
grep -E ' bpf_iter_guest_memfd$' /proc/kallsyms > "$tmp/ksyms" &&
	ok "the iterator target is the kernel's: $(head -1 "$tmp/ksyms")" ||
	bad "bpf_iter_guest_memfd is not a symbol of the kernel itself"
grep -E ' bpf_iter_gmem_region_new\s+\[kvm\]$' /proc/kallsyms > "$tmp/ksyms" &&
	ok "the region kfuncs are kvm.ko's: $(head -1 "$tmp/ksyms")" ||
	bad "bpf_iter_gmem_region_new is not in kvm.ko"

# ---- b) ----------------------------------------------------------------------

echo "== b) bpftool iter pin $OBJ; the VMM's file is listed, then not"
if ! bpftool iter pin "$OBJ" "$PIN" > "$tmp/pin.out" 2>&1; then
	indent "$tmp/pin.out"
	bad "bpftool iter pin failed"
	exit 1
fi
run_vmm || exit 1
listed "$tmp/cat1" && ok "ino $ino listed while the VMM runs" ||
	{ indent "$tmp/cat1"; bad "ino $ino not listed"; }
stop_vmm
listed "$tmp/cat2" && bad "ino $ino still listed after the VMM exited" ||
	ok "ino $ino no longer listed"

# ---- c) ----------------------------------------------------------------------

echo "== c) rmmod $vendor"
if rmmod "$vendor" 2> "$tmp/rmmod"; then
	ok "rmmod $vendor"
	[ ! -e /dev/kvm ] && ok "/dev/kvm is gone" || bad "/dev/kvm is still there"
	# No guest_memfd can exist now (each holds the vendor module):
	# what this shows is that a walk without KVM's operations works.
	cat "$PIN" > "$tmp/cat3" 2>&1 && [ ! -s "$tmp/cat3" ] &&
		ok "the pinned iterator reads, empty, without a vendor module" ||
		{ indent "$tmp/cat3"; bad "cat $PIN failed or printed something"; }
else
	indent "$tmp/rmmod"
	bad "rmmod $vendor failed"
fi
refcnt=$(cat /sys/module/kvm/refcnt)
if rmmod kvm 2> "$tmp/rmmod"; then
	bad "kvm.ko unloaded while a pinned program uses its kfuncs"
	modprobe kvm
else
	ok "kvm.ko stays while the pinned program uses its kfuncs (refcnt $refcnt): $(head -1 "$tmp/rmmod")"
fi

# ---- d) ----------------------------------------------------------------------

echo "== d) modprobe $vendor; a new VMM's file is listed"
modprobe "$vendor" && ok "modprobe $vendor" || bad "modprobe $vendor failed"
run_vmm || exit 1
listed "$tmp/cat4" && ok "ino $ino listed: KVM feeds the iterator again" ||
	{ indent "$tmp/cat4"; bad "ino $ino not listed after reloading $vendor"; }
stop_vmm

# ---- e) ----------------------------------------------------------------------

echo "== e) unpin, unload everything, load again"
rm -f "$PIN"
# The link and the program are freed asynchronously (a work item, then
# RCU), and the program's reference to kvm.ko's BTF goes last: give it
# ten seconds.
if rmmod "$vendor"; then
	for ((i = 0; i < 40; i++)); do
		rmmod kvm 2> "$tmp/rmmod" && break
		sleep 0.25
	done
	[ ! -e /sys/module/kvm ] &&
		ok "rmmod $vendor kvm with no pinned program (kvm.ko after $((i / 4)) s)" ||
		{ indent "$tmp/rmmod"; bad "kvm.ko does not unload once the iterator is unpinned"; }
else
	bad "rmmod $vendor failed with no VM and no pinned program"
fi
modprobe "$vendor" && [ -e /dev/kvm ] && ok "modprobe $vendor: /dev/kvm is back" ||
	bad "modprobe $vendor failed"
bpftool iter pin "$OBJ" "$PIN" > "$tmp/pin.out" 2>&1 &&
	ok "the iterator pins again (the kfuncs of the new kvm.ko)" ||
	{ indent "$tmp/pin.out"; bad "bpftool iter pin failed after reloading kvm.ko"; }

finish gmem_kvm_modules
