#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/drift.sh: print the pinned base and, when the archive serves a newer
# version of the base package, a warning that says whether the series still
# applies to it.  make check runs it first; it never fails the run.
#
# The dry run builds nothing and touches neither build/linux nor the
# installed package: in a scratch repository holding only the files the
# series touches, it applies patches/ to their pinned-base versions, puts the
# newer base's versions under them and replays the series with
# `git rebase --onto`, the three-way merge `make rebase` would do.  A base
# that is not installed is downloaded once (build/base-cache/); the verdict
# is kept per pair of versions and series (build/drift/).  DRIFT_NEWER=VERSION stands in for
# the archive's newest and DRIFT_NOCACHE=1 ignores kept verdicts (for tests).

set -uo pipefail
. "$(dirname "$0")/lib.sh"

echo "  BASE    pinned: $BASE_PKG $BASE_VERSION (lab/base)"

# Refresh the package lists when they are more than a day old (a fresh
# machine's make deps just did), so that drift shows within a day.
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
	s=$(sudo_cmd 2>/dev/null || true)
	# shellcheck disable=SC2086	# $s: nothing, sudo, or sudo -n
	timeout 120 $s apt-get update -qq >/dev/null 2>&1 || true
fi

newest=${DRIFT_NEWER:-$(archive_versions "$BASE_PKG" | head -n 1)}
if [ -z "$newest" ]; then
	echo "  warning: cannot tell which $BASE_PKG the archive serves (apt-cache madison $BASE_PKG is empty)"
	exit 0
fi
dpkg --compare-versions "$newest" gt "$BASE_VERSION" || exit 0

drift=$BUILD/drift
mkdir -p "$drift"
key=$(echo "$BASE_VERSION $newest $(series_hash)" | sha1sum | cut -c1-16)
verdict=$drift/verdict-$key

# extract TARBALL DIR FILE...: those files of the tarball into DIR, at
# their paths in the kernel tree (the ones it lacks are left out)
extract()
{
	local tarball=$1 dir=$2 top

	shift 2
	top=$(tar -tJf "$tarball" 2>/dev/null | head -n 1)
	top=${top%%/*}
	mkdir -p "$dir"
	# shellcheck disable=SC2046
	tar -xJf "$tarball" -C "$dir" --strip-components=1 \
		$(for p in "$@"; do echo "$top/$p"; done) 2>/dev/null || true
}

# dry_run PINNED NEWER: the verdict on the series, in one line
dry_run()
{
	local pinned=$1 newer=$2 tmp t_old t_new files p n stopped idx patch

	t_old=$(base_tarball "$pinned") ||
		{ echo "unknown: cannot get $BASE_PKG $pinned (apt-get download failed)"; return; }
	t_new=$(base_tarball "$newer") ||
		{ echo "unknown: cannot get $BASE_PKG $newer (apt-get download failed)"; return; }
	tmp=$(mktemp -d "$drift/run.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN

	# the files of the base that the series changes
	files=$(sed -e '/^#/d' -e '/^$/d' "$PATCHES/series" | while read -r p; do
		sed -n 's|^--- a/||p' "$PATCHES/$p"; done | sort -u)

	g()
	{
		git -C "$tmp/r" -c user.name=gmem-lab -c user.email=lab@localhost \
			-c advice.detachedHead=false "$@"
	}
	# shellcheck disable=SC2086
	extract "$t_old" "$tmp/r" $files
	git init -q -b series "$tmp/r"
	g add -A -f . && g commit -q -m pinned && g tag pinned
	n=0
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		g am -q -3 "$PATCHES/$p" >/dev/null 2>&1 ||
			{ echo "unknown: patches/$p does not apply to the pinned base itself"; return; }
		n=$((n + 1))
	done < "$PATCHES/series"

	g checkout -q -b newer pinned
	g rm -q -r . >/dev/null
	# shellcheck disable=SC2086
	extract "$t_new" "$tmp/r" $files
	g add -A -f . && g commit -q --allow-empty -m newer
	if g rebase -q --onto newer pinned series >/dev/null 2>&1; then
		echo "applies to it (dry run: $n patches replayed three-way, no conflict)"
		return
	fi
	stopped=$(g rev-parse -q --verify REBASE_HEAD 2>/dev/null)
	idx=$(g rev-list --count "pinned..$stopped" 2>/dev/null || echo 0)
	patch=$(sed -e '/^#/d' -e '/^$/d' "$PATCHES/series" | sed -n "${idx}p")
	echo "does not apply to it (dry run, three-way): patches/${patch:-?} conflicts in $(g diff --name-only --diff-filter=U | tr '\n' ' ' | sed 's/ $//')"
}

if [ -s "$verdict" ] && [ "${DRIFT_NOCACHE:-0}" != 1 ]; then
	v=$(cat "$verdict")
else
	v=$(dry_run "$BASE_VERSION" "$newest")
	case "$v" in unknown*) ;; *) echo "$v" > "$verdict" ;; esac
fi
case "$v" in
unknown:*) v="may or may not apply to it (${v#unknown: })" ;;
esac
echo "  warning: the archive serves $BASE_PKG $newest, newer than the pinned $BASE_VERSION; the series $v; move it with: make rebase BASE=$newest"
exit 0
