"""Every assembler encoding checked against an independent disassembler (capstone)."""
import re

import pytest

import _overdrive

capstone = pytest.importorskip("capstone", reason="capstone is a test dependency: pip install '.[test]'")


def _normalize(text: str) -> str:
    text = text.lower().replace("  ", " ")
    text = re.sub(r"\s*([\[\]+\-,])\s*", r"\1", text)
    return text.replace("qwordptr", "qword ptr ").replace("dwordptr", "dword ptr ")


def test_every_encoding_matches_capstone():
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    cases = _overdrive._asm_selftest()
    assert len(cases) > 1000
    bad = []
    for expected, code in cases:
        insns = list(md.disasm(code, 0))
        # One instruction that consumes every byte (label tests append int3 padding).
        got = f"{insns[0].mnemonic} {insns[0].op_str}".strip() if insns else "<invalid>"
        if not insns or (insns[0].size != len(code) and "int3" not in [i.mnemonic for i in insns[1:]]):
            bad.append((expected, code.hex(), got))
            continue
        exp = _normalize(expected)
        if _normalize(got) != exp and not _equivalent(exp, _normalize(got)):
            bad.append((expected, code.hex(), got))
    assert not bad, bad[:20]


def _equivalent(expected: str, got: str) -> bool:
    # capstone prints "[rax]" for a zero displacement and hex immediates; our table may
    # spell "+0x0" or decimal. Compare after canonicalising numbers.
    def canon(s: str) -> str:
        s = re.sub(r"0x([0-9a-f]+)", lambda m: str(int(m.group(1), 16)), s)
        s = s.replace("+0]", "]")
        return s
    return canon(expected) == canon(got)
