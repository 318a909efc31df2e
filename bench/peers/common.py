"""What every Python peer script shares: the workloads (the same sizes as
glimpse-go's side in peerbench), their timing, a time limit on each, and
the result lines peerbench reads.

A peer script builds an adapter with these methods and calls run():

    how          dict: workload name -> how the peer runs it (for the report)
    map_trivial(xs)         -> [x*x for x in xs]
    map_one_by_one(xs)      -> [x*x for x in xs], a task per item (chunks of one)
    map_cpu(ranges)         -> [count_primes(r) for r in ranges]
    map_identity(blobs)     -> blobs, each item a task of its own or not
    call(x)                 -> x*x, one item, waited for
    call_many(xs)           -> [x*x for x in xs], one call per item, all in flight at once
    close()

Each result is one line on stdout: RESULT {json}. A workload that raises or
runs past its limit is reported with its error and the others still run.
"""

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import sys
import time
import traceback

import tasks


def parse_args():
    a = argparse.ArgumentParser()
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("--trivial", default="10000,1000000")
    a.add_argument("--cpu-items", type=int, default=2000)
    a.add_argument("--cost-ms", type=float, default=1.0)
    a.add_argument("--latency-calls", type=int, default=500)
    a.add_argument("--large-items", type=int, default=100)
    a.add_argument("--large-bytes", type=int, default=1 << 20)
    a.add_argument("--concurrent", type=int, default=1000)
    a.add_argument("--one-by-one", type=int, default=2000)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--round-budget", type=float, default=10)
    a.add_argument("--workload-timeout", type=float, default=60)
    return a.parse_args()


def emit(kind, **fields):
    print(kind, json.dumps(fields), flush=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class WorkloadTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise WorkloadTimeout("timed out")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def calibrate(cost_s):
    """A range width whose count_primes takes about cost_s of this
    thread's CPU, from 1,000,000 up (Python's trial division is ~50x
    slower than Go's, so it starts lower than the Go side)."""
    width = 4
    while True:
        start = time.thread_time()
        for i in range(20):
            lo = 1_000_000 + i * width
            tasks.count_primes((lo, lo + width))
        took = (time.thread_time() - start) / 20
        if took >= cost_s / 2:
            return max(1, int(width * cost_s / took))
        width *= 2


# MIN_ROUND_S: a round repeats a workload until this long has passed, so
# a map of a millisecond or two is not one clock reading among other load
# (peerbench's minRound, the same for every pool).
MIN_ROUND_S = 0.1


def median_rate(args, n, f):
    """Median items/s of rounds runs of f over n items, and every round;
    a round repeats f for at least MIN_ROUND_S; fewer rounds once
    args.round_budget seconds are spent, so a slow peer keeps make bench
    short."""
    rates = []
    began = time.perf_counter()
    for _ in range(args.rounds):
        start = time.perf_counter()
        runs = 0
        while True:
            f()
            runs += 1
            took = time.perf_counter() - start
            if took >= MIN_ROUND_S:
                break
        rates.append(n * runs / took)
        if time.perf_counter() - began > args.round_budget:
            break
    return statistics.median(rates), rates


def run(name, version, make_adapter):
    """Sets up the peer, runs every workload under its time limit and
    reports each; exits 0 unless the peer could not start."""
    args = parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    emit("PEER", name=name, version=version, pid=os.getpid())
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, args.workload_timeout)
    try:
        peer = make_adapter(args.workers)
        peer.call(3)  # warm-up: connections, imports on the workers
    except BaseException as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        emit("SETUP", error=f"{type(e).__name__}: {e}".strip())
        traceback.print_exc()
        return 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    emit("SETUP", seconds=time.perf_counter() - start)
    try:
        for workload, f in workloads(args, peer):
            _run_one(args, peer, workload, f)
    finally:
        signal.setitimer(signal.ITIMER_REAL, args.workload_timeout)
        try:
            peer.close()
        except BaseException:
            traceback.print_exc()
        signal.setitimer(signal.ITIMER_REAL, 0)
    return 0


def _how(peer, workload):
    return peer.how.get(workload) or peer.how.get(workload.split("_")[0], "")


def _run_one(args, peer, workload, f):
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, args.workload_timeout)
    try:
        fields = f()
    except BaseException as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        msg = f"{type(e).__name__}: {e}".strip()
        if isinstance(e, WorkloadTimeout):
            msg = f"did not finish within {args.workload_timeout:g} s"
        emit("RESULT", workload=workload, how=_how(peer, workload), error=msg,
             seconds=time.perf_counter() - start)
        traceback.print_exc()
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    emit("RESULT", workload=workload, how=_how(peer, workload),
         seconds=time.perf_counter() - start, **fields)


def workloads(args, peer):
    """(name, function) per workload, in the order of the report; each
    function checks its results and returns the figures."""
    out = []
    for n in [int(s) for s in args.trivial.split(",") if s]:
        out.append((f"trivial_{n}", lambda n=n: trivial(args, peer, n)))
    out.append(("one_by_one", lambda: trivial(args, peer, args.one_by_one, peer.map_one_by_one)))
    out.append(("cpu", lambda: cpu(args, peer)))
    out.append(("latency", lambda: latency(args, peer)))
    out.append(("concurrent", lambda: concurrent(args, peer)))
    # Last: after it Celery 5.2.6's redis result consumer can stop
    # delivering results (get() waits forever), which must not cost the
    # other workloads their figures.
    out.append(("large", lambda: large(args, peer)))
    return out


def check(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: wrong results")


def trivial(args, peer, n, map_squares=None):
    map_squares = map_squares or peer.map_trivial
    xs = list(range(n))
    want = [x * x for x in xs]
    def once():
        check(list(map_squares(xs)), want, "trivial map")
    rate, rates = median_rate(args, n, once)
    return dict(items=n, value=rate, rounds=rates)


def cpu(args, peer):
    width = calibrate(args.cost_ms / 1000)
    ranges = [(1_000_000 + i * width, 1_000_000 + (i + 1) * width) for i in range(args.cpu_items)]
    # One item in SERIAL_EVERY serially, on this thread; the bare rounds
    # run them all, and the first one's counts, checked against these,
    # check the others and the pool's (peerbench's serialSample).
    sample = ranges[::SERIAL_EVERY]
    start, cpu_start = time.perf_counter(), time.thread_time()
    counts = [tasks.count_primes(r) for r in sample]
    serial = len(sample) / (time.perf_counter() - start)
    serial_cpu_ms = 1000 * (time.thread_time() - cpu_start) / len(sample)
    want = []
    def bare_once():
        got = bare(args.workers, ranges)
        if not want:
            check(got[::SERIAL_EVERY], counts, "bare reference")
            want.extend(got)
        check(got, want, "bare reference")
    def once():
        check(list(peer.map_cpu(ranges)), want, "CPU-bound map")
    fields = paired_rounds(args, args.cpu_items, bare_once, once)
    return dict(items=args.cpu_items, serial=serial, serial_cpu_ms=serial_cpu_ms, width=width,
                bare_how=f"{args.workers} processes forked from the driver, each taking the next item",
                **fields)


SERIAL_EVERY = 4


def bare(workers, ranges):
    """Counts the primes of ranges on workers processes forked from this
    one, each taking the next item not yet taken (a counter in shared
    memory), with no pool at all: the reference of the pool's parallel
    efficiency (Python threads would share one core under the GIL; items
    dealt round-robin left it waiting for whichever process other load
    held back). Each process sends its (index, count) pairs back on a pipe
    of its own; the counts in input order."""
    taken = multiprocessing.Value("l", 0)
    children = []
    for _ in range(workers):
        r, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                os.close(r)
                done = []
                while True:
                    with taken.get_lock():
                        i = taken.value
                        taken.value += 1
                    if i >= len(ranges):
                        break
                    done.append((i, tasks.count_primes(ranges[i])))
                with os.fdopen(wr, "w") as out:
                    json.dump(done, out)
            except BaseException:
                status = 1
            os._exit(status)
        os.close(wr)
        children.append((pid, r))
    got = [None] * len(ranges)
    for pid, r in children:
        with os.fdopen(r) as inp:
            text = inp.read()
        if os.waitpid(pid, 0)[1] != 0:
            raise RuntimeError(f"bare reference: process {pid} failed")
        for i, n in json.loads(text):
            got[i] = n
    return got


def paired_rounds(args, n, bare_once, pool_once):
    """The bare reference before the first round of the pool and after
    each, so that every round of the pool sits between two of the bare
    one and a load from the rest of the machine that rises or falls
    meanwhile weighs on both alike (peerbench's pairedRounds): the medians
    of both rates, every round of each, and the median of the rounds'
    efficiencies, the pool's rate over the bare ones' around it (their
    mean time). At least MIN_PAIRED_ROUNDS rounds, whatever the budget."""
    def timed(f):
        start = time.perf_counter()
        f()
        return n / (time.perf_counter() - start)
    bares, rates, ratios = [timed(bare_once)], [], []
    began = time.perf_counter()
    for i in range(args.rounds):
        if i >= MIN_PAIRED_ROUNDS and time.perf_counter() - began > args.round_budget:
            break
        rates.append(timed(pool_once))
        bares.append(timed(bare_once))
        ratios.append(rates[-1] * (1 / bares[i] + 1 / bares[i + 1]) / 2)
    return dict(value=middle(rates), rounds=rates, bare=middle(bares), bare_rounds=bares,
                efficiency=middle(ratios))


MIN_PAIRED_ROUNDS = 3


def middle(xs):
    """The median as peerbench takes it: of an even count, the upper one."""
    return sorted(xs)[len(xs) // 2]


def latency(args, peer):
    ms = []
    for i in range(args.latency_calls):
        start = time.perf_counter()
        got = peer.call(i)
        ms.append(1000 * (time.perf_counter() - start))
        check(got, i * i, "single call")
    return dict(items=args.latency_calls, value=statistics.median(ms),
                p90=statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0])


def large(args, peer):
    blobs = [os.urandom(16) + bytes([i % 256]) * (args.large_bytes - 16) for i in range(args.large_items)]
    def once():
        got = peer.map_identity(blobs)
        if len(got) != len(blobs) or any(g != b for g, b in zip(got, blobs)):
            raise AssertionError("identity map: wrong results")
    total_mb = args.large_items * args.large_bytes / 1e6
    rate, rates = median_rate(args, total_mb, once)
    return dict(items=args.large_items, value=rate, rounds=rates)


def concurrent(args, peer):
    xs = list(range(args.concurrent))
    want = [x * x for x in xs]
    def once():
        check(list(peer.call_many(xs)), want, "concurrent calls")
    rate, rates = median_rate(args, args.concurrent, once)
    return dict(items=args.concurrent, value=rate, rounds=rates)
