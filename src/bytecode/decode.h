/* bytecode/decode.h — one decoded view of a CPython 3.11 code object, shared by both tiers.
 *
 * Contract: od_bytecode_decode() reads co_code_adaptive once and produces, for every
 * instruction: its base opcode (specializations undone via _PyOpcode_Deopt), its full oparg
 * (EXTENDED_ARG folded in), where it starts (the first EXTENDED_ARG unit, which is where jumps
 * land and where the interpreter must resume), the unit index of the opcode itself (where
 * prev_instr points while it runs), the index after its inline caches, its jump target, and
 * the value-stack depth before it (from a flow analysis over jumps, fall-through and the
 * exception table). Unreachable instructions have depth -1. The exception table is parsed
 * into plain entries. Indices are in code units (_Py_CODEUNIT), as CPython uses them.
 * Depends on nothing but CPython's headers. */
#ifndef OD_BYTECODE_DECODE_H
#define OD_BYTECODE_DECODE_H

#include "../od_python.h"

typedef struct {
    int start;        /* first unit (EXTENDED_ARG prefix, if any) */
    int index;        /* unit of the opcode itself */
    int next;         /* first unit after the inline caches */
    int opcode;       /* base opcode */
    int oparg;
    int target;       /* unit index of the jump target (a `start`), or -1 */
    int depth;        /* stack depth before the instruction; -1 if unreachable */
    int is_target;    /* some jump or exception handler lands here */
    int handler_of;   /* when an exception handler starts here: entry index, else -1 */
} OdInstr;

typedef struct {
    int start, end;   /* protected unit range [start, end) */
    int target;       /* handler unit */
    int depth;        /* stack depth the handler unwinds to */
    int lasti;        /* push the raising instruction's index first */
} OdExcEntry;

typedef struct {
    PyCodeObject *code;     /* borrowed */
    int ncodeunits;
    int ninstrs;
    OdInstr *instrs;
    int *instr_at_unit;     /* unit index -> instruction number whose start is there, or -1 */
    int nexc;
    OdExcEntry *exc;
    int max_depth;
    int has_backward_jump;
} OdBytecode;

/* 0 on success; -1 with a Python exception set. */
int od_bytecode_decode(PyCodeObject *co, OdBytecode *bc);
void od_bytecode_free(OdBytecode *bc);

/* Source line of every code unit, from the 3.11 location table (co_linetable): out[i] is
 * the line of unit i, or -1 where the unit has no location. `out` has Py_SIZE(co) slots. */
void od_bytecode_lines(PyCodeObject *co, int *out);

/* Innermost exception-table entry covering unit `index`, or NULL. */
const OdExcEntry *od_bytecode_handler(const OdExcEntry *exc, int nexc, int index);
/* Parse a raw 3.11 exception table. Returns entries (malloc'd) and their count, or -1. */
int od_exctable_parse(PyObject *table, OdExcEntry **out);

/* Whether `co` has a loop: a JUMP_BACKWARD or a POP_JUMP_BACKWARD_IF_* (not
 * JUMP_BACKWARD_NO_INTERRUPT, the retry of a `yield from` or `await`), in its code as
 * it is now (quickened forms included). One table lookup per instruction: the hook asks
 * it of every code object it meets. */
int od_code_has_loop(PyCodeObject *co);

int od_opcode_is_jump(int opcode);
int od_opcode_is_backward_jump(int opcode);
/* Instructions after which control never falls through. */
int od_opcode_is_terminator(int opcode);
/* Jump target of the instruction at unit `index` whose next unit is index+1. */
int od_jump_target(int opcode, int oparg, int index);
const char *od_opcode_name(int opcode);

#endif /* OD_BYTECODE_DECODE_H */
