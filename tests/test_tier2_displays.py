"""Tier 2's helpers for displays and f-strings (rt/helpers.c): BUILD_SET, BUILD_MAP,
BUILD_CONST_KEY_MAP, BUILD_STRING, FORMAT_VALUE, LIST_EXTEND, SET_ADD, MAP_ADD. Functions
using each used to be refused by the lowering; each now runs at tier 2 (info(f)["tier"],
the frames counter) with the interpreter's results and exceptions."""
import types

import pytest

import overdrive

from conftest import allocated_blocks_growth


pytestmark = pytest.mark.usefixtures("tier2_threshold_restored")


def outcome(f, args):
    try:
        r = f(*args)
        return ("ok", r, list(r) if isinstance(r, (dict, set)) else None)  # order too
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))


def run_t2(f, *calls, compiled=None):
    overdrive.disable()
    expected = [outcome(f, a) for a in calls]
    overdrive.enable(threshold=0, tier2_threshold=1)
    try:
        for _ in range(10):     # compiled, and past the entry where CPython quickens it
            outcome(f, calls[0])
        frames = overdrive.stats()["tier2"]["frames"]
        got = [outcome(f, a) for a in calls]
        ran = overdrive.stats()["tier2"]["frames"] - frames
        info = overdrive.info(compiled or f)
    finally:
        overdrive.disable()
    assert info["tier"] == 2, info["tier2"]
    assert ran >= len(calls)
    assert got == expected
    return got


def a_set(a, b, c):
    return {a, b, c}


def a_map(a, b, c, d):
    return {a: b, c: d, a: d}


def a_const_key_map(a, b):
    return {"x": a, "y": b, 1: a}


def an_fstring(a, b, spec):
    return f"<{a}|{b!r}|{a!s:>6}|{b!a}|{a:{spec}}>"


def a_format(x, spec):
    return f"{x:{spec}}"


def an_unpacked_list(a, b):
    return [1, *a, 2, *b]


def an_unpacked_tuple(a, b):
    return (*a, *b)


def set_comprehension(xs):
    return {x * 2 for x in xs}


def dict_comprehension(xs):
    return {x: str(x) for x in xs}


def comprehension(f):
    """The comprehension's own code object (what the function calls through
    MAKE_FUNCTION) as a function of its iterator."""
    code = next(c for c in f.__code__.co_consts if isinstance(c, types.CodeType))
    return types.FunctionType(code, globals())


SETCOMP = comprehension(set_comprehension)
DICTCOMP = comprehension(dict_comprehension)


def call_setcomp(xs):
    return SETCOMP(iter(xs))


def call_dictcomp(xs):
    return DICTCOMP(iter(xs))


class BadHash:
    def __hash__(self):
        raise ValueError("no hash for you")


class Fmt:
    def __format__(self, spec):
        return "F" + spec

    def __repr__(self):
        return "Fmt()"


def test_set_display():
    run_t2(a_set, (1, 2, 3), (1, 1, "a"), (1, [2], 3), (BadHash(), 1, 2), ((1,), (1,), 2.5))


def test_map_displays():
    run_t2(a_map, (1, 2, 3, 4), ("k", 1, "k", 2), ([], 1, 2, 3), (1, 2, {}, 3), (BadHash(), 1, 2, 3))
    run_t2(a_const_key_map, (1, 2), ("a", None))


def test_fstrings_and_format_errors():
    run_t2(an_fstring, (1, "b", "03"), (2.5, None, ".2f"), ("\u00e9", "\u20ac", ">4"),
           (Fmt(), Fmt(), "spec"), (1, 2, "z"), ("s", 1, "d"), ([], 1, ""))
    run_t2(a_format, (3.14159, ".3"), (10, "x"), (10, "q"), ("s", "^9"), (None, "1"))


def test_list_extend():
    run_t2(an_unpacked_list, ([1, 2], (3,)), ("ab", range(3)), ([], {}), (1, [2]), ([1], None))
    run_t2(an_unpacked_tuple, ([1, 2], (3,)), ({"k": 1}, "xy"), (5, []))


def test_set_add_and_map_add_in_comprehensions():
    run_t2(call_setcomp, ([1, 2, 3, 2],), ("ab",), ([[1]],), compiled=SETCOMP)
    run_t2(call_dictcomp, ([3, 1, 3],), ([[1]],), ([BadHash()],), compiled=DICTCOMP)


def test_no_reference_leaks():
    cases = [(a_set, (1, 2, [3])), (a_map, (1, 2, 3, 4)), (a_map, ([], 1, 2, 3)),
             (a_const_key_map, (1, 2)), (an_fstring, (1, "b", "03")), (a_format, (1, "q")),
             (an_unpacked_list, ([1], None)), (an_unpacked_list, ([1], [2])),
             (call_setcomp, ([1, [2]],)), (call_dictcomp, ([1, 2],))]
    grown, tiers = allocated_blocks_growth(cases, threshold=0, tier2_threshold=1)
    assert grown < 200, grown
