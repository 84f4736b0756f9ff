"""What overdrive adds to the start-up of `python -c pass`: instructions (callgrind) and
wall-clock milliseconds, for `import overdrive`, for enable(), and for the OVERDRIVE=1
autoload, with the part spent compiling start-up code shown apart (docs/performance.md,
"Start-up cost").

usage: python bench/startup.py [--runs N] [--no-callgrind]

Every case is a fresh `python -c ...` of this interpreter with every OVERDRIVE* variable
removed first, run in an empty directory (so that the installed package is measured, not
a source tree in the current directory).

- instructions: one `valgrind --tool=callgrind` run per case ("Collected"); "compiling" is
  a second run collecting only inside od_compile_code (--toggle-collect), i.e. tier 1
  compiling the start-up code the JIT saw (functions entered twice, or once with a loop:
  a high OVERDRIVE_THRESHOLD does not stop the latter).
- time: N runs per case, interleaved case by case so that load from other jobs falls on
  all cases alike; median and minimum. "compiling" is the median of stats()'s
  compile_time_ns at the end of start-up over N further runs.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

_CWD = tempfile.mkdtemp(prefix="overdrive-startup-")

CASES = [
    # (label, environment, code)
    ("python -c pass", {}, "pass"),
    ("import overdrive", {}, "import overdrive"),
    ("import overdrive; overdrive.enable()", {}, "import overdrive; overdrive.enable()"),
    ("OVERDRIVE=1 OVERDRIVE_THRESHOLD=1000000000", {"OVERDRIVE": "1",
                                                    "OVERDRIVE_THRESHOLD": "1000000000"}, "pass"),
    ("OVERDRIVE=1", {"OVERDRIVE": "1"}, "pass"),
]


def _env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    env.update(extra)
    return env


def instructions(env: dict, code: str, *valgrind_args: str) -> int:
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                        *valgrind_args, sys.executable, "-c", code],
                       env=_env(env), cwd=_CWD, capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if not m:
        raise RuntimeError(f"no callgrind total in:\n{r.stderr}")
    return int(m.group(1))


def run_once(env: dict, code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=_CWD, check=True)
    return (time.perf_counter() - t0) * 1e3


def compile_ms(env: dict, runs: int) -> float:
    """Median stats()["compile_time_ns"] (in ms) of `runs` processes, read at the end of
    start-up (`import overdrive` is then a sys.modules hit that runs no Python code)."""
    code = "import overdrive; print(overdrive.stats()['compile_time_ns'])"
    values = [int(subprocess.run([sys.executable, "-c", code], env=_env(env), cwd=_CWD,
                                 check=True, capture_output=True, text=True).stdout) / 1e6
              for _ in range(runs)]
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="timed runs per case (default 40)")
    ap.add_argument("--no-callgrind", action="store_true", help="only time the cases")
    args = ap.parse_args()

    counts, compiling = {}, {}
    if not args.no_callgrind and shutil.which("valgrind"):
        for label, env, code in CASES:
            counts[label] = instructions(env, code)
            if "OVERDRIVE" in env:
                compiling[label] = instructions(env, code, "--toggle-collect=od_compile_code")
    envs = [_env(env) for _, env, _ in CASES]
    for i, (_, _, code) in enumerate(CASES):   # warm the page cache
        run_once(envs[i], code)
    times = {label: [] for label, _, _ in CASES}
    for _ in range(args.runs):
        for i, (label, _, code) in enumerate(CASES):
            times[label].append(run_once(envs[i], code))
    compiling_ms = {label: compile_ms(env, args.runs) for label, env, _ in CASES if "OVERDRIVE" in env}

    base = CASES[0][0]
    base_ms = statistics.median(times[base])
    print(f"{sys.executable}, {args.runs} timed runs per case")
    print(f"{'case':<44} {'instructions':>13} {'added':>12} {'compiling':>11} "
          f"{'median ms':>9} {'added':>6} {'compiling':>9} {'min ms':>6}")
    for label, _, _ in CASES:
        n = counts.get(label)
        med = statistics.median(times[label])
        cells = [
            "" if n is None else f"{n:,}",
            "" if n is None or label == base else f"{n - counts[base]:+,}",
            f"{compiling[label]:,}" if label in compiling else "",
            f"{med:.1f}",
            "" if label == base else f"{med - base_ms:+.1f}",
            f"{compiling_ms[label]:.1f}" if label in compiling_ms else "",
            f"{min(times[label]):.1f}",
        ]
        print(f"{label:<44} {cells[0]:>13} {cells[1]:>12} {cells[2]:>11} {cells[3]:>9} "
              f"{cells[4]:>6} {cells[5]:>9} {cells[6]:>6}")
    os.rmdir(_CWD)


if __name__ == "__main__":
    main()
