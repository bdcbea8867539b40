#!/bin/sh
# Installs what aibox's tests, quickstart and benchmarks call, only when it is missing:
# npm dependencies (and the native re2 module gitlab-ci-local needs), and the Debian packages for the real
# engine and registry and the tools the scripts spawn. As root it runs apt-get; otherwise it prints the exact
# command to run. One line per install step on stderr; the tools' own output goes to a log file that is named
# (and kept) only when a step fails, with a non-zero exit.
set -eu
cd "$(dirname "$0")/.."

LOG="${TMPDIR:-/tmp}/aibox-ensure-deps.$$.log"
step() { # step "what it does" command...
  what="$1"
  shift
  echo "aibox: $what" >&2
  rc=0
  "$@" >>"$LOG" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "aibox: FAILED: $what (exit $rc); full log: $LOG" >&2
    tail -n 15 "$LOG" | sed 's/^/  | /' >&2
    exit 1
  fi
}

# command on PATH -> Debian package (every tool the tests, quickstart, benchmarks and deploy/ci scripts spawn)
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
need envsubst gettext-base # deploy/ci/render-config.sh
need rsync rsync           # gitlab-ci-local (CI template tests)
need git git               # gitlab-ci-local, the CI template tests' checkout

if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    export DEBIAN_FRONTEND=noninteractive
    step "apt-get update" apt-get update
    # shellcheck disable=SC2086
    step "installing Debian packages:$missing" apt-get install -y --no-install-recommends $missing
  else
    echo "aibox: missing Debian packages:$missing" >&2
    echo "Run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
fi

# re2 is built by node-gyp, which downloads node's headers unless told where they are: use the installed ones
# (e.g. /usr/include/node from Debian's or NodeSource's package) so an offline machine can build it too.
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
  export npm_config_nodedir="$node_prefix"
fi

# npm ci deletes node_modules first: never run it on a node_modules that is a symlink (a tree shared with other
# checkouts, e.g. git worktrees); only when it is missing, or a real directory older than the lockfile.
if [ -L node_modules ]; then
  : # shared node_modules: maintained where it lives
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)" npm ci --no-audit --no-fund
fi
# npm skips install scripts of dependencies not listed in package.json "allowScripts"; re2 (a native module
# gitlab-ci-local imports) then has no binary. Build it from source once (node-gyp: python3, make, g++).
if ! node -e "require('re2')" >/dev/null 2>&1; then
  step "building the re2 native module for gitlab-ci-local (npm rebuild re2; a few minutes)" npm rebuild re2
  node -e "require('re2')" >>"$LOG" 2>&1 || {
    echo "aibox: FAILED: re2 still does not load after npm rebuild; full log: $LOG" >&2
    exit 1
  }
fi
rm -f "$LOG"
