#!/usr/bin/env bash
# bundle.sh generates the OLM bundle (`make bundle` runs it) from config/ with
# operator-sdk, without touching the work tree's config/: config/ is copied
# to a temporary folder, the image is set there, and
# `kustomize build config/manifests | operator-sdk generate bundle` runs in
# that copy. The result replaces BUNDLE_DIR only if it differs from what is
# there other than in the CSV's createdAt timestamp, so regenerating an
# unchanged bundle leaves the tree clean.
#
# Environment: VERSION, IMG, BUNDLE_DIR, BUNDLE_GEN_FLAGS, KUSTOMIZE,
# OPERATOR_SDK; optional: BUNDLE_DOCKERFILE receives the bundle.Dockerfile,
# USE_IMAGE_DIGESTS=true when BUNDLE_GEN_FLAGS pin images by digest.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${VERSION:?}" "${IMG:?}" "${BUNDLE_DIR:?}" "${BUNDLE_GEN_FLAGS:?}" "${KUSTOMIZE:?}" "${OPERATOR_SDK:?}"
KUSTOMIZE=$(realpath "$KUSTOMIZE")
OPERATOR_SDK=$(realpath "$OPERATOR_SDK")
for tool in "$KUSTOMIZE" "$OPERATOR_SDK"; do
	[ -x "$tool" ] || { echo "bundle.sh: $tool is missing (make tools)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a config PROJECT "$work/"
(cd "$work/config/manager" && "$KUSTOMIZE" edit set image "controller=$IMG")
# operator-sdk logs every step on stderr: show its output only on failure.
# shellcheck disable=SC2086 # BUNDLE_GEN_FLAGS is a list of flags.
if ! (cd "$work" && "$KUSTOMIZE" build config/manifests | "$OPERATOR_SDK" generate bundle $BUNDLE_GEN_FLAGS --output-dir bundle) >"$work/log" 2>&1 ||
	! "$OPERATOR_SDK" bundle validate "$work/bundle" >>"$work/log" 2>&1; then
	cat "$work/log" >&2
	exit 1
fi

# Disconnected installs need every image pinned by digest (mirrors apply to
# digests): only a digest-pinned bundle says it supports them.
if [ "${USE_IMAGE_DIGESTS:-false}" = true ]; then
	sed -i 's|features.operators.openshift.io/disconnected: "false"|features.operators.openshift.io/disconnected: "true"|' \
		"$work/bundle/manifests/"*.clusterserviceversion.yaml
fi

if [ -d "$BUNDLE_DIR" ] && diff -r -I 'createdAt: ' "$BUNDLE_DIR" "$work/bundle" >/dev/null 2>&1; then
	echo "bundle $VERSION in $BUNDLE_DIR is up to date"
else
	rm -rf "$BUNDLE_DIR"
	mkdir -p "$(dirname "$BUNDLE_DIR")"
	cp -a "$work/bundle" "$BUNDLE_DIR"
	echo "bundle $VERSION written to $BUNDLE_DIR"
fi
if [ -n "${BUNDLE_DOCKERFILE:-}" ]; then
	cp "$work/bundle.Dockerfile" "$BUNDLE_DOCKERFILE"
fi
