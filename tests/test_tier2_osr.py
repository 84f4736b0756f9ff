"""Tier 2's on-stack replacement (tier2.c od_tier2_osr, hir/build.c enter_osr): a function
called once whose loop runs long enough leaves tier 1 at the loop header and continues in
tier 2's code for that loop. Each case is compared with the interpreter (results,
exceptions with their tracebacks' lines) and asserts the OSR entry happened
(info(f)["tier2"]["osr_entries"], stats()["tier2"]["osr_entries"]).

Tier 1 counts back edges only in units compiled while tier 2 is on: (tier2_threshold + 1)
* 64 of them (hook/hook.h od_osr_backedges), so with tier2_threshold=5 a loop of a few
thousand iterations enters tier 2 after 384 back edges, while one call stays below tier 2's
entry threshold."""
import contextlib
import sys
import types

import pytest

import overdrive

from conftest import allocated_blocks_growth, outcome_with_traceback

pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")

T2 = 5                          # tier2_threshold: one call stays in tier 1
N = 3000                        # iterations: well past (T2 + 1) * 64 back edges


outcome = outcome_with_traceback   # conftest: result or exception, with traceback


def fresh(f):
    """A copy of f with its own code object (the JIT's state is per code object)."""
    return types.FunctionType(f.__code__.replace(), f.__globals__, f.__name__,
                              f.__defaults__, f.__closure__)


def osr_entries():
    return overdrive.stats()["tier2"]["osr_entries"]


def run_once(f, *args, entries=1):
    """f(*args) interpreted, then one call of a fresh copy with tiers 1 and 2 on: the same
    outcome, and `entries` OSR entries made by that call. Returns (info of the copy, its
    outcome)."""
    overdrive.disable()
    expected = outcome(fresh(f), args)
    g = fresh(f)
    overdrive.enable(threshold=0, tier2_threshold=T2)
    try:
        before = osr_entries()
        got = outcome(g, args)
        made = osr_entries() - before
        info = overdrive.info(g)
    finally:
        overdrive.disable()
    assert got == expected
    assert made == entries, (made, info["tier2"])
    assert info["tier2"]["osr_entries"] == entries, info["tier2"]
    return info, got


# ---- loops -------------------------------------------------------------------------------

def while_loop(n):
    i = 0
    s = 0
    f = 0.0
    while i < n:
        s += i * 3
        f = f * 0.5 + i
        i += 1
    return s, f


def for_range(n):
    t = 0
    for i in range(n):
        t += i & 7
    return t


def for_list(xs):
    t = 0.0
    for x in xs:
        t += x * x
    return t


def nested(n):
    t = 0
    for i in range(n // 10):
        j = 0
        while j < 10:
            t += i * j
            j += 1
    return t


def nbody_like(pairs, n):
    # list subscripts of floats, ** with a constant exponent, unpacking in the for target
    for _ in range(n):
        for ([x1, y1], v1, m1), ([x2, y2], v2, m2) in pairs:
            dx = x1 - x2
            dy = y1 - y2
            mag = (dx * dx + dy * dy) ** (-1.5)
            v1[0] -= dx * m2 * mag
            v1[1] -= dy * m2 * mag
            v2[0] += dx * m1 * mag
            v2[1] += dy * m1 * mag
    return pairs[0][0][1], pairs[0][1][1], pairs[2][1][1]


def _bodies():
    a = ([0.0, 0.0], [0.0, 0.1], 1.0)
    b = ([1.0, 0.5], [0.2, 0.0], 0.5)
    c = ([-1.0, 2.0], [0.0, -0.3], 0.25)
    return [(a, b), (a, c), (b, c)]


def test_while_loop():
    info, _ = run_once(while_loop, N)
    assert info["tier"] == 2            # later calls enter the normal tier-2 unit
    assert info["tier2"]["osr_compiles"] == 1


def test_for_over_range():
    run_once(for_range, N)


def test_for_over_a_list_keeps_its_references():
    xs = [float(k) for k in range(N)]
    before = sys.getrefcount(xs), [sys.getrefcount(x) for x in xs[:5]]
    run_once(for_list, xs)
    assert (sys.getrefcount(xs), [sys.getrefcount(x) for x in xs[:5]]) == before


def test_nested_loops_enter_at_the_inner_header():
    run_once(nested, 10 * N)


def test_nbody_like_loop():
    # the lists are mutated: each side gets its own bodies
    overdrive.disable()
    expected = outcome(fresh(nbody_like), (_bodies(), N))
    g = fresh(nbody_like)
    overdrive.enable(threshold=0, tier2_threshold=T2)
    try:
        before = osr_entries()
        got = outcome(g, (_bodies(), N))
        made = osr_entries() - before
    finally:
        overdrive.disable()
    assert got == expected and made == 1


# ---- the frame's state at the header -------------------------------------------------------

def bound_late(n):
    i = 0
    while i < n:
        if i == n - 1:
            late = i * 2            # unbound at the OSR entry
        i += 1
    return late


def never_bound(n):
    i = 0
    while i < n:
        if i < 0:
            x = 1
        i += 1
    return x                        # UnboundLocalError, after the loop ran in tier 2


def test_local_unbound_at_the_header():
    run_once(bound_late, N)


def test_local_never_bound_raises_unbound_local_error():
    _, got = run_once(never_bound, N)
    assert got[0] == "raise" and got[1] is UnboundLocalError


def type_change(n):
    s = 0
    i = 0
    while i < n:
        s += i
        i += 1
        if i == n // 2:
            s = s + 0.5             # an int until now: tier 2's guard on s fails
    return s


def test_deopt_after_the_osr_entry():
    info, _ = run_once(type_change, N)
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) >= 1, info["tier2"]


def raises_in_loop(n):
    i = 0
    t = 0
    while i < n:
        t += 10 // (n - 100 - i)    # ZeroDivisionError at i == n - 100
        i += 1
    return t


def test_exception_in_osr_code_has_the_interpreters_traceback():
    _, got = run_once(raises_in_loop, N)
    assert got[0] == "raise" and got[1] is ZeroDivisionError
    assert got[3] == [("raises_in_loop", raises_in_loop.__code__.co_firstlineno + 4)]


# ---- handlers, cells, and what is not entered -------------------------------------------------------------------

def loop_in_try(n):
    t = 0
    try:
        for i in range(n):
            t += i
    except ValueError:
        t = -1
    return t


def loop_in_with(n):
    t = 0
    with contextlib.nullcontext():
        for i in range(n):
            t += i
    return t


def gen_loop(n):
    i = 0
    while i < n:
        i += 1
    yield i


def loop_raising_in_try(n):
    t = 0
    try:
        for i in range(n):
            t += i
            if i == n - 1:
                raise ValueError(t)
    except ValueError as e:
        t = -e.args[0]
    return t


def closure_loop(n):
    t = 0

    def add(i):
        nonlocal t
        t += i
    for i in range(n):
        add(i)
    return t


def test_loops_inside_try_or_with_and_with_cells_are_entered():
    # protected code compiles in tier 2 (the interpreter runs the handlers), and so do
    # functions with cells: their loops are entered at the header like any other
    for f in (loop_in_try, loop_in_with, loop_raising_in_try, closure_loop):
        info, got = run_once(f, N, entries=1)
        assert info["tier2"]["osr_compiles"] == 1, (f.__name__, info["tier2"])


def test_generators_do_not_count_back_edges():
    g = fresh(gen_loop)
    overdrive.enable(threshold=0, tier2_threshold=T2)
    try:
        before = osr_entries()
        assert list(g(N)) == [N]
        assert osr_entries() == before
        assert overdrive.info(g)["tier"] == 1
    finally:
        overdrive.disable()


def test_tier2_off_counts_nothing():
    g = fresh(while_loop)
    overdrive.enable(threshold=0, tier2_threshold=-1)
    try:
        before = osr_entries()
        assert g(N) == while_loop(N)
        info = overdrive.info(g)
        assert osr_entries() == before and info["tier"] == 1
        assert info["tier2"]["osr_compiles"] == 0
    finally:
        overdrive.disable()


def recursive(n, depth):
    t = 0
    i = 0
    while i < n:
        t += i
        i += 1
    if depth:
        t += recursive2(n, depth - 1)
    return t


def test_a_later_call_enters_the_normal_tier2_unit():
    global recursive2
    g = recursive2 = fresh(recursive)
    overdrive.disable()
    expected = g(N, 1)
    g = recursive2 = fresh(recursive)
    overdrive.enable(threshold=0, tier2_threshold=T2)
    try:
        before = osr_entries(), overdrive.stats()["tier2"]["frames"]
        assert g(N, 1) == expected
        after = osr_entries(), overdrive.stats()["tier2"]["frames"]
        info = overdrive.info(g)
    finally:
        overdrive.disable()
    # the first frame entered at the header; the recursive call (after it) entered the
    # normal tier-2 unit the OSR made (a tier-2 frame, no second OSR entry)
    assert after[0] - before[0] == 1 and after[1] - before[1] >= 1 and info["tier"] == 2
    assert info["tier2"]["osr_compiles"] == 1


# ---- reference counts --------------------------------------------------------------------

def holds_objects(xs, n):
    keep = (xs, n)                  # bound at the entry (guarded), released at the end
    it = 0
    for x in xs:
        it += x
    for i in range(n):
        it += i
    return it, len(keep)


def test_no_reference_leaks_across_osr_entries():
    # a fresh code object per call, so every call enters at the header (the units die with
    # their code objects)
    xs = list(range(500))

    def run(_):
        g = fresh(holds_objects)
        g(xs, N)

    grown, _ = allocated_blocks_growth([(run, (0,))], threshold=0, tier2_threshold=T2)
    assert grown < 100, grown
    before = osr_entries()
    overdrive.enable(threshold=0, tier2_threshold=T2)
    try:
        run(0)
    finally:
        overdrive.disable()
    assert osr_entries() - before >= 1


def two_frames(x, n, inner):
    acc = x                         # an int in the inner frame, a float in the outer one
    if inner:
        acc += two_frames2(1, n, False)
    i = 0
    while i < n:
        acc = acc * 1 + 1
        i += 1
    return acc


def test_entry_guard_fails_for_another_frames_types():
    # the inner frame enters first (its unit guards `acc` as an int at entry); the outer
    # frame, still in tier 1, enters the same OSR unit with a float: the guard sends it to
    # the interpreter at the loop header
    global two_frames2
    g = two_frames2 = fresh(two_frames)
    overdrive.disable()
    expected = outcome(g, (0.5, N, True))
    g = two_frames2 = fresh(two_frames)
    overdrive.enable(threshold=0, tier2_threshold=T2)
    try:
        before = osr_entries()
        got = outcome(g, (0.5, N, True))
        made = osr_entries() - before
        info = overdrive.info(g)
    finally:
        overdrive.disable()
    assert got == expected
    assert made == 2 and info["tier2"]["osr_compiles"] == 1, info["tier2"]
    assert info["tier2"]["exits"].get("GUARD_TYPE", 0) == 1, info["tier2"]
