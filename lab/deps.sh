#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the lab needs from Debian 12's archive (needs root, or sudo).
# Quiet and quick when everything is there already.

set -euo pipefail

pkgs="linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev
dwarves cpio xz-utils kmod rsync git ccache qemu-system-x86
clang llvm libbpf-dev bpftool bpftrace linux-perf libcap-dev libnuma-dev
numactl python3 python3-ply python3-git"

missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -n "${missing// /}" ] || exit 0

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "  DEPS    installing: $missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
