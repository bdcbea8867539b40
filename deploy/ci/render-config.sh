#!/bin/sh
# Render deploy/ci/aibox.ci.yaml into $1 with the CI's variables, failing if one is missing.
# Only the two named variables are substituted, so nothing else in the file is touched.
set -eu
out="${1:?usage: render-config.sh OUTPUT}"
: "${HARBOR_HOST:?HARBOR_HOST is not set (CI variable: the Harbor host, e.g. harbor.internal)}"
: "${SLACK_WEBHOOK_URL:?SLACK_WEBHOOK_URL is not set (CI secret: the Slack incoming webhook)}"
dir="$(dirname "$0")"
envsubst '${HARBOR_HOST} ${SLACK_WEBHOOK_URL}' < "$dir/aibox.ci.yaml" > "$out"
chmod 600 "$out"
