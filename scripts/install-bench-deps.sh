#!/usr/bin/env bash
# Installs the Debian packages of the peers that `make bench` measures
# glimpse-go against (bench/peers) and of ApacheBench (ab, which
# bench/gatewaybench drives as Miyamoto's PERFORMANCE file did), only
# those missing. Bench only: make
# test never needs them. Every peer runs on loopback: a Dask LocalCluster
# on 127.0.0.1, a redis-server on 127.0.0.1 for Celery, local ipyparallel
# engines. A package that cannot be installed is reported, not fatal:
# bench/peers reports that peer as missing.
#
# Usage: scripts/install-bench-deps.sh
set -uo pipefail

packages=(
	python3                # /usr/bin/python3 and multiprocessing
	python3-distributed    # Dask: distributed.LocalCluster, dask.bag
	python3-ipyparallel    # ipyparallel: ipcontroller + local engines
	python3-celery         # Celery workers
	python3-redis          # Celery's client for the redis broker and backend
	redis-server           # the broker and result backend of Celery
	apache2-utils          # ab: Miyamoto's enqueue measurement (gatewaybench)
)

source "$(dirname "$0")/apt-lib.sh"
missing_packages "${packages[@]}"
if ((${#missing[@]} == 0)); then
	exit 0
fi
if ! root_prefix; then
	echo "install-bench-deps: need root (or sudo) to install: ${missing[*]}; those peers will be reported as missing" >&2
	exit 0
fi

echo "install-bench-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq || echo "install-bench-deps: apt-get update failed" >&2
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
	# One package that cannot be had must not cost the others.
	for pkg in "${missing[@]}"; do
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
			echo "install-bench-deps: could not install $pkg; its peer will be reported as missing" >&2
	done
fi

# The package starts a system redis-server on 127.0.0.1:6379 where there
# is an init system. bench/peers starts its own on a free port, so stop
# the system one rather than leave it running.
for pkg in "${missing[@]}"; do
	if [[ $pkg == redis-server ]]; then
		stop_service redis-server
	fi
done
exit 0
