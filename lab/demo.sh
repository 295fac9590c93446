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
# kept in $LAB_OUT.  The in-place run's conversions, their denials and the
# host faults refused are streamed from the gmem events (a tracefs instance
# of the demo's own, instances/gmem-demo) and shown after it; the raw stream
# is kept in $LAB_OUT/demo-events.log.  The demo ends with gmemctl's views
# of the in-place run (tools/gmemctl): the VMM pauses once its guest has
# accepted its memory, for "gmemctl list" and "gmemctl layout --map"; then
# "gmemctl pins --trace" and "gmemctl latency" follow the whole run.  Their
# outputs are kept in $LAB_OUT/demo-gmemctl-*.txt.  Without gmemctl (not
# built), the in-place run goes on unpaused and the views are skipped.

set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tests/lib.sh"

rounds=${DEMO_ROUNDS:-4}
mem=${DEMO_MEM:-16}
out=${LAB_OUT:-/tmp}
VMM=$BUILD/bin/gmem-vmm
log_ip=$out/demo-in-place.log
log_va=$out/demo-vm-attributes.log
log_ev=$out/demo-events.log
tracefs=/sys/kernel/tracing
inst=$tracefs/instances/gmem-demo
stream_pid=
max_events=40

# The live gmem events of the in-place run, from trace_pipe of a tracefs
# instance of our own (so that nobody else's tracing is touched): every
# conversion (gmem_convert_start, gmem_convert), every denial (gmem_convert_denied), and of the
# host faults on the guest_memfd's mapping only those refused (result != 0:
# not "shared"), so that the stream stays short.  Returns non-zero if it
# cannot be set up; without the gmem events it says so and returns 0.
events_start()
{
	local e

	if [ ! -d "$tracefs/events/gmem" ]; then
		echo "=== no gmem events in this kernel ($tracefs/events/gmem): no event stream"
		return 0
	fi
	[ -d "$inst" ] || mkdir "$inst" || return 1
	echo 'result != 0' > "$inst/events/gmem/gmem_host_fault/filter" || return 1
	for e in gmem_convert_start gmem_convert gmem_convert_denied gmem_host_fault; do
		echo 1 > "$inst/events/gmem/$e/enable" || return 1
	done
	# Switching events on patches the kernel's code, which QEMU's TCG then
	# translates anew: a short untimed run pays for that, so that the
	# first conversion measured does not.  Its events are dropped.
	"$VMM" --mode in-place --mem 1 --rounds 1 --deny-round 0 --quiet \
		> /dev/null 2>&1 || true
	: > "$inst/trace" || return 1
	cat "$inst/trace_pipe" > "$log_ev" &
	stream_pid=$!
	echo "=== streaming the gmem events of the in-place run from $inst/trace_pipe:"
	echo "=== gmem_convert_start, gmem_convert, gmem_convert_denied, gmem_host_fault (refused faults only: filter 'result != 0')"
}

# Stop the stream, disable the events and remove the instance.
events_stop()
{
	if [ -n "$stream_pid" ]; then
		kill "$stream_pid" 2>/dev/null || true
		wait "$stream_pid" 2>/dev/null || true
		stream_pid=
	fi
	if [ -d "$inst" ]; then
		{ echo 0 > "$inst/events/gmem/enable"; } 2>/dev/null || true
		rmdir "$inst" 2>/dev/null || true
	fi
}
# At exit (tests/lib.sh), after the paused VMM, if any, is killed.
cleanup()
{
	events_stop
	gmemctl_stop
}

# Print the stream captured, at most $max_events lines, each without the
# task/CPU/flags prefix (vm_pid names the VMM) and with its time relative to
# the first event; then stop it.
events_show()
{
	local n

	[ -n "$stream_pid" ] || return 0
	sleep 1		# trace_pipe hands over what is left
	kill "$stream_pid" 2>/dev/null || true
	wait "$stream_pid" 2>/dev/null || true
	stream_pid=
	# What the reader had not consumed yet (nothing, normally).
	grep -v '^#' "$inst/trace" >> "$log_ev" 2>/dev/null || true
	n=$(grep -c . "$log_ev" || true)
	echo "=== the gmem events of the in-place run (trace_pipe): $n, time in s since the first"
	sed -E 's/^.*\[[0-9]+\]( [^ ]+)? +([0-9]+\.[0-9]+): /\2 /' "$log_ev" |
		awk -v max="$max_events" -v file="$log_ev" '
			$1 ~ /^[0-9]+\.[0-9]+$/ {
				if (t0 == "")
					t0 = $1
				t = $1
				sub(/^[^ ]+ /, "")
				$0 = sprintf("%9.6f %s", t - t0, $0)
			}
			NR <= max { print "    " $0 }
			END {
				if (NR > max)
					printf "    ... %d more cut (all in %s)\n", NR - max, file
			}'
	[ "$n" -gt 0 ] || echo "    (none)"
	events_stop
}

# ---- gmemctl's views of the in-place run ------------------------------------

gmemctl=${GMEMCTL:-$BUILD/bin/gmemctl}
gm_out=$out/demo-gmemctl
gm_pids=()

# Once the VMM ($vmm_pid) is paused: list and layout now; pins --trace and
# latency in the background until the run ends.  Failures are gmemctl's to
# explain: its messages are kept and shown.
gmemctl_start()
{
	"$gmemctl" list > "$gm_out-list.txt" 2>&1 || true
	"$gmemctl" layout "$vmm_pid" --map > "$gm_out-layout.txt" 2>&1 || true
	"$gmemctl" pins "$vmm_pid" --trace 3600 > "$gm_out-pins.txt" 2>&1 &
	gm_pids+=($!)
	wait_for "$gm_out-pins.txt" 'tracing|gmemctl: ' 600 "$!" || true
	"$gmemctl" latency "$vmm_pid" > "$gm_out-latency.txt" 2>&1 &
	gm_pids+=($!)
	wait_for "$gm_out-latency.txt" 'tracing|gmemctl: ' 600 "$!" || true
}

# The run is over: latency stops by itself as the VMM exits; pins --trace
# on SIGINT.
gmemctl_stop()
{
	local p

	for p in "${gm_pids[@]}"; do
		kill -INT "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	gm_pids=()
}

gmemctl_show()
{
	local f what

	[ -x "$gmemctl" ] || {
		echo "=== gmemctl not built ($gmemctl): no gmemctl views"
		return 0
	}
	[ -s "$gm_out-list.txt" ] || return 0
	echo "=== gmemctl's views of the in-place run (tools/gmemctl; man page: tools/gmemctl/Documentation/gmemctl.rst)"
	for f in list layout pins latency; do
		case $f in
		list) what="gmemctl list, while the VMM paused once its guest had accepted its memory" ;;
		layout) what="gmemctl layout PID --map, at the same moment" ;;
		pins) what="gmemctl pins PID --trace, over the run: who took references and pins, the denial" ;;
		latency) what="gmemctl latency PID, over the run" ;;
		esac
		echo "=== $what"
		grep -Ev '^gmemctl: (tracing|watching) ' "$gm_out-$f.txt" |
			sed 's/^/    /' || true
	done
}

echo "=== gmem demo: $(uname -r) on $(nproc) vCPUs, $(ls -d /sys/devices/system/node/node[0-9]* | wc -l) NUMA nodes"
echo "=== A confidential guest accepts its private memory, then each round shares a bounce buffer with the host and takes it back."
echo "=== In place, one guest_memfd holds every page: pages turn shared and private where they are and keep their content, and in"
echo "=== round 2 a page the host pinned (as a device's DMA would) keeps the buffer from turning private until it is unpinned."

rc=0
paused=
if [ -x "$gmemctl" ]; then
	# The in-place VMM first, paused once its guest has accepted its
	# memory, for gmemctl, which attaches its probes then: the warm-up run
	# of events_start also pays for their code patching under TCG.  Its
	# log is shown from the start once the run resumes (or ends).
	paused=1
	vmm_start "$log_ip" --mode in-place --mem "$mem" --rounds "$rounds" \
		--pause > /dev/null || rc=$vmm_rc
	if [ -n "$vmm_pid" ]; then
		gmemctl_start
	fi
fi
events_start || {
	echo "=== the gmem event stream could not be set up: skipped"
	events_stop
}
echo "=== 1/2: --mode in-place (one copy of each page)"
if [ -n "$vmm_pid" ]; then
	tail -s 0.2 -n +1 -f --pid="$vmm_pid" "$log_ip" 2> /dev/null &
	tail_pid=$!
	vmm_resume || rc=$?
	wait "$tail_pid" || true
	gmemctl_stop
elif [ -n "$paused" ]; then
	cat "$log_ip"		# it ended before it paused
else
	"$VMM" --mode in-place --mem "$mem" --rounds "$rounds" | tee "$log_ip" || rc=$?
fi
events_show
case $rc in
0) ;;
4) echo "=== in-place conversion is not supported by this kernel: skipped"
   : > "$log_ip" ;;
*) exit "$rc" ;;
esac

echo "=== 2/2: --mode vm-attributes (the stock 6.12 way, for comparison: two copies, the stale one discarded)"
"$VMM" --mode vm-attributes --mem "$mem" --rounds "$rounds" | tee "$log_va"

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

gmemctl_show
