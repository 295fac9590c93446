#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble build/linux: Debian's linux-source-6.12 at the version lab/base
# pins (the installed package's tarball, verified against dpkg's checksums,
# or that version downloaded from the archive) as commit "base", the
# series in patches/ applied on top with git am -3, and our tools (the
# kernel-shaped tools/ directories of this repository, which are not part
# of the series) symlinked into place.
#
# Idempotent: if the tree already carries exactly the current series it only
# refreshes the overlay links.  It never discards work in build/linux: if the
# tree has uncommitted changes, or commits that were not exported with
# `make patches`, it refuses unless FORCE=1 is set.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$BUILD"
version=$BASE_VERSION
[ -n "$version" ] || die "lab/base names no version"

git_tree()
{
	git -C "$TREE" -c user.name=gmem-lab -c user.email=lab@localhost \
		-c advice.detachedHead=false "$@"
}

# --- 1. the base -----------------------------------------------------------
# A make rebase that stopped at a conflict is finished by make rebase.
pending=$(pending_rebase)
[ -z "$pending" ] || [ "${FORCE:-0}" = 1 ] ||
	die "build/linux holds a make rebase to $BASE_PKG $pending that is not finished: finish it (make rebase BASE=$pending), or drop it (FORCE=1 make tree)"

# A tree on another base (lab/base moved: a pull, or make rebase elsewhere)
# is rebuilt, unless it holds work that was not exported.
rebuild=0
if [ -d "$TREE/.git" ] && [ "$(cat "$TREE/.git/gmem-base" 2>/dev/null)" != "$version" ]; then
	old=$(cat "$TREE/.git/gmem-base" 2>/dev/null || echo unknown)
	if [ "${FORCE:-0}" != 1 ]; then
		recorded=$(cut -d' ' -f2 "$TREE/.git/gmem-series" 2>/dev/null || true)
		[ -z "$(git_tree status --porcelain)" ] &&
			[ -z "$(git_tree stash list)" ] &&
			[ "$(git_tree rev-parse HEAD)" = "$recorded" ] ||
			die "build/linux holds base $old with work that is not in patches/ (commits, edits, untracked files or stashes), lab/base pins $version; export it first (make patches), or rerun with FORCE=1 to discard it"
	fi
	rebuild=1
fi

if [ ! -d "$TREE/.git" ] || [ $rebuild = 1 ]; then
	tarball=$(base_tarball "$version") ||
		die "cannot get $BASE_PKG $version, the base lab/base pins: it is not installed (make deps) and apt-get download failed"
	if [ $rebuild = 1 ]; then
		echo "  TREE    base $old -> $version (lab/base): rebuilding build/linux"
		rm -rf "$TREE"
	fi
	echo "  TREE    unpacking $BASE_PKG $version"
	rm -rf "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	tar -xJf "$tarball" -C "$TREE.tmp" --strip-components=1
	kver=$(make -s -C "$TREE.tmp" kernelversion 2>/dev/null || true)
	[ "$kver" = "$(upstream_version "$version")" ] ||
		die "the tarball of $BASE_PKG $version holds kernel ${kver:-(none)}, not $(upstream_version "$version")"
	git -C "$TREE.tmp" init -q -b stock
	# Debian's tarball carries the kernel's .gitignore files; the base
	# commit must hold every source file regardless.
	git -C "$TREE.tmp" add -A -f .
	git -C "$TREE.tmp" -c user.name=gmem-lab -c user.email=lab@localhost \
		commit -q -m "base: Debian $BASE_PKG $version"
	git -C "$TREE.tmp" tag base
	git -C "$TREE.tmp" tag "$(version_tag "$version")"
	git -C "$TREE.tmp" checkout -q -b gmem
	echo "$version" > "$TREE.tmp/.git/gmem-base"
	mv "$TREE.tmp" "$TREE"
fi

kver=$(make -s -C "$TREE" kernelversion 2>/dev/null)
[ "$kver" = "$(upstream_version "$version")" ] ||
	die "build/linux is kernel $kver, but $BASE_PKG $version is $(upstream_version "$version"): FORCE=1 make tree rebuilds it"
printf '%s %s (kernel %s)\n' "$BASE_PKG" "$version" "$kver" > "$BUILD/BASE-VERSION"
echo "  BASE    $(cat "$BUILD/BASE-VERSION")"

# --- 2. the series ---------------------------------------------------------
want=$(series_hash)
have=$(cut -d' ' -f1 "$TREE/.git/gmem-series" 2>/dev/null || true)
have_head=$(cut -d' ' -f2 "$TREE/.git/gmem-series" 2>/dev/null || true)
head=$(git_tree rev-parse HEAD)

if [ "$want" != "$have" ] || [ "$head" != "$have_head" ]; then
	if [ "${FORCE:-0}" != 1 ]; then
		dirty=$(git_tree status --porcelain --untracked-files=no)
		[ -z "$dirty" ] ||
			die "build/linux has uncommitted changes:
$dirty
commit them and run 'make patches' to keep them, or rerun with FORCE=1 to discard them"
		if [ -n "$have_head" ] && [ "$head" != "$have_head" ]; then
			die "build/linux has commits that are not in patches/ (HEAD $head);
run 'make patches' to export them, or rerun with FORCE=1 to discard them"
		fi
	fi
	git_tree am --abort >/dev/null 2>&1 || true
	git_tree rebase --abort >/dev/null 2>&1 || true
	git_tree checkout -q -f gmem
	git_tree reset -q --hard base
	# The links of step 3 come back below; one at a path where a patch now
	# adds a file (a file that moved from the repository into the series)
	# would stop git am.
	while IFS= read -r rel; do
		rel=${rel#/}
		[ ! -L "$TREE/$rel" ] || rm -f "$TREE/$rel"
	done < <(cat "$TREE/.git/info/exclude" 2>/dev/null || true)
	n=0
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		[ -r "$PATCHES/$p" ] || die "patches/series names $p, which does not exist"
		if ! out=$(git_tree am -q -3 "$PATCHES/$p" 2>&1); then
			files=$(git_tree diff --name-only --diff-filter=U 2>/dev/null | tr '\n' ' ')
			[ -n "$files" ] || files=$(echo "$out" | sed -n 's/^error: patch failed: \([^:]*\):.*/\1/p; s/^error: \([^:]*\): does not exist in index/\1/p' | sort -u | tr '\n' ' ')
			git_tree am --abort >/dev/null 2>&1 || true
			git_tree reset -q --hard base
			rm -f "$TREE/.git/gmem-series"
			echo "$out" | sed 's/^/    /' >&2
			die "patch patches/$p does not apply to $BASE_PKG $version (files: ${files:-unknown}); fix it or the series"
		fi
		n=$((n + 1))
	done < <(cat "$PATCHES/series" 2>/dev/null || true)
	echo "$want $(git_tree rev-parse HEAD)" > "$TREE/.git/gmem-series"
	echo "  SERIES  $n patches applied"
else
	echo "  SERIES  up to date"
fi

# --- 3. the overlay --------------------------------------------------------
exclude=$TREE/.git/info/exclude
: > "$exclude.new"
links=0
for d in $OVERLAY_DIRS; do
	[ -d "$TOP/$d" ] || continue
	while IFS= read -r -d '' f; do
		rel=${f#"$TOP"/}
		dst=$TREE/$rel
		if [ -L "$dst" ]; then
			[ "$(readlink "$dst")" = "$f" ] || ln -sfn "$f" "$dst"
		elif [ -e "$dst" ]; then
			die "overlay file $rel would replace a file of the base or the series; change base files through patches/"
		else
			mkdir -p "$(dirname "$dst")"
			ln -s "$f" "$dst"
		fi
		echo "/$rel" >> "$exclude.new"
		links=$((links + 1))
	done < <(find "$TOP/$d" -type f -print0)
done
# drop links to overlay files that no longer exist
while IFS= read -r rel; do
	rel=${rel#/}
	if [ -L "$TREE/$rel" ] && [ ! -e "$TREE/$rel" ]; then
		rm -f "$TREE/$rel"
	fi
done < "$exclude"
mv "$exclude.new" "$exclude"
echo "  OVERLAY $links files linked"
