"""Every opcode family of tier 1: each function runs interpreted and compiled, results,
exceptions and tracebacks are compared, and the compiled code is proven to have run."""
import collections
import math
import operator

import pytest

import overdrive
from conftest import code_calls, full_tier, runs_tier1, tier1_only_because

G = 10


def f_arith(a, b):
    return (a + b, a - b, a * b, a / b, a // b, a % b, a ** 2, -a, +a, ~a if isinstance(a, int) else 0,
            a << 2 if isinstance(a, int) else 0, a & 7 if isinstance(a, int) else 0, a | 1 if isinstance(a, int) else 0,
            a ^ 3 if isinstance(a, int) else 0, a >> 1 if isinstance(a, int) else 0)


@pytest.mark.parametrize("a,b", [(7, 3), (-7, 3), (7, -3), (2**40, 3), (7.5, 2.0), (-0.0, 1.5)])
def test_arith(jit, a, b):
    jit.run_both(f_arith, a, b)


def f_inplace(x):
    x += 1
    x -= 2
    x *= 3
    x //= 2
    x %= 100
    x **= 2
    x <<= 1
    x >>= 1
    x &= 0xFFFF
    x |= 1
    x ^= 2
    y = x / 3
    y /= 2
    return x, y


def test_inplace(jit):
    jit.run_both(f_inplace, 17)


def f_compare(a, b):
    return [a < b, a <= b, a == b, a != b, a > b, a >= b, a is b, a is not b,
            a in [b, 1], a not in (b,), not a]


@pytest.mark.parametrize("a,b", [(1, 2), (2, 2), (1.5, 1.5), ("a", "b"), ("x", "x"), (None, None),
                                 (2**70, 2**70)])
def test_compare(jit, a, b):
    jit.run_both(f_compare, a, b)


def f_branches(n):
    out = []
    for i in range(n):
        if i % 3 == 0 and i % 2:
            out.append("fizz")
        elif i > 5 or i == 1:
            out.append(i)
        elif not i:
            out.append(None)
        x = i if i else None
        if x is None:
            out.append("none")
        if x is not None:
            out.append(x and -x or 0)
    while n > 0:
        n -= 3
    return out, n


def test_branches(jit):
    jit.run_both(f_branches, 12)


def f_truthiness(values):
    return [1 if v else 0 for v in values]


def test_truthiness(jit):
    jit.run_both(f_truthiness, [[], [0], "", "a", 0.0, 3, None, {}, set(), (1,)])


class _TruthyInt(int):
    def __bool__(self):
        return False


class _LongStr(str):
    def __len__(self):
        return 0


class _Dies:
    def __init__(self, log, tag):
        self.log, self.tag = log, tag

    def __del__(self):
        self.log.append(self.tag)


class _BadBool:
    def __bool__(self):
        raise ValueError("no truth")


def f_truth_of_each_kind(values, log):
    out = []
    for v in values:
        if v:
            out.append(1)
        else:
            out.append(0)
    # a list made here and only tested: its items die when the test releases it
    if [_Dies(log, "in list")]:
        log.append("after")
    if (_Dies(log, "in tuple"),):
        log.append("after tuple")
    n = 7
    while n:                        # an int loop condition
        n -= 1
    return out, n, list(log)


def test_truth_of_ints_strings_containers_and_subclasses(jit):
    # Compiled code tests an exact int, str, list, tuple or dict by its size word and None
    # out of line; subclasses (their own __bool__/__len__), floats, sets and objects with
    # __bool__ go through PyObject_IsTrue; a container released by the test runs its items'
    # finalizers at the same point; an error from __bool__ propagates.
    values = [0, 1, -5, 2 ** 100, -(2 ** 70), "", "x", "é", [], [0], (), (None,), {}, {0: 0},
              None, 0.0, -0.0, 1.5, set(), {1}, _TruthyInt(7), _LongStr("abc"),
              range(0), range(2), b"", b"\0"]
    jit.run_both(lambda: f_truth_of_each_kind(values, []))
    got = jit.run_both(lambda: f_truth_of_each_kind([1, _BadBool(), 2], []))
    assert got[:2] == ("raise", ValueError)


def f_containers(n):
    t = (1, 2, n)
    l = [n, *t, *range(3)]
    s = {n, 1, *t}
    d = {"a": n, **{"b": 2}, "c": t}
    d2 = {k: v for k, v in d.items()}
    l2 = [x * 2 for x in l if x % 2]
    s2 = {x for x in l}
    sl = l[1:3], l[::-1], l[::2], t[1:]
    l[0] = 99
    del l[1]
    d["z"] = 5
    del d["a"]
    a, b, c = t
    (p, q), r = (1, 2), 3
    first, *rest = l
    *init, last = t
    return t, l, s, d, d2, l2, s2, sl, a, b, c, p, q, r, first, rest, init, last, tuple(l)


def test_containers(jit):
    jit.run_both(f_containers, 4)


def f_subscr_errors(kind):
    if kind == 0:
        return [1][5]
    if kind == 1:
        return {}["missing"]
    if kind == 2:
        return (1,)[kind / 2]
    return [1, 2][-1]


@pytest.mark.parametrize("kind", range(4))
def test_subscr_errors(jit, kind):
    jit.run_both(f_subscr_errors, kind)


def f_unpack_errors(seq):
    a, b = seq
    return a, b


@pytest.mark.parametrize("seq", [(1, 2), [1, 2], "ab", range(2), (1,), [1, 2, 3], 5])
def test_unpack(jit, seq):
    jit.run_both(f_unpack_errors, seq, allow_exits=not isinstance(seq, (tuple, list)) or len(seq) != 2)


def f_strings(name, n):
    return f"{name}:{n:>5}|{n!r}|{name!s:^9}|{n:x}", "%s-%d" % (name, n), name.upper() + str(n)


def test_strings(jit):
    jit.run_both(f_strings, "bob", 42)


def f_build_string(pieces, alias_every):
    s = ""
    t = ""
    kept = []
    for i, p in enumerate(pieces):
        s += p                     # BINARY_OP += then STORE_FAST s: extended in place
        t = t + p                  # the `x = x + y` form too
        if alias_every and i % alias_every == 0:
            kept.append(s)         # another reference: must be copied, never mutated
    return s, t, kept


def test_str_append_to_its_local_is_done_in_place(jit):
    # `s += piece` in a loop must stay linear, as in the interpreter (whose specialized
    # BINARY_OP extends the string in place when the local and the stack hold the only
    # references); strings other references see must not change.
    pieces = [f"<{i}>" for i in range(3000)]
    before = overdrive.stats()["str_appends_in_place"]
    s, t, kept = jit.run_both(f_build_string, pieces, 0)
    assert s == t == "".join(pieces)
    assert overdrive.stats()["str_appends_in_place"] - before >= 2 * 3000 or \
        not runs_tier1(f_build_string)
    s, t, kept = jit.run_both(f_build_string, pieces, 7)
    assert [len(k) for k in kept] == [len("".join(pieces[:i + 1])) for i in range(0, 3000, 7)]
    assert all(k == "".join(pieces[:i + 1]) for k, i in zip(kept, range(0, 3000, 7)))


def f_globals():
    global G
    G = 10
    G = G + 1
    x = len([1, 2]) + G
    return x, math.pi, abs(-3)


def test_globals(jit):
    jit.run_both(f_globals)


def f_name_error():
    return undefined_name_xyz  # noqa: F821


def test_name_error(jit):
    r = jit.run_both(f_name_error)
    assert r[1] is NameError


def f_closure(n):
    total = 0

    def add(k):
        nonlocal total
        total += k
        return total

    for i in range(n):
        add(i)
    counter = [0]
    inc = lambda: counter.__setitem__(0, counter[0] + 1)  # noqa: E731
    inc()
    return total, counter, add(0)


def test_closure(jit):
    jit.run_both(f_closure, 10)


def f_unbound(flag):
    if flag:
        x = 1
    return x  # noqa: F821


def test_unbound_local(jit):
    jit.run_both(f_unbound, True)
    # Unbound locals leave for the interpreter, which raises the exact error.
    r = jit.run_both(f_unbound, False, allow_exits=True)
    assert r[1] is UnboundLocalError


class Point:
    cls_attr = 3

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm(self):
        return math.sqrt(self.x * self.x + self.y * self.y)

    @property
    def double(self):
        return self.x * 2

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


class Point3(Point):
    def __init__(self, x, y, z):
        super().__init__(x, y)
        self.z = z

    def norm(self):
        return super().norm() + self.z


def f_attrs(n):
    p = Point(3, 4)
    q = Point3(1, 2, n)
    p.x += 1
    del q.z
    q.z = 7
    return p.norm(), q.norm(), p.double, p.cls_attr, repr(q), getattr(p, "missing", None)


def test_attrs_methods_super(jit):
    jit.run_both(f_attrs, 5)


def f_attr_error(p):
    return p.nope


def test_attr_error(jit):
    r = jit.run_both(f_attr_error, Point(1, 2))
    assert r[1] is AttributeError


def kwtarget(a, b=2, *args, c, d=4, **kw):
    return a, b, args, c, d, kw


def f_calls():
    args = (1, 2, 3)
    kwargs = {"c": 5, "e": 6}
    return (kwtarget(1, c=3), kwtarget(1, 2, 3, 4, c=5, d=6, e=7), kwtarget(*args, **kwargs),
            kwtarget(*[1], c=0), sorted([3, 1, 2], key=lambda v: -v, reverse=True),
            "x".join(["a", "b"]), dict(a=1), operator.add(1, 2), max(1, 5, 3))


def test_calls(jit):
    jit.run_both(f_calls)


def _raising_iter():
    yield 1
    raise LookupError("from the iterable")


def f_star_calls(kind):
    """f(*iterable) for iterables other than tuples and lists (the interpreter's
    PySequence_Tuple), then the errors: an iterable that raises, and a non-iterable (whose
    message the interpreter makes: that one call leaves for it)."""
    import collections
    if kind == "iterables":
        return (kwtarget(*(i for i in range(3)), c=1), kwtarget(*map(abs, [-1, -2]), c=2),
                kwtarget(*range(4), c=3), kwtarget(*"xy", c=4),
                kwtarget(*collections.deque([5, 6]), c=5), max(*{7: 0, 8: 0}))
    if kind == "raising":
        return kwtarget(*_raising_iter(), c=0)
    return kwtarget(*5, c=0)


@pytest.mark.parametrize("kind", ["iterables", "raising"])
def test_star_calls_with_any_iterable_stay_native(jit, kind):
    jit.run_both(f_star_calls, kind)


def test_star_call_with_a_non_iterable_leaves_for_the_interpreter(jit):
    before = overdrive.info(f_star_calls)["exits"].get("HELPER_DEOPT", 0)
    r = jit.run_both(f_star_calls, "not iterable", allow_exits=True)
    assert r[1] is TypeError and "must be an iterable, not int" in r[2]
    assert overdrive.info(f_star_calls)["exits"]["HELPER_DEOPT"] == before + 1


def f_call_errors(kind):
    if kind == 0:
        return kwtarget()
    if kind == 1:
        return kwtarget(1, c=1, c2=3, **{"c": 2})
    return len(1)


@pytest.mark.parametrize("kind", range(3))
def test_call_errors(jit, kind):
    jit.run_both(f_call_errors, kind, allow_exits=True)


def f_exceptions(x):
    log = []
    try:
        try:
            log.append(1 / x)
        except ZeroDivisionError as e:
            log.append(type(e).__name__)
            raise ValueError("from zero") from e
        else:
            log.append("else")
        finally:
            log.append("finally")
    except ValueError as e:
        log.append((str(e), type(e.__cause__).__name__))
    except (TypeError, KeyError):
        log.append("tk")
    try:
        raise KeyError("k")
    except LookupError as e:
        log.append(repr(e))
    try:
        try:
            raise RuntimeError("inner")
        except RuntimeError:
            raise
    except RuntimeError as e:
        log.append(str(e))
    return log


@pytest.mark.parametrize("x", [0, 2, "s"])
def test_exceptions(jit, x):
    jit.run_both(f_exceptions, x)


def f_raise_uncaught(kind):
    if kind == 0:
        raise ValueError("boom")
    if kind == 1:
        raise TypeError
    if kind == 2:
        raise 42
    assert kind == 5, "assert message"


@pytest.mark.parametrize("kind", range(4))
def test_raise_traceback(jit, kind):
    r = jit.run_both(f_raise_uncaught, kind)
    assert r[0] == "raise" and r[3], "traceback must name the compiled frame"


def f_exceptions_in_loop(n):
    d = {}
    hits = 0
    for i in range(n):
        try:
            d[i % 7] += 1
        except KeyError:
            d[i % 7] = 1
            hits += 1
    return d, hits


def test_exceptions_in_loop_stay_native(jit):
    jit.run_both(f_exceptions_in_loop, 100)
    # tier 1's own unwinding (tier 2 leaves handlers to the interpreter)
    assert not runs_tier1(f_exceptions_in_loop) or \
        overdrive.info(f_exceptions_in_loop)["exceptions_handled_natively"] >= 7


class Ctx:
    def __init__(self, log, swallow=False):
        self.log = log
        self.swallow = swallow

    def __enter__(self):
        self.log.append("enter")
        return self

    def __exit__(self, *exc):
        self.log.append(("exit", exc[0].__name__ if exc[0] else None))
        return self.swallow


def f_with(fail, swallow):
    log = []
    with Ctx(log, swallow) as c:
        log.append(c is not None)
        if fail:
            raise IndexError("in with")
    with Ctx(log), Ctx(log):
        log.append("two")
    return log


@pytest.mark.parametrize("fail,swallow", [(False, False), (True, True), (True, False)])
def test_with(jit, fail, swallow):
    jit.run_both(f_with, fail, swallow)


def f_match(v):
    match v:
        case 0 | 1:
            return "small"
        case [x, y]:
            return ("pair", x, y)
        case {"k": val}:
            return ("map", val)
        case Point(x=0):
            return "origin-x"
        case str() as s if len(s) > 2:
            return ("str", s)
        case (1, *rest):
            return ("rest", rest)
        case _:
            return "other"


@pytest.mark.parametrize("v", [0, [1, 2], {"k": 3}, Point(0, 1), "long", (1, 2, 3), 9.5])
def test_match(jit, v):
    jit.run_both(f_match, v)


class NoMatchArgs:
    pass


class BadMatchArgs:
    __match_args__ = ["x"]


def f_match_errors(kind, v):
    if kind == 0:
        match v:
            case NoMatchArgs(1):
                return "?"
    if kind == 1:
        match v:
            case BadMatchArgs(1):
                return "?"
    if kind == 2:
        match v:
            case int(5):
                return "int-self"
            case Point(1, 2):
                return "never"
    if kind == 3:
        match v:
            case {"a": 1, "b": x, **rest}:
                return x, rest
    return "none"


@pytest.mark.parametrize("kind,v", [(0, NoMatchArgs()), (1, BadMatchArgs()), (2, 5),
                                    (2, Point(1, 2)), (3, {"a": 1, "b": 2, "c": 3}),
                                    (3, collections.defaultdict(int, a=1)), (3, {"a": 2})])
def test_match_errors_and_edges(jit, kind, v):
    jit.run_both(f_match_errors, kind, v)


def f_imports():
    import json
    from os import path as p
    from collections import OrderedDict
    return json.dumps([1]), p.join("a", "b"), OrderedDict is collections.OrderedDict


def test_imports(jit):
    jit.run_both(f_imports)


def f_annotations():
    x: int = 5
    y: "str"
    return x


def test_annotations(jit):
    jit.run_both(f_annotations)


def f_class_body(n):
    class K:
        a = n
        b: int = 2

        def m(self):
            return self.a + self.b

        c = [a * i for i in range(3)]

    return K().m(), K.c, K.__annotations__


def test_class_body(jit):
    jit.run_both(f_class_body, 3)


def f_generator_user(n):
    def gen():
        for i in range(n):
            yield i * i

    return sum(gen()), list(x for x in range(n))


def test_generators_run_interpreted_but_callers_compiled(jit):
    jit.run_both(f_generator_user, 10)


def f_delete(x):
    y = x
    del y
    try:
        return y  # noqa: F821
    except UnboundLocalError:
        return "unbound"


def test_delete_fast(jit):
    jit.run_both(f_delete, 1, allow_exits=True)


def f_long_function(n):
    # Many locals and a long body exercise EXTENDED_ARG and wide frames.
    acc = 0
    for i in range(n):
        acc += i
    v = [0] * 300
    for i in range(300):
        v[i] = i * acc
    return sum(v), acc


def test_long_function(jit):
    jit.run_both(f_long_function, 50)


def test_info_and_stats(jit):
    def tiny(a):
        return a + 1

    overdrive.enable(threshold=0)
    tiny(1)
    overdrive.disable()
    info = overdrive.info(tiny)
    assert info["compiled"] and info["code_size"] > 0 and info["compile_ns"] > 0
    s = overdrive.stats()
    assert s["functions_compiled"] >= 1 and s["frames_native"] >= 1


class Slotted:
    __slots__ = ("a",)

    def __init__(self):
        self.a = 1

    def get(self):
        return self.a


class WithGetattr:
    def __getattr__(self, name):
        return name.upper()


class Plain:
    def __init__(self, v):
        self.v = v

    def m(self):
        return self.v


def f_attr_polymorphic(make_objs):
    out = []
    for o in make_objs():
        out.append((o.v, o.m()))
        o.v = o.v + 1
    return out


def test_attr_caches_polymorphic_and_invalidation(jit):
    class Other(Plain):
        def m(self):
            return -self.v

    jit.run_both(f_attr_polymorphic, lambda: [Plain(i) for i in range(5)])
    jit.run_both(f_attr_polymorphic, lambda: [Plain(1), Other(2), Plain(3), Other(4)] * 10)

    def shadowed():
        p = Plain(5)
        p.m = lambda: "shadow"
        return [Plain(1), p, Plain(2)]

    # Shadowing a method with an instance attribute, then patching the class.
    jit.run_both(f_attr_polymorphic, shadowed)
    Plain.m = lambda self: "patched"
    try:
        jit.run_both(f_attr_polymorphic, lambda: [Plain(1), Plain(2)])
    finally:
        Plain.m = lambda self: self.v


def f_attr_kinds(s, g, mod):
    return s.get(), s.a, g.anything, mod.pi, mod.sqrt(4.0), "abc".upper(), [1].copy()


def test_attr_kinds(jit):
    jit.run_both(f_attr_kinds, Slotted(), WithGetattr(), math)


def test_module_attr_cache_sees_updates(jit):
    import types
    mod = types.ModuleType("m")
    mod.x = 1

    def read(m):
        return [m.x for _ in range(3)]

    jit.run_both(read, mod)
    mod.x = 2
    assert jit.run_both(read, mod) == [2, 2, 2]


class Cmp:
    def __init__(self, v, fail=False):
        self.v = v
        self.fail = fail

    def __lt__(self, other):
        if self.fail:
            raise ArithmeticError("no order")
        return self.v < other.v

    def __eq__(self, other):
        return NotImplemented


def f_compare_branch(pairs):
    out = []
    for a, b in pairs:
        if a < b:
            out.append("lt")
        elif a == b:
            out.append("eq")
        while a > b:
            a = a - 1
        out.append(a)
    return out


@pytest.mark.parametrize("pairs", [[(1, 2), (3, 3), (5, 1)], [(1.5, 0.5), (2.0, 2.0)],
                                   [("a", "b"), ("b", "b")],
                                   [(Cmp(1), Cmp(2))], [(Cmp(1, fail=True), Cmp(2))]])
def test_compare_and_branch(jit, pairs):
    jit.run_both(f_compare_branch, pairs)


class Wide:
    """Instances whose attributes live in a materialized __dict__ (not inline values)."""

    def __init__(self, n):
        for i in range(n):
            setattr(self, f"a{i}", i)
        self.__dict__["x"] = n

    def m(self):
        return self.x


def f_dict_attrs(make_objs):
    out = []
    for o in make_objs():
        out.append((o.x, o.m(), o.a0))
        o.x = o.x + 1
    return out


def test_attrs_in_materialized_dicts(jit):
    def shadowed():
        w = Wide(3)
        w.m = lambda: "shadow"
        return [Wide(2), w, Wide(40)]

    jit.run_both(f_dict_attrs, lambda: [Wide(2), Wide(40)] * 5)
    jit.run_both(f_dict_attrs, shadowed)


def f_temporaries(a, b, c):
    x = (a * b + c) * (a - c) / (b + 0.5)
    i = (a * 1000 + 7) - (a * 1000 + 7) + 256       # small-int results stay the cached objects
    j = ((a + 1000) - 1000) - a
    big = (a + 2 ** 29) + (a + 2 ** 29)              # two digits: no reuse
    small = (256, 0)
    return x, i, i is small[0], j is small[1], big, [(k * 3 + 1) % 7 for k in range(10)]


@pytest.mark.parametrize("a,b,c", [(3, 4, 5), (3.5, 4.25, -1.0), (-7, 2, 9)])
def test_arithmetic_on_temporaries(jit, a, b, c):
    jit.run_both(f_temporaries, a, b, c)


def f_store_subscr(n):
    l = [0] * 5
    for i in range(n):
        l[i % 5] = i
        l[-1] = -i
    d = {}
    d[1] = 2
    try:
        l[10] = 1
    except IndexError as e:
        return l, d, str(e)


def test_store_subscr(jit):
    jit.run_both(f_store_subscr, 12)


def _site_entries(fn, name):
    """Entries of fn's attribute cache sites for `name` (from the compiled code)."""
    import _overdrive
    return [e for r in _overdrive._native_map(fn)["instructions"]
            if (r.get("cache") or {}).get("kind") == "attr" and r["cache"]["name"] == name
            for e in r["cache"]["entries"]]


class Modes:
    FORWARD = 1
    BACKWARD = 0

    @staticmethod
    def pick(d):
        return d * 10

    @classmethod
    def make(cls, d):
        return (cls.__name__, d)

    def plain(self):
        return self.FORWARD


class SubModes(Modes):
    pass


def f_class_attrs(cls, n):
    out = []
    for i in range(n):
        out.append((cls.FORWARD, cls.BACKWARD, cls.pick(i), cls.make(i), cls.plain is Modes.plain))
    return out


def test_class_attribute_cache_and_invalidation(jit):
    jit.run_both(f_class_attrs, Modes, 20)
    hits = {e["kind"]: e["hits"] for e in _site_entries(f_class_attrs, "FORWARD")}
    # (tier 1's inline cache entries; tier 2 has none)
    assert not runs_tier1(f_class_attrs) or hits.get("CLASS_VALUE", 0) > 0, \
        _site_entries(f_class_attrs, "FORWARD")
    jit.run_both(f_class_attrs, SubModes, 20)
    # Changing the class, or a base of the class, is seen on the next access.
    Modes.FORWARD = "changed"
    try:
        assert jit.run_both(f_class_attrs, Modes, 3)[0][0] == "changed"
        assert jit.run_both(f_class_attrs, SubModes, 3)[0][0] == "changed"
        SubModes.FORWARD = "own"
        assert jit.run_both(f_class_attrs, SubModes, 3)[0][0] == "own"
        Modes.pick = staticmethod(lambda d: -d)
        assert jit.run_both(f_class_attrs, Modes, 3)[2][2] == -2
    finally:
        Modes.FORWARD = 1
        Modes.pick = staticmethod(lambda d: d * 10)
        del SubModes.FORWARD

    class Meta(type):
        FORWARD = "meta"  # metaclass attributes: not `type`, so never cached

    class WithMeta(metaclass=Meta):
        BACKWARD = 2

        @staticmethod
        def pick(d):
            return d

        @classmethod
        def make(cls, d):
            return d

        def plain(self):
            return 0

    jit.run_both(f_class_attrs, WithMeta, 3)


class Binds:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


def f_bound_methods(objs):
    return [o.get() + (o.get)() for o in objs] + [len(o.get.__self__.__dict__) for o in objs]


def test_bound_method_attribute_cache(jit):
    objs = [Binds(i) for i in range(10)]

    def read():
        out = []
        for o in objs:
            m = o.get
            out.append(m())
        return out

    jit.run_both(read)
    hits = sum(e["hits"] for e in _site_entries(read, "get") if e["kind"].startswith("METHOD"))
    assert not runs_tier1(read) or hits > 0, _site_entries(read, "get")
    objs[3].get = lambda: "shadowed"  # an instance attribute shadows the method
    assert jit.run_both(read)[3] == "shadowed"
    jit.run_both(f_bound_methods, [Binds(1), Binds(2)])
    Binds.get = lambda self: -self.v
    try:
        assert jit.run_both(read)[4] == -4
    finally:
        Binds.get = lambda self: self.v


class Grows:
    def __init__(self, a, b, flip):
        if flip:
            self.b = b
            self.a = a
        else:
            self.a = a
            self.b = b
        self.c = a + b


def f_new_attributes(n):
    objs = [Grows(i, -i, i % 3 == 0) for i in range(n)]
    out = [list(vars(o).items()) for o in objs]
    for o in objs[:4]:
        del o.a
        o.a = 5                     # set again: last in the order now
        out.append(list(o.__dict__.items()))
    return out


def test_store_attr_adds_new_attributes_in_insertion_order(jit):
    # Attributes created in __init__ go into the inline values in insertion order (in
    # compiled code, a cold stub appends each index to the values' order, as
    # STORE_ATTR_INSTANCE_VALUE does), so vars() and a materialized __dict__ list them in
    # the order they were set, as the interpreter does.
    jit.run_both(f_new_attributes, 12)
    overdrive.enable(threshold=0)
    try:
        f_new_attributes(12)
    finally:
        overdrive.disable()
    hits = sum(e["hits"] for e in _site_entries(Grows.__init__, "c") if e["kind"] == "INSTANCE_VALUE")
    assert not runs_tier1(Grows.__init__) or hits > 0, _site_entries(Grows.__init__, "c")


class SlotPoint:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


class DictPoint:
    def __init__(self, x, y):
        self.x = x
        self.y = y


class Noisy:
    """A value whose release is observable: replacing it runs __del__."""
    log: list = []

    def __init__(self, tag):
        self.tag = tag

    def __del__(self):
        Noisy.log.append(self.tag)


def f_slot_and_value_attrs(make, n):
    points = make()
    out = []
    for i in range(n):
        for p in points:
            p.x = p.x + i
            p.y = Noisy(i) if i % 3 == 0 else i
            out.append((p.x, p.y if type(p.y) is int else p.y.tag))
    Noisy.log.clear()
    for p in points:
        p.y = 0          # drops the last Noisy: __del__ runs inside the inline store
    return out, sorted(Noisy.log)


def f_empty_slot(p):
    try:
        return p.y
    except AttributeError as e:
        return str(e)


def test_inline_slot_and_instance_value_attributes(jit):
    # LOAD_ATTR and STORE_ATTR on __slots__ members and on existing inline values run
    # inline in the compiled code: the hit counters move, and the results, including
    # __del__ of the replaced values, match the interpreter's.
    make = lambda: [SlotPoint(1, 2), SlotPoint(3, 4), DictPoint(5, 6)]
    res = jit.run_both(f_slot_and_value_attrs, make, 7)
    assert res[1] == [6, 6, 6]
    overdrive.enable(threshold=0)
    try:
        f_slot_and_value_attrs(make, 7)
    finally:
        overdrive.disable()
    kinds = {}
    for name in ("x", "y"):
        for e in _site_entries(f_slot_and_value_attrs, name):
            kinds[e["kind"]] = kinds.get(e["kind"], 0) + e["hits"]
    assert not runs_tier1(f_slot_and_value_attrs) or (
        kinds.get("SLOT", 0) > 0 and kinds.get("INSTANCE_VALUE", 0) > 0), kinds
    # An empty slot is a miss of the inline path: the helper raises AttributeError.
    empty = SlotPoint(1, 2)
    del empty.y
    assert jit.run_both(f_empty_slot, empty) == "'SlotPoint' object has no attribute 'y'"


def f_dunder_class(make, other_cls):
    objs = make()
    out = []
    for o in objs:
        out.append(o.__class__ is SlotPoint)
        out.append(o.__class__.__name__)
    objs[-1].__class__ = other_cls    # a store of __class__ stays generic
    out.append(objs[-1].__class__.__name__)
    return out


class OtherDictPoint:
    pass


class OwnClass:
    @property
    def __class__(self):          # shadows object.__class__: never read as ob_type
        return SlotPoint


def test_dunder_class_is_read_like_a_slot(jit):
    # `obj.__class__` (object's getset) is read inline as the ob_type slot, as the
    # interpreter's LOAD_ATTR_SLOT does; a class that overrides __class__ and an
    # assignment to __class__ keep their own behaviour.
    make = lambda: [SlotPoint(1, 2), DictPoint(5, 6), OwnClass(), DictPoint(7, 8)]
    res = jit.run_both(f_dunder_class, make, OtherDictPoint)
    assert res[-1] == "OtherDictPoint" and res[4] is True, res
    overdrive.enable(threshold=0)
    try:
        f_dunder_class(make, OtherDictPoint)
    finally:
        overdrive.disable()
    hits = sum(e["hits"] for e in _site_entries(f_dunder_class, "__class__") if e["kind"] == "SLOT")
    assert not runs_tier1(f_dunder_class) or hits > 0


def f_getset_attrs(items):
    out = []
    for e in items:
        try:
            out.append((e.tag, e.text, e.tail))
        except (TypeError, AttributeError) as exc:
            out.append(type(exc).__name__)
    return out


def f_getset_raises(views):
    out = []
    for m in views:
        try:
            out.append(m.nbytes)
        except ValueError as exc:
            out.append(str(exc))
    return out


def test_getset_descriptors_are_called_directly(jit):
    # A C getter (getset descriptor, a data descriptor: the instance dict never shadows
    # it) is called straight from the site's entry, once the type's version is checked.
    import xml.etree.ElementTree as ET

    class SubElement(ET.Element):
        pass

    class Borrowed:               # the descriptor of another type: TypeError, generic path
        tag = ET.Element.tag

    def make():
        items = []
        for i in range(40):
            e = ET.Element(f"t{i}")
            e.text, e.tail = str(i), None if i % 2 else "tail"
            items.append(e)
        s = SubElement("sub")
        s.__dict__["tag"] = "shadow"  # a data descriptor wins over the instance dict
        return items + [s, Borrowed()] + items[:5]

    jit.run_both(f_getset_attrs, make())
    hits = sum(e["hits"] for e in _site_entries(f_getset_attrs, "tag") if e["kind"] == "GETSET")
    assert not runs_tier1(f_getset_attrs) or hits > 0, _site_entries(f_getset_attrs, "tag")

    def views():
        ms = [memoryview(b"abcd") for _ in range(30)]
        ms[20].release()           # the getter raises: once, with its own message
        return ms

    res = jit.run_both(f_getset_raises, views())
    assert res[20] == "operation forbidden on released memoryview object", res[20]
    hits = sum(e["hits"] for e in _site_entries(f_getset_raises, "nbytes")
               if e["kind"] == "GETSET")
    assert not runs_tier1(f_getset_raises) or hits > 0, _site_entries(f_getset_raises, "nbytes")


class Tokenish(str):
    """A str subclass: instances never have inline values; their __dict__ is split."""
    kind = "class-kind"                   # a class constant read through instances

    def __new__(cls, value, tag):
        self = super().__new__(cls, value)
        self.tag = tag
        return self

    @property
    def shout(self):
        if self == "boom":
            raise ValueError("boom from a property")
        return self.upper() + "!"


def f_class_level_reads(items):
    out = []
    for t in items:
        try:
            out.append((t.kind, t.tag, t.shout))
        except (ValueError, AttributeError) as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def test_properties_class_constants_and_split_dicts_are_cached(jit):
    # Three entry kinds the interpreter of 3.11 does not specialize either: a property
    # (its __get__ called directly), a class attribute that is not a data descriptor read
    # through the instance (unless the instance holds the name), and an instance attribute
    # in a split __dict__ (instances of str subclasses).
    def make():
        items = [Tokenish(f"w{i}", i) for i in range(30)]
        items[7] = Tokenish("boom", 7)                 # the property raises
        odd = Tokenish("odd", -1)
        odd.kind = "own-kind"                          # the instance shadows the class constant
        gone = Tokenish("gone", -2)
        del gone.tag                                   # attribute deleted: AttributeError
        return items + [odd, gone] + items[:3]

    res = jit.run_both(f_class_level_reads, make())
    assert res[7] == "ValueError: boom from a property" and res[30][0] == "own-kind", res
    kinds = {}
    for name in ("kind", "tag", "shout"):
        for e in _site_entries(f_class_level_reads, name):
            kinds[e["kind"]] = kinds.get(e["kind"], 0) + e["hits"]
    if runs_tier1(f_class_level_reads):
        assert kinds.get("PROPERTY", 0) > 0 and kinds.get("SPLIT_DICT", 0) > 0, kinds
        assert any(k.startswith("METHOD") and n > 0 for k, n in kinds.items()), kinds

    # The class changes under the entries: constant rebound, property replaced, and the
    # constant's own type gaining a __get__ (which the owner's version does not see).
    class Getter:
        pass

    saved = Tokenish.kind, Tokenish.shout
    try:
        Tokenish.kind = "rebound"
        Tokenish.shout = property(lambda self: "replaced")
        assert jit.run_both(f_class_level_reads, make()[:3])[0] == ("rebound", 0, "replaced")
        g = Getter()
        Tokenish.kind = g
        assert jit.run_both(f_class_level_reads, make()[:2])[0][0] is g
        Getter.__get__ = lambda self, obj, tp: ("got", type(obj).__name__)
        assert jit.run_both(f_class_level_reads, make()[:2])[0][0] == ("got", "Tokenish")
    finally:
        Tokenish.kind, Tokenish.shout = saved


class Wordish(str):
    label = "class-label"                 # instances shadow it by storing their own


def f_dict_stores(words):
    out = []
    for i, w in enumerate(words):
        try:
            w.label = i                   # shadows the class attribute (DICT_STORE)
            w.extra = -i                  # a name new to the split dict
            out.append((w.label, w.extra, sorted(vars(w))))
        except (AttributeError, TypeError) as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def test_stores_into_materialized_dicts_are_cached(jit):
    # STORE_ATTR into a materialized __dict__ (a str subclass: its dicts are split) when
    # the type has no data descriptor of that name, including a class attribute the store
    # shadows; the first store to a fresh object makes the dict through generic setattr.
    def make(n=30):
        return [Wordish(f"w{i}") for i in range(n)]

    jit.run_both(f_dict_stores, make())
    hits = sum(e["hits"] for e in _site_entries(f_dict_stores, "extra")
               if e["kind"] == "DICT_STORE")
    assert not runs_tier1(f_dict_stores) or hits > 0, _site_entries(f_dict_stores, "extra")

    # The shadowed class attribute's type gains __set__ (the owner's version does not
    # change): the store must now go to the descriptor.
    class Sink:
        seen = []

    saved = Wordish.label
    try:
        Wordish.label = Sink()
        jit.run_both(f_dict_stores, make(5))
        Sink.__set__ = lambda self, obj, value: Sink.seen.append(value)
        Sink.__get__ = lambda self, obj, tp: "from-descriptor"
        Sink.seen.clear()
        res = jit.run_both(f_dict_stores, make(5))
        assert res[2][0] == "from-descriptor" and Sink.seen == [0, 1, 2, 3, 4] * 2, \
            (res, Sink.seen)
        Wordish.label = property(lambda self: "prop")        # no setter: AttributeError
        assert jit.run_both(f_dict_stores, make(3))[0].startswith("AttributeError")
    finally:
        Wordish.label = saved


def f_is_ops(values, sentinel):
    Noisy.log.clear()
    out = []
    for v in values:
        if v is None:
            out.append("none")
        if v is not sentinel:
            out.append("not-sentinel")
        if v.__class__ is Noisy:       # the operands are released before the branch
            out.append("noisy")
        out.append((v is sentinel, v is not None, Noisy(v) is v))   # bools pushed
    return out, sorted(str(t) for t in Noisy.log)


@full_tier
def test_is_op_runs_inline_fused_and_pushed(jit):
    # IS_OP compiles to a pointer compare (fused with the conditional jump after it, or
    # pushing True/False): the compiled code never calls the generic helper, and the
    # releases of temporaries (Noisy(v) dies inside the `is`) happen as in the interpreter.
    sentinel = object()
    values = [None, 1, sentinel, Noisy("a"), "s", sentinel]
    res = jit.run_both(f_is_ops, values, sentinel)
    assert res[0][:2] == ["none", "not-sentinel"] and "noisy" in res[0], res
    assert not code_calls(f_is_ops, "od_rt_is_op")
    del values
    Noisy.log.clear()          # other tests read the log


BOUNDARY_INTS = [0, 1, -1, 5, -5, -6, 255, 256, 257, 2**30 - 1, -(2**30 - 1), 2**30, -(2**30),
                 2**62, -(2**62)]
SPECIAL_FLOATS = [0.0, -0.0, 1.5, -2.25, float("inf"), float("-inf"), float("nan"), 1e308]


def f_int_ops(values):
    out = []
    for x in values:
        for y in values:
            s, d, p = x + y, x - y, x * y
            t = x
            t += y
            t -= 1
            t *= 2
            out.append((s, d, p, t, x < y, x <= y, x == y, x != y, x > y, x >= y))
            if x < y:
                out.append("lt")
            if x <= y:
                out.append("le")
            if x == y:
                out.append("eq")
            if x != y:
                out.append("ne")
            if x > y:
                out.append("gt")
            if x >= y:
                out.append("ge")
    return out


def f_number_ops(pairs):
    out = []
    for x, y in pairs:
        try:
            q = x / y
        except ZeroDivisionError as e:
            q = str(e)
        r = (x + y) * (x - y)            # temporaries: results reuse their objects
        t = x
        t -= y
        out.append((repr(x + y), repr(x - y), repr(x * y), repr(q), repr(r), repr(t),
                    x < y, x <= y, x == y, x != y, x > y, x >= y))
        flags = []
        if x < y:
            flags.append("lt")
        if x <= y:
            flags.append("le")
        if x == y:
            flags.append("eq")
        if x != y:
            flags.append("ne")
        if x > y:
            flags.append("gt")
        if x >= y:
            flags.append("ge")
        out.append(flags)
    return out


def _fresh_copy(fn):
    """The function with a code object of its own: compiled state and site records start
    empty (they live with the code object)."""
    import types
    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__)


def _all_pairs(left, right):
    return [(x, y) for x in left for y in right]

def _op_sites(fn, *opnames):
    """Operator/subscript/iteration cache records of fn's compiled code (of `opnames`,
    default: all but FOR_ITER)."""
    import _overdrive
    return [r["cache"] for r in _overdrive._native_map(fn)["instructions"]
            if (r.get("cache") or {}).get("kind") == "op"
            and (r["opname"] in opnames if opnames else r["opname"] != "FOR_ITER")]


@full_tier
def test_inline_int_and_float_arithmetic_and_compares(jit):
    # Exact ints of one digit and exact floats are added, multiplied, divided and compared
    # in the compiled code itself; boundaries (small-int cache, 2**30, big ints, NaN, signed
    # zeros, zero divisors) must give the interpreter's results.
    jit.run_both(f_small_int_loop, 100, 3)
    ints = jit.run_both(f_int_ops, BOUNDARY_INTS)
    f_float_ops = _fresh_copy(f_number_ops)
    floats = jit.run_both(f_float_ops, _all_pairs(SPECIAL_FLOATS, SPECIAL_FLOATS))
    assert "eq" in ints and ["ne"] in [f for f in floats if isinstance(f, list)]
    # The inline paths did the work: the helper only saw what they leave to it (big ints,
    # zero divisors).
    for fn, helper_calls in ((f_int_ops, None), (f_float_ops, 2 * len(SPECIAL_FLOATS))):
        if not runs_tier1(fn):      # tier 1's inline paths and their counters
            continue
        sites = _op_sites(fn)
        inline = sum(s["inline"] for s in sites)
        helper = sum(s["fast"] + s["slow"] for s in sites)
        assert inline > 1000 and all(s["inline"] for s in sites), (fn.__name__, sites)
        if helper_calls is not None:   # floats: only the divisions by +-0.0
            assert helper == helper_calls, (fn.__name__, sites)
    # Sites that only ever saw one-digit ints never called the helper.
    assert not runs_tier1(f_small_int_loop) or all(
        s["fast"] + s["slow"] == 0 for s in _op_sites(f_small_int_loop)), _op_sites(f_small_int_loop)
    # The small-int cache: results in -5..256 are the cached objects.
    def small(a, b):
        return a + b, a - b, a * b
    cached = [128, 72, -1]       # ints in -5..256 are the interpreter's cached objects
    res = jit.run_both(small, 100, 28)
    assert res[0] is cached[0] and res[1] is cached[1] and res[2] == 2800
    assert jit.run_both(small, -3, 2)[0] is cached[2]


def _mixed_pairs(ints, floats):
    """Each int with each float, in both orders."""
    return _all_pairs(ints, floats) + _all_pairs(floats, ints)

MIXED_INTS = [1, -1, 7, 3, 2**30 - 1, -(2**30 - 1), 2**29 + 12345]
MIXED_FLOATS = [1.5, -2.25, 7.0, 3.0000000000000004, 1e308, -1e-308, float("inf"),
                float("-inf"), float("nan"), float(2**30 - 1)]


@full_tier
def test_inline_mixed_int_and_float_arithmetic_and_compares(jit):
    # A float with an int of one digit (either order) is done by the compiled code, as
    # float's own slots do it: results, NaNs, infinities and exact ties all as interpreted,
    # and the generic helper is never called.
    fn = _fresh_copy(f_number_ops)
    got = jit.run_both(fn, _mixed_pairs(MIXED_INTS, MIXED_FLOATS))
    assert ("7.0", "-3.0", "7.0") not in got
    assert ["le", "eq", "ge"] in got                        # 7 == 7.0 and 7.0 == 7
    if not runs_tier1(fn):
        return      # tier 1's operand sites: tier 2 compiled it (the stress mode)
    sites = _op_sites(fn, "BINARY_OP", "COMPARE_OP")
    assert len(sites) == 20, sites
    per_site = len(MIXED_INTS) * len(MIXED_FLOATS) * 2
    assert all(s["inline"] == per_site and s["fast"] + s["slow"] == 0 for s in sites), sites


@pytest.mark.parametrize("ints,floats", [
    ([0], [0.0, -0.0, 2.5, float("nan")]),                 # zero divisors: ZeroDivisionError
    ([2**30, -(2**30), 2**53 + 1, 2**1000], [1.0, 0.5]),   # not one digit: the helper
    ([True, False], [1.0, 0.0]),                            # bools are not exact ints
])
def test_mixed_int_and_float_operands_the_inline_path_leaves_to_the_helper(jit, ints, floats):
    fn = _fresh_copy(f_number_ops)
    jit.run_both(fn, _mixed_pairs(ints, floats))
    sites = _op_sites(fn, "BINARY_OP", "COMPARE_OP")
    assert not runs_tier1(fn) or sum(s["fast"] + s["slow"] for s in sites) > 0, sites


@full_tier
def test_mixed_arithmetic_reuses_only_float_temporaries(jit):
    # The float operand of mixed arithmetic is reused in place when only the stack holds it;
    # an int operand never is, and a borrowed float (a local) keeps its value.
    def f(x, n):
        y = x
        out = []
        for i in range(n):
            out.append(((x * 2.0) + i, i - (x + 0.5), x + i, i * x, y))
        return out, x, y
    import sys
    x = 1.25
    before = sys.getrefcount(x)
    got = jit.run_both(f, x, 50)
    assert got[1] == 1.25 and got[2] == 1.25
    del got
    assert sys.getrefcount(x) == before
    sites = _op_sites(f, "BINARY_OP")
    assert all(s["fast"] + s["slow"] == 0 for s in sites), sites


def f_int_constant_ops(values):
    out = []
    for x in values:
        out.append((x + 1, x - 1, x * 3, x + -7, x - -7, x * -2, x * 0, x + 0,
                    x + 1073741823, x - 1073741823, x * 1073741823,
                    x < 10, x <= -1, x == 0, x != 5, x > 256, x >= -5))
        flags = []
        if x < 10:
            flags.append("lt")
        if x == 0:
            flags.append("eq")
        if x >= -5:
            flags.append("ge")
        out.append(flags)
    return out


@full_tier
def test_int_arithmetic_and_compares_with_an_int_constant(jit):
    # `x + 1`, `x < 10`: the constant's value is built into the code; the lhs is checked.
    # Results as interpreted across the small-int cache, one digit and beyond.
    jit.run_both(f_int_constant_ops, [0, 1, -1, 5, -5, -6, 9, 10, 255, 256, 257, 1000,
                                      2**30 - 1, -(2**30 - 1)])
    if runs_tier1(f_int_constant_ops):      # tier 1's inline paths and their counters
        sites = _op_sites(f_int_constant_ops, "BINARY_OP", "COMPARE_OP")
        assert len(sites) == 20, sites
        assert all(s["inline"] == 14 and s["fast"] + s["slow"] == 0 for s in sites), sites


@pytest.mark.parametrize("values", [[2**30, -(2**30), 2**62, 2**100],   # int's own slots
                                    [1.5, -0.0, -3.0, 1e300],            # float with an int
                                    [True, False]])                     # not exact ints
def test_int_constant_operand_with_other_lhs_types(jit, values):
    jit.run_both(f_int_constant_ops, values)


def _fresh_arith():
    """A new code object each time: the interpreter's specialization is per code object."""
    ns = {}
    exec("def arith(a, b):\n    return a + b, a * b, a - b, a < b\n", ns)
    return ns["arith"]


@full_tier
@pytest.mark.parametrize("warm,run", [(None, (3, 4)), (None, (3.5, 4.25)),
                                      ((1.5, 2.5), (3, 4)), ((1, 2), (3.5, 4.25)),
                                      ((1.5, 2.5), (3.5, 4.25)), ((1, 2), (3, 4))])
def test_inline_variants_expected_and_out_of_line(jit, warm, run):
    # A site keeps the operand type it expects inline (here: what the interpreter specialized
    # it for after `warm` calls) and the other one out of line; with no hint both are inline.
    # Every variant is compiled code: the helper is never called for int/int or float/float.
    fn = _fresh_arith()
    if warm is not None:
        for _ in range(20):          # quickened, then specialized by the interpreter
            fn(*warm)
    jit.run_both(fn, *run)
    if runs_tier1(fn):                      # tier 1's inline paths and their counters
        sites = _op_sites(fn)
        assert len(sites) == 4
        assert all(s["inline"] == 1 and s["fast"] + s["slow"] == 0 for s in sites), sites


def f_big_int_ops(a, b):
    return a + b, a - b, a * b, b - a, a * -b, (a + b) + (a * b)


@full_tier
@pytest.mark.parametrize("a,b", [(2**40, 3), (-(2**62), 2**62 - 1), (2**100, -(2**99)), (2**30, 2**30)])
def test_inline_int_arithmetic_beyond_one_digit_calls_ints_own_slots(jit, a, b):
    # Ints of more than one digit are added, subtracted and multiplied by int's own number
    # slots straight from compiled code (as the interpreter's BINARY_OP_*_INT do), not by
    # the generic helper.
    res = jit.run_both(f_big_int_ops, a, b)
    assert res[0] == a + b and res[2] == a * b
    sites = _op_sites(f_big_int_ops)
    assert all(s["fast"] + s["slow"] == 0 and s["inline"] >= 1 for s in sites), sites


def f_small_int_loop(a, b):
    t = 0
    for i in range(a):
        t = t + i * b - 1
        if t > i:
            t -= b
    return t


def f_refcounts(a, b):
    for _ in range(50):
        c = a + b
        c = a * b
        c = (a + b) - (a * b)
        if a < b:
            c = a / b
    return c


@pytest.mark.parametrize("a,b", [(1.25, 2.5), (300, 400), (7, 2**40)])
def test_inline_arithmetic_keeps_refcounts(jit, a, b):
    import sys
    before = sys.getrefcount(a), sys.getrefcount(b)
    jit.run_both(f_refcounts, a, b)
    assert (sys.getrefcount(a), sys.getrefcount(b)) == before


class MyList(list):
    def __getitem__(self, i):
        return ("sub", super().__getitem__(i))


def f_subscripts(seq, n):
    out = []
    for i in range(-n - 1, n + 1):
        try:
            out.append(seq[i])
        except IndexError as e:
            out.append(str(e))
    out.append(seq[True])           # a bool is not an exact int: the generic path
    return out


def f_store_items(n):
    l = [Noisy(-1) for _ in range(n)]
    Noisy.log.clear()
    for i in range(n):
        l[i] = i * 10               # the replaced Noisy's __del__ runs inside the store
    for i in range(-1, -n - 1, -1):
        l[i] += 1
    try:
        l[n] = 0
    except IndexError as e:
        err = str(e)
    return l, sorted(Noisy.log), err


@full_tier
def test_inline_list_and_tuple_subscripts(jit):
    for seq in ([10, 20, 30], (10, 20, 30), MyList([10, 20, 30]), "abc", {0: "zero", 1: "one", True: "t"}):
        jit.run_both(f_subscripts, seq, 2 if not isinstance(seq, dict) else 0)
    res = jit.run_both(f_store_items, 4)
    assert res[0] == [1, 11, 21, 31] and res[1] == [-1] * 4
    sites = _op_sites(f_subscripts)
    assert not runs_tier1(f_subscripts) or sum(s["inline"] for s in sites) > 0, sites


def f_from_the_end(seq, n):
    out = []
    for k in range(1, n + 1):
        try:
            out.append(seq[-k])
        except IndexError as e:
            out.append(str(e))
    return out


def f_store_from_the_end(size, n):
    l = [0] * size
    for k in range(1, n + 1):
        try:
            l[-k] = k * 10
        except IndexError as e:
            l.append(str(e))
    return l


@full_tier
def test_negative_indexes_are_read_and_stored_in_line(jit):
    # fast_subscr.c in_range_index_value: `seq[-k]` with -k at least minus the size counts
    # from the end in the compiled code (3.11's interpreter sends it to the generic path);
    # below that, the helper raises the interpreter's IndexError.
    for seq in ([10, 20, 30], (10, 20, 30)):
        assert jit.run_both(f_from_the_end, seq, 4)[:3] == [30, 20, 10]
    assert jit.run_both(f_store_from_the_end, 3, 4)[:3] == [30, 20, 10]
    if runs_tier1(f_from_the_end):      # (a store site keeps no record to count)
        sites = _op_sites(f_from_the_end, "BINARY_SUBSCR")
        helper = sum(s["fast"] + s["slow"] for s in sites)
        assert helper <= 2 and sum(s["inline"] for s in sites) >= 6, sites   # helper: the -4s


class Grid:
    """A container whose __getitem__ is a Python function (scimark's ArrayList): the
    interpreter's BINARY_SUBSCR_GETITEM; compiled code calls it on a frame it pushes."""
    def __init__(self, rows):
        self.rows = rows

    def __getitem__(self, idx):
        if isinstance(idx, tuple):
            return self.rows[idx[1]][idx[0]]
        return self.rows[idx]


class GridDefault(Grid):
    def __getitem__(self, idx, scale=10):       # a default fills the third parameter
        return super().__getitem__(idx) * scale


class GridRaises(Grid):
    def __getitem__(self, idx):
        if idx < 0:
            raise KeyError(idx)
        return self.rows[idx]                   # IndexError from inside, with its line


class DictWithGetitem(dict):
    def __getitem__(self, key):
        return ("mine", dict.__getitem__(self, key))


class NoSelf:
    def __getitem__():                          # TypeError: the interpreter's message
        return 0


class StarArgs:
    def __getitem__(self, *args):               # a shape the direct call refuses
        return args


class Static:
    __getitem__ = staticmethod(lambda idx: ("static", idx))


class GenGetitem:
    def __getitem__(self, idx):                 # a generator function: the generic path
        yield idx


def f_python_getitem(objs, keys):
    out = []
    for o in objs:
        for k in keys:
            try:
                v = o[k]
                out.append(list(v) if hasattr(v, "__next__") else v)   # a generator's items
            except (KeyError, IndexError, TypeError) as e:
                out.append((type(e).__name__, str(e), e.__traceback__.tb_next.tb_lineno
                            if e.__traceback__.tb_next else None))
    return out


def test_python_getitem_is_called_on_a_pushed_frame(jit):
    import types
    rows = [[1, 2, 3], [4, 5, 6]]
    objs = [Grid(rows), GridDefault([7, 8]), GridRaises([9]), DictWithGetitem(a=1, b=2)]
    res = jit.run_both(f_python_getitem, objs, [0, 1, (1, 0), -1, 5, "a"])
    assert res[:3] == [[1, 2, 3], [4, 5, 6], 2] and ("mine", 1) in res
    assert ("KeyError", "-1", GridRaises.__getitem__.__code__.co_firstlineno + 2) in res
    sites = _op_sites(f_python_getitem, "BINARY_SUBSCR")
    # Every subscript of these classes went through the pushed frame (the helper's fast
    # path), none through PyObject_GetItem (slow).
    assert not runs_tier1(f_python_getitem) or (
        sum(s["fast"] for s in sites) == 4 * 6 and sum(s["slow"] for s in sites) == 0), sites
    # Shapes it leaves to the slot (and so to PyObject_GetItem): same results and errors.
    odd = [NoSelf(), StarArgs(), Static(), GenGetitem()]
    f_odd = types.FunctionType(f_python_getitem.__code__.replace(), globals(), "f_odd")
    res = jit.run_both(f_odd, odd, [3])
    assert res[0][0] == "TypeError" and res[1:] == [(3,), ("static", 3), [3]]
    sites = _op_sites(f_odd, "BINARY_SUBSCR")
    # ... except the generator __getitem__: pushed frames take generator functions too
    # (their RETURN_GENERATOR moves the frame into the generator, runtime/ops_gen.c).
    assert not runs_tier1(f_odd) or (
        sum(s["slow"] for s in sites) == 3 and sum(s["fast"] for s in sites) == 1), sites


def f_getitem_changes(obj, n):
    out = []
    for i in range(n):
        if i == 2:
            type(obj).__getitem__ = lambda self, k: ("replaced", k)
        if i == 4:
            obj.__getitem__ = lambda k: "instance attributes are not looked at"
        if i == 6:
            del type(obj).__getitem__
        try:
            out.append(obj[i])
        except TypeError as e:
            out.append(str(e))
    return out


def test_python_getitem_replaced_or_removed_while_running(jit):
    def make():
        class Box:
            def __getitem__(self, k):
                return ("first", k)
        return Box()
    overdrive.disable()
    expected = f_getitem_changes(make(), 8)
    assert expected[:2] == [("first", 0), ("first", 1)] and expected[6].endswith("not subscriptable")
    overdrive.enable(threshold=0)
    try:
        got = f_getitem_changes(make(), 8)
    finally:
        overdrive.disable()
    assert got == expected
    assert overdrive.info(f_getitem_changes)["native_entries"] >= 1


class Deep:
    def __getitem__(self, n):
        return self[n - 1] + 1 if n else 0


def f_deep_getitem(n):
    try:
        return Deep()[n]
    except RecursionError as e:
        return str(e)


def test_python_getitem_recursion_matches_the_interpreter(jit):
    import sys
    assert jit.run_both(f_deep_getitem, 200) == 200
    # To the limit: the same RecursionError, at the same depth, as the interpreter's.
    assert jit.run_both(f_deep_getitem, sys.getrecursionlimit() + 10).startswith("maximum recursion")


def f_getitem_frame(obj):
    import sys
    return obj[sys._getframe], obj[0]


class Peek:
    def __getitem__(self, k):
        import sys
        if callable(k):
            me = sys._getframe()
            self.kept = me          # the frame object outlives the call
            return (me.f_code.co_name, me.f_back.f_code.co_name, me.f_lineno)
        return (self.kept.f_locals["k"] is sys._getframe, self.kept.f_back is not None)


def test_python_getitem_frame_is_linked_and_can_escape(jit):
    res = jit.run_both(f_getitem_frame, Peek())
    assert res[0][:2] == ("__getitem__", "f_getitem_frame") and res[1] == (True, True)


def f_iterations(n):
    out = []
    for i in range(n):                       # small ints: the cached objects
        out.append(i)
    for i in range(2**29, 2**29 + 3):        # one-digit ints beyond the cache
        out.append(i)
    for i in range(2**62, 2**62 + 2):        # beyond one digit (still a C long)
        out.append(i)
    for i in range(10, -10, -7):
        out.append(i)
    for i in range(0):
        out.append("never")
    for x in (1.5, "a", None):
        out.append(x)
    grow = [1, 2]
    for x in grow:                           # the list grows while it is iterated
        if x < 5:
            grow.append(x + 2)
        out.append(x)
    shrink = [1, 2, 3, 4]
    for x in shrink:
        shrink.pop()
        out.append(x)
    it = iter([7, 8])
    for x in it:
        out.append(x)
    for x in it:                             # an exhausted iterator stays exhausted
        out.append("again")
    for k in {"a": 1, "b": 2}:               # other iterators: the helper
        out.append(k)
    return out


@full_tier
def test_inline_for_iter_over_range_list_and_tuple(jit):
    res = jit.run_both(f_iterations, 5)
    assert res[:5] == [0, 1, 2, 3, 4] and res[5:8] == [2**29, 2**29 + 1, 2**29 + 2]
    if not runs_tier1(f_iterations):
        return      # tier 1's FOR_ITER sites: tier 2 compiled it (the stress mode)
    sites = _op_sites(f_iterations, "FOR_ITER")
    by_type = {}
    for s in sites:
        by_type[s["left"]] = by_type.get(s["left"], 0) + s["inline"]
    assert by_type.get(type(iter(range(1))), 0) == 5 + 3 + 2 + 3, sites
    assert by_type.get(type(iter([])), 0) >= 8 and by_type.get(type(iter(())), 0) == 3, sites
    # Exhaustion, and iterators without an inline path, are the helper's.
    assert sum(s["slow"] for s in sites) >= 8, sites


def f_sum_items(items):
    total = 0
    for x in items:
        total += x
    return total


def _for_iter_bytes(fn):
    """Main-line bytes of fn's FOR_ITER (to the next instruction's code)."""
    import _overdrive
    rows = _overdrive._native_map(fn)["instructions"]
    at = [r["native_offset"] for r in rows if r["opname"] == "FOR_ITER"]
    after = [r["native_offset"] for r in rows if r["native_offset"] > at[0]]
    return min(after) - at[0]


@full_tier
@tier1_only_because("FOR_ITER variants of recompiled units")
@pytest.mark.parametrize("seen, others", [
    ([1, 2, 3], ((4, 5), range(6), {7: 0}, "")),
    (range(4), ([4, 5], (6,), {7: 0})),
    ((1, 2), ([3], range(4), {5: 0})),
    ({1: 0, 2: 0}, ([3], (4,), range(5))),
])
def test_recompiled_for_iter_inlines_only_the_iterator_it_met(jit, seen, others):
    # A first unit tests range, list and tuple iterators inline; its recompilation only the
    # kind the site met (or none: a dict's keys take the helper), and any iterator still
    # gives the interpreter's results.
    fn = _fresh_copy(f_sum_items)
    overdrive.config(recompile_after=20)
    try:
        jit.run_both(fn, seen)
        first = _for_iter_bytes(fn)
        overdrive.enable(threshold=0)
        for _ in range(30):
            fn(seen)
        overdrive.disable()
        assert overdrive.info(fn)["recompiled"]
        assert _for_iter_bytes(fn) < 0.6 * first     # one kind (or none) of three
        for items in others:
            jit.run_both(fn, items)
    finally:
        overdrive.disable()
        overdrive.config(recompile_after=1000)


def f_against_constants(x):
    out = [x == "abc", x != b"k", x < (1, 2), "pre" + x if isinstance(x, str) else None]
    if x == "abc":
        out.append("jump")
    out.append(x == 3)
    return out


def _instr_bytes(fn, opname):
    """Main-line bytes of each `opname` in fn's code (to the next instruction's code)."""
    import _overdrive
    rows = _overdrive._native_map(fn)["instructions"]
    offsets = sorted({r["native_offset"] for r in rows})
    return [offsets[offsets.index(r["native_offset"]) + 1] - r["native_offset"]
            for r in rows if r["opname"] == opname and r["native_offset"] != offsets[-1]]


class EqAll(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


@full_tier
def test_operands_that_are_non_numeric_constants_take_the_helper_alone(jit):
    # `x == "abc"`: no int or float inline path can run, so a first unit puts only the
    # helper call on the main line (the interpreter of 3.11 does not specialize a compare
    # that no jump follows, so nothing else says so); any operand still gets the
    # interpreter's answer.
    fn = _fresh_copy(f_against_constants)
    for x in ("abc", "abd", 3, 2.5, EqAll("z"), None):   # None: `<` raises TypeError
        jit.run_both(fn, x)
    if not runs_tier1(fn):
        return
    sizes = _instr_bytes(fn, "COMPARE_OP")
    # the last compare (`x == 3`) keeps its int path; the others are helper calls only
    assert max(sizes[:-1]) < 64 < sizes[-1], sizes


def f_index_each(containers, indexes):
    out = []
    for s in containers:
        for i in indexes:
            try:
                out.append(s[i])
            except IndexError as e:
                out.append(str(e))
    return out


STR_INDEXES = (0, 1, 2, -1, -3, 3, 7, True, 2**30, 2**40, -2**40)


@full_tier
def test_characters_of_strs_by_int_index(jit):
    # A character of an exact str by a non-negative compact int: the helper returns the
    # interpreter's one-character singleton below 256 itself; negative, large and bool
    # indexes, other characters and str subclasses take the generic road.
    class S(str):
        def __getitem__(self, i):
            return "sub"
    strings = ("abc", "\xe9\xff\x80", "\u20acuro", "x", "", S("abc"))
    fn = _fresh_copy(f_index_each)
    res = jit.run_both(fn, strings, STR_INDEXES)
    overdrive.disable()
    assert all(a is b for a, b in zip(res, f_index_each(strings, STR_INDEXES))
               if isinstance(a, str) and len(a) == 1 and ord(a) < 256)
    if not runs_tier1(fn):
        return
    (site,) = _op_sites(fn, "BINARY_SUBSCR")
    # the 10 ascii and latin-1 characters in range, and S's Python __getitem__ called
    # directly (the helper's other fast road) for each index
    assert site["fast"] == 10 + len(STR_INDEXES), site


@full_tier
def test_items_of_list_and_tuple_subclasses_by_int_index(jit):
    # Subclasses of list and tuple that keep the base's subscript (a namedtuple, email's
    # TokenList) are indexed by the helper itself, as exact ones are; a subclass with its
    # own __getitem__ is not (its Python __getitem__ is called directly instead).
    Pair = collections.namedtuple("Pair", "a b")

    class Tokens(list):
        pass

    class Own(list):
        def __getitem__(self, i):
            return ("own", i)
    indexes = (0, 1, 2, -1, 3, True, 2**40)
    fn = _fresh_copy(f_index_each)
    # in range, by a plain int (not True, not negative): 2 of Pair, 3 of Tokens
    for seq, fast in ((Pair(1, 2), 2), (Tokens([3, 4, 5]), 3), (Own([6]), len(indexes))):
        before = _op_sites(fn, "BINARY_SUBSCR") if overdrive.info(fn)["compiled"] else None
        jit.run_both(fn, (seq,), indexes)
        if not runs_tier1(fn):
            continue
        (site,) = _op_sites(fn, "BINARY_SUBSCR")
        assert site["fast"] - (before[0]["fast"] if before else 0) == fast, (seq, site)
    jit.run_both(fn, ((7,), [8, 9], Tokens(), Pair(0, 1)), indexes)


def f_methods_on_dict_instances(objs):
    out = []
    for o in (objs() if callable(objs) else objs):
        out.append(o.m())
    return out


def test_method_cache_sees_shadowing_in_big_and_holey_dicts(jit):
    # Instances with their own dict (METHOD_WITH_DICT): a hit must prove the dict lacks
    # the method's name. Dicts of 1-, 2- and 4-byte index tables, with deleted keys
    # (dummies on the probe path), then shadowed by an instance attribute.
    def make():
        objs = []
        for n in (3, 300, 50000):
            w = Wide(n)
            for i in range(0, n, 7):
                delattr(w, f"a{i}")
            objs.append(w)
        shadow = Wide(300)
        shadow.__dict__["m"] = lambda: "shadow"
        objs.append(shadow)
        return objs

    res = jit.run_both(f_methods_on_dict_instances, make)
    assert res == [3, 300, 50000, "shadow"]
    objs = make()
    overdrive.enable(threshold=0)
    try:
        for _ in range(3):
            assert f_methods_on_dict_instances(objs) == [3, 300, 50000, "shadow"]
        objs[1].m = lambda: "late shadow"
        assert f_methods_on_dict_instances(objs)[1] == "late shadow"
    finally:
        overdrive.disable()
    hits = sum(e["hits"] for e in _site_entries(f_methods_on_dict_instances, "m")
               if e["kind"] == "METHOD_WITH_DICT")
    assert not runs_tier1(f_methods_on_dict_instances) or hits > 0, \
        _site_entries(f_methods_on_dict_instances, "m")


def f_unpack_sizes(make):
    out = []
    for n in range(1, 8):
        seq = make(n)
        if n == 1:
            (a,) = seq
            out.append(a)
        elif n == 2:
            a, b = seq
            out.append((b, a))
        elif n == 3:
            a, b, c = seq
            out.append((c, b, a))
        elif n == 6:
            a, b, c, d, e, f = seq
            out.append((f, e, d, c, b, a))
        elif n == 7:
            a, b, c, d, e, f, g = seq   # beyond the inline sizes: the helper
            out.append((g, a))
    for (x, y), z in [((1, 2), 3), ([4, 5], 6)]:
        out.append((x, y, z))
    return out


UNPACK_OBJECTS = [object() for _ in range(7)]


@pytest.mark.parametrize("make", [lambda n: tuple(range(10, 10 + n)), lambda n: list(range(n)),
                                  lambda n: tuple(UNPACK_OBJECTS[:n])])
def test_inline_unpack_of_tuples_and_lists(jit, make):
    import sys
    items = make(6)
    before = [sys.getrefcount(x) for x in items]
    jit.run_both(f_unpack_sizes, make)
    jit.run_both(f_unpack_sizes, lambda n, items=items: items[:n] if n <= 6 else make(n))
    assert [sys.getrefcount(x) for x in items] == before

