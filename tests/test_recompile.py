"""Recompilation with feedback: after config recompile_after native entries a unit is
compiled once more from what its sites recorded. The new code must behave exactly as the old, for
frames that start in it, for frames still running the old unit (recursion, generators
suspended in it), for sites that never ran before and for types a site had not seen."""
import os
import sys

import overdrive
import pytest
from conftest import tier1_only_because

RECOMPILE_AFTER = 300


@pytest.fixture(autouse=True)
def _recompile_after():
    assert overdrive.config()["recompile_after"] == 1000   # the default
    overdrive.config(recompile_after=RECOMPILE_AFTER)
    yield
    overdrive.config(recompile_after=1000)


def _fresh(src, name):
    ns = {}
    exec(src, ns)
    return ns[name]


ARITH = """
class P:
    def __init__(self, x):
        self.x = x

def arith(p, q, flag):
    t = p.x * q.x + 1
    if flag:                      # never taken before the recompilation
        t = t + [p.x, q.x][1] - p.x / 3
    return t, p.x < q.x
"""


def _run_compiled(fn, calls):
    overdrive.enable(threshold=0)
    try:
        return [fn(*args) for args in calls]
    finally:
        overdrive.disable()


@tier1_only_because("recompilation with feedback")
def test_hot_function_is_recompiled_once_and_keeps_its_results():
    arith = _fresh(ARITH, "arith")
    P = arith.__globals__["P"]
    ints = [(P(i), P(i + 1), False) for i in range(RECOMPILE_AFTER + 10)]
    expected = [arith(*a) for a in ints]
    before = overdrive.stats()["functions_recompiled"]
    assert _run_compiled(arith, ints) == expected
    info = overdrive.info(arith)
    assert info["compiled"] and info["recompiled"], info
    assert info["native_entries"] == len(ints)          # counts carry over to the new unit
    assert overdrive.stats()["functions_recompiled"] == before + 1
    # The recompiled unit expects ints; floats, the never-taken branch (its sites had no
    # fast path compiled) and a list subscript all still give the interpreter's results.
    other = [(P(1.5), P(2.25), True), (P(3), P(4), True), (P(2**70), P(-3), True),
             (P(1), P(2.5), False)]
    expected = [arith(*a) for a in other]
    assert _run_compiled(arith, other) == expected
    info = overdrive.info(arith)
    assert info["native_entries"] == len(ints) + len(other)
    assert not info["exits"], info["exits"]
    # Only once.
    _run_compiled(arith, ints[:RECOMPILE_AFTER + 5])
    assert overdrive.stats()["functions_recompiled"] == before + 1


RECURSIVE = """
def depth(n, acc):
    if n == 0:
        return acc
    return depth(n - 1, acc + n % 7) + 1
"""


@tier1_only_because("recompilation with feedback (frames left in the first unit)")
def test_frames_running_the_first_unit_finish_in_it():
    # The recompilation happens in a nested call while the outer frames are still running
    # the first unit's code: they return through it, with the right results.
    depth = _fresh(RECURSIVE, "depth")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(RECOMPILE_AFTER * 3)
    try:
        expected = depth(RECOMPILE_AFTER + 200, 0)
        overdrive.enable(threshold=0)
        try:
            got = depth(RECOMPILE_AFTER + 200, 0)
        finally:
            overdrive.disable()
    finally:
        sys.setrecursionlimit(limit)
    assert got == expected
    assert overdrive.info(depth)["recompiled"]


GEN = """
def counter(n):
    total = 0
    for i in range(n):
        total += i
        yield total
"""


def test_generator_suspended_in_the_first_unit_resumes_in_the_new_one():
    counter = _fresh(GEN, "counter")
    gen_stock = counter(RECOMPILE_AFTER * 3)
    expected = list(gen_stock)
    overdrive.enable(threshold=0)
    try:
        g = counter(RECOMPILE_AFTER * 3)
        first = [next(g) for _ in range(5)]       # suspended in the first unit
        # Other generators of the same code drive its entry count past the threshold.
        for _ in range(RECOMPILE_AFTER + 5):
            list(counter(2))
        rest = list(g)
    finally:
        overdrive.disable()
    assert first + rest == expected
    assert overdrive.info(counter)["recompiled"]


@tier1_only_because("recompilation with feedback (the recompiled unit's unwinding)")
def test_recompiled_code_raises_with_the_same_traceback():
    src = """
def f(o):
    return o.missing + 1
class A:
    def __init__(self): self.missing = 1
"""
    f = _fresh(src, "f")
    A = f.__globals__["A"]
    _run_compiled(f, [(A(),)] * (RECOMPILE_AFTER + 2))
    assert overdrive.info(f)["recompiled"]
    overdrive.enable(threshold=0)
    try:
        with pytest.raises(AttributeError) as err:
            f(object())
    finally:
        overdrive.disable()
    tb = err.value.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    assert tb.tb_frame.f_code is f.__code__ and tb.tb_lineno == 3


def test_recompile_after_zero_never_recompiles_and_bad_values_are_refused():
    overdrive.config(recompile_after=0)
    arith = _fresh(ARITH, "arith")
    P = arith.__globals__["P"]
    _run_compiled(arith, [(P(1), P(2), False)] * (RECOMPILE_AFTER + 10))
    info = overdrive.info(arith)
    assert info["compiled"] and not info["recompiled"]
    with pytest.raises(TypeError, match="recompile_after"):
        overdrive.config(recompile_after=1.5)
    with pytest.raises(TypeError, match="recompile_after"):
        overdrive.config(recompile_after=True)
    with pytest.raises(ValueError, match="an int from 0 to "):
        overdrive.config(recompile_after=-1)
    assert overdrive.config()["recompile_after"] == 0   # a refused value changes nothing


@tier1_only_because("recompilation with feedback (both units' code freed)")
def test_code_of_both_units_is_freed_with_the_function():
    import gc
    import _overdrive
    gc.collect()
    before = _overdrive.stats()["code_memory_in_use"]
    arith = _fresh(ARITH, "arith")
    P = arith.__globals__["P"]
    _run_compiled(arith, [(P(1), P(2), False)] * (RECOMPILE_AFTER + 10))
    assert overdrive.info(arith)["recompiled"]
    assert _overdrive.stats()["code_memory_in_use"] > before
    del arith, P
    gc.collect()
    assert _overdrive.stats()["code_memory_in_use"] == before




MIXED = """
def mix(a, b):
    return a * b + 1.0, a < b
"""


def _op_counts(fn):
    """(inline hits, helper calls) summed over fn's operator sites."""
    import _overdrive
    sites = [r["cache"] for r in _overdrive._native_map(fn)["instructions"]
             if (r.get("cache") or {}).get("kind") == "op"]
    return sum(s["inline"] for s in sites), sum(s["fast"] + s["slow"] for s in sites)


@pytest.mark.skipif(os.environ.get("OVERDRIVE_COMPACT") == "all",
                    reason="inline paths of full units")
@tier1_only_because("recompilation with feedback (per-site operand code)")
def test_recompiled_unit_keeps_mixed_operand_code_only_where_the_sites_saw_it():
    # A recompiled unit carries the out-of-line int-and-float code only at sites whose
    # operands were last seen mixed: the unit fed only floats is smaller, and mixed
    # operands then go through the helper, with the interpreter's results; the unit fed
    # int * float keeps doing them inline.
    floats = _fresh(MIXED, "mix")
    mixed = _fresh(MIXED, "mix")
    overdrive.config(recompile_after=5)
    _run_compiled(floats, [(1.5, 2.5)] * 10)
    _run_compiled(mixed, [(3, 2.5)] * 10)
    assert overdrive.info(floats)["recompiled"] and overdrive.info(mixed)["recompiled"]
    assert overdrive.info(floats)["code_size"] < overdrive.info(mixed)["code_size"]
    calls = [(3, 2.5), (2.5, 3)]
    expected = [floats(*a) for a in calls]
    for fn in (floats, mixed):
        helper0 = _op_counts(fn)[1]
        assert _run_compiled(fn, calls) == expected
        helper1 = _op_counts(fn)[1]
        # (A recompiled unit does not count its inline hits: the helper's count tells.)
        if fn is floats:
            assert helper1 >= helper0 + 2, (helper0, helper1)   # no mixed code: the helper
        else:
            assert helper1 == helper0, (helper0, helper1)       # done inline


CHARS = """
def char_at(s, i):
    return s[i]
"""


@pytest.mark.skipif(os.environ.get("OVERDRIVE_COMPACT") == "all",
                    reason="inline paths of full units")
@tier1_only_because("recompilation with feedback (per-site operand code)")
def test_a_subscript_site_that_recorded_a_str_reads_ascii_characters_in_line():
    # fast_subscr.c load_ascii_char: a recompiled unit whose subscript site recorded a str
    # takes a compact ASCII str's character in the compiled code (the helper's count stays);
    # everything else goes to the helper, with the interpreter's results and errors.
    class S(str):
        pass
    fn = _fresh(CHARS, "char_at")
    overdrive.config(recompile_after=5)
    _run_compiled(fn, [("abc", 1)] * 10)
    assert overdrive.info(fn)["recompiled"]
    helper0 = _op_counts(fn)[1]
    ascii_calls = [("abc", 0), ("abc", 2), ("x" * 300, 299), ("a\x7f", 1), ("abc", -1),
                   ("abc", -3)]
    assert _run_compiled(fn, ascii_calls) == [fn(*a) for a in ascii_calls]
    assert _op_counts(fn)[1] == helper0                 # done in line
    others = [("h\xe9", 1), ("\u65e5\u672c", 1), ("abc", -4), ("abc", True), (S("xy"), 1),
              (["l", "m"], 1), (("t",), 0), ({0: "d"}, 0), ("abc", 3), ("abc", 2**40),
              ("abc", 1.0), ("", 0)]
    expected = []
    for a in others:
        try:
            expected.append(fn(*a))
        except (IndexError, TypeError) as e:
            expected.append(repr(e))
    got = []
    overdrive.enable(threshold=0)
    try:
        for a in others:
            try:
                got.append(fn(*a))
            except (IndexError, TypeError) as e:
                got.append(repr(e))
    finally:
        overdrive.disable()
    assert got == expected
    assert _op_counts(fn)[1] == helper0 + len(others)   # each one through the helper
    assert not {k for k in overdrive.info(fn)["exits"] if k != "WARMUP"}


COLD = """
class P:
    def __init__(self, x):
        self.x = x

def cold(p, flag):
    t = p.x + 1
    if flag:                      # never taken before the recompilation: its sites
        try:                      # go through the compact thunk (tier1/compact.c)
            t = t + p.missing
        except AttributeError:
            t = t * 2
        t = t + p.y
    return t
"""


@tier1_only_because("recompiled units' never-run sites (the compact thunk's form)")
def test_sites_that_never_ran_keep_errors_and_tracebacks():
    from conftest import code_calls
    cold = _fresh(COLD, "cold")
    P = cold.__globals__["P"]
    warm = [(P(i), False) for i in range(RECOMPILE_AFTER + 10)]
    assert _run_compiled(cold, warm) == [cold(*a) for a in warm]
    assert overdrive.info(cold)["recompiled"]
    assert code_calls(cold, "od_rt_compact_op")
    p = P(5)
    p.y = 10
    assert _run_compiled(cold, [(p, True)]) == [22]
    overdrive.enable(threshold=0)
    try:
        with pytest.raises(AttributeError) as ei:
            cold(P(5), True)                          # no .y: raised at the cold site
    finally:
        overdrive.disable()
    tb = ei.value.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    assert tb.tb_frame.f_code is cold.__code__
    assert tb.tb_lineno == cold.__code__.co_firstlineno + 7
    exits = overdrive.info(cold)["exits"]
    assert not {k for k in exits if k != "WARMUP"}, exits


HELPER_KINDS = """
import math

class Q:
    def __init__(self, v):
        self.v = v

    @property
    def twice(self):
        return 2 * self.v

def reads(q):
    return q.twice + math.pi, q.v
"""


@pytest.mark.skipif(os.environ.get("OVERDRIVE_COMPACT") == "all",
                    reason="inline paths of full units")
@tier1_only_because("recompilation with feedback (attribute sites)")
def test_recompiled_attribute_sites_that_only_met_helper_kinds_are_the_helper_call():
    # q.twice (a property) and math.pi (a module attribute) are cached by the helper, not
    # by an inline path: the recompiled unit calls their helper with no probe in front;
    # q.v (an inline value) keeps its inline path. Results, including a receiver of
    # another kind and a missing attribute, stay the interpreter's.
    reads = _fresh(HELPER_KINDS, "reads")
    Q = reads.__globals__["Q"]
    overdrive.config(recompile_after=5)
    _run_compiled(reads, [(Q(i),) for i in range(10)])
    info = overdrive.info(reads)
    assert info["recompiled"] and info["helper_only_sites"] == 2, info
    import _overdrive
    math_site = next(r["cache"] for r in _overdrive._native_map(reads)["instructions"]
                     if r["opname"] == "LOAD_GLOBAL")
    assert math_site["globals_only"], math_site      # found in the module: no builtins check

    class R:
        twice = 7.0
        v = "r"
    calls = [(Q(3),), (R(),), (Q(2.5),)]
    expected = [reads(*a) for a in calls]
    before = overdrive.info(reads)
    assert _run_compiled(reads, calls) == expected
    info = overdrive.info(reads)
    assert info["native_entries"] == before["native_entries"] + len(calls), info
    assert info["exits"] == before["exits"], info      # no exit from the recompiled unit
    with pytest.raises(AttributeError, match="twice"):
        _run_compiled(reads, [(object(),)])


LOOPS = """
def phases(n, out):
    for i in range(n):                # the first call runs the first unit here...
        out.append(i * 2)
    total = 0.0
    for x in out:                     # ...and these sites had not run when it moved over
        total += x / 2
    return total

def gen_loop(n):
    total = 0
    for i in range(n):                # one resumption runs the whole loop
        total += i * 2
    yield total
"""


@tier1_only_because("the loop upgrade is tier 1's; with tier 2 on the counter leads to OSR")
def test_long_loop_in_a_first_call_moves_to_a_recompiled_unit_at_its_header():
    # hook/codestate.c OD_LOOP_UPGRADE_BACKEDGES: code compiled before the interpreter
    # quickened it (a loop at its first call) has no feedback; its back edges count down,
    # and the frame moves over to a unit compiled from what its sites saw, at the header.
    phases = _fresh(LOOPS, "phases")
    gen_loop = _fresh(LOOPS, "gen_loop")
    expected_out = []
    overdrive.disable()
    expected = _fresh(LOOPS, "phases")(5000, expected_out)
    expected_gen = list(_fresh(LOOPS, "gen_loop")(5000))
    before = overdrive.stats()
    out = []
    overdrive.enable(threshold=200)
    try:
        got = phases(5000, out)
        got_gen = list(gen_loop(5000))
    finally:
        overdrive.disable()
    after = overdrive.stats()
    info = overdrive.info(phases)
    # Each side effect once: the frame continues where it left, it does not start over.
    assert got == expected and out == expected_out and got_gen == expected_gen
    assert info["compiled"] and info["recompiled"] and info["tier"] == 1
    # One frame (moving over is not another entry), no exit to the interpreter.
    assert info["native_entries"] == 1 and set(info["exits"]) <= {"WARMUP"}, info
    # The second loop's sites had not run when the unit was recompiled mid-call: they are
    # not cold (a recompiled unit gives a site that never ran in its calls only a helper call).
    assert info["cold_sites"] == 0, info
    assert after["functions_recompiled"] - before["functions_recompiled"] == 1
    # A generator's frame cannot move to another unit at a loop header: not upgraded.
    assert not overdrive.info(gen_loop)["recompiled"]


@tier1_only_because("the loop upgrade is tier 1's; with tier 2 on the counter leads to OSR")
def test_quickened_loop_code_and_short_loops_are_not_upgraded():
    phases = _fresh(LOOPS, "phases")
    overdrive.disable()
    for _ in range(10):                # quickened by the interpreter (8 calls)
        phases(3, [])
    overdrive.enable(threshold=200)
    try:
        phases(5000, [])              # compiled now, from the quickened code
        short = _fresh(LOOPS, "phases")
        for _ in range(20):
            short(10, [])             # 400 iterations in all: below the count
    finally:
        overdrive.disable()
    assert overdrive.info(phases)["compiled"] and not overdrive.info(phases)["recompiled"]
    assert overdrive.info(short)["compiled"] and not overdrive.info(short)["recompiled"]


POLY = """
class A:
    def __init__(self): self.a = 0; self.x = 1
    def m(self): return 'A'
class B:
    __slots__ = ('x', 'b')
    def __init__(self): self.x = 2; self.b = 0
    def m(self): return 'B'
class C:
    def __init__(self): self.c = 0; self.d = 0; self.x = 3
    def m(self): return 'C'

def use(o):
    return o.x, o.m()

def bump(o):
    o.x = o.x + 1
    return o.x
"""


@tier1_only_because("recompilation with feedback")
def test_a_site_of_a_few_types_is_built_into_the_recompiled_unit():
    # Recompiled, the attribute and method sites that met A, B and C (inline values at
    # different indexes, a __slots__ member) check each type in the code; then what a
    # built-in entry must not survive: a class patched (its version changes), an attribute
    # deleted from an instance, __class__ assigned, a fourth type.
    use = _fresh(POLY, "use")
    ns = use.__globals__
    A, B, C = ns["A"], ns["B"], ns["C"]
    objs = [A(), B(), C()] * (RECOMPILE_AFTER // 3 + 5)
    assert _run_compiled(use, [(o,) for o in objs]) == [use(o) for o in objs]
    info = overdrive.info(use)
    assert info["recompiled"] and info["fixed_attr_sites"] == 2, info   # o.x and o.m

    def then(calls):
        overdrive.disable()
        expected = [_outcome(use, o) for o in calls]
        overdrive.enable(threshold=0)
        try:
            got = [_outcome(use, o) for o in calls]
        finally:
            overdrive.disable()
        assert got == expected

    then([A(), B(), C()])
    C.m = lambda self: "C patched"                  # C's version changes
    then([A(), B(), C()])
    bare = A()
    del bare.x                                      # its inline value is gone
    then([bare, A()])
    moved = A()
    moved.__class__ = C                             # keeps A's values, is a C now
    then([moved, C()])

    class D:
        x = "class attribute"
        def m(self): return "D"
    then([D(), A()])
    assert overdrive.info(use)["fixed_attr_sites"] == 2


def _outcome(fn, arg):
    try:
        return ("ok", fn(arg))
    except Exception as exc:  # noqa: BLE001 - compared with the interpreter's
        return ("raise", type(exc), str(exc))


@tier1_only_because("recompilation with feedback")
def test_a_store_site_of_a_few_types_is_built_into_the_recompiled_unit():
    # STORE_ATTR into inline values at different indexes and into a __slots__ member, per
    # type; then a store that adds the attribute again after a del (insertion order is the
    # helper's), a class given a property of that name (its setter must run).
    bump = _fresh(POLY, "bump")
    ns = bump.__globals__
    A, B, C = ns["A"], ns["B"], ns["C"]

    def rounds(objs, n):
        return [bump(o) for _ in range(n) for o in objs]

    overdrive.disable()
    expected = rounds([A(), B(), C()], RECOMPILE_AFTER // 3 + 5)
    overdrive.enable(threshold=0)
    try:
        got = rounds([A(), B(), C()], RECOMPILE_AFTER // 3 + 5)
    finally:
        overdrive.disable()
    assert got == expected
    info = overdrive.info(bump)
    assert info["recompiled"] and info["fixed_attr_sites"] == 3, info

    def then(make):
        overdrive.disable()
        expected = [_outcome(bump, o) for o in make()]
        overdrive.enable(threshold=0)
        try:
            got = [_outcome(bump, o) for o in make()]
        finally:
            overdrive.disable()
        assert got == expected

    def readded():
        a = A()
        del a.x
        a.x = 7             # back at the end of the values: another index than A's x
        return [a, A()]
    then(readded)
    log = []
    C.x = property(lambda self: 40, lambda self, v: log.append(v))
    then(lambda: [C(), A(), B()])
    assert log == [3, 41] * 2               # __init__ and bump: the setter ran, both runs
