"""Every opcode family of tier 1: each function runs interpreted and compiled, results,
exceptions and tracebacks are compared, and the compiled code is proven to have run."""
import collections
import math
import operator

import pytest

import overdrive

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
    assert overdrive.info(f_exceptions_in_loop)["exceptions_handled_natively"] >= 7


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
    # Class and mapping-key patterns still leave for the interpreter (counted exits).
    jit.run_both(f_match, v, allow_exits=True)


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
