"""Run one pyperformance benchmark body N times in this process, with or without the JIT,
for profilers that count (callgrind, perf). No timing, no pyperf workers.

usage: python bench/profile_one.py NAME N JIT     (JIT: 1 = overdrive on, 0 = stock)
e.g.   valgrind --tool=callgrind python bench/profile_one.py go 2 1
"""
from __future__ import annotations

import argparse
import os
import sys

import pyperf
import pyperformance

import overdrive

DATA = os.path.join(os.path.dirname(pyperformance.__file__), "data-files", "benchmarks")


class _CapturingRunner:
    """Stands in for pyperf.Runner: records the benchmark function instead of timing it."""

    captured: list = []

    def __init__(self, *args, **kwargs):
        self.argparser = argparse.ArgumentParser()
        self.metadata: dict = {}

    def parse_args(self, args=None):
        return self.argparser.parse_args([])

    def bench_func(self, name, func, *args, **kwargs):
        self.captured.append(lambda: func(*args))

    def bench_time_func(self, name, func, *args, **kwargs):
        self.captured.append(lambda: func(1, *args))


def main() -> None:
    name, reps, jit = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    pyperf.Runner = _CapturingRunner
    path = os.path.join(DATA, f"bm_{name}", "run_benchmark.py")
    sys.argv = [path]
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), {"__name__": "__main__", "__file__": path})
    if jit:
        overdrive.enable()
    for _ in range(reps):
        _CapturingRunner.captured[0]()


if __name__ == "__main__":
    main()
