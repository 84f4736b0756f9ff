#!/usr/bin/env python3
"""overdrive compatibility gate: CPython's regression suite with the JIT forced on.

Runs ``python -m test`` (through driver.py, which records one JSON line per
test-module result) with ``OVERDRIVE=1 OVERDRIVE_THRESHOLD=0`` in the
environment of every process, compares the outcome module by module (and test
by test inside modules that also fail on stock CPython) with the stock
expectations in expected_stock.json, aggregates the JIT's own statistics
files, prints one table and exits non-zero on any regression.

Typical use (see docs/compatibility.md):
    .venv/bin/python tools/regrtest/run.py --suite core          # CI gate
    .venv/bin/python tools/regrtest/run.py --suite full
    python tools/regrtest/run.py --suite full --stock --record   # baseline

Exit status: 0 = no new failure, no crash, JIT demonstrably ran;
1 = regression (new failure, crash/hang, newly skipped module, or a JIT that
did not run); 2 = the runner itself could not do its job (bad arguments,
regrtest produced no results, ...).

Stdlib only, CPython 3.11 (the regrtest internals driver.py hooks into are the
3.11.7 ones; the runner checks for them and fails loudly otherwise).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "driver.py"
CORE_LIST = HERE / "core_modules.txt"
IGNORED = HERE / "ignored_tests.txt"
EXPECTED = HERE / "expected_stock.json"
RESULTS_ROOT = HERE / "results"  # ignored by the top-level .gitignore

# Resources: everything regrtest knows except what this machine (and CI) cannot
# offer -- no network at all, no GUI/audio -- and the multi-GiB / CPU-hour
# tests that would blow the time budget on 2 cores without adding any
# interpreter coverage.
DEFAULT_RESOURCES = "all,-network,-urlfetch,-cpu,-largefile,-extralargefile,-gui,-audio"

# Per test-module timeout (regrtest kills the worker and reports TIMEOUT).
# The slowest stock module on this 2-core machine takes about 75 s
# (test_imaplib) and threshold-0 compilation made none more than ~5x slower,
# so a module still running at the timeout is hung, not slow.
DEFAULT_TIMEOUT = {"core": 900, "full": 1800}

# regrtest states (test.libregrtest.result.State) grouped by what they mean
# for the gate.
PASS_STATES = {"PASSED"}
ENV_CHANGED_STATES = {"ENV_CHANGED"}
SKIP_STATES = {"SKIPPED", "RESOURCE_DENIED", "DID_NOT_RUN"}
FAIL_STATES = {"FAILED", "UNCAUGHT_EXC", "REFLEAK"}
# A worker that died (signal, abort, non-zero exit), hung past --timeout, or
# broke regrtest's protocol: for a JIT these are the worst outcomes.
CRASH_STATES = {"WORKER_FAILED", "WORKER_BUG", "TIMEOUT", "INTERRUPTED"}

# Categories, from best to worst.
PASSED, ENV_CHANGED, SKIPPED, FLAKY, FAILED, CRASH, MISSING = (
    "passed", "env_changed", "skipped", "flaky", "failed", "crash", "missing")


# --------------------------------------------------------------------------
# Collecting regrtest's per-module results
# --------------------------------------------------------------------------

def norm_module(name: str) -> str:
    """regrtest names split packages "test.test_asyncio.x" in a full run but
    "test_asyncio.x" when they are named on the command line; use the latter."""
    return name.removeprefix("test.")


_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


def norm_test_id(test_id: str) -> str:
    # Subtest descriptions may contain object reprs with addresses.
    return _ADDR.sub(" at 0x?", test_id)


def last_line(traceback_text: str) -> str:
    """The exception line of a traceback: what a reader needs first."""
    lines = [ln for ln in traceback_text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


@dataclasses.dataclass
class ModuleResult:
    name: str
    category: str
    states: list[str]                 # first run, then re-runs
    duration: float | None            # of the first run
    failed_tests: dict[str, str]      # test id -> exception line
    tracebacks: dict[str, str]        # test id -> full (clipped) traceback
    tests_run: int | None
    skipped_tests: int | None
    crash_info: list[str] = dataclasses.field(default_factory=list)

    @property
    def state_text(self) -> str:
        return " -> ".join(self.states) if self.states else "no result"


def categorize(states: list[str]) -> str:
    if not states:
        return MISSING
    # A crash or hang anywhere counts, even if the re-run then passed: a JIT
    # that segfaults one time in two is not compatible.
    if any(s in CRASH_STATES for s in states):
        return CRASH
    first, last = states[0], states[-1]
    if first in FAIL_STATES:
        return FLAKY if last in PASS_STATES | ENV_CHANGED_STATES else FAILED
    if first in PASS_STATES:
        return PASSED
    if first in ENV_CHANGED_STATES:
        return ENV_CHANGED
    if first in SKIP_STATES:
        return SKIPPED
    return CRASH  # unknown state: be loud rather than lenient


def crash_summary(rec: dict[str, Any], max_lines: int = 14) -> list[str]:
    """The few lines of a crashed/hung worker's output that say what happened:
    regrtest's error message, then faulthandler's "Fatal Python error" block
    (or a Python traceback), else the last lines of output."""
    lines: list[str] = []
    if rec.get("err_msg"):
        lines.append(str(rec["err_msg"]))
    out = [ln.rstrip() for ln in (rec.get("output_tail") or "").splitlines() if ln.strip()]
    for marker in ("Fatal Python error", "Timeout (", "Traceback (most recent call last)"):
        idx = next((i for i, ln in enumerate(out) if marker in ln), None)
        if idx is not None:
            return lines + out[idx:idx + max_lines]
    return lines + out[-8:]


def load_results(path: Path) -> dict[str, ModuleResult]:
    records: dict[str, list[dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                records.setdefault(norm_module(rec["test"]), []).append(rec)
    out: dict[str, ModuleResult] = {}
    for name, recs in records.items():
        states = [r["state"] for r in recs]
        # The confirmed failures are those of the last run that failed (the
        # re-run only repeats the tests that failed the first time).
        failing = [r for r in recs if r["state"] not in PASS_STATES]
        failed_tests: dict[str, str] = {}
        tracebacks: dict[str, str] = {}
        if failing:
            src = failing[-1]
            for tid, tb in [*src["errors"], *src["failures"]]:
                failed_tests[norm_test_id(tid)] = last_line(tb)
                tracebacks[norm_test_id(tid)] = tb
        crash_info: list[str] = []
        for r in recs:
            if r["state"] in CRASH_STATES | {"UNCAUGHT_EXC"}:
                crash_info = crash_summary(r)
                break
        stats = recs[0].get("stats") or {}
        out[name] = ModuleResult(
            name=name, category=categorize(states), states=states,
            duration=recs[0].get("duration"), failed_tests=failed_tests,
            tracebacks=tracebacks, tests_run=stats.get("tests_run"),
            skipped_tests=stats.get("skipped"), crash_info=crash_info)
    return out


# --------------------------------------------------------------------------
# JIT statistics (OVERDRIVE_STATS_FILE: one JSON line per process at exit)
# --------------------------------------------------------------------------

@dataclasses.dataclass
class JitStats:
    processes: int = 0
    bad_lines: int = 0
    functions_compiled: int = 0
    compile_failures: int = 0
    frames_native: int = 0
    frames_interpreted: int = 0
    # Tier 2 (stats()["tier2"]): functions it compiled, frames its code ran.
    tier2_functions: int = 0
    tier2_frames: int = 0
    exits: Counter = dataclasses.field(default_factory=Counter)
    exits_by_opcode: Counter = dataclasses.field(default_factory=Counter)
    interpreted_by_reason: Counter = dataclasses.field(default_factory=Counter)
    # Which test modules' regrtest workers reported, and their native frames.
    worker_native: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def frames_total(self) -> int:
        return self.frames_native + self.frames_interpreted

    @property
    def native_pct(self) -> float:
        return 100.0 * self.frames_native / self.frames_total if self.frames_total else 0.0


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _worker_module(argv: list[Any]) -> str | None:
    """regrtest workers run "python -m test.libregrtest.worker JSON"; the JSON
    names the one test module the worker runs."""
    if len(argv) >= 2 and str(argv[0]).replace("\\", "/").endswith("libregrtest/worker.py"):
        try:
            tests = json.loads(argv[1]).get("tests") or []
        except (ValueError, AttributeError):
            return None
        return norm_module(tests[0]) if tests else None
    return None


def load_jit_stats(path: Path) -> JitStats:
    js = JitStats()
    if not path.exists():
        return js
    with path.open(encoding="utf-8", errors="replace") as fp:
        for line in fp:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                stats = rec["stats"]
                if not isinstance(stats, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                # Concurrent appends from many processes may interleave; count
                # rather than crash, and show the count.
                js.bad_lines += 1
                continue
            js.processes += 1
            js.functions_compiled += _as_int(stats.get("functions_compiled"))
            js.compile_failures += _as_int(stats.get("compile_failures"))
            native = _as_int(stats.get("frames_native"))
            js.frames_native += native
            js.frames_interpreted += _as_int(stats.get("frames_interpreted"))
            t2 = stats.get("tier2")
            if isinstance(t2, dict):
                js.tier2_functions += _as_int(t2.get("functions"))
                js.tier2_frames += _as_int(t2.get("frames"))
            for key, target in (("exits", js.exits), ("exits_by_opcode", js.exits_by_opcode),
                                ("interpreted_by_reason", js.interpreted_by_reason)):
                val = stats.get(key)
                if isinstance(val, dict):
                    for k, v in val.items():
                        target[str(k)] += _as_int(v)
            module = _worker_module(rec.get("argv") or [])
            if module is not None:
                js.worker_native[module] = js.worker_native.get(module, 0) + native
    return js


# --------------------------------------------------------------------------
# Expectations (stock CPython on this machine)
# --------------------------------------------------------------------------

# Heuristics that pre-fill the "reason" of a module failing on stock; the
# committed file is then checked and edited by hand (the runner keeps edited
# reasons when it re-records).
_REASON_HINTS: list[tuple[str, str]] = [
    (r"Network is unreachable|Temporary failure in name resolution|gaierror|"
     r"Name or service not known|getaddrinfo", "network: no network on this machine"),
    (r"running as root|os\.geteuid\(\) == 0|Permission", "environment: runs as root / permissions"),
    (r"No module named|ImportError", "environment: optional module or tool missing"),
    (r"[Tt]imed? ?out|TIMEOUT", "timing: slow 2-core machine"),
]


def guess_reason(mod: ModuleResult) -> str:
    text = " ".join(mod.states) + " " + " ".join(mod.tracebacks.values())
    for pattern, reason in _REASON_HINTS:
        if re.search(pattern, text):
            return reason + " (auto-guessed, check)"
    return "unknown (auto-recorded, check)"


def load_expected(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema": 1, "runs": {}, "modules": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def record_expected(path: Path, suite: str, results: dict[str, ModuleResult],
                    run_info: dict[str, Any]) -> None:
    exp = load_expected(path)
    exp["schema"] = 1
    exp["python"] = run_info.get("python_version", "?")
    exp.setdefault("runs", {})[suite] = run_info
    modules: dict[str, Any] = exp.setdefault("modules", {})
    for name, mod in sorted(results.items()):
        old = modules.get(name, {})
        entry: dict[str, Any] = {"category": mod.category, "states": mod.states}
        if mod.duration is not None:
            entry["duration_s"] = round(mod.duration, 2)
        if mod.tests_run is not None:
            entry["tests_run"] = mod.tests_run
            entry["tests_skipped"] = mod.skipped_tests
        if mod.category in (FAILED, CRASH, FLAKY, MISSING, ENV_CHANGED):
            entry["failed_tests"] = mod.failed_tests
            # Keep a hand-written reason as long as the module still misbehaves.
            entry["reason"] = old.get("reason") or guess_reason(mod)
        modules[name] = entry
    exp["modules"] = dict(sorted(modules.items()))
    path.write_text(json.dumps(exp, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Row:
    module: str
    detail: str
    tests: dict[str, str] = dataclasses.field(default_factory=dict)  # new failing tests


@dataclasses.dataclass
class Comparison:
    passed: list[Row] = dataclasses.field(default_factory=list)
    env_changed: list[Row] = dataclasses.field(default_factory=list)
    skipped: list[Row] = dataclasses.field(default_factory=list)
    failed_both: list[Row] = dataclasses.field(default_factory=list)
    fixed: list[Row] = dataclasses.field(default_factory=list)
    flaky: list[Row] = dataclasses.field(default_factory=list)
    new_failures: list[Row] = dataclasses.field(default_factory=list)
    newly_skipped: list[Row] = dataclasses.field(default_factory=list)
    crashes: list[Row] = dataclasses.field(default_factory=list)
    known_jit: list[Row] = dataclasses.field(default_factory=list)


KNOWN_JIT_FAILURES = Path(__file__).with_name("known_jit_failures.txt")


def _dotted_id(test_id: str) -> str:
    """'test_x (test.test_m.Class.test_x)' -> 'test.test_m.Class.test_x' (unittest's str)."""
    m = re.search(r"\(([\w.]+)\)$", test_id)
    return m.group(1) if m else test_id


def load_known_jit_failures(path: Path = KNOWN_JIT_FAILURES) -> set[str]:
    """Test ids that fail because of a JIT limitation that is tracked in an open issue.
    They are reported in their own row and do not gate; everything else still does."""
    if not path.exists():
        return set()
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.add(line)
    return ids


def compare(results: dict[str, ModuleResult], selected: list[str],
            expected: dict[str, Any]) -> Comparison:
    exp_mods: dict[str, Any] = expected.get("modules", {})
    known = load_known_jit_failures()
    cmp = Comparison()
    for name in selected:
        mod = results.get(name) or ModuleResult(name, MISSING, [], None, {}, {}, None, None)
        stock = exp_mods.get(name)
        stock_cat = stock["category"] if stock else None
        stock_tests = set((stock or {}).get("failed_tests", {}))
        stock_bad = stock_cat in (FAILED, CRASH, MISSING)
        note = "" if stock else " (no stock baseline)"
        if mod.category in (CRASH, MISSING):
            if stock_cat in (CRASH, MISSING):
                cmp.failed_both.append(Row(name, f"{mod.state_text}; stock: {stock['reason'] if stock else '?'}"))
            else:
                cmp.crashes.append(Row(name, mod.state_text + note, mod.failed_tests))
        elif mod.category == FAILED:
            if stock_bad:
                # Same module fails on stock: only tests that stock did not
                # fail are new.  Without test names (import error, ...) we can
                # only compare at module level.
                new = {t: e for t, e in mod.failed_tests.items() if t not in stock_tests}
                if new and stock_tests:
                    cmp.new_failures.append(Row(name, "fails on stock too, but more tests fail here", new))
                else:
                    cmp.failed_both.append(Row(name, (stock or {}).get("reason", "")))
            elif mod.failed_tests and all(_dotted_id(t) in known for t in mod.failed_tests):
                cmp.known_jit.append(Row(name, "known JIT limitation (known_jit_failures.txt)",
                                         mod.failed_tests))
            else:
                why = f"{mod.state_text}{note}"
                if stock_cat == FLAKY:
                    why += " (flaky on stock)"
                cmp.new_failures.append(Row(name, why, mod.failed_tests))
        elif mod.category == FLAKY:
            cmp.flaky.append(Row(name, mod.state_text, mod.failed_tests))
        elif mod.category == SKIPPED:
            # A module that ran on stock but is skipped here is a regression
            # in disguise: test.support.import_helper turns an ImportError into
            # a skip, so a JIT that breaks an import would otherwise pass.
            if stock_cat in (PASSED, ENV_CHANGED, FLAKY):
                cmp.newly_skipped.append(Row(name, mod.state_text))
            else:
                cmp.skipped.append(Row(name, mod.state_text))
        else:  # passed / env_changed
            if stock_bad:
                cmp.fixed.append(Row(name, f"stock: {stock_cat}"))
            elif mod.category == ENV_CHANGED:
                cmp.env_changed.append(Row(name, mod.state_text))
            else:
                cmp.passed.append(Row(name, ""))
    return cmp


def recheck_on_stock(cmp: Comparison, python: str, out: Path, common: list[str],
                     timeout: float) -> None:
    """Re-run the modules with new failures on stock, in this same environment.

    The recorded expectations come from one environment; another one (a venv with
    extra packages, say tzdata, which turns test_zoneinfo's tzdata tests on and makes
    them fail on stock too) can fail tests that have nothing to do with the JIT. A
    failing test that also fails here on stock is not new; one that passes on stock
    here still is. Crashes are never excused."""
    if not cmp.new_failures:
        return
    names = [r.module for r in cmp.new_failures]
    where = out / "stock-recheck"
    where.mkdir(exist_ok=True)
    (where / "results.jsonl").unlink(missing_ok=True)
    print(f"\nrun.py: re-checking {len(names)} module(s) with new failures on stock: {' '.join(names)}")
    run_regrtest(python, where, stock_env(),
                 ["-j", "1", "--timeout", str(int(timeout)), *common, *names], None)
    stock_here = load_results(where / "results.jsonl")
    still_new = []
    for row in cmp.new_failures:
        mod = stock_here.get(row.module)
        if mod is None or mod.category not in (FAILED, FLAKY):
            still_new.append(row)
            continue
        stock_failed = set(mod.failed_tests)
        left = {t: e for t, e in row.tests.items() if t not in stock_failed}
        if row.tests and not left:
            cmp.failed_both.append(Row(row.module, "fails on stock in this environment too (re-checked)"))
        else:
            still_new.append(Row(row.module, row.detail, left or row.tests))
    cmp.new_failures = still_new


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _names(rows: Iterable[Row], limit: int = 8) -> str:
    names = [r.module for r in rows]
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def build_report(cmp: Comparison, jit: JitStats | None, stock: bool,
                 header: list[str], strict: bool,
                 results: dict[str, ModuleResult], expected: dict[str, Any],
                 tier2: bool = False) -> tuple[str, str, list[str]]:
    """Return (plain text report, markdown table, list of gate failures)."""
    rows: list[tuple[str, list[Row], bool]] = [
        ("passed", cmp.passed, False),
        ("passed, env changed (warning)", cmp.env_changed, False),
        ("skipped (also on stock / no resource)", cmp.skipped, False),
        ("failed on stock too (expected)", cmp.failed_both, False),
        ("fixed (fail on stock, pass here)", cmp.fixed, False),
        ("flaky (failed, passed on re-run)", cmp.flaky, strict),
        ("known JIT failures (tracked, not gating)", cmp.known_jit, strict),
        ("NEW FAILURES", cmp.new_failures, True),
        ("NEWLY SKIPPED (ran on stock)", cmp.newly_skipped, True),
        ("CRASHES / HANGS / NO RESULT", cmp.crashes, True),
    ]
    exp_mods_all: dict[str, Any] = expected.get("modules", {})
    gate: list[str] = []
    for label, items, gating in rows:
        if gating and items:
            gate.append(f"{len(items)} {label.lower()}")

    text: list[str] = [*header, ""]
    width = max(len(r[0]) for r in rows)
    text.append(f"{'category':<{width}}  modules")
    text.append(f"{'-' * width}  -------")
    md: list[str] = ["| category | modules | which |", "|---|---:|---|"]
    for label, items, _ in rows:
        shown = _names(items) if items and label != "passed" else ""
        text.append(f"{label:<{width}}  {len(items):>7}  {shown}")
        md.append(f"| {label} | {len(items)} | {_names(items, 20) if label != 'passed' else ''} |")

    details: list[tuple[str, list[Row]]] = [
        ("New failures", cmp.new_failures), ("Crashes / hangs", cmp.crashes),
        ("Newly skipped", cmp.newly_skipped), ("Flaky", cmp.flaky),
        ("Known JIT failures", cmp.known_jit)]
    for title, items in details:
        if not items:
            continue
        text += ["", f"{title}:"]
        for row in items:
            text.append(f"  {row.module}: {row.detail}")
            for tid, err in list(row.tests.items())[:15]:
                text.append(f"      {tid}")
                if err:
                    text.append(f"          {err[:200]}")
            if len(row.tests) > 15:
                text.append(f"      ... {len(row.tests) - 15} more tests")
            mod = results.get(row.module)
            if mod and mod.crash_info:
                text += [f"        | {ln[:160]}" for ln in mod.crash_info]

    # Individual tests skipped here but not on stock (informational: a
    # skipIf on a feature probe the JIT broke would show up here).
    more_skips = []
    for row in cmp.passed + cmp.env_changed:
        mod = results.get(row.module)
        base = exp_mods_all.get(row.module, {}).get("tests_skipped")
        if mod and mod.skipped_tests is not None and base is not None and mod.skipped_tests > base:
            more_skips.append(f"{row.module} (+{mod.skipped_tests - base})")
    if more_skips:
        text += ["", f"Passing modules that skipped more tests than on stock: {', '.join(more_skips[:20])}"]

    # Modules much slower than on stock: useful to size --timeout and the
    # core subset, and a hint of compile-time blowups.
    exp_mods = expected.get("modules", {})
    ratios = []
    for name, mod in results.items():
        base = exp_mods.get(name, {}).get("duration_s")
        if mod.duration and base and base >= 2.0 and mod.category in (PASSED, ENV_CHANGED, FAILED, FLAKY):
            ratios.append((mod.duration / base, name, base, mod.duration))
    if ratios and not stock:
        ratios.sort(reverse=True)
        text += ["", "Slowest relative to stock (modules >= 2 s on stock):"]
        for ratio, name, base, now in ratios[:5]:
            text.append(f"  {name}: {fmt_duration(base)} -> {fmt_duration(now)} (x{ratio:.1f})")

    if jit is not None:
        # Only this run's modules: test_regrtest starts regrtest runs of its
        # own, whose workers report made-up module names.
        ran = {name for name, mod in results.items() if mod.category != MISSING}
        workers = len(ran & jit.worker_native.keys())
        dead_workers = sorted(m for m, n in jit.worker_native.items() if n == 0 and m in ran)
        text += ["", "JIT statistics (all processes that reported at exit):"]
        jit_lines = [
            ("processes reported", f"{jit.processes}" + (f" ({jit.bad_lines} unreadable lines)" if jit.bad_lines else "")),
            ("test-module workers reported", f"{workers} of {len(ran)} modules run"),
            ("functions compiled", f"{jit.functions_compiled:,}"
                                   + (f" ({jit.compile_failures:,} compile failures)" if jit.compile_failures else "")),
            ("frames native", f"{jit.frames_native:,}"),
            ("frames interpreted", f"{jit.frames_interpreted:,}"),
            ("tier 2: functions compiled", f"{jit.tier2_functions:,}"),
            ("tier 2: frames run", f"{jit.tier2_frames:,}"),
            ("% native", f"{jit.native_pct:.1f}%"),
            ("interpreted frames by reason",
             ", ".join(f"{k}={v:,}" for k, v in jit.interpreted_by_reason.most_common(6)) or "n/a"),
            ("exits by reason", ", ".join(f"{k}={v:,}" for k, v in jit.exits.most_common(8)) or "none"),
            ("top exit opcodes", ", ".join(f"{k}={v:,}" for k, v in jit.exits_by_opcode.most_common(8)) or "none"),
            ("workers with 0 native frames", f"{len(dead_workers)}" + (f": {', '.join(dead_workers[:10])}" if dead_workers else "")),
        ]
        w = max(len(k) for k, _ in jit_lines)
        text += [f"  {k:<{w}}  {v}" for k, v in jit_lines]
        md += ["", "| JIT figure | value |", "|---|---|"]
        md += [f"| {k} | {v} |" for k, v in jit_lines]
        if not stock:
            if jit.processes == 0:
                gate.append("JIT DID NOT RUN: no process wrote OVERDRIVE_STATS_FILE")
            elif jit.frames_native == 0:
                gate.append("JIT DID NOT RUN: frames_native == 0 in every process")
            elif workers == 0:
                gate.append("JIT DID NOT RUN in the test workers (only other processes reported)")
            if tier2 and jit.tier2_frames == 0:
                gate.append("TIER 2 DID NOT RUN: no tier-2 frames in any process")

    if stock:
        # A stock run is a measurement, never a verdict on overdrive.
        verdict = "STOCK RUN (gates nothing)" + (": " + "; ".join(gate) if gate else "")
    else:
        verdict = "FAIL - " + "; ".join(gate) if gate else "PASS"
    text += ["", "VERDICT: " + verdict]
    md += ["", f"**Verdict: {verdict}**"]
    return "\n".join(text), "\n".join(md), gate


# --------------------------------------------------------------------------
# Running regrtest
# --------------------------------------------------------------------------

def read_core_modules(path: Path) -> list[str]:
    mods = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            mods.append(line)
    return mods


def write_ignore_file(src: Path, dest: Path) -> Path:
    """regrtest's --ignorefile takes every line as a pattern; ours has comments."""
    patterns = [ln.split("#", 1)[0].strip() for ln in src.read_text(encoding="utf-8").splitlines()]
    dest.write_text("".join(p + "\n" for p in patterns if p), encoding="utf-8")
    return dest


def stock_env() -> dict[str, str]:
    """The caller's environment minus anything that would switch overdrive on,
    and minus PYTHON* variables: a shell with PYTHONUNBUFFERED or
    PYTHONDONTWRITEBYTECODE set makes test_cmd_line and test_compileall fail,
    and the results must not depend on whose shell (or CI) ran the gate."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("OVERDRIVE") and not k.startswith("PYTHON")}


def list_selected(python: str, test_args: list[str], extra: list[str]) -> list[str]:
    """Ask regrtest which modules the selection expands to (split packages
    included), so that a module that never reports a result is noticed."""
    proc = subprocess.run([python, "-m", "test", "--list-tests", *extra, *test_args],
                          env=stock_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"run.py: 'python -m test --list-tests' failed:\n{proc.stdout}{proc.stderr}")
    return [norm_module(ln.strip()) for ln in proc.stdout.splitlines() if ln.strip()]


def check_python(python: str) -> str:
    """Fail early, with a clear message, if the interpreter is not what the
    driver was written for."""
    code = ("import sys, test.libregrtest.results as r, test.libregrtest.main as m;"
            "assert hasattr(r.TestResults, 'accumulate_result');"
            "print(sys.version.split()[0])")
    proc = subprocess.run([python, "-c", code], env=stock_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"run.py: {python} has no usable test.libregrtest (is the 'test' package installed?):\n{proc.stderr}")
    version = proc.stdout.strip()
    if not version.startswith("3.11."):
        print(f"run.py: warning: written for CPython 3.11, {python} is {version}", file=sys.stderr)
    return version


PREFLIGHT_CODE = """
def f(n):
    return n + 1
for i in range(1000):
    f(i)
"""


def preflight(python: str, env: dict[str, str], out: Path) -> str | None:
    """Seconds-long check that the JIT really switches on in a child process
    of this environment, before spending many minutes on a run whose every
    "pass" would mean nothing.  Returns an error message or None."""
    stats = out / "preflight-stats.jsonl"
    stats.unlink(missing_ok=True)
    penv = dict(env, OVERDRIVE_STATS_FILE=str(stats))
    proc = subprocess.run([python, "-c", PREFLIGHT_CODE], env=penv, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        return f"a trivial script exits {proc.returncode} with OVERDRIVE=1:\n{proc.stderr[-3000:]}"
    js = load_jit_stats(stats)
    if js.processes == 0:
        imp = subprocess.run([python, "-c", "import overdrive"], env=stock_env(),
                             capture_output=True, text=True)
        hint = ("'import overdrive' fails:\n" + imp.stderr.strip().splitlines()[-1]
                if imp.returncode else "overdrive imports, but wrote no OVERDRIVE_STATS_FILE line")
        return f"the JIT did not report from a trivial script ({hint})"
    if js.frames_native == 0:
        return "the JIT reported frames_native == 0 for a hot trivial loop at this threshold"
    if "OVERDRIVE_TIER2_THRESHOLD" in env and js.tier2_frames == 0:
        return "tier 2 ran no frame of a hot trivial function (OVERDRIVE_TIER2_THRESHOLD set)"
    return None


def run_regrtest(python: str, out: Path, env: dict[str, str], args: list[str],
                 total_timeout: float | None) -> tuple[int, float]:
    """Run regrtest via the driver, teeing its output to out/log.txt.
    Returns (exit code, wall-clock seconds)."""
    log_path = out / "log.txt"
    cmd = [python, str(DRIVER), str(out / "results.jsonl"), *args]
    start = time.monotonic()
    with log_path.open("w", encoding="utf-8", buffering=1) as log:  # line-buffered: readable while running
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        # The tests run from regrtest's own temporary directory; start from
        # the results directory so stray files land there, not in the repo.
        proc = subprocess.Popen(cmd, env=env, cwd=out, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace",
                                start_new_session=True)

        def tee() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                log.write(line)

        # A thread copies the output so that the deadline below holds even if
        # regrtest's main process (which runs with the JIT too) goes silent.
        reader = threading.Thread(target=tee, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=total_timeout or None)
        except (KeyboardInterrupt, subprocess.TimeoutExpired) as exc:
            # SIGINT lets regrtest stop its workers (they run in sessions of
            # their own) and print what it has; then make sure.
            why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "total timeout"
            sys.stdout.write(f"\nrun.py: {why}; stopping regrtest\n")
            try:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            if isinstance(exc, KeyboardInterrupt):
                raise
        finally:
            reader.join(timeout=30)
            log.write(f"\nrun.py: regrtest exit status {proc.returncode}\n")
    return proc.returncode, time.monotonic() - start


def reset_signal_dispositions() -> None:
    """A process started in the background by a shell without job control
    (nohup, "cmd &" in a script, some CI runners) inherits SIGINT and SIGQUIT
    *ignored*, and an ignored signal stays ignored across exec.  CPython then
    installs no KeyboardInterrupt handler, and test_signal, test_threading,
    test_pdb, test_generators ... fail on stock and JIT alike.  Installing a
    handler here makes the children start with the default disposition
    (handlers, unlike SIG_IGN, are reset by exec)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        print("run.py: SIGINT was ignored (background shell?); restoring it for the tests",
              file=sys.stderr)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) is signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=("core", "full"), default="core",
                    help="core: tools/regrtest/core_modules.txt (CI gate); full: every module")
    ap.add_argument("--tests", nargs="+", metavar="TEST",
                    help="run these modules instead of a suite (for reproducing)")
    ap.add_argument("--stock", action="store_true",
                    help="run without the JIT (OVERDRIVE* removed from the environment)")
    ap.add_argument("--record", action="store_true",
                    help="with --stock: write the results into the expectations file")
    ap.add_argument("--tier2", action="store_true",
                    help="the stress mode of the optimizing tier: OVERDRIVE_TIER2_THRESHOLD "
                         "(--tier2-threshold, default 0: every function tier 2 accepts, at its "
                         "first call); the gate also requires tier-2 frames to have run")
    ap.add_argument("--tier2-threshold", type=int, default=0, metavar="N",
                    help="OVERDRIVE_TIER2_THRESHOLD with --tier2 (default 0)")
    ap.add_argument("--threshold", default="0", help="OVERDRIVE_THRESHOLD (default 0: compile everything)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter to test (default: the one running this script)")
    ap.add_argument("-j", "--jobs", type=int, default=len(os.sched_getaffinity(0)),
                    help="regrtest worker processes (default: number of usable cores)")
    ap.add_argument("--timeout", type=float, help="per test-module timeout in seconds")
    ap.add_argument("--total-timeout", type=float,
                    help="stop the whole run after this many seconds (default: none)")
    ap.add_argument("--resources", default=DEFAULT_RESOURCES, help="regrtest -u value")
    ap.add_argument("--expected", type=Path, default=EXPECTED)
    ap.add_argument("--out", type=Path, help="results directory (default tools/regrtest/results/<suite>-<mode>)")
    ap.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    ap.add_argument("--strict", action="store_true", help="flaky modules fail the gate too")
    ap.add_argument("--no-ignore", action="store_true",
                    help="do not pass tools/regrtest/ignored_tests.txt to regrtest")
    ap.add_argument("--no-rerun", action="store_true", help="do not re-run failed modules (-w)")
    ap.add_argument("--no-preflight", action="store_true",
                    help="skip the quick check that the JIT switches on at all")
    ap.add_argument("--report-only", action="store_true",
                    help="do not run; re-read the results directory and report")
    ap.add_argument("regrtest_args", nargs="*", help="extra regrtest options, after --")
    ns = ap.parse_args(argv)
    reset_signal_dispositions()

    if ns.record and not ns.stock:
        ap.error("--record only makes sense with --stock (expectations are stock results)")

    mode = "stock" if ns.stock else ("jit-tier2" if ns.tier2 else "jit")
    suite_label = "custom" if ns.tests else ns.suite
    out: Path = (ns.out or RESULTS_ROOT / f"{suite_label}-{mode}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    python = ns.python
    version = check_python(python)

    if ns.tests:
        test_args = list(ns.tests)
    elif ns.suite == "core":
        test_args = read_core_modules(CORE_LIST)
    else:
        test_args = []  # regrtest's default: everything
    common = ["-u", ns.resources]
    if not ns.no_ignore:
        common += ["--ignorefile", str(write_ignore_file(IGNORED, out / "ignored-patterns.txt"))]
    selected = list_selected(python, test_args, [*common, *ns.regrtest_args])

    timeout = ns.timeout or DEFAULT_TIMEOUT["full" if ns.suite == "full" else "core"]
    rt_args = ["-j", str(max(ns.jobs, 1)), "--timeout", str(int(timeout)), *common,
               "--slowest", "--junit-xml", str(out / "junit.xml")]
    if not ns.no_rerun:
        rt_args.append("-w")
    rt_args += [*ns.regrtest_args, *test_args]

    env = stock_env()
    stats_path = out / "overdrive-stats.jsonl"
    if not ns.stock:
        env["OVERDRIVE"] = "1"
        env["OVERDRIVE_THRESHOLD"] = str(ns.threshold)
        env["OVERDRIVE_STATS_FILE"] = str(stats_path)
        if ns.tier2:
            env["OVERDRIVE_TIER2_THRESHOLD"] = str(ns.tier2_threshold)

    if not ns.stock and not ns.report_only and not ns.no_preflight:
        problem = preflight(python, env, out)
        if problem:
            print(f"run.py: JIT REQUESTED BUT NOT RUNNING: {problem}\n"
                  "run.py: refusing to run the suite (a green run would mean nothing); "
                  "--no-preflight runs it anyway", file=sys.stderr)
            return 1

    started = dt.datetime.now(dt.timezone.utc)
    load_before = os.getloadavg()[0]
    if ns.report_only:
        meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
        rc, wall = meta["regrtest_exit"], meta["duration_s"]
    else:
        for stale in ("results.jsonl", "overdrive-stats.jsonl", "junit.xml"):
            (out / stale).unlink(missing_ok=True)
        rc, wall = run_regrtest(python, out, env, rt_args, ns.total_timeout)
        env_shown = {k: v for k, v in env.items() if k.startswith("OVERDRIVE")}
        meta = {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "suite": suite_label, "mode": mode, "python": python,
            "python_version": version, "duration_s": round(wall, 1),
            "regrtest_exit": rc, "modules": len(selected), "jobs": ns.jobs,
            "timeout_s": timeout, "resources": ns.resources,
            # Durations on a shared 2-core machine mean little without the
            # load the run competed with.
            "load_avg_1min_start_end": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
            "command": " ".join([*(f"{k}={v}" for k, v in env_shown.items()),
                                 "python -m test", *[a for a in rt_args if a not in test_args]])
                       .replace(str(out), "<out>")
                       + (f" <{len(test_args)} modules>" if test_args else ""),
        }
        (out / "run.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    results = load_results(out / "results.jsonl")
    if not results:
        print(f"run.py: regrtest produced no results (exit {rc}); see {out / 'log.txt'}", file=sys.stderr)
        return 2

    if ns.record:
        record_expected(ns.expected, suite_label, results, meta)
        print(f"\nrun.py: recorded {len(results)} modules into {ns.expected}")

    expected = load_expected(ns.expected)
    jit = None if ns.stock else load_jit_stats(stats_path)
    stock_run = expected.get("runs", {}).get(suite_label, {})
    header = [
        "=" * 78,
        f"overdrive regrtest gate: suite={suite_label} mode={mode} "
        f"({'OVERDRIVE unset' if ns.stock else f'OVERDRIVE=1 OVERDRIVE_THRESHOLD={ns.threshold}' + (f' OVERDRIVE_TIER2_THRESHOLD={ns.tier2_threshold}' if ns.tier2 else '')})",
        f"python {version}, {len(selected)} modules, -j{ns.jobs}, timeout {int(timeout)}s/module, "
        f"regrtest exit {rc}",
        f"duration {fmt_duration(meta['duration_s'])}"
        + (f" (stock baseline: {fmt_duration(stock_run.get('duration_s'))} on {stock_run.get('date')})"
           if stock_run else ""),
        f"expectations: {ns.expected.name} "
        + (f"({len(expected.get('modules', {}))} modules)" if expected.get("modules") else "(none recorded!)"),
    ]
    cmp = compare(results, selected, expected)
    if not ns.stock and not ns.report_only:
        recheck_on_stock(cmp, python, out, [*common, *ns.regrtest_args], timeout)
    report, markdown, gate = build_report(cmp, jit, ns.stock, header, ns.strict, results, expected,
                                          tier2=ns.tier2)
    print("\n" + report)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    summary = {"run": meta, "gate": gate,
               "categories": {f.name: [r.module for r in getattr(cmp, f.name)]
                              for f in dataclasses.fields(cmp)}}
    if jit is not None:
        summary["jit"] = {"processes": jit.processes, "functions_compiled": jit.functions_compiled,
                          "compile_failures": jit.compile_failures,
                          "interpreted_by_reason": dict(jit.interpreted_by_reason),
                          "frames_native": jit.frames_native,
                          "frames_interpreted": jit.frames_interpreted,
                          "tier2_functions": jit.tier2_functions,
                          "tier2_frames": jit.tier2_frames,
                          "native_pct": round(jit.native_pct, 2), "exits": dict(jit.exits),
                          "exits_by_opcode": dict(jit.exits_by_opcode.most_common(30))}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown + "\n", encoding="utf-8")
    if ns.markdown:
        ns.markdown.write_text(markdown + "\n", encoding="utf-8")
    print(f"\nresults, log and report: {out}")

    if ns.stock:
        # A stock run gates nothing: it measures and (with --record) records.
        return 0
    if not expected.get("modules"):
        print("run.py: no stock expectations recorded: every failure counts as new", file=sys.stderr)
    return 1 if gate else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
