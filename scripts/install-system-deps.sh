#!/usr/bin/env bash
# The Debian packages Berth's tests need; `npm test` and CI (.ci/run) both run this script.
# Idempotent: a no-op when all are present. As root it installs what is missing; otherwise it exits 1
# naming the packages and the command. Add a package a test needs to the list below (one per line).
set -euo pipefail
packages=(
  libvirt-clients            # virsh
  libvirt-daemon             # libvirtd with the built-in test driver
  libvirt-daemon-driver-qemu # real QEMU guests (qemu:///session)
  libvirt-daemon-system      # the libvirt-qemu user a privileged (system-mode) test libvirtd needs
  qemu-system-x86
  qemu-utils
  postgresql
  nats-server                # Debian's (2.9 on bookworm); the production line is fetched by fetch-nats-server.sh
  lxd                        # the LXD driver tests
  busybox-static             # the LXD test image
  ovmf                       # LXD validates VM definitions with it
  curl                       # fetch-nats-server.sh
  xz-utils                   # fetch-nats-server.sh (the suite's Packages.xz)
  chromium                   # the console's browser tests and bench:console (driven by playwright-core)
  openssh-server             # telemetry-remote-host: a private sshd for qemu+ssh:// hosts
  openssh-client             # ssh, ssh-keygen (the same test; libvirt's ssh transport)
  netcat-openbsd             # nc, which libvirt's ssh transport runs on the remote side
)
if ! command -v dpkg-query >/dev/null; then
  echo "not a Debian system: install the equivalents of ${packages[*]}, or set BERTH_SKIP_HYPERVISOR_TESTS=1 to run without libvirt/QEMU" >&2
  exit 1
fi
need=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "all Debian packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run as root: sudo apt-get install --no-install-recommends ${need[*]})" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
