"""Tier 2's ForIter on the builtin iterators that run no Python code: a loop over them does
not write its locals back before each step (od_t2_for_iter_sync, rt/helpers.c). enumerate
and zip count as such when the iterators they step do; a generator inside them still runs
Python code, which then sees the loop's locals as the interpreter shows them."""
import sys

import pytest

import overdrive
from conftest import allocated_blocks_growth, outcome


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def syncs():
    return overdrive.stats()["tier2"]["syncs"]


def run_t2(f, *calls):
    """Each call's outcome interpreted, then at tier 2 (asserting tier 2 ran it), and the
    write-backs od_t2_sync did during the compared tier-2 calls."""
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            outcome(f, calls[0])
        assert overdrive.info(f)["tier"] == 2, overdrive.info(f)
        before, s0 = overdrive.info(f)["native_entries"], syncs()
        got = []
        for a in calls:             # (not a comprehension: tier 2 would compile it)
            got.append(outcome(f, a))
        done = syncs() - s0
        ran = overdrive.info(f)["native_entries"] - before
    finally:
        overdrive.disable()
    assert ran == len(calls), ran
    assert got == expected
    return done


def dot_enumerate(u, v):
    s = 0.0
    for j, u_j in enumerate(u):
        s += u_j * v[j]
    return s


def dot_zip(u, v):
    s = 0.0
    for a, b in zip(u, v):
        s += a * b
    return s


def pairs_nested(u):
    out = 0
    for k, (i, x) in enumerate(zip(range(len(u)), u)):
        out += k * i + x
    return out


def over_dict_and_tuple(d, t):
    n = 0
    for k, (key, value) in enumerate(d.items()):
        n += k + value
    for i, x in enumerate(t):
        n += i * x
    return n


def test_enumerate_and_zip_over_plain_iterators_write_nothing_back():
    u = [0.5 * k for k in range(40)]
    v = [1.0 + k for k in range(40)]
    assert run_t2(dot_enumerate, (u, v), ([], []), ([1.5], [2.0]), (u, v[:3])) == 0
    assert run_t2(dot_zip, (u, v), ([], v), (u, [])) == 0
    assert run_t2(pairs_nested, ([3, 4, 5],), ([],), (list(range(50)),)) == 0
    assert run_t2(over_dict_and_tuple, ({"a": 1, "b": 2}, (4, 5, 6)), ({}, ())) == 0


def peeking_gen(xs):
    for x in xs:
        caller = sys._getframe(2)          # the frame of the loop below (enumerate between)
        yield (x, sorted((k, repr(v)) for k, v in caller.f_locals.items() if k != "seen"))


def loop_over_peeking(xs):
    total = 0.0
    seen = []
    for i, (x, their_view) in enumerate(peeking_gen(xs)):
        total += x * 1.5
        seen.append(their_view)
    return seen, total


def peeking_iter_zip(xs):
    seen = []
    acc = 0
    for a, (b, view) in zip(xs, peeking_gen(xs)):
        acc += a * b
        seen.append(view)
    return seen, acc


def test_a_generator_inside_enumerate_or_zip_sees_the_loop_locals():
    """next() of the generator runs Python code that reads the loop's frame: enumerate and
    zip over it are not plain, so the loop writes its locals (the unboxed accumulator
    boxed) back before each step, as before."""
    xs = [1.0, 2.5, -3.0, 4.0]
    assert run_t2(loop_over_peeking, (xs,), ([],), ([7.0],)) > 0
    assert run_t2(peeking_iter_zip, ([1, 2, 3],), ([],)) > 0


def test_exhausted_and_reused_iterators():
    def consume(it):
        n = 0
        for i, x in it:
            n += i * 10 + x
        return n
    e = enumerate([1, 2, 3])
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(3):
            consume(enumerate([5, 6]))
        assert overdrive.info(consume)["tier"] == 2
        first, again = consume(e), consume(e)      # the second finds it exhausted
        z = zip([1, 2], [3, 4, 5], strict=False)
        zipped = consume(z)
        strict = outcome(consume, (zip([1, 2], [3], strict=True),))
    finally:
        overdrive.disable()
    assert (first, again, zipped) == (36, 0, 37)
    assert strict == ("raise", ValueError, "zip() argument 2 is shorter than argument 1")


def test_no_reference_leaks():
    u = [0.25 * k for k in range(10)]
    growth, tiers = allocated_blocks_growth(
        [(dot_enumerate, (u, u)), (dot_zip, (u, u)), (pairs_nested, ([1, 2, 3],)),
         (loop_over_peeking, ([1.0, 2.0],))], threshold=0, tier2_threshold=1)
    assert 2 in tiers
    assert growth < 50, growth
