#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target of the module for a short time each
# (default 10s): `hack/fuzz.sh 30s` to fuzz longer.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}

found=0
while IFS= read -r file; do
	pkg="./$(dirname "$file")"
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		found=1
		echo "fuzzing $pkg $target for $fuzztime"
		go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime"
	done
done < <(git ls-files --cached --others --exclude-standard -- '*_test.go' | xargs grep -l '^func Fuzz' | sort)

if [ "$found" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
