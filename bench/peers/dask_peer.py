"""Dask distributed: a LocalCluster of worker processes with one thread
each, on 127.0.0.1, no dashboard. Maps are client.map over batches of
items / (4 x workers) (here that beat dask.bag.from_sequence(...).map,
8,000-24,000 items/s at 100,000 items, and a future per item is hopeless
at 1M); single calls are client.submit futures."""

import sys

import distributed

import common
import tasks


class Peer:
    how = {
        "trivial": "client.map over batches of items / (4 x workers), client.gather",
        "one_by_one": "client.map (a future per item), client.gather",
        "cpu": "client.map over batches of items / (4 x workers), client.gather",
        "latency": "client.submit(...).result()",
        "large": "client.map (a future per item), client.gather",
        "concurrent": "client.submit per call, client.gather",
    }

    def __init__(self, workers):
        self.cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None, silence_logs=40)
        self.client = distributed.Client(self.cluster)
        self.workers = workers

    def _batches(self, f, xs):
        size = max(1, -(-len(xs) // (4 * self.workers)))
        batches = [xs[i:i + size] for i in range(0, len(xs), size)]
        futures = self.client.map(f, batches, pure=False)
        try:
            parts = self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)  # a timed-out map must not load the next workload
            raise
        return [y for part in parts for y in part]

    def map_trivial(self, xs):
        return self._batches(tasks.square_batch, xs)

    def map_one_by_one(self, xs):
        return self.client.gather(self.client.map(tasks.square, xs, pure=False))

    def map_cpu(self, ranges):
        return self._batches(tasks.count_primes_batch, ranges)

    def map_identity(self, blobs):
        # Not scattered first, though Dask warns about items this large:
        # here client.scatter made the round trip 5x slower.
        return self.client.gather(self.client.map(tasks.identity, blobs, pure=False))

    def call(self, x):
        return self.client.submit(tasks.square, x, pure=False).result()

    def call_many(self, xs):
        return self.client.gather([self.client.submit(tasks.square, x, pure=False) for x in xs])

    def close(self):
        self.client.close()
        self.cluster.close()


if __name__ == "__main__":
    sys.exit(common.run("Dask", "distributed " + distributed.__version__, Peer))
