#!/usr/bin/env bash
# preflight.sh is `make test`'s first step: it stops a run that would only
# pass by skipping. The network-namespace, raw-socket, listener-process and
# end-to-end suites need root and Debian's WoL senders; without them the run
# fails here, in one line, unless SKIP_PRIVILEGED=1 asks for the rest only
# (never in CI). The summary at the end of `make test` lists what was skipped.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "${SKIP_PRIVILEGED:-}" ] && [ -z "${CI:-}" ]; then
		echo "SKIP_PRIVILEGED is set: the suites that need root will be skipped, and listed at the end"
		exit 0
	fi
	echo "make test needs root for its network-namespace, raw-socket and end-to-end suites: run sudo env \"PATH=\$PATH\" make test (or SKIP_PRIVILEGED=1 make test for the rest only)" >&2
	exit 1
fi

missing=()
# The real kubelet node of the e2e suite (test/e2e) also needs Debian's containerd (and ctr),
# runc, iptables, nsenter and the CNI plugins.
for tool in ip wakeonlan etherwake containerd ctr runc iptables nsenter /usr/lib/cni/bridge; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
	pkgs=$(printf '%s\n' "${missing[@]}" | sed 's/^ip$/iproute2/; s/^ctr$/containerd/; s/^nsenter$/util-linux/; s|^/usr/lib/cni/bridge$|containernetworking-plugins|' | sort -u | tr '\n' ' ')
	echo "make test needs ${missing[*]}: apt-get install ${pkgs}(.ci/run does)" >&2
	exit 1
fi
