"""Benchmark stock CPython against overdrive on pyperformance's stdlib benchmarks.

For each benchmark the stock run and the overdrive run follow each other
directly (interleaved), so slow drifts of a shared machine hit both sides
alike. Both use the same explicit pyperf parameters. Results, tables and
charts go to bench/results/<profile>/.

    python bench/harness.py --profile quick|full [--only nbody richards]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyperf
# is_significant is the Student t-test behind `pyperf compare_to`; private, but
# using it keeps our verdicts identical to pyperf's (version pinned).
from pyperf._utils import is_significant

import report
import warmup
from odenv import (OVERDRIVE, SIDES, STOCK, Probe, probe, read_stats_file,
                   round_order, side_options, summarize_stats)
from runner import remove_stale, run_pyperf
from suite import PROFILES, Profile, PyperfParams, Script, select

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


def load_benchmarks(path: Path) -> list[pyperf.Benchmark]:
    """The benchmarks of a pyperf JSON file, in the order they ran (a crash may leave a partial file)."""
    if not path.exists():
        return []
    try:
        return list(pyperf.BenchmarkSuite.load(str(path)).get_benchmarks())
    except Exception:  # a file cut short by a crash holds no usable result
        return []


def timing_record(bench: pyperf.Benchmark) -> dict[str, Any]:
    """What the reports need from one side of one benchmark, raw values included."""
    runs = bench.get_runs()
    # bench_command benchmarks (python_startup, 2to3) measure a child process:
    # its peak RSS is the one that matters.
    rss = [r.get_metadata().get("command_max_rss") or r.get_metadata().get("mem_max_rss")
           for r in runs]
    values = list(bench.get_values())
    return {
        "ok": True,
        "error": None,
        "mean_s": bench.mean(),
        "stdev_s": bench.stdev() if len(values) > 1 else 0.0,
        "values_s": values,
        "loops": sorted({r.get_metadata().get("loops") for r in runs if r.values} - {None}),
        "peak_rss_bytes": max((m for m in rss if m), default=None),
    }


def stats_by_task(stats_file: Path, runner_pids: set[int],
                  n_benchmarks: int) -> tuple[dict[int, list[dict[str, Any]]], int]:
    """Overdrive's per-process stats, grouped by the pyperf benchmark they ran.

    pyperf gives each benchmark of a script a worker-task index, in order. The
    runner process and loop-calibration workers are left out: they run no
    measured iterations. Processes started by a measured command (python_startup,
    2to3) carry no index and belong to the script's single benchmark.
    """
    records, bad_lines = read_stats_file(stats_file)
    grouped: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        argv = [str(a) for a in record.get("argv") or []]
        if record.get("pid") in runner_pids or "--calibrate-loops" in argv \
                or "--recalibrate-loops" in argv:
            continue
        task = next((int(a.split("=", 1)[1]) for a in argv
                     if a.startswith("--worker-task=")), None)
        if task is None and "--worker" not in argv and n_benchmarks == 1:
            task = 0
        if task is not None:
            grouped.setdefault(task, []).append(record)
    return grouped, bad_lines


def failed(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def measured_runs(bench: pyperf.Benchmark) -> int:
    return sum(1 for run in bench.get_runs() if run.values)


def run_script(script: Script, params: PyperfParams, profile: Profile, runs_dir: Path,
               probe_result: Probe,
               options: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Stock and overdrive for one script; one result row per pyperf benchmark it reports.

    The worker processes of the two sides alternate in ABBA order, each a
    pyperf invocation appending to its side's JSON, so load that comes and
    goes on a shared machine hits both sides alike. The first invocation
    (stock's, unless stock failed) calibrates the loops and both sides reuse
    them, so that a process of either side does the same work: a side that
    calibrated more loops because it is faster ran more iterations per process,
    and its peak RSS held more of the benchmark's garbage (go's stock worker:
    21.9 MiB at 1 loop, 23.6 MiB at 2; the JIT's calibrated 2). Timings are per
    iteration either way. Scripts with several benchmarks (one --loops would
    not fit all) calibrate every time, and long-running ones need no
    calibration (Script.loops).
    """
    paths = {side: runs_dir / f"{script.name}.{side}.json" for side in SIDES}
    logs = {side: runs_dir / f"{script.name}.{side}.log" for side in SIDES}
    stats_file = runs_dir / f"{script.name}.overdrive.stats.jsonl"
    remove_stale(*paths.values(), *logs.values(), stats_file)

    errors: dict[str, str] = {}
    if not probe_result.ok:
        errors[OVERDRIVE] = probe_result.error or "overdrive unavailable"
    wall = {side: 0.0 for side in SIDES}
    runner_pids: set[int] = set()
    loops: int | None = script.loops
    for round_ in range(params.processes):
        for side in round_order(round_):
            if side in errors:
                continue  # a side that failed once is not retried
            outcome = run_pyperf(script, side, params.argv(loops), paths[side],
                                 logs[side], profile.timeout_s,
                                 stats_file if side == OVERDRIVE else None,
                                 options=options)
            wall[side] += outcome.wall_s
            if outcome.runner_pid is not None:
                runner_pids.add(outcome.runner_pid)
            if not outcome.ok:
                errors[side] = outcome.error or "failed"
                continue
            done = load_benchmarks(paths[side])
            if loops is None and len(done) == 1:
                # The last run is the measured one of the invocation that calibrated.
                loops = done[0].get_runs()[-1].get_metadata().get("loops")

    benches = {side: load_benchmarks(paths[side]) for side in SIDES}
    names = [b.get_name() for b in benches[STOCK] or benches[OVERDRIVE]] or [script.name]
    grouped, bad_lines = stats_by_task(stats_file, runner_pids, len(benches[OVERDRIVE]))
    rows = []
    for name in names:
        row: dict[str, Any] = {"name": name, "script": script.name, "params": asdict(params),
                               "wall_s": wall}
        for side in SIDES:
            by_name = {b.get_name(): b for b in benches[side]}
            # A failed invocation ends a side early: a benchmark counts as
            # measured only if every invocation of its side completed it.
            complete = name in by_name and (side not in errors
                                            or measured_runs(by_name[name]) == params.processes)
            row[side] = (timing_record(by_name[name]) if complete
                         else failed(errors.get(side, "missing from pyperf output")))
        if row[OVERDRIVE]["ok"]:
            task = [b.get_name() for b in benches[OVERDRIVE]].index(name)
            row[OVERDRIVE]["jit"] = summarize_stats(grouped.get(task, []))
            if row[OVERDRIVE]["jit"] is None:
                # The probe showed the JIT on; missing stats mean the stats
                # file is broken, not that the run was stock. Say so anyway.
                row[OVERDRIVE]["note"] = "no overdrive stats from the workers"
            elif bad_lines:
                row[OVERDRIVE]["note"] = f"{bad_lines} unreadable stats line(s)"
        compare(row)
        rows.append(row)
    return rows


def compare(row: dict[str, Any]) -> None:
    """Ratio stock/overdrive (>1: overdrive faster) and pyperf's significance verdict."""
    row["ratio"] = row["significant"] = row["t_score"] = None
    stock, od = row[STOCK], row[OVERDRIVE]
    if not (stock["ok"] and od["ok"]):
        return
    row["ratio"] = stock["mean_s"] / od["mean_s"]
    if len(stock["values_s"]) > 1 and len(od["values_s"]) > 1:
        significant, t_score = is_significant(stock["values_s"], od["values_s"])
        row["significant"], row["t_score"] = bool(significant), float(t_score)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                            "python": sys.version.split()[0],
                            "python_executable": sys.executable}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                                 if line.startswith("model name"))
        meminfo = Path("/proc/meminfo").read_text().split()
        info["mem_total_gib"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return info


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(BENCH_DIR), *args], capture_output=True,
                              text=True).stdout.strip()
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no")
               .splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(changed),
            "changed_files": changed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--only", nargs="+", metavar="BENCHMARK",
                        help="run just these pyperformance benchmarks")
    parser.add_argument("--out", type=Path, help="results directory "
                        "(default: bench/results/<profile>)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up view")
    parser.add_argument("--threshold", type=int, help="OVERDRIVE_THRESHOLD of the overdrive "
                        "side (default: overdrive's own default)")
    parser.add_argument("--tier2-threshold", type=int, help="OVERDRIVE_TIER2_THRESHOLD of the "
                        "overdrive side (default: tier 2 off)")
    args = parser.parse_args(argv)

    profile = PROFILES[args.profile]
    selection = select(profile, args.only)
    out_dir: Path = args.out or RESULTS_DIR / profile.name
    runs_dir = out_dir / "runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    runs_dir.mkdir(parents=True)

    started = time.monotonic()
    results: dict[str, Any] = {
        "schema": 1,
        "profile": profile.name,
        "profile_description": profile.description,
        "params": asdict(profile.params),
        "long_params": asdict(profile.long_params),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "load_avg_start": os.getloadavg(),
        "git": git_info(),
        "threshold": args.threshold,
        "tier2_threshold": args.tier2_threshold,
    }
    options = side_options(args.threshold, args.tier2_threshold)
    probe_result = probe(sys.executable)
    results["overdrive"] = asdict(probe_result)
    print(report.header(results), flush=True)

    rows: list[dict[str, Any]] = []
    for index, script in enumerate(selection.scripts, 1):
        params = profile.long_params if script.long else profile.params
        script_rows = run_script(script, params, profile, runs_dir, probe_result, options)
        for row in script_rows:
            print(f"[{index:2}/{len(selection.scripts)}] {report.progress_line(row)}", flush=True)
        rows.extend(script_rows)

    results["benchmarks"] = rows
    results["excluded"] = selection.excluded
    results["geomean"] = report.geomean(rows)
    if not args.no_warmup:
        results["warmup"] = warmup.run(profile.warmup, out_dir, probe_result, profile.timeout_s,
                                       options=options)
    results["load_avg_end"] = os.getloadavg()
    results["duration_s"] = time.monotonic() - started

    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(report.render(results, out_dir), flush=True)
    print(f"\nWrote {out_dir}/results.json, table.md, ratios.png"
          + (", warmup.png" if "warmup" in results else "")
          + f" in {results['duration_s'] / 60:.1f} min")
    ok = probe_result.ok and all(r[side]["ok"] for r in rows for side in SIDES)
    if not ok:
        print("Some benchmarks FAILED (see the table); exit status 1.", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
