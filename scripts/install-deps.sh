#!/usr/bin/env bash
# Installs the Debian packages this project needs, only those missing, so it
# is cheap to run before every build or CI run.
#
# Usage: scripts/install-deps.sh [EXTRA_PACKAGE...]
set -euo pipefail

packages=(
	gearman-job-server # gearmand, started by internal/gearmand for tests and local clusters
	gearman-tools      # the C `gearman` CLI: the interop peer in tests
	libgearman-dev     # libgearman, for the C side of make bench-gearman
	libzmq3-dev
	pkg-config
	gcc
	postgresql         # PostgreSQL server: internal/testenv.Postgres starts one for the shared fanout store tests
	iproute2           # ip and ss: scripts/netns-cluster.sh, the multi-host tests of internal/netns
	chromium           # headless browser: the dashboard's browser test (cli), make screenshots
	fonts-liberation   # text in the dashboard's screenshots (chromium only recommends it)
	prometheus         # promtool: the metrics tests check each endpoint's output with promtool check metrics
	"$@"
)

source "$(dirname "$0")/apt-lib.sh"
missing_packages "${packages[@]}"
if ((${#missing[@]} == 0)); then
	exit 0
fi
if ! root_prefix; then
	echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The package may start a system gearmand on 0.0.0.0:4730. Tests pick their
# own loopback ports and never use it, so stop it rather than leave a stray
# server around. Failure is fine (no init system in containers, etc.).
for pkg in "${missing[@]}"; do
	if [[ $pkg == gearman-job-server ]]; then
		stop_service gearman-job-server
	fi
done
