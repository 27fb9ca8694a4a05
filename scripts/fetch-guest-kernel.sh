#!/usr/bin/env bash
# A guest that really runs an OS, for the tests that need a guest driver (the virtio balloon):
# Debian's own kernel image (the package linux-image-amd64 points at, fetched with `apt-get download`,
# so apt checks it against the signed archive index) and a small initramfs built here from
# busybox-static that loads the virtio balloon driver and idles. Nothing is installed system-wide.
#   cache: $BERTH_CACHE_DIR, else /var/cache/berth when writable (root, CI), else ~/.cache/berth
# The folder and files are world-readable: an unprivileged QEMU (qemu:///session as nobody) boots them.
# Progress goes to stderr; the last line on stdout is the folder holding vmlinuz and initrd.gz.
set -euo pipefail
if [ -n "${BERTH_CACHE_DIR:-}" ]; then cache="$BERTH_CACHE_DIR"
elif mkdir -p /var/cache/berth 2>/dev/null && [ -w /var/cache/berth ]; then cache=/var/cache/berth
else cache="${XDG_CACHE_HOME:-$HOME/.cache}/berth"; fi
mkdir -p "$cache"
chmod a+rx "$cache"
for tool in apt-get apt-cache dpkg busybox gzip; do
  command -v "$tool" >/dev/null || { echo "fetch-guest-kernel: needs $tool (Debian, with busybox-static)" >&2; exit 1; }
done
busybox_bin=$(command -v busybox)
file "$busybox_bin" 2>/dev/null | grep -q dynamically && { echo "fetch-guest-kernel: $busybox_bin is not static (apt-get install busybox-static)" >&2; exit 1; }

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
if [ -z "$pkg" ]; then
  apt-get update -qq >&2 || true
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
fi
[ -n "$pkg" ] || { echo "fetch-guest-kernel: apt knows no linux-image-amd64" >&2; exit 1; }
dir="$cache/guest-kernel-${pkg#linux-image-}"
if [ -r "$dir/vmlinuz" ] && [ -r "$dir/initrd.gz" ]; then
  echo "guest kernel $pkg present in $dir" >&2
  echo "$dir"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching $pkg (Debian's kernel image) for test guests" >&2
(cd "$work" && apt-get download -q "$pkg" >&2 2>/dev/null) || (cd "$work" && apt-get update -qq >&2 && apt-get download -q "$pkg" >&2)
dpkg -x "$work"/"$pkg"_*.deb "$work/x"
modules=$(echo "$work"/x/lib/modules/*/kernel/drivers/virtio)
mkdir -p "$work/rd/bin" "$work/rd/dev" "$work/rd/proc" "$work/rd/sys" "$work/rd/lib/modules"
cp "$busybox_bin" "$work/rd/bin/busybox"
# in dependency order (their modinfo `depends=`): the balloon needs virtio and virtio_ring, the PCI transport all four
order="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon"
for m in $order; do cp "$modules/$m.ko" "$work/rd/lib/modules/"; done
cat > "$work/rd/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $order; do /bin/busybox insmod /lib/modules/\$m.ko; done
echo "berth-guest: virtio_balloon loaded" > /dev/ttyS0
while true; do /bin/busybox sleep 3600; done
INIT
chmod 755 "$work/rd/init"
mkdir -p "$dir.tmp"
(cd "$work/rd" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$dir.tmp/initrd.gz")
cp "$work"/x/boot/vmlinuz-* "$dir.tmp/vmlinuz"
chmod a+rx "$dir.tmp" && chmod a+r "$dir.tmp"/*
rm -rf "$dir" && mv "$dir.tmp" "$dir"
echo "guest kernel $pkg ready in $dir" >&2
echo "$dir"
