#!/bin/sh
# Render deploy/ci/aibox.ci.yaml (or the file named by $AIBOX_CI_CONFIG_TEMPLATE: your own platform config with
# the same two placeholders) into $1 with the CI's variables, failing if one is missing.
# Only the two named variables are substituted, so nothing else in the file is touched.
set -eu
out="${1:?usage: render-config.sh OUTPUT}"
: "${HARBOR_HOST:?HARBOR_HOST is not set (CI variable: the Harbor host, e.g. harbor.internal)}"
: "${SLACK_WEBHOOK_URL:?SLACK_WEBHOOK_URL is not set (CI secret: the Slack incoming webhook)}"
template="${AIBOX_CI_CONFIG_TEMPLATE:-$(dirname "$0")/aibox.ci.yaml}"
[ -r "$template" ] || { echo "render-config.sh: cannot read the config template $template" >&2; exit 1; }
command -v envsubst >/dev/null 2>&1 || {
  echo "render-config.sh: envsubst not found (Debian/Ubuntu: apt-get install gettext-base)" >&2
  exit 1
}
umask 077
envsubst '${HARBOR_HOST} ${SLACK_WEBHOOK_URL}' < "$template" > "$out"
chmod 600 "$out"
