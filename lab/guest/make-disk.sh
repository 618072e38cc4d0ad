#!/bin/sh
# allockit lab: the guest's virtio disk (ext4 image) for the workload.
#
#   make-disk.sh ROOTFS_DIR SRC_TARBALL FILLER_MB IMG
#
# ROOTFS_DIR   the debootstrap root from make-rootfs.sh (toolchain for the in-guest kernel build)
# SRC_TARBALL  a Debian linux-source tarball: unpacked to /src/linux and `make defconfig`ed,
#              and `make prepare`d (generated headers, host tools), the tree `make -jN vmlinux`
#              compiles in the guest (the seed's workload): the guest starts with C files
# FILLER_MB    size of /data/filler (random bytes): with the rootfs and the tree, the file set
#              the re-read loop cycles through is larger than the guest's RAM, so it keeps
#              allocating new page cache (some of it in the CMA area) instead of hitting cache
# IMG          the image: 8 GiB sparse ext4 made with `mke2fs -t ext4 -d` (the guest mounts it
#              with snapshot=on, so every run starts from this state)
set -eu
ROOT=$1; SRC=$2; FILLER=$3; IMG=$4
[ -f "$ROOT/.allockit-rootfs-done" ] || { echo "no rootfs at $ROOT (run make-rootfs.sh)" >&2; exit 2; }
if [ ! -f "$ROOT/src/linux/.config" ]; then
    rm -rf "$ROOT/src" && mkdir -p "$ROOT/src"
    tar -xJf "$SRC" -C "$ROOT/src"
    mv "$ROOT"/src/linux-source-* "$ROOT/src/linux"
    make -s -C "$ROOT/src/linux" defconfig
fi
if [ ! -f "$ROOT/src/linux/include/generated/autoconf.h" ] || [ ! -x "$ROOT/src/linux/scripts/mod/modpost" ]; then
    make -s -C "$ROOT/src/linux" -j2 prepare
fi
mkdir -p "$ROOT/data"
if [ "$(stat -c %s "$ROOT/data/filler" 2>/dev/null || echo 0)" != $((FILLER * 1048576)) ]; then
    head -c $((FILLER * 1048576)) /dev/urandom > "$ROOT/data/filler"
fi
rm -f "$IMG.tmp"
mke2fs -q -t ext4 -d "$ROOT" -F "$IMG.tmp" 8G
mv "$IMG.tmp" "$IMG"
