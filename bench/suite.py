"""Which pyperformance benchmarks overdrive is measured on, and with which pyperf parameters.

The benchmark sources come from the pyperformance package installed in the venv
(its data-files). We never let pyperformance build its own per-benchmark venvs:
that would download requirements and measure a different interpreter. Instead
each benchmark's run_benchmark.py is run directly with pyperf, and only the
benchmarks that need nothing beyond the standard library are selected.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

# pyperformance has no public API to list its benchmarks; _manifest is the
# loader its own CLI uses. bench/requirements.txt pins the version it was
# written against.
from pyperformance._manifest import load_manifest


@dataclass(frozen=True)
class PyperfParams:
    """Explicit pyperf parameters, identical for the stock and the overdrive run.

    pyperf only adapts warm-ups to JITs it recognises (PyPy, ...); it cannot
    know overdrive, so processes, warm-ups and values are always given. Each
    of the `processes` worker processes is a pyperf invocation of its own, so
    stock and overdrive processes can alternate (see harness.run_script).
    Loops per value are calibrated by pyperf so each value lasts >= min_time.
    """

    processes: int
    warmups: int
    values: int
    min_time: float = 0.1

    def argv(self, loops: int | None = None) -> list[str]:
        """Arguments of one invocation: a single measured worker process."""
        argv = ["--processes=1", f"--warmups={self.warmups}", f"--values={self.values}",
                f"--min-time={self.min_time}"]
        return argv + [f"--loops={loops}"] if loops else argv


@dataclass(frozen=True)
class Script:
    """One pyperformance benchmark script; it may report several pyperf benchmarks."""

    name: str
    runscript: Path
    extra_opts: tuple[str, ...]
    long: bool  # iterations of about a second or more: run with Profile.long_params
    # 1 when every benchmark of the script needs more than min_time per
    # iteration: pyperf's calibration would find 1 anyway, so skip it (it costs
    # a whole extra process of such a script). None: let pyperf calibrate.
    loops: int | None


@dataclass(frozen=True)
class WarmupSpec:
    """The warm-up view: time of each of the first `iterations` iterations, fresh processes."""

    benchmarks: tuple[str, ...]
    iterations: int
    processes: int


@dataclass(frozen=True)
class Profile:
    name: str
    params: PyperfParams
    long_params: PyperfParams
    warmup: WarmupSpec
    timeout_s: int  # per pyperf invocation; one over it counts as failed
    only: tuple[str, ...] | None = None  # None: every selected stdlib benchmark
    description: str = ""


# One iteration takes about a second or more on stock CPython 3.11 (measured on
# the 2-core dev machine; the several benchmarks of base64 and scimark add up
# to that). They get fewer processes and values so that `make bench` fits in
# an hour; both sides still use identical parameters.
LONG_RUNNING = frozenset({
    "2to3", "async_tree", "async_tree_io", "async_tree_memoization",
    "async_tree_cpu_io_mixed", "async_tree_tg", "asyncio_tcp", "asyncio_tcp_ssl",
    "base64", "fannkuch", "pprint", "raytrace", "scimark", "xml_etree",
})
# Long-running scripts that also report benchmarks of a few milliseconds,
# which need pyperf's loop calibration.
NEEDS_CALIBRATION = frozenset({"base64", "scimark"})

# Not run unless named with --only; every report lists them with these reasons.
EXCLUDED: dict[str, str] = {
    **{f"async_tree_{variant}_tg": "time budget: TaskGroup flavour of a measured "
       "variant (async_tree_tg is kept as the representative)"
       for variant in ("io", "memoization", "cpu_io_mixed")},
    **{name: "time budget: about 10 s per iteration on stock CPython, too long for "
       "`make bench` on 2 cores (run it with --only)"
       for name in ("bpe_tokeniser", "mdp")},
}

QUICK_BENCHMARKS = (
    "nbody", "float", "richards", "chaos", "spectral_norm", "nqueens",
    "deltablue", "go", "hexiom", "unpack_sequence", "json_dumps",
    "generators", "coroutines", "raytrace",
)

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="14 CPU-bound benchmarks, few processes: a smoke test of speed",
        params=PyperfParams(processes=3, warmups=2, values=3),
        long_params=PyperfParams(processes=2, warmups=1, values=2),
        warmup=WarmupSpec(benchmarks=("nbody", "richards"), iterations=15, processes=2),
        timeout_s=300,
        only=QUICK_BENCHMARKS,
    ),
    "full": Profile(
        name="full",
        description="every stdlib-only pyperformance benchmark (see exclusions)",
        params=PyperfParams(processes=3, warmups=2, values=4),
        long_params=PyperfParams(processes=2, warmups=1, values=2),
        warmup=WarmupSpec(benchmarks=("nbody", "richards", "go"), iterations=20, processes=2),
        timeout_s=600,
    ),
}


@dataclass
class Selection:
    scripts: list[Script]
    excluded: dict[str, str] = field(default_factory=dict)  # name -> reason


def select(profile: Profile, only: list[str] | None = None) -> Selection:
    """The scripts `profile` runs, and every pyperformance benchmark it does not, with why."""
    wanted = set(only or profile.only or ())
    python_version = platform.python_version()
    selection = Selection(scripts=[])
    for bench in sorted(load_manifest(None).benchmarks, key=lambda b: b.name):
        lockfile = bench.requirements_lockfile
        if lockfile and os.path.exists(lockfile):
            reason = "needs third-party packages (not stdlib-only)"
        elif python_version not in bench.python:
            reason = f"requires Python {bench.python}"
        elif bench.name in EXCLUDED and bench.name not in wanted:
            reason = EXCLUDED[bench.name]
        elif wanted and bench.name not in wanted:
            reason = "not in this run's selection"
        else:
            selection.scripts.append(Script(
                name=bench.name,
                runscript=Path(bench.runscript),
                extra_opts=tuple(bench.extra_opts),
                long=bench.name in LONG_RUNNING,
                loops=1 if bench.name in LONG_RUNNING - NEEDS_CALIBRATION else None,
            ))
            continue
        selection.excluded[bench.name] = reason
    unknown = wanted - {s.name for s in selection.scripts} - set(selection.excluded)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return selection


def find_script(name: str) -> Script:
    """A single benchmark by name, whatever the profile (used by the warm-up view)."""
    for script in select(PROFILES["full"]).scripts:
        if script.name == name:
            return script
    raise SystemExit(f"benchmark {name!r} is not a runnable stdlib benchmark")
