"""multiprocessing.Pool(workers): the single-machine pool a Python user
would pick first. Default chunk sizes, as a user would call it."""

import multiprocessing
import sys

import common
import tasks


class Peer:
    how = {
        "trivial": "Pool.map, default chunksize",
        "one_by_one": "Pool.map, chunksize=1",
        "cpu": "Pool.map, default chunksize",
        "latency": "Pool.apply",
        "large": "Pool.map, default chunksize",
        "concurrent": "Pool.apply_async per call",
    }

    def __init__(self, workers):
        self.pool = multiprocessing.get_context("fork").Pool(workers)

    def map_trivial(self, xs):
        return self.pool.map(tasks.square, xs)

    def map_one_by_one(self, xs):
        return self.pool.map(tasks.square, xs, chunksize=1)

    def map_cpu(self, ranges):
        return self.pool.map(tasks.count_primes, ranges)

    def map_identity(self, blobs):
        return self.pool.map(tasks.identity, blobs)

    def call(self, x):
        return self.pool.apply(tasks.square, (x,))

    def call_many(self, xs):
        rs = [self.pool.apply_async(tasks.square, (x,)) for x in xs]
        return [r.get() for r in rs]

    def close(self):
        self.pool.terminate()
        self.pool.join()


if __name__ == "__main__":
    sys.exit(common.run("multiprocessing", "Python " + sys.version.split()[0], Peer))
