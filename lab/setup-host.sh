#!/bin/sh
# allockit lab: host packages (Debian 12, root). Run once before `allockit lab run`.
#
# Adds the bullseye and bullseye-security suites (only they carry linux-source-5.10, the seed's
# era; bookworm carries linux-source-6.1) and installs what the lab uses: QEMU, busybox-static
# for the guest's PID 1, cpio, the kernel build dependencies, e2fsprogs (mke2fs -d) and the two
# kernel source packages. No other download: the kernel sources come from these packages and
# the guest's build root from debootstrap against the same Debian mirror.
set -eu
[ "$(id -u)" = 0 ] || { echo "setup-host.sh: run as root" >&2; exit 2; }
SRC=/etc/apt/sources.list.d/allockit-lab-bullseye.sources
if ! apt-cache policy linux-source-5.10 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    cat > "$SRC" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    apt-get update -q
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    qemu-system-x86 busybox-static cpio flex bison libelf-dev libssl-dev bc kmod gcc make \
    libc6-dev e2fsprogs xz-utils linux-source-5.10 linux-source-6.1
