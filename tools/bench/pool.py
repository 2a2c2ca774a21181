#!/usr/bin/env python3
"""pool.py - Python's own process pools, as dcf's peers on the same ground.

    pool.py pool|ppe noop|spin --tasks N --chunksize C --workers W [--task-ms MS]

pool: multiprocessing.Pool(W).map; ppe: concurrent.futures.ProcessPoolExecutor(W).map.
noop: a function that returns at once; spin: a function that keeps a core busy
for MS milliseconds (by the clock, so the task time is exact whatever the
interpreter's speed). Timed from before the pool is created (its workers
forked) to after it is shut down, as the whole dcf-supervisor process is.
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
    ap.add_argument("fn", choices=("noop", "spin"))
    ap.add_argument("--tasks", type=int, default=1000000)
    ap.add_argument("--chunksize", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--task-ms", type=float, default=1.0)
    a = ap.parse_args()
    fn = noop if a.fn == "noop" else spin
    mp.set_start_method("fork")
    t0 = time.perf_counter()
    if a.kind == "pool":
        with mp.Pool(a.workers, initializer=init_spin, initargs=(a.task_ms,)) as p:
            n = len(p.map(fn, range(a.tasks), chunksize=a.chunksize))
            p.close()
            p.join()
    else:
        with cf.ProcessPoolExecutor(a.workers, initializer=init_spin, initargs=(a.task_ms,)) as e:
            n = sum(1 for _ in e.map(fn, range(a.tasks), chunksize=a.chunksize))
    secs = time.perf_counter() - t0
    if n != a.tasks:
        sys.exit("pool.py: %d results for %d tasks" % (n, a.tasks))
    print(json.dumps({"kind": a.kind, "fn": a.fn, "tasks": a.tasks, "chunksize": a.chunksize,
                      "workers": a.workers, "secs": round(secs, 6), "rate": round(a.tasks / secs)}))


if __name__ == "__main__":
    main()
