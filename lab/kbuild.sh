#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/kbuild.sh FLAVOUR [TARGET...]: configure and build the lab kernel.
#   debug    tinyconfig + lab.config + debug.config (make check, make run)
#   nokasan  the same without KASAN (make check KERNEL=nokasan)
#   bench    tinyconfig + lab.config                 (make bench)
# Objects go to build/linux/obj-FLAVOUR (O=; build/obj-FLAVOUR links to it);
# compilers run through ccache, whose cache lives outside the repository
# (CCACHE_DIR, default ~/.cache/ccache).
#
# The cache is shared by every clone, wherever it is: with the object
# directory right below the source tree, Kbuild's srctree is "..", so the
# compile lines hold relative paths only; CCACHE_NOHASHDIR keeps the working
# directory (an absolute path, hashed by default with -g) out of the hash,
# and CCACHE_BASEDIR makes what absolute paths remain (objtool's build)
# relative.  The price: DW_AT_comp_dir of a cached object names the clone
# that compiled it first.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:?usage: kbuild.sh debug|bench [target...]}
shift
case "$flavour" in
debug) frags="lab.config debug.config" ;;
nokasan) frags="lab.config debug.config nokasan.config" ;;
bench) frags="lab.config" ;;
*) die "unknown flavour $flavour (debug, nokasan or bench)" ;;
esac
targets=${*:-bzImage}
[ -d "$TREE/.git" ] || die "no assembled tree: run make tree"
O=$(objdir "$flavour")
if [ -d "$O" ] && [ ! -L "$O" ]; then
	note "moving objects to build/linux/obj-$flavour: removing the old $O"
	rm -rf "$O"
fi
mkdir -p "$TREE/obj-$flavour"
ln -sfn "linux/obj-$flavour" "$O"

cc="gcc"
if command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_NOHASHDIR=1 CCACHE_BASEDIR=$TOP
fi

# ccache_stat NAME: one counter of ccache's statistics
ccache_stat()
{
	ccache --print-stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'
}
ccache_counts()
{
	echo "$(($(ccache_stat direct_cache_hit) + $(ccache_stat preprocessed_cache_hit))) $(ccache_stat cache_miss)"
}
kmake()
{
	make -s -C "$TREE" O="$O" ARCH=x86_64 CC="$cc" HOSTCC="$cc" \
		LOCALVERSION=-gmem KBUILD_BUILD_USER=lab KBUILD_BUILD_HOST=gmem-lab \
		"$@"
}

# --- configuration: only when the fragments changed --------------------------
stamp=$( (cd "$TOP/lab/configs" && cat $frags) | sha1sum | cut -d' ' -f1)
if [ ! -f "$O/.config" ] || [ "$(cat "$O/.gmem-config" 2>/dev/null)" != "$stamp" ]; then
	echo "  CONFIG  $flavour: tinyconfig + $frags"
	kmake tinyconfig >/dev/null
	(cd "$O" && KCONFIG_CONFIG=.config "$TREE/scripts/kconfig/merge_config.sh" \
		-m -O "$O" .config $(for f in $frags; do echo "$TOP/lab/configs/$f"; done) >/dev/null)
	kmake olddefconfig >/dev/null
	# every option of the fragments must have stuck (the last fragment
	# that names an option decides its value)
	bad=0
	declare -A want=()
	for f in $frags; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*) want[${line%%=*}]=$line ;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }
				want[${sym%% *}]=$line ;;
			esac
		done < "$TOP/lab/configs/$f"
	done
	for sym in "${!want[@]}"; do
		line=${want[$sym]}
		case "$line" in
		CONFIG_*)
			grep -qx -- "$line" "$O/.config" ||
			{ echo "    $line did not stick ($(grep -E "^(# )?$sym[= ]" "$O/.config" || echo absent))" >&2; bad=1; } ;;
		*)
			! grep -q "^$sym=" "$O/.config" ||
			{ echo "    $sym is still set" >&2; bad=1; } ;;
		esac
	done
	[ "$bad" = 0 ] || die "kernel config for $flavour does not match lab/configs (missing dependencies above)"
	echo "$stamp" > "$O/.gmem-config"
fi

echo "  KBUILD  $flavour: $targets"
[ "$cc" = gcc ] || read -r h0 m0 < <(ccache_counts)
t0=$(date +%s)
kmake -j"$(($(nproc) + 1))" $targets
# The guest loads KVM's modules from here (lab/guest-init.sh), with the
# modules.dep that modules_install writes.
case " $targets " in
*" modules "*)
	rm -rf "$O/mod"
	kmake INSTALL_MOD_PATH="$O/mod" INSTALL_MOD_STRIP=1 DEPMOD=/sbin/depmod \
		modules_install >/dev/null ;;
esac
if [ "$cc" != gcc ]; then
	read -r h1 m1 < <(ccache_counts)
	h=$((h1 - h0)) m=$((m1 - m0))
	[ $((h + m)) = 0 ] ||
		echo "  CCACHE  $flavour: $h hits, $m misses ($((100 * h / (h + m)))% hits), $(($(date +%s) - t0)) s"
fi
