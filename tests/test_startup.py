"""What `import overdrive` and the OVERDRIVE=1 autoload import: nothing beyond overdrive's
own modules, so that every process (multiprocessing workers, short-lived subprocesses) pays
next to nothing for them. The tools load their modules (dis, json, re, typing, ...) on first
use. Timings are in docs/performance.md ("Start-up cost"), not asserted here."""
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import needs_pth

# Prints the loaded modules one per line (no json: the probe must not import anything itself).
MODULES = "import sys; print(*sorted(sys.modules), sep=chr(10))"


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
    env.update(extra)
    return env


def _modules(code, **env_extra):
    """sys.modules at the end of `python -c code` (which prints it) in a fresh process."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(**env_extra), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    return set(r.stdout.split())


def _baseline():
    return _modules(MODULES)


def _not_overdrive(names):
    """The modules in `names` that are not overdrive's own (the package, the C core and the
    autoload guard the .pth imports). `__future__` is allowed: the
    `from __future__ import annotations` statement imports it (80 lines, no imports), and
    so are the codecs the interpreter loads on a text file's first use (encodings.ascii under
    Debian's debug build, whose locale is C)."""
    return sorted(n for n in names
                  if n not in ("overdrive", "_overdrive", "_overdrive_autoload", "__future__")
                  and not n.startswith(("overdrive.", "encodings.")))


def test_import_and_enable_add_only_overdrive_modules():
    baseline = _baseline()
    added = _modules("import overdrive; overdrive.enable(); " + MODULES) - baseline
    assert "_overdrive" in added and "overdrive" in added
    assert _not_overdrive(added) == []


def test_config_and_tools_listing_add_only_overdrive_modules():
    # config() with the defaults and the introspection functions stay light too.
    baseline = _baseline()
    added = _modules("import overdrive; overdrive.config(log='', perf_map=False); "
                     "overdrive.stats(); overdrive.info(lambda: 0); "
                     "overdrive.supported_opcodes(); " + MODULES) - baseline
    assert _not_overdrive(added) == []


@needs_pth
@pytest.mark.parametrize("threshold", [None, "0", "1000000000"])
def test_autoload_adds_only_overdrive_modules(threshold):
    baseline = _baseline()
    env = {"OVERDRIVE": "1"}
    if threshold is not None:
        env["OVERDRIVE_THRESHOLD"] = threshold
    added = _modules("import overdrive; assert overdrive.is_enabled(); " + MODULES,
                     **env) - baseline
    assert "overdrive._autoload" in added
    assert _not_overdrive(added) == []


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
    `python -c pass` of python_startup too), so it imports nothing: its hand-written JSON
    must read back as what json would have written."""
    import overdrive
    value = {"pid": 12, "argv": ["a b", 'q"uote', "back\\slash", "tab\tnl\n", "é", "\U0001f600",
                                 "\udcff"],
             "stats": dict(overdrive.stats(), nested={"x": [1, 2.5, None, True, False]},
                           nan=float("nan"), big=2 ** 70)}
    text = overdrive._json_text(value)
    expected = dict(value, stats=dict(value["stats"], nan=None))
    assert json.loads(text) == expected
    program = ("import sys, overdrive; print(overdrive.stats()['enabled'], 'json' in sys.modules, "
               "'json.decoder' in sys.modules, 're' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                       env=_env(OVERDRIVE="1", OVERDRIVE_STATS_FILE=os.devnull), timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["True", "False", "False", "False"], r
