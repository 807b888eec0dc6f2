#!/usr/bin/env bash
# kbuild.sh prints `kustomize build <dir>` for the image IMG without touching
# the work tree: config/ (and hack/chart, which builds on it) is copied to a
# temporary folder and the image is set there with `kustomize edit set image`,
# as kubebuilder's deploy and build-installer targets do in place. `make
# deploy`, `make undeploy`, `make build-installer` and `make chart` use it.
#
# Usage: KUSTOMIZE=bin/kustomize IMG=repo/image:tag hack/dist/kbuild.sh config/default
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${IMG:?}" "${KUSTOMIZE:?}"
dir=${1:?usage: kbuild.sh <kustomization dir>}
KUSTOMIZE=$(realpath "$KUSTOMIZE")
[ -x "$KUSTOMIZE" ] || { echo "kbuild.sh: $KUSTOMIZE is missing (make kustomize)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/hack"
cp -a config "$work/"
cp -a hack/chart "$work/hack/"
(cd "$work/config/manager" && "$KUSTOMIZE" edit set image "controller=$IMG")
"$KUSTOMIZE" build "$work/$dir"
