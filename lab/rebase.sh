#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/rebase.sh VERSION (make rebase BASE=VERSION): move the series to
# another Debian version of the base package.
#
#  1. build/linux is assembled on the pinned base with the exported series
#     (make tree; it refuses to run over work that was not exported);
#  2. the tarball of VERSION (installed, or downloaded from the archive) is
#     committed in build/linux as a child of the old base (tag
#     base-VERSION), so that both bases' blobs are there;
#  3. the series is replayed onto it with `git rebase --onto`: each patch a
#     real three-way merge against the old base;
#  4. on the first conflict it stops, naming the patch and the files, and
#     leaves the rebase in build/linux to be resolved (git add,
#     git rebase --continue); running it again then finishes;
#  5. when the whole series is replayed, it re-exports patches/ and moves
#     the pin (lab/base) and the tag "base" to VERSION, and names any patch
#     that became empty (the new base has it) and was dropped.
#
# The package itself is installed by the next make deps (make check runs
# it), as for any pin.  A VERSION the archive does not serve fails at once,
# in one line.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

new=${1:-}
[ -n "$new" ] || die "usage: make rebase BASE=<Debian version of $BASE_PKG> (pinned now: $BASE_VERSION)"
old=$BASE_VERSION
gitdir=$TREE/.git
newtag=$(version_tag "$new")
subjects=$gitdir/gmem-rebase-subjects

git_tree()
{
	git -C "$TREE" -c user.name=gmem-lab -c user.email=lab@localhost \
		-c advice.detachedHead=false "$@"
}

served()
{
	archive_serves "$BASE_PKG" "$1"
}

# A version is known if the archive serves it or its tarball is at hand.
if ! served "$new" && [ ! -s "$(base_cache_file "$new")" ]; then
	s=$(sudo_cmd 2>/dev/null || true)
	# shellcheck disable=SC2086	# $s: nothing, sudo, or sudo -n
	timeout 120 $s apt-get update -qq >/dev/null 2>&1 || true
	served "$new" ||
		die "$BASE_PKG $new is not in the archive (it serves: $(archive_versions "$BASE_PKG" | head -n 5 | tr '\n' ' '))"
fi
[ "$new" != "$old" ] || { echo "  REBASE  the series is on $BASE_PKG $new already"; exit 0; }

if [ -d "$gitdir/rebase-merge" ] || [ -d "$gitdir/rebase-apply" ]; then
	die "build/linux is in the middle of the rebase: resolve it (git status; git add; git rebase --continue) or drop it (FORCE=1 make tree), then rerun make rebase BASE=$new"
fi

# The series is already replayed onto VERSION (a run that stopped at a
# conflict, resolved since): only the last step is left.
if [ -d "$gitdir" ] && git_tree rev-parse -q --verify "refs/tags/$newtag" >/dev/null &&
   git_tree merge-base --is-ancestor "$newtag" HEAD; then
	echo "  REBASE  resuming: build/linux holds the series on $new"
else
	pending=$(pending_rebase)
	[ -z "$pending" ] ||
		die "build/linux holds an unfinished make rebase to $pending: finish it (make rebase BASE=$pending) or drop it (FORCE=1 make tree)"

	# --- 1. the series on the old base -----------------------------------
	SKIP_BASE=1 "$TOP/lab/deps.sh"
	"$TOP/lab/mktree.sh"
	recorded=$(cut -d' ' -f2 "$gitdir/gmem-series" 2>/dev/null || true)
	[ "$(git_tree rev-parse HEAD)" = "$recorded" ] ||
		die "build/linux has commits that are not in patches/: make patches first"

	# --- 2. the new base, a child of the old one --------------------------
	tarball=$(base_tarball "$new") ||
		die "cannot get $BASE_PKG $new: apt-get download $BASE_PKG=$new failed"
	tmp=$(mktemp -d "$BUILD/rebase.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "  REBASE  unpacking $BASE_PKG $new"
	mkdir -p "$tmp/src"
	tar -xJf "$tarball" -C "$tmp/src" --strip-components=1
	kver=$(make -s -C "$tmp/src" kernelversion 2>/dev/null || true)
	[ "$kver" = "$(upstream_version "$new")" ] ||
		die "the tarball of $BASE_PKG $new holds kernel ${kver:-(none)}, not $(upstream_version "$new")"
	tree=$(cd "$tmp/src" && export GIT_DIR=$gitdir GIT_WORK_TREE=$tmp/src \
		GIT_INDEX_FILE=$tmp/index && git add -A -f . && git write-tree)
	commit=$(git_tree commit-tree "$tree" -p base \
		-m "base: Debian $BASE_PKG $new" \
		-m "Replaces $BASE_PKG $old (the parent commit), so that the series can be replayed with three-way merges.")
	git_tree tag -f "$newtag" "$commit" >/dev/null
	rm -rf "$tmp"
	trap - EXIT
	echo "  REBASE  $BASE_PKG $old -> $new:$(git_tree diff --shortstat base "$newtag")"

	# --- 3. replay -----------------------------------------------------------
	git_tree log --reverse --format=%s base..HEAD > "$subjects"
	echo "  REBASE  replaying $(wc -l < "$subjects") patches onto $new (git rebase --onto, three-way)"
	if ! out=$(git_tree rebase --onto "$newtag" base gmem 2>&1); then
		if [ ! -d "$gitdir/rebase-merge" ] && [ ! -d "$gitdir/rebase-apply" ]; then
			echo "$out" | sed 's/^/    /' >&2
			die "git rebase failed before replaying any patch (above); build/linux is unchanged but for tag $newtag"
		fi
		files=$(git_tree diff --name-only --diff-filter=U | tr '\n' ' ' | sed 's/ $//')
		stopped=$(git_tree rev-parse -q --verify REBASE_HEAD 2>/dev/null || true)
		subject=$(git_tree log -1 --format=%s "$stopped" 2>/dev/null || echo unknown)
		idx=$(git_tree rev-list --count "base..$stopped" 2>/dev/null || echo 0)
		patch=$(sed -e '/^#/d' -e '/^$/d' "$PATCHES/series" | sed -n "${idx}p")
		echo "$out" | grep -E '^(CONFLICT|error)' | sed 's/^/    /' >&2
		die "patch ${patch:-$idx} ($subject) conflicts with $BASE_PKG $new in: ${files:-unknown}; resolve them in build/linux (git add, git rebase --continue), then rerun make rebase BASE=$new; or drop it all (FORCE=1 make tree)"
	fi
fi

# --- 4. the series is on the new base: export and pin -------------------------
[ -z "$(git_tree status --porcelain --untracked-files=no)" ] ||
	die "build/linux has uncommitted changes: commit them (git commit --amend into their patch), then rerun make rebase BASE=$new"
git_tree tag -f base "$newtag" >/dev/null
echo "$new" > "$gitdir/gmem-base"
"$TOP/lab/export-patches.sh"
sed -i "s/^version=.*/version=$new/" "$BASE_FILE"
kver=$(make -s -C "$TREE" kernelversion 2>/dev/null)
printf '%s %s (kernel %s)\n' "$BASE_PKG" "$new" "$kver" > "$BUILD/BASE-VERSION"
if [ -r "$subjects" ]; then
	git_tree log --reverse --format=%s base..HEAD > "$subjects.now"
	while IFS= read -r s; do
		grep -qxF -- "$s" "$subjects.now" ||
			echo "  REBASE  dropped, as $BASE_PKG $new has it already: $s"
	done < "$subjects"
	rm -f "$subjects" "$subjects.now"
fi
echo "  REBASE  $BASE_PKG $old -> $new: patches/ re-exported, lab/base pins $new"
echo "          review: git diff -- patches/ lab/base; then make check (make deps installs $new)"
