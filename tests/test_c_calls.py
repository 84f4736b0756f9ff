"""CALL of C callables through the specialized forms (runtime/ccall.h): a site's first call
picks the form of what it calls (len, isinstance, list.append, method descriptors and
builtins by calling convention, type/str/tuple of one argument, classes with their own
vectorcall) and later calls take that form's helper; a guard that fails (another callable,
self of another type, another argument count) sends the site to the generic road for good.
Each test compares with the interpreter (results, exceptions, messages, tracebacks) and
checks the site's form (the native map's call record) and stats()['calls_c_specialized']."""
from __future__ import annotations

import pytest

import overdrive
import _overdrive
from conftest import COMPACT_FORCED, TIER2_STRESS, outcome_with_traceback, runs_tier1


def _fresh(fn):
    """A copy of fn with its own code object (its own quickening, counters and sites)."""
    import types

    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _forms(fn) -> list:
    """The forms of fn's CALL sites, in bytecode order (None: never called)."""
    native = _overdrive._native_map(fn)
    return [i["cache"]["form"] for i in native["instructions"] if i["opname"] == "CALL"]


def _specialized() -> int:
    return overdrive.stats()["calls_c_specialized"]


def _check(jit, fn, args, forms, quicken):
    """fn run interpreted and compiled, each on its own copy of the code (the reference run
    does not warm the compiled one up); the compiled copy quickened first when `quicken`
    (the interpreter's specialized PRECALL forms are the reference then, with their
    recursion counting). Results, exceptions and tracebacks equal; in tier 1 the sites took
    `forms` and the specialized road ran."""
    overdrive.disable()
    expected = outcome_with_traceback(_fresh(fn), args)
    fn = _fresh(fn)
    if quicken:
        for _ in range(12):
            outcome_with_traceback(fn, args)
    before = _specialized()
    overdrive.enable(threshold=0)
    try:
        got = outcome_with_traceback(fn, args)
    finally:
        overdrive.disable()
    info = overdrive.info(fn)
    assert info["compiled"] and info["native_entries"] > 0, info
    assert got == expected, f"compiled {got!r} != interpreted {expected!r}"
    if runs_tier1(fn) and not COMPACT_FORCED:
        assert not info["exits"], info["exits"]
        seen = _forms(fn)
        for form in forms:
            assert form in seen, (form, seen)
        if any(f != "generic" for f in forms):
            assert _specialized() > before
    return got[1] if got[0] == "ok" else got


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def f_len(xs):
    t = 0
    for x in xs:
        t += len(x)
    return t


def f_isinstance(xs):
    out = []
    for x in xs:
        out.append((isinstance(x, str), isinstance(x, (int, float))))
    return out


def f_append(n):
    out = []
    for i in range(n):
        out.append(i * 2)          # grows past its allocation many times
    return out


def f_join(parts_list):
    out = []
    for p in parts_list:
        out.append(",".join(p))
    return out


def f_set_add(xs):
    s = set()
    for x in xs:
        s.add(x)
    return sorted(s)


def f_upper(words):
    out = []
    for w in words:
        out.append(w.upper())
    return out


def f_dict_get(keys):
    d = {"a": 1, "b": 2}
    out = []
    for k in keys:
        out.append((d.get(k), d.get(k, 0)))
    return out


def f_split(lines):
    out = []
    for ln in lines:
        out.append(ln.split(":"))
    return out


def f_ord(cs):
    t = 0
    for c in cs:
        t += ord(c)
    return t


def f_divmod(ns):
    out = []
    for n in ns:
        out.append(divmod(n, 7))
    return out


def neg(v):
    return -v


def f_sorted(lists):
    out = []
    for x in lists:
        out.append((sorted(x, key=neg), sorted(x)))
    return out


def f_type_str_tuple(xs):
    out = []
    for x in xs:
        out.append((type(x), str(x), tuple([x])))
    return out


def f_classes(xs):
    out = []
    for x in xs:
        out.append((list(x), dict(a=x), float(len(x))))
    return out


CASES = [
    (f_len, (["ab", [1, 2, 3], {"a": 1}, (), Sized(4)] * 3,), ["len"]),
    (f_isinstance, ([1, "a", 2.5, None] * 3,), ["isinstance"]),
    (f_append, (200,), ["list_append"]),
    (f_join, ([["a", "b"], [], ["x"]] * 3,), ["descr_o"]),
    (f_set_add, ([3, 1, 2, 3] * 3,), ["descr_o"]),
    (f_upper, (["ab", "cD", ""] * 3,), ["descr_noargs"]),
    (f_dict_get, (list("abcab"),), ["descr_fast"]),
    (f_split, (["a:b", "c", ":"] * 3,), ["descr_fast_kw"]),
    (f_ord, ("abc" * 3,), ["builtin_o"]),
    (f_divmod, ([1, 20, -3] * 3,), ["builtin_fast"]),
    (f_sorted, ([[3, 1, 2], []] * 3,), ["builtin_fast_kw"]),
    (f_type_str_tuple, ([1, "a", 2.5] * 3,), ["type_1", "str_1", "tuple_1"]),
    (f_classes, (["ab", (1,)] * 3,), ["class"]),
]


@pytest.mark.parametrize("quicken", [False, True], ids=["cold", "quickened"])
@pytest.mark.parametrize("fn,args,forms", CASES, ids=[c[0].__name__ for c in CASES])
def test_form_taken_and_results_equal(jit, fn, args, forms, quicken):
    _check(jit, fn, args, forms, quicken)


# ---- exceptions: the callee's, and the guards' fall-back -----------------------------------

class BadLen:
    def __len__(self):
        return -1


class RaisingLen:
    def __len__(self):
        raise KeyError("boom")


def f_len_errors(xs):
    out = []
    for x in xs:
        try:
            out.append(len(x))
        except Exception as e:     # noqa: BLE001 - compared with the interpreter's
            out.append((type(e), str(e)))
    return out


def f_join_errors(seps, parts):
    out = []
    for sep in seps:
        try:
            out.append(sep.join(parts))
        except Exception as e:     # noqa: BLE001
            out.append((type(e), str(e)))
    return out


def f_int_errors(xs):
    out = []
    for x in xs:
        try:
            out.append(float(x))
        except Exception as e:     # noqa: BLE001
            out.append((type(e), str(e)))
    return out


@pytest.mark.parametrize("quicken", [False, True], ids=["cold", "quickened"])
def test_callee_exceptions_equal(jit, quicken):
    _check(jit, f_len_errors, (["ab", BadLen(), RaisingLen(), 3, [1]],), ["len"], quicken)
    _check(jit, f_join_errors, ([",", ";"], ["a", 1]), ["descr_o"], quicken)
    _check(jit, f_int_errors, (["1.5", "x", None, "2"],), ["class"], quicken)


def f_raises_through(x):
    return ",".join(x)             # the traceback's line


def test_uncaught_exception_traceback_equal(jit):
    _check(jit, f_raises_through, ([1],), [], False)


def call_with(fn, xs):
    """One site, whatever `fn` is: len first, then whatever else the list holds."""
    out = []
    for x in xs:
        out.append(fn(x))
    return out


def py_len(x):
    return 100 + len(x)


def test_rebound_to_python_function_goes_generic(jit):
    f = _fresh(call_with)
    overdrive.disable()
    expected = (call_with(len, ["ab", "c"]), call_with(py_len, ["ab"]), call_with(len, ["xyz"]))
    overdrive.enable(threshold=0)
    try:
        got = (f(len, ["ab", "c"]), f(py_len, ["ab"]), f(len, ["xyz"]))
        info = overdrive.info(f)
    finally:
        overdrive.disable()
    assert got == expected
    assert info["native_entries"] > 0
    if runs_tier1(f) and not COMPACT_FORCED:
        assert "generic" in _forms(f)


def call_method(m, selves, *args):
    out = []
    n = len(args)
    for s in selves:
        if n == 0:
            out.append(m(s))
        elif n == 1:
            out.append(m(s, args[0]))
        else:
            out.append(m(s, args[0], args[1]))
    return out


def test_self_of_another_type_goes_generic_with_the_interpreters_error(jit):
    # str.join's descriptor, called on a str first (descr_o), then on bytes: the guard
    # fails, vectorcall raises the descriptor's TypeError
    got = _check(jit, call_method, (str.join, [",", ";", b","], ["a"]), ["generic"], False)
    assert got[0] == "raise" and got[1] is TypeError and "bytes" in got[2]


def test_wrong_argument_counts_equal(jit):
    for args in ((str.join, [","]), (str.upper, ["a"], 1), (len, [[1]], 2),
                 (list.append, [[1]]), (isinstance, [1])):
        got = _check(jit, call_method, args, [], False)
        assert got[0] == "raise" and got[1] is TypeError


class MyList(list):
    pass


def append_to(kinds):
    lists = [kind() for kind in kinds]
    for ls in lists:
        ls.append(1)
    return [(type(ls).__name__, ls) for ls in lists]


def test_list_append_on_a_subclass_goes_generic(jit):
    # LOAD_METHOD finds list.append on the subclass too: self's type fails the guard
    got = _check(jit, append_to, ([list, list, MyList],), ["generic"], True)
    assert got == [("list", [1]), ("list", [1]), ("MyList", [1])]


def test_rebound_global_len():
    """`len` rebound in the module's globals after the site took the len form."""
    ns = {}
    exec("def g(xs):\n    return [len(x) for x in xs]\n", ns)
    g = ns["g"]
    overdrive.enable(threshold=0)
    try:
        first = g(["ab", "c"])
        ns["len"] = lambda x: -1
        second = g(["ab"])
    finally:
        overdrive.disable()
    assert (first, second) == ([2, 1], [-1])


def grow(n, seed):
    out = list(seed)
    for i in range(n):
        out.append(i)              # in line while the list has room, the helper when not
    return out


@pytest.mark.parametrize("seed", [[], [1, 2, 3], MyList([7])], ids=["list", "seeded", "subclass"])
def test_list_append_in_line_when_quickened(jit, seed):
    """Quickened code (PRECALL_NO_KW_LIST_APPEND): the append is compiled in line (the
    descriptor's address is an immediate of the unit's code); results equal the
    interpreter's whether the list has room, grows, or is a subclass (the site's helper)."""
    import struct

    got = _check(jit, grow, (50, seed), [], True)
    assert got == list(seed) + list(range(50))
    f = _fresh(grow)
    overdrive.disable()
    for _ in range(12):
        f(3, [])
    overdrive.enable(threshold=0)
    try:
        f(3, [])
    finally:
        overdrive.disable()
    if runs_tier1(f) and not COMPACT_FORCED:
        code = _overdrive._native_map(f)["code"]
        assert struct.pack("<Q", id(list.__dict__["append"])) in code


class MyStr(str):
    pass


def lengths(xs):
    t = []
    for x in xs:
        t.append(len(x))           # in line for exact str/list/tuple/dict up to 256
    return t


def test_len_in_line_when_quickened(jit):
    """Quickened code (PRECALL_NO_KW_LEN): len(x) is compiled in line (len's address is in
    the unit's code); results equal the interpreter's for the four exact kinds, a length
    past the small ints, a subclass, an object with __len__ and the errors (the helper)."""
    import struct

    xs = ["ab", [1, 2, 3], (), {"a": 1}, "x" * 300, MyStr("abc"), Sized(5), BadLen(), 7]
    for args in ((xs[:5],), (xs,), (xs[:7],)):
        _check(jit, lengths, args, [], True)
    f = _fresh(lengths)
    overdrive.disable()
    for _ in range(12):
        f(["ab"])
    overdrive.enable(threshold=0)
    try:
        assert f(["ab", [1], ()]) == [2, 1, 0]
    finally:
        overdrive.disable()
    if runs_tier1(f) and not COMPACT_FORCED:
        assert struct.pack("<Q", id(len)) in _overdrive._native_map(f)["code"]


# ---- classes with a Python __init__ (the py_init form) --------------------------------------

class Pt:
    def __init__(self, x, y=0, *, tag="p"):
        self.x, self.y, self.tag = x, y, tag


class Pt3(Pt):
    def __init__(self, x, y, z):
        super().__init__(x, y)
        self.z = z


class Slotted:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


class ReturnsOne:
    def __init__(self):
        return 1


class Refuses:
    def __init__(self, v):
        if v < 0:
            raise ValueError(f"negative: {v}")
        self.v = v


def f_make(xs):
    out = []
    for x in xs:
        p = Pt(x, tag="t") if x % 2 else Pt(x, x + 1)
        q = Pt3(x, 2, 3)
        s = Slotted(x)
        out.append((vars(p), vars(q), s.a, type(p).__name__))
    return out


def f_make_errors(xs):
    out = []
    for x in xs:
        try:
            out.append(vars(Refuses(x)))
        except ValueError as e:
            out.append(str(e))
        try:
            ReturnsOne()
        except TypeError as e:
            out.append(str(e))
        try:
            Pt()
        except TypeError as e:
            out.append(str(e))
    return out


@pytest.mark.parametrize("quicken", [False, True], ids=["cold", "quickened"])
def test_python_classes_take_the_py_init_form(jit, quicken):
    before = _specialized()
    _check(jit, f_make, ([1, 2, 3, 4] * 3,), ["py_init"], quicken)
    assert TIER2_STRESS or COMPACT_FORCED or _specialized() > before
    _check(jit, f_make_errors, ([1, -2, 3] * 2,), ["py_init"], quicken)


def f_raises_in_init(v):
    return Refuses(v)              # the traceback's line, then __init__'s


def test_py_init_traceback_equal(jit):
    _check(jit, f_raises_in_init, (-1,), ["py_init"], False)


def test_py_init_form_leaves_other_classes_generic(jit):
    import abc

    class WithNew:
        def __new__(cls, v):
            return super().__new__(cls)

        def __init__(self, v):
            self.v = v

    class Meta(type):
        def __call__(cls, *a):
            return ("meta", a)

    class ByMeta(metaclass=Meta):
        def __init__(self, v):
            self.v = v

    class Abstract(abc.ABC):
        def __init__(self, v):
            self.v = v

        @abc.abstractmethod
        def m(self):
            ...

    def make(cls, v):
        try:
            r = cls(v)
        except TypeError as e:
            return str(e)
        return r if isinstance(r, tuple) else (type(r).__name__, vars(r))

    for cls in (WithNew, ByMeta, Abstract):
        overdrive.disable()
        expected = [make(cls, 5) for _ in range(3)]
        fn = _fresh(make)
        overdrive.enable(threshold=0)
        try:
            got = [fn(cls, 5) for _ in range(3)]
        finally:
            overdrive.disable()
        assert got == expected, (cls, got, expected)
        if runs_tier1(fn) and not COMPACT_FORCED:
            assert "py_init" not in _forms(fn), (cls, _forms(fn))


def test_py_init_sees_init_rebound_on_the_class(jit):
    class C:
        def __init__(self, v):
            self.v = v

    def make(v):
        return vars(C(v))

    fn = _fresh(make)
    overdrive.enable(threshold=0)
    try:
        first = fn(1)
        C.__init__ = lambda self, v: setattr(self, "w", -v)
        second = fn(2)
        C.__init__ = lambda self, v: 7        # returns something else than None
        with pytest.raises(TypeError, match="should return None, not 'int'"):
            fn(3)
    finally:
        overdrive.disable()
    assert (first, second) == ({"v": 1}, {"w": -2})


class Chain:
    def __init__(self, n):
        self.next = Chain(n - 1) if n else None


def f_chain_depth(n):
    try:
        Chain(n)
    except RecursionError:     # (the message says which of a level's two checks failed)
        return "RecursionError"
    return "ok"


def test_py_init_counts_the_recursion_depth_as_the_interpreter(jit):
    # Each level is a C call (type_call) and a Python frame (__init__) in the interpreter:
    # with a limit of 300, 120 levels pass and 160 do not, compiled or not.
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        for n in (120, 160):
            overdrive.disable()
            expected = f_chain_depth(n)
            fn = _fresh(f_chain_depth)
            overdrive.enable(threshold=0)
            try:
                got = [fn(n) for _ in range(3)]
            finally:
                overdrive.disable()
            assert got == [expected] * 3, (n, got, expected)
        assert f_chain_depth(160) == "RecursionError" and f_chain_depth(120) == "ok"
    finally:
        sys.setrecursionlimit(limit)
    if runs_tier1(fn) and not COMPACT_FORCED:
        assert "py_init" in _forms(Chain.__init__), _forms(Chain.__init__)
