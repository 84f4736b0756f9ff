"""Starting processes with and without overdrive, and reading what overdrive reports.

"Stock" is the very same venv interpreter with every OVERDRIVE* variable
removed, so the two sides differ only in whether the JIT is switched on at
start-up (by the .pth autoload that the overdrive package installs).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STOCK = "stock"
OVERDRIVE = "overdrive"
SIDES = (STOCK, OVERDRIVE)


def round_order(round_: int) -> tuple[str, str]:
    """Which side goes first in the given round of alternating processes.

    ABBA order: whatever favours the first (or second) process of a pair,
    such as a neighbour's burst of load, cannot favour one side throughout.
    """
    return SIDES if round_ % 2 == 0 else SIDES[::-1]

# pyperf workers start with a scrubbed environment; these must be passed on
# explicitly (pyperf --inherit-environ) or the workers would all run stock.
OVERDRIVE_VARS = ("OVERDRIVE", "OVERDRIVE_THRESHOLD", "OVERDRIVE_TIER2_THRESHOLD",
                  "OVERDRIVE_STATS_FILE")

# Keys of overdrive.stats() that the reports use (the API contract's minimum).
STATS_KEYS = ("functions_compiled", "compile_time_ns", "code_bytes",
              "frames_native", "frames_interpreted", "exits", "exits_by_opcode")


def child_env(side: str, stats_file: Path | None = None,
              options: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark process for one side; `options` (OVERDRIVE_*
    variables, see side_options) apply to the overdrive side only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    if side == OVERDRIVE:
        env["OVERDRIVE"] = "1"
        if stats_file is not None:
            env["OVERDRIVE_STATS_FILE"] = str(stats_file)
        env.update(options or {})
    return env


def side_options(threshold: int | None = None,
                 tier2_threshold: int | None = None) -> dict[str, str]:
    """The overdrive side's OVERDRIVE_* settings chosen on a command line (None: default)."""
    chosen = {"OVERDRIVE_THRESHOLD": threshold, "OVERDRIVE_TIER2_THRESHOLD": tier2_threshold}
    return {name: str(value) for name, value in chosen.items() if value is not None}


# Runs in a fresh interpreter; prints one JSON object describing overdrive there.
_PROBE = r"""
import json, sys
from importlib.metadata import version as _dist_version
loaded = "_overdrive" in sys.modules   # the C core, loaded at start-up by the .pth autoload?
try:
    import overdrive
except Exception as exc:
    print(json.dumps({"loaded_at_startup": loaded,
                      "import_error": f"{type(exc).__name__}: {exc}"}))
    raise SystemExit(0)
print(json.dumps({
    "loaded_at_startup": loaded,
    "enabled": bool(overdrive.is_enabled()),
    "file": getattr(overdrive, "__file__", None),
    "version": getattr(overdrive, "__version__", None) or _dist_version("overdrive"),
    "stats_keys": sorted(overdrive.stats()),
}))
"""


@dataclass
class Probe:
    """Whether OVERDRIVE=1 really gives a JIT-enabled process (and stock does not)."""

    ok: bool
    error: str | None
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _run_probe(python: str, side: str) -> tuple[dict[str, Any] | None, str]:
    proc = subprocess.run([python, "-c", _PROBE], env=child_env(side),
                          capture_output=True, text=True, timeout=120)
    stderr = proc.stderr.strip()
    if proc.returncode != 0:
        return None, f"probe exited with {proc.returncode}: {last_line(stderr)}"
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), stderr
    except (ValueError, IndexError):
        return None, f"probe printed no JSON: {last_line(proc.stdout + stderr)}"


def probe(python: str) -> Probe:
    """Check overdrive in fresh processes, as the benchmarks will start."""
    od, od_stderr = _run_probe(python, OVERDRIVE)
    if od is None:
        return Probe(False, od_stderr)
    if "import_error" in od:
        return Probe(False, f"overdrive not importable: {od['import_error']}", od)
    if not od["enabled"]:
        # Typically the .pth autoload failed; Python prints that on stderr.
        why = f" ({last_line(od_stderr)})" if od_stderr else ""
        return Probe(False, "OVERDRIVE=1 did not enable the JIT: "
                     f"overdrive.is_enabled() is False{why}", od)
    result = Probe(True, None, od)
    if not od["loaded_at_startup"]:
        result.warnings.append("overdrive's C core was not loaded at start-up under OVERDRIVE=1")
    missing = [k for k in STATS_KEYS if k not in od["stats_keys"]]
    if missing:
        result.warnings.append(f"overdrive.stats() lacks {', '.join(missing)}")

    stock, stock_stderr = _run_probe(python, STOCK)
    if stock is None:
        return Probe(False, f"stock interpreter broken: {stock_stderr}", od)
    if stock.get("loaded_at_startup") and stock.get("enabled"):
        return Probe(False, "the JIT is enabled even without OVERDRIVE=1: "
                     "stock numbers would not be stock", od)
    return result


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def read_stats_file(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The per-process records of an OVERDRIVE_STATS_FILE, and how many lines were unreadable."""
    records: list[dict[str, Any]] = []
    bad = 0
    if not path.exists():
        return records, bad
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record.get("stats"), dict):
                raise ValueError("no stats")
            records.append(record)
        except ValueError:
            bad += 1
    return records, bad


def summarize_stats(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per-process means of what overdrive did, over the given processes.

    Every pyperf worker is a fresh process that compiles for itself, so the
    mean per process is what one run of the program costs.
    """
    if not records:
        return None
    stats = [r["stats"] for r in records]
    n = len(stats)

    def mean(key: str) -> float | None:
        values = [s[key] for s in stats if isinstance(s.get(key), (int, float))]
        return sum(values) / len(values) if values else None

    native = sum(s.get("frames_native", 0) or 0 for s in stats)
    interpreted = sum(s.get("frames_interpreted", 0) or 0 for s in stats)
    exits: dict[str, int] = {}
    for s in stats:
        for reason, count in (s.get("exits") or {}).items():
            exits[reason] = exits.get(reason, 0) + int(count)
    tier2 = [s.get("tier2") or {} for s in stats]
    return {
        "processes": n,
        "tier2_functions": sum(t.get("functions", 0) or 0 for t in tier2) / n,
        "tier2_frames": sum(t.get("frames", 0) or 0 for t in tier2) / n,
        "functions_compiled": mean("functions_compiled"),
        "compile_time_ns": mean("compile_time_ns"),
        "code_bytes": mean("code_bytes"),
        "native_frame_share": native / (native + interpreted) if native + interpreted else None,
        "exits_per_process": {k: v / n for k, v in
                              sorted(exits.items(), key=lambda kv: -kv[1])},
    }
