#!/bin/sh
# Installs what aibox's tests, quickstart and benchmarks need, only when it is missing:
# npm dependencies, and the Debian packages for the real engine and registry.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -eu
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "aibox: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

# command -> Debian package
missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need podman podman
need buildah buildah
need skopeo skopeo
need runc runc
need docker-registry docker-registry
dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
need curl curl
need debootstrap debootstrap
need htpasswd apache2-utils

if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "aibox: installing Debian packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
  else
    echo "aibox: missing Debian packages:$missing" >&2
    echo "Run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
fi
