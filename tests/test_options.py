"""Option limits and start-up errors (issue 14): every out-of-range option is refused with a
TypeError/ValueError naming it and what is accepted, a refused call changes nothing (Python,
C, log, perf map), the C core refuses what it cannot hold instead of truncating it, and every
problem at start-up (a bad OVERDRIVE* variable, a log or stats file that cannot be opened, a
C extension that does not load) is one line on stderr while the program runs unaffected."""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import needs_pth

import _overdrive
import overdrive

TESTS = Path(__file__).resolve().parent

THRESHOLD = ("an int from 0 to 2147483647 = 2**31-1 (interpreted calls before a function is "
             "compiled; 0 compiles everything on first execution)")
MAX_CODE = ("an int from 4096 to 140737488355328 = 2**47 (bytes of executable memory for "
            "compiled code)")
RECOMPILE = ("an int from 0 to 9223372036854775807 = 2**63-1 (native entries after which a "
             "function is compiled once more from what its caches recorded; 0 never recompiles)")
TIER2 = ("an int from -1 to 2147483647 = 2**31-1 (frame entries after which a compiled "
         "function is compiled again by the optimizing tier 2; -1 never, 0 at the first call)")
LOG = "a comma-separated str of events from 'compile', 'exit' (or '' to switch the log off)"
BOOL_WORDS = "1 or 0 (or true/false, yes/no, on/off)"


@pytest.fixture
def restore_config():
    before = overdrive.config()
    yield
    overdrive.config(**before)


def _state():
    """Everything a refused call must leave alone: config(), the C core's values, the log
    (events and the very descriptor it writes to) and the perf map."""
    return overdrive.config(), _overdrive._get_config()


# ---- limits of config() -------------------------------------------------------------------

@pytest.mark.parametrize("name, value, accepted", [
    ("max_code_bytes", 2**64, MAX_CODE),           # was stored as 0 in C: nothing compiled
    ("max_code_bytes", 2**64 + 8192, MAX_CODE),    # was stored as 8192
    ("max_code_bytes", 2**47 + 1, MAX_CODE),
    ("max_code_bytes", 4095, MAX_CODE),
    ("recompile_after", 2**64 + 2, RECOMPILE),     # was stored as 2
    ("recompile_after", 2**63, RECOMPILE),
    ("recompile_after", -1, RECOMPILE),
    ("tier2_threshold", -2, TIER2),
    ("tier2_threshold", 2**31, TIER2),
    ("threshold", 2**31, THRESHOLD),               # was OverflowError naming no option
    ("threshold", 2**64, THRESHOLD),
    ("threshold", -1, THRESHOLD),
])
def test_out_of_range_options_are_refused_naming_the_option(restore_config, name, value, accepted):
    before = _state()
    with pytest.raises(ValueError) as info:
        overdrive.config(**{name: value})
    assert str(info.value) == f"option {name!r} must be {accepted}, got {value!r}"
    assert _state() == before


def test_bounds_are_accepted_and_reach_the_c_core(restore_config):
    top = overdrive.config(threshold=2**31 - 1, max_code_bytes=2**47, recompile_after=2**63 - 1)
    c = _overdrive._get_config()
    assert (c["threshold"], c["max_code_bytes"], c["code_memory_limit"], c["recompile_after"]) \
        == (2**31 - 1, 2**47, 2**47, 2**63 - 1)
    assert (top["threshold"], top["max_code_bytes"], top["recompile_after"]) == (2**31 - 1, 2**47, 2**63 - 1)
    overdrive.config(threshold=0, max_code_bytes=4096, recompile_after=0)
    c = _overdrive._get_config()
    assert (c["threshold"], c["max_code_bytes"], c["recompile_after"]) == (0, 4096, 0)


def test_a_refused_call_does_not_switch_the_log_on(restore_config):
    """config(log=..., threshold=2**31) switched the log on, then raised OverflowError, and
    config()["log"] still said ''."""
    overdrive.config(log="", log_file=None)
    before = _state()
    with pytest.raises(ValueError, match=r"^option 'threshold' must be an int from 0 to 2147483647"):
        overdrive.config(log="compile", threshold=2**31)
    assert _state() == before
    assert not _overdrive._get_config()["log_compile"]


def test_a_refused_call_leaves_an_open_log_alone(tmp_path, restore_config):
    overdrive.config(log="compile", log_file=tmp_path / "jit.log")
    before = _state()
    assert before[1]["log_fd"] >= 0
    for bad in ({"log": "exit", "max_code_bytes": 2**64},
                {"log_file": tmp_path / "other.log", "recompile_after": 2**64 + 2},
                {"log": "exit", "log_file": "/proc/version"},
                {"log_file": tmp_path / "no" / "such" / "dir.log"},
                {"perf_map": True, "threshold": 2.0}):
        with pytest.raises((TypeError, ValueError)):
            overdrive.config(**bad)
        assert _state() == before, bad
    assert not (tmp_path / "other.log").exists()


@pytest.mark.parametrize("path, reason", [("/proc/version", "Invalid argument"),
                                          ("/nonexistent/dir/x", "No such file or directory")])
def test_a_log_file_that_cannot_be_opened_names_option_and_path(restore_config, path, reason):
    before = _state()
    with pytest.raises(ValueError) as info:
        overdrive.config(log="compile", log_file=path)
    assert str(info.value) == (f"option 'log_file' must be a file that can be opened for "
                               f"appending, got {path!r} ({reason})")
    assert _state() == before
    # Set while the log is off, the file is not opened yet: switching the log on names it.
    overdrive.config(log="", log_file=path)
    with pytest.raises(ValueError) as info:
        overdrive.config(log="exit")
    assert str(info.value) == (f"option 'log' cannot be switched on: option 'log_file' must be "
                               f"a file that can be opened for appending, got {path!r} ({reason})")


def test_huge_and_odd_values_name_the_option(restore_config):
    with pytest.raises(ValueError, match=r"^option 'threshold' must be .*, got an int of 20001 bits$"):
        overdrive.config(threshold=2**20000)       # no str() of the int: 3.11 limits its digits
    with pytest.raises(TypeError, match=r"^option 'max_code_bytes' must be .*, not float$"):
        overdrive.config(max_code_bytes=float("nan"))
    with pytest.raises(TypeError, match=r"^option 'log_file' must be .*, not bytes$"):
        overdrive.config(log_file=b"/tmp/x")

    class Raising(os.PathLike):
        def __fspath__(self):
            raise RuntimeError("no path")

    with pytest.raises(TypeError, match=r"^option 'log_file' must be .*RuntimeError: no path"):
        overdrive.config(log_file=Raising())
    with pytest.raises(ValueError, match=r"^option 'log_file' must be .*, got 'a\\x00b'$"):
        overdrive.config(log_file="a\0b")


# ---- the C core's own checks (defence in depth) ------------------------------------------

@pytest.mark.parametrize("args, message", [
    ((2**31, 512 << 20, 1000), "_set_config: threshold must be an int from 0 to 2147483647, got 2147483648"),
    ((-1, 512 << 20, 1000), "_set_config: threshold must be an int from 0 to 2147483647, got -1"),
    ((1, 2**64, 1000), "_set_config: max_code_bytes must be an int from 4096 to 140737488355328, got 18446744073709551616"),
    ((1, 2**64 + 8192, 1000), "_set_config: max_code_bytes must be an int from 4096 to 140737488355328, got 18446744073709559808"),
    ((1, 0, 1000), "_set_config: max_code_bytes must be an int from 4096 to 140737488355328, got 0"),
    ((1, 512 << 20, 2**64 + 2), "_set_config: recompile_after must be an int from 0 to 9223372036854775807, got 18446744073709551618"),
    ((1, 512 << 20, -1), "_set_config: recompile_after must be an int from 0 to 9223372036854775807, got -1"),
    ((2**20000, 512 << 20, 1000), "_set_config: threshold must be an int from 0 to 2147483647, got an int of 20001 bits"),
])
def test_c_set_config_refuses_what_it_cannot_hold(args, message):
    before = _overdrive._get_config()
    with pytest.raises(ValueError) as info:
        _overdrive._set_config(*args)
    assert str(info.value) == message
    assert _overdrive._get_config() == before


def test_limits_are_the_documented_ones():
    assert _overdrive.LIMITS == {"threshold": (0, 2**31 - 1), "max_code_bytes": (4096, 2**47),
                                 "recompile_after": (0, 2**63 - 1),
                                 "tier2_threshold": (-1, 2**31 - 1)}


def test_c_set_config_refuses_non_ints():
    before = _overdrive._get_config()
    for args in ((1.0, 512 << 20, 1000), (True, 512 << 20, 1000), (1, "4096", 1000), (1, 4096, None)):
        with pytest.raises(TypeError, match=r"^_set_config: \w+ must be an int, not "):
            _overdrive._set_config(*args)
    assert _overdrive._get_config() == before


def test_c_set_log_refuses_bad_descriptors(restore_config):
    before = _overdrive._get_config()
    for fd in (-1, 2**31, 2**64):
        with pytest.raises(ValueError, match=r"^_set_log: fd must be an int from 0 to 2147483647"):
            _overdrive._set_log(True, False, fd)
    with pytest.raises(TypeError, match=r"^_set_log: fd must be an int"):
        _overdrive._set_log(True, False, 2.0)
    assert _overdrive._get_config() == before


# ---- the perf map: a refused switch leaves it off ----------------------------------------

def test_perf_map_that_cannot_be_written_is_refused_and_left_off(tmp_path):
    child = """
        import os, _overdrive, overdrive
        def f(a):
            return a + 1
        overdrive.compile(f)
        path = overdrive.perfmap.path()
        if os.path.lexists(path):      # a dead process's map (pids are reused); not ours yet
            os.remove(path)
        os.mkdir(path)                 # the map cannot be opened: a directory is in the way
        try:
            try:
                overdrive.config(perf_map=True, threshold=7)
            except ValueError as e:
                print("refused:", e)
            print(overdrive.config()["perf_map"], overdrive.config()["threshold"],
                  _overdrive._get_config()["perf_map"], _overdrive._get_config()["threshold"])
        finally:
            os.rmdir(path)
    """
    r = _run(tmp_path, child)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    out = r.stdout.splitlines()
    assert re.fullmatch(r"refused: option 'perf_map' cannot be switched on: cannot append to "
                        r"/tmp/perf-\d+\.map \(Is a directory\)", out[0]), out
    assert out[1] == "False 200 False 200"


# ---- fuzz ---------------------------------------------------------------------------------

def test_config_fuzz(tmp_path):
    """A few thousand random config() calls against a model (tests/_config_fuzz.py), in a
    fresh process: accepted calls reach Python and C exactly, refused ones change nothing."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, str(TESTS / "_config_fuzz.py"), "1414", "4000",
                        str(tmp_path)], capture_output=True, text=True, env=_env(), timeout=120,
                       cwd=tmp_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    m = re.fullmatch(r"ok 4000 calls: (\d+) accepted, (\d+) refused\n", r.stdout)
    assert m, r.stdout
    assert int(m.group(1)) > 500 and int(m.group(2)) > 500, r.stdout   # both sides explored
    assert r.stderr == ""
    # CPU time, not wall time: the machine may be shared (about 0.4 s when it is not).
    assert cpu < 5, f"the fuzz took {cpu:.1f}s of CPU"


# ---- start-up: environment variables ------------------------------------------------------

def _env(extra=None, path_first=()):
    """Environment for a child Python that imports overdrive (and the autoload guard) from
    this tree, with no OVERDRIVE* variable but those in `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    roots = [str(p) for p in path_first] + [
        os.path.dirname(os.path.dirname(os.path.abspath(overdrive.__file__))),
        os.path.dirname(os.path.abspath(_overdrive.__file__))]
    env["PYTHONPATH"] = os.pathsep.join(roots)
    env.update(extra or {})
    return env


def _run(tmp_path, source, extra_env=None, args=(), path_first=()):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, *args, str(script)], capture_output=True, text=True,
                          env=_env(extra_env, path_first), timeout=60, cwd=tmp_path)


# The program under test: its output must not change whatever the start-up problem.
PROGRAM = """
    import json, sys
    def work(n):
        s = 0
        for i in range(n):
            s += i
        return s
    print(work(1000))
    if "_overdrive" in sys.modules:     # the autoload loaded the C core
        import overdrive
        print(overdrive.is_enabled(), json.dumps(overdrive.config(), sort_keys=True))
"""
DEFAULTS = {"log": "", "log_file": None, "max_code_bytes": 512 << 20, "perf_map": False,
            "recompile_after": 1000, "threshold": 200,
            # tier 2 is off unless the environment (the stress mode) switches it on
            "tier2_threshold": -1}


def _expect(r, stderr_lines, enabled, **config):
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == stderr_lines
    assert r.stderr.endswith("\n") or not stderr_lines
    want = ["499500"]
    if enabled is not None:
        want.append(f"{enabled} {json.dumps(dict(DEFAULTS, **config), sort_keys=True)}")
    assert r.stdout.splitlines() == want


@needs_pth
@pytest.mark.parametrize("env, line, config", [
    ({"OVERDRIVE_LOG": "bogus"},
     f"OVERDRIVE_LOG must be {LOG}, got 'bogus'; ignored, the log stays off", {}),
    ({"OVERDRIVE_LOG": "compile", "OVERDRIVE_LOG_FILE": "/nonexistent/dir/x"},
     "OVERDRIVE_LOG_FILE must be a file that can be opened for appending, got "
     "'/nonexistent/dir/x' (No such file or directory); ignored, the log stays off", {}),
    ({"OVERDRIVE_LOG": "exit", "OVERDRIVE_LOG_FILE": "/proc/version"},
     "OVERDRIVE_LOG_FILE must be a file that can be opened for appending, got "
     "'/proc/version' (Invalid argument); ignored, the log stays off", {}),
    ({"OVERDRIVE_THRESHOLD": "-1"},
     f"OVERDRIVE_THRESHOLD must be {THRESHOLD}, got '-1'; ignored, the threshold stays 200", {}),
    ({"OVERDRIVE_THRESHOLD": str(2**31)},
     f"OVERDRIVE_THRESHOLD must be {THRESHOLD}, got '2147483648'; ignored, the threshold stays 200", {}),
    ({"OVERDRIVE_THRESHOLD": "ten"},
     f"OVERDRIVE_THRESHOLD must be {THRESHOLD}, got 'ten'; ignored, the threshold stays 200", {}),
    ({"OVERDRIVE_PERF_MAP": "maybe"},
     f"OVERDRIVE_PERF_MAP must be {BOOL_WORDS}, got 'maybe'; ignored, the perf map stays off", {}),
    ({"OVERDRIVE_STATS_FILE": "/nonexistent/dir/s.jsonl"},
     "OVERDRIVE_STATS_FILE must be a file that can be opened for appending, got "
     "'/nonexistent/dir/s.jsonl' (No such file or directory); ignored, no stats are written", {}),
    ({"OVERDRIVE_THRESHOLD": "0", "OVERDRIVE_LOG": "compile,exit", "OVERDRIVE_LOG_FILE": "jit.log"},
     None, {"threshold": 0, "log": "compile,exit", "log_file": "jit.log"}),
])
def test_autoload_problem_is_one_line_and_the_program_runs(tmp_path, env, line, config):
    r = _run(tmp_path, PROGRAM, dict(env, OVERDRIVE="1"))
    _expect(r, [f"overdrive: {line}"] if line else [], True, **config)


@needs_pth
def test_autoload_several_problems_one_line_each(tmp_path):
    r = _run(tmp_path, PROGRAM, {"OVERDRIVE": "1", "OVERDRIVE_LOG": "bogus",
                                 "OVERDRIVE_THRESHOLD": "x", "OVERDRIVE_PERF_MAP": "1"})
    _expect(r, [f"overdrive: OVERDRIVE_LOG must be {LOG}, got 'bogus'; ignored, the log stays off",
                f"overdrive: OVERDRIVE_THRESHOLD must be {THRESHOLD}, got 'x'; ignored, the threshold stays 200"],
            True, perf_map=True)


@needs_pth
def test_autoload_bad_overdrive_value_leaves_the_jit_off(tmp_path):
    r = _run(tmp_path, PROGRAM, {"OVERDRIVE": "maybe"})
    _expect(r, [f"overdrive: OVERDRIVE must be {BOOL_WORDS}, got 'maybe'; ignored, the JIT stays off"],
            False)
    for off in ("0", "off", " No ", "FALSE"):
        # the .pth line loaded the C core (reading the value is its _autoload's job), which
        # left the JIT off without a word
        r = _run(tmp_path, PROGRAM, {"OVERDRIVE": off})
        _expect(r, [], False)
    r = _run(tmp_path, PROGRAM, {"OVERDRIVE": ""})
    _expect(r, [], None)                # an empty OVERDRIVE: the .pth line loads nothing


@needs_pth
def test_autoload_without_the_c_extension_reports_the_pth_line_and_the_program_runs(tmp_path):
    # A core that cannot be imported (a broken install; here a fake first on the path): the
    # .pth line fails, which site.py reports as for any .pth line, naming the file and the
    # error, and the program runs without the JIT.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "_overdrive.py").write_text("raise ImportError('no _overdrive in this test')\n")
    r = _run(tmp_path, PROGRAM, {"OVERDRIVE": "1"}, path_first=[fake])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["499500"]
    lines = r.stderr.splitlines()
    assert lines[0].startswith("Error processing line 1 of ") and \
        lines[0].endswith("overdrive-autoload.pth:"), r.stderr
    assert "ImportError: no _overdrive in this test" in r.stderr, r.stderr


@needs_pth
def test_autoload_stats_file_that_vanishes_before_exit(tmp_path):
    d = tmp_path / "stats"
    d.mkdir()
    program = textwrap.dedent(PROGRAM) + "import shutil; shutil.rmtree(%r)\n" % str(d)
    r = _run(tmp_path, program, {"OVERDRIVE": "1", "OVERDRIVE_STATS_FILE": str(d / "s.jsonl")})
    assert r.returncode == 0
    assert r.stderr.splitlines() == [
        f"overdrive: cannot append stats to OVERDRIVE_STATS_FILE {str(d / 's.jsonl')!r} "
        f"(No such file or directory)"]
    assert r.stdout.splitlines()[0] == "499500"


@pytest.mark.parametrize("how", [[], ["-m", "overdrive"]])
def test_plain_import_with_bad_variables_warns_and_works(tmp_path, how):
    """`import overdrive` (no autoload) and `python -m overdrive` behave as the autoload:
    the import succeeds, one line per bad variable, the option keeps its default."""
    env = {"OVERDRIVE_LOG": "compiles", "OVERDRIVE_PERF_MAP": "maybe",
           "OVERDRIVE_LOG_FILE": "/nonexistent/dir/x"}
    program = "import overdrive\n" + textwrap.dedent(PROGRAM)
    r = _run(tmp_path, program, env, args=how)
    _expect(r, [f"overdrive: OVERDRIVE_LOG must be {LOG}, got 'compiles'; ignored, the log stays off",
                f"overdrive: OVERDRIVE_PERF_MAP must be {BOOL_WORDS}, got 'maybe'; ignored, the perf map stays off"],
            bool(how))                  # both log variables ignored together
    r = _run(tmp_path, program, {"OVERDRIVE_LOG": "exit", "OVERDRIVE_LOG_FILE": "/nonexistent/dir/x"},
             args=how)
    _expect(r, ["overdrive: OVERDRIVE_LOG_FILE must be a file that can be opened for appending, "
                "got '/nonexistent/dir/x' (No such file or directory); ignored, the log stays off"],
            bool(how))


def test_command_line_threshold_is_checked(tmp_path):
    for value in ("-1", "2147483648", "x"):
        r = _run(tmp_path, PROGRAM, args=["-m", "overdrive", "--threshold", value])
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.splitlines()[0] == (f"python -m overdrive: --threshold must be "
                                            f"{THRESHOLD}, got {value!r}")
        assert "Traceback" not in r.stderr


def test_tier2_threshold_option_and_environment(tmp_path):
    before = overdrive.config()
    try:
        assert overdrive.config(tier2_threshold=5)["tier2_threshold"] == 5
        assert _overdrive._get_config()["tier2_threshold"] == 5
        assert overdrive.config(tier2_threshold=-1)["tier2_threshold"] == -1
    finally:
        overdrive.config(**before)
    env = dict(os.environ, OVERDRIVE_TIER2_THRESHOLD="7")
    out = subprocess.run([sys.executable, "-c", "import overdrive; print(overdrive.config()['tier2_threshold'])"],
                         env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "7" and out.stderr == ""
    env["OVERDRIVE_TIER2_THRESHOLD"] = "x"
    out = subprocess.run([sys.executable, "-c", "import overdrive; print(overdrive.config()['tier2_threshold'])"],
                         env=env, capture_output=True, text=True)
    assert out.stdout.strip() == os.environ.get("OVERDRIVE_TIER2_THRESHOLD", "-1") or out.stdout.strip() == "-1"
    assert "OVERDRIVE_TIER2_THRESHOLD must be an int from -1" in out.stderr and "tier 2 stays off" in out.stderr
