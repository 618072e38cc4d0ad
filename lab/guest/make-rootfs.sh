#!/bin/sh
# allockit lab: the guest's build root (the seed's workload is a kernel build).
#
#   make-rootfs.sh OUT_DIR
#
# debootstrap (taken from its .deb, unpacked, not installed) a minbase bookworm with the kernel
# build toolchain into OUT_DIR/root (about 2 minutes and 460 MB on a 2-core host).
# The caller runs it under nice/ionice. OUT_DIR/root/.allockit-rootfs-done marks success.
set -eu
OUT=$1
mkdir -p "$OUT"
cd "$OUT"
if [ ! -x debootstrap/usr/sbin/debootstrap ]; then
    rm -rf debootstrap && mkdir debootstrap
    (cd debootstrap && apt-get download debootstrap >/dev/null && dpkg -x debootstrap_*.deb .)
fi
export DEBOOTSTRAP_DIR="$OUT/debootstrap/usr/share/debootstrap"
rm -rf root
"$OUT/debootstrap/usr/sbin/debootstrap" --variant=minbase \
    --include=gcc,make,bc,flex,bison,libelf-dev,libssl-dev,perl,xz-utils,cpio,kmod,libc6-dev \
    bookworm root http://deb.debian.org/debian
rm -rf root/var/cache/apt/archives/*.deb root/var/lib/apt/lists/*
touch root/.allockit-rootfs-done
