#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the lab needs from Debian 12's archive (needs root, or sudo).
# The base, $BASE_PKG, is installed at exactly the version lab/base pins
# (upgrading or downgrading whatever is installed); if the archive no longer
# serves that version it stops at once and says how to move the series.
# SKIP_BASE=1 leaves the base alone (make rebase, which may be moving away
# from a version the archive dropped).  Quiet and quick when everything is
# there already.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -n "$BASE_VERSION" ] || die "lab/base names no version"

pkgs="build-essential bc bison flex libelf-dev libssl-dev
dwarves cpio xz-utils kmod rsync git ccache qemu-system-x86
clang llvm libbpf-dev bpftool bpftrace linux-perf libcap-dev libnuma-dev
numactl python3 python3-ply python3-git liburcu-dev"

missing=
for p in $pkgs; do
	[ -n "$(installed_version "$p")" ] || missing="$missing $p"
done
base_have=$(installed_version "$BASE_PKG")
[ "${SKIP_BASE:-0}" != 1 ] || base_have=$BASE_VERSION
[ -n "${missing// /}" ] || [ "$base_have" != "$BASE_VERSION" ] || exit 0

sudo=$(sudo_cmd)
export DEBIAN_FRONTEND=noninteractive
served()
{
	archive_serves "$BASE_PKG" "$BASE_VERSION"
}
# The package lists are refreshed when something is missing from them (a
# failure to refresh shows in what follows).
if [ -n "${missing// /}" ] || ! served; then
	$sudo apt-get update -qq >/dev/null 2>&1 ||
		echo "  DEPS    apt-get update failed; going on with the package lists at hand" >&2
fi
if [ "$base_have" != "$BASE_VERSION" ]; then
	served ||
		die "the archive no longer serves $BASE_PKG $BASE_VERSION, the base lab/base pins (it serves: $(archive_versions "$BASE_PKG" | head -n 4 | tr '\n' ' ')); move the series with: make rebase BASE=<version>"
	echo "  DEPS    $BASE_PKG ${base_have:-(none)} -> $BASE_VERSION (lab/base)"
	missing="$missing $BASE_PKG=$BASE_VERSION"
fi
echo "  DEPS    installing:$missing"
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends --allow-downgrades \
	$missing >/dev/null
