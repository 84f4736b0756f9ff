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


# The encoder on its own (src/asm/x64.c and scratch.c compiled with a small C driver): the
# paths the compiler's own units rarely take. Buffers start empty, so the code buffer, the
# fix-ups and the labels all grow through their slow paths, including a jump whose only
# reason for the slow path is full fix-ups; 300 distinct od_call_abs targets, each called
# three times, go through the PLT hash's rehashes and must give 300 PLT entries, each
# call reaching `mov rax, fn; jmp rax` for its own fn (addresses far from the code
# allocator's anchor); calls of targets near it (asm/codemem.h od_codemem_near) are direct
# `call rel32`s, no PLT entry, each reaching its target once installed (the relocations
# moved by relaxation like the code); an unbound label makes od_asm_finish fail.
_DRIVER = r"""
#include "x64.h"
#include <stdio.h>
#include <string.h>

static int check(int ok, const char *what) { if (!ok) printf("FAIL %s\n", what); return ok; }

int main(void)
{
    OdAsm a;
    od_asm_init(&a);
    enum { NFN = 300 };
    static int32_t at[3 * NFN];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < NFN; i++) {
            OdLabel l = od_label_new(&a);
            od_jcc(&a, OD_CC_NE, l);            /* fix-ups fill up on their own */
            od_mov_rm(&a, OD_R12, OD_R13, 0x12345678);
            od_label_bind(&a, l);
            od_call_abs(&a, (const void *)(0x7f0000001000ull + 0x40ull * (unsigned)i));
            at[round * NFN + i] = (int32_t)a.len;   /* end of the call */
        }
    od_emit_plt(&a);
    check(a.nplt == NFN, "one PLT entry per distinct function");
    if (!check(od_asm_finish(&a) == 0, "finish"))
        return 1;
    /* Relaxation shortened every jcc (6 -> 2 bytes): call ends moved up by 4 each. */
    for (int k = 0; k < 3 * NFN; k++) {
        int32_t end = at[k] - 4 * (k + 1), rel;
        memcpy(&rel, a.buf + end - 4, 4);
        const uint8_t *e = a.buf + end + rel;
        uint64_t fn;
        memcpy(&fn, e + 2, 8);
        if (!check(a.buf[end - 5] == 0xE8 && e[0] == 0x48 && e[1] == 0xB8 && e[10] == 0xFF
                   && fn == 0x7f0000001000ull + 0x40ull * (unsigned)(k % NFN), "call target"))
            return 1;
    }
    od_asm_free(&a);

    od_asm_init(&a);
    const uint8_t *near = (const uint8_t *)(void *)&od_codemem_near;
    for (int i = 0; i < NFN; i++) {
        OdLabel l = od_label_new(&a);
        od_jcc(&a, OD_CC_NE, l);
        od_mov_rm(&a, OD_R12, OD_R13, 0x12345678);
        od_label_bind(&a, l);
        od_call_abs(&a, near + 64 * i);
        at[i] = (int32_t)a.len;
    }
    od_ret(&a);
    od_emit_plt(&a);
    check(a.nplt == 0 && a.nrelocs == NFN, "direct calls: no PLT entry, one relocation each");
    if (!check(od_asm_finish(&a) == 0, "finish (direct)"))
        return 1;
    size_t reserved = 0;
    uint8_t *p = od_asm_install(&a, &reserved);
    if (!check(p != NULL, "install (direct)"))
        return 1;
    for (int k = 0; k < NFN; k++) {
        int32_t end = at[k] - 4 * (k + 1), rel;
        memcpy(&rel, p + end - 4, 4);
        if (!check(p[end - 5] == 0xE8 && p + end + rel == near + 64 * k, "direct call target"))
            return 1;
    }
    od_codemem_release(p, reserved);
    od_asm_free(&a);
    /* A relocation out of a rel32's reach is refused, and leaves nothing mapped. */
    static const uint8_t call0[5] = {0xE8, 0, 0, 0, 0};
    OdCodeReloc far_target = {1, near + ((uintptr_t)3 << 30)};
    check(od_codemem_install(call0, 5, &far_target, 1, &reserved) == NULL
          && od_codemem_in_use() == 0 && od_codemem_mapped() == 0, "a far relocation is refused");

    od_asm_init(&a);
    OdLabel never = od_label_new(&a);
    od_jmp(&a, never);
    od_ret(&a);
    check(od_asm_finish(&a) < 0, "unbound label fails");
    od_asm_free(&a);
    printf("OK\n");
    return 0;
}
"""


def test_encoder_slow_paths_and_plt(tmp_path):
    import os
    import shutil
    import subprocess
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    src = os.path.join(os.path.dirname(__file__), "..", "src", "asm")
    (tmp_path / "driver.c").write_text(_DRIVER)
    exe = tmp_path / "driver"
    subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", src,
                    str(tmp_path / "driver.c"), os.path.join(src, "x64.c"),
                    os.path.join(src, "scratch.c"), os.path.join(src, "codemem.c"),
                    "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "OK", out
