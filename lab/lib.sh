# SPDX-License-Identifier: GPL-2.0
# Shared settings for the lab scripts.  Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
TREE=$BUILD/linux
PATCHES=${PATCHES:-$TOP/patches}
BASE_FILE=${BASE_FILE:-$TOP/lab/base}

# The pinned base (lab/base): package name and exact Debian version.
# BASE_VERSION and BASE_FILE may be overridden from the environment (tests).
base_field()
{
	sed -n "s/^$1=//p" "$BASE_FILE" 2>/dev/null | tail -n 1
}
BASE_PKG=$(base_field package)
BASE_PKG=${BASE_PKG:-linux-source-6.12}
BASE_VERSION=${BASE_VERSION:-$(base_field version)}
BASE_TARBALL=/usr/src/$BASE_PKG.tar.xz

# Directories of the repository that mirror kernel paths: every file below
# them is linked into the assembled tree at the same path.  Only our tools:
# every kernel file, new ones included, comes from a patch of the series.
OVERLAY_DIRS="tools/gmemctl tools/bpf/gmem"

die()
{
	echo "${0##*/}: $*" >&2
	exit 1
}

note()
{
	echo "  ${0##*/}: $*"
}

# ---- TAP: the one reporter of lab/host-tests.sh, lab/guest-tests.sh and
# the tests' lab/tests/lib.sh.  Numbered test lines, "ok N WHAT", "ok N
# WHAT # SKIP WHY", "not ok N WHAT", and the summary line that lab/check.sh
# reads, "N passed, N failed, N skipped".  (Counters kept if this file is
# sourced twice, as lab/demo.sh does through lab/tests/lib.sh.)
tap_n=${tap_n:-0}
tap_passed=${tap_passed:-0}
tap_failed=${tap_failed:-0}
tap_skipped=${tap_skipped:-0}

# tap_ok WHAT
tap_ok()
{
	tap_n=$((tap_n + 1)) tap_passed=$((tap_passed + 1))
	echo "ok $tap_n $*"
}

# tap_not_ok WHAT
tap_not_ok()
{
	tap_n=$((tap_n + 1)) tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n $*"
}

# tap_skip WHAT WHY
tap_skip()
{
	tap_n=$((tap_n + 1)) tap_skipped=$((tap_skipped + 1))
	echo "ok $tap_n $1 # SKIP $2"
}

# tap_summary: "N passed, N failed, N skipped"
tap_summary()
{
	echo "$tap_passed passed, $tap_failed failed, $tap_skipped skipped"
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
		sort -u | sort_debian_versions
}

# archive_serves PKG VERSION: whether the archive serves PKG at VERSION.
# The list is read whole (no grep -q on the pipe: under pipefail, grep
# leaving at the first match makes the writer fail with SIGPIPE, and the
# pinned version is usually the first line).
archive_serves()
{
	local versions

	versions=$(archive_versions "$1")
	grep -qxF -- "$2" <<<"$versions"
}

# sort_debian_versions: the versions on stdin, newest first, in Debian's
# order (epochs and '~' included)
sort_debian_versions()
{
	local -a vs=()
	local v i j t

	mapfile -t vs
	for ((i = 1; i < ${#vs[@]}; i++)); do
		for ((j = i; j > 0; j--)); do
			dpkg --compare-versions "${vs[j]}" gt "${vs[j - 1]}" || break
			t=${vs[j]} vs[j]=${vs[j - 1]} vs[j - 1]=$t
		done
	done
	[ ${#vs[@]} = 0 ] || printf '%s\n' "${vs[@]}"
}

# upstream_version DEBIAN-VERSION: 6.12.118-1~deb12u1 -> 6.12.118 (an epoch,
# 1:..., is dropped)
upstream_version()
{
	local v=${1#*:}

	echo "${v%-*}"
}

# version_tag DEBIAN-VERSION: the git tag of a base in build/linux (refs
# cannot hold '~' or ':')
version_tag()
{
	echo "base-$1" | tr '~:' '_-'
}

# sudo_cmd: the prefix that runs a command as root: nothing for root, sudo
# for a user at a terminal, sudo -n (never waits for a password) otherwise
sudo_cmd()
{
	[ "$(id -u)" != 0 ] || return 0
	command -v sudo >/dev/null || die "needs root, or sudo, to run apt-get"
	if [ -t 0 ]; then
		echo sudo
	else
		echo sudo -n
	fi
}

# Base tarballs that are not installed are downloaded once into BASE_CACHE,
# by exact version (apt verifies the .deb against the archive's signed
# index); tests put tarballs of their own there.
BASE_CACHE=${BASE_CACHE:-$TOP/build/base-cache}

# base_cache_file VERSION: where BASE_CACHE keeps the tarball of VERSION
base_cache_file()
{
	echo "$BASE_CACHE/$BASE_PKG-$(echo "$1" | tr ':~' '__').tar.xz"
}

# base_tarball VERSION: the path of the base package's tarball at VERSION:
# the installed one (checked against dpkg's md5sums), one in BASE_CACHE, or
# one downloaded there (at most 10 minutes).  Fails, printing nothing, if
# none can be had.
base_tarball()
{
	local v=$1 t tmp sums sum

	if [ "$(installed_version "$BASE_PKG")" = "$v" ] && [ -r "$BASE_TARBALL" ]; then
		sums=/var/lib/dpkg/info/$BASE_PKG.md5sums
		if [ -r "$sums" ]; then
			sum=$(awk -v f="${BASE_TARBALL#/}" '$2 == f { print $1 }' "$sums")
			[ -n "$sum" ] && [ "$(md5sum < "$BASE_TARBALL" | cut -d' ' -f1)" = "$sum" ] ||
				die "$BASE_TARBALL is not the file $BASE_PKG $v shipped (md5sum differs): reinstall it (apt-get install --reinstall $BASE_PKG=$v)"
		fi
		echo "$BASE_TARBALL"
		return 0
	fi
	t=$(base_cache_file "$v")
	if [ ! -s "$t" ]; then
		mkdir -p "$BASE_CACHE"
		tmp=$(mktemp -d "$BASE_CACHE/dl.XXXXXX")
		if (cd "$tmp" && timeout 600 apt-get download -q=2 "$BASE_PKG=$v" >/dev/null 2>&1) &&
		   dpkg-deb --fsys-tarfile "$tmp"/*.deb |
		   tar -xO "./usr/src/$BASE_PKG.tar.xz" > "$tmp/t.tar.xz" 2>/dev/null &&
		   [ -s "$tmp/t.tar.xz" ]; then
			mv "$tmp/t.tar.xz" "$t"
		fi
		rm -rf "$tmp"
	fi
	[ -s "$t" ] || return 1
	echo "$t"
}

# pending_rebase: the version a make rebase that stopped at a conflict is
# moving build/linux to (its new base is among the commits above "base"),
# or nothing
pending_rebase()
{
	[ -d "$TREE/.git" ] || return 0
	{ git -C "$TREE" log --format=%s base..HEAD 2>/dev/null || true; } |
		sed -n "s/^base: Debian $BASE_PKG //p" | head -n 1
}
