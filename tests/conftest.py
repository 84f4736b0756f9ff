"""Shared helpers: run a function interpreted and compiled, compare everything observable,
and prove the compiled code actually ran."""
from __future__ import annotations

import os
import site
import sys
import sysconfig
import traceback
from typing import Any, Callable

import pytest

import overdrive


def outcome_with_traceback(fn: Callable[..., Any], args: tuple, kwargs: dict | None = None) -> tuple:
    """Result or exception of a call, with the traceback as (function, line) pairs (this
    frame left out), for comparing the tiers. One frame of its own around the call: tests
    that count the calls compiled code makes rely on it calling `fn` directly."""
    try:
        return ("ok", fn(*args, **(kwargs or {})))
    except BaseException as exc:  # noqa: BLE001 - we compare every kind of exception
        tb = [(f.name, f.lineno) for f in traceback.extract_tb(exc.__traceback__)][1:]
        return ("raise", type(exc), str(exc), tb)


def outcome(f: Callable[..., Any], args: tuple) -> tuple:
    """Result or exception (type and message) of a call, for comparing the tiers."""
    try:
        return ("ok", f(*args))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))


def tier2_against_interpreter(f: Callable[..., Any], warm: tuple, calls: list,
                              seen: Callable[[Callable[..., Any], tuple], Any] = outcome) -> dict:
    """`seen(f, args)` for each of `calls` interpreted, then compiled: f's first call (`warm`)
    at tier 1, the others at tier 2. Asserts that tier 2 ran f and that both agree;
    returns info(f)."""
    overdrive.disable()
    expected = [seen(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        f(*warm)
        got = [seen(f, a) for a in calls]
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info
    assert got == expected
    return info


def allocated_blocks_growth(cases: list, **enable: Any) -> tuple[int, list]:
    """Memory blocks CPython holds after 300 more rounds of `cases` ((function, args)
    pairs, each call's exception swallowed) than after 40 rounds of warm-up, with the JIT
    enabled as `enable` says; and the tier each function ended at. A reference leak grows
    with the rounds."""
    import gc

    def round_():
        for f, a in cases:
            try:
                f(*a)
            except Exception:  # noqa: BLE001 - only the memory is looked at
                pass

    overdrive.enable(**enable)
    try:
        for _ in range(40):
            round_()
        gc.collect()
        before = sys.getallocatedblocks()
        for _ in range(300):
            round_()
        gc.collect()
        grown = sys.getallocatedblocks() - before
        tiers = [overdrive.info(f)["tier"] for f, _ in cases]
    finally:
        overdrive.disable()
    return grown, tiers


def run_both_counting(jit, counter: str, fn: Callable[..., Any], *args: Any, **kw: Any):
    """jit.run_both(fn, ...), with stats()[counter] growing during the compiled run (the road
    it counts was taken). A compiled function hands its first run to the interpreter at
    RESUME (the WARMUP exit, once per code object): one compiled run first, so that the
    compared one is native throughout."""
    overdrive.enable(threshold=0)
    try:
        fn(*args, **kw)
    except BaseException:  # noqa: BLE001 - the functions that raise are compared below
        pass
    finally:
        overdrive.disable()
    before = overdrive.stats()[counter]
    got = jit.run_both(fn, *args, **kw)
    assert overdrive.stats()[counter] > before, f"stats()[{counter!r}] did not grow"
    return got


def compiled_runs_track_nothing_new(fn: Callable[..., Any], obj: Any) -> None:
    """fn(obj) compiled at threshold 0 and run six more times leaves next to no new objects
    tracked by the collector (the caller then checks obj's reference count)."""
    import gc

    overdrive.enable(threshold=0)
    try:
        fn(obj)
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(5):
            fn(obj)
        gc.collect()
        assert len(gc.get_objects()) - before < 50
    finally:
        overdrive.disable()


def unexpected_exits(before: dict, after: dict) -> dict:
    """Exits counted between two info() snapshots, without WARMUP: the one exit per code
    object at which the interpreter quickens it (expected by design, see docs/design.md)."""
    b, a = before.get("exits", {}), after.get("exits", {})
    return {k: a[k] - b.get(k, 0) for k in a if k != "WARMUP" and a[k] != b.get(k, 0)}


def run_in_unit(fn, calls: list) -> tuple:
    """Outcomes of `calls` (argument tuples) interpreted and then in fn's unit, compiled
    already, which must run each of them natively with no exit (WARMUP aside) and give the
    interpreter's outcomes and tracebacks: (the outcomes, info(fn) after)."""
    overdrive.disable()
    expected = [outcome_with_traceback(fn, args, {}) for args in calls]
    before = overdrive.info(fn)
    overdrive.enable(threshold=10**6)
    try:
        got = [outcome_with_traceback(fn, args, {}) for args in calls]
    finally:
        overdrive.disable()
    after = overdrive.info(fn)
    assert after["native_entries"] - before["native_entries"] == len(calls), after
    assert not unexpected_exits(before, after), after["exits"]
    assert got == expected, (got, expected)
    return got, after


class Jit:
    """Runs functions under the JIT and checks that compiled code did the work."""

    def run_both(self, fn: Callable[..., Any], *args: Any, allow_exits: bool = False,
                 **kwargs: Any) -> Any:
        overdrive.disable()
        expected = outcome_with_traceback(fn, args, kwargs)
        before = overdrive.info(fn)
        overdrive.enable(threshold=0)
        try:
            got = outcome_with_traceback(fn, args, kwargs)
        finally:
            overdrive.disable()
        after = overdrive.info(fn)
        assert after["compiled"], f"{fn.__qualname__} was not compiled: {after['why_not']}"
        assert after["tier"] in ((1, 2) if TIER2_STRESS else (1,))
        assert after["native_entries"] > before["native_entries"], "compiled code did not run"
        if not allow_exits and not TIER2_STRESS:
            assert not unexpected_exits(before, after), f"unexpected exits: {after['exits']}"
        assert got == expected, f"compiled {got!r} != interpreted {expected!r}"
        return got[1] if got[0] == "ok" else got


@pytest.fixture
def jit():
    yield Jit()
    overdrive.disable()


@pytest.fixture(autouse=True)
def _jit_off_after_each_test():
    yield
    overdrive.disable()
    sys.settrace(None)
    sys.setprofile(None)


def _pth_installed() -> bool:
    """Whether the start-up autoload (overdrive-autoload.pth) is in this interpreter's
    site-packages: `OVERDRIVE=1` and `python -m overdrive` need it."""
    paths = [sysconfig.get_paths()["purelib"]] + list(site.getsitepackages())
    return any(os.path.exists(os.path.join(p, "overdrive-autoload.pth")) for p in paths)


needs_pth = pytest.mark.skipif(
    not _pth_installed(), reason="overdrive is not pip-installed here (the autoload .pth, "
    "which OVERDRIVE=1 and python -m overdrive need, only exists in an installed "
    "environment: make test)")


# OVERDRIVE_TIER2_THRESHOLD=0 (the stress mode): tier 2 compiles every function it accepts at
# its first call; tier-1 specific checks (tier == 1, no exits) do not apply there.
TIER2_STRESS = os.environ.get("OVERDRIVE_TIER2_THRESHOLD", "-1") not in ("", "-1")
tier1_only = pytest.mark.skipif(TIER2_STRESS, reason="checks tier 1's own code or exits "
                                "(OVERDRIVE_TIER2_THRESHOLD compiles with tier 2)")


def tier1_only_because(why: str):
    """tier1_only with the tier-1 machinery the test is about in its reason."""
    return pytest.mark.skipif(TIER2_STRESS, reason=f"tests tier 1's {why}; "
                              "OVERDRIVE_TIER2_THRESHOLD runs the code with tier 2")


def runs_tier1(fn: Callable[..., Any]) -> bool:
    """Whether fn's code runs tier 1's unit (always, unless the stress mode compiled it with
    tier 2): tier 1's internals (inline caches, borrowing, direct calls, exits) are checked
    only then; results, exceptions and tracebacks are compared in both tiers."""
    tier = overdrive.info(fn)["tier"]
    assert tier in ((1, 2) if TIER2_STRESS else (1,)), tier
    return tier == 1

# OVERDRIVE_COMPACT=all (hook/hook.h) makes every first unit compact: the whole suite then
# runs on compact units. The tests of what only full units have (inline fast paths, operand
# borrowing, their native code) do not apply there.
COMPACT_FORCED = os.environ.get("OVERDRIVE_COMPACT") == "all"
full_tier = pytest.mark.skipif(
    COMPACT_FORCED, reason="checks the full unit's inline paths or borrowing "
    "(OVERDRIVE_COMPACT=all compiles every first unit compact)")


def code_calls(fn: Callable[..., Any], name: str) -> bool:
    """Whether fn's compiled code calls the runtime function `name` (one of
    _overdrive._helper_symbols()): its address is in the code's call entries, or a direct
    `call rel32` (asm/codemem.h od_codemem_near) reaches it."""
    import struct

    import _overdrive
    addr = {v: k for k, v in _overdrive._helper_symbols().items()}.get(name)
    if addr is None:
        return False
    native = _overdrive._native_map(fn)
    code, base = native["code"], native["address"]
    if struct.pack("<Q", addr) in code:
        return True
    return any(code[i] == 0xE8 and base + i + 5 + struct.unpack_from("<i", code, i + 1)[0] == addr
               for i in range(len(code) - 4))


@pytest.fixture
def tier2_threshold_restored():
    """The tier-2 tests' setting back as it was after each test, the JIT off."""
    before = overdrive.config()["tier2_threshold"]
    yield
    overdrive.disable()
    overdrive.config(tier2_threshold=before)


class Noisy:
    """An object that logs its name when it is finalized: tests see when (and whether) a
    reference compiled code held or dropped was the last one. Tests clear `log` first."""
    log: list = []

    def __init__(self, name):
        self.name = name

    def __del__(self):
        Noisy.log.append(self.name)
