"""First units shaped by what the specializing interpreter left in the code (emit.h
quickened_state): code compiled after the interpreter ran it (at its 201st call by
default) gets no out-of-line code for the operand kinds an instruction's specialized form
says it never met, and its instructions that never ran since the code was quickened get
their helper call in the 11-byte form. Each test proves the first unit took the hint
(info()['single_kind_sites'], info()['cold_sites'], a smaller unit than the same code
compiled before it ever ran), that the compiled code ran (native entries, no exits) and
that it gives the interpreter's results, exceptions and tracebacks also for the kinds and
paths it left to the helpers."""
import overdrive
import pytest
from conftest import (full_tier, outcome_with_traceback, run_in_unit, runs_tier1,
                      tier1_only_because, unexpected_exits)

pytestmark = [full_tier, tier1_only_because("first units and their helper calls")]

SOURCE = """
class P:
    def __init__(self):
        self.x = 3

class S:
    __slots__ = ("x",)
    def __init__(self):
        self.x = 4.5

def arith(a, b, o):
    if a < b:
        return a + b, o.x
    return a - b, o.x

def branch(a, flag):
    if flag:
        return a.y + 1
    return a
"""


def fresh() -> dict:
    ns: dict = {}
    exec(SOURCE, ns)
    return ns


def warmed() -> dict:
    """The functions after 30 interpreted calls (quickened at the 8th): `arith` only with
    ints and instances of P and, from its 8th call on, only through `a >= b`; `branch`
    never with `flag` true."""
    ns = fresh()
    overdrive.disable()
    for i in range(30):
        ns["arith"](i, 5, ns["P"]())
        ns["branch"](i, False)
    return ns


def run_compiled(fn, calls: list) -> list:
    """Outcomes of `calls` (argument tuples) interpreted and then in fn's tier-1 unit (the
    first one, not recompiled), which must run each of them with no exit."""
    got, after = run_in_unit(fn, calls)
    assert runs_tier1(fn)
    assert not after["recompiled"], after
    return got


def test_specialized_sites_leave_the_other_kinds_to_the_helper():
    ns, cold = warmed(), fresh()
    overdrive.compile(ns["arith"])
    overdrive.compile(cold["arith"])
    hinted, plain = overdrive.info(ns["arith"]), overdrive.info(cold["arith"])
    # a - b (BINARY_OP_SUBTRACT_INT), a < b (COMPARE_OP_INT_JUMP), the second o.x
    # (LOAD_ATTR_INSTANCE_VALUE): the interpreter specialized them.
    assert hinted["single_kind_sites"] == 3, hinted
    assert plain["single_kind_sites"] == 0 and plain["cold_sites"] == 0, plain
    assert hinted["code_size"] < plain["code_size"] * 0.75, (hinted, plain)
    P, S = ns["P"], ns["S"]
    got = run_compiled(ns["arith"], [(9, 5, P()), (9.5, 5, P()), (9, 2.5, S()), (7, 5.0, S()),
                                     (2**70, 3, P()), (9, 5, object())])
    assert got[1] == ("ok", (4.5, 3)) and got[3] == ("ok", (2.0, 4.5)), got
    assert got[-1][:2] == ("raise", AttributeError), got


def test_instructions_that_never_ran_get_the_short_helper_call():
    ns, cold = warmed(), fresh()
    overdrive.compile(ns["branch"])
    overdrive.compile(cold["branch"])
    hinted, plain = overdrive.info(ns["branch"]), overdrive.info(cold["branch"])
    assert hinted["cold_sites"] == 2, hinted      # a.y and + 1 never ran
    assert plain["cold_sites"] == 0, plain
    assert hinted["code_size"] < plain["code_size"] * 0.6, (hinted, plain)

    class Y:
        y = 41
    got = run_compiled(ns["branch"], [(Y(), True), (Y(), False), (object(), True), (None, True)])
    assert got[0] == ("ok", 42), got
    assert got[2][:2] == ("raise", AttributeError), got


def test_arith_taking_the_cold_branch_after_compiling():
    """The cold `a + b` and `o.x` of `arith` (never run since quickening) as the hot path."""
    ns = warmed()
    overdrive.compile(ns["arith"])
    assert overdrive.info(ns["arith"])["cold_sites"] == 2
    P = ns["P"]
    got = run_compiled(ns["arith"], [(1, 5, P()), (1.5, 5, P()), ("a", "b", P()), ([1], [2], P())])
    assert got[0] == ("ok", (6, 3)) and got[2] == ("ok", ("ab", 3)), got


def test_code_compiled_before_it_ran_is_not_hinted(jit):
    """threshold 0 (the tests, the regression gate): nothing quickened, every variant built."""
    ns = fresh()
    jit.run_both(ns["arith"], 1, 2.5, ns["S"]())
    info = overdrive.info(ns["arith"])
    assert info["single_kind_sites"] == 0 and info["cold_sites"] == 0, info


@pytest.mark.parametrize("calls", [201])
def test_default_policy_compiles_the_201st_call_with_the_hints(calls):
    ns = fresh()
    P = ns["P"]
    overdrive.enable(threshold=200)    # the default: code without a loop at its 201st call
    try:
        for i in range(calls):
            ns["arith"](i, 5, P())
    finally:
        overdrive.disable()
    info = overdrive.info(ns["arith"])
    assert info["compiled"] and info["native_entries"] == 1, info
    assert info["single_kind_sites"] == 3 and info["cold_sites"] == 2, info


MODULE_ATTR = """
import math

def circle(r):
    return math.pi * r * r
"""


def test_module_attribute_specialized_by_the_interpreter_is_the_helper_call():
    """LOAD_ATTR_MODULE (math.pi): the helper caches module attributes; the first unit
    calls it with no inline probe in front (info()['helper_only_sites'])."""
    ns: dict = {}
    exec(MODULE_ATTR, ns)
    overdrive.disable()
    for i in range(30):
        ns["circle"](i)
    overdrive.compile(ns["circle"])
    info = overdrive.info(ns["circle"])
    assert info["helper_only_sites"] == 1, info
    got = run_compiled(ns["circle"], [(2,), (1.5,), ("x",)])
    assert got[0][0] == "ok" and got[1][0] == "ok" and got[2][:2] == ("raise", TypeError), got


SUBSCR = """
def item(x, i):
    return x[i]
"""


def test_subscripts_follow_the_interpreters_form():
    """Warmed on lists: no out-of-line tuple read; warmed on dicts: no inline list/tuple
    path at all (the helper at once). Both still give every container's result."""
    def compiled_after(warm_args):
        ns: dict = {}
        exec(SUBSCR, ns)
        overdrive.disable()
        for _ in range(30):
            ns["item"](*warm_args)
        overdrive.compile(ns["item"])
        return ns["item"]
    on_lists, on_dicts = compiled_after(([1, 2], 1)), compiled_after(({"k": 1}, "k"))
    ns: dict = {}
    exec(SUBSCR, ns)
    overdrive.compile(ns["item"])
    plain = overdrive.info(ns["item"])
    lists, dicts = overdrive.info(on_lists), overdrive.info(on_dicts)
    assert lists["single_kind_sites"] == 1 and dicts["single_kind_sites"] == 0, (lists, dicts)
    assert dicts["code_size"] < lists["code_size"] < plain["code_size"], (dicts, lists, plain)
    calls = [([5, 6], 1), ((5, 6), 0), ({"k": 2}, "k"), ("ab", 1), ([1], 3), ({}, "x")]
    for fn in (on_lists, on_dicts):
        got = run_compiled(fn, calls)
        assert got[:4] == [("ok", 6), ("ok", 5), ("ok", 2), ("ok", "b")], got
        assert got[4][:2] == ("raise", IndexError) and got[5][:2] == ("raise", KeyError), got


CALLS = """
def helper(x):
    return x + 1

def calls(x):
    return len(x) + helper(len(x))
"""


def test_calls_of_c_functions_skip_the_direct_call_path():
    """PRECALL_NO_KW_LEN: no direct-call path for the two len() calls; helper() keeps it.
    Then `len` rebound to a Python function: the helper calls it."""
    ns: dict = {}
    exec(CALLS, ns)
    overdrive.disable()
    for _ in range(30):
        ns["calls"]("abc")
    overdrive.compile(ns["calls"])
    info = overdrive.info(ns["calls"])
    assert info["single_kind_sites"] == 3, info     # the two len() calls and the int +
    got = run_compiled(ns["calls"], [("abc",), ([1, 2],), (5,)])
    assert got[:2] == [("ok", 7), ("ok", 5)] and got[2][:2] == ("raise", TypeError), got
    ns["len"] = lambda x: 10
    got = run_compiled(ns["calls"], [("abc",)])
    assert got == [("ok", 21)], got


STRS = """
def build(n, piece):
    s = ""
    for i in range(n):
        s += piece
    return s

def join2(a, b):
    return a + b
"""


def test_str_concatenation_goes_to_the_helper_which_appends_in_place():
    """BINARY_OP_INPLACE_ADD_UNICODE / BINARY_OP_ADD_UNICODE: no numeric inline path; `s +=
    piece` still extends the string in place (linear, counted), and numbers still add."""
    ns: dict = {}
    exec(STRS, ns)
    overdrive.disable()
    for _ in range(30):
        ns["build"](3, "x")
        ns["join2"]("a", "b")
    plain: dict = {}
    exec(STRS, plain)
    for name in ("build", "join2"):
        overdrive.compile(ns[name])
        overdrive.compile(plain[name])
    # build: the += and range() (PRECALL_BUILTIN_CLASS); join2: the +
    assert overdrive.info(ns["build"])["single_kind_sites"] == 2
    assert overdrive.info(ns["join2"])["single_kind_sites"] == 1
    assert overdrive.info(ns["join2"])["code_size"] < overdrive.info(plain["join2"])["code_size"]
    before = overdrive.stats()["str_appends_in_place"]
    got = run_compiled(ns["build"], [(20000, "abc"), (3, 1)])
    assert got[0] == ("ok", "abc" * 20000) and got[1][:2] == ("raise", TypeError), got
    assert overdrive.stats()["str_appends_in_place"] - before >= 20000
    got = run_compiled(ns["join2"], [("p", "q"), (1, 2), (1.5, 2), ([1], [2]), (1, "a")])
    assert got[:4] == [("ok", "pq"), ("ok", 3), ("ok", 3.5), ("ok", [1, 2])], got
    assert got[4][:2] == ("raise", TypeError), got


CMP_SOURCE = """
def cmp_eq(a, b):
    if a == b:
        return "same"
    return "differ"

def cmp_lt(a, b):
    if a < b:
        return "less"
    return "not less"

def cmp_value(a, b):
    return a != b
"""


class Loud:
    """Compares by raising, so the helper's error path and traceback are exercised."""
    def __eq__(self, other):
        raise ValueError("eq")

    __ne__ = __lt__ = __eq__
    __hash__ = object.__hash__


def compare_calls() -> list:
    return [("ab", "ab"), ("ab", "ac"), (3, 3), (2, 5), (2.5, 2.5), (1, 1.0), (2**80, 2**80),
            ((1, 2), (1, 3)), (None, None), (Loud(), 1), ([], 1)]


def test_compares_of_strs_get_no_numeric_path():
    """COMPARE_OP_STR_JUMP (two strs) gets only the helper call: no int and float paths
    (~430 bytes) that would test two types on the way to it; ints, floats and errors still
    come out as the interpreter's. An adaptive COMPARE_OP whose specialization failed
    (tuples here, but also an int with a float) keeps them."""
    ns, cold = {}, {}
    exec(CMP_SOURCE, ns)
    exec(CMP_SOURCE, cold)
    overdrive.disable()
    for i in range(30):
        ns["cmp_eq"]("x%d" % (i % 3), "x1")
        ns["cmp_lt"]((i, 1), (3, 2))
    for name in ("cmp_eq", "cmp_lt"):
        overdrive.compile(ns[name])
        overdrive.compile(cold[name])
        hinted, plain = overdrive.info(ns[name]), overdrive.info(cold[name])
        if name == "cmp_lt":
            assert hinted["single_kind_sites"] == 0, hinted
            run_compiled(ns[name], compare_calls())
            continue
        assert hinted["single_kind_sites"] == 1, (name, hinted)
        assert plain["single_kind_sites"] == 0, (name, plain)
        assert hinted["code_size"] < plain["code_size"] - 300, (name, hinted, plain)
        got = run_compiled(ns[name], compare_calls())
        assert got[-2][:2] == ("raise", ValueError), got
        assert got[-1][:2] == (("ok", "differ") if name == "cmp_eq" else ("raise", TypeError)), got


def recompiled_after(fn, warm_calls) -> dict:
    """info(fn) after the warm-up calls ran from its first call compiled (threshold 0), past
    recompile_after (1,000 native entries): its recompiled unit's."""
    overdrive.enable(threshold=0)
    try:
        for args in warm_calls:
            fn(*args)
    finally:
        overdrive.disable()
    return overdrive.info(fn)


def outcomes_in_recompiled_unit(fn, info: dict, calls: list) -> list:
    """Outcomes of `calls` in fn's recompiled unit (whose info() is `info`), each of which
    must run there with no exit and give the interpreter's outcome."""
    expected = [outcome_with_traceback(fn, args, {}) for args in calls]
    overdrive.enable(threshold=10**6)
    try:
        got = [outcome_with_traceback(fn, args, {}) for args in calls]
    finally:
        overdrive.disable()
    after = overdrive.info(fn)
    assert after["native_entries"] - info["native_entries"] == len(expected), after
    assert not unexpected_exits(info, after), after["exits"]
    assert got == expected, got
    return got


def test_recompiled_compare_that_saw_only_strs_gets_no_numeric_path():
    """A recompiled unit's COMPARE_OP whose site only met strs (and never an inline hit)."""
    ns = {}
    exec(CMP_SOURCE, ns)
    fn = ns["cmp_value"]
    info = recompiled_after(fn, [("k%d" % (i % 4), "k2") for i in range(1100)])
    if not runs_tier1(fn):
        return
    assert info["recompiled"] and info["single_kind_sites"] == 1, info
    got = outcomes_in_recompiled_unit(fn, info, compare_calls())
    assert got[-2][:2] == ("raise", ValueError), got


GLOBAL_FIRST = """
def f(x):
    return len(x)
"""


def _global_site(fn):
    import _overdrive
    return next(r["cache"] for r in _overdrive._native_map(fn)["instructions"]
                if r["opname"] == "LOAD_GLOBAL")


def test_global_found_in_the_module_checks_only_the_globals_version():
    """A LOAD_GLOBAL the interpreter specialized as LOAD_GLOBAL_MODULE compares the
    globals' version alone (the builtins cannot change what the module's globals hold).
    When the name then comes from the builtins (the global deleted), the inline path must
    not take it: a later change of the builtins alone is seen."""
    import builtins
    ns: dict = {"__builtins__": dict(builtins.__dict__)}
    exec(GLOBAL_FIRST, ns)
    ns["len"] = lambda x: "module"
    overdrive.disable()
    for _ in range(30):
        assert ns["f"]([1]) == "module"
    overdrive.compile(ns["f"])
    assert _global_site(ns["f"])["globals_only"]
    f = ns["f"]
    got = [run_compiled(f, [([1, 2],)] * 3)]
    del ns["len"]
    ns["__builtins__"]["len"] = lambda x: "builtin 1"
    got.append(run_compiled(f, [([1, 2],)] * 3))
    ns["__builtins__"]["len"] = lambda x: "builtin 2"     # only the builtins change
    got.append(run_compiled(f, [([1, 2],)] * 3))
    ns["len"] = lambda x: "module again"
    got.append(run_compiled(f, [([1, 2],)] * 3))
    assert [g[0] for g in got] == [("ok", "module"), ("ok", "builtin 1"), ("ok", "builtin 2"),
                                   ("ok", "module again")], got
    site = _global_site(f)
    assert site["globals_only"] and site["hits"] >= 4, site   # hits inline again at the end


OP_SOURCE = """
def scale(a, b, table, key):
    return a * b, table[key]
"""


def operator_calls() -> list:
    from decimal import Decimal
    return [(Decimal("1.5"), Decimal("2"), {"k": 1}, "k"), (3, 4, [5, 6], 1),
            (2.5, 2.0, (7, 8), 0), (2**80, 3, {2: "two"}, 2), (Decimal("0.1"), 3, "xyz", 1),
            ("ab", 3, [1], -1), (None, 1, {}, "k"), (2, 2, {}, "missing"), ([1], 2, (1,), 5)]


def test_recompiled_operators_that_saw_other_types_get_no_inline_path():
    """A recompiled unit's BINARY_OP whose site only met Decimals (no inline hit in the first
    unit) calls its helper alone: the int and float paths would be tested and left at every
    execution (telco's loop). The subscript that only met dicts keeps its inline path (it
    lets the operands be borrowed). Every other pair still gives the interpreter's results,
    exceptions and tracebacks, through the helpers, in the unit, with no exit."""
    from decimal import Decimal
    ns: dict = {}
    exec(OP_SOURCE, ns)
    fn = ns["scale"]
    info = recompiled_after(fn, [(Decimal(i), Decimal("0.5"), {"a": i, "b": 2}, "ab"[i % 2])
                                 for i in range(1100)])
    if not runs_tier1(fn):
        return
    assert info["recompiled"] and info["single_kind_sites"] == 1, info
    # The same code recompiled after ints and lists keeps both inline paths.
    plain_ns: dict = {}
    exec(OP_SOURCE, plain_ns)
    plain_info = recompiled_after(plain_ns["scale"], [(i, 3, [i, 2], i % 2) for i in range(1100)])
    assert plain_info["recompiled"] and plain_info["single_kind_sites"] == 0, plain_info
    assert info["code_size"] < plain_info["code_size"] - 100, (info, plain_info)
    got = outcomes_in_recompiled_unit(fn, info, operator_calls())
    assert [g[0] for g in got[-3:]] == ["raise"] * 3, got
