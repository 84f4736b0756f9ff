"""Build invariants: the extension uses only CPython symbols that libpython exports, and
does not itself link libpython (statically linked interpreters would get two runtimes)."""
import os
import shutil
import subprocess
import sysconfig

import pytest

import _overdrive

nm = shutil.which("nm")
readelf = shutil.which("readelf")


def _libpython():
    libdir = sysconfig.get_config_var("LIBDIR")
    for name in (sysconfig.get_config_var("LDLIBRARY"), "libpython3.11.so", "libpython3.11.so.1.0"):
        path = os.path.join(libdir or "", name or "")
        if name and os.path.exists(path) and path.endswith((".so", ".so.1.0")):
            return path
    return None


@pytest.mark.skipif(nm is None, reason="binutils 'nm' not installed")
def test_only_exported_cpython_symbols_are_used():
    lib = _libpython()
    if lib is None:
        pytest.skip("this interpreter has no shared libpython to compare against")
    undefined = subprocess.run([nm, "-D", "--undefined-only", _overdrive.__file__],
                               capture_output=True, text=True, check=True).stdout.split()
    used = {s.split("@")[0] for s in undefined if s.startswith(("Py", "_Py"))}
    exported = set()
    for line in subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            exported.add(parts[2].split("@")[0])
    missing = sorted(used - exported)
    assert used, "no CPython symbols found: the check is not looking at the right file"
    assert not missing, f"not exported by libpython: {missing}"


@pytest.mark.skipif(readelf is None, reason="binutils 'readelf' not installed")
def test_extension_does_not_link_libpython():
    out = subprocess.run([readelf, "-d", _overdrive.__file__], capture_output=True,
                         text=True, check=True).stdout
    assert "libpython" not in out
