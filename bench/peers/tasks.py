"""The functions every Python peer runs, in a module of their own so that
worker processes (multiprocessing, Dask, ipyparallel, Celery) import them
by name: the same work as glimpse-go's side in peerbench."""


def square(x):
    """The trivial map: x*x."""
    return x * x


def square_batch(xs):
    """x*x over a batch, for peers that map over batches."""
    return [x * x for x in xs]


def identity(b):
    """The large-item round trip: the bytes back."""
    return b


def count_primes(r):
    """The CPU-bound item: primes in [lo, hi) by trial division, the same
    work as examples.countprimes."""
    lo, hi = r
    n = 0
    for x in range(max(lo, 2), hi):
        if x % 2 == 0:
            n += x == 2
            continue
        d = 3
        while d * d <= x:
            if x % d == 0:
                break
            d += 2
        else:
            n += 1
    return n


def count_primes_batch(rs):
    return [count_primes(r) for r in rs]
