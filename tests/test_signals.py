"""Signals handled at the eval-breaker polls of compiled loops (backward jumps, after calls):
the Python handler runs and the loop goes on, or the exception it raises is caught by the
function's own handler, or leaves with the traceback the interpreter gives. A full unit's
poll stubs are descriptor stubs sharing one thunk (tier1/stub_thunk.c): these tests reach
both of its ends, the jump back into the loop and the unwind to a native handler."""
import signal
import traceback

import pytest

import overdrive
from conftest import code_calls, runs_tier1, unexpected_exits

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")


class Tick(Exception):
    pass


def count_ticks(ticks, n):
    i = 0
    while ticks[0] < n:          # the handler only counts: the loop goes on after each poll
        i += 1
    return ticks[0], i > 0


def catch_ticks(n, armed):
    caught = 0
    spins = 0
    while caught < n:
        try:
            armed[0] = True
            while True:          # the handler raises here; this function catches it
                spins += 1
        except Tick:
            armed[0] = False     # a tick between here and the try must not raise: the
            caught += 1          # outer loop's backward jump polls too, outside the try
    return caught, spins > 0


def helper(x):
    return x + 1


def tick_escapes():
    i = 0
    while True:
        i = helper(i)            # polled after the call and at the backward jump


def _with_timer(handler, fn, *args):
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.005, 0.005)
    overdrive.enable(threshold=0)
    try:
        return fn(*args)
    finally:
        # The timer first: a tick during disable() (Python code, slow on a loaded host)
        # raised out of this finally with the timer still running and the raising handler
        # still installed, which then fired at pytest's exit.
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        overdrive.disable()
        signal.signal(signal.SIGALRM, old)


def _ran_compiled(fn, before):
    after = overdrive.info(fn)
    assert after["compiled"] and after["native_entries"] > before["native_entries"]
    if runs_tier1(fn):
        assert not unexpected_exits(before, after), after["exits"]
    if runs_tier1(fn) and not after.get("compact"):
        assert code_calls(fn, "od_rt_stub"), "the poll stubs are not descriptor stubs"


def test_handler_that_returns_lets_the_loop_go_on():
    ticks = [0]

    def handler(signum, frame):
        ticks[0] += 1

    before = overdrive.info(count_ticks)
    assert _with_timer(handler, count_ticks, ticks, 3) == (3, True)
    _ran_compiled(count_ticks, before)


def test_exception_from_the_handler_is_caught_in_the_same_frame():
    # The handler raises only while the loop runs inside the try. A tick that came while
    # the except clause ran used to raise at the outer loop's poll, outside the try (in
    # the interpreter too): rare, but not in tier 2's stress mode on a loaded host, where
    # the exit to the interpreter and a compile can take longer than the 5 ms timer.
    armed = [False]

    def handler(signum, frame):
        if armed[0]:
            raise Tick

    before = overdrive.info(catch_ticks)
    assert _with_timer(handler, catch_ticks, 3, armed) == (3, True)
    _ran_compiled(catch_ticks, before)


def test_exception_from_the_handler_leaves_with_the_loops_traceback():
    def handler(signum, frame):
        raise Tick

    before = overdrive.info(tick_escapes)
    with pytest.raises(Tick) as ei:
        _with_timer(handler, tick_escapes)
    _ran_compiled(tick_escapes, before)
    frames = traceback.extract_tb(ei.value.__traceback__)
    names = [f.name for f in frames]
    assert "tick_escapes" in names
    # Raised in the handler, called from the loop: the loop's frame is at one of its lines
    # (the call's, or the `while`'s backward jump), as in the interpreter.
    loop = frames[names.index("tick_escapes")]
    first = tick_escapes.__code__.co_firstlineno
    assert loop.lineno in (first + 2, first + 3), loop
    assert frames[-1].name == "handler"
