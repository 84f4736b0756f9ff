"""What the JIT adds to a process that a garbage collection has to visit.

A full gc.collect() traverses every object the collector tracks, so whatever the JIT keeps
alive is paid by every full collection of the program (create_gc_cycles and gc_traversal
time nothing else). The JIT's own data (units, code, inline caches) is malloc'd memory
holding borrowed pointers, invisible to the collector; what is left is the `overdrive`
package's import, which must stay small (it once imported json, dis, dataclasses, inspect
and typing: 5,300 objects, doubling a bare interpreter's 4,800), and compiled frames, which
must release what they hold exactly when the interpreter's do."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref

import _overdrive
import overdrive
from conftest import needs_pth


# Modules `import overdrive` (and the OVERDRIVE=1 autoload) may add to a bare interpreter's:
# not even __future__ (an import of its own: 0.7M instructions) nor overdrive.log/perfmap
# (imported on first use). tests/test_startup.py checks the exact lists.
ALLOWED = {"_overdrive", "overdrive", "_overdrive_autoload"}
# Objects the collector tracks after `import overdrive` minus before (about 300 today:
# the package's functions, the C module).
MAX_NEW_OBJECTS = 600

COUNT = """
    import gc, json, sys
    before_modules = set(sys.modules)
    gc.collect()
    before = len(gc.get_objects())
{body}
    gc.collect()
    print(json.dumps({{"objects": len(gc.get_objects()) - before,
                      "total": len(gc.get_objects()),
                      "modules": sorted(set(sys.modules) - before_modules),
                      "all_modules": sorted(sys.modules),
                      "enabled": "_overdrive" in sys.modules and sys.modules["_overdrive"].is_enabled()}}))
"""


def _child(body: str, env_extra=None, cwd=None) -> dict:
    """Counts from a child importing overdrive from this tree. Its .pyc files are written
    to (and, in a second run, read from) a cache under `cwd`, as an installed package's
    are: compiling the package from source would count the compiler's own objects (the
    AST node types, made when it first meets `from __future__ import annotations`)."""
    import json
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OVERDRIVE") and k != "PYTHONDONTWRITEBYTECODE"}
    roots = [os.path.dirname(os.path.dirname(os.path.abspath(overdrive.__file__))),
             os.path.dirname(os.path.abspath(_overdrive.__file__))]
    env["PYTHONPATH"] = os.pathsep.join(roots)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(cwd, "pycache")
    env.update(env_extra or {})
    body = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    code = textwrap.dedent(COUNT.format(body=body))
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=60, cwd=cwd)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    return json.loads(r.stdout)


def test_import_overdrive_adds_few_modules_and_objects(tmp_path):
    got = _child("import overdrive", cwd=tmp_path)
    assert set(got["modules"]) <= ALLOWED, got["modules"]
    assert got["objects"] < MAX_NEW_OBJECTS, got["objects"]
    assert not got["enabled"]


@needs_pth
def test_autoload_adds_few_modules_and_objects(tmp_path):
    """OVERDRIVE=1 (what the benchmark harness runs) against a stock start-up."""
    stock = _child("pass", cwd=tmp_path)
    jit = _child("pass", {"OVERDRIVE": "1"}, cwd=tmp_path)
    assert jit["enabled"] and not stock["enabled"]
    assert set(jit["all_modules"]) - set(stock["all_modules"]) <= ALLOWED
    assert jit["total"] - stock["total"] < MAX_NEW_OBJECTS, (stock["total"], jit["total"])


def test_lazy_parts_still_work(tmp_path):
    """dis(), the perf map and log parsing import what they need when first used, and
    overdrive.dis stays the function (not the submodule of the same purpose)."""
    body = """
    import overdrive
    def f(x):
        return x + 1
    overdrive.enable(threshold=0); f(1); overdrive.disable()
    text = overdrive.dis_text(f)
    assert "BINARY_OP" in text and callable(overdrive.dis) and callable(overdrive.dis_text)
    assert overdrive.perfmap.path().startswith("/tmp/perf-")
    lines = list(overdrive.log.parse("overdrive: compiled f (x.py:3) tier 1: 10 bytes"))
    assert lines[0].function == "f" and type(lines[0]) is overdrive.log.Line
    assert "json" in sys.modules and "typing" in sys.modules   # now, not before
    """
    got = _child(body, cwd=tmp_path)
    assert "overdrive._dis" in got["modules"] and "overdrive.perfmap" in got["modules"]


def f_make_cycles(n, probe):
    gc.collect()
    for _ in range(n):
        a = [probe]
        b = [a]
        a.append(b)
        del a, b
    kept = weakref.ref(probe[0]) if probe else None
    return gc.collect(), kept is None or kept() is not None


class _Target:
    pass


def test_compiled_frames_release_what_the_interpreter_releases(jit):
    """Collections inside compiled code find the same garbage, and nothing the compiled
    frame held survives it (a weakly referenced object dies with its last reference)."""
    assert jit.run_both(f_make_cycles, 200, []) == (400, True)

    def holder():
        obj = _Target()
        ref = weakref.ref(obj)
        del obj                    # the compiled frame's only reference
        return ref() is None
    assert jit.run_both(holder) is True


def test_running_compiled_code_leaves_no_tracked_objects_behind():
    """Compiling and running code adds nothing the collector tracks: the units, their code
    and caches are not Python objects."""
    ns = {}
    exec(textwrap.dedent("""
        class P:
            def __init__(self, x): self.x = x
            def get(self): return self.x
        def work(n):
            t = 0
            for i in range(n):
                p = P(i)
                t += p.get() + len([i]) + {i: i}[i]
            return t
    """), ns)
    work = ns["work"]
    overdrive.enable(threshold=0)
    try:
        work(10)                       # compiled now
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(50):
            assert work(100) == 2 * 4950 + 100
        gc.collect()
        after = len(gc.get_objects())
    finally:
        overdrive.disable()
    assert overdrive.info(work)["compiled"]
    assert after - before <= 2, (before, after)
