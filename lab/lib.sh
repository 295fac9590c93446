# SPDX-License-Identifier: GPL-2.0
# Shared settings for the lab scripts.  Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
TREE=$BUILD/linux
PATCHES=${PATCHES:-$TOP/patches}
BASE_PKG=linux-source-6.12
BASE_TARBALL=/usr/src/$BASE_PKG.tar.xz

# Top-level directories of the repository that mirror kernel paths: every
# file below them is linked into the assembled tree at the same path.
OVERLAY_DIRS="arch block Documentation include kernel mm tools virt"

die()
{
	echo "${0##*/}: $*" >&2
	exit 1
}

note()
{
	echo "  ${0##*/}: $*"
}

# kernel object directory for a flavour (debug: make check/run; bench)
objdir()
{
	echo "$BUILD/obj-$1"
}

# identity of the series in patches/: the series file and every patch it names
series_hash()
{
	(cd "$PATCHES" && cat series 2>/dev/null
	 sed -e '/^#/d' -e '/^$/d' series 2>/dev/null | xargs -r cat) |
		sha1sum | cut -d' ' -f1
}

# select_tests LIST [PATTERN...]: the tests of a list file (lab/tests.list
# format), one "NAME COMMAND" line each; with PATTERNs, only those whose
# name matches one of these shell patterns.
select_tests()
{
	local list=$1 tname tcmd p m

	shift
	while read -r tname tcmd; do
		case "$tname" in ''|'#'*) continue ;; esac
		if [ $# -gt 0 ]; then
			m=0
			for p in "$@"; do
				# shellcheck disable=SC2053
				[[ $tname == $p ]] && m=1
			done
			[ $m = 1 ] || continue
		fi
		echo "$tname $tcmd"
	done < "$list"
}
