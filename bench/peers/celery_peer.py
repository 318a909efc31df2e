"""Celery with redis-server as broker and result backend: a redis-server
and a prefork worker of N processes, both started here on 127.0.0.1 and
stopped at the end. Maps are chunks (items / (4 x workers) per task, the
rule of multiprocessing's default chunksize); single calls are delay().
Results are waited for with get(interval=POLL)."""

import atexit
import gc
import os
import subprocess
import sys
import time

import common

# get()'s wait between polls of the results. Its default, 0.5 s, put a
# floor of about half a second under every group (1,800 items/s for a
# 1,000-item map against 20,000 with this), which no Celery user who
# measured would keep.
POLL = 0.005


class Peer:
    how = {
        "trivial": "task.chunks(items / (4 x workers)).group()",
        "one_by_one": "group of one task per item",
        "cpu": "task.chunks(items / (4 x workers)).group()",
        "latency": "task.delay(x).get()",
        "large": "group of one task per item",
        "concurrent": "task.delay per call, then get each",
    }

    def __init__(self, workers):
        self.procs = []
        self.workers = workers
        atexit.register(self.close)  # also when set-up fails half way
        port = common.free_port()
        os.environ["GLIMPSE_PEERS_REDIS"] = f"redis://127.0.0.1:{port}/0"
        self._start(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                     "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
                     # Results come back over pub/sub: with redis' default
                     # limit (32 MB) it drops Celery's subscriber during the
                     # 100 x 1 MB round trip and the group's get() hangs.
                     "--client-output-buffer-limit", "pubsub 0 0 0"])
        import celery_tasks  # after the URL is set
        self.t = celery_tasks
        self._wait_redis()
        self._start([sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "--pool", "prefork",
                     "--concurrency", str(workers), "--loglevel", "WARNING", "--without-gossip",
                     "--without-mingle", "--without-heartbeat"],
                    # Celery refuses pickle as root unless told; the broker
                    # is our own redis-server on loopback.
                    env=dict(os.environ, C_FORCE_ROOT="1"))

    def _start(self, argv, env=None):
        self.procs.append(subprocess.Popen(argv, stdout=sys.stderr, env=env))

    def _wait_redis(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.t.app.backend.client.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _chunks(self, task, xs):
        size = max(1, -(-len(xs) // (4 * self.workers)))
        parts = task.chunks(((x,) for x in xs), size).group().apply_async().get(timeout=300, interval=POLL)
        return [y for part in parts for y in part]

    def map_trivial(self, xs):
        return self._chunks(self.t.square, xs)

    def map_one_by_one(self, xs):
        import celery
        return celery.group(self.t.square.s(x) for x in xs).apply_async().get(timeout=300, interval=POLL)

    def map_cpu(self, ranges):
        return self._chunks(self.t.count_primes, ranges)

    def map_identity(self, blobs):
        import celery
        return celery.group(self.t.identity.s(b) for b in blobs).apply_async().get(timeout=300, interval=POLL)

    def call(self, x):
        if self.procs[-1].poll() is not None:
            raise RuntimeError(f"celery worker exited with status {self.procs[-1].returncode}")
        return self.t.square.delay(x).get(timeout=60, interval=POLL)

    def call_many(self, xs):
        rs = [self.t.square.delay(x) for x in xs]
        return [r.get(timeout=300, interval=POLL) for r in rs]

    def close(self):
        # Results still referenced unsubscribe when collected: do it
        # while redis-server is up, not at exit.
        gc.collect()
        procs, self.procs = self.procs, []
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    import celery
    sys.exit(common.run("Celery", "celery " + celery.__version__ + " + redis-server", Peer))
