/* tier2/hir/build.c — HIR from a decoded code object.
 *
 * How: the bytecode's basic blocks (leaders: the first instruction, jump targets, and what
 * follows a jump or a terminator) become HIR blocks. They are visited once each in reverse
 * post-order; each one is interpreted abstractly with an array of HIR values standing for
 * the fast locals and the value stack (the stack depth at every instruction is static,
 * from bytecode/decode). LOAD_FAST/STORE_FAST only move values in that array, so locals
 * become SSA values without ever appearing as instructions.
 *
 * SSA construction: a block with one predecessor starts from the state on that edge. A
 * block with several starts with one phi per local and per stack slot; operands come from
 * the predecessors' edge states, those of back edges once every block has been visited.
 * Where every predecessor is already visited (no back edge) and all agree, no phi is made.
 * Then trivial phis (every operand is the phi itself or one value v) are replaced by v until
 * none is left, and phis nothing needs (no use outside dead phis) are dropped. We chose
 * this over Braun et al.'s on-demand construction because the stack makes every block's
 * variables known in advance (the locals plus the static depth), the interpretation stays
 * a plain loop (no recursive lookups through unsealed blocks), and on reducible control flow
 * (all that CPython's compiler emits) removing trivial phis this way gives the same minimal
 * SSA as their algorithm (their paper, section 3.2). The cost is nlocals+depth phis per
 * join while building, which pruning removes.
 *
 * Unbound locals: locals that are not arguments start as one `Const NULL` (type Null); a
 * LOAD_FAST whose value's type includes Null reads it through CheckBound (which raises
 * UnboundLocalError like the interpreter). At a loop header the phi's type is judged from
 * its forward predecessors; a back edge cannot bring a NULL that the header did not have
 * (STORE_FAST never stores NULL and DELETE_FAST is refused), which the verifier confirms.
 *
 * Cells and free variables stay in the frame's slots (the cells never move once MAKE_CELL
 * and COPY_FREE_VARS put them there); a cell is the Param of its slot, read from the
 * frame at each use, and the *_DEREF instructions go through it.
 *
 * Exception handlers are not built (LIVE below): the protected code is, and an exception
 * raised there leaves for the interpreter, which unwinds to the handler.
 *
 * Refused (fn->reason says which): generators and coroutines, and every opcode not in
 * `modelled()` below. */
#include "hir.h"

#include "../../bytecode/decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int first, end;         /* instruction numbers [first, end) */
    OdHirBlock *hir;
    int processed;
    OdHirInstr **out[2];    /* the state on each successor edge (nvars values) */
    int out_depth[2];
} BcBlock;

typedef struct {
    OdHirFunc *fn;
    PyCodeObject *co;
    OdBytecode bc;
    int nlocals, nvars;
    BcBlock *blocks;
    int nblocks;
    int *block_at;          /* instruction number -> index of the block it starts, or -1 */
    int *bc_of_hir;         /* HIR block id -> bytecode block index, or -1 (synthetic entry) */
    OdHirInstr **cur;       /* abstract state: locals, then stack slots */
    int depth;
    OdHirInstr **pre;       /* the state before the current bytecode instruction */
    int pre_depth, pre_offset;
    OdHirBlock *bb;         /* block being filled */
    OdHirInstr *null_value; /* the one Const NULL, in the entry block */
    OdHirInstr **slot_param; /* per slot of localsplus: its Param (arguments, and the cell
                              * and free slots after the locals) */
    const unsigned char *osr_bound; /* OSR: per local, bound in the frame at compile time */
    PyObject *kwnames;      /* from KW_NAMES, for the next CALL */
    unsigned char *normal;  /* per instruction: reached without an exception */
} Builder;

/* An instruction the HIR models: reached from the entry by jumps and fall-throughs. Code
 * reached only through the exception table (handlers: PUSH_EXC_INFO, CHECK_EXC_MATCH,
 * POP_EXCEPT, RERAISE, WITH_EXCEPT_START, and what only they lead to) is left out: an
 * exception in a protected range is an ERROR exit at the raising instruction, and the
 * interpreter's unwinder finds the handler and runs it (issue 15: "exceptions may simply
 * deoptimize"). */
#define LIVE(B, k) ((B)->bc.instrs[k].depth >= 0 && (B)->normal[k])

#define CUR(d) (B->cur[B->nlocals + (d)])
#define PUSH(v) (B->cur[B->nlocals + B->depth++] = (v))
#define POP() (B->cur[B->nlocals + --B->depth])
#define PEEK(n) (B->cur[B->nlocals + B->depth - (n)])

static int refuse(Builder *B, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(B->fn->reason, sizeof(B->fn->reason), fmt, ap);
    va_end(ap);
    return 1;
}

/* Opcodes the builder models. */
static int modelled(const OdInstr *in)
{
    switch (in->opcode) {
    case NOP: case RESUME: case PRECALL: case KW_NAMES:
    case LOAD_FAST: case STORE_FAST: case LOAD_CONST: case LOAD_ASSERTION_ERROR:
    case POP_TOP: case PUSH_NULL: case COPY: case SWAP:
    case UNARY_POSITIVE: case UNARY_NEGATIVE: case UNARY_INVERT: case UNARY_NOT:
    case BINARY_OP: case COMPARE_OP: case IS_OP: case CONTAINS_OP:
    case BINARY_SUBSCR: case STORE_SUBSCR: case DELETE_SUBSCR:
    case LOAD_ATTR: case STORE_ATTR: case LOAD_METHOD: case LOAD_GLOBAL: case STORE_GLOBAL:
    case CALL: case GET_ITER: case FOR_ITER:
    case BUILD_TUPLE: case BUILD_LIST: case BUILD_SET: case BUILD_MAP:
    case BUILD_CONST_KEY_MAP: case BUILD_SLICE: case BUILD_STRING: case FORMAT_VALUE:
    case LIST_APPEND: case LIST_EXTEND: case LIST_TO_TUPLE: case SET_ADD: case MAP_ADD:
    case UNPACK_SEQUENCE: case RETURN_VALUE:
    case MAKE_CELL: case COPY_FREE_VARS: case LOAD_CLOSURE: case LOAD_DEREF: case STORE_DEREF:
    case DELETE_DEREF: case MAKE_FUNCTION: case BEFORE_WITH:
    case JUMP_FORWARD: case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
    case POP_JUMP_FORWARD_IF_FALSE: case POP_JUMP_FORWARD_IF_TRUE:
    case POP_JUMP_BACKWARD_IF_FALSE: case POP_JUMP_BACKWARD_IF_TRUE:
    case POP_JUMP_FORWARD_IF_NONE: case POP_JUMP_FORWARD_IF_NOT_NONE:
    case POP_JUMP_BACKWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE:
    case JUMP_IF_FALSE_OR_POP: case JUMP_IF_TRUE_OR_POP:
        return 1;
    case RAISE_VARARGS:
        return in->oparg == 1 || in->oparg == 2;    /* a bare `raise` needs exc_info */
    default:
        return 0;
    }
}

/* Whether the conditional jump's taken edge is the HIR "true" successor (slot 0). */
static int jump_when_true(int opcode)
{
    switch (opcode) {
    case POP_JUMP_FORWARD_IF_TRUE: case POP_JUMP_BACKWARD_IF_TRUE: case JUMP_IF_TRUE_OR_POP:
    case POP_JUMP_FORWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NONE:
    case POP_JUMP_FORWARD_IF_NOT_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE:
        return 1;
    default:
        return 0;
    }
}

static int is_cond_jump(int opcode)
{
    switch (opcode) {
    case POP_JUMP_FORWARD_IF_FALSE: case POP_JUMP_FORWARD_IF_TRUE:
    case POP_JUMP_BACKWARD_IF_FALSE: case POP_JUMP_BACKWARD_IF_TRUE:
    case POP_JUMP_FORWARD_IF_NONE: case POP_JUMP_FORWARD_IF_NOT_NONE:
    case POP_JUMP_BACKWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE:
    case JUMP_IF_FALSE_OR_POP: case JUMP_IF_TRUE_OR_POP:
        return 1;
    default:
        return 0;
    }
}

/* The real number of values on the stack before `in`: CPython's stack-effect table books
 * PRECALL as popping the arguments and CALL the callable pair only, but CALL still finds
 * [NULL-or-method, callable, args...] there. */
static int phys_depth(const OdInstr *in)
{
    return in->depth + (in->opcode == CALL ? in->oparg : 0);
}

/* ---- instructions ------------------------------------------------------------------------ */

/* A new instruction at the end of the current block, from the current bytecode instruction;
 * with a frame state (the state before that instruction) when its effects need one. */
static OdHirInstr *emit(Builder *B, OdHirOp op, int nops)
{
    OdHirInstr *i = od_hir_new_instr(B->fn, op, nops);
    if (!i)
        return NULL;
    i->bc_offset = B->pre_offset;
    if (od_hir_op_info[op].effects & OD_HE_NEEDS_STATE) {
        if (!(i->fs = od_hir_new_fs(B->fn, B->pre_offset, B->nlocals, B->pre_depth)))
            return NULL;
        memcpy(i->fs->slots, B->pre, sizeof(OdHirInstr *) * (size_t)(B->nlocals + B->pre_depth));
    }
    od_hir_append(B->bb, i);
    return i;
}

static OdHirInstr *constant(Builder *B, PyObject *obj)
{
    OdHirInstr *i = emit(B, OD_HOP_Const, 0);
    if (i) {
        i->obj = obj;
        i->type = od_type_of_object(obj);
    }
    return i;
}

/* Pops n values into operands first..first+n-1, bottom-most first. */
static void take(Builder *B, OdHirInstr *i, int first, int n)
{
    for (int k = 0; k < n; k++)
        i->ops[first + k] = PEEK(n - k);
    B->depth -= n;
}

/* emit + take all operands from the stack. */
static OdHirInstr *emit_popping(Builder *B, OdHirOp op, int n)
{
    OdHirInstr *i = emit(B, op, n);
    if (i)
        take(B, i, 0, n);
    return i;
}

static int save_edge(Builder *B, BcBlock *blk, int succ)
{
    OdHirInstr **s = od_arena_alloc(&B->fn->arena, sizeof(OdHirInstr *) * (size_t)B->nvars);
    if (!s)
        return -1;
    memcpy(s, B->cur, sizeof(OdHirInstr *) * (size_t)(B->nlocals + B->depth));
    blk->out[succ] = s;
    blk->out_depth[succ] = B->depth;
    return 0;
}

/* The cell in slot k (after MAKE_CELL or COPY_FREE_VARS): the Param of that slot, which
 * re-reads the frame (the cell never leaves it). An argument that is a cell keeps its
 * Param as the local's value (nothing stores to it: the code uses *_DEREF; a phi the
 * builder makes for it at a join is trivial). NULL when slot k is a plain local. */
static OdHirInstr *cell_slot(Builder *B, int k)
{
    _PyLocals_Kind kind = _PyLocals_GetKind(B->co->co_localspluskinds, k);
    if (!(kind & (CO_FAST_CELL | CO_FAST_FREE)))
        return NULL;
    return k < B->co->co_nlocalsplus ? B->slot_param[k] : NULL;
}

#define NEW(var, op, n) do { if (!((var) = emit(B, (op), (n)))) return -1; } while (0)

/* Interprets one bytecode instruction. 0, 1 (refused), -1 (exception). The last one of a
 * block makes the terminator and the edge states. */
static int step(Builder *B, const OdInstr *in, BcBlock *blk)
{
    PyCodeObject *co = B->co;
    OdHirInstr *i, *v;
    int arg = in->oparg;
    switch (in->opcode) {
    case NOP: case RESUME: case PRECALL:
        break;
    case KW_NAMES:
        B->kwnames = PyTuple_GET_ITEM(co->co_consts, arg);
        break;
    case LOAD_FAST:
        v = B->cur[arg];
        if (od_type_has(v->type, OD_TB(Null))) {
            NEW(i, OD_HOP_CheckBound, 1);
            i->ops[0] = v;
            i->imm = arg;
            i->type = od_type_meet(v->type, od_type_named(OD_TN_Object));
            B->cur[arg] = v = i;
        }
        PUSH(v);
        break;
    case STORE_FAST:
        v = B->cur[arg];
        if (B->cur[B->nlocals + B->depth - 1]->op == OD_HOP_Const
            && B->cur[B->nlocals + B->depth - 1]->obj == Py_None && v->op != OD_HOP_Const
            && v->op != OD_HOP_Param && v != B->cur[B->nlocals + B->depth - 1]) {
            /* `x = None` releases x's object here in the interpreter (its finalizer runs at
             * this line): a release point keeps the value alive until this instruction
             * (a Snapshot with imm 1; the lowering sets prev_instr for the release). */
            NEW(i, OD_HOP_Snapshot, 0);
            i->imm = 1;
            i->imm2 = arg;
        }
        B->cur[arg] = POP();
        break;
    case LOAD_CONST:
        if (!(v = constant(B, PyTuple_GET_ITEM(co->co_consts, arg))))
            return -1;
        PUSH(v);
        break;
    case LOAD_ASSERTION_ERROR:
        if (!(v = constant(B, PyExc_AssertionError)))
            return -1;
        PUSH(v);
        break;
    case POP_TOP:
        B->depth--;
        break;
    case PUSH_NULL:
        PUSH(B->null_value);
        break;
    case COPY:
        v = PEEK(arg);
        PUSH(v);
        break;
    case SWAP:
        v = PEEK(1);
        PEEK(1) = PEEK(arg);
        PEEK(arg) = v;
        break;
    case UNARY_POSITIVE: case UNARY_NEGATIVE: case UNARY_INVERT:
        if (!(i = emit_popping(B, OD_HOP_UnaryOp, 1)))
            return -1;
        i->imm = in->opcode;
        PUSH(i);
        break;
    case UNARY_NOT:
        if (!(i = emit_popping(B, OD_HOP_Not, 1)))
            return -1;
        PUSH(i);
        break;
    case BINARY_OP:
        if (!(i = emit_popping(B, OD_HOP_BinaryOp, 2)))
            return -1;
        i->imm = arg;
        PUSH(i);
        break;
    case COMPARE_OP:
        if (!(i = emit_popping(B, OD_HOP_Compare, 2)))
            return -1;
        i->imm = arg;
        PUSH(i);
        break;
    case IS_OP:
        if (!(v = emit_popping(B, OD_HOP_IsIdentical, 2)))
            return -1;
        v->imm = arg;
        NEW(i, OD_HOP_BoxBool, 1);
        i->ops[0] = v;
        PUSH(i);
        break;
    case CONTAINS_OP:
        if (!(i = emit_popping(B, OD_HOP_ContainsOp, 2)))
            return -1;
        i->imm = arg;
        PUSH(i);
        break;
    case BINARY_SUBSCR:
        if (!(i = emit_popping(B, OD_HOP_Subscr, 2)))
            return -1;
        PUSH(i);
        break;
    case STORE_SUBSCR:  /* value, container, key (top) */
        NEW(i, OD_HOP_StoreSubscr, 3);
        i->ops[0] = PEEK(2);
        i->ops[1] = PEEK(1);
        i->ops[2] = PEEK(3);
        B->depth -= 3;
        break;
    case DELETE_SUBSCR:
        if (!emit_popping(B, OD_HOP_DeleteSubscr, 2))
            return -1;
        break;
    case LOAD_ATTR:
        if (!(i = emit_popping(B, OD_HOP_LoadAttr, 1)))
            return -1;
        i->obj = PyTuple_GET_ITEM(co->co_names, arg);
        PUSH(i);
        break;
    case STORE_ATTR:    /* value, owner (top) */
        NEW(i, OD_HOP_StoreAttr, 2);
        i->ops[0] = PEEK(1);
        i->ops[1] = PEEK(2);
        i->obj = PyTuple_GET_ITEM(co->co_names, arg);
        B->depth -= 2;
        break;
    case LOAD_METHOD: {
        OdHirInstr *owner = PEEK(1);
        if (!(v = emit_popping(B, OD_HOP_LoadMethod, 1)))
            return -1;
        v->obj = PyTuple_GET_ITEM(co->co_names, arg);
        NEW(i, OD_HOP_MethodSelf, 2);
        i->ops[0] = v;
        i->ops[1] = owner;
        PUSH(v);
        PUSH(i);
        break;
    }
    case BEFORE_WITH: {     /* mgr -> __exit__, __enter__() */
        OdHirInstr *mgr = PEEK(1);
        if (!(v = emit_popping(B, OD_HOP_BeforeWith, 1)))
            return -1;
        NEW(i, OD_HOP_WithEnter, 2);
        i->ops[0] = v;
        i->ops[1] = mgr;
        PUSH(v);
        PUSH(i);
        break;
    }
    case LOAD_GLOBAL:
        if (arg & 1)
            PUSH(B->null_value);
        NEW(i, OD_HOP_LoadGlobal, 0);
        i->obj = PyTuple_GET_ITEM(co->co_names, arg >> 1);
        PUSH(i);
        break;
    case STORE_GLOBAL:
        if (!(i = emit_popping(B, OD_HOP_StoreGlobal, 1)))
            return -1;
        i->obj = PyTuple_GET_ITEM(co->co_names, arg);
        break;
    case CALL:
        /* [method-or-NULL, callable-or-self, args...]: with NULL below, a plain call. */
        if (PEEK(arg + 2) == B->null_value) {
            NEW(i, OD_HOP_Call, arg + 1);
            take(B, i, 0, arg + 1);
            B->depth--;
        } else {
            NEW(i, OD_HOP_CallMethod, arg + 2);
            take(B, i, 0, arg + 2);
        }
        i->imm = arg;
        i->obj = B->kwnames;
        B->kwnames = NULL;
        PUSH(i);
        break;
    case GET_ITER:
        if (!(i = emit_popping(B, OD_HOP_GetIter, 1)))
            return -1;
        PUSH(i);
        break;
    case FOR_ITER:
        NEW(i, OD_HOP_ForIter, 1);
        i->ops[0] = PEEK(1);
        PUSH(i);
        if (save_edge(B, blk, 0) < 0)
            return -1;
        B->depth -= 2;
        if (save_edge(B, blk, 1) < 0)
            return -1;
        break;
    case BUILD_TUPLE: case BUILD_LIST: case BUILD_SET: case BUILD_STRING: case BUILD_SLICE:
        i = emit_popping(B, in->opcode == BUILD_TUPLE ? OD_HOP_BuildTuple
                           : in->opcode == BUILD_LIST ? OD_HOP_BuildList
                           : in->opcode == BUILD_SET ? OD_HOP_BuildSet
                           : in->opcode == BUILD_STRING ? OD_HOP_BuildString
                           : OD_HOP_BuildSlice, arg);
        if (!i)
            return -1;
        PUSH(i);
        break;
    case BUILD_MAP:
        if (!(i = emit_popping(B, OD_HOP_BuildMap, 2 * arg)))
            return -1;
        PUSH(i);
        break;
    case BUILD_CONST_KEY_MAP:
        if (!(i = emit_popping(B, OD_HOP_BuildConstKeyMap, arg + 1)))
            return -1;
        PUSH(i);
        break;
    case FORMAT_VALUE:
        if (!(i = emit_popping(B, OD_HOP_FormatValue,
                               (arg & FVS_MASK) == FVS_HAVE_SPEC ? 2 : 1)))
            return -1;
        i->imm = arg;
        PUSH(i);
        break;
    case LIST_APPEND: case LIST_EXTEND: case SET_ADD:
        NEW(i, in->opcode == LIST_APPEND ? OD_HOP_ListAppend
               : in->opcode == LIST_EXTEND ? OD_HOP_ListExtend : OD_HOP_SetAdd, 2);
        i->ops[1] = POP();
        i->ops[0] = PEEK(arg);
        break;
    case MAP_ADD:
        NEW(i, OD_HOP_MapAdd, 3);
        i->ops[2] = POP();
        i->ops[1] = POP();
        i->ops[0] = PEEK(arg);
        break;
    case LIST_TO_TUPLE:
        if (!(i = emit_popping(B, OD_HOP_ListToTuple, 1)))
            return -1;
        PUSH(i);
        break;
    case MAKE_CELL: case COPY_FREE_VARS:
        NEW(i, in->opcode == MAKE_CELL ? OD_HOP_MakeCell : OD_HOP_CopyFreeVars, 0);
        i->imm = arg;
        break;
    case LOAD_CLOSURE:
        if (!(v = cell_slot(B, arg)))
            return refuse(B, "LOAD_CLOSURE of local %d, not a cell", arg);
        PUSH(v);
        break;
    case LOAD_DEREF: case STORE_DEREF: case DELETE_DEREF:
        if (!(v = cell_slot(B, arg)))
            return refuse(B, "%s of local %d, not a cell", od_opcode_name(in->opcode), arg);
        NEW(i, in->opcode == LOAD_DEREF ? OD_HOP_LoadDeref
               : in->opcode == STORE_DEREF ? OD_HOP_StoreDeref : OD_HOP_DeleteDeref,
            in->opcode == STORE_DEREF ? 2 : 1);
        i->ops[0] = v;
        i->imm = arg;
        if (in->opcode == STORE_DEREF)
            i->ops[1] = POP();
        if (in->opcode == LOAD_DEREF)
            PUSH(i);
        break;
    case MAKE_FUNCTION:
        if (!(i = emit_popping(B, OD_HOP_MakeFunction, __builtin_popcount((unsigned)arg & 0xf) + 1)))
            return -1;
        i->imm = arg;
        PUSH(i);
        break;
    case UNPACK_SEQUENCE: {
        OdHirInstr *t = emit_popping(B, OD_HOP_UnpackSequence, 1);
        if (!t)
            return -1;
        t->imm = arg;
        for (int k = arg - 1; k >= 0; k--) {   /* item 0 ends on top */
            NEW(i, OD_HOP_TupleGetItem, 1);
            i->ops[0] = t;
            i->imm = k;
            PUSH(i);
        }
        break;
    }
    case RETURN_VALUE:
        if (!(i = emit_popping(B, OD_HOP_Return, 1)))
            return -1;
        /* Not needed to resume (Return cannot deoptimize) but to box an unboxed return
         * value right before it (passes/unbox.c): the state with the value on the stack. */
        if (!(i->fs = od_hir_new_fs(B->fn, B->pre_offset, B->nlocals, B->pre_depth)))
            return -1;
        memcpy(i->fs->slots, B->pre, sizeof(OdHirInstr *) * (size_t)(B->nlocals + B->pre_depth));
        break;
    case RAISE_VARARGS:
        if (!emit_popping(B, OD_HOP_Raise, arg))
            return -1;
        break;
    case JUMP_FORWARD: case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
        if (!emit(B, OD_HOP_Branch, 0) || save_edge(B, blk, 0) < 0)
            return -1;
        break;
    default:
        if (is_cond_jump(in->opcode)) {
            int keep = in->opcode == JUMP_IF_FALSE_OR_POP || in->opcode == JUMP_IF_TRUE_OR_POP;
            int none = !keep && (in->opcode == POP_JUMP_FORWARD_IF_NONE ||
                                 in->opcode == POP_JUMP_BACKWARD_IF_NONE ||
                                 in->opcode == POP_JUMP_FORWARD_IF_NOT_NONE ||
                                 in->opcode == POP_JUMP_BACKWARD_IF_NOT_NONE);
            OdHirInstr *c;
            v = PEEK(1);
            if (none) {
                OdHirInstr *nn = constant(B, Py_None);
                if (!nn)
                    return -1;
                NEW(c, OD_HOP_IsIdentical, 2);
                c->ops[0] = v;
                c->ops[1] = nn;
                c->imm = in->opcode == POP_JUMP_FORWARD_IF_NOT_NONE ||
                         in->opcode == POP_JUMP_BACKWARD_IF_NOT_NONE;
            } else {
                NEW(c, OD_HOP_IsTrue, 1);
                c->ops[0] = v;
            }
            NEW(i, OD_HOP_CondBranch, 1);
            i->ops[0] = c;
            int taken = jump_when_true(in->opcode) ? 0 : 1;
            if (keep && save_edge(B, blk, taken) < 0)
                return -1;
            B->depth--;
            if (!keep && save_edge(B, blk, taken) < 0)
                return -1;
            if (save_edge(B, blk, 1 - taken) < 0)
                return -1;
            break;
        }
        return refuse(B, "opcode %s is not modelled", od_opcode_name(in->opcode));
    }
    return 0;
}

/* ---- blocks -------------------------------------------------------------------------------- */

/* B->normal: the instructions reached from the first one by fall-throughs and jumps. */
static int mark_normal(Builder *B)
{
    OdBytecode *bc = &B->bc;
    int n = bc->ninstrs, nwork = 0;
    int *work = malloc(sizeof(int) * ((size_t)n + 1));
    B->normal = calloc((size_t)n + 1, 1);
    if (!work || !B->normal) {
        free(work);
        PyErr_NoMemory();
        return -1;
    }
    if (n > 0) {
        B->normal[0] = 1;
        work[nwork++] = 0;
    }
    while (nwork) {
        const OdInstr *in = &bc->instrs[work[--nwork]];
        int succ[2], ns = 0;
        if (od_opcode_is_jump(in->opcode) && in->target >= 0 && in->target < bc->ncodeunits)
            succ[ns++] = bc->instr_at_unit[in->target];
        if (!od_opcode_is_terminator(in->opcode) && in->next < bc->ncodeunits)
            succ[ns++] = bc->instr_at_unit[in->next];
        for (int s = 0; s < ns; s++)
            if (succ[s] >= 0 && !B->normal[succ[s]]) {
                B->normal[succ[s]] = 1;
                work[nwork++] = succ[s];
            }
    }
    free(work);
    return 0;
}

static int find_blocks(Builder *B)
{
    OdBytecode *bc = &B->bc;
    int n = bc->ninstrs;
    unsigned char *leader = calloc((size_t)n + 1, 1);
    B->block_at = malloc(sizeof(int) * ((size_t)n + 1));
    B->blocks = calloc((size_t)n + 1, sizeof(BcBlock));
    if (!leader || !B->block_at || !B->blocks) {
        free(leader);
        PyErr_NoMemory();
        return -1;
    }
    leader[0] = 1;
    for (int k = 0; k < n; k++) {
        const OdInstr *in = &bc->instrs[k];
        if (in->is_target)
            leader[k] = 1;
        if ((od_opcode_is_jump(in->opcode) || od_opcode_is_terminator(in->opcode)) && k + 1 < n)
            leader[k + 1] = 1;
    }
    for (int k = 0; k <= n; k++)
        B->block_at[k] = -1;
    for (int k = 0; k < n; k++) {
        if (!LIVE(B, k) || !leader[k])
            continue;
        BcBlock *blk = &B->blocks[B->nblocks];
        blk->first = k;
        int e = k + 1;
        while (e < n && !leader[e] && LIVE(B, e))
            e++;
        blk->end = e;
        B->block_at[k] = B->nblocks++;
    }
    free(leader);
    return 0;
}

/* The block starting at the instruction whose start unit is `unit`, or -1. */
static int block_at_unit(Builder *B, int unit)
{
    if (unit < 0 || unit >= B->bc.ncodeunits)
        return -1;
    int k = B->bc.instr_at_unit[unit];
    return k < 0 ? -1 : B->block_at[k];
}

static int make_edges(Builder *B)
{
    for (int b = 0; b < B->nblocks; b++) {
        BcBlock *blk = &B->blocks[b];
        const OdInstr *last = &B->bc.instrs[blk->end - 1];
        int fall = blk->end < B->bc.ninstrs ? B->block_at[blk->end] : -1;
        int target = last->target >= 0 ? block_at_unit(B, last->target) : -1;
        int succ[2], n = 0, op = last->opcode;
        if (is_cond_jump(op)) {
            int t = jump_when_true(op);
            succ[0] = t ? target : fall;
            succ[1] = t ? fall : target;
            n = 2;
        } else if (op == FOR_ITER) {
            succ[0] = fall;
            succ[1] = target;
            n = 2;
        } else if (op == JUMP_FORWARD || op == JUMP_BACKWARD || op == JUMP_BACKWARD_NO_INTERRUPT) {
            succ[0] = target;
            n = 1;
        } else if (op == RETURN_VALUE || op == RAISE_VARARGS) {
            n = 0;
        } else {
            succ[0] = fall;
            n = 1;
        }
        for (int s = 0; s < n; s++) {
            if (succ[s] < 0)
                return refuse(B, "internal: no block after %s at unit %d",
                              od_opcode_name(op), last->start);
            if (od_hir_add_edge(B->fn, blk->hir, B->blocks[succ[s]].hir) < 0)
                return -1;
        }
    }
    for (int b = 0; b < B->nblocks; b++) {
        const OdInstr *last = &B->bc.instrs[B->blocks[b].end - 1];
        if (last->opcode == FOR_ITER && B->blocks[b].hir->succs[0]->npreds != 1)
            return refuse(B, "the body of the FOR_ITER at unit %d has other predecessors",
                          last->start);
    }
    return 0;
}

/* The Params of the cell and free slots after the locals (the cell objects stay in the
 * frame; each use reads its slot). */
static int cell_params(Builder *B, OdHirBlock *entry)
{
    for (int k = B->nlocals; k < B->co->co_nlocalsplus; k++) {
        OdHirInstr *p = od_hir_new_instr(B->fn, OD_HOP_Param, 0);
        if (!p)
            return -1;
        p->imm = k;
        p->type = od_type_named(OD_TN_Object);
        od_hir_append(entry, p);
        B->slot_param[k] = p;
    }
    return 0;
}

/* The entry state: parameters, then NULL for the other locals. */
static int enter_function(Builder *B)
{
    PyCodeObject *co = B->co;
    OdHirFunc *fn = B->fn;
    int nargs = co->co_argcount + co->co_kwonlyargcount +
                ((co->co_flags & CO_VARARGS) != 0) + ((co->co_flags & CO_VARKEYWORDS) != 0);
    fn->nargs = nargs;
    for (int k = 0; k < nargs; k++) {
        OdHirInstr *p = od_hir_new_instr(fn, OD_HOP_Param, 0);
        if (!p)
            return -1;
        p->imm = k;
        p->type = od_type_named(OD_TN_Object);
        od_hir_append(fn->blocks[0], p);
        B->cur[k] = B->slot_param[k] = p;
    }
    if (cell_params(B, fn->blocks[0]) < 0)
        return -1;
    if (!(B->null_value = od_hir_new_instr(fn, OD_HOP_Const, 0)))
        return -1;
    B->null_value->type = od_type_named(OD_TN_Null);
    od_hir_append(fn->blocks[0], B->null_value);
    for (int k = nargs; k < B->nlocals; k++)
        B->cur[k] = B->null_value;
    B->depth = 0;
    return 0;
}

/* The entry state of an OSR function (fn->osr >= 0): every local is read from the running
 * frame, which keeps it while tier-2 code runs (a Param, re-read like an argument; NULL
 * possible unless it is an argument), and the value stack at the loop header moves into the
 * code (OsrStack, owned). What the frame holds when the unit is compiled (B->osr_bound, per
 * local: OD_OSR_*) is guarded at entry (a failed guard resumes the interpreter at the
 * header): a bound local not to be NULL, so the loop reads it without CheckBound; an exact
 * float or int to be one, as Box(Unbox(local)), so that the loop's phi of it can be unboxed
 * (unbox.c; the box of the unbox of the local is the local again where it stays boxed). */
static int enter_osr(Builder *B, const OdInstr *header)
{
    PyCodeObject *co = B->co;
    OdHirFunc *fn = B->fn;
    int nargs = co->co_argcount + co->co_kwonlyargcount +
                ((co->co_flags & CO_VARARGS) != 0) + ((co->co_flags & CO_VARKEYWORDS) != 0);
    fn->nargs = B->nlocals;       /* for the lowering: every local is re-read from the frame */
    if (!(B->null_value = od_hir_new_instr(fn, OD_HOP_Const, 0)))
        return -1;
    B->null_value->type = od_type_named(OD_TN_Null);
    od_hir_append(B->bb, B->null_value);
    for (int k = 0; k < B->nlocals; k++) {
        OdHirInstr *p = od_hir_new_instr(fn, OD_HOP_Param, 0);
        if (!p)
            return -1;
        p->imm = k;
        p->type = od_type_named(k < nargs ? OD_TN_Object : OD_TN_OptObject);
        od_hir_append(B->bb, p);
        B->cur[k] = p;
    }
    if (cell_params(B, B->bb) < 0)
        return -1;
    B->depth = phys_depth(header);
    for (int d = 0; d < B->depth; d++) {
        OdHirInstr *v = od_hir_new_instr(fn, OD_HOP_OsrStack, 0);
        if (!v)
            return -1;
        v->imm = d;
        od_hir_append(B->bb, v);
        CUR(d) = v;
    }
    memcpy(B->pre, B->cur, sizeof(OdHirInstr *) * (size_t)(B->nlocals + B->depth));
    B->pre_depth = B->depth;
    B->pre_offset = header->start;
    for (int k = 0; k < B->nlocals && B->osr_bound; k++) {
        int what = B->osr_bound[k];
        OdHirInstr *g;
        if (what == OD_OSR_UNBOUND)
            continue;
        if (k >= nargs) {
            if (!(g = emit(B, OD_HOP_GuardNotNull, 1)))
                return -1;
            g->ops[0] = B->cur[k];
            B->cur[k] = g;
        }
        if (what != OD_OSR_FLOAT && what != OD_OSR_INT)
            continue;
        int fl = what == OD_OSR_FLOAT;
        OdHirInstr *u, *box;
        if (!(g = emit(B, OD_HOP_GuardType, 1)))
            return -1;
        g->ops[0] = B->cur[k];
        g->itype = g->type = od_type_named(fl ? OD_TN_Float : OD_TN_Int);
        if (!(u = emit(B, fl ? OD_HOP_UnboxFloat : OD_HOP_UnboxInt, 1)))
            return -1;
        u->ops[0] = g;
        if (!(box = emit(B, fl ? OD_HOP_BoxFloat : OD_HOP_BoxInt, 1)))
            return -1;
        box->ops[0] = u;
        B->cur[k] = box;
    }
    return 0;
}

/* Sets up B->cur for block `blk`: inherited, or phis. */
static int enter_block(Builder *B, BcBlock *blk)
{
    OdHirBlock *h = blk->hir;
    int depth = phys_depth(&B->bc.instrs[blk->first]);
    if (h == B->fn->blocks[0])
        return enter_function(B);
    if (h->npreds == 1) {
        BcBlock *p = &B->blocks[B->bc_of_hir[h->preds[0].from->id]];
        if (p->processed) {
            int s = h->preds[0].succ;
            memcpy(B->cur, p->out[s], sizeof(OdHirInstr *) * (size_t)(B->nlocals + p->out_depth[s]));
            B->depth = p->out_depth[s];
            return 0;
        }
    }
    int all_known = 1, back_edge = 0;
    for (int k = 0; k < h->npreds; k++) {
        int pb = B->bc_of_hir[h->preds[k].from->id];
        if (!B->blocks[pb].processed)
            all_known = 0;
        if (h->preds[k].from->rpo >= h->rpo)
            back_edge = 1;
        if (B->blocks[pb].processed && B->blocks[pb].out_depth[h->preds[k].succ] != depth)
            return refuse(B, "internal: stack depth %d on an edge into unit %d, expected %d",
                          B->blocks[pb].out_depth[h->preds[k].succ], h->bc_start, depth);
    }
    for (int var = 0; var < B->nlocals + depth; var++) {
        OdHirInstr *same = NULL;
        int differ = 0;
        OdType t = od_type_named(OD_TN_Bottom);
        for (int k = 0; k < h->npreds; k++) {
            BcBlock *p = &B->blocks[B->bc_of_hir[h->preds[k].from->id]];
            if (!p->processed)
                continue;
            OdHirInstr *v = p->out[h->preds[k].succ][var];
            t = od_type_join(t, v->type);
            if (same && v != same)
                differ = 1;
            same = v;
        }
        if (all_known && !differ) {
            B->cur[var] = same;
            continue;
        }
        OdHirInstr *phi = od_hir_new_instr(B->fn, OD_HOP_Phi, h->npreds);
        if (!phi)
            return -1;
        phi->type = t;
        phi->imm = var;
        phi->bc_offset = h->bc_start;
        for (int k = 0; k < h->npreds; k++) {
            BcBlock *p = &B->blocks[B->bc_of_hir[h->preds[k].from->id]];
            if (p->processed)
                phi->ops[k] = p->out[h->preds[k].succ][var];
        }
        od_hir_append(h, phi);
        B->cur[var] = phi;
    }
    B->depth = depth;
    if (back_edge) {
        /* Loop header: where an OSR entry and the back edge's eval-breaker poll resume. */
        OdHirInstr *snap = od_hir_new_instr(B->fn, OD_HOP_Snapshot, 0);
        if (!snap || !(snap->fs = od_hir_new_fs(B->fn, h->bc_start, B->nlocals, depth)))
            return -1;
        memcpy(snap->fs->slots, B->cur, sizeof(OdHirInstr *) * (size_t)(B->nlocals + depth));
        snap->bc_offset = h->bc_start;
        od_hir_append(h, snap);
    }
    return 0;
}

static int run_block(Builder *B, BcBlock *blk)
{
    B->bb = blk->hir;
    int r = enter_block(B, blk);
    if (r)
        return r;
    for (int k = blk->first; k < blk->end; k++) {
        const OdInstr *in = &B->bc.instrs[k];
        if (phys_depth(in) != B->depth)
            return refuse(B, "internal: stack depth %d at unit %d, decoder says %d", B->depth,
                          in->start, phys_depth(in));
        memcpy(B->pre, B->cur, sizeof(OdHirInstr *) * (size_t)(B->nlocals + B->depth));
        B->pre_depth = B->depth;
        B->pre_offset = in->start;
        if ((r = step(B, in, blk)))
            return r;
    }
    if (!B->bb->last || !od_hir_is_term(B->bb->last)) {   /* falls through */
        B->pre_offset = B->bc.instrs[blk->end - 1].start;
        if (!emit(B, OD_HOP_Branch, 0) || save_edge(B, blk, 0) < 0)
            return -1;
    }
    blk->processed = 1;
    return 0;
}

/* ---- SSA clean-up ------------------------------------------------------------------------ */

static OdHirInstr *resolve(OdHirInstr *v)
{
    while (v && v->forward)
        v = v->forward;
    return v;
}

static int finish_phis(Builder *B, OdHirBlock **order, int n)
{
    OdHirFunc *fn = B->fn;
    /* Back-edge operands (a phi keeps its variable in imm until here). */
    for (int b = 0; b < n; b++) {
        OdHirBlock *h = order[b];
        for (OdHirInstr *phi = h->first; phi && phi->op == OD_HOP_Phi; phi = phi->next) {
            for (int k = 0; k < h->npreds; k++)
                if (!phi->ops[k]) {
                    BcBlock *p = &B->blocks[B->bc_of_hir[h->preds[k].from->id]];
                    phi->ops[k] = p->out[h->preds[k].succ][phi->imm];
                }
            phi->imm = 0;
        }
    }
    /* Trivial phis, until none is left. */
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int b = 0; b < n; b++) {
            OdHirInstr *phi = order[b]->first, *next;
            for (; phi && phi->op == OD_HOP_Phi; phi = next) {
                next = phi->next;
                OdHirInstr *same = NULL;
                int trivial = 1;
                for (int k = 0; k < phi->nops; k++) {
                    OdHirInstr *o = phi->ops[k] = resolve(phi->ops[k]);
                    if (o == phi || o == same)
                        continue;
                    if (same) {
                        trivial = 0;
                        break;
                    }
                    same = o;
                }
                if (trivial && same) {
                    phi->forward = same;
                    od_hir_unlink(phi);
                    changed = 1;
                }
            }
        }
    }
    for (int b = 0; b < n; b++)
        for (OdHirInstr *i = order[b]->first; i; i = i->next) {
            for (int k = 0; k < i->nops; k++)
                i->ops[k] = resolve(i->ops[k]);
            if (i->fs)
                for (int s = 0; s < i->fs->nlocals + i->fs->depth; s++)
                    i->fs->slots[s] = resolve(i->fs->slots[s]);
        }
    if (od_hir_rebuild_uses(fn) < 0)
        return -1;
    /* Phis only other dead phis use: mark the live ones from real uses, then drop the rest. */
    for (int b = 0; b < n; b++)
        for (OdHirInstr *i = order[b]->first; i; i = i->next)
            i->mark = 0;
    changed = 1;
    while (changed) {
        changed = 0;
        for (int b = 0; b < n; b++)
            for (OdHirInstr *phi = order[b]->first; phi && phi->op == OD_HOP_Phi; phi = phi->next) {
                if (phi->mark)
                    continue;
                for (int u = 0; u < phi->nuses; u++) {
                    OdHirInstr *user = phi->uses[u].user;
                    if (user->op != OD_HOP_Phi || (user->mark && user != phi)) {
                        phi->mark = 1;
                        changed = 1;
                        break;
                    }
                }
            }
    }
    for (int b = 0; b < n; b++) {
        OdHirInstr *phi = order[b]->first, *next;
        for (; phi && phi->op == OD_HOP_Phi; phi = next) {
            next = phi->next;
            if (!phi->mark) {
                if (od_hir_replace_all_uses(fn, phi, NULL) < 0)
                    return -1;
            }
        }
    }
    for (int b = 0; b < n; b++) {
        OdHirInstr *phi = order[b]->first, *next;
        for (; phi && phi->op == OD_HOP_Phi; phi = next) {
            next = phi->next;
            if (!phi->mark)
                od_hir_remove(phi);
        }
    }
    /* Phi types: the join of their operands, to a fixed point. */
    for (int b = 0; b < n; b++)
        for (OdHirInstr *phi = order[b]->first; phi && phi->op == OD_HOP_Phi; phi = phi->next)
            phi->type = od_type_named(OD_TN_Bottom);
    changed = 1;
    while (changed) {
        changed = 0;
        for (int b = 0; b < n; b++)
            for (OdHirInstr *phi = order[b]->first; phi && phi->op == OD_HOP_Phi; phi = phi->next) {
                OdType t = phi->type;
                for (int k = 0; k < phi->nops; k++)
                    t = od_type_join(t, phi->ops[k]->type);
                if (!od_type_eq(t, phi->type)) {
                    phi->type = t;
                    changed = 1;
                }
            }
    }
    return 0;
}

/* ---- entry ----------------------------------------------------------------------------------- */

int od_hir_build(OdHirFunc *fn, PyCodeObject *co)
{
    return od_hir_build_osr(fn, co, -1, NULL);
}

int od_hir_build_osr(OdHirFunc *fn, PyCodeObject *co, int osr, const unsigned char *bound)
{
    Builder b, *B = &b;
    memset(B, 0, sizeof(b));
    if (od_hir_init(fn, co) < 0)
        return -1;
    B->fn = fn;
    B->co = co;
    B->osr_bound = bound;
    fn->osr = osr;
    if (co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE))
        return refuse(B, "generators and coroutines are not built yet");
    /* Every instruction with effects carries all locals and stack slots, and the passes,
     * the verifier and the exits walk them: the cost grows with instructions times slots
     * (a namedtuple of 5000 fields made its 5001-argument __new__ take minutes and 1.5 GB). */
    if (co->co_nlocalsplus + co->co_stacksize > OD_HIR_MAX_SLOTS)
        return refuse(B, "too many locals and stack slots (%d, at most %d)",
                      co->co_nlocalsplus + co->co_stacksize, OD_HIR_MAX_SLOTS);
    if (od_bytecode_decode(co, &B->bc) < 0)
        return -1;
    int r = 0;
    OdHirBlock **order = NULL;
    B->nlocals = co->co_nlocals;
    B->nvars = B->nlocals + B->bc.max_depth;
    fn->nlocals = B->nlocals;
    fn->maxdepth = B->bc.max_depth;
    if (mark_normal(B) < 0) {
        r = -1;
        goto done;
    }
    for (int k = 0; k < B->bc.ninstrs; k++)
        if (LIVE(B, k) && !modelled(&B->bc.instrs[k])) {
            const OdInstr *in = &B->bc.instrs[k];
            r = in->opcode == RAISE_VARARGS
                    ? refuse(B, "a bare `raise` (re-raise) is not modelled")
                    : refuse(B, "opcode %s is not modelled", od_opcode_name(in->opcode));
            goto done;
        }
    const OdInstr *header = NULL;
    if (osr >= 0) {
        int j = osr < B->bc.ncodeunits ? B->bc.instr_at_unit[osr] : -1;
        header = j >= 0 ? &B->bc.instrs[j] : NULL;
        if (!header || !header->is_target || header->depth < 0) {
            r = refuse(B, "no loop header at unit %d for an OSR entry", osr);
            goto done;
        }
    }
    if ((r = find_blocks(B)))
        goto done;
    B->cur = calloc((size_t)B->nvars + 1, sizeof(OdHirInstr *));
    B->pre = calloc((size_t)B->nvars + 1, sizeof(OdHirInstr *));
    B->slot_param = calloc((size_t)co->co_nlocalsplus + 1, sizeof(OdHirInstr *));
    B->bc_of_hir = malloc(sizeof(int) * ((size_t)B->nblocks + 1));
    order = malloc(sizeof(OdHirBlock *) * ((size_t)B->nblocks + 1));
    if (!B->cur || !B->pre || !B->slot_param || !B->bc_of_hir || !order) {
        PyErr_NoMemory();
        r = -1;
        goto done;
    }
    /* Blocks: a separate entry when the first instruction is a jump target, or for an OSR
     * function (its entry reads the frame, then jumps to the loop header). */
    if (B->bc.instrs[0].is_target || header) {
        /* an extra BcBlock (blocks has room for one more), with no instructions */
        B->blocks[B->nblocks].first = B->blocks[B->nblocks].end = 0;
        if (!(B->blocks[B->nblocks].hir = od_hir_new_block(fn, -1))) {
            r = -1;
            goto done;
        }
        B->bc_of_hir[0] = B->nblocks;
    }
    for (int k = 0; k < B->nblocks; k++) {
        BcBlock *blk = &B->blocks[k];
        if (!(blk->hir = od_hir_new_block(fn, B->bc.instrs[blk->first].start))) {
            r = -1;
            goto done;
        }
        B->bc_of_hir[blk->hir->id] = k;
    }
    if (fn->blocks[0]->bc_start < 0) {
        OdHirBlock *e = fn->blocks[0];
        int to = header ? B->block_at[header - B->bc.instrs] : 0;
        if (to < 0) {
            r = refuse(B, "internal: no block starts at the OSR header, unit %d", osr);
            goto done;
        }
        if (od_hir_add_edge(fn, e, B->blocks[to].hir) < 0) {
            r = -1;
            goto done;
        }
    }
    if ((r = make_edges(B)))
        goto done;
    /* OSR: what only runs before the loop is not part of the function. */
    if (header && od_hir_remove_unreachable(fn) < 0) {
        r = -1;
        goto done;
    }
    int n = od_hir_rpo(fn, order);
    if (n < 0) {
        PyErr_NoMemory();
        r = -1;
        goto done;
    }
    if (n != fn->nblocks) {     /* decode's flow found them reachable: we model less */
        r = refuse(B, "internal: %d blocks unreachable in the HIR's control flow",
                   fn->nblocks - n);
        goto done;
    }
    for (int k = 0; k < n; k++) {
        OdHirBlock *h = order[k];
        BcBlock *blk = &B->blocks[B->bc_of_hir[h->id]];
        if (blk->first == blk->end) {     /* the separate entry */
            B->bb = h;
            B->pre_offset = -1;
            if ((header ? enter_osr(B, header) : enter_function(B)) < 0
                || !emit(B, OD_HOP_Branch, 0) || save_edge(B, blk, 0) < 0) {
                r = -1;
                goto done;
            }
            blk->processed = 1;
            continue;
        }
        if ((r = run_block(B, blk)))
            goto done;
    }
    r = 0;
done:
    if (r == 0 && order) {
        int n2 = od_hir_rpo(fn, order);
        /* blocks in reverse post-order: the printer's order */
        for (int k = 0; k < n2; k++)
            fn->blocks[k] = order[k];
        fn->nblocks = n2;
        r = finish_phis(B, order, n2);
    }
    free(order);
    free(B->cur);
    free(B->pre);
    free(B->slot_param);
    free(B->normal);
    free(B->bc_of_hir);
    free(B->blocks);
    free(B->block_at);
    od_bytecode_free(&B->bc);
#ifdef Py_DEBUG
    if (r == 0 && od_hir_verify(fn) < 0) {
        PyErr_Format(PyExc_SystemError, "HIR verifier after building: %s", fn->reason);
        r = -1;
    }
#endif
    return r;
}
