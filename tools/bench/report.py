"""report.py - turn build/bench/results.json into docs/BENCHMARKS.md and plots.

Only formatting lives here: every figure comes from the results; the verdict
on each target is computed, never written by hand. The prose on causes and
remedies is tools/bench/analysis.md, included as it stands.
"""
import os
import statistics

import plot

HERE = os.path.dirname(os.path.abspath(__file__))
STREAM = 10000000       # the input lines the issue asks memory to stay flat over


def med(v):
    return statistics.median(v) if v else float("nan")


def pct(v, p):
    s = sorted(v)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def si(x, unit=""):
    if x != x:
        return "n/a"
    a = abs(x)
    for lim, suf in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if a >= lim:
            return "%.3g%s%s" % (x / lim, suf, unit)
    return "%.3g%s%s" % (x, " " if unit else "", unit)


def mm(v, f=si):
    """median (min-max)."""
    if not v:
        return "n/a"
    return "%s (%s-%s)" % (f(med(v)), f(min(v)), f(max(v)))


def num(x, d=2):
    return "n/a" if x != x else ("%.*f" % (d, x))


def verdict(ok):
    return "**not measured**" if ok is None else "**met**" if ok else "**missed**"


class Doc:
    def __init__(self):
        self.lines = []

    def p(self, s=""):
        self.lines.append(s)

    def table(self, head, rows):
        self.p("| " + " | ".join(head) + " |")
        self.p("|" + "|".join(" --- " for _ in head) + "|")
        for r in rows:
            self.p("| " + " | ".join(str(c) for c in r) + " |")
        self.p()

    def cmds(self, items):
        self.p("<details><summary>Commands</summary>")
        self.p()
        for label, c in items:
            self.p("- %s: `%s`" % (label, c))
        self.p()
        self.p("</details>")
        self.p()


def rates(c):
    """Per-round rates: our wall clock for dcf, the contender's own otherwise."""
    out = []
    for x in c["res"]:
        if "summary" in x:
            out.append(c["tasks"] / x["secs"])
        else:
            out.append(x.get("tasks", x.get("items", 0)) / x["secs"])
    return out


def paired(a, b):
    ra, rb = rates(a), rates(b)
    return [x / y for x, y in zip(ra, rb)]


# --- sections -------------------------------------------------------------

def s_overhead(d, R, targets, figs):
    o = R["overhead"]
    dcf = o["dcf"]
    pools = [k for k in o if k.startswith("pool") and k != "pool1"]
    best = max(pools, key=lambda k: med(rates(o[k])) if o[k]["res"] else 0)
    ppes = [k for k in o if k.startswith("ppe") and k != "ppe1"]
    best_ppe = max(ppes, key=lambda k: med(rates(o[k])) if o[k]["res"] else 0)
    r_pool1 = paired(dcf, o["pool1"])
    r_ring = paired(dcf, o["ring1"])
    r_best = paired(dcf, o[best])
    targets.append(("1", "dcf >= 20x Pool(2) at chunksize 1", "%sx (%s-%s)" % (
        num(med(r_pool1), 1), num(min(r_pool1), 1), num(max(r_pool1), 1)), med(r_pool1) >= 20))
    targets.append(("1", "dcf >= 50 % of the bare ring (1 item per lock, 2 consumers)",
                    "%s %% (%s-%s)" % (num(100 * med(r_ring), 0), num(100 * min(r_ring), 0),
                                       num(100 * max(r_ring), 0)), med(r_ring) >= 0.5))
    r_ring16 = paired(dcf, o["ring16"])
    targets.append(("1", "stricter reading: dcf >= 50 % of the bare ring at 16 items per lock",
                    "%s %% (%s-%s)" % (num(100 * med(r_ring16), 0), num(100 * min(r_ring16), 0),
                                       num(100 * max(r_ring16), 0)), med(r_ring16) >= 0.5))
    targets.append(("1", "goal: dcf faster than Pool(2) at its best chunksize (%s)" %
                    o[best]["label"].split()[-1],
                    "%s %% of it (%s-%s)" % (num(100 * med(r_best), 0), num(100 * min(r_best), 0),
                                             num(100 * max(r_best), 0)), med(r_best) > 1))
    d.p("## 1. Framework overhead: zero-work tasks, 2 workers")
    d.p()
    d.p("Every contender moves no-op tasks (or items) from one producer to 2 consumer processes. "
        "dcf is the whole `dcf-supervisor` process (exec, segment, forks, every task tracked, "
        "retired and logged at its level, teardown) timed from outside; the Python pools are "
        "timed inside the script from creating the pool to its shutdown (interpreter start-up "
        "excluded); the bare ring, pipe and message queue from the first fork to the last reap. "
        "Pool at chunksize 1 and ProcessPoolExecutor at chunksize 1 run fewer tasks (their rate "
        "is flat in the count; a million would take minutes per round).")
    d.p()
    rows = []
    dm = med(rates(dcf))
    for k, c in o.items():
        if k == "lock":
            continue
        if c["err"]:
            rows.append((c["label"], c["tasks"], "failed: " + c["err"][:80], ""))
            continue
        r = rates(c)
        rows.append((c["label"] + (" (best chunksize)" if k in (best, best_ppe) else ""),
                     "{:,}".format(c["tasks"]), mm(r), num(dm / med(r), 2) + "x"))
    d.table(("contender", "tasks", "tasks/s, median (min-max)", "dcf is"), rows)
    lk = [x["ns_per_pair"] for x in o["lock"]["res"]]
    if dcf["res"] and "user" in dcf["res"][0]:
        d.p("CPU time of all dcf processes for the million (wait4: the supervisor and its reaped "
            "workers): %s s user, %s s system (medians). The kernel's share is the lock "
            "hand-offs and wake-ups; see the profile." % (
                num(med([x["user"] for x in dcf["res"]]), 2), num(med([x["sys"] for x in dcf["res"]]), 2)))
        d.p()
    d.p("Paired ratios (within a round, median and range): dcf / Pool chunksize 1 = **%sx** "
        "(%s-%s); dcf / bare ring = **%s** (%s-%s); dcf / Pool at chunksize %s = **%s** (%s-%s). "
        "An uncontended lock + unlock of the robust process-shared mutex costs %s ns "
        "(median of the rounds' best-of-3)." % (
            num(med(r_pool1), 1), num(min(r_pool1), 1), num(max(r_pool1), 1),
            num(med(r_ring), 2), num(min(r_ring), 2), num(max(r_ring), 2),
            o[best]["label"].split()[-1], num(med(r_best), 2), num(min(r_best), 2),
            num(max(r_best), 2), num(med(lk), 1)))
    d.p()
    d.p("![overhead](bench-overhead.png)")
    d.p()
    d.cmds([(c["label"], c["argv"]) for c in o.values()])
    figs.append(("bench-overhead.png", "hbars", dict(
        title="1M ZERO-WORK TASKS, 2 WORKERS: TASKS/S (LOG SCALE)",
        rows=[(c["label"].replace("ProcessPoolExecutor", "PPE"), med(rates(c)),
               min(rates(c)), max(rates(c)), 0 if k == "dcf" else 1 if k.startswith(("pool", "ppe"))
               else 2)
              for k, c in o.items() if k != "lock" and c["res"]],
        unit="TASKS/S")))


def range_text(r, pct=False, d=2):
    """A paired ratio: median (min-max), as x or as %."""
    if not r:
        return "n/a"
    if pct:
        return "%s %% (%s-%s)" % (num(100 * med(r), 0), num(100 * min(r), 0), num(100 * max(r), 0))
    return "%sx (%s-%s)" % (num(med(r), d), num(min(r), d), num(max(r), d))


def s_library(d, R, targets, figs):
    o = R["library"]

    def ok(k):
        return k in o and bool(o[k]["res"])

    def pr(a, b):
        return paired(o[a], o[b]) if ok(a) and ok(b) else []

    def target(text, r, limit, pct=False):
        targets.append(("1b", text, range_text(r, pct), med(r) >= limit if r else None))
    pools = [k for k in o if k.startswith("pool") and ok(k)]
    best = max(pools, key=lambda k: med(rates(o[k]))) if pools else None
    best_chunk = o[best]["label"].split()[-1] if best else "?"
    r_1000, r_best = pr("lib", "pool1000"), pr("lib", best) if best else []
    r_150, r_150x = pr("lib150_1", "lib"), pr("lib150_10", "lib")
    r_echo = pr("echo", "pecho1000")
    target("libdcf >= Pool(2) chunksize 1000 (%s no-op tasks, 2 workers)" %
           "{:,}".format(o["lib"]["tasks"]), r_1000, 1.0)
    target("goal: libdcf >= Pool(2) at its best chunksize (%s)" % best_chunk, r_best, 1.0)
    target("libdcf 150 workers, 1 net >= 50 % of 2 workers", r_150, 0.5, pct=True)
    target("libdcf 150 workers, 10 nets >= 50 % of 2 workers", r_150x, 0.5, pct=True)
    target("libdcf 4 KiB >= Pool(2) 4 KiB at chunksize 1000", r_echo, 1.0)
    T = o["lib"]["tasks"]
    E = o["echo"]["tasks"]
    d.p("## 1b. The library: libdcf's pool against Python's Pool")
    d.p()
    d.p("`build/bench/libpool` is a program built from `include/dcf.h` and `libdcf.a` alone, "
        "timed as `tools/bench/pool.py` times Pool: from before the pool starts (its workers "
        "forked) to after it is freed. It submits %s no-op tasks (an 8-byte input, no output) "
        "with `dcf_submit`, taking what is ready with `dcf_try_wait` after each submission and "
        "then `dcf_wait` until ENODATA (*dcf_wait*), or with results handed to `on_result` "
        "(*on_result*). Every result is checked inside the timed part: DCF_OK, each id "
        "delivered once (a bitmap), the output byte for byte. Pool(2) runs `map` over a no-op "
        "at each chunksize, the same count. The 4 KiB rows echo %s inputs of 4,096 bytes (the "
        "task's number, then zeros) back as outputs; Pool's echo maps over distinct bytes "
        "objects of 4,096 bytes made before its clock starts (no chunk holds one object twice, "
        "so each task's bytes are pickled each way) and compares every result after it. "
        "The targets use the *dcf_wait* rows, and 150 workers are compared with 2 workers "
        "in the same round. The last column is paired: within each round, the libdcf row "
        "of its kind (no-op or 4 KiB, 2 workers, dcf_wait) over this row, median (min-max)." % (
            "{:,}".format(T), "{:,}".format(E)))
    d.p()
    rows = []
    for k, c in o.items():
        ref = "echo" if k.startswith(("echo", "pecho")) else "lib"
        if c["err"] and not c["res"]:
            rows.append((c["label"], "{:,}".format(c["tasks"]), "failed: " + c["err"][:100], ""))
            continue
        r = rates(c)
        rows.append((c["label"] + (" (best chunksize)" if k == best else ""),
                     "{:,}".format(c["tasks"]), mm(r),
                     "1 (the reference)" if k == ref else range_text(pr(ref, k))))
    d.table(("contender", "tasks", "tasks/s, median (min-max)", "libdcf is (paired)"), rows)
    cpu = []
    for k in ("lib", "lib_cb", "lib150_1", "lib150_10", "echo", "echo_cb"):
        if ok(k) and "user" in o[k]["res"][0]:
            x = o[k]["res"]
            cpu.append("%s: %s us user + %s us system" % (
                o[k]["label"].replace("libdcf, ", ""),
                num(1e6 * med([y["user"] for y in x]) / o[k]["tasks"], 2),
                num(1e6 * med([y["sys"] for y in x]) / o[k]["tasks"], 2)))
    if cpu:
        d.p("CPU time per task of libpool and its reaped workers (getrusage, medians): %s." %
            "; ".join(cpu))
        d.p()
    d.p("Paired ratios (within a round, median and range): libdcf / Pool(2) chunksize 1000 = "
        "**%s**, with on_result **%s**; libdcf / Pool(2) at chunksize %s = **%s**; 150 workers "
        "/ 2 workers = **%s** in 1 network, **%s** in 10 networks; 4 KiB: libdcf / Pool(2) "
        "chunksize 1000 = **%s**, chunksize 100 = **%s**, with on_result / chunksize 1000 = "
        "**%s**." % (range_text(r_1000), range_text(pr("lib_cb", "pool1000")), best_chunk,
                     range_text(r_best), range_text(r_150, True), range_text(r_150x, True),
                     range_text(r_echo), range_text(pr("echo", "pecho100")),
                     range_text(pr("echo_cb", "pecho1000"))))
    d.p()
    d.p("![library](bench-library.png)")
    d.p()
    d.cmds([(c["label"], c["argv"]) for c in o.values()])
    figs.append(("bench-library.png", "hbars", dict(
        title="LIBDCF AND POOL(2): TASKS/S (LOG SCALE)",
        rows=[(c["label"], med(rates(c)), min(rates(c)), max(rates(c)),
               0 if k.startswith(("lib", "echo")) else 1)
              for k, c in o.items() if c["res"]],
        unit="TASKS/S")))


def s_many(d, R, targets, figs):
    m = R["many"]
    d.p("## 2. Many workers")
    d.p()
    d.p("The same million zero-work tasks with 2, 8, 150 and 1,000 workers, in one network and "
        "in ten (2 and 8 workers: one network per worker, as ten networks cannot share them). "
        "Both columns are compared with 2 workers in 1 network, paired by round. "
        "The bare ring and the pipe get the same numbers of blocking consumers (the ring fewer "
        "items at 150 and 1,000 consumers: it is slow there).")
    d.p()
    rows, series = [], {"dcf, 1 network": [], "dcf, 10 networks": [], "bare ring": [], "pipe": []}
    base1 = m["dcf1_2"]
    for w in (2, 8, 150, 1000):
        c1, c10, rg, pp = m["dcf1_%d" % w], m["dcf10_%d" % w], m["ring_%d" % w], m["pipe_%d" % w]
        r1, r10 = paired(c1, base1), paired(c10, base1)
        rows.append((w, mm(rates(c1)), "%s%%" % num(100 * med(r1), 0),
                     mm(rates(c10)) + " (%s)" % c10["label"].split(", ")[1],
                     "%s%%" % num(100 * med(r10), 0), mm(rates(rg)), mm(rates(pp))))
        for key, c in (("dcf, 1 network", c1), ("dcf, 10 networks", c10), ("bare ring", rg),
                       ("pipe", pp)):
            if c["res"]:
                series[key].append((w, med(rates(c))))
        if w == 150:
            targets.append(("2", "150 workers >= 50 % of 2 workers (1 network)",
                            "%s %% (%s-%s)" % (num(100 * med(r1), 0), num(100 * min(r1), 0),
                                               num(100 * max(r1), 0)), med(r1) >= 0.5))
            targets.append(("2", "150 workers in 10 networks >= 50 % of 2 workers (1 network)",
                            "%s %% (%s-%s)" % (num(100 * med(r10), 0), num(100 * min(r10), 0),
                                               num(100 * max(r10), 0)), med(r10) >= 0.5))
    d.table(("workers", "dcf 1 net, tasks/s", "of 2 workers", "dcf 10 nets, tasks/s", "of 2 workers, 1 net",
             "bare ring, items/s", "pipe, items/s"), rows)
    d.p("![workers](bench-workers.png)")
    d.p()
    d.cmds([(c["label"], c["argv"]) for c in m.values()])
    figs.append(("bench-workers.png", "lines", dict(
        title="ZERO-WORK THROUGHPUT VS WORKERS (LOG-LOG)",
        series=[(k, v, i) for i, (k, v) in enumerate(series.items()) if v],
        xlabel="WORKERS", ylabel="TASKS/S", xticks=[2, 8, 150, 1000])))


def s_recovery(d, R, targets, figs):
    r = R["recovery"]
    rec, fl = r["recovery"], r["floor"]

    def pool(c, key):
        return [v for x in c["res"] for v in x[key]]

    def per_round(c, key):
        return [med(x[key]) for x in c["res"]]
    rows = []
    series = []
    items = (("kill -> task back on the recovery ring (stamp)", rec, "reclaim_us",
              "dcf: kill -> task back on the recovery ring"),
             ("kill -> replacement claims it (stamp)", rec, "ready_us",
              "dcf: kill -> replacement claims it"),
             ("kill -> reclaim seen by the poller", rec, "seen_reclaim_us", None),
             ("kill -> replacement busy, seen by the poller", rec, "seen_ready_us", None),
             ("floor: kill -> waitpid returns (signalfd)", fl, "reap_us",
              "floor: kill -> waitpid returns"),
             ("floor: fork -> child runs", fl, "fork_us", "floor: fork -> child runs"))
    for i, (label, c, key, short) in enumerate(items):
        v = pool(c, key)
        pr = per_round(c, key)
        rows.append((label, len(v), "%.0f" % med(v), "%.0f" % pct(v, 99), "%.0f" % max(v) if v else "n/a",
                     "%.0f-%.0f" % (min(pr), max(pr)) if pr else "n/a"))
        if short and v:
            s = sorted(v)
            series.append((short, [(x, (j + 1) / len(s)) for j, x in enumerate(s)], i))
    recl, ready = pool(rec, "reclaim_us"), pool(rec, "ready_us")
    targets.append(("3", "reclaim median < 0.5 ms", "%.0f us" % med(recl), med(recl) < 500))
    targets.append(("3", "replacement ready median < 1 ms", "%.0f us" % med(ready), med(ready) < 1000))
    worst = max(pct(recl, 99), pct(ready, 99))
    targets.append(("3", "p99 < 5 ms (reclaim and ready)", "%.0f / %.0f us" % (pct(recl, 99),
                    pct(ready, 99)), worst < 5000))
    d.p("## 3. Recovery latency")
    d.p()
    d.p("A run of 2 workers, each in an hour-long sleep task, `--downtime 0`, restarts "
        "unthrottled. `dcfbench recovery` kills the busy worker of node 0, then of node 1, "
        "and so on, 2 ms after the previous replacement took its task. The *stamps* are the "
        "system's own CLOCK_MONOTONIC times written in the segment: the task's `t_queued_ns` "
        "(taken by the supervisor when it reclaims, after `waitpid`, just before the "
        "transaction) and the replacement node's `busy_since_ns` (taken when it claims). "
        "They are read after the fact through a read-only mapping, so the watcher's polling "
        "does not blur them; what the poller saw (every 20 us) is shown as a check. The floor "
        "rows are the bare system calls the path is made of (`build/bench/floor`). "
        "Microseconds; the last column is the spread of the per-round medians.")
    d.p()
    d.table(("what", "samples", "median", "p99", "max", "round medians"), rows)
    d.p("![recovery](bench-recovery.png)")
    d.p()
    d.cmds([("dcf recovery (one round)", rec["argv"]), ("floor (one round)", fl["argv"]),
            ("the supervisor it runs", "./dcf-supervisor --name bench-PID-recN --networks 1 "
             "--nodes 2 --tasks 2 --work sleep --task-ms 3600000 --downtime 0 --max-attempts "
             "1000000 --max-restarts 100000 --restart-window 1 --fail-rate 0 --grace-ms 0 --quiet")])
    figs.append(("bench-recovery.png", "lines", dict(
        title="RECOVERY: CUMULATIVE FRACTION OF KILLS VS MICROSECONDS",
        series=series, xlabel="MICROSECONDS (LOG)", ylabel="FRACTION", ylog=False)))


def s_idle(d, R, targets):
    rows = []
    d.p("## 4. Idle cost")
    d.p()
    d.p("A dcf run ends when its last task completes, so a system with nothing to do is a run "
        "whose only task sleeps for an hour: 1 worker is in that task (it wakes every "
        "hang-timeout/4 = 1.25 s to write its heartbeat), the other 149 have no work and sleep "
        "on their network's futex word, and the supervisor sleeps in poll(2) with a timer for "
        "the hang watchdog (every 2.5 s). After start-up and 1 s of settling, `dcfbench idle` "
        "reads /proc/PID/schedstat (CPU time in ns), /proc/PID/stat (utime+stime) and "
        "/proc/PID/status (voluntary context switches = wake-ups) of all 151 processes once a "
        "second. The second row puts all 150 workers in an hour-long sleep task, to show what "
        "the heartbeat costs.")
    d.p()
    for key in ("idle", "idle_all"):
        c = R["idle"][key]
        if not c["res"]:
            rows.append((c["label"], "failed", "", "", "", ""))
            continue
        x = c["res"][0]
        secs = sum(w["secs"] for w in x["windows"])
        cl = x["classes"]
        run = sum(v["run_ns"] for v in cl.values())
        vcsw = sum(v["vcsw"] for v in cl.values())
        per_s = [100.0 * w["run_ns"] / 1e9 / w["secs"] for w in x["windows"]]
        wk = [w["vcsw"] / w["secs"] for w in x["windows"]]
        rows.append((c["label"], "%.1f s" % secs, "%.4f %% (%s-%s)" % (
            100.0 * run / 1e9 / secs, num(min(per_s), 4), num(max(per_s), 4)),
            "%.2f (%s-%s)" % (vcsw / secs, num(min(wk), 0), num(max(wk), 0)),
            "; ".join("%s %d: %.3f ms, %d wake-ups" % (k, v["procs"], v["run_ns"] / 1e6, v["vcsw"])
                      for k, v in cl.items()),
            "%d ticks" % sum(v["ticks"] for v in cl.values())))
        if key == "idle":
            targets.append(("4", "150 idle workers: all dcf CPU < 0.5 % of one core",
                            "%.4f %%, %.2f wake-ups/s" % (100.0 * run / 1e9 / secs, vcsw / secs),
                            100.0 * run / 1e9 / secs < 0.5))
    d.table(("system", "window", "CPU, % of one core (1-s windows)", "wake-ups/s (1-s windows)",
             "by process", "utime+stime"), rows)
    d.cmds([(c["label"], c["argv"]) for c in R["idle"].values()] +
           [("the supervisor it runs", "./dcf-supervisor --name bench-PID-idleN --networks 3 "
             "--nodes 50 --tasks 1 --work sleep --task-ms 3600000 --fail-rate 0 --grace-ms 0 "
             "--quiet (--tasks 150 for the second row)")])


def s_startup(d, R, targets):
    rows = []
    for key in ("up150", "up4096"):
        c = R["startup"][key]
        if not c["res"]:
            rows.append((c["label"],) + ("failed",) * 6)
            continue
        g = lambda k: [x[k] for x in c["res"]]  # noqa: E731
        rows.append((c["label"], mm(g("ready_s"), lambda v: "%.3f" % v),
                     mm(g("stop_s"), lambda v: "%.3f" % v),
                     "%.1f" % med(g("worker_pss_kib")), "%.0f" % med(g("worker_pss_max_kib")),
                     "%.0f" % med(g("worker_rss_kib")),
                     "%.0f / %.0f" % (med(g("sup_pss_kib")), med(g("sup_rss_kib"))),
                     "{:,}".format(c["res"][0]["segment_bytes"])))
        if key == "up4096":
            targets.append(("5", "4,096 workers ready in < 2 s", "%.3f s (%.3f-%.3f)" % (
                med(g("ready_s")), min(g("ready_s")), max(g("ready_s"))), med(g("ready_s")) < 2))
            targets.append(("5", "< 256 KiB PSS per worker", "%.1f KiB (4,096 workers)" %
                            med(g("worker_pss_kib")), med(g("worker_pss_kib")) < 256))
    d.p("## 5. Start-up and scale")
    d.p()
    d.p("Time from forking `dcf-supervisor` to every node IDLE or BUSY in the segment (polled "
        "every 200 us through a read-only mapping), then each worker's /proc/PID/smaps_rollup; "
        "then SIGTERM and the time until the supervisor has reaped everyone. The run holds one "
        "hour-long sleep task so that it stays up. 150 workers = 3 networks x 50 (the default "
        "shape), 4,096 = 16 x 256.")
    d.p()
    d.table(("workers", "all ready, s", "stop, s", "PSS/worker KiB", "max PSS KiB",
             "RSS/worker KiB", "supervisor PSS / RSS KiB", "segment bytes"), rows)
    d.cmds([(c["label"], c["argv"]) for c in R["startup"].values()] +
           [("the supervisor it runs", "./dcf-supervisor --name bench-PID-upN --networks K "
             "--nodes N/K --tasks 1 --work sleep --task-ms 3600000 --fail-rate 0 --grace-ms 0 "
             "--quiet")])


def s_long(d, R, targets, figs):
    c = R["long"]["long"]
    d.p("## 6. Long run")
    d.p()
    if not c["res"]:
        d.p("Failed: %s" % c["err"])
        return
    T = c["tasks"]
    d.p("%s zero-work tasks with 2 workers (fixed segment: %s task slots). `dcfbench longrun` "
        "reads the retired counter every millisecond and notes when each million is crossed, and "
        "samples the memory of the supervisor and the workers at 1 %%, 50 %% and 99 %% of the "
        "run. The first million includes start-up." % ("{:,}".format(T), "1,024"))
    d.p()
    per = []
    for x in c["res"]:
        ms = [0.0] + x["million_s"]
        per.append([1e6 / (b - a) for a, b in zip(ms, ms[1:])])
    k = min(len(p) for p in per)
    if k == 0:
        d.p("The run was shorter than a million tasks: nothing to report per million.")
        d.p()
        return
    rows = []
    pts = []
    for i in range(k):
        v = [p[i] for p in per]
        rows.append(("%d" % (i + 1), mm(v)))
        pts.append((i + 1, med(v)))
    d.table(("million", "tasks/s, median (min-max) over %d runs" % len(per)), rows)
    # Flat means no trend: the second half of the run (after the first
    # million, which includes start-up) as fast as the first half. Other load
    # on a shared machine adds scatter to single millions, not a trend.
    steady = [t[1] for t in pts[1:]]
    h = len(steady) // 2
    trend = med(steady[h:]) / med(steady[:h]) - 1 if h else float("nan")
    spread_pct = 100.0 * (max(steady) - min(steady)) / med(steady) if steady else float("nan")
    flat_t = trend == trend and abs(trend) <= 0.10
    d.p("Flat means no trend: the median rate of the second half of the run (millions %d-%d) "
        "against the first half (millions 2-%d) is %+.1f %%. Single millions scatter by %.0f %% "
        "of their median (other load on the shared machine)." % (
            h + 2, len(pts), h + 1, 100 * trend if h else float("nan"), spread_pct))
    d.p()
    mrows = []
    mem = [x["mem"] for x in c["res"]]
    for j, label in enumerate(("1 %", "50 %", "99 %")):
        s = [m[j] for m in mem if len(m) > j]
        if not s:
            continue
        g = lambda key: [x[key] for x in s]  # noqa: E731
        mrows.append((label, "%.0f" % med(g("sup_rss_kib")), "%.0f" % med(g("sup_pss_kib")),
                      "%.0f" % med(g("workers_rss_kib")), "%.0f" % med(g("workers_pss_kib"))))
    d.table(("point", "supervisor RSS KiB", "supervisor PSS KiB", "2 workers RSS KiB",
             "2 workers PSS KiB"), mrows)
    rss0 = [m[0]["sup_rss_kib"] + m[0]["workers_rss_kib"] for m in mem if len(m) == 3]
    rss2 = [m[2]["sup_rss_kib"] + m[2]["workers_rss_kib"] for m in mem if len(m) == 3]
    grow = max((b - a) / a for a, b in zip(rss0, rss2)) if rss0 else float("nan")
    d.p("RSS is the pages each process has touched; PSS divides shared pages among their "
        "sharers, so it moves when sharing changes (libc, the segment) even though nothing "
        "is allocated. Wall time of the whole run: %s s." % mm([x["wall_s"] for x in c["res"]],
                                                              lambda v: "%.2f" % v))
    d.p()
    targets.append(("6", "memory flat from start to end (RSS, all processes)",
                    "%+.1f %% from 1 %% to 99 %%" % (100 * grow), grow == grow and abs(grow) <= 0.05))
    targets.append(("6", "throughput flat (no trend over the millions: second half within 10 % of the first)",
                    "%+.1f %%" % (100 * trend), flat_t))
    d.p("![long run](bench-longrun.png)")
    d.p()
    d.cmds([(c["label"], c["argv"]), ("the supervisor it runs", "./dcf-supervisor --name "
            "bench-PID-longN --networks 1 --nodes 2 --tasks %d --work none --fail-rate 0 --quiet" % T)])
    figs.append(("bench-longrun.png", "lines", dict(
        title="LONG RUN: TASKS/S IN EACH MILLION (MEDIAN OF RUNS)",
        series=[("median of runs", pts, 0)],
        xlabel="MILLION", ylabel="TASKS/S",
        xlog=False, ylog=False, xticks=[p[0] for p in pts])))


def s_cpu(d, R, targets):
    c = R["cpu"]
    rows = []
    ideal = 2 * 1000.0 / 1.0
    for key in ("dcf_cpu", "pool_cpu"):
        x = c[key]
        if not x["res"]:
            rows.append((x["label"], "failed: %s" % x["err"], "", ""))
            continue
        r = rates(x)
        eff = [100.0 * v / ideal for v in r]
        util = ""
        if "cpu" in x["res"][0]:
            u = [100.0 * y["cpu"] / (2 * y["secs"]) for y in x["res"]]
            util = "%s %%" % mm(u, lambda v: "%.1f" % v)
        rows.append((x["label"], mm(r), "%s %%" % mm(eff, lambda v: "%.1f" % v), util))
        if key == "dcf_cpu":
            targets.append(("7", "cpu tasks of 1 ms, 2 workers: >= 95 % of ideal",
                            "%.1f %%" % med(eff), med(eff) >= 95))
    d.p("## 7. Real work")
    d.p()
    d.p("%s `--work cpu` tasks of 1 ms with 2 workers (the supervisor calibrates the iterations "
        "per ms on its start), against Pool(2) running a 1 ms clock-timed spin per task. Ideal: "
        "2 cores' worth of task time per second = 2,000 tasks/s. Utilization is the CPU time of "
        "the supervisor and its reaped workers (wait4) over 2 cores x wall time; above 100 %% of "
        "the ideal rate would mean tasks shorter than 1 ms." % "{:,}".format(c["dcf_cpu"]["tasks"]))
    d.p()
    d.table(("contender", "tasks/s", "of ideal (2,000/s)", "CPU utilization"), rows)
    d.cmds([(x["label"], x["argv"]) for x in c.values()])


def ratio_text(r, d=2):
    return "%sx (%s-%s)" % (num(med(r), d), num(min(r), d), num(max(r), d)) if r else "n/a"


def s_commands(d, R, targets, figs):
    o = R["commands"]
    dcf = o["dcf"]
    N = dcf["tasks"]
    few = next((c["tasks"] for k, c in o.items() if k in ("parallel", "tsp")), N // 4)

    def pr(key, base="dcf"):
        a, b = o.get(base), o.get(key)
        return paired(a, b) if a and b and a["res"] and b["res"] else []
    r_x, r_xj, r_p, r_f = pr("xargs"), pr("xargs", "dcf_joblog"), pr("parallel"), pr("floor")
    r_t, r_fx = pr("tsp"), pr("xargs", "floor")

    def target(text, r, limit):
        targets.append(("8", text, ratio_text(r), med(r) >= limit if r else None))
    target("dcf >= xargs -P2 (every task tracked in the books)", r_x, 1.0)
    target("stricter reading: dcf --joblog FILE >= xargs -P2", r_xj, 1.0)
    target("goal: dcf >= 1.5x xargs -P2", r_x, 1.5)
    target("dcf >= 5x GNU parallel -j2", r_p, 5.0)
    d.p("## 8. Commands: a `true` per input line, 2 at a time")
    d.p()
    d.p("Each contender runs `true LINE` once for every line of the same file of numbered "
        "lines (its standard input), 2 at a time, and is timed from outside from its spawn to "
        "its exit: start-up, every command, teardown. dcf is `dcf-supervisor --networks 1 "
        "--nodes 2 -- true` as a user runs it (default log level, the summary on stderr), once "
        "plain and once with `--joblog` to a file, and must end with every line succeeded (and "
        "the joblog a line per task). `xargs -P2 -n1 true` tracks nothing but its exit status. "
        "The floor (`build/bench/spawn 2 true`) does only `posix_spawnp` and `wait`, 2 children "
        "at once: no runner of commands can beat it with 2 of them. GNU parallel and "
        "task-spooler run %s lines, a quarter (they are slow, and their rate does not depend "
        "on the count): parallel with a private HOME and TMPDIR; task-spooler on a private "
        "socket (`TS_SOCKET`), 2 slots, fed by `xargs -n1 tsp -n true` (one client per "
        "command, which is how it queues: a queued job waits as a process), with a last job "
        "that needs both slots free and `tsp -w` on it, then `tsp -K`. The synthetic row is "
        "section 1's zero-work tasks at the same count: the books without a process per task "
        "(at this count mostly start-up)." % "{:,}".format(few))
    d.p()
    rows = []
    dm = med(rates(dcf)) if dcf["res"] else float("nan")
    for k, c in o.items():
        if c["err"] and not c["res"]:
            rows.append((c["label"], "{:,}".format(c["tasks"]) if c["tasks"] else "",
                         ("failed: " if not k.startswith("missing_") else "") + c["err"][:100],
                         "", ""))
            continue
        r = rates(c)
        cpu = [1e3 * x["cpu"] / x.get("tasks", c["tasks"]) for x in c["res"] if "cpu" in x]
        cpu_s = "n/a (a daemon runs them)" if k == "tsp" else \
            mm(cpu, lambda v: "%.2f" % v) if cpu else "n/a"
        rows.append((c["label"], "{:,}".format(c["tasks"]), mm(r), num(dm / med(r), 2) + "x",
                     cpu_s))
    d.table(("contender", "lines", "commands/s, median (min-max)", "dcf is",
             "CPU ms per command (wait4)"), rows)
    d.p("Paired ratios (within a round, median and range): dcf / xargs -P2 = **%s**; "
        "dcf --joblog / xargs -P2 = **%s**; dcf / GNU parallel -j2 = **%s**; "
        "dcf / task-spooler = **%s**; dcf / floor = **%s**. The floor bounds every runner "
        "with 2 children: floor / xargs -P2 = **%s** is the most dcf / xargs -P2 can be on "
        "this machine. CPU per command is the CPU time of the runner and every process it "
        "reaped (for dcf: the supervisor, its workers and their commands), over the commands "
        "run." % (ratio_text(r_x), ratio_text(r_xj), ratio_text(r_p), ratio_text(r_t),
                  ratio_text(r_f), ratio_text(r_fx)))
    d.p()
    left = sorted({"%s: %s" % (c["label"], ", ".join(x.get("left", []) + x.get("strays", [])))
                   for c in o.values() for x in c["res"] if x.get("left") or x.get("strays")})
    if left:
        d.p("Left behind after a run (removed or ended by the driver): %s." % "; ".join(left))
        d.p()
    d.p("![commands](bench-commands.png)")
    d.p()
    d.cmds([(c["label"], c["argv"] + (" < TMP/lines" if c["argv"] and k != "synthetic" else ""))
            for k, c in o.items() if c["argv"]])
    figs.append(("bench-commands.png", "hbars", dict(
        title="A TRUE PER LINE, 2 AT A TIME: COMMANDS/S (LOG SCALE)",
        rows=[(c["label"], med(rates(c)), min(rates(c)), max(rates(c)),
               0 if k.startswith("dcf") else 2 if k in ("floor", "synthetic") else 1)
              for k, c in o.items() if c["res"]],
        unit="COMMANDS/S")))


def s_service(d, R, targets, figs):
    o = R["service"]
    ok = lambda k: k in o and o[k]["res"]  # noqa: E731

    def pr(a, b):
        return paired(o[a], o[b]) if ok(a) and ok(b) else []
    N = o["dcf_batch"]["tasks"]
    stored = o["dcf_batch_full"]["res"][0]["stored"] if ok("dcf_batch_full") else 0
    queued = o["dcf_restart"]["res"][0]["tasks"] if ok("dcf_restart") else 0
    rb = rates(o["dcf_batch"]) if ok("dcf_batch") else []
    r_bean, r_full = pr("dcf_batch", "bean_batch"), pr("dcf_batch_full", "dcf_batch")
    targets.append(("10", ">= 10,000 durable submissions/s (`dcf-submit --batch`, %s)" %
                    "{:,}".format(N), mm(rb) + "/s" if rb else "failed",
                    med(rb) >= 10000 if rb else None))
    targets.append(("10", ">= beanstalkd's rate (binlog, fsync every 50 ms, acknowledging "
                    "before it)", ratio_text(r_bean) if r_bean else "not run",
                    med(r_bean) >= 1.0 if r_bean else None))
    targets.append(("10", "rate with %s tasks stored within 10 %% of the empty "
                    "store's" % "{:,}".format(stored), ratio_text(r_full) if r_full else "failed",
                    med(r_full) >= 0.9 if r_full else None))
    rs = [x["secs"] for x in o["dcf_restart"]["res"]] if ok("dcf_restart") else []
    targets.append(("10", "restart with %s queued until the first task runs < 0.5 s" %
                    "{:,}".format(queued),
                    mm(rs, lambda v: "%.3f s" % v) if rs else "failed",
                    med(rs) < 0.5 if rs else None))
    d.p("## 10. Service mode: durable submissions")
    d.p()
    d.p("`dcf-supervisor --serve` with one worker, kept busy by an hour's `sleep` submitted "
        "first, so that what is submitted next waits in the queue and the submissions are "
        "measured alone (in use the tasks would run meanwhile). dcf answers a submission only "
        "after the transaction that holds it is committed (SQLite WAL, synchronous=FULL: "
        "fsync'd). beanstalkd (Debian's) runs with its binlog (`-b`) on a Unix socket: by "
        "default it fsyncs at most every 50 ms and answers before; with `-f0` it fsyncs at "
        "every write. Its client (`build/bench/svcbench put`) pipelines its puts as "
        "`dcf-submit --batch` streams its lines, and checks every reply. Each round starts "
        "from a new store or binlog, except the rows that start from a filled one: "
        "%s finished tasks (made through the store's own interface; the service keeps them "
        "with `--keep`), or %s queued tasks / jobs for the restart rows, timed from the "
        "server's spawn until the first task runs (it writes into a FIFO the driver waits on) "
        "or the first job is reserved." % ("{:,}".format(stored), "{:,}".format(queued)))
    d.p()
    rows = []
    for k, c in o.items():
        if c["err"] and not c["res"]:
            rows.append((c["label"], ("failed: " if not k.startswith("missing_") else "") +
                         c["err"][:100], ""))
            continue
        if "lat" in c["res"][0]:
            lat = [1e3 * v for x in c["res"] for v in x["lat"]]
            rows.append((c["label"], "latency, ms: median %.2f, p99 %.2f, max %.2f (%d)" % (
                med(lat), pct(lat, 99), max(lat), len(lat)), ""))
        elif k.endswith("restart"):
            rows.append((c["label"], "first task after " + mm([x["secs"] for x in c["res"]],
                                                           lambda v: "%.3f s" % v), ""))
        else:
            rows.append((c["label"], "{:,} submissions: ".format(c["tasks"]) + mm(rates(c)) +
                         "/s", num(med(rb) / med(rates(c)), 2) + "x" if rb else ""))
    d.table(("contender", "measured, median (min-max)", "dcf-submit --batch is"), rows)
    d.p("Paired ratios (within a round): dcf / beanstalkd -b = **%s**; dcf / beanstalkd -b -f0 "
        "= **%s**; with %s tasks stored / empty = **%s**. A latency is the wall time of one "
        "client process, from its spawn to its exit with the answer (dcf-submit, or "
        "svcbench put 1), %d in a row per round, all rounds pooled." % (
            ratio_text(r_bean), ratio_text(pr("dcf_batch", "bean_batch_f0")),
            "{:,}".format(stored), ratio_text(r_full),
            len(o["dcf_lat"]["res"][0]["lat"]) if ok("dcf_lat") else 0))
    d.p()
    if ok("pg_batch"):
        r_pg = pr("pg_batch", "dcf_batch")
        st = [x["stmts"] for x in o["pg_batch"]["res"]]
        tx = [x["xacts"] for x in o["pg_batch"]["res"]]
        d.p("**PostgreSQL store** (issue #16): the same service with `--store postgresql://...` "
            "on a private server on this machine (initdb on a temporary directory, a Unix "
            "socket, fsync and synchronous_commit on as shipped: a submission is answered "
            "after the server flushed its WAL). Paired ratio PostgreSQL / SQLite store = "
            "**%s**. Per task submitted, the server ran %s statements (pg_stat_statements) in "
            "%s transactions (pg_stat_database): one INSERT each, plus a few per group "
            "commit. A commit's INSERTs go as pipelines of up to 256, one round trip a "
            "pipeline, and its other statements (BEGIN, the id and commit marks, COMMIT) one "
            "each: derived from the two counts, about %.3f round trips per task "
            "(statements / 256 + 6 x transactions)." % (
                ratio_text(r_pg), mm(st, lambda v: "%.3f" % v), mm(tx, lambda v: "%.4f" % v),
                med(st) / 256 + med(tx) * 6))
        d.p()
    d.cmds([(c["label"], c["argv"]) for k, c in o.items() if c.get("argv")])


def slope(pts):
    """Least-squares slope of y over x; nan with fewer than 2 distinct x."""
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else float("nan")


def seq_bytes(n):
    """Bytes of `seq n`'s output."""
    total, digits, lo = 0, 1, 1
    while lo <= n:
        hi = min(n, lo * 10 - 1)
        total += (hi - lo + 1) * (digits + 1)
        digits, lo = digits + 1, lo * 10
    return total


def s_stream(d, R, targets, figs):
    c = R["stream"]["stream"]
    d.p("## 9. A stream of input lines")
    d.p()
    if not c["res"]:
        d.p("Failed: %s" % c["err"])
        d.p()
        targets.append(("9", "memory flat over the input stream", "failed", False))
        return
    x = c["res"][0]
    S = [s for s in x["samples"] if s["done"] > 0]
    T, secs = x["tasks"], x["secs"]
    rate = T / secs
    d.p("The issue asks for memory flat over 10 million input lines. At a process per line "
        "that is 10 million spawns: %s at this run's rate (%s lines/s), too long for `make "
        "bench`. So the run is `seq 10000000 | dcf-supervisor --networks 1 --nodes 2 -- true` "
        "cut short: the driver writes the lines of `seq 10000000` into the supervisor's "
        "standard input (a pipe of %s bytes) and closes it after %.0f s; the supervisor then "
        "finishes what it has read and exits 0 with every line it read succeeded. Once a "
        "second it samples, as the long run does, the supervisor's RSS and PSS "
        "(/proc/PID/smaps_rollup) and its peak (VmHWM), the 2 workers' RSS, and how many "
        "tasks have completed (`dcf-status --json`). Flat memory means no cost per line: the "
        "RSS slope over the lines, after the first 10 %% of them, times 10 million is what "
        "the full stream would add." % (
            "%.1f hours" % (STREAM / rate / 3600) if rate > 0 else "n/a",
            "{:,.0f}".format(rate), "{:,}".format(x["pipe_bytes"]), x["budget_s"]))
    d.p()
    if len(S) < 3:
        d.p("Too few samples (%d) to say anything." % len(S))
        d.p()
        return
    rows = []
    for label, frac in (("10 %", 0.1), ("50 %", 0.5), ("end", 1.0)):
        s = min(S, key=lambda v: abs(v["done"] - frac * T))
        rows.append((label, "{:,}".format(s["done"]), "%.0f" % s["t"], s["sup_rss_kib"],
                     s["sup_pss_kib"], s["sup_hwm_kib"], s["workers_rss_kib"],
                     "{:,}".format(s["fed"] - s["done"])))
    d.table(("point", "lines done", "s", "supervisor RSS KiB", "supervisor PSS KiB",
             "supervisor peak (VmHWM) KiB", "2 workers RSS KiB", "lines written, not done"),
            rows)
    late = [s for s in S if s["done"] >= 0.1 * T]
    sl_sup = slope([(s["done"], 1024.0 * s["sup_rss_kib"]) for s in late])
    sl_wk = slope([(s["done"], 1024.0 * s["workers_rss_kib"]) for s in late])
    span = (late[-1]["done"] - late[0]["done"]) if late else 0
    res_b = 4096.0 * 1000 / span if span else float("nan")
    a, b = late[0], late[-1]
    grow = ((b["sup_rss_kib"] + b["workers_rss_kib"]) /
            float(a["sup_rss_kib"] + a["workers_rss_kib"]) - 1) if late else float("nan")
    ahead = max(s["fed"] - s["done"] for s in S)
    d.p("%s lines in %.1f s (%s lines/s), the summary: `%s`. RSS slope after the first 10 %% "
        "of the lines: supervisor **%+.1f bytes per 1,000 lines**, workers %+.1f (one 4 KiB "
        "page over the %s lines measured is %.1f bytes per 1,000: the resolution). Over 10 "
        "million lines that is %+.2f MiB for the supervisor, %+.2f MiB for the workers. "
        "RSS of all three processes from the 10 %% sample to the end: %+.1f %%. The most "
        "lines written and not yet done was %s; the pipe alone holds about %s of these lines "
        "and the books %s task slots. The supervisor reads its input as it needs it; it "
        "does not read ahead." % (
            "{:,}".format(T), secs, "{:,.0f}".format(rate), x["summary"], sl_sup, sl_wk,
            "{:,}".format(span), res_b, sl_sup * STREAM / 1000 / 2 ** 20,
            sl_wk * STREAM / 1000 / 2 ** 20, 100 * grow, "{:,}".format(ahead),
            "{:,}".format(int(x["pipe_bytes"] / seq_bytes(T) * T)) if T else "n/a",
            x.get("task_slots") or "its"))
    d.p()
    if x.get("left"):
        d.p("Left in its TMPDIR after the run (removed by the driver): %s." % ", ".join(x["left"]))
        d.p()
    targets.append(("9", "memory flat over the input stream (RSS of supervisor and workers, "
                    "10 %% of %s lines to the end; within 5 %%)" % "{:,}".format(T),
                    "%+.1f %%; %+.1f bytes per 1,000 lines, %+.2f MiB over 10M lines" % (
                        100 * grow, sl_sup, sl_sup * STREAM / 1000 / 2 ** 20),
                    grow == grow and abs(grow) <= 0.05))
    d.p("![stream](bench-stream.png)")
    d.p()
    d.cmds([(c["label"], c["argv"])])
    figs.append(("bench-stream.png", "lines", dict(
        title="STREAM: RSS KIB VS LINES DONE",
        series=[("SUPERVISOR PEAK (VMHWM; UNDER RSS WHERE EQUAL)",
                 [(s["done"], s["sup_hwm_kib"]) for s in S], 1),
                ("SUPERVISOR RSS", [(s["done"], s["sup_rss_kib"]) for s in S], 0),
                ("2 WORKERS RSS", [(s["done"], s["workers_rss_kib"]) for s in S], 2)],
        xlabel="LINES DONE", ylabel="KIB", xlog=False, ylog=False)))


def s_profile(d, P):
    d.p("## Profile")
    d.p()
    if "flat2" in P:
        for key, title in (("flat2", "2 workers"), ("flat150", "150 workers")):
            x = P[key]
            d.p("### perf, cpu-clock samples, 1M zero-work tasks, %s" % title)
            d.p()
            d.p("`%s` (self time; symbols over 1.5 %%)" % x["cmd"])
            d.p()
            d.table(("%", "process", "object", "symbol"),
                    [("%.1f" % r[0], r[1], r[2], r[3]) for r in x["rows"]])
    else:
        d.p("perf could not sample on this machine; see callgrind below.")
        d.p()
    if "futex2" in P:
        d.p("### futex(2) calls per task, by process and call site")
        d.p()
        d.p("Totals from `perf stat` (counting only); the split by call site from a second run "
            "recorded with `perf record -e syscalls:sys_enter_futex --call-graph dwarf`, each "
            "call attributed to the first dcf or glibc frame that made it (recording slows "
            "every call and shifts the contention, so only its shares are used).")
        d.p()
        rows = []
        for key, w in (("futex2", 2), ("futex150", 150)):
            x = P[key]
            tot = x.get("per_task", {})
            fx = tot.get("syscalls:sys_enter_futex", float("nan"))
            cs = tot.get("context-switches", float("nan"))
            rows.append((w, "**all**", "**all futex calls** (context switches: %s per task)" %
                         num(cs, 3), "**%s**" % num(fx, 3)))
            n_all = sum(r[0] for r in x["rows"]) or 1
            for r in x["rows"]:
                rows.append((w, r[1], r[2], "%s (%.0f %%)" % (num(fx * r[0] / n_all, 3),
                                                           100.0 * r[0] / n_all)))
        d.table(("workers", "process", "call site", "calls per task"), rows)
        d.cmds([("2 workers, counts", P["futex2"].get("stat_cmd", "")),
                ("2 workers, call sites", P["futex2"]["cmd"]),
                ("150 workers, counts", P["futex150"].get("stat_cmd", "")),
                ("150 workers, call sites", P["futex150"]["cmd"])])
    if "cg" in P:
        cg = P["cg"]
        T = cg["tasks"]
        d.p("### callgrind: user-space instructions per task (2 workers, %s tasks)" %
            "{:,}".format(T))
        d.p()
        d.p("`%s`. Instruction counts are stable from run to run, unlike times: the figure "
            "to quote before and after a change. Kernel time (futex, scheduling) is not in "
            "them; see perf above." % cg["cmd"])
        d.p()
        rows = []
        for role in ("supervisor", "workers"):
            r = cg["roles"].get(role)
            if not r:
                continue
            rows.append((role, r["procs"], "{:,}".format(r["ir"]), "%.0f" % (r["ir"] / T)))
        tot = sum(r["ir"] for r in cg["roles"].values())
        rows.append(("all", sum(r["procs"] for r in cg["roles"].values()), "{:,}".format(tot),
                     "%.0f" % (tot / T)))
        d.table(("role", "processes", "instructions", "per task"), rows)
        rows = []
        for role in ("supervisor", "workers"):
            r = cg["roles"].get(role)
            if not r:
                continue
            for name, v in sorted(r["funcs"].items(), key=lambda t: -t[1])[:10]:
                rows.append((role, name, "%.0f" % (v / T), "%.1f" % (100.0 * v / r["ir"])))
        d.table(("role", "function (self)", "instructions per task", "% of role"), rows)
        ops = ("drain", "dcf_dispatch_locked", "dcf_retire_locked", "worker_main",
               "dcf_claim_locked", "dcf_complete_locked", "dcf_sleep_end_locked", "dcf_tx_commit",
               "dcf_tx_put32", "dcf_tx_put64", "dcf_ring_push_tx", "dcf_ring_pop_tx", "dcf_lock",
               "dcf_unlock", "dcf_log", "dcf_now_ns")
        rows = []
        for role in ("supervisor", "workers"):
            r = cg["roles"].get(role)
            if not r or "incl" not in r:
                continue
            for name in ops:
                if r["incl"].get(name):
                    rows.append((role, name, "%.0f" % (r["incl"][name] / T)))
        if rows:
            d.p("Inclusive (the function and all it calls), per task:")
            d.p()
            d.table(("role", "function (inclusive)", "instructions per task"), rows)


def s_priorities(d, R, targets, figs):
    o = R["priorities"]
    ok = lambda k: k in o and o[k]["res"]  # noqa: E731
    r = paired(o["eight"], o["one"]) if ok("eight") and ok("one") else []
    N = o["one"]["tasks"]
    targets.append(("11", "%s no-op tasks over 8 priorities within 10 %% of one priority's "
                    "rate" % "{:,}".format(N), ratio_text(r) if r else "failed",
                    med(r) >= 0.9 if r else None))
    d.p("## 11. Priorities")
    d.p()
    d.p("libdcf's pool with 2 workers (`build/bench/libpool`), %s no-op tasks submitted with "
        "`dcf_submit` (all at priority 0), or with `dcf_submit_prio` at -4, -3, ... 3 in turn: "
        "each priority has its own queue per network in the books, a worker's batch takes the "
        "highest first, so every batch here spans the levels. Every result is checked "
        "(once each, the right output) inside the timed part." % "{:,}".format(N))
    d.p()
    rows = []
    for k, c in o.items():
        if c["err"] and not c["res"]:
            rows.append((c["label"], "failed: " + c["err"][:100], ""))
            continue
        rows.append((c["label"], mm(rates(c)) + "/s",
                     num(med(rates(c)) / med(rates(o["one"])), 2) + "x" if ok("one") else ""))
    d.table(("contender", "tasks/s, median (min-max)", "of one priority's"), rows)
    d.p("Paired ratio (within a round): 8 priorities / one = **%s**." % ratio_text(r))
    d.p()
    d.cmds([(c["label"], c["argv"]) for c in o.values()])


def s_scale(d, R, targets, figs):
    c = R["scale"]["dcf_scale"]
    first = [x * 1000 for r in c["res"] for x in r["first"]]
    last = [x * 1000 for r in c["res"] for x in r["last"]]
    d.p("## 12. Live scaling")
    d.p()
    if not c["res"]:
        d.p("Failed: %s" % (c["err"] or "no result"))
        d.p()
        return
    targets.append(("12", "dcf-ctl scale +8: the new nodes taking tasks (median, p99)",
                    "%.1f / %.1f ms" % (med(last), pct(last, 99)), True))
    d.p("A service (`dcf-supervisor --serve --networks 1 --nodes 1 --max-nodes 9`) whose one "
        "node runs an hour-long task, with more queued; each task writes a line into a FIFO "
        "as it starts. Timed from the spawn of `dcf-ctl scale 0 +8` (the program's own start, "
        "its connection and the answer included) until the first, and until the last, of the "
        "8 new nodes has started its task (fork, attach, claim, and the task's `sh` starting). "
        "Then `dcf-ctl scale 0 1 --now` puts their tasks back, and, once they are gone, again: "
        "%d scale-ups a round. No peer scales a running pool by command this way (pueue's "
        "`parallel` is not packaged for Debian 12; task-spooler's `-S` changes slots but does "
        "not stop a running job), so the figure stands alone. Milliseconds." %
        len(c["res"][0]["last"]))
    d.p()
    d.table(("until", "samples", "median", "p99", "max"),
            [("the first new node runs a task", len(first), "%.1f" % med(first),
              "%.1f" % pct(first, 99), "%.1f" % max(first)),
             ("all 8 new nodes run a task", len(last), "%.1f" % med(last),
              "%.1f" % pct(last, 99), "%.1f" % max(last))])
    d.cmds([(c["label"], c["argv"])])


def s_placement(d, R, targets, figs):
    o = R["placement"]
    d.p("## 13. Placement across networks")
    d.p()
    rows, bars = [], []
    ideal = None
    for i, (k, c) in enumerate(o.items()):
        if not c["res"]:
            rows.append((c["label"], "failed: " + (c["err"] or "")[:100], "", ""))
            continue
        ideal = med([r["ideal"] for r in c["res"]])
        mk = [r["secs"] for r in c["res"]]
        over = [r["secs"] / r["ideal"] for r in c["res"]]
        rows.append((c["label"], mm(mk) + " s", num(ideal, 2) + " s",
                     "%s (%s-%s)" % (num(med(over), 2), num(min(over), 2), num(max(over), 2))))
        bars.append((c["label"].split(" (")[0], med(mk), min(mk), max(mk), i))
        if k == "least-loaded":
            targets.append(("13", "least-loaded makespan within 10 % of the ideal",
                            "%sx the ideal" % num(med(over), 2), med(over) <= 1.10))
        if k == "one" and "least-loaded" in o and o["least-loaded"]["res"]:
            ll = [r["secs"] for r in o["least-loaded"]["res"]]
            targets.append(("13", "least-loaded within 10 % of one network of as many nodes",
                            "%sx" % num(med(ll) / med(mk), 2), med(ll) / med(mk) <= 1.10))
    if ideal is not None:
        bars.append(("ideal: work / nodes", ideal, ideal, ideal, 3))
    N = next(iter(o.values()))["tasks"]
    g = [r["greedy"] for c in o.values() for r in c["res"] if "greedy" in r]
    greedy = (" A cost-free greedy assignment (each task in turn to the first node to free, "
              "computed, not run) would take %s s, %sx the ideal: the tail of the last tasks "
              "that no online placement avoids." % (num(g[0], 2), num(g[0] / ideal, 2))
              if g and ideal else "")
    d.p("A service of three networks of 1, 4 and 16 nodes (`--networks 3 --nodes 16 "
        "--max-nodes 16`, then `dcf-ctl scale 0 1`, `scale 1 4`), %s tasks `sleep S`, S from "
        "0.1 to 1 s (uniform, the same sequence every run), submitted with `dcf-submit --batch "
        "--wait`: "
        "its time, submission included, is the makespan. The ideal is the total work over "
        "the 21 nodes; the floor, what this machine does with no placement to get wrong, is "
        "the same tasks on one network of 21 nodes (each task's fork, exec and end cost "
        "a few ms here, and the last tasks end unevenly). Round-robin gives the 1-node network as many tasks as the 16-node "
        "one; weighted gives each network tasks in proportion to its live nodes; "
        "least-loaded gives each task to the network with the shortest queue (and running "
        "tasks) per live node, and places late: it keeps 2 tasks (running and queued) per live "
        "node in the books and the rest in the supervisor's memory, so a task is placed when "
        "a node is about to free. A node only takes "
        "its own network's queue (and the global one), so placement is all there is.%s" %
        ("{:,}".format(N), greedy))
    d.p()
    d.table(("policy", "makespan, median (min-max)", "ideal", "makespan / ideal"), rows)
    d.p("![placement](bench-placement.png)")
    d.p()
    d.cmds([(c["label"], c["argv"]) for c in o.values()])
    if bars:
        figs.append(("bench-placement.png", "hbars", dict(
            title="MAKESPAN, NETWORKS OF 1, 4 AND 16 NODES: SECONDS (LOWER IS BETTER)",
            rows=bars, unit="SECONDS", log=False)))


def s_hosts(d, R, targets, figs):
    o = R["hosts"]
    ok = lambda k: k in o and o[k]["res"]  # noqa: E731
    d.p("## 15. Several hosts on one PostgreSQL store")
    d.p()
    d.p("Supervisors of their own names on this machine, each a host (`--networks 1 --nodes "
        "2`), on one schema of a private PostgreSQL server (fsync on, a Unix socket). The "
        "drain rows: no-op tasks submitted through the first host with `dcf-submit --batch`, "
        "timed from the submission's start until the store has every one ended; the hosts "
        "share this machine's two cores with the server, so they say what the claims and the "
        "database cost per task, not what more machines give. CPU per task: the whole "
        "machine's busy time over the drain (/proc/stat: the hosts, their tasks, the "
        "submitter and the server), and the server's (its processes, ended ones included). "
        "The failover row: three hosts, "
        "0.3 s tasks, the third SIGKILLed whole once it runs one; for each run it had going, "
        "the time from the kill until its task started again on another host.")
    d.p()
    rows = []
    for k in ("hosts1", "hosts2", "hosts3"):
        if not ok(k):
            if k in o:
                rows.append((o[k]["label"], "failed: " + (o[k]["err"] or "")[:100], "", ""))
            continue
        st = [x["stmts"] for x in o[k]["res"]]
        tx = [x["xacts"] for x in o[k]["res"]]
        cpu = [x.get("cpu_ms", 0) for x in o[k]["res"]]
        dbc = [x.get("db_cpu_ms", 0) for x in o[k]["res"]]
        rows.append((o[k]["label"], mm(rates(o[k])) + "/s", mm(st, lambda v: "%.2f" % v),
                     mm(tx, lambda v: "%.3f" % v), mm(cpu, lambda v: "%.2f" % v),
                     mm(dbc, lambda v: "%.2f" % v)))
    d.table(("hosts", "tasks/s, median (min-max)", "statements per task",
             "transactions per task", "CPU ms per task, all", "of it the database's"), rows)
    if ok("failover"):
        dl = [v for x in o["failover"]["res"] for v in x["delays"]]
        d.p("Failover (%s): %d lost runs over the rounds, each started again on another host "
            "after median **%.2f s**, p99 %.2f s, max %.2f s from the kill." % (
                o["failover"]["label"], len(dl), med(dl), pct(dl, 99), max(dl)))
        targets.append(("15", "a dead host's runs start elsewhere within the lease (2 s) and "
                        "a second", "median %.2f s, max %.2f s" % (med(dl), max(dl)),
                        max(dl) <= 3.0))
    elif "failover" in o:
        d.p("Failover: failed: " + (o["failover"]["err"] or ""))
    d.p()
    d.cmds([(c["label"], c["argv"]) for k, c in o.items() if c.get("argv")])


def s_web(d, R, targets, figs):
    o = R["web"]
    c = o["web"]
    d.p("## 14. The web dashboard")
    d.p()
    if not c["res"]:
        d.p("failed: " + (c["err"] or ""))
        return
    load = [r["load_ms"] for r in c["res"]]
    first = [r["first_frame_ms"] for r in c["res"]]
    cpu = [r["cpu_pct"] for r in c["res"]]
    floor = [r.get("floor_ms", 0) for r in c["res"]]
    fetch = [r.get("fetch_ms", 0) for r in c["res"]]
    fps = [r["frames_per_s"] for r in c["res"]]
    d.p("A service of 3 networks of 50 nodes, `dcf-web` before it on loopback. The page's first "
        "load (5 in each round, each in a fresh browser; the round's median) in headless Chromium (`build/bench/webload`, the tests' DevTools driver): the "
        "navigation's load event and the first status frame on screen, in ms since the "
        "navigation started, by the page's own clock (the browser's start-up not counted). "
        "The floor is what the same browser takes to load a document of one request to the same "
        "server (`/api/config`): its own cost on this machine. The server's part is the page, its "
        "three files, `/api/config` and `/api/status` fetched one after the other, each on a new "
        "connection, by a plain client. "
        "Then %d clients of `/api/events` (Server-Sent Events) for %d s, and dcf-web's CPU "
        "time (user + system, /proc) over that window, in %% of one core." %
        (WEB_CLIENTS_SHOWN, WEB_SECS_SHOWN))
    d.p()
    d.table(("measure", "median (min-max)"),
            [("page loaded (load event), ms", "%.0f (%.0f-%.0f)" % (med(load), min(load), max(load))),
             ("first status frame on screen, ms", "%.0f (%.0f-%.0f)" % (med(first), min(first),
                                                                     max(first))),
             ("the browser's floor (a one-request document), ms",
              "%.0f (%.0f-%.0f)" % (med(floor), min(floor), max(floor))),
             ("the server's part (6 requests in turn, new connections), ms",
              "%.1f (%.1f-%.1f)" % (med(fetch), min(fetch), max(fetch))),
             ("dcf-web CPU, % of one core", "%.2f (%.2f-%.2f)" % (med(cpu), min(cpu), max(cpu))),
             ("frames a client got a second", "%.2f (%.2f-%.2f)" % (med(fps), min(fps), max(fps)))])
    d.cmds([(c["label"], c["argv"])])
    targets.append(("14", "dcf-web under 1 % of one core, 150 nodes, 10 clients at 1 update/s",
                    "%.2f %%" % med(cpu), med(cpu) < 1.0))
    targets.append(("14", "first page load under 200 ms on loopback",
                    "%.0f ms (load event; the browser's floor %.0f ms, the server's part %.1f ms)" %
                    (med(load), med(floor), med(fetch)), med(load) < 200))


WEB_CLIENTS_SHOWN, WEB_SECS_SHOWN = 10, 20


def write(R, docs):
    m = R["machine"]
    P = R.get("profile", {})
    targets, figs = [], []
    body = Doc()
    for key, f in (("overhead", s_overhead), ("library", s_library), ("many", s_many),
                   ("recovery", s_recovery), ("idle", s_idle), ("startup", s_startup), ("long", s_long), ("cpu", s_cpu),
                   ("commands", s_commands), ("stream", s_stream), ("service", s_service),
                   ("priorities", s_priorities), ("scale", s_scale),
                   ("placement", s_placement), ("web", s_web), ("hosts", s_hosts)):
        if key not in R:
            continue
        if f in (s_idle, s_startup, s_cpu):
            f(body, R, targets)
        else:
            f(body, R, targets, figs)
    if "profile" in m.get("sections", ["profile"]):
        s_profile(body, P)
    order = {"1": 0, "1b": 0.5, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6, "8": 7, "9": 8, "10": 9,
             "11": 10, "12": 11, "13": 12, "14": 13, "15": 14}
    targets.sort(key=lambda t: order[t[0]])

    d = Doc()
    d.p("# dcf benchmarks")
    d.p()
    d.p("Written by `make bench` (`tools/bench/run.py`) on %s from commit %s%s, in %.0f s. "
        "Do not edit by hand: run `make bench` again. Issues #6, #11, #12, #13, #14 and #15 ask for these "
        "comparisons; benchmarks are not tests and none of this runs in `make check`." % (
            m["date"], m["commit"], " plus uncommitted changes" if m["dirty"] else "", m["elapsed"]))
    d.p()
    if m.get("partial"):
        d.p("**A try-out of some sections only** (`BENCH_SECTIONS=%s`), not a record." %
            ",".join(m["sections"]))
        d.p()
    d.p("## Machine")
    d.p()
    d.table(("", ""), [
        ("CPUs (`nproc`)", m["nproc"]),
        ("CPU model (/proc/cpuinfo)", m["cpu"] + (" (virtual machine)" if m["virt"] else "")),
        ("memory", "%d MiB" % m["mem_mib"]),
        ("kernel", m["kernel"]), ("Debian", m["debian"]), ("compiler", m["gcc"] + ", -O2 -g"),
        ("libc", m["glibc"]), ("Python", m["python"]),
        ("load average at start / end", "%.2f / %.2f (1 min)" % (m["load"][0], m["load_end"][0])),
        ("rounds", "%d (start-up, overhead, recovery, real work), %d (library, many workers, "
         "commands), "
         "%d (long run), 1 (idle, stream)" % (
             m["runs"], max(3, m["runs"] - 2), max(1, min(3, m["runs"])))),
    ] + ([("task counts scaled by", str(m["scale"]))] if m["scale"] != 1 else []))
    bg = m.get("background", {})
    if bg:
        d.p("The machine is shared: before each section the driver measures, over half a second "
            "of its own idleness, how busy the CPUs are with other work (and waits up to 10 s "
            "for that to fall under 25 %). Figures from a section that began busy are noisier.")
        d.p()
        d.table(("section", "other work, % of CPU", "stolen by the hypervisor, %", "load (1 min)"),
                [(k, "%.0f" % v[0], "%.1f" % v[1], "%.2f" % v[2]) for k, v in bg.items()])
    d.p("## Method")
    d.p()
    d.p("- Every section runs its contenders in rounds; each round runs every contender once, "
        "in an order rotated by one from the previous round, so drift in a noisy machine falls "
        "on all of them alike.")
    d.p("- A figure is the median over the rounds, with the spread (min-max) in parentheses. "
        "A ratio between two contenders is taken inside each round (paired) and its median "
        "quoted: on a shared 2-core machine only ratios measured side by side mean much.")
    d.p("- Throughput is tasks divided by the wall time of the whole thing that does them "
        "(see each section). Runs of dcf's own zero-work tasks are `--fail-rate 0 --quiet`; runs "
        "of commands use the default log level, as a user would. Each must end with every "
        "task completed (exit 0), or the figure is refused.")
    d.p("- dcf is observed from outside only: `build/bench/dcfbench` maps the segment read-only, "
        "as `dcf-status` does, and reads /proc. No hook was added to the core.")
    d.p("- Every process is ended by its PID; the driver is a child subreaper and reaps every "
        "orphan; instances are named `bench-<pid>-...` and nothing is left in /dev/shm.")
    d.p()
    d.p("## Targets")
    d.p()
    d.table(("item", "target", "measured (median, range)", "verdict"),
            [(t[0], t[1], t[2], verdict(t[3])) for t in targets])
    d.lines += body.lines
    with open(os.path.join(HERE, "analysis.md")) as f:
        d.p(f.read().rstrip())
    d.p()
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(d.lines).rstrip() + "\n")
    for name, kind, kw in figs:
        try:
            (plot.hbars if kind == "hbars" else plot.lines)(os.path.join(docs, name), **kw)
        except (ValueError, ZeroDivisionError) as e:
            print("report: plot %s: %s" % (name, e))
