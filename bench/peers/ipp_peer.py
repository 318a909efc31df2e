"""ipyparallel: a local Cluster (ipcontroller and engines on 127.0.0.1).
Maps use a DirectView's map (one partition per engine), which is how its
docs map a list; single calls go through a load-balanced view."""

import sys

import ipyparallel

import common
import tasks


class Peer:
    how = {
        "trivial": "DirectView.map_sync (a partition per engine)",
        "one_by_one": "LoadBalancedView.map_sync, chunksize=1",
        "cpu": "LoadBalancedView.map_sync, chunksize = items / (4 x engines)",
        "latency": "LoadBalancedView.apply_sync",
        "large": "LoadBalancedView.map_sync (a task per item)",
        "concurrent": "LoadBalancedView.apply_async per call, then wait",
    }

    def __init__(self, workers):
        self.cluster = ipyparallel.Cluster(n=workers, controller_ip="127.0.0.1", log_level=40)
        self.rc = self.cluster.start_and_connect_sync()
        self.rc.wait_for_engines(workers, timeout=60)
        self.direct = self.rc[:]
        self.lb = self.rc.load_balanced_view()
        self.workers = workers

    def map_trivial(self, xs):
        return self.direct.map_sync(tasks.square, xs)

    def map_one_by_one(self, xs):
        return self.lb.map_sync(tasks.square, xs, chunksize=1)

    def map_cpu(self, ranges):
        size = max(1, len(ranges) // (4 * self.workers))
        return self.lb.map_sync(tasks.count_primes, ranges, chunksize=size)

    def map_identity(self, blobs):
        return self.lb.map_sync(tasks.identity, blobs)

    def call(self, x):
        return self.lb.apply_sync(tasks.square, x)

    def call_many(self, xs):
        rs = [self.lb.apply_async(tasks.square, x) for x in xs]
        return [r.get() for r in rs]

    def close(self):
        self.rc.close()
        self.cluster.stop_cluster_sync()


if __name__ == "__main__":
    sys.exit(common.run("ipyparallel", "ipyparallel " + ipyparallel.__version__, Peer))
