#!/usr/bin/env python3
"""pool.py - Python's own process pools, as dcf's peers on the same ground.

    pool.py pool|ppe noop|spin|echo --tasks N --chunksize C --workers W [--task-ms MS]
            [--size B]

pool: multiprocessing.Pool(W).map; ppe: concurrent.futures.ProcessPoolExecutor(W).map.
noop: a function that returns at once; spin: a function that keeps a core busy
for MS milliseconds (by the clock, so the task time is exact whatever the
interpreter's speed); echo: a function that returns its argument, a bytes
object of B bytes, so that B bytes go each way as in `libpool --size B`.
The echo's arguments are made before the clock starts, as a user would hold
them: max(ECHO_DISTINCT, C) distinct bytes objects (each begins with its
number, the rest zeros, as libpool's inputs), the task list cycling through
them, so that no chunk holds one object twice (pickle sends an object once per
message however often it occurs: a list of one object would carry B bytes per
chunk, not per task). Every result is compared with its argument after the
clock stops.
Timed from before the pool is created (its workers forked) to after it is
shut down, as the whole dcf-supervisor process is.
Prints one JSON object on stdout.
"""
import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import sys
import time


def noop(_x):
    return None


def echo(x):
    return x


# Distinct inputs of the echo, at least one per task of a chunk; the task list
# refers to them in turn (one per task would be 4 GiB for a million of 4 KiB).
ECHO_DISTINCT = 1024


def echo_inputs(tasks, size, chunksize):
    k = min(tasks, max(ECHO_DISTINCT, chunksize))
    blobs = [i.to_bytes(8, "little") + bytes(size - 8) for i in range(k)]
    return blobs, [blobs[i % k] for i in range(tasks)]


SPIN_S = 0.001


def spin(_x):
    end = time.perf_counter() + SPIN_S
    while time.perf_counter() < end:
        pass
    return None


def init_spin(ms):
    global SPIN_S
    SPIN_S = ms / 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=("pool", "ppe"))
    ap.add_argument("fn", choices=("noop", "spin", "echo"))
    ap.add_argument("--tasks", type=int, default=1000000)
    ap.add_argument("--chunksize", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--task-ms", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=4096, help="echo: bytes each way (>= 8)")
    a = ap.parse_args()
    fn = {"noop": noop, "spin": spin, "echo": echo}[a.fn]
    if a.fn == "echo":
        if a.size < 8:
            sys.exit("pool.py: --size must be >= 8")
        blobs, args = echo_inputs(a.tasks, a.size, a.chunksize)
    else:
        args = range(a.tasks)
    mp.set_start_method("fork")
    t0 = time.perf_counter()
    if a.kind == "pool":
        with mp.Pool(a.workers, initializer=init_spin, initargs=(a.task_ms,)) as p:
            out = p.map(fn, args, chunksize=a.chunksize)
            n = len(out)
            if a.fn != "echo":
                out = None      # as before echo: the list is dropped inside the clock
            p.close()
            p.join()
    else:
        with cf.ProcessPoolExecutor(a.workers, initializer=init_spin, initargs=(a.task_ms,)) as e:
            if a.fn == "echo":
                out = list(e.map(fn, args, chunksize=a.chunksize))
                n = len(out)
            else:
                n = sum(1 for _ in e.map(fn, args, chunksize=a.chunksize))
    secs = time.perf_counter() - t0
    if n != a.tasks:
        sys.exit("pool.py: %d results for %d tasks" % (n, a.tasks))
    res = {"kind": a.kind, "fn": a.fn, "tasks": a.tasks, "chunksize": a.chunksize,
           "workers": a.workers, "secs": round(secs, 6), "rate": round(a.tasks / secs)}
    if a.fn == "echo":
        bad = sum(1 for i, x in enumerate(out) if x != blobs[i % len(blobs)])
        if bad:
            sys.exit("pool.py: %d of %d echoes differ from their argument" % (bad, a.tasks))
        res["size"] = a.size
    print(json.dumps(res))


if __name__ == "__main__":
    main()
