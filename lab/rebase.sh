#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/rebase.sh VERSION (make rebase BASE=VERSION): move the series to
# another Debian version of the base package.
#
#  1. build/linux is assembled on the pinned base with the exported series
#     (make tree; it refuses to run over work that was not exported);
#  2. the package is installed at VERSION and its tarball committed in
#     build/linux as a child of the old base (tag base-VERSION), so that
#     both bases' blobs are there;
#  3. the series is replayed onto it with `git rebase --onto`: each patch a
#     real three-way merge against the old base;
#  4. on the first conflict it stops, naming the patch and the files, and
#     leaves the rebase in build/linux to be resolved (git add,
#     git rebase --continue); running it again then finishes;
#  5. when the whole series is replayed, it re-exports patches/ and moves
#     the pin (lab/base) and the tag "base" to VERSION.
#
# A VERSION the archive does not serve fails at once, in one line.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

new=${1:-}
[ -n "$new" ] || die "usage: make rebase BASE=<Debian version of $BASE_PKG> (pinned now: $BASE_VERSION)"
old=$BASE_VERSION
sudo=$(sudo_cmd)
export DEBIAN_FRONTEND=noninteractive

# tag name of a Debian version (git refs cannot hold '~' or ':')
vtag()
{
	echo "base-$1" | tr '~:' '_-'
}

git_tree()
{
	git -C "$TREE" -c user.name=gmem-lab -c user.email=lab@localhost \
		-c advice.detachedHead=false "$@"
}

if ! archive_versions "$BASE_PKG" | grep -qxF -- "$new"; then
	$sudo apt-get update -qq || true
	archive_versions "$BASE_PKG" | grep -qxF -- "$new" ||
		die "$BASE_PKG $new is not in the archive (it serves: $(archive_versions "$BASE_PKG" | head -n 5 | tr '\n' ' '))"
fi
[ "$new" != "$old" ] || { echo "  REBASE  the series is on $BASE_PKG $new already"; exit 0; }

newtag=$(vtag "$new")
gitdir=$TREE/.git

# --- an earlier run stopped at a conflict ------------------------------------
if [ -d "$gitdir/rebase-merge" ] || [ -d "$gitdir/rebase-apply" ]; then
	die "build/linux is in the middle of a rebase: resolve it (git status; git add; git rebase --continue) or git rebase --abort, then rerun make rebase BASE=$new"
fi

finished=0
if [ -d "$gitdir" ] && git_tree rev-parse -q --verify "refs/tags/$newtag" >/dev/null &&
   git_tree merge-base --is-ancestor "$newtag" HEAD &&
   [ "$(git_tree rev-parse "$newtag")" != "$(git_tree rev-parse base)" ]; then
	finished=1
	echo "  REBASE  resuming: build/linux holds the series on $new"
fi

if [ $finished = 0 ]; then
	# --- 1. the series on the old base -----------------------------------
	"$TOP/lab/deps.sh"
	"$TOP/lab/mktree.sh"
	recorded=$(cut -d' ' -f2 "$gitdir/gmem-series" 2>/dev/null || true)
	[ "$(git_tree rev-parse HEAD)" = "$recorded" ] ||
		die "build/linux has commits that are not in patches/: make patches first"

	# --- 2. the new base, a child of the old one --------------------------
	echo "  REBASE  installing $BASE_PKG $new"
	$sudo apt-get install -y -qq --no-install-recommends --allow-downgrades \
		"$BASE_PKG=$new" >/dev/null
	verify_base_tarball "$new"
	tmp=$(mktemp -d "$BUILD/rebase.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "  REBASE  unpacking $BASE_PKG $new"
	mkdir -p "$tmp/src"
	tar -xJf "$BASE_TARBALL" -C "$tmp/src" --strip-components=1
	kver=$(make -s -C "$tmp/src" kernelversion 2>/dev/null)
	[ "$kver" = "$(upstream_version "$new")" ] ||
		die "$BASE_TARBALL of $BASE_PKG $new holds kernel $kver"
	tree=$(cd "$tmp/src" && export GIT_DIR=$gitdir GIT_WORK_TREE=$tmp/src \
		GIT_INDEX_FILE=$tmp/index && git add -A -f . && git write-tree)
	commit=$(git_tree commit-tree "$tree" -p base \
		-m "base: Debian $BASE_PKG $new" \
		-m "Replaces $BASE_PKG $old (the parent commit), so that the series can be replayed with three-way merges.")
	git_tree tag -f "$newtag" "$commit" >/dev/null
	rm -rf "$tmp"
	trap - EXIT
	echo "  REBASE  $(git_tree diff --shortstat base "$newtag") between $old and $new"

	# --- 3. replay -----------------------------------------------------------
	n=$(git_tree rev-list --count base..HEAD)
	echo "  REBASE  replaying $n patches onto $new (git rebase --onto, three-way)"
	if ! out=$(git_tree rebase -q --onto "$newtag" base gmem 2>&1); then
		files=$(git_tree diff --name-only --diff-filter=U | tr '\n' ' ')
		stopped=$(git_tree rev-parse -q --verify REBASE_HEAD 2>/dev/null || true)
		subject=$(git_tree log -1 --format=%s "$stopped" 2>/dev/null || echo unknown)
		idx=$(git_tree rev-list --count "base..$stopped" 2>/dev/null || echo '?')
		patch=$(sed -e '/^#/d' -e '/^$/d' "$PATCHES/series" | sed -n "${idx}p")
		echo "$out" | sed 's/^/    /' >&2
		die "patch ${patch:-$idx} ($subject) conflicts with $BASE_PKG $new in: ${files:-unknown}; resolve them in build/linux (git add, git rebase --continue), then rerun make rebase BASE=$new; or git rebase --abort"
	fi
fi

# --- 4. the series is on the new base: export and pin -------------------------
git_tree tag -f base "$newtag" >/dev/null
echo "$new" > "$gitdir/gmem-base"
"$TOP/lab/export-patches.sh"
sed -i "s/^version=.*/version=$new/" "$BASE_FILE"
kver=$(make -s -C "$TREE" kernelversion 2>/dev/null)
printf '%s %s (kernel %s)\n' "$BASE_PKG" "$new" "$kver" > "$BUILD/BASE-VERSION"
echo "  REBASE  $BASE_PKG $old -> $new: patches/ re-exported, lab/base pins $new"
echo "          review: git diff -- patches/ lab/base; then make check"
