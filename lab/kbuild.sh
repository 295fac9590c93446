#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lab/kbuild.sh FLAVOUR [TARGET...]: configure and build the lab kernel.
#   debug    tinyconfig + lab.config + debug.config (make check, make run)
#   nokasan  the same without KASAN (make check KERNEL=nokasan)
#   bench    tinyconfig + lab.config                 (make bench)
# Objects go to build/obj-FLAVOUR (O=); compilers run through ccache, whose
# cache lives outside the repository (CCACHE_DIR, default ~/.cache/ccache).

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
O=$(objdir "$flavour")
mkdir -p "$O"
[ -d "$TREE/.git" ] || die "no assembled tree: run make tree"

cc="gcc"
command -v ccache >/dev/null && cc="ccache gcc"
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
kmake -j"$(($(nproc) + 1))" $targets
