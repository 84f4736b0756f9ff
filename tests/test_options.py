"""Option limits (issue 14): the C core refuses what it cannot hold instead of truncating
it, and shows what it holds (_overdrive._get_config)."""
from __future__ import annotations

import pytest

import _overdrive
import overdrive


@pytest.fixture
def restore_config():
    before = overdrive.config()
    yield
    overdrive.config(**before)


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
                                 "recompile_after": (0, 2**63 - 1)}


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
