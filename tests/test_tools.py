"""The tools for seeing what the JIT does: dis, dis_native, dump_native, the log, perf maps,
and native profilers (py-spy) reading compiled frames. Each test checks real output."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import _overdrive
import overdrive
from conftest import full_tier, tier1_only_because

SRC = Path(__file__).resolve().parent.parent / "src"


def _env(extra=None):
    """Environment for a child Python that imports overdrive from where this one did."""
    env = dict(os.environ)
    for k in ("OVERDRIVE", "OVERDRIVE_LOG", "OVERDRIVE_LOG_FILE", "OVERDRIVE_PERF_MAP"):
        env.pop(k, None)
    roots = [os.path.dirname(os.path.dirname(os.path.abspath(overdrive.__file__))),
             os.path.dirname(os.path.abspath(_overdrive.__file__))]
    env["PYTHONPATH"] = os.pathsep.join(roots + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra or {})
    return env


def _run_child(tmp_path, source, extra_env=None, timeout=60):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=_env(extra_env), timeout=timeout, cwd=tmp_path)


@pytest.fixture
def tools_off():
    """Leave the log and the perf map as they were (off) whatever the test did."""
    yield
    overdrive.config(log="", log_file=None, perf_map=False)


# ---- functions the tests look at ---------------------------------------------------------

class Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def scale(v):
    return v * 2


def norm1(points):
    total = 0
    for p in points:
        total += abs(p.x) + scale(p.y)
    return total


def classify(obj):
    # `except*` is still an exit to the interpreter in tier 1 (CHECK_EG_MATCH).
    kind = "other"
    try:
        raise ExceptionGroup("g", [obj])
    except* ValueError:
        kind = "value"
    return kind


def _fresh(fn):
    """A copy of fn with its own code object, so its inline caches and counters start at
    zero whatever other tests ran before."""
    import types

    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _run_compiled(fn, *args, times=1):
    overdrive.enable(threshold=0)
    try:
        for _ in range(times):
            result = fn(*args)
    finally:
        overdrive.disable()
    assert overdrive.info(fn)["compiled"]
    return result


def _line_of(fn, text):
    """Source line number of the first line of fn that contains `text`."""
    import inspect

    lines, start = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(f"{text!r} not in {fn.__name__}")


def _line_in(source, text):
    """Line number of `text` in a child script written from `source` by _run_child."""
    lines = textwrap.dedent(source).splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def _row(text, opname):
    rows = [line for line in text.splitlines() if re.search(rf"\s\d+\s+{opname}\b", line)]
    assert rows, f"no {opname} row in:\n{text}"
    return rows[0]


# ---- _native_map / _helper_symbols ---------------------------------------------------------

def test_helper_symbols_name_every_function_compiled_code_calls():
    """Every od_call_abs target in tier1/*.c and every helper of the OD_HELPER_OPS
    table must have a name, or dis_native would show a bare address."""
    if not (SRC / "tier1" / "compile.c").exists():
        pytest.skip("source tree not available next to the tests")
    names = set(_overdrive._helper_symbols().values())
    compile_c = "".join(p.read_text() for p in sorted((SRC / "tier1").glob("*.c")))
    helpers_h = (SRC / "runtime" / "helpers.h").read_text()
    table = helpers_h[helpers_h.index("#define OD_HELPER_OPS"):]
    table = table[:table.index("\n\n")]
    helper_ops = set(re.findall(r"X\((od_rt_\w+),", table))
    called = set()
    for stmt in re.findall(r"od_call_abs\([^;]*;", compile_c):
        called.update(re.findall(r"\(const void \*\)\s*(\w+)", stmt))
    called.discard("fn")  # the helper chosen from the OD_HELPER_OPS table
    assert len(helper_ops) > 50 and {"PyObject_IsTrue", "od_rt_error"} <= called
    assert helper_ops <= names, sorted(helper_ops - names)
    assert called <= names, sorted(called - names)
    assert len(names) == len(_overdrive._helper_symbols())  # one address per name


@tier1_only_because("per-instruction native map (a tier-2 unit has none)")
def test_native_map_matches_info_and_bytecode():
    norm1 = _fresh(globals()["norm1"])
    _run_compiled(norm1, [Point(1, 2)])
    native = _overdrive._native_map(norm1)
    info = overdrive.info(norm1)
    assert native["address"] == info["native_address"] and native["address"] != 0
    assert len(native["code"]) == native["code_size"] == info["code_size"]
    import dis
    ops = [(i.offset, i.opname) for i in dis.get_instructions(norm1) if i.opname != "EXTENDED_ARG"]
    assert [(i["op_offset"], i["opname"]) for i in native["instructions"]] == ops
    starts = [i["native_offset"] for i in native["instructions"]]
    assert all(0 <= s < native["code_size"] for s in starts)
    # The entry is shared by all units (tier1/compile.c emit_shared_entry): a unit's code
    # starts with its first instruction, or with a resume dispatch (`test rcx, rcx`) first.
    assert starts[0] == 0 or native["code"][:3] == b"\x48\x85\xc9", native["code"][:8]
    assert starts == sorted(starts)
    assert _overdrive._native_map(lambda: 0) is None  # never compiled


@tier1_only_because("inline caches as the native map reports them")
def test_native_map_reports_cache_contents():
    norm1 = _fresh(globals()["norm1"])
    _run_compiled(norm1, [Point(1, 2), Point(-3, 4)], times=2)  # 4 iterations, 1 miss
    by_op = {}
    for ins in _overdrive._native_map(norm1)["instructions"]:
        by_op.setdefault(ins["opname"], []).append(ins["cache"])
    attr = by_op["LOAD_ATTR"][0]
    assert attr["kind"] == "attr" and attr["name"] == "x"
    assert [(e["type"], e["kind"], e["hits"], e["misses"]) for e in attr["entries"]] == \
        [(Point, "INSTANCE_VALUE", 3, 1)]
    glob = by_op["LOAD_GLOBAL"][0]
    assert (glob["name"], glob["valid"], glob["value"]) == ("abs", True, abs)
    assert glob["hits"] + glob["misses"] == 4
    add = [c for c in by_op["BINARY_OP"] if c["left"] is int]
    assert add and all(c["right"] is int and c["inline"] + c["fast"] + c["slow"] == 4 for c in add)
    call = by_op["CALL"]
    assert {c["callee_type"] for c in call} == {type(abs), type(scale)}
    py_call = [c for c in call if c["callee_type"] is type(scale)][0]
    assert (py_call["calls"], py_call["py_calls"]) == (4, 4)


def sum_x(objs):
    total = 0
    for o in objs:
        total += o.x
    return total


@tier1_only_because("inline caches as the native map reports them")
def test_megamorphic_attr_site_stops_refilling():
    """A LOAD_ATTR site that meets a new receiver class at every step (email's header
    registry makes a class per header) stops refilling its entries after 32 evictions, and
    refills once every 1024 misses after that, so a later phase with one class is cached."""
    fn = _fresh(globals()["sum_x"])
    fresh = [type(f"C{i}", (), {"__init__": lambda self, i=i: setattr(self, "x", i)})()
             for i in range(300)]
    expected = sum(range(300))
    assert _run_compiled(fn, fresh) == expected

    def attr_entries():
        ins = [i for i in _overdrive._native_map(fn)["instructions"]
               if i["opname"] == "LOAD_ATTR"]
        return ins[0]["cache"]["entries"]

    names = [e["type"].__name__ for e in attr_entries()]
    # Four entries, none refilled with the last classes: fills stopped after 32 evictions.
    assert len(names) == 4 and max(int(n[1:]) for n in names) < 40, names
    one = type("Late", (), {"__init__": lambda self: setattr(self, "x", 7)})
    same = [one() for _ in range(2100)]
    assert _run_compiled(fn, same) == 7 * 2100
    entry = [e for e in attr_entries() if e["type"] is one]
    assert entry and entry[0]["hits"] > 1000, attr_entries()


@tier1_only_because("inline caches as the native map reports them")
def test_native_map_does_not_report_freed_types():
    def read_attr(o):
        return o.value

    class Temp:
        def __init__(self):
            self.value = 1

    _run_compiled(read_attr, Temp())
    entry = [i for i in _overdrive._native_map(read_attr)["instructions"] if i["opname"] == "LOAD_ATTR"][0]
    assert entry["cache"]["entries"][0]["type"] is Temp
    del Temp, entry
    import gc
    gc.collect()
    entry = [i for i in _overdrive._native_map(read_attr)["instructions"] if i["opname"] == "LOAD_ATTR"][0]
    seen = entry["cache"]["entries"][0]["type"]
    assert isinstance(seen, str) and seen.startswith("<freed type at 0x")


# ---- dis ----------------------------------------------------------------------------------

@tier1_only_because("dis: native ranges and caches per bytecode instruction")
def test_dis_shows_lines_native_ranges_caches_and_exits():
    norm1, classify = _fresh(globals()["norm1"]), _fresh(globals()["classify"])
    _run_compiled(norm1, [Point(1, 2), Point(-3, 4)], times=2)
    _run_compiled(classify, ValueError(), times=3)
    text = overdrive.dis_text(norm1)
    native = _overdrive._native_map(norm1)
    first_line, header = text.splitlines()[0], text.splitlines()[1]
    assert first_line == f"norm1  ({__file__}:{norm1.__code__.co_firstlineno})"
    assert f"tier 1: {native['code_size']} bytes of x86-64 at {native['address']:#x}" in header
    assert "exits to the interpreter: none" in text
    # Source lines: the row that starts a line carries its number.
    loop_line = _line_of(norm1, "total += abs(p.x)")
    assert re.search(rf"^\s+{loop_line}\s+\d+\s+LOAD_FAST", text, re.M)
    # Native ranges are the instruction starts of _native_map.
    attr = _row(text, "LOAD_ATTR")
    start = [i for i in native["instructions"] if i["opname"] == "LOAD_ATTR"][0]["native_offset"]
    assert re.search(rf"\+{start:#06x}\.\.\+0x[0-9a-f]{{4}}", attr), attr
    assert f".x: {__name__}.Point INSTANCE_VALUE 3 hits/1 miss" in attr
    assert "global abs -> builtin_function_or_method abs: " in _row(text, "LOAD_GLOBAL")
    assert "int + int (last seen): " in text
    assert "callee function (last seen): 4 calls, 4 to Python functions" in text
    # Exits: the unsupported instruction is marked, and the function's count is in the header.
    text = overdrive.dis_text(classify)
    assert "exits to the interpreter: 3 UNSUPPORTED_OPCODE (last at CHECK_EG_MATCH)" in text
    assert "EXIT to the interpreter: UNSUPPORTED_OPCODE (instruction not compiled by this tier)" \
        in _row(text, "CHECK_EG_MATCH")
    assert "EXIT" not in _row(text, "LOAD_GLOBAL")


def test_dis_of_functions_not_compiled():
    def never_run(a):
        return a + 1

    def star_except():
        try:
            pass
        except* ValueError:
            pass

    text = overdrive.dis_text(never_run)
    assert "not compiled: never executed with the JIT enabled" in text
    assert "BINARY_OP 0 (+)" in text and "(unreachable)" not in text
    text = overdrive.dis_text(star_except)
    assert "not compiled: never executed with the JIT enabled" in text
    assert "not supported by tier 1 (would exit to the interpreter)" in _row(text, "CHECK_EG_MATCH")


def test_dis_prints_to_stdout_or_file(capsys):
    _run_compiled(scale, 3)
    overdrive.dis(scale)
    out = capsys.readouterr().out
    buf = io.StringIO()
    overdrive.dis(scale, file=buf)
    assert out == buf.getvalue() == overdrive.dis_text(scale)
    assert "RETURN_VALUE" in out


# ---- dis_native --------------------------------------------------------------------------

@full_tier
@tier1_only_because("native code (its od_rt_* helpers, per-instruction map)")
def test_dis_native_names_helper_calls_and_interleaves_bytecode():
    pytest.importorskip("capstone", reason="capstone not installed: pip install 'overdrive[dis]'")
    norm1 = _fresh(globals()["norm1"])
    _run_compiled(norm1, [Point(1, 2)])
    text = overdrive.dis_native_text(norm1)
    native = _overdrive._native_map(norm1)
    asm = [line for line in text.splitlines() if re.match(r"^  [0-9a-f]+ \+[0-9a-f]{4}  ", line)]
    assert int(asm[0].split()[0], 16) == native["address"]   # the unit's code from its start
    assert any(line.split()[2] == "ret" for line in asm)
    calls = [line for line in asm if re.search(r"\bcall (rax|0x[0-9a-f]+)\b", line)]
    assert calls and all("; call " in line and "unknown" not in line for line in calls)
    for helper in ("od_rt_load_attr", "od_rt_load_global", "od_rt_binary_op", "od_rt_call",
                   "od_rt_for_iter", "od_rt_get_iter",
                   "od_tier1_direct_thunk"):   # scale(): `call [rip + constant]`, named
        assert f"; call {helper}" in text, helper
    # Bytecode and source lines interleaved, each before the code it compiled to.
    loop_line = _line_of(norm1, "total += abs(p.x)")
    i_line = text.index(f"; line {loop_line}: total += abs(p.x) + scale(p.y)")
    attr_off = [i for i in native["instructions"] if i["opname"] == "LOAD_ATTR"][0]
    assert f";   @{attr_off['offset']} LOAD_ATTR {attr_off['oparg']} (x)    [.x: " in text
    addr = native["address"] + attr_off["native_offset"]
    i_attr = text.index(f";   @{attr_off['offset']} LOAD_ATTR")
    assert text.index(f"  {addr:x} +{attr_off['native_offset']:04x}  ") > i_attr > i_line
    assert "; local total" in text and "; frame.prev_instr" in text
    assert "r14 = &eval_breaker" in text and "; epilogue: return to the entry" in text
    assert "; eval breaker: signals" in text and "; cframe.use_tracing" in text
    # Exit stubs name why they leave and where; error stubs where they unwind (descriptor
    # stubs, tier1/stub_thunk.c), or go to the shared error tail (the long form).
    assert "-> exit to the interpreter: HELPER_DEOPT at LOAD_ATTR" in text
    assert "error -> unwind at unit" in text
    assert "eval breaker at unit" in text


def test_dis_native_without_capstone_says_what_to_install(monkeypatch):
    _run_compiled(scale, 3)
    monkeypatch.setitem(sys.modules, "capstone", None)  # makes `import capstone` fail
    with pytest.raises(ImportError, match=r"pip install 'overdrive\[dis\]'"):
        overdrive.dis_native(scale)
    # dis() itself does not need capstone.
    assert "RETURN_VALUE" in overdrive.dis_text(scale)


def test_dis_native_of_uncompiled_function_says_why():
    def never_run():
        return 1

    with pytest.raises(ValueError, match="is not compiled: never executed"):
        overdrive.dis_native(never_run)


# ---- dump_native -------------------------------------------------------------------------

@tier1_only_because("sidecar of per-instruction native offsets")
def test_dump_native_writes_code_and_sidecar(tmp_path):
    norm1 = _fresh(globals()["norm1"])
    _run_compiled(norm1, [Point(1, 2)])
    native = _overdrive._native_map(norm1)
    side = overdrive.dump_native(norm1, tmp_path / "norm1.bin")
    assert side == str(tmp_path / "norm1.bin.json")
    assert (tmp_path / "norm1.bin").read_bytes() == native["code"]
    meta = json.loads(Path(side).read_text())
    assert meta["load_address"] == native["address"] and meta["code_size"] == native["code_size"]
    assert meta["load_address_hex"] == hex(native["address"])
    assert meta["function"] == "norm1" and meta["tier"] == 1
    assert [i["native_start"] for i in meta["instructions"]] == \
        [i["native_offset"] for i in native["instructions"]]
    assert {int(a, 16) for a in meta["helpers"]} == set(_overdrive._helper_symbols())
    loop_line = _line_of(norm1, "total += abs(p.x)")
    assert any(i["opname"] == "LOAD_ATTR" and i["line"] == loop_line for i in meta["instructions"])
    objdump = shutil.which("objdump")
    if objdump:  # an independent disassembler agrees on the dumped bytes
        out = subprocess.run(meta["objdump"].split(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert f"{native['address']:x}:" in out.stdout and "ret" in out.stdout


# ---- log ---------------------------------------------------------------------------------

LOG_CHILD = """
    import json, overdrive

    class P:
        __match_args__ = ("x",)
        def __init__(self, x):
            self.x = x

    def pick(o):
        hit = 0
        try:
            raise ExceptionGroup("g", [o])
        except* ValueError:
            hit = 1
        return hit

    overdrive.enable(threshold=0)
    pick(ValueError(1)); pick(ValueError(2)); pick(ValueError(3))
    overdrive.disable()
    print(json.dumps(overdrive.info(pick)))
"""


@tier1_only_because("compile and exit log lines of a function whose except* handler it leaves "
                    "to the interpreter (tier 2 compiles it too)")
def test_log_reports_compiles_and_exits(tmp_path):
    r = _run_child(tmp_path, LOG_CHILD, {"OVERDRIVE_LOG": "compile,exit"})
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    lines = list(overdrive.log.parse(r.stderr))
    script = str(tmp_path / "child.py")
    compiled = [l for l in lines if l.event == "compile" and l.function == "pick"]
    assert len(compiled) == 1
    assert compiled[0].filename == script and compiled[0].line == _line_in(LOG_CHILD, "def pick")
    assert re.fullmatch(rf"tier 1: {info['code_size']} bytes, \d+ instructions, [\d.]+ us",
                        compiled[0].detail), compiled[0].detail
    exits = [l for l in lines if l.event == "exit"]
    assert len(exits) == 3 == info["exits"]["UNSUPPORTED_OPCODE"]
    for e in exits:
        assert (e.function, e.filename, e.line) == ("pick", script, _line_in(LOG_CHILD, "except* ValueError"))
        assert re.fullmatch(r"at offset \d+ CHECK_EG_MATCH: UNSUPPORTED_OPCODE "
                            r"\(instruction not compiled by this tier\)", e.detail), e.detail


@tier1_only_because("exit log lines at its except* handler (tier 2's exit is at the raise)")
def test_log_only_what_is_asked_and_to_a_file(tmp_path, tools_off):
    classify = _fresh(globals()["classify"])
    path = tmp_path / "jit.log"
    assert overdrive.config(log="exit", log_file=path)["log_file"] == str(path)
    _run_compiled(classify, ValueError(), times=2)
    first = list(overdrive.log.parse(path.read_text()))
    assert [(l.event, l.function) for l in first] == [("exit", "classify")] * 2
    assert first[0].line == _line_of(classify, "except* ValueError")
    overdrive.config(log="")
    _run_compiled(classify, ValueError())
    assert list(overdrive.log.parse(path.read_text())) == first


def test_log_to_stderr(capfd, tools_off):
    def fresh(a):
        return a - 1

    overdrive.config(log="compile")
    _run_compiled(fresh, 5)
    err = capfd.readouterr().err
    compiles = 2 if overdrive.info(fresh)["tier"] == 2 else 1     # tier 1's, then tier 2's
    assert [l.function for l in overdrive.log.parse(err)] == [fresh.__qualname__] * compiles


def test_log_and_perf_map_options_are_validated(tmp_path, tools_off):
    with pytest.raises(ValueError, match=r"option 'log' must be .*'compile', 'exit'.*got 'compile,bogus'"):
        overdrive.config(log="compile,bogus")
    with pytest.raises(TypeError, match=r"option 'log' must be .* not list"):
        overdrive.config(log=["compile"])
    with pytest.raises(TypeError, match=r"option 'log_file' must be a path .* not int"):
        overdrive.config(log_file=3)
    with pytest.raises(TypeError, match=r"option 'perf_map' must be True or False.* not str"):
        overdrive.config(perf_map="yes")
    with pytest.raises(ValueError, match=r"option 'log_file' must be a file that can be opened "
                       r"for appending, got '.*dir\.log' \(No such file or directory\)"):
        overdrive.config(log="exit", log_file=tmp_path / "no" / "such" / "dir.log")
    assert overdrive.config()["log"] == ""  # nothing applied after the failure
    assert overdrive.config(log=" exit ,compile,exit")["log"] == "compile,exit"
    # A bad variable is one line on stderr, the import succeeds (tests/test_options.py).
    r = _run_child(tmp_path, "import overdrive; print(overdrive.config()['log'] == '')",
                   {"OVERDRIVE_LOG": "compiles"})
    assert r.returncode == 0 and r.stdout == "True\n"
    assert r.stderr == ("overdrive: OVERDRIVE_LOG must be a comma-separated str of events from "
                        "'compile', 'exit' (or '' to switch the log off), got 'compiles'; "
                        "ignored, the log stays off\n")
    r = _run_child(tmp_path, "import overdrive", {"OVERDRIVE_PERF_MAP": "maybe"})
    assert r.returncode == 0 and r.stderr.startswith("overdrive: OVERDRIVE_PERF_MAP must be 1 or 0")


# ---- perf maps ---------------------------------------------------------------------------

PERF_CHILD = """
    import json, os, _overdrive, overdrive

    def work(n):
        s = 0
        for i in range(n):
            s += i * i
        return s

    overdrive.enable(threshold=0)
    work(100)
    overdrive.disable()
    m = _overdrive._native_map(work)
    print(json.dumps({"pid": os.getpid(), "address": m["address"], "size": m["code_size"],
                      "starts": [m["address"] + i["native_offset"] for i in m["instructions"]]}))
"""


def _take_map(pid):
    """Entries of a child's perf map, removing the file (it is the test's, not perf's)."""
    entries = overdrive.perfmap.read(pid)
    try:
        os.unlink(overdrive.perfmap.path(pid))
    except FileNotFoundError:
        pass
    return entries


@tier1_only_because("per-instruction native map, checked against the perf map")
def test_perf_map_lists_compiled_function_at_its_code(tmp_path):
    r = _run_child(tmp_path, PERF_CHILD, {"OVERDRIVE_PERF_MAP": "1"})
    assert r.returncode == 0, r.stderr
    child = json.loads(r.stdout)
    entries = _take_map(child["pid"])
    name = f"py::work:{tmp_path / 'child.py'}:{_line_in(PERF_CHILD, 'def work')}"
    mine = [e for e in entries if e.name == name]
    assert len(mine) == 1, entries
    assert (mine[0].start, mine[0].size) == (child["address"], child["size"])
    assert all(a in mine[0] for a in child["starts"])


@tier1_only_because("per-instruction native map, checked against the perf map")
def test_perf_map_off_by_default_and_late_switch_lists_earlier_code(tmp_path):
    # a dead process's map under this pid (pids are reused) goes first, before anything of
    # overdrive runs, so that the check below sees only what this process wrote
    late = """
    import os
    if os.path.lexists(f"/tmp/perf-{os.getpid()}.map"):
        os.remove(f"/tmp/perf-{os.getpid()}.map")
    """ + PERF_CHILD + """
    assert not os.path.exists(overdrive.perfmap.path())
    overdrive.config(perf_map=True)
    """
    r = _run_child(tmp_path, late)
    assert r.returncode == 0, r.stderr
    child = json.loads(r.stdout)
    mine = [e for e in _take_map(child["pid"]) if e.name.startswith("py::work:")]
    assert [(e.start, e.size) for e in mine] == [(child["address"], child["size"])]


THUNK_CHILD = """
    import json, os, overdrive
    if os.path.lexists(f"/tmp/perf-{os.getpid()}.map"):
        os.remove(f"/tmp/perf-{os.getpid()}.map")

    def leaf(a, b):
        return a + b

    def caller(n):
        s = 0
        for i in range(n):
            s = leaf(s, i)
        return s

    overdrive.enable(threshold=0)
    caller(50)
    overdrive.disable()
    print(json.dumps({"pid": os.getpid(), "direct": overdrive.stats()["calls_direct"]}))
"""


@tier1_only_because("tier 1's direct-call thunk")
def test_perf_map_names_the_shared_call_thunk(tmp_path):
    # Code that is no unit's (asm/codemem.h od_codemem_name) is in the map under its name,
    # once, apart from the units' entries.
    # full units (compact ones, OVERDRIVE_COMPACT=all, call through C, not the thunk)
    r = _run_child(tmp_path, THUNK_CHILD, {"OVERDRIVE_PERF_MAP": "1", "OVERDRIVE_COMPACT": "0"})
    assert r.returncode == 0, r.stderr
    child = json.loads(r.stdout)
    assert child["direct"] > 0                      # the thunk made the calls
    entries = _take_map(child["pid"])
    thunks = [e for e in entries if e.name == "overdrive::tier1_direct_call_thunk"]
    assert len(thunks) == 1 and thunks[0].size > 100, entries
    units = [e for e in entries if e.name.startswith("py::")]
    assert units and not any(thunks[0].start in e or e.start in thunks[0] for e in units)


def test_perf_map_of_forked_worker_is_its_own(tmp_path):
    forking = """
        import json, os, overdrive

        def in_parent():
            return 1

        def in_worker():
            return 2

        overdrive.enable(threshold=0)
        in_parent()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            in_worker()
            os.write(w, json.dumps(overdrive.info(in_worker)["native_address"]).encode())
            os._exit(0)
        os.close(w)
        addr = json.loads(os.read(r, 100))
        os.waitpid(pid, 0)
        print(json.dumps({"parent": os.getpid(), "worker": pid, "addr": addr}))
    """
    r = _run_child(tmp_path, forking, {"OVERDRIVE_PERF_MAP": "1"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    parent = {e.name.split(":")[2] for e in _take_map(out["parent"])}
    worker = _take_map(out["worker"])
    assert "in_parent" in parent and "in_worker" not in parent
    # (the stress mode compiles it twice: tier 1's code, then tier 2's, which it runs)
    assert [e.start for e in worker if e.name.startswith("py::in_worker:")][-1:] == [out["addr"]]


# ---- py-spy ------------------------------------------------------------------------------

SPIN_CHILD = """
    import json, signal, sys, time, overdrive

    stop = False

    def on_usr1(signum, frame):
        global stop
        stop = True

    def spin(deadline):
        n = 0
        while not stop and time.monotonic() < deadline: n += 1
        return n

    def main():
        overdrive.enable(threshold=0)
        print("ready", flush=True)
        spin(time.monotonic() + 60)
        overdrive.disable()
        print(json.dumps(overdrive.info(spin)), flush=True)

    signal.signal(signal.SIGUSR1, on_usr1)
    main()
"""


def test_py_spy_dumps_compiled_frames(tmp_path):
    # Next to this interpreter first: a virtualenv's bin/ is not on PATH unless activated.
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    py_spy = beside if os.access(beside, os.X_OK) else shutil.which("py-spy")
    if py_spy is None:
        pytest.skip("py-spy is not installed (pip install py-spy, or the tools-test extra)")
    script = tmp_path / "spin.py"
    script.write_text(textwrap.dedent(SPIN_CHILD))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout.readline().strip() == "ready"
        for _ in range(10):  # until spin() has started; bounded for a loaded machine
            time.sleep(0.2)
            dump = subprocess.run([py_spy, "dump", "--pid", str(proc.pid)], capture_output=True,
                                  text=True, timeout=60)
            if dump.returncode != 0:
                reason = (dump.stderr or dump.stdout).strip().splitlines()
                if any(w in " ".join(reason) for w in ("Permission denied", "Operation not permitted",
                                                       "ptrace")):
                    pytest.skip(f"py-spy cannot attach here (ptrace not permitted): {reason[:3]}")
                pytest.fail(f"py-spy dump failed: {dump.stderr}")
            if "spin (" in dump.stdout:
                break
        proc.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    info = json.loads(out.strip().splitlines()[-1])
    # spin ran in compiled code the whole time: one native entry, no exit to the interpreter.
    assert info["compiled"] and info["native_entries"] == 1 and info["exits"] == {}, info
    spin_line = _line_in(SPIN_CHILD, "while not stop")
    main_line = _line_in(SPIN_CHILD, "spin(time.monotonic() + 60)")
    # py-spy prints the file's base name (the full path with --full-filenames).
    assert re.search(rf"^\s+spin \((.*/)?spin\.py:{spin_line}\)$", dump.stdout, re.M), dump.stdout
    assert re.search(rf"^\s+main \((.*/)?spin\.py:{main_line}\)$", dump.stdout, re.M), dump.stdout
    assert dump.stdout.index("spin (") < dump.stdout.index("main (")  # innermost first
