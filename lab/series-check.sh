#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/series-check.sh: the exported series as a maintainer gets it.  A
# clean tree of the pinned base (the "base" commit of build/linux, checked
# out in build/series-check/linux), `git am` of every patch of
# patches/series, then a build at every patch, with the configuration of
# the debug kernel (KVM, kvm-amd and kvm-intel as modules).
#
# By default each step compiles the directories whose C files the series
# changes (their objects only: no link, no modpost), which catches a patch
# that needs a file or a declaration that only a later patch brings; the
# last step is what make kernel builds and links.  FULL=1 builds vmlinux
# and the modules at every step, modpost included.  Objects live in
# build/series-check/linux/obj (srctree ".."), so that compiles the debug
# kernel already made are ccache hits.
#
# Prints one line per patch; exits 1 at the first patch that does not
# apply or build, naming it.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

full=${FULL:-0}
[ -d "$TREE/.git" ] || die "no assembled tree: run make tree"
git -C "$TREE" rev-parse -q --verify base >/dev/null || die "build/linux has no base tag: run make tree"
config=$(objdir debug)/.config
[ -r "$config" ] || die "no debug kernel configuration: run make kernel"

sc=$BUILD/series-check
wt=$sc/linux
if [ -e "$wt" ]; then
	git -C "$TREE" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
fi
git -C "$TREE" worktree prune
mkdir -p "$sc"
git -C "$TREE" worktree add -q --detach "$wt" base

mapfile -t series < <(sed -e '/^#/d' -e '/^$/d' "$PATCHES/series")
[ "${#series[@]}" -gt 0 ] || die "patches/series names no patch"

# --- git am, as a maintainer applies the series -------------------------------
cd "$wt"
for p in "${series[@]}"; do
	if ! git -c user.name=gmem-lab -c user.email=lab@localhost \
		am -q --whitespace=nowarn "$PATCHES/$p" > "$sc/am.log" 2>&1; then
		sed 's/^/    /' "$sc/am.log" >&2
		git am --abort 2>/dev/null || true
		die "patch $p does not apply with git am on $BASE_PKG $BASE_VERSION"
	fi
done
echo "  AM      ${#series[@]} patches applied with git am on $BASE_PKG $BASE_VERSION"

# --- a build at every patch -------------------------------------------------
cc="gcc"
if command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_NOHASHDIR=1 CCACHE_BASEDIR=$TOP
fi
kmake()
{
	make -s -C "$wt" O=obj ARCH=x86_64 CC="$cc" HOSTCC="$cc" \
		LOCALVERSION=-gmem KBUILD_BUILD_USER=lab KBUILD_BUILD_HOST=gmem-lab \
		-j"$(($(nproc) + 1))" "$@"
}
mkdir -p obj
cp "$config" obj/.config
kmake olddefconfig > /dev/null

if [ "$full" = 1 ]; then
	targets=(vmlinux modules)
else
	# the directories of the C files the series adds or changes
	mapfile -t targets < <(git diff --name-only base HEAD -- '*.c' |
		grep -v '^tools/' | xargs -r -n1 dirname | sort -u |
		sed -e 's|^virt/kvm$|arch/x86/kvm|' -e 's|^arch/x86/kvm/.*|arch/x86/kvm|' \
		    -e 's|$|/|' | sort -u)
fi

mapfile -t commits < <(git rev-list --reverse base..HEAD)
i=0
for c in "${commits[@]}"; do
	i=$((i + 1))
	git checkout -q "$c"
	subject=$(git log -1 --format=%s "$c")
	t0=$(date +%s)
	if ! kmake "${targets[@]}" > "$sc/build.log" 2>&1; then
		tail -n 30 "$sc/build.log" | sed 's/^/    /' >&2
		die "patch $i/${#commits[@]} does not build (${targets[*]}): $subject"
	fi
	printf '  BUILD   %2d/%d %3ss  %s\n' "$i" "${#commits[@]}" "$(($(date +%s) - t0))" "$subject"
done
echo "  SERIES  every patch applies and builds (${targets[*]})"
