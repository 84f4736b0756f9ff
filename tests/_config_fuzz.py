"""Random calls of overdrive.config(), checked against a model of what it must accept.

    python tests/_config_fuzz.py SEED CALLS TMPDIR

Run by tests/test_options.py in a fresh process (a crash is then a failed test, not a dead
test session, and no compiled code exists, so switching the perf map on stays cheap). Each
call passes one to three options, valid or not, with values of every kind: ints at and
past each bound (2**31, 2**47, 2**63, 2**64, a 20000-bit int), negative ints, bools, NaN
and infinities, strings, bytes, None, lists, os.PathLike objects (good, unopenable, bytes,
raising) and paths that cannot be opened. After every call:

* accepted: config() holds exactly the values asked for (normalized: exact int/str/bool
  types, the log's events in canonical order, paths as str), and the C core agrees
  (_overdrive._get_config(): threshold, max_code_bytes, the code memory limit,
  recompile_after, log events, the log's descriptor open on the log file, perf map);
* refused: the exception is the TypeError or ValueError the model predicts and names the
  option at fault, and nothing changed: not config(), not the C values, not the log (same
  descriptor, same file) and not the perf map.

Any other exception or outcome prints the call and exits 1. At the end the original
configuration is restored and checked. Prints "ok ..." on success.
"""
from __future__ import annotations

import enum
import math
import os
import random
import sys

import _overdrive
import overdrive

# The documented bounds, written out here on purpose rather than read from the package.
NUMERIC = {"threshold": (0, 2**31 - 1), "max_code_bytes": (4096, 2**47),
           "recompile_after": (0, 2**63 - 1)}
EVENTS = ("compile", "exit")
NAMES = ("threshold", "max_code_bytes", "recompile_after", "perf_map", "log", "log_file")
BAD_NAMES = ("thresh", "Threshold", "log_files", "", "perfmap", "max_code", "enable")


class Fs(os.PathLike):
    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return self.path

    def __repr__(self):
        return f"Fs({self.path!r})"


class RaisingFs(os.PathLike):
    def __fspath__(self):
        raise RuntimeError("no path today")


class MyInt(int):
    pass


class Level(enum.IntEnum):
    LOW = 5
    HIGH = 2**40


class MyStr(str):
    pass


TYPE, VALUE = TypeError, ValueError


def classify(name, value, openable):
    """(None, normalized value) if the model accepts value for name, else (exception
    class, None). openable: {path: bool}, for the paths the pool holds."""
    if name not in NAMES:
        return TYPE, None
    if name in NUMERIC:
        if not isinstance(value, int) or isinstance(value, bool):
            return TYPE, None
        lo, hi = NUMERIC[name]
        return (None, int(value)) if lo <= value <= hi else (VALUE, None)
    if name == "perf_map":
        return (None, value) if isinstance(value, bool) else (TYPE, None)
    if name == "log":
        if not isinstance(value, str):
            return TYPE, None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if any(p not in EVENTS for p in parts):
            return VALUE, None
        return None, ",".join(e for e in EVENTS if e in parts)
    # log_file
    if value is None:
        return None, None
    if isinstance(value, RaisingFs):
        return TYPE, None
    if isinstance(value, Fs):
        value = value.path
    elif not isinstance(value, str):
        return TYPE, None
    if not isinstance(value, str):
        return TYPE, None
    if value == "" or "\0" in value:
        return VALUE, None
    return None, str(value)


def show(options):
    """The call's arguments for a failure message (no str() of a huge int: 3.11 limits it)."""
    def one(v):
        if isinstance(v, int) and v.bit_length() > 256:
            return f"<int of {v.bit_length()} bits>"
        return repr(v)[:100]
    return ", ".join(f"{n}={one(v)}" for n, v in options.items())


def can_append(path, openable):
    """Whether `path` opens for appending (the pool's other strings are relative paths,
    tried in the fuzz's own directory, where creating them is harmless)."""
    if path not in openable:
        try:
            open(path, "ab").close()
            openable[path] = True
        except OSError:
            openable[path] = False
    return openable[path]


def log_identity(fd):
    if fd < 0:
        return None
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def c_state():
    g = dict(_overdrive._get_config())
    g["log_file_identity"] = log_identity(g["log_fd"])
    return g


def check_agrees(model, where):
    got = overdrive.config()
    assert got == model, f"{where}: config() {got} != model {model}"
    for k, v in got.items():
        assert type(v) is type(model[k]), f"{where}: config()[{k!r}] is {type(v).__name__}"
    g = c_state()
    for k in ("threshold", "max_code_bytes", "recompile_after", "perf_map"):
        assert g[k] == model[k], f"{where}: C {k} = {g[k]!r}, config() says {model[k]!r}"
    assert g["code_memory_limit"] == model["max_code_bytes"], f"{where}: code memory limit {g}"
    events = model["log"].split(",") if model["log"] else []
    assert g["log_compile"] == ("compile" in events) and g["log_exit"] == ("exit" in events), \
        f"{where}: C log events {g}, config() says {model['log']!r}"
    if events:
        target = os.stat(model["log_file"]) if model["log_file"] is not None else os.fstat(2)
        assert g["log_file_identity"] == (target.st_dev, target.st_ino), \
            f"{where}: the C log descriptor is not open on {model['log_file']!r}"
    else:
        assert g["log_fd"] == -1, f"{where}: log off but C keeps descriptor {g['log_fd']}"
    return g


def value_pool(tmp):
    good = [os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")]
    bad = ["/proc/version", "/nonexistent/dir/x", tmp, os.path.join(tmp, "no", "dir.log")]
    ints = [0, 1, 2, -1, -2**31, 4095, 4096, 4097, 1000, 512 << 20, 2**31 - 1, 2**31,
            2**32, 2**47 - 1, 2**47, 2**47 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
            2**64 + 2, 2**64 + 8192, -2**63, -2**64, 2**20000, -2**20000,
            MyInt(7), MyInt(-7), MyInt(2**64), Level.LOW, Level.HIGH]
    others = [True, False, 0.0, 1.5, 4096.0, math.nan, math.inf, -math.inf, None, b"compile",
              b"/tmp/x", [1], ["compile"], {}, (), object(), 1j, "3", "4096", "1e3"]
    logs = ["", "compile", "exit", "compile,exit", " exit , compile,exit", "exit,", ",",
            "bogus", "compile,bogus", "COMPILE", "compile exit", "\0", "compile\0",
            MyStr("exit"), "x" * 10000]
    paths = (good + bad + [Fs(p) for p in good + bad] + [None, "", "a\0b", Fs(b"/tmp/x"),
             Fs(None), Fs(3), RaisingFs(), MyStr(good[0]), Fs(MyStr(good[1])), b"/tmp/x.log"])
    openable = {}
    for p in good + bad:
        try:
            open(p, "ab").close()
            openable[p] = True
        except OSError:
            openable[p] = False
    assert openable[good[0]] and not openable["/proc/version"], openable
    return {"int": ints, "other": others, "log": logs, "path": paths}, openable


def pick_value(rng, pool, name):
    kind = {"threshold": "int", "max_code_bytes": "int", "recompile_after": "int",
            "perf_map": "bool", "log": "log", "log_file": "path"}.get(name)
    r = rng.random()
    if kind == "bool" and r < 0.5:
        return rng.choice([True, False])
    if kind in pool and r < 0.6:
        return rng.choice(pool[kind])
    if kind == "int" and r < 0.7:
        lo, hi = NUMERIC[name]
        return rng.randrange(lo - 10, hi + 10) if rng.random() < 0.5 else rng.randrange(-2**70, 2**70)
    return rng.choice(rng.choice(list(pool.values())))


def main(seed, calls, tmp):
    os.chdir(tmp)                   # relative log_file values land here
    rng = random.Random(seed)
    pool, openable = value_pool(tmp)
    original = overdrive.config()
    model = dict(original)
    check_agrees(model, "start")
    accepted = refused = 0
    for i in range(calls):
        names = rng.sample(NAMES, rng.randint(0, 3))
        if rng.random() < 0.1:
            names.insert(rng.randrange(len(names) + 1), rng.choice(BAD_NAMES))
        options = {n: pick_value(rng, pool, n) for n in names}
        where = f"call {i}: config({show(options)})"
        # The model: the first option at fault in call order decides the exception.
        expected_exc, culprit, new = None, None, dict(model)
        for n, v in options.items():
            exc, norm = classify(n, v, openable)
            if exc is not None:
                expected_exc, culprit = exc, n
                break
            new[n] = norm
        if expected_exc is None and new["log"] and (new["log"], new["log_file"]) != (
                model["log"], model["log_file"]) and new["log_file"] is not None \
                and not can_append(new["log_file"], openable):
            expected_exc, culprit = VALUE, "log_file"
        before = c_state()
        try:
            result = overdrive.config(**options)
        except (TypeError, ValueError) as e:
            assert expected_exc is not None, f"{where}: refused, the model accepts it: {e!r}"
            assert type(e) is expected_exc, f"{where}: {type(e).__name__}, expected " \
                                            f"{expected_exc.__name__}: {e}"
            assert f"'{culprit}'" in str(e), f"{where}: the error does not name {culprit!r}: {e}"
            after = check_agrees(model, where + " (refused)")
            assert after == before, f"{where}: refused, but the C state changed: {before} -> {after}"
            refused += 1
            continue
        except BaseException as e:
            raise AssertionError(f"{where}: raised {type(e).__name__}: {e}") from e
        assert expected_exc is None, f"{where}: accepted, the model expects {expected_exc.__name__} " \
                                     f"naming {culprit!r}; config() is now {result}"
        model = new
        assert result == model, f"{where}: returned {result}, expected {model}"
        check_agrees(model, where)
        accepted += 1
    overdrive.config(**original)
    check_agrees(original, "restored")
    # perf_map=True calls wrote this process's map in /tmp: it is the test's, not perf's
    # (left there, a later process with the same pid would find it)
    if os.path.lexists(overdrive.perfmap.path()):
        os.remove(overdrive.perfmap.path())
    print(f"ok {calls} calls: {accepted} accepted, {refused} refused")
    return accepted, refused


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    except AssertionError as e:
        print(f"FAIL {e}")
        sys.exit(1)
