#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Names are data, not positions: the names our tools show for the values
# of the kernel's gmem enums are the kernel's own, read from the running
# kernel, so that a value the kernel adds shows up by name.
#
#  a) the rule: for each enum (gmem_deny_reason, gmem_host_fault_result,
#     gmem_migrate_result, gmem_alloc_result, gmem_split_reason,
#     gmem_merge_result), the names the kernel's tracepoints print
#     (__print_symbolic in /sys/kernel/tracing/events/gmem/*/format) are
#     its enumerators' in BTF after the prefix, lower-cased, value for
#     value: what gmemctl derives from BTF is what the kernel prints;
#  b) gmemctl (tools/gmemctl/tests/names_test, built by make tools) names
#     every value of the running kernel's enums from /sys/kernel/btf, and
#     has words for each;
#  c) the name tables of the bpftrace scripts (tools/bpf/gmem/*.bt, which
#     cannot read enum names) agree with the running kernel's BTF
#     (tools/bpf/gmem/check-bt-names.sh).
#
# Exit 0 when every check passes, 1 when one fails, 4 (skip) when the
# kernel has no BTF or no gmem events.

set -u
. "$(dirname "$0")/lib.sh"

EVENTS=/sys/kernel/tracing/events/gmem
NAMES_TEST=$BIN/gmemctl-obj/names_test
TOOLS=${TOOLS:-tools/bpf/gmem}

need_exec "$NAMES_TEST" "$TOOLS/check-bt-names.sh"
if [ ! -r /sys/kernel/btf/vmlinux ] || [ ! -d "$EVENTS" ]; then
	skip_test "no kernel BTF or no gmem events"
fi
if ! command -v bpftool >/dev/null || ! command -v python3 >/dev/null; then
	skip_test "no bpftool or python3"
fi
kvm_btf=
[ -r /sys/kernel/btf/kvm ] && kvm_btf=/sys/kernel/btf/kvm

# a) BTF's enumerators (check-bt-names.sh reads them, from vmlinux's BTF
# and kvm's) against the tracepoints' symbolic names: "ENUM VALUE NAME"
raw=$(for e in gmem_deny_reason gmem_host_fault_result gmem_migrate_result \
	gmem_alloc_result gmem_split_reason gmem_merge_result; do
	"$TOOLS/check-bt-names.sh" --enumerators "$e" | sed "s/^/$e /"
done)
read -r -d '' compare <<'PYEOF'
import glob, re, sys

enums = {
    'gmem_deny_reason': ('GMEM_DENY_', 'gmem_convert_denied', 'reason'),
    'gmem_host_fault_result': ('GMEM_HOST_FAULT_', 'gmem_host_fault', 'result'),
    'gmem_migrate_result': ('GMEM_MIGRATE_', 'gmem_migrate', 'result'),
    'gmem_alloc_result': ('GMEM_ALLOC_', 'gmem_alloc', 'result'),
    'gmem_split_reason': ('GMEM_SPLIT_', 'gmem_split', 'reason'),
    'gmem_merge_result': ('GMEM_MERGE_', 'gmem_merge', 'result'),
}
btf = {}
for line in sys.stdin:
    enum, val, name = line.split()
    btf.setdefault(enum, {})[int(val)] = name
bad = 0
for enum, (prefix, event, field) in enums.items():
    vals = btf.get(enum)
    if not vals:
        print(f'FAILED: no enum {enum} in the kernel\'s BTF')
        bad = 1
        continue
    fmt = open(f'{sys.argv[1]}/{event}/format').read()
    m = re.search(r'__print_symbolic\(REC->' + field + r',(.*?)\)', fmt, re.S)
    if not m:
        print(f'FAILED: {event}: no __print_symbolic of {field} in its print fmt')
        bad = 1
        continue
    kernel = {}
    # { 1, "pinned" } once the kernel resolved the enum, else
    # { GMEM_DENY_PINNED, "pinned" }
    for v, name in re.findall(r'\{\s*([\w-]+)\s*,\s*"([^"]*)"\s*\}', m.group(1)):
        if re.fullmatch(r'-?\d+', v):
            key = int(v)
        else:
            key = next((k for k, e in vals.items() if e == v), v)
        kernel[key] = name
    ours = {v: e[len(prefix):].lower() for v, e in vals.items() if e.startswith(prefix)}
    if kernel != ours:
        print(f'FAILED: {enum}: the kernel prints {kernel}, BTF gives {ours}')
        bad = 1
    else:
        print(f'ok: {enum}: {len(ours)} values, {event} prints the BTF names: '
              + ', '.join(ours[v] for v in sorted(ours)))
sys.exit(bad)
PYEOF
out=$(python3 -c "$compare" "$EVENTS" <<<"$raw" 2>&1)
rc=$?
echo "$out" | indent
if [ $rc = 0 ]; then
	ok "the tracepoints print the names of the enums' BTF (prefix off, lower case)"
else
	bad "the tracepoints' names and the enums' BTF differ"
fi

# b) gmemctl names every value of the running kernel's enums
out=$("$NAMES_TEST" /sys/kernel/btf/vmlinux ${kvm_btf:+"$kvm_btf"} 2>&1)
rc=$?
echo "$out" | grep -v '^ok ' | indent
if [ $rc = 0 ]; then
	ok "gmemctl names every value of the kernel's enums, with words ($(grep -c '^ok ' <<<"$out") checks)"
else
	bad "gmemctl: a value of the kernel's enums without a name or words"
fi

# c) the bpftrace scripts' tables
out=$("$TOOLS/check-bt-names.sh" 2>&1)
rc=$?
echo "$out" | indent
if [ $rc = 0 ]; then
	ok "the bpftrace scripts' name tables agree with the kernel's BTF"
else
	bad "a bpftrace script's name table disagrees with the kernel's BTF"
fi

finish gmem_tool_names
