#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The gmem tracepoints work with the usual tools, on a real workload (the
# demo VMM, whose second round pins a page with gup_test so that converting
# it back to private is refused):
#
#  a) bpftrace -l lists all eleven events;
#  b) a bpftrace program prints every field of gmem_convert_start,
#     gmem_convert and gmem_convert_denied while the VMM runs, and the
#     values must make sense: ino is the st_ino of the VMM's guest_memfd,
#     vm_pid the VMM's pid, conversions both ways succeed, each
#     gmem_convert follows a gmem_convert_start of the same thread for the
#     same request (ino, index, npages, to_private), a refused one names the
#     pinned page that gmem_convert_denied reports, with reason pinned;
#  c) perf lists the events, records them system-wide around the VMM, and
#     perf script prints conversions, each with its start, and the pinned
#     denial (skipped, with a message, when no perf binary for this kernel
#     is installed).
#
# Exit 0 when every check passes, 1 when one fails, 4 (skip) when the
# kernel has no gmem events.

# "A && ok || bad" is safe here: ok() cannot fail.
# shellcheck disable=SC2015
set -u
. "$(dirname "$0")/lib.sh"

TRACING=/sys/kernel/tracing
VMM_ARGS=(--rounds 2 --quiet)
EVENTS="gmem_create gmem_release gmem_bind gmem_unbind gmem_convert_start
gmem_convert gmem_convert_denied gmem_host_fault gmem_kvm_fault
gmem_punch_hole gmem_migrate"
NR_EVENTS=$(wc -w <<< "$EVENTS")
EAGAIN=11

bt_pid=

# shellcheck disable=SC2317	# called at exit (lib.sh)
cleanup()
{
	[ -z "$bt_pid" ] || kill -KILL "$bt_pid" 2>/dev/null
}

# parse LINE: its KEY=VALUE words into the associative array f
declare -A f
parse()
{
	local w

	f=()
	for w in $1; do
		[[ $w == *=* ]] && f[${w%%=*}]=${w#*=}
	done
}

isnum()
{
	[[ $1 =~ ^-?[0-9]+$ ]]
}

if [ ! -d "$TRACING/events/gmem" ]; then
	skip_test "$TRACING/events/gmem does not exist: this kernel has no gmem events"
fi
need_exec "$VMM"
scratch gmem-trace-tools

# ---- a) bpftrace -l ----------------------------------------------------

echo "== a) bpftrace -l 'tracepoint:gmem:*'"
if ! command -v bpftrace >/dev/null; then
	bad "bpftrace is not installed (lab/deps.sh installs it)"
	exit 1
fi
bpftrace -l 'tracepoint:gmem:*' > "$tmp/bt-list" 2>&1
show "$tmp/bt-list" 12
for e in $EVENTS; do
	if grep -qx "tracepoint:gmem:$e" "$tmp/bt-list"; then
		ok "bpftrace lists tracepoint:gmem:$e"
	else
		bad "bpftrace does not list tracepoint:gmem:$e"
	fi
done

# ---- b) bpftrace reads every field ---------------------------------------

# ts= (nsecs) first: bpftrace's output buffers are per CPU, so lines of
# events on different CPUs may come out of order; sort on it.
echo "== b) bpftrace on gmem_convert_start, gmem_convert and gmem_convert_denied around: gmem-vmm ${VMM_ARGS[*]}"
read -r -d '' bt_prog <<'EOF'
BEGIN { printf("bpftrace: attached\n"); }
tracepoint:gmem:gmem_convert_start
{
	printf("start ts=%lu pid=%d tid=%d ino=%lu vm_pid=%d index=%lu npages=%lu to_private=%d\n",
	       nsecs, pid, tid, args->ino, args->vm_pid, args->index,
	       args->npages, args->to_private);
}
tracepoint:gmem:gmem_convert
{
	printf("convert ts=%lu pid=%d tid=%d ino=%lu vm_pid=%d index=%lu npages=%lu to_private=%d ret=%d error_index=%lu folios=%lu pages=%lu unmapped=%lu zapped=%u\n",
	       nsecs, pid, tid, args->ino, args->vm_pid, args->index,
	       args->npages, args->to_private, args->ret, args->error_index,
	       args->folios, args->pages, args->unmapped, args->zapped);
}
tracepoint:gmem:gmem_convert_denied
{
	printf("denied ts=%lu ino=%lu vm_pid=%d index=%lu pfn=%lu reason=%d refcount=%d expected=%d mapcount=%d pincount=%d order=%u zone=%d\n",
	       nsecs, args->ino, args->vm_pid, args->index, args->pfn, args->reason,
	       args->refcount, args->expected, args->mapcount, args->pincount,
	       args->order, args->zone);
}
EOF

bpftrace -B none -e "$bt_prog" > "$tmp/bt.out" 2>&1 &
bt_pid=$!
# "Attaching N probes..." comes before the probes are attached; BEGIN runs
# once they all are.
if wait_for "$tmp/bt.out" '^Attaching [0-9]+ probes' 300 "$bt_pid" &&
   wait_for "$tmp/bt.out" '^bpftrace: attached' 60 "$bt_pid"; then
	ok "bpftrace attached: $(grep -m1 '^Attaching' "$tmp/bt.out")"
else
	bad "bpftrace did not attach"
	show "$tmp/bt.out" 20
	exit 1
fi

# --pause: the VMM stops once its guest has accepted its memory and names
# its guest_memfd, whose st_ino the events must carry; then it resumes.
vmm_run "$tmp/vmm.out" "${VMM_ARGS[@]}" --pause
vmm_rc=$?
ino=$vmm_ino
[ -z "$vmm_last_pid" ] ||
	echo "   gmem-vmm pid $vmm_last_pid, guest_memfd fd $vmm_gmem_fd, st_ino $ino"
sleep 1
kill -INT "$bt_pid"
wait "$bt_pid"
bt_pid=

echo "   gmem-vmm exited with $vmm_rc:"
show "$tmp/vmm.out" 20
[ "$vmm_rc" = 0 ] && ok "gmem-vmm passed" || bad "gmem-vmm failed (exit $vmm_rc)"
isnum "${ino:-x}" || bad "no st_ino for the VMM's guest_memfd"
if grep -q 'refused: [1-9][0-9]* by our gup_test pin' "$tmp/vmm.out"; then
	ok "gmem-vmm saw its conversion refused by its gup_test pin"
else
	bad "gmem-vmm did not report a conversion refused by its gup_test pin"
fi

echo "   bpftrace printed:"
grep -v '^start \|^convert \|^denied \|^$' "$tmp/bt.out" | sed 's/^/    /'
grep '^start \|^convert \|^denied ' "$tmp/bt.out" | sort -s -n -t= -k2,2 > "$tmp/bt.events"
show "$tmp/bt.events" 30

conv=0 conv_bad=0 to_priv=0 to_shared=0 unmapped=0 zapped=0
refused_idx=
while read -r line; do
	parse "$line"
	conv=$((conv + 1))
	why=
	for k in ts pid tid ino vm_pid index npages to_private ret \
		 error_index folios pages unmapped zapped; do
		isnum "${f[$k]:-x}" || why+=" $k missing or not a number;"
	done
	if [ -n "$why" ]; then
		bad "gmem_convert:$why $line"
		conv_bad=$((conv_bad + 1))
		continue
	fi
	[ "${f[ino]}" = "$ino" ] || why+=" ino is not the guest_memfd's st_ino $ino;"
	[ "${f[npages]}" -gt 0 ] || why+=" npages not > 0;"
	[ "${f[ret]}" -le 0 ] && [ "${f[ret]}" -ge -4095 ] ||
		why+=" ret neither 0 nor a negative errno;"
	case ${f[to_private]} in 0|1) ;; *) why+=" to_private not 0/1;" ;; esac
	[ "${f[folios]}" -le "${f[pages]}" ] || why+=" more folios than pages;"
	[ "${f[unmapped]}" -le "${f[npages]}" ] ||
		why+=" more pages unmapped than in the range;"
	if [ "${f[ret]}" = -$EAGAIN ]; then
		[ "${f[error_index]}" -ge "${f[index]}" ] &&
		[ "${f[error_index]}" -lt $((f[index] + f[npages])) ] ||
			why+=" error_index outside the range;"
		[ "${f[to_private]}" = 1 ] && refused_idx+=" ${f[error_index]}"
	fi
	if [ -n "$why" ]; then
		bad "gmem_convert:$why $line"
		conv_bad=$((conv_bad + 1))
		continue
	fi
	if [ "${f[ret]}" = 0 ]; then
		if [ "${f[to_private]}" = 1 ]; then
			to_priv=$((to_priv + 1))
		else
			to_shared=$((to_shared + 1))
		fi
	fi
	[ "${f[unmapped]}" -gt 0 ] && [ "${f[to_private]}" = 1 ] &&
		unmapped=$((unmapped + 1))
	[ "${f[zapped]}" -gt 0 ] && zapped=$((zapped + 1))
done < <(grep '^convert ' "$tmp/bt.events")

echo "   gmem_convert: $conv events, $to_priv to private and $to_shared to shared with ret=0, refused at index:${refused_idx:- none}"
[ "$conv" -gt 0 ] && [ "$conv_bad" = 0 ] &&
	ok "every gmem_convert field is plausible in $conv events"
[ "$to_priv" -gt 0 ] && ok "a conversion to private (to_private=1 ret=0)" ||
	bad "no successful conversion to private (to_private=1 ret=0)"
[ "$to_shared" -gt 0 ] && ok "a conversion to shared (to_private=0 ret=0)" ||
	bad "no successful conversion to shared (to_private=0 ret=0)"
[ "$unmapped" -gt 0 ] && ok "a conversion to private unmapped the host's mapping (unmapped>0)" ||
	bad "no conversion to private reports unmapped>0, though the host wrote to the buffer"
[ "$zapped" -gt 0 ] && ok "conversions zap the bound memslot (zapped>0)" ||
	bad "no conversion reports zapped>0, though the file is bound to a memslot"
[ -n "$refused_idx" ] && ok "a conversion to private was refused (ret=-$EAGAIN)" ||
	bad "no conversion to private was refused with ret=-$EAGAIN"

# The kernel no longer times conversions (gmem_convert has no duration_ns):
# the tools take the time from gmem_convert_start to gmem_convert, in the
# same thread. So before each gmem_convert its thread must have fired
# exactly one gmem_convert_start, for the same request, and every start
# must end in a gmem_convert (bpftrace was attached before the VMM ran).
declare -A pending=()
starts=0 paired=0 pair_bad=0
while read -r line; do
	parse "$line"
	why=
	for k in ts pid tid ino vm_pid index npages to_private; do
		isnum "${f[$k]:-x}" || why+=" $k missing or not a number;"
	done
	if [ -n "$why" ]; then
		[[ $line == start\ * ]] && bad "gmem_convert_start:$why $line"
		pair_bad=$((pair_bad + 1))
		continue
	fi
	req="pid=${f[pid]} ino=${f[ino]} vm_pid=${f[vm_pid]} index=${f[index]} npages=${f[npages]} to_private=${f[to_private]}"
	t=${f[tid]}
	case $line in
	start\ *)
		starts=$((starts + 1))
		if [ -n "${pending[$t]:-}" ]; then
			bad "gmem_convert_start: thread $t already had one without its gmem_convert (${pending[$t]}): $line"
			pair_bad=$((pair_bad + 1))
		fi
		pending[$t]=$req
		;;
	convert\ *)
		if [ -z "${pending[$t]:-}" ]; then
			bad "gmem_convert without a gmem_convert_start before it in thread $t: $line"
			pair_bad=$((pair_bad + 1))
		elif [ "${pending[$t]}" != "$req" ]; then
			bad "gmem_convert is not the request of its thread's gmem_convert_start (${pending[$t]}): $line"
			pair_bad=$((pair_bad + 1))
		else
			paired=$((paired + 1))
		fi
		unset "pending[$t]"
		;;
	esac
done < <(grep -E '^(start|convert) ' "$tmp/bt.events")
for t in "${!pending[@]}"; do
	bad "gmem_convert_start without a gmem_convert after it in thread $t: ${pending[$t]}"
	pair_bad=$((pair_bad + 1))
done
echo "   gmem_convert_start: $starts events, $paired followed by the gmem_convert of the same request"
[ "$paired" -gt 0 ] && [ "$paired" = "$conv" ] && [ "$starts" = "$conv" ] &&
	[ "$pair_bad" = 0 ] &&
	ok "each of the $conv gmem_convert follows one gmem_convert_start of its thread, same ino, index, npages and to_private" ||
	bad "gmem_convert_start and gmem_convert do not pair up: $starts starts, $conv conversions, $paired paired"

# The VMM is single-threaded: the VM's creator is the process.
vm_pid=$vmm_last_pid
bad_pid=$(grep -E '^(start|convert|denied) ' "$tmp/bt.events" |
	  grep -cv " vm_pid=${vm_pid:-x} ")
[ -n "$vm_pid" ] && [ "$bad_pid" = 0 ] &&
	ok "vm_pid is the VMM's pid $vm_pid in every event" ||
	bad "$bad_pid events with a vm_pid other than the VMM's (${vm_pid:-unknown})"

denied=0 pinned=0
while read -r line; do
	parse "$line"
	denied=$((denied + 1))
	why=
	for k in ino vm_pid index pfn reason refcount expected mapcount \
		 pincount order zone; do
		isnum "${f[$k]:-x}" || why+=" $k missing or not a number;"
	done
	if [ -n "$why" ]; then
		bad "gmem_convert_denied:$why $line"
		continue
	fi
	[ "${f[ino]}" = "$ino" ] || why+=" ino is not the guest_memfd's st_ino $ino;"
	[[ " $refused_idx " == *" ${f[index]} "* ]] ||
		why+=" index is no refused gmem_convert's error_index;"
	[ "${f[reason]}" -ge 1 ] && [ "${f[reason]}" -le 4 ] ||
		why+=" reason not in 1..4;"
	[ "${f[pfn]}" -gt 0 ] || why+=" pfn 0;"
	if [ "${f[reason]}" = 1 ]; then		# GMEM_DENY_PINNED
		[ "${f[pincount]}" -ge 1 ] || why+=" pinned, but pincount < 1;"
		[ "${f[refcount]}" -gt "${f[expected]}" ] ||
			why+=" pinned, but refcount <= expected;"
		[ "${f[mapcount]}" = 0 ] ||
			why+=" mapcount not 0 after the conversion unmapped the range;"
	fi
	if [ -n "$why" ]; then
		bad "gmem_convert_denied:$why $line"
		continue
	fi
	[ "${f[reason]}" = 1 ] && pinned=$((pinned + 1))
done < <(grep '^denied ' "$tmp/bt.events")
echo "   gmem_convert_denied: $denied events, $pinned with reason pinned"
[ "$pinned" -gt 0 ] &&
	ok "the pinned page was reported: reason=1 (pinned), pincount>=1, refcount>expected, at the refused conversion's error_index" ||
	bad "no plausible gmem_convert_denied with reason pinned"

# ---- c) perf ---------------------------------------------------------------

echo "== c) perf"
# /usr/bin/perf may be a wrapper that wants perf_<major.minor> of the
# running kernel: use a real perf binary, whichever version it is.
perf=
kver=$(uname -r | cut -d. -f1,2)
for p in "/usr/bin/perf_$kver" /usr/bin/perf_* /usr/lib/linux-tools*/perf \
	 /usr/lib/linux-tools/*/perf /usr/bin/perf; do
	[ -f "$p" ] && [ -x "$p" ] || continue
	[ "$(head -c 4 "$p")" = $'\177ELF' ] || continue
	perf=$p
	break
done

if [ -z "$perf" ]; then
	echo "SKIP (this sub-check only): no perf binary (/usr/bin/perf_*, /usr/lib/linux-tools*/perf, or an ELF /usr/bin/perf; Debian's linux-perf)"
else
	echo "   $perf: $("$perf" --version 2>&1)"
	"$perf" list 'gmem:*' > "$tmp/perf-list" 2>&1
	show "$tmp/perf-list" 14
	missing=
	for e in $EVENTS; do
		grep -qw "gmem:$e" "$tmp/perf-list" || missing+=" $e"
	done
	[ -z "$missing" ] && ok "perf list shows all $NR_EVENTS gmem events" ||
		bad "perf list does not show:$missing"

	"$perf" record -q -m 4M -e 'gmem:*' -a -o "$tmp/perf.data" -- \
		"$VMM" "${VMM_ARGS[@]}" > "$tmp/perf-record.out" 2>&1
	rc=$?
	[ "$rc" = 0 ] && ok "perf record -e 'gmem:*' -a -- gmem-vmm ${VMM_ARGS[*]}" ||
		{ bad "perf record failed (exit $rc)"; show "$tmp/perf-record.out" 20; }
	"$perf" script -i "$tmp/perf.data" > "$tmp/perf.script" 2> "$tmp/perf-script.err"
	rc=$?
	[ "$rc" = 0 ] || { bad "perf script failed (exit $rc)"; show "$tmp/perf-script.err" 20; }
	echo "   perf script: $(wc -l < "$tmp/perf.script") events; per event:"
	sed -n 's/.* gmem:\(gmem_[a-z_]*\):.*/\1/p' "$tmp/perf.script" |
		sort | uniq -c | sed 's/^/    /'
	grep -E 'gmem:gmem_(convert|convert_denied|create|bind):' "$tmp/perf.script" |
		head -12 | sed 's/^ */    /'
	grep -Eq 'gmem:gmem_convert: ino=[0-9]+ vm_pid=[0-9]+ .* to=private ret=0 ' "$tmp/perf.script" &&
		ok "perf script shows a gmem_convert to=private ret=0" ||
		bad "perf script shows no gmem_convert to=private ret=0"
	grep -Eq 'gmem:gmem_convert: ino=[0-9]+ vm_pid=[0-9]+ .* to=shared ret=0 ' "$tmp/perf.script" &&
		ok "perf script shows a gmem_convert to=shared ret=0" ||
		bad "perf script shows no gmem_convert to=shared ret=0"
	grep -Eq "gmem:gmem_convert: .* to=private ret=-$EAGAIN " "$tmp/perf.script" &&
		ok "perf script shows the refused gmem_convert (ret=-$EAGAIN)" ||
		bad "perf script shows no refused gmem_convert (ret=-$EAGAIN)"
	n_start=$(grep -c 'gmem:gmem_convert_start: ' "$tmp/perf.script")
	n_conv=$(grep -c 'gmem:gmem_convert: ' "$tmp/perf.script")
	[ "$n_conv" -gt 0 ] && [ "$n_start" = "$n_conv" ] &&
		ok "perf script shows a gmem_convert_start for each of the $n_conv gmem_convert" ||
		bad "perf script shows $n_start gmem_convert_start for $n_conv gmem_convert"
	grep -Eq 'gmem:gmem_convert_denied: .* reason=pinned ' "$tmp/perf.script" &&
		ok "perf script shows gmem_convert_denied reason=pinned (symbolic)" ||
		bad "perf script shows no gmem_convert_denied reason=pinned"
	grep -Eq 'gmem:gmem_create: .* flags=MMAP' "$tmp/perf.script" &&
		ok "perf script shows gmem_create flags=MMAP (flags decoded)" ||
		bad "perf script shows no gmem_create with flags=MMAP"
fi

finish gmem_trace_tools
