"""`make demo`: run a real program (bench/demo_nbody.py) with and without overdrive.

Each run is a separate process, timed from the outside (start-up and JIT
compilation included, as a user would experience it); the sides alternate
and the best run of each side is compared.

    python bench/demo.py [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from odenv import (OVERDRIVE, STOCK, child_env, last_line, probe, read_stats_file,
                   round_order)

PROGRAM = Path(__file__).resolve().parent / "demo_nbody.py"


def run_once(side: str, steps: int, stats_file: Path) -> tuple[float, str, dict[str, Any] | None]:
    """Wall time, output and (for overdrive) the process's overdrive stats of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(PROGRAM), str(steps)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env(side, stats_file))
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{side} run failed (exit code {proc.returncode}):\n{stderr}")
    records, _ = read_stats_file(stats_file)
    mine = [r["stats"] for r in records if r.get("pid") == proc.pid]
    return wall, stdout, mine[-1] if mine else None


# Runs in an overdrive process: the demo program's functions, then what
# overdrive.info() says about each of them, as one JSON line.
_INFO_SNIPPET = r"""
import contextlib, inspect, io, json, sys
sys.path.insert(0, sys.argv[1])
import demo_nbody, overdrive
with contextlib.redirect_stdout(io.StringIO()):
    demo_nbody.main(["demo_nbody.py", sys.argv[2]])
funcs = [f for f in vars(demo_nbody).values()
         if inspect.isfunction(f) and f.__module__ == "demo_nbody"]
funcs += [f for f in vars(demo_nbody.Body).values() if inspect.isfunction(f)]
print(json.dumps([overdrive.info(f) for f in funcs]))
"""


def function_info(steps: int) -> list[dict[str, Any]] | str:
    """overdrive.info() of each demo function after a run of `steps`, or why it is unavailable."""
    proc = subprocess.run([sys.executable, "-c", _INFO_SNIPPET, str(PROGRAM.parent), str(steps)],
                          capture_output=True, text=True, env=child_env(OVERDRIVE))
    if proc.returncode != 0:
        return f"overdrive.info() failed: {last_line(proc.stderr)}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def describe_functions(infos: list[dict[str, Any]]) -> list[str]:
    lines = [f"  {'function':24}{'compiled':>9}{'entries':>9}{'native':>8}{'code':>10}"
             f"{'compile':>10}  exits / why not"]
    for i in infos:
        exits = ", ".join(f"{k} {v}" for k, v in sorted((i.get("exits") or {}).items(),
                                                        key=lambda kv: -kv[1])[:3])
        lines.append(
            f"  {i.get('name', '?'):24}{('tier ' + str(i.get('tier'))) if i.get('compiled') else 'no':>9}"
            f"{i.get('entries', 0):>9}{i.get('native_entries', 0):>8}"
            f"{(i.get('code_size') or 0) / 1024:>8.1f}Ki{(i.get('compile_ns') or 0) / 1e6:>8.2f}ms"
            f"  {exits or i.get('why_not') or ''}")
    return lines


def describe_stats(stats: dict[str, Any]) -> list[str]:
    native = stats.get("frames_native") or 0
    interpreted = stats.get("frames_interpreted") or 0
    lines = [
        f"  {'functions compiled:':30}{stats.get('functions_compiled')}",
        f"  {'native code:':30}{(stats.get('code_bytes') or 0) / 1024:.1f} KiB",
        f"  {'compile time:':30}{(stats.get('compile_time_ns') or 0) / 1e6:.2f} ms",
    ]
    if native + interpreted:
        lines.append(f"  {'frames run natively:':30}{100 * native / (native + interpreted):.1f}% "
                     f"({native} native, {interpreted} interpreted)")
    shown = {"functions_compiled", "code_bytes", "compile_time_ns", "frames_native",
             "frames_interpreted"}
    for key, value in stats.items():  # whatever else overdrive counts, as it reports it
        if key in shown:
            continue
        if isinstance(value, dict):
            top = sorted(counts(value), key=lambda kv: -kv[1])[:5]
            value = ", ".join(f"{k} {v}" for k, v in top) or "none"
        lines.append(f"  {key.replace('_', ' ') + ':':30}{value}")
    return lines


def counts(value: dict[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    """The numbers of a stats() section, nested sections' as `section.name` (tier2's exits
    and attribute reasons are dicts of their own); flags and texts left out."""
    out: list[tuple[str, float]] = []
    for k, v in value.items():
        if isinstance(v, dict):
            out += counts(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((f"{prefix}{k}", v))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print(f"overdrive demo: {PROGRAM.name}, {args.steps} steps, best of {args.rounds} runs "
          "per side, each a separate process\n")
    probe_result = probe(sys.executable)
    sides = (STOCK, OVERDRIVE) if probe_result.ok else (STOCK,)
    walls: dict[str, list[float]] = {side: [] for side in sides}
    outputs: dict[str, str] = {}
    last_stats: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "stats.jsonl"
        for round_ in range(args.rounds):
            for side in round_order(round_):
                if side in walls:
                    wall, outputs[side], stats = run_once(side, args.steps, stats_file)
                    walls[side].append(wall)
                    last_stats = stats if side == OVERDRIVE else last_stats

    stock = min(walls[STOCK])
    print(f"  {'stock CPython ' + sys.version.split()[0] + ':':24}{stock:7.2f} s   "
          f"(runs: {', '.join(f'{w:.2f}' for w in walls[STOCK])})")
    if not probe_result.ok:
        print(f"  {'overdrive:':24}NOT AVAILABLE: {probe_result.error}")
        return 1
    od = min(walls[OVERDRIVE])
    verdict = "faster" if od < stock else "slower"
    print(f"  {'overdrive:':24}{od:7.2f} s   "
          f"(runs: {', '.join(f'{w:.2f}' for w in walls[OVERDRIVE])})")
    print(f"  {'ratio stock/overdrive:':24}{stock / od:7.2f}x  (overdrive {verdict})")
    same = outputs[STOCK].splitlines()[:2] == outputs[OVERDRIVE].splitlines()[:2]
    print(f"  {'same output:':24}{'yes' if same else 'NO: ' + repr(outputs[OVERDRIVE])}")
    print("\nWhat overdrive did in its last timed run (overdrive.stats()):")
    if last_stats is None:
        print("  no stats: the process wrote nothing to OVERDRIVE_STATS_FILE")
    else:
        print("\n".join(describe_stats(last_stats)))
    info_steps = min(args.steps, 20_000)
    infos = function_info(info_steps)
    print(f"\nThe program's functions (overdrive.info() after a {info_steps}-step run):")
    print(infos if isinstance(infos, str) else "\n".join(describe_functions(infos)))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
