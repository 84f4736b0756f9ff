"""Short whole programs, stock CPython against overdrive: time, memory and instructions.

Each program in bench/scripts/ (and the test suites of a few pure-Python PyPI packages,
run under pytest) is run as a whole process, start-up included, the way a user runs a
script: `python app.py` against `OVERDRIVE=1 python app.py`, both the venv's interpreter.
Sides alternate run by run (stock, jit, stock, jit, ... in ABBA order) and each cell is
the median of --runs processes. A first, unmeasured round checks that every side prints
the same output and collects overdrive.stats() of the JIT side (OVERDRIVE_STATS_FILE).

    python bench/scripts.py                      # timings, 7 runs per side
    python bench/scripts.py --callgrind          # instruction counts (valgrind), 1 run
    python bench/scripts.py --cachegrind         # instructions, cache misses, mispredicts
    python bench/scripts.py --only json_pure six --runs 11
    python bench/scripts.py --side t10:OVERDRIVE_THRESHOLD=10 --side t50:OVERDRIVE_THRESHOLD=50

--cachegrind runs each side once under cachegrind's cache and branch simulation and
reports an estimate of cycles (CYCLE_MODEL below): instruction counts alone do not show
what generated code costs in the instruction cache (docs/performance.md, "Sixth session").

--side LABEL:VAR=VALUE[,VAR=VALUE] adds a JIT side with extra environment (compile
policies side by side against one stock baseline); without it there is one JIT side,
"jit", with the defaults. Results go to bench/results/scripts/ (results.json, table.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS_DIR = BENCH_DIR / "scripts"
REQUIREMENTS = BENCH_DIR / "scripts-requirements.txt"
CACHE_DIR = BENCH_DIR / ".cache" / "sdists"
RESULTS_DIR = BENCH_DIR / "results" / "scripts"
STOCK = "stock"

# pytest as a user runs it, minus its cache directory; -P keeps the working directory
# (an extracted sdist) off sys.path, so the package installed in the venv is imported,
# and --import-mode=append keeps it first for the test modules too.
PYTEST = ["-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=append"]


@dataclass
class Program:
    name: str
    args: list[str]              # after the interpreter
    cwd: Path | None = None      # None: a scratch directory
    sdist: str | None = None     # "name==version" whose extracted sdist is the cwd


def suites() -> list[Program]:
    """The PyPI test suites: each runs against the version pinned in scripts-requirements."""
    return [
        # test_move_items[dbm_ndbm] needs the _dbm extension, which this CPython lacks.
        Program("six", [*PYTEST, "test_six.py", "--deselect",
                        "test_six.py::test_move_items[dbm_ndbm]"], sdist="six"),
        # toolz ships its tests inside the package: run the installed ones.
        Program("toolz", [*PYTEST, "--pyargs", "toolz.tests.test_itertoolz",
                          "toolz.tests.test_functoolz", "toolz.tests.test_dicttoolz",
                          "toolz.tests.test_curried"]),
        Program("more_itertools", [*PYTEST, "tests/test_recipes.py"], sdist="more-itertools"),
    ]


def programs() -> list[Program]:
    scripts = [Program(p.stem, [str(p)]) for p in sorted(SCRIPTS_DIR.glob("*.py"))]
    return scripts + suites()


def pinned() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def prepare(selected: list[Program], python: str) -> None:
    """Check the pinned packages are installed; download and extract the sdists whose tests
    run (once, into bench/.cache/sdists)."""
    from importlib.metadata import PackageNotFoundError, version
    pins = pinned()
    suite_names = {p.name for p in suites()}
    for prog in selected:
        if prog.name not in suite_names:
            continue
        dist = prog.sdist or prog.name
        want = pins[dist]
        try:
            have = version(dist)
        except PackageNotFoundError:
            have = None
        if have != want:
            raise SystemExit(f"{dist}=={want} is not installed in this venv (found {have}); "
                             f"run: {python} -m pip install -r {REQUIREMENTS}")
        if prog.sdist:
            target = CACHE_DIR / f"{dist}-{want}"
            if not target.is_dir():
                CACHE_DIR.mkdir(parents=True, exist_ok=True)
                subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps",
                                "--no-binary", ":all:", "-d", str(CACHE_DIR),
                                f"{dist}=={want}"], check=True)
                archive = next(CACHE_DIR.glob(f"{dist.replace('-', '[-_]')}-{want}.tar.gz"))
                with tarfile.open(archive) as tar:
                    tar.extractall(CACHE_DIR, filter="data")
                extracted = CACHE_DIR / archive.name[: -len(".tar.gz")]
                if extracted != target:
                    extracted.rename(target)
            prog.cwd = target


@dataclass
class Side:
    label: str
    env: dict[str, str] = field(default_factory=dict)  # on top of OVERDRIVE=1

    @property
    def jit(self) -> bool:
        return self.label != STOCK


def side_env(side: Side, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    if side.jit:
        env["OVERDRIVE"] = "1"
        env.update(side.env)
    env.update(extra or {})
    return env


@dataclass
class Run:
    ok: bool
    wall_s: float
    cpu_s: float
    maxrss_kib: int
    output: str
    error: str = ""


# The peak RSS of the program itself. wait4's ru_maxrss cannot give it: a child of this
# (large) Python process starts with the runner's own high-water mark, which survives the
# exec (Linux carries it into the new image's maxrss). GNU time forks from a small
# process and reports its child's.
GNU_TIME = "/usr/bin/time"


def run_once(python: str, prog: Program, side: Side, scratch: Path,
             extra_env: dict[str, str] | None = None, prefix: list[str] | None = None,
             timeout_s: float = 600) -> Run:
    """One whole process: wall time from spawn to exit, CPU time from wait4, peak RSS
    from GNU time (timing runs) or wait4 (under a prefix such as valgrind)."""
    cwd = prog.cwd or scratch
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if prefix is None:
            prefix = [GNU_TIME, "-f", "%M", "-o", rss.name]
        start = time.perf_counter()
        proc = subprocess.Popen([*prefix, python, *prog.args], cwd=cwd,
                                env=side_env(side, extra_env), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        deadline = start + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.0005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
        rss_text = rss.read().strip().splitlines()
    ok = proc.returncode == 0
    maxrss = int(rss_text[-1]) if rss_text and rss_text[-1].isdigit() else usage.ru_maxrss
    return Run(ok, wall, usage.ru_utime + usage.ru_stime, maxrss, output,
               "" if ok else f"exit {proc.returncode}: {last_lines(errors + output)}")


def last_lines(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:])


def normalized(output: str) -> str:
    """Output to compare between sides: pytest's own timing removed."""
    return re.sub(r" in \d+(\.\d+)?s\b", "", output).strip()


def read_stats(path: Path) -> dict[str, Any] | None:
    """overdrive.stats() of the (last) process that wrote to an OVERDRIVE_STATS_FILE."""
    if not path.exists():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        return None
    stats = json.loads(lines[-1])["stats"]
    native, interpreted = stats.get("frames_native", 0), stats.get("frames_interpreted", 0)
    keep = ("functions_compiled", "functions_recompiled", "compile_time_ns",
            "instructions_compiled", "code_bytes", "code_memory_in_use",
            "code_memory_resident", "code_memory_mapped", "frames_native",
            "frames_interpreted", "interpreted_by_reason")
    summary = {k: stats.get(k) for k in keep}
    summary["native_share"] = native / (native + interpreted) if native + interpreted else None
    return summary


def check_round(python: str, prog: Program, sides: list[Side], scratch: Path,
                tmp: Path) -> tuple[dict[str, Any], str | None]:
    """The unmeasured first round: outputs compared with stock's, stats of each JIT side."""
    stats: dict[str, Any] = {}
    reference = None
    for side in sides:
        stats_file = tmp / f"{prog.name}.{side.label}.stats.jsonl"
        stats_file.unlink(missing_ok=True)
        extra = {"OVERDRIVE_STATS_FILE": str(stats_file)} if side.jit else None
        run = run_once(python, prog, side, scratch, extra)
        if not run.ok:
            return stats, f"{side.label}: {run.error}"
        if reference is None:
            reference = normalized(run.output)
        elif normalized(run.output) != reference:
            return stats, f"{side.label} printed other output than stock"
        if side.jit:
            stats[side.label] = read_stats(stats_file)
            if stats[side.label] is None:
                return stats, f"{side.label}: no overdrive stats (was the JIT on?)"
    return stats, None


def order(sides: list[Side], round_: int) -> list[Side]:
    """ABBA: whatever favours the first process of a round cannot favour one side."""
    return sides if round_ % 2 == 0 else sides[::-1]


def measure(python: str, prog: Program, sides: list[Side], runs: int,
            scratch: Path) -> dict[str, Any]:
    samples: dict[str, list[Run]] = {s.label: [] for s in sides}
    for round_ in range(runs):
        for side in order(sides, round_):
            run = run_once(python, prog, side, scratch)
            if not run.ok:
                return {"error": f"{side.label}: {run.error}"}
            samples[side.label].append(run)
    result: dict[str, Any] = {}
    for label, rs in samples.items():
        result[label] = {"wall_s": [r.wall_s for r in rs], "cpu_s": [r.cpu_s for r in rs],
                         "maxrss_kib": [r.maxrss_kib for r in rs],
                         "median_wall_s": statistics.median(r.wall_s for r in rs),
                         "median_cpu_s": statistics.median(r.cpu_s for r in rs),
                         "median_maxrss_kib": statistics.median(r.maxrss_kib for r in rs)}
    return result


_COLLECTED = re.compile(r"==\d+== Collected : (\d+)")


def count_instructions(python: str, prog: Program, side: Side, scratch: Path,
                       tmp: Path) -> int | str:
    """Instructions executed by the whole process (callgrind's total), or an error."""
    log = tmp / "valgrind.log"
    log.unlink(missing_ok=True)
    prefix = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
              f"--log-file={log}"]
    # Counts depend on dict layouts, so on the hash seed: one seed for every run.
    run = run_once(python, prog, side, scratch, {"PYTHONHASHSEED": "0"}, prefix,
                   timeout_s=3600)
    report = log.read_text() if log.exists() else ""
    match = _COLLECTED.search(report)
    if not run.ok or not match:
        return run.error or f"no count: {last_lines(report)}"
    return int(match.group(1))


# A cycle estimate from cachegrind's simulation (its I1/D1 are the host's L1 sizes, its LL
# the last level): one cycle per instruction, an L1 miss served by the next level 12, a
# last-level miss 150, a mispredicted branch 15. A model for comparing two runs of one
# program, not a prediction of time.
CYCLE_MODEL = {"ir": 1, "i1": 12, "d1": 12, "ll": 150, "mispredicts": 15}
_CG_COUNTS = {"ir": r"I\s+refs", "i1": r"I1\s+misses", "d1": r"D1\s+misses",
              "lli": r"LLi\s+misses", "lld": r"LLd\s+misses", "mispredicts": r"Mispredicts"}


def simulate_caches(python: str, prog: Program, side: Side, scratch: Path,
                    tmp: Path) -> dict[str, int] | str:
    """Cachegrind's totals for the whole process and the cycle estimate, or an error."""
    log = tmp / "valgrind.log"
    log.unlink(missing_ok=True)
    prefix = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes",
              "--cachegrind-out-file=/dev/null", f"--log-file={log}"]
    run = run_once(python, prog, side, scratch, {"PYTHONHASHSEED": "0"}, prefix,
                   timeout_s=3600)
    report = log.read_text() if log.exists() else ""
    counts = {}
    for key, label in _CG_COUNTS.items():
        match = re.search(label + r":\s+([\d,]+)", report)
        if not match:
            return run.error or f"no {key} count: {last_lines(report)}"
        counts[key] = int(match.group(1).replace(",", ""))
    if not run.ok:
        return run.error
    counts["ll"] = counts["lli"] + counts["lld"]
    counts["cycles"] = sum(CYCLE_MODEL[k] * counts[k] for k in CYCLE_MODEL)
    return counts


def paired_ratio(stock_s: list[float], jit_s: list[float]) -> float:
    """Median over rounds of stock / jit, each round's two runs taken together: on a host
    whose speed changes between seconds (docs/performance.md), adjacent runs share it."""
    return statistics.median(a / b for a, b in zip(stock_s, jit_s))


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def render(results: dict[str, Any]) -> str:
    sides = results["sides"]
    jit_sides = [s for s in sides if s != STOCK]
    rows = results["programs"]
    lines = []
    if results["mode"] == "callgrind":
        head = ["program", "stock Minstr"] + [x for s in jit_sides
                                              for x in (f"{s} Minstr", f"{s}/stock")]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| --- |" + " ---: |" * (len(head) - 1))
        ratios: dict[str, list[float]] = {s: [] for s in jit_sides}
        for name, row in rows.items():
            cells = [name]
            stock = row.get(STOCK)
            cells.append(f"{stock / 1e6:,.0f}" if isinstance(stock, int) else "FAILED")
            for s in jit_sides:
                v = row.get(s)
                if isinstance(v, int) and isinstance(stock, int):
                    cells += [f"{v / 1e6:,.0f}", f"{v / stock:.3f}"]
                    ratios[s].append(v / stock)
                else:
                    cells += ["FAILED", ""]
            lines.append("| " + " | ".join(cells) + " |")
        cells = ["geomean", ""]
        for s in jit_sides:
            g = geomean(ratios[s])
            cells += ["", f"{g:.3f}" if g else ""]
        lines.append("| " + " | ".join(cells) + " |")
        lines.append("\n(instructions of the whole process, start-up included; "
                     "jit/stock below 1: the JIT executes fewer)")
        return "\n".join(lines)
    if results["mode"] == "cachegrind":
        head = ["program", "stock Mcycles"] + [
            x for s in jit_sides for x in (f"{s} Mcycles", f"{s}/stock", "instr", "I1 misses",
                                            "D1 misses", "mispredicts")]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| --- |" + " ---: |" * (len(head) - 1))
        ratios = {s: [] for s in jit_sides}
        for name, row in rows.items():
            stock = row.get(STOCK)
            cells = [name, f"{stock['cycles'] / 1e6:,.0f}" if isinstance(stock, dict) else "FAILED"]
            for s in jit_sides:
                v = row.get(s)
                if not (isinstance(v, dict) and isinstance(stock, dict)):
                    cells += ["FAILED"] + [""] * 5
                    continue
                ratios[s].append(v["cycles"] / stock["cycles"])
                cells += [f"{v['cycles'] / 1e6:,.0f}", f"{v['cycles'] / stock['cycles']:.3f}"]
                cells += [f"{v[k] / stock[k]:.2f}x" for k in ("ir", "i1", "d1", "mispredicts")]
            lines.append("| " + " | ".join(cells) + " |")
        cells = ["geomean", ""]
        for s in jit_sides:
            g = geomean(ratios[s])
            cells += ["", f"{g:.3f}" if g else ""] + [""] * 4
        lines.append("| " + " | ".join(cells) + " |")
        model = ", ".join(f"{k} x{w}" for k, w in CYCLE_MODEL.items())
        lines.append(f"\n(cachegrind, whole process; Mcycles = estimate ({model}); the other "
                     "columns are JIT/stock of each count; below 1: the JIT costs less)")
        return "\n".join(lines)

    head = ["program", "stock ms", "stock RSS MiB"]
    for s in jit_sides:
        head += [f"{s} ms", "ratio", "paired", f"{s} RSS MiB", "funcs", "compile ms",
                 "code KiB", "native"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("| --- |" + " ---: |" * (len(head) - 1))
    ratios = {s: [] for s in jit_sides}
    pairs: dict[str, list[float]] = {s: [] for s in jit_sides}
    for name, row in rows.items():
        if "error" in row:
            lines.append(f"| {name} | FAILED: {row['error']} |")
            continue
        st = row[STOCK]
        cells = [name, f"{st['median_wall_s'] * 1e3:.0f}",
                 f"{st['median_maxrss_kib'] / 1024:.1f}"]
        for s in jit_sides:
            j = row[s]
            ratio = st["median_wall_s"] / j["median_wall_s"]
            ratios[s].append(ratio)
            pair = paired_ratio(st["wall_s"], j["wall_s"])
            pairs[s].append(pair)
            stats = (row.get("stats") or {}).get(s) or {}
            share = stats.get("native_share")
            cells += [f"{j['median_wall_s'] * 1e3:.0f}", f"{ratio:.2f}x", f"{pair:.2f}x",
                      f"{j['median_maxrss_kib'] / 1024:.1f}",
                      str(stats.get("functions_compiled", "")),
                      f"{stats['compile_time_ns'] / 1e6:.1f}" if stats.get("compile_time_ns")
                      is not None else "",
                      f"{stats['code_bytes'] / 1024:.0f}" if stats.get("code_bytes")
                      is not None else "",
                      f"{share:.0%}" if share is not None else ""]
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["geomean", "", ""]
    for s in jit_sides:
        g = geomean(ratios[s])
        low = min(ratios[s]) if ratios[s] else None
        gp = geomean(pairs[s])
        cells += ["", f"{g:.3f}x" if g else "", f"{gp:.3f}x" if gp else "",
                  f"min {low:.2f}x" if low else "", "", "", "", ""]
    lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\n(median of {results['runs']} whole processes per side, wall time; "
                 "ratio = stock / jit, above 1: the JIT is faster; paired = median over rounds "
                 "of stock / jit within a round (the two runs of a round are adjacent, so a "
                 "change of the host's speed between rounds cancels); RSS = median max RSS; "
                 "funcs, compile, code, native: overdrive.stats() of the checking run)")
    return "\n".join(lines)


def parse_side(text: str) -> Side:
    label, _, assignments = text.partition(":")
    if not label or label == STOCK:
        raise argparse.ArgumentTypeError(f"bad side label in {text!r}")
    env = {}
    for item in filter(None, assignments.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected VAR=VALUE, got {item!r}")
        env[key] = value
    return Side(label, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per side (median)")
    parser.add_argument("--only", nargs="+", metavar="PROGRAM")
    parser.add_argument("--no-suites", action="store_true",
                        help="leave out the PyPI packages' test suites")
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions under valgrind (one run per side)")
    parser.add_argument("--cachegrind", action="store_true",
                        help="simulate caches and branches under valgrind (one run per "
                        "side): a cycle estimate")
    parser.add_argument("--side", action="append", type=parse_side, default=[],
                        metavar="LABEL:VAR=VALUE[,VAR=VALUE]",
                        help="a JIT side with extra environment (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--list", action="store_true", help="list the programs and exit")
    args = parser.parse_args(argv)

    python = sys.executable
    selected = programs()
    if args.no_suites:
        names = {p.name for p in suites()}
        selected = [p for p in selected if p.name not in names]
    if args.only:
        unknown = set(args.only) - {p.name for p in selected}
        if unknown:
            parser.error(f"unknown program(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(p.name for p in programs())}")
        selected = [p for p in selected if p.name in args.only]
    if args.list:
        print("\n".join(p.name for p in selected))
        return 0
    simulated = args.callgrind or args.cachegrind
    if args.callgrind and args.cachegrind:
        parser.error("--callgrind and --cachegrind: choose one")
    if not simulated and not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} (GNU time, Debian package 'time') is needed to "
                         "measure each program's peak RSS: apt-get install time")
    prepare(selected, python)
    sides = [Side(STOCK)] + (args.side or [Side("jit")])

    results: dict[str, Any] = {
        "mode": "callgrind" if args.callgrind else "cachegrind" if args.cachegrind else "time",
        "runs": 1 if simulated else args.runs,
        "sides": [s.label for s in sides],
        "side_env": {s.label: s.env for s in sides},
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(python).name, *sys.argv]),
        "load_avg_start": os.getloadavg(),
        "git_commit": subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "--short",
                                      "HEAD"], capture_output=True, text=True).stdout.strip(),
        "programs": {},
    }
    started = time.monotonic()
    failed = False
    with tempfile.TemporaryDirectory(prefix="od-scripts-") as tmp_name:
        tmp = Path(tmp_name)
        scratch = tmp / "cwd"
        scratch.mkdir()
        for prog in selected:
            stats, error = check_round(python, prog, sides, scratch, tmp)
            if error:
                row: dict[str, Any] = {"error": error}
            elif args.callgrind:
                row = {s.label: count_instructions(python, prog, s, scratch, tmp) for s in sides}
                row["stats"] = stats
            elif args.cachegrind:
                row = {s.label: simulate_caches(python, prog, s, scratch, tmp) for s in sides}
                row["stats"] = stats
            else:
                row = measure(python, prog, sides, args.runs, scratch)
                row["stats"] = stats
            failed |= "error" in row or any(isinstance(v, str) for v in row.values())
            results["programs"][prog.name] = row
            print(progress(prog.name, row, sides, results["mode"]), flush=True)
    results["load_avg_end"] = os.getloadavg()
    results["duration_s"] = time.monotonic() - started
    table = render(results)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = results["mode"] if simulated else "results"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(table + "\n")
    print()
    print(table)
    print(f"\nload average {results['load_avg_start'][0]:.1f} at the start, "
          f"{results['load_avg_end'][0]:.1f} at the end; {results['duration_s'] / 60:.1f} min; "
          f"wrote {args.out / stem}.json and .md")
    return 1 if failed else 0


def progress(name: str, row: dict[str, Any], sides: list[Side], mode: str) -> str:
    if "error" in row:
        return f"{name:18} FAILED: {row['error']}"
    parts = []
    for side in sides:
        v = row[side.label]
        if isinstance(v, str):
            parts.append(f"{side.label} FAILED {v}")
        elif mode == "callgrind":
            parts.append(f"{side.label} {v / 1e6:,.0f} M")
        elif mode == "cachegrind":
            parts.append(f"{side.label} {v['cycles'] / 1e6:,.0f} Mcycles "
                         f"(I1 misses {v['i1'] / 1e6:.1f} M)")
        else:
            parts.append(f"{side.label} {v['median_wall_s'] * 1e3:.0f} ms")
    return f"{name:18} " + "  ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
