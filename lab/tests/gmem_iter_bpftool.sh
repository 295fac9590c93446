#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The "guest_memfd" BPF iterator works with bpftool alone, on a real
# workload: gmem_iter.bpf.o (tools/bpf/gmem) pinned with `bpftool iter pin`
# and read with cat lists the demo VMM's guest_memfd, paused after its
# guest accepted its memory:
#
#  a) the listing names the VMM's file: its st_ino (from
#     /proc/PID/fdinfo/FD, checked against stat -L), size, flags, VM,
#     creator, comm, page counts and the memslot the VMM reports;
#  b) privileges: user nobody can neither read the pinned iterator nor
#     pin one;
#  c) once the VMM has exited, its file is no longer listed.
#
# Exit 0 when every check passes, 1 when one fails, 4 (skip) when the
# kernel has no "guest_memfd" iterator target or no KVM.

# "A && ok || bad" is safe here: ok() cannot fail.
# shellcheck disable=SC2015
set -u
. "$(dirname "$0")/lib.sh"

VMM_ARGS=(--mode in-place --mem 4 --rounds 1 --pause)

command -v bpftool >/dev/null || bail_out "no bpftool (lab/deps.sh installs it)"
iter_files gmem_iter_bpftool
need_exec "$VMM"
if ! grep -qw bpf_iter_guest_memfd /proc/kallsyms; then
	skip_test "this kernel has no \"guest_memfd\" BPF iterator"
fi
scratch gmem-iter-bpftool

echo "== gmem-vmm ${VMM_ARGS[*]}"
vmm_start_or_skip "$tmp/vmm.out" "${VMM_ARGS[@]}"
gmem_fd=$vmm_gmem_fd
gpa=$(sed -n 's/.*data region gpa \(0x[0-9a-f]*\) +[0-9]* pages.*/\1/p' "$tmp/vmm.out")
npages=$(sed -n 's/.*data region gpa 0x[0-9a-f]* +\([0-9]*\) pages.*/\1/p' "$tmp/vmm.out")
slot=$(sed -n 's/.*memslot \([0-9]*\) userspace_addr.*/\1/p' "$tmp/vmm.out")
ino=$(sed -n 's/^ino:[[:space:]]*//p' "/proc/$vmm_pid/fdinfo/$gmem_fd")
echo "   /proc/$vmm_pid/fd/$gmem_fd: $(readlink "/proc/$vmm_pid/fd/$gmem_fd"), fdinfo:"
indent "/proc/$vmm_pid/fdinfo/$gmem_fd"
[ -n "$ino" ] && [ "$ino" = "$(stat -L -c %i "/proc/$vmm_pid/fd/$gmem_fd")" ] &&
	ok "st_ino of the VMM's guest_memfd (fd $gmem_fd): $ino, in fdinfo and stat -L" ||
	bad "no st_ino for fd $gmem_fd, or fdinfo and stat -L disagree"

# ---- a) bpftool iter pin + cat -------------------------------------------

echo "== a) bpftool iter pin $OBJ $PIN; cat $PIN"
if ! bpftool iter pin "$OBJ" "$PIN" > "$tmp/pin.out" 2>&1; then
	indent "$tmp/pin.out"
	bad "bpftool iter pin failed"
	exit 1
fi
ok "bpftool iter pin"
cat "$PIN" > "$tmp/cat.out" 2>&1 || bad "cat $PIN failed"
indent "$tmp/cat.out"

head="guest_memfd id=[0-9]+ ino=$ino size=$((npages * 4096)) flags=0x1\(mmap\) vm=kvm-$vmm_pid vm_pid=$vmm_pid creator_pid=$vmm_pid comm=gmem-vmm"
n=$(grep -Ec "^$head\$" "$tmp/cat.out")
[ "$n" = 1 ] &&
	ok "listed once: ino=$ino size=$((npages * 4096)) flags=0x1(mmap) vm=kvm-$vmm_pid vm_pid=creator_pid=$vmm_pid comm=gmem-vmm" ||
	bad "no single line '$head' ($n)"
# The block of that file: its header and the indented lines after it.
awk -v ino="ino=$ino" '
	/^guest_memfd / { keep = index($0, " " ino " ") > 0 }
	keep' "$tmp/cat.out" > "$tmp/block"
grep -Eq "^  pages=$npages private=$npages shared=0 allocated=$npages mapped=0 pinned=0 dma_pinned=0 bindings=1\$" "$tmp/block" &&
	ok "counts: $npages pages, all private and allocated (the guest accepted them), none mapped or pinned, 1 binding" ||
	bad "counts line is not 'pages=$npages private=$npages shared=0 allocated=$npages mapped=0 pinned=0 dma_pinned=0 bindings=1'"
if [ -n "$slot" ] && [ -n "$gpa" ]; then
	gfn=$(printf '0x%x' $((gpa / 4096)))
	grep -Eq "^  binding slot=$slot base_gfn=$gfn index=0 npages=$npages\$" "$tmp/block" &&
		ok "binding: slot $slot at gfn $gfn, file page 0, $npages pages, as the VMM says" ||
		bad "no line '  binding slot=$slot base_gfn=$gfn index=0 npages=$npages'"
else
	bad "could not read the memslot and gpa from the VMM's output"
fi
grep -q '^  region ' "$tmp/cat.out" &&
	bad "region lines, though show_regions is off by default" ||
	ok "no region lines (show_regions is off unless a loader sets it)"
bad_lines=$(grep -Ev '^(guest_memfd id=[0-9]+ ino=[0-9]+ .* comm=.*|  pages=[0-9]+ .* bindings=[0-9]+|  binding slot=-?[0-9]+ base_gfn=0x[0-9a-f]+ index=[0-9]+ npages=[0-9]+|  \([0-9]+ more bindings\))$' "$tmp/cat.out")
[ -z "$bad_lines" ] && ok "every line of the listing is well formed" ||
	bad "malformed lines: $bad_lines"

# ---- b) privileges ---------------------------------------------------------

echo "== b) as user nobody"
stat -c "%A %U:%G %n" "$PIN" | indent
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if "${nobody[@]}" cat "$PIN" > "$tmp/nobody.out" 2>&1; then
	bad "user nobody can read $PIN"
else
	indent "$tmp/nobody.out"
	ok "user nobody cannot read the pinned iterator"
fi
if "${nobody[@]}" bpftool iter pin "$OBJ" "${PIN}_nobody" > "$tmp/nobody.out" 2>&1; then
	rm -f "${PIN}_nobody"
	bad "user nobody can pin the iterator"
else
	indent "$tmp/nobody.out"
	grep -q 'Operation not permitted' "$tmp/nobody.out" &&
		ok "user nobody cannot load and pin the iterator (EPERM)" ||
		bad "user nobody failed to pin the iterator, but not with EPERM"
fi

# ---- c) gone with the VMM -------------------------------------------------

echo "== c) resume gmem-vmm, let it exit, cat $PIN again"
vmm_resume
rc=$?
tail -n 3 "$tmp/vmm.out" | indent
[ "$rc" = 0 ] && ok "gmem-vmm exited 0" || bad "gmem-vmm exited $rc"
cat "$PIN" > "$tmp/cat2.out" 2>&1 || bad "cat $PIN failed after the VMM exited"
indent "$tmp/cat2.out"
grep -q " ino=$ino " "$tmp/cat2.out" &&
	bad "ino $ino is still listed after the VMM exited" ||
	ok "ino $ino is no longer listed"

finish gmem_iter_bpftool
