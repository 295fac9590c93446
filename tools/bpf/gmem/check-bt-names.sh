#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-bt-names.sh [VMLINUX [KVM_KO]]: the name tables of the bpftrace
# scripts here agree with the kernel's enums.
# check-bt-names.sh --enumerators ENUM [VMLINUX [KVM_KO]]: print "VALUE NAME"
# for each enumerator of the kernel's enum ENUM (lab/tests/gmem_tool_names.sh
# reads them so); exit 1 if there is no such enum.
#
# bpftrace 0.17 cannot print the name of an enum's value, so a script that
# shows the values of the kernel's gmem enums by name (deny reasons, fault
# results, allocation results, split reasons) keeps a table in its BEGIN
# block, announced by a line
#
#     // gmem-names: @MAP ENUM PREFIX [WORD]
#
# meaning: @MAP[value] = "[WORD ]name" for every enumerator PREFIXNAME of the
# kernel's enum ENUM, name being NAME lower-cased (as the kernel's
# tracepoints print it).  This checks every such table against the BTF of
# VMLINUX (and of KVM_KO, KVM being a module), or of the running kernel
# (/sys/kernel/btf: vmlinux, and kvm when there is one) without arguments:
# a reason added to the kernel and not to the scripts fails here, naming
# the line to add.
#
# Prints TAP; exit 0 when every table agrees, 1 otherwise.

set -u
dir=$(dirname "$0")

want_enum=
if [ "${1:-}" = --enumerators ]; then
	[ $# -ge 2 ] || { echo "usage: $0 --enumerators ENUM [VMLINUX [KVM_KO]]" >&2; exit 2; }
	want_enum=$2
	shift 2
fi

if [ $# -ge 1 ]; then
	vmlinux=$1 kvm=${2:-}
else
	vmlinux=/sys/kernel/btf/vmlinux kvm=
	[ -e /sys/kernel/btf/kvm ] && kvm=/sys/kernel/btf/kvm
fi

# The types of both: a split BTF (kvm.ko's, dumped with -B) holds only its
# own, so the module's come first (they win), then the base's.
read_btf()
{
	if [ -n "$kvm" ]; then
		bpftool btf dump file "$kvm" -B "$vmlinux" format raw || return
	fi
	bpftool btf dump file "$vmlinux" format raw
}
if ! raw=$(read_btf); then
	[ -n "$want_enum" ] && { echo "$0: reading the BTF of $vmlinux${kvm:+ and $kvm} failed" >&2; exit 1; }
	echo "not ok 1 - reading the BTF of $vmlinux${kvm:+ and $kvm}"
	echo "1..1"
	exit 1
fi

# enumerators ENUM: "VALUE NAME" per enumerator of ENUM (its first
# definition: the module's over the base's)
enumerators()
{
	awk -v want="'$1'" '
		/^\[/ {
			if (inside)
				exit
			inside = ($2 == "ENUM" || $2 == "ENUM64") && $3 == want
			next
		}
		inside { gsub(/'\''/, "", $1); sub(/^val=/, "", $2); print $2, $1 }
	' <<<"$raw"
}

if [ -n "$want_enum" ]; then
	list=$(enumerators "$want_enum")
	[ -n "$list" ] || { echo "$0: no enum $want_enum in the BTF of $vmlinux${kvm:+ and $kvm}" >&2; exit 1; }
	echo "$list"
	exit 0
fi

n=0 failed=0
for script in "$dir"/*.bt; do
	while read -r _ _ map enum prefix word; do
		n=$((n + 1))
		what="$(basename "$script"): $map names enum $enum"
		list=$(enumerators "$enum")
		if [ -z "$list" ]; then
			echo "not ok $n - $what"
			echo "# no enum $enum in the kernel's BTF"
			failed=$((failed + 1))
			continue
		fi
		missing=()
		while read -r val name; do
			name=${name#"$prefix"}
			name=${name,,}
			line="${map}[$val] = \"${word:+$word }$name\";"
			grep -qF "$line" "$script" || missing+=("$line")
		done <<<"$list"
		if [ ${#missing[@]} = 0 ]; then
			echo "ok $n - $what ($(wc -l <<<"$list") values)"
		else
			echo "not ok $n - $what"
			printf '# missing in its BEGIN block: %s\n' "${missing[@]}"
			failed=$((failed + 1))
		fi
	done < <(grep -o '// gmem-names: .*' "$script")
done
echo "1..$n"
[ "$n" -gt 0 ] && [ "$failed" = 0 ]
