#!/usr/bin/env bash
# Puts a nats-server of the production line (>= 2.12.3: the Jepsen fixes, `sync_interval: always`)
# beside the machine's: Debian's newer suites (forky, then sid) carry 2.15.x. The .deb is fetched from
# the Debian archive, checked against the SHA256 that the suite's Packages index gives for it, and the
# static Go binary is unpacked into a cache folder. Nothing is installed system-wide.
#   cache: $BERTH_CACHE_DIR, else /var/cache/berth when writable (root, CI), else ~/.cache/berth
#   line:  $BERTH_NATS_LINE (default 2.15)
# Progress goes to stderr; the last line on stdout is the binary's path.
set -euo pipefail
line="${BERTH_NATS_LINE:-2.15}"
if [ -n "${BERTH_CACHE_DIR:-}" ]; then cache="$BERTH_CACHE_DIR"
elif mkdir -p /var/cache/berth 2>/dev/null && [ -w /var/cache/berth ]; then cache=/var/cache/berth
else cache="${XDG_CACHE_HOME:-$HOME/.cache}/berth"; fi
mkdir -p "$cache"

# Already fetched: any nats-server-<line>.x in the cache that runs.
for have in "$cache"/nats-server-"$line".*/nats-server; do
  if [ -x "$have" ] && "$have" --version 2>/dev/null | grep -q "v${line}\."; then
    echo "nats-server $("$have" --version | sed 's/.*v//') present in $(dirname "$have")" >&2
    echo "$have"
    exit 0
  fi
done

[ "$(uname -m)" = x86_64 ] || { echo "fetch-nats-server: only amd64 is fetched (got $(uname -m))" >&2; exit 1; }
for tool in curl xz dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch-nats-server: needs $tool (Debian: apt-get install curl xz-utils dpkg coreutils)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for suite in forky sid; do
  curl -fsSL --retry 3 -o "$tmp/Packages.xz" "http://deb.debian.org/debian/dists/$suite/main/binary-amd64/Packages.xz" || continue
  # Version, file and checksum of the suite's nats-server, when it is on the wanted line.
  read -r version file want < <(xz -dc "$tmp/Packages.xz" | awk -v line="$line" '
    $1=="Package:" { p = ($2=="nats-server"); v=""; f=""; s="" }
    p && $1=="Version:" { v=$2 } p && $1=="Filename:" { f=$2 } p && $1=="SHA256:" { s=$2 }
    p && /^$/ { if (index(v, line ".") == 1) { print v, f, s; exit } p=0 }') || true
  [ -n "${file:-}" ] && break
done
[ -n "${file:-}" ] || { echo "fetch-nats-server: no nats-server ${line}.x in Debian forky or sid" >&2; exit 1; }
echo "fetching nats-server ${version} from Debian ${suite}" >&2
curl -fsSL --retry 3 -o "$tmp/nats.deb" "http://deb.debian.org/debian/$file"
got=$(sha256sum "$tmp/nats.deb" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "fetch-nats-server: $file checksum $got does not match ${suite}'s index ($want)" >&2; exit 1; }
dpkg-deb -x "$tmp/nats.deb" "$tmp/x"
upstream="${version%%-*}"
dest="$cache/nats-server-${upstream}"
mkdir -p "$dest"
install -m 0755 "$tmp/x/usr/sbin/nats-server" "$dest/nats-server"
"$dest/nats-server" --version >&2
echo "$dest/nats-server"
