#!/usr/bin/env bash
# Puts a nats-server of the production line (>= 2.10: filter_subjects) beside the machine's Debian
# bookworm one (2.9.10, the shared fixture on 127.0.0.1:4222): Debian trixie's build, a static Go
# binary, unpacked from its .deb into /var/cache/berth (or $BERTH_CACHE_DIR). Nothing is installed
# system-wide. Tests that need multiple filter subjects and the e2e benchmark run it privately.
set -euo pipefail
version=2.10.27
deb="nats-server_${version}-1+b2_amd64.deb"
dest="${BERTH_CACHE_DIR:-/var/cache/berth}/nats-server-${version}"
if [ -x "$dest/nats-server" ] && "$dest/nats-server" --version | grep -q "v${version}"; then
  echo "nats-server ${version} present in $dest"
  exit 0
fi
[ "$(uname -m)" = x86_64 ] || { echo "fetch-nats-server: only amd64 is fetched (got $(uname -m))" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/$deb" "http://deb.debian.org/debian/pool/main/n/nats-server/$deb"
# Checked against the SHA256 that trixie's package index gives for it.
curl -fsSL --retry 3 -o "$tmp/Packages.xz" http://deb.debian.org/debian/dists/trixie/main/binary-amd64/Packages.xz
xz -dc "$tmp/Packages.xz" > "$tmp/Packages"
want=$(awk -v f="pool/main/n/nats-server/$deb" '$1=="Filename:"{hit=($2==f)} hit&&$1=="SHA256:"&&!done{print $2; done=1}' "$tmp/Packages")
got=$(sha256sum "$tmp/$deb" | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$got" ] || { echo "fetch-nats-server: $deb checksum $got does not match trixie's index ($want)" >&2; exit 1; }
dpkg-deb -x "$tmp/$deb" "$tmp/x"
mkdir -p "$dest"
install -m 0755 "$tmp/x/usr/sbin/nats-server" "$dest/nats-server"
"$dest/nats-server" --version
