"""CPU time and page faults of pyperformance's bench_mp_pool body, per pool, in paired
interleaved processes: where a multiprocessing pool's cost goes (its parent, its forked
workers), side against side (docs/performance.md, "bench_mp_pool (branch h-mppool)").

usage: python bench/mp_pool_pairs.py [--pyperf] ROUNDS WARMUP MEASURED SIDE [SIDE ...]
       SIDE is NAME=PYTHON[:VAR=VALUE,...], e.g.
       python bench/mp_pool_pairs.py 21 10 25 stock=.venv/bin/python \\
           jit=.venv/bin/python:OVERDRIVE=1 old=/tmp/old-venv/bin/python:OVERDRIVE=1

Each round runs one process per side (ABBA order, every process on core 1 under nice 5:
`taskset -c 1 nice -n 5`), each process WARMUP pools and then MEASURED pools of the
benchmark's body (Pool(2), imap of 1000 items in chunks of 10, close), and reports per
measured pool: CPU time of the process itself (its threads included) and of its children
(the pool's workers, getrusage RUSAGE_CHILDREN), their minor page faults, wall time. The
first side is the reference: for each other side the median over rounds of its ratio to
the reference in the same round. OVERDRIVE* variables come only from the SIDE spec.

--pyperf: each process is instead the harness's pyperf worker of the benchmark
(bm_concurrent_imap's run_benchmark.py --worker, task 0 = bench_mp_pool, WARMUP warm-up
values and MEASURED values of 16 loops each: `make bench` runs 2 and 4), reporting the
median of its values (value_ms, wall time per pool as pyperf measures it) and the whole
process tree's CPU time and minor page faults (RUSAGE_CHILDREN of this driver).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

KEYS = ("cpu_us", "self_us", "child_us", "wall_us", "self_faults", "child_faults")
PYPERF_KEYS = ("value_ms", "tree_cpu_ms", "tree_faults")


def f(x: int) -> int:
    return x


def body() -> None:
    from multiprocessing.pool import Pool

    with Pool(2) as pool:
        for _ in pool.imap(f, range(1000), 10):
            pass


def snapshot() -> tuple:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime, s.ru_minflt, c.ru_minflt,
            time.perf_counter())


def probe(warmup: int, measured: int) -> None:
    """One process: the pools, then one JSON line of per-pool figures."""
    for _ in range(warmup):
        body()
    a = snapshot()
    for _ in range(measured):
        body()
    b = snapshot()
    d = [(y - x) / measured for x, y in zip(a, b)]
    print(json.dumps({"self_us": d[0] * 1e6, "child_us": d[1] * 1e6, "cpu_us": (d[0] + d[1]) * 1e6,
                      "self_faults": d[2], "child_faults": d[3], "wall_us": d[4] * 1e6}))


def pyperf_worker(python: str, env: dict, warmup: str, measured: str, out: str) -> dict:
    """One pyperf worker process of bench_mp_pool: its values and its tree's costs."""
    import pyperformance

    script = os.path.join(os.path.dirname(pyperformance.__file__), "data-files", "benchmarks",
                          "bm_concurrent_imap", "run_benchmark.py")
    inherit = [k for k in env if k.startswith("OVERDRIVE")]
    a = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["taskset", "-c", "1", "nice", "-n", "5", python, script, "--worker",
                    "--worker-task=0", "-l", "16", "-w", warmup, "-n", measured, "-o", out]
                   + ([f"--inherit-environ={','.join(inherit)}"] if inherit else []),
                   env=env, capture_output=True, text=True, check=True)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out) as f:
        runs = json.load(f)["benchmarks"][0]["runs"]
    os.unlink(out)
    values = [v for run in runs for v in run.get("values", [])]
    return {"value_ms": statistics.median(values) * 1e3,
            "tree_cpu_ms": (b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime) * 1e3,
            "tree_faults": b.ru_minflt - a.ru_minflt}


def main() -> None:
    if sys.argv[1] == "--probe":
        probe(int(sys.argv[2]), int(sys.argv[3]))
        return
    use_pyperf = sys.argv[1] == "--pyperf"
    args = sys.argv[2:] if use_pyperf else sys.argv[1:]
    keys = PYPERF_KEYS if use_pyperf else KEYS
    rounds, warmup, measured = args[:3]
    sides = []
    for spec in args[3:]:
        name, rest = spec.split("=", 1)
        python, _, assignments = rest.partition(":")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
        for assignment in filter(None, assignments.split(",")):
            var, value = assignment.split("=", 1)
            env[var] = value
        sides.append((name, python, env))
    results: dict[str, list] = {name: [] for name, _, _ in sides}
    for r in range(int(rounds)):
        for name, python, env in (sides if r % 2 == 0 else sides[::-1]):
            if use_pyperf:
                out = f"/tmp/mp_pool_pairs.{os.getpid()}.json"
                results[name].append(pyperf_worker(python, env, warmup, measured, out))
                continue
            out = subprocess.run(["taskset", "-c", "1", "nice", "-n", "5", python,
                                  os.path.abspath(__file__), "--probe", warmup, measured],
                                 env=env, capture_output=True, text=True, check=True).stdout
            results[name].append(json.loads(out))
    reference = sides[0][0]
    for name, runs in results.items():
        print(f"{name:12s}" + "".join(f" {k}={statistics.median(x[k] for x in runs):8.1f}"
                                      for k in keys))
        if name != reference:
            print(f"{'  / ' + reference:12s}" + "".join(
                f" {k}={statistics.median(a[k] / b[k] for a, b in zip(runs, results[reference])):8.3f}"
                for k in keys))


if __name__ == "__main__":
    main()
