"""overdrive's tools for humans: dis(), dis_text(), dis_native(), dis_native_text() and
dump_native(), reached as attributes of the package (its __getattr__ imports this module on
first use, so that start-up does not load their code). They import overdrive._dis (the
stdlib's dis, dataclasses, json and re) when first called."""
import sys

import _overdrive

from . import _code_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Optional, Sequence, TextIO, Union

    from . import _CodeLike


def dis(func: "_CodeLike", *, file: "Optional[TextIO]" = None, tier: int = 1,
        passes: "Optional[Sequence[str]]" = None) -> None:
    """Print the function's bytecode with, per instruction: its source line, the native code
    range it compiled to, what its inline cache has seen, and whether it exits to the
    interpreter (and why). Works for functions not compiled yet too (says why not).

    tier=2 prints instead tier 2's HIR (SSA form, see docs/tier2.md) after building and
    after each pass of `passes` (pass names, see tier2_passes(); default: all, in order),
    then (default pipeline only) its LIR with the registers the allocator chose and the exits,
    from a fresh compile that is not installed. Raises ValueError naming the reason when tier
    2 cannot build the function. dis_native(f) shows the machine code of the unit f runs,
    tier 2's included."""
    text = dis_text(func, tier=tier, passes=passes)
    print(text, end="", file=file if file is not None else sys.stdout)


def dis_text(func: "_CodeLike", *, tier: int = 1, passes: "Optional[Sequence[str]]" = None) -> str:
    """The text dis() prints."""
    if tier == 2:
        return _hir_text(func, passes)
    if tier != 1:
        raise ValueError(f"tier must be 1 or 2, not {tier!r}")
    if passes is not None:
        raise ValueError("passes= applies to tier=2 only")
    from . import _dis

    return _dis.dis_text(func)


def _hir_text(func: "_CodeLike", passes: "Optional[Sequence[str]]") -> str:
    code = _code_of(func)
    if isinstance(passes, str):
        raise TypeError("passes must be a sequence of pass names, not a str")
    # A function, not only its code: the speculation passes read its globals.
    target = func if type(func).__name__ == "function" else code
    stages = _overdrive._tier2_hir(target, None if passes is None else list(passes))
    out = []
    for stage, text in stages:
        out.append(f"--- HIR of {code.co_qualname} after {stage} ---\n")
        out.append(text)
    if passes is None:
        out.append(f"--- LIR of {code.co_qualname} (registers allocated) ---\n")
        try:
            out.append(_overdrive._tier2_lir(target))
        except ValueError as exc:
            out.append(f"{exc}\n")
    return "".join(out)


def dis_native(func: "_CodeLike", *, file: "Optional[TextIO]" = None) -> None:
    """Print the function's machine code as x86-64 assembly, interleaved with the bytecode
    instructions and source lines it came from; calls are named by the runtime helper or
    C-API function they call. Needs capstone (pip install 'overdrive[dis]')."""
    from . import _dis

    _dis.dis_native(func, file=file)


def dis_native_text(func: "_CodeLike") -> str:
    """The text dis_native() prints. Raises ImportError (saying what to install) without
    capstone, ValueError if the function is not compiled."""
    from . import _dis

    return _dis.dis_native_text(func)


def dump_native(func: "_CodeLike", path: "Union[str, os.PathLike[str]]") -> str:
    """Write the function's raw machine code to `path` and a JSON sidecar to path + '.json'
    (load address, per-instruction native offsets, source lines, helper symbol addresses).
    Returns the sidecar's path. Raises ValueError if the function is not compiled."""
    from . import _dis

    return _dis.dump_native(func, path)
