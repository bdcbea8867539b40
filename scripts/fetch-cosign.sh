#!/bin/sh
# Fetch a real cosign (Debian 13 "trixie" package, cosign 2.5.x) for the signing interop tests,
# without touching /etc/apt: a private sources list (URI taken from this machine's own apt sources),
# private state/cache dirs, `apt-get download`, `dpkg -x`. Idempotent; prints the binary path.
# Usage: sh scripts/fetch-cosign.sh [DEST]   (default /var/tmp/aibox-test-tools/cosign)
set -eu
DEST=${1:-${AIBOX_TEST_TOOLS:-/var/tmp/aibox-test-tools}/cosign}
BIN="$DEST/root/usr/bin/cosign"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v apt-get >/dev/null 2>&1 || { echo "fetch-cosign: apt-get not available" >&2; exit 3; }
command -v dpkg >/dev/null 2>&1 || { echo "fetch-cosign: dpkg not available" >&2; exit 3; }

uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n' | grep -v security | head -n1 || true)
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list | grep -v security | head -n1 || true)
fi
[ -n "$uri" ] || { echo "fetch-cosign: no Debian archive URI found in this machine's apt sources" >&2; exit 3; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/aibox-fetch-cosign.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/sources" "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs"
printf '%s\n' 'Types: deb' "URIs: $uri" 'Suites: trixie' 'Components: main' \
  'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > "$WORK/sources/trixie.sources"
set -- -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$WORK/sources" \
  -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o APT::Sandbox::User=root
apt-get "$@" -qq update >&2
(cd "$WORK/debs" && apt-get "$@" -qq download cosign >&2)
mkdir -p "$DEST.tmp.$$"
dpkg -x "$WORK"/debs/cosign_*.deb "$DEST.tmp.$$/root"
"$DEST.tmp.$$/root/usr/bin/cosign" version >/dev/null 2>&1 || { echo "fetch-cosign: downloaded cosign does not run here" >&2; rm -rf "$DEST.tmp.$$"; exit 4; }
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$DEST.tmp.$$" "$DEST"
echo "$BIN"
