#!/usr/bin/env bash
# verify.sh fails when generated files are stale, gofmt would change a file,
# go vet or golangci-lint complains, or a Go file lacks the license header.
# Generated files are regenerated in place and compared
# with a copy taken before, so it gives the same answer on a clean checkout
# (where it equals `git diff --exit-code`) and in a work tree with changes.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything a generator writes. Keep in step with the `generated` target.
GENERATED=(api config/crd/bases config/rbac internal/listenerrbac internal/controller/testdata)
for extra in bundle bundle.Dockerfile dist/chart dist/install.yaml dist/monitoring config/alerts catalog catalog.Dockerfile; do
	[ -e "$extra" ] && GENERATED+=("$extra")
done

before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
for p in "${GENERATED[@]}"; do
	mkdir -p "$before/$(dirname "$p")"
	cp -a "$p" "$before/$p"
done

make --no-print-directory generated >/dev/null

stale=0
for p in "${GENERATED[@]}"; do
	if ! diff -r -u -I 'createdAt: ' "$before/$p" "$p" >/dev/null 2>&1; then
		echo "stale generated files under $p:" >&2
		diff -r -u -I 'createdAt: ' "$before/$p" "$p" | head -n 40 >&2 || true
		stale=1
	fi
done
if [ "$stale" -ne 0 ]; then
	echo "generated files were stale and have been regenerated: review and commit them (make generated)" >&2
	exit 1
fi
echo "generated files are up to date"

unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard -- '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files (run make fmt):" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "gofmt: clean"

go vet ./...
go vet -tags e2e ./test/...
go vet -tags distribution ./test/...
go vet -tags install ./test/...
(cd hack/image && go vet ./...)
echo "go vet: clean"

# Every Go file carries the Apache license header (hack/boilerplate.go.txt).
missing=()
while IFS= read -r f; do
	head -n 20 "$f" | grep -q 'Licensed under the Apache License, Version 2.0' || missing+=("$f")
done < <(git ls-files --cached --others --exclude-standard -- '*.go')
if [ "${#missing[@]}" -gt 0 ]; then
	echo "these Go files lack the Apache license header of hack/boilerplate.go.txt:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi
echo "license headers: present"

"${GOLANGCI_LINT:-bin/golangci-lint}" run ./...
# hack/image is its own module (go-containerregistry stays out of go.mod).
(cd hack/image && "${GOLANGCI_LINT:-$PWD/../../bin/golangci-lint}" run ./...)
echo "golangci-lint: clean"
