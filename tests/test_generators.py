"""Generators run natively: each resume enters compiled code at the instruction after the
last yield. Compared with the interpreter: values, send/throw/close, return values,
exceptions and their tracebacks, frames seen from outside."""
import contextlib
import sys
import traceback

import pytest

import overdrive
from conftest import unexpected_exits


def squares(n):
    for i in range(n):
        yield i * i
    return "done"


def echo():
    received = []
    try:
        while True:
            try:
                x = yield len(received)
            except KeyError as e:
                received.append(("caught", str(e)))
                continue
            if x is None:
                break
            received.append(x)
    finally:
        received.append("finally")
    return received


def raiser(n):
    yield 1
    if n:
        raise ValueError("from generator")
    yield 2


def delegating(n):
    r = yield from squares(n)
    yield r


def drive(kind):
    if kind == "sum":
        return sum(squares(10)), list(x + 1 for x in range(5)), [y for y in squares(3)]
    if kind == "return":
        g = squares(2)
        out = [next(g), next(g)]
        try:
            next(g)
        except StopIteration as e:
            out.append(e.value)
        return out
    if kind == "send":
        g = echo()
        out = [next(g), g.send(10), g.send(20), g.throw(KeyError("k")), g.send(30)]
        try:
            g.send(None)
        except StopIteration as e:
            out.append(e.value)
        return out
    if kind == "close":
        g = echo()
        next(g)
        g.send(5)
        g.close()
        return g.gi_frame is None
    if kind == "raise":
        return list(raiser(1))
    if kind == "frame":
        g = squares(5)
        next(g)
        next(g)
        f = g.gi_frame
        return f.f_locals["i"], f.f_lineno, g.gi_running
    if kind == "yield_from":
        return list(delegating(4))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["sum", "return", "send", "close", "raise", "frame", "yield_from"])
def test_generators(jit, kind):
    for g in (squares, echo, raiser, delegating):
        overdrive.compile(g)
    before = overdrive.info(squares)["native_entries"] + overdrive.info(echo)["native_entries"] \
        + overdrive.info(raiser)["native_entries"]
    jit.run_both(drive, kind)
    after = overdrive.info(squares)["native_entries"] + overdrive.info(echo)["native_entries"] \
        + overdrive.info(raiser)["native_entries"]
    assert after > before, "generator resumes did not run compiled code"


def test_generator_resumes_are_native_without_exits():
    overdrive.compile(squares)
    base = overdrive.info(squares)
    overdrive.enable(threshold=0)
    try:
        assert sum(squares(100)) == sum(i * i for i in range(100))
    finally:
        overdrive.disable()
    info = overdrive.info(squares)
    # the creation (RETURN_GENERATOR), 100 resumes after a yield, the one that returns
    assert info["native_entries"] - base["native_entries"] == 102
    assert not unexpected_exits(base, info)


def test_generator_refcounts():
    sentinel = object()

    def holder(o, n):
        for _ in range(n):
            yield o

    overdrive.compile(holder)
    base = sys.getrefcount(sentinel)
    overdrive.enable(threshold=0)
    try:
        for _ in range(20):
            list(holder(sentinel, 5))
            g = holder(sentinel, 5)
            next(g)
            del g
    finally:
        overdrive.disable()
    assert sys.getrefcount(sentinel) == base


# ---- exceptions thrown into suspended generators (gen.throw, close, contextlib) --------

def catcher(log):
    for i in range(3):
        try:
            yield i
        except ValueError as e:
            log.append(("caught", str(e), i))
        finally:
            log.append(("finally", i))
    return "done"


def throw_workload(kind):
    log = []
    g = catcher(log)
    if kind == "fresh":                    # thrown before the first resume: no handler
        try:
            g.throw(KeyError("early"))
        except KeyError as e:
            log.append(("escaped", str(e)))
        return log
    log.append(next(g))
    if kind == "caught":                   # handled inside: the generator yields again
        log.append(g.throw(ValueError("boom")))
        log.append(g.throw(ValueError("again")))
    elif kind == "uncaught":               # no handler for it: the generator raises it
        try:
            g.throw(KeyError("k"))
        except KeyError as e:
            log.append(("escaped", str(e), [(f.name, f.lineno) for f in
                                            traceback.extract_tb(e.__traceback__)]))
    elif kind == "close":                  # GeneratorExit: finally runs, close() returns
        g.close()
    log.append(list(g))
    return log


def cm_workload(fail):
    @contextlib.contextmanager
    def managed(log):
        log.append("enter")
        try:
            yield log
        except ZeroDivisionError:
            log.append("handled")
        finally:
            log.append("exit")

    log = []
    with managed(log):
        if fail:
            1 / 0
    return log


@pytest.mark.parametrize("kind", ["fresh", "caught", "uncaught", "close"])
def test_throw_into_a_compiled_generator_unwinds_natively(jit, kind):
    overdrive.compile(catcher)
    overdrive.reset_stats()
    base = overdrive.info(catcher)["native_entries"]
    jit.run_both(throw_workload, kind)
    # Every throw entered the compiled generator: none was left to the interpreter.
    assert overdrive.stats()["interpreted_by_reason"].get("THROW", 0) == 0
    assert overdrive.info(catcher)["native_entries"] > base
    assert overdrive.info(catcher)["exits"].get("TRACING_THROW", 0) == 0


@pytest.mark.parametrize("fail", [False, True])
def test_contextmanager_exceptions_are_thrown_natively(jit, fail):
    overdrive.reset_stats()
    jit.run_both(cm_workload, fail)
    assert overdrive.stats()["interpreted_by_reason"].get("THROW", 0) == 0


def _traced_throw():
    events = []
    g = catcher([])
    next(g)
    def tracer(frame, event, arg):
        if frame.f_code is catcher.__code__:
            events.append((event, frame.f_lineno))
            return tracer
        return None

    sys.settrace(tracer)
    try:
        g.throw(ValueError("traced"))
    finally:
        sys.settrace(None)
    return events


def test_throw_while_tracing_goes_to_the_interpreter():
    """A tracer wants the call/exception/line events of the throw: the interpreter runs it."""
    overdrive.compile(catcher)
    expected = _traced_throw()
    overdrive.reset_stats()
    overdrive.enable(threshold=0)
    try:
        got = _traced_throw()
    finally:
        overdrive.disable()
    assert got == expected and "exception" in [event for event, _ in got], got
    assert overdrive.stats()["interpreted_by_reason"].get("THROW", 0) == 1
