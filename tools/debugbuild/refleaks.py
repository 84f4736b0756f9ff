"""Refcount-balance and leak check of compiled code, under a debug build of CPython 3.11.

Run it with the debug interpreter (python3.11-dbg, Py_DEBUG/Py_REF_DEBUG) of a venv that has
overdrive installed:

    python refleaks.py [--calls 200] [--warmups 2] [--runs 3] [--only NAME ...] [--selftest]
                       [--allow-reftotal-skew] [--json FILE] [--markdown FILE]

Every workload (the f_* functions of tests/test_opcodes.py called with the tests' arguments,
the generator drivers of tests/test_generators.py, and frame/call/code-lifetime workloads
from tests/test_runtime.py and here) is run like regrtest's -R hunter does: a few
warm-up runs, then RUNS runs of CALLS calls each; after each run the caches are cleared,
garbage is collected and the counters are read. The deltas per run are reported for:

  reftotal  sys.gettotalrefcount(): the interpreter's running total of Py_INCREF - Py_DECREF
  blocks    sys.getallocatedblocks() - sys._getquickenedcount() (as regrtest counts them)
  census    sum of ob_refcnt over every gc-tracked object and everything they refer to
            directly (ints, strings, None...). Unlike reftotal it reads the objects' real
            reference counts, so it stays exact even if some code changes refcounts without
            going through Py_INCREF/Py_DECREF (which is what JIT-emitted code does).
  codemem   overdrive.stats()['code_memory_in_use'] (executable memory held by compiled code)

Each workload is measured twice: interpreted (JIT disabled: the baseline, where reftotal is
exact) and compiled (overdrive.enable(threshold=0)); the compiled run must prove that the
compiled code ran (info()['compiled'] and native_entries growing by the number of calls).

Verdicts, regrtest's rule (every measured run >= 1) applied per counter:
  LEAK       census or blocks or codemem grows in every run of the compiled mode, or reftotal
             or blocks in every run of the interpreted mode: objects or references are lost.
  SKEW       the compiled mode's reftotal moves in every run by the same amount while the
             census is balanced: refcounts are right but sys.gettotalrefcount() is not kept
             in step (refcount changes made without Py_INCREF/Py_DECREF's _Py_RefTotal
             update). This blinds regrtest's reference-leak hunter, so it is a failure unless
             --allow-reftotal-skew is given.
  ok         none of the above.

--selftest adds two canary workloads that leak on purpose (one reference to an existing
object per call, one new object per call) and fails unless both are caught in both modes.
Exit status: 0 when every workload is ok (or only SKEW with --allow-reftotal-skew), 1 when
something is found, 2 on a usage or environment error.
"""
from __future__ import annotations

import argparse
import array
import collections
import ctypes
import gc
import importlib
import json
import math
import os
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TESTS = os.path.normpath(os.path.join(HERE, "..", "..", "tests"))


# ---------------------------------------------------------------- counters ----------------

def _census() -> int:
    """Sum of the real reference counts of every gc-tracked object and of each object that
    one of them refers to directly, minus the references this function itself holds."""
    seen = {}
    for o in gc.get_objects():
        seen[id(o)] = o
    for o in list(seen.values()):
        for r in gc.get_referents(o):
            if id(r) not in seen:
                seen[id(r)] = r
    o = r = None
    total = 0
    getrc = sys.getrefcount
    for o in seen.values():
        total += getrc(o)
    n = len(seen)
    o = None
    seen = None
    # Each counted object had three references from here: the dict value, `o`, getrefcount's
    # argument.
    return total - 3 * n


def _cleanup() -> None:
    """What regrtest's dash_R_cleanup does that matters here: type cache, garbage."""
    sys._clear_type_cache()
    gc.collect()
    gc.collect()


def _code_memory() -> int:
    import overdrive
    return overdrive.stats()["code_memory_in_use"]


COUNTERS = ("reftotal", "blocks", "census", "codemem")


def _snapshot(into, at: int, with_census: bool) -> None:
    """Read the counters into the preallocated array `into` (no object outlives this call,
    so reading the counters does not itself move them between runs)."""
    _cleanup()
    into[at + 1] = sys.getallocatedblocks() - sys._getquickenedcount()
    into[at + 0] = sys.gettotalrefcount()
    into[at + 3] = _code_memory()
    into[at + 2] = _census() if with_census else 0


# --------------------------------------------------------------- workloads ----------------

class Workload:
    def __init__(self, name: str, fn, args: tuple = (), kwargs: dict | None = None,
                 target=None, canary: bool = False):
        self.name = name
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or {}
        # The function whose compiled code must run (the one info() is asked about).
        self.target = target if target is not None else fn
        self.canary = canary


def _call_n(fn, args, kwargs, n):
    for _ in range(n):
        try:
            fn(*args, **kwargs)
        except Exception:
            pass


def _opcode_workloads(T) -> list:
    """The f_* functions of tests/test_opcodes.py with the arguments its tests use."""
    W = []

    def add(family, fn, *argsets):
        argsets = argsets or [()]
        for i, args in enumerate(argsets):
            name = family if len(argsets) == 1 else f"{family}[{i}]"
            W.append(Workload(name, fn, args))

    add("arith", T.f_arith, (7, 3), (-7, 3), (7, -3), (2**40, 3), (7.5, 2.0), (-0.0, 1.5))
    add("inplace", T.f_inplace, (17,))
    add("compare", T.f_compare, (1, 2), (2, 2), (1.5, 1.5), ("a", "b"), ("x", "x"),
        (None, None), (2**70, 2**70))
    add("branches", T.f_branches, (12,))
    add("truthiness", T.f_truthiness, ([[], [0], "", "a", 0.0, 3, None, {}, set(), (1,)],))
    add("containers", T.f_containers, (4,))
    add("subscr_errors", T.f_subscr_errors, *[(k,) for k in range(4)])
    add("unpack", T.f_unpack_errors, *[(s,) for s in
                                       [(1, 2), [1, 2], "ab", range(2), (1,), [1, 2, 3], 5]])
    add("strings", T.f_strings, ("bob", 42))
    add("globals", T.f_globals)
    add("name_error", T.f_name_error)
    add("closure", T.f_closure, (10,))
    add("unbound", T.f_unbound, (True,), (False,))
    add("attrs", T.f_attrs, (5,))
    add("attr_error", T.f_attr_error, (T.Point(1, 2),))
    add("calls", T.f_calls)
    add("call_errors", T.f_call_errors, *[(k,) for k in range(3)])
    add("exceptions", T.f_exceptions, (0,), (2,), ("s",))
    add("raise", T.f_raise_uncaught, *[(k,) for k in range(4)])
    add("exceptions_in_loop", T.f_exceptions_in_loop, (100,))
    add("with", T.f_with, (False, False), (True, True), (True, False))
    add("match", T.f_match, *[(v,) for v in
                              [0, [1, 2], {"k": 3}, T.Point(0, 1), "long", (1, 2, 3), 9.5]])
    add("match_errors", T.f_match_errors,
        (0, T.NoMatchArgs()), (1, T.BadMatchArgs()), (2, 5), (2, T.Point(1, 2)),
        (3, {"a": 1, "b": 2, "c": 3}), (3, collections.defaultdict(int, a=1)), (3, {"a": 2}))
    add("imports", T.f_imports)
    add("annotations", T.f_annotations)
    add("class_body", T.f_class_body, (3,))
    add("generator_user", T.f_generator_user, (10,))
    add("delete", T.f_delete, (1,))
    add("long_function", T.f_long_function, (50,))

    class Other(T.Plain):
        def m(self):
            return -self.v

    add("attr_polymorphic", T.f_attr_polymorphic,
        (lambda: [T.Plain(i) for i in range(5)],),
        (lambda: [T.Plain(1), Other(2), T.Plain(3), Other(4)] * 10,))
    add("attr_kinds", T.f_attr_kinds, (T.Slotted(), T.WithGetattr(), math))
    add("compare_branch", T.f_compare_branch, ([(1, 2), (3, 3), (5, 1)],),
        ([(1.5, 0.5), (2.0, 2.0)],), ([("a", "b"), ("b", "b")],),
        ([(T.Cmp(1), T.Cmp(2))],), ([(T.Cmp(1, fail=True), T.Cmp(2))],))

    covered = {w.fn.__name__ for w in W}
    missing = sorted(n for n in dir(T) if n.startswith("f_") and n not in covered)
    if missing:
        print(f"note: f_* functions of test_opcodes.py not covered here: {missing}",
              file=sys.stderr)
    return W


# Frame, call and code-lifetime workloads beyond single opcodes.

def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def _fresh_code(i):
    # A new code object per call: compiled, run, then freed with its code object.
    ns = {}
    exec(compile(f"def g(a):\n    return [a, {i}] * 3\n", "<fresh>", "exec"), ns)
    return ns["g"](i)


def _runtime_workloads(R, G) -> list:
    gens = [Workload(f"generators[{kind}]", G.drive, (kind,), target=G.squares
                     if kind in ("sum", "return", "frame", "yield_from") else
                     G.raiser if kind == "raise" else G.echo)
            for kind in ("sum", "return", "send", "close", "raise", "frame", "yield_from")]
    return gens + [
        Workload("py_calls_frames_tracebacks", R.caller_of_leaks),
        Workload("recursion_defaults", R.sum_to, (50,)),
        Workload("recursion_fib", _fib, (12,)),
        Workload("frame_escape", R.leak_frame),
        Workload("callee_introspection", R.introspected, (3,)),
        Workload("super_globals_locals", R.call_super),
        Workload("make_garbage", R.make_garbage, (100,)),
        Workload("fresh_code", _fresh_code, (7,)),
    ]


def _drive_async(A, coro_fn, *args):
    """A coroutine of tests/test_async.py driven to its end; its exception is part of the
    outcome (the error cases raise)."""
    try:
        return A.drive(coro_fn(*args))
    except Exception as exc:  # noqa: BLE001 - the error workloads raise on purpose
        return type(exc)


def _async_workloads(A) -> list:
    """Coroutines and async generators (created and resumed natively, runtime/ops_async.c
    and ops_gen.c), the error cases included."""
    cases = [("await", A.awaits_coroutines, (5,)), ("await_old_style", A.awaits_generator_based, (3,)),
             ("async_with", A.async_with, (False, False)),
             ("async_with_raise", A.async_with, (True, False)),
             ("async_with_suppress", A.async_with, (True, True)),
             ("async_for", A.async_for, (4, -1)), ("async_for_break", A.async_for, (4, 4)),
             ("agen_protocol", A.agen_protocol, ())]
    cases += [(f"errors[{k}]", A.errors, (k,)) for k in
              ("not_awaitable", "bad_await", "not_ctx", "not_aiterable", "bad_anext", "reused",
               "awaited_twice", "raised_in_anext")]
    return [Workload(f"async[{name}]", _drive_async, (A, fn) + args, target=fn)
            for name, fn, args in cases]


def _unittest_workloads(modules: list, skip: list) -> list:
    """One workload per test method of the given (regrtest) modules: the test run once per
    call, in a fresh TestResult. Used to tell a real leak from SKEW when regrtest -R reports
    references with the JIT on."""
    import unittest

    def flatten(suite):
        for t in suite:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t

    W = []
    for name in modules:
        mod = importlib.import_module(name)
        for t in flatten(unittest.defaultTestLoader.loadTestsFromModule(mod)):
            method = getattr(t, "_testMethodName", None)
            if method is None or method in skip:
                continue
            fn = getattr(type(t), method)
            if getattr(fn, "__unittest_skip__", False) or getattr(type(t), "__unittest_skip__",
                                                                  False):
                continue  # skipped by a decorator: it never runs, so it cannot be compiled
            W.append(Workload(t.id().removeprefix("test."), _run_test, (t,),
                              target=getattr(fn, "__wrapped__", fn)))
    return W


def _run_test(t):
    import unittest
    t.run(unittest.TestResult())


# Canaries for --selftest: each leaks on purpose, so each must be reported as LEAK.
_CANARY_REF_TARGET = ("canary", "reference")
_Py_IncRef = ctypes.pythonapi.Py_IncRef
_Py_IncRef.argtypes = [ctypes.py_object]
_Py_IncRef.restype = None


def _canary_leak_ref(x):
    _Py_IncRef(_CANARY_REF_TARGET)      # one reference to an existing object, never given back
    return x + 1


def _canary_leak_object(x):
    _Py_IncRef([x])                     # one new list, never freed
    return x + 1


def _canary_workloads() -> list:
    return [Workload("CANARY_leak_ref", _canary_leak_ref, (1,), canary=True),
            Workload("CANARY_leak_object", _canary_leak_object, (1,), canary=True)]


# ------------------------------------------------------------------ measure ---------------

def _measure(w: Workload, calls: int, warmups: int, runs: int, jit: bool,
             with_census: bool) -> dict:
    """Deltas per measured run of each counter. The workload (and _call_n around it) runs
    compiled when `jit`; the counters are always read with the JIT off, in the interpreter,
    so that the census and the clean-up are not themselves compiled code."""
    import overdrive

    nc = len(COUNTERS)
    vals = array.array("q", [0] * (nc * (runs + 1)))
    for i in range(warmups + runs + 1):
        if i:
            if jit:
                overdrive.enable(threshold=0)
            try:
                _call_n(w.fn, w.args, w.kwargs, calls)
            finally:
                overdrive.disable()
        if i >= warmups:
            _snapshot(vals, nc * (i - warmups), with_census)
    deltas = {}
    for k, name in enumerate(COUNTERS):
        if name == "census" and not with_census:
            continue
        deltas[name] = [vals[nc * (r + 1) + k] - vals[nc * r + k] for r in range(runs)]
    return deltas


def _every_run_grows(deltas) -> bool:
    return bool(deltas) and all(d >= 1 for d in deltas)


def _verdict(interp: dict, jit: dict) -> tuple:
    """(verdict, reasons)"""
    reasons = []
    for key in ("census", "blocks", "codemem"):
        if _every_run_grows(jit.get(key, [])):
            reasons.append(f"compiled: {key} grows every run {jit[key]}")
    for key in ("reftotal", "blocks"):
        if _every_run_grows(interp.get(key, [])):
            reasons.append(f"interpreted: {key} grows every run {interp[key]}")
    if reasons:
        return "LEAK", reasons
    rt = jit["reftotal"]
    if rt and all(d != 0 for d in rt) and (all(d > 0 for d in rt) or all(d < 0 for d in rt)):
        return "SKEW", [f"compiled: reftotal moves every run {rt} with census balanced "
                        f"{jit.get('census')}"]
    return "ok", []


def run(workloads: list, calls: int, warmups: int, runs: int, census: bool,
        log=sys.stdout) -> list:
    import overdrive

    results = []
    for w in workloads:
        t0 = time.monotonic()
        overdrive.disable()
        interp = _measure(w, calls, warmups, runs, jit=False, with_census=False)
        before = overdrive.info(w.target)
        jit = _measure(w, calls, warmups, runs, jit=True, with_census=census)
        after = overdrive.info(w.target)
        native = after["native_entries"] - before["native_entries"]
        compiled = bool(after["compiled"]) and native >= calls * (warmups + runs)
        verdict, reasons = _verdict(interp, jit)
        if not compiled:
            verdict = "NOT-COMPILED"
            reasons = [f"compiled={after['compiled']} why_not={after['why_not']!r} "
                       f"native_entries +{native} for {calls * (warmups + runs)} calls"]
        if w.canary:
            # A canary must be caught: in the compiled mode (census or blocks) and in the
            # interpreted one (reftotal or blocks).
            caught_jit = any(_every_run_grows(jit.get(k, [])) for k in ("census", "blocks"))
            caught_interp = any(_every_run_grows(interp[k]) for k in ("reftotal", "blocks"))
            verdict = "caught" if (caught_jit and caught_interp and compiled) else "MISSED"
        rec = {
            "workload": w.name,
            "function": w.target.__qualname__,
            "verdict": verdict,
            "reasons": reasons,
            "compiled": compiled,
            "native_entries": native,
            "calls_per_run": calls,
            "interpreted": interp,
            "compiled_deltas": jit,
            "reftotal_per_call": (sum(jit["reftotal"]) / (calls * runs)) if runs else 0.0,
            "seconds": round(time.monotonic() - t0, 2),
        }
        results.append(rec)
        print(_row(rec), file=log, flush=True)
    return results


def _fmt(ds) -> str:
    return "[" + ", ".join(str(d) for d in ds) + "]" if ds is not None else "-"


def _row(r: dict) -> str:
    j, i = r["compiled_deltas"], r["interpreted"]
    return (f"{r['workload']:<28} {r['verdict']:<12} "
            f"jit: reftotal={_fmt(j['reftotal'])} ({r['reftotal_per_call']:+.2f}/call) "
            f"census={_fmt(j.get('census'))} blocks={_fmt(j['blocks'])} "
            f"codemem={_fmt(j['codemem'])} | interp: reftotal={_fmt(i['reftotal'])} "
            f"blocks={_fmt(i['blocks'])}")


def markdown(results: list) -> str:
    """The results as a Markdown table (docs/debug-build.md)."""
    lines = ["| workload | verdict | compiled: reftotal per run | reftotal per call | census "
             "| blocks | codemem | interpreted: reftotal | blocks |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        j, i = r["compiled_deltas"], r["interpreted"]
        lines.append(f"| {r['workload']} | {r['verdict']} | {_fmt(j['reftotal'])} | "
                     f"{r['reftotal_per_call']:+.2f} | {_fmt(j.get('census'))} | "
                     f"{_fmt(j['blocks'])} | {_fmt(j['codemem'])} | {_fmt(i['reftotal'])} | "
                     f"{_fmt(i['blocks'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=None, help="calls per run (default 200)")
    ap.add_argument("--warmups", type=int, default=2, help="warm-up runs (default 2)")
    ap.add_argument("--runs", type=int, default=3, help="measured runs (default 3)")
    ap.add_argument("--only", nargs="*", help="workload names (or prefixes) to run")
    ap.add_argument("--no-census", action="store_true",
                    help="skip the object census (faster; compiled-mode reference leaks "
                         "are then seen only through blocks)")
    ap.add_argument("--selftest", action="store_true",
                    help="add canary workloads that leak on purpose; they must be caught")
    ap.add_argument("--allow-reftotal-skew", action="store_true",
                    help="do not fail on SKEW (sys.gettotalrefcount() not kept in step by "
                         "compiled code while the census shows balanced refcounts)")
    ap.add_argument("--unittest", nargs="+", metavar="MODULE",
                    help="instead of the built-in workloads, every test method of these "
                         "modules (e.g. test.test_exceptions), one run per call; calls "
                         "defaults to 1")
    ap.add_argument("--skip", nargs="*", default=[],
                    help="with --unittest: test method names to leave out")
    ap.add_argument("--tests-dir", default=DEFAULT_TESTS,
                    help="the project's tests/ (workloads are imported from it)")
    ap.add_argument("--json", help="write all results to this file")
    ap.add_argument("--markdown", help="write the results as a Markdown table to this file")
    args = ap.parse_args(argv)

    if not hasattr(sys, "gettotalrefcount"):
        print("refleaks.py needs a debug build of CPython (sys.gettotalrefcount); "
              f"this is {sys.executable}", file=sys.stderr)
        return 2
    try:
        import overdrive  # noqa: F401
    except ImportError as exc:
        print(f"overdrive is not importable from {sys.executable}: {exc}", file=sys.stderr)
        return 2

    if args.calls is None:
        args.calls = 1 if args.unittest else 200
    if args.unittest:
        workloads = _unittest_workloads(args.unittest, args.skip)
    else:
        sys.path.insert(0, args.tests_dir)
        T = importlib.import_module("test_opcodes")
        R = importlib.import_module("test_runtime")
        G = importlib.import_module("test_generators")
        A = importlib.import_module("test_async")
        workloads = _opcode_workloads(T) + _runtime_workloads(R, G) + _async_workloads(A)
    if args.selftest:
        workloads += _canary_workloads()
    if args.only:
        workloads = [w for w in workloads
                     if any(w.name == o or w.name.startswith(o) for o in args.only)]
        if not workloads:
            print(f"no workload matches {args.only}", file=sys.stderr)
            return 2

    print(f"# {sys.executable} {sys.version.split()[0]} Py_DEBUG; {len(workloads)} workloads; "
          f"{args.warmups} warm-up + {args.runs} measured runs of {args.calls} calls; "
          f"deltas are per run", flush=True)
    results = run(workloads, args.calls, args.warmups, args.runs, not args.no_census)

    counts = {}
    for r in results:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    bad = [r for r in results if r["verdict"] in ("LEAK", "NOT-COMPILED", "MISSED")
           or (r["verdict"] == "SKEW" and not args.allow_reftotal_skew)]
    print("# verdicts: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    for r in bad:
        print(f"# {r['verdict']}: {r['workload']} ({r['function']}): " + "; ".join(r["reasons"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": sys.version, "executable": sys.executable,
                       "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                       "calls": args.calls, "warmups": args.warmups, "runs": args.runs,
                       "results": results}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown(results) + "\n")
    print(f"refleaks: {len(results) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
