#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/run-guest.sh [-k FLAVOUR] [-t SECONDS] [-n NAME] [-i] [-- COMMAND...]
#
# Boot the lab kernel in QEMU (TCG, -cpu max: AMD with nested SVM, so KVM
# runs inside), with the host's root file system over 9p read-only, run one
# COMMAND in the guest (from the repository's top directory) and exit with
# its exit status.  -i gives an interactive shell on the console instead.
#
#   -k FLAVOUR   kernel to boot: debug (default) or bench
#   -t SECONDS   time limit for the whole boot (default 1800); on expiry the
#                guest is killed and the run fails with exit status 124
#   -n NAME      name of the run: its files go to build/runs/NAME
#   -i           interactive shell (make shell)
#
# The repository is shared once more on its own (labtop), for a checkout
# under a directory that the guest's tmpfs mounts hide (/tmp, /run).
#
# Guest topology: 2 vCPUs in 2 sockets, 2 NUMA nodes (one socket and
# GUEST_MEM/2 MiB each; GUEST_MEM defaults to 6144).
# build/runs/NAME/ keeps console.log (the whole console), dmesg.log (the
# guest's final kernel log) and out/ (files the command left in $LAB_OUT).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=debug
limit=1800
name=
interactive=0
while getopts "k:t:n:ih" opt; do
	case "$opt" in
	k) flavour=$OPTARG ;;
	t) limit=$OPTARG ;;
	n) name=$OPTARG ;;
	i) interactive=1 ;;
	*) sed -n '4,20s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" != "--" ] || shift
[ $# -gt 0 ] || [ "$interactive" = 1 ] || die "no command given (or -i)"

kernel=$(objdir "$flavour")/arch/x86/boot/bzImage
[ -r "$kernel" ] || die "no $flavour kernel at $kernel: run make kernel"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (make deps)"

name=${name:-$flavour-$(date +%Y%m%d-%H%M%S)}
run=$BUILD/runs/$name
rm -rf "$run"
mkdir -p "$run/out"
ln -sfn "$name" "$BUILD/runs/latest"

# The command file the guest's init runs.
{
	echo "cd '$TOP'"
	if [ "$interactive" = 1 ]; then
		echo "echo 'gmem lab: interactive shell; exit (or Ctrl-D) powers off'"
		echo "setsid -c bash -l </dev/ttyS0 >/dev/ttyS0 2>&1"
	else
		printf '%q ' "$@"
		echo
	fi
} > "$run/out/cmd"

mem=${GUEST_MEM:-6144}
half=$((mem / 2))
append="console=ttyS0 root=/dev/root rootfstype=9p ro"
append+=" rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose"
append+=" init=$TOP/lab/guest-init.sh panic=1 log_buf_len=8M loglevel=4"
append+=" mitigations=off tsc=reliable lab.flavour=$flavour lab.top=$TOP"
# KVM is built as modules (lab/configs/lab.config): the guest loads them from
# the kernel's own modules_install (lab/kbuild.sh).
[ ! -d "$(objdir "$flavour")/mod/lib/modules" ] ||
	append+=" lab.mods=$(readlink -f "$(objdir "$flavour")/mod")"
append+=" ${LAB_CMDLINE:-}"

qemu=(qemu-system-x86_64
	-machine q35,accel=tcg -cpu max -smp 2,sockets=2,cores=1,threads=1 -m "$mem"
	-object "memory-backend-ram,id=m0,size=${half}M"
	-object "memory-backend-ram,id=m1,size=$((mem - half))M"
	-numa node,nodeid=0,cpus=0,memdev=m0
	-numa node,nodeid=1,cpus=1,memdev=m1
	-kernel "$kernel" -append "$append"
	-fsdev local,id=root,path=/,readonly=on,security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root
	-fsdev "local,id=out,path=$run/out,security_model=none"
	-device virtio-9p-pci,fsdev=out,mount_tag=labout
	-fsdev "local,id=top,path=$TOP,readonly=on,security_model=none,multidevs=remap"
	-device virtio-9p-pci,fsdev=top,mount_tag=labtop
	-device virtio-rng-pci
	-display none -vga none -no-reboot)

if [ "$interactive" = 1 ]; then
	exec "${qemu[@]}" -chardev "stdio,id=con,signal=off,logfile=$run/console.log" \
		-serial chardev:con -monitor none
fi

: > "$run/console.log"
start=$(date +%s)
timeout -k 10 "$limit" "${qemu[@]}" -monitor none \
	-chardev "file,id=con,path=$run/console.log" -serial chardev:con \
	</dev/null >"$run/qemu.log" 2>&1 &
qpid=$!
tail -n +1 -F --pid=$qpid "$run/console.log" 2>/dev/null &
tpid=$!
set +e
wait $qpid
qrc=$?
wait $tpid 2>/dev/null
set -e
secs=$(($(date +%s) - start))

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "run-guest: guest killed after the ${limit}s time limit; console: $run/console.log" >&2
	exit 124
fi
if [ "$qrc" != 0 ]; then
	sed 's/^/    qemu: /' "$run/qemu.log" >&2
	die "qemu failed (exit $qrc); console: $run/console.log"
fi
if [ ! -r "$run/out/rc" ]; then
	echo "run-guest: the guest stopped without finishing its command (panic?); last console lines:" >&2
	tail -n 30 "$run/console.log" | sed 's/^/    /' >&2
	exit 125
fi
[ -r "$run/out/dmesg" ] && mv "$run/out/dmesg" "$run/dmesg.log"
rc=$(cat "$run/out/rc")
echo "run-guest: $name: exit $rc after ${secs}s (logs in ${run#"$TOP"/})"
[ ! -r "$run/out/summary" ] || cat "$run/out/summary"
exit "$rc"
