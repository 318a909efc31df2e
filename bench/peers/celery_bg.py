"""Celery with redis-server doing what bench/tasksbench measures for
glimpse-go's durable tasks: one client enqueues N tasks (square.delay, one
after another: Celery's apply_async is synchronous), then waits until every
result is stored. Uses celery_peer.Peer's redis-server and prefork worker
of --workers processes. Prints one line: RESULT {json}."""

import argparse
import json
import time

import celery_peer


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--tasks", type=int, default=20000)
    a.add_argument("--workers", type=int, default=2)
    args = a.parse_args()
    peer = celery_peer.Peer(args.workers)
    rs = []
    try:
        peer.call(1)  # the worker is up
        t0 = time.monotonic()
        rs = [peer.t.square.delay(i) for i in range(args.tasks)]
        t1 = time.monotonic()
        for r in rs:
            r.get(timeout=300, interval=celery_peer.POLL)
        t2 = time.monotonic()
    finally:
        rs.clear()  # results unsubscribe when collected: while redis-server is up
        peer.close()
    import celery
    print("RESULT", json.dumps({
        "name": "celery " + celery.__version__ + " + redis-server",
        "enqueue_per_s": args.tasks / (t1 - t0),
        "end_to_end_per_s": args.tasks / (t2 - t0),
    }), flush=True)


if __name__ == "__main__":
    main()
