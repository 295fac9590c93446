#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The bpftrace scripts of tools/bpf/gmem work on a real workload: they are
# started as programs (their #! line), all at once, trace one run of the
# demo VMM (whose second round pins a page with gup_test, so that
# converting it back to private is refused, then unpins it and converts),
# are stopped with SIGINT as Ctrl-C would, and each one's output must show
# what it is for:
#
#  gmemsnoop.bt    a line per conversion of the VMM's file: both ways with
#                  ret 0, and the refused one (EAGAIN and its page);
#  gmemconvlat.bt  a histogram with buckets per direction (each key once),
#                  the refused conversion apart; with 1, per VM;
#  gmemdeny.bt     the denial with reason pinned, its counts, the ioctl's
#                  kernel stack and the request it refused;
#  gmemfaults.bt   per-second counts of the VMM's guest faults (first use)
#                  and host faults (shared), and the total of first uses;
#  gmempins.bt     the gup_test pin of the VMM (its stack through
#                  gup_test_ioctl), its unpin, KVM's GUP references, and
#                  the denial naming the pin's holder;
#  gmemhuge.bt     the headers of its summary (the demo VMM's file has no
#                  huge folios, so what the maps hold is not checked).
#
# Every script must print its banner, exit 0 on SIGINT, and print no
# bpftrace error or warning. Exit 0 when every check passes, 1 when one
# fails, 4 (skip) when bpftrace or the gmem events are missing.

# "A && ok || bad" is safe here: ok() cannot fail.
# shellcheck disable=SC2015
set -u
. "$(dirname "$0")/lib.sh"

TRACING=/sys/kernel/tracing
TOOLS=${TOOLS:-tools/bpf/gmem}
VMM_ARGS=(--mode in-place --mem 4 --rounds 2 --quiet --pause)

# HH:MM:SS, for grep -E and mawk (which has no {n})
T='[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'

vm_pid=
ino=

# shellcheck disable=SC2317	# called at exit (lib.sh)
cleanup()
{
	for p in "${bt_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
}

# has FILE REGEX WHAT: ok if a line of FILE matches the extended REGEX
has()
{
	if grep -Eq -- "$2" "$1"; then
		ok "$3"
	else
		bad "$3: no line matches /$2/"
	fi
}

# stack_has FILE LINE_REGEX FRAME_REGEX WHAT: ok if a line matching
# LINE_REGEX is followed by a kernel stack (indented lines up to the next
# empty line) with a frame matching FRAME_REGEX
stack_has()
{
	if awk -v l="$2" -v f="$3" '
		$0 ~ l { in_st = 1; next }
		in_st && /^$/ { in_st = 0 }
		in_st && /^[ \t]/ && $1 ~ f { found = 1 }
		END { exit !found }' "$1"; then
		ok "$4"
	else
		bad "$4: no line matching /$2/ with a frame matching /$3/"
	fi
}

# The scripts run together around one run of the VMM: bpftrace spends most
# of its time compiling its program (tens of seconds each under TCG and
# KASAN), which the two vCPUs do two at a time, and every script must see
# the same workload anyway.
SCRIPTS=(gmemsnoop gmemconvlat gmemconvlat:1 gmemdeny gmemfaults gmempins gmemhuge)
declare -A bt_pids=()

# out_of NAME[:ARG]: the file that holds the script's output
out_of()
{
	echo "$tmp/${1/:/-}.out"
}

# start_all: every script of SCRIPTS, started as a program; returns when
# each has printed its banner (or failed to)
start_all()
{
	local s name arg out

	for s in "${SCRIPTS[@]}"; do
		name=${s%%:*}
		arg=
		[[ $s != *:* ]] || arg=${s#*:}
		out=$(out_of "$s")
		if [ ! -x "$TOOLS/$name.bt" ]; then
			bad "$TOOLS/$name.bt is missing or not executable"
			continue
		fi
		echo "== $name.bt${arg:+ $arg}: started"
		"$TOOLS/$name.bt" ${arg:+"$arg"} > "$out" 2>&1 &
		bt_pids[$s]=$!
	done
	# The banner comes from BEGIN, which runs once every probe is
	# attached.
	for s in "${!bt_pids[@]}"; do
		out=$(out_of "$s")
		if wait_for "$out" 'Hit Ctrl-C to end\.$' 600 "${bt_pids[$s]}"; then
			ok "${s/:/ } attached: $(grep -m1 '^Attaching' "$out")"
		else
			bad "${s/:/ } did not start"
			show "$out"
			kill -KILL "${bt_pids[$s]}" 2>/dev/null
			unset "bt_pids[$s]"
		fi
	done
}

# run_vmm: one run of the VMM; its pid in $vm_pid, its file's st_ino in
# $ino
run_vmm()
{
	local rc

	echo "== gmem-vmm ${VMM_ARGS[*]}"
	vmm_run "$tmp/vmm.out" "${VMM_ARGS[@]}"
	rc=$?
	vm_pid=$vmm_last_pid
	ino=$vmm_ino
	# (vmm_run showed the output of a VMM that did not get ready)
	[ "$rc" = 0 ] && [ -n "$vm_pid" ] && [ -n "$ino" ] ||
		{ bad "gmem-vmm failed (exit $rc)"; [ -z "$vm_pid" ] || show "$tmp/vmm.out"; }
	grep -q 'refused: [1-9][0-9]* by our gup_test pin' "$tmp/vmm.out" ||
		bad "gmem-vmm did not report a conversion refused by its gup_test pin"
	echo "   gmem-vmm pid $vm_pid, guest_memfd st_ino $ino"
}

# stop_all: SIGINT to every script, as Ctrl-C would; each must exit 0
stop_all()
{
	local s i rc pending

	# bpftrace 0.17 notices SIGINT only when it interrupts its
	# epoll_wait(): one that comes while it is elsewhere is lost, and it
	# runs on (as a Ctrl-C may need a second one). So: SIGINT again.
	for ((i = 1; i <= 6; i++)); do
		pending=
		for s in "${!bt_pids[@]}"; do
			kill -0 "${bt_pids[$s]}" 2>/dev/null || continue
			kill -INT "${bt_pids[$s]}"
			pending="$pending ${bt_pids[$s]}"
		done
		[ -n "$pending" ] || break
		for s in $pending; do
			wait_exit "$s" 10
		done
		[ "$i" = 1 ] || echo "   still running 10 s after SIGINT $((i - 1)):$pending"
	done
	for s in "${!bt_pids[@]}"; do
		if kill -0 "${bt_pids[$s]}" 2>/dev/null; then
			bad "${s/:/ } did not exit on SIGINT"
			kill -KILL "${bt_pids[$s]}"
			wait "${bt_pids[$s]}"
		else
			wait "${bt_pids[$s]}"
			rc=$?
			[ "$rc" = 0 ] && ok "${s/:/ } exited 0 on SIGINT" ||
				bad "${s/:/ } exited $rc on SIGINT"
		fi
	done
	bt_pids=()
}

# ran NAME [ARG]: the script's output (now in $(out_of NAME[:ARG]), and
# in $o for the checks that follow) is shown and holds its banner and no
# bpftrace error; fails if it did not run
ran()
{
	local s=$1${2:+:$2} out

	out=$(out_of "$s")
	o=$out
	echo "== $1.bt${2:+ $2} printed:"
	[ -s "$out" ] || { bad "$1.bt${2:+ $2} printed nothing"; return 1; }
	show "$out" 40
	has "$out" '^Tracing .*\.\.\. Hit Ctrl-C to end\.$' "$1.bt: banner"
	if grep -Eq '^(ERROR|WARNING)|: (ERROR|WARNING):' "$out"; then
		bad "$1.bt: bpftrace reported errors or warnings"
	fi
	return 0
}

if [ ! -d "$TRACING/events/gmem" ]; then
	skip_test "$TRACING/events/gmem does not exist: this kernel has no gmem events"
fi
if ! command -v bpftrace > /dev/null; then
	skip_test "bpftrace is not installed (lab/deps.sh installs it)"
fi
need_exec "$VMM"
scratch gmem-bt-scripts
echo "$(bpftrace --version), $(uname -r)"

start_all
run_vmm
# gmemfaults.bt prints every second: let one go by.
sleep 1.5
stop_all

# ---- gmemsnoop.bt ------------------------------------------------------

if ran gmemsnoop; then
	has "$o" '^TIME +VM_PID +INO +INDEX +NPAGES +TO +RET +ERR_INDEX +US +FOLIOS +PAGES +UNMAP +ZAP$' \
		"gmemsnoop.bt: header"
	line="^$T $vm_pid +$ino +0x[0-9a-f]+ +[0-9]+"
	has "$o" "$line +shared +0 +- +[0-9]+\.[0-9]{3} +0 +0 +0 +[0-9]+$" \
		"gmemsnoop.bt: a conversion to shared with ret 0"
	has "$o" "$line +private +0 +- +[0-9]+\.[0-9]{3} +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$" \
		"gmemsnoop.bt: a conversion to private with ret 0"
	has "$o" "$line +private +EAGAIN +0x[0-9a-f]+ +[0-9]+\.[0-9]{3} " \
		"gmemsnoop.bt: the refused conversion, with EAGAIN and its page"
fi

# ---- gmemconvlat.bt ----------------------------------------------------

# hist_ok FILE KEY: the histogram of @KEY is printed once, with a bucket
hist_ok()
{
	local n

	n=$(grep -cF "$2: " "$1")
	if [ "$n" != 1 ]; then
		bad "gmemconvlat.bt: '$2' printed $n times, not once"
		return
	fi
	if grep -A1 -F "$2: " "$1" | tail -n 1 |
	   grep -Eq '^\[[0-9]+[KMG]?, [0-9]+[KMG]?\) +[1-9][0-9]* \|@+ *\|$'; then
		ok "gmemconvlat.bt: $2 has a histogram bucket"
	else
		bad "gmemconvlat.bt: $2 has no histogram bucket"
	fi
}

if ran gmemconvlat; then
	hist_ok "$o" '@usecs[to private, ok]'
	hist_ok "$o" '@usecs[to shared, ok]'
	hist_ok "$o" '@usecs[to private, refused]'
fi
if ran gmemconvlat 1; then
	hist_ok "$o" "@usecs_vm[$vm_pid, to private, ok]"
	hist_ok "$o" "@usecs_vm[$vm_pid, to shared, ok]"
fi

# ---- gmemdeny.bt -------------------------------------------------------

if ran gmemdeny; then
	has "$o" '^TIME +PID +COMM +VM_PID +INO +INDEX +PFN +REASON +REF +EXP +MAP +PIN$' \
		"gmemdeny.bt: header"
	den="^$T $vm_pid +gmem-vmm +$vm_pid +$ino +0x[0-9a-f]+ +0x[0-9a-f]+ +pinned"
	has "$o" "$den +[0-9]+ +2 +0 +[1-9][0-9]*$" \
		"gmemdeny.bt: the denial, reason pinned, expected 2, mapcount 0, pincount >= 1"
	stack_has "$o" "$den" '^kvm_gmem_' \
		"gmemdeny.bt: the denial's kernel stack is in guest_memfd"
	stack_has "$o" "$den" 'sys_ioctl' \
		"gmemdeny.bt: the denial's kernel stack is the ioctl's"
	has "$o" "^    refused: index 0x[0-9a-f]+ \+[0-9]+ pages to private, EAGAIN after [0-9]+ us$" \
		"gmemdeny.bt: the refused request"
fi

# ---- gmemfaults.bt -----------------------------------------------------

if ran gmemfaults; then
	has "$o" "^$T( \\(partial\\))?\$" "gmemfaults.bt: a time line"
	has "$o" "^@faults\[$vm_pid, guest first\]: [1-9][0-9]*$" \
		"gmemfaults.bt: the VMM's guest faults on pages used for the first time"
	has "$o" "^@faults\[$vm_pid, host shared\]: [1-9][0-9]*$" \
		"gmemfaults.bt: the VMM's host faults on shared pages"
	# --mem 4: the guest accepts 1024 private pages, each one's first use
	has "$o" "^@total\[$vm_pid, guest first\]: 1024$" \
		"gmemfaults.bt: in total, 1024 first uses of private pages (--mem 4)"
fi

# ---- gmempins.bt -------------------------------------------------------

if ran gmempins; then
	has "$o" '^TIME +WHAT +PID +COMM +INO +INDEX +REFS +FLAGS$' "gmempins.bt: header"
	pin="^$T pin +$vm_pid +gmem-vmm +$ino +0x[0-9a-f]+ +1 +.L.$"
	has "$o" "$pin" "gmempins.bt: the VMM's long-term pin"
	stack_has "$o" "$pin" '^gup_test_ioctl' \
		"gmempins.bt: the pin's stack names its holder, gup_test"
	stack_has "$o" "^$T unpin +$vm_pid +gmem-vmm +$ino " '^gup_test_ioctl' \
		"gmempins.bt: gup_test's unpin"
	stack_has "$o" "^$T get +$vm_pid +gmem-vmm +$ino " '^hva_to_pfn' \
		"gmempins.bt: KVM's GUP references to shared pages (hva_to_pfn)"
	den="^$T deny +$vm_pid +gmem-vmm +$ino +0x[0-9a-f]+ +- pinned: "
	has "$o" "$den" "gmempins.bt: the denial"
	if grep -A1 -E "$den" "$o" | grep -Eq "^    held by pid $vm_pid \(gmem-vmm\): [1-9][0-9]* pin\(s\), taken [0-9]+ ms ago at:$"; then
		ok "gmempins.bt: the denial names the pin's holder"
	else
		bad "gmempins.bt: the denial does not name the pin's holder"
	fi
	stack_has "$o" "^    held by pid $vm_pid " '^gup_test_ioctl' \
		"gmempins.bt: the holder's stack, through gup_test_ioctl"
fi

# ---- gmemhuge.bt -------------------------------------------------------

# Each section's header, printed at the end whatever was traced.
if ran gmemhuge; then
	for h in '^Folios added, per VM and kind ' \
		 '^Huge folios split, per VM, reason and outcome:$' \
		 '^Split latency \(us\), per VM, reason and outcome:$' \
		 '^Split ranges merged back, per VM and result ' \
		 '^Merge latency \(us\), per VM and result:$' \
		 '^KVM lookups of private pages, per VM and mapping order '; do
		has "$o" "$h" "gmemhuge.bt: header /$h/"
	done
fi

finish gmem_bt_scripts
