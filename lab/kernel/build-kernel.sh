#!/bin/sh
# allockit lab: build one CMA-enabled guest kernel from a Debian linux-source tarball.
#
#   build-kernel.sh SRC_TARBALL FRAGMENT OUT_DIR JOBS
#
# SRC_TARBALL  /usr/src/linux-source-<v>.tar.xz (Debian package linux-source-<v>)
# FRAGMENT     the effective config fragment (allockit/lab/kernel.py wrote it: version-specific
#              options already dropped)
# OUT_DIR      the cache directory ~/.cache/allockit/lab/kernels/<pkgversion>-<hash>/
# JOBS         make -j value
#
# Steps (why each is needed: docs/lab.md, "The facts the lab rests on"): unpack, export the CMA
# symbols the measuring module calls (not exported upstream: cma_alloc, cma_release,
# cma_for_each_area, cma_get_name, cma_get_size), make defconfig + kvm_guest.config, merge the
# fragment, check every requested option made it, build bzImage and modules (Module.symvers for
# the out-of-tree module).
# The caller runs this under nice/ionice. On success OUT_DIR/bzImage exists; on failure it does not.
set -eu
SRC=$1; FRAG=$2; OUT=$3; JOBS=$4
TREE=$OUT/tree
mkdir -p "$OUT"
if [ ! -f "$TREE/Makefile" ]; then
    rm -rf "$OUT/unpack"
    mkdir -p "$OUT/unpack"
    tar -xJf "$SRC" -C "$OUT/unpack"
    mv "$OUT"/unpack/linux-source-* "$TREE"
    rmdir "$OUT/unpack"
fi
cd "$TREE"
# Exports for the measuring module (lab/module/allockit_lab.c); appended once.
if ! grep -q 'allockit lab exports' mm/cma.c; then
    cat >> mm/cma.c <<'EXPORTS'

/* allockit lab exports: the measuring module calls these (not exported upstream) */
#include <linux/export.h>
EXPORT_SYMBOL_GPL(cma_alloc);
EXPORT_SYMBOL_GPL(cma_release);
EXPORT_SYMBOL_GPL(cma_for_each_area);
EXPORT_SYMBOL_GPL(cma_get_name);
EXPORT_SYMBOL_GPL(cma_get_size);
EXPORT_SYMBOL_GPL(cma_get_base);
EXPORTS
fi
make -s defconfig
make -s kvm_guest.config
scripts/kconfig/merge_config.sh -m .config "$FRAG" >/dev/null
make -s olddefconfig
# Every option of the fragment must have its value in the final .config.
missing=0
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=n) opt=${line%%=*}
            if grep -q "^$opt=" .config; then echo "config: $opt is set, fragment says n" >&2; missing=1; fi ;;
        CONFIG_*=*) if ! grep -qx "$line" .config; then echo "config: $line not in .config" >&2; missing=1; fi ;;
    esac
done < "$FRAG"
[ "$missing" = 0 ] || { echo "config fragment not applied; see above" >&2; exit 3; }
make -j"$JOBS" bzImage modules
cp arch/x86/boot/bzImage "$OUT/bzImage.tmp"
cp .config "$OUT/config"
make -s kernelrelease > "$OUT/kernelrelease"
mv "$OUT/bzImage.tmp" "$OUT/bzImage"
