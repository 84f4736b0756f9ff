#!/usr/bin/env python3
"""Self-test of run.py's gate logic, independent of the real JIT.

Builds, in a temporary directory:
  * a fake "overdrive": a throw-away venv whose sitecustomize.py, when
    OVERDRIVE=1, appends a stats line at exit exactly as the overdrive
    contract describes (run.py strips PYTHON* variables, so PYTHONPATH
    could not carry it);
  * a synthetic regrtest test directory with modules whose behaviour depends
    on OVERDRIVE: pass, fail only under the "JIT", segfault only under the
    "JIT", fail everywhere, skip only under the "JIT", fail-then-pass.
Then records a stock baseline and runs the JIT mode against it, and checks
that every module lands in the right row and that the exit status is right.
Also checks that the gate fails when the fake JIT reports nothing.

Run: python tools/regrtest/selftest.py   (about 15 s; exit 0 = OK)
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

FAKE_SITECUSTOMIZE = '''
import atexit, json, os, sys
if os.environ.get("OVERDRIVE") == "1" and os.environ.get("FAKE_JIT_SILENT") != "1":
    def _write():
        path = os.environ.get("OVERDRIVE_STATS_FILE")
        if path:
            rec = {"pid": os.getpid(), "argv": sys.argv,
                   "stats": {"functions_compiled": 3, "frames_native": 10,
                             "frames_interpreted": 5, "exits": {"type_guard": 2},
                             "exits_by_opcode": {"BINARY_OP": 2}}}
            with open(path, "a") as fp:
                fp.write(json.dumps(rec) + "\\n")
    atexit.register(_write)
'''

JIT = 'os.environ.get("OVERDRIVE") == "1"'
TESTS = {
    "test_ok": "def test_a(self): self.assertTrue(True)",
    "test_jitfail": f"def test_a(self): self.assertFalse({JIT}, 'broken by the JIT')",
    "test_jitcrash": f"def test_a(self):\n        if {JIT}:\n            import faulthandler; faulthandler._sigsegv()",
    "test_stockfail": "def test_a(self): self.fail('fails everywhere')",
    # Fails test_a on stock; under the JIT test_b fails as well (new test failure).
    "test_morefail": (f"def test_a(self): self.fail('fails everywhere')\n"
                      f"    def test_b(self): self.assertFalse({JIT})"),
    # Module-level skip, as import_helper.import_module() does on ImportError.
    # run.py must hand the tests a default SIGINT even when started with
    # SIGINT ignored (selftest starts it that way on purpose).
    "test_sigint": ("def test_a(self):\n        import signal\n"
                    "        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)"),
    "test_jitskip": f"def test_a(self): pass\nif {JIT}: raise unittest.SkipTest('no import')",
    # Passes, but skips one test more under the JIT (reported, not gating).
    "test_moreskip": f"def test_a(self):\n        if {JIT}: self.skipTest('no import')",
    # Passes when the expectations are recorded, then fails in both modes: the environment
    # changed (the gate's stock re-check must not count it as new).
    "test_envfail": ("def test_a(self):\n"
                     "        self.assertFalse(os.path.exists(os.path.join(os.environ['SELFTEST_DIR'], 'envchange')))"),
    # Fails the first time it runs in a given mode, passes on regrtest's re-run.
    "test_flaky": ("def test_a(self):\n"
                   "        marker = os.path.join(os.environ['SELFTEST_DIR'], 'flaky-' + os.environ.get('OVERDRIVE', '0'))\n"
                   "        if not os.path.exists(marker):\n"
                   "            open(marker, 'w').close()\n"
                   "            self.fail('first time')"),
}
EXPECT_JIT = {
    "passed": ["test_ok", "test_moreskip", "test_sigint"],
    "failed_both": ["test_stockfail", "test_envfail"],
    "new_failures": ["test_jitfail", "test_morefail"],
    "crashes": ["test_jitcrash"],
    "newly_skipped": ["test_jitskip"],
    "flaky": ["test_flaky"],
}


def write_tree(root: Path) -> tuple[Path, Path]:
    """Returns (python of the fake-JIT venv, test directory)."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "sitecustomize.py").write_text(FAKE_SITECUSTOMIZE)
    tdir = root / "tests"
    tdir.mkdir()
    for name, body in TESTS.items():
        (tdir / f"{name}.py").write_text(
            f"import os, unittest\nclass T(unittest.TestCase):\n    {body}\n")
    return python, tdir


def run(args: list[str], env: dict[str, str]) -> int:
    # Started with SIGINT ignored, like a background job of a script.
    proc = subprocess.run([sys.executable, str(HERE / "run.py"), *args], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    print(proc.stdout[-2500:])
    run.last_output = proc.stdout  # type: ignore[attr-defined]
    return proc.returncode


def main() -> int:
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="regrtest-selftest-") as tmp:
        root = Path(tmp)
        python, tdir = write_tree(root)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OVERDRIVE")}
        env["SELFTEST_DIR"] = str(root)
        expected = root / "expected.json"
        common = ["--python", str(python), "--tests", *TESTS, "--expected", str(expected),
                  "--timeout", "60"]
        extra = ["--", "--testdir", str(tdir)]

        rc = run([*common, "--stock", "--record", "--out", str(root / "stock"), *extra], env)
        if rc != 0:
            errors.append(f"stock --record exited {rc}")
        exp = json.loads(expected.read_text())
        if exp["modules"]["test_stockfail"]["category"] != "failed":
            errors.append("stock: test_stockfail not recorded as failed")
        (root / "envchange").touch()   # test_envfail now fails on stock too

        rc = run([*common, "--out", str(root / "jit"), *extra], env)
        if rc != 1:
            errors.append(f"jit run exited {rc}, expected 1")
        summary = json.loads((root / "jit" / "summary.json").read_text())
        for cat, mods in EXPECT_JIT.items():
            if sorted(summary["categories"][cat]) != sorted(mods):
                errors.append(f"jit: {cat} = {summary['categories'][cat]}, expected {mods}")
        if summary["jit"]["frames_native"] <= 0:
            errors.append("jit: fake stats not aggregated")
        report = (root / "jit" / "report.txt").read_text()
        if "Fatal Python error: Segmentation fault" not in report:
            errors.append("jit: the segfault's faulthandler output is not in the report")
        if "test_moreskip (+1)" not in report:
            errors.append("jit: the extra skipped test of test_moreskip is not reported")
        if "T.test_b" not in report:
            errors.append("jit: the new failing test of test_morefail is not named in the report")

        # Only passing modules, but a JIT that never reports: must fail.
        env_silent = dict(env, FAKE_JIT_SILENT="1")
        rc = run(["--python", str(python), "--tests", "test_ok", "--expected", str(expected), "--no-preflight",
                  "--out", str(root / "silent"), *extra], env_silent)
        if rc != 1:
            errors.append(f"silent JIT run exited {rc}, expected 1")
        rc = run(["--python", str(python), "--tests", "test_ok", "--expected", str(expected),
                  "--out", str(root / "silent2"), *extra], env_silent)
        if rc != 1:
            errors.append(f"silent JIT preflight exited {rc}, expected 1")
        # A run that hangs past --total-timeout is stopped and counts as a crash.
        (tdir / "test_hang.py").write_text(
            "import time, unittest\nclass T(unittest.TestCase):\n"
            "    def test_a(self): time.sleep(300)\n")
        rc = run(["--python", str(python), "--tests", "test_ok", "test_hang", "--expected",
                  str(expected), "--total-timeout", "10", "--out", str(root / "hang"), *extra], env)
        summary = json.loads((root / "hang" / "summary.json").read_text())
        if rc != 1 or summary["categories"]["crashes"] != ["test_hang"]:
            errors.append(f"hang: exit {rc}, crashes {summary['categories']['crashes']}")
        # And the all-good case passes.
        rc = run(["--python", str(python), "--tests", "test_ok", "--expected", str(expected),
                  "--out", str(root / "good"), *extra], env)
        if rc != 0:
            errors.append(f"good JIT run exited {rc}, expected 0")

    for e in errors:
        print("SELFTEST FAILURE:", e)
    print("selftest:", "FAILED" if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
