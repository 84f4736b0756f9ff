"""Run one pyperformance benchmark body N times in this process, with or without the JIT,
for profilers that count (callgrind, perf). No timing, no pyperf workers.

usage: python bench/profile_one.py NAME N JIT [ARGS...]  (JIT: 1 = overdrive on, 0 = stock)
e.g.   valgrind --tool=callgrind python bench/profile_one.py go 2 1
       python bench/profile_one.py pickle 2 1 --pure-python pickle

ARGS are the script's own options (what pyperformance's .toml passes as extra_opts).

NAME is a pyperformance script (bm_NAME); for a script that reports several benchmarks, the
first is run, or the one named after a colon: scimark:scimark_lu.

Stock (JIT 0) does not import overdrive at all, as the harness's stock side never does: what
importing it adds (its modules, and the objects every full gc.collect() then traverses) is
part of what the JIT side pays.
"""
from __future__ import annotations

import argparse
import os
import sys
import types

import pyperf
import pyperformance

DATA = os.path.join(os.path.dirname(pyperformance.__file__), "data-files", "benchmarks")


class _CapturingRunner:
    """Stands in for pyperf.Runner: records the benchmark function instead of timing it."""

    captured: list = []
    names: list = []
    script_args: list = []

    def __init__(self, *args, **kwargs):
        self.argparser = argparse.ArgumentParser()
        self.metadata: dict = {}

    def parse_args(self, args=None):
        return self.argparser.parse_args(self.script_args)

    def bench_func(self, name, func, *args, **kwargs):
        self.names.append(name)
        self.captured.append(lambda: func(*args))

    def bench_time_func(self, name, func, *args, **kwargs):
        self.names.append(name)
        self.captured.append(lambda: func(1, *args))

    def bench_async_func(self, name, func, *args, **kwargs):
        # pyperf runs the coroutine function on a fresh event loop per value.
        import asyncio

        self.names.append(name)
        self.captured.append(lambda: asyncio.run(func(*args)))


def main() -> None:
    name, reps, jit = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    name, _, which = name.partition(":")
    _CapturingRunner.script_args = sys.argv[4:]
    pyperf.Runner = _CapturingRunner
    path = os.path.join(DATA, f"bm_{name}", "run_benchmark.py")
    sys.argv = [path]
    # The script runs as the real __main__ module: what it hands to pickle by reference
    # (bench_mp_pool's worker function, sent to forked workers) must be found there.
    script = types.ModuleType("__main__")
    script.__file__ = path
    sys.modules["__main__"] = script
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), script.__dict__)
    if jit:
        import overdrive

        overdrive.enable()
    body = _CapturingRunner.captured[_CapturingRunner.names.index(which) if which else 0]
    for _ in range(reps):
        body()


if __name__ == "__main__":
    main()
