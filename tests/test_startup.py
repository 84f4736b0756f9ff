"""What `import overdrive` and the OVERDRIVE=1 autoload import: overdrive's C core, the
package's __init__ and (under OVERDRIVE=1) the top-level autoload module, nothing else, so
that every process (multiprocessing workers, short-lived subprocesses) pays next to nothing
for them. The option machinery (overdrive._options), the tools (overdrive._tools, then
dis, json, re, typing, ...), the log and perf map modules load on first use. Timings are
in docs/performance.md ("Start-up cost"), not asserted here."""
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import needs_pth

# Prints the loaded modules one per line (no json: the probe must not import anything itself).
MODULES = "import sys; print(*sorted(sys.modules), sep=chr(10))"

# What `import overdrive` adds: the C core and the package. The autoload's common road is
# the C core's (_autoload(), module/autoload.h); its Python road, the top-level
# _overdrive_autoload, is imported only for the settings the C road leaves to it.
IMPORT = {"_overdrive", "overdrive"}
PYTHON_ROAD = IMPORT | {"_overdrive_autoload"}


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    env.update(extra)
    return env


def _modules(code, **env_extra):
    """sys.modules at the end of `python -c code` (which prints it) in a fresh process."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(**env_extra), timeout=60)
    assert r.returncode == 0, r.stderr
    # The compile log is what OVERDRIVE_LOG=compile asks for: on a slow build (the debug
    # CPython) the start-up's rented loops pay their rent and are compiled, and say so.
    logged = "overdrive: compiled " if env_extra.get("OVERDRIVE_LOG") else None
    stray = [line for line in r.stderr.splitlines()
             if not (logged and line.startswith(logged))]
    assert stray == [], r.stderr
    return set(r.stdout.split())


def _added(code, **env_extra):
    """The modules `code` (and the environment) add to a bare `python -c`'s, less the codecs
    the interpreter loads on a text file's first use (encodings.ascii under Debian's debug
    build, whose locale is C)."""
    added = _modules(code + "; " + MODULES, **env_extra) - _modules(MODULES)
    return {n for n in added if not n.startswith("encodings.")}


def test_import_and_enable_add_only_the_package_and_the_core():
    assert _added("import overdrive; overdrive.enable()") == IMPORT


def test_config_loads_the_option_machinery_only():
    # config() and the introspection functions stay light too (log= needs the log module's
    # list of events).
    assert _added("import overdrive; overdrive.config(log='', perf_map=False); "
                  "overdrive.stats(); overdrive.info(lambda: 0); "
                  "overdrive.supported_opcodes(); overdrive.tier2_passes()") \
        == IMPORT | {"overdrive._options", "overdrive.log"}


def test_core_is_loaded_from_beside_the_package(tmp_path):
    """`_overdrive` is loaded from the package's directory, without a sys.path search, and
    `import _overdrive` then finds that module. (Run outside the source tree, whose
    overdrive/ would be imported first and has no core beside it.)"""
    code = ("import sys, os, overdrive, _overdrive; "
            "assert _overdrive is overdrive._overdrive is sys.modules['_overdrive']; "
            "origin = _overdrive.__spec__.origin; "
            "assert _overdrive.__file__ == origin; "
            "assert os.path.dirname(origin) == "
            "os.path.dirname(os.path.dirname(overdrive.__file__)), origin; "
            "print(type(_overdrive.__spec__.loader).__name__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(), cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ExtensionFileLoader", r


@needs_pth
@pytest.mark.parametrize("env", [{}, {"OVERDRIVE_THRESHOLD": "0"},
                                 {"OVERDRIVE_THRESHOLD": "1000000000"},
                                 {"OVERDRIVE_STATS_FILE": os.devnull}])
def test_autoload_adds_only_the_package_and_the_core(env):
    added = _added("import overdrive; assert overdrive.is_enabled()", OVERDRIVE="1", **env)
    expected = set(IMPORT)          # a valid OVERDRIVE_THRESHOLD goes straight to the core
    if "OVERDRIVE_STATS_FILE" in env:
        expected.add("atexit")                 # (built in) the writer is the core's
    assert added == expected


@needs_pth
@pytest.mark.parametrize("text, threshold", [(" 7", 7), ("1_000", 1000), ("+3", 3)])
def test_autoload_leaves_a_threshold_int_reads_to_the_python_road(text, threshold):
    """The C road takes decimal digits only; what else int() accepts goes to the Python
    road, which reads it the same way as before."""
    probe = ("import sys; c = sys.modules['_overdrive']; assert c.is_enabled(); "
             f"assert c._get_config()['threshold'] == {threshold}, c._get_config()")
    assert _added(probe, OVERDRIVE="1", OVERDRIVE_THRESHOLD=text) \
        == {"_overdrive", "_overdrive_autoload"}


@needs_pth
@pytest.mark.parametrize("value", ["1", "yes", " On "])
def test_autoload_loads_the_core_alone_until_the_program_imports_the_package(value):
    """A program that does not import overdrive does not pay for the package: the autoload
    loads the C core from beside itself and switches it on; `import overdrive` later finds
    that core, switched on."""
    probe = "import sys; assert sys.modules['_overdrive'].is_enabled()"
    assert _added(probe, OVERDRIVE=value) == {"_overdrive"}
    later = ("import sys, overdrive; assert overdrive.is_enabled(); "
             "assert overdrive._overdrive is sys.modules['_overdrive']")
    assert _added(later, OVERDRIVE=value) == IMPORT


@needs_pth
@pytest.mark.parametrize("variable", ["OVERDRIVE_LOG", "OVERDRIVE_PERF_MAP",
                                      "OVERDRIVE_TIER2_THRESHOLD"])
def test_autoload_imports_the_package_for_the_variables_it_reads(variable):
    value = {"OVERDRIVE_LOG": "compile", "OVERDRIVE_PERF_MAP": "0",
             "OVERDRIVE_TIER2_THRESHOLD": "-1"}[variable]
    added = _added("import sys; assert sys.modules['_overdrive'].is_enabled()",
                   OVERDRIVE="1", **{variable: value})
    assert PYTHON_ROAD <= added, added


@needs_pth
@pytest.mark.parametrize("value", ["0", "off", " No "])
def test_autoload_off_does_not_import_the_package(value):
    # The .pth line only asks whether OVERDRIVE is set (site.py compiles it in every
    # process); the C core's _autoload() says no without importing anything.
    probe = "import sys; assert not sys.modules['_overdrive'].is_enabled()"
    assert _added(probe, OVERDRIVE=value) == {"_overdrive"}


@needs_pth
def test_autoload_loads_the_package_from_beside_it(tmp_path):
    code = ("import sys, os, overdrive, _overdrive_autoload; "
            "assert os.path.dirname(overdrive.__file__) == os.path.join("
            "os.path.dirname(_overdrive_autoload.__file__), 'overdrive'); "
            "print(overdrive.__spec__.submodule_search_locations == overdrive.__path__, "
            "overdrive.__spec__.parent)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(OVERDRIVE="1"), cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["True", "overdrive"], r


def test_tools_still_load_on_first_use(tmp_path):
    # The lazily imported parts work when first used in a fresh process.
    code = (
        "import overdrive, io\n"
        "def f(x):\n"
        "    return x + 1\n"
        "overdrive.enable(threshold=0)\n"
        "f(1); f(2)\n"
        "out = io.StringIO()\n"
        "overdrive.dis(f, file=out)\n"
        "assert 'RESUME' in out.getvalue() and overdrive.dis_text(f) == out.getvalue()\n"
        f"side = overdrive.dump_native(f, {str(tmp_path / 'f.bin')!r})\n"
        "assert side.endswith('.json')\n"
        "from overdrive.log import Line\n"
        "lines = list(overdrive.log.parse('overdrive: compiled f (x.py:1) tier 1: 1 bytes'))\n"
        "assert lines == [Line('compile', 'f', 'x.py', 1, 'tier 1: 1 bytes')], lines\n"
        "assert isinstance(lines[0], overdrive.log.Line)\n"
        "assert overdrive.perfmap.read(0) == []\n"
        "assert overdrive.perfmap.Entry(16, 16, 'x').__contains__(20)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@needs_pth
def test_stats_file_keeps_the_keyboard_interrupt_exit(tmp_path):
    """An uncaught KeyboardInterrupt makes python die by SIGINT. Importing a module at
    exit (the stats writer once imported json there) turns that into exit status 1, so the
    autoload imports what the writer needs at start-up, before the JIT is on."""
    script = tmp_path / "ham.py"
    script.write_text("def f():\n    raise KeyboardInterrupt\nf()\n")
    stats = tmp_path / "stats.jsonl"
    stock = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           env=_env(), timeout=60)
    jit = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=_env(OVERDRIVE="1", OVERDRIVE_STATS_FILE=str(stats)), timeout=60)
    assert stock.returncode == -signal.SIGINT
    assert (jit.returncode, jit.stdout, jit.stderr) == (stock.returncode, stock.stdout,
                                                        stock.stderr)
    (line,) = stats.read_text().splitlines()
    assert json.loads(line)["stats"]["enabled"] is True


@needs_pth
def test_stats_line_is_json_without_importing_json():
    """The OVERDRIVE_STATS_FILE writer runs in every process of a benchmark run (each
    `python -c pass` of python_startup too), so it imports nothing: the C core writes the
    line, which must read back as what json would have written."""
    import _overdrive

    import overdrive
    value = {"pid": 12, "argv": ["a b", 'q"uote', "back\\slash", "tab\tnl\n", "\u00e9",
                                 "\U0001f600", "\udcff", ""],
             "stats": dict(overdrive.stats(), nested={"x": [1, 2.5, None, True, False, -0.0]},
                           nan=float("nan"), inf=float("-inf"), big=-2 ** 70,
                           tup=(1, (2,), []), obj=object, empty={}, flt=1e300)}
    line = _overdrive._json_line(value)
    assert isinstance(line, bytes) and line.endswith(b"\n") and line.count(b"\n") == 1
    assert line.isascii()
    expected = dict(value, stats=dict(value["stats"], nan=None, inf=None,
                                      tup=[1, [2], []], obj=str(object)))
    assert json.loads(line) == expected
    # The same text json.dumps writes (its default separators, ASCII escapes).
    plain = {"a": [1, 2.5, None, True, "\u00e9\U0001f600\"\\"], "b": {"c": -3}}
    assert line.decode() != "" and _overdrive._json_line(plain).decode() == json.dumps(plain) + "\n"
    # A str() that fails, and a structure too deep, raise instead of writing half a line.

    class Bad:
        def __str__(self):
            raise ValueError("no text")

    with pytest.raises(ValueError, match="no text"):
        _overdrive._json_line({"x": [Bad()]})
    deep = []
    for _ in range(100000):
        deep = [deep]
    with pytest.raises(RecursionError):
        _overdrive._json_line(deep)
    program = ("import sys, overdrive; print(overdrive.stats()['enabled'], 'json' in sys.modules, "
               "'json.decoder' in sys.modules, 're' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                       env=_env(OVERDRIVE="1", OVERDRIVE_STATS_FILE=os.devnull), timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["True", "False", "False", "False"], r


@needs_pth
def test_stats_writer_runs_with_the_jit_off(tmp_path):
    """The writer switches the JIT off before it runs: its loops (outside the standard
    library, so compiled at their first call) are not compiled at exit, for nothing."""
    stats = tmp_path / "stats.jsonl"
    r = subprocess.run([sys.executable, "-c", "pass"], capture_output=True, text=True,
                       env=_env(OVERDRIVE="1", OVERDRIVE_STATS_FILE=str(stats),
                                OVERDRIVE_LOG="compile"), timeout=60)
    assert r.returncode == 0 and "_append_stats_line" not in r.stderr, r.stderr
    (line,) = stats.read_text().splitlines()
    assert json.loads(line)["stats"]["enabled"] is True
