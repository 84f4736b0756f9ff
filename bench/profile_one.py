"""Run one pyperformance benchmark body N times in this process, with or without the JIT,
for profilers that count (callgrind, perf). No timing, no pyperf workers.

usage: python bench/profile_one.py NAME N JIT [ARGS...]  (JIT: 1 = overdrive on, 0 = stock)
e.g.   valgrind --tool=callgrind python bench/profile_one.py go 2 1
       valgrind --tool=callgrind --trace-children=yes python bench/profile_one.py 2to3 1 1
       python bench/profile_one.py pickle 2 1 --pure-python pickle

ARGS are the script's own options (what pyperformance's .toml passes as extra_opts).

NAME is a pyperformance script (bm_NAME); for a script that reports several benchmarks, the
first is run, or the one named after a colon: scimark:scimark_lu. A benchmark that times a
whole command (2to3) runs it as a child process, with OVERDRIVE=1 on the JIT side.

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
    commands: set = set()   # names of benchmarks that are whole processes
    script_args: list = []
    jit = False

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

    def bench_command(self, name, command):
        # A whole process per value (2to3). As in the harness, the JIT side switches the
        # JIT on at the process's start-up (OVERDRIVE=1, other OVERDRIVE_* settings kept)
        # and the stock side has no OVERDRIVE* variable. valgrind counts the process with
        # --trace-children=yes.
        import subprocess

        env = {k: v for k, v in os.environ.items()
               if self.jit or not k.startswith("OVERDRIVE")}
        if self.jit:
            env["OVERDRIVE"] = "1"
        self.names.append(name)
        self.commands.add(name)
        self.captured.append(
            lambda: subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL))


def main() -> None:
    name, reps, jit = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    name, _, which = name.partition(":")
    _CapturingRunner.script_args = sys.argv[4:]
    _CapturingRunner.jit = jit
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
    index = _CapturingRunner.names.index(which) if which else 0
    if jit and _CapturingRunner.names[index] not in _CapturingRunner.commands:
        import overdrive

        overdrive.enable()
    body = _CapturingRunner.captured[index]
    for _ in range(reps):
        body()


if __name__ == "__main__":
    main()
