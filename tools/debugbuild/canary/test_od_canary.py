"""A regrtest module that leaks exactly one reference per run, on purpose.

run.sh runs it under `-R` with the JIT off and on: regrtest must report
"leaked [1, 1, 1] references" in both cases. If it does not with the JIT on, the leak
hunter is blind to leaks in that configuration (see docs/debug-build.md).
"""
import ctypes
import unittest

_TARGET = ("overdrive", "canary")
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class Canary(unittest.TestCase):
    def test_leak_one_reference(self):
        _incref(_TARGET)


if __name__ == "__main__":
    unittest.main()
