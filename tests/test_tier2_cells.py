"""Tier 2's cells and closures (hir/build.c, rt/helpers.c): MAKE_CELL, COPY_FREE_VARS,
LOAD_CLOSURE, LOAD_DEREF, STORE_DEREF, DELETE_DEREF and MAKE_FUNCTION. Functions that
define closures, comprehensions, and closures themselves used to be refused; each now runs
at tier 2 (info()["tier"] of the function and of the inner code, the frames counter) with
the interpreter's results, exceptions and tracebacks."""
import sys
import types

import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome_with_traceback


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


outcome = outcome_with_traceback   # conftest: result or exception, with traceback


def inner_code(f, name):
    return next(c for c in f.__code__.co_consts
                if isinstance(c, types.CodeType) and c.co_name == name)


def run_t2(f, *calls, inner=()):
    """Each call interpreted, then at tier 2 (warmed up first). `inner`: names of code
    objects defined in f that must run at tier 2 too."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(10):     # compiled, and past the entry where CPython quickens it
            outcome(f, calls[0])
        frames = overdrive.stats()["tier2"]["frames"]
        got = [outcome(f, a) for a in calls]
        ran = overdrive.stats()["tier2"]["frames"] - frames
        info = overdrive.info(f)
        tiers = {n: overdrive.info(inner_code(f, n))["tier"] for n in inner}
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert tiers == {n: 2 for n in inner}
    assert ran >= len(calls)
    assert got == expected
    return info


# ---- closures reading and writing nonlocals ------------------------------------------

def counters(n):
    count = 0

    def inc(k=1):
        nonlocal count
        count += k
        return count

    def get():
        return count

    for i in range(n):
        inc(i)
    inc(k=100)
    return count, get(), inc.__closure__[0].cell_contents


def test_closures_read_and_write_nonlocals():
    run_t2(counters, (5,), (0,), (100,), inner=("inc", "get"))


def argument_cell(x, y):
    def add(z):
        return x + y + z

    x = x * 2       # an argument that is a cell: STORE_DEREF into its cell
    return add(1), add(x)


def test_an_argument_in_a_cell():
    run_t2(argument_cell, (1, 2), ("a", "b"), (1, "b"), inner=("add",))


# ---- comprehensions (separate code objects, called through MAKE_FUNCTION) --------------

def comprehensions(xs, k):
    squares = [x * x for x in xs]
    scaled = [x * k for x in xs]            # captures k: a closure
    table = {x: [y for y in range(x) if y % k] for x in xs}
    return squares, scaled, table, sum(x for x in xs if x > k)


def test_a_comprehension_inside_a_hot_function():
    run_t2(comprehensions, ([1, 2, 3, 4], 2), ([], 3), ([5, "a"], 2),
           inner=("<listcomp>", "<dictcomp>"))


# ---- a nested function capturing a loop variable ----------------------------------------

def loop_capture(n):
    late, early = [], []
    for i in range(n):
        late.append(lambda: i * 10)
        early.append(lambda i=i: i * 10)
    return [f() for f in late], [f() for f in early]


def test_a_nested_function_capturing_a_loop_variable():
    run_t2(loop_capture, (4,), (1,), inner=("<lambda>",))


def make_functions(a):
    def f(x, y=a, *, z=a + 1) -> int:
        return (x, y, z)

    return f(1), f(1, 2), f(1, z=3), f.__defaults__, f.__kwdefaults__, f.__annotations__


def test_make_function_with_defaults_kwdefaults_and_annotations():
    run_t2(make_functions, (5,), ("s",), ([1],))


# ---- unbound cells: the interpreter's messages -----------------------------------------

def free_before_assignment():
    def g():
        return y            # free variable, unbound when g runs

    r = g()
    y = 1
    return r


def cell_before_assignment():
    def g():
        return x

    print(x)                # the cell itself, read before it is bound
    x = 1
    return g


def deleted_twice(n):
    x = n

    def g():
        return x

    r = g()
    del x
    del x                   # already deleted: the interpreter raises
    return r


def deleted_free(n):
    x = n

    def g():
        return x

    del x
    return g()              # NameError from g's free variable


def test_unbound_free_and_cell_variables_raise_the_interpreters_errors():
    info = run_t2(free_before_assignment, ())
    run_t2(cell_before_assignment, ())
    run_t2(deleted_twice, (3,))
    run_t2(deleted_free, (3,), inner=("g",))
    assert info["tier2"]["exits"].get("ERROR", 0) > 0


# ---- deopt in a function with cells ------------------------------------------------------

def deopts_with_cells(a, b, n):
    total = 0

    def seen():
        return total, a

    for i in range(n):
        total = total + a * b        # speculated int: floats make the guard fail
    return seen(), total


def test_deopt_in_a_function_with_cells():
    overdrive.disable()
    # a cold copy: floats met by the interpreter in f itself would be misses of its
    # BINARY_OP_MULTIPLY_INT, and tier 2 would leave the site generic (no guard to fail)
    cold = types.FunctionType(deopts_with_cells.__code__.replace(), globals())
    expected = [outcome(cold, (2, 3, 5)), outcome(cold, (2.5, 3, 5))]
    overdrive.enable(threshold=0, tier2_threshold=30)
    try:
        for _ in range(40):
            deopts_with_cells(2, 3, 5)
        assert overdrive.info(deopts_with_cells)["tier"] == 2
        got = [outcome(deopts_with_cells, (2, 3, 5)), outcome(deopts_with_cells, (2.5, 3, 5))]
        exits = overdrive.info(deopts_with_cells)["tier2"]["exits"]
    finally:
        overdrive.disable()
    assert got == expected
    assert exits.get("GUARD_TYPE", 0) > 0, exits


# ---- what a callee sees of the frame ----------------------------------------------------

def caller_locals():
    return dict(sys._getframe(1).f_locals)


def shows_cells(n):
    x = n
    y = "free"

    def g():
        return x, y

    seen = [caller_locals()]
    x = n + 1
    seen.append(caller_locals())
    del y
    seen.append(caller_locals())
    return [{k: v for k, v in s.items() if k not in ("g", "seen")} for s in seen]


def test_f_locals_in_a_callee_shows_the_cells():
    run_t2(shows_cells, (1,), ("a",))


# ---- tracebacks through closures ---------------------------------------------------------

def raises_in_closure(d, k):
    def look():
        return d[k]

    return look() + 1


def test_exceptions_and_tracebacks_through_closures():
    run_t2(raises_in_closure, ({1: 2}, 1), ({}, 1), ({1: "s"}, 1), inner=("look",))


def test_no_reference_leaks():
    cases = [(counters, (5,)), (argument_cell, (1, 2)), (comprehensions, ([1, 2, 3], 2)),
             (loop_capture, (3,)), (make_functions, (1,)), (free_before_assignment, ()),
             (deleted_twice, (2,)), (deleted_free, (2,)), (deopts_with_cells, (1.5, 2, 3)), (shows_cells, (1,)),
             (raises_in_closure, ({}, 1))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert all(t == 2 for t in tiers), tiers
    assert grown < 200, grown


# ---- when a local's object dies -----------------------------------------------------------

class Sneaky:
    """Its finalizer records the frames on the stack when it runs."""
    seen = []

    def __del__(self):
        f, names = sys._getframe(1), []
        while f is not None:
            names.append(f.f_code.co_name)
            f = f.f_back
        Sneaky.seen.append(names)


def holds_sneaky(n):
    ref = Sneaky()      # noqa: F841 - dies with the frame
    x = n + 1
    return x


def test_a_locals_object_dies_after_the_frame_left_the_stack():
    # the interpreter releases locals in _PyFrame_Clear, after the frame is popped (CPython's
    # test_frame.test_sneaky_frame_object_teardown); tier 2's Return moves them into the frame
    run_t2(holds_sneaky, (1,), (2,))
    interpreted, compiled = Sneaky.seen[0], Sneaky.seen[-1]
    assert "holds_sneaky" not in interpreted
    assert compiled == interpreted


# ---- a cell read in line (LoadDeref as a load of the cell's ob_ref) -------------------------

def maybe_bound(flag, n):
    if flag:
        x = n

    def g():
        return x

    total = 0
    for i in range(3):
        total += x + i          # LOAD_DEREF: UnboundLocalError when flag is false
    return total, g()


def test_cell_reads_in_line_and_an_empty_cell_deopts():
    info = run_t2(maybe_bound, (True, 4), (True, 10), (False, 1), (True, 2))
    assert info["tier2"]["exits"].get("UNBOUND_LOCAL", 0) >= 1, info["tier2"]
    lir = overdrive.dis_text(maybe_bound, tier=2).split("--- LIR of")[1]
    assert "LoadField" in lir and "+16" in lir, lir
