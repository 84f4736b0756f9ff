"""Operand borrowing and built-in attribute entries.

A LOAD_FAST or LOAD_CONST whose value only the next instruction reads (attribute loads and
stores, arithmetic, comparisons, subscripts, unpacking) is not pushed: the consumer reads the
local or constant directly and does not release it. Where the consumer leaves its inline path
(a miss, an error, an exit) the value is pushed first. A recompiled unit builds a monomorphic
attribute site's type version and index into its code.

Each test checks the compiled code borrowed (info()['deferred_loads'], or the built-in
entries), ran natively with no exit, gave the interpreter's results, and, where an operand
could have been reused in place, that the local or constant kept its value."""
import sys

import overdrive
import pytest
from conftest import COMPACT_FORCED, runs_tier1, tier1_only_because


def _fresh(src, name):
    ns = {}
    exec(src, ns)
    return ns[name]


def _compiled_run(jit, fn, *args, allow_exits=False):
    got = jit.run_both(fn, *args, allow_exits=allow_exits)
    # compact units (and tier 2) borrow nothing: the results are still checked
    if not COMPACT_FORCED and runs_tier1(fn):
        assert overdrive.info(fn)["deferred_loads"] > 0, overdrive.info(fn)
    return got


def f_float_locals_keep_their_values():
    x = float("1.5")          # only the local holds it: refcount 1
    y = x * 2.0               # must not be computed in x's object
    z = 2.5 + x
    w = x - x
    return x, y, z, w


def f_int_locals_keep_their_values():
    a = int("1000")           # refcount 1, one digit: the helper could reuse it in place
    b = a + 2000
    c = 5000 - a
    d = a * 3
    return a, b, c, d


def test_borrowed_floats_are_never_reused_in_place(jit):
    assert _compiled_run(jit, f_float_locals_keep_their_values) == (1.5, 3.0, 4.0, 0.0)


def test_borrowed_ints_are_never_reused_in_place(jit):
    assert _compiled_run(jit, f_int_locals_keep_their_values) == (1000, 3000, 4000, 3000)


def f_add_constant(x):
    return x + 1000.25


def test_borrowed_constants_stay_unchanged(jit):
    # The constant is borrowed from co_consts; were it reused, the second call would differ.
    first = _compiled_run(jit, f_add_constant, 1.0)
    assert first == 1001.25
    assert jit.run_both(f_add_constant, 1.0) == first
    assert f_add_constant.__code__.co_consts[1] == 1000.25


class Box:
    def __init__(self, v):
        self.v = v


class Slotted:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


def f_attr_of_local(b, n):
    t = 0
    for _ in range(n):
        t += b.v
    return t


@pytest.mark.parametrize("obj", [Box(3), Slotted(3)], ids=["inline-values", "slots"])
def test_attribute_of_borrowed_local(jit, obj):
    before = sys.getrefcount(obj)
    assert _compiled_run(jit, f_attr_of_local, obj, 100) == 300
    assert sys.getrefcount(obj) == before


def f_attr_miss(b):
    return b.missing


def test_miss_of_borrowing_consumer_pushes_first(jit):
    # AttributeError from the helper: the owner was pushed before the miss, and the
    # traceback and refcount are the interpreter's.
    b = Box(1)
    before = sys.getrefcount(b)
    got = _compiled_run(jit, f_attr_miss, b)
    assert got[0] == "raise" and got[1] is AttributeError
    assert sys.getrefcount(b) == before


def f_divide(x, y):
    return x / y


def test_error_in_borrowing_consumer(jit):
    x, y = float("7.5"), float("0.0")
    before = sys.getrefcount(x), sys.getrefcount(y)
    got = _compiled_run(jit, f_divide, x, y)
    assert got[0] == "raise" and got[1] is ZeroDivisionError
    assert (sys.getrefcount(x), sys.getrefcount(y)) == before


def f_unbound_second(flag):
    a = float("2.0")
    if flag:
        b = 3.0
    return a + b


def test_exit_between_deferred_loads(jit):
    # `a` is deferred when `b` turns out unbound: the exit pushes `a` first, and the
    # interpreter raises UnboundLocalError at the right line.
    got = jit.run_both(f_unbound_second, False, allow_exits=True)
    assert got[0] == "raise" and got[1] is UnboundLocalError
    assert COMPACT_FORCED or not runs_tier1(f_unbound_second) \
        or overdrive.info(f_unbound_second)["deferred_loads"] > 0
    assert jit.run_both(f_unbound_second, True, allow_exits=True) == 5.0


def f_compare_locals(xs, limit):
    n = 0
    for x in xs:
        if x < limit:
            n += 1
        n += x >= limit
    return n


def test_compare_of_borrowed_locals(jit):
    assert _compiled_run(jit, f_compare_locals, [1, 5, 2.5, 9, 3], 3) == 5
    assert _compiled_run(jit, f_compare_locals, [1.0, 5.0, "x"], 3.0)[1] is TypeError


def f_subscript_locals(seq, i):
    return seq[i], seq[0], seq[-1]


def test_subscript_of_borrowed_locals(jit):
    data = [10, 20, 30]
    before = sys.getrefcount(data)
    assert _compiled_run(jit, f_subscript_locals, data, 1) == (20, 10, 30)
    assert _compiled_run(jit, f_subscript_locals, (7, 8), 1) == (8, 7, 8)
    assert _compiled_run(jit, f_subscript_locals, {0: "a", 1: "b", -1: "c"}, 1) == ("b", "a", "c")
    assert sys.getrefcount(data) == before


def f_unpack_local(pair):
    a, b = pair
    return b, a


def test_unpack_of_borrowed_local(jit):
    pair = (object(), object())
    before = sys.getrefcount(pair)
    assert _compiled_run(jit, f_unpack_local, pair) == (pair[1], pair[0])
    assert _compiled_run(jit, f_unpack_local, [1, 2]) == (2, 1)
    # Other iterables and wrong lengths: the helper (which may hand the frame over).
    assert _compiled_run(jit, f_unpack_local, "ab", allow_exits=True) == ("b", "a")
    assert _compiled_run(jit, f_unpack_local, (1, 2, 3), allow_exits=True)[1] is ValueError
    assert sys.getrefcount(pair) == before


def f_store_attr(b, v):
    b.v = v
    return b.v


def test_store_attribute_on_borrowed_local(jit):
    b = Box(0)
    before = sys.getrefcount(b)
    assert _compiled_run(jit, f_store_attr, b, 5) == 5
    assert sys.getrefcount(b) == before


FIXED = """
class Point:
    def __init__(self, x):
        self.x = x

class InDict:                     # more attributes than shared keys take: a combined dict
    def __init__(self, x):
        for i in range(40):
            setattr(self, "a%d" % i, i)
        self.x = x

class Slot:
    __slots__ = ("x",)
    def __init__(self, x):
        self.x = x

def get(p):
    return p.x
"""


@pytest.fixture
def recompile_soon():
    overdrive.config(recompile_after=50)
    yield
    overdrive.config(recompile_after=1000)


@tier1_only_because("recompilation with an attribute site's entry built into the code")
@pytest.mark.parametrize("cls", ["Point", "Slot", "InDict"])
def test_recompiled_attribute_site_has_its_entry_built_in(recompile_soon, cls):
    get = _fresh(FIXED, "get")
    C = get.__globals__[cls]
    objs = [C(i) for i in range(100)]
    overdrive.enable(threshold=0)
    try:
        assert [get(o) for o in objs] == list(range(100))
        info = overdrive.info(get)
        assert info["recompiled"] and info["fixed_attr_sites"] == 1, info
        before = overdrive.info(get)["exits"]
        # The type changes (a new version tag): the built-in guard fails, the helper gives
        # the interpreter's answer.
        o = C(7)
        C.x = property(lambda self: "prop") if cls != "Slot" else C.x
        assert get(o) == ("prop" if cls != "Slot" else 7)
        if cls == "InDict":
            del C.x
            o = C(8)
            o.__dict__.update({f"k{i}": i for i in range(40)})   # a bigger index table
            assert get(o) == 8
            o.__dict__[1] = "not a str key"                       # general keys
            assert get(o) == 8
            del o.__dict__["x"]
            with pytest.raises(AttributeError):
                get(o)
        # Another type, and an instance whose values moved into a dict.
        assert get(type("Other", (), {"x": 9})()) == 9
        if cls == "Point":
            del C.x
            o = C(11)
            o.__dict__["y"] = 1          # materializes the instance dict
            assert get(o) == 11
        assert overdrive.info(get)["exits"] == before
    finally:
        overdrive.disable()


METHODS = """
class Plain:
    def m(self):
        return 1

class Bare:
    __slots__ = ()
    def m(self):
        return 2

def call(o):
    return o.m()
"""


@tier1_only_because("recompilation with a method site's entry built into the code")
@pytest.mark.parametrize("cls", ["Plain", "Bare"])
def test_recompiled_method_site_has_its_method_built_in(recompile_soon, cls):
    call = _fresh(METHODS, "call")
    C = call.__globals__[cls]
    want = 1 if cls == "Plain" else 2
    objs = [C() for _ in range(100)]
    before = sys.getrefcount(objs[0])
    overdrive.enable(threshold=0)
    try:
        results = []
        for o in objs:
            results.append(call(o))
        del o
        after = sys.getrefcount(objs[0])   # not inside assert: pytest's rewriting holds temps
        assert results == [want] * 100
        info = overdrive.info(call)
        assert info["recompiled"] and info["fixed_attr_sites"] == 1, info
        assert after == before
        exits = info["exits"]
        if cls == "Plain":
            o = C()
            o.m = lambda: "shadowed"          # an instance attribute of that name
            assert call(o) == "shadowed"
        C.m = lambda self: "replaced"         # the type changes
        assert call(C()) == "replaced"
        assert overdrive.info(call)["exits"] == exits
    finally:
        overdrive.disable()
