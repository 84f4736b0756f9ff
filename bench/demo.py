"""`make demo`: run a real program (bench/demo_nbody.py) with and without overdrive.

Each run is a separate process, timed from the outside (start-up and JIT
compilation included, as a user would experience it); the sides alternate
and the best run of each side is compared.

    python bench/demo.py [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from odenv import OVERDRIVE, STOCK, child_env, probe, read_stats_file, round_order

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


def describe_stats(stats: dict[str, Any]) -> list[str]:
    native = stats.get("frames_native") or 0
    interpreted = stats.get("frames_interpreted") or 0
    lines = [
        f"  functions compiled:   {stats.get('functions_compiled')}",
        f"  native code:          {(stats.get('code_bytes') or 0) / 1024:.1f} KiB",
        f"  compile time:         {(stats.get('compile_time_ns') or 0) / 1e6:.2f} ms",
    ]
    if native + interpreted:
        lines.append(f"  frames run natively:  {100 * native / (native + interpreted):.1f}% "
                     f"({native} native, {interpreted} interpreted)")
    for key, title in (("exits", "exits (top 5)"), ("exits_by_opcode", "exits by opcode")):
        counts = stats.get(key) or {}
        if counts:
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
            lines.append(f"  {title + ':':22}{', '.join(f'{k} {v}' for k, v in top)}")
    shown = {"functions_compiled", "code_bytes", "compile_time_ns", "frames_native",
             "frames_interpreted", "exits", "exits_by_opcode"}
    for key, value in stats.items():  # whatever else overdrive reports, e.g. names
        if key not in shown:
            text = repr(value)
            lines.append(f"  {key + ':':22}{text if len(text) < 200 else text[:197] + '...'}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600_000)
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
    print(f"  ratio stock/overdrive: {stock / od:.2f}x  (overdrive {verdict})")
    same = outputs[STOCK].splitlines()[:2] == outputs[OVERDRIVE].splitlines()[:2]
    print(f"  same output (energies): {'yes' if same else 'NO: ' + repr(outputs[OVERDRIVE])}")
    print("\nWhat overdrive did in its last run:")
    if last_stats is None:
        print("  no stats: the process wrote nothing to OVERDRIVE_STATS_FILE")
    else:
        print("\n".join(describe_stats(last_stats)))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
