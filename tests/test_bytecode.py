"""The bytecode decoder's views checked against CPython's own: line table per code unit,
exception table entries."""
import dis
import types

import _overdrive


def _all_code_objects():
    import argparse, collections, inspect, json, typing  # noqa: E401 - a varied sample
    seen = []

    def walk(co):
        seen.append(co)
        for c in co.co_consts:
            if isinstance(c, types.CodeType):
                walk(c)

    for mod in (argparse, collections, inspect, json, typing):
        for v in vars(mod).values():
            if isinstance(v, types.FunctionType):
                walk(v.__code__)
            elif isinstance(v, type):
                for f in vars(v).values():
                    if isinstance(f, types.FunctionType):
                        walk(f.__code__)
    return seen


def test_line_table_matches_co_positions():
    codes = _all_code_objects()
    assert len(codes) > 500
    for co in codes:
        ours = _overdrive._lines(co)
        theirs = [pos[0] if pos[0] is not None else -1 for pos in co.co_positions()]
        assert ours == theirs, co


def test_exception_table_matches_dis():
    codes = [co for co in _all_code_objects() if co.co_exceptiontable]
    assert codes
    for co in codes:
        reference = [(e.start // 2, e.end // 2, e.target // 2, e.depth, int(e.lasti))
                     for e in dis._parse_exception_table(co)]
        assert _overdrive._exception_table(co) == reference, co
