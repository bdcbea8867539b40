#!/bin/sh
# The baseline for bench/pipeline.mjs: the runbook pipeline for the five local-profile variants as a
# plain sequential POSIX shell script, doing the same podman/cosign work as `aiboxctl rebuild`:
#
#   per variant, in order base, java, node, dotnet, full:
#     podman build   same Containerfile (profiles/local/images/<v>), same build args (BASE_IMAGE,
#                    CREATED, VERSION, REVISION, BASE_NAME, BASE_DIGEST, VARIANT, MANDATORY_UPDATE,
#                    MIN_IMAGE_DATE) and the same --label set; base FROM the local base by digest,
#                    children FROM the pushed base by digest (pulled once, then --pull=never, as ours)
#     podman push    --format oci --digestfile, with the date tag <prefix>-YYYYMMDD
#     cosign sign    of the pushed digest (offline: --tlog-upload=false), same two annotations
#   then, every variant having passed, moves `latest` to the signed digest (skopeo copy
#   --preserve-digests, i.e. the same manifest bytes).
#
# Cache policy (fairness): `aiboxctl rebuild` builds with `--layers=false` (src/pipeline/rebuild.ts:
# a security rebuild never reuses cached layers, and commits no intermediate layers), so this script
# passes `--layers=false` too: neither tool reads or writes podman's layer cache, and both commit
# exactly one image per variant.
#
# Not done here (ours does it; it only costs ours time): the scan gate (scanner: none → a no-op),
# verify-after-sign, the resume check, the signed release channel, and removing the build images.
#
# Inputs (environment):
#   REGISTRY            host:port of the target registry (plain HTTP on loopback)      (required)
#   DATE                YYYY-MM-DD                                                      (required)
#   COSIGN_KEY          cosign.key path                                                 (required)
#   COSIGN_PASSWORD     its password                                                    (required, may be empty)
#   COSIGN              cosign binary                                   (default: cosign)
#   PROJECT             repository prefix                               (default: aibox)
#   LOCAL_BASE          the debootstrap base in local storage           (default: localhost/aibox-local-base:host)
#   IMAGES_DIR          Containerfile dirs                              (default: ../profiles/local/images from here)
#   RUN_ID              dev.aibox.run-id label value, for clean-up       (default: seq-<pid>)
#   PODMAN              podman binary                                   (default: podman)
#   PODMAN_GLOBAL_ARGS  podman global flags      (default: the local profile's --runtime runc --cgroup-manager cgroupfs)
#   PODMAN_BUILD_ARGS   extra podman build flags (default: the local profile's --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
#   SKOPEO              skopeo binary                                   (default: skopeo)
#   SEQ_TIMES           optional file: one "variant step ms" line per step is appended (GNU date)
# Local images it creates: localhost/aibox-bench-seq/<variant>:<tag>, labelled dev.aibox.run-id=$RUN_ID.
set -eu

: "${REGISTRY:?REGISTRY=host:port is required}"
: "${DATE:?DATE=YYYY-MM-DD is required}"
: "${COSIGN_KEY:?COSIGN_KEY is required}"
: "${COSIGN_PASSWORD?COSIGN_PASSWORD is required (may be empty)}"
export COSIGN_PASSWORD
COSIGN=${COSIGN:-cosign}
PROJECT=${PROJECT:-aibox}
LOCAL_BASE=${LOCAL_BASE:-localhost/aibox-local-base:host}
IMAGES_DIR=${IMAGES_DIR:-$(cd "$(dirname "$0")/../profiles/local/images" && pwd)}
RUN_ID=${RUN_ID:-seq-$$}
PODMAN=${PODMAN:-podman}
PODMAN_GLOBAL_ARGS=${PODMAN_GLOBAL_ARGS:---runtime runc --cgroup-manager cgroupfs}
PODMAN_BUILD_ARGS=${PODMAN_BUILD_ARGS:---ulimit nofile=1024:1024 --ulimit nproc=1024:1024}
SKOPEO=${SKOPEO:-skopeo}

DAY=$(printf '%s' "$DATE" | tr -d -)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aibox-seq-XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# shellcheck disable=SC2086 # the *_ARGS variables are word lists on purpose
pm() { "$PODMAN" $PODMAN_GLOBAL_ARGS "$@"; }

# Optional step timings (SEQ_TIMES=file): `mark` starts a step, `lap VARIANT STEP` records it.
now_ms() { date +%s%3N; }
mark() { [ -z "${SEQ_TIMES:-}" ] || T0=$(now_ms); }
lap() { [ -z "${SEQ_TIMES:-}" ] || echo "$1 $2 $(($(now_ms) - T0))" >>"$SEQ_TIMES"; }

prefix_of() {
  case "$1" in
    base) echo 24.04 ;;
    java) echo 21-24.04 ;;
    node) echo 20-24.04 ;;
    dotnet) echo 8-24.04 ;;
    full) echo 24.04 ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}

# build_push_sign VARIANT BASE_NAME BASE_DIGEST → sets $DIGEST (the pushed manifest digest)
build_push_sign() {
  v=$1 base_name=$2 base_digest=$3
  tag="$(prefix_of "$v")-$DAY"
  local_ref="localhost/aibox-bench-seq/$v:$tag"
  dest="$REGISTRY/$PROJECT/$v"
  created=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
  inputs="sha256:$(printf '%s\n%s\n%s\n' "$v" "$tag" "$base_digest" | cat - "$IMAGES_DIR/$v/Containerfile" | sha256sum | cut -d' ' -f1)"
  mark
  # shellcheck disable=SC2086
  pm build $PODMAN_BUILD_ARGS \
    --iidfile "$WORK/$v.iid" \
    --file "$IMAGES_DIR/$v/Containerfile" \
    --tag "$local_ref" \
    --build-arg "BASE_IMAGE=$base_name@$base_digest" \
    --build-arg "CREATED=$created" \
    --build-arg "VERSION=$tag" \
    --build-arg "REVISION=unknown" \
    --build-arg "BASE_NAME=$base_name" \
    --build-arg "BASE_DIGEST=$base_digest" \
    --build-arg "VARIANT=$v" \
    --build-arg "MANDATORY_UPDATE=false" \
    --build-arg "MIN_IMAGE_DATE=" \
    --label "org.opencontainers.image.created=$created" \
    --label "org.opencontainers.image.version=$tag" \
    --label "org.opencontainers.image.revision=unknown" \
    --label "org.opencontainers.image.base.name=$base_name" \
    --label "org.opencontainers.image.base.digest=$base_digest" \
    --label "dev.aibox.variant=$v" \
    --label "dev.aibox.mandatory-update=false" \
    --label "dev.aibox.min-image-date=" \
    --label "dev.aibox.inputs=$inputs" \
    --label "dev.aibox.scan=skipped" \
    --label "dev.aibox.managed=true" \
    --label "dev.aibox.run-id=$RUN_ID" \
    --pull=never \
    --layers=false \
    "$IMAGES_DIR/$v" >"$WORK/$v.build.log" 2>&1 || { cat "$WORK/$v.build.log" >&2; exit 1; }
  lap "$v" build
  mark
  pm push --tls-verify=false --format oci --digestfile "$WORK/$v.digest" "$local_ref" "docker://$dest:$tag" >/dev/null 2>"$WORK/$v.push.log" ||
    { cat "$WORK/$v.push.log" >&2; exit 1; }
  DIGEST=$(cat "$WORK/$v.digest")
  lap "$v" push
  mark
  "$COSIGN" sign --yes --tlog-upload=false --allow-http-registry --key "$COSIGN_KEY" \
    -a "dev.aibox.scan=skipped" -a "org.opencontainers.image.version=$tag" \
    "$dest@$DIGEST" >/dev/null 2>"$WORK/$v.sign.log" || { cat "$WORK/$v.sign.log" >&2; exit 1; }
  lap "$v" sign
  echo "$v $tag $DIGEST" >>"$WORK/published"
  echo "$v $dest:$tag $DIGEST signed"
}

# 1. base: FROM the local debootstrap base, pinned by digest.
local_name=${LOCAL_BASE%:*}
local_digest=$(pm image inspect --format '{{.Digest}}' "$LOCAL_BASE")
build_push_sign base "$local_name" "$local_digest"
base_digest=$DIGEST

# 2. children: FROM the pushed base, by digest (pulled once, like ours).
mark
pm pull --quiet --tls-verify=false "docker://$REGISTRY/$PROJECT/base@$base_digest" >/dev/null
lap base pull
for v in java node dotnet full; do
  build_push_sign "$v" "$REGISTRY/$PROJECT/base" "$base_digest"
done

# 3. every variant passed: move latest to the signed digest.
mark
while read -r v tag digest; do
  "$SKOPEO" copy --quiet --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REGISTRY/$PROJECT/$v@$digest" "docker://$REGISTRY/$PROJECT/$v:latest"
done <"$WORK/published"
lap all latest
echo "latest moved for base java node dotnet full"
