#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the KVM selftests that lab/tests.list and the lists of the other
# boots, lab/tests-*.list, name ($KSFT/...) into build/selftests/kvm,
# against the uAPI headers of the debug kernel build.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

hdr=$(objdir "${KERNEL:-debug}")/usr/include
[ -r "$hdr/linux/kvm.h" ] || die "no kernel headers at $hdr: run make kernel"
out=$BUILD/selftests/kvm
mkdir -p "$out"
shopt -s nullglob
targets=$(sed -n 's#^[a-z0-9_]*[[:space:]]*\$KSFT/\([^[:space:]]*\).*#'"$out"'/\1#p' \
	"$TOP/lab/tests.list" "$TOP"/lab/tests-*.list | sort -u)
echo "  SELFTESTS $(echo "$targets" | wc -w) KVM selftests"
make -s -C "$TREE/tools/testing/selftests/kvm" ARCH=x86 OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdr" -j"$(($(nproc) + 1))" $targets
