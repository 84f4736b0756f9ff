"""The warm-up view: how long each of the first iterations takes, stock vs overdrive.

A JIT pays for compilation in the first iterations, and for short programs the
first second is all there is. pyperf's normal runs throw warm-ups away, so
here each fresh process runs one iteration per value (--loops=1) with no
warm-up and every value is kept, in order.

    python bench/warmup.py [--profile quick|full] [--only nbody]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import pyperf

from odenv import OVERDRIVE, SIDES, Probe, probe, round_order
from runner import remove_stale, run_pyperf
from suite import PROFILES, WarmupSpec, find_script

# Warmed up: the first iteration within this fraction of the steady state
# (the median of the second half of the iterations). Asking that all later
# iterations stay within it too would let one noisy iteration decide.
STEADY_TOLERANCE = 0.10


def run(spec: WarmupSpec, out_dir: Path, probe_result: Probe, timeout_s: float,
        benchmarks: tuple[str, ...] | None = None,
        options: dict[str, str] | None = None) -> dict[str, Any]:
    """Measure, write warmup.json and warmup.png into out_dir, print a summary, return the data."""
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    argv = ["--processes=1", "--warmups=0", f"--values={spec.iterations}", "--loops=1"]
    data: dict[str, Any] = {"iterations": spec.iterations, "processes": spec.processes,
                            "benchmarks": {}}
    for name in benchmarks or spec.benchmarks:
        script = find_script(name)
        paths = {side: runs_dir / f"warmup.{name}.{side}.json" for side in SIDES}
        logs = {side: runs_dir / f"warmup.{name}.{side}.log" for side in SIDES}
        remove_stale(*paths.values(), *logs.values())
        errors: dict[str, str] = {}
        if not probe_result.ok:
            errors[OVERDRIVE] = probe_result.error or "overdrive unavailable"
        for round_ in range(spec.processes):  # sides alternate, as in the harness
            for side in round_order(round_):
                if side not in errors:
                    outcome = run_pyperf(script, side, argv, paths[side], logs[side], timeout_s,
                                         options=options)
                    if not outcome.ok:
                        errors[side] = outcome.error or "failed"
        per_side: dict[str, Any] = {}
        for side in SIDES:
            if side in errors:
                per_side[side] = {"error": errors[side]}
                continue
            bench = pyperf.BenchmarkSuite.load(str(paths[side])).get_benchmarks()[0]
            # One list per process, in iteration order.
            per_side[side] = {"iterations_s": [list(r.values) for r in bench.get_runs()
                                               if r.values]}
        data["benchmarks"][name] = per_side
    (out_dir / "warmup.json").write_text(json.dumps(data, indent=1) + "\n")
    plot(data, out_dir / "warmup.png")
    print(summary(data))
    return data


def median_curve(processes: list[list[float]]) -> list[float]:
    """Per-iteration median over processes."""
    return [statistics.median(values) for values in zip(*processes)]


def warmed_up_at(curve: list[float]) -> int:
    """1-based index of the first iteration within tolerance of the steady state."""
    steady = statistics.median(curve[len(curve) // 2:])
    return next(i for i, v in enumerate(curve, 1) if v <= (1 + STEADY_TOLERANCE) * steady)


def summary(data: dict[str, Any]) -> str:
    lines = [f"\nWarm-up: first {data['iterations']} iterations, median of "
             f"{data['processes']} fresh processes",
             f"{'benchmark':16} {'side':10} {'1st iter':>10} {'steady':>10} "
             f"{'steady from':>12} {'time before':>12}"]
    for name, sides in data["benchmarks"].items():
        for side, result in sides.items():
            if "error" in result:
                lines.append(f"{name:16} {side:10} FAILED: {result['error']}")
                continue
            curve = median_curve(result["iterations_s"])
            at = warmed_up_at(curve)
            steady = statistics.median(curve[len(curve) // 2:])
            lines.append(f"{name:16} {side:10} {curve[0] * 1e3:8.1f}ms {steady * 1e3:8.1f}ms "
                         f"{'iter ' + str(at):>12} {sum(curve[:at - 1]):11.2f}s")
    return "\n".join(lines)


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")  # no display on benchmark machines
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = list(data["benchmarks"])
    cols = min(2, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.6 * rows), squeeze=False)
    colors = {"stock": "tab:gray", "overdrive": "tab:blue"}
    for ax, name in zip(axes.flat, names):
        for side, result in data["benchmarks"][name].items():
            if "error" in result:
                ax.text(0.02, 0.95 if side == "stock" else 0.85,
                        f"{side} FAILED: {result['error'][:60]}", transform=ax.transAxes,
                        color="red", fontsize=8, va="top")
                continue
            procs = result["iterations_s"]
            x = range(1, len(procs[0]) + 1)
            ms = [[v * 1e3 for v in p] for p in procs]
            ax.fill_between(x, [min(v) for v in zip(*ms)], [max(v) for v in zip(*ms)],
                            color=colors[side], alpha=0.2, linewidth=0)
            ax.plot(x, median_curve(ms), marker="o", markersize=3, color=colors[side],
                    label=side)
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("iteration (fresh process)")
        ax.set_ylabel("time per iteration (ms)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"Warm-up: median of {data['processes']} processes, band = min..max")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--only", nargs="+", metavar="BENCHMARK")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    out_dir = args.out or Path(__file__).resolve().parent / "results" / f"warmup-{profile.name}"
    probe_result = probe(sys.executable)
    data = run(profile.warmup, out_dir, probe_result, profile.timeout_s,
               tuple(args.only) if args.only else None)
    print(f"Wrote {out_dir}/warmup.json and warmup.png")
    failed = not probe_result.ok or any("error" in r for s in data["benchmarks"].values()
                                        for r in s.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
