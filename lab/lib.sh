# SPDX-License-Identifier: GPL-2.0
# Shared settings for the lab scripts.  Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
TREE=$BUILD/linux
PATCHES=${PATCHES:-$TOP/patches}
BASE_FILE=${BASE_FILE:-$TOP/lab/base}

# The pinned base (lab/base): package name and exact Debian version.
# BASE_VERSION may be overridden from the environment (lab/rebase.sh does).
base_field()
{
	sed -n "s/^$1=//p" "$BASE_FILE" 2>/dev/null | tail -n 1
}
BASE_PKG=$(base_field package)
BASE_PKG=${BASE_PKG:-linux-source-6.12}
BASE_VERSION=${BASE_VERSION:-$(base_field version)}
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

# kernel object directory for a flavour (debug: make check/run; bench).
# It is a link to build/linux/obj-FLAVOUR: an object directory directly
# below the source tree makes Kbuild use srctree "..", so that no compile
# line carries an absolute path and a clone at another path hits the same
# ccache entries (lab/kbuild.sh).
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

# installed_version PKG: the installed version of a Debian package, or ""
installed_version()
{
	local st

	st=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null) || true
	case "$st" in
	"installed "*) echo "${st#installed }" ;;
	esac
}

# archive_versions PKG: the versions of PKG the configured archive serves,
# newest first (from the local package lists: run apt-get update first).
archive_versions()
{
	apt-cache madison "$1" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
		sort -u | sort -r -V
}

# upstream_version DEBIAN-VERSION: 6.12.118-1~deb12u1 -> 6.12.118
upstream_version()
{
	echo "${1%%-*}"
}

# verify_base_tarball VERSION: the installed base package is VERSION and the
# tarball under /usr/src is the one that package shipped (dpkg's md5sums).
verify_base_tarball()
{
	local want=$1 have sums sum

	have=$(installed_version "$BASE_PKG")
	[ "$have" = "$want" ] ||
		die "$BASE_PKG ${have:-(not installed)} is installed, the base is $want: run make deps"
	[ -r "$BASE_TARBALL" ] || die "$BASE_TARBALL missing although $BASE_PKG $have is installed"
	sums=/var/lib/dpkg/info/$BASE_PKG.md5sums
	if [ -r "$sums" ]; then
		sum=$(awk -v f="${BASE_TARBALL#/}" '$2 == f { print $1 }' "$sums")
		[ -n "$sum" ] && [ "$(md5sum < "$BASE_TARBALL" | cut -d' ' -f1)" = "$sum" ] ||
			die "$BASE_TARBALL is not the file $BASE_PKG $have shipped (md5sum differs): reinstall it (apt-get install --reinstall $BASE_PKG=$have)"
	fi
}

sudo_cmd()
{
	[ "$(id -u)" = 0 ] || echo sudo
}
