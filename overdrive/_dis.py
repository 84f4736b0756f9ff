"""What the JIT made of a function: bytecode beside native code, inline caches and exits.

    overdrive.dis(func)              bytecode, source lines, native ranges, cache contents, exits
    overdrive.dis_native(func)       x86-64 assembly interleaved with bytecode and source lines
                                     (needs capstone: pip install 'overdrive[dis]')
    overdrive.dump_native(func, p)   raw machine code to p, JSON sidecar to p + '.json'

dis() and dis_native() print (to `file`, default sys.stdout); dis_text() and
dis_native_text() return the same text. Everything comes from _overdrive._native_map(),
which reports what the compiled code and its inline caches hold right now.

The package's functions of the same names import this module at their first call, so that
`import overdrive` does not import what it needs.
"""
from __future__ import annotations

import dis as _stdlib_dis
import json
import os
import re
import sys
import types
from dataclasses import dataclass

import _overdrive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Optional, TextIO, Tuple, Union

    _CodeLike = Union[Callable[..., Any], types.CodeType]

__all__ = ["dis", "dis_text", "dis_native", "dis_native_text", "dump_native"]

CAPSTONE_MISSING = ("overdrive.dis_native needs the capstone disassembler, which is not "
                    "installed: pip install 'overdrive[dis]'  (or: pip install 'capstone>=5')")


@dataclass
class Row:
    """One bytecode instruction and what tier 1 made of it."""
    offset: int                    # first code unit (EXTENDED_ARG prefix included), in bytes
    op_offset: int                 # the opcode itself
    opname: str
    arg: Optional[int]
    argrepr: str
    line: Optional[int]
    native: Optional[Tuple[int, Optional[int]]]  # [start, end) in the native code; end None = unknown
    supported: bool
    cache: Optional[Dict[str, Any]]


def _code(func: _CodeLike) -> types.CodeType:
    if isinstance(func, types.CodeType):
        return func
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    if isinstance(code, types.CodeType):
        return code
    raise TypeError(f"expected a Python function, method or code object, "
                    f"not {type(func).__name__}")


def _target(func: _CodeLike) -> Any:
    """What _overdrive accepts: the function itself when there is one (its globals let the
    LOAD_GLOBAL caches be checked), else the code object."""
    func = getattr(func, "__func__", func)
    return func if isinstance(func, types.FunctionType) else _code(func)


def _stdlib_rows(code: types.CodeType) -> Dict[int, Tuple[str, str, Optional[int], Optional[int], int]]:
    """op_offset -> (opname, argrepr, arg, line, start offset) from the stdlib disassembler,
    with EXTENDED_ARG prefixes folded into the instruction they extend."""
    out = {}
    line = None
    prefix_start = None
    for ins in _stdlib_dis.get_instructions(code):
        if ins.positions is not None and ins.positions.lineno is not None:
            line = ins.positions.lineno
        elif ins.starts_line is not None:
            line = ins.starts_line
        if ins.opname == "EXTENDED_ARG":
            prefix_start = ins.offset if prefix_start is None else prefix_start
            continue
        start = prefix_start if prefix_start is not None else ins.offset
        prefix_start = None
        out[ins.offset] = (ins.opname, ins.argrepr, ins.arg, line, start)
    return out


def _rows(code: types.CodeType, native: Optional[Dict[str, Any]],
          body_end: Optional[int]) -> List[Row]:
    std = _stdlib_rows(code)
    supported = set(_overdrive.supported_opcodes())
    if native is None:
        return [Row(start, off, name, arg, argrepr, line, None, name in supported, None)
                for off, (name, argrepr, arg, line, start) in sorted(std.items())]
    instrs = native["instructions"]
    starts = [i["native_offset"] for i in instrs]
    rows = []
    for k, ins in enumerate(instrs):
        _, argrepr, _, line, _ = std.get(ins["op_offset"], (ins["opname"], "", ins["oparg"], None, 0))
        rng = None
        if starts[k] is not None:
            # An instruction's code runs up to where the next emitted instruction starts;
            # the last one up to the end of the straight-line body.
            end = next((s for s in starts[k + 1:] if s is not None), body_end)
            rng = (starts[k], end)
        rows.append(Row(ins["offset"], ins["op_offset"], ins["opname"], ins["oparg"], argrepr,
                        line, rng, ins["supported"], ins["cache"]))
    return rows


def _type_name(t: Any) -> str:
    if isinstance(t, type):
        if t.__module__ in ("builtins", None):
            return t.__qualname__
        return f"{t.__module__}.{t.__qualname__}"
    return "?" if t is None else str(t)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def describe_cache(row: Row) -> str:
    """One line saying what the instruction's inline cache has seen."""
    c = row.cache
    if not c:
        return ""
    kind = c["kind"]
    if kind == "global":
        if not c["filled"]:
            seen = "empty"
        elif c["valid"] is None:
            seen = "filled"
        elif c["valid"]:
            seen = f"-> {_value_desc(c['value'])}"
        else:
            seen = "stale (globals or builtins changed since)"
        return f"global {c['name']} {seen}: {_count(c['hits'], 'hit', 'hits')}, {_count(c['misses'], 'miss', 'misses')}"
    if kind == "attr":
        if not c["entries"]:
            return f".{c['name']}: no type seen yet"
        parts = []
        for e in c["entries"]:
            stale = "" if e["current"] else " (type changed since)"
            parts.append(f"{_type_name(e['type'])} {e['kind']}{stale} "
                         f"{_count(e['hits'], 'hit', 'hits')}/{_count(e['misses'], 'miss', 'misses')}")
        return f".{c['name']}: " + "; ".join(parts)
    if kind == "op":
        if c["left"] is None:
            return "no operands seen yet"
        left, right = _type_name(c["left"]), _type_name(c["right"])
        if row.opname == "BINARY_SUBSCR":
            shape = f"{left}[{right}]"
        elif row.opname == "FOR_ITER":
            shape = f"next({left})"
        else:
            shape = f"{left} {row.argrepr or '?'} {right}"
        return f"{shape} (last seen): {c['inline']} inline, {c['fast']} fast, {c['slow']} generic"
    if kind == "call":
        if not c["calls"]:
            return "not called yet"
        form = f", form {c['form']}" if c.get("form") else ""   # runtime/ccall.h
        return (f"callee {_type_name(c['callee_type'])} (last seen): {_count(c['calls'], 'call', 'calls')}, "
                f"{c['py_calls']} to Python functions{form}")
    return ""


def _exit_note(row: Row, reasons: Dict[str, str], compiled: bool) -> str:
    if row.supported:
        return ""
    if not compiled:
        return "not supported by tier 1 (would exit to the interpreter)"
    return f"EXIT to the interpreter: UNSUPPORTED_OPCODE ({reasons.get('UNSUPPORTED_OPCODE', '')})"


def _value_desc(v: Any) -> str:
    if isinstance(v, type):
        return "class " + _type_name(v)
    if isinstance(v, types.ModuleType):
        return "module " + v.__name__
    name = getattr(v, "__qualname__", None)
    if callable(v) and isinstance(name, str):
        return f"{_type_name(type(v))} {name}"
    return _type_name(type(v))


def _body_end(native: Dict[str, Any],
              insns: Optional[List[Tuple[int, int, str, str]]] = None) -> Optional[int]:
    """End of the straight-line body: tier 1 puts an int3 after the last instruction and the
    out-of-line code after that. Finding it needs a decoder; None without capstone."""
    if insns is None:
        try:
            insns = list(_disassemble(native))
        except ImportError:
            return None
    starts = [i["native_offset"] for i in native["instructions"] if i["native_offset"] is not None]
    last = max(starts) if starts else 0
    for addr, size, mnemonic, _ in insns:
        off = addr - native["address"]
        if off >= last and mnemonic == "int3":
            return off
    return None


def _header(code: types.CodeType, native: Optional[Dict[str, Any]]) -> List[str]:
    info = _overdrive.info(code)
    where = f"{code.co_qualname}  ({code.co_filename}:{code.co_firstlineno})"
    if native is None:
        return [where, f"  not compiled: {info['why_not']}"]
    exits = native["exits"]
    if exits:
        said = ", ".join(f"{n} {reason}" for reason, n in sorted(exits.items()))
        said += f" (last at {native['last_exit_opcode']})"
    else:
        said = "none"
    return [where,
            f"  tier {native['tier']}: {native['code_size']} bytes of x86-64 at "
            f"{native['address']:#x}, {_count(native['native_entries'], 'native entry', 'native entries')}",
            f"  exits to the interpreter: {said}"]


def dis_text(func: _CodeLike) -> str:
    """The text dis() prints."""
    code = _code(func)
    native = _overdrive._native_map(_target(func))
    reasons = _overdrive._exit_reasons()
    rows = _rows(code, native, _body_end(native) if native else None)
    lines = _header(code, native)
    width = max([len(f"{r.opname} {r.arg if r.arg is not None else ''} ({r.argrepr})") for r in rows] + [20])
    lines.append(f"  {'line':>5}  {'offset':>6}  {'instruction':<{width}}  {'native code':<17}  "
                 f"inline cache / exit")
    last_line = None
    for r in rows:
        line = "" if r.line == last_line or r.line is None else str(r.line)
        last_line = r.line if r.line is not None else last_line
        text = r.opname if r.arg is None else f"{r.opname} {r.arg}"
        if r.argrepr:
            text += f" ({r.argrepr})"
        if r.native is None:
            nat = "" if native is None else "(unreachable)"
        elif r.native[1] is None:
            nat = f"+{r.native[0]:#06x}.."
        elif r.native[0] == r.native[1]:
            nat = "(no code)"
        else:
            nat = f"+{r.native[0]:#06x}..+{r.native[1]:#06x}"
        note = "; ".join(n for n in (describe_cache(r), _exit_note(r, reasons, native is not None)) if n)
        lines.append(f"  {line:>5}  {r.offset:>6}  {text:<{width}}  {nat:<17}  {note}".rstrip())
    return "\n".join(lines) + "\n"


def dis(func: _CodeLike, *, file: Optional[TextIO] = None) -> None:
    """Print the function's bytecode with, per instruction: its source line, the native code
    range it compiled to, what its inline cache has seen, and whether it exits to the
    interpreter (and why). Works for functions not compiled yet too (says why not)."""
    print(dis_text(func), end="", file=file if file is not None else sys.stdout)


# ---- native code ---------------------------------------------------------------------------

def _disassemble(native: Dict[str, Any]) -> Iterator[Tuple[int, int, str, str]]:
    """(address, size, mnemonic, operands) of every instruction; ImportError without capstone."""
    try:
        import capstone
    except ImportError:
        raise ImportError(CAPSTONE_MISSING) from None
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    code, base, off = native["code"], native["address"], 0
    end = native.get("data_offset", len(code))     # tier 1's constants follow the code
    while off < end:
        resumed = False
        for addr, size, mnemonic, op_str in md.disasm_lite(code[off:end], base + off):
            yield addr, size, mnemonic, op_str
            off = addr - base + size
            target = int(op_str, 16) - base if mnemonic == "call" and _JUMP_TARGET.match(op_str) else -1
            # A compact unit's helper call (tier1/compact.c): `call thunk` and 6 bytes of
            # data (opcode, oparg, unit index, depth) the thunk returns past. The thunk
            # starts with `lea rdi, [rbx - 0x80]` (the frame: rbx holds it plus
            # tier1/emit.h's FRAME_BIAS); the call entries with `mov rax, <function>`.
            if 0 <= target < len(code) and code[target:target + 4] == _FRAME_TO_RDI:
                d = code[off:off + 6]
                if len(d) == 6:
                    yield (base + off, 6, ".byte", f"compact {_stdlib_dis.opname[d[0]]} {d[1]}, "
                           f"unit {int.from_bytes(d[2:4], 'little')}, depth {int.from_bytes(d[4:6], 'little')}")
                    off += 6
                    resumed = True
            # A full unit's descriptor stub (tier1/stub_thunk.c): `call stub_thunk`, a kind
            # byte and its fields; the thunk starts with `pop rsi; lea rdi, [rbx - 0x80]`.
            elif 0 <= target < len(code) and code[target:target + 5] == b"\x5e" + _FRAME_TO_RDI:
                d = _stub_descriptor(code, off)
                if d:
                    yield (base + off, d[0], ".byte", d[1])
                    off += d[0]
                    resumed = True
            if resumed:
                break
        if not resumed:
            return


# lea rdi, [rbx - 0x80]: the frame, from tier 1's rbx (the frame + FRAME_BIAS, tier1/emit.h)
_FRAME_TO_RDI = b"\x48\x8d\x7b\x80"

# tier1/stub_thunk.c: ERROR, EXIT, BREAKER, HELPER_FAIL, HELPER_FAIL_SHORT
_STUB_DESC_SIZE = {1: 5, 2: 7, 3: 5, 4: 14, 5: 9}


def _stub_descriptor(code: bytes, off: int) -> Optional[Tuple[int, str]]:
    """(size, text) of the descriptor stub_thunk.c put at `off`, or None."""
    size = _STUB_DESC_SIZE.get(code[off]) if off < len(code) else None
    if size is None or off + size > len(code):
        return None
    d = code[off:off + size]
    w = [int.from_bytes(d[i:i + 2], "little") for i in range(1, size - 1, 2)]
    if d[0] == 1:
        return size, f"error -> unwind at unit {w[0]} ({w[1]} live)"
    if d[0] == 2:
        reasons = list(_overdrive._exit_reasons())
        why = reasons[d[5]] if d[5] < len(reasons) else d[5]
        return size, (f"-> exit to the interpreter: {why} at {_stdlib_dis.opname[d[6]]} "
                      f"(unit {w[0]}, depth {w[1]})")
    if d[0] == 3:
        return size, (f"eval breaker at unit {w[0]}: handle it, then the jump below; "
                      f"error -> unwind ({w[1]} live)")
    if d[0] == 5:   # index, phys; index - start | next - index; phys - live; after - phys + 128
        w = [w[0], w[1] - d[6], w[0] - (d[5] >> 6), w[1], w[0] + (d[5] & 63), w[1] + d[7] - 128]
    name = _stdlib_dis.opname[d[13] if d[0] == 4 else d[8]]
    return size, (f"{name} failed: error -> unwind at unit {w[0]} ({w[1]} live); "
                  f"deopt -> exit to the interpreter: HELPER_DEOPT at {name} (unit "
                  f"{w[2]}, depth {w[3]}); tracing -> exit at unit {w[4]} (depth {w[5]})")


_MEM = re.compile(r"\[(\w+)(?: ([+-]) (0x[0-9a-f]+|\d+))?\]")
_REG_IMM = re.compile(r"^(\w+), (0x[0-9a-f]+|\d+)$")
# A CALL site's helper call (tier1/compile.c emit_helper_call): `mov rcx, <site>` then
# `call [rcx + offsetof(OdCallSite, fn)]`, the helper the site picked (runtime/ccall.h).
_SITE_FN_CALL = re.compile(r"^qword ptr \[rcx \+ 0x18\]$")
_JUMP_TARGET = re.compile(r"^0x[0-9a-f]+$")


class _Annotator:
    """Comments for the assembly: names of called functions and embedded objects, frame
    slots by local variable, jump targets by bytecode instruction."""

    def __init__(self, code: types.CodeType, native: Dict[str, Any], rows: List[Row],
                 body_end: int, insns: List[Tuple[int, int, str, str]]) -> None:
        self.native = native
        self.code = code
        self.base = native["address"]
        self.size = native["code_size"]
        self.body_end = body_end
        self.helpers = _overdrive._helper_symbols()
        self.objects: Dict[int, str] = {id(None): "None", id(True): "True", id(False): "False",
                                        native["code_units_address"]: "first code unit (prev_instr base)",
                                        native["unit_address"]: "this function's OdUnit"}
        for k in code.co_consts:
            self.objects.setdefault(id(k), "const " + _short_repr(k))
        for ins in native["instructions"]:
            if ins["site_address"] is not None:
                self.objects[ins["site_address"]] = f"inline cache of {ins['opname']} @{ins['op_offset']}"
        self.starts: Dict[int, Row] = {}
        self.row_ranges = [r for r in rows if r.native is not None]
        for r in rows:
            if r.native is not None:
                self.starts.setdefault(r.native[0], r)
        offs = native["offsets"]
        self.frame_fields = {offs["frame.prev_instr"]: "frame.prev_instr",
                             offs["frame.stacktop"]: "frame.stacktop"}
        self.localsplus = offs["frame.localsplus"]
        self.frame_bias = 0     # what the prologue adds to the frame register (tier 1: 128)
        self.tstate_fields = {offs["tstate.interp"]: "interp", offs["tstate.cframe"]: "cframe"}
        self.breaker = offs["interp.eval_breaker"]
        self.use_tracing = offs["cframe.use_tracing"]
        self.exit_reasons = list(_overdrive._exit_reasons())
        # Registers are identified from the prologue: the entry is called as
        # entry(frame=rdi, tstate=rsi, unit=rdx) and copies them into callee-saved registers.
        self.reg_role: Dict[str, str] = {}
        if native["tier"] == 1:
            # Tier 1's units share one entry (tier1/compile.c emit_shared_entry), which loads
            # the register plan of tier1/emit.h before it calls the unit's code.
            self.reg_role.update({"rbx": "frame", "r12": "thread state", "rbp": "unit",
                                  "r13": "code", "r14": "eval breaker", "r15": "cframe"})
            self.frame_bias = 128   # tier1/emit.h FRAME_BIAS
        self.prev: Tuple[str, str] = ("", "")
        self.return_null, self.return_value = _epilogue(insns, self.base)
        # Calls of functions out of a direct call's reach go through one entry per callee at
        # the end of the code (asm/x64.h od_call_abs): `mov rax, <function>; jmp rax`. Map
        # entry address -> function.
        self.call_entries: Dict[int, int] = {}
        for (addr, _, mn, ops), (_, _, mn2, ops2) in zip(insns, insns[1:]):
            m = _REG_IMM.match(ops)
            if mn in ("mov", "movabs") and m and m.group(1) in ("rax", "eax") \
                    and mn2 == "jmp" and ops2 == "rax":
                self.call_entries[addr] = int(m.group(2), 0)
        # The shared tails every exit and error stub jumps to (tier1/compile.c): two moves,
        # then the call of od_rt_set_exit / od_rt_error.
        self.tails: Dict[int, str] = {}
        for i, (_, _, mn, ops) in enumerate(insns):
            if i >= 2 and mn == "call" and _JUMP_TARGET.match(ops):
                target = int(ops, 16)   # a call entry's, or the function's own (a direct call)
                name = self.helpers.get(self.call_entries.get(target, target))
                if name in ("od_rt_set_exit", "od_rt_error"):
                    self.tails[insns[i - 2][0]] = "exit" if name == "od_rt_set_exit" else "error"

    def _where(self, target: int) -> str:
        off = target - self.base
        if not 0 <= off < self.size:
            return ""
        if off == self.return_null:
            return "-> epilogue: return NULL (exit to the interpreter, or exception unwound)"
        if off == self.return_value:
            return "-> epilogue: return rax"
        row = self.starts.get(off)
        if row is not None and off < self.body_end:
            return f"-> @{row.offset} {row.opname}"
        if off >= self.body_end:
            return f"-> out-of-line +{off:#x}"
        for r in self.row_ranges:
            if r.native[0] <= off < (r.native[1] if r.native[1] is not None else self.body_end):
                return f"-> inside @{r.offset} {r.opname}"
        return f"-> +{off:#x}"

    def _slot(self, disp: int) -> str:
        disp += self.frame_bias
        idx, rem = divmod(disp - self.localsplus, 8)
        if disp < self.localsplus or rem:
            return self.frame_fields.get(disp, "")
        if idx < self.native["nlocalsplus"]:
            return "local " + self.code._varname_from_oparg(idx)
        return f"stack[{idx - self.native['nlocalsplus']}]"

    def note(self, mnemonic: str, op_str: str, in_prologue: bool) -> str:
        prev = self.prev
        self.prev = (mnemonic, op_str)
        if in_prologue and mnemonic == "mov":
            m = re.match(r"^(\w+), (rdi|rsi|rdx)$", op_str)
            if m:
                role = {"rdi": "frame", "rsi": "thread state", "rdx": "unit"}[m.group(2)]
                self.reg_role[m.group(1)] = role
                return f"{m.group(1)} = {role}"
        if in_prologue and mnemonic == "lea":
            # tier 1: rbx = the frame + FRAME_BIAS (tier1/emit.h), for one-byte displacements
            m = re.match(r"^(\w+), \[rdi \+ (0x[0-9a-f]+|\d+)\]$", op_str)
            if m:
                self.reg_role[m.group(1)] = "frame"
                self.frame_bias = int(m.group(2), 0)
                return f"{m.group(1)} = frame + {self.frame_bias}"
        if in_prologue and mnemonic == "add":
            m = _REG_IMM.match(op_str)
            if m and self.reg_role.get(m.group(1)) == "interp" and int(m.group(2), 0) == self.breaker:
                self.reg_role[m.group(1)] = "eval breaker"
                return f"{m.group(1)} = &interp->ceval.eval_breaker"
        if mnemonic in ("mov", "movabs"):
            m = _REG_IMM.match(op_str)
            if m:
                value = int(m.group(2), 0)
                name = self.helpers.get(value) or self.objects.get(value)
                if name == "first code unit (prev_instr base)":
                    self.reg_role[m.group(1)] = "code"
                return name or ""
        if mnemonic == "call" and _JUMP_TARGET.match(op_str):
            t = int(op_str, 16) - self.native["address"]
            if 0 <= t and self.native["code"][t:t + 4] == _FRAME_TO_RDI:
                return "call the compact thunk: od_rt_compact_op(frame, descriptor below)"
            if 0 <= t and self.native["code"][t:t + 5] == b"\x5e" + _FRAME_TO_RDI:
                return ("call the stub thunk: od_rt_stub(frame, descriptor below, unit, "
                        "result, thread state)")
        if mnemonic == "call" and _JUMP_TARGET.match(op_str) and int(op_str, 16) in self.call_entries:
            value = self.call_entries[int(op_str, 16)]
            return "call " + self.helpers.get(value, f"{value:#x} (unknown function)")
        if mnemonic == "call" and _JUMP_TARGET.match(op_str) and int(op_str, 16) in self.helpers:
            # `call [rip + constant]` (asm/x64.h od_call_pool), the constant substituted
            return "call " + self.helpers[int(op_str, 16)]
        if mnemonic == "call" and _JUMP_TARGET.match(op_str) and self.native["tier"] == 1 \
                and 0 <= int(op_str, 16) - self.base < self.body_end:
            # Tier 1: the unit's entry, or a direct call's entry (tier1/fast_call.c), with the
            # register plan loaded; the body's epilogue returns here.
            return "call the body: returns here, result in rax"
        if mnemonic == "call" and _SITE_FN_CALL.match(op_str) and prev[0] in ("mov", "movabs"):
            m = _REG_IMM.match(prev[1])
            # ecx when the site lies below 4 GiB (`mov ecx, imm32`: a static build's heap)
            if m and m.group(1) in ("rcx", "ecx"):
                import ctypes
                value = ctypes.c_void_p.from_address(int(m.group(2), 0) + 0x18).value or 0
                return ("call " + self.helpers.get(value, f"{value:#x} (unknown function)")
                        + " (the site's helper now)")
        if mnemonic == "call" and op_str == "rax" and prev[0] == "add" \
                and self.reg_role.get(prev[1].split(",")[0]) == "code":
            # Tier 1's SEND / FOR_ITER (runtime/gen_resume.h): the receiver's unit register
            # plan loaded, the code register last; its body's epilogue returns here.
            return ("call the generator's native code where it resumes: returns here, "
                    "result in rax")
        if mnemonic == "call" and op_str in ("rax",) and prev[0] in ("mov", "movabs"):
            m = _REG_IMM.match(prev[1])
            if m and m.group(1) in ("rax", "eax"):
                value = int(m.group(2), 0)
                return "call " + self.helpers.get(value, f"{value:#x} (unknown function)")
        if mnemonic.startswith("j") and _JUMP_TARGET.match(op_str):
            target = int(op_str, 16)
            if target in self.tails:
                # exit stubs: `mov r8d, reason | opcode << 8`, then the jump to the tail
                m = _REG_IMM.match(prev[1])
                if self.tails[target] == "exit" and prev[0] == "mov" and m and m.group(1) in ("r8", "r8d"):
                    value = int(m.group(2), 0)
                    reason, op = value & 0xFF, value >> 8
                    why = self.exit_reasons[reason] if reason < len(self.exit_reasons) else reason
                    return f"-> exit to the interpreter: {why} at {_stdlib_dis.opname[op]}"
                return f"-> shared {self.tails[target]} tail"
            return self._where(target)
        m = _MEM.search(op_str)
        if m:
            reg, sign, num = m.group(1), m.group(2), m.group(3)
            disp = int(num, 0) if num else 0
            disp = -disp if sign == "-" else disp
            role = self.reg_role.get(reg)
            if role == "thread state" and in_prologue and mnemonic == "mov":
                field = self.tstate_fields.get(disp)
                dest = op_str.split(",")[0]
                if field:
                    self.reg_role[dest] = field
                    return f"{dest} = tstate->{field}"
            if role == "eval breaker" and disp == 0:
                return "eval breaker: signals, GIL drop request, async exception?"
            if role == "cframe" and disp == self.use_tracing:
                return "cframe.use_tracing: tracing switched on?"
            if role == "frame":
                slot = self._slot(disp)
                return slot
            if role == "code" and mnemonic == "lea":
                return f"prev_instr -> @{disp}"
        return ""


def _epilogue(insns: List[Tuple[int, int, str, str]], base: int) -> Tuple[Optional[int], Optional[int]]:
    """Offsets of the epilogue's two entries, found by walking back from the last `ret`
    (only the call entries, `mov rax, <function>; jmp rax` pairs, follow it) over any
    register restores (tier 1's body returns to its entry, which restores them): (return
    NULL, return the value in rax)."""
    i = len(insns) - 1
    while i >= 1 and insns[i][2] == "jmp" and insns[i][3] == "rax" and insns[i - 1][2] in ("mov", "movabs"):
        i -= 2
    if i < 0 or insns[i][2] != "ret":
        return None, None
    i -= 1
    while i >= 0 and insns[i][2] == "pop":
        i -= 1
    if i >= 0 and insns[i][2] == "add" and insns[i][3].startswith("rsp,"):
        i -= 1
    value = insns[i + 1][0] - base
    if i >= 0 and (insns[i][2], insns[i][3]) in (("mov", "eax, 0"), ("xor", "eax, eax"), ("mov", "rax, 0")):
        return insns[i][0] - base, value
    return None, value


def _short_repr(v: Any) -> str:
    try:
        text = repr(v)
    except Exception:  # a constant's repr cannot fail in practice; never break the listing
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def dis_native_text(func: _CodeLike) -> str:
    """The text dis_native() prints. Raises ImportError (saying what to install) without
    capstone, ValueError if the function is not compiled."""
    code = _code(func)
    native = _compiled(func)
    insns = list(_disassemble(native))
    body_end = _body_end(native, insns) or native["code_size"]
    rows = _rows(code, native, body_end)
    ann = _Annotator(code, native, rows, body_end, insns)
    by_start: Dict[int, List[Row]] = {}
    for r in rows:
        if r.native is not None:
            by_start.setdefault(r.native[0], []).append(r)
    first = min(by_start) if by_start else native["code_size"]
    out = _header(code, native)
    if native["tier"] == 2:
        # Tier 2 (docs/tier2.md): six pushes, the frame in rbx, thread state / unit / cframe
        # at [rsp], [rsp+8], [rsp+16]; registers hold values the LIR names (dis(f, tier=2)).
        first = insns[12][0] - native["address"] if len(insns) > 12 else native["code_size"]
        out.append("; tier-2 prologue: rbx = frame; [rsp] thread state, [rsp+8] unit, "
                   "[rsp+16] cframe; see dis(f, tier=2) for the LIR and its registers")
    else:
        out.append("; registers (loaded by the entry all units share): rbx = frame + 128, "
                   "r12 = thread state, rbp = unit, r13 = first code unit, "
                   "r14 = &eval_breaker, r15 = cframe")
    last_line = None
    for addr, size, mnemonic, op_str in insns:
        off = addr - native["address"]
        if off in by_start and off < body_end:
            for r in by_start[off]:
                if r.line is not None and r.line != last_line:
                    out.append(f"; line {r.line}: {_source_line(code, r.line)}".rstrip())
                    last_line = r.line
                text = r.opname if r.arg is None else f"{r.opname} {r.arg}"
                if r.argrepr:
                    text += f" ({r.argrepr})"
                notes = "; ".join(n for n in (describe_cache(r), "" if r.supported else
                                              "exits to the interpreter (unsupported)") if n)
                out.append(f";   @{r.offset} {text}" + (f"    [{notes}]" if notes else ""))
        if off == body_end:
            out.append("; out-of-line code: exits to the interpreter, exception unwinding, "
                       "deallocations, eval-breaker polls")
        if off == (ann.return_null if ann.return_null is not None else ann.return_value):
            out.append("; epilogue: return to the entry, which restores the registers")
        if ann.call_entries and off == min(ann.call_entries) - native["address"]:
            out.append("; call entries: one `mov rax, <function>; jmp rax` per function called")
        asm = f"{mnemonic} {op_str}".strip()
        note = ann.note(mnemonic, _with_constant(native, off + size, op_str), off < first)
        line = f"  {addr:x} +{off:04x}  {asm:<42}"
        out.append((line + (f" ; {note}" if note else "")).rstrip())
    return "\n".join(out) + "\n"


_RIP = re.compile(r"qword ptr \[rip ([+-]) (0x[0-9a-f]+|\d+)\]")


def _with_constant(native: Dict[str, Any], next_off: int, op_str: str) -> str:
    """op_str with a load of one of tier 1's constants (`[rip + d]` into the data after the
    code, asm/x64.h OdAsm.pool) replaced by the constant, so it is named as an immediate."""
    m = _RIP.search(op_str)
    if not m:
        return op_str
    at = next_off + (int(m.group(2), 0) if m.group(1) == "+" else -int(m.group(2), 0))
    code = native["code"]
    if not native.get("data_offset", len(code)) <= at <= len(code) - 8:
        return op_str
    return op_str[:m.start()] + hex(int.from_bytes(code[at:at + 8], "little")) + op_str[m.end():]


def _source_line(code: types.CodeType, line: int) -> str:
    import linecache

    return linecache.getline(code.co_filename, line).strip()


def dis_native(func: _CodeLike, *, file: Optional[TextIO] = None) -> None:
    """Print the function's machine code as x86-64 assembly, interleaved with the bytecode
    instructions and source lines it came from; calls are named by the runtime helper or
    C-API function they call. Needs capstone (pip install 'overdrive[dis]')."""
    print(dis_native_text(func), end="", file=file if file is not None else sys.stdout)


def _compiled(func: _CodeLike) -> Dict[str, Any]:
    native = _overdrive._native_map(_target(func))
    if native is None:
        name = getattr(func, "__qualname__", None) or _code(func).co_qualname
        raise ValueError(f"{name!r} is not compiled: {_overdrive.info(_code(func))['why_not']}")
    return native


def dump_native(func: _CodeLike, path: Union[str, "os.PathLike[str]"]) -> str:
    """Write the function's raw machine code to `path` and a JSON sidecar to path + '.json'
    (load address, per-instruction native offsets, source lines, helper symbol addresses).
    Returns the sidecar's path. Raises ValueError if the function is not compiled."""
    code = _code(func)
    native = _compiled(func)
    path = os.fspath(path)
    rows = _rows(code, native, _body_end(native))
    sidecar = {
        "function": native["name"],
        "filename": native["filename"],
        "firstlineno": native["firstlineno"],
        "tier": native["tier"],
        "load_address": native["address"],
        "load_address_hex": f"{native['address']:#x}",
        "code_size": native["code_size"],
        "code_units_address": native["code_units_address"],
        "exits": native["exits"],
        "instructions": [
            {"offset": r.offset, "opname": r.opname, "oparg": r.arg, "argrepr": r.argrepr,
             "line": r.line, "supported": r.supported,
             "native_start": r.native[0] if r.native else None,
             "native_end": r.native[1] if r.native else None}
            for r in rows],
        "helpers": {f"{a:#x}": name for a, name in sorted(_overdrive._helper_symbols().items())},
        "objdump": (f"objdump -D -b binary -m i386:x86-64 -M intel "
                    f"--adjust-vma={native['address']:#x} {path}"),
    }
    with open(path, "wb") as f:
        f.write(native["code"])
    side = path + ".json"
    with open(side, "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    return side
