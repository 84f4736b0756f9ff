"""`python -m overdrive` and the OVERDRIVE=1 start-up autoload, in real subprocesses."""
import json
import os
import site
import subprocess
import sys
import sysconfig

import pytest

PROGRAM = """
import overdrive
def work(n):
    s = 0
    for i in range(n):
        s += i
    return s
print(work(1000), overdrive.is_enabled(), overdrive.info(work)["compiled"])
"""


def _package_root() -> str:
    import overdrive
    return os.path.dirname(os.path.dirname(os.path.abspath(overdrive.__file__)))


def _run(args, env_extra=None, **kw):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, env=env,
                          timeout=60, **kw)


def test_python_m_overdrive_script(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(PROGRAM)
    r = _run(["-m", "overdrive", str(script)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["499500", "True", "True"]


def test_python_m_overdrive_c_and_module(tmp_path):
    r = _run(["-m", "overdrive", "-c", PROGRAM])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["499500", "True", "True"]
    (tmp_path / "appmod.py").write_text(PROGRAM)
    r = _run(["-m", "overdrive", "-m", "appmod"], cwd=tmp_path,
             env_extra={"PYTHONPATH": os.pathsep.join([str(tmp_path), _package_root()])})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["499500", "True", "True"]


def test_python_m_overdrive_bad_option():
    r = _run(["-m", "overdrive", "--threshold", "x", "-c", "pass"])
    assert r.returncode == 2 and "OVERDRIVE" not in r.stdout
    assert r.stderr.startswith("overdrive: --threshold must be an int from 0 to 2147483647")
    assert "Traceback" not in r.stderr


def _pth_installed() -> bool:
    paths = [sysconfig.get_paths()["purelib"]] + list(getattr(site, "getsitepackages", lambda: [])())
    return any(os.path.exists(os.path.join(p, "overdrive-autoload.pth")) for p in paths)


@pytest.mark.skipif(not _pth_installed(), reason="overdrive is not pip-installed here "
                    "(the autoload .pth only exists in an installed environment: make test)")
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
