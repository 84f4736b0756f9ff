"""Compact first units (tier1/compact.c): code without a loop is compiled compact first —
every instruction through its helper, no inline fast paths, no operand borrowing, helper
calls through one shared thunk — and compiled in full, with the compact unit's site
feedback, after recompile_after native entries. Each test proves the compact unit ran
(info()['compact'], native entries, no unexpected exits) and gave the interpreter's results."""
import asyncio

import _overdrive
import overdrive
import pytest
from conftest import outcome_with_traceback, runs_tier1, tier1_only_because, unexpected_exits

NEVER, FIRST, ALL = 0, 1, 2


@pytest.fixture
def compact_mode():
    """Set the compact mode for one test (OVERDRIVE_COMPACT sets it at start-up)."""
    olds = []

    def set_mode(mode):
        olds.append(_overdrive._set_compact(mode))
    yield set_mode
    if olds:
        _overdrive._set_compact(olds[0])


def _fresh(src, name):
    ns = {}
    exec(src, ns)
    return ns[name]


def run_compact(fn, *args, calls=3):
    """The interpreter's outcome and the compact unit's, for `calls` calls each."""
    overdrive.disable()
    expected = [outcome_with_traceback(fn, args, {}) for _ in range(calls)]
    before = overdrive.info(fn)
    overdrive.enable(threshold=1)
    try:
        got = [outcome_with_traceback(fn, args, {}) for _ in range(calls + 1)][1:]  # the 1st interprets
    finally:
        overdrive.disable()
    after = overdrive.info(fn)
    assert after["compiled"], after
    if runs_tier1(fn):      # the stress mode runs it with tier 2 from its second call
        assert after["compact"], after
        assert not after["recompiled"] and after["deferred_loads"] == 0, after
        assert after["native_entries"] - before["native_entries"] == calls, after
        assert not unexpected_exits(before, after), after["exits"]
    assert got == expected
    return got[0]


SOURCES = {
    "arith": """
def arith(a, b):
    x = a + b * 3 - 7
    y = x / 2.5 + (a ** 2) % 5 - (b // 2) + (-a) + (~b) + (a & b | 1 ^ b) + (a << 2 >> 1)
    z = 1.5 * a - 0.25
    x += 1
    return x, y, z, a < b, a == b, a >= b, 3 < a <= 10, not a, a is b, 1 in [a, b]
""",
    "attrs": """
class P:
    __slots__ = ('s',)
class Q:
    k = 5
    def __init__(self, v):
        self.v = v
    def m(self, n):
        return self.v + n
def attrs(v):
    q = Q(v)
    q.w = q.v * 2
    p = P(); p.s = q.w
    del q.w
    return q.v, q.m(1), Q.k, p.s, getattr(q, 'w', None), hasattr(q, 'v')
""",
    "calls": """
def callee(a, b=2, *rest, c=3, **kw):
    return a + b + c + len(rest) + len(kw)
def calls(x):
    args = (1, 2, 3)
    kw = {'c': 4, 'd': 5}
    return (callee(x), callee(x, 1), callee(x, c=10), callee(*args, **kw),
            sorted([3, x, 1], key=lambda v: -v), max(x, 4), len(str(x)), [x].count(x),
            f"{x!r:>5}-{x}", (lambda *a: a)(x, x))
""",
    "loops": """
def loops(n):
    return ([i * i for i in range(n)], {k: v for k, v in zip('abc', range(n))},
            sum(x for x in (1, 2, n)), list(map(abs, [-n, n])), [*range(3), *'ab'],
            dict(a=1, **{'b': n}), {n, n + 1}, tuple(reversed((1, n))))
""",
    "subscr": """
def subscr(n):
    l = [1, 2, 3, n]
    d = {'a': n}
    l[0] = d['a']
    l[1:3] = [9]
    d['b'] = l[-1]
    del d['a']
    a, *b, c = l
    (x, y), z = (n, 2), 3
    return l, d, a, b, c, x + y + z, 'abc'[1:], l[n % 3]
""",
    "exceptions": """
def exceptions(n):
    out = []
    try:
        1 / (n - n)
    except ZeroDivisionError as e:
        out.append(type(e).__name__)
    finally:
        out.append('finally')
    try:
        try:
            raise ValueError('inner')
        except ValueError as e:
            raise KeyError('outer') from e
    except KeyError as e:
        out.append((str(e), type(e.__cause__).__name__))
    try:
        {}['missing']
    except (TypeError, KeyError):
        out.append('key')
    with open(__file__ if False else '/dev/null') as f:
        out.append(f.read())
    assert n == n, 'never'
    return out
""",
    "raises": """
def raises(n):
    x = [n]
    return x[n] + undefined_name
""",
    "match": """
def match(v):
    match v:
        case {'k': int(x)}:
            return 'map', x
        case [1, *rest]:
            return 'seq', rest
        case str() as s if s:
            return 'str', s
        case _:
            return 'other'
""",
}


@pytest.mark.parametrize("name,args", [
    ("arith", (7, 3)), ("arith", (2.5, -1)), ("attrs", (4,)), ("calls", (5,)),
    ("loops", (4,)), ("subscr", (4,)), ("exceptions", (1,)), ("raises", (0,)),
    ("raises", (5,)), ("match", ({'k': 3},)), ("match", ([1, 2, 3],)), ("match", ("s",)),
])
def test_compact_unit_runs_like_the_interpreter(compact_mode, name, args):
    compact_mode(FIRST)
    run_compact(_fresh(SOURCES[name], name), *args)


def test_compact_generator_and_coroutine(compact_mode):
    compact_mode(FIRST)
    gen = _fresh("""
def gen(n):
    x = yield n
    y = yield x * 2
    yield from (y, n)
    return 'done'
""", "gen")

    def drive(n):
        g = gen(n)
        out = [next(g), g.send(3), g.send(4), next(g)]
        try:
            next(g)
        except StopIteration as e:
            out.append(e.value)
        g2 = gen(n)
        next(g2)
        try:
            g2.throw(ValueError('t'))
        except ValueError as e:
            out.append(str(e))
        return out
    overdrive.disable()
    expected = [drive(1), drive(2)]
    overdrive.enable(threshold=1)
    try:
        got = [drive(1), drive(2)]
    finally:
        overdrive.disable()
    info = overdrive.info(gen)
    assert info["compact"] and info["native_entries"] > 0 and got == expected, info
    assert not unexpected_exits({}, info), info["exits"]

    coro = _fresh("""
import asyncio
async def coro(n):
    await asyncio.sleep(0)
    return n * 2
""", "coro")

    async def main():
        return [await coro(1), await coro(2), await coro(3)]
    overdrive.enable(threshold=1)
    try:
        got = asyncio.run(main())
    finally:
        overdrive.disable()
    info = overdrive.info(coro)
    assert got == [2, 4, 6] and info["compact"] and info["native_entries"] > 0, info


def test_code_with_a_loop_compiles_in_full(compact_mode):
    compact_mode(FIRST)
    f = _fresh("def f(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n", "f")
    overdrive.enable(threshold=1)
    try:
        assert [f(10), f(10)] == [45, 45]
    finally:
        overdrive.disable()
    assert overdrive.info(f)["compiled"] and not overdrive.info(f)["compact"]


def test_threshold_zero_and_never_compile_in_full(compact_mode):
    compact_mode(FIRST)
    f = _fresh("def f(a):\n    return a.real + 1\n", "f")
    overdrive.enable(threshold=0)
    try:
        f(1)
    finally:
        overdrive.disable()
    assert overdrive.info(f)["compiled"] and not overdrive.info(f)["compact"]
    compact_mode(NEVER)
    g = _fresh("def g(a):\n    return a.real + 1\n", "g")
    overdrive.enable(threshold=1)
    try:
        g(1), g(1)
    finally:
        overdrive.disable()
    assert overdrive.info(g)["compiled"] and not overdrive.info(g)["compact"]


@tier1_only_because("replacement of a compact unit by a full one compiled with feedback")
def test_compact_unit_is_replaced_by_the_full_unit_with_feedback(compact_mode):
    compact_mode(FIRST)
    src = """
class P:
    def __init__(self, x):
        self.x = x
def f(p, q):
    return p.x * q.x + 1 < 50, p.x + 0.5
"""
    f, P = _fresh(src, "f"), _fresh(src, "P")
    overdrive.config(recompile_after=100)
    try:
        overdrive.enable(threshold=1)
        try:
            f(P(1), P(2))   # interpreted
            got = [f(P(i), P(2)) for i in range(99)]
            mid = overdrive.info(f)
            got += [f(P(i), P(2)) for i in range(99, 200)]
        finally:
            overdrive.disable()
        after = overdrive.info(f)
    finally:
        overdrive.config(recompile_after=1000)
    assert got == [(i * 2 + 1 < 50, i + 0.5) for i in range(200)]
    assert mid["compact"] and not mid["recompiled"], mid
    assert not after["compact"] and after["recompiled"], after
    assert after["fixed_attr_sites"] >= 1 and after["native_entries"] == 200, after
    assert not unexpected_exits({}, after), after["exits"]


def test_compact_unit_is_much_smaller(compact_mode):
    src = SOURCES["attrs"]
    sizes = {}
    for mode in (NEVER, ALL):
        compact_mode(mode)
        f = _fresh(src, "attrs")
        assert overdrive.compile(f)
        sizes[mode] = overdrive.info(f)["code_size"]
    assert sizes[ALL] * 2 < sizes[NEVER], sizes
