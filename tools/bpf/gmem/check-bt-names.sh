#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-bt-names.sh [VMLINUX [KVM_KO]]: the name tables of the bpftrace
# scripts here agree with the kernel's enums.
#
# bpftrace 0.17 cannot print the name of an enum's value, so a script that
# shows deny reasons or fault results by name keeps a table in its BEGIN
# block, announced by a line
#
#     // gmem-names: @MAP ENUM PREFIX [WORD]
#
# meaning: @MAP[value] = "[WORD ]name" for every enumerator PREFIXNAME of the
# kernel's enum ENUM, name being NAME lower-cased (as the kernel's
# tracepoints print it).  This checks every such table against the BTF of
# VMLINUX (and of KVM_KO, KVM being a module), or of the running kernel
# (/sys/kernel/btf) without arguments: a reason added to the kernel and not
# to the scripts fails here, naming the line to add.
#
# Prints TAP; exit 0 when every table agrees, 1 otherwise.

set -u
dir=$(dirname "$0")

if [ $# -ge 1 ]; then
	btf=(btf dump file)
	if [ -n "${2:-}" ]; then
		btf+=("$2" -B "$1")
	else
		btf+=("$1")
	fi
elif [ -e /sys/kernel/btf/kvm ]; then
	btf=(btf dump file /sys/kernel/btf/kvm -B /sys/kernel/btf/vmlinux)
else
	btf=(btf dump file /sys/kernel/btf/vmlinux)
fi
raw=$(bpftool "${btf[@]}" format raw) || { echo "not ok 1 - reading BTF (${btf[*]})"; exit 1; }

# enumerators ENUM: "VALUE NAME" per enumerator of ENUM
enumerators()
{
	awk -v want="'$1'" '
		/^\[/ { inside = ($2 == "ENUM" || $2 == "ENUM64") && $3 == want; next }
		inside { gsub(/'\''/, "", $1); sub(/^val=/, "", $2); print $2, $1 }
	' <<<"$raw"
}

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
