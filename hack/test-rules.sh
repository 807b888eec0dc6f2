#!/usr/bin/env bash
# test-rules.sh checks the monitoring artefacts with promtool (bin/promtool,
# `make prometheus`: the Prometheus the e2e suite scrapes with): the generated rule file
# parses, every dashboard query parses (as a recording rule), and the alerts'
# unit tests in test/monitoring pass. `make test-rules` runs it; with
# TEST_REPORT set it records a line for `make test`'s summary.
set -euo pipefail
cd "$(dirname "$0")/.."
promtool=${PROMTOOL:-bin/promtool}
command -v "$promtool" >/dev/null 2>&1 || {
	echo "$promtool is missing: make prometheus builds it" >&2
	exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./hack/dist/monitoring -queries > "$work/dashboard-queries.yaml"

count() { sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p' "$1"; }
"$promtool" check rules dist/monitoring/prometheus-rules.yaml | tee "$work/rules.out"
"$promtool" check rules "$work/dashboard-queries.yaml" | tee "$work/queries.out"
tests=(test/monitoring/*.yaml)
"$promtool" test rules "${tests[@]}"

cases=$(grep -c '^- name:' "${tests[@]}" | awk -F: '{n += $NF} END {print n}')
line="rules:  promtool check: $(count "$work/rules.out") alerts, $(count "$work/queries.out") dashboard queries; promtool test: $cases tests in ${#tests[@]} files passed ($("$promtool" --version 2>&1 | awk 'NR == 1 {print $3}'))"
echo "$line"
if [ -n "${TEST_REPORT:-}" ]; then
	mkdir -p "$TEST_REPORT"
	echo "$line" > "$TEST_REPORT/rules.txt"
fi
