"""Tier 2 and exception handlers (hir/build.c): functions with try/except/finally and with
compile; the handler code is left out of tier 2 (issue 15: "exceptions may simply
deoptimize"): an exception raised in a protected range is an ERROR exit at the raising
instruction, and the interpreter's unwinder runs the handler. BEFORE_WITH is a helper.
Each case runs at tier 2 (info()["tier"], the frames counter, ERROR exits where an
exception was caught) with the interpreter's results, side effects, tracebacks and line
numbers."""
import sys

import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome_with_traceback


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


outcome = outcome_with_traceback   # conftest: result or exception, with traceback


def run_t2(f, *calls):
    """Each call interpreted, then at tier 2 (warmed up on the first call's arguments).
    Returns the ERROR exits the tier-2 calls took."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(10):     # compiled, and past the entry where CPython quickens it
            outcome(f, calls[0])
        frames = overdrive.stats()["tier2"]["frames"]
        errors = overdrive.info(f)["tier2"]["exits"].get("ERROR", 0)
        got = [outcome(f, a) for a in calls]
        ran = overdrive.stats()["tier2"]["frames"] - frames
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert ran >= len(calls)
    assert got == expected
    return info["tier2"]["exits"].get("ERROR", 0) - errors


def lookup(d, keys):
    total = 0
    for k in keys:
        try:
            total += d[k]
        except KeyError:
            total -= 1
        except TypeError as e:
            return ("type", str(e), total)
    return total


def test_exception_in_try_body_caught():
    d = {1: 10, 2: 20}
    assert run_t2(lookup, (d, [1, 2]), (d, [1, 3, 2, 4]), (d, [1, [], 2])) == 2     # the rest of a frame that caught one runs interpreted


def divide(x, log):
    try:
        log.append("try")
        return 100 // x
    finally:
        log.append(("finally", x))


def test_finally_runs():
    log_t1, log_t2 = [], []
    overdrive.disable()
    expected = [outcome(divide, (x, log_t1)) for x in (5, 0, 7)]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(10):
            divide(1, [])
        got = [outcome(divide, (x, log_t2)) for x in (5, 0, 7)]
        info = overdrive.info(divide)
    finally:
        overdrive.disable()
    assert info["tier"] == 2
    assert got == expected and log_t2 == log_t1


class Manager:
    def __init__(self, log, suppress=()):
        self.log, self.suppress = log, suppress

    def __enter__(self):
        self.log.append("enter")
        return self

    def __exit__(self, tp, val, tb):
        self.log.append(("exit", tp and tp.__name__))
        return tp is not None and issubclass(tp, self.suppress)


def with_statement(x, log, suppress):
    with Manager(log, suppress) as m:
        log.append(m is not None)
        if x == "return":
            return "early"
        log.append(10 // x)
    log.append("after")
    return "done"


def test_with_exit_runs_and_suppresses():
    for suppress in ((), (ZeroDivisionError,)):
        log_t1, log_t2 = [], []
        overdrive.disable()
        expected = [outcome(with_statement, (x, log_t1, suppress)) for x in (2, 0, "return", 5)]
        overdrive.enable(threshold=0, tier2_threshold=1)
        try:
            for _ in range(10):
                with_statement(1, [], ())
            got = [outcome(with_statement, (x, log_t2, suppress)) for x in (2, 0, "return", 5)]
            info = overdrive.info(with_statement)
        finally:
            overdrive.disable()
        assert info["tier"] == 2
        assert got == expected and log_t2 == log_t1


class NoEnter:
    def __exit__(self, *a):
        return False


class NoExit:
    def __enter__(self):
        return self


class EnterRaises:
    def __enter__(self):
        raise RuntimeError("enter failed")

    def __exit__(self, *a):
        return False


def with_any(m, n):
    out = 0
    with m:
        out += n
    return out


def test_before_with_errors_are_the_interpreters():
    run_t2(with_any, (Manager([]), 1), (NoEnter(), 1), (NoExit(), 1), (EnterRaises(), 1),
           (Manager([]), "a"))


def nested(a, b):
    try:
        try:
            return divmod(a, b)     # raises from a helper call (int / int is unboxed now:
                                    # its zero divisor an exit, not an ERROR)
        except ZeroDivisionError:
            raise ValueError("zero")
        finally:
            a = -1
    except ValueError as e:
        return str(e), a


def uncaught(x):
    try:
        y = x + 1
    finally:
        x = None
    return helper(y)


def helper(y):
    return [1, 2][y]


def test_tracebacks_and_line_numbers():
    assert run_t2(nested, (1, 2), (1, 0), ("a", 1)) >= 2
    run_t2(uncaught, (0,), (5,), ("s",))


def exc_info_in_handler(xs):
    seen = []
    for x in xs:
        try:
            seen.append(int(x))
        except ValueError:
            tp, val, _ = sys.exc_info()
            seen.append((tp.__name__, str(val)))
    seen.append(sys.exc_info())
    return seen


def test_exc_info_inside_the_handler():
    assert run_t2(exc_info_in_handler, (["1", "x", "3"],), (["y"],)) == 2


class Sink:
    def append(self, x):
        pass


def test_no_reference_leaks():
    d, log = {1: 1}, Sink()
    cases = [(lookup, (d, [1, 2, []])), (divide, (0, log)), (divide, (1, log)),
             (with_statement, (0, log, ())), (with_statement, (0, log, (ZeroDivisionError,))),
             (with_any, (NoExit(), 1)), (with_any, (EnterRaises(), 1)), (nested, (1, 0)),
             (uncaught, (5,)), (exc_info_in_handler, (["1", "x"],))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert grown < 300, grown
