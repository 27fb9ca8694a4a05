#!/usr/bin/env bash
# Installs the Debian packages Berth's tests need (libvirt with the test driver, QEMU for
# the real-guest test, LXD with busybox-static and ovmf for the LXD driver tests, Postgres and NATS if absent). Idempotent; a no-op when all are present.
set -euo pipefail
need=()
for pkg in libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils \
           postgresql nats-server lxd busybox-static ovmf; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "all Debian packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
