"""`python -m overdrive` and the OVERDRIVE=1 start-up autoload, in real subprocesses.

Each launcher test runs the same command line twice, `python -m overdrive ARGS` and plain
`python ARGS`, from a directory other than the program's, and requires the same stdout,
stderr (tracebacks and error messages included) and exit status. The programs print what
python sets up for them (sys.argv, sys.path[0], the __main__ module's attributes, flags) on
stdout, so that is compared too, and write whether the JIT was on and had compiled a
function with a loop to a side file (ODTEST_REPORT), which must say yes for the launcher
and no for plain python.
"""
import json
import os
import signal
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from conftest import needs_pth

PROGRAM = """
import overdrive
def work(n):
    s = 0
    for i in range(n):
        s += i
    return s
print(work(1000), overdrive.is_enabled(), overdrive.info(work)["compiled"])
"""

# What a program reports: printed facts (compared between the two runs) and the JIT state
# (written to $ODTEST_REPORT). Used as a module (odreport.py next to the program) or inline.
REPORT = r'''
import builtins, json, os, sys
import overdrive

def _od_work(n):
    s = 0
    for i in range(n):
        s += i
    return s

def _od_loader(loader):
    if loader is None:
        return None
    if isinstance(loader, type):
        return loader.__name__
    return [type(loader).__name__, getattr(loader, "name", None), getattr(loader, "path", None)]

def report():
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    unset = "<unset>"
    facts = {
        "argv": sys.argv,
        "path0": sys.path[0],
        "__name__": main.__name__,
        "__file__": getattr(main, "__file__", unset),
        "__cached__": getattr(main, "__cached__", unset),
        "__package__": getattr(main, "__package__", unset),
        "__builtins__": type(getattr(main, "__builtins__", None)).__name__,
        "__builtins__ is builtins": getattr(main, "__builtins__", None) is builtins,
        "__loader__": _od_loader(getattr(main, "__loader__", None)),
        "__spec__": None if spec is None else [spec.name, spec.origin, spec.parent,
                                               _od_loader(spec.loader)],
        "main is a module": type(main).__name__,
        "flags": str(sys.flags),
        "warnoptions": sys.warnoptions,
        "xoptions": sys._xoptions,
        "orig_argv": sys.orig_argv[1:],
    }
    print("report:", json.dumps(facts, sort_keys=True))
    _od_work(1000)
    with open(os.environ["ODTEST_REPORT"], "w") as f:
        json.dump({"enabled": overdrive.is_enabled(),
                   "compiled": overdrive.info(_od_work)["compiled"],
                   "launcher_stats_env": "_OVERDRIVE_LAUNCHER_STATS" in os.environ}, f)
'''
INLINE_REPORT = REPORT + "\nreport()\n"

# An uncaught exception two frames deep: its traceback must be python's, line for line.
RAISE = '''
def fail(x):
    raise ValueError(f"bad value {x}")
fail(42)
'''


def _clean_env(env_extra=None) -> dict:
    """The test's environment without the JIT's own variables (a test run with OVERDRIVE=1
    must not turn the JIT on in the plain-python runs), plus env_extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OVERDRIVE", "_OVERDRIVE"))}
    env.update(env_extra or {})
    return env


def _run(args, env_extra=None, **kw):
    return subprocess.run([sys.executable] + args, capture_output=True, text=True,
                          env=_clean_env(env_extra), timeout=60, **kw)




class Pair:
    """The two runs of one command line: .jit (python -m overdrive) and .py (python)."""

    def __init__(self, jit, py, jit_report, py_report):
        self.jit, self.py = jit, py
        self.jit_report, self.py_report = jit_report, py_report

    def assert_same(self):
        assert self.jit.stderr == self.py.stderr
        assert self.jit.stdout == self.py.stdout
        assert self.jit.returncode == self.py.returncode

    def assert_jit_ran(self):
        """The launcher's program had the JIT on and compiled its loop; python's did not."""
        assert self.jit_report == {"enabled": True, "compiled": True,
                                   "launcher_stats_env": False}, self.jit.stderr
        assert self.py_report["enabled"] is False

    def facts(self) -> dict:
        line = next(l for l in self.jit.stdout.splitlines() if l.startswith("report: "))
        return json.loads(line[len("report: "):])


def compare(tmp_path, args, cwd, pre=(), launcher=(), stdin=None, env_extra=None) -> Pair:
    """Run `python *pre -m overdrive *launcher *args` and `python *pre *args` in cwd."""
    results, reports = [], []
    for name, cmd in (("jit", [*pre, "-m", "overdrive", *launcher, *args]),
                      ("py", [*pre, *args])):
        report = tmp_path / f"report-{name}.json"
        if report.exists():
            report.unlink()
        results.append(_run(cmd, cwd=cwd, input=stdin,
                            env_extra=dict(env_extra or {}, ODTEST_REPORT=str(report))))
        reports.append(json.loads(report.read_text()) if report.exists() else None)
    return Pair(results[0], results[1], reports[0], reports[1])


@pytest.fixture
def project(tmp_path):
    """tmp/proj/app.py (with sibling.py and odreport.py next to it), run from tmp/elsewhere."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "sibling.py").write_text("VALUE = 'sibling'\n")
    (proj / "odreport.py").write_text(REPORT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "odreport.py").write_text(REPORT)
    return proj, elsewhere


def _script(proj, body, name="app.py"):
    (proj / name).write_text("import sibling, odreport\nodreport.report()\n" + body)
    return f"../proj/{name}"


@needs_pth
def test_script_from_another_directory(tmp_path, project):
    """sys.path[0] is the script's folder (import sibling works), sys.argv and __main__ are
    python's, and the traceback has no launcher frames."""
    proj, elsewhere = project
    script = _script(proj, "print('sibling says', sibling.VALUE)\n" + RAISE)
    pair = compare(tmp_path, [script, "a", "--stats", "-m", "x"], cwd=elsewhere)
    pair.assert_same()
    pair.assert_jit_ran()
    facts = pair.facts()
    assert facts["path0"] == str(proj)
    assert facts["argv"] == [script, "a", "--stats", "-m", "x"]
    assert facts["__name__"] == "__main__" and facts["__file__"] == os.path.join(elsewhere, script)
    assert "sibling says sibling" in pair.jit.stdout
    assert pair.jit.returncode == 1
    tb = pair.jit.stderr
    assert tb.startswith("Traceback (most recent call last):\n")
    assert tb.count('  File "') == 2 and "runpy" not in tb and "overdrive" not in tb
    assert tb.endswith("ValueError: bad value 42\n")


@needs_pth
def test_missing_script(tmp_path, project):
    _, elsewhere = project
    pair = compare(tmp_path, ["missing/x.py", "arg"], cwd=elsewhere)
    pair.assert_same()
    assert pair.jit.returncode == 2
    assert pair.jit.stderr == (f"{sys.executable}: can't open file "
                               f"{str(elsewhere / 'missing' / 'x.py')!r}: "
                               "[Errno 2] No such file or directory\n")


@needs_pth
@pytest.mark.parametrize("ending, status", [
    ("import sys; sys.exit(3)", 3),
    ("import sys; sys.exit('goodbye')", 1),
    ("raise SystemExit", 0),
    ("import sys; sys.exit(None)", 0),
    ("raise SystemExit(256 + 7)", 7),
    ("raise KeyboardInterrupt", -signal.SIGINT),
])
def test_exit_status(tmp_path, project, ending, status):
    proj, elsewhere = project
    pair = compare(tmp_path, [_script(proj, ending + "\n")], cwd=elsewhere)
    pair.assert_same()
    pair.assert_jit_ran()
    assert pair.jit.returncode == status
    assert pair.facts()["path0"] == str(proj)


@needs_pth
def test_syntax_error_in_script(tmp_path, project):
    proj, elsewhere = project
    (proj / "bad.py").write_text("x = 1\nif x\n    pass\n")
    pair = compare(tmp_path, ["../proj/bad.py"], cwd=elsewhere)
    pair.assert_same()
    assert pair.jit.returncode == 1
    path = os.path.join(elsewhere, "../proj/bad.py")
    assert pair.jit.stderr.startswith(f'  File "{path}", line 2\n')
    assert "Traceback" not in pair.jit.stderr
    assert pair.jit.stderr.endswith("SyntaxError: expected ':'\n")


@needs_pth
def test_command(tmp_path, project):
    _, elsewhere = project
    pair = compare(tmp_path, ["-c", INLINE_REPORT + RAISE, "a", "-c"], cwd=elsewhere)
    pair.assert_same()
    pair.assert_jit_ran()
    facts = pair.facts()
    assert facts["argv"] == ["-c", "a", "-c"] and facts["path0"] == ""
    assert facts["__builtins__ is builtins"] and facts["__loader__"] == "BuiltinImporter"
    assert pair.jit.stderr.count('  File "<string>"') == 2 and "runpy" not in pair.jit.stderr


@needs_pth
def test_module(tmp_path, project):
    _, elsewhere = project
    (elsewhere / "appmod.py").write_text("import odreport\nodreport.report()\n" + RAISE)
    pair = compare(tmp_path, ["-m", "appmod", "x", "--threshold"], cwd=elsewhere)
    pair.assert_same()
    pair.assert_jit_ran()
    facts = pair.facts()
    assert facts["argv"] == [str(elsewhere / "appmod.py"), "x", "--threshold"]
    assert facts["path0"] == str(elsewhere)
    assert facts["__spec__"][:2] == ["appmod", str(elsewhere / "appmod.py")]
    # python's own traceback for -m goes through runpy, exactly once
    # runpy's two frames, as with python -m (frozen in some builds, a file in others)
    runpy_frames = [ln for ln in pair.jit.stderr.splitlines()
                    if ln.startswith("  File ") and "runpy" in ln]
    assert len(runpy_frames) == 2 and "overdrive" not in pair.jit.stderr


@needs_pth
def test_module_package(tmp_path, project):
    _, elsewhere = project
    pkg = elsewhere / "apppkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("import odreport\nodreport.report()\n")
    pair = compare(tmp_path, ["-m", "apppkg", "y"], cwd=elsewhere)
    pair.assert_same()
    pair.assert_jit_ran()
    facts = pair.facts()
    assert facts["argv"] == [str(pkg / "__main__.py"), "y"]
    assert facts["__spec__"][0] == "apppkg.__main__" and facts["__package__"] == "apppkg"


@needs_pth
def test_module_not_found(tmp_path, project):
    _, elsewhere = project
    pair = compare(tmp_path, ["-m", "nonexistent_module_xyz"], cwd=elsewhere)
    pair.assert_same()
    assert pair.jit.returncode == 1
    assert pair.jit.stderr == f"{sys.executable}: No module named nonexistent_module_xyz\n"


@needs_pth
def test_directory_and_zip_with_main(tmp_path, project):
    _, elsewhere = project
    main = "import odreport\nodreport.report()\n" + RAISE
    appdir = tmp_path / "appdir"
    appdir.mkdir()
    (appdir / "__main__.py").write_text(main)
    (appdir / "odreport.py").write_text(REPORT)
    appzip = tmp_path / "app.zip"
    with zipfile.ZipFile(appzip, "w") as z:
        z.writestr("__main__.py", main)
        z.writestr("odreport.py", REPORT)
    for target in (appdir, appzip):
        pair = compare(tmp_path, [str(target), "z"], cwd=elsewhere)
        pair.assert_same()
        pair.assert_jit_ran()
        facts = pair.facts()
        assert facts["path0"] == str(target) and facts["argv"] == [str(target), "z"]
        assert facts["__spec__"][0] == "__main__"
        assert pair.jit.returncode == 1 and "runpy" in pair.jit.stderr
        assert "overdrive" not in pair.jit.stderr


@needs_pth
def test_stdin_dash(tmp_path, project):
    _, elsewhere = project
    pair = compare(tmp_path, ["-", "a", "b"], cwd=elsewhere, stdin=INLINE_REPORT + RAISE)
    pair.assert_same()
    pair.assert_jit_ran()
    facts = pair.facts()
    assert facts["argv"] == ["-", "a", "b"] and facts["path0"] == ""
    assert pair.jit.stderr.count('  File "<stdin>"') == 2


@needs_pth
def test_no_program_reads_stdin(tmp_path, project):
    """No argument: python's REPL, which runs stdin as a program when it is not a tty."""
    _, elsewhere = project
    pair = compare(tmp_path, [], cwd=elsewhere, stdin=INLINE_REPORT + "print(1 + 1)\n")
    pair.assert_same()
    pair.assert_jit_ran()
    assert pair.facts()["argv"] == [""] and pair.jit.stdout.endswith("\n2\n")


@needs_pth
def test_interactive_repl(tmp_path, project):
    """-i: the interactive loop (banner and prompts on stderr) reading piped stdin."""
    _, elsewhere = project
    lines = "import odreport\nodreport.report()\n1 + 1\nraise ValueError('in the repl')\n"
    pair = compare(tmp_path, ["-i"], cwd=elsewhere, stdin=lines)
    pair.assert_same()
    pair.assert_jit_ran()
    assert pair.jit.stdout.endswith("\n2\n") and ">>> " in pair.jit.stderr
    assert 'File "<stdin>", line 1, in <module>' in pair.jit.stderr
    assert pair.facts()["flags"].count("interactive=1") == 1


@needs_pth
def test_interpreter_options_before_and_after(tmp_path, project):
    """Options given to python before `-m overdrive` and python options after overdrive's
    own carry over to the program: python -i -X dev -W ... -m overdrive -X utf8 -B app.py."""
    proj, elsewhere = project
    script = _script(proj, "print('sibling', sibling.VALUE)\n")
    pair = compare(tmp_path, ["-X", "utf8", "-B", script, "arg"], cwd=elsewhere,
                   pre=["-i", "-X", "dev", "-W", "error::UserWarning", "-bb"],
                   stdin="print('after', sibling.VALUE)\n")
    pair.assert_same()
    pair.assert_jit_ran()
    facts = pair.facts()
    assert facts["xoptions"] == {"dev": True, "utf8": True}
    assert "inspect=1" in facts["flags"] and "dont_write_bytecode=1" in facts["flags"]
    assert facts["path0"] == str(proj)
    assert facts["orig_argv"] == ["-i", "-X", "dev", "-W", "error::UserWarning", "-bb",
                                  "-X", "utf8", "-B", script, "arg"]
    assert "after sibling" in pair.jit.stdout


@needs_pth
def test_isolated_cluster_before_m(tmp_path, project):
    """-Im overdrive: the -I in the same cluster as -m carries over."""
    _, elsewhere = project
    results = []
    for cmd in (["-Im", "overdrive", "-c", INLINE_REPORT, "q"], ["-I", "-c", INLINE_REPORT, "q"]):
        report = tmp_path / "report.json"
        r = _run(cmd, cwd=elsewhere, env_extra={"ODTEST_REPORT": str(report)})
        results.append((r.returncode, r.stdout, r.stderr, json.loads(report.read_text())))
    assert results[0][:3] == results[1][:3]
    assert "isolated=1" in results[0][1]
    assert results[0][3]["enabled"] and not results[1][3]["enabled"]


@needs_pth
@pytest.mark.parametrize("args", [["-Z"], ["--version"], ["-c"]])
def test_python_errors_and_options_pass_through(tmp_path, project, args):
    _, elsewhere = project
    pair = compare(tmp_path, args, cwd=elsewhere)
    pair.assert_same()
    assert pair.jit.returncode == (0 if args == ["--version"] else 2)


PROGRAM_WITH_CHILD = r"""
import json, os, subprocess, sys
import overdrive
def once():
    return 1
once()
child = subprocess.run([sys.executable, "-c",
                        "import os, overdrive; print(overdrive.is_enabled(), "
                        "os.environ.get('OVERDRIVE_THRESHOLD'))"],
                       capture_output=True, text=True)
print(json.dumps({"compiled_once": overdrive.info(once)["compiled"],
                  "child_stdout": child.stdout, "child_stderr": child.stderr,
                  "stats_env": "_OVERDRIVE_LAUNCHER_STATS" in os.environ}))
"""


@needs_pth
def test_threshold_stats_and_children(tmp_path):
    """--threshold 0 compiles a loop-free function on its first call; --stats prints the
    stats once, for this process only; child Python processes run under the JIT too."""
    (tmp_path / "app.py").write_text(PROGRAM_WITH_CHILD)
    r = _run(["-m", "overdrive", "--threshold", "0", "--stats", "app.py"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {"compiled_once": True, "child_stdout": "True 0\n", "child_stderr": "",
                   "stats_env": False}
    stats = json.loads(r.stderr)
    assert stats["enabled"] is True and stats["frames_native"] > 0
    r = _run(["-m", "overdrive", "app.py"], cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout)["compiled_once"] is False  # default threshold 1
    r = _run(["-m", "overdrive", "app.py"], cwd=tmp_path,
             env_extra={"OVERDRIVE_THRESHOLD": "0"})
    assert json.loads(r.stdout)["compiled_once"] is True


@needs_pth
def test_help(tmp_path):
    r = _run(["-m", "overdrive", "--help"], cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: python -m overdrive [--threshold N] [--stats] "
                               "[python options] [program] [args...]\n")
    assert "- (stdin)" in r.stdout and "OVERDRIVE=1" in r.stdout


@needs_pth
@pytest.mark.parametrize("args, env, words", [
    (["--threshold", "x", "-c", "pass"], {}, ["--threshold", "an int from 0 to 2147483647", "'x'"]),
    (["--threshold", "-1", "-c", "pass"], {}, ["--threshold", "an int from 0 to 2147483647", "'-1'"]),
    (["--threshold=1.5", "-c", "pass"], {}, ["--threshold", "an int from 0 to 2147483647", "'1.5'"]),
    (["--threshold"], {}, ["--threshold needs a value", "an int from 0 to 2147483647"]),
    (["--stat", "-c", "pass"], {}, ["unknown option '--stat'", "--threshold N, --stats"]),
    (["-c", "pass"], {"OVERDRIVE_THRESHOLD": "many"}, ["OVERDRIVE_THRESHOLD", "an int from 0 to 2147483647"]),
])
def test_bad_option_values(tmp_path, args, env, words):
    r = _run(["-m", "overdrive"] + args, env_extra=env, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("python -m overdrive: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr


@needs_pth
def test_no_site_is_refused(tmp_path):
    """With -S no .pth start-up hook runs, so the JIT could not be turned on: one line saying
    so, exit status 2, rather than running the program without the JIT."""
    r = _run(["-S", "-m", "overdrive", "-c", "print('ran')"], cwd=tmp_path,
             env_extra={"PYTHONPATH": sysconfig.get_paths()["purelib"]})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("python -m overdrive: cannot run the program with the JIT: ")
    assert "-S" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("orig_argv, expected", [
    (["py", "-m", "overdrive", "app.py"], []),
    (["py", "-moverdrive", "app.py"], []),
    (["py", "-m", "overdrive.__main__"], []),
    (["py", "-i", "-Wd", "-W", "error", "-Xdev", "-X", "utf8", "-m", "overdrive", "-i"],
     ["-i", "-Wd", "-W", "error", "-Xdev", "-X", "utf8"]),
    (["py", "-bbIm", "overdrive", "-c", "pass"], ["-bbI"]),
    (["py", "--check-hash-based-pycs", "always", "-OO", "-m", "overdrive"],
     ["--check-hash-based-pycs", "always", "-OO"]),
    (["py", "-Wm", "overdrive", "x"], None),   # -W m: overdrive is the script here
    (["py", "-c", "import runpy"], None),
    (["py", "-m", "other"], None),
    ([], None),
])
def test_interpreter_options_from_orig_argv(monkeypatch, orig_argv, expected):
    """The options before `-m overdrive` are taken verbatim; when overdrive was not started
    by `-m overdrive`, they are rebuilt from sys.flags as multiprocessing does."""
    import subprocess as sp

    from overdrive.__main__ import interpreter_options

    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    if expected is None:
        expected = sp._args_from_interpreter_flags()
    assert interpreter_options() == expected


@pytest.mark.parametrize("args, options, program", [
    (["app.py", "--stats"], {}, ["app.py", "--stats"]),
    (["--stats", "--threshold", "3", "-X", "dev", "app.py"],
     {"stats": True, "threshold": "3"}, ["-X", "dev", "app.py"]),
    (["-Xdev", "--threshold=0", "-W", "--stats", "-i", "-m", "mod", "--help"],
     {"threshold": "0"}, ["-Xdev", "-W", "--stats", "-i", "-m", "mod", "--help"]),
    (["-Bc", "pass", "--stats"], {}, ["-Bc", "pass", "--stats"]),
    (["--", "--stats"], {}, ["--", "--stats"]),
    (["-", "--stats"], {}, ["-", "--stats"]),
    (["--check-hash-based-pycs", "never", "--stats"], {"stats": True},
     ["--check-hash-based-pycs", "never"]),
    (["--version"], {}, ["--version"]),
    ([], {}, []),
])
def test_parse_launcher_arguments(args, options, program):
    """overdrive's options are picked out from before the program; the rest (python's
    options, the program, its arguments) is passed on unchanged."""
    from overdrive.__main__ import parse

    assert parse(list(args)) == (options, program)


@needs_pth
def test_autoload_env(tmp_path):
    stats = tmp_path / "stats.jsonl"
    r = _run(["-c", PROGRAM], env_extra={"OVERDRIVE": "1", "OVERDRIVE_THRESHOLD": "0",
                                         "OVERDRIVE_STATS_FILE": str(stats)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["499500", "True", "True"]
    line = json.loads(stats.read_text().splitlines()[-1])
    assert line["stats"]["frames_native"] > 0
    r = _run(["-c", PROGRAM], env_extra={"OVERDRIVE": ""})
    assert r.stdout.split() == ["499500", "False", "False"]
