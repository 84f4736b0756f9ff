/* tier2/hir/hir.h — tier 2's high-level IR: a function in SSA form.
 *
 * Contract: an OdHirFunc owns everything it points to in one arena (freed in one go by
 * od_hir_free) plus a list of strong references to the Python constants it created
 * (folded results); names and code-object constants are borrowed from the code object,
 * which the caller keeps alive. A function is a CFG of blocks; a block is a doubly linked
 * list of instructions, its phis first and exactly one terminator last. Every instruction
 * that produces a value *is* that value (SSA: one definition each). Each value keeps the
 * list of its uses: operand slots of instructions and slots of frame states, so replacing
 * a value everywhere is one call.
 *
 * Frame state: the interpreter's view at a bytecode instruction boundary, for deoptimizing
 * or unwinding there: the unit to resume at (the instruction's `start`, as decode.h has it)
 * and the HIR value held by each fast local (NULL-typed for an unbound one) and each value-
 * stack slot below the depth at that instruction.
 *
 * Depends on bytecode/decode.h and CPython's headers; nothing in tier1. */
#ifndef OD_TIER2_HIR_HIR_H
#define OD_TIER2_HIR_HIR_H

#include "../../od_python.h"
#include "hir_ops.h"
#include "types.h"

#include <stddef.h>

/* ---- arena ----------------------------------------------------------------------------- */

typedef struct OdArenaChunk OdArenaChunk;
typedef struct {
    OdArenaChunk *chunks;
    size_t used, cap;       /* in the newest chunk */
    size_t total;           /* bytes handed out, for tests and stats */
} OdArena;

/* Zeroed memory, 16-byte aligned; NULL (with MemoryError set) when out of memory. */
void *od_arena_alloc(OdArena *a, size_t size);
void od_arena_free(OdArena *a);

/* ---- IR -------------------------------------------------------------------------------- */

typedef struct OdHirInstr OdHirInstr;
typedef struct OdHirBlock OdHirBlock;

typedef struct {
    int offset;             /* code unit the interpreter resumes at (an instruction's start) */
    int nlocals;
    int depth;              /* value-stack slots */
    OdHirInstr **slots;     /* nlocals locals, then depth stack slots (bottom first) */
    int *upos;              /* per slot: where its use probably is in its value's use list
                             * (a hint: hir.c checks it before trusting it) */
} OdFrameState;

/* A use of a value: operand `index` of `user`, or when index < 0, slot -1 - index of its
 * frame state. */
typedef struct {
    OdHirInstr *user;
    int index;
} OdHirUse;

struct OdHirInstr {
    OdHirOp op;
    int id;                 /* creation order (the printer numbers values afresh) */
    OdType type;            /* of its value; Bottom when it has none */
    OdHirBlock *block;      /* NULL once removed */
    OdHirInstr *prev, *next;
    int nops;
    OdHirInstr **ops;
    int *opos;              /* per operand: where its use probably is in its value's use
                             * list (a hint, as OdFrameState.upos) */
    long long imm;          /* op-specific immediate (see hir_ops.h) */
    long long imm2;         /* a second one (GlobalValue: the builtins dict's version) */
    double fimm;            /* Const of type CDouble */
    PyObject *obj;          /* op-specific object: constant, name, kwnames (borrowed) */
    OdType itype;           /* GuardType: the type it checks for */
    OdFrameState *fs;       /* for instructions with OD_HE_NEEDS_STATE */
    int bc_offset;          /* unit of the bytecode instruction it came from, or -1 */
    OdHirUse *uses;
    int nuses, capuses;
    OdHirInstr *forward;    /* builder only: the value that replaced this phi */
    int mark;               /* scratch for passes */
};

/* A predecessor edge: block `from`, through its successor slot `succ`. */
typedef struct {
    OdHirBlock *from;
    int succ;
} OdHirEdge;

struct OdHirBlock {
    int id;
    int bc_start;           /* unit of its first bytecode instruction, or -1 */
    OdHirInstr *first, *last;
    OdHirBlock *succs[2];
    int nsuccs;
    OdHirEdge *preds;
    int npreds, cappreds;
    int rpo;                /* position in reverse post-order; -1 when unreachable */
    OdHirBlock *idom;
    int mark;
};

typedef struct {
    OdArena arena;
    PyCodeObject *code;     /* borrowed */
    int nlocals, maxdepth, nargs;
    OdHirBlock **blocks;    /* blocks[0] is the entry */
    int nblocks, capblocks;
    int next_instr_id, next_block_id;
    PyObject *refs;         /* list: constants the function owns (NULL until needed) */
    const struct OdFeedback *feedback;  /* hir/feedback.h, or NULL: what the speculation
                                         * passes read (borrowed, set by the caller) */
    int osr;                /* -1, or the loop header's code unit an OSR function enters at */
    const unsigned char *no_speculate;  /* per code unit, or NULL: 1 where an instruction
                                         * must stay generic (its guards kept failing) */
    char reason[256];       /* why building (or a pass) failed */
} OdHirFunc;

static inline const OdHirOpInfo *od_hir_info(const OdHirInstr *i) { return &od_hir_op_info[i->op]; }
static inline int od_hir_has_value(const OdHirInstr *i) { return od_hir_op_info[i->op].out >= 0; }
/* Whether a speculation pass may specialize `i`: not at a bytecode instruction whose guards
 * kept failing (fn->no_speculate). */
static inline int od_hir_may_speculate(const OdHirFunc *fn, const OdHirInstr *i)
{
    return !(i->bc_offset >= 0 && fn->no_speculate && fn->no_speculate[i->bc_offset]);
}
static inline int od_hir_is_term(const OdHirInstr *i)
{
    return (od_hir_op_info[i->op].effects & OD_HE_TERM) != 0;
}

/* 0 / -1 with MemoryError. */
int od_hir_init(OdHirFunc *fn, PyCodeObject *co);
void od_hir_free(OdHirFunc *fn);

OdHirBlock *od_hir_new_block(OdHirFunc *fn, int bc_start);
/* A new instruction with room for `nops` operands (set with od_hir_set_op), typed from the
 * op table; not in any block yet. */
OdHirInstr *od_hir_new_instr(OdHirFunc *fn, OdHirOp op, int nops);
OdFrameState *od_hir_new_fs(OdHirFunc *fn, int offset, int nlocals, int depth);

void od_hir_append(OdHirBlock *b, OdHirInstr *i);
void od_hir_insert_before(OdHirInstr *before, OdHirInstr *i);
/* `to` gets a copy of the frame state `from` (0, or -1 with MemoryError). */
int od_hir_copy_fs(OdHirFunc *fn, OdHirInstr *to, const OdFrameState *from);
/* What the passes insert: a new instruction of `op` before `at`, with operands a (and b)
 * for an op of one or two fixed operands, `at`'s bytecode offset, and a copy of `at`'s
 * frame state when the op's effects need one (a guard resumes before `at`'s bytecode
 * instruction). NULL with MemoryError. */
OdHirInstr *od_hir_new_before(OdHirFunc *fn, OdHirInstr *at, OdHirOp op, OdHirInstr *a,
                              OdHirInstr *b);
/* After the block's phis (and before anything else). */
void od_hir_insert_after_phis(OdHirBlock *b, OdHirInstr *i);
/* Unlinks the instruction and drops its uses of its operands and frame-state slots. */
void od_hir_remove(OdHirInstr *i);
/* Only takes the instruction out of its block's list (its uses stay as they are). */
void od_hir_unlink(OdHirInstr *i);

/* Operand / frame-state slot setters that keep the use lists (old value's use dropped). */
int od_hir_set_op(OdHirFunc *fn, OdHirInstr *user, int index, OdHirInstr *value);
int od_hir_set_fs_slot(OdHirFunc *fn, OdHirInstr *user, int slot, OdHirInstr *value);
/* Every use of `old` now uses `value`. */
int od_hir_replace_all_uses(OdHirFunc *fn, OdHirInstr *old, OdHirInstr *value);
/* Replaces `i` by a Const of `obj` (which fn already owns: od_hir_own), made right before
 * it with its bytecode offset; every use of `i` then uses the Const, and `i` is removed.
 * 0, or -1 on a memory error. */
int od_hir_replace_by_const(OdHirFunc *fn, OdHirInstr *i, PyObject *obj);
/* Recomputes every use list from the operands and frame states. */
int od_hir_rebuild_uses(OdHirFunc *fn);

/* CFG edges. Adding appends a predecessor edge (phis of `to` need an operand for it). */
int od_hir_add_edge(OdHirFunc *fn, OdHirBlock *from, OdHirBlock *to);
/* Drops successor slot `succ` of `from`: its predecessor entry in the target and the phi
 * operands for it go; later successor slots move down by one. */
int od_hir_remove_succ(OdHirFunc *fn, OdHirBlock *from, int succ);
/* Index of the predecessor edge (from, succ) in to->preds, or -1. */
int od_hir_pred_index(const OdHirBlock *to, const OdHirBlock *from, int succ);

/* Reverse post-order from the entry: sets every block's rpo (-1 if unreachable), fills
 * `order` (room for nblocks) and returns how many are reachable. */
int od_hir_rpo(OdHirFunc *fn, OdHirBlock **order);
/* Immediate dominators (Cooper, Harvey, Kennedy) over the reachable blocks; sets idom.
 * Needs od_hir_rpo's order. */
void od_hir_dominators(OdHirFunc *fn, OdHirBlock **order, int n);
int od_hir_dominates(const OdHirBlock *a, const OdHirBlock *b);
/* Whether instruction a comes before b on every path to b (a's block dominates b's, or a
 * precedes b in one block). Needs the dominators. */
int od_hir_instr_dominates(const OdHirInstr *a, const OdHirInstr *b);
/* Drops blocks unreachable from the entry (their edges and phi operands first). */
int od_hir_remove_unreachable(OdHirFunc *fn);

/* Replaces every phi whose operands are all one value (or the phi itself) by that value,
 * until none is left. The number replaced, or -1 with an exception. */
int od_hir_remove_trivial_phis(OdHirFunc *fn);

/* Keeps a strong reference to `obj` for the function's lifetime (returns obj, or NULL). */
PyObject *od_hir_own(OdHirFunc *fn, PyObject *obj);

/* ---- the layer's entry points ------------------------------------------------------------ */

/* Builds HIR from a code object (build.c). 0 on success; 1 when the function is refused
 * (fn->reason says why, no exception set); -1 with a Python exception set. */
/* Largest frame the builder accepts (co_nlocalsplus + co_stacksize): frame states hold
 * every slot, so the cost is instructions times slots. */
#define OD_HIR_MAX_SLOTS 512
int od_hir_build(OdHirFunc *fn, PyCodeObject *co);
/* The same for an OSR entry at the loop header at code unit `osr` (a jump target): the
 * entry block reads every local from the running frame (Params, maybe NULL unless an
 * argument; `bound`, per local or NULL: guarded not NULL) and takes over the value stack
 * there (OsrStack), then jumps to the header; blocks only reachable before the loop are
 * dropped. Refused (1) when no loop header is there. */
int od_hir_build_osr(OdHirFunc *fn, PyCodeObject *co, int osr, const unsigned char *bound);
/* What an OSR entry's `bound` says of a local: the frame held nothing, an object, an exact
 * float, an exact int of at most two 30-bit digits (what GuardType Int accepts). */
enum { OD_OSR_UNBOUND, OD_OSR_OBJECT, OD_OSR_FLOAT, OD_OSR_INT };

/* Deterministic text of the function (print.c): a new str, or NULL with an exception. */
PyObject *od_hir_print(OdHirFunc *fn);

/* Checks every invariant above (verify.c). 0 if sound; -1 with the first problem in
 * fn->reason. Never sets a Python exception. */
int od_hir_verify(OdHirFunc *fn);

/* Deliberate damage for the verifier's tests (verify.c): "phi_arity", "use_before_def",
 * "missing_frame_state", "operand_type", "stray_terminator", "stale_use". 0, or -1 if
 * `what` is unknown or the function has nothing of that kind to damage. */
int od_hir_corrupt(OdHirFunc *fn, const char *what);

/* The text of an NB_* operator ("+", "+=", ...) and a Py_LT.. comparison ("<", ...). */
const char *od_hir_binop_name(long long nb);
const char *od_hir_cmp_name(long long cmp);

#endif /* OD_TIER2_HIR_HIR_H */
