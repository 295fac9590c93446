#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# gmemctl (tools/gmemctl) on the demo workload: every command runs against
# gmem-vmm, paused once its guest accepted its memory, and its output is
# checked, plain and as JSON (python3 -m json.tool must accept every -j
# document):
#
#  a) help at every level, prefixes, bad usage (exit 2), feature probe;
#  b) file list (the BPF iterator) lists the VMM's file with its VM, VMM,
#     fds, binding and counts;
#  c) file layout: totals equal the list's (iterator vs KVM_GUEST_MEMFD_SCAN)
#     and the sum of the regions; the map covers the file;
#  d) a page of the VMM's file pinned by gmemctl-test-pin (gup_test): layout
#     shows it ('!', pinned and dma_pinned 1), list agrees, pins names the
#     range, reason "pinned", and the helper's mapping of it; pins --trace,
#     running meanwhile, names the helper's task and kernel stack taking
#     the pin and the denial the helper provokes (reason pinned); watch,
#     running meanwhile, shows that denial and the refused conversion;
#  e) the VMM resumed: its own deny round; latency counts the VMM's
#     conversions as its summary does; watch ends when the VMM exits;
#  f) errors: not a VMM, no such process, bad PID, user nobody (exit 4
#     naming the privilege), the VMM gone (exit 5); one line on stderr.
#
# Exit 0 when every check passes, 1 when one fails, 4 (skip) when the
# kernel or KVM cannot run the demo VMM.

# "A && ok || bad" is safe here: ok() cannot fail.
# shellcheck disable=SC2015
set -u
. "$(dirname "$0")/lib.sh"

G=$BIN/gmemctl
PIN=$BIN/gmemctl-test-pin
VMM_ARGS=(--mode in-place --mem 4 --rounds 3 --deny-round 2 --pause)
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# Debian's python3 (lab/deps.sh), not a wrapper found first in PATH: it
# checks every JSON document, and starts in a fraction of the time.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

pin_pid=
bg_pids=()

# shellcheck disable=SC2317	# called at exit (lib.sh)
cleanup()
{
	local p

	for p in "${bg_pids[@]}" $pin_pid; do
		kill -KILL "$p" 2>/dev/null
	done
}

# jcheck FILE [-2 FILE2] LABEL EXPR [LABEL EXPR]...: FILE must hold exactly
# one JSON document (the one python3 -m json.tool accepts), d, and FILE2
# another, d2; each python EXPR must be true over them, and "COND ## DETAIL"
# shows DETAIL when COND is not.  One python run for all: it takes seconds
# to start in the lab's emulated CPU.
jcheck()
{
	local f=$1 f2=/dev/null out l prc verdicts

	shift
	if [ "$1" = -2 ]; then
		f2=$2
		shift 2
	fi
	out=$("$PY" -S -E -c '
import json, sys

name = sys.argv[1].split("/")[-1]
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("FAILED: %s: not one JSON document: %s" % (name, e))
    sys.exit()
d2 = json.load(open(sys.argv[2])) if sys.argv[2] != "/dev/null" else None
print("ok: %s: one JSON document" % name)
args = sys.argv[3:]
for label, expr in zip(args[0::2], args[1::2]):
    cond, _, detail = expr.partition(" ## ")
    try:
        good = eval(cond)
    except Exception as e:
        good = False
    if good:
        print("ok: " + label)
        continue
    try:
        detail = repr(eval(detail)) if detail else ""
    except Exception as e:
        detail = "%s: %s" % (type(e).__name__, e)
    print("FAILED: %s%s" % (label, " (" + detail + ")" if detail else ""))
' "$f" "$f2" "$@" 2>&1)
	prc=$?
	# Its verdicts through ok and bad, the rest as it is.
	verdicts=0
	while IFS= read -r l; do
		case $l in
		"ok: "*) ok "${l#ok: }"; verdicts=$((verdicts + 1)) ;;
		"FAILED: "*) bad "${l#FAILED: }"; verdicts=$((verdicts + 1)) ;;
		*) echo "$l" ;;
		esac
	done <<<"$out"
	# A checker that crashed, or said nothing, is a failed check.
	if [ "$prc" != 0 ] || [ "$verdicts" = 0 ]; then
		bad "${f##*/}: the JSON checker failed (exit $prc, $verdicts verdicts)"
	fi
}

# run NAME ARGS...: gmemctl ARGS, stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err, exit status in $rc; shown in the log.
run()
{
	local name=$1 t0

	shift
	t0=$(date +%s%N)
	"$G" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	echo "== gmemctl $* (exit $rc, $((($(date +%s%N) - t0) / 1000000)) ms)"
	indent "$tmp/$name.out" | head -n 60
	[ ! -s "$tmp/$name.err" ] || sed 's/^/    stderr: /' "$tmp/$name.err"
}

# reap NAME PID WHAT: wait for "gmemctl WHAT", which runs in the background
# as PID, stdout in $tmp/NAME.out, stderr in $tmp/NAME.err; its exit
# status in $rc, it and its output shown in the log.
reap()
{
	wait "$2"
	rc=$?
	echo "== gmemctl $3 (exit $rc)"
	indent "$tmp/$1.out"
	sed 's/^/    stderr: /' "$tmp/$1.err"
}

# expect_error NAME RC REGEX: gmemctl failed with RC and one stderr line
# "gmemctl: ..." matching REGEX.
expect_error()
{
	if [ "$rc" = "$2" ] && [ "$(wc -l < "$tmp/$1.err")" = 1 ] &&
	   grep -Eq "^gmemctl: .*$3" "$tmp/$1.err"; then
		ok "$1: exit $2, one line: $(cat "$tmp/$1.err")"
	else
		bad "$1: wanted exit $2 and one stderr line matching '$3', got exit $rc: $(cat "$tmp/$1.err")"
	fi
}

need_exec "$G" "$VMM" "$PIN"
scratch gmemctl-test

# ---- a) help, usage, feature probe -----------------------------------------

for args in "help" "file help" "conversion help" "feature help" \
	    "file layout help" "co wa help" "--help"; do
	# shellcheck disable=SC2086
	"$G" $args > "$tmp/help.out" 2>&1
	rc=$?
	[ "$rc" = 0 ] && grep -q '^Usage: gmemctl' "$tmp/help.out" &&
		ok "gmemctl $args: usage, exit 0" ||
		bad "gmemctl $args: exit $rc, $(head -n 2 "$tmp/help.out")"
done
"$G" -j file help > "$tmp/help.json"
jcheck "$tmp/help.json" "gmemctl -j file help: the usage as {\"help\": TEXT}" \
	"d['help'].startswith('Usage: gmemctl file')"
run bogus bogus
expect_error bogus 2 "unknown object or command 'bogus'"
run ambiguous l
expect_error ambiguous 2 "ambiguous object or command 'l' \(list, layout, latency\)"
run badopt layout --trace 3 1
expect_error badopt 2 "option --trace does not apply to 'file layout'"
run badopt2 -j list --count x
expect_error badopt2 2 "--count: 'x' is not a number"
jcheck "$tmp/badopt2.out" "-j with a usage error: a JSON error document, exit_status 2" \
	"d['exit_status'] == 2 and d['error'].startswith('--count') ## d"

run feature -j feature probe
jcheck "$tmp/feature.out" \
	"feature probe: KVM_CAP_GUEST_MEMFD_SCAN, the iterator, the tracepoints and try_grab_folio are there" \
	"d['kvm']['KVM_CAP_GUEST_MEMFD_SCAN'] > 0 and all(d['btf'].values()) ## d"
jcheck "$tmp/feature.out" \
	"feature probe: the provisional ABI of linux/kvm_gmem.h, and the kernel answers its scan ioctl" \
	"(a := d['provisional_abi'])['header'] == 'linux/kvm_gmem.h' and a['KVM_CAP_GUEST_MEMFD_SCAN'] == 1024 and a['KVM_GUEST_MEMFD_SCAN'] & 0xff == 0xf0 and a['scan_ioctl'] == 'answered' ## d['provisional_abi']"
run feature_plain feature
grep -q '^KVM_CAP_GUEST_MEMFD_SCAN ' "$tmp/feature_plain.out" &&
	grep -q '^provisional ABI <linux/kvm_gmem.h>: capability 1024, ioctl 0x[0-9a-f]*f0 (KVMIO 0xf0): answered$' "$tmp/feature_plain.out" &&
	ok "feature probe: plain" || bad "feature probe: plain output"

# ---- the workload -------------------------------------------------------------

echo "== gmem-vmm ${VMM_ARGS[*]}"
vmm_start_or_skip "$tmp/vmm.out" "${VMM_ARGS[@]}"
gmem_fd=$vmm_gmem_fd
ino=$vmm_ino
npages=1024
echo "   VMM pid $vmm_pid, guest_memfd fd $gmem_fd, ino $ino"

# ---- b) list ---------------------------------------------------------------------

run list list
grep -Eq "^[0-9]+ +$ino +4 MiB +4 MiB +0 B +4 MiB +0 B +0 B +mmap +kvm-$vmm_pid +$vmm_pid:$gmem_fd +$vmm_pid gmem-vmm\$" "$tmp/list.out" &&
	ok "list: a row for ino $ino: 4 MiB, all private and allocated, mmap, kvm-$vmm_pid, fd $vmm_pid:$gmem_fd, VMM $vmm_pid gmem-vmm" ||
	bad "list: no row for the VMM's file as expected"
run listj -j list
# The VMM's file in a listing d (or d2).
e="[f for f in d if f['ino'] == $ino]"
e2="[f for f in d2 if f['ino'] == $ino][0]"
jcheck "$tmp/listj.out" \
	"list -j: the file once, with its VMM (pid, comm, cmdline), VM, size, flags, fd and binding" \
	"len($e) == 1 and ${e}[0]['vmm']['pid'] == $vmm_pid and ${e}[0]['vmm']['comm'] == 'gmem-vmm' and 'gmem-vmm' in ${e}[0]['vmm']['cmdline'] and ${e}[0]['vm'] == {'name': 'kvm-$vmm_pid', 'pid': $vmm_pid} and ${e}[0]['size'] == $npages * 4096 and ${e}[0]['flags'] == ['mmap'] and {'pid': $vmm_pid, 'fd': $gmem_fd} in ${e}[0]['fds'] and ${e}[0]['nr_bindings'] == 1 and ${e}[0]['bindings'][0]['npages'] == $npages ## $e" \
	"list -j: pages: all $npages private and allocated, none mapped or pinned" \
	"${e}[0]['pages'] == {'total': $npages, 'private': $npages, 'shared': 0, 'allocated': $npages, 'mapped': 0, 'pinned': 0, 'dma_pinned': 0} ## ${e}[0]['pages']"

# ---- c) layout ---------------------------------------------------------------------

# check_layout NAME LIST NAME2 EXPR: layout -j's totals add up, equal the
# regions and those of the iterator in LIST, the map covers the file; and
# the python EXPR, which NAME2 names, holds.
check_layout()
{
	local f=$tmp/$1.out

	jcheck "$f" -2 "$2" \
		"$1: ino, pid, fd, size; private + shared = $npages pages" \
		"d['ino'] == $ino and d['pid'] == $vmm_pid and d['fd'] == $gmem_fd and d['size'] == $npages * 4096 and d['pages']['total'] == $npages and d['pages']['private'] + d['pages']['shared'] == $npages ## d['pages']" \
		"$1: the regions tile the file and add up to the totals of every category" \
		"all(sum(r['pages'] for r in d['regions'] if c in r['categories']) == d['pages'][c] for c in d['pages'] if c != 'total') and sum(r['pages'] for r in d['regions']) == $npages and all(d['regions'][i]['end'] == d['regions'][i + 1]['start'] for i in range(len(d['regions']) - 1)) ## d['regions']" \
		"$1: the map covers the file" \
		"sum(len(r['chars']) for r in d['map']['rows']) * d['map']['chunk_bytes'] >= d['size'] > (sum(len(r['chars']) for r in d['map']['rows']) - 1) * d['map']['chunk_bytes'] ## d['map']" \
		"$1: every count equals the iterator's (file list)" \
		"all(d['pages'][k] == v for k, v in ${e2}['pages'].items()) ## (d['pages'], ${e2}['pages'])" \
		"$3" "$4"
}

run layout layout "$vmm_pid"
grep -q "^guest_memfd $vmm_pid:$gmem_fd (ino $ino) of gmem-vmm (pid $vmm_pid): 4 MiB, $npages pages" "$tmp/layout.out" &&
	grep -Eq '^  0x[0-9a-f]+ P+$' "$tmp/layout.out" &&
	grep -Eq "^0x0 +0x400000 +4 MiB +$npages +private allocated\$" "$tmp/layout.out" &&
	ok "layout: header, a map of P (private, allocated), one region 0x0-0x400000 private allocated" ||
	bad "layout: plain output not as expected"
run layoutj -j layout "$vmm_pid:$gmem_fd"
check_layout layoutj "$tmp/listj.out" "layoutj: one region, all private and allocated" \
	"[r['categories'] for r in d['regions']] == [['private', 'allocated']] ## d['regions']"
run layoutw layout --map --width 40 "$vmm_pid"
awk '/^  0x/ { if (length($0) > 40) bad = 1; n++ } END { exit bad || !n }' "$tmp/layoutw.out" &&
	! grep -q '^START' "$tmp/layoutw.out" &&
	ok "layout --map --width 40: map lines of at most 40 columns, no table" ||
	bad "layout --map --width 40"
run layoutt layout --table "$vmm_pid"
grep -q '^START' "$tmp/layoutt.out" && ! grep -q '^map:' "$tmp/layoutt.out" &&
	ok "layout --table: the table only" || bad "layout --table"

# ---- d) a pinned page: layout, list, pins, pins --trace, watch ----------------

run pins0 pins "$vmm_pid"
grep -q "nothing would refuse a conversion to private" "$tmp/pins0.out" &&
	grep -q "mapped by: pid $vmm_pid (gmem-vmm)" "$tmp/pins0.out" &&
	ok "pins: nothing blocks; the VMM's own mapping of the file is listed" ||
	bad "pins: before the pin"

echo "== gmemctl-test-pin $vmm_pid"
"$PIN" "$vmm_pid" > "$tmp/pin.out" 2>&1 < /dev/null &
pin_pid=$!
helper=$pin_pid
wait_for "$tmp/pin.out" '^ready ' 60 "$pin_pid" || { indent "$tmp/pin.out"; bad "gmemctl-test-pin did not get ready"; exit 1; }
indent "$tmp/pin.out"
off=$(sed -n 's/^ready .* offset=\(0x[0-9a-f]*\).*/\1/p' "$tmp/pin.out")
idx=$((off / 4096))

"$G" -j watch "$vmm_pid" > "$tmp/watch.json" 2> "$tmp/watch.err" &
watch_pid=$!
bg_pids+=("$watch_pid")
"$G" -j pins "$vmm_pid" --trace 600 > "$tmp/trace.json" 2> "$tmp/trace.err" &
trace_pid=$!
bg_pids+=("$trace_pid")
"$G" -j watch --events denied --count 1 > "$tmp/watch1.json" 2> "$tmp/watch1.err" &
watch1_pid=$!
bg_pids+=("$watch1_pid")
wait_for "$tmp/watch1.err" 'watching' 120 "$watch1_pid" ||
	bad "watch --events denied --count 1 did not start: $(cat "$tmp/watch1.err")"
wait_for "$tmp/watch.err" 'watching' 120 "$watch_pid" && ok "watch started: $(cat "$tmp/watch.err")" ||
	bad "watch did not start: $(cat "$tmp/watch.err")"
wait_for "$tmp/trace.err" 'tracing GUP' 120 "$trace_pid" && ok "pins --trace started: $(cat "$tmp/trace.err")" ||
	bad "pins --trace did not start: $(cat "$tmp/trace.err")"

kill -USR1 "$pin_pid"
wait_for "$tmp/pin.out" '^pinned ' 30 "$pin_pid" || bad "gmemctl-test-pin did not pin"
tail -n 1 "$tmp/pin.out" | indent

run layoutp layout "$vmm_pid"
grep -Eq '^  0x[0-9a-f]+ P*!$' "$tmp/layoutp.out" &&
	grep -Eq "^0x$(printf %x "$off") +0x400000 +4 KiB +1 +shared allocated mapped pinned dma_pinned\$" "$tmp/layoutp.out" &&
	ok "layout: the pinned page is '!' at the end of the map, a region 'shared allocated mapped pinned dma_pinned'" ||
	bad "layout: the pinned page does not show"
run listpj -j list
run layoutpj -j layout "$vmm_pid"
check_layout layoutpj "$tmp/listpj.out" \
	"layoutpj: $((npages - 1)) private, 1 shared, pinned, DMA-pinned and mapped; '!' last in the map" \
	"(d['pages']['private'], d['pages']['shared'], d['pages']['pinned'], d['pages']['dma_pinned'], d['pages']['mapped'] >= 1, d['map']['rows'][-1]['chars'][-1]) == ($((npages - 1)), 1, 1, 1, True, '!') ## d['pages']"

run pins1 pins "$vmm_pid"
grep -Eq "^  0x$(printf %x "$off") *-0x400000 +4 KiB +shared +pinned: a GUP pin" "$tmp/pins1.out" &&
	grep -Eq "mapped by pid $pin_pid \(gmemctl-test-p.*1 of 1 pages present" "$tmp/pins1.out" &&
	ok "pins: the pinned page, reason pinned, mapped by the helper (pid $pin_pid), present in its page tables" ||
	bad "pins: the pinned page or its holder is missing"
run pins1j -j pins "$vmm_pid"
b="d['files'][0]['blocking']"
jcheck "$tmp/pins1j.out" \
	"pins -j: blocking_pages 1 at $off, reason pinned, mapped_by the helper with 1 page present" \
	"d['files'][0]['blocking_pages'] == 1 and ${b}[0]['start'] == $off and ${b}[0]['reason'] == 'pinned' and ${b}[0]['state'] == 'shared' and any(m['pid'] == $pin_pid and m['present_pages'] == 1 for m in ${b}[0]['mapped_by']) ## $b"
run pinsall pins
grep -q "^guest_memfd $vmm_pid:$gmem_fd (ino $ino)" "$tmp/pinsall.out" &&
	ok "pins without PID: finds the VMM's file" || bad "pins without PID"

# The helper converts the page to private: refused; then it unpins.
kill -USR1 "$pin_pid"
wait "$pin_pid"
rc=$?
pin_pid=
tail -n 2 "$tmp/pin.out" | indent
[ "$rc" = 0 ] && grep -q '^refused EAGAIN' "$tmp/pin.out" && grep -q '^restored private' "$tmp/pin.out" &&
	ok "gmemctl-test-pin: conversion refused while pinned, page restored to private" ||
	bad "gmemctl-test-pin exited $rc"

wait "$watch1_pid"
rc=$?
echo "== gmemctl -j watch --events denied --count 1 (system-wide; exit $rc)"
indent "$tmp/watch1.json"
[ "$rc" = 0 ] && ok "watch --count 1: ended by itself after one event, exit 0" ||
	bad "watch --count 1: exit $rc"
jcheck "$tmp/watch1.json" \
	"watch --events denied --count 1: the helper's denial only, reason pinned, stopped_by 'count'" \
	"[(e['event'], e['pid'], e['ino'], e['index'], e['reason']) for e in d['events']] == [('denied', $helper, $ino, $idx, 'pinned')] and d['stopped_by'] == 'count' and d['count'] == 1 ## d"

echo "== gmemctl -j pins $vmm_pid --trace 600 (started before the pin; ended with SIGINT now)"
kill -INT "$trace_pid"
wait_rc "$trace_pid" "pins --trace"
echo "   exit $rc: $(cat "$tmp/trace.err")"
t="d['files'][0]['trace']"
jcheck "$tmp/trace.json" \
	"pins --trace: the helper (pid $helper) took a long-term pin on page $idx, stack through pin_user_pages from gup_test_ioctl" \
	"any(g['pid'] == $helper and g['kind'] == 'pin' and g['longterm'] and $idx in g['pages'] and any(s.startswith('pin_user_pages') for s in g['stack']) and any(s.startswith('gup_test_ioctl') for s in g['stack']) for g in ${t}['grabs']) ## ${t}['grabs']" \
	"pins --trace: the denial the helper provoked, page $idx, reason pinned, pincount 1" \
	"any(e['pid'] == $helper and e['index'] == $idx and e['reason'] == 'pinned' and e['pincount'] == 1 for e in ${t}['denials']) ## ${t}['denials']" \
	"pins --trace: the helper released its pin; nothing blocks at the end" \
	"any(r['pid'] == $helper and r['kind'] == 'pin' for r in ${t}['releases']) and d['files'][0]['blocking_pages'] == 0 ## ${t}['releases']" \
	"pins --trace: SIGINT ended the trace early, with its report" \
	"${t}['seconds'] < 600 ## ${t}['seconds']" \
	"pins --trace: its grabs, for the log" \
	"print('\n'.join('    grab: pid %d tid %d %s: %s x%d, pages %s, stack: %s' % (g['pid'], g['tid'], g['comm'], g['kind'], g['count'], g['pages'], ' < '.join(g['stack'][:8])) for g in ${t}['grabs'])) or True"

# ---- e) the VMM resumed: its deny round, latency, watch ------------------

"$G" latency "$vmm_pid" > "$tmp/lat.out" 2> "$tmp/lat.err" &
lat_pid=$!
bg_pids+=("$lat_pid")
"$G" -j latency "$vmm_pid" --interval 1 > "$tmp/latj.out" 2> "$tmp/latj.err" &
latj_pid=$!
bg_pids+=("$latj_pid")
"$G" watch "$vmm_pid" > "$tmp/watch2.out" 2> "$tmp/watch2.err" &
watch2_pid=$!
bg_pids+=("$watch2_pid")
"$G" pins "$vmm_pid" --trace 600 > "$tmp/trace2.out" 2> "$tmp/trace2.err" &
trace2_pid=$!
bg_pids+=("$trace2_pid")
wait_for "$tmp/lat.err" 'tracing' 120 "$lat_pid" &&
	wait_for "$tmp/latj.err" 'tracing' 120 "$latj_pid" &&
	wait_for "$tmp/watch2.err" 'watching' 120 "$watch2_pid" &&
	wait_for "$tmp/trace2.err" 'tracing' 120 "$trace2_pid" ||
	bad "latency, watch or pins --trace did not start"

echo "== resume gmem-vmm: 3 rounds, round 2 pins a page (gup_test) and is refused once"
vmm_pid_old=$vmm_pid
vmm_resume
rc=$?
grep 'summary' "$tmp/vmm.out" | indent
[ "$rc" = 0 ] && ok "gmem-vmm exited 0" || bad "gmem-vmm exited $rc"

for p in "$lat_pid" "$latj_pid" "$watch2_pid"; do
	wait_exit "$p" 30
done
reap lat "$lat_pid" "latency $vmm_pid_old"
[ "$rc" = 0 ] && grep -q "^gmemctl: pid $vmm_pid_old exited" "$tmp/lat.err" &&
	ok "latency: ended by itself when the VMM exited, exit 0" ||
	bad "latency did not end with the VMM (exit $rc)"
grep -Eq '^to shared, size <=64K: 3 conversions, avg' "$tmp/lat.out" &&
	grep -Eq '^to private, size <=64K: 3 conversions, avg .*; 1 failed \(1 refused: EAGAIN\)' "$tmp/lat.out" &&
	grep -Eq '^ +[0-9]+ -> [0-9]+ +: [0-9]+ +\|\*+ *\|$' "$tmp/lat.out" &&
	ok "latency: 3 to shared and 3 to private (16 KiB), 1 refused, with histograms, as the VMM's summary counts" ||
	bad "latency: counts differ from the VMM's 3 + 3 conversions and 1 refusal"
wait_rc "$latj_pid" "latency -j"
h="[h for i in d['intervals'] for h in i['histograms']]"
jcheck "$tmp/latj.out" \
	"latency -j --interval 1: 3 to shared, 3 to private, 1 refused, over the intervals; buckets add up; stopped_by 'target exited'" \
	"(sum(h['count'] for h in $h if h['to'] == 'shared'), sum(h['count'] for h in $h if h['to'] == 'private'), sum(h['refused'] for h in $h), all(sum(b['count'] for b in h['buckets']) == h['count'] for h in $h), d['stopped_by']) == (3, 3, 1, True, 'target exited') ## [(h['to'], h['count'], h['refused']) for h in $h], d['stopped_by']" \
	"latency -j: intervals numbered from 1, each about 1 s" \
	"[i['interval'] for i in d['intervals']] == list(range(1, len(d['intervals']) + 1)) and all(i['seconds'] < 1.5 for i in d['intervals']) ## [(i['interval'], i['seconds']) for i in d['intervals']]"

wait "$watch2_pid"
rc=$?
echo "== gmemctl watch $vmm_pid_old (exit $rc)"
indent "$tmp/watch2.out" | grep -v kvm_fault | head -n 40
echo "    ... $(grep -c kvm_fault "$tmp/watch2.out") kvm_fault lines"
sed 's/^/    stderr: /' "$tmp/watch2.err"
[ "$rc" = 0 ] && grep -q "^gmemctl: pid $vmm_pid_old exited" "$tmp/watch2.err" &&
	ok "watch: ended by itself when the VMM exited, exit 0" || bad "watch did not end with the VMM"
grep -Eq "^[0-9.]+ +$vmm_pid_old +gmem-vmm +denied +$ino +page 0x[0-9a-f]+ pinned: a GUP pin holds the page" "$tmp/watch2.out" &&
	grep -Eq "^[0-9.]+ +$vmm_pid_old +gmem-vmm +convert +$ino +to private 0x[0-9a-f]+\+4 \(16 KiB\) EAGAIN at 0x" "$tmp/watch2.out" &&
	ok "watch: the VMM's denial, reason pinned in words, and its refused conversion" ||
	bad "watch: no denial with reason pinned from the VMM"
[ "$(grep -c ' convert ' "$tmp/watch2.out")" = 7 ] &&
	ok "watch: 7 conversions (3 + 3 and the refused one)" ||
	bad "watch: $(grep -c ' convert ' "$tmp/watch2.out") conversions, not 7"

echo "== gmemctl -j watch (started before the pin)"
wait_rc "$watch_pid" "watch -j"
ev="d['events']"
jcheck "$tmp/watch.json" \
	"watch -j: the helper's denial (pinned, page $idx) and refused conversion, the VMM's denial; stopped_by 'target exited'" \
	"any(e['event'] == 'denied' and e['pid'] == $helper and e['reason'] == 'pinned' and e['index'] == $idx for e in $ev) and any(e['event'] == 'convert' and e['pid'] == $helper and e['result'] == 'EAGAIN' and e['error_index'] == $idx for e in $ev) and any(e['event'] == 'denied' and e['pid'] == $vmm_pid_old and e['reason'] == 'pinned' for e in $ev) and d['stopped_by'] == 'target exited' and d['count'] == len($ev) ## [(e['event'], e['pid'], e.get('reason')) for e in $ev if e['event'] != 'kvm_fault']" \
	"watch -j: conversions, denials, host and KVM faults" \
	"sorted(set(e['event'] for e in $ev)) == ['convert', 'denied', 'host_fault', 'kvm_fault'] ## sorted(set(e['event'] for e in $ev))"

kill -INT "$trace2_pid"
reap trace2 "$trace2_pid" "pins $vmm_pid_old --trace 600 (the VMM exits meanwhile; SIGINT after)"
[ "$rc" = 0 ] && grep -Eq "^  pid $vmm_pid_old tid [0-9]+ \(gmem-vmm\) took 1 long-term pin on page 0x" "$tmp/trace2.out" &&
	grep -q "^  denied: conversion by pid $vmm_pid_old (gmem-vmm): page 0x[0-9a-f]* pinned" "$tmp/trace2.out" &&
	grep -q "^gmemctl: warning: pid $vmm_pid_old exited meanwhile: its file as it was" "$tmp/trace2.err" &&
	ok "pins --trace: the VMM's own gup_test pin with its stack and its denial; the VMM's exit noted" ||
	bad "pins --trace over the VMM's run"

# ---- f) errors ------------------------------------------------------------------

run gone layout "$vmm_pid_old"
expect_error gone 5 "pid $vmm_pid_old: no such process"
run gonej -j layout "$vmm_pid_old"
jcheck "$tmp/gonej.out" "layout -j of a gone VMM: a JSON error document, exit_status 5" \
	"d == {'error': 'pid $vmm_pid_old: no such process', 'exit_status': 5} ## d"
run listgone -j list
jcheck "$tmp/listgone.out" "list: the VMM's file is gone with it" "$e == [] ## $e"
run notvmm layout $$
expect_error notvmm 5 "pid $$: no guest_memfd \(is it a KVM VMM\?\)"
run notvmm2 pins 1
expect_error notvmm2 5 "pid 1: no guest_memfd \(is it a KVM VMM\?\)"
run nopid layout 4194304
expect_error nopid 5 "pid 4194304: no such process"
run badpid layout 12x
expect_error badpid 2 "'12x' is not PID or PID:FD"
run notgmem layout "$$:0"
expect_error notgmem 5 "pid $$: fd 0 is not a guest_memfd"

# As user nobody, against a VMM of root's, paused again.
if vmm_start "$tmp/vmm2.out" --mode in-place --mem 1 --rounds 1 --pause; then
	for c in "layout $vmm_pid" "pins $vmm_pid" "list" "watch" "latency" "-j list"; do
		name=nobody_${c// /_}
		# shellcheck disable=SC2086
		"${NOBODY[@]}" "$G" $c > "$tmp/$name.out" 2> "$tmp/$name.err"
		rc=$?
		echo "== as nobody: gmemctl $c (exit $rc)"
		sed 's/^/    stderr: /' "$tmp/$name.err"
		case $c in
		layout*) expect_error "$name" 4 "pid $vmm_pid: cannot read /proc/$vmm_pid/fd: Permission denied \(needs ptrace access" ;;
		pins*) expect_error "$name" 4 "pid $vmm_pid: cannot read /proc/$vmm_pid/fd: Permission denied" ;;
		"-j list")
			jcheck "$tmp/$name.out" "as nobody: -j list: a JSON error document, exit_status 4" \
				"d['exit_status'] == 4 and 'CAP_BPF' in d['error'] ## d" ;;
		*) expect_error "$name" 4 "needs CAP_BPF and CAP_PERFMON \(or CAP_SYS_ADMIN\): run as root" ;;
		esac
	done
	vmm_resume || bad "the second gmem-vmm failed"
else
	bad "the second gmem-vmm did not get ready"
fi

finish gmemctl
